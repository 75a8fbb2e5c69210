// Tokenizer pieces that need no fixtures: UTF-8 decoding/streaming, NFC, byte-level
// mapping, BPE on a small hand-made vocabulary, added-token flags, and hostile files.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <random>

#include "core/error.h"
#include "test_util.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer.h"

using namespace edgevl;
using nlohmann::json;

namespace {

const std::string kFFFD = "\xEF\xBF\xBD";

// Expected values are Python's bytes.decode("utf-8", errors="replace").
TEST(Utf8, ReplaceInvalidLikePython) {
  struct Case {
    std::string in, out;
  } cases[] = {
      {"\xE4\xB8", kFFFD},
      {"\xE4\xB8\xAD\xE6", "\xE4\xB8\xAD" + kFFFD},
      {"\xED\xA0\x80", kFFFD + kFFFD + kFFFD},  // surrogate
      {"\xE0\x80\xAF", kFFFD + kFFFD + kFFFD},  // overlong
      {"\xF0\x9F\x98", kFFFD},
      {"\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80"},
      {"\xF4\x90\x80\x80", kFFFD + kFFFD + kFFFD + kFFFD},  // above U+10FFFF
      {"\xC0\xAF", kFFFD + kFFFD},
      {"\xFF\xFE", kFFFD + kFFFD},
      {"\x80\x80" "a", kFFFD + kFFFD + "a"},
      {"\xF0\x9F\xE4\xB8\xAD", kFFFD + "\xE4\xB8\xAD"},
      {"a\xC3", "a" + kFFFD},
      {"\xF5\x80\x80\x80", kFFFD + kFFFD + kFFFD + kFFFD},
      {std::string("a\0b", 3), std::string("a\0b", 3)},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(utf8_replace_invalid(c.in), c.out) << json(c.out).dump();
    EXPECT_EQ(is_valid_utf8(c.in), c.in == c.out) << json(c.out).dump();
  }
}

TEST(Utf8, StreamDecoderHoldsIncompleteCharacters) {
  Utf8StreamDecoder d;
  EXPECT_EQ(d.push("a\xE4"), "a");
  EXPECT_TRUE(d.holding());
  EXPECT_EQ(d.push("\xB8"), "");
  EXPECT_EQ(d.push("\xAD!"), "\xE4\xB8\xAD!");
  EXPECT_FALSE(d.holding());
  EXPECT_EQ(d.push("\xF0\x9F"), "");
  EXPECT_EQ(d.push("x"), kFFFD + "x");  // the held prefix turned out ill-formed
  EXPECT_EQ(d.push("\xE4"), "");
  EXPECT_EQ(d.flush(), kFFFD);
  EXPECT_FALSE(d.holding());
  EXPECT_EQ(d.push("\xE4"), "");
  d.reset();
  EXPECT_EQ(d.push("b"), "b");
  EXPECT_EQ(d.flush(), "");
}

// Any bytes cut at any points: the streamed text equals the whole-string decode.
TEST(Utf8, StreamDecoderMatchesWholeDecodeOnRandomBytes) {
  std::mt19937 rng(12345);
  const std::string alphabet[] = {"a", "\xE4", "\xB8", "\xAD", "\xF0", "\x9F", "\x98", "\x80", "\xC3", "\xA9",
                                  "\xED", "\xA0", "\xFF", "\xE0", "\xF4", "\x8F", "\xBF", "\n"};
  for (int iter = 0; iter < 3000; ++iter) {
    std::string bytes;
    int n = static_cast<int>(rng() % 24);
    for (int i = 0; i < n; ++i) bytes += alphabet[rng() % 18];
    Utf8StreamDecoder d;
    std::string streamed;
    for (size_t i = 0; i < bytes.size();) {
      size_t len = 1 + rng() % 3;
      streamed += d.push(std::string_view(bytes).substr(i, len));
      i += len;
    }
    streamed += d.flush();
    ASSERT_EQ(streamed, utf8_replace_invalid(bytes)) << json(utf8_replace_invalid(bytes)).dump();
  }
}

TEST(Nfc, ComposesLikePython) {
  EXPECT_EQ(nfc_normalize("caf" "e\xCC\x81"), "caf\xC3\xA9");
  EXPECT_EQ(nfc_normalize("\xE2\x84\xAB"), "\xC3\x85");                      // Å sign -> Å
  EXPECT_EQ(nfc_normalize("\xEF\xAC\x81"), "\xEF\xAC\x81");                  // ﬁ: compatibility only
  EXPECT_EQ(nfc_normalize("\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB"), "\xED\x95\x9C");  // jamo -> 한
  EXPECT_EQ(nfc_normalize(std::string("a\0e\xCC\x81", 5)), std::string("a\0\xC3\xA9", 4));
  // U+11A7 is not a trailing consonant, so 가 + U+11A7 stays two characters (Python agrees);
  // utf8proc 2.8 alone wrongly swallows the U+11A7. The fast path never hands it that pair.
  EXPECT_EQ(nfc_normalize("\xEA\xB0\x80\xE1\x86\xA7"), "\xEA\xB0\x80\xE1\x86\xA7");
}

// The fast path (only non-inert stretches go to utf8proc) against utf8proc on everything.
TEST(Nfc, FastPathMatchesWholeTextNormalization) {
  std::vector<uint32_t> pool = {'a', 'e', 'A', 'o', ' ', '\n', 0xE9, 0x212B, 0x2126, 0x344, 0x343, 0xAC00, 0xAC01,
                                0xD504, 0x1100, 0x1112, 0x1161, 0x1175, 0x11A8, 0x11C2, 0x0B47, 0x0B3E, 0x0B57,
                                0x0DD9, 0x0DCF, 0x0DCA, 0x0DDF, 0x1025, 0x102E, 0x3099, 0x304B, 0x30AB, 0x4E2D,
                                0xFB01, 0xFF21, 0x1E0A, 0x0323, 0x0307, 0x05B8, 0x05B7, 0x0F71, 0x0F72, 0x1D15E,
                                0x1D165, 0x1F600, 0x0627, 0x0653, 0x0915, 0x093C, 0x09C7, 0x09BE};
  for (uint32_t c = 0x300; c < 0x370; ++c) pool.push_back(c);
  auto utf8 = [](uint32_t c) {
    std::string s;
    if (c < 0x80) {
      s += static_cast<char>(c);
    } else if (c < 0x800) {
      s += static_cast<char>(0xC0 | (c >> 6));
      s += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      s += static_cast<char>(0xE0 | (c >> 12));
      s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (c >> 18));
      s += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (c & 0x3F));
    }
    return s;
  };
  std::mt19937 rng(99);
  for (int iter = 0; iter < 20000; ++iter) {
    std::string s;
    int n = 1 + static_cast<int>(rng() % 10);
    for (int i = 0; i < n; ++i) s += utf8(pool[rng() % pool.size()]);
    ASSERT_EQ(nfc_normalize(s), nfc_normalize_reference(s)) << json(s).dump();
  }
}

