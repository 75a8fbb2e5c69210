// `edgevl eval`: scores a model's answers on a set of dialogues (eval_data.h), each run
// through one session exactly as `edgevl chat` runs a conversation (history kept, a turn's
// image placed before its text), greedy. Prints exact-match accuracy overall, per question
// type, per turn index and per language; --json for one machine-readable object.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "commands.h"
#include "default_model.h"
#include "edgevl.h"
#include "eval_data.h"

namespace edgevl_cli {

namespace {

struct Tally {
  int64_t correct = 0, total = 0;
  void add(bool ok) {
    correct += ok;
    ++total;
  }
  double pct() const { return total ? 100.0 * double(correct) / double(total) : 0.0; }
  nlohmann::json json() const { return {{"correct", correct}, {"total", total}, {"accuracy", total ? pct() / 100.0 : 0.0}}; }
};

struct Scores {
  Tally overall;
  std::map<std::string, Tally> by_type, by_lang;
  std::map<int, Tally> by_turn;
};

int collect_text(const edgevl_result* r, void* user) {
  if (r->state == EDGEVL_STATE_FINISH) static_cast<std::string*>(user)->assign(r->text, r->text_len);
  return 0;
}

// Runs one dialogue; false (with the error) when a turn fails, e.g. an undecodable image.
bool run_dialogue(edgevl_session* s, const EvalDialogue& d, std::vector<std::string>& replies, std::string& error) {
  edgevl_clear(s, 1);
  replies.clear();
  for (const EvalTurn& t : d.turns) {
    std::vector<edgevl_part> parts;
    if (!t.image.empty()) parts.push_back(edgevl_part_image_file(t.image.c_str()));
    parts.push_back(edgevl_part_text(t.question.c_str()));
    edgevl_message msg = {EDGEVL_ROLE_USER, parts.data(), parts.size()};
    std::string reply;
    if (edgevl_run(s, &msg, nullptr, collect_text, &reply) != EDGEVL_OK) {
      error = edgevl_last_error();
      return false;
    }
    replies.push_back(reply);
  }
  return true;
}

void print_group(const char* title, const std::vector<std::pair<std::string, Tally>>& rows) {
  if (rows.empty()) return;
  std::printf("%s\n", title);
  for (const auto& [name, t] : rows)
    std::printf("  %-18s %6lld / %-6lld %6.2f%%\n", name.c_str(), (long long)t.correct, (long long)t.total, t.pct());
}

}  // namespace

int cmd_eval(int argc, char** argv) {
  CLI::App app{"Score a model's answers on a .jsonl set of dialogues (exact match, greedy, history kept)", "edgevl eval"};
  std::string model = default_model_path(), mmproj, data, system = "You are a helpful assistant.";
  bool json = false, show_errors = false;
  int threads = 0, max_new_tokens = 64, fixed_size = 0;
  int64_t limit = 0, min_pixels = 0, max_pixels = 0;
  app.add_option("-m,--model", model, "Hugging Face model directory or text-model .gguf (default: the bundled demo model)");
  app.add_option("--mmproj", mmproj, "vision .gguf (with a .gguf model)");
  app.add_option("-d,--data", data,
                 "dialogues, one JSON object per line: {\"turns\": [{\"image\", \"question\", \"answer\", \"type\"}], \"id\", \"lang\"}; "
                 "image paths are relative to the file")
      ->required();
  app.add_flag("--json", json, "print the scores as one JSON object on stdout");
  app.add_flag("--show-errors", show_errors, "print every wrong answer on stderr");
  app.add_option("--limit", limit, "score only the first N dialogues (0 = all)")->check(CLI::NonNegativeNumber);
  app.add_option("--max-new-tokens", max_new_tokens, "longest reply per turn")->check(CLI::Range(1, 1 << 20));
  app.add_option("-t,--threads", threads, "threads (0 = all cores)")->check(CLI::Range(0, 1024));
  app.add_option("--system", system, "system prompt");
  app.add_option("--fixed-size", fixed_size, "on-device preprocessing: pad to square, resize to N x N (multiple of 28)");
  app.add_option("--min-pixels", min_pixels, "HF processor: minimum pixels after resize");
  app.add_option("--max-pixels", max_pixels, "HF processor: maximum pixels after resize");
  app.footer(
      "A line that is not valid JSON, has a missing, unknown or mistyped field, or names an image that\n"
      "cannot be opened is reported as FILE:LINE on stderr and skipped; so is a dialogue whose run fails\n"
      "(e.g. an image that cannot be decoded). Skipped dialogues are not scored. Exit status: 0 when every\n"
      "line was scored, 1 when some were skipped or nothing could be scored, 2 on bad arguments.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (model.empty()) {
    std::fprintf(stderr, "edgevl eval: no --model given and the bundled demo model was not found\n");
    return 2;
  }
  EvalSet set;
  try {
    set = read_eval_set(data);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "edgevl eval: %s\n", e.what());
    return 1;
  }
  for (const auto& p : set.problems) std::fprintf(stderr, "%s:%d: %s (skipped)\n", data.c_str(), p.line, p.message.c_str());
  if (limit > 0 && int64_t(set.dialogues.size()) > limit) set.dialogues.resize(size_t(limit));

