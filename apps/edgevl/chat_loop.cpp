#include "chat_loop.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <vector>

#include "edgevl.h"

namespace edgevl_cli {

namespace {

const std::vector<std::string> kPresets = {
    "<image>What is in the image?",
    "<image>这张图片中有什么？",
    "<image>Describe the image in detail.",
};

struct Chat {
  edgevl_session* s = nullptr;
  bool json = false, interactive = false, prepare = true;
  std::string image;        // current image path
  bool image_sent = false;  // the current image is already in the conversation
  int turn = 0, errors = 0;
  std::string reply;        // text of the running turn
  std::vector<int32_t> tokens;
};

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

nlohmann::json perf_json(const edgevl_perf& p) {
  return {{"prompt_tokens", p.prefill_tokens},   {"image_tokens", p.image_tokens},
          {"images", p.images},                  {"images_encoded", p.images_encoded},
          {"image_encode_ms", p.image_encode_ms}, {"prefill_ms", p.prefill_ms},
          {"prefill_tokens_per_s", p.prefill_tokens_per_s}, {"ttft_ms", p.ttft_ms},
          {"decode_tokens", p.decode_tokens},    {"decode_ms", p.decode_ms},
          {"decode_tokens_per_s", p.decode_tokens_per_s}, {"kv_tokens", p.kv_tokens},
          {"peak_rss_bytes", p.peak_rss_bytes}};
}

std::string perf_line(const edgevl_perf& p, int64_t capacity) {
  char img[160] = "";
  if (p.images > 0)
    std::snprintf(img, sizeof img, "image encode %.1f ms (%d image%s, %d from cache) | ", p.image_encode_ms, p.images, p.images == 1 ? "" : "s",
                  p.images - p.images_encoded);
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "[stats] %sprefill %lld tok in %.1f ms (%.1f tok/s) | decode %lld tok in %.1f ms (%.2f tok/s) | TTFT %.1f ms | KV %lld/%lld | peak RSS %.1f MB",
                img, (long long)p.prefill_tokens, p.prefill_ms, p.prefill_tokens_per_s, (long long)p.decode_tokens, p.decode_ms,
                p.decode_tokens_per_s, p.ttft_ms, (long long)p.kv_tokens, (long long)capacity, p.peak_rss_bytes / 1048576.0);
  return buf;
}

void report_error(Chat& c, const std::string& msg) {
  ++c.errors;
  if (c.json) std::cout << nlohmann::json{{"turn", c.turn}, {"error", msg}}.dump() << std::endl;
  else std::cerr << "error: " << msg << std::endl;
}

int on_result(const edgevl_result* r, void* user) {
  Chat& c = *static_cast<Chat*>(user);
  if (r->state == EDGEVL_STATE_NORMAL || r->state == EDGEVL_STATE_WAITING) {
    if (r->token_id >= 0) c.tokens.push_back(r->token_id);
    if (r->text_len) {
      c.reply.append(r->text, r->text_len);
      if (!c.json) std::cout.write(r->text, std::streamsize(r->text_len)) << std::flush;
    }
  }
  return 0;
}

void set_image(Chat& c, const std::string& path) {
  // Decode now so a bad file is reported at once, and start encoding it while the
  // user types the question (pipelining: the encode leaves the time to first token).
  edgevl_part p = edgevl_part_image_file(path.c_str());
  if (c.prepare) {
    if (edgevl_prepare_image(c.s, &p) != EDGEVL_OK) {
      report_error(c, edgevl_last_error());
      return;
    }
  } else {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) {
      report_error(c, path + ": cannot open");
      return;
    }
    std::fclose(f);
  }
  c.image = path;
  c.image_sent = false;
  if (!c.json) std::cerr << "image: " << path << std::endl;
}

