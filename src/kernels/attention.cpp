#include "kernels/attention.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
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

// Row j of k or v (a.k / a.v), from element off on, as bytes of a.kv_type.
static const uint8_t* kv_row(const AttentionArgs& a, const void* base, int64_t j, int64_t off) {
  const size_t elem = a.kv_type == DType::F16 ? 2 : 4;
  return static_cast<const uint8_t*>(base) + static_cast<size_t>(j * a.kv_stride + off) * elem;
}

static void check_kv_type(const AttentionArgs& a) {
  if (a.kv_type != DType::F32 && a.kv_type != DType::F16)
    fail(ErrorCode::kInternal, std::string("attention: K/V of type ") + dtype_name(a.kv_type));
}

// Decode and short prompts, one task per (query row, KV head, key chunk). The query heads
// of a GQA group (6 per KV head in Qwen2-VL-2B) share each key and value row, so a task
// reads a row once for the whole group instead of once per head: at long contexts the K/V
// rows do not stay in L2, and re-reading them per head dominated decode. A long context is
// split into key chunks whose partial softmax (max, sum, weighted values) merge afterwards,
// so that every thread has work when rows x KV heads are fewer than the threads.
struct GroupPartial {
  std::vector<float> m, l, acc;  // per head of the group: max score, sum of exp, head_dim values
};

// Keys and values of rows [j0, j0 + n), head kvh, widened from f16 into k_out / v_out
// ([n][head_dim] each), for the f32 code that follows.
static void widen_kv(const AttentionArgs& a, const DotTable& t, int kvh, int64_t j0, int64_t n, float* k_out, float* v_out) {
  const int hd = a.head_dim;
  for (int64_t j = 0; j < n; ++j) {
    t.f16_row(kv_row(a, a.k, j0 + j, int64_t(kvh) * hd), k_out + j * hd, hd);
    t.f16_row(kv_row(a, a.v, j0 + j, int64_t(kvh) * hd), v_out + j * hd, hd);
  }
}

// From this many keys a chunk's scores and weighted values go through sgemm (where BLAS is
// built in): the group's query rows times the chunk's keys, then the probabilities times
// its values; f16 rows are widened into kv_scratch first.
constexpr int64_t kGroupGemmMinKeys = 64;

static void attend_group_chunk(const AttentionArgs& a, int64_t i, int kvh, int64_t j0, int64_t j1, const DotTable& t, bool use_gemm,
                               std::vector<float>& scores, std::vector<float>& kv_scratch, GroupPartial& out) {
  const int group = a.n_head / a.n_kv_head, hd = a.head_dim;
  const bool f16 = a.kv_type == DType::F16;
  const int64_t n = j1 - j0;
  out.m.assign(group, -INFINITY);
  out.l.assign(group, 0.0f);
  out.acc.assign(static_cast<size_t>(group) * hd, 0.0f);
  if (n <= 0) return;
  scores.resize(static_cast<size_t>(group * n));
  const float* q = a.q + i * a.q_stride + int64_t(kvh) * group * hd;  // the group's query heads are adjacent

  // Scores [group][n]: sgemm on the chunk, or one dot per key and head.
  const float* k = reinterpret_cast<const float*>(kv_row(a, a.k, j0, int64_t(kvh) * hd));
  const float* v = reinterpret_cast<const float*>(kv_row(a, a.v, j0, int64_t(kvh) * hd));
  int64_t ld = a.kv_stride;
  const bool gemm = use_gemm && n >= kGroupGemmMinKeys && sgemm_available();
  if (gemm && f16) {
    kv_scratch.resize(static_cast<size_t>(2 * n * hd));
    widen_kv(a, t, kvh, j0, n, kv_scratch.data(), kv_scratch.data() + n * hd);
    k = kv_scratch.data();
    v = kv_scratch.data() + n * hd;
    ld = hd;
  }
  if (gemm) sgemm_tile(true, group, n, hd, a.scale, q, hd, k, ld, 0.0f, scores.data(), n);
  // Without sgemm the rows are read in place, a head's slice of each cached token, row_bytes
  // apart: fetched a few rows ahead, since the hardware prefetcher does not follow such
  // strides far enough.
  const size_t slice = static_cast<size_t>(hd) * (f16 ? 2 : 4);
  auto prefetch = [&](const void* base, int64_t j) {
    if (j >= j1) return;
    const uint8_t* p = kv_row(a, base, j, int64_t(kvh) * hd);
    for (size_t b = 0; b < slice; b += 64) __builtin_prefetch(p + b);
  };
  constexpr int64_t kAhead = 4;
  if (!gemm) {
    const DotFn dot = f16 ? t.f16 : t.f32;
    for (int64_t j = 0; j < n; ++j) {
      prefetch(a.k, j0 + j + kAhead);
      const uint8_t* kr = kv_row(a, a.k, j0 + j, int64_t(kvh) * hd);
      for (int g = 0; g < group; ++g) scores[g * n + j] = dot(q + g * hd, kr, hd) * a.scale;
    }
  }

  for (int g = 0; g < group; ++g) {
    float* sg = scores.data() + g * n;
    out.m[g] = row_max(sg, n);
    out.l[g] = vec_exp(sg, sg, n, out.m[g]);
  }

  // Weighted values [group][head_dim], unnormalised (the merge divides by the sums).
  if (gemm) {
    sgemm_tile(false, group, hd, n, 1.0f, scores.data(), n, v, ld, 0.0f, out.acc.data(), hd);
    return;
  }
  const AxpyFn axpy = f16 ? t.f16_axpy : t.f32_axpy;
  for (int64_t j = 0; j < n; ++j) {
    prefetch(a.v, j0 + j + kAhead);
    const uint8_t* vr = kv_row(a, a.v, j0 + j, int64_t(kvh) * hd);
    for (int g = 0; g < group; ++g) axpy(scores[g * n + j], vr, out.acc.data() + g * hd, hd);
  }
}

