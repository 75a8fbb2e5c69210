// `edgevl chat`: multi-turn chat about an image, in the spirit of the RKLLM
// multimodal demo. Interactive on a terminal (presets by number, streaming); one
// turn per line when stdin is a pipe, with --json printing one object per turn.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "commands.h"
#include "core/timer.h"
#include "runtime/model.h"
#include "runtime/session.h"

using namespace edgevl;

namespace edgevl_cli {

namespace {

const std::vector<std::string> kPresets = {
    "<image>What is in the image?",
    "<image>这张图片中有什么？",
    "<image>Describe the image in detail.",
};

struct ChatState {
  Session* session;
  bool json = false;
  bool interactive = false;
  std::shared_ptr<const ImageU8> image;  // the current image
  std::string image_path;
  bool image_sent = false;  // the current image is already in the conversation
  int turn = 0;
  int errors = 0;
  TurnStats last;
};

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

void report_error(ChatState& st, const std::string& msg) {
  ++st.errors;
  if (st.json) std::cout << nlohmann::json{{"turn", st.turn}, {"error", msg}}.dump() << std::endl;
  else std::cerr << "error: " << msg << std::endl;
}

void load_image(ChatState& st, const std::string& path) {
  try {
    st.image = std::make_shared<ImageU8>(decode_image_file(path));
    st.image_path = path;
    st.image_sent = false;
    if (!st.json) std::cerr << "image: " << path << " (" << st.image->width << "x" << st.image->height << ")" << std::endl;
  } catch (const std::exception& e) {
    report_error(st, e.what());
  }
}

void print_presets(const ChatState& st) {
  if (!st.image) return;
  std::cout << "Preset questions (type the number):\n";
  for (size_t i = 0; i < kPresets.size(); ++i) std::cout << "  [" << i << "] " << kPresets[i] << "\n";
  std::cout << "Commands: /image PATH, clear, exit\n";
}

void run_turn(ChatState& st, std::string text) {
  // A new image goes in with the first message after it is loaded, tag or not.
  if (st.image && !st.image_sent && text.find("<image>") == std::string::npos) text = "<image>" + text;
  size_t tags = 0;
  for (size_t p = text.find("<image>"); p != std::string::npos; p = text.find("<image>", p + 7)) ++tags;
  std::vector<std::shared_ptr<const ImageU8>> images(tags, st.image);
  ++st.turn;
  try {
    Message msg = message_from_tagged_text("user", text, images);
    if (!st.json && st.interactive) std::cout << "robot: " << std::flush;
    TurnResult r = st.session->chat(msg, [&](int32_t, const std::string& piece) {
      if (!st.json) std::cout << piece << std::flush;
      return true;
    });
    if (tags) st.image_sent = true;
    st.last = r.stats;
    if (st.json) {
      nlohmann::json j = {{"turn", st.turn},
                          {"prompt_tokens", r.stats.prompt_tokens},
                          {"image_tokens", r.stats.image_tokens},
                          {"tokens", r.tokens},
                          {"text", r.text},
                          {"finish", finish_reason_name(r.finish)},
                          {"stats", nlohmann::json::parse(stats_json(r.stats))}};
      std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
    } else {
      std::cout << std::endl;
      std::cerr << format_stats(r.stats, st.session->max_context()) << std::endl;
    }
  } catch (const std::exception& e) {
    report_error(st, e.what());
  }
}

}  // namespace

int cmd_chat(int argc, char** argv) {
  CLI::App app{"Chat about an image with a Qwen2-VL / Qwen2.5-VL model (multi-turn, streaming)", "edgevl chat"};
  std::string model_path, image_path, system_prompt = "You are a helpful assistant.";
  bool json = false, ignore_eos = false;
  int threads = 0, max_new_tokens = 512, top_k = 0, fixed_size = 0;
  int64_t max_context = 4096;
  float temp = 0.0f, top_p = 1.0f, repeat_penalty = 1.0f, freq_penalty = 0.0f, presence_penalty = 0.0f;
  uint64_t seed = 0;
  app.add_option("-m,--model", model_path, "Hugging Face model directory")->required();
  app.add_option("-i,--image", image_path, "image to talk about (JPEG/PNG)");
  app.add_option("--fixed-size", fixed_size, "on-device preprocessing: pad to square, resize to N x N (multiple of 28), e.g. 392");
  app.add_flag("--json", json, "one JSON object per turn (non-interactive use)");
  app.add_option("--temp", temp, "sampling temperature (0 = greedy)");
  app.add_option("--top-k", top_k, "top-k sampling (0 = off)");
  app.add_option("--top-p", top_p, "nucleus sampling threshold (1 = off)");
  app.add_option("--repeat-penalty", repeat_penalty, "repetition penalty (1 = off)");
  app.add_option("--frequency-penalty", freq_penalty, "frequency penalty");
  app.add_option("--presence-penalty", presence_penalty, "presence penalty");
  app.add_option("--seed", seed, "random seed for sampling");
  app.add_option("--max-new-tokens", max_new_tokens, "maximum tokens per reply");
  app.add_flag("--ignore-eos", ignore_eos, "do not stop at <|im_end|>");
  app.add_option("--max-context", max_context, "KV cache size in tokens");
  app.add_option("-t,--threads", threads, "threads (0 = all cores)");
  app.add_option("--system", system_prompt, "system prompt");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return run_guarded("chat", [&] {
    ModelLoadParams lp;
    lp.path = model_path;
    lp.n_threads = threads;
    auto model = Model::load(lp);
    SessionParams sp;
    sp.max_context = max_context;
    sp.n_threads = threads;
    sp.system_prompt = system_prompt;
    sp.fixed_size = fixed_size;
    sp.generation.max_new_tokens = max_new_tokens;
    sp.generation.ignore_eos = ignore_eos;
    sp.generation.sampling.temperature = temp;
    sp.generation.sampling.top_k = top_k;
    sp.generation.sampling.top_p = top_p;
    sp.generation.sampling.repeat_penalty = repeat_penalty;
    sp.generation.sampling.frequency_penalty = freq_penalty;
    sp.generation.sampling.presence_penalty = presence_penalty;
    sp.generation.sampling.seed = seed;
    validate(sp.generation.sampling);
    Session session(model, sp);
    ChatState st;
    st.session = &session;
    st.json = json;
    st.interactive = ::isatty(0);
    if (!json)
      std::cerr << "model: " << model_path << " (" << model->config().architecture << ", load " << model->load_ms() << " ms)" << std::endl;
    if (!image_path.empty()) {
      load_image(st, image_path);
      if (!st.image) return 1;
    }
    if (st.interactive) print_presets(st);
    std::string line;
    for (;;) {
      if (st.interactive) std::cout << "\nuser: " << std::flush;
      if (!std::getline(std::cin, line)) break;
      line = trim(line);
      if (line.empty()) continue;
      if (line == "exit" || line == "quit" || line == "/exit") break;
      if (line == "clear" || line == "/clear") {
        session.clear(true);
        st.image_sent = false;
        if (!json) std::cerr << "conversation cleared (system prompt kept)" << std::endl;
        continue;
      }
      if (line.rfind("/image", 0) == 0) {
        std::string p = trim(line.substr(6));
        if (p.empty()) report_error(st, "usage: /image PATH");
        else load_image(st, p);
        continue;
      }
      if (line == "/stats") {
        std::cerr << format_stats(st.last, session.max_context()) << std::endl;
        continue;
      }
      if (st.interactive && st.image && line.find_first_not_of("0123456789") == std::string::npos) {
        size_t k = std::stoul(line);
        if (k < kPresets.size()) {
          line = kPresets[k];
          std::cout << line << std::endl;
        }
      }
      run_turn(st, line);
    }
    return st.errors > 0 && !st.interactive ? 1 : 0;
  });
}

}  // namespace edgevl_cli
