// The subcommand table. Each subcommand lives in its own cmd_<name>.cpp and only
// parses flags, calls the library, and prints.
#pragma once
#include <vector>

#define EDGEVL_VERSION_STRING "0.1.0"

namespace edgevl_cli {

struct Command {
  const char* name;
  const char* help;
  int (*fn)(int argc, char** argv);  // argv[0] is the subcommand name
};

const std::vector<Command>& commands();

int cmd_chat(int argc, char** argv);
int cmd_demo(int argc, char** argv);
int cmd_convert(int argc, char** argv);
int cmd_serve(int argc, char** argv);
int cmd_make_model(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_eval(int argc, char** argv);

}  // namespace edgevl_cli

// Subcommand entry points, one per cmd_<name>.cpp.
int cmd_tokenize(int argc, char** argv);
