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
  if (hi > 0 && hi <= budget) return 0;
  // Never below the model's minimum, which the processor requires max_pixels to respect.
  return std::max(budget, lo);
}

}  // namespace edgevl_server