TEST(ByteLevel, RoundTripsAllBytes) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  std::string shown = bytes_to_byte_level(all), back;
  ASSERT_TRUE(byte_level_to_bytes(shown, back));
  EXPECT_EQ(back, all);
  EXPECT_EQ(bytes_to_byte_level(" \n"), "\xC4\xA0\xC4\x8A");  // "ĠĊ"
  EXPECT_FALSE(byte_level_to_bytes("\xE4\xB8\xAD", back));     // 中 is not in the alphabet
  EXPECT_FALSE(byte_level_to_bytes(" ", back));                // nor is a real space
}

// A hand-made byte-level BPE: all 256 bytes plus a few merges. `pairs` writes the merges
// as ["a", "b"] arrays instead of "a b" strings.
json tiny_tokenizer(bool pairs) {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[bytes_to_byte_level(std::string(1, static_cast<char>(b)))] = b;
  const char* merges[][2] = {{"h", "e"}, {"l", "l"}, {"he", "ll"}, {"hell", "o"}, {"\xC4\xA0", "w"}, {"l", "o"}};
  json m = json::array();
  int id = 256;
  for (auto& mg : merges) {
    std::string merged = std::string(mg[0]) + mg[1];
    if (!vocab.contains(merged)) vocab[merged] = id++;
    if (pairs) m.push_back({mg[0], mg[1]});
    else m.push_back(std::string(mg[0]) + " " + mg[1]);
  }
  json pre = {{"type", "Sequence"},
              {"pretokenizers",
               {{{"type", "Split"}, {"pattern", {{"Regex", "\\s+|\\S+"}}}, {"behavior", "Isolated"}, {"invert", false}},
                {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}}}};
  json added = json::array({
      {{"id", 300}, {"content", "<|end|>"}, {"special", true}},
      {{"id", 301}, {"content", "<x>"}, {"special", false}},
      {{"id", 302}, {"content", "<r>"}, {"special", false}, {"rstrip", true}},
      {{"id", 303}, {"content", "<l>"}, {"special", false}, {"lstrip", true}},
      {{"id", 304}, {"content", "<|end|>x"}, {"special", false}},
  });
  return {{"version", "1.0"},
          {"added_tokens", added},
          {"normalizer", {{"type", "NFC"}}},
          {"pre_tokenizer", pre},
          {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", m}}}};
}

TEST(TinyTokenizer, MergesAsStringsOrPairsAgree) {
  Tokenizer a = Tokenizer::from_json(tiny_tokenizer(false).dump(), "", "tiny.json");
  Tokenizer b = Tokenizer::from_json(tiny_tokenizer(true).dump(), "", "tiny.json");
  std::vector<int32_t> hello = a.encode("hello");
  ASSERT_EQ(hello.size(), 1u);  // h+e, l+l, he+ll, hell+o (l+o ranks last, so never used)
  EXPECT_EQ(a.token_to_bytes(hello[0]), "hello");
  for (const char* s : {"hello world", "hellol lo", "xhex", "e\xCC\x81!"}) {
    EXPECT_EQ(a.encode(s), b.encode(s)) << s;
    EXPECT_EQ(a.decode(a.encode(s)), nfc_normalize(s)) << s;
  }
  EXPECT_EQ(a.encode("llo"), (std::vector<int32_t>{a.encode("ll")[0], 'o'}));  // l+l ranks before l+o
  EXPECT_EQ(a.vocab_size(), 305);
}

TEST(TinyTokenizer, AddedTokensAndFlags) {
  Tokenizer t = Tokenizer::from_json(tiny_tokenizer(false).dump(), "", "tiny.json");
  auto ids = [&](const char* s) { return t.encode(s); };
  EXPECT_EQ(ids("a<|end|>b"), (std::vector<int32_t>{'a', 300, 'b'}));
  EXPECT_EQ(ids("<|end|>x"), (std::vector<int32_t>{304}));  // longest match wins
  EXPECT_EQ(ids("<x><x>"), (std::vector<int32_t>{301, 301}));
  EXPECT_EQ(ids("a<r>  b"), (std::vector<int32_t>{'a', 302, 'b'}));  // rstrip eats the spaces after
  EXPECT_EQ(ids("a  <l>b"), (std::vector<int32_t>{'a', 303, 'b'}));  // lstrip eats the spaces before
  EXPECT_EQ(t.encode("<x>", false), (std::vector<int32_t>{'<', 'x', '>'}));
  EXPECT_TRUE(t.is_special(300));
  EXPECT_FALSE(t.is_special(301));
  EXPECT_EQ(t.special_id("<x>"), 301);
  // No tokenizer_config.json: skip_special falls back to the "special" flags.
  EXPECT_EQ(t.decode({'a', 300, 301}, true), "a<x>");
  // With a config, the named special tokens are what gets skipped.
  Tokenizer c = Tokenizer::from_json(tiny_tokenizer(false).dump(), R"({"eos_token": "<x>"})", "tiny.json");
  EXPECT_EQ(c.decode({'a', 300, 301}, true), "a<|end|>");
}

TEST(TinyTokenizer, EmptyTokenizerThrows) {
  Tokenizer t;
  EXPECT_FALSE(t.loaded());
  EXPECT_THROW(t.encode("x"), Error);
  EXPECT_THROW(t.vocab_size(), Error);
}

// --- hostile files: every problem is an Error naming the source and the field ---

void expect_error(const std::string& text, ErrorCode code, const std::string& needle, const std::string& config = "") {
  try {
    Tokenizer::from_json(text, config, "bad.json");
    ADD_FAILURE() << "accepted: " << text.substr(0, 200);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    std::string msg = e.what();
    EXPECT_NE(msg.find("bad.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << "'" << needle << "' not in: " << msg;
  }
}

TEST(TokenizerHostile, BadFilesGiveClearErrors) {
  json good = tiny_tokenizer(false);
  std::string text = good.dump();
  expect_error(text.substr(0, text.size() / 2), ErrorCode::kFormat, "not valid JSON");
  expect_error("[1, 2]", ErrorCode::kFormat, "top level");
  json j = good;
  j["model"].erase("vocab");
  expect_error(j.dump(), ErrorCode::kFormat, "model.vocab");
  j = good;
  j.erase("model");
  expect_error(j.dump(), ErrorCode::kFormat, "model");
  j = good;
  j["model"]["vocab"] = json::array();
  expect_error(j.dump(), ErrorCode::kFormat, "model.vocab");
  j = good;
  j["model"]["vocab"]["h"] = "seven";
  expect_error(j.dump(), ErrorCode::kFormat, "model.vocab[\"h\"]");
  j = good;
  j["model"]["vocab"]["h"] = -3;
  expect_error(j.dump(), ErrorCode::kFormat, "model.vocab[\"h\"]");
  j = good;
  j["model"]["vocab"]["h"] = 4000000000LL;
  expect_error(j.dump(), ErrorCode::kFormat, "model.vocab[\"h\"]");
  j = good;
  j["model"]["vocab"]["\xE4\xB8\xAD"] = 500;
  expect_error(j.dump(), ErrorCode::kFormat, "byte-level alphabet");
  j = good;
  j["model"]["merges"][0] = "h nope";
  expect_error(j.dump(), ErrorCode::kFormat, "model.merges[0]: token \"nope\"");
  j = good;
  j["model"]["merges"][1] = "l l l";
  expect_error(j.dump(), ErrorCode::kFormat, "model.merges[1]");
  j = good;
  j["model"]["merges"][1] = 7;
  expect_error(j.dump(), ErrorCode::kFormat, "model.merges[1]");
  j = good;
  j["model"]["merges"][1] = json::array({"l"});
  expect_error(j.dump(), ErrorCode::kFormat, "model.merges[1]");
  j = good;
  j["model"]["merges"].push_back("x y");  // "xy" was never added to the vocab
  expect_error(j.dump(), ErrorCode::kFormat, "merged token \"xy\"");
  j = good;
  j["model"].erase("merges");
  expect_error(j.dump(), ErrorCode::kFormat, "model.merges");
  j = good;
  j["model"]["type"] = "WordPiece";
  expect_error(j.dump(), ErrorCode::kUnsupported, "model.type");
  j = good;
  j["added_tokens"][0].erase("content");
  expect_error(j.dump(), ErrorCode::kFormat, "added_tokens[0].content");
  j = good;
  j["added_tokens"][1]["id"] = "x";
  expect_error(j.dump(), ErrorCode::kFormat, "added_tokens[1].id");
  j = good;
  j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(unclosed";
  expect_error(j.dump(), ErrorCode::kFormat, "regex");
  j = good;
  j["pre_tokenizer"]["pretokenizers"][1]["use_regex"] = true;
  expect_error(j.dump(), ErrorCode::kUnsupported, "use_regex");
  j = good;
  j["normalizer"] = {{"type", "Lowercase"}};
  expect_error(j.dump(), ErrorCode::kUnsupported, "normalizer");
  expect_error(text, ErrorCode::kFormat, "not valid JSON", "{\"eos_token\": ");
  expect_error(text, ErrorCode::kFormat, "added_tokens_decoder", R"({"added_tokens_decoder": {"x": {}}})");
}

TEST(TokenizerHostile, MissingDirectoryNamesPath) {
  try {
    Tokenizer::load("/nonexistent/edgevl-model");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kIo);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/edgevl-model/tokenizer.json"), std::string::npos);
  }
}

// Every truncation and many random corruptions either load or throw edgevl::Error.
TEST(TokenizerHostile, CorruptedFilesNeverCrash) {
  std::string text = tiny_tokenizer(false).dump();
  for (size_t n = 0; n < text.size(); n += 7) EXPECT_THROW(Tokenizer::from_json(text.substr(0, n), "", "t"), Error);
  std::mt19937 rng(3);
  const char junk[] = "{}[]\",:0-9 a\\";
  for (int iter = 0; iter < 300; ++iter) {
    std::string s = text;
    for (int k = 0; k < 3; ++k) s[rng() % s.size()] = junk[rng() % (sizeof junk - 1)];
    try {
      Tokenizer t = Tokenizer::from_json(s, "", "t");
      t.decode(t.encode("hello <x> world"));
    } catch (const Error&) {
    }
  }
}

}  // namespace
