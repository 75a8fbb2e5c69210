// A model's own chat template drives its conversations: every fixture model's template,
// read from its Hugging Face directory and from a GGUF made by the converter, yields
// framing that reproduces every golden conversation's input ids (turn 1 with its image
// tokens, the multi-turn continuation, text only); templates the subset cannot render,
// or that rewrite earlier turns, fall back to the built-in ChatML with one warning; and
// hostile templates fail cleanly and quickly.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/log.h"
#include "core/mmap_file.h"
#include "core/npy.h"
#include "formats/chat_template_source.h"
#include "formats/gguf_convert.h"
#include "runtime/chat_template.h"
#include "runtime/model.h"
#include "test_util.h"

using namespace edgevl;

namespace {

const char* const kModels[] = {"tiny-qwen2-vl", "tiny-qwen2.5-vl", "tiny-qwen3-vl"};

// Collects the warnings reported while it lives.
struct WarningCapture {
  std::vector<std::string> seen;
  WarningSink old;
  WarningCapture() {
    old = set_warning_sink([this](const std::string& m) { seen.push_back(m); });
  }
  ~WarningCapture() { set_warning_sink(std::move(old)); }
};


std::vector<int64_t> npy_ids(const std::string& path) {
  const auto a = load_npy(path).as_i64();
  return std::vector<int64_t>(a.begin(), a.end());
}

void append(std::vector<int64_t>& out, const std::vector<int32_t>& ids) { out.insert(out.end(), ids.begin(), ids.end()); }

// Every golden conversation of a fixture model, rendered as a session renders it (each
// piece of framing tokenized with special tokens parsed, the image as vision start +
// n x <|image_pad|> + vision end, the reply's ids appended as generated), must give the
// golden input ids.
void expect_goldens(const std::string& model, const ChatTemplate& t, const Tokenizer& tok, const ModelConfig& cfg) {
  const std::string dir = edgevl_test::fixture(model);
  const auto cases = nlohmann::json::parse(read_text_file(dir + "/golden/manifest.json"))["cases"];
  int checked = 0;
  for (auto it = cases.begin(); it != cases.end(); ++it) {
    SCOPED_TRACE(it.key());
    const auto& c = it.value();
    if (it.key() == "text_only") {
      const std::string text = "Hello! Tell me a short story about 3 dragons and a \xe4\xb8\xad\xe6\x96\x87 poem.";
      std::vector<int64_t> ids;
      append(ids, tok.encode(t.system_block() + t.prefix(Role::User) + text + t.suffix(Role::User) + t.generation_prompt()));
      EXPECT_EQ(ids, npy_ids(dir + "/golden/text_only.input_ids.npy"));
      ++checked;
      continue;
    }
    std::vector<int64_t> ids;
    append(ids, tok.encode(t.system_block() + t.prefix(Role::User)));
    ids.push_back(cfg.vision_start_token_id);
    ids.insert(ids.end(), static_cast<size_t>(c["n_image_tokens"].get<int64_t>()), cfg.image_token_id);
    ids.push_back(cfg.vision_end_token_id);
    append(ids, tok.encode("Describe this image." + t.suffix(Role::User) + t.generation_prompt()));
    EXPECT_EQ(ids, npy_ids(dir + "/golden/" + it.key() + ".turn1.input_ids.npy"));
    // Turn 2 on a kept cache: the 16 generated ids (no stop token), the reply's close,
    // then the next user turn.
    append(ids, c["turn1"]["greedy_ids"].get<std::vector<int32_t>>());
    append(ids, tok.encode(t.reply_close(false) + t.prefix(Role::User) + "What color is it?" + t.suffix(Role::User) + t.generation_prompt()));
    EXPECT_EQ(ids, npy_ids(dir + "/golden/" + it.key() + ".turn2.input_ids.npy"));
    ++checked;
  }
  EXPECT_EQ(checked, 5);
}

// A model directory like `model` whose chat_template.json holds `source`.
std::string dir_with_template(const std::string& model, const std::string& name, const std::string& source) {
  const std::string dir = edgevl_test::temp_dir() + "/" + name;
  ::mkdir(dir.c_str(), 0755);
  for (const char* f : {"config.json", "generation_config.json", "model.safetensors", "preprocessor_config.json", "tokenizer.json",
                        "tokenizer_config.json"}) {
    const std::string to = dir + "/" + f;
    ::unlink(to.c_str());
    EXPECT_EQ(::symlink((edgevl_test::fixture(model) + "/" + f).c_str(), to.c_str()), 0) << to;
  }
  std::ofstream(dir + "/chat_template.json") << nlohmann::json{{"chat_template", source}}.dump();
  return dir;
}

int error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return static_cast<int>(e.code());
  }
  return 0;
}

}  // namespace

