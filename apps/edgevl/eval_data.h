// Dialogue sets for `edgevl eval`: one JSON object per line of a .jsonl file.
//
//   {"id": "en-0001", "lang": "en",
//    "turns": [{"image": "img/a.png", "question": "What is in the image?", "answer": "A red circle.", "type": "describe"},
//              {"question": "And the other one?", "answer": ["blue", "Blue."], "type": "followup_other"}]}
//
// Top level: "turns" (required, non-empty array), "id", "lang" (optional strings).
// Turn: "question" (required string), "answer" (required: a string or a non-empty array of
// accepted strings), "image" (optional path, relative to the .jsonl file's directory),
// "type" (optional string; "unknown" when absent). Any other field is an error.
#pragma once
#include <string>
#include <vector>

namespace edgevl_cli {

struct EvalTurn {
  std::string image;  // resolved path; empty = text only
  std::string question;
  std::vector<std::string> answers;
  std::string type;
};

struct EvalDialogue {
  int line = 0;  // 1-based line in the file
  std::string id, lang;
  std::vector<EvalTurn> turns;
};

struct EvalProblem {
  int line = 0;
  std::string message;
};

struct EvalSet {
  std::vector<EvalDialogue> dialogues;
  std::vector<EvalProblem> problems;  // lines that were skipped, and why
};

// Reads the whole file. A line that is not valid JSON, has a missing, unknown or mistyped
// field, or names an image that cannot be opened is skipped and listed in problems;
// blank lines are ignored. Throws std::runtime_error only when the file cannot be read.
EvalSet read_eval_set(const std::string& path);

// Exact match after trimming white space at both ends (of the reply and of each answer).
bool answer_matches(const std::string& reply, const std::vector<std::string>& answers);

}  // namespace edgevl_cli
