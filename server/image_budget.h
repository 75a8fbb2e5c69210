// The largest image, in pixels, the server lets the model see. Qwen2-VL's own processor
// allows up to 12.8 Mpx (about 16k image tokens): one phone photo would then take minutes
// of vision-tower attention and gigabytes of memory on a small CPU, and could never fit
// the context anyway. The server caps images at a token budget ((patch x merge)^2 pixels per token: 28x28, 32x32 for Qwen3-VL)
// and never raises the model's own limit.
#pragma once
#include <cstdint>
#include <string>

namespace edgevl_server {

// max_pixels for edgevl_session_params.image_max_pixels: min(the model's max_pixels from
// preprocessor_config.json, max_tokens x (patch x merge)^2), or 0 (keep the model's) when the
// model's limit is already within the budget or cannot be read.
int64_t image_pixel_cap(const std::string& model_dir, int64_t max_tokens);

}  // namespace edgevl_server
