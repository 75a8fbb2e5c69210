// Rotary embedding in the "rotate half" form used by Qwen (NeoX style):
//   x' = x·cos + rotate_half(x)·sin, rotate_half(x) = [-x2, x1] over the two halves.
// cos/sin hold head_dim values for one token (each half repeats the frequencies);
// the model decides which position feeds which frequency (M-RoPE, 2-D vision RoPE).
#pragma once
#include <cstdint>

namespace edgevl {

// Rotates n_heads consecutive heads of one token in place.
void rope_apply(float* x, int n_heads, int head_dim, const float* cos, const float* sin);

}  // namespace edgevl
