// Pieces shared by the Qwen2-VL and Qwen2.5-VL towers (internal to src/vision).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "formats/model_config.h"
#include "formats/tensor_source.h"
#include "kernels/weight_matrix.h"
#include "vision/vision_encoder.h"

namespace edgevl {
namespace vision {

// A dense layer y = x·Wᵀ + b; W stays in the mapped file, b (optional) is f32.
struct Linear {
  WeightMatrix w;
  std::vector<float> bias;  // empty = no bias
  void forward(const float* x, int64_t rows, float* y, ThreadPool& pool) const;
};

// Loads `name`.weight [out, in] and, when with_bias, `name`.bias [out], checking shapes.
Linear load_linear(const TensorSource& src, const std::string& name, int64_t out, int64_t in, bool with_bias);
// A 1-D float tensor of n values as f32, checking its shape.
std::vector<float> load_vector(const TensorSource& src, const std::string& name, int64_t n);

// LayerNorm (weight + bias) or RMSNorm (weight only) over rows of `dim`, split across the pool.
struct Norm {
  std::vector<float> weight, bias;
  bool rms = false;
  float eps = 1e-6f;
  void forward(const float* x, float* y, int64_t rows, int64_t dim, ThreadPool& pool) const;
};
Norm load_layernorm(const TensorSource& src, const std::string& name, int64_t dim, float eps);
Norm load_rmsnorm(const TensorSource& src, const std::string& name, int64_t dim, float eps);

// Non-causal multi-head self-attention with a fused qkv projection and 2-D rotary.
struct Attention {
  Linear qkv;   // [3*dim, dim]: rows are q (all heads), then k, then v
  Linear proj;  // [dim, dim]
  int dim = 0, n_heads = 0, head_dim = 0;
};
Attention load_attention(const TensorSource& src, const std::string& prefix, const VisionConfig& vc);

// Working memory for one encode; sized once for n patches.
struct Scratch {
  std::vector<float> normed;  // [n, dim]
  std::vector<float> qkv;     // [n, 3*dim]
  std::vector<float> attn;    // [n, dim]
  std::vector<float> branch;  // [n, dim]: output of attn.proj or the MLP
  std::vector<float> hidden;  // [n, mlp_hidden]
  std::vector<float> hidden2; // [n, mlp_hidden] (SwiGLU up projection)
};

// out[n, dim] = proj(attention(rope(q), rope(k), v)) over x[n, dim] (already normed). Tokens
// attend only within their segment: cu_seqlens = {0, end_0, end_1, ..., n}. cos/sin hold
// head_dim values per token, in the same order as x. `cancel` is polled between tiles of
// the attention (the one step whose time grows with n²).
void attention_forward(const Attention& a, const float* x, int64_t n, const float* cos, const float* sin,
                       const std::vector<int64_t>& cu_seqlens, Scratch& s, float* out, ThreadPool& pool,
                       const Cancel& cancel = Cancel());

// Patch embedding and merger, the same in both towers (the merger's ln_q type differs).
struct Stem {
  VisionConfig vc;
  int64_t patch_dim = 0;  // C*T*P*P
  WeightMatrix patch;     // [embed_dim, patch_dim]
  Norm ln_q;
  Linear mlp0, mlp2;      // [4d, 4d] and [out, 4d] for merge 2
  int64_t merged_dim() const { return static_cast<int64_t>(vc.embed_dim) * vc.spatial_merge_size * vc.spatial_merge_size; }

  void load(const ModelConfig& cfg, const TensorSource& src);  // ln_q is loaded by the caller
  std::vector<float> patch_embed(const float* pixels, int64_t n_patches, ThreadPool& pool) const;
  // x: [n, embed_dim] after the blocks -> [n / merge^2, out_hidden_size]. `normed` is scratch of n*embed_dim.
  std::vector<float> merge(const float* x, int64_t n, std::vector<float>& normed, ThreadPool& pool) const;
  // Checks grid values against the config; returns the number of patches.
  int64_t check_grid(int grid_t, int grid_h, int grid_w) const;
};

// Row-parallel element-wise helpers.
void add_rows(float* x, const float* y, int64_t n, ThreadPool& pool);

std::unique_ptr<VisionEncoder> make_qwen2vl_vision(const ModelConfig& cfg, const TensorSource& src);
std::unique_ptr<VisionEncoder> make_qwen25vl_vision(const ModelConfig& cfg, const TensorSource& src);

}  // namespace vision
}  // namespace edgevl
