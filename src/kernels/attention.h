// Scaled dot-product attention over one sequence with grouped-query heads.
// q: [nq][n_head*head_dim] (row stride q_stride), k/v: [nk][n_kv_head*head_dim]
// (row stride kv_stride elements), out: [nq][n_head*head_dim] (row stride out_stride).
// k and v hold f32 or f16 elements (kv_type; a KV cache may store f16); q and out are f32.
// Causal: query i sees keys 0 .. i + causal_offset; causal_offset < 0 means no mask.
#pragma once
#include <cstdint>

#include "core/cancel.h"
#include "core/dtype.h"
#include "core/thread_pool.h"

namespace edgevl {

struct AttentionArgs {
  const float* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  DType kv_type = DType::F32;  // F32 or F16
  float* out = nullptr;
  int64_t q_stride = 0, kv_stride = 0, out_stride = 0;
  int64_t nq = 0, nk = 0;
  int n_head = 0, n_kv_head = 0, head_dim = 0;
  float scale = 1.0f;
  int64_t causal_offset = -1;
  const Cancel* cancel = nullptr;  // polled between tiles (attention_tiled); throws kAborted
};

// Picks the path by the number of query rows: one row at a time (decode, short
// prompts) or tiled with an online softmax (prefill, vision). Memory: O(threads x tile),
// never an nq x nk score matrix.
void attention(const AttentionArgs& a, ThreadPool& pool);

// One task per (query row, KV head, key chunk), for decode and short prompts: the query
// heads of a GQA group share each key and value row read, and long contexts are split
// into key chunks (flash-decoding) whose softmax sums merge afterwards. With use_gemm a
// chunk of 64 keys or more goes through sgemm_tile where BLAS is built in.
void attention_rows(const AttentionArgs& a, ThreadPool& pool, bool use_gemm);

// Tiles of kAttentionTileQ queries x kAttentionTileK keys (a 128 KB score tile, which
// stays in L2), flash-attention style: a running max and sum per query row rescale the
// partial output as each key tile is added. With use_gemm (attention() sets it unless
// EDGEVL_NO_GEMM is set), scores and P·V per tile go through sgemm_tile where BLAS is
// built in; otherwise through the dot kernels.
void attention_tiled(const AttentionArgs& a, ThreadPool& pool, bool use_gemm);
constexpr int64_t kAttentionTileQ = 128, kAttentionTileK = 256;

void attention_reference(const AttentionArgs& a);  // single-threaded, double accumulation (f16 K/V widened exactly)

}  // namespace edgevl
