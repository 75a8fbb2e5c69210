#include "vision/vision_encoder.h"

#include <cmath>
#include <string>

#include "core/error.h"
#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/rope.h"
#include "vision/vision_layers.h"

namespace edgevl {

std::unique_ptr<VisionEncoder> VisionEncoder::create(const ModelConfig& cfg, const TensorSource& weights) {
  switch (cfg.vision.arch) {
    case VisionArch::Qwen2VL:
      return vision::make_qwen2vl_vision(cfg, weights);
    case VisionArch::Qwen25VL:
      return vision::make_qwen25vl_vision(cfg, weights);
  }
  fail(ErrorCode::kUnsupported, "vision encoder: unknown vision architecture");
}

namespace vision {

void Linear::forward(const float* x, int64_t rows, float* y, ThreadPool& pool) const {
  matmul(x, rows, w, bias.empty() ? nullptr : bias.data(), y, pool);
}

Linear load_linear(const TensorSource& src, const std::string& name, int64_t out, int64_t in, bool with_bias) {
  Linear l;
  l.w = matrix_of(src.get(name + ".weight", {out, in}));
  if (with_bias) l.bias = load_vector(src, name + ".bias", out);
  return l;
}

std::vector<float> load_vector(const TensorSource& src, const std::string& name, int64_t n) {
  return tensor_to_f32(src.get(name, {n}));
}

void Norm::forward(const float* x, float* y, int64_t rows, int64_t dim, ThreadPool& pool) const {
  pool.parallel_for(rows, [&](int64_t b, int64_t e) {
    if (rms)
      rmsnorm(x + b * dim, weight.data(), y + b * dim, e - b, dim, eps);
    else
      layernorm(x + b * dim, weight.data(), bias.empty() ? nullptr : bias.data(), y + b * dim, e - b, dim, eps);
  });
}

Norm load_layernorm(const TensorSource& src, const std::string& name, int64_t dim, float eps) {
  Norm n;
  n.weight = load_vector(src, name + ".weight", dim);
  n.bias = load_vector(src, name + ".bias", dim);
  n.rms = false;
  n.eps = eps;
  return n;
}

Norm load_rmsnorm(const TensorSource& src, const std::string& name, int64_t dim, float eps) {
  Norm n;
  n.weight = load_vector(src, name + ".weight", dim);
  n.rms = true;
  n.eps = eps;
  return n;
}

Attention load_attention(const TensorSource& src, const std::string& prefix, const VisionConfig& vc) {
  Attention a;
  a.dim = vc.embed_dim;
  a.n_heads = vc.num_heads;
  a.head_dim = vc.embed_dim / vc.num_heads;
  a.qkv = load_linear(src, prefix + ".qkv", 3 * static_cast<int64_t>(a.dim), a.dim, true);
  a.proj = load_linear(src, prefix + ".proj", a.dim, a.dim, true);
  return a;
}

void attention_forward(const Attention& a, const float* x, int64_t n, const float* cos, const float* sin,
                       const std::vector<int64_t>& cu_seqlens, Scratch& s, float* out, ThreadPool& pool,
                       const Cancel& cancel) {
  const int64_t d = a.dim, d3 = 3 * d;
  const int hd = a.head_dim;
  if (cu_seqlens.size() < 2 || cu_seqlens.front() != 0 || cu_seqlens.back() != n)
    fail(ErrorCode::kInternal, "vision attention: segment boundaries do not cover the sequence");
  float* qkv = s.qkv.data();
  a.qkv.forward(x, n, qkv, pool);
  pool.parallel_for(n, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      float* row = qkv + r * d3;
      rope_apply(row, a.n_heads, hd, cos + r * hd, sin + r * hd);      // q
      rope_apply(row + d, a.n_heads, hd, cos + r * hd, sin + r * hd);  // k
    }
  });
  float* att = s.attn.data();
  for (size_t i = 0; i + 1 < cu_seqlens.size(); ++i) {
    const int64_t s0 = cu_seqlens[i], s1 = cu_seqlens[i + 1];
    if (s1 < s0 || s1 > n) fail(ErrorCode::kInternal, "vision attention: segment boundaries are not increasing");
    if (s1 == s0) continue;
    AttentionArgs args;
    args.q = qkv + s0 * d3;
    args.k = args.q + d;
    args.v = args.q + 2 * d;
    args.out = att + s0 * d;
    args.q_stride = args.kv_stride = d3;
    args.out_stride = d;
    args.nq = args.nk = s1 - s0;
    args.n_head = args.n_kv_head = a.n_heads;
    args.head_dim = hd;
    args.scale = 1.0f / std::sqrt(static_cast<float>(hd));
    args.causal_offset = -1;
    args.cancel = &cancel;
    attention(args, pool);
  }
  a.proj.forward(att, n, out, pool);
}

