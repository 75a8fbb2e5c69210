// Model hyper-parameters from a Hugging Face config.json (Qwen2-VL, Qwen2.5-VL).
// Every size comes from here; nothing about a model is hard-coded elsewhere.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace edgevl {

enum class VisionArch { Qwen2VL, Qwen25VL };

struct TextConfig {
  int hidden_size = 0;
  int num_layers = 0;
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  int intermediate_size = 0;
  int vocab_size = 0;
  float rms_norm_eps = 1e-6f;
  float rope_theta = 1e6f;
  std::array<int, 3> mrope_section{};  // rotary frequency pairs for (t, h, w); sums to head_dim/2
  bool tie_word_embeddings = false;
  int max_position_embeddings = 32768;
};

struct VisionConfig {
  VisionArch arch = VisionArch::Qwen2VL;
  int depth = 0;
  int embed_dim = 0;        // width of the ViT blocks
  int num_heads = 0;
  int mlp_hidden = 0;       // Qwen2-VL: embed_dim * mlp_ratio; Qwen2.5-VL: intermediate_size
  std::string hidden_act;   // quick_gelu (Qwen2-VL) or silu (Qwen2.5-VL SwiGLU)
  int patch_size = 14;
  int temporal_patch_size = 2;
  int spatial_merge_size = 2;
  int in_channels = 3;
  int out_hidden_size = 0;  // merger output = LLM hidden size
  int window_size = 0;      // Qwen2.5-VL window attention, in pixels (0 = none)
  std::vector<int> fullatt_block_indexes;
  float norm_eps = 1e-6f;
};

struct ModelConfig {
  std::string architecture;  // e.g. Qwen2VLForConditionalGeneration
  std::string model_type;    // qwen2_vl / qwen2_5_vl
  TextConfig text;
  VisionConfig vision;
  int32_t image_token_id = -1, video_token_id = -1, vision_start_token_id = -1, vision_end_token_id = -1;
  int32_t bos_token_id = -1;
  std::vector<int32_t> eos_token_ids;  // from config + generation_config

  // Parses <dir>/config.json (and generation_config.json when present). Throws kFormat naming
  // the file and field; kUnsupported for an architecture we do not run.
  static ModelConfig load(const std::string& dir);
  static ModelConfig parse(const std::string& config_json, const std::string& source_name);
};

}  // namespace edgevl
