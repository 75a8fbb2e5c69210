// transformers' smart_resize (models/qwen2_vl/image_processing_qwen2_vl.py, 4.50),
// with Python's arithmetic: `/` is double division, round() ties to even (rint under
// the default rounding mode), floor/ceil on doubles.
#include <cmath>
#include <string>

#include "core/error.h"
#include "vision/preprocess.h"

namespace edgevl {

SmartSize smart_resize(int height, int width, int factor, int64_t min_pixels, int64_t max_pixels) {
  const std::string where = "smart_resize(" + std::to_string(height) + "x" +
                            std::to_string(width) + ", factor " + std::to_string(factor) + ")";
  if (factor <= 0) fail(ErrorCode::kInvalidArgument, where + ": factor must be positive");
  if (height < factor || width < factor)
    fail(ErrorCode::kInvalidArgument,
         where + ": height and width must be at least the factor " + std::to_string(factor));
  if (min_pixels <= 0 || max_pixels < min_pixels)
    fail(ErrorCode::kInvalidArgument, where + ": need 0 < min_pixels <= max_pixels, got " +
                                          std::to_string(min_pixels) + ", " +
                                          std::to_string(max_pixels));
  const double h = height, w = width, f = factor;
  if (std::max(h, w) / std::min(h, w) > 200)
    fail(ErrorCode::kInvalidArgument, where + ": absolute aspect ratio must be at most 200");

  int64_t hb = static_cast<int64_t>(std::nearbyint(h / f)) * factor;
  int64_t wb = static_cast<int64_t>(std::nearbyint(w / f)) * factor;
  const double area = static_cast<double>(static_cast<int64_t>(height) * width);
  if (hb * wb > max_pixels) {
    const double beta = std::sqrt(area / static_cast<double>(max_pixels));
    hb = static_cast<int64_t>(std::floor(h / beta / f)) * factor;
    wb = static_cast<int64_t>(std::floor(w / beta / f)) * factor;
    // HF 4.50 could return 0 here for extreme max_pixels; later releases clamp to
    // the factor, which is the only usable answer.
    if (hb < factor) hb = factor;
    if (wb < factor) wb = factor;
  } else if (hb * wb < min_pixels) {
    const double beta = std::sqrt(static_cast<double>(min_pixels) / area);
    hb = static_cast<int64_t>(std::ceil(h * beta / f)) * factor;
    wb = static_cast<int64_t>(std::ceil(w * beta / f)) * factor;
  }
  if (hb > (1 << 30) || wb > (1 << 30))
    fail(ErrorCode::kInvalidArgument, where + ": result too large");
  return SmartSize{static_cast<int>(hb), static_cast<int>(wb)};
}

}  // namespace edgevl
