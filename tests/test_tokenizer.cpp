// Tokenizer: golden ids/text from Hugging Face's slow Qwen2Tokenizer (transformers 4.50)
// for the Qwen2-VL and Qwen2.5-VL vocabularies, the streaming UTF-8 decoder, and
// hostile input. CLI tests are in test_tokenizer_cli.cpp.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <random>
#include <sstream>

#include "core/error.h"
#include "core/mmap_file.h"
#include "core/timer.h"
#include "test_util.h"
#include "formats/gguf_convert.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_gguf.h"

using namespace edgevl;
using nlohmann::json;

namespace {

std::vector<json> read_jsonl(const std::string& path) {
  std::ifstream f(path);
  EXPECT_TRUE(f.good()) << path;
  std::vector<json> rows;
  std::string line;
  while (std::getline(f, line))
    if (!line.empty()) rows.push_back(json::parse(line));
  return rows;
}

std::vector<int32_t> ids_of(const json& j) { return j.get<std::vector<int32_t>>(); }

std::string stream_decode(const Tokenizer& tok, const std::vector<int32_t>& ids) {
  Utf8StreamDecoder dec;
  std::string out;
  for (int32_t id : ids) out += dec.push(tok.token_to_bytes(id));
  return out + dec.flush();
}

// Loading is the slow part, so each suite loads its tokenizer once.
class Qwen2VLTokenizer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (edgevl_test::path_exists(edgevl_test::fixture("tokenizer/tokenizer.json")))
      tok_ = new Tokenizer(Tokenizer::load(edgevl_test::fixture("tokenizer")));
  }
  static void TearDownTestSuite() {
    delete tok_;
    tok_ = nullptr;
  }
  void SetUp() override {
    REQUIRE_FIXTURES();
    ASSERT_NE(tok_, nullptr) << "tokenizer fixture missing";
  }
  static Tokenizer* tok_;
};
Tokenizer* Qwen2VLTokenizer::tok_ = nullptr;

class Qwen25VLTokenizer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (edgevl_test::path_exists(edgevl_test::fixture("tiny-qwen2.5-vl/tokenizer.json")))
      tok_ = new Tokenizer(Tokenizer::load(edgevl_test::fixture("tiny-qwen2.5-vl")));
  }
  static void TearDownTestSuite() {
    delete tok_;
    tok_ = nullptr;
  }
  void SetUp() override {
    REQUIRE_FIXTURES();
    ASSERT_NE(tok_, nullptr) << "tiny-qwen2.5-vl tokenizer fixture missing";
  }
  static Tokenizer* tok_;
};
Tokenizer* Qwen25VLTokenizer::tok_ = nullptr;

void check_encode_golden(const Tokenizer& tok, const std::string& path) {
  auto rows = read_jsonl(path);
  ASSERT_GE(rows.size(), 90u) << path;
  int failures = 0;
  for (const auto& row : rows) {
    std::string text = row["text"];
    auto want = ids_of(row["ids"]);
    auto got = tok.encode(text);
    EXPECT_EQ(got, want) << "text: " << json(text).dump();
    std::string decoded = row["decoded"];
    EXPECT_EQ(tok.decode(want), decoded) << "text: " << json(text).dump();
    // Round trip: decode(encode(s)) == NFC(s), which the golden marks for every row.
    if (row["roundtrip_nfc"].get<bool>()) {
      EXPECT_EQ(tok.decode(got), nfc_normalize(text)) << "text: " << json(text).dump();
    }
    EXPECT_EQ(stream_decode(tok, want), decoded) << "text: " << json(text).dump();
    failures += got != want;
  }
  EXPECT_EQ(failures, 0) << "of " << rows.size() << " golden strings";
}

void check_decode_golden(const Tokenizer& tok, const std::string& path) {
  auto rows = read_jsonl(path);
  ASSERT_GE(rows.size(), 5u) << path;
  for (const auto& row : rows) {
    auto ids = ids_of(row["ids"]);
    EXPECT_EQ(tok.decode(ids, false), row["decoded"].get<std::string>()) << row["ids"].dump();
    EXPECT_EQ(tok.decode(ids, true), row["decoded_skip_special"].get<std::string>()) << row["ids"].dump();
    EXPECT_EQ(stream_decode(tok, ids), row["decoded"].get<std::string>()) << row["ids"].dump();
  }
}

}  // namespace

TEST_F(Qwen2VLTokenizer, EncodeGolden) { check_encode_golden(*tok_, edgevl_test::fixture("tokenizer/golden.jsonl")); }

TEST_F(Qwen2VLTokenizer, DecodeGolden) {
  check_decode_golden(*tok_, edgevl_test::fixture("tokenizer/decode_golden.jsonl"));
}

