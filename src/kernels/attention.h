// Scaled dot-product attention over one sequence with grouped-query heads.
// q: [nq][n_head*head_dim] (row stride q_stride), k/v: [nk][n_kv_head*head_dim]
// (row stride kv_stride), out: [nq][n_head*head_dim] (row stride out_stride).
// Causal: query i sees keys 0 .. i + causal_offset; causal_offset < 0 means no mask.
#pragma once
#include <cstdint>

#include "core/thread_pool.h"

namespace edgevl {

struct AttentionArgs {
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
  float* out = nullptr;
  int64_t q_stride = 0, kv_stride = 0, out_stride = 0;
  int64_t nq = 0, nk = 0;
  int n_head = 0, n_kv_head = 0, head_dim = 0;
  float scale = 1.0f;
  int64_t causal_offset = -1;
};

void attention(const AttentionArgs& a, ThreadPool& pool);
void attention_reference(const AttentionArgs& a);  // single-threaded, double accumulation

}  // namespace edgevl
