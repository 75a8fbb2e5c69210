// C structs -> C++ runtime objects, with every field checked.
#include <sched.h>

#include <cstring>

#include "capi/c_api_internal.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace edgevl_capi {

using namespace edgevl;

void invalid(const std::string& msg) { fail(ErrorCode::kInvalidArgument, msg); }

std::shared_ptr<const ImageU8> convert_image(const edgevl_part& p, const ImageLimits& limits) {
  switch (enum_value(p.type)) {
    case EDGEVL_PART_IMAGE_FILE:
      if (!p.path) invalid("image part: path is NULL");
      return std::make_shared<ImageU8>(decode_image_file(p.path, limits));
    case EDGEVL_PART_IMAGE_BYTES:
      if (!p.data || p.size == 0) invalid("image part: no bytes");
      return std::make_shared<ImageU8>(decode_image_bytes(p.data, p.size, "image bytes", limits));
    case EDGEVL_PART_IMAGE_RGB:
      if (!p.data) invalid("image part: RGB data is NULL");
      if (p.width <= 0 || p.height <= 0 || int64_t(p.width) * p.height > limits.max_pixels)
        invalid("image part: RGB size " + std::to_string(p.width) + "x" + std::to_string(p.height) + " is out of range");
      return std::make_shared<ImageU8>(image_from_rgb(p.data, p.width, p.height));
    default:
      invalid("not an image part");
  }
}

// True when no part adds anything: no parts, or only empty texts and token lists.
static bool is_empty(const Message& m) {
  for (const ContentPart& c : m.parts) {
    if (c.kind == ContentPart::Kind::Text && c.text.empty()) continue;
    if (c.kind == ContentPart::Kind::Tokens && c.tokens.empty()) continue;
    return false;
  }
  return true;
}

static bool is_image(const edgevl_part_type& type) {
  const int t = enum_value(type);
  return t == EDGEVL_PART_IMAGE_FILE || t == EDGEVL_PART_IMAGE_BYTES || t == EDGEVL_PART_IMAGE_RGB;
}

