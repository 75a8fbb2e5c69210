// The x8 packers, the scalar panels (the reference on the packed layout) and the driver
// of the integer prefill GEMM (qgemm.h).
#include "kernels/qgemm.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "core/cpu_features.h"
#include "core/error.h"
#include "core/fp16.h"
#include "kernels/quant.h"
#include "kernels/row_chunks.h"

namespace edgevl {

namespace {

// Writes the Rows f32 scales of block b (zero for padded rows) and returns where the quants go.
template <typename Block, int Rows>
uint8_t* put_scales(const WeightMatrix& W, int64_t n0, int64_t rows, int64_t b, uint8_t* out) {
  float s[Rows] = {};
  for (int64_t i = 0; i < rows; ++i) {
    uint16_t h;
    std::memcpy(&h, W.row(n0 + i) + b * sizeof(Block), 2);
    s[i] = f16_to_f32(h);
  }
  std::memcpy(out, s, sizeof s);
  return out + sizeof s;
}

// Rows weight rows per group, Vectors vectors of Rows x 4 bytes per block; every quant byte is
// XOR-ed with Flip (0x80 turns Q8_0's signed bytes into w + 128). Padded rows: zero quants
// and zero scales, so they add nothing.
template <typename Block, int Vectors, int Rows, uint8_t Flip>
void pack_interleaved(const WeightMatrix& W, int64_t n0, int64_t rows, uint8_t* out) {
  constexpr size_t kVectorBytes = 4 * Rows;
  constexpr size_t kBlockBytes = Rows * sizeof(float) + Vectors * kVectorBytes;
  const int64_t nb = W.cols / kQK;
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* o = put_scales<Block, Rows>(W, n0, rows, b, out + b * kBlockBytes);
    std::memset(o, 0, Vectors * kVectorBytes);
    for (int64_t i = 0; i < rows; ++i) {
      const uint8_t* qs = W.row(n0 + i) + b * sizeof(Block) + 2;
      for (int v = 0; v < Vectors; ++v) {
        uint8_t* dst = o + v * kVectorBytes + 4 * i;
        if constexpr (Flip == 0) {
          std::memcpy(dst, qs + 4 * v, 4);
        } else {
          for (int e = 0; e < 4; ++e) dst[e] = static_cast<uint8_t>(qs[4 * v + e] ^ Flip);
        }
      }
    }
  }
}

// Element e (0..31) of packed row i in one block's quants.
inline int q8_at(const uint8_t* qv, int i, int e) { return static_cast<int8_t>(qv[(e / 4) * 32 + 4 * i + e % 4]); }
inline int q4_at(const uint8_t* qv, int i, int e) {
  const uint8_t byte = qv[((e % 16) / 4) * 32 + 4 * i + e % 4];
  return (e < 16 ? byte & 0x0f : byte >> 4) - 8;
}

// out = Σ_b (d_w·d_x)·Σ w·q over the blocks, in the reference's order and expressions.
template <int (*At)(const uint8_t*, int, int), size_t BlockBytes>
void panel_scalar(const uint8_t* g, int64_t nb, const QGemmActs& a, int64_t m, const float* bias, float* y, int64_t ldy, int cols) {
  for (int64_t r = 0; r < m; ++r) {
    const int8_t* q = a.q + r * a.q_stride;
    const float* d = a.d + r * a.d_stride;
    for (int i = 0; i < cols; ++i) {
      float acc = 0;
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk = g + b * BlockBytes;
        float dw;
        std::memcpy(&dw, blk + 4 * i, 4);
        const uint8_t* qv = blk + kX8Rows * sizeof(float);
        int32_t s = 0;
        for (int e = 0; e < kQK; ++e) s += At(qv, i, e) * q[b * kQK + e];
        acc += dw * d[b] * static_cast<float>(s);
      }
      y[r * ldy + i] = acc + (bias ? bias[i] : 0.0f);
    }
  }
}

}  // namespace

void pack_q8_0_x8(const WeightMatrix& W, int64_t n0, int64_t rows, uint8_t* out) {
  pack_interleaved<BlockQ8_0, 8, kX8Rows, 0>(W, n0, rows, out);
}
void pack_q4_0_x8(const WeightMatrix& W, int64_t n0, int64_t rows, uint8_t* out) {
  pack_interleaved<BlockQ4_0, 4, kX8Rows, 0>(W, n0, rows, out);
}
void pack_q8_0_x8u(const WeightMatrix& W, int64_t n0, int64_t rows, uint8_t* out) {
  pack_interleaved<BlockQ8_0, 8, kX8Rows, 0x80>(W, n0, rows, out);
}
void pack_q8_0_x16(const WeightMatrix& W, int64_t n0, int64_t rows, uint8_t* out) {
  pack_interleaved<BlockQ8_0, 8, kX16Rows, 0x80>(W, n0, rows, out);
}
void pack_q4_0_x16(const WeightMatrix& W, int64_t n0, int64_t rows, uint8_t* out) {
  pack_interleaved<BlockQ4_0, 4, kX16Rows, 0>(W, n0, rows, out);
}

