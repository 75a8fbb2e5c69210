// M-RoPE (multimodal rotary position embedding) of Qwen2-VL: every token has three
// position ids (temporal, height, width). The head's rotary frequency pairs are split
// into sections (mrope_section, e.g. [16, 24, 24]); pair f rotates by the position
// of the axis that owns its section. Text tokens have equal ids, which reduces to
// ordinary 1-D RoPE.
//
// Interleaved (Qwen3-VL, rope_scaling.mrope_interleaved): instead of contiguous
// sections, frequency j takes h when j % 3 == 1 and j < 3·section[1], w when
// j % 3 == 2 and j < 3·section[2], and t otherwise (so the tail is t).
#pragma once
#include <array>
#include <cstdint>
#include <vector>

namespace edgevl {

class MRope {
 public:
  MRope(int head_dim, float theta, std::array<int, 3> section, bool interleaved = false);
  int head_dim() const { return head_dim_; }
  // cos/sin (head_dim values each) for one token at pos = {t, h, w}.
  void table(const std::array<int32_t, 3>& pos, float* cos, float* sin) const;

 private:
  int head_dim_;
  std::vector<float> inv_freq_;  // head_dim/2, computed in f32 as the reference does
  std::vector<uint8_t> axis_;    // head_dim/2: 0 = t, 1 = h, 2 = w
};

}  // namespace edgevl