void add_rows(float* x, const float* y, int64_t n, ThreadPool& pool) {
  pool.parallel_for(n, [&](int64_t b, int64_t e) { add_inplace(x + b, y + b, e - b); });
}

void Stem::load(const ModelConfig& cfg, const TensorSource& src) {
  vc = cfg.vision;
  const int64_t d = vc.embed_dim;
  patch_dim = static_cast<int64_t>(vc.in_channels) * vc.temporal_patch_size * vc.patch_size * vc.patch_size;
  patch = matrix_of(src.get("visual.patch_embed.proj.weight",
                            {d, vc.in_channels, vc.temporal_patch_size, vc.patch_size, vc.patch_size}));
  mlp0 = load_linear(src, "visual.merger.mlp.0", merged_dim(), merged_dim(), true);
  mlp2 = load_linear(src, "visual.merger.mlp.2", vc.out_hidden_size, merged_dim(), true);
}

std::vector<float> Stem::patch_embed(const float* pixels, int64_t n_patches, ThreadPool& pool) const {
  if (!pixels || n_patches < 1) fail(ErrorCode::kInvalidArgument, "vision patch_embed: no pixel rows");
  std::vector<float> out(static_cast<size_t>(n_patches) * vc.embed_dim);
  matmul(pixels, n_patches, patch, nullptr, out.data(), pool);
  return out;
}

std::vector<float> Stem::merge(const float* x, int64_t n, std::vector<float>& normed, ThreadPool& pool) const {
  const int64_t unit = static_cast<int64_t>(vc.spatial_merge_size) * vc.spatial_merge_size;
  const int64_t m = n / unit, md = merged_dim();
  ln_q.forward(x, normed.data(), n, vc.embed_dim, pool);
  // Each group of `unit` consecutive normed rows is one merged row of md values.
  std::vector<float> h(static_cast<size_t>(m * md));
  mlp0.forward(normed.data(), m, h.data(), pool);
  pool.parallel_for(m, [&](int64_t b, int64_t e) { gelu_erf_inplace(h.data() + b * md, (e - b) * md); });
  std::vector<float> out(static_cast<size_t>(m) * vc.out_hidden_size);
  mlp2.forward(h.data(), m, out.data(), pool);
  return out;
}

int64_t Stem::check_grid(int grid_t, int grid_h, int grid_w) const {
  const int merge = vc.spatial_merge_size;
  const std::string g = std::to_string(grid_t) + "x" + std::to_string(grid_h) + "x" + std::to_string(grid_w);
  if (grid_t < 1 || grid_h < merge || grid_w < merge || grid_h % merge || grid_w % merge)
    fail(ErrorCode::kInvalidArgument, "vision encode: grid (t,h,w) = " + g +
                                          " must be positive with h and w multiples of spatial_merge_size " +
                                          std::to_string(merge));
  const int64_t n = static_cast<int64_t>(grid_t) * grid_h * grid_w;
  if (n > (int64_t{1} << 24)) fail(ErrorCode::kInvalidArgument, "vision encode: grid " + g + " has too many patches");
  return n;
}

}  // namespace vision
}  // namespace edgevl
