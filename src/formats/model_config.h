// Model hyper-parameters from a Hugging Face config.json (Qwen2-VL, Qwen2.5-VL, Qwen3-VL dense).
// Every size comes from here; nothing about a model is hard-coded elsewhere.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace edgevl {

enum class VisionArch { Qwen2VL, Qwen25VL, Qwen3VL };

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
  bool mrope_interleaved = false;      // Qwen3-VL: frequency j takes axis h/w/t by j % 3 (see mrope.h)
  bool tie_word_embeddings = false;
  int max_position_embeddings = 32768;
  bool attention_bias = true;          // q/k/v projections have biases (Qwen2); Qwen3 has none
  bool qk_norm = false;                // Qwen3: RMSNorm over each q and k head before the rotary
  std::string tensor_prefix = "model.";  // "model.language_model." in Qwen3-VL checkpoints
};

struct VisionConfig {
  VisionArch arch = VisionArch::Qwen2VL;
  int depth = 0;
  int embed_dim = 0;        // width of the ViT blocks
  int num_heads = 0;
  int mlp_hidden = 0;       // Qwen2-VL: embed_dim * mlp_ratio; Qwen2.5-VL: intermediate_size
  std::string hidden_act;   // quick_gelu (Qwen2-VL), silu (Qwen2.5-VL SwiGLU), gelu_pytorch_tanh (Qwen3-VL)
  int patch_size = 14;
  int temporal_patch_size = 2;
  int spatial_merge_size = 2;
  int in_channels = 3;
  int out_hidden_size = 0;  // merger output = LLM hidden size
  int window_size = 0;      // Qwen2.5-VL window attention, in pixels (0 = none)
  std::vector<int> fullatt_block_indexes;
  float norm_eps = 1e-6f;
  int num_position_embeddings = 0;           // Qwen3-VL: learned square grid of absolute positions
  std::vector<int> deepstack_visual_indexes; // Qwen3-VL: blocks whose output feeds a DeepStack merger
  std::string tensor_prefix = "visual.";     // "model.visual." in Qwen3-VL checkpoints
};

struct ModelConfig {
  std::string architecture;  // e.g. Qwen2VLForConditionalGeneration
  std::string model_type;    // qwen2_vl / qwen2_5_vl / qwen3_vl
  TextConfig text;
  VisionConfig vision;
  int32_t image_token_id = -1, video_token_id = -1, vision_start_token_id = -1, vision_end_token_id = -1;
  int32_t bos_token_id = -1;
  std::vector<int32_t> eos_token_ids;  // from config + generation_config
  // What the official chat template puts before the first user turn when the conversation
  // has no system message: Qwen2-VL / Qwen2.5-VL "You are a helpful assistant.", Qwen3-VL none.
  bool template_default_system = true;

  // Parses <dir>/config.json (and generation_config.json when present). Throws kFormat naming
  // the file and field; kUnsupported for an architecture we do not run.
  static ModelConfig load(const std::string& dir);
  static ModelConfig parse(const std::string& config_json, const std::string& source_name);
};

}  // namespace edgevl
