// Hugging Face <-> llama.cpp GGUF naming for Qwen2-VL / Qwen2.5-VL / Qwen3-VL, and GgufModelSource,
// which serves a llama.cpp-style pair of files (text model + mmproj) under HF tensor names
// so that model code written against HF checkpoints runs on GGUF unchanged.
//
// Conventions follow llama.cpp (ggml-org/llama.cpp master, commit 0024aa7417ef, 2026), checked in:
//   gguf-py/gguf/constants.py     key strings (Keys.General/LLM/Attention/Rope/Tokenizer/Clip/
//                                 ClipVision), MODEL_ARCH.QWEN2VL = "qwen2vl", TENSOR_NAMES
//                                 (token_embd, blk.N.attn_q ... v.blk.N.ln1, mm.N, v.post_ln),
//                                 GGMLQuantizationType / GGUFValueType ids
//   gguf-py/gguf/tensor_mapping.py HF -> GGUF names: visual.patch_embed.proj -> v.patch_embd,
//                                 visual.blocks.N.norm1/norm2 -> v.blk.N.ln1/ln2, attn.proj ->
//                                 attn_out, mlp.fc1/fc2 (Qwen2-VL) and mlp.gate_proj/up_proj/
//                                 down_proj (Qwen2.5-VL) -> ffn_gate/ffn_up/ffn_down,
//                                 visual.merger.ln_q -> v.post_ln, visual.merger.mlp.N -> mm.N
//   convert_hf_to_gguf.py (Qwen2VLModel, Qwen2VLVisionModel)
//                                 text: no q/k permutation (qwen2vl uses NEOX-style M-RoPE, the
//                                 same rotate-half layout as HF), rope.dimension_sections =
//                                 mrope_section padded with zeros to 4 entries;
//                                 vision: visual.blocks.N.attn.qkv is split into attn_q/attn_k/
//                                 attn_v (rows [0,C), [C,2C), [2C,3C)); the Conv3d patch kernel
//                                 [out, c, 2, kh, kw] is split into two Conv2d kernels,
//                                 v.patch_embd.weight = [:, :, 0] and v.patch_embd.weight.1 =
//                                 [:, :, 1]; projector types "qwen2vl_merger" / "qwen2.5vl_merger";
//                                 Qwen2.5-VL writes clip.use_silu = true and
//                                 clip.vision.n_wa_pattern = fullatt_block_indexes[0] + 1 (full
//                                 attention in blocks where (i+1) % n_wa_pattern == 0).
//   tools/mtmd/clip-impl.h, clip.cpp  KEY_* / TN_* strings (clip.vision.*, v.patch_embd.weight.1),
//                                 spatial_merge_size defaults to 2, n_wa_pattern required for 2.5,
//                                 clip.vision.window_size (attention window in pixels, 112).
// Quirk: for Qwen2-VL, llama.cpp writes clip.vision.feed_forward_length = the config's
// vision "hidden_size" (the LLM width), not the MLP width; readers here take the MLP width
// from the ffn_up tensor's shape instead.
//
// Where GGUF stores a tensor differently from HF, GgufModelSource rebuilds the HF tensor:
//   visual.patch_embed.proj.weight   interleaves the two temporal halves back into
//                                    [out, c, 2, kh, kw] (an owned copy; f32/f16/bf16 only)
//   visual.blocks.N.attn.qkv.*       concatenates q, k, v rows: a zero-copy view when the three
//                                    are adjacent in the file (as llama.cpp writes them), else a
//                                    copy; an attn_qkv tensor, if a file has one, is used as is
// Qwen3-VL (llama.cpp conversion/qwen3vl.py, gguf-py constants/tensor_mapping, src/llama-arch.cpp,
// same checkout): text arch "qwen3vl" with blk.N.attn_q_norm / attn_k_norm, no q/k/v biases,
// "qwen3vl.n_deepstack_layers"; mmproj projector "qwen3vl_merger", clip.use_gelu = true (the
// tanh GELU), clip.vision.is_deepstack_layers (one bool per block), image_size =
// sqrt(num_position_embeddings) * patch_size, the qkv kept fused (v.blk.N.attn_qkv),
// visual.pos_embed -> v.position_embd, mlp.linear_fc1/fc2 -> ffn_up/ffn_down, merger.norm ->
// v.post_ln, merger.linear_fc1/fc2 -> mm.0/mm.2, and deepstack_merger_list.K.{norm,
// linear_fc1, linear_fc2} -> v.deepstack.B.{norm, fc1, fc2} with B the K-th DeepStack
// vision block (an absolute block index, not K).
// Anything it cannot rebuild exactly (mixed types, quantized patch kernel) is a kUnsupported
// error naming the tensor, never silently different numbers.
#pragma once
#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "formats/gguf.h"
#include "formats/model_config.h"
#include "formats/tensor_source.h"