void attention_rows(const AttentionArgs& a, ThreadPool& pool, bool use_gemm) {
  if (a.nq <= 0) return;
  check_kv_type(a);
  const DotTable& t = dot_table_best();
  const int group = a.n_head / a.n_kv_head, hd = a.head_dim;
  const int64_t pairs = a.nq * a.n_kv_head;
  // Key chunks of at least 256 keys, up to two tasks per thread.
  constexpr int64_t kMinChunk = 256;
  const int64_t want = (2 * int64_t(pool.size()) + pairs - 1) / pairs;
  const int64_t chunks = std::max<int64_t>(1, std::min(want, a.nk / kMinChunk));
  std::vector<GroupPartial> parts(static_cast<size_t>(pairs * chunks));
  pool.parallel_for(pairs * chunks, [&](int64_t b, int64_t e) {
    std::vector<float> scores, kv_scratch;
    for (int64_t x = b; x < e; ++x) {
      const int64_t pair = x / chunks, c = x % chunks, i = pair / a.n_kv_head;
      const int64_t nvis = visible_keys(a, i);
      attend_group_chunk(a, i, static_cast<int>(pair % a.n_kv_head), nvis * c / chunks, nvis * (c + 1) / chunks, t, use_gemm,
                         scores, kv_scratch, parts[x]);
    }
  });
  // Merge the chunks of each (row, head): each rescaled by exp(its max - the overall max).
  for (int64_t pair = 0; pair < pairs; ++pair) {
    const int64_t i = pair / a.n_kv_head;
    const int kvh = static_cast<int>(pair % a.n_kv_head);
    for (int g = 0; g < group; ++g) {
      float m = -INFINITY;
      for (int64_t c = 0; c < chunks; ++c) m = std::max(m, parts[pair * chunks + c].m[g]);
      float* o = a.out + i * a.out_stride + (int64_t(kvh) * group + g) * hd;
      for (int d = 0; d < hd; ++d) o[d] = 0;
      float l = 0;
      for (int64_t c = 0; c < chunks; ++c) {
        const GroupPartial& p = parts[pair * chunks + c];
        if (p.m[g] == -INFINITY) continue;  // an empty chunk adds nothing (and -inf - -inf is NaN)
        const float w = std::exp(p.m[g] - m);
        l += p.l[g] * w;
        for (int d = 0; d < hd; ++d) o[d] += p.acc[g * hd + d] * w;
      }
      const float inv = l > 0 ? 1.0f / l : 0.0f;
      for (int d = 0; d < hd; ++d) o[d] *= inv;
    }
  }
}

