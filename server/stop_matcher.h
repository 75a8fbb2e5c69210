// Stop sequences over a token stream. Text is released only when it can no longer be
// the start of a stop sequence, so a client never sees part of a stop string that is
// later cut (e.g. "\n\nUs" before "\n\nUser:" completes).
#pragma once
#include <string>
#include <vector>

namespace edgevl_server {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}

  // Adds generated text; returns what may be shown now. Once a stop sequence is seen,
  // stopped() is true and the text from it on is dropped.
  std::string push(const std::string& text);
  // At the end of generation: whatever is still held back.
  std::string flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

// Replaces invalid UTF-8 sequences with U+FFFD, so JSON output never fails and the
// text a client echoes back is byte-identical to what the server recorded.
std::string sanitize_utf8(const std::string& s);

}  // namespace edgevl_server