namespace edgevl {

// Metadata keys (llama.cpp gguf-py/gguf/constants.py; "qwen2vl" is the text architecture).
namespace gguf_key {
constexpr const char* kArchitecture = "general.architecture";
constexpr const char* kName = "general.name";
constexpr const char* kFileType = "general.file_type";
constexpr const char* kQuantVersion = "general.quantization_version";
constexpr const char* kAlignment = "general.alignment";
// Text keys are "<arch>.<suffix>" with arch "qwen2vl" (Qwen2-VL, Qwen2.5-VL) or "qwen3vl"
// (Qwen3-VL: MODEL_ARCH.QWEN3VL, interleaved M-RoPE "imrope", q/k norms, n_deepstack_layers).
constexpr const char* kTextArch = "qwen2vl";
constexpr const char* kTextArchQwen3VL = "qwen3vl";
constexpr const char* kContextLength = "context_length";
constexpr const char* kEmbeddingLength = "embedding_length";
constexpr const char* kBlockCount = "block_count";
constexpr const char* kFeedForwardLength = "feed_forward_length";
constexpr const char* kHeadCount = "attention.head_count";
constexpr const char* kHeadCountKv = "attention.head_count_kv";
constexpr const char* kKeyLength = "attention.key_length";
constexpr const char* kValueLength = "attention.value_length";
constexpr const char* kRmsEps = "attention.layer_norm_rms_epsilon";
constexpr const char* kRopeFreqBase = "rope.freq_base";
constexpr const char* kRopeSections = "rope.dimension_sections";
constexpr const char* kVocabSize = "vocab_size";
constexpr const char* kNumDeepstackLayers = "n_deepstack_layers";
// Tokenizer (text file).
constexpr const char* kTokModel = "tokenizer.ggml.model";  // "gpt2" (byte-level BPE)
constexpr const char* kTokPre = "tokenizer.ggml.pre";      // "qwen2"
constexpr const char* kTokTokens = "tokenizer.ggml.tokens";
constexpr const char* kTokTypes = "tokenizer.ggml.token_type";
constexpr const char* kTokMerges = "tokenizer.ggml.merges";
constexpr const char* kTokBos = "tokenizer.ggml.bos_token_id";
constexpr const char* kTokEos = "tokenizer.ggml.eos_token_id";
constexpr const char* kTokPad = "tokenizer.ggml.padding_token_id";
constexpr const char* kTokAddBos = "tokenizer.ggml.add_bos_token";
constexpr const char* kChatTemplate = "tokenizer.chat_template";
// mmproj (general.architecture = "clip").
constexpr const char* kClipArch = "clip";
constexpr const char* kClipProjectorType = "clip.projector_type";  // "qwen2vl_merger" / "qwen2.5vl_merger"
constexpr const char* kClipHasVision = "clip.has_vision_encoder";
constexpr const char* kClipUseSilu = "clip.use_silu";
constexpr const char* kClipUseGelu = "clip.use_gelu";
constexpr const char* kClipImageSize = "clip.vision.image_size";
constexpr const char* kClipPatchSize = "clip.vision.patch_size";
constexpr const char* kClipEmbeddingLength = "clip.vision.embedding_length";
constexpr const char* kClipFeedForwardLength = "clip.vision.feed_forward_length";
constexpr const char* kClipProjectionDim = "clip.vision.projection_dim";
constexpr const char* kClipBlockCount = "clip.vision.block_count";
constexpr const char* kClipHeadCount = "clip.vision.attention.head_count";
constexpr const char* kClipLayerNormEps = "clip.vision.attention.layer_norm_epsilon";
constexpr const char* kClipImageMean = "clip.vision.image_mean";
constexpr const char* kClipImageStd = "clip.vision.image_std";
constexpr const char* kClipSpatialMergeSize = "clip.vision.spatial_merge_size";
constexpr const char* kClipWaPattern = "clip.vision.n_wa_pattern";
constexpr const char* kClipWindowSize = "clip.vision.window_size";
constexpr const char* kClipIsDeepstack = "clip.vision.is_deepstack_layers";  // bool per vision block
}  // namespace gguf_key

constexpr const char* kProjectorQwen2VL = "qwen2vl_merger";
constexpr const char* kProjectorQwen25VL = "qwen2.5vl_merger";
constexpr const char* kProjectorQwen3VL = "qwen3vl_merger";

// One-to-one tensor names. Return "" when the name is not one of these (including the two
// special vision cases, visual.patch_embed.proj.weight and visual.blocks.N.attn.qkv.*).
// HF names may use the hub spelling (model.layers.N, visual.blocks.N) or the newer
// transformers one (model.language_model.layers.N, model.visual.blocks.N).
std::string gguf_text_name(const std::string& hf);
std::string hf_text_name(const std::string& gguf);
// deepstack_blocks: the config's deepstack_visual_indexes (Qwen3-VL DeepStack names use them).
std::string gguf_vision_name(const std::string& hf, const std::vector<int>& deepstack_blocks = {});
std::string hf_vision_name(const std::string& gguf, VisionArch arch,
                           const std::vector<int>& deepstack_blocks = {});  // ffn_up is fc1, up_proj or linear_fc1
// llama.cpp's Qwen2-VL surgery script before mid-2025 named fc1 "ffn_down" and fc2 "ffn_up"
// (its clip loader read them that way; newer llama.cpp swaps such files back by shape).
// True when this Qwen2-VL mmproj is laid out so: ffn_up's input width is not embed_dim.
bool has_legacy_ffn_names(const GgufFile& mmproj, VisionArch arch, int64_t embed_dim);
// ffn_up <-> ffn_down in a vision tensor name (both directions of the legacy naming).
std::string swap_ffn_name(const std::string& gguf);

// general.file_type, llama.cpp's llama_ftype of a file whose matrices are mostly `t`
// (ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q4_0 2, MOSTLY_Q8_0 7, MOSTLY_BF16 32). llama.cpp's clip
// loader refuses an mmproj without it.
void write_file_type(GgufWriter& w, DType t);

// Hyper-parameters <-> metadata. The readers check ranges and consistency and name the file.
void write_text_metadata(GgufWriter& w, const ModelConfig& c, const std::string& name);
void write_vision_metadata(GgufWriter& w, const ModelConfig& c, const std::string& name, const std::array<float, 3>& image_mean,
                           const std::array<float, 3>& image_std, int image_size = 560);
TextConfig text_config_from_gguf(const GgufFile& text);
// mlp_hidden comes from the ffn_up tensor (see the quirk above), so the file's tensors are used.
VisionConfig vision_config_from_gguf(const GgufFile& mmproj);

class GgufModelSource : public TensorSource {
 public:
  // mmproj_path may be empty (text only).
  GgufModelSource(const std::string& text_path, const std::string& mmproj_path);

  // HF names; throws kUnsupported for a tensor present in a type or layout edgevl cannot use.
  const TensorRef* find(const std::string& hf_name) const override;
  std::vector<std::string> names() const override;  // HF names
  std::string description() const override;

  const GgufFile& text_file() const { return *text_; }
  const GgufFile* mmproj_file() const { return vision_.get(); }
  // Config rebuilt from metadata (token ids looked up in the vocabulary by their text).
  ModelConfig config() const;
  // CLIP normalisation constants from the mmproj (defaults: OpenAI CLIP mean/std).
  std::array<float, 3> image_mean() const;
  std::array<float, 3> image_std() const;

 private:
  void add(const std::string& hf, const TensorRef& t, const std::string& gguf_name);
  void add_unsupported(const std::string& hf, const std::string& why);
  void map_vision();

  std::unique_ptr<GgufFile> text_, vision_;
  std::map<std::string, TensorRef> tensors_;
  std::map<std::string, std::string> unsupported_;  // HF name -> error message
  std::vector<std::vector<uint8_t>> owned_;         // rebuilt tensors
};

}  // namespace edgevl
