#include "formats/random_model.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/fp16.h"
#include "core/thread_pool.h"
#include "core/timer.h"
#include "formats/gguf.h"
#include "formats/gguf_convert.h"
#include "formats/gguf_names.h"
#include "kernels/kquant.h"
#include "kernels/quant.h"

namespace edgevl {

namespace {

// The config.json values of the Hugging Face Instruct checkpoints (Qwen/Qwen2-VL-2B-Instruct,
// Qwen/Qwen2.5-VL-3B-Instruct, Qwen/Qwen2.5-VL-7B-Instruct) and their generation_config eos ids.
ModelConfig base_config(bool q25) {
  ModelConfig c;
  c.architecture = q25 ? "Qwen2_5_VLForConditionalGeneration" : "Qwen2VLForConditionalGeneration";
  c.model_type = q25 ? "qwen2_5_vl" : "qwen2_vl";
  c.image_token_id = 151655;
  c.video_token_id = 151656;
  c.vision_start_token_id = 151652;
  c.vision_end_token_id = 151653;
  c.bos_token_id = 151643;
  c.eos_token_ids = {151645, 151643};
  TextConfig& t = c.text;
  t.head_dim = 128;
  t.rms_norm_eps = 1e-6f;
  t.rope_theta = 1e6f;
  t.mrope_section = {16, 24, 24};
  VisionConfig& v = c.vision;
  v.arch = q25 ? VisionArch::Qwen25VL : VisionArch::Qwen2VL;
  v.depth = 32;
  v.embed_dim = 1280;
  v.num_heads = 16;
  v.patch_size = 14;
  v.temporal_patch_size = 2;
  v.spatial_merge_size = 2;
  v.in_channels = 3;
  v.norm_eps = 1e-6f;
  if (q25) {
    v.mlp_hidden = 3420;
    v.hidden_act = "silu";
    v.window_size = 112;
    v.fullatt_block_indexes = {7, 15, 23, 31};
  } else {
    v.mlp_hidden = 5120;  // embed_dim * mlp_ratio 4
    v.hidden_act = "quick_gelu";
  }
  return c;
}

// Qwen/Qwen3-VL-2B-Instruct's config.json: a Qwen3 decoder (q/k norms, no q/k/v biases,
// head_dim 128, interleaved M-RoPE [24, 20, 20], rope_theta 5e6) and the Qwen3-VL tower
// (patch 16, 48x48 learned positions, tanh-GELU MLP, DeepStack from blocks 5, 11, 17).
ModelConfig qwen3vl_2b_config() {
  ModelConfig c;
  c.architecture = "Qwen3VLForConditionalGeneration";
  c.model_type = "qwen3_vl";
  c.image_token_id = 151655;
  c.video_token_id = 151656;
  c.vision_start_token_id = 151652;
  c.vision_end_token_id = 151653;
  c.bos_token_id = 151643;
  c.eos_token_ids = {151645, 151643};
  c.template_default_system = false;
  TextConfig& t = c.text;
  t.hidden_size = 2048;
  t.num_layers = 28;
  t.num_heads = 16;
  t.num_kv_heads = 8;
  t.head_dim = 128;
  t.intermediate_size = 6144;
  t.vocab_size = 151936;
  t.tie_word_embeddings = true;
  t.max_position_embeddings = 262144;
  t.rms_norm_eps = 1e-6f;
  t.rope_theta = 5e6f;
  t.mrope_section = {24, 20, 20};
  t.mrope_interleaved = true;
  t.attention_bias = false;
  t.qk_norm = true;
  t.tensor_prefix = "model.language_model.";
  VisionConfig& v = c.vision;
  v.arch = VisionArch::Qwen3VL;
  v.depth = 24;
  v.embed_dim = 1024;
  v.num_heads = 16;
  v.mlp_hidden = 4096;
  v.hidden_act = "gelu_pytorch_tanh";
  v.patch_size = 16;
  v.temporal_patch_size = 2;
  v.spatial_merge_size = 2;
  v.in_channels = 3;
  v.out_hidden_size = 2048;
  v.num_position_embeddings = 2304;
  v.deepstack_visual_indexes = {5, 11, 17};
  v.norm_eps = 1e-6f;
  v.tensor_prefix = "model.visual.";
  return c;
}

void set_text(ModelConfig& c, int hidden, int layers, int heads, int kv_heads, int inter, int vocab, bool tie, int max_pos) {
  c.text.hidden_size = hidden;
  c.text.num_layers = layers;
  c.text.num_heads = heads;
  c.text.num_kv_heads = kv_heads;
  c.text.head_dim = hidden / heads;
  c.text.intermediate_size = inter;
  c.text.vocab_size = vocab;
  c.text.tie_word_embeddings = tie;
  c.text.max_position_embeddings = max_pos;
  c.vision.out_hidden_size = hidden;
}

bool is_block_type(DType t) { return dtype_block_size(t) > 1; }

void check_type(DType t, const char* what) {
  if (t != DType::F32 && t != DType::F16 && t != DType::BF16 && t != DType::Q8_0 && t != DType::Q4_0)
    fail(ErrorCode::kInvalidArgument, std::string("random model: ") + what + " type " + dtype_name(t) + " (use f32, f16, bf16, q8_0 or q4_0)");
}

int64_t n_rows(const RandomTensor& t) { return t.shape.size() == 1 ? 1 : t.shape[0]; }
int64_t row_len(const RandomTensor& t) { return t.shape.size() == 1 ? t.shape[0] : t.numel() / t.shape[0]; }

// The converter's choice (gguf_convert.cpp pick_type).
DType pick(const std::vector<int64_t>& shape, DType wanted) {
  if (shape.size() == 1) return DType::F32;
  int64_t cols = 1;
  for (size_t i = 1; i < shape.size(); ++i) cols *= shape[i];
  if (is_block_type(wanted) && cols % dtype_block_size(wanted) != 0) return DType::F16;
  return wanted;
}

struct Planner {
  std::vector<RandomTensor>* out;
  DType wanted;
  void mat(const std::string& name, std::vector<int64_t> shape) {
    RandomTensor t;
    t.name = name;
    t.type = pick(shape, wanted);
    t.shape = std::move(shape);
    out->push_back(std::move(t));
  }
  void vec(const std::string& name, int64_t n, RandomTensor::Init init = RandomTensor::Init::Normal) {
    RandomTensor t;
    t.name = name;
    t.type = DType::F32;
    t.shape = {n};
    t.init = init;
    out->push_back(std::move(t));
  }
};

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

void encode_row(DType type, const float* x, int64_t n, uint8_t* dst) {
  switch (type) {
    case DType::F32: std::memcpy(dst, x, static_cast<size_t>(n) * 4); break;
    case DType::F16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = f32_to_f16(x[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
      break;
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = f32_to_bf16(x[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
      break;
    default: quantize_blocks(type, x, dst, n); break;
  }
}

std::vector<uint8_t> generate(const RandomTensor& t, uint64_t seed, float stddev, ThreadPool& pool) {
  const int64_t rows = n_rows(t), cols = row_len(t);
  const size_t rb = dtype_row_bytes(t.type, cols);
  std::vector<uint8_t> out(rb * static_cast<size_t>(rows));
  pool.parallel_for(rows, [&](int64_t b, int64_t e) {
    std::vector<float> row(static_cast<size_t>(cols));
    for (int64_t r = b; r < e; ++r) {
      random_model_row(t, seed, stddev, r, row.data());
      encode_row(t.type, row.data(), cols, out.data() + static_cast<size_t>(r) * rb);
    }
  });
  return out;
}

uint64_t file_size(const std::string& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) fail(ErrorCode::kIo, p + ": cannot stat the written file");
  return static_cast<uint64_t>(st.st_size);
}

void write_file(const std::string& path, const std::vector<RandomTensor>& tensors, GgufWriter& w, const RandomModelOptions& opt,
                int file_index, ThreadPool& pool) {
  for (const auto& t : tensors) w.add_tensor(t.name, t.type, t.shape);
  for (size_t i = 0; i < tensors.size(); ++i) {
    std::vector<uint8_t> bytes = generate(tensors[i], opt.seed, opt.stddev, pool);
    w.write_tensor_data(tensors[i].name, bytes.data(), bytes.size());
    if (opt.progress) opt.progress(file_index, i + 1, tensors.size());
  }
  (void)path;
  w.finish();
}

}  // namespace

const std::vector<std::string>& random_model_preset_names() {
  static const std::vector<std::string> names = {"qwen2-vl-2b", "qwen2.5-vl-3b", "qwen2.5-vl-7b", "qwen3-vl-2b"};
  return names;
}

ModelConfig random_model_preset(const std::string& name) {
  if (name == "qwen2-vl-2b") {
    ModelConfig c = base_config(false);
    set_text(c, 1536, 28, 12, 2, 8960, 151936, true, 32768);
    return c;
  }
  if (name == "qwen2.5-vl-3b") {
    ModelConfig c = base_config(true);
    set_text(c, 2048, 36, 16, 2, 11008, 151936, true, 128000);
    return c;
  }
  if (name == "qwen2.5-vl-7b") {
    ModelConfig c = base_config(true);
    set_text(c, 3584, 28, 28, 4, 18944, 152064, false, 128000);
    return c;
  }
  if (name == "qwen3-vl-2b") return qwen3vl_2b_config();
  std::string list;
  for (const auto& n : random_model_preset_names()) list += (list.empty() ? "" : ", ") + n;
  fail(ErrorCode::kInvalidArgument, "unknown model preset '" + name + "' (known: " + list + ")");
}

int64_t RandomTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

size_t RandomTensor::nbytes() const { return static_cast<size_t>(n_rows(*this)) * dtype_row_bytes(type, row_len(*this)); }

int64_t RandomModelPlan::text_params() const {
  int64_t n = 0;
  for (const auto& t : text) n += t.numel();
  return n;
}

int64_t RandomModelPlan::vision_params() const {
  int64_t n = 0;
  for (const auto& t : vision) n += t.numel();
  return n;
}

namespace {

// llama.cpp's Qwen3-VL mmproj layout (gguf_names.h): fused qkv, patch bias, learned
// positions, and a merger per DeepStack block named by its block index.
template <typename Norm>
void plan_qwen3_vision(Planner& vp, const VisionConfig& v, const Norm& norm) {
  using Init = RandomTensor::Init;
  const int64_t d = v.embed_dim, m = v.mlp_hidden, md = d * v.spatial_merge_size * v.spatial_merge_size;
  vp.vec("v.patch_embd.bias", d);
  {
    RandomTensor pos;  // f32 whatever the vision type, as llama.cpp's converter keeps it
    pos.name = "v.position_embd.weight";
    pos.type = DType::F32;
    pos.shape = {v.num_position_embeddings, d};
    vp.out->push_back(pos);
  }
  for (int i = 0; i < v.depth; ++i) {
    const std::string b = "v.blk." + std::to_string(i) + ".";
    norm(b + "ln1");
    vp.mat(b + "attn_qkv.weight", {3 * d, d});
    vp.vec(b + "attn_qkv.bias", 3 * d);
    vp.mat(b + "attn_out.weight", {d, d});
    vp.vec(b + "attn_out.bias", d);
    norm(b + "ln2");
    vp.mat(b + "ffn_up.weight", {m, d});
    vp.vec(b + "ffn_up.bias", m);
    vp.mat(b + "ffn_down.weight", {d, m});
    vp.vec(b + "ffn_down.bias", d);
  }
  norm("v.post_ln");
  auto merger = [&](const std::string& fc1, const std::string& fc2) {
    vp.mat(fc1 + ".weight", {md, md});
    vp.vec(fc1 + ".bias", md);
    vp.mat(fc2 + ".weight", {v.out_hidden_size, md});
    vp.vec(fc2 + ".bias", v.out_hidden_size);
  };
  merger("mm.0", "mm.2");
  for (int blk : v.deepstack_visual_indexes) {
    const std::string b = "v.deepstack." + std::to_string(blk) + ".";
    vp.vec(b + "norm.weight", md, Init::Ones);
    vp.vec(b + "norm.bias", md, Init::Zeros);
    merger(b + "fc1", b + "fc2");
  }
}

}  // namespace

RandomModelPlan plan_random_model(const ModelConfig& cfg, DType text_type, DType vision_type, KQuantMix mix) {
  check_type(text_type, "text");
  check_type(vision_type, "vision");
  RandomModelPlan p;
  p.config = cfg;
  const TextConfig& t = cfg.text;
  const VisionConfig& v = cfg.vision;
  if (t.hidden_size < 1 || t.num_layers < 1 || t.num_heads < 1 || t.num_kv_heads < 1 || t.head_dim < 2 || t.intermediate_size < 1 ||
      t.vocab_size < 1)
    fail(ErrorCode::kInvalidArgument, "random model: text config has a non-positive size");
  if (v.depth < 1 || v.embed_dim < 1 || v.num_heads < 1 || v.mlp_hidden < 1 || v.out_hidden_size != t.hidden_size)
    fail(ErrorCode::kInvalidArgument, "random model: vision config has a non-positive size or projects to another width than the text model");
  using Init = RandomTensor::Init;

  const int64_t H = t.hidden_size, I = t.intermediate_size, V = t.vocab_size;
  const int64_t qd = int64_t(t.num_heads) * t.head_dim, kvd = int64_t(t.num_kv_heads) * t.head_dim;
  Planner tp{&p.text, text_type};
  tp.mat("token_embd.weight", {V, H});
  for (int l = 0; l < t.num_layers; ++l) {
    const std::string b = "blk." + std::to_string(l) + ".";
    tp.vec(b + "attn_norm.weight", H, Init::Ones);
    tp.mat(b + "attn_q.weight", {qd, H});
    if (t.attention_bias) tp.vec(b + "attn_q.bias", qd);
    tp.mat(b + "attn_k.weight", {kvd, H});
    if (t.attention_bias) tp.vec(b + "attn_k.bias", kvd);
    tp.mat(b + "attn_v.weight", {kvd, H});
    if (t.attention_bias) tp.vec(b + "attn_v.bias", kvd);
    if (t.qk_norm) {
      tp.vec(b + "attn_q_norm.weight", t.head_dim, Init::Ones);
      tp.vec(b + "attn_k_norm.weight", t.head_dim, Init::Ones);
    }
    tp.mat(b + "attn_output.weight", {H, qd});
    tp.vec(b + "ffn_norm.weight", H, Init::Ones);
    tp.mat(b + "ffn_gate.weight", {I, H});
    tp.mat(b + "ffn_up.weight", {I, H});
    tp.mat(b + "ffn_down.weight", {H, I});
  }
  tp.vec("output_norm.weight", H, Init::Ones);
  if (!t.tie_word_embeddings) tp.mat("output.weight", {V, H});
  if (mix != KQuantMix::None)
    for (auto& r : p.text)
      if (r.shape.size() >= 2) r.type = kquant_mix_tensor_type(mix, r.name, r.shape[1], t.num_layers, t.tie_word_embeddings);

  const bool q25 = v.arch == VisionArch::Qwen25VL;
  const int64_t d = v.embed_dim, m = v.mlp_hidden, md = d * v.spatial_merge_size * v.spatial_merge_size;
  Planner vp{&p.vision, vision_type};
  // The patch kernel halves stay float, as the converter keeps them.
  const DType patch_type = dtype_is_float(vision_type) ? vision_type : DType::F16;
  for (const char* n : {"v.patch_embd.weight", "v.patch_embd.weight.1"}) {
    RandomTensor r;
    r.name = n;
    r.type = patch_type;
    r.shape = {d, v.in_channels, v.patch_size, v.patch_size};
    p.vision.push_back(r);
  }
  auto norm = [&](const std::string& name) {
    vp.vec(name + ".weight", d, Init::Ones);
    if (!q25) vp.vec(name + ".bias", d, Init::Zeros);  // Qwen2-VL, Qwen3-VL: LayerNorm; Qwen2.5-VL: RMSNorm
  };
  if (v.arch == VisionArch::Qwen3VL) {
    plan_qwen3_vision(vp, v, norm);
    return p;
  }
  for (int i = 0; i < v.depth; ++i) {
    const std::string b = "v.blk." + std::to_string(i) + ".";
    norm(b + "ln1");
    // q, k, v adjacent (as llama.cpp writes them): GgufModelSource joins them without a copy.
    vp.mat(b + "attn_q.weight", {d, d});
    vp.mat(b + "attn_k.weight", {d, d});
    vp.mat(b + "attn_v.weight", {d, d});
    vp.vec(b + "attn_q.bias", d);
    vp.vec(b + "attn_k.bias", d);
    vp.vec(b + "attn_v.bias", d);
    vp.mat(b + "attn_out.weight", {d, d});
    vp.vec(b + "attn_out.bias", d);
    norm(b + "ln2");
    if (q25) {
      vp.mat(b + "ffn_gate.weight", {m, d});
      vp.vec(b + "ffn_gate.bias", m);
    }
    vp.mat(b + "ffn_up.weight", {m, d});
    vp.vec(b + "ffn_up.bias", m);
    vp.mat(b + "ffn_down.weight", {d, m});
    vp.vec(b + "ffn_down.bias", d);
  }
  norm("v.post_ln");
  vp.mat("mm.0.weight", {md, md});
  vp.vec("mm.0.bias", md);
  vp.mat("mm.2.weight", {v.out_hidden_size, md});
  vp.vec("mm.2.bias", v.out_hidden_size);
  return p;
}

void random_model_row(const RandomTensor& t, uint64_t seed, float stddev, int64_t row, float* out) {
  const int64_t n = row_len(t);
  if (t.init != RandomTensor::Init::Normal) {
    const float v = t.init == RandomTensor::Init::Ones ? 1.0f : 0.0f;
    for (int64_t i = 0; i < n; ++i) out[i] = v;
    return;
  }
  const uint64_t key = splitmix64(splitmix64(seed ^ fnv1a(t.name)) ^ splitmix64(static_cast<uint64_t>(row) + 1));
  // Sum of four 16-bit uniforms on (0, 1): mean 2, variance 1/3.
  const float scale = stddev * std::sqrt(3.0f) / 65536.0f;
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t r = splitmix64(key + static_cast<uint64_t>(i));
    const uint32_t s = uint32_t(r & 0xffff) + uint32_t((r >> 16) & 0xffff) + uint32_t((r >> 32) & 0xffff) + uint32_t(r >> 48);
    out[i] = (static_cast<float>(s) + 2.0f - 131072.0f) * scale;  // (+4 halves of 0.5) - 2 * 65536
  }
}

RandomModelResult write_random_model(const ModelConfig& cfg_in, const RandomModelOptions& opt, const std::string& text_out,
                                     const std::string& mmproj_out) {
  const double t0 = now_ms();
  if (text_out.empty()) fail(ErrorCode::kInvalidArgument, "random model: no output path");
  if (!(opt.stddev > 0) || !std::isfinite(opt.stddev)) fail(ErrorCode::kInvalidArgument, "random model: stddev must be positive");
  if (opt.text_layers < 0 || opt.vision_layers < 0) fail(ErrorCode::kInvalidArgument, "random model: negative layer count");
  ModelConfig cfg = cfg_in;
  if (opt.text_layers > 0) cfg.text.num_layers = opt.text_layers;
  if (opt.vision_layers > 0 && opt.vision_layers != cfg.vision.depth) {
    cfg.vision.depth = opt.vision_layers;
    // Qwen2.5-VL: keep full attention every n-th block (llama.cpp's n_wa_pattern); a tower cut
    // below one period gets it in its last block, so both attention kinds still run.
    if (!cfg.vision.fullatt_block_indexes.empty()) {
      const int n = std::min(cfg.vision.fullatt_block_indexes[0] + 1, cfg.vision.depth);
      cfg.vision.fullatt_block_indexes.clear();
      for (int i = n - 1; i < cfg.vision.depth; i += n) cfg.vision.fullatt_block_indexes.push_back(i);
    }
  }
  // DeepStack taps must exist in the (possibly cut) tower and fit the (possibly cut) decoder.
  auto& ds = cfg.vision.deepstack_visual_indexes;
  ds.erase(std::remove_if(ds.begin(), ds.end(), [&](int b) { return b >= cfg.vision.depth; }), ds.end());
  if (int(ds.size()) > cfg.text.num_layers) ds.resize(static_cast<size_t>(cfg.text.num_layers));
  RandomModelResult res;
  res.plan = plan_random_model(cfg, opt.text_type, opt.vision_type, opt.text_mix);
  if (opt.legacy_clip_ffn_names && cfg.vision.arch == VisionArch::Qwen2VL)
    for (auto& t : res.plan.vision) t.name = swap_ffn_name(t.name);
  ThreadPool pool(opt.n_threads > 0 ? opt.n_threads : default_thread_count());
  const std::string name = opt.name.empty() ? "edgevl-random" : opt.name;
  {
    GgufWriter w(text_out);
    write_text_metadata(w, cfg, name);
    if (opt.text_mix != KQuantMix::None)
      w.set(gguf_key::kFileType, GgufValue::u32(kquant_mix_file_type(opt.text_mix)));
    else
      write_file_type(w, opt.text_type);
    if (is_block_type(opt.text_type) || opt.text_mix != KQuantMix::None) w.set(gguf_key::kQuantVersion, GgufValue::u32(2));
    w.set("edgevl.random_weights", GgufValue::boolean(true));
    w.set("edgevl.random_seed", GgufValue::u64(opt.seed));
    if (!opt.tokenizer_dir.empty()) write_gguf_tokenizer(w, opt.tokenizer_dir, cfg);
    write_file(text_out, res.plan.text, w, opt, 0, pool);
  }
  res.text_file_bytes = file_size(text_out);
  if (!mmproj_out.empty()) {
    GgufWriter w(mmproj_out);
    std::array<float, 3> mean = {0.48145466f, 0.4578275f, 0.40821073f}, stdv = {0.26862954f, 0.26130258f, 0.27577711f};
    if (!opt.tokenizer_dir.empty()) {
      mean = read_hf_image_norm(opt.tokenizer_dir, "image_mean", mean);
      stdv = read_hf_image_norm(opt.tokenizer_dir, "image_std", stdv);
    }
    write_vision_metadata(w, cfg, name, mean, stdv);
    write_file_type(w, opt.vision_type);
    w.set("edgevl.random_weights", GgufValue::boolean(true));
    w.set("edgevl.random_seed", GgufValue::u64(opt.seed));
    write_file(mmproj_out, res.plan.vision, w, opt, 1, pool);
    res.mmproj_file_bytes = file_size(mmproj_out);
  }
  res.seconds = (now_ms() - t0) / 1000.0;
  return res;
}

}  // namespace edgevl