TEST(ModelChatTemplate, OwnTemplateFromHfDirectoryReproducesGoldenIds) {
  REQUIRE_FIXTURES();
  for (const std::string model : kModels) {
    SCOPED_TRACE(model);
    const std::string dir = edgevl_test::fixture(model);
    const std::string source = read_hf_chat_template(dir);
    ASSERT_FALSE(source.empty());
    const auto ct = nlohmann::json::parse(read_text_file(dir + "/chat_template.json"));
    EXPECT_EQ(source, ct["chat_template"].get<std::string>());  // chat_template.json is read first

    WarningCapture warnings;
    const auto m = Model::load({dir, ""});
    EXPECT_TRUE(warnings.seen.empty()) << warnings.seen.front();
    const ChatTemplate& t = m->chat_template();
    EXPECT_EQ(t, ChatTemplate::from_jinja(source));
    expect_goldens(model, t, m->tokenizer(), m->config());

    // The official templates write ChatML for system, user and assistant messages;
    // Qwen3-VL adds no default system block.
    const ChatTemplate builtin = ChatTemplate::model_default(m->config());
    for (Role r : {Role::System, Role::User, Role::Assistant}) {
      EXPECT_EQ(t.prefix(r), builtin.prefix(r));
      EXPECT_EQ(t.suffix(r), builtin.suffix(r));
    }
    EXPECT_EQ(t.generation_prompt(), builtin.generation_prompt());
    EXPECT_EQ(t.system_block(), builtin.system_block());
    EXPECT_EQ(t.system_block().empty(), model == "tiny-qwen3-vl");
    // Tool results: Qwen3-VL's template wraps them in a user turn, the others frame the role.
    if (model == "tiny-qwen3-vl") {
      EXPECT_EQ(t.prefix(Role::Tool), "<|im_start|>user\n<tool_response>\n");
      EXPECT_EQ(t.suffix(Role::Tool), "\n</tool_response><|im_end|>\n");
    } else {
      EXPECT_EQ(t.prefix(Role::Tool), "<|im_start|>tool\n");
      EXPECT_EQ(t.suffix(Role::Tool), "<|im_end|>\n");
    }
  }
}

TEST(ModelChatTemplate, OwnTemplateFromConvertedGgufReproducesGoldenIds) {
  REQUIRE_FIXTURES();
  for (const std::string model : kModels) {
    SCOPED_TRACE(model);
    const std::string dir = edgevl_test::fixture(model);
    const std::string text = edgevl_test::temp_dir() + "/" + model + ".tmpl.gguf";
    const std::string mmproj = edgevl_test::temp_dir() + "/" + model + ".tmpl.mmproj.gguf";
    convert_hf_to_gguf(dir, text, mmproj);
    WarningCapture warnings;
    const auto m = Model::load({text, mmproj});
    EXPECT_TRUE(warnings.seen.empty()) << warnings.seen.front();
    EXPECT_EQ(m->chat_template(), ChatTemplate::from_jinja(read_hf_chat_template(dir)));
    expect_goldens(model, m->chat_template(), m->tokenizer(), m->config());
    ::unlink(text.c_str());
    ::unlink(mmproj.c_str());
  }
}

