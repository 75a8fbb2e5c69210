// The Qwen2 decoder stack shared by Qwen2-VL and Qwen2.5-VL: token embeddings,
// N × (RMSNorm → GQA attention with q/k/v biases and M-RoPE → RMSNorm → SwiGLU),
// final RMSNorm, lm_head (tied to the embeddings when the config says so).
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

class Qwen2Decoder {
 public:
  // Binds weights by their HF names and checks every shape against the config.
  Qwen2Decoder(const TextConfig& cfg, const TensorSource& weights);

  const TextConfig& config() const { return cfg_; }
  int hidden_size() const { return cfg_.hidden_size; }
  int vocab_size() const { return static_cast<int>(lm_head_.rows); }
  int kv_dim() const { return cfg_.num_kv_heads * cfg_.head_dim; }
  KvCache make_cache(int64_t capacity) const { return KvCache(cfg_.num_layers, capacity, kv_dim()); }
  // Bytes of weights a decode step reads (for bandwidth figures).
  size_t weight_bytes_per_token() const;

  // out[n][hidden] = embedding rows of ids (ids must be < vocab; checked).
  void embed(const int32_t* ids, int64_t n, float* out) const;

  // Runs n new positions (input embeddings x[n][hidden], their cells with 3-D
  // positions) on top of what `cache` holds, appends their K/V to it. Writes the
  // final-normed hidden state of every position to `hidden_out` [n][hidden] if not
  // null, and the logits of the last position to `last_logits` [vocab] if not null.
  // `cancel` is checked between layers; when it throws, the cache is unchanged.
  void forward(const float* x, int64_t n, const KvCell* cells, KvCache& cache, ThreadPool& pool,
               float* last_logits, float* hidden_out = nullptr, const Cancel& cancel = Cancel()) const;

  // logits[vocab] for one final-normed hidden vector.
  void logits(const float* hidden, float* out, ThreadPool& pool) const;

  // Rotates keys of cells [begin, end) of every layer by `delta` positions on all
  // three axes (context shift after evicting earlier turns).
  void shift_keys(KvCache& cache, int64_t begin, int64_t end, int32_t delta, ThreadPool& pool) const;

 private:
  struct Layer {
    std::vector<float> attn_norm, ffn_norm, bq, bk, bv;
    WeightMatrix wq, wk, wv, wo, gate, up, down;
  };
  TextConfig cfg_;
  WeightMatrix embed_, lm_head_;
  std::vector<float> final_norm_;
  std::vector<Layer> layers_;
  MRope rope_;
};

}  // namespace edgevl
