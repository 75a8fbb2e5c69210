// Reads tokenizer.json (+ tokenizer_config.json) into a TokenizerState. Every field is
// checked before use, so a malformed or hostile file produces an Error naming the file
// and the field, never a crash or a silently different tokenizer.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

#include "core/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/string_id_map.h"
#include "tokenizer/tokenizer_json.h"
#include "tokenizer/tokenizer_state.h"
#include "tokenizer/utf8.h"

namespace edgevl {
namespace {

using json = nlohmann::json;

// Ids index dense tables, so an absurd id in a hostile file must not become an absurd
// allocation. Real vocabularies are ~150k-260k.
constexpr int64_t kMaxTokenId = 1 << 24;

struct Reader {
  const std::string& file;

  [[noreturn]] void bad(const std::string& what) const { fail_format(file + ": " + what); }
  [[noreturn]] void unsupported(const std::string& what) const {
    fail(ErrorCode::kUnsupported, file + ": " + what);
  }

  // nullptr when absent or null.
  const json* member(const json& obj, const char* key) const {
    auto it = obj.find(key);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
  }
  const std::string& str(const json& v, const std::string& where) const {
    if (!v.is_string()) bad(where + " must be a string");
    return v.get_ref<const std::string&>();
  }
  // The "type" field of a component; by value, because a missing one is a temporary.
  std::string type(const json& obj, const std::string& where) const {
    const json* t = member(obj, "type");
    if (!t) bad(where + ".type is missing");
    return str(*t, where + ".type");
  }
  bool flag(const json& obj, const char* key, bool def, const std::string& where) const {
    const json* v = member(obj, key);
    if (!v) return def;
    if (!v->is_boolean()) bad(where + "." + key + " must be true or false");
    return v->get<bool>();
  }
  int32_t id(const json& v, const std::string& where) const {
    if (!v.is_number_integer()) bad(where + " must be an integer token id");
    int64_t x = v.get<int64_t>();
    if (x < 0 || x >= kMaxTokenId) bad(where + " = " + std::to_string(x) + " is out of range");
    return static_cast<int32_t>(x);
  }
};

json parse_json(std::string_view text, const std::string& file) {
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    fail_format(file + ": not valid JSON: " + e.what());
  }
}

bool parse_normalizer(const Reader& r, const json* n) {
  if (!n) return false;
  if (!n->is_object()) r.bad("normalizer must be an object");
  const std::string type = r.type(*n, "normalizer");
  if (type == "NFC") return true;
  if (type == "Sequence") {
    const json* list = r.member(*n, "normalizers");
    if (!list || !list->is_array()) r.bad("normalizer.normalizers must be an array");
    bool nfc = false;
    for (const json& item : *list) nfc |= parse_normalizer(r, &item);
    return nfc;
  }
  r.unsupported("normalizer type '" + type + "' is not supported (only NFC)");
}

// Escapes a literal for PCRE2: a backslash before any ASCII punctuation is a literal.
std::string regex_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x80 && !std::isalnum(static_cast<unsigned char>(c))) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// Qwen2's pre_tokenizer is Sequence[Split(regex, Isolated), ByteLevel(use_regex=false)].
// Anything that would need other semantics is refused rather than approximated.
void parse_pre_tokenizer(const Reader& r, const json& p, const std::string& where, std::string& pattern) {
  if (!p.is_object()) r.bad(where + " must be an object");
  const std::string type = r.type(p, where);
  if (type == "Sequence") {
    const json* list = r.member(p, "pretokenizers");
    if (!list || !list->is_array()) r.bad(where + ".pretokenizers must be an array");
    for (size_t i = 0; i < list->size(); ++i)
      parse_pre_tokenizer(r, (*list)[i], where + ".pretokenizers[" + std::to_string(i) + "]", pattern);
  } else if (type == "Split") {
    if (!pattern.empty()) r.unsupported(where + ": more than one Split is not supported");
    const json* pat = r.member(p, "pattern");
    if (!pat || !pat->is_object()) r.bad(where + ".pattern must be an object");
    if (const json* re = r.member(*pat, "Regex")) {
      pattern = r.str(*re, where + ".pattern.Regex");
    } else if (const json* lit = r.member(*pat, "String")) {
      pattern = regex_escape(r.str(*lit, where + ".pattern.String"));
    } else {
      r.bad(where + ".pattern needs Regex or String");
    }
    if (pattern.empty()) r.bad(where + ".pattern is empty");
    const json* behavior = r.member(p, "behavior");
    if (behavior && r.str(*behavior, where + ".behavior") != "Isolated")
      r.unsupported(where + ".behavior '" + behavior->get<std::string>() + "' is not supported (only Isolated)");
    if (r.flag(p, "invert", false, where)) r.unsupported(where + ".invert = true is not supported");
  } else if (type == "ByteLevel") {
    if (r.flag(p, "add_prefix_space", false, where)) r.unsupported(where + ".add_prefix_space = true is not supported");
    if (r.flag(p, "use_regex", true, where)) r.unsupported(where + ".use_regex = true is not supported");
  } else {
    r.unsupported(where + ".type '" + type + "' is not supported");
  }
}