void attention(const AttentionArgs& a, ThreadPool& pool) {
  if (a.nq <= 0) return;
  check_kv_type(a);
  static const bool use_gemm = !std::getenv("EDGEVL_NO_GEMM");
  if (a.nq >= kGemmMinRows)
    attention_tiled(a, pool, use_gemm);
  else
    attention_rows(a, pool, use_gemm);
}

namespace {

// Per-thread state of one (head, query tile): running max m, sum l and output acc.
// kb, vb: the key tile's f16 keys and values of one head widened to f32 ([kt][head_dim]).
struct TileState {
  std::vector<float> s, acc, m, l, kb, vb;
  TileState(int hd, bool f16)
      : s(kAttentionTileQ * kAttentionTileK), acc(kAttentionTileQ * hd), m(kAttentionTileQ), l(kAttentionTileQ),
        kb(f16 ? kAttentionTileK * hd : 0), vb(kb.size()) {}
};

void attend_tile(const AttentionArgs& a, int h, int64_t i0, TileState& st, bool blas, const DotTable& t) {
  const DotFn dot = t.f32;
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
    const float* k = reinterpret_cast<const float*>(kv_row(a, a.k, j0, int64_t(kvh) * hd));
    const float* v = reinterpret_cast<const float*>(kv_row(a, a.v, j0, int64_t(kvh) * hd));
    int64_t kvs = a.kv_stride;
    if (a.kv_type == DType::F16) {  // widened once per tile, then the f32 path below
      widen_kv(a, t, kvh, j0, kt, st.kb.data(), st.vb.data());
      k = st.kb.data();
      v = st.vb.data();
      kvs = hd;
    }
    float* s = st.s.data();  // [qt][kt]
    if (!blas || !sgemm_tile(true, qt, kt, hd, a.scale, q, a.q_stride, k, kvs, 0.0f, s, kt)) {
      blas = false;
      for (int64_t r = 0; r < qt; ++r)
        for (int64_t j = 0; j < kt; ++j)
          s[r * kt + j] = dot(q + r * a.q_stride, reinterpret_cast<const uint8_t*>(k + j * kvs), hd) * a.scale;
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
          const float* vr = v + j * kvs;
          for (int d = 0; d < hd; ++d) acc[d] += p * vr[d];
        }
    }
    if (blas) sgemm_tile(false, qt, hd, kt, 1.0f, s, kt, v, kvs, 1.0f, st.acc.data(), hd);
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
  check_kv_type(a);
  const bool blas = use_gemm;
  const DotTable& t = dot_table_best();
  const int64_t q_tiles = (a.nq + kAttentionTileQ - 1) / kAttentionTileQ;
  const int64_t tasks = q_tiles * a.n_head;
  // Tasks handed out on demand: causal tiles differ in cost, and a preempted thread takes fewer.
  std::atomic<int64_t> next{0};
  pool.share([&](int, int) {
    TileState st(a.head_dim, a.kv_type == DType::F16);
    for (int64_t x; (x = next.fetch_add(1, std::memory_order_relaxed)) < tasks;)
      attend_tile(a, static_cast<int>(x % a.n_head), (x / a.n_head) * kAttentionTileQ, st, blas, t);
  });
}

void attention_reference(const AttentionArgs& a) {
  check_kv_type(a);
  auto kv = [&](const void* base, int64_t j, int64_t e) -> double {
    const uint8_t* p = kv_row(a, base, j, e);
    if (a.kv_type == DType::F16) return f16_at(p);
    float f;
    std::memcpy(&f, p, 4);
    return f;
  };
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
        double d = 0;
        for (int x = 0; x < hd; ++x) d += static_cast<double>(q[x]) * kv(a.k, j, int64_t(kvh) * hd + x);
        s[j] = d * a.scale;
        mx = std::max(mx, s[j]);
      }
      double sum = 0;
      for (int64_t j = 0; j < nvis; ++j) sum += (s[j] = std::exp(s[j] - mx));
      float* o = a.out + i * a.out_stride + h * hd;
      for (int d = 0; d < hd; ++d) {
        double acc = 0;
        for (int64_t j = 0; j < nvis; ++j) acc += s[j] / sum * kv(a.v, j, int64_t(kvh) * hd + d);
        o[d] = static_cast<float>(acc);
      }
    }
  }
}

}  // namespace edgevl
