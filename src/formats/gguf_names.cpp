#include "formats/gguf_names.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <set>

#include "core/error.h"

namespace edgevl {

namespace {

struct Pair {
  const char* hf;
  const char* gguf;
};

// "{N}" is the block index; every entry maps both ".weight" and ".bias".
const Pair kText[] = {
    {"model.embed_tokens", "token_embd"},
    {"model.norm", "output_norm"},
    {"lm_head", "output"},
    {"model.layers.{N}.input_layernorm", "blk.{N}.attn_norm"},
    {"model.layers.{N}.self_attn.q_proj", "blk.{N}.attn_q"},
    {"model.layers.{N}.self_attn.k_proj", "blk.{N}.attn_k"},
    {"model.layers.{N}.self_attn.v_proj", "blk.{N}.attn_v"},
    {"model.layers.{N}.self_attn.o_proj", "blk.{N}.attn_output"},
    {"model.layers.{N}.self_attn.q_norm", "blk.{N}.attn_q_norm"},  // Qwen3
    {"model.layers.{N}.self_attn.k_norm", "blk.{N}.attn_k_norm"},
    {"model.layers.{N}.post_attention_layernorm", "blk.{N}.ffn_norm"},
    {"model.layers.{N}.mlp.gate_proj", "blk.{N}.ffn_gate"},
    {"model.layers.{N}.mlp.up_proj", "blk.{N}.ffn_up"},
    {"model.layers.{N}.mlp.down_proj", "blk.{N}.ffn_down"},
};

// Vision, all architectures; the ffn and merger names depend on the architecture (see hf_vision_name).
const Pair kVisionCommon[] = {
    {"visual.patch_embed.proj", "v.patch_embd"},  // bias only: the weight is split in two (special)
    {"visual.blocks.{N}.norm1", "v.blk.{N}.ln1"},
    {"visual.blocks.{N}.norm2", "v.blk.{N}.ln2"},
    {"visual.blocks.{N}.attn.qkv", "v.blk.{N}.attn_qkv"},  // Qwen3-VL; Qwen2/2.5 only if a file keeps qkv fused
    {"visual.blocks.{N}.attn.proj", "v.blk.{N}.attn_out"},
};
const Pair kVisionQwen2[] = {
    {"visual.blocks.{N}.mlp.fc1", "v.blk.{N}.ffn_up"},
    {"visual.blocks.{N}.mlp.fc2", "v.blk.{N}.ffn_down"},
};
const Pair kVisionQwen25[] = {
    {"visual.blocks.{N}.mlp.gate_proj", "v.blk.{N}.ffn_gate"},
    {"visual.blocks.{N}.mlp.up_proj", "v.blk.{N}.ffn_up"},
    {"visual.blocks.{N}.mlp.down_proj", "v.blk.{N}.ffn_down"},
};
const Pair kVisionQwen2Merger[] = {  // Qwen2-VL and Qwen2.5-VL
    {"visual.merger.ln_q", "v.post_ln"},
    {"visual.merger.mlp.0", "mm.0"},
    {"visual.merger.mlp.2", "mm.2"},
};
const Pair kVisionQwen3[] = {
    {"visual.pos_embed", "v.position_embd"},
    {"visual.blocks.{N}.mlp.linear_fc1", "v.blk.{N}.ffn_up"},
    {"visual.blocks.{N}.mlp.linear_fc2", "v.blk.{N}.ffn_down"},
    {"visual.merger.norm", "v.post_ln"},
    {"visual.merger.linear_fc1", "mm.0"},
    {"visual.merger.linear_fc2", "mm.2"},
};
// DeepStack merger K <-> v.deepstack.B with B = deepstack_visual_indexes[K].
const Pair kVisionDeepstack[] = {
    {"visual.deepstack_merger_list.{N}.norm", "v.deepstack.{N}.norm"},
    {"visual.deepstack_merger_list.{N}.linear_fc1", "v.deepstack.{N}.fc1"},
    {"visual.deepstack_merger_list.{N}.linear_fc2", "v.deepstack.{N}.fc2"},
};

// name == prefix + digits + suffix + (".weight" | ".bias")?  Fills the index and the tail.
bool match(const std::string& pat, const std::string& name, std::string* idx, std::string* tail) {
  const size_t p = pat.find("{N}");
  const std::string pre = p == std::string::npos ? pat : pat.substr(0, p);
  const std::string suf = p == std::string::npos ? "" : pat.substr(p + 3);
  if (name.compare(0, pre.size(), pre) != 0) return false;
  size_t i = pre.size();
  idx->clear();
  if (p != std::string::npos) {
    size_t j = i;
    while (j < name.size() && std::isdigit(static_cast<unsigned char>(name[j]))) ++j;
    if (j == i || j - i > 6) return false;
    *idx = name.substr(i, j - i);
    i = j;
  }
  if (name.compare(i, suf.size(), suf) != 0) return false;
  i += suf.size();
  const std::string rest = name.substr(i);
  if (rest != ".weight" && rest != ".bias") return false;
  *tail = rest;
  return true;
}

std::string fill(const std::string& pat, const std::string& idx, const std::string& tail) {
  std::string s = pat;
  const size_t p = s.find("{N}");
  if (p != std::string::npos) s.replace(p, 3, idx);
  return s + tail;
}

template <size_t K>
std::string lookup(const Pair (&table)[K], const std::string& name, bool from_hf) {
  std::string idx, tail;
  for (const auto& e : table)
    if (match(from_hf ? e.hf : e.gguf, name, &idx, &tail)) return fill(from_hf ? e.gguf : e.hf, idx, tail);
  return "";
}

// Newer transformers spellings -> hub spellings.
std::string canonical_hf(const std::string& hf) {
  if (hf.rfind("model.language_model.", 0) == 0) return "model." + hf.substr(21);
  if (hf.rfind("model.visual.", 0) == 0) return hf.substr(6);
  return hf;
}

const GgufTensorInfo* info_of(const GgufFile& f, const std::string& name) {
  for (const auto& ti : f.tensor_infos())
    if (ti.name == name) return &ti;
  return nullptr;
}

}  // namespace

std::string gguf_text_name(const std::string& hf) { return lookup(kText, canonical_hf(hf), true); }
std::string hf_text_name(const std::string& gguf) { return lookup(kText, gguf, false); }

namespace {

// A DeepStack name with its index translated through `to` (K -> B or B -> K); "" if outside.
std::string deepstack_name(const std::string& name, bool from_hf, const std::vector<int>& ds) {
  std::string idx, tail;
  for (const auto& e : kVisionDeepstack) {
    if (!match(from_hf ? e.hf : e.gguf, name, &idx, &tail)) continue;
    const int i = std::stoi(idx);
    int j = -1;
    if (from_hf) {
      if (i < int(ds.size())) j = ds[i];
    } else {
      for (size_t k = 0; k < ds.size(); ++k)
        if (ds[k] == i) j = int(k);
    }
    return j < 0 ? "" : fill(from_hf ? e.gguf : e.hf, std::to_string(j), tail);
  }
  return "";
}

}  // namespace

std::string gguf_vision_name(const std::string& hf_in, const std::vector<int>& deepstack_blocks) {
  const std::string hf = canonical_hf(hf_in);
  if (hf == "visual.patch_embed.proj.weight") return "";
  std::string r = lookup(kVisionCommon, hf, true);
  if (r.empty()) r = lookup(kVisionQwen2, hf, true);
  if (r.empty()) r = lookup(kVisionQwen25, hf, true);
  if (r.empty()) r = lookup(kVisionQwen2Merger, hf, true);
  if (r.empty()) r = lookup(kVisionQwen3, hf, true);
  if (r.empty()) r = deepstack_name(hf, true, deepstack_blocks);
  return r;
}

std::string hf_vision_name(const std::string& gguf, VisionArch arch, const std::vector<int>& deepstack_blocks) {
  if (gguf == "v.patch_embd.weight" || gguf == "v.patch_embd.weight.1") return "";
  std::string r = lookup(kVisionCommon, gguf, false);
  if (!r.empty()) return r;
  switch (arch) {
    case VisionArch::Qwen2VL:
      r = lookup(kVisionQwen2, gguf, false);
      return r.empty() ? lookup(kVisionQwen2Merger, gguf, false) : r;
    case VisionArch::Qwen25VL:
      r = lookup(kVisionQwen25, gguf, false);
      return r.empty() ? lookup(kVisionQwen2Merger, gguf, false) : r;
    case VisionArch::Qwen3VL:
      r = lookup(kVisionQwen3, gguf, false);
      return r.empty() ? deepstack_name(gguf, false, deepstack_blocks) : r;
  }
  return "";
}

bool has_legacy_ffn_names(const GgufFile& f, VisionArch arch, int64_t embed_dim) {
  if (arch != VisionArch::Qwen2VL) return false;
  const GgufTensorInfo* up = info_of(f, "v.blk.0.ffn_up.weight");
  return up && up->ne.size() == 2 && up->ne[0] != embed_dim && up->ne[1] == embed_dim;
}

std::string swap_ffn_name(const std::string& g) {
  std::string r = g;
  if (size_t p = r.find(".ffn_up."); p != std::string::npos) return r.replace(p, 8, ".ffn_down.");
  if (size_t p = r.find(".ffn_down."); p != std::string::npos) return r.replace(p, 10, ".ffn_up.");
  return r;
}

// ---------------------------------------------------------------------------------------
// Metadata

void write_file_type(GgufWriter& w, DType t) {
  uint32_t ft = 0;
  switch (t) {
    case DType::F32: ft = 0; break;
    case DType::F16: ft = 1; break;
    case DType::Q4_0: ft = 2; break;
    case DType::Q8_0: ft = 7; break;
    case DType::BF16: ft = 32; break;
    default: fail(ErrorCode::kUnsupported, std::string("GGUF: no llama.cpp file type for ") + dtype_name(t));
  }
  w.set(gguf_key::kFileType, GgufValue::u32(ft));
}

namespace {

std::string text_key(const std::string& arch, const char* suffix) { return arch + "." + suffix; }

}  // namespace

void write_text_metadata(GgufWriter& w, const ModelConfig& c, const std::string& name) {
  using namespace gguf_key;
  const TextConfig& t = c.text;
  const bool q3 = c.vision.arch == VisionArch::Qwen3VL;
  const std::string arch = q3 ? kTextArchQwen3VL : kTextArch;
  auto key = [&](const char* suffix) { return text_key(arch, suffix); };
  w.set(kArchitecture, GgufValue::string(arch));
  if (!name.empty()) w.set(kName, GgufValue::string(name));
  w.set(key(kContextLength), GgufValue::u32(static_cast<uint32_t>(t.max_position_embeddings)));
  w.set(key(kEmbeddingLength), GgufValue::u32(static_cast<uint32_t>(t.hidden_size)));
  w.set(key(kBlockCount), GgufValue::u32(static_cast<uint32_t>(t.num_layers)));
  w.set(key(kFeedForwardLength), GgufValue::u32(static_cast<uint32_t>(t.intermediate_size)));
  w.set(key(kHeadCount), GgufValue::u32(static_cast<uint32_t>(t.num_heads)));
  w.set(key(kHeadCountKv), GgufValue::u32(static_cast<uint32_t>(t.num_kv_heads)));
  if (q3 || t.head_dim * t.num_heads != t.hidden_size) {
    w.set(key(kKeyLength), GgufValue::u32(static_cast<uint32_t>(t.head_dim)));
    w.set(key(kValueLength), GgufValue::u32(static_cast<uint32_t>(t.head_dim)));
  }
  w.set(key(kRopeFreqBase), GgufValue::f32(t.rope_theta));
  w.set(key(kRmsEps), GgufValue::f32(t.rms_norm_eps));
  w.set(key(kRopeSections), GgufValue::array(std::vector<int32_t>{t.mrope_section[0], t.mrope_section[1], t.mrope_section[2], 0}));
  if (q3) w.set(key(kNumDeepstackLayers), GgufValue::u32(static_cast<uint32_t>(c.vision.deepstack_visual_indexes.size())));
}

namespace {

// The keys llama.cpp's converter writes for a Qwen3-VL mmproj (conversion/qwen3vl.py).
void write_qwen3_vision_metadata(GgufWriter& w, const ModelConfig& c, const std::array<float, 3>& mean, const std::array<float, 3>& stdv) {
  using namespace gguf_key;
  const VisionConfig& v = c.vision;
  w.set("general.description", GgufValue::string("image encoder for Qwen3-VL"));
  w.set("clip.has_text_encoder", GgufValue::boolean(false));
  w.set(kClipProjectorType, GgufValue::string(kProjectorQwen3VL));
  w.set("clip.use_gelu", GgufValue::boolean(true));
  const int side = static_cast<int>(std::lround(std::sqrt(static_cast<double>(v.num_position_embeddings))));
  w.set(kClipImageSize, GgufValue::u32(static_cast<uint32_t>(side * v.patch_size)));
  w.set(kClipPatchSize, GgufValue::u32(static_cast<uint32_t>(v.patch_size)));
  w.set(kClipEmbeddingLength, GgufValue::u32(static_cast<uint32_t>(v.embed_dim)));
  w.set(kClipFeedForwardLength, GgufValue::u32(static_cast<uint32_t>(v.mlp_hidden)));
  w.set(kClipProjectionDim, GgufValue::u32(static_cast<uint32_t>(v.out_hidden_size)));
  w.set(kClipBlockCount, GgufValue::u32(static_cast<uint32_t>(v.depth)));
  w.set(kClipHeadCount, GgufValue::u32(static_cast<uint32_t>(v.num_heads)));
  w.set(kClipLayerNormEps, GgufValue::f32(v.norm_eps));
  w.set(kClipImageMean, GgufValue::array(std::vector<float>(mean.begin(), mean.end())));
  w.set(kClipImageStd, GgufValue::array(std::vector<float>(stdv.begin(), stdv.end())));
  w.set(kClipSpatialMergeSize, GgufValue::u32(static_cast<uint32_t>(v.spatial_merge_size)));
  std::vector<uint8_t> is_ds(static_cast<size_t>(v.depth), 0);
  for (int b : v.deepstack_visual_indexes) is_ds[static_cast<size_t>(b)] = 1;
  w.set(kClipIsDeepstack, GgufValue::numeric_array(GgufType::BOOL, is_ds.data(), is_ds.size()));
}

}  // namespace

void write_vision_metadata(GgufWriter& w, const ModelConfig& c, const std::string& name, const std::array<float, 3>& mean,
                           const std::array<float, 3>& stdv, int image_size) {
  using namespace gguf_key;
  const VisionConfig& v = c.vision;
  if (v.temporal_patch_size != 2)
    fail(ErrorCode::kUnsupported, "GGUF mmproj: temporal_patch_size " + std::to_string(v.temporal_patch_size) +
                                      " (llama.cpp's layout splits the patch kernel into exactly 2 halves)");
  w.set(kArchitecture, GgufValue::string(kClipArch));
  if (!name.empty()) w.set(kName, GgufValue::string(name));
  w.set(kClipHasVision, GgufValue::boolean(true));
  if (v.arch == VisionArch::Qwen3VL) {
    write_qwen3_vision_metadata(w, c, mean, stdv);
    return;
  }
  const bool q25 = v.arch == VisionArch::Qwen25VL;
  // Keys that llama.cpp's clip loader required before its mtmd rewrite (builds of early
  // 2025 refuse a file without them; newer ones ignore them): a description, the encoder
  // flags, and the activation as booleans (QuickGELU = neither gelu nor silu).
  w.set("general.description", GgufValue::string(q25 ? "image encoder for Qwen2.5-VL" : "image encoder for Qwen2-VL"));
  w.set("clip.has_text_encoder", GgufValue::boolean(false));
  if (!q25) w.set("clip.has_qwen2vl_merger", GgufValue::boolean(true));
  w.set("clip.use_gelu", GgufValue::boolean(!q25 && v.hidden_act == "gelu"));
  if (!q25) w.set(kClipUseSilu, GgufValue::boolean(false));
  w.set(kClipProjectorType, GgufValue::string(q25 ? kProjectorQwen25VL : kProjectorQwen2VL));
  w.set(kClipImageSize, GgufValue::u32(static_cast<uint32_t>(image_size)));
  w.set(kClipPatchSize, GgufValue::u32(static_cast<uint32_t>(v.patch_size)));
  w.set(kClipEmbeddingLength, GgufValue::u32(static_cast<uint32_t>(v.embed_dim)));
  w.set(kClipFeedForwardLength, GgufValue::u32(static_cast<uint32_t>(v.mlp_hidden)));  // the true MLP width
  w.set(kClipProjectionDim, GgufValue::u32(static_cast<uint32_t>(v.out_hidden_size)));
  w.set(kClipBlockCount, GgufValue::u32(static_cast<uint32_t>(v.depth)));
  w.set(kClipHeadCount, GgufValue::u32(static_cast<uint32_t>(v.num_heads)));
  w.set(kClipLayerNormEps, GgufValue::f32(v.norm_eps));
  w.set(kClipImageMean, GgufValue::array(std::vector<float>(mean.begin(), mean.end())));
  w.set(kClipImageStd, GgufValue::array(std::vector<float>(stdv.begin(), stdv.end())));
  w.set(kClipSpatialMergeSize, GgufValue::u32(static_cast<uint32_t>(v.spatial_merge_size)));
  if (q25) {
    w.set(kClipUseSilu, GgufValue::boolean(true));
    // llama.cpp stores the full-attention blocks as a period: blocks with (i+1) % n == 0.
    const auto& fb = v.fullatt_block_indexes;
    if (fb.empty()) fail(ErrorCode::kUnsupported, "GGUF mmproj: Qwen2.5-VL without fullatt_block_indexes");
    const int n = fb[0] + 1;
    for (size_t i = 0; i < fb.size(); ++i)
      if (fb[i] != static_cast<int>(i + 1) * n - 1)
        fail(ErrorCode::kUnsupported, "GGUF mmproj: fullatt_block_indexes are not every " + std::to_string(n) +
                                          "th block, which llama.cpp's n_wa_pattern cannot express");
    w.set(kClipWaPattern, GgufValue::u32(static_cast<uint32_t>(n)));
    w.set(kClipWindowSize, GgufValue::u32(static_cast<uint32_t>(v.window_size)));
  }
}

TextConfig text_config_from_gguf(const GgufFile& f) {
  using namespace gguf_key;
  const std::string arch = f.architecture();
  if (arch != kTextArch && arch != kTextArchQwen3VL)
    fail(ErrorCode::kUnsupported, f.path() + ": general.architecture is '" + arch + "', expected '" + kTextArch + "' or '" +
                                      kTextArchQwen3VL + "' (a Qwen2-VL / Qwen2.5-VL / Qwen3-VL text model)");
  const auto k = [&](const char* suffix) { return text_key(arch, suffix); };
  const std::string kEmbeddingLength = k(gguf_key::kEmbeddingLength), kBlockCount = k(gguf_key::kBlockCount),
                    kHeadCount = k(gguf_key::kHeadCount), kHeadCountKv = k(gguf_key::kHeadCountKv),
                    kFeedForwardLength = k(gguf_key::kFeedForwardLength), kContextLength = k(gguf_key::kContextLength),
                    kRmsEps = k(gguf_key::kRmsEps), kRopeFreqBase = k(gguf_key::kRopeFreqBase), kKeyLength = k(gguf_key::kKeyLength),
                    kRopeSections = k(gguf_key::kRopeSections);
  constexpr int64_t kBig = 1 << 24;
  TextConfig t;
  // Qwen3-VL: q/k norms and no q/k/v biases, as the tensors show; interleaved M-RoPE.
  t.mrope_interleaved = arch == kTextArchQwen3VL;
  t.qk_norm = info_of(f, "blk.0.attn_q_norm.weight") != nullptr;
  t.attention_bias = info_of(f, "blk.0.attn_q.bias") != nullptr;
  t.hidden_size = static_cast<int>(f.get_int_in(kEmbeddingLength, 1, kBig));
  t.num_layers = static_cast<int>(f.get_int_in(kBlockCount, 1, 1024));
  t.num_heads = static_cast<int>(f.get_int_in(kHeadCount, 1, 4096));
  t.num_kv_heads = f.has_key(kHeadCountKv) ? static_cast<int>(f.get_int_in(kHeadCountKv, 1, 4096)) : t.num_heads;
  t.intermediate_size = static_cast<int>(f.get_int_in(kFeedForwardLength, 1, kBig));
  t.max_position_embeddings = f.has_key(kContextLength) ? static_cast<int>(f.get_int_in(kContextLength, 1, kBig)) : 32768;
  t.rms_norm_eps = static_cast<float>(f.get_float(kRmsEps, 1e-6));
  t.rope_theta = static_cast<float>(f.get_float(kRopeFreqBase, 1e6));
  if (t.num_heads % t.num_kv_heads) fail_format(f.path() + ": head_count is not a multiple of head_count_kv");
  t.head_dim = f.has_key(kKeyLength) ? static_cast<int>(f.get_int_in(kKeyLength, 2, 4096)) : t.hidden_size / t.num_heads;
  if (t.head_dim % 2) fail_format(f.path() + ": head dimension " + std::to_string(t.head_dim) + " is odd");
  const auto sec = f.get_int_array(kRopeSections);
  if (sec.size() < 3) fail_format(f.path() + ": key '" + kRopeSections + "' has " + std::to_string(sec.size()) + " entries, expected 4");
  int sum = 0;
  for (int i = 0; i < 3; ++i) {
    if (sec[i] < 0 || sec[i] > 4096) fail_format(f.path() + ": key '" + kRopeSections + "' has an out-of-range entry");
    t.mrope_section[i] = static_cast<int>(sec[i]);
    sum += t.mrope_section[i];
  }
  for (size_t i = 3; i < sec.size(); ++i)
    if (sec[i] != 0) fail(ErrorCode::kUnsupported, f.path() + ": rope.dimension_sections has a 4th non-zero section (not Qwen2-VL M-RoPE)");
  if (sum != t.head_dim / 2)
    fail_format(f.path() + ": rope.dimension_sections sum to " + std::to_string(sum) + ", expected head_dim/2 = " + std::to_string(t.head_dim / 2));
  const GgufTensorInfo* emb = info_of(f, "token_embd.weight");
  if (!emb) fail_format(f.path() + ": missing tensor 'token_embd.weight'");
  if (emb->ne.size() != 2 || emb->ne[0] != t.hidden_size)
    fail_format(f.path() + ": token_embd.weight does not have " + std::to_string(t.hidden_size) + " columns");
  t.vocab_size = static_cast<int>(emb->ne[1]);
  t.tie_word_embeddings = info_of(f, "output.weight") == nullptr;
  return t;
}

VisionConfig vision_config_from_gguf(const GgufFile& f) {
  using namespace gguf_key;
  const std::string arch = f.architecture();
  if (arch != kClipArch) fail(ErrorCode::kUnsupported, f.path() + ": general.architecture is '" + arch + "', expected 'clip' (an mmproj file)");
  std::string proj = f.get_string(kClipProjectorType, "");
  if (proj.empty()) proj = f.get_string("clip.vision.projector_type", "");
  VisionConfig v;
  if (proj == kProjectorQwen2VL)
    v.arch = VisionArch::Qwen2VL;
  else if (proj == kProjectorQwen25VL)
    v.arch = VisionArch::Qwen25VL;
  else if (proj == kProjectorQwen3VL)
    v.arch = VisionArch::Qwen3VL;
  else
    fail(ErrorCode::kUnsupported, f.path() + ": projector type '" + proj + "' is not a Qwen2-VL / Qwen2.5-VL / Qwen3-VL merger");
  constexpr int64_t kBig = 1 << 24;
  v.depth = static_cast<int>(f.get_int_in(kClipBlockCount, 1, 1024));
  v.embed_dim = static_cast<int>(f.get_int_in(kClipEmbeddingLength, 1, kBig));
  v.num_heads = static_cast<int>(f.get_int_in(kClipHeadCount, 1, 4096));
  v.patch_size = static_cast<int>(f.get_int_in(kClipPatchSize, 1, 1024));
  v.spatial_merge_size = f.has_key(kClipSpatialMergeSize) ? static_cast<int>(f.get_int_in(kClipSpatialMergeSize, 1, 16)) : 2;
  v.norm_eps = static_cast<float>(f.get_float(kClipLayerNormEps, 1e-6));
  v.in_channels = 3;
  v.temporal_patch_size = info_of(f, "v.patch_embd.weight.1") ? 2 : 1;
  const GgufTensorInfo* up = info_of(f, "v.blk.0.ffn_up.weight");
  if (!up || up->ne.size() != 2) fail_format(f.path() + ": missing matrix 'v.blk.0.ffn_up.weight'");
  // ne[0] is the input width: embed_dim for fc1, the MLP width for a legacy-named fc2.
  v.mlp_hidden = static_cast<int>(has_legacy_ffn_names(f, v.arch, v.embed_dim) ? up->ne[0] : up->ne[1]);
  v.hidden_act = v.arch == VisionArch::Qwen25VL ? "silu" : v.arch == VisionArch::Qwen3VL ? "gelu_pytorch_tanh" : "quick_gelu";
  if (v.arch == VisionArch::Qwen3VL) {
    const GgufTensorInfo* pos = info_of(f, "v.position_embd.weight");
    if (!pos || pos->ne.size() != 2) fail_format(f.path() + ": missing matrix 'v.position_embd.weight'");
    v.num_position_embeddings = static_cast<int>(pos->ne[1]);
    const int side = static_cast<int>(std::lround(std::sqrt(static_cast<double>(v.num_position_embeddings))));
    if (side * side != v.num_position_embeddings) fail_format(f.path() + ": v.position_embd.weight rows are not a square grid");
    if (f.has_key(kClipIsDeepstack)) {
      const auto flags = f.get_int_array(kClipIsDeepstack);
      if (int64_t(flags.size()) != v.depth)
        fail_format(f.path() + ": '" + kClipIsDeepstack + "' has " + std::to_string(flags.size()) + " entries for " + std::to_string(v.depth) + " blocks");
      for (int b = 0; b < v.depth; ++b)
        if (flags[b]) v.deepstack_visual_indexes.push_back(b);
    }
  }
  if (f.has_key(kClipProjectionDim)) {
    v.out_hidden_size = static_cast<int>(f.get_int_in(kClipProjectionDim, 1, kBig));
  } else {
    const GgufTensorInfo* mm2 = info_of(f, "mm.2.weight");
    if (!mm2 || mm2->ne.size() != 2) fail_format(f.path() + ": no projection_dim and no 'mm.2.weight'");
    v.out_hidden_size = static_cast<int>(mm2->ne[1]);
  }
  if (v.arch == VisionArch::Qwen25VL) {
    const int64_t n = f.get_int_in(kClipWaPattern, 1, v.depth);
    for (int i = 0; i < v.depth; ++i)
      if ((i + 1) % n == 0) v.fullatt_block_indexes.push_back(i);
    v.window_size = f.has_key(kClipWindowSize) ? static_cast<int>(f.get_int_in(kClipWindowSize, 1, 1 << 16)) : 112;
  }
  if (v.embed_dim % v.num_heads || (v.embed_dim / v.num_heads) % 4)
    fail_format(f.path() + ": vision width " + std::to_string(v.embed_dim) + " does not split into heads with a multiple-of-4 head_dim");
  return v;
}

// ---------------------------------------------------------------------------------------
// GgufModelSource

GgufModelSource::GgufModelSource(const std::string& text_path, const std::string& mmproj_path) {
  text_ = std::make_unique<GgufFile>(text_path);
  text_config_from_gguf(*text_);  // checks the architecture and hyper-parameters up front
  for (const auto& ti : text_->tensor_infos()) {
    const std::string hf = hf_text_name(ti.name);
    if (!hf.empty()) {
      try {
        const TensorRef* t = text_->find(ti.name);
        add(hf, *t, ti.name);
      } catch (const Error& e) {
        if (e.code() != ErrorCode::kUnsupported) throw;
        add_unsupported(hf, e.what());
      }
    }
  }
  if (!mmproj_path.empty()) {
    vision_ = std::make_unique<GgufFile>(mmproj_path);
    map_vision();
  }
}

void GgufModelSource::add(const std::string& hf, const TensorRef& t, const std::string& gguf_name) {
  (void)gguf_name;
  TensorRef r = t;
  r.name = hf;
  if (!tensors_.emplace(hf, std::move(r)).second) fail_format(description() + ": two GGUF tensors map to '" + hf + "'");
}

void GgufModelSource::add_unsupported(const std::string& hf, const std::string& why) { unsupported_[hf] = why; }

void GgufModelSource::map_vision() {
  const GgufFile& f = *vision_;
  const VisionConfig vc = vision_config_from_gguf(f);
  auto get = [&](const std::string& name) -> const TensorRef* {
    try {
      return f.find(name);
    } catch (const Error& e) {
      if (e.code() != ErrorCode::kUnsupported) throw;
      return nullptr;
    }
  };
  std::set<std::string> qkv_blocks;
  const bool legacy_ffn = has_legacy_ffn_names(f, vc.arch, vc.embed_dim);
  for (const auto& ti : f.tensor_infos()) {
    std::string idx, tail;
    if (match("v.blk.{N}.attn_q", ti.name, &idx, &tail) || match("v.blk.{N}.attn_k", ti.name, &idx, &tail) ||
        match("v.blk.{N}.attn_v", ti.name, &idx, &tail)) {
      qkv_blocks.insert(idx + tail);
      continue;
    }
    const std::string hf = hf_vision_name(legacy_ffn ? swap_ffn_name(ti.name) : ti.name, vc.arch, vc.deepstack_visual_indexes);
    if (hf.empty()) continue;
    if (const TensorRef* t = get(ti.name))
      add(hf, *t, ti.name);
    else
      add_unsupported(hf, f.path() + ": tensor '" + ti.name + "' has ggml type " + ggml_type_name(ti.ggml_type) + ", which edgevl cannot use");
  }

  // q/k/v -> qkv: rows concatenated.
  for (const auto& key : qkv_blocks) {
    const size_t dot = key.find('.');
    const std::string idx = key.substr(0, dot), tail = key.substr(dot);
    const std::string hf = "visual.blocks." + idx + ".attn.qkv" + tail;
    if (tensors_.count(hf)) fail_format(f.path() + ": block " + idx + " has both attn_qkv and split attn_q/k/v");
    const std::string base = "v.blk." + idx + ".attn_";
    const TensorRef* q = get(base + "q" + tail);
    const TensorRef* k = get(base + "k" + tail);
    const TensorRef* v = get(base + "v" + tail);
    if (!q || !k || !v) {
      if (!info_of(f, base + "q" + tail) || !info_of(f, base + "k" + tail) || !info_of(f, base + "v" + tail))
        fail_format(f.path() + ": block " + idx + " lacks one of attn_q/attn_k/attn_v" + tail);
      add_unsupported(hf, f.path() + ": " + base + "q/k/v" + tail + " have a ggml type edgevl cannot use");
      continue;
    }
    if (q->dtype != k->dtype || q->dtype != v->dtype || q->shape != k->shape || q->shape != v->shape) {
      add_unsupported(hf, f.path() + ": " + base + "q/k/v" + tail + " differ in type or shape (" + dtype_name(q->dtype) + " " + q->shape_str() +
                              ", " + dtype_name(k->dtype) + " " + k->shape_str() + ", " + dtype_name(v->dtype) + " " + v->shape_str() +
                              "), so they cannot be joined into one qkv tensor");
      continue;
    }
    TensorRef r = *q;
    r.name = hf;
    r.shape[0] *= 3;
    r.nbytes = q->nbytes * 3;
    if (k->data == q->data + q->nbytes && v->data == k->data + k->nbytes) {
      r.data = q->data;  // adjacent in the mapping: a zero-copy view
    } else {
      owned_.emplace_back(r.nbytes);
      uint8_t* dst = owned_.back().data();
      std::memcpy(dst, q->data, q->nbytes);
      std::memcpy(dst + q->nbytes, k->data, k->nbytes);
      std::memcpy(dst + 2 * q->nbytes, v->data, v->nbytes);
      r.data = dst;
    }
    tensors_.emplace(hf, std::move(r));
  }

  // Patch embedding: two Conv2d halves -> one Conv3d kernel [out, c, 2, kh, kw].
  const std::string hf_patch = "visual.patch_embed.proj.weight";
  const GgufTensorInfo* h0i = info_of(f, "v.patch_embd.weight");
  const GgufTensorInfo* h1i = info_of(f, "v.patch_embd.weight.1");
  if (h0i && !h1i) {
    add_unsupported(hf_patch, f.path() + ": v.patch_embd.weight has no temporal second half (v.patch_embd.weight.1)");
  } else if (h0i && h1i) {
    const TensorRef* h0 = get(h0i->name);
    const TensorRef* h1 = get(h1i->name);
    if (!h0 || !h1 || !dtype_is_float(h0->dtype) || h0->dtype != h1->dtype || h0->shape != h1->shape || h0->shape.size() != 4) {
      add_unsupported(hf_patch, f.path() + ": the patch-embedding halves v.patch_embd.weight / .weight.1 must be two float tensors of the same "
                                           "type and a [out, c, kh, kw] shape to be joined into the Conv3d kernel");
    } else {
      const size_t es = dtype_block_bytes(h0->dtype);
      const int64_t outc = h0->shape[0] * h0->shape[1], plane = h0->shape[2] * h0->shape[3];
      owned_.emplace_back(h0->nbytes * 2);
      uint8_t* dst = owned_.back().data();
      for (int64_t i = 0; i < outc; ++i) {
        std::memcpy(dst + (2 * i) * plane * es, h0->data + i * plane * es, plane * es);
        std::memcpy(dst + (2 * i + 1) * plane * es, h1->data + i * plane * es, plane * es);
      }
      TensorRef r = *h0;
      r.name = hf_patch;
      r.shape = {h0->shape[0], h0->shape[1], 2, h0->shape[2], h0->shape[3]};
      r.data = dst;
      r.nbytes = h0->nbytes * 2;
      tensors_.emplace(hf_patch, std::move(r));
    }
  }
}

const TensorRef* GgufModelSource::find(const std::string& hf_name) const {
  const std::string hf = canonical_hf(hf_name);
  auto it = tensors_.find(hf);
  if (it != tensors_.end()) return &it->second;
  auto u = unsupported_.find(hf);
  if (u != unsupported_.end()) fail(ErrorCode::kUnsupported, u->second + " (needed for '" + hf + "')");
  return nullptr;
}

std::vector<std::string> GgufModelSource::names() const {
  std::vector<std::string> n;
  for (const auto& kv : tensors_) n.push_back(kv.first);
  for (const auto& kv : unsupported_) n.push_back(kv.first);
  std::sort(n.begin(), n.end());
  return n;
}

std::string GgufModelSource::description() const {
  return text_->path() + (vision_ ? " + " + vision_->path() : std::string());
}

ModelConfig GgufModelSource::config() const {
  using namespace gguf_key;
  ModelConfig c;
  c.text = text_config_from_gguf(*text_);
  if (vision_) {
    c.vision = vision_config_from_gguf(*vision_);
    if (c.vision.out_hidden_size != c.text.hidden_size)
      fail_format(description() + ": the mmproj projects to " + std::to_string(c.vision.out_hidden_size) + " but the text model is " +
                  std::to_string(c.text.hidden_size) + " wide (mismatched files?)");
  }
  const bool q25 = vision_ && c.vision.arch == VisionArch::Qwen25VL;
  const bool q3 = text_->architecture() == gguf_key::kTextArchQwen3VL;
  if (vision_ && q3 != (c.vision.arch == VisionArch::Qwen3VL))
    fail_format(description() + ": a " + text_->architecture() + " text model with a " +
                vision_->get_string(kClipProjectorType, "?") + " mmproj (mismatched files?)");
  if (q3) {
    c.vision.arch = VisionArch::Qwen3VL;  // also for a text-only source
    c.architecture = "Qwen3VLForConditionalGeneration";
    c.model_type = "qwen3_vl";
    c.template_default_system = false;
    if (int(c.vision.deepstack_visual_indexes.size()) > c.text.num_layers)
      fail_format(description() + ": more DeepStack features than text layers");
  } else {
    c.architecture = q25 ? "Qwen2_5_VLForConditionalGeneration" : "Qwen2VLForConditionalGeneration";
    c.model_type = q25 ? "qwen2_5_vl" : "qwen2_vl";
  }
  const GgufFile& f = *text_;
  auto token_id = [&](const char* text, int32_t def) -> int32_t {
    if (!f.has_key(kTokTokens)) return def;
    const auto& toks = f.get_string_array(kTokTokens);
    for (size_t i = 0; i < toks.size(); ++i)
      if (toks[i] == text) return static_cast<int32_t>(i);
    return def;
  };
  c.image_token_id = token_id("<|image_pad|>", 151655);
  c.video_token_id = token_id("<|video_pad|>", 151656);
  c.vision_start_token_id = token_id("<|vision_start|>", 151652);
  c.vision_end_token_id = token_id("<|vision_end|>", 151653);
  c.bos_token_id = static_cast<int32_t>(f.get_int(kTokBos, -1));
  auto add_eos = [&](int64_t id) {
    if (id < 0) return;
    for (auto e : c.eos_token_ids)
      if (e == id) return;
    c.eos_token_ids.push_back(static_cast<int32_t>(id));
  };
  add_eos(f.get_int(kTokEos, -1));
  add_eos(f.get_int("tokenizer.ggml.eot_token_id", -1));
  add_eos(token_id("<|im_end|>", -1));
  add_eos(token_id("<|endoftext|>", -1));
  return c;
}

std::array<float, 3> GgufModelSource::image_mean() const {
  std::array<float, 3> m = {0.48145466f, 0.4578275f, 0.40821073f};
  if (vision_ && vision_->has_key(gguf_key::kClipImageMean)) {
    auto v = vision_->get_float_array(gguf_key::kClipImageMean);
    if (v.size() != 3) fail_format(vision_->path() + ": clip.vision.image_mean must have 3 entries");
    std::copy(v.begin(), v.end(), m.begin());
  }
  return m;
}

std::array<float, 3> GgufModelSource::image_std() const {
  std::array<float, 3> s = {0.26862954f, 0.26130258f, 0.27577711f};
  if (vision_ && vision_->has_key(gguf_key::kClipImageStd)) {
    auto v = vision_->get_float_array(gguf_key::kClipImageStd);
    if (v.size() != 3) fail_format(vision_->path() + ": clip.vision.image_std must have 3 entries");
    std::copy(v.begin(), v.end(), s.begin());
  }
  return s;
}

}  // namespace edgevl
