// Integer dot products for block-quantized weights (Q8_0, Q4_0 and the other ggml types of
// dtype.h: Q4_1, Q5_0, Q5_1, Q2_K..Q6_K), llama.cpp style:
// the f32 activation row is quantized once per matmul to int8 blocks of 32 with an f32
// scale each (round to nearest even of x/d, d = amax/127), then every weight row is dotted
// with it in integer arithmetic, one multiply by d_w·d_x per block.
//
// Variants: scalar (the reference), AVX2 (maddubs), AVX-512 VNNI (vpdpbusd, row dots), NEON (vdotq_s32 with dotprod, plain
// widening multiplies without). matmul.cpp picks one table from the CPU features.
#pragma once
#include <cstdint>
#include <vector>

#include "core/dtype.h"

namespace edgevl {

// x[k] (k a multiple of 32, nb = k/32 blocks) -> q[k] int8 and d[2*nb] floats: d[b] is block
// b's scale and d[nb + b] = d[b] * sum(q of block b), which lets the Q4_0 kernels multiply
// the unsigned nibbles directly and subtract 8·sum once per block. Every variant produces
// exactly the same bytes as quantize_act_reference.
using QuantizeActFn = void (*)(const float* x, int8_t* q, float* d, int64_t k);
// Dot of one weight row (k = 32·nb values of any block type; k-quant rows need k a multiple
// of 256) with one quantized activation row.
using QDotFn = float (*)(const uint8_t* w, const int8_t* q, const float* d, int64_t nb);
// The same weight row against 4 activation rows (q rows q_stride bytes apart, d rows
// d_stride floats apart, d_stride >= 2*nb): one load of each weight block serves four rows (prefill).
using QDot4Fn = void (*)(const uint8_t* w, const int8_t* q, int64_t q_stride, const float* d, int64_t d_stride, int64_t nb,
                         float* out4);

// Two weight rows (w1 = w0 + w_stride bytes) against four activation rows, a register tile:
// every activation block loaded serves two rows and every weight block four (prefill).
// out[i * 4 + j] = row i · activation j.
using QDot2x4Fn = void (*)(const uint8_t* w0, int64_t w_stride, const int8_t* q, int64_t q_stride, const float* d, int64_t d_stride,
                           int64_t nb, float* out8);

// Widens one quantized row of k elements to f32 (exactly the dequantize_* values): the
// panels long prefills hand to sgemm.
using QRowToF32Fn = void (*)(const uint8_t* w, float* out, int64_t k);

// The kernels of one weight type. dot is always set for a supported type; x4, x2x4 and row
// may be null (matmul then uses dot per row, and the scalar dequantizer for panels).
struct QDotKernels {
  QDotFn dot = nullptr;
  QDot4Fn x4 = nullptr;
  QDot2x4Fn x2x4 = nullptr;
  QRowToF32Fn row = nullptr;
};

struct QDotTable {
  QuantizeActFn quantize = nullptr;
  QDotFn q8_0 = nullptr, q4_0 = nullptr;
  QDot4Fn q8_0_x4 = nullptr, q4_0_x4 = nullptr;
  QDot2x4Fn q8_0_2x4 = nullptr, q4_0_2x4 = nullptr;
  QRowToF32Fn q8_0_row = nullptr, q4_0_row = nullptr;
  QDotKernels q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k;
  const char* name = "";

  // Kernels for any block type (Q8_0/Q4_0 gathered from the fields above); all null for a
  // type without integer kernels.
  QDotKernels for_type(DType t) const;
};

void quantize_act_reference(const float* x, int8_t* q, float* d, int64_t k);

QDotTable qdot_table_scalar();
#if defined(__x86_64__)
QDotTable qdot_table_avx2();  // needs avx2+fma+f16c
void add_kquant_kernels_avx2(QDotTable* t);  // the types beyond Q8_0/Q4_0, same requirement
QDotTable qdot_table_avx512();  // the AVX2 table with AVX-512 VNNI Q8_0/Q4_0 row dots; needs avx512f+bw+vl+vnni too
#endif
#if defined(__aarch64__)
QDotTable qdot_table_neon();          // any AArch64 (NEON is baseline)
QDotTable qdot_table_neon_dotprod();  // needs the dotprod extension (ARMv8.2+, e.g. Cortex-A55/A76)
void add_kquant_kernels_neon(QDotTable* t);          // the types beyond Q8_0/Q4_0, any AArch64
void add_kquant_kernels_neon_dotprod(QDotTable* t);  // the same with dotprod
#endif

const QDotTable& qdot_table_best();
// Every table the running CPU can execute, scalar first (for tests and benchmarks).
std::vector<QDotTable> qdot_tables_available();

}  // namespace edgevl
