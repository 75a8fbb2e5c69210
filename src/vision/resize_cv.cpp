// OpenCV-exact bilinear resize (cv2.resize INTER_LINEAR, CV_8UC3) and the rknn-llm
// demo's expand2square padding: together, the on-device 392x392 convention.
//
// Facts from OpenCV 4.x modules/imgproc/src/resize.cpp, re-implemented here:
//  - equal sizes: plain copy. scale = 1 / (dst/src) in double; if both scales are
//    within DBL_EPSILON of the integer 2, INTER_LINEAR is switched to INTER_AREA, whose
//    2x fast path averages 2x2 blocks as (a + b + c + d + 2) >> 2.
//  - otherwise, per output coordinate: f = (float)((d + 0.5) * scale - 0.5), i =
//    floor(f), f -= i. Columns outside the image are clamped with the fraction forced to
//    0; rows use the unclamped fraction on clamped row indices. Weights are
//    saturate_cast<short>(w * 2048) (round half to even) for (1 - f) and f.
//  - horizontal pass: exact int32 sums S[i]*a0 + S[i+1]*a1 (scale 2^11).
//  - vertical pass: the scalar code computes (S0*b0 + S1*b1 + 2^21) >> 22, but the SIMD
//    kernel (VResizeLinearVec_32s8u), which handles all but the row tail, computes
//    ((S0 >> 4) * b0 >> 16) + ((S1 >> 4) * b1 >> 16), then (+ 2) >> 2 with unsigned
//    saturation. The two differ by one now and then, so we reproduce both, split as
//    128-bit SIMD splits a row (16 bytes at a time, then 8, then scalar): that is the
//    build the x86-64 reference fixtures came from (SSE baseline, no IPP).
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "vision/resize.h"

namespace edgevl {

namespace {

constexpr int kCoefBits = 11;
constexpr int kCoefScale = 1 << kCoefBits;
constexpr int kSimdBytes = 16;  // 128-bit universal intrinsics (SSE2/NEON builds)

inline int16_t round_to_short(float v) {  // saturate_cast<short>(float): rint + clamp
  long r = std::lrint(v);
  return static_cast<int16_t>(std::min(32767L, std::max(-32768L, r)));
}

inline uint8_t sat_u8(int v) { return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v)); }

ImageU8 area_2x(const ImageU8& src, int out_w, int out_h) {
  ImageU8 dst;
  dst.width = out_w;
  dst.height = out_h;
  dst.rgb.resize(static_cast<size_t>(out_w) * out_h * 3);
  const size_t ss = static_cast<size_t>(src.width) * 3;
  for (int y = 0; y < out_h; ++y) {
    const uint8_t* r0 = src.rgb.data() + 2 * y * ss;
    const uint8_t* r1 = r0 + ss;
    uint8_t* d = dst.rgb.data() + static_cast<size_t>(y) * out_w * 3;
    for (int x = 0; x < out_w; ++x)
      for (int c = 0; c < 3; ++c) {
        const size_t i = static_cast<size_t>(x) * 6 + c;
        d[3 * x + c] = static_cast<uint8_t>((r0[i] + r0[i + 3] + r1[i] + r1[i + 3] + 2) >> 2);
      }
  }
  return dst;
}

}  // namespace

