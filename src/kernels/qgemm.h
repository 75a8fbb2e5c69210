// Prefill on Q8_0 / Q4_0 weights as an integer GEMM: y[M][N] = x[M][K] · W[N][K]ᵀ with the
// activations quantized once to int8 blocks (qdot.h, the same bytes as for decode) and the
// weights repacked, per call and a few rows at a time, into groups whose vector lanes are
// different weight rows. A micro-kernel then computes a tile of activation rows x one group
// in registers: every weight vector loaded serves all activation rows of the tile, and the
// per-block scale is one f32 FMA for the whole group instead of one per output.
//
// Packed layout "x8" (the scalar and AVX2 kernels): groups of 8 weight rows (a short last
// group is padded with zero rows); per 32-element block, 8 f32 row scales, then the quants
// as 32-byte vectors whose 4-byte lane i holds 4 consecutive bytes of row i:
//   Q8_0: 8 vectors, vector j = bytes qs[4j, 4j+4) of each row (elements 4j..4j+3).
//   Q4_0: 4 vectors, vector c = bytes qs[4c, 4c+4) of each row: the low nibbles are
//         elements 4c..4c+3, the high nibbles elements 16+4c..16+4c+3 (quant.h).
// The VNNI kernels' vpdpbusd multiplies unsigned by signed bytes, so for them Q8_0 quants are
// stored offset by +128 (w ^ 0x80), as the Q4_0 nibbles are by +8, and the kernels subtract
// 128·Σq (resp. 8·Σq) once per block: layout "x8u" is x8 with Q8_0 so flipped (AVX-VNNI),
// layout "x16" the same with 16 rows per group and 64-byte vectors (AVX-512 VNNI).
// The file format is untouched; decode (M = 1) reads the rows as stored.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/qdot.h"
#include "kernels/weight_matrix.h"

namespace edgevl {

// Activation rows [0, m) quantized by QDotTable::quantize: row r's int8 values at
// q + r·q_stride, its block scales at d + r·d_stride, and the integer sum of each block's
// values at sums + r·sums_stride (the Q4_0 kernels subtract 8·sum for the nibble offset).
struct QGemmActs {
  const int8_t* q = nullptr;
  const float* d = nullptr;
  const int32_t* sums = nullptr;
  int64_t q_stride = 0, d_stride = 0, sums_stride = 0;
};

// Packs weight rows [n0, n0 + rows) of W (rows <= group_rows) into one group.
using QGemmPackFn = void (*)(const WeightMatrix& W, int64_t n0, int64_t rows, uint8_t* out);
// One packed group (nb blocks) times activation rows [0, m): y[r·ldy + i] = row i · act r
// (+ bias[i] when bias is set) for i < cols; padded rows are computed and not stored.
using QGemmPanelFn = void (*)(const uint8_t* group, int64_t nb, const QGemmActs& a, int64_t m, const float* bias, float* y,
                              int64_t ldy, int cols);

struct QGemmKernels {
  int group_rows = 0;           // weight rows per packed group
  size_t group_block_bytes = 0;  // bytes of one block of one group
  QGemmPackFn pack = nullptr;
  QGemmPanelFn panel = nullptr;  // null: no GEMM for this type
};

struct QGemmTable {
  QGemmKernels q8_0, q4_0;
  const char* name = "";
  QGemmKernels for_type(DType t) const;  // panel is null for other types
};

// The scalar table computes exactly matmul_quant_reference's sums on the packed layout
// (tests check packing and the driver with it); SIMD tables are chosen at run time.
QGemmTable qgemm_table_scalar();
#if defined(__x86_64__)
QGemmTable qgemm_table_avx2();     // needs avx2+fma+f16c
QGemmTable qgemm_table_avxvnni();  // needs avx2+fma+f16c+avxvnni
QGemmTable qgemm_table_avx512();   // needs avx512f+bw+vl+vnni
#endif
// Every table the running CPU can execute, scalar first.
std::vector<QGemmTable> qgemm_tables_available();
// The fastest table with SIMD kernels, or null when the CPU has none (then matmul keeps
// its other paths).
const QGemmTable* qgemm_table_best();

// The x8 layout's packers (shared by every table that uses it).
void pack_q8_0_x8(const WeightMatrix& W, int64_t n0, int64_t rows, uint8_t* out);
void pack_q4_0_x8(const WeightMatrix& W, int64_t n0, int64_t rows, uint8_t* out);
constexpr int kX8Rows = 8;
constexpr size_t kX8BlockBytesQ8 = 8 * sizeof(float) + 8 * 32;
constexpr size_t kX8BlockBytesQ4 = 8 * sizeof(float) + 8 * 16;
void pack_q8_0_x8u(const WeightMatrix& W, int64_t n0, int64_t rows, uint8_t* out);
// The x16 layout's packers.
void pack_q8_0_x16(const WeightMatrix& W, int64_t n0, int64_t rows, uint8_t* out);
void pack_q4_0_x16(const WeightMatrix& W, int64_t n0, int64_t rows, uint8_t* out);
constexpr int kX16Rows = 16;
constexpr size_t kX16BlockBytesQ8 = 16 * sizeof(float) + 16 * 32;
constexpr size_t kX16BlockBytesQ4 = 16 * sizeof(float) + 16 * 16;

// The whole product with kernels k (W.type is Q8_0 or Q4_0, W.cols a multiple of 32),
// activations quantized with quantize; bias may be null; pool may be null.
void matmul_qgemm(const QGemmKernels& k, QuantizeActFn quantize, const float* x, int64_t M, const WeightMatrix& W, const float* bias,
                  float* y, ThreadPool* pool);

}  // namespace edgevl
