#include "llm/mrope.h"

#include <cmath>

namespace edgevl {

MRope::MRope(int head_dim, float theta, std::array<int, 3> section, bool interleaved) : head_dim_(head_dim) {
  const int half = head_dim / 2;
  inv_freq_.resize(half);
  axis_.resize(half);
  for (int i = 0; i < half; ++i) {
    // transformers: 1 / base ** (arange(0, dim, 2).float() / dim), all in f32.
    const float expo = static_cast<float>(2 * i) / static_cast<float>(head_dim);
    inv_freq_[i] = 1.0f / std::pow(theta, expo);
    if (interleaved)
      axis_[i] = (i % 3 == 1 && i < 3 * section[1]) ? 1 : (i % 3 == 2 && i < 3 * section[2]) ? 2 : 0;
    else
      axis_[i] = i < section[0] ? 0 : (i < section[0] + section[1] ? 1 : 2);
  }
}

void MRope::table(const std::array<int32_t, 3>& pos, float* cos, float* sin) const {
  const int half = head_dim_ / 2;
  for (int i = 0; i < half; ++i) {
    const float angle = static_cast<float>(pos[axis_[i]]) * inv_freq_[i];
    cos[i] = cos[i + half] = std::cos(angle);
    sin[i] = sin[i + half] = std::sin(angle);
  }
}

}  // namespace edgevl