ImageU8 resize_linear_cv(const ImageU8& src, int out_w, int out_h) {
  check_image(src, "resize_linear_cv");
  if (out_w <= 0 || out_h <= 0)
    fail(ErrorCode::kInvalidArgument, "resize_linear_cv: bad output size " +
                                          std::to_string(out_w) + "x" + std::to_string(out_h));
  if (out_w == src.width && out_h == src.height) return src;

  const double scale_x = 1.0 / (static_cast<double>(out_w) / src.width);
  const double scale_y = 1.0 / (static_cast<double>(out_h) / src.height);
  if (std::fabs(scale_x - 2.0) < DBL_EPSILON && std::fabs(scale_y - 2.0) < DBL_EPSILON)
    return area_2x(src, out_w, out_h);

  const int sw = src.width, sh = src.height;
  // Column taps, per output pixel (the 3 channels share them).
  std::vector<int> xofs(out_w);
  std::vector<int16_t> alpha(static_cast<size_t>(out_w) * 2);
  for (int dx = 0; dx < out_w; ++dx) {
    float fx = static_cast<float>((dx + 0.5) * scale_x - 0.5);
    int sx = static_cast<int>(std::floor(fx));
    fx -= static_cast<float>(sx);
    if (sx < 0) fx = 0.f, sx = 0;
    if (sx >= sw - 1) fx = 0.f, sx = sw - 1;
    xofs[dx] = sx;
    alpha[2 * dx] = round_to_short((1.f - fx) * kCoefScale);
    alpha[2 * dx + 1] = round_to_short(fx * kCoefScale);
  }

  const size_t ow3 = static_cast<size_t>(out_w) * 3;
  // Horizontal pass of one source row into int32 (scale 2^11).
  auto hpass = [&](int y, int32_t* d) {
    const uint8_t* s = src.rgb.data() + static_cast<size_t>(y) * sw * 3;
    for (int dx = 0; dx < out_w; ++dx) {
      const uint8_t* p = s + static_cast<size_t>(xofs[dx]) * 3;
      const int a0 = alpha[2 * dx], a1 = alpha[2 * dx + 1];
      if (xofs[dx] + 1 < sw) {
        for (int c = 0; c < 3; ++c) d[3 * dx + c] = p[c] * a0 + p[c + 3] * a1;
      } else {  // last column: a1 is 0 and there is no right neighbour to read
        for (int c = 0; c < 3; ++c) d[3 * dx + c] = p[c] * a0;
      }
    }
  };

  // Where the SIMD kernel stops and scalar code takes the row tail.
  size_t simd_end = ow3 / kSimdBytes * kSimdBytes;
  if (ow3 - simd_end >= kSimdBytes / 2) simd_end += kSimdBytes / 2;

  ImageU8 dst;
  dst.width = out_w;
  dst.height = out_h;
  dst.rgb.resize(ow3 * out_h);
  std::vector<int32_t> buf0(ow3), buf1(ow3);
  int have0 = -1, have1 = -1;  // source rows held in buf0 / buf1
  for (int dy = 0; dy < out_h; ++dy) {
    float fy = static_cast<float>((dy + 0.5) * scale_y - 0.5);
    const int sy = static_cast<int>(std::floor(fy));
    fy -= static_cast<float>(sy);
    const int b0 = round_to_short((1.f - fy) * kCoefScale);
    const int b1 = round_to_short(fy * kCoefScale);
    const int y0 = std::min(std::max(sy, 0), sh - 1);
    const int y1 = std::min(std::max(sy + 1, 0), sh - 1);
    // Rows advance monotonically: reuse what the previous output row computed.
    if (have0 != y0) {
      if (have1 == y0) {
        std::swap(buf0, buf1);
        std::swap(have0, have1);
      } else {
        hpass(y0, buf0.data());
        have0 = y0;
      }
    }
    if (have1 != y1) {
      if (y1 == have0) {
        buf1 = buf0;
      } else {
        hpass(y1, buf1.data());
      }
      have1 = y1;
    }
    const int32_t* s0 = buf0.data();
    const int32_t* s1 = buf1.data();
    uint8_t* d = dst.rgb.data() + static_cast<size_t>(dy) * ow3;
    for (size_t x = 0; x < simd_end; ++x) {
      const int v = (((s0[x] >> 4) * b0) >> 16) + (((s1[x] >> 4) * b1) >> 16);
      d[x] = sat_u8((v + 2) >> 2);
    }
    for (size_t x = simd_end; x < ow3; ++x)
      d[x] = sat_u8((s0[x] * b0 + s1[x] * b1 + (1 << (2 * kCoefBits - 1))) >> (2 * kCoefBits));
  }
  return dst;
}

ImageU8 pad_to_square(const ImageU8& src, uint8_t fill) {
  check_image(src, "pad_to_square");
  const int s = std::max(src.width, src.height);
  ImageU8 dst;
  dst.width = dst.height = s;
  dst.rgb.assign(static_cast<size_t>(s) * s * 3, fill);
  const int ox = (s - src.width) / 2, oy = (s - src.height) / 2;
  const size_t row = static_cast<size_t>(src.width) * 3;
  for (int y = 0; y < src.height; ++y)
    std::memcpy(dst.rgb.data() + (static_cast<size_t>(y + oy) * s + ox) * 3,
                src.rgb.data() + y * row, row);
  return dst;
}

}  // namespace edgevl
