#include "commands.h"

namespace edgevl_cli {

// Registered here so the list (and its order in --help) is in one place.
const std::vector<Command>& commands() {
  static const std::vector<Command> list = {
      {"tokenize", "text -> token ids (and back)", cmd_tokenize},
  };
  return list;
}

}  // namespace edgevl_cli
