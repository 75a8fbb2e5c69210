// ggml's k-quant block formats: super-blocks of 256 values (kQK_K) split into sub-blocks
// of 32 or 16, each with a small integer scale (and min) relative to one or two f16
// super-block scales. Layouts from ggml-common.h, dequantization arithmetic from
// ggml-quants.c (dequantize_row_q*_K): our results are bit-identical to ggml's on the
// vectors in tests/data/kquants.
//
//   Q4_K: d, dmin (f16), scales[12] = 8 six-bit scales + 8 six-bit mins, qs[128] nibbles.
//         Chunk c of 64 values: byte qs[32c + l] holds value 64c + l (low nibble, sub-block
//         2c) and 64c + 32 + l (high nibble, sub-block 2c + 1). x = d·sc·q - dmin·m.
//   Q5_K: as Q4_K plus qh[32]: bit 2c of qh[l] is value 64c + l's bit 4, bit 2c + 1 that
//         of 64c + 32 + l.
//   Q6_K: ql[128] low nibbles, qh[64] high 2 bits, int8 scales[16] (one per 16 values), d.
//         Half h (128 values) uses ql[64h..], qh[32h..]: value 128h + 32i + l (i = 0..3,
//         l = 0..31) is nibble (i & 1 ? ql[32 + l] : ql[l]) (high if i >= 2) with bits
//         2i..2i+1 of qh[l] on top, minus 32. x = d·sc·q.
//   Q2_K: scales[16] (low nibble scale, high nibble min), qs[64] 2-bit values, d, dmin.
//   Q3_K: hmask[32] (bit 3 of each value, inverted offset), qs[64] 2-bit values, scales[12]
//         (16 six-bit scales, offset 32), d.
#pragma once
#include <cstdint>

#include "core/dtype.h"

namespace edgevl {

constexpr int kQK_K = 256;

struct BlockQ4_K {
  uint16_t d, dmin;  // f16
  uint8_t scales[12];
  uint8_t qs[kQK_K / 2];
};
struct BlockQ5_K {
  uint16_t d, dmin;  // f16
  uint8_t scales[12];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;  // f16
};
struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];
  uint8_t qs[kQK_K / 4];
  uint16_t d, dmin;  // f16
};
struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];
  uint8_t qs[kQK_K / 4];
  uint8_t scales[12];
  uint16_t d;  // f16
};
static_assert(sizeof(BlockQ4_K) == 144 && sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210, "ggml k-quant sizes");
static_assert(sizeof(BlockQ2_K) == 84 && sizeof(BlockQ3_K) == 110, "ggml k-quant sizes");

// n must be a multiple of 256.
void dequantize_q2_k(const void* in, float* out, int64_t n);
void dequantize_q3_k(const void* in, float* out, int64_t n);
void dequantize_q4_k(const void* in, float* out, int64_t n);
void dequantize_q5_k(const void* in, float* out, int64_t n);
void dequantize_q6_k(const void* in, float* out, int64_t n);

// Our quantizers (not ggml's): per sub-block, the scale (and for Q4_K/Q5_K the min) that
// spans the sub-block's range, then the 6/8-bit scales relative to the super-block's
// largest, then each value rounded to nearest with the stored (f16-rounded) scales, and
// one refinement pass per sub-block that tries a few nearby scales and keeps the one of
// least squared error. Simpler than ggml's iterative search (make_qkx2_quants), same format.
void quantize_q4_k(const float* x, void* out, int64_t n);
void quantize_q5_k(const float* x, void* out, int64_t n);
void quantize_q6_k(const float* x, void* out, int64_t n);

// Quantizes n values (a multiple of the block size) to any block type edgevl writes: q8_0,
// q4_0, q4_1, q5_0, q5_1, q4_K, q5_K, q6_K. Throws kUnsupported for others (q2_K, q3_K).
void quantize_blocks(DType t, const float* x, void* out, int64_t n);

// The unpacked form the scalar dot reference works on, for any block type: 32 values as
// int8 q with one (scale, bias) per 16, x = scale·q + bias (up to float rounding; the
// exact values are the dequantize_* functions'). block points at the block holding
// values [32·sub, 32·sub + 32) of a row, sub counted within that block.
struct Unpacked32 {
  int8_t q[32];
  float scale[2];
  float bias[2];
};
enum class QKind : uint8_t { Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K };
// Unpacks the 32 values [32·j, 32·j + 32) of a row of kind k starting at row.
void unpack32(QKind k, const uint8_t* row, int64_t j, Unpacked32* out);

}  // namespace edgevl
