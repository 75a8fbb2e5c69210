// Scalar reference for matmul: plain loops, easy to read, the ground truth for tests.
#include <cstring>

#include "core/error.h"
#include "core/fp16.h"
#include "kernels/matmul.h"
#include "kernels/kquant.h"
#include "kernels/quant.h"

namespace edgevl {

void dequantize_row(const WeightMatrix& W, int64_t r, float* out) {
  const uint8_t* p = W.row(r);
  const int64_t K = W.cols;
  switch (W.type) {
    case DType::F32:
      std::memcpy(out, p, K * 4);
      return;
    case DType::F16:
      for (int64_t k = 0; k < K; ++k) {
        uint16_t h;
        std::memcpy(&h, p + 2 * k, 2);
        out[k] = f16_to_f32(h);
      }
      return;
    case DType::BF16:
      for (int64_t k = 0; k < K; ++k) {
        uint16_t h;
        std::memcpy(&h, p + 2 * k, 2);
        out[k] = bf16_to_f32(h);
      }
      return;
    case DType::Q8_0:
      dequantize_q8_0(p, out, K);
      return;
    case DType::Q4_0:
      dequantize_q4_0(p, out, K);
      return;
    case DType::Q4_1: dequantize_q4_1(p, out, K); return;
    case DType::Q5_0: dequantize_q5_0(p, out, K); return;
    case DType::Q5_1: dequantize_q5_1(p, out, K); return;
    case DType::Q2_K: dequantize_q2_k(p, out, K); return;
    case DType::Q3_K: dequantize_q3_k(p, out, K); return;
    case DType::Q4_K: dequantize_q4_k(p, out, K); return;
    case DType::Q5_K: dequantize_q5_k(p, out, K); return;
    case DType::Q6_K: dequantize_q6_k(p, out, K); return;
    default:
      fail(ErrorCode::kUnsupported, std::string("matmul: weight type ") + dtype_name(W.type) + " not supported");
  }
}

float dot_row_reference(const float* x, const WeightMatrix& W, int64_t r) {
  // Convert the row in small chunks so the reference needs no large buffer.
  float buf[256];
  double acc = 0;
  const int64_t K = W.cols;
  if (W.type == DType::F32 || W.type == DType::F16 || W.type == DType::BF16) {
    WeightMatrix one = W;
    for (int64_t k0 = 0; k0 < K; k0 += 256) {
      int64_t n = std::min<int64_t>(256, K - k0);
      one.cols = n;
      one.data = W.row(r) + k0 * dtype_block_bytes(W.type);
      dequantize_row(one, 0, buf);
      for (int64_t k = 0; k < n; ++k) acc += static_cast<double>(x[k0 + k]) * buf[k];
    }
  } else {
    std::unique_ptr<float[]> row(new float[K]);
    dequantize_row(W, r, row.get());
    for (int64_t k = 0; k < K; ++k) acc += static_cast<double>(x[k]) * row[k];
  }
  return static_cast<float>(acc);
}

void matmul_reference(const float* x, int64_t M, const WeightMatrix& W, const float* bias, float* y) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < W.rows; ++n) y[m * W.rows + n] = dot_row_reference(x + m * W.cols, W, n) + (bias ? bias[n] : 0.0f);
}

}  // namespace edgevl
