// The Qwen2/Qwen3 decoder stack of Qwen2-VL, Qwen2.5-VL and Qwen3-VL: token embeddings,
// N × (RMSNorm → GQA attention with M-RoPE → RMSNorm → SwiGLU), final RMSNorm, lm_head
// (tied to the embeddings when the config says so). Qwen2 has q/k/v biases; Qwen3 has
// none but RMSNorms each q and k head before the rotary (config.qk_norm), and adds the
// image's DeepStack features to the visual-token rows after its first layers.
#pragma once
#include <array>
#include <memory>
#include <vector>

#include "core/cancel.h"
#include "core/thread_pool.h"
#include "formats/model_config.h"
#include "formats/tensor_source.h"
#include "kernels/weight_matrix.h"
#include "llm/kv_cache.h"
#include "llm/mrope.h"

namespace edgevl {

// DeepStack input for one block of visual-token rows of a forward: after layer k
// (k < features.size()), x rows [row, row + count) get features[k] rows
// [feature_row, feature_row + count) added. A block may be part of an image (chunked prefill).
struct DeepStackRows {
  int64_t row = 0, count = 0, feature_row = 0;
  const std::vector<std::vector<float>>* features = nullptr;  // [k][n_tokens][hidden]
};

class Qwen2Decoder {
 public:
  // Binds weights by their HF names and checks every shape against the config.
  Qwen2Decoder(const TextConfig& cfg, const TensorSource& weights);

  const TextConfig& config() const { return cfg_; }
  int hidden_size() const { return cfg_.hidden_size; }
  int vocab_size() const { return static_cast<int>(lm_head_.rows); }
  int kv_dim() const { return cfg_.num_kv_heads * cfg_.head_dim; }
  KvCache make_cache(int64_t capacity, KvType type = KvType::F32) const { return KvCache(cfg_.num_layers, capacity, kv_dim(), type); }
  // Bytes of weights a decode step reads (for bandwidth figures).
  size_t weight_bytes_per_token() const;

  // out[n][hidden] = embedding rows of ids (ids must be < vocab; checked).
  void embed(const int32_t* ids, int64_t n, float* out) const;

  // Runs n new positions (input embeddings x[n][hidden], their cells with 3-D
  // positions) on top of what `cache` holds, appends their K/V to it. Writes the
  // final-normed hidden state of every position to `hidden_out` [n][hidden] if not
  // null, and the logits of the last position to `last_logits` [vocab] if not null.
  // `cancel` is checked between layers; when it throws, the cache is unchanged.
  // `deepstack` lists the visual-token rows that get DeepStack features (Qwen3-VL).
  void forward(const float* x, int64_t n, const KvCell* cells, KvCache& cache, ThreadPool& pool,
               float* last_logits, float* hidden_out = nullptr, const Cancel& cancel = Cancel(),
               const std::vector<DeepStackRows>& deepstack = {}) const;

  // logits[vocab] for one final-normed hidden vector.
  void logits(const float* hidden, float* out, ThreadPool& pool) const;

 private:
  struct Layer {
    std::vector<float> attn_norm, ffn_norm, bq, bk, bv;  // biases empty without attention_bias
    std::vector<float> q_norm, k_norm;                   // [head_dim], with qk_norm
    WeightMatrix wq, wk, wv, wo, gate, up, down;
  };
  TextConfig cfg_;
  WeightMatrix embed_, lm_head_;
  std::vector<float> final_norm_;
  std::vector<Layer> layers_;
  MRope rope_;
};

}  // namespace edgevl
