#include "kernels/attention.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "kernels/dot.h"
#include "kernels/gemm_blas.h"
#include "kernels/vexp.h"

namespace edgevl {

// Visible keys for query row i (all of them without a mask).
static int64_t visible_keys(const AttentionArgs& a, int64_t i) {
  return a.causal_offset < 0 ? a.nk : std::min<int64_t>(a.nk, i + a.causal_offset + 1);
}

// Max of n >= 1 floats in 8 independent lanes, which the compiler turns into vector maxes
// (a single running max is a serial chain it may not reorder).
static float row_max(const float* x, int64_t n) {
  float m[8];
  for (int k = 0; k < 8; ++k) m[k] = x[0];
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) m[k] = x[j + k] > m[k] ? x[j + k] : m[k];
  float r = m[0];
  for (int k = 1; k < 8; ++k) r = std::max(r, m[k]);
  for (; j < n; ++j) r = std::max(r, x[j]);
  return r;
}

// One (query row, head) pair: scores over visible keys, softmax, weighted sum of values.
static void attend_one(const AttentionArgs& a, int64_t i, int h, float* scores, DotFn dot) {
  const int group = a.n_head / a.n_kv_head;
  const int kvh = h / group;
  const int hd = a.head_dim;
  const float* q = a.q + i * a.q_stride + h * hd;
  const int64_t nvis = visible_keys(a, i);
  for (int64_t j = 0; j < nvis; ++j) {
    const float* k = a.k + j * a.kv_stride + kvh * hd;
    scores[j] = dot(q, reinterpret_cast<const uint8_t*>(k), hd) * a.scale;
  }
  const float inv = 1.0f / vec_exp(scores, scores, nvis, row_max(scores, nvis));
  float* o = a.out + i * a.out_stride + h * hd;
  for (int d = 0; d < hd; ++d) o[d] = 0;
  for (int64_t j = 0; j < nvis; ++j) {
    const float p = scores[j] * inv;
    const float* v = a.v + j * a.kv_stride + kvh * hd;
    for (int d = 0; d < hd; ++d) o[d] += p * v[d];
  }
}

void attention(const AttentionArgs& a, ThreadPool& pool) {
  if (a.nq <= 0) return;
  if (a.nq >= kGemmMinRows) {
    static const bool use_gemm = !std::getenv("EDGEVL_NO_GEMM");
    attention_tiled(a, pool, use_gemm);
    return;
  }
  const DotFn dot = dot_table_best().f32;
  pool.parallel_for(a.nq * a.n_head, [&](int64_t b, int64_t e) {
    std::vector<float> scores(static_cast<size_t>(a.nk));
    for (int64_t t = b; t < e; ++t) attend_one(a, t / a.n_head, static_cast<int>(t % a.n_head), scores.data(), dot);
  });
}

namespace {

// Per-thread state of one (head, query tile): running max m, sum l and output acc.
struct TileState {
  std::vector<float> s, acc, m, l;
  TileState(int hd) : s(kAttentionTileQ * kAttentionTileK), acc(kAttentionTileQ * hd), m(kAttentionTileQ), l(kAttentionTileQ) {}
};

void attend_tile(const AttentionArgs& a, int h, int64_t i0, TileState& st, bool blas, DotFn dot) {
  const int hd = a.head_dim, kvh = h / (a.n_head / a.n_kv_head);
  const int64_t qt = std::min(kAttentionTileQ, a.nq - i0);
  const float* q = a.q + i0 * a.q_stride + int64_t(h) * hd;
  std::fill(st.acc.begin(), st.acc.begin() + qt * hd, 0.0f);
  std::fill(st.m.begin(), st.m.end(), -INFINITY);
  std::fill(st.l.begin(), st.l.end(), 0.0f);
  const int64_t keys = visible_keys(a, i0 + qt - 1);  // the tile's last row sees the most
  for (int64_t j0 = 0; j0 < keys; j0 += kAttentionTileK) {
    if (a.cancel) a.cancel->check("attention");  // a key tile is microseconds of work
    const int64_t kt = std::min(kAttentionTileK, keys - j0);
    const float* k = a.k + j0 * a.kv_stride + int64_t(kvh) * hd;
    const float* v = a.v + j0 * a.kv_stride + int64_t(kvh) * hd;
    float* s = st.s.data();  // [qt][kt]
    if (!blas || !sgemm_tile(true, qt, kt, hd, a.scale, q, a.q_stride, k, a.kv_stride, 0.0f, s, kt)) {
      blas = false;
      for (int64_t r = 0; r < qt; ++r)
        for (int64_t j = 0; j < kt; ++j)
          s[r * kt + j] = dot(q + r * a.q_stride, reinterpret_cast<const uint8_t*>(k + j * a.kv_stride), hd) * a.scale;
    }
    for (int64_t r = 0; r < qt; ++r) {
      float* row = s + r * kt;
      float* acc = st.acc.data() + r * hd;
      const int64_t nvis = std::min(kt, visible_keys(a, i0 + r) - j0);
      if (nvis <= 0) {  // masked out: contributes nothing
        std::fill(row, row + kt, 0.0f);
        continue;
      }
      const float m_new = std::max(st.m[r], row_max(row, nvis));
      // exp(-inf) = 0 rescales an empty accumulator; -inf - -inf would be NaN.
      const float corr = st.m[r] == -INFINITY ? 0.0f : std::exp(st.m[r] - m_new);
      const float sum = vec_exp(row, row, nvis, m_new);
      std::fill(row + nvis, row + kt, 0.0f);
      st.l[r] = st.l[r] * corr + sum;
      st.m[r] = m_new;
      if (corr != 1.0f)
        for (int d = 0; d < hd; ++d) acc[d] *= corr;
      if (!blas)
        for (int64_t j = 0; j < nvis; ++j) {
          const float p = row[j];
          const float* vr = v + j * a.kv_stride;
          for (int d = 0; d < hd; ++d) acc[d] += p * vr[d];
        }
    }
    if (blas) sgemm_tile(false, qt, hd, kt, 1.0f, s, kt, v, a.kv_stride, 1.0f, st.acc.data(), hd);
  }
  for (int64_t r = 0; r < qt; ++r) {
    const float inv = 1.0f / st.l[r];
    const float* acc = st.acc.data() + r * hd;
    float* o = a.out + (i0 + r) * a.out_stride + int64_t(h) * hd;
    for (int d = 0; d < hd; ++d) o[d] = acc[d] * inv;
  }
}

}  // namespace

void attention_tiled(const AttentionArgs& a, ThreadPool& pool, bool use_gemm) {
  if (a.nq <= 0) return;
  const bool blas = use_gemm;
  const DotFn dot = dot_table_best().f32;
  const int64_t q_tiles = (a.nq + kAttentionTileQ - 1) / kAttentionTileQ;
  const int64_t tasks = q_tiles * a.n_head;
  // Tasks handed out on demand: causal tiles differ in cost, and a preempted thread takes fewer.
  std::atomic<int64_t> next{0};
  pool.share([&](int, int) {
    TileState st(a.head_dim);
    for (int64_t t; (t = next.fetch_add(1, std::memory_order_relaxed)) < tasks;)
      attend_tile(a, static_cast<int>(t % a.n_head), (t / a.n_head) * kAttentionTileQ, st, blas, dot);
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
      const int64_t nvis = visible_keys(a, i);
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