AddedToken parse_added_token(const Reader& r, const json& t, const std::string& where) {
  if (!t.is_object()) r.bad(where + " must be an object");
  AddedToken a;
  const json* content = r.member(t, "content");
  if (!content) r.bad(where + ".content is missing");
  a.content = r.str(*content, where + ".content");
  if (a.content.empty()) r.bad(where + ".content is empty");
  if (!is_valid_utf8(a.content)) r.bad(where + ".content is not valid UTF-8");
  a.special = r.flag(t, "special", false, where);
  a.lstrip = r.flag(t, "lstrip", false, where);
  a.rstrip = r.flag(t, "rstrip", false, where);
  a.single_word = r.flag(t, "single_word", false, where);
  a.normalized = r.flag(t, "normalized", false, where);
  return a;
}

// tokenizer_config.json: added_tokens_decoder (which HF prefers over tokenizer.json's
// list) and the special-token names that decode(skip_special_tokens=True) drops.
void parse_config(const Reader& r, const json& cfg, std::vector<AddedToken>& added, std::vector<std::string>& special_names,
                  bool& has_special_map) {
  if (!cfg.is_object()) r.bad("top level must be a JSON object");
  if (const json* dec = r.member(cfg, "added_tokens_decoder")) {
    if (!dec->is_object()) r.bad("added_tokens_decoder must be an object");
    for (auto it = dec->begin(); it != dec->end(); ++it) {
      std::string where = "added_tokens_decoder[\"" + it.key() + "\"]";
      const std::string& k = it.key();
      if (k.empty() || k.size() > 9 || !std::all_of(k.begin(), k.end(), [](char c) { return c >= '0' && c <= '9'; }))
        r.bad(where + ": key must be a token id");
      AddedToken a = parse_added_token(r, it.value(), where);
      a.id = r.id(json(std::stoll(k)), where);
      auto same = std::find_if(added.begin(), added.end(), [&](const AddedToken& x) { return x.id == a.id; });
      if (same != added.end()) *same = a; else added.push_back(a);
    }
  }
  auto take = [&](const json& v, const std::string& where) {
    if (v.is_null()) return;
    if (v.is_object()) {
      const json* c = r.member(v, "content");
      if (!c) r.bad(where + ".content is missing");
      special_names.push_back(r.str(*c, where + ".content"));
    } else {
      special_names.push_back(r.str(v, where));
    }
  };
  for (const char* key : {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}) {
    auto it = cfg.find(key);
    if (it == cfg.end()) continue;
    has_special_map = true;
    take(*it, key);
  }
  if (const json* extra = r.member(cfg, "additional_special_tokens")) {
    has_special_map = true;
    if (!extra->is_array()) r.bad("additional_special_tokens must be an array");
    for (size_t i = 0; i < extra->size(); ++i) take((*extra)[i], "additional_special_tokens[" + std::to_string(i) + "]");
  }
}

}  // namespace