TEST_F(Qwen25VLTokenizer, EncodeGolden) {
  check_encode_golden(*tok_, edgevl_test::fixture("tiny-qwen2.5-vl/tokenizer_golden.jsonl"));
}

TEST_F(Qwen25VLTokenizer, DecodeGolden) {
  check_decode_golden(*tok_, edgevl_test::fixture("tiny-qwen2.5-vl/tokenizer_decode_golden.jsonl"));
}

TEST_F(Qwen2VLTokenizer, SpecialTokensAndSizes) {
  const Tokenizer& t = *tok_;
  EXPECT_EQ(t.vocab_size(), 151657);
  EXPECT_EQ(t.special_id("<|endoftext|>"), 151643);
  EXPECT_EQ(t.special_id("<|im_start|>"), 151644);
  EXPECT_EQ(t.special_id("<|im_end|>"), 151645);
  EXPECT_EQ(t.special_id("<|image_pad|>"), 151655);
  EXPECT_EQ(t.special_id("<tool_call>"), -1);
  EXPECT_EQ(t.special_id("Hello"), -1);  // a vocab token, not an added one
  EXPECT_TRUE(t.is_special(151645));
  EXPECT_FALSE(t.is_special(9707));
  EXPECT_FALSE(t.is_special(-1));
  EXPECT_FALSE(t.is_special(1 << 30));
  EXPECT_EQ(t.token_to_bytes(220), " ");
  EXPECT_EQ(t.token_to_bytes(9707), "Hello");
  EXPECT_EQ(t.token_to_bytes(151644), "<|im_start|>");
  EXPECT_EQ(t.token_to_bytes(160), "\xE4");  // a lone byte, not valid UTF-8 by itself
}

TEST_F(Qwen25VLTokenizer, SpecialTokensAndSizes) {
  const Tokenizer& t = *tok_;
  EXPECT_EQ(t.vocab_size(), 151665);
  EXPECT_EQ(t.special_id("<tool_call>"), 151657);
  EXPECT_EQ(t.special_id("<|file_sep|>"), 151664);
  EXPECT_FALSE(t.is_special(151657));  // added, but "special": false
  EXPECT_TRUE(t.is_special(151655));
  // Not special, so skip_special keeps it (HF skips only the config's special tokens).
  EXPECT_EQ(t.decode({151657, 151645}, true), "<tool_call>");
}

// A special token written inside user text becomes its id (HF's default); with
// parse_special=false it is plain text. The Qwen2-VL golden shows what the plain-text
// ids of the Qwen2.5-VL-only added tokens are, so the two vocabularies check each other.
TEST_F(Qwen25VLTokenizer, SpecialTokenInUserText) {
  const Tokenizer& t = *tok_;
  EXPECT_EQ(t.encode("text<|endoftext|>text"), (std::vector<int32_t>{1318, 151643, 1318}));
  EXPECT_EQ(t.encode("<|im_start|>user\nhi<|im_end|>"), (std::vector<int32_t>{151644, 872, 198, 6023, 151645}));
  auto plain = read_jsonl(edgevl_test::fixture("tokenizer/golden.jsonl"));
  int checked = 0;
  for (const auto& row : plain) {
    std::string text = row["text"];
    if (text.find("<tool_call>") == std::string::npos && text.find("<|fim_") == std::string::npos) continue;
    EXPECT_EQ(t.encode(text, /*parse_special=*/false), ids_of(row["ids"])) << text;
    EXPECT_NE(t.encode(text, true), ids_of(row["ids"])) << text;
    ++checked;
  }
  EXPECT_EQ(checked, 2);
  // Without parsing, "<|im_end|>" must come out as several ordinary tokens.
  auto ids = t.encode("<|im_end|>", false);
  EXPECT_GT(ids.size(), 1u);
  for (int32_t id : ids) EXPECT_LT(id, 151643);
  EXPECT_EQ(t.decode(ids), "<|im_end|>");
}

TEST_F(Qwen2VLTokenizer, RoundTripExtraStrings) {
  const std::string texts[] = {
      "e\xCC\x81 A\xCC\x8A \xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB",  // decomposed: NFC composes them
      "\xEF\xAC\x81 \xE2\x84\xAB \xE2\x84\xA6",                     // ﬁ stays; Å (U+212B) -> Å; Ω sign -> Ω
      "tabs\t\tand\x0B\x0C" "feeds\r\r\n", "\xC2\x85nel\xE1\xA0\x8Emvs\xE2\x80\xA8ls",
      "a\x1C\x1D\x1E\x1F" "b", "<|im_start|><|im_start|>", "<|im_start", "<<|im_end|>>", std::string(3000, ' '),
  };
  for (const std::string& s : texts) {
    auto ids = tok_->encode(s);
    EXPECT_EQ(tok_->decode(ids), nfc_normalize(s)) << json(s).dump();
    EXPECT_EQ(tok_->encode(s), ids) << "cached result differs for " << json(s).dump();
  }
  EXPECT_EQ(tok_->encode(""), std::vector<int32_t>{});
  EXPECT_EQ(tok_->decode({}), "");
}