void run_turn(Chat& c, std::string text) {
  // A new image goes in with the first message after it is loaded, tag or not.
  if (!c.image.empty() && !c.image_sent && text.find("<image>") == std::string::npos) text = "<image>" + text;
  size_t tags = 0;
  for (size_t p = text.find("<image>"); p != std::string::npos; p = text.find("<image>", p + 7)) ++tags;
  ++c.turn;
  if (tags && c.image.empty()) {
    report_error(c, "the message has an <image> tag but no image is loaded (use /image PATH or --image)");
    return;
  }
  std::vector<edgevl_part> parts;
  parts.push_back(edgevl_part_tagged_text(text.c_str()));
  for (size_t i = 0; i < tags; ++i) parts.push_back(edgevl_part_image_file(c.image.c_str()));
  edgevl_message msg = {EDGEVL_ROLE_USER, parts.data(), parts.size()};
  c.reply.clear();
  c.tokens.clear();
  if (!c.json && c.interactive) std::cout << "robot: " << std::flush;
  if (edgevl_run(c.s, &msg, nullptr, on_result, &c) != EDGEVL_OK) {
    if (!c.json) std::cout << std::endl;
    report_error(c, edgevl_last_error());
    return;
  }
  if (tags) c.image_sent = true;
  edgevl_perf last{};
  edgevl_get_perf(c.s, &last, nullptr);
  int64_t cap = 0;
  edgevl_kv_size(c.s, nullptr, &cap);
  if (c.json) {
    nlohmann::json j = {{"turn", c.turn},       {"prompt_tokens", last.prefill_tokens}, {"image_tokens", last.image_tokens},
                        {"tokens", c.tokens},   {"text", c.reply},                       {"stats", perf_json(last)}};
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
  } else {
    std::cout << std::endl;
    std::cerr << perf_line(last, cap) << std::endl;
  }
}

void print_help(const Chat& c) {
  if (!c.image.empty()) {
    std::cout << "Preset questions (type the number):\n";
    for (size_t i = 0; i < kPresets.size(); ++i) std::cout << "  [" << i << "] " << kPresets[i] << "\n";
  }
  std::cout << "Commands: /image PATH, /system TEXT, /save FILE, /load FILE, /stats, clear, exit\n";
}

// Returns true when the line was a command (handled here).
bool handle_command(Chat& c, const std::string& line, bool& quit) {
  auto arg = [&](size_t n) { return trim(line.substr(n)); };
  if (line == "exit" || line == "quit" || line == "/exit" || line == "/quit") {
    quit = true;
  } else if (line == "clear" || line == "/clear") {
    edgevl_clear(c.s, 1);
    c.image_sent = false;
    if (!c.json) std::cerr << "conversation cleared (system prompt kept)" << std::endl;
  } else if (line.rfind("/image", 0) == 0) {
    if (arg(6).empty()) report_error(c, "usage: /image PATH");
    else set_image(c, arg(6));
  } else if (line.rfind("/system", 0) == 0) {
    // A system message first in a fresh conversation replaces the system prompt, framed by
    // the model's own template (Qwen3-VL and fine-tunes do not use ChatML's default block).
    const std::string text = arg(7);
    edgevl_part p = edgevl_part_text(text.c_str());
    edgevl_message msg = {EDGEVL_ROLE_SYSTEM, &p, 1};
    if (edgevl_clear(c.s, 0) != EDGEVL_OK || edgevl_run(c.s, &msg, nullptr, nullptr, nullptr) != EDGEVL_OK)
      report_error(c, edgevl_last_error());
    else if (!c.json) std::cerr << "system prompt set; conversation restarted" << std::endl;
    c.image_sent = false;
  } else if (line.rfind("/save", 0) == 0) {
    if (edgevl_session_save(c.s, arg(5).c_str()) != EDGEVL_OK) report_error(c, edgevl_last_error());
    else if (!c.json) std::cerr << "saved to " << arg(5) << std::endl;
  } else if (line.rfind("/load", 0) == 0) {
    if (edgevl_session_load(c.s, arg(5).c_str()) != EDGEVL_OK) report_error(c, edgevl_last_error());
    else {
      c.image_sent = true;
      if (!c.json) std::cerr << "loaded " << arg(5) << std::endl;
    }
  } else if (line == "/stats") {
    edgevl_perf last{}, total{};
    edgevl_get_perf(c.s, &last, &total);
    int64_t used = 0, cap = 0;
    edgevl_kv_size(c.s, &used, &cap);
    if (c.json) std::cout << nlohmann::json{{"last", perf_json(last)}, {"total", perf_json(total)}}.dump() << std::endl;
    else std::cerr << perf_line(last, cap) << "\n[total] " << perf_line(total, cap) << std::endl;
  } else if (line == "/help" || line == "help") {
    print_help(c);
  } else {
    return false;
  }
  return true;
}

}  // namespace

