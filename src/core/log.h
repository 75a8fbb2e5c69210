// Warnings the library reports without failing (e.g. a model's chat template it cannot
// render, so the built-in one is used instead). By default each goes to stderr as one line
// "edgevl: warning: MESSAGE"; tests and embedders can redirect them.
#pragma once
#include <functional>
#include <string>

namespace edgevl {

using WarningSink = std::function<void(const std::string& message)>;

// Reports one warning through the current sink. Thread-safe.
void warn(const std::string& message);
// Replaces the sink (an empty one restores stderr) and returns the previous one.
WarningSink set_warning_sink(WarningSink sink);

}  // namespace edgevl
