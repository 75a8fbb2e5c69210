// Qwen2.5-VL window attention layout.
//
// The merged-token grid of each frame ((grid_h/merge) x (grid_w/merge)) is cut into square
// windows of W = window_size / merge / patch_size merged tokens per side, the grid being
// padded up to a multiple of W on the bottom/right (the padding holds no tokens). Windows are
// walked in raster order, tokens inside a window in raster order; empty windows vanish.
#pragma once
#include <cstdint>
#include <vector>

#include "formats/model_config.h"

namespace edgevl {

struct VisionWindows {
  // window_index[k] = the merged-token index (in pixel_values order, frame-major) that comes
  // k-th in window order. A permutation of [0, grid_t*(grid_h/merge)*(grid_w/merge)).
  std::vector<int64_t> window_index;
  // Window boundaries in patches (merged tokens x merge^2) over the permuted sequence:
  // 0, end of window 0, end of window 1, ... with no repeated entries.
  std::vector<int64_t> cu_seqlens;
};

// tokens_per_side = W above (>= 1). Throws kInvalidArgument on a grid that is not a positive
// multiple of merge.
VisionWindows vision_window_index(int grid_t, int grid_h, int grid_w, int merge, int tokens_per_side);

// Same, with W and merge from the vision config (window_size / spatial_merge_size / patch_size).
// Throws kInvalidArgument when the config's window is smaller than one merged token.
VisionWindows vision_window_index(const VisionConfig& vc, int grid_t, int grid_h, int grid_w);

}  // namespace edgevl
