// Qwen3-VL's absolute position embedding: a learned side x side grid of vectors, resized
// bilinearly (align-corners) to each image's patch grid.
//
// Facts from transformers' Qwen3VLVisionModel.fast_pos_embed_interpolate (v4.57): row
// coordinates are torch.linspace(0, side-1, grid_h) in float32, truncated to the lower grid
// row, upper = min(lower + 1, side - 1); the four corner vectors are scaled by float32
// products of (1-dh | dh)(1-dw | dw) and summed in the order (lo,lo), (lo,hi), (hi,lo),
// (hi,hi). The result is listed in pixel_values row order (merge x merge blocks in raster
// order) and repeated for every frame.
#pragma once
#include <vector>

namespace edgevl {

// torch.linspace(start, end, steps) on the CPU in float32: the first half counts up from
// start, the second half down from end (so both ends are exact).
std::vector<float> linspace_f32(float start, float end, int steps);

// table: [side*side][dim], index row*side + col. Returns [grid_t*grid_h*grid_w][dim].
std::vector<float> interpolate_pos_embed(const float* table, int side, int dim, int grid_t, int grid_h, int grid_w,
                                         int merge);

}  // namespace edgevl
