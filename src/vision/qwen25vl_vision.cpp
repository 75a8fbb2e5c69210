// Qwen2.5-VL vision tower: RMSNorm blocks, SwiGLU MLP with biases, window attention on every
// block except fullatt_block_indexes, RMSNorm merger. Tokens are put in window order (whole
// merge x merge groups at a time) before the blocks, so each window is a contiguous segment;
// the merger output is put back in pixel_values order.
#include <algorithm>
#include <cstring>
#include <string>

#include "core/error.h"
#include "kernels/ops.h"
#include "vision/vision_layers.h"
#include "vision/vision_rope.h"
#include "vision/window_index.h"

namespace edgevl {
namespace vision {
namespace {

struct Qwen25VLBlock {
  Norm norm1, norm2;
  Attention attn;
  Linear gate, up, down;
  bool full_attention = false;
};

// dst group k = src group index[k], each group `width` floats.
void gather_groups(const float* src, float* dst, const std::vector<int64_t>& index, int64_t width, ThreadPool& pool) {
  pool.parallel_for(static_cast<int64_t>(index.size()), [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) std::memcpy(dst + k * width, src + index[k] * width, width * sizeof(float));
  });
}

// dst group index[k] = src group k.
void scatter_groups(const float* src, float* dst, const std::vector<int64_t>& index, int64_t width, ThreadPool& pool) {
  pool.parallel_for(static_cast<int64_t>(index.size()), [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) std::memcpy(dst + index[k] * width, src + k * width, width * sizeof(float));
  });
}

class Qwen25VLVision final : public VisionEncoder {
 public:
  Qwen25VLVision(const ModelConfig& cfg, const TensorSource& src) {
    const VisionConfig& vc = cfg.vision;
    if (vc.hidden_act != "silu")
      fail(ErrorCode::kUnsupported, "Qwen2.5-VL vision: hidden_act '" + vc.hidden_act + "' (supported: silu)");
    if (vc.window_size > 0 && vc.window_size < vc.spatial_merge_size * vc.patch_size)
      fail_format("Qwen2.5-VL vision: window_size " + std::to_string(vc.window_size) +
                  " is smaller than one merged token (" + std::to_string(vc.spatial_merge_size * vc.patch_size) + " pixels)");
    stem_.load(cfg, src);
    stem_.ln_q = load_rmsnorm(src, "visual.merger.ln_q", vc.embed_dim, vc.norm_eps);
    blocks_.resize(vc.depth);
    for (int i = 0; i < vc.depth; ++i) {
      const std::string p = "visual.blocks." + std::to_string(i);
      Qwen25VLBlock& b = blocks_[i];
      b.norm1 = load_rmsnorm(src, p + ".norm1", vc.embed_dim, vc.norm_eps);
      b.norm2 = load_rmsnorm(src, p + ".norm2", vc.embed_dim, vc.norm_eps);
      b.attn = load_attention(src, p + ".attn", vc);
      b.gate = load_linear(src, p + ".mlp.gate_proj", vc.mlp_hidden, vc.embed_dim, true);
      b.up = load_linear(src, p + ".mlp.up_proj", vc.mlp_hidden, vc.embed_dim, true);
      b.down = load_linear(src, p + ".mlp.down_proj", vc.embed_dim, vc.mlp_hidden, true);
      b.full_attention = vc.window_size <= 0 || std::find(vc.fullatt_block_indexes.begin(), vc.fullatt_block_indexes.end(), i) !=
                                                    vc.fullatt_block_indexes.end();
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
    const int64_t unit = static_cast<int64_t>(vc.spatial_merge_size) * vc.spatial_merge_size;
    const int hd = vc.embed_dim / vc.num_heads;
    std::vector<float> x = stem_.patch_embed(pixels, n, pool);
    VisionRopeTables rope = vision_rope_tables(grid_t, grid_h, grid_w, vc.spatial_merge_size, hd);

    std::vector<int64_t> cu_full{0};
    for (int t = 0; t < grid_t; ++t) cu_full.push_back(cu_full.back() + static_cast<int64_t>(grid_h) * grid_w);
    const bool windowed = vc.window_size > 0;
    VisionWindows win;
    Scratch s;
    s.normed.resize(n * d);
    if (windowed) {
      win = vision_window_index(vc, grid_t, grid_h, grid_w);
      // Window order for the hidden states and the rotary tables (s.normed is free scratch here).
      gather_groups(x.data(), s.normed.data(), win.window_index, unit * d, pool);
      x.swap(s.normed);
      std::vector<float> tmp(rope.cos.size());
      gather_groups(rope.cos.data(), tmp.data(), win.window_index, unit * hd, pool);
      rope.cos.swap(tmp);
      gather_groups(rope.sin.data(), tmp.data(), win.window_index, unit * hd, pool);
      rope.sin.swap(tmp);
    }

    s.qkv.resize(n * 3 * d);
    s.attn.resize(n * d);
    s.branch.resize(n * d);
    s.hidden.resize(n * hid);
    s.hidden2.resize(n * hid);
    for (const Qwen25VLBlock& b : blocks_) {
      cancel.check("image encoding");
      const std::vector<int64_t>& cu = b.full_attention ? cu_full : win.cu_seqlens;
      b.norm1.forward(x.data(), s.normed.data(), n, d, pool);
      attention_forward(b.attn, s.normed.data(), n, rope.cos.data(), rope.sin.data(), cu, s, s.branch.data(), pool, cancel);
      add_rows(x.data(), s.branch.data(), n * d, pool);
      b.norm2.forward(x.data(), s.normed.data(), n, d, pool);
      b.gate.forward(s.normed.data(), n, s.hidden.data(), pool);
      b.up.forward(s.normed.data(), n, s.hidden2.data(), pool);
      float* g = s.hidden.data();
      const float* u = s.hidden2.data();
      pool.parallel_for(n, [&](int64_t r0, int64_t r1) { swiglu_inplace(g + r0 * hid, u + r0 * hid, (r1 - r0) * hid); });
      b.down.forward(g, n, s.branch.data(), pool);
      add_rows(x.data(), s.branch.data(), n * d, pool);
    }
    std::vector<float> merged = stem_.merge(x.data(), n, s.normed, pool);
    if (!windowed) return merged;
    std::vector<float> out(merged.size());
    scatter_groups(merged.data(), out.data(), win.window_index, vc.out_hidden_size, pool);
    return out;
  }

 private:
  Stem stem_;
  std::vector<Qwen25VLBlock> blocks_;
};

}  // namespace

std::unique_ptr<VisionEncoder> make_qwen25vl_vision(const ModelConfig& cfg, const TensorSource& src) {
  return std::make_unique<Qwen25VLVision>(cfg, src);
}

}  // namespace vision
}  // namespace edgevl
