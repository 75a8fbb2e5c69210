#include "tokenizer/tokenizer_gguf.h"

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace edgevl {

namespace {

// llama.cpp token types (gguf-py TokenType).
constexpr int64_t kNormal = 1, kControl = 3, kUserDefined = 4, kUnused = 5;

// The Qwen2 split pattern (tokenizer.json of Qwen2/Qwen2-VL); llama.cpp names it "qwen2".
const char* kQwen2Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

}  // namespace

Tokenizer tokenizer_from_gguf(const GgufFile& f) {
  using json = nlohmann::json;
  const std::string where = f.description();
  if (f.get_string("tokenizer.ggml.model", "") != "gpt2")
    fail(ErrorCode::kUnsupported, where + ": tokenizer.ggml.model must be 'gpt2' (byte-level BPE)");
  const std::string pre = f.get_string("tokenizer.ggml.pre", "qwen2");
  if (pre != "qwen2") fail(ErrorCode::kUnsupported, where + ": tokenizer.ggml.pre '" + pre + "' is not supported (expected qwen2)");
  const auto& tokens = f.get_string_array("tokenizer.ggml.tokens");
  const auto types = f.get_int_array("tokenizer.ggml.token_type");
  const auto& merges = f.get_string_array("tokenizer.ggml.merges");
  if (types.size() != tokens.size()) fail_format(where + ": tokenizer.ggml.token_type and tokenizer.ggml.tokens differ in length");
  json vocab = json::object(), added = json::array(), control = json::array();
  for (size_t i = 0; i < tokens.size(); ++i) {
    switch (types[i]) {
      case kNormal: vocab[tokens[i]] = i; break;
      case kControl:
      case kUserDefined:
        if (types[i] == kControl) control.push_back(tokens[i]);
        added.push_back({{"id", i}, {"content", tokens[i]}, {"special", types[i] == kControl}, {"single_word", false},
                         {"lstrip", false}, {"rstrip", false}, {"normalized", false}});
        break;
      case kUnused: break;
      default: fail(ErrorCode::kUnsupported, where + ": token " + std::to_string(i) + " has token type " + std::to_string(types[i]));
    }
  }
  json tj = {{"model", {{"type", "BPE"}, {"vocab", std::move(vocab)}, {"merges", merges}}},
             {"added_tokens", std::move(added)},
             {"normalizer", {{"type", "NFC"}}},
             {"pre_tokenizer",
              {{"type", "Sequence"},
               {"pretokenizers",
                json::array({{{"type", "Split"}, {"pattern", {{"Regex", kQwen2Pattern}}}, {"behavior", "Isolated"}, {"invert", false}},
                             {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", false}, {"use_regex", false}}})}}}};
  // decode(skip_special) drops what the HF config names (eos, pad, additional special
  // tokens); the converter writes exactly those as control tokens, every other added token
  // (e.g. <tool_call>) as user-defined, so the control tokens are that list.
  json cfg = {{"additional_special_tokens", std::move(control)}};
  if (f.has_key("tokenizer.ggml.eos_token_id")) {
    const int64_t eos = f.get_int("tokenizer.ggml.eos_token_id");
    if (eos >= 0 && eos < int64_t(tokens.size())) cfg["eos_token"] = tokens[eos];
  }
  if (f.has_key("tokenizer.ggml.padding_token_id")) {
    const int64_t pad = f.get_int("tokenizer.ggml.padding_token_id");
    if (pad >= 0 && pad < int64_t(tokens.size())) cfg["pad_token"] = tokens[pad];
  }
  return Tokenizer::from_json(tj.dump(), cfg.dump(), where + " (tokenizer.ggml.*)");
}

}  // namespace edgevl
