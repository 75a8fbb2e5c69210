#include "core/dtype.h"

#include "core/error.h"

namespace edgevl {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "f32";
    case DType::F16: return "f16";
    case DType::BF16: return "bf16";
    case DType::Q8_0: return "q8_0";
    case DType::Q4_0: return "q4_0";
    case DType::I8: return "i8";
    case DType::I16: return "i16";
    case DType::I32: return "i32";
    case DType::I64: return "i64";
    case DType::U8: return "u8";
    case DType::Q4_1: return "q4_1";
    case DType::Q5_0: return "q5_0";
    case DType::Q5_1: return "q5_1";
    case DType::Q2_K: return "q2_K";
    case DType::Q3_K: return "q3_K";
    case DType::Q4_K: return "q4_K";
    case DType::Q5_K: return "q5_K";
    case DType::Q6_K: return "q6_K";
  }
  return "?";
}

int dtype_block_size(DType t) {
  switch (t) {
    case DType::Q8_0: case DType::Q4_0: case DType::Q4_1: case DType::Q5_0: case DType::Q5_1: return 32;
    case DType::Q2_K: case DType::Q3_K: case DType::Q4_K: case DType::Q5_K: case DType::Q6_K: return 256;
    default: return 1;
  }
}

size_t dtype_block_bytes(DType t) {
  switch (t) {
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: case DType::I16: return 2;
    case DType::I64: return 8;
    case DType::I8: case DType::U8: return 1;
    case DType::Q8_0: return 2 + 32;       // f16 scale + 32 int8
    case DType::Q4_0: return 2 + 16;       // f16 scale + 32 packed nibbles
    case DType::Q4_1: return 2 + 2 + 16;   // f16 scale, f16 min, nibbles
    case DType::Q5_0: return 2 + 4 + 16;   // f16 scale, 32 high bits, nibbles
    case DType::Q5_1: return 2 + 2 + 4 + 16;
    case DType::Q2_K: return 16 + 64 + 2 + 2;        // ggml-common.h block_q2_K
    case DType::Q3_K: return 32 + 64 + 12 + 2;       // block_q3_K
    case DType::Q4_K: return 2 + 2 + 12 + 128;       // block_q4_K
    case DType::Q5_K: return 2 + 2 + 12 + 32 + 128;  // block_q5_K
    case DType::Q6_K: return 128 + 64 + 16 + 2;      // block_q6_K
  }
  return 0;
}

size_t dtype_row_bytes(DType t, int64_t n) {
  int bs = dtype_block_size(t);
  if (n % bs != 0) fail(ErrorCode::kInvalidArgument, std::string("row of ") + std::to_string(n) + " elements is not a multiple of the " + dtype_name(t) + " block size");
  return static_cast<size_t>(n / bs) * dtype_block_bytes(t);
}

bool dtype_is_block_quant(DType t) { return dtype_block_size(t) > 1; }

bool dtype_is_float(DType t) { return t == DType::F32 || t == DType::F16 || t == DType::BF16; }

}  // namespace edgevl
