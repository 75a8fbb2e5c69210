#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "kernels/dot.h"
#include "kernels/gemm_blas.h"
#include "kernels/vexp.h"

namespace edgevl {

// One (query row, head) pair: scores over visible keys, softmax, weighted sum of values.
static void attend_one(const AttentionArgs& a, int64_t i, int h, float* scores, DotFn dot) {
  const int group = a.n_head / a.n_kv_head;
  const int kvh = h / group;
  const int hd = a.head_dim;
  const float* q = a.q + i * a.q_stride + h * hd;
  const int64_t nvis = a.causal_offset < 0 ? a.nk : std::min<int64_t>(a.nk, i + a.causal_offset + 1);
  float mx = -INFINITY;
  for (int64_t j = 0; j < nvis; ++j) {
    const float* k = a.k + j * a.kv_stride + kvh * hd;
    scores[j] = dot(q, reinterpret_cast<const uint8_t*>(k), hd) * a.scale;
    mx = std::max(mx, scores[j]);
  }
  const float inv = 1.0f / vec_exp(scores, scores, nvis, mx);
  float* o = a.out + i * a.out_stride + h * hd;
  for (int d = 0; d < hd; ++d) o[d] = 0;
  for (int64_t j = 0; j < nvis; ++j) {
    const float p = scores[j] * inv;
    const float* v = a.v + j * a.kv_stride + kvh * hd;
    for (int d = 0; d < hd; ++d) o[d] += p * v[d];
  }
}

void attention(const AttentionArgs& a, ThreadPool& pool) {
  // Many query rows (prefill, vision): two sgemms per head.
  if (a.nq >= kGemmMinRows && !std::getenv("EDGEVL_NO_GEMM") && attention_gemm(a, pool)) return;
  const DotFn dot = dot_table_best().f32;
  const int64_t total = a.nq * a.n_head;
  pool.parallel_for(total, [&](int64_t b, int64_t e) {
    std::vector<float> scores(static_cast<size_t>(a.nk));
    for (int64_t t = b; t < e; ++t) attend_one(a, t / a.n_head, static_cast<int>(t % a.n_head), scores.data(), dot);
  });
}

void attention_reference(const AttentionArgs& a) {
  const int group = a.n_head / a.n_kv_head;
  const int hd = a.head_dim;
  std::vector<double> s(static_cast<size_t>(a.nk));
  for (int64_t i = 0; i < a.nq; ++i) {
    for (int h = 0; h < a.n_head; ++h) {
      const int kvh = h / group;
      const float* q = a.q + i * a.q_stride + h * hd;
      const int64_t nvis = a.causal_offset < 0 ? a.nk : std::min<int64_t>(a.nk, i + a.causal_offset + 1);
      double mx = -INFINITY;
      for (int64_t j = 0; j < nvis; ++j) {
        const float* k = a.k + j * a.kv_stride + kvh * hd;
        double d = 0;
        for (int x = 0; x < hd; ++x) d += static_cast<double>(q[x]) * k[x];
        s[j] = d * a.scale;
        mx = std::max(mx, s[j]);
      }
      double sum = 0;
      for (int64_t j = 0; j < nvis; ++j) sum += (s[j] = std::exp(s[j] - mx));
      float* o = a.out + i * a.out_stride + h * hd;
      for (int d = 0; d < hd; ++d) {
        double acc = 0;
        for (int64_t j = 0; j < nvis; ++j) acc += s[j] / sum * a.v[j * a.kv_stride + kvh * hd + d];
        o[d] = static_cast<float>(acc);
      }
    }
  }
}

}  // namespace edgevl
