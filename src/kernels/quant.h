// GGML block quantization formats (llama.cpp-compatible layouts), reference code.
//   Q8_0: 32 values -> f16 scale d + 32 int8 q;      x = d * q
//   Q4_0: 32 values -> f16 scale d + 16 bytes nibbles; x = d * (q - 8),
//         byte j holds element j (low nibble) and element j+16 (high nibble).
//   Q4_1: f16 d, f16 m + nibbles as Q4_0;              x = d * q + m
//   Q5_0: f16 d, 32 high bits qh, nibbles as Q4_0;     x = d * (q - 16), bit e of qh is element e's bit 4
//   Q5_1: f16 d, f16 m, qh, nibbles;                   x = d * q + m
// (ggml-common.h / ggml-quants.c; the k-quants with super-blocks of 256 are in kquant.h.)
#pragma once
#include <cstdint>

namespace edgevl {

constexpr int kQK = 32;  // elements per block for Q8_0 and Q4_0

struct BlockQ8_0 {
  uint16_t d;  // f16
  int8_t qs[kQK];
};
struct BlockQ4_0 {
  uint16_t d;  // f16
  uint8_t qs[kQK / 2];
};
struct BlockQ4_1 {
  uint16_t d, m;  // f16
  uint8_t qs[kQK / 2];
};
struct BlockQ5_0 {
  uint16_t d;  // f16
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
struct BlockQ5_1 {
  uint16_t d, m;  // f16
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22 && sizeof(BlockQ5_1) == 24, "ggml block sizes");
static_assert(sizeof(BlockQ8_0) == 34, "Q8_0 block must be 34 bytes");
static_assert(sizeof(BlockQ4_0) == 18, "Q4_0 block must be 18 bytes");

// n must be a multiple of 32. Rounding follows llama.cpp's reference quantizers.
void quantize_q8_0(const float* x, void* out, int64_t n);
void quantize_q4_0(const float* x, void* out, int64_t n);
void dequantize_q8_0(const void* in, float* out, int64_t n);
void dequantize_q4_0(const void* in, float* out, int64_t n);
// Dequantization with ggml's exact float expressions (bit-identical results,
// tests/data/kquants); quantizers with ggml's reference rounding (q5_0 is what
// llama-quantize falls back to for rows that are not a multiple of 256).
void dequantize_q4_1(const void* in, float* out, int64_t n);
void dequantize_q5_0(const void* in, float* out, int64_t n);
void dequantize_q5_1(const void* in, float* out, int64_t n);
void quantize_q4_1(const float* x, void* out, int64_t n);
void quantize_q5_0(const float* x, void* out, int64_t n);
void quantize_q5_1(const float* x, void* out, int64_t n);

}  // namespace edgevl