  edgevl_model_params mp = edgevl_model_default_params();
  mp.path = model.c_str();
  mp.mmproj_path = mmproj.empty() ? nullptr : mmproj.c_str();
  mp.n_threads = threads;
  edgevl_model* m = nullptr;
  if (edgevl_model_load(&mp, &m) != EDGEVL_OK) {
    std::fprintf(stderr, "edgevl eval: %s\n", edgevl_last_error());
    return 1;
  }
  edgevl_session_params sp = edgevl_session_default_params();
  sp.n_threads = threads;
  sp.system_prompt = system.c_str();
  sp.max_new_tokens = max_new_tokens;
  sp.image_fixed_size = fixed_size;
  sp.image_min_pixels = min_pixels;
  sp.image_max_pixels = max_pixels;
  sp.sampling.temperature = 0.0f;
  edgevl_session* s = nullptr;
  if (edgevl_session_create(m, &sp, &s) != EDGEVL_OK) {
    std::fprintf(stderr, "edgevl eval: %s\n", edgevl_last_error());
    edgevl_model_free(m);
    return 1;
  }

  Scores sc;
  int64_t skipped = int64_t(set.problems.size());
  std::vector<std::string> replies;
  const size_t n = set.dialogues.size();
  for (size_t i = 0; i < n; ++i) {
    const EvalDialogue& d = set.dialogues[i];
    std::string error;
    if (!run_dialogue(s, d, replies, error)) {
      std::fprintf(stderr, "\n%s:%d: %s (skipped)\n", data.c_str(), d.line, error.c_str());
      ++skipped;
      continue;
    }
    for (size_t t = 0; t < d.turns.size(); ++t) {
      const bool ok = answer_matches(replies[t], d.turns[t].answers);
      sc.overall.add(ok);
      sc.by_type[d.turns[t].type].add(ok);
      sc.by_turn[int(t) + 1].add(ok);
      if (!d.lang.empty()) sc.by_lang[d.lang].add(ok);
      if (!ok && show_errors)
        std::fprintf(stderr, "\n%s:%d: turn %zu (%s): \"%s\" -> \"%s\", expected \"%s\"\n", data.c_str(), d.line, t + 1,
                     d.turns[t].type.c_str(), d.turns[t].question.c_str(), replies[t].c_str(), d.turns[t].answers[0].c_str());
    }
    std::fprintf(stderr, "\r[%zu/%zu] %.2f%%", i + 1, n, sc.overall.pct());
  }
  if (n) std::fprintf(stderr, "\n");
  edgevl_session_free(s);
  edgevl_model_free(m);

  const int64_t scored = int64_t(n) - (skipped - int64_t(set.problems.size()));
  if (json) {
    nlohmann::json j = {{"model", model}, {"data", data}, {"dialogues", scored}, {"skipped", skipped}, {"overall", sc.overall.json()}};
    j["by_type"] = nlohmann::json::object();
    for (const auto& [k, t] : sc.by_type) j["by_type"][k] = t.json();
    j["by_turn"] = nlohmann::json::object();
    for (const auto& [k, t] : sc.by_turn) j["by_turn"][std::to_string(k)] = t.json();
    j["by_lang"] = nlohmann::json::object();
    for (const auto& [k, t] : sc.by_lang) j["by_lang"][k] = t.json();
    std::cout << j.dump(2) << std::endl;
  } else {
    std::printf("%s: %lld dialogues scored, %lld skipped, %lld turns\n", data.c_str(), (long long)scored, (long long)skipped,
                (long long)sc.overall.total);
    std::printf("  %-18s %6lld / %-6lld %6.2f%%\n", "overall", (long long)sc.overall.correct, (long long)sc.overall.total,
                sc.overall.pct());
    std::vector<std::pair<std::string, Tally>> rows(sc.by_type.begin(), sc.by_type.end());
    print_group("by question type:", rows);
    rows.clear();
    for (const auto& [k, t] : sc.by_turn) rows.emplace_back("turn " + std::to_string(k), t);
    print_group("by turn:", rows);
    rows.assign(sc.by_lang.begin(), sc.by_lang.end());
    print_group("by language:", rows);
  }
  return skipped > 0 || sc.overall.total == 0 ? 1 : 0;
}

}  // namespace edgevl_cli
