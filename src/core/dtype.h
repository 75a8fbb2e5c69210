// Element types of stored tensors. Block-quantized types (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 in
// blocks of 32; the k-quants Q2_K..Q6_K in super-blocks of 256) follow ggml's block layouts
// (kernels/quant.h, kernels/kquant.h) so GGUF files interoperate.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace edgevl {

enum class DType : uint8_t { F32, F16, BF16, Q8_0, Q4_0, I8, I16, I32, I64, U8, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K };

const char* dtype_name(DType t);
// Elements per block (1 for plain types) and bytes per block.
int dtype_block_size(DType t);
size_t dtype_block_bytes(DType t);
// Bytes for a row of n elements; n must be a multiple of the block size.
size_t dtype_row_bytes(DType t, int64_t n);
bool dtype_is_float(DType t);  // F32/F16/BF16
bool dtype_is_block_quant(DType t);  // Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K..Q6_K

}  // namespace edgevl
