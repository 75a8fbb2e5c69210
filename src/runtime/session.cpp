#include "runtime/session.h"

#include <algorithm>
#include <cstring>
#include <functional>

#include "core/error.h"
#include "core/timer.h"

namespace edgevl {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::Stop: return "stop";
    case FinishReason::Length: return "length";
    case FinishReason::ContextFull: return "context_full";
    case FinishReason::Aborted: return "aborted";
  }
  return "?";
}

Message message_from_tagged_text(const std::string& role, const std::string& text,
                                 const std::vector<std::shared_ptr<const ImageU8>>& images) {
  static const std::string kTag = "<image>";
  Message m;
  m.role = role;
  size_t pos = 0, used = 0;
  for (;;) {
    size_t t = text.find(kTag, pos);
    std::string chunk = text.substr(pos, t == std::string::npos ? std::string::npos : t - pos);
    if (!chunk.empty()) m.parts.push_back({ContentPart::Kind::Text, chunk, nullptr});
    if (t == std::string::npos) break;
    if (used >= images.size() || !images[used])
      fail(ErrorCode::kInvalidArgument, "the message has an <image> tag but no image is loaded for it (load one first, e.g. /image PATH)");
    m.parts.push_back({ContentPart::Kind::Image, "", images[used++]});
    pos = t + kTag.size();
  }
  if (used != images.size())
    fail(ErrorCode::kInvalidArgument, std::to_string(images.size()) + " images given but the text has " + std::to_string(used) + " <image> tags");
  return m;
}

struct Session::Pending {
  std::vector<int32_t> ids;
  std::vector<KvCell> cells;
  std::vector<ImageSpan> images;  // offsets into ids
  int32_t next_pos = 0;
};

Session::Session(std::shared_ptr<const Model> model, const SessionParams& params)
    : model_(std::move(model)), params_(params),
      pool_(params.n_threads > 0 ? params.n_threads : default_thread_count()),
      sampler_(params.generation.sampling) {
  if (!model_) fail(ErrorCode::kInvalidArgument, "session: no model");
  if (params_.max_context < 16) fail(ErrorCode::kInvalidArgument, "session: max_context must be at least 16 tokens");
  if (params_.max_context > model_->config().text.max_position_embeddings * int64_t(4))
    fail(ErrorCode::kInvalidArgument, "session: max_context " + std::to_string(params_.max_context) + " is far beyond the model's " +
                                          std::to_string(model_->config().text.max_position_embeddings) + " positions");
  if (params_.max_context > (int64_t(1) << 20)) fail(ErrorCode::kInvalidArgument, "session: max_context is too large");
  cache_ = model_->decoder().make_cache(params_.max_context);
  logits_.resize(model_->decoder().vocab_size());
}

PreprocessConfig Session::effective_preprocess() const {
  PreprocessConfig p = params_.use_model_preprocess ? model_->preprocess_config() : params_.preprocess;
  if (params_.fixed_size > 0) p.fixed_size = params_.fixed_size;
  return p;
}

std::string Session::cache_key(const ImageU8& img) const {
  const PreprocessConfig p = effective_preprocess();
  size_t h = std::hash<std::string_view>{}(std::string_view(reinterpret_cast<const char*>(img.rgb.data()), img.rgb.size()));
  return std::to_string(img.width) + "x" + std::to_string(img.height) + ":" + std::to_string(h) + ":" + std::to_string(p.fixed_size) +
         ":" + std::to_string(p.min_pixels) + ":" + std::to_string(p.max_pixels);
}

std::shared_ptr<const ImageEmbedding> Session::image_embedding(const ImageU8& img, bool* was_cached) {
  const std::string key = cache_key(img);
  for (auto it = image_lru_.begin(); it != image_lru_.end(); ++it) {
    if (it->first == key) {
      image_lru_.splice(image_lru_.begin(), image_lru_, it);
      if (was_cached) *was_cached = true;
      return image_lru_.front().second;
    }
  }
  auto emb = std::make_shared<ImageEmbedding>(model_->encode_image(img, effective_preprocess(), pool_));
  ++images_encoded_total_;
  image_lru_.emplace_front(key, emb);
  while (image_lru_.size() > std::max<size_t>(1, params_.image_cache_entries)) image_lru_.pop_back();
  if (was_cached) *was_cached = false;
  return emb;
}

void Session::append_text(Pending& seg, const std::string& text) const {
  if (text.empty()) return;
  if (!is_valid_utf8(text)) fail(ErrorCode::kInvalidArgument, "message text is not valid UTF-8");
  for (int32_t id : model_->tokenizer().encode(text)) {
    seg.ids.push_back(id);
    KvCell c;
    c.pos = {seg.next_pos, seg.next_pos, seg.next_pos};
    c.turn = turn_;
    seg.cells.push_back(c);
    ++seg.next_pos;
  }
}

