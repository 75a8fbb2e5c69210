// The edgevl CLI driven as a person (or script) would: through a pipe.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/mmap_file.h"
#include "test_util.h"

using edgevl_test::fixture;
using json = nlohmann::json;

namespace {

struct CliRun {
  int status = -1;
  std::string out;
};

// Runs `edgevl ARGS` with `input` on stdin; returns exit status and stdout.
CliRun run_cli(const std::string& args, const std::string& input) {
  const std::string in_path = edgevl_test::temp_dir() + "/cli_input.txt";
  edgevl::write_file_atomic(in_path, input.data(), input.size());
  const std::string cmd = std::string(EDGEVL_CLI_PATH) + " " + args + " < " + in_path + " 2>" + edgevl_test::temp_dir() + "/cli_stderr.txt";
  CliRun r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::vector<json> json_lines(const std::string& s) {
  std::vector<json> v;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty() && line[0] == '{') v.push_back(json::parse(line));
  return v;
}

std::string stderr_text() { return edgevl::read_text_file(edgevl_test::temp_dir() + "/cli_stderr.txt"); }

}  // namespace

TEST(Cli, ChatPresetsImageSwitchClearExit) {
  REQUIRE_FIXTURES();
  const std::string args = "chat --model " + fixture("tiny-qwen2-vl") + " --image " + fixture("images/demo.jpg") +
                           " --fixed-size 392 --json --max-new-tokens 4 --threads 2";
  CliRun r = run_cli(args, "0\n/image " + fixture("images/tall.png") + "\nWhat is it?\nclear\nHello\nexit\nnever sent\n");
  ASSERT_EQ(r.status, 0) << stderr_text();
  auto turns = json_lines(r.out);
  ASSERT_EQ(turns.size(), 3u) << r.out;
  // Preset 0 asks about the image: 196 image tokens (392x392 on-device preprocessing).
  EXPECT_EQ(turns[0]["image_tokens"], 196);
  EXPECT_EQ(turns[0]["tokens"].size(), 4u);
  // /image switched the image: the next question carries the new one, in the same conversation.
  EXPECT_EQ(turns[1]["image_tokens"], 196);
  EXPECT_GT(turns[1]["stats"]["kv_tokens"].template get<int>(), turns[0]["stats"]["kv_tokens"].template get<int>() + 196);
  // After clear, only the system prompt stays cached: the KV fill drops back.
  EXPECT_LT(turns[2]["stats"]["kv_tokens"].template get<int>(), turns[1]["stats"]["kv_tokens"].template get<int>());
  for (const auto& t : turns) EXPECT_TRUE(t.contains("text") && t["stats"].contains("ttft_ms"));
}

TEST(Cli, TextChatJsonAndGreedyMatchesGolden) {
  REQUIRE_FIXTURES();
  json m = json::parse(edgevl::read_text_file(fixture("tiny-qwen2-vl/golden/manifest.json")));
  CliRun r = run_cli("chat --model " + fixture("tiny-qwen2-vl") + " --json --max-new-tokens 16 --ignore-eos --threads 2",
                  "Hello! Tell me a short story about 3 dragons and a 中文 poem.\n");
  ASSERT_EQ(r.status, 0) << stderr_text();
  auto turns = json_lines(r.out);
  ASSERT_EQ(turns.size(), 1u);
  EXPECT_EQ(turns[0]["tokens"], m["cases"]["text_only"]["greedy_ids"]);
  EXPECT_EQ(turns[0]["prompt_tokens"], 36);
}

