// The bundled trained demo model (models/shapes-qwen2-vl): edgevl's logits equal the training
// code's forward pass, its answers meet the accuracy floor through `edgevl eval`, and
// `edgevl chat` uses it when --model is omitted. Also `edgevl eval`'s handling of bad lines.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/mmap_file.h"
#include "core/npy.h"
#include "edgevl.h"
#include "test_util.h"

using json = nlohmann::json;

namespace {

const std::string kModel = std::string(EDGEVL_SOURCE_DIR) + "/models/shapes-qwen2-vl";
const std::string kRef = std::string(EDGEVL_SOURCE_DIR) + "/tests/data/shapes_reference";
const std::string kSlice = std::string(EDGEVL_SOURCE_DIR) + "/tests/data/shapes_eval";

struct CliRun {
  int status = -1;
  std::string out, err;
};

CliRun run_cli(const std::string& args, const std::string& input = "") {
  const std::string in_path = edgevl_test::temp_dir() + "/demo_input.txt";
  const std::string err_path = edgevl_test::temp_dir() + "/demo_stderr.txt";
  edgevl::write_file_atomic(in_path, input.data(), input.size());
  const std::string cmd = std::string(EDGEVL_CLI_PATH) + " " + args + " < " + in_path + " 2>" + err_path;
  CliRun r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  r.err = edgevl::read_text_file(err_path);
  return r;
}

struct Capture {
  std::vector<float> logits;
  std::string text;
};

int capture(const edgevl_result* r, void* user) {
  auto& c = *static_cast<Capture*>(user);
  if (r->state == EDGEVL_STATE_FINISH) {
    c.text.assign(r->text ? r->text : "", r->text_len);
    if (r->logits) c.logits.assign(r->logits, r->logits + r->n_logits);
  }
  return 0;
}

// Every value finite and within tol of the reference (a NaN fails).
void expect_logits_near(const std::vector<float>& got, const std::vector<int64_t>& ids, const std::vector<float>& want, float tol,
                        const char* what) {
  ASSERT_EQ(got.size(), 151936u) << what;
  float worst = 0;
  for (size_t k = 0; k < ids.size(); ++k) {
    const float g = got[size_t(ids[k])];
    ASSERT_TRUE(std::isfinite(g)) << what << ": logit of id " << ids[k] << " is " << g;
    worst = std::max(worst, std::fabs(g - want[k]));
  }
  std::printf("%s: max |edgevl - training code| = %.2e over %zu ids\n", what, worst, ids.size());
  EXPECT_LE(worst, tol) << what;
}

}  // namespace

TEST(DemoModel, LogitsMatchTrainingCode) {
  const json man = json::parse(edgevl::read_text_file(kRef + "/manifest.json"));
  const auto ids = edgevl::load_npy(kRef + "/ids.npy").as_i64();
  const auto want1 = edgevl::load_npy(kRef + "/turn1_logits.npy").as_f32();
  const auto want2 = edgevl::load_npy(kRef + "/turn2_logits.npy").as_f32();
  ASSERT_EQ(ids.size(), want1.size());

  edgevl_model_params mp = edgevl_model_default_params();
  mp.path = kModel.c_str();
  edgevl_model* model = nullptr;
  ASSERT_EQ(edgevl_model_load(&mp, &model), EDGEVL_OK) << edgevl_last_error();
  edgevl_session_params sp = edgevl_session_default_params();
  sp.n_threads = 2;
  edgevl_session* s = nullptr;
  ASSERT_EQ(edgevl_session_create(model, &sp, &s), EDGEVL_OK) << edgevl_last_error();

  const std::string image = kModel + "/example.png";
  const std::string q1 = man["turn1_question"], q2 = man["turn2_question"];
  edgevl_part parts[2] = {edgevl_part_image_file(image.c_str()), edgevl_part_text(q1.c_str())};
  edgevl_message m1 = {EDGEVL_ROLE_USER, parts, 2};
  edgevl_run_params logits_only = edgevl_run_default_params();
  logits_only.mode = EDGEVL_MODE_LOGITS;
  logits_only.keep_history = 0;
  Capture c;
  ASSERT_EQ(edgevl_run(s, &m1, &logits_only, capture, &c), EDGEVL_OK) << edgevl_last_error();
  expect_logits_near(c.logits, ids, want1, 2e-3f, "turn 1");

  // The same turn generated greedily gives the training code's reply, which becomes history.
  edgevl_run_params gen = edgevl_run_default_params();
  gen.max_new_tokens = 48;  // as export_reference.py
  Capture g;
  ASSERT_EQ(edgevl_run(s, &m1, &gen, capture, &g), EDGEVL_OK) << edgevl_last_error();
  EXPECT_EQ(g.text, man["turn1_reply"].get<std::string>());

  edgevl_part p2 = edgevl_part_text(q2.c_str());
  edgevl_message m2 = {EDGEVL_ROLE_USER, &p2, 1};
  Capture c2;
  ASSERT_EQ(edgevl_run(s, &m2, &logits_only, capture, &c2), EDGEVL_OK) << edgevl_last_error();
  expect_logits_near(c2.logits, ids, want2, 2e-3f, "turn 2 (history)");

  edgevl_session_free(s);
  edgevl_model_free(model);
}

