#include "runtime/model.h"

#include <sys/stat.h>

#include "core/error.h"
#include "core/log.h"
#include "core/timer.h"
#include "formats/chat_template_source.h"
#include "formats/gguf_names.h"
#include "formats/safetensors.h"
#include "tokenizer/tokenizer_gguf.h"

namespace edgevl {

static bool exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

static bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The model's own template if it can be used, else the built-in one with one warning
// that names the file and the construct or conversation that failed.
static ChatTemplate load_chat_template(const std::string& path, bool gguf, const GgufFile* gguf_file, const ModelConfig& cfg) {
  const std::string where = gguf ? path + ": tokenizer.chat_template" : path;
  std::string source;
  try {
    source = gguf ? gguf_file->get_string(gguf_key::kChatTemplate, "") : read_hf_chat_template(path);
    if (!source.empty()) return ChatTemplate::from_jinja(source);
  } catch (const Error& e) {
    warn(where + ": " + e.what() + "; using the built-in ChatML template instead" +
         (cfg.template_default_system ? "" : " (with no default system prompt)"));
  }
  return ChatTemplate::model_default(cfg);
}

std::shared_ptr<Model> Model::load(const ModelLoadParams& p) {
  const double t0 = now_ms();
  std::shared_ptr<Model> m(new Model());
  m->path_ = p.path;
  struct stat st {};
  if (::stat(p.path.c_str(), &st) != 0) fail(ErrorCode::kIo, p.path + ": no such model directory or file");
  if (S_ISREG(st.st_mode) && ends_with(p.path, ".gguf")) {
    // llama.cpp layout: text model + mmproj vision file (optional: without it the model
    // chats in text only); tensors served under HF names.
    auto src = std::make_unique<GgufModelSource>(p.path, p.mmproj_path);
    m->cfg_ = src->config();
    m->tok_ = tokenizer_from_gguf(src->text_file());
    m->chat_template_ = load_chat_template(p.path, true, &src->text_file(), m->cfg_);
    const auto mean = src->image_mean(), sd = src->image_std();
    for (int c = 0; c < 3; ++c) {
      m->pre_.mean[c] = mean[c];
      m->pre_.std[c] = sd[c];
    }
    m->weights_ = std::move(src);
  } else if (S_ISDIR(st.st_mode)) {
    if (!p.mmproj_path.empty()) fail(ErrorCode::kInvalidArgument, p.mmproj_path + ": --mmproj goes with a .gguf model, not a directory");
    m->cfg_ = ModelConfig::load(p.path);
    m->weights_ = std::make_unique<SafetensorsModel>(p.path);
    m->tok_ = Tokenizer::load(p.path);
    m->chat_template_ = load_chat_template(p.path, false, nullptr, m->cfg_);
    const std::string pre = p.path + "/preprocessor_config.json";
    if (exists(pre)) m->pre_ = PreprocessConfig::load(pre);
  } else {
    fail(ErrorCode::kInvalidArgument, p.path + ": expected a Hugging Face model directory or a .gguf file");
  }
  m->decoder_ = std::make_unique<Qwen2Decoder>(m->cfg_.text, *m->weights_);
  const bool text_only_gguf = S_ISREG(st.st_mode) && p.mmproj_path.empty();
  if (!text_only_gguf) m->vision_ = VisionEncoder::create(m->cfg_, *m->weights_);
  m->pre_.patch_size = m->cfg_.vision.patch_size;
  m->pre_.merge_size = m->cfg_.vision.spatial_merge_size;
  m->pre_.temporal_patch_size = m->cfg_.vision.temporal_patch_size;
  for (int32_t id : {m->cfg_.image_token_id, m->cfg_.vision_start_token_id, m->cfg_.vision_end_token_id})
    if (id < 0 || id >= m->decoder_->vocab_size()) fail_format(p.path + ": special token id " + std::to_string(id) + " is outside the vocabulary");
  if (m->tok_.special_id("<|im_start|>") < 0 || m->tok_.special_id("<|im_end|>") < 0)
    fail_format(p.path + ": the tokenizer lacks <|im_start|>/<|im_end|> (not a Qwen2-VL chat model?)");
  m->load_ms_ = now_ms() - t0;
  return m;
}

const VisionEncoder& Model::vision() const {
  if (!vision_)
    fail(ErrorCode::kInvalidArgument, path_ + ": this text-only model cannot read images; load it with its vision file (--mmproj FILE.gguf)");
  return *vision_;
}

ImageEmbedding Model::encode_image(const ImageU8& img, const PreprocessConfig& pre, ThreadPool& pool, const Cancel& cancel) const {
  if (!vision_)
    fail(ErrorCode::kInvalidArgument, path_ + ": this text-only model cannot read images; load it with its vision file (--mmproj FILE.gguf)");
  ImageEmbedding e;
  cancel.check("image preprocessing");
  double t0 = now_ms();
  PixelPatches px = preprocess_image(img, pre);
  e.preprocess_ms = now_ms() - t0;
  cancel.check("image encoding");
  t0 = now_ms();
  e.embeds = vision_->encode(px.data.data(), px.grid_t, px.grid_h, px.grid_w, pool, cancel, &e.deepstack);
  e.encode_ms = now_ms() - t0;
  const int m = cfg_.vision.spatial_merge_size;
  e.grid_t = px.grid_t;
  e.grid_h = px.grid_h;
  e.grid_w = px.grid_w;
  e.merged_h = px.grid_h / m;
  e.merged_w = px.grid_w / m;
  e.n_tokens = int64_t(px.grid_t) * e.merged_h * e.merged_w;
  if (int64_t(e.embeds.size()) != e.n_tokens * cfg_.text.hidden_size)
    fail(ErrorCode::kInternal, "vision tower returned " + std::to_string(e.embeds.size()) + " values for " + std::to_string(e.n_tokens) + " image tokens");
  return e;
}

}  // namespace edgevl
