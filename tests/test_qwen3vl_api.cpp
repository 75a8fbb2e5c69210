// Qwen3-VL through the two public front ends: the C API (include/edgevl.h) and
// `edgevl chat --json`, against the tiny-qwen3-vl goldens (16 greedy tokens per turn, turn 2
// on the kept cache, the text-only case, last logits, the 448 on-device convention).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/mmap_file.h"
#include "core/npy.h"
#include "edgevl.h"
#include "test_util.h"

using edgevl_test::fixture;
using json = nlohmann::json;

namespace {

json manifest() { return json::parse(edgevl::read_text_file(fixture("tiny-qwen3-vl/golden/manifest.json"))); }

std::vector<int32_t> ids(const json& j) { return j.get<std::vector<int32_t>>(); }

struct Collected {
  std::vector<int32_t> tokens;
  std::vector<float> logits;
};

int collect(const edgevl_result* r, void* user) {
  auto* c = static_cast<Collected*>(user);
  if (r->state == EDGEVL_STATE_NORMAL || r->state == EDGEVL_STATE_WAITING) c->tokens.push_back(r->token_id);
  if (r->state == EDGEVL_STATE_FINISH && r->logits) c->logits.assign(r->logits, r->logits + r->n_logits);
  return 0;
}

Collected run(edgevl_session* s, const std::string& tagged, const char* image_path, edgevl_mode mode) {
  edgevl_part parts[2] = {edgevl_part_tagged_text(tagged.c_str()), edgevl_part_image_file(image_path)};
  edgevl_message m{EDGEVL_ROLE_USER, parts, image_path ? 2u : 1u};
  edgevl_run_params rp = edgevl_run_default_params();
  rp.mode = mode;
  rp.max_new_tokens = 16;
  rp.ignore_eos = 1;
  Collected c;
  EXPECT_EQ(edgevl_run(s, &m, &rp, collect, &c), EDGEVL_OK) << edgevl_last_error();
  return c;
}

float rel_diff(const std::vector<float>& got, const std::string& npy) {
  const std::vector<float> ref = edgevl::load_npy(npy).as_f32();
  EXPECT_EQ(got.size(), ref.size());
  float d = 0, s = 0;
  for (size_t i = 0; i < std::min(got.size(), ref.size()); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    d = std::max(d, std::fabs(got[i] - ref[i]));
    s = std::max(s, std::fabs(ref[i]));
  }
  return d / s;
}

}  // namespace

TEST(Qwen3VLCApi, TwoTurnsTextOnlyAndFixedSize) {
  REQUIRE_FIXTURES();
  const json m = manifest();
  const std::string dir = fixture("tiny-qwen3-vl");
  edgevl_model_params mp = edgevl_model_default_params();
  mp.path = dir.c_str();
  edgevl_model* model = nullptr;
  ASSERT_EQ(edgevl_model_load(&mp, &model), EDGEVL_OK) << edgevl_last_error();
  edgevl_model_info info = edgevl_model_info_default();
  ASSERT_EQ(edgevl_model_get_info(model, &info), EDGEVL_OK);
  EXPECT_STREQ(info.architecture, "Qwen3VLForConditionalGeneration");

  edgevl_session_params sp = edgevl_session_default_params();
  sp.n_threads = 2;
  sp.max_context = 2048;
  edgevl_session* s = nullptr;
  ASSERT_EQ(edgevl_session_create(model, &sp, &s), EDGEVL_OK) << edgevl_last_error();
  const std::string tall = fixture("images/tall.png");
  // Turn 1 logits (prefill only, forgotten), then the conversation.
  edgevl_part lp[2] = {edgevl_part_tagged_text("<image>Describe this image."), edgevl_part_image_file(tall.c_str())};
  edgevl_message lm{EDGEVL_ROLE_USER, lp, 2};
  edgevl_run_params rp = edgevl_run_default_params();
  rp.mode = EDGEVL_MODE_LOGITS;
  rp.keep_history = 0;
  Collected l;
  ASSERT_EQ(edgevl_run(s, &lm, &rp, collect, &l), EDGEVL_OK) << edgevl_last_error();
  EXPECT_LE(rel_diff(l.logits, fixture("tiny-qwen3-vl/golden/tall_native.turn1.last_logits.npy")), 1e-4f);
  EXPECT_EQ(run(s, "<image>Describe this image.", tall.c_str(), EDGEVL_MODE_GENERATE).tokens,
            ids(m["cases"]["tall_native"]["turn1"]["greedy_ids"]));
  EXPECT_EQ(run(s, "What color is it?", nullptr, EDGEVL_MODE_GENERATE).tokens, ids(m["cases"]["tall_native"]["turn2"]["greedy_ids"]));
  edgevl_session_free(s);

  // Text only (no default system prompt for Qwen3-VL).
  ASSERT_EQ(edgevl_session_create(model, &sp, &s), EDGEVL_OK);
  EXPECT_EQ(run(s, "Hello! Tell me a short story about 3 dragons and a 中文 poem.", nullptr, EDGEVL_MODE_GENERATE).tokens,
            ids(m["cases"]["text_only"]["greedy_ids"]));
  edgevl_session_free(s);

  // The 448 on-device convention from the original image = the sq448 goldens.
  sp.image_fixed_size = 448;
  ASSERT_EQ(edgevl_session_create(model, &sp, &s), EDGEVL_OK) << edgevl_last_error();
  EXPECT_EQ(run(s, "<image>Describe this image.", tall.c_str(), EDGEVL_MODE_GENERATE).tokens,
            ids(m["cases"]["tall_sq448"]["turn1"]["greedy_ids"]));
  edgevl_session_free(s);
  sp.image_fixed_size = 392;  // not a multiple of 32 (patch 16 x merge 2)
  EXPECT_EQ(edgevl_session_create(model, &sp, &s), EDGEVL_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(edgevl_last_error()).find("multiple of 32"), std::string::npos) << edgevl_last_error();
  edgevl_model_free(model);
}