Message convert_message(const edgevl_message* msg, const ImageLimits& limits, int hidden_size) {
  if (!msg) invalid("message is NULL");
  if (msg->n_parts > 0 && !msg->parts) invalid("message: parts is NULL but n_parts > 0");
  if (msg->n_parts > 4096) invalid("message: too many parts");
  static const char* roles[] = {"system", "user", "assistant", "tool"};
  const int role = enum_value(msg->role);
  if (role < 0 || role > 3) invalid("message: unknown role " + std::to_string(role));
  Message m;
  m.role = roles[role];
  // Images named by "<image>" tags are the first ones in part order; the rest stand where they are.
  size_t tags = 0;
  std::vector<std::shared_ptr<const ImageU8>> images;
  for (size_t i = 0; i < msg->n_parts; ++i) {
    const edgevl_part& p = msg->parts[i];
    if (enum_value(p.type) == EDGEVL_PART_TAGGED_TEXT && p.text)
      for (const char* s = std::strstr(p.text, "<image>"); s; s = std::strstr(s + 7, "<image>")) ++tags;
    if (is_image(p.type)) images.push_back(convert_image(p, limits));
  }
  if (tags > images.size())
    invalid("message has " + std::to_string(tags) + " <image> tags but only " + std::to_string(images.size()) + " images");
  size_t next_tagged = 0, next_image = 0;
  for (size_t i = 0; i < msg->n_parts; ++i) {
    const edgevl_part& p = msg->parts[i];
    ContentPart c;
    switch (enum_value(p.type)) {
      case EDGEVL_PART_TEXT:
      case EDGEVL_PART_LITERAL_TEXT:
        if (!p.text) invalid("text part " + std::to_string(i) + ": text is NULL");
        c.text = p.text;
        c.literal = enum_value(p.type) == EDGEVL_PART_LITERAL_TEXT;
        m.parts.push_back(std::move(c));
        break;
      case EDGEVL_PART_TAGGED_TEXT: {
        if (!p.text) invalid("text part " + std::to_string(i) + ": text is NULL");
        std::string t = p.text;
        size_t n = 0;
        for (size_t k = t.find("<image>"); k != std::string::npos; k = t.find("<image>", k + 7)) ++n;
        std::vector<std::shared_ptr<const ImageU8>> mine(images.begin() + next_tagged, images.begin() + next_tagged + n);
        next_tagged += n;
        Message sub = message_from_tagged_text(m.role, t, mine);
        for (auto& sp : sub.parts) m.parts.push_back(std::move(sp));
        break;
      }
      case EDGEVL_PART_IMAGE_FILE:
      case EDGEVL_PART_IMAGE_BYTES:
      case EDGEVL_PART_IMAGE_RGB:
        if (next_image++ < tags) break;  // placed by a tag
        c.kind = ContentPart::Kind::Image;
        c.image = images[next_image - 1];
        m.parts.push_back(std::move(c));
        break;
      case EDGEVL_PART_TOKENS:
        if (!p.tokens && p.n_tokens) invalid("tokens part " + std::to_string(i) + ": tokens is NULL");
        if (p.n_tokens > (size_t(1) << 22)) invalid("tokens part: too many tokens");
        c.kind = ContentPart::Kind::Tokens;
        c.tokens.assign(p.tokens, p.tokens + p.n_tokens);
        m.parts.push_back(std::move(c));
        break;
      case EDGEVL_PART_EMBEDDINGS:
        if (!p.embeddings || p.n_embeddings == 0) invalid("embeddings part " + std::to_string(i) + ": no rows");
        if (p.n_embeddings > (size_t(1) << 20)) invalid("embeddings part: too many rows");
        c.kind = ContentPart::Kind::Embeddings;
        c.embeddings.assign(p.embeddings, p.embeddings + p.n_embeddings * size_t(hidden_size));
        if (p.positions) c.positions.assign(p.positions, p.positions + 3 * p.n_embeddings);
        m.parts.push_back(std::move(c));
        break;
      default:
        invalid("part " + std::to_string(i) + ": unknown type " + std::to_string(enum_value(p.type)));
    }
  }
  // A prompt with nothing in it would still add a turn (and a reply to nothing).
  if ((role == EDGEVL_ROLE_USER || role == EDGEVL_ROLE_TOOL) && is_empty(m))
    invalid(std::string("message: a ") + roles[role] + " message needs some content (it has no parts, or only empty text)");
  return m;
}

