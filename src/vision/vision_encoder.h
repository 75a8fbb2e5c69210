// The vision towers of Qwen2-VL and Qwen2.5-VL: patch embedding (Conv3d as a matrix over
// flattened patches), a stack of pre-norm ViT blocks with 2-D rotary attention, and the
// patch merger that concatenates each merge x merge block and projects it to the LLM width.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "core/cancel.h"
#include "core/thread_pool.h"
#include "formats/model_config.h"
#include "formats/tensor_source.h"

namespace edgevl {

class VisionEncoder {
 public:
  virtual ~VisionEncoder() = default;
  // Builds the Qwen2-VL or Qwen2.5-VL tower (by cfg.vision.arch) over tensors named as in the HF checkpoint
  // (visual.patch_embed.proj.weight, visual.blocks.N.*, visual.merger.*). Checks every shape against config; a
  // missing/misshaped tensor -> edgevl::Error naming it. Matrices stay in the mapped file, so `weights` must
  // outlive the encoder; 1-D tensors (norms, biases) are copied to f32.
  static std::unique_ptr<VisionEncoder> create(const ModelConfig& cfg, const TensorSource& weights);
  // pixels: [grid_t*grid_h*grid_w, C*T*P*P] rows in HF pixel_values order (2x2-merge blocks); one image.
  // Returns merged image embeddings [n_patches / merge^2, cfg.vision.out_hidden_size], row r for the r-th <|image_pad|>.
  // `cancel` is checked between blocks (throws Error kAborted).
  virtual std::vector<float> encode(const float* pixels, int grid_t, int grid_h, int grid_w, ThreadPool& pool,
                                    const Cancel& cancel = Cancel()) const = 0;
  // Just the patch embedding [n_patches, embed_dim] (for golden tests).
  virtual std::vector<float> patch_embed(const float* pixels, int64_t n_patches, ThreadPool& pool) const = 0;
};

}  // namespace edgevl