// --kv-type f16: the tiny model's greedy text reply is the reference's; an unknown type is a
// usage error naming the choices.
TEST(Cli, KvTypeF16ChatsAndUnknownTypeIsRefused) {
  REQUIRE_FIXTURES();
  json m = json::parse(edgevl::read_text_file(fixture("tiny-qwen2-vl/golden/manifest.json")));
  CliRun r = run_cli("chat --model " + fixture("tiny-qwen2-vl") + " --kv-type f16 --json --max-new-tokens 16 --ignore-eos --threads 2",
                     "Hello! Tell me a short story about 3 dragons and a 中文 poem.\n");
  ASSERT_EQ(r.status, 0) << stderr_text();
  auto turns = json_lines(r.out);
  ASSERT_EQ(turns.size(), 1u);
  EXPECT_EQ(turns[0]["tokens"], m["cases"]["text_only"]["greedy_ids"]);
  r = run_cli("chat --model " + fixture("tiny-qwen2-vl") + " --kv-type q8_0", "");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(stderr_text().find("f32,f16"), std::string::npos) << stderr_text();
}

TEST(Cli, ErrorsAreReportedAndSessionContinues) {
  REQUIRE_FIXTURES();
  // A tag with no image, a broken image path: each reported; the next turn still runs.
  CliRun r = run_cli("chat --model " + fixture("tiny-qwen2-vl") + " --json --max-new-tokens 2 --threads 2",
                  "<image>What is this?\n/image /nonexistent/x.png\nStill there?\n");
  EXPECT_EQ(r.status, 1);  // errors happened: non-zero for scripts
  auto lines = json_lines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_NE(lines[0]["error"].get<std::string>().find("no image is loaded"), std::string::npos);
  EXPECT_NE(lines[1]["error"].get<std::string>().find("/nonexistent/x.png"), std::string::npos);
  EXPECT_EQ(lines[2]["tokens"].size(), 2u);
}

TEST(Cli, BadModelGivesClearErrorAndExitCode) {
  CliRun r = run_cli("chat --model /nonexistent/model", "");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(stderr_text().find("/nonexistent/model"), std::string::npos);
  REQUIRE_FIXTURES();
  // A config with an unknown architecture.
  const std::string dir = edgevl_test::temp_dir() + "/llama_model";
  ::mkdir(dir.c_str(), 0755);
  const std::string cfg = R"({"architectures":["LlamaForCausalLM"],"model_type":"llama"})";
  edgevl::write_file_atomic(dir + "/config.json", cfg.data(), cfg.size());
  r = run_cli("chat --model " + dir, "");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(stderr_text().find("unsupported architecture 'LlamaForCausalLM'"), std::string::npos) << stderr_text();
}

TEST(Cli, DemoPositionalForm) {
  REQUIRE_FIXTURES();
  const std::string dir = fixture("tiny-qwen2-vl");
  CliRun r = run_cli("demo " + fixture("images/demo.jpg") + " " + dir + " " + dir + " 4 1024 2", "0\nexit\n");
  EXPECT_EQ(r.status, 0) << stderr_text();
  EXPECT_NE(stderr_text().find("image encode"), std::string::npos) << stderr_text();
}

// `/system TEXT` in the chat equals starting with `--system TEXT`: the same system message,
// framed by the model's own template (Qwen3-VL's has no default system block, Qwen2-VL's has).
TEST(Cli, SystemCommandEqualsSystemFlag) {
  REQUIRE_FIXTURES();
  for (const char* model : {"tiny-qwen2-vl", "tiny-qwen3-vl"}) {
    const std::string args = "chat --model " + fixture(model) + " --json --max-new-tokens 6 --ignore-eos --threads 2";
    CliRun flag = run_cli(args + " --system 'Answer in one word.'", "Hello\n");
    CliRun cmd = run_cli(args, "Hi\n/system Answer in one word.\nHello\n");
    ASSERT_EQ(flag.status, 0) << stderr_text();
    ASSERT_EQ(cmd.status, 0) << stderr_text();
    auto a = json_lines(flag.out), b = json_lines(cmd.out);
    ASSERT_EQ(a.size(), 1u) << flag.out;
    ASSERT_EQ(b.size(), 2u) << cmd.out;
    EXPECT_EQ(a[0]["tokens"], b[1]["tokens"]) << model;
    EXPECT_EQ(a[0]["stats"]["kv_tokens"], b[1]["stats"]["kv_tokens"]) << model;
  }
}