SessionParams convert_session_params(const edgevl_session_params& p) {
  auto range = [](const char* field, int64_t v, int64_t lo, int64_t hi, const char* what = "") {
    if (v < lo || v > hi)
      invalid(std::string("session params: ") + field + " must be " + (*what ? what : "between " + std::to_string(lo) + " and " + std::to_string(hi)) +
              " (got " + std::to_string(v) + ")");
  };
  range("max_context", p.max_context, 16, 1 << 20, "between 16 and 1048576 tokens");
  range("n_keep", p.n_keep, -1, p.max_context, "-1 (the system prompt) or 0..max_context");
  const int overflow = enum_value(p.overflow);
  if (overflow != EDGEVL_OVERFLOW_ERROR && overflow != EDGEVL_OVERFLOW_DROP_OLDEST)
    invalid("session params: overflow must be EDGEVL_OVERFLOW_ERROR or EDGEVL_OVERFLOW_DROP_OLDEST (got " + std::to_string(overflow) + ")");
  range("n_threads", p.n_threads, 0, 1024);
  if (p.cpu_mask) {
    cpu_set_t online;
    if (sched_getaffinity(0, sizeof online, &online) == 0) {
      bool any = false;
      for (int i = 0; i < 64; ++i) any = any || ((p.cpu_mask >> i & 1) && CPU_ISSET(i, &online));
      if (!any) invalid("session params: cpu_mask names no CPU this process may run on");
    }
  }
  range("max_new_tokens", p.max_new_tokens, 0, 1 << 20);
  range("ignore_eos", p.ignore_eos, 0, 1, "0 or 1");
  if (p.system_prompt && !is_valid_utf8(p.system_prompt)) invalid("session params: system_prompt is not valid UTF-8");
  range("image_fixed_size", p.image_fixed_size, 0, 4096, "0 (off) or a size up to 4096");  // the session checks the multiple
  range("image_min_pixels", p.image_min_pixels, 0, int64_t(1) << 40, "0 (the model's) or a pixel count");
  range("image_max_pixels", p.image_max_pixels, 0, int64_t(1) << 40, "0 (the model's) or a pixel count");
  if (p.image_min_pixels > 0 && p.image_max_pixels > 0 && p.image_min_pixels > p.image_max_pixels)
    invalid("session params: image_min_pixels (" + std::to_string(p.image_min_pixels) + ") is over image_max_pixels (" +
            std::to_string(p.image_max_pixels) + ")");
  range("image_max_input_pixels", p.image_max_input_pixels, 0, int64_t(1) << 40, "0 (the default, 64 Mpx) or a pixel count");
  range("image_max_tokens", p.image_max_tokens, 0, p.max_context, "0 (the library default) or 1..max_context");
  if (p.kv_type != EDGEVL_KV_F32 && p.kv_type != EDGEVL_KV_F16)
    invalid("session params: kv_type must be EDGEVL_KV_F32 or EDGEVL_KV_F16 (got " + std::to_string(p.kv_type) + ")");

  SessionParams sp;
  sp.max_context = p.max_context;
  sp.n_keep = p.n_keep;
  sp.overflow = overflow == EDGEVL_OVERFLOW_DROP_OLDEST ? OverflowPolicy::DropOldest : OverflowPolicy::Error;
  sp.n_threads = p.n_threads;
  if (p.system_prompt) sp.system_prompt = p.system_prompt;
  sp.generation.sampling = convert_sampling(p.sampling);
  sp.generation.max_new_tokens = p.max_new_tokens;
  sp.generation.ignore_eos = p.ignore_eos != 0;
  sp.fixed_size = p.image_fixed_size;
  sp.min_pixels = p.image_min_pixels;
  sp.max_pixels = p.image_max_pixels;
  if (p.image_max_input_pixels > 0) sp.image_limits.max_pixels = p.image_max_input_pixels;
  sp.max_image_tokens = p.image_max_tokens;
  sp.kv_type = p.kv_type == EDGEVL_KV_F16 ? KvType::F16 : KvType::F32;
  return sp;
}

SamplingParams convert_sampling(const edgevl_sampling_params& s) {
  SamplingParams p;
  p.temperature = s.temperature;
  p.top_k = s.top_k;
  p.top_p = s.top_p;
  p.repeat_penalty = s.repeat_penalty;
  p.frequency_penalty = s.frequency_penalty;
  p.presence_penalty = s.presence_penalty;
  p.penalty_last_n = s.penalty_last_n;
  p.seed = s.seed;
  validate(p);
  return p;
}

edgevl_perf convert_perf(const TurnStats& s, double model_load_ms) {
  edgevl_perf p{};
  p.model_load_ms = model_load_ms;
  p.image_encode_ms = s.image_encode_ms;
  p.images = s.images;
  p.images_encoded = s.images_encoded;
  p.prefill_tokens = s.prompt_tokens;
  p.image_tokens = s.image_tokens;
  p.prefill_ms = s.prefill_ms;
  p.ttft_ms = s.ttft_ms;
  p.decode_tokens = s.decode_tokens;
  p.decode_ms = s.decode_ms;
  p.prefill_tokens_per_s = s.prefill_tokens_per_s();
  p.decode_tokens_per_s = s.decode_tokens_per_s();
  p.kv_tokens = s.kv_tokens;
  p.peak_rss_bytes = s.peak_rss_bytes;
  return p;
}

}  // namespace edgevl_capi
