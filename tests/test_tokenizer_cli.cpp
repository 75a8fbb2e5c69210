// `edgevl tokenize` end to end: runs the built CLI on the Qwen2-VL fixture tokenizer.
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <sys/wait.h>

#include "formats/gguf_convert.h"
#include "test_util.h"

namespace {

struct CliResult {
  int code;
  std::string out;  // stdout and stderr together
};

// `feed`, when given, is a shell command whose output becomes the CLI's stdin.
CliResult run_cli(const std::string& args, const std::string& feed = "") {
  std::string cmd = (feed.empty() ? "" : feed + " | ") + std::string(EDGEVL_CLI_PATH) + " tokenize " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return {-1, "popen failed"};
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string model_arg() { return "--model '" + edgevl_test::fixture("tokenizer") + "'"; }

TEST(TokenizeCli, EncodesAndDecodes) {
  REQUIRE_FIXTURES();
  CliResult r = run_cli(model_arg() + " 'Hello world'");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, "9707 1879\n");
  r = run_cli(model_arg() + " --decode 9707 1879,0");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, "Hello world!\n");
  r = run_cli(model_arg() + " --decode --skip-special 151644 9707 151645");
  EXPECT_EQ(r.out, "Hello\n");
  r = run_cli(model_arg() + " --json '<|im_start|>user hi'");
  EXPECT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["ids"], nlohmann::json({151644, 872, 15588}));
  EXPECT_EQ(j["tokens"], nlohmann::json({"<|im_start|>", "user", "\xC4\xA0hi"}));
  r = run_cli(model_arg(), "printf 'Hello world'");  // no TEXT: read stdin
  EXPECT_EQ(r.out, "9707 1879\n");
  r = run_cli(model_arg() + " --no-special '<|im_end|>'");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("151645"), std::string::npos) << r.out;
}

TEST(TokenizeCli, ErrorsExitOneWithMessage) {
  REQUIRE_FIXTURES();
  CliResult r = run_cli(model_arg() + " --decode 999999999");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("999999999"), std::string::npos) << r.out;
  r = run_cli(model_arg() + " --decode abc");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("abc"), std::string::npos) << r.out;
  r = run_cli("--model /nonexistent/dir hi");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("/nonexistent/dir/tokenizer.json"), std::string::npos) << r.out;
  r = run_cli("hi");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--model"), std::string::npos) << r.out;
  r = run_cli(model_arg(), "printf 'ok\\377'");  // invalid UTF-8 on stdin
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("UTF-8"), std::string::npos) << r.out;
}

}  // namespace

// A .gguf text model as --model: the tokenizer it carries, same ids and skip-special text.
TEST(TokenizeCli, AcceptsAGgufModel) {
  REQUIRE_FIXTURES();
  const std::string path = edgevl_test::temp_dir() + "/tokcli-tiny-qwen2-vl.gguf";
  edgevl::GgufConvertOptions opt;
  opt.text_type = edgevl::DType::F16;
  edgevl::convert_hf_to_gguf(edgevl_test::fixture("tiny-qwen2-vl"), path, "", opt);
  CliResult r = run_cli("--model '" + path + "' 'Hello world'");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, "9707 1879\n");
  r = run_cli("--model '" + path + "' --decode --skip-special 151644 9707 151652 151645");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, "Hello\n");
}
