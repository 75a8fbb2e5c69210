// Qwen3-VL vision tower: patch embedding with bias, the learned absolute position embedding
// interpolated to the patch grid (pos_embed_interp.h), LayerNorm blocks with 2-D rotary full
// attention and an fc1 -> tanh-GELU -> fc2 MLP, the merger (per-patch LayerNorm, then the
// merge x merge concat) and the DeepStack mergers (concat first, then LayerNorm over the
// concatenated vector) on the outputs of the blocks listed in deepstack_visual_indexes.
// Tensor names as transformers 4.57 saves them (model.visual.*).
#include <cmath>
#include <string>

#include "core/error.h"
#include "kernels/ops.h"
#include "vision/pos_embed_interp.h"
#include "vision/vision_layers.h"
#include "vision/vision_rope.h"

namespace edgevl {
namespace vision {
namespace {

struct Qwen3Block {
  Norm norm1, norm2;
  Attention attn;
  Linear fc1, fc2;
};

class Qwen3VLVision final : public VisionEncoder {
 public:
  Qwen3VLVision(const ModelConfig& cfg, const TensorSource& src) : vc_(cfg.vision) {
    if (vc_.hidden_act != "gelu_pytorch_tanh")
      fail(ErrorCode::kUnsupported, "Qwen3-VL vision: hidden_act '" + vc_.hidden_act + "' (supported: gelu_pytorch_tanh)");
    const std::string& pre = vc_.tensor_prefix;
    const int64_t d = vc_.embed_dim, md = merged_dim();
    patch_.w = matrix_of(src.get(pre + "patch_embed.proj.weight",
                                 {d, vc_.in_channels, vc_.temporal_patch_size, vc_.patch_size, vc_.patch_size}));
    patch_.bias = load_vector(src, pre + "patch_embed.proj.bias", d);
    side_ = static_cast<int>(std::lround(std::sqrt(double(vc_.num_position_embeddings))));
    pos_table_ = tensor_to_f32(src.get(pre + "pos_embed.weight", {vc_.num_position_embeddings, d}));
    blocks_.resize(vc_.depth);
    for (int i = 0; i < vc_.depth; ++i) {
      const std::string p = pre + "blocks." + std::to_string(i);
      Qwen3Block& b = blocks_[i];
      b.norm1 = load_layernorm(src, p + ".norm1", d, vc_.norm_eps);
      b.norm2 = load_layernorm(src, p + ".norm2", d, vc_.norm_eps);
      b.attn = load_attention(src, p + ".attn", vc_);
      b.fc1 = load_linear(src, p + ".mlp.linear_fc1", vc_.mlp_hidden, d, true);
      b.fc2 = load_linear(src, p + ".mlp.linear_fc2", d, vc_.mlp_hidden, true);
    }
    merger_ = load_merger(src, pre + "merger", d);
    for (size_t k = 0; k < vc_.deepstack_visual_indexes.size(); ++k)
      deepstack_.push_back(load_merger(src, pre + "deepstack_merger_list." + std::to_string(k), md));
  }

  std::vector<float> patch_embed(const float* pixels, int64_t n_patches, ThreadPool& pool) const override {
    if (!pixels || n_patches < 1) fail(ErrorCode::kInvalidArgument, "vision patch_embed: no pixel rows");
    std::vector<float> out(static_cast<size_t>(n_patches) * vc_.embed_dim);
    patch_.forward(pixels, n_patches, out.data(), pool);
    return out;
  }

