// 2-D rotary position tables for the Qwen2-VL / Qwen2.5-VL vision towers.
//
// Each patch has a (row, col) position in its frame's patch grid. The rotary dimension of a
// head is head_dim/2 frequencies-with-repeat: inv_freq[i] = 1 / theta^(2i / (head_dim/2)) for
// i < head_dim/4; the first head_dim/4 angles are row·inv_freq, the next head_dim/4 are
// col·inv_freq, and the cos/sin row repeats those head_dim/2 angles twice (rotate-half form,
// as rope_apply expects). Patches are listed in pixel_values row order: merge x merge
// blocks in raster order, then the patches inside each block in raster order, frame by frame.
#pragma once
#include <cstdint>
#include <vector>

namespace edgevl {

struct VisionRopeTables {
  int head_dim = 0;
  std::vector<float> cos, sin;  // [n_patches][head_dim] each
};

// (row, col) of each patch in pixel_values order: out[2p] = row, out[2p+1] = col.
// grid_h and grid_w must be multiples of merge.
std::vector<int32_t> vision_patch_positions(int grid_t, int grid_h, int grid_w, int merge);

VisionRopeTables vision_rope_tables(int grid_t, int grid_h, int grid_w, int merge, int head_dim,
                                    float theta = 10000.0f);

}  // namespace edgevl
