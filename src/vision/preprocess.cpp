// Qwen2VLImageProcessor's numeric steps after decoding: resize, rescale, normalize,
// patchify. See shared/fixtures/README.md "Exact preprocessing".
#include "vision/preprocess.h"

#include <cstring>

#include "core/error.h"
#include "vision/resize.h"

namespace edgevl {

int PixelPatches::n_merged_tokens() const {
  return n_patches() / (merge_size * merge_size);
}

ImageU8 resize_for_model(const ImageU8& img, const PreprocessConfig& cfg) {
  check_image(img, "resize_for_model");
  cfg.validate();
  const int factor = cfg.patch_size * cfg.merge_size;
  if (cfg.fixed_size > 0) {
    // rknn-llm convention; smart_resize then normally keeps fixed_size x fixed_size and
    // the PIL step below is a copy, exactly as the processor would do.
    ImageU8 sq = resize_linear_cv(pad_to_square(img, 128), cfg.fixed_size, cfg.fixed_size);
    const SmartSize s = smart_resize(sq.height, sq.width, factor, cfg.min_pixels, cfg.max_pixels);
    return resize_bicubic_pil(sq, s.width, s.height);
  }
  const SmartSize s = smart_resize(img.height, img.width, factor, cfg.min_pixels, cfg.max_pixels);
  return resize_bicubic_pil(img, s.width, s.height);
}

PixelPatches patchify_image(const ImageU8& im, const PreprocessConfig& cfg) {
  check_image(im, "patchify_image");
  cfg.validate();
  const int P = cfg.patch_size, M = cfg.merge_size, T = cfg.temporal_patch_size;
  if (im.width % (P * M) != 0 || im.height % (P * M) != 0)
    fail(ErrorCode::kInvalidArgument, "patchify_image: " + std::to_string(im.width) + "x" +
                                          std::to_string(im.height) +
                                          " is not a multiple of patch*merge = " +
                                          std::to_string(P * M));

  // HF: x = float32(float64(u8) * rescale_factor); then (x - mean) / std in float32.
  // Only 256 values per channel are possible, so compute them once, in that exact
  // order of operations; the patch loop is then a pure gather.
  float lut[3][256];
  for (int c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v) {
      const float x = static_cast<float>(static_cast<double>(v) * cfg.rescale_factor);
      lut[c][v] = (x - cfg.mean[c]) / cfg.std[c];  // float32 subtract, float32 divide
    }

  PixelPatches out;
  out.merge_size = M;
  out.grid_t = 1;  // one image = T identical frames = one temporal patch
  out.grid_h = im.height / P;
  out.grid_w = im.width / P;
  out.patch_dim = 3 * T * P * P;
  out.data.resize(static_cast<size_t>(out.n_patches()) * out.patch_dim);

  const int bh_n = out.grid_h / M, bw_n = out.grid_w / M;
  const size_t stride = static_cast<size_t>(im.width) * 3;
  const size_t plane = static_cast<size_t>(P) * P;  // one (channel, frame) block
  float* row = out.data.data();
  for (int bh = 0; bh < bh_n; ++bh)
    for (int bw = 0; bw < bw_n; ++bw)
      for (int mh = 0; mh < M; ++mh)
        for (int mw = 0; mw < M; ++mw, row += out.patch_dim) {
          const int py = (bh * M + mh) * P, px = (bw * M + mw) * P;
          for (int c = 0; c < 3; ++c) {
            float* dst = row + static_cast<size_t>(c) * T * plane;
            const float* l = lut[c];
            for (int y = 0; y < P; ++y) {
              const uint8_t* src = im.rgb.data() + (py + y) * stride + static_cast<size_t>(px) * 3 + c;
              for (int x = 0; x < P; ++x) dst[y * P + x] = l[src[3 * x]];
            }
            for (int t = 1; t < T; ++t) std::memcpy(dst + t * plane, dst, plane * sizeof(float));
          }
        }
  return out;
}

PixelPatches preprocess_image(const ImageU8& img, const PreprocessConfig& cfg) {
  return patchify_image(resize_for_model(img, cfg), cfg);
}

}  // namespace edgevl
