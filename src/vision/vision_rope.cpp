#include "vision/vision_rope.h"

#include <cmath>

#include "core/error.h"

namespace edgevl {

std::vector<int32_t> vision_patch_positions(int grid_t, int grid_h, int grid_w, int merge) {
  if (grid_t < 1 || grid_h < 1 || grid_w < 1 || merge < 1 || grid_h % merge || grid_w % merge)
    fail(ErrorCode::kInvalidArgument, "vision grid " + std::to_string(grid_t) + "x" + std::to_string(grid_h) + "x" +
                                          std::to_string(grid_w) + " is not a positive multiple of spatial_merge_size " +
                                          std::to_string(merge));
  const int bh_n = grid_h / merge, bw_n = grid_w / merge;
  std::vector<int32_t> pos;
  pos.reserve(static_cast<size_t>(grid_t) * grid_h * grid_w * 2);
  for (int t = 0; t < grid_t; ++t)
    for (int bh = 0; bh < bh_n; ++bh)
      for (int bw = 0; bw < bw_n; ++bw)
        for (int mh = 0; mh < merge; ++mh)
          for (int mw = 0; mw < merge; ++mw) {
            pos.push_back(bh * merge + mh);
            pos.push_back(bw * merge + mw);
          }
  return pos;
}

VisionRopeTables vision_rope_tables(int grid_t, int grid_h, int grid_w, int merge, int head_dim, float theta) {
  if (head_dim < 4 || head_dim % 4)
    fail(ErrorCode::kInvalidArgument, "vision rotary: head_dim " + std::to_string(head_dim) + " is not a multiple of 4");
  const std::vector<int32_t> pos = vision_patch_positions(grid_t, grid_h, grid_w, merge);
  const int64_t n = static_cast<int64_t>(pos.size() / 2);
  const int rot = head_dim / 2;  // rotary width: angles per token before the repeat
  const int nf = rot / 2;        // frequencies per axis
  // Same arithmetic as the reference: float32 exponent, float32 power and reciprocal.
  std::vector<float> inv_freq(nf);
  for (int i = 0; i < nf; ++i) {
    const float e = static_cast<float>(2 * i) / static_cast<float>(rot);
    inv_freq[i] = 1.0f / std::pow(theta, e);
  }
  VisionRopeTables t;
  t.head_dim = head_dim;
  t.cos.resize(static_cast<size_t>(n) * head_dim);
  t.sin.resize(static_cast<size_t>(n) * head_dim);
  for (int64_t p = 0; p < n; ++p) {
    float* c = t.cos.data() + p * head_dim;
    float* s = t.sin.data() + p * head_dim;
    const float row = static_cast<float>(pos[2 * p]), col = static_cast<float>(pos[2 * p + 1]);
    for (int i = 0; i < nf; ++i) {
      const float a_row = row * inv_freq[i], a_col = col * inv_freq[i];
      c[i] = c[i + rot] = std::cos(a_row);
      s[i] = s[i + rot] = std::sin(a_row);
      c[nf + i] = c[nf + i + rot] = std::cos(a_col);
      s[nf + i] = s[nf + i + rot] = std::sin(a_col);
    }
  }
  return t;
}

}  // namespace edgevl