std::shared_ptr<TokenizerState> build_tokenizer_state(std::string_view tokenizer_json, const std::string& json_name,
                                                      std::string_view config_json, const std::string& config_name) {
  const Reader r{json_name};
  TokenizerJson tj = read_tokenizer_json(tokenizer_json, json_name, kMaxTokenId);
  const json& root = tj.doc;
  try {
    if (!root.is_object()) r.bad("top level must be a JSON object");
    auto st = std::make_shared<TokenizerState>();
    st->source = json_name;

    // --- model: vocab and merges, in the byte-level alphabet ---
    const json* model = r.member(root, "model");
    if (!model || !model->is_object()) r.bad("model is missing or not an object");
    if (const json* type = r.member(*model, "type"); type && r.str(*type, "model.type") != "BPE")
      r.unsupported("model.type '" + type->get<std::string>() + "' is not supported (only BPE)");
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
      if (const json* v = r.member(*model, key); v && !r.str(*v, std::string("model.") + key).empty())
        r.unsupported(std::string("model.") + key + " is not supported");
    if (!tj.vocab_streamed) r.bad("model.vocab is missing or not an object");
    if (tj.vocab.empty()) r.bad("model.vocab is empty");
    if (!tj.merges_streamed) r.bad("model.merges is missing or not an array");

    // Keys point into tj.strings, which outlives this map.
    StringIdMap by_text;
    by_text.reserve(tj.vocab.size());
    std::vector<std::pair<int32_t, std::string>> vocab_bytes;
    vocab_bytes.reserve(tj.vocab.size());
    std::string bytes;
    for (const auto& v : tj.vocab) {
      std::string_view key = tj.str(v.key);
      if (!byte_level_to_bytes(key, bytes))
        r.bad("model.vocab key \"" + std::string(key) + "\" is not in the byte-level alphabet");
      by_text.insert(key, v.id);
      vocab_bytes.emplace_back(v.id, bytes);
    }

    st->bpe.reserve_merges(tj.merges.size());
    std::string joined;
    auto lookup = [&](std::string_view text, size_t i, const char* what) {
      int32_t id = by_text.find(text);
      if (id < 0)
        r.bad("model.merges[" + std::to_string(i) + "]: " + what + " \"" + std::string(text) + "\" is not in model.vocab");
      return id;
    };
    for (size_t i = 0; i < tj.merges.size(); ++i) {
      std::string_view a = tj.str(tj.merges[i].left), b = tj.str(tj.merges[i].right);
      int32_t left = lookup(a, i, "token"), right = lookup(b, i, "token");
      joined.assign(a).append(b);
      int32_t merged = lookup(joined, i, "merged token");
      st->bpe.add_merge(left, right, merged, static_cast<int32_t>(i));
    }
    for (int b = 0; b < 256; ++b) {
      int32_t id = by_text.find(bytes_to_byte_level(std::string(1, static_cast<char>(b))));
      if (id >= 0) st->bpe.set_byte_token(static_cast<uint8_t>(b), id);
    }

    // --- added tokens: tokenizer.json's list, then tokenizer_config.json's overrides ---
    std::vector<AddedToken> added;
    if (const json* list = r.member(root, "added_tokens")) {
      if (!list->is_array()) r.bad("added_tokens must be an array");
      for (size_t i = 0; i < list->size(); ++i) {
        std::string where = "added_tokens[" + std::to_string(i) + "]";
        AddedToken a = parse_added_token(r, (*list)[i], where);
        const json* id = r.member((*list)[i], "id");
        if (!id) r.bad(where + ".id is missing");
        a.id = r.id(*id, where + ".id");
        added.push_back(a);
      }
    }
    std::vector<std::string> special_names;
    bool has_special_map = false;
    if (!config_json.empty()) {
      const Reader cr{config_name};
      json cfg = parse_json(config_json, config_name);
      try {
        parse_config(cr, cfg, added, special_names, has_special_map);
      } catch (const json::exception& e) {
        fail_format(config_name + ": " + e.what());
      }
    }
    st->added.build(added);

    // --- normalizer and pre-tokenizer ---
    st->nfc = parse_normalizer(r, r.member(root, "normalizer"));
    std::string pattern;
    if (const json* pre = r.member(root, "pre_tokenizer")) parse_pre_tokenizer(r, *pre, "pre_tokenizer", pattern);
    if (!pattern.empty()) st->pretokenizer = Pretokenizer(pattern, json_name);

    // --- id tables ---
    int32_t size = 0;
    for (const auto& v : vocab_bytes) size = std::max(size, v.first + 1);
    for (const auto& a : added) size = std::max(size, a.id + 1);
    std::vector<std::string> text_of(static_cast<size_t>(size));
    st->flags.assign(static_cast<size_t>(size), 0);
    for (auto& v : vocab_bytes) {
      uint8_t& f = st->flags[static_cast<size_t>(v.first)];
      if (f & TokenizerState::kExists) r.bad("model.vocab: id " + std::to_string(v.first) + " is used twice");
      f = TokenizerState::kExists;
      text_of[static_cast<size_t>(v.first)] = std::move(v.second);
    }
    for (const auto& a : added) {  // an added token's content wins over a vocab entry
      st->flags[static_cast<size_t>(a.id)] =
          TokenizerState::kExists | TokenizerState::kAdded | (a.special ? TokenizerState::kSpecial : 0);
      text_of[static_cast<size_t>(a.id)] = a.content;
    }
    // decode(skip_special_tokens=True) in transformers drops the tokens *named* in the
    // config (eos, pad, additional_special_tokens...), not the "special" flags. Without
    // such names (no config) the flags are the best available answer.
    if (has_special_map) {
      for (const auto& name : special_names) {
        int32_t id = st->added.find(name);
        if (id < 0) {
          id = by_text.find(bytes_to_byte_level(name));
        }
        if (id >= 0) st->flags[static_cast<size_t>(id)] |= TokenizerState::kSkipOnDecode;
      }
    } else {
      for (auto& f : st->flags)
        if (f & TokenizerState::kSpecial) f |= TokenizerState::kSkipOnDecode;
    }
    st->offsets.resize(static_cast<size_t>(size) + 1);
    size_t total = 0;
    for (const auto& t : text_of) total += t.size();
    st->bytes.reserve(total);
    for (size_t i = 0; i < text_of.size(); ++i) {
      st->offsets[i] = static_cast<uint32_t>(st->bytes.size());
      st->bytes += text_of[i];
    }
    st->offsets[text_of.size()] = static_cast<uint32_t>(st->bytes.size());
    return st;
  } catch (const json::exception& e) {  // a type mismatch the checks above did not foresee
    fail_format(json_name + ": " + e.what());
  }
}

}  // namespace edgevl
