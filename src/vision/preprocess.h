// Qwen2-VL / Qwen2.5-VL image preprocessing, matching transformers 4.50's
// Qwen2VLImageProcessor: smart_resize -> PIL bicubic -> rescale/normalize -> patches.
// The optional fixed_size mode reproduces the rknn-llm on-device convention
// (pad to square with 128, cv2 INTER_LINEAR to fixed_size x fixed_size) first.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "vision/image.h"

namespace edgevl {

struct PreprocessConfig {
  int64_t min_pixels = 3136, max_pixels = 12845056;
  int patch_size = 14, merge_size = 2, temporal_patch_size = 2;
  float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
  float std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
  double rescale_factor = 1.0 / 255.0;
  // > 0: on-device mode: pad_to_square(128), resize_linear_cv to fixed_size x fixed_size
  // (a multiple of patch_size*merge_size), then the normal processor.
  int fixed_size = 0;

  // Reads preprocessor_config.json. Fields that are absent keep their defaults;
  // min/max_pixels fall back to size.shortest_edge/longest_edge. A missing file is kIo,
  // malformed JSON or a bad field is kFormat naming the path and the field.
  static PreprocessConfig load(const std::string& preprocessor_config_json_path);

  // Throws kInvalidArgument naming the field if the values cannot be used.
  void validate() const;
};

struct SmartSize {
  int height, width;
};

// transformers' smart_resize: round each side to a multiple of `factor` (Python round,
// ties to even), then scale down/up to fit [min_pixels, max_pixels] keeping the aspect.
// Throws kInvalidArgument if height or width < factor or the aspect ratio is > 200.
SmartSize smart_resize(int height, int width, int factor, int64_t min_pixels, int64_t max_pixels);

struct PixelPatches {
  int grid_t = 0, grid_h = 0, grid_w = 0;  // in patch_size-px patches
  int patch_dim = 0;                       // 3 * temporal * patch * patch (1176)
  // [grid_t*grid_h*grid_w, patch_dim]: rows walk merge blocks in raster order, then the
  // merge*merge patches inside each block; columns are (channel, temporal, y, x).
  std::vector<float> data;
  int merge_size = 2;
  int n_patches() const { return grid_t * grid_h * grid_w; }
  int n_merged_tokens() const;  // grid_t*grid_h*grid_w / merge^2
};

// The uint8 image the model sees: fixed-size convention if cfg.fixed_size > 0, then
// smart_resize + PIL bicubic (an exact copy when the size already fits).
ImageU8 resize_for_model(const ImageU8& img, const PreprocessConfig& cfg);

// resize_for_model + rescale/normalize + patchify, bit-exact with HF pixel_values.
PixelPatches preprocess_image(const ImageU8& img, const PreprocessConfig& cfg);

// Rescale/normalize + patchify only, for an image already at its model size
// (height and width multiples of patch_size*merge_size).
PixelPatches patchify_image(const ImageU8& resized, const PreprocessConfig& cfg);

}  // namespace edgevl
