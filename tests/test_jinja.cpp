// The Jinja-subset renderer (src/template/jinja.h): every fixture model's own chat template
// renders every fixture conversation to the golden input ids; language features, Hugging
// Face's trim_blocks/lstrip_blocks whitespace, tojson, and hostile templates (unsupported
// constructs, limits) fail cleanly.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/mmap_file.h"
#include "core/npy.h"
#include "template/jinja.h"
#include "test_util.h"
#include "tokenizer/tokenizer.h"

using namespace edgevl;
using edgevl::jinja::Template;
using edgevl::jinja::Value;

namespace {

std::string render(const std::string& tmpl, const Value& ctx = Value::object()) { return Template::parse(tmpl).render(ctx); }

int error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return static_cast<int>(e.code());
  }
  return 0;
}

Value user_image_turn(const std::string& text) {
  return Value{{"role", "user"}, {"content", Value::array({Value{{"type", "image"}}, Value{{"type", "text"}, {"text", text}}})}};
}

}  // namespace

TEST(Jinja, ExpressionsStatementsAndFilters) {
  EXPECT_EQ(render("a{{ 1 + 2 }}b{{ 'x' ~ 3 }}{{ \"q\" + 'r' }}"), "a3bx3qr");
  EXPECT_EQ(render("{% for x in xs %}{{ loop.index }}{{ x }}{% if not loop.last %},{% endif %}{% endfor %}",
                   Value{{"xs", {"a", "b", "c"}}}),
            "1a,2b,3c");
  EXPECT_EQ(render("{% set ns = namespace(n=0) %}{% for x in xs %}{% set ns.n = ns.n + x %}{% endfor %}{{ ns.n }}", Value{{"xs", {1, 2, 3}}}),
            "6");
  EXPECT_EQ(render("{% set n = 1 %}{% for x in xs %}{% set n = 5 %}{% endfor %}{{ n }}", Value{{"xs", {1}}}), "1");  // loop scope
  EXPECT_EQ(render("{% if a %}A{% elif b %}B{% else %}C{% endif %}", Value{{"b", true}}), "B");
  EXPECT_EQ(render("{{ x is string }}{{ y is defined }}{{ 'b' in 'abc' }}{{ 3 not in [1, 2] }}", Value{{"x", "s"}}), "TrueFalseTrueTrue");
  EXPECT_EQ(render("{{ d | tojson }}", Value{{"d", Value::parse(R"({"b": [1, "é\n"], "a": null})")}}), "{\"b\": [1, \"é\\n\"], \"a\": null}");
  EXPECT_EQ(render("{{ '  hi ' | trim | upper }}{{ xs | length }}{{ xs | join('-') }}{{ xs[-1] }}{{ 'abcd'[1:3] }}", Value{{"xs", {1, 2}}}),
            "HI21-22bc");
  EXPECT_EQ(render("{{ 'a' if c else 'b' }}{{ m.content.startswith('<t>') }}{{ ' x '.strip() }}", Value{{"m", {{"content", "<t>1"}}}}),
            "bTruex");
  EXPECT_EQ(render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", Value{{"d", Value::parse(R"({"z": 1, "a": 2})")}}),
            "z=1;a=2;");
  EXPECT_EQ(render("{{ undefined_thing }}|{{ none }}|{{ 1.5 }}|{{ true }}"), "|None|1.5|True");
}

TEST(Jinja, WhitespaceControlAndHuggingFaceTrimming) {
  // trim_blocks: the newline after a block tag goes; lstrip_blocks: indentation before it.
  EXPECT_EQ(render("{% if true %}\n  x\n{% endif %}\ny"), "  x\ny");
  EXPECT_EQ(render("a\n    {% if true %}b{% endif %}"), "a\nb");
  EXPECT_EQ(render("a  {{- ' b ' -}}  c"), "a b c");
  EXPECT_EQ(render("a\n{%- if true %} b {% endif -%}\n c"), "a b c");
  EXPECT_EQ(render("{# comment #}\nx"), "x");
}

TEST(Jinja, HostileTemplatesFailCleanly) {
  EXPECT_EQ(error_of([] { Template::parse("{% macro m() %}{% endmacro %}"); }), static_cast<int>(ErrorCode::kUnsupported));
  EXPECT_EQ(error_of([] { Template::parse("{% include 'x' %}"); }), static_cast<int>(ErrorCode::kUnsupported));
  EXPECT_EQ(error_of([] { Template::parse("{% for x in y %}a{% else %}b{% endfor %}"); }), static_cast<int>(ErrorCode::kUnsupported));
  EXPECT_EQ(error_of([] { render("{{ x | wordwrap }}"); }), static_cast<int>(ErrorCode::kUnsupported));
  EXPECT_EQ(error_of([] { Template::parse("{% if x %}unclosed"); }), static_cast<int>(ErrorCode::kFormat));
  EXPECT_EQ(error_of([] { Template::parse("{{ 'unterminated }}"); }), static_cast<int>(ErrorCode::kFormat));
  EXPECT_EQ(error_of([] { Template::parse("{{ x"); }), static_cast<int>(ErrorCode::kFormat));
  EXPECT_EQ(error_of([] { Template::parse("{{ " + std::string(10000, '(') + "1" + std::string(10000, ')') + " }}"); }), static_cast<int>(ErrorCode::kFormat));
  std::string deep;
  for (int i = 0; i < 200; ++i) deep += "{% if true %}";
  EXPECT_EQ(error_of([&] { Template::parse(deep); }), static_cast<int>(ErrorCode::kFormat));
  // Exponential output and endless loops hit the limits.
  jinja::Limits small;
  small.max_output_bytes = 1 << 16;
  EXPECT_EQ(error_of([&] {
              Template::parse("{% set s = namespace(v='xx') %}{% for i in range(100) %}{% set s.v = s.v + s.v %}{% endfor %}{{ s.v }}", small)
                  .render(Value::object());
            }),
            static_cast<int>(ErrorCode::kInvalidArgument));
  EXPECT_EQ(error_of([] {
              jinja::Limits few;
              few.max_steps = 100000;
              Template::parse("{% for a in range(99999) %}{% for b in range(99999) %}{% endfor %}{% endfor %}", few).render(Value::object());
            }),
            static_cast<int>(ErrorCode::kInvalidArgument));
  EXPECT_EQ(error_of([] { render("{{ raise_exception('no') }}"); }), static_cast<int>(ErrorCode::kInvalidArgument));
  EXPECT_EQ(error_of([] { render("{{ 1 // 0 }}"); }), static_cast<int>(ErrorCode::kInvalidArgument));
}

