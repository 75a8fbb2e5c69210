// Element types of stored tensors. Block-quantized types (Q8_0, Q4_0) follow llama.cpp's
// GGML block layouts so GGUF files interoperate.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace edgevl {

enum class DType : uint8_t { F32, F16, BF16, Q8_0, Q4_0, I8, I16, I32, I64, U8 };

const char* dtype_name(DType t);
// Elements per block (1 for plain types) and bytes per block.
int dtype_block_size(DType t);
size_t dtype_block_bytes(DType t);
// Bytes for a row of n elements; n must be a multiple of the block size.
size_t dtype_row_bytes(DType t, int64_t n);
bool dtype_is_float(DType t);  // F32/F16/BF16

}  // namespace edgevl