TEST_F(Qwen2VLTokenizer, DecodeSkipSpecial) {
  auto ids = tok_->encode("<|im_start|>user\nhi<|im_end|>\n");
  EXPECT_EQ(tok_->decode(ids, false), "<|im_start|>user\nhi<|im_end|>\n");
  EXPECT_EQ(tok_->decode(ids, true), "user\nhi\n");
}

TEST_F(Qwen2VLTokenizer, HostileIdsAndText) {
  const Tokenizer& t = *tok_;
  for (int32_t bad : {-1, 151657, 151936, 1 << 30}) {
    try {
      t.decode({9707, bad});
      FAIL() << "decode accepted id " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find(std::to_string(bad)), std::string::npos) << e.what();
    }
    EXPECT_THROW(t.token_to_bytes(bad), Error);
  }
  try {
    t.encode("ok \xC3\x28 not ok");
    FAIL() << "invalid UTF-8 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("UTF-8"), std::string::npos);
  }
  // Long inputs: one huge word and a long mixed text must not blow up.
  std::string word(200000, 'x');
  auto ids = t.encode(word);
  EXPECT_EQ(t.decode(ids), word);
  std::string mixed;
  std::mt19937 rng(7);
  const char* parts[] = {"a", " ", "\n", "中", "1", "!", "\xF0\x9F\x98\x80", "<|im_end|>", "'s", "\t"};
  for (int i = 0; i < 20000; ++i) mixed += parts[rng() % 10];
  EXPECT_EQ(t.decode(t.encode(mixed)), mixed);
}

// Load time and encode throughput, printed for the record; the bounds are loose so a
// busy CI machine does not fail it (Release numbers are far below them).
TEST_F(Qwen2VLTokenizer, Performance) {
  std::string json_text = read_text_file(edgevl_test::fixture("tokenizer/tokenizer.json"));
  std::string cfg_text = read_text_file(edgevl_test::fixture("tokenizer/tokenizer_config.json"));
  double t0 = now_ms();
  Tokenizer t = Tokenizer::from_json(json_text, cfg_text, "tokenizer.json");
  double load_ms = now_ms() - t0;
  std::string text;
  for (const auto& row : read_jsonl(edgevl_test::fixture("tokenizer/golden.jsonl")))
    text += row["text"].get<std::string>() + "\n";
  std::string corpus;
  while (corpus.size() < (4u << 20)) corpus += text;
  t0 = now_ms();
  auto ids = t.encode(corpus);
  double enc_ms = now_ms() - t0;
  std::printf("[perf] tokenizer parse+build %.1f ms; encode %.1f MB/s (%zu tokens in %.1f ms)\n", load_ms,
              corpus.size() / 1e6 / (enc_ms / 1e3), ids.size(), enc_ms);
  EXPECT_LT(load_ms, 10000);
  EXPECT_EQ(t.decode(ids), nfc_normalize(corpus));
}

// The same goldens from the tokenizer a .gguf carries (tokenizer.ggml.*, written by our
// converter the way llama.cpp's does): ids, text and skip-special decoding equal the
// Hugging Face directory's.
namespace {
Tokenizer gguf_tokenizer_of(const std::string& model) {
  const std::string path = edgevl_test::temp_dir() + "/tok-" + model + ".gguf";
  GgufConvertOptions opt;
  opt.text_type = DType::F16;
  convert_hf_to_gguf(edgevl_test::fixture(model), path, "", opt);
  return tokenizer_from_gguf(GgufFile(path));
}
}  // namespace

TEST(GgufTokenizer, Qwen2VLGoldensFromGguf) {
  REQUIRE_FIXTURES();
  const Tokenizer tok = gguf_tokenizer_of("tiny-qwen2-vl");
  check_encode_golden(tok, edgevl_test::fixture("tokenizer/golden.jsonl"));
  check_decode_golden(tok, edgevl_test::fixture("tokenizer/decode_golden.jsonl"));
}

TEST(GgufTokenizer, Qwen25VLGoldensFromGguf) {
  REQUIRE_FIXTURES();
  const Tokenizer tok = gguf_tokenizer_of("tiny-qwen2.5-vl");
  check_encode_golden(tok, edgevl_test::fixture("tiny-qwen2.5-vl/tokenizer_golden.jsonl"));
  check_decode_golden(tok, edgevl_test::fixture("tiny-qwen2.5-vl/tokenizer_decode_golden.jsonl"));
}
