// edgevl command-line tool: dispatches to one subcommand per file (cmd_*.cpp).
#include <cstdio>
#include <cstring>
#include <string>

#include "commands.h"

static void usage() {
  std::fprintf(stderr,
               "edgevl %s - on-device vision-language chat runtime\n"
               "usage: edgevl <command> [options]\n"
               "commands:\n",
               EDGEVL_VERSION_STRING);
  for (const auto& c : edgevl_cli::commands()) std::fprintf(stderr, "  %-10s %s\n", c.name, c.help);
  std::fprintf(stderr, "run 'edgevl <command> --help' for its options\n");
}

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    usage();
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::printf("edgevl %s\n", EDGEVL_VERSION_STRING);
    return 0;
  }
  for (const auto& c : edgevl_cli::commands())
    if (argv[1] == std::string(c.name)) return c.fn(argc - 1, argv + 1);
  std::fprintf(stderr, "edgevl: unknown command '%s'\n", argv[1]);
  usage();
  return 2;
}