namespace {

struct CliRun {
  int status = -1;
  std::string out;
};

CliRun run_cli(const std::string& args, const std::string& input) {
  const std::string in_path = edgevl_test::temp_dir() + "/q3_cli_input.txt";
  edgevl::write_file_atomic(in_path, input.data(), input.size());
  const std::string cmd = std::string(EDGEVL_CLI_PATH) + " " + args + " < " + in_path + " 2>" + edgevl_test::temp_dir() + "/q3_cli_stderr.txt";
  CliRun r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = ::pclose(p);
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

}  // namespace

TEST(Qwen3VLCli, ChatJsonTwoTurnsAndTextOnly) {
  REQUIRE_FIXTURES();
  const json m = manifest();
  const std::string model = fixture("tiny-qwen3-vl");
  CliRun r = run_cli("chat --model " + model + " --image " + fixture("images/demo.png") +
                         " --fixed-size 448 --json --max-new-tokens 16 --ignore-eos --threads 2",
                     "<image>Describe this image.\nWhat color is it?\n");
  ASSERT_EQ(r.status, 0) << edgevl::read_text_file(edgevl_test::temp_dir() + "/q3_cli_stderr.txt");
  auto turns = json_lines(r.out);
  ASSERT_EQ(turns.size(), 2u) << r.out;
  EXPECT_EQ(turns[0]["image_tokens"], 196);
  EXPECT_EQ(turns[0]["tokens"], m["cases"]["demo_sq448"]["turn1"]["greedy_ids"]);
  EXPECT_EQ(turns[1]["tokens"], m["cases"]["demo_sq448"]["turn2"]["greedy_ids"]);
  r = run_cli("chat --model " + model + " --json --max-new-tokens 16 --ignore-eos --threads 2",
              "Hello! Tell me a short story about 3 dragons and a 中文 poem.\n");
  ASSERT_EQ(r.status, 0);
  turns = json_lines(r.out);
  ASSERT_EQ(turns.size(), 1u);
  EXPECT_EQ(turns[0]["tokens"], m["cases"]["text_only"]["greedy_ids"]);
  EXPECT_EQ(turns[0]["prompt_tokens"], 25);  // no system block
}

// The RKLLM demo's positional form on a Qwen3-VL directory uses its 448x448 convention
// (392 would be refused: not a multiple of 32), read from the stats line on stderr.
TEST(Qwen3VLCli, DemoUsesThe448Convention) {
  REQUIRE_FIXTURES();
  const std::string dir = fixture("tiny-qwen3-vl");
  CliRun r = run_cli("demo " + fixture("images/demo.jpg") + " " + dir + " " + dir + " 2 1024 2", "0\nexit\n");
  const std::string err = edgevl::read_text_file(edgevl_test::temp_dir() + "/q3_cli_stderr.txt");
  EXPECT_EQ(r.status, 0) << err;
  EXPECT_NE(err.find("image encode"), std::string::npos) << err;
  // Preset 0 is "<image>What is in the image?": 196 image tokens + 16 template/text tokens.
  EXPECT_NE(err.find("prefill 212 tok"), std::string::npos) << err;
}