TEST(ModelChatTemplate, UnsupportedTemplateFallsBackToChatMLWithOneWarning) {
  REQUIRE_FIXTURES();
  struct Case {
    std::string name, source, named;  // named: what the warning must name
  };
  const std::vector<Case> cases = {
      {"macro", "{% macro m(x) %}{{ x }}{% endmacro %}{% for m in messages %}{{ m.content }}{% endfor %}", "'{% macro %}'"},
      {"filter", "{% for m in messages %}{{ m.content | wordwrap }}{% endfor %}", "filter 'wordwrap'"},
      {"syntax", "{% for m in messages %}{{ m.content }}", "'for' without 'endfor'"},
      // Renders the last message differently, so earlier turns change as the conversation grows.
      {"rewrites", "{% for m in messages %}{% if loop.last %}[{{ m.content }}]{% else %}{{ m.content }}{% endif %}{% endfor %}",
       "changes the text rendered before it"},
      {"image", "{% for m in messages %}<|im_start|>{{ m.role }}\n{% if m.content is string %}{{ m.content }}{% else %}"
                "{% for c in m.content %}{% if c.type == 'image' %}<image>{% else %}{{ c.text }}{% endif %}{% endfor %}{% endif %}"
                "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}",
       "<|vision_start|><|image_pad|><|vision_end|>"},
  };
  for (const std::string model : {"tiny-qwen2-vl", "tiny-qwen3-vl"}) {
    for (const auto& c : cases) {
      SCOPED_TRACE(model + " " + c.name);
      const std::string dir = dir_with_template(model, model + "-" + c.name, c.source);
      WarningCapture warnings;
      const auto m = Model::load({dir, ""});
      ASSERT_EQ(warnings.seen.size(), 1u);
      EXPECT_NE(warnings.seen[0].find(c.named), std::string::npos) << warnings.seen[0];
      EXPECT_NE(warnings.seen[0].find("built-in ChatML"), std::string::npos) << warnings.seen[0];
      EXPECT_EQ(m->chat_template(), ChatTemplate::model_default(m->config()));
      EXPECT_EQ(m->chat_template().system_block().empty(), model == "tiny-qwen3-vl");  // Qwen3-VL: no default system prompt
      expect_goldens(model, m->chat_template(), m->tokenizer(), m->config());
    }
  }
}

TEST(ModelChatTemplate, HostileTemplatesFailCleanlyAndQuickly) {
  std::string deep_blocks, deep_expr = "{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}";
  for (int i = 0; i < 5000; ++i) deep_blocks += "{% if true %}";
  const std::vector<std::pair<std::string, ErrorCode>> cases = {
      {deep_blocks, ErrorCode::kFormat},
      {deep_expr, ErrorCode::kFormat},
      {"{% for m in messages %}{{ m.content", ErrorCode::kFormat},
      {"{% for m in messages %}{% if m %", ErrorCode::kFormat},
      {"{{ 'unterminated }}", ErrorCode::kFormat},
      {"{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", ErrorCode::kInvalidArgument},
      {"{% set s = namespace(v='x') %}{% for i in range(200) %}{% set s.v = s.v ~ s.v %}{% endfor %}{{ s.v }}", ErrorCode::kInvalidArgument},
      {"{% for i in range(100000) %}{{ messages | tojson }}{% endfor %}", ErrorCode::kInvalidArgument},
      {"{{ raise_exception('no system messages') }}", ErrorCode::kInvalidArgument},
  };
  for (const auto& [source, code] : cases) {
    SCOPED_TRACE(source.substr(0, 80));
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(error_of([&] { ChatTemplate::from_jinja(source); }), static_cast<int>(code));
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
  }
}
