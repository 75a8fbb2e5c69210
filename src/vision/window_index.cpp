#include "vision/window_index.h"

#include <algorithm>
#include <string>

#include "core/error.h"

namespace edgevl {

VisionWindows vision_window_index(int grid_t, int grid_h, int grid_w, int merge, int win) {
  if (grid_t < 1 || grid_h < 1 || grid_w < 1 || merge < 1 || grid_h % merge || grid_w % merge)
    fail(ErrorCode::kInvalidArgument, "vision grid " + std::to_string(grid_t) + "x" + std::to_string(grid_h) + "x" +
                                          std::to_string(grid_w) + " is not a positive multiple of spatial_merge_size " +
                                          std::to_string(merge));
  if (win < 1) fail(ErrorCode::kInvalidArgument, "vision window of " + std::to_string(win) + " merged tokens per side");
  const int64_t th = grid_h / merge, tw = grid_w / merge;  // merged tokens per column / row
  const int64_t nwh = (th + win - 1) / win, nww = (tw + win - 1) / win;
  const int64_t unit = static_cast<int64_t>(merge) * merge;
  VisionWindows out;
  out.window_index.reserve(static_cast<size_t>(grid_t * th * tw));
  out.cu_seqlens.push_back(0);
  for (int64_t t = 0; t < grid_t; ++t) {
    const int64_t base = t * th * tw;
    for (int64_t wy = 0; wy < nwh; ++wy)
      for (int64_t wx = 0; wx < nww; ++wx) {
        const int64_t before = static_cast<int64_t>(out.window_index.size());
        for (int64_t y = wy * win; y < std::min(th, (wy + 1) * win); ++y)
          for (int64_t x = wx * win; x < std::min(tw, (wx + 1) * win); ++x) out.window_index.push_back(base + y * tw + x);
        const int64_t count = static_cast<int64_t>(out.window_index.size()) - before;
        if (count > 0) out.cu_seqlens.push_back(out.cu_seqlens.back() + count * unit);
      }
  }
  return out;
}

VisionWindows vision_window_index(const VisionConfig& vc, int grid_t, int grid_h, int grid_w) {
  const int merge = vc.spatial_merge_size;
  const int win = (merge > 0 && vc.patch_size > 0) ? vc.window_size / merge / vc.patch_size : 0;
  if (win < 1)
    fail(ErrorCode::kInvalidArgument, "vision window_size " + std::to_string(vc.window_size) +
                                          " is smaller than one merged token (spatial_merge_size x patch_size = " +
                                          std::to_string(merge * vc.patch_size) + " pixels)");
  return vision_window_index(grid_t, grid_h, grid_w, merge, win);
}

}  // namespace edgevl
