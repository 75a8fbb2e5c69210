// Pillow-exact bicubic resize (Image.resize(size, BICUBIC) on an RGB image).
//
// Facts from Pillow's src/libImaging/Resample.c (9.x), re-implemented here:
//  - bicubic kernel with a = -0.5, support 2. When downscaling, the support is
//    multiplied by the scale and the kernel argument divided by it (antialiasing).
//  - per output pixel: centre = (i + 0.5) * scale; taps from (int)(centre - support +
//    0.5) (C truncation, then clamped to 0) to (int)(centre + support + 0.5) (clamped to
//    the input size); weights k(x + xmin - centre + 0.5) normalised to sum 1 in double.
//  - weights become integers with PRECISION_BITS = 32 - 8 - 2 = 22, rounded half away
//    from zero; accumulation is int32 starting at 1 << 21; the result is the arithmetic
//    shift >> 22 clamped to [0, 255] (Pillow's clip8 lookup table).
//  - two passes, horizontal first, into a uint8 image holding only the source rows the
//    vertical pass will read; a pass whose size does not change is skipped entirely.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "vision/resize.h"

namespace edgevl {

namespace {

constexpr int kPrecisionBits = 22;

double bicubic(double x) {
  const double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// One pass's filter: for output i, taps first[i] .. first[i]+count[i]-1 of the input,
// with integer weights w[i*ksize ..].
struct Taps {
  int ksize = 0;
  std::vector<int> first, count;
  std::vector<int32_t> w;
};

Taps precompute(int in_size, int out_size) {
  Taps t;
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = 2.0 * filterscale;
  t.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  t.first.resize(out_size);
  t.count.resize(out_size);
  t.w.assign(static_cast<size_t>(out_size) * t.ksize, 0);
  std::vector<double> k(t.ksize);
  const double ss = 1.0 / filterscale;
  for (int i = 0; i < out_size; ++i) {
    const double center = (i + 0.5) * scale;
    int lo = static_cast<int>(center - support + 0.5);
    if (lo < 0) lo = 0;
    int hi = static_cast<int>(center + support + 0.5);
    if (hi > in_size) hi = in_size;
    const int n = hi - lo;
    double sum = 0.0;
    for (int x = 0; x < n; ++x) {
      k[x] = bicubic((x + lo - center + 0.5) * ss);
      sum += k[x];
    }
    int32_t* w = &t.w[static_cast<size_t>(i) * t.ksize];
    for (int x = 0; x < n; ++x) {
      const double v = sum != 0.0 ? k[x] / sum : k[x];
      w[x] = v < 0 ? static_cast<int32_t>(-0.5 + v * (1 << kPrecisionBits))
                   : static_cast<int32_t>(0.5 + v * (1 << kPrecisionBits));
    }
    t.first[i] = lo;
    t.count[i] = n;
  }
  return t;
}

inline uint8_t clip8(int32_t v) {
  v >>= kPrecisionBits;  // arithmetic shift (floor), as Pillow's lookup index
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// Horizontal pass, rows [row0, row1) of src into out ((row1-row0) rows of out_w).
// Taps along a row are 3 bytes apart and start at a different place for every output
// pixel, so this stays scalar; two rows share each pixel's weights per sweep, which
// gives six independent sums per tap.
void horizontal(const ImageU8& src, int row0, int row1, int out_w, std::vector<uint8_t>* out) {
  const Taps t = precompute(src.width, out_w);
  const size_t in_stride = static_cast<size_t>(src.width) * 3;
  const size_t out_stride = static_cast<size_t>(out_w) * 3;
  out->resize(static_cast<size_t>(row1 - row0) * out_stride);
  constexpr int32_t kHalf = 1 << (kPrecisionBits - 1);
  int y = row0;
  for (; y + 2 <= row1; y += 2) {
    const uint8_t* s0 = src.rgb.data() + y * in_stride;
    const uint8_t* s1 = s0 + in_stride;
    uint8_t* d0 = out->data() + (y - row0) * out_stride;
    uint8_t* d1 = d0 + out_stride;
    for (int i = 0; i < out_w; ++i) {
      const int32_t* w = &t.w[static_cast<size_t>(i) * t.ksize];
      const uint8_t* p = s0 + static_cast<size_t>(t.first[i]) * 3;
      const uint8_t* q = s1 + static_cast<size_t>(t.first[i]) * 3;
      int32_t r0 = kHalf, g0 = kHalf, b0 = kHalf, r1 = kHalf, g1 = kHalf, b1 = kHalf;
      for (int x = 0, n = t.count[i]; x < n; ++x, p += 3, q += 3) {
        const int32_t wx = w[x];
        r0 += p[0] * wx;
        g0 += p[1] * wx;
        b0 += p[2] * wx;
        r1 += q[0] * wx;
        g1 += q[1] * wx;
        b1 += q[2] * wx;
      }
      d0[3 * i + 0] = clip8(r0);
      d0[3 * i + 1] = clip8(g0);
      d0[3 * i + 2] = clip8(b0);
      d1[3 * i + 0] = clip8(r1);
      d1[3 * i + 1] = clip8(g1);
      d1[3 * i + 2] = clip8(b1);
    }
  }
  for (; y < row1; ++y) {  // odd row count: the last row alone
    const uint8_t* s0 = src.rgb.data() + y * in_stride;
    uint8_t* d0 = out->data() + (y - row0) * out_stride;
    for (int i = 0; i < out_w; ++i) {
      const int32_t* w = &t.w[static_cast<size_t>(i) * t.ksize];
      const uint8_t* p = s0 + static_cast<size_t>(t.first[i]) * 3;
      int32_t r0 = kHalf, g0 = kHalf, b0 = kHalf;
      for (int x = 0, n = t.count[i]; x < n; ++x, p += 3) {
        r0 += p[0] * w[x];
        g0 += p[1] * w[x];
        b0 += p[2] * w[x];
      }
      d0[3 * i + 0] = clip8(r0);
      d0[3 * i + 1] = clip8(g0);
      d0[3 * i + 2] = clip8(b0);
    }
  }
}

// Vertical pass over whole rows: each output row is a weighted sum of a few input
// rows, so the inner loop runs over contiguous bytes and vectorises (32-bit
// multiply-accumulate: native on NEON, emulated on baseline SSE2). Up to 8 taps are
// summed in one sweep straight to the output; longer filters (strong downscales)
// accumulate 8 taps per sweep in an int32 row first.
template <int N>
void vsum_out(const uint8_t* const* rows, const int32_t* w, size_t len, uint8_t* out) {
  int32_t wk[N];
  const uint8_t* r[N];
  for (int k = 0; k < N; ++k) wk[k] = w[k], r[k] = rows[k];
  for (size_t i = 0; i < len; ++i) {
    int32_t a = 1 << (kPrecisionBits - 1);
    for (int k = 0; k < N; ++k) a += r[k][i] * wk[k];
    out[i] = clip8(a);
  }
}

// Long filters: acc (already holding earlier taps, or the rounding bias) += 8 taps.
void vsum_acc8(const uint8_t* const* rows, const int32_t* w, size_t len, int32_t* acc) {
  for (size_t i = 0; i < len; ++i) {
    int32_t a = acc[i];
    for (int k = 0; k < 8; ++k) a += rows[k][i] * w[k];
    acc[i] = a;
  }
}

void vsum(const uint8_t* const* rows, const int32_t* w, int n, size_t len, uint8_t* out) {
  switch (n) {
    case 1: return vsum_out<1>(rows, w, len, out);
    case 2: return vsum_out<2>(rows, w, len, out);
    case 3: return vsum_out<3>(rows, w, len, out);
    case 4: return vsum_out<4>(rows, w, len, out);
    case 5: return vsum_out<5>(rows, w, len, out);
    case 6: return vsum_out<6>(rows, w, len, out);
    case 7: return vsum_out<7>(rows, w, len, out);
    default: return vsum_out<8>(rows, w, len, out);
  }
}

void vertical(const uint8_t* in, int width, const Taps& t, int row_offset, int out_h,
              uint8_t* out) {
  const size_t stride = static_cast<size_t>(width) * 3;
  std::vector<int32_t> acc;
  std::vector<const uint8_t*> rows(t.ksize);
  for (int o = 0; o < out_h; ++o) {
    const int32_t* w = &t.w[static_cast<size_t>(o) * t.ksize];
    const int n = t.count[o];
    for (int y = 0; y < n; ++y)
      rows[y] = in + static_cast<size_t>(t.first[o] + y - row_offset) * stride;
    uint8_t* d = out + static_cast<size_t>(o) * stride;
    if (n <= 8) {
      vsum(rows.data(), w, n, stride, d);
      continue;
    }
    acc.assign(stride, 1 << (kPrecisionBits - 1));
    int y = 0;
    for (; y + 8 <= n; y += 8) vsum_acc8(rows.data() + y, w + y, stride, acc.data());
    for (size_t i = 0; i < stride; ++i) {
      int32_t a = acc[i];
      for (int k = y; k < n; ++k) a += rows[k][i] * w[k];
      d[i] = clip8(a);
    }
  }
}

}  // namespace

ImageU8 resize_bicubic_pil(const ImageU8& src, int out_w, int out_h) {
  check_image(src, "resize_bicubic_pil");
  if (out_w <= 0 || out_h <= 0)
    fail(ErrorCode::kInvalidArgument, "resize_bicubic_pil: bad output size " +
                                          std::to_string(out_w) + "x" + std::to_string(out_h));
  if (out_w == src.width && out_h == src.height) return src;  // Pillow returns a copy

  ImageU8 dst;
  dst.width = out_w;
  dst.height = out_h;
  if (out_h == src.height) {  // horizontal only
    horizontal(src, 0, src.height, out_w, &dst.rgb);
    return dst;
  }
  dst.rgb.resize(static_cast<size_t>(out_w) * out_h * 3);
  const Taps tv = precompute(src.height, out_h);
  if (out_w == src.width) {  // vertical only
    vertical(src.rgb.data(), src.width, tv, 0, out_h, dst.rgb.data());
    return dst;
  }
  // Only rows first[0] .. first[last]+count[last] feed the vertical pass.
  const int row0 = tv.first[0];
  const int row1 = tv.first[out_h - 1] + tv.count[out_h - 1];
  std::vector<uint8_t> tmp;
  horizontal(src, row0, row1, out_w, &tmp);
  vertical(tmp.data(), out_w, tv, row0, out_h, dst.rgb.data());
  return dst;
}

}  // namespace edgevl
