#include "image_budget.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

namespace edgevl_server {

int64_t image_pixel_cap(const std::string& model_dir, int64_t max_tokens) {
  if (max_tokens <= 0) return 0;
  const int64_t budget = max_tokens * 28 * 28;
  std::ifstream f(model_dir + "/preprocessor_config.json");
  if (!f) return budget;  // a GGUF or unusual layout: the budget alone
  nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return budget;
  // One image token covers (patch x merge)^2 pixels: 28x28, or 32x32 for Qwen3-VL.
  int64_t patch = 14, merge = 2;
  if (j.contains("patch_size") && j["patch_size"].is_number_integer()) patch = std::clamp<int64_t>(j["patch_size"].get<int64_t>(), 1, 1024);
  if (j.contains("merge_size") && j["merge_size"].is_number_integer()) merge = std::clamp<int64_t>(j["merge_size"].get<int64_t>(), 1, 16);
  const int64_t budget_px = max_tokens * patch * merge * patch * merge;
  // Same precedence as the processor: size.{shortest,longest}_edge, then
  // size.{min,max}_pixels, then top-level min_pixels/max_pixels.
  int64_t lo = 0, hi = 0;
  auto take = [](const nlohmann::json& o, const char* k, int64_t& v) {
    if (o.contains(k) && o[k].is_number_integer()) v = o[k].get<int64_t>();
  };
  if (j.contains("size") && j["size"].is_object()) {
    take(j["size"], "shortest_edge", lo);
    take(j["size"], "longest_edge", hi);
    take(j["size"], "min_pixels", lo);
    take(j["size"], "max_pixels", hi);
  }
  take(j, "min_pixels", lo);
  take(j, "max_pixels", hi);
  if (hi > 0 && hi <= budget_px) return 0;
  // Never below the model's minimum, which the processor requires max_pixels to respect.
  return std::max(budget_px, lo);
}

}  // namespace edgevl_server
