// edgevl bench on the tiny fixture: every field of the JSON report is present with sane
// values, and the markdown table has a row per test. No timing thresholds: only that times
// are positive and the derived rates agree with them.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/mmap_file.h"
#include "test_util.h"

using edgevl_test::fixture;
using json = nlohmann::json;

namespace {

struct BenchRun {
  int status = -1;
  std::string out, err;
};

BenchRun run_cli(const std::string& args) {
  const std::string err_path = edgevl_test::temp_dir() + "/bench_stderr.txt";
  const std::string cmd = std::string(EDGEVL_CLI_PATH) + " " + args + " </dev/null 2>" + err_path;
  BenchRun r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.err = edgevl::read_text_file(err_path);
  return r;
}

void expect_stat(const json& s, const std::string& what, size_t reps) {
  ASSERT_TRUE(s.is_object()) << what;
  ASSERT_TRUE(s.contains("mean") && s.contains("sd") && s.contains("samples")) << what;
  EXPECT_GT(s["mean"].get<double>(), 0) << what;
  EXPECT_GE(s["sd"].get<double>(), 0) << what;
  ASSERT_EQ(s["samples"].size(), reps) << what;
  for (const auto& x : s["samples"]) EXPECT_GT(x.get<double>(), 0) << what;
}

}  // namespace

TEST(BenchCli, JsonHasEveryFieldWithSaneValues) {
  REQUIRE_FIXTURES();
  BenchRun r = run_cli("bench --model " + fixture("tiny-qwen2-vl") + " -r 1 -p 16 -n 4 --image-size 56 --json -t 2");
  ASSERT_EQ(r.status, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["model"], fixture("tiny-qwen2-vl"));
  EXPECT_FALSE(j["cpu_features"].get<std::string>().empty());
  EXPECT_EQ(j["kernels"].get<std::string>().rfind("dot ", 0), 0u) << j["kernels"];
  EXPECT_EQ(j["threads"], 2);
  EXPECT_EQ(j["reps"], 1);
  EXPECT_GT(j["load_ms"].get<double>(), 0);

  const json& t = j["text"];
  EXPECT_EQ(t["layers"], 2);
  EXPECT_EQ(t["hidden_size"], 64);
  EXPECT_EQ(t["vocab_size"], 151936);
  EXPECT_GT(t["params"].get<int64_t>(), 151936 * 64);
  EXPECT_GT(t["decode_bytes_per_token"].get<int64_t>(), 0);
  EXPECT_NEAR(t["bits_per_weight"].get<double>(), 16.0, 0.01);  // the fixture is bf16
  EXPECT_EQ(j["vision"]["depth"], 2);
  EXPECT_GT(j["vision"]["params"].get<int64_t>(), 0);

  const json& im = j["image_encode"];
  EXPECT_EQ(im["image_size"], 56);
  EXPECT_EQ(im["patches"], 16);  // (56 / 14)^2
  EXPECT_EQ(im["tokens"], 4);    // after the 2x2 merge
  EXPECT_GT(im["gflop"].get<double>(), 0);
  expect_stat(im["ms"], "image_encode.ms", 1);
  expect_stat(im["preprocess_ms"], "image_encode.preprocess_ms", 1);
  expect_stat(im["gflops"], "image_encode.gflops", 1);
  EXPECT_NEAR(im["gflops"]["mean"].get<double>(), im["gflop"].get<double>() * 1000 / im["ms"]["mean"].get<double>(), 1e-6);

  const json& pf = j["prefill"];
  EXPECT_EQ(pf["tokens"], 16);
  EXPECT_GT(pf["gflop"].get<double>(), 0);
  expect_stat(pf["ms"], "prefill.ms", 1);
  expect_stat(pf["tokens_per_s"], "prefill.tokens_per_s", 1);
  expect_stat(pf["gflops"], "prefill.gflops", 1);
  EXPECT_NEAR(pf["tokens_per_s"]["mean"].get<double>(), 16 * 1000 / pf["ms"]["mean"].get<double>(), 1e-6);

  const json& dc = j["decode"];
  EXPECT_EQ(dc["tokens"], 4);
  EXPECT_GE(dc["context"].get<int>(), 1);
  expect_stat(dc["ms"], "decode.ms", 1);
  expect_stat(dc["tokens_per_s"], "decode.tokens_per_s", 1);
  expect_stat(dc["gflops"], "decode.gflops", 1);
  const double tps = dc["tokens_per_s"]["mean"].get<double>();
  EXPECT_NEAR(dc["effective_bandwidth_gbs"].get<double>(), t["decode_bytes_per_token"].get<double>() * tps / 1e9, 1e-9);
  ASSERT_TRUE(j["memory_bandwidth_gbs"].is_number());
  EXPECT_GT(j["memory_bandwidth_gbs"].get<double>(), 0);
  EXPECT_NEAR(dc["bandwidth_fraction"].get<double>(), dc["effective_bandwidth_gbs"].get<double>() / j["memory_bandwidth_gbs"].get<double>(), 1e-9);

  const json& tt = j["ttft"];
  EXPECT_EQ(tt["image_size"], 56);
  EXPECT_EQ(tt["image_tokens"], 4);
  EXPECT_GT(tt["prompt_tokens"].get<int>(), 4 + 10);  // system prompt + image + question
  expect_stat(tt["ms"], "ttft.ms", 1);

  EXPECT_GT(j["peak_rss_bytes"].get<int64_t>(), 1 << 20);
  EXPECT_NE(r.err.find("bench: decode"), std::string::npos) << r.err;
}

TEST(BenchCli, MarkdownTableHasARowPerTestAndTheHeader) {
  REQUIRE_FIXTURES();
  BenchRun r = run_cli("bench --model " + fixture("tiny-qwen2.5-vl") + " -r 2 -p 8 -n 2 --image-size 112 -t 2 -q --bandwidth-mib 16");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;  // -q
  EXPECT_NE(r.out.find("cpu: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("threads: 2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| test | tokens | reps | ms | t/s | GFLOP/s | notes |"), std::string::npos) << r.out;
  for (const char* row : {"| image encode 112x112 | 16 | 2 |", "| prefill pp8 | 8 | 2 |", "| decode tg2 | 2 | 2 |", "| ttft image 112x112 |"})
    EXPECT_NE(r.out.find(row), std::string::npos) << row << "\n" << r.out;
  EXPECT_NE(r.out.find(" ± "), std::string::npos);
  EXPECT_NE(r.out.find("% of "), std::string::npos) << r.out;
}

TEST(BenchCli, SkipsTestsAndRejectsBadSizes) {
  REQUIRE_FIXTURES();
  BenchRun r = run_cli("bench --model " + fixture("tiny-qwen2-vl") + " -r 1 -p 0 -n 2 --image-size 0 --json -q --bandwidth-mib 0 --no-warmup");
  ASSERT_EQ(r.status, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_FALSE(j.contains("prefill"));
  EXPECT_FALSE(j.contains("image_encode"));
  EXPECT_FALSE(j.contains("ttft"));
  EXPECT_TRUE(j.contains("decode"));
  EXPECT_TRUE(j["memory_bandwidth_gbs"].is_null());
  EXPECT_TRUE(j["decode"]["bandwidth_fraction"].is_null());

  r = run_cli("bench --model " + fixture("tiny-qwen2-vl") + " --image-size 50 -q");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("multiple of 28"), std::string::npos) << r.err;
  r = run_cli("bench --model " + fixture("tiny-qwen2-vl") + " --json --md");
  EXPECT_NE(r.status, 0);
}