QGemmKernels QGemmTable::for_type(DType t) const {
  if (t == DType::Q8_0) return q8_0;
  if (t == DType::Q4_0) return q4_0;
  return {};
}

QGemmTable qgemm_table_scalar() {
  QGemmTable t;
  t.q8_0 = {kX8Rows, kX8BlockBytesQ8, pack_q8_0_x8, panel_scalar<q8_at, kX8BlockBytesQ8>};
  t.q4_0 = {kX8Rows, kX8BlockBytesQ4, pack_q4_0_x8, panel_scalar<q4_at, kX8BlockBytesQ4>};
  t.name = "scalar";
  return t;
}

std::vector<QGemmTable> qgemm_tables_available() {
  std::vector<QGemmTable> t = {qgemm_table_scalar()};
#if defined(__x86_64__)
  const auto& f = cpu_features();
  if (f.has_avx2_kernels()) t.push_back(qgemm_table_avx2());
  if (f.has_avxvnni_kernels()) t.push_back(qgemm_table_avxvnni());
  if (f.has_avx512vnni_kernels()) t.push_back(qgemm_table_avx512());
#endif
  return t;
}

const QGemmTable* qgemm_table_best() {
  static const std::vector<QGemmTable> tables = qgemm_tables_available();
  return tables.size() > 1 ? &tables.back() : nullptr;
}

void matmul_qgemm(const QGemmKernels& k, QuantizeActFn quantize, const float* x, int64_t M, const WeightMatrix& W, const float* bias,
                  float* y, ThreadPool* pool) {
  const int64_t N = W.rows, K = W.cols, nb = K / kQK;
  if (!k.panel || K % kQK != 0)
    fail(ErrorCode::kInvalidArgument, std::string("matmul_qgemm: no GEMM for ") + dtype_name(W.type) + " with row length " +
                                          std::to_string(K));

  // Activations, quantized once and shared by every weight row (and thread).
  std::vector<int8_t> aq(static_cast<size_t>(M * K));
  std::vector<float> ad(static_cast<size_t>(M * 2 * nb));
  std::vector<int32_t> as(static_cast<size_t>(M * nb));
  auto quantize_rows = [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      quantize(x + m * K, aq.data() + m * K, ad.data() + m * 2 * nb, K);
      for (int64_t b = 0; b < nb; ++b) {
        int32_t s = 0;
        for (int e = 0; e < kQK; ++e) s += aq[m * K + b * kQK + e];
        as[m * nb + b] = s;
      }
    }
  };
  if (pool && M >= 8)
    pool->parallel_for(M, quantize_rows);
  else
    quantize_rows(0, M);
  QGemmActs acts;
  acts.q_stride = K;
  acts.d_stride = 2 * nb;
  acts.sums_stride = nb;

  const int64_t gr = k.group_rows;
  const size_t group_bytes = k.group_block_bytes * static_cast<size_t>(nb);
  // Weight rows packed at a time: about 64 KiB of packed groups, so they stay in L2 while
  // every block of activation rows passes over them.
  const int64_t pack_groups = std::max<int64_t>(1, static_cast<int64_t>((64 * 1024) / group_bytes));
  // Activation rows per pass: a block that stays in L2 (256 KiB) while the packed groups
  // pass over it.
  const int64_t mb = std::max<int64_t>(4, std::min<int64_t>(M, (256 * 1024) / K));
  for_row_chunks(pool, N, gr, [&](int64_t n0, int64_t n1) {
    std::vector<uint8_t> packed;
    for (int64_t s0 = n0; s0 < n1; s0 += pack_groups * gr) {
      const int64_t s1 = std::min(n1, s0 + pack_groups * gr);
      const int64_t groups = (s1 - s0 + gr - 1) / gr;
      packed.resize(groups * group_bytes);
      for (int64_t g = 0; g < groups; ++g) k.pack(W, s0 + g * gr, std::min(gr, s1 - s0 - g * gr), packed.data() + g * group_bytes);
      for (int64_t m0 = 0; m0 < M; m0 += mb) {
        const int64_t m = std::min(mb, M - m0);
        QGemmActs a = acts;
        a.q = aq.data() + m0 * K;
        a.d = ad.data() + m0 * 2 * nb;
        a.sums = as.data() + m0 * nb;
        for (int64_t g = 0; g < groups; ++g) {
          const int64_t n = s0 + g * gr;
          k.panel(packed.data() + g * group_bytes, nb, a, m, bias ? bias + n : nullptr, y + m0 * N + n, N,
                  static_cast<int>(std::min(gr, s1 - n)));
        }
      }
    }
  });
}

}  // namespace edgevl
