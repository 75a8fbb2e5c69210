// Qwen2-VL vision tower: LayerNorm blocks, fc1 -> QuickGELU (or GELU) -> fc2 MLP, full attention
// within each frame, LayerNorm merger.
#include <string>

#include "core/error.h"
#include "kernels/ops.h"
#include "vision/vision_layers.h"
#include "vision/vision_rope.h"

namespace edgevl {
namespace vision {
namespace {

struct Qwen2VLBlock {
  Norm norm1, norm2;
  Attention attn;
  Linear fc1, fc2;
};

class Qwen2VLVision final : public VisionEncoder {
 public:
  Qwen2VLVision(const ModelConfig& cfg, const TensorSource& src) {
    const VisionConfig& vc = cfg.vision;
    if (vc.hidden_act == "quick_gelu")
      quick_gelu_ = true;
    else if (vc.hidden_act != "gelu")
      fail(ErrorCode::kUnsupported, "Qwen2-VL vision: hidden_act '" + vc.hidden_act + "' (supported: quick_gelu, gelu)");
    stem_.load(cfg, src);
    stem_.ln_q = load_layernorm(src, "visual.merger.ln_q", vc.embed_dim, vc.norm_eps);
    blocks_.resize(vc.depth);
    for (int i = 0; i < vc.depth; ++i) {
      const std::string p = "visual.blocks." + std::to_string(i);
      Qwen2VLBlock& b = blocks_[i];
      b.norm1 = load_layernorm(src, p + ".norm1", vc.embed_dim, vc.norm_eps);
      b.norm2 = load_layernorm(src, p + ".norm2", vc.embed_dim, vc.norm_eps);
      b.attn = load_attention(src, p + ".attn", vc);
      b.fc1 = load_linear(src, p + ".mlp.fc1", vc.mlp_hidden, vc.embed_dim, true);
      b.fc2 = load_linear(src, p + ".mlp.fc2", vc.embed_dim, vc.mlp_hidden, true);
    }
  }

  std::vector<float> patch_embed(const float* pixels, int64_t n_patches, ThreadPool& pool) const override {
    return stem_.patch_embed(pixels, n_patches, pool);
  }

  std::vector<float> encode(const float* pixels, int grid_t, int grid_h, int grid_w, ThreadPool& pool,
                            const Cancel& cancel) const override {
    const VisionConfig& vc = stem_.vc;
    const int64_t n = stem_.check_grid(grid_t, grid_h, grid_w);
    const int64_t d = vc.embed_dim, hid = vc.mlp_hidden;
    std::vector<float> x = stem_.patch_embed(pixels, n, pool);
    const VisionRopeTables rope =
        vision_rope_tables(grid_t, grid_h, grid_w, vc.spatial_merge_size, vc.embed_dim / vc.num_heads);
    // Full attention inside each frame.
    std::vector<int64_t> cu{0};
    for (int t = 0; t < grid_t; ++t) cu.push_back(cu.back() + static_cast<int64_t>(grid_h) * grid_w);

    Scratch s;
    s.normed.resize(n * d);
    s.qkv.resize(n * 3 * d);
    s.attn.resize(n * d);
    s.branch.resize(n * d);
    s.hidden.resize(n * hid);
    for (const Qwen2VLBlock& b : blocks_) {
      cancel.check("image encoding");
      b.norm1.forward(x.data(), s.normed.data(), n, d, pool);
      attention_forward(b.attn, s.normed.data(), n, rope.cos.data(), rope.sin.data(), cu, s, s.branch.data(), pool, cancel);
      add_rows(x.data(), s.branch.data(), n * d, pool);
      b.norm2.forward(x.data(), s.normed.data(), n, d, pool);
      b.fc1.forward(s.normed.data(), n, s.hidden.data(), pool);
      float* h = s.hidden.data();
      pool.parallel_for(n, [&](int64_t r0, int64_t r1) {
        if (quick_gelu_)
          quick_gelu_inplace(h + r0 * hid, (r1 - r0) * hid);
        else
          gelu_erf_inplace(h + r0 * hid, (r1 - r0) * hid);
      });
      b.fc2.forward(h, n, s.branch.data(), pool);
      add_rows(x.data(), s.branch.data(), n * d, pool);
    }
    return stem_.merge(x.data(), n, s.normed, pool);
  }

 private:
  Stem stem_;
  std::vector<Qwen2VLBlock> blocks_;
  bool quick_gelu_ = false;
};

}  // namespace

std::unique_ptr<VisionEncoder> make_qwen2vl_vision(const ModelConfig& cfg, const TensorSource& src) {
  return std::make_unique<Qwen2VLVision>(cfg, src);
}

}  // namespace vision
}  // namespace edgevl
