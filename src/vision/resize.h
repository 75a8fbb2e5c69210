// Resizers that reproduce, bit for bit, the two reference pipelines edgevl must match:
// Pillow's Image.resize(BICUBIC) (what Hugging Face's Qwen2-VL processor uses) and
// OpenCV's cv2.resize(INTER_LINEAR) (what the rknn-llm on-device demo uses).
// Both are separable two-pass filters with precomputed integer coefficients.
#pragma once
#include <cstdint>

#include "vision/image.h"

namespace edgevl {

// Pillow 9.x ImagingResample with the BICUBIC filter (a = -0.5) on an RGB uint8 image:
// antialiased when downscaling (the kernel support grows with the scale), 22-bit
// fixed-point weights, horizontal pass first with a uint8 intermediate. Same size
// returns an exact copy. Sizes must be positive (kInvalidArgument otherwise).
ImageU8 resize_bicubic_pil(const ImageU8& src, int out_w, int out_h);

// OpenCV 4.x cv::resize(INTER_LINEAR) on CV_8UC3 as built for x86-64/ARM with 128-bit
// SIMD and no IPP: half-pixel centres, 11-bit weights, and the SIMD vertical rounding.
// An exact 2x downscale in both axes becomes INTER_AREA, as in OpenCV.
ImageU8 resize_linear_cv(const ImageU8& src, int out_w, int out_h);

// rknn-llm demo expand2square: a max(w,h) square canvas filled with `fill` (the demo's
// cv::Scalar(127.5) rounds to 128), the image pasted at ((S-w)/2, (S-h)/2).
ImageU8 pad_to_square(const ImageU8& src, uint8_t fill = 128);

}  // namespace edgevl
