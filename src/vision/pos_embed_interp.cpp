#include "vision/pos_embed_interp.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "core/error.h"

namespace edgevl {

std::vector<float> linspace_f32(float start, float end, int steps) {
  std::vector<float> v(std::max(steps, 0));
  if (steps == 1) v[0] = start;
  if (steps < 2) return v;
  const float step = (end - start) / static_cast<float>(steps - 1);
  const int half = steps / 2;
  for (int i = 0; i < steps; ++i)
    v[i] = i < half ? start + step * static_cast<float>(i) : end - step * static_cast<float>(steps - 1 - i);
  return v;
}

std::vector<float> interpolate_pos_embed(const float* table, int side, int dim, int grid_t, int grid_h, int grid_w,
                                         int merge) {
  if (!table || side < 1 || dim < 1 || grid_t < 1 || grid_h < 1 || grid_w < 1 || merge < 1 || grid_h % merge ||
      grid_w % merge)
    fail(ErrorCode::kInvalidArgument, "position embedding: grid " + std::to_string(grid_t) + "x" + std::to_string(grid_h) +
                                          "x" + std::to_string(grid_w) + " does not fit merge " + std::to_string(merge));
  struct Axis {
    std::vector<int> lo, hi;
    std::vector<float> frac;
  };
  auto axis = [&](int n) {
    Axis a;
    const std::vector<float> c = linspace_f32(0.0f, static_cast<float>(side - 1), n);
    for (float x : c) {
      const int lo = static_cast<int>(x);  // truncation, as tensor.int()
      a.lo.push_back(lo);
      a.hi.push_back(std::min(lo + 1, side - 1));
      a.frac.push_back(x - static_cast<float>(lo));
    }
    return a;
  };
  const Axis ah = axis(grid_h), aw = axis(grid_w);
  const int64_t per_frame = int64_t(grid_h) * grid_w;
  std::vector<float> out(static_cast<size_t>(per_frame * grid_t * dim));
  int64_t row = 0;  // output row, in merge-block order
  for (int bh = 0; bh < grid_h / merge; ++bh)
    for (int bw = 0; bw < grid_w / merge; ++bw)
      for (int mh = 0; mh < merge; ++mh)
        for (int mw = 0; mw < merge; ++mw, ++row) {
          const int r = bh * merge + mh, c = bw * merge + mw;
          const float dh = ah.frac[r], dw = aw.frac[c];
          const float w[4] = {(1.0f - dh) * (1.0f - dw), (1.0f - dh) * dw, dh * (1.0f - dw), dh * dw};
          const float* e[4] = {table + (int64_t(ah.lo[r]) * side + aw.lo[c]) * dim, table + (int64_t(ah.lo[r]) * side + aw.hi[c]) * dim,
                               table + (int64_t(ah.hi[r]) * side + aw.lo[c]) * dim, table + (int64_t(ah.hi[r]) * side + aw.hi[c]) * dim};
          float* o = out.data() + row * dim;
          for (int k = 0; k < dim; ++k) o[k] = ((e[0][k] * w[0] + e[1][k] * w[1]) + e[2][k] * w[2]) + e[3][k] * w[3];
        }
  for (int t = 1; t < grid_t; ++t) std::copy(out.begin(), out.begin() + per_frame * dim, out.begin() + t * per_frame * dim);
  return out;
}

}  // namespace edgevl
