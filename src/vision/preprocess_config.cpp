// PreprocessConfig from a Hugging Face preprocessor_config.json.
#include <nlohmann/json.hpp>

#include <cmath>
#include <string>

#include "core/error.h"
#include "core/mmap_file.h"
#include "vision/preprocess.h"

namespace edgevl {

namespace {

using nlohmann::json;

[[noreturn]] void bad_field(const std::string& path, const std::string& field,
                            const std::string& what) {
  fail_format(path + ": field '" + field + "' " + what);
}

int64_t get_int(const json& j, const char* key, const std::string& path, const std::string& name) {
  const json& v = j.at(key);
  if (!v.is_number_integer()) {
    // Some exporters write 3136.0; accept integral floats.
    if (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>() &&
        std::fabs(v.get<double>()) < 9e15)
      return static_cast<int64_t>(v.get<double>());
    bad_field(path, name, "must be an integer");
  }
  return v.get<int64_t>();
}

void get_vec3(const json& j, const char* key, float out[3], const std::string& path) {
  const json& v = j.at(key);
  if (!v.is_array() || v.size() != 3) bad_field(path, key, "must be an array of 3 numbers");
  for (int i = 0; i < 3; ++i) {
    if (!v[i].is_number()) bad_field(path, key, "must be an array of 3 numbers");
    // numpy builds float32 arrays from Python floats (doubles): round from double.
    out[i] = static_cast<float>(v[i].get<double>());
  }
}

}  // namespace

PreprocessConfig PreprocessConfig::load(const std::string& path) {
  const std::string text = read_text_file(path);  // kIo naming the path
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail_format(path + ": invalid JSON: " + e.what());
  }
  if (!j.is_object()) fail_format(path + ": expected a JSON object");

  PreprocessConfig c;
  // transformers keeps both spellings: size.{shortest,longest}_edge and the legacy
  // top-level min_pixels/max_pixels, which win when present.
  if (j.contains("size") && j["size"].is_object()) {
    const json& s = j["size"];
    if (s.contains("shortest_edge")) c.min_pixels = get_int(s, "shortest_edge", path, "size.shortest_edge");
    if (s.contains("longest_edge")) c.max_pixels = get_int(s, "longest_edge", path, "size.longest_edge");
    if (s.contains("min_pixels")) c.min_pixels = get_int(s, "min_pixels", path, "size.min_pixels");
    if (s.contains("max_pixels")) c.max_pixels = get_int(s, "max_pixels", path, "size.max_pixels");
  }
  if (j.contains("min_pixels")) c.min_pixels = get_int(j, "min_pixels", path, "min_pixels");
  if (j.contains("max_pixels")) c.max_pixels = get_int(j, "max_pixels", path, "max_pixels");
  auto small_int = [&](const char* key, int* out) {
    if (!j.contains(key)) return;
    int64_t v = get_int(j, key, path, key);
    if (v <= 0 || v > 1024) bad_field(path, key, "must be in 1..1024");
    *out = static_cast<int>(v);
  };
  small_int("patch_size", &c.patch_size);
  small_int("merge_size", &c.merge_size);
  small_int("temporal_patch_size", &c.temporal_patch_size);
  if (j.contains("image_mean")) get_vec3(j, "image_mean", c.mean, path);
  if (j.contains("image_std")) get_vec3(j, "image_std", c.std, path);
  if (j.contains("rescale_factor")) {
    if (!j["rescale_factor"].is_number()) bad_field(path, "rescale_factor", "must be a number");
    c.rescale_factor = j["rescale_factor"].get<double>();
  }
  // We implement exactly one resampler; refuse a config that asks for another.
  if (j.contains("resample")) {
    if (!j["resample"].is_number_integer()) bad_field(path, "resample", "must be an integer");
    if (j["resample"].get<int>() != 3)
      fail(ErrorCode::kUnsupported, path + ": field 'resample' is " +
                                        std::to_string(j["resample"].get<int>()) +
                                        "; only 3 (PIL BICUBIC) is supported");
  }
  try {
    c.validate();
  } catch (const Error& e) {
    fail_format(path + ": " + e.what());
  }
  return c;
}

void PreprocessConfig::validate() const {
  auto bad = [](const std::string& m) { fail(ErrorCode::kInvalidArgument, "preprocess config: " + m); };
  if (patch_size <= 0 || merge_size <= 0 || temporal_patch_size <= 0)
    bad("patch_size, merge_size and temporal_patch_size must be positive");
  if (min_pixels <= 0 || max_pixels < min_pixels)
    bad("need 0 < min_pixels <= max_pixels (got " + std::to_string(min_pixels) + ", " +
        std::to_string(max_pixels) + ")");
  for (int c = 0; c < 3; ++c)
    if (std[c] == 0.0f || !std::isfinite(std[c]) || !std::isfinite(mean[c]))
      bad("image_std must be finite and non-zero, image_mean finite");
  if (!(rescale_factor > 0.0) || !std::isfinite(rescale_factor)) bad("rescale_factor must be positive");
  const int factor = patch_size * merge_size;
  if (fixed_size < 0 || (fixed_size > 0 && fixed_size % factor != 0))
    bad("fixed_size " + std::to_string(fixed_size) + " must be a positive multiple of " +
        std::to_string(factor));
}

}  // namespace edgevl