// A regression floor for the committed model, set below what it scores on the slice (en 98.3%,
// zh 95.1% overall; 100% on first turns in both; on the 500-dialogue held-out sets 97.4% /
// 97.5%, see the model card). 20 dialogues are too few to prove issue 13's targets; they catch a
// model or a runtime change that breaks answers.
TEST(DemoModel, EvalSliceMeetsAccuracyFloor) {
  for (const char* lang : {"en", "zh"}) {
    CliRun r = run_cli("eval --model " + kModel + " --data " + kSlice + "/" + lang + ".jsonl --json --threads 2");
    ASSERT_EQ(r.status, 0) << r.err;
    const json j = json::parse(r.out);
    EXPECT_EQ(j["skipped"], 0);
    EXPECT_EQ(j["dialogues"], 20);
    const double acc = j["overall"]["accuracy"];
    std::printf("%s slice: %.1f%% of %d turns\n", lang, 100 * acc, j["overall"]["total"].get<int>());
    EXPECT_GE(acc, 0.90) << lang << ": " << r.out;
    EXPECT_GE(j["by_turn"]["1"]["accuracy"].get<double>(), 0.90) << lang;
    EXPECT_TRUE(j["by_type"].contains("new_image")) << lang;
    EXPECT_TRUE(j["by_lang"].contains(lang));
  }
}

TEST(DemoModel, ChatDefaultsToTheDemoModel) {
  // Without --model, chat loads models/shapes-qwen2-vl: its greedy reply about the example
  // picture is the one the training code's forward pass produced (export_reference.py).
  const json man = json::parse(edgevl::read_text_file(kRef + "/manifest.json"));
  CliRun r = run_cli("chat --image " + kModel + "/example.png --json --threads 2 --max-new-tokens 48",
                     man["turn1_question"].get<std::string>() + "\n");
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream in(r.out);
  std::vector<json> turns;
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] == '{') turns.push_back(json::parse(line));
  ASSERT_EQ(turns.size(), 1u) << r.out;
  EXPECT_EQ(turns[0]["text"], man["turn1_reply"]);
}

TEST(DemoModel, EvalReportsBadLinesWithFileAndLineAndSkipsThem) {
  const std::string dir = edgevl_test::temp_dir();
  const std::string path = dir + "/bad.jsonl";
  {
    std::ofstream f(path);
    f << R"({"turns": [{"question": "Hello?", "answer": "x", "type": "chat"}]})" << "\n"  // 1: fine (text only)
      << "{not json\n"                                                                     // 2
      << R"({"turns": [{"question": "q", "answer": "a", "colour": 1}]})" << "\n"             // 3: unknown field
      << R"({"turns": [{"image": "missing.png", "question": "q", "answer": "a"}]})" << "\n"  // 4: missing image
      << "\n"                                                                              // 5: blank, ignored
      << R"({"turns": [{"question": "q"}]})" << "\n"                                       // 6: no answer
      << R"({"turns": []})" << "\n"                                                        // 7: empty
      << R"([1, 2])" << "\n";                                                              // 8: not an object
  }
  CliRun r = run_cli("eval --model " + kModel + " --data " + path + " --json --threads 2");
  EXPECT_EQ(r.status, 1) << r.err;  // some lines skipped
  for (int line : {2, 3, 4, 6, 7, 8}) EXPECT_NE(r.err.find(path + ":" + std::to_string(line) + ":"), std::string::npos) << line << r.err;
  EXPECT_EQ(r.err.find(path + ":1:"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(path + ":5:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("unknown field \"colour\""), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("missing.png"), std::string::npos) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j["dialogues"], 1);
  EXPECT_EQ(j["skipped"], 6);
  EXPECT_EQ(j["overall"]["total"], 1);
  EXPECT_EQ(j["by_type"]["chat"]["total"], 1);

  r = run_cli("eval --model " + kModel + " --data " + dir + "/does-not-exist.jsonl");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("does-not-exist.jsonl: cannot open"), std::string::npos) << r.err;
}
