// Where the bundled demo model (models/shapes-qwen2-vl, a small trained Qwen2-VL) lives,
// for `chat`, `serve` and `eval` when --model is omitted.
#pragma once
#include <string>

namespace edgevl_cli {

// The first directory holding a config.json among: $EDGEVL_DEFAULT_MODEL, the source tree's
// models/shapes-qwen2-vl relative to the executable (build/bin/edgevl -> ../../models/...),
// <exe>/../share/edgevl/models/shapes-qwen2-vl (an install), and the source tree this binary
// was built from. "" when none exists.
std::string default_model_path();

}  // namespace edgevl_cli