  std::vector<float> encode(const float* pixels, int grid_t, int grid_h, int grid_w, ThreadPool& pool,
                            const Cancel& cancel, std::vector<std::vector<float>>* deepstack) const override {
    const int merge = vc_.spatial_merge_size;
    const std::string g = std::to_string(grid_t) + "x" + std::to_string(grid_h) + "x" + std::to_string(grid_w);
    if (grid_t < 1 || grid_h < merge || grid_w < merge || grid_h % merge || grid_w % merge)
      fail(ErrorCode::kInvalidArgument, "vision encode: grid (t,h,w) = " + g +
                                            " must be positive with h and w multiples of spatial_merge_size " +
                                            std::to_string(merge));
    const int64_t n = int64_t(grid_t) * grid_h * grid_w;
    if (n > (int64_t{1} << 24)) fail(ErrorCode::kInvalidArgument, "vision encode: grid " + g + " has too many patches");
    const int64_t d = vc_.embed_dim, hid = vc_.mlp_hidden;

    std::vector<float> x = patch_embed(pixels, n, pool);
    const std::vector<float> pos = interpolate_pos_embed(pos_table_.data(), side_, int(d), grid_t, grid_h, grid_w, merge);
    add_rows(x.data(), pos.data(), n * d, pool);
    const VisionRopeTables rope = vision_rope_tables(grid_t, grid_h, grid_w, merge, int(d / vc_.num_heads));
    std::vector<int64_t> cu{0};  // full attention inside each frame
    for (int t = 0; t < grid_t; ++t) cu.push_back(cu.back() + int64_t(grid_h) * grid_w);

    Scratch s;
    s.normed.resize(n * d);
    s.qkv.resize(n * 3 * d);
    s.attn.resize(n * d);
    s.branch.resize(n * d);
    s.hidden.resize(n * hid);
    if (deepstack) deepstack->clear();
    for (int i = 0; i < vc_.depth; ++i) {
      cancel.check("image encoding");
      const Qwen3Block& b = blocks_[i];
      b.norm1.forward(x.data(), s.normed.data(), n, d, pool);
      attention_forward(b.attn, s.normed.data(), n, rope.cos.data(), rope.sin.data(), cu, s, s.branch.data(), pool, cancel);
      add_rows(x.data(), s.branch.data(), n * d, pool);
      b.norm2.forward(x.data(), s.normed.data(), n, d, pool);
      b.fc1.forward(s.normed.data(), n, s.hidden.data(), pool);
      float* h = s.hidden.data();
      pool.parallel_for(n, [&](int64_t r0, int64_t r1) { gelu_tanh_inplace(h + r0 * hid, (r1 - r0) * hid); });
      b.fc2.forward(h, n, s.branch.data(), pool);
      add_rows(x.data(), s.branch.data(), n * d, pool);
      if (deepstack)
        for (size_t k = 0; k < deepstack_.size(); ++k)
          if (vc_.deepstack_visual_indexes[k] == i) {
            if (deepstack->size() < deepstack_.size()) deepstack->resize(deepstack_.size());
            (*deepstack)[k] = merge_rows(deepstack_[k], x.data(), n, s.normed, pool);
          }
    }
    return merge_rows(merger_, x.data(), n, s.normed, pool);
  }

 private:
  struct MergerWeights {
    Norm norm;
    int64_t norm_dim = 0;
    Linear fc1, fc2;
  };

  int64_t merged_dim() const { return int64_t(vc_.embed_dim) * vc_.spatial_merge_size * vc_.spatial_merge_size; }

  MergerWeights load_merger(const TensorSource& src, const std::string& p, int64_t norm_dim) const {
    MergerWeights m;
    m.norm = load_layernorm(src, p + ".norm", norm_dim, vc_.norm_eps);
    m.norm_dim = norm_dim;
    m.fc1 = load_linear(src, p + ".linear_fc1", merged_dim(), merged_dim(), true);
    m.fc2 = load_linear(src, p + ".linear_fc2", vc_.out_hidden_size, merged_dim(), true);
    return m;
  }

  // x: [n, embed_dim] -> [n / merge^2, out_hidden_size]. A LayerNorm over norm_dim values
  // is the same on the patch rows whether or not they are viewed as merged rows, so one
  // norm call over n*embed_dim / norm_dim rows covers both mergers.
  std::vector<float> merge_rows(const MergerWeights& m, const float* x, int64_t n, std::vector<float>& normed,
                                ThreadPool& pool) const {
    const int64_t md = merged_dim(), rows = n * vc_.embed_dim / md;
    m.norm.forward(x, normed.data(), n * vc_.embed_dim / m.norm_dim, m.norm_dim, pool);
    std::vector<float> h(static_cast<size_t>(rows * md));
    m.fc1.forward(normed.data(), rows, h.data(), pool);
    pool.parallel_for(rows, [&](int64_t b, int64_t e) { gelu_erf_inplace(h.data() + b * md, (e - b) * md); });
    std::vector<float> out(static_cast<size_t>(rows) * vc_.out_hidden_size);
    m.fc2.forward(h.data(), rows, out.data(), pool);
    return out;
  }

  VisionConfig vc_;
  Linear patch_;  // Conv3d as [embed_dim, C*T*P*P] with bias
  int side_ = 0;
  std::vector<float> pos_table_;  // [side*side][embed_dim]
  std::vector<Qwen3Block> blocks_;
  MergerWeights merger_;
  std::vector<MergerWeights> deepstack_;
};

}  // namespace

std::unique_ptr<VisionEncoder> make_qwen3vl_vision(const ModelConfig& cfg, const TensorSource& src) {
  return std::make_unique<Qwen3VLVision>(cfg, src);
}

}  // namespace vision
}  // namespace edgevl