void Session::render_turn(const Message& msg, Pending& seg, TurnStats& st) {
  static const char* kRoles[] = {"system", "user", "assistant", "tool"};
  if (std::none_of(std::begin(kRoles), std::end(kRoles), [&](const char* r) { return msg.role == r; }))
    fail(ErrorCode::kInvalidArgument, "unknown role '" + msg.role + "' (expected system, user, assistant or tool)");
  const ModelConfig& cfg = model_->config();
  std::string text;
  switch (tail_) {
    case Tail::Empty: text = "<|im_start|>system\n" + params_.system_prompt + "<|im_end|>\n"; break;
    case Tail::SystemBlock: break;
    case Tail::ReplyClosed: text = "\n"; break;  // after a generated <|im_end|>
    case Tail::ReplyOpen: text = "<|im_end|>\n"; break;  // the reply was cut (length, abort)
  }
  text += "<|im_start|>" + msg.role + "\n";
  for (const ContentPart& part : msg.parts) {
    if (part.kind == ContentPart::Kind::Text) {
      text += part.text;
      continue;
    }
    if (!part.image) fail(ErrorCode::kInvalidArgument, "image part without an image");
    append_text(seg, text);
    text.clear();
    bool cached = false;
    const double t0 = now_ms();
    auto emb = image_embedding(*part.image, &cached);
    st.image_encode_ms += now_ms() - t0;
    st.images++;
    st.images_encoded += cached ? 0 : 1;
    // <|vision_start|> is a text position; the image grid starts right after it and
    // the text after the image resumes at max(position) + 1.
    auto push = [&](int32_t id, std::array<int32_t, 3> pos, CellSource src) {
      seg.ids.push_back(id);
      KvCell c;
      c.pos = pos;
      c.source = src;
      c.turn = turn_;
      seg.cells.push_back(c);
    };
    push(cfg.vision_start_token_id, {seg.next_pos, seg.next_pos, seg.next_pos}, CellSource::Text);
    ++seg.next_pos;
    const int32_t s = seg.next_pos;
    seg.images.push_back({int64_t(seg.ids.size()), emb});
    for (int t = 0; t < emb->grid_t; ++t)
      for (int i = 0; i < emb->merged_h; ++i)
        for (int j = 0; j < emb->merged_w; ++j) push(cfg.image_token_id, {s + t, s + i, s + j}, CellSource::Image);
    seg.next_pos = s + std::max({emb->grid_t, emb->merged_h, emb->merged_w});
    push(cfg.vision_end_token_id, {seg.next_pos, seg.next_pos, seg.next_pos}, CellSource::Text);
    ++seg.next_pos;
    st.image_tokens += emb->n_tokens;
  }
  text += msg.role == "assistant" ? "" : "<|im_end|>\n<|im_start|>assistant\n";
  append_text(seg, text);
}

void Session::forward_tokens(const std::vector<int32_t>& ids, const std::vector<KvCell>& cells, const std::vector<ImageSpan>& spans) {
  const int64_t n = int64_t(ids.size());
  const int H = model_->decoder().hidden_size();
  std::vector<float> x(n * H);
  int64_t i = 0;
  for (const auto& span : spans) {
    model_->decoder().embed(ids.data() + i, span.offset - i, x.data() + i * H);
    std::memcpy(x.data() + span.offset * H, span.emb->embeds.data(), sizeof(float) * span.emb->embeds.size());
    i = span.offset + span.emb->n_tokens;
  }
  model_->decoder().embed(ids.data() + i, n - i, x.data() + i * H);
  model_->decoder().forward(x.data(), n, cells.data(), cache_, pool_, logits_.data());
}

void Session::prefill(Pending& seg) {
  // What the cache lacks: tokens already in history (the last generated one, always
  // text) + the new segment.
  const int64_t from = cache_.size();
  const int64_t old = int64_t(history_.size()) - from;
  std::vector<int32_t> ids(history_.begin() + from, history_.end());
  ids.insert(ids.end(), seg.ids.begin(), seg.ids.end());
  std::vector<KvCell> cells(cells_.begin() + from, cells_.end());
  cells.insert(cells.end(), seg.cells.begin(), seg.cells.end());
  std::vector<ImageSpan> spans;
  for (const auto& sp : seg.images) spans.push_back({old + sp.offset, sp.emb});
  forward_tokens(ids, cells, spans);
}

void Session::rebuild_cache() {
  cache_.truncate(0);
  if (!history_.empty()) forward_tokens(history_, cells_, history_images_);
}

TurnResult Session::chat(const Message& msg, const TokenCallback& cb) { return chat(msg, params_.generation, cb); }

