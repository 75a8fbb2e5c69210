// edgevl tokenize: text -> token ids, or ids -> text with --decode. For checking prompts
// against Hugging Face and for debugging chat templates by hand.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "commands.h"
#include "core/error.h"
#include "tokenizer/byte_level.h"
#include "formats/gguf.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_gguf.h"

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: edgevl tokenize --model DIR|FILE.gguf [--json] [--no-special] TEXT...\n"
               "       edgevl tokenize --model DIR|FILE.gguf --decode [--skip-special] ID...\n"
               "  --model         a Hugging Face directory (tokenizer.json) or a .gguf text model (tokenizer.ggml.*)\n"
               "  TEXT words are joined with single spaces; with no TEXT, stdin is read.\n"
               "  --json          print {\"ids\": [...], \"tokens\": [...]} (tokens in HF's byte-level form)\n"
               "  --no-special    treat added-token strings like <|im_start|> as plain text\n"
               "  --decode        the arguments are ids (space or comma separated); print the text\n"
               "  --skip-special  with --decode: drop special tokens\n");
}

// "12", "12,13" -> ids; anything else is an error naming the argument.
void parse_ids(const std::string& arg, std::vector<int32_t>& ids) {
  size_t i = 0;
  while (i < arg.size()) {
    if (arg[i] == ',' || arg[i] == ' ') {
      ++i;
      continue;
    }
    size_t j = i;
    if (arg[j] == '-') ++j;
    while (j < arg.size() && arg[j] >= '0' && arg[j] <= '9') ++j;
    std::string num = arg.substr(i, j - i);
    if (num.empty() || num == "-" || (j < arg.size() && arg[j] != ',' && arg[j] != ' ') || num.size() > 11)
      edgevl::fail(edgevl::ErrorCode::kInvalidArgument, "not a token id: '" + arg + "'");
    long long v = std::atoll(num.c_str());
    if (v < INT32_MIN || v > INT32_MAX) edgevl::fail(edgevl::ErrorCode::kInvalidArgument, "token id out of range: " + num);
    ids.push_back(static_cast<int32_t>(v));
    i = j;
  }
}

}  // namespace

int cmd_tokenize(int argc, char** argv) {
  std::string model;
  bool as_json = false, decode = false, parse_special = true, skip_special = false;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--model" || a == "-m") {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "edgevl tokenize: --model needs a directory or a .gguf file\n");
        return 1;
      }
      model = argv[++i];
    } else if (a.rfind("--model=", 0) == 0) {
      model = a.substr(8);
    } else if (a == "--json") {
      as_json = true;
    } else if (a == "--decode") {
      decode = true;
    } else if (a == "--no-special") {
      parse_special = false;
    } else if (a == "--skip-special") {
      skip_special = true;
    } else if (a == "--help" || a == "-h") {
      usage();
      return 0;
    } else if (a == "--") {
      for (++i; i < argc; ++i) args.push_back(argv[i]);
    } else if (a.size() > 1 && a[0] == '-' && !(a[1] >= '0' && a[1] <= '9')) {
      std::fprintf(stderr, "edgevl tokenize: unknown option '%s'\n", a.c_str());
      usage();
      return 1;
    } else {
      args.push_back(a);
    }
  }
  if (model.empty()) {
    std::fprintf(stderr, "edgevl tokenize: --model DIR|FILE.gguf is required\n");
    usage();
    return 1;
  }
  try {
    const bool gguf = model.size() > 5 && model.compare(model.size() - 5, 5, ".gguf") == 0;
    edgevl::Tokenizer tok = gguf ? edgevl::tokenizer_from_gguf(edgevl::GgufFile(model)) : edgevl::Tokenizer::load(model);
    std::string input;
    if (args.empty()) {
      input.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    } else {
      for (size_t i = 0; i < args.size(); ++i) input += (i ? " " : "") + args[i];
    }
    if (decode) {
      std::vector<int32_t> ids;
      parse_ids(input, ids);
      std::string text = tok.decode(ids, skip_special);
      if (as_json) {
        std::printf("%s\n", nlohmann::json({{"text", text}}).dump().c_str());
      } else {
        std::printf("%s\n", text.c_str());
      }
      return 0;
    }
    std::vector<int32_t> ids = tok.encode(input, parse_special);
    if (as_json) {
      nlohmann::json tokens = nlohmann::json::array();
      for (int32_t id : ids) {
        // Added tokens print as their content; the rest as HF's tokenize() shows them
        // (byte-level text such as "Ġworld"), which is valid UTF-8 even for partial bytes.
        bool added = tok.special_id(tok.token_to_bytes(id)) == id;
        tokens.push_back(added ? tok.token_to_bytes(id) : edgevl::bytes_to_byte_level(tok.token_to_bytes(id)));
      }
      std::printf("%s\n", nlohmann::json({{"ids", ids}, {"tokens", tokens}}).dump().c_str());
    } else {
      std::string line;
      for (size_t i = 0; i < ids.size(); ++i) line += (i ? " " : "") + std::to_string(ids[i]);
      std::printf("%s\n", line.c_str());
    }
    return 0;
  } catch (const std::exception& e) {  // edgevl::Error names the file or the bad input
    std::fprintf(stderr, "edgevl tokenize: %s\n", e.what());
    return 1;
  }
}