int run_chat(const ChatOptions& o) {
  edgevl_model_params mp = edgevl_model_default_params();
  mp.path = o.model.c_str();
  mp.mmproj_path = o.mmproj.empty() ? nullptr : o.mmproj.c_str();
  mp.n_threads = o.threads;
  edgevl_model* model = nullptr;
  if (edgevl_model_load(&mp, &model) != EDGEVL_OK) {
    std::fprintf(stderr, "edgevl: error: %s\n", edgevl_last_error());
    return 1;
  }
  edgevl_session_params sp = edgevl_session_default_params();
  sp.max_context = int32_t(o.max_context);
  sp.kv_type = o.kv_f16 ? EDGEVL_KV_F16 : EDGEVL_KV_F32;
  sp.n_keep = o.n_keep;
  sp.overflow = o.evict ? EDGEVL_OVERFLOW_DROP_OLDEST : EDGEVL_OVERFLOW_ERROR;
  sp.n_threads = o.threads;
  sp.system_prompt = o.system_given ? o.system.c_str() : nullptr;
  sp.max_new_tokens = o.max_new_tokens;
  sp.ignore_eos = o.ignore_eos;
  sp.image_fixed_size = o.fixed_size;
  if (o.fixed_size < 0) {  // the on-device convention of RKLLM's demos: 14 merged tokens a side
    edgevl_model_info info = edgevl_model_info_default();
    edgevl_model_get_info(model, &info);
    sp.image_fixed_size = std::string(info.architecture).rfind("Qwen3VL", 0) == 0 ? 448 : 392;
  }
  sp.image_min_pixels = o.min_pixels;
  sp.image_max_pixels = o.max_pixels;
  sp.sampling.temperature = o.temp;
  sp.sampling.top_k = o.top_k;
  sp.sampling.top_p = o.top_p;
  sp.sampling.repeat_penalty = o.repeat_penalty;
  sp.sampling.frequency_penalty = o.frequency_penalty;
  sp.sampling.presence_penalty = o.presence_penalty;
  sp.sampling.seed = o.seed;
  Chat c;
  if (o.max_context > INT32_MAX || edgevl_session_create(model, &sp, &c.s) != EDGEVL_OK) {
    std::fprintf(stderr, "edgevl: error: %s\n", o.max_context > INT32_MAX ? "--max-context is too large" : edgevl_last_error());
    edgevl_model_free(model);
    return 1;
  }
  c.json = o.json;
  c.interactive = ::isatty(0);
  c.prepare = !o.no_prepare;
  if (!o.json) {
    edgevl_model_info info = edgevl_model_info_default();
    edgevl_model_get_info(model, &info);
    std::cerr << "model: " << o.model << " (" << info.architecture << ", loaded in " << info.load_ms << " ms)" << std::endl;
  }
  int rc = 0;
  if (!o.image.empty()) {
    set_image(c, o.image);
    if (c.image.empty()) rc = 1;
  }
  if (rc == 0) {
    if (c.interactive) print_help(c);
    std::string line;
    bool quit = false;
    while (!quit) {
      if (c.interactive) std::cout << "\nuser: " << std::flush;
      if (!std::getline(std::cin, line)) break;
      line = trim(line);
      if (line.empty() || handle_command(c, line, quit)) continue;
      // A lone preset number asks that preset question (with an image loaded).
      if (!c.image.empty() && line.size() == 1 && line[0] >= '0' && size_t(line[0] - '0') < kPresets.size()) {
        line = kPresets[size_t(line[0] - '0')];
        if (c.interactive) std::cout << line << std::endl;
      }
      run_turn(c, line);
    }
    rc = c.errors > 0 && !c.interactive ? 1 : 0;
  }
  edgevl_session_free(c.s);
  edgevl_model_free(model);
  return rc;
}

}  // namespace edgevl_cli