// Each fixture model's own template (chat_template.json) for every golden conversation:
// the first turn's ids equal the golden input ids once the single <|image_pad|> is
// expanded to the image's token count, and the second turn appends the golden suffix.
TEST(Jinja, FixtureTemplatesReproduceGoldenInputIds) {
  REQUIRE_FIXTURES();
  for (const std::string model : {"tiny-qwen2-vl", "tiny-qwen2.5-vl", "tiny-qwen3-vl"}) {
    SCOPED_TRACE(model);
    const std::string dir = edgevl_test::fixture(model);
    const auto ct = nlohmann::json::parse(read_text_file(dir + "/chat_template.json"));
    const Template tmpl = Template::parse(ct["chat_template"].get<std::string>());
    const Tokenizer tok = Tokenizer::load(dir);
    const int32_t pad = tok.special_id("<|image_pad|>");
    const auto cases = nlohmann::json::parse(read_text_file(dir + "/golden/manifest.json"))["cases"];
    int checked = 0;
    for (auto it = cases.begin(); it != cases.end(); ++it) {
      SCOPED_TRACE(it.key());
      const auto& c = it.value();
      if (it.key() == "text_only") {
        Value ctx{{"messages", Value::array({Value{{"role", "user"}, {"content", "Hello! Tell me a short story about 3 dragons and a \xe4\xb8\xad\xe6\x96\x87 poem."}}})},
                  {"add_generation_prompt", true}};
        const std::string text = tmpl.render(ctx);
        EXPECT_EQ(text, c["prompt_text"].get<std::string>());
        const auto want = load_npy(dir + "/golden/text_only.input_ids.npy").as_i64();
        const auto got = tok.encode(text);
        EXPECT_TRUE(std::equal(want.begin(), want.end(), got.begin(), got.end()));
        ++checked;
        continue;
      }
      const int64_t n_img = c["n_image_tokens"].get<int64_t>();
      Value msgs = Value::array({user_image_turn("Describe this image.")});
      const std::string t1 = tmpl.render(Value{{"messages", msgs}, {"add_generation_prompt", true}});
      EXPECT_EQ(t1, c["prompt_text_turn1"].get<std::string>());
      std::vector<int64_t> ids;
      for (int32_t id : tok.encode(t1)) {
        if (id == pad)
          ids.insert(ids.end(), static_cast<size_t>(n_img), pad);
        else
          ids.push_back(id);
      }
      const auto want1 = load_npy(dir + "/golden/" + it.key() + ".turn1.input_ids.npy").as_i64();
      EXPECT_EQ(ids, std::vector<int64_t>(want1.begin(), want1.end()));
      // Turn 2: the reply, then the template's framing up to the next generation prompt.
      const std::string reply = "REPLY";
      msgs.push_back(Value{{"role", "assistant"}, {"content", reply}});
      msgs.push_back(Value{{"role", "user"}, {"content", Value::array({Value{{"type", "text"}, {"text", "What color is it?"}}})}});
      const std::string t2 = tmpl.render(Value{{"messages", msgs}, {"add_generation_prompt", true}});
      ASSERT_EQ(t2.compare(0, t1.size() + reply.size(), t1 + reply), 0) << t2;
      const auto suffix = tok.encode(t2.substr(t1.size() + reply.size()));
      const auto want_suffix = c["turn2"]["appended_suffix_ids"].get<std::vector<int32_t>>();
      EXPECT_EQ(suffix, want_suffix);
      ++checked;
    }
    EXPECT_GE(checked, 5);
  }
}

TEST(Jinja, Qwen3VLTemplateWithTools) {
  REQUIRE_FIXTURES();
  const auto ct = nlohmann::json::parse(read_text_file(edgevl_test::fixture("tiny-qwen3-vl/chat_template.json")));
  const Template tmpl = Template::parse(ct["chat_template"].get<std::string>());
  Value tool = Value::parse(R"({"type": "function", "function": {"name": "f", "parameters": {}}})");
  Value ctx{{"messages", Value::array({Value{{"role", "user"}, {"content", "hi"}}})}, {"tools", Value::array({tool})},
            {"add_generation_prompt", true}};
  const std::string out = tmpl.render(ctx);
  EXPECT_EQ(out.rfind("<|im_start|>system\n# Tools\n", 0), 0u) << out;
  EXPECT_NE(out.find("\n{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": {}}}\n</tools>"), std::string::npos) << out;
  EXPECT_NE(out.find("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"), std::string::npos) << out;
}