TurnResult Session::chat(const Message& msg, const GenerationParams& gen, const TokenCallback& cb) {
  const double t_start = now_ms();
  abort_.store(false);
  if (gen.max_new_tokens < 0) fail(ErrorCode::kInvalidArgument, "max_new_tokens must be >= 0");
  sampler_.reset(gen.sampling);
  TurnResult r;
  Pending seg;
  seg.next_pos = next_pos_;
  render_turn(msg, seg, r.stats);

  const int64_t uncached = int64_t(history_.size()) - cache_.size();
  const int64_t need = cache_.size() + uncached + int64_t(seg.ids.size());
  if (need + 1 > params_.max_context)
    fail(ErrorCode::kContextOverflow, "context overflow: the conversation holds " + std::to_string(history_.size()) + " tokens and this turn adds " +
                                          std::to_string(seg.ids.size()) + ", over the context of " + std::to_string(params_.max_context) +
                                          " (clear the conversation or raise --max-context)");
  const double t_prefill = now_ms();
  prefill(seg);  // on failure nothing below has changed the session
  r.stats.prefill_ms = now_ms() - t_prefill;
  r.stats.prompt_tokens = uncached + int64_t(seg.ids.size());
  for (const auto& sp : seg.images) history_images_.push_back({int64_t(history_.size()) + sp.offset, sp.emb});
  history_.insert(history_.end(), seg.ids.begin(), seg.ids.end());
  cells_.insert(cells_.end(), seg.cells.begin(), seg.cells.end());
  next_pos_ = seg.next_pos;
  if (turn_ == 0 && system_len_ == 0) {
    // The system block is everything before the first "<|im_start|>user" of turn 0.
    const int32_t im_start = model_->tokenizer().special_id("<|im_start|>");
    for (size_t k = 1; k < seg.ids.size(); ++k)
      if (seg.ids[k] == im_start) {
        system_len_ = int64_t(k);
        break;
      }
  }
  tail_ = Tail::ReplyOpen;

  const auto& eos = model_->config().eos_token_ids;
  const int32_t im_end = model_->tokenizer().special_id("<|im_end|>");
  const int32_t vocab = model_->decoder().vocab_size();
  Utf8StreamDecoder utf8;
  std::vector<float> x(model_->decoder().hidden_size());
  const double t_decode = now_ms();
  r.finish = FinishReason::Length;
  for (int step = 0; step < gen.max_new_tokens; ++step) {
    if (abort_.load()) {
      r.finish = FinishReason::Aborted;
      break;
    }
    if (step > 0) {
      // Feed the previous token (it is in history but not yet in the cache).
      if (cache_.size() + 1 >= params_.max_context) {
        r.finish = FinishReason::ContextFull;
        break;
      }
      const int32_t prev = history_.back();
      model_->decoder().embed(&prev, 1, x.data());
      model_->decoder().forward(x.data(), 1, &cells_.back(), cache_, pool_, logits_.data());
    }
    std::vector<float> work(logits_);
    const int32_t tok = sampler_.sample(work.data(), vocab, history_);
    if (step == 0) r.stats.ttft_ms = now_ms() - t_start;
    const bool is_eos = std::find(eos.begin(), eos.end(), tok) != eos.end() || tok == im_end;
    if (is_eos && !gen.ignore_eos) {
      if (tok == im_end) {  // the reply is closed in history exactly as the template writes it
        history_.push_back(tok);
        KvCell c;
        c.pos = {next_pos_, next_pos_, next_pos_};
        c.turn = turn_;
        cells_.push_back(c);
        ++next_pos_;
        tail_ = Tail::ReplyClosed;
      }
      r.finish = FinishReason::Stop;
      break;
    }
    history_.push_back(tok);
    KvCell c;
    c.pos = {next_pos_, next_pos_, next_pos_};
    c.turn = turn_;
    cells_.push_back(c);
    ++next_pos_;
    r.tokens.push_back(tok);
    ++r.stats.decode_tokens;
    std::string piece = utf8.push(model_->tokenizer().token_to_bytes(tok));
    r.text += piece;
    if (cb && !cb(tok, piece)) {
      r.finish = FinishReason::Aborted;
      break;
    }
  }
  std::string tail = utf8.flush();
  if (!tail.empty()) {
    r.text += tail;
    if (cb) cb(-1, tail);
  }
  r.stats.decode_ms = now_ms() - t_decode;
  r.stats.kv_tokens = cache_.size();
  r.stats.peak_rss_bytes = peak_rss_bytes();
  ++turn_;
  return r;
}

void Session::clear(bool keep_system) {
  const int64_t keep = keep_system ? std::min<int64_t>(system_len_, cache_.size()) : 0;
  cache_.truncate(keep);
  history_.resize(keep);
  cells_.resize(keep);
  while (!history_images_.empty() && history_images_.back().offset >= keep) history_images_.pop_back();
  next_pos_ = keep;  // the system block is plain text: positions 0..keep-1
  if (!keep) system_len_ = 0;
  tail_ = keep ? Tail::SystemBlock : Tail::Empty;
  turn_ = 0;
}

}  // namespace edgevl
