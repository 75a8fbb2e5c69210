#include "runtime/session.h"

#include <algorithm>
#include <cstring>
#include <functional>

#include "core/error.h"
#include "core/timer.h"

namespace edgevl {

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::Stop: return "stop";
    case FinishReason::Length: return "length";
    case FinishReason::ContextFull: return "context_full";
    case FinishReason::Aborted: return "aborted";
  }
  return "?";
}

ChatTemplate ChatTemplate::chatml(const std::string& system_prompt) {
  ChatTemplate t;
  t.system_block = "<|im_start|>system\n" + system_prompt + "<|im_end|>\n";
  return t;
}

ChatTemplate ChatTemplate::model_default(const ModelConfig& cfg) {
  if (cfg.template_default_system) return chatml(kDefaultSystemPrompt);
  return ChatTemplate{};  // no system block unless the conversation brings one
}

Message message_from_tagged_text(const std::string& role, const std::string& text,
                                 const std::vector<std::shared_ptr<const ImageU8>>& images) {
  static const std::string kTag = "<image>";
  Message m;
  m.role = role;
  size_t pos = 0, used = 0;
  for (;;) {
    size_t t = text.find(kTag, pos);
    std::string chunk = text.substr(pos, t == std::string::npos ? std::string::npos : t - pos);
    if (!chunk.empty()) {
      ContentPart p;
      p.text = chunk;
      m.parts.push_back(std::move(p));
    }
    if (t == std::string::npos) break;
    if (used >= images.size() || !images[used])
      fail(ErrorCode::kInvalidArgument, "the message has an <image> tag but no image is loaded for it (load one first, e.g. /image PATH)");
    ContentPart p;
    p.kind = ContentPart::Kind::Image;
    p.image = images[used++];
    m.parts.push_back(std::move(p));
    pos = t + kTag.size();
  }
  if (used != images.size())
    fail(ErrorCode::kInvalidArgument, std::to_string(images.size()) + " images given but the text has " + std::to_string(used) + " <image> tags");
  return m;
}

struct Session::Pending {
  std::vector<int32_t> ids;
  std::vector<KvCell> cells;
  std::vector<ImageSpan> images;  // offsets into ids
  int32_t next_pos = 0;
  int32_t turn = 0;
  int64_t system_tokens = 0;  // leading tokens that are the system block (first turn only)
  bool generate = false;      // the message asks for a reply
  int64_t turn_start = 0;     // index in ids where the message itself begins
};

struct Session::Snapshot {
  std::vector<int32_t> history;
  std::vector<KvCell> cells;
  std::vector<ImageSpan> images;
  std::vector<int64_t> turns;
  int32_t next_pos;
  int64_t system_len;
  bool has_system, reply_open;
};

Session::Session(std::shared_ptr<const Model> model, const SessionParams& params)
    : model_(std::move(model)), params_(params),
      pool_(params.n_threads > 0 ? params.n_threads : default_thread_count()),
      sampler_(params.generation.sampling), image_cache_(params.image_cache_entries) {
  if (!model_) fail(ErrorCode::kInvalidArgument, "session: no model");
  if (params_.max_context < 16 || params_.max_context > (int64_t(1) << 20))
    fail(ErrorCode::kInvalidArgument, "session: max_context must be between 16 and 1048576 tokens (got " + std::to_string(params_.max_context) + ")");
  if (params_.n_threads < 0 || params_.n_threads > 1024) fail(ErrorCode::kInvalidArgument, "session: n_threads must be between 0 and 1024");
  const int factor = model_->config().vision.patch_size * model_->config().vision.spatial_merge_size;  // 28 or 32
  if (params_.fixed_size < 0 || params_.fixed_size % factor != 0 || params_.fixed_size > 4096)
    fail(ErrorCode::kInvalidArgument, "session: fixed image size must be a multiple of " + std::to_string(factor) +
                                          " (patch size x merge size) up to 4096 (got " + std::to_string(params_.fixed_size) + ")");
  if (params_.generation.max_new_tokens < 0) fail(ErrorCode::kInvalidArgument, "session: max_new_tokens must be >= 0");
  cache_ = model_->decoder().make_cache(params_.max_context);
  logits_.resize(model_->decoder().vocab_size());
  tmpl_ = params_.system_prompt ? ChatTemplate::chatml(*params_.system_prompt) : ChatTemplate::model_default(model_->config());
}

Session::~Session() {
  for (auto& t : background_)
    if (t.joinable()) t.join();
}

// ---- images ----------------------------------------------------------------------------

PreprocessConfig Session::effective_preprocess() const {
  PreprocessConfig p = params_.use_model_preprocess ? model_->preprocess_config() : params_.preprocess;
  if (params_.fixed_size > 0) p.fixed_size = params_.fixed_size;
  if (params_.min_pixels > 0) p.min_pixels = params_.min_pixels;
  if (params_.max_pixels > 0) p.max_pixels = params_.max_pixels;
  return p;
}

std::string Session::cache_key(const ImageU8& img) const {
  const PreprocessConfig p = effective_preprocess();
  size_t h = std::hash<std::string_view>{}(std::string_view(reinterpret_cast<const char*>(img.rgb.data()), img.rgb.size()));
  return std::to_string(img.width) + "x" + std::to_string(img.height) + ":" + std::to_string(h) + ":" + std::to_string(p.fixed_size) +
         ":" + std::to_string(p.min_pixels) + ":" + std::to_string(p.max_pixels);
}

std::shared_ptr<const ImageEmbedding> Session::image_embedding(const ImageU8& img, bool* was_cached) {
  return image_cache_.get_or_compute(
      cache_key(img),
      [&] {
        ++images_encoded_total_;
        return model_->encode_image(img, effective_preprocess(), pool_);
      },
      was_cached);
}

void Session::prepare_image(std::shared_ptr<const ImageU8> img) {
  if (!img) return;
  const std::string key = cache_key(*img);
  ImageCache::Claim claim = image_cache_.claim(key);  // from now on a chat() waits for this encode
  if (!claim) return;
  // Its own threads: the session's pool may be busy with a chat() at the same time.
  const int threads = pool_.size();
  background_.emplace_back([this, img, key, claim, threads] {
    try {
      ThreadPool pool(threads);
      image_cache_.fulfil(key, claim, [&] {
        ++images_encoded_total_;
        return model_->encode_image(*img, effective_preprocess(), pool);
      });
    } catch (...) {
      // The error reaches the chat() that uses the image.
    }
  });
}

// ---- rendering a message into tokens ---------------------------------------------------

void Session::append_text(Pending& seg, const std::string& text) const {
  if (text.empty()) return;
  if (!is_valid_utf8(text)) fail(ErrorCode::kInvalidArgument, "message text is not valid UTF-8");
  for (int32_t id : model_->tokenizer().encode(text)) {
    seg.ids.push_back(id);
    KvCell c;
    c.pos = {seg.next_pos, seg.next_pos, seg.next_pos};
    c.turn = seg.turn;
    seg.cells.push_back(c);
    ++seg.next_pos;
  }
}

void Session::append_image(Pending& seg, const ContentPart& part, TurnStats& st) {
  if (!part.image) fail(ErrorCode::kInvalidArgument, "image part without an image");
  const ModelConfig& cfg = model_->config();
  bool cached = false;
  const double t0 = now_ms();
  auto emb = image_embedding(*part.image, &cached);
  st.image_encode_ms += now_ms() - t0;
  st.images++;
  st.images_encoded += cached ? 0 : 1;
  auto push = [&](int32_t id, std::array<int32_t, 3> pos, CellSource src) {
    seg.ids.push_back(id);
    KvCell c;
    c.pos = pos;
    c.source = src;
    c.turn = seg.turn;
    seg.cells.push_back(c);
  };
  // <|vision_start|> is a text position; the merged grid starts right after it
  // (t, row, col offsets) and the text after the image resumes at max + 1.
  push(cfg.vision_start_token_id, {seg.next_pos, seg.next_pos, seg.next_pos}, CellSource::Text);
  ++seg.next_pos;
  const int32_t s = seg.next_pos;
  seg.images.push_back({int64_t(seg.ids.size()), emb});
  for (int t = 0; t < emb->grid_t; ++t)
    for (int i = 0; i < emb->merged_h; ++i)
      for (int j = 0; j < emb->merged_w; ++j) push(cfg.image_token_id, {s + t, s + i, s + j}, CellSource::Image);
  seg.next_pos = s + std::max({emb->grid_t, emb->merged_h, emb->merged_w});
  push(cfg.vision_end_token_id, {seg.next_pos, seg.next_pos, seg.next_pos}, CellSource::Text);
  ++seg.next_pos;
  st.image_tokens += emb->n_tokens;
}

void Session::append_embeddings(Pending& seg, const ContentPart& part) {
  const int H = model_->decoder().hidden_size();
  if (part.embeddings.empty() || part.embeddings.size() % H != 0)
    fail(ErrorCode::kInvalidArgument, "embeddings part must hold whole rows of " + std::to_string(H) + " floats (got " +
                                          std::to_string(part.embeddings.size()) + ")");
  const int64_t rows = int64_t(part.embeddings.size()) / H;
  if (!part.positions.empty() && int64_t(part.positions.size()) != 3 * rows)
    fail(ErrorCode::kInvalidArgument, "embeddings part: positions must hold 3 x " + std::to_string(rows) + " ids");
  auto emb = std::make_shared<ImageEmbedding>();
  emb->embeds = part.embeddings;
  emb->n_tokens = rows;
  seg.images.push_back({int64_t(seg.ids.size()), emb});
  const int32_t s = seg.next_pos;
  int32_t mx = s - 1;
  for (int64_t r = 0; r < rows; ++r) {
    KvCell c;
    if (part.positions.empty()) {
      c.pos = {s + int32_t(r), s + int32_t(r), s + int32_t(r)};
    } else {
      for (int a = 0; a < 3; ++a) {
        const int32_t rel = part.positions[a * rows + r];
        if (rel < 0 || rel > (1 << 20)) fail(ErrorCode::kInvalidArgument, "embeddings part: position ids must be in [0, 2^20]");
        c.pos[a] = s + rel;
      }
    }
    for (int a = 0; a < 3; ++a) mx = std::max(mx, c.pos[a]);
    c.source = CellSource::Image;
    c.turn = seg.turn;
    seg.ids.push_back(model_->config().image_token_id);
    seg.cells.push_back(c);
  }
  seg.next_pos = mx + 1;
}

void Session::render(const Message& msg, Pending& seg, TurnStats& st) {
  const std::string& role = msg.role;
  if (role != "system" && role != "user" && role != "assistant" && role != "tool")
    fail(ErrorCode::kInvalidArgument, "unknown role '" + role + "' (expected system, user, assistant or tool)");
  // A first system message replaces the default system block.
  const bool system_first = role == "system" && !has_system_;
  if (!has_system_ && !system_first) {
    append_text(seg, tmpl_.system_block);
    seg.system_tokens = int64_t(seg.ids.size());
  }
  if (reply_open_) append_text(seg, "<|im_end|>\n");  // close the reply a prefill-only turn left open
  seg.turn_start = int64_t(seg.ids.size());
  std::string text;
  if (role == "user") text = tmpl_.user_prefix;
  else text = "<|im_start|>" + role + "\n";
  for (const ContentPart& part : msg.parts) {
    switch (part.kind) {
      case ContentPart::Kind::Text:
        text += part.text;
        break;
      case ContentPart::Kind::Image:
        if (role == "system") fail(ErrorCode::kInvalidArgument, "a system message cannot hold images");
        append_text(seg, text);
        text.clear();
        append_image(seg, part, st);
        break;
      case ContentPart::Kind::Tokens:
        append_text(seg, text);
        text.clear();
        for (int32_t id : part.tokens) {
          if (id < 0 || id >= model_->decoder().vocab_size())
            fail(ErrorCode::kInvalidArgument, "token id " + std::to_string(id) + " is outside the vocabulary");
          seg.ids.push_back(id);
          KvCell c;
          c.pos = {seg.next_pos, seg.next_pos, seg.next_pos};
          c.turn = seg.turn;
          seg.cells.push_back(c);
          ++seg.next_pos;
        }
        break;
      case ContentPart::Kind::Embeddings:
        append_text(seg, text);
        text.clear();
        append_embeddings(seg, part);
        break;
    }
  }
  seg.generate = role == "user" || role == "tool";
  if (role == "user") text += tmpl_.user_postfix;
  else if (role == "tool") text += "<|im_end|>\n<|im_start|>assistant\n";
  else text += "<|im_end|>\n";
  append_text(seg, text);
  if (system_first) seg.system_tokens = seg.turn_start = int64_t(seg.ids.size());
}

// ---- KV cache maintenance ---------------------------------------------------------------

void Session::prefill_pending(const std::vector<int32_t>& ids, const std::vector<KvCell>& cells, const std::vector<ImageSpan>& spans,
                              float* hidden_last) {
  const int64_t n = int64_t(ids.size());
  if (n == 0) return;
  const int H = model_->decoder().hidden_size();
  std::vector<float> x(n * H);
  std::vector<DeepStackRows> deepstack;  // Qwen3-VL: every image prefilled here gets its features
  int64_t i = 0;
  for (const auto& span : spans) {
    model_->decoder().embed(ids.data() + i, span.offset - i, x.data() + i * H);
    std::memcpy(x.data() + span.offset * H, span.emb->embeds.data(), sizeof(float) * span.emb->embeds.size());
    if (!span.emb->deepstack.empty()) deepstack.push_back({span.offset, span.emb->n_tokens, 0, &span.emb->deepstack});
    i = span.offset + span.emb->n_tokens;
  }
  model_->decoder().embed(ids.data() + i, n - i, x.data() + i * H);
  if (hidden_last) {
    std::vector<float> hidden(n * H);
    model_->decoder().forward(x.data(), n, cells.data(), cache_, pool_, logits_.data(), hidden.data(), deepstack);
    std::memcpy(hidden_last, hidden.data() + (n - 1) * H, sizeof(float) * H);
  } else {
    model_->decoder().forward(x.data(), n, cells.data(), cache_, pool_, logits_.data(), nullptr, deepstack);
  }
}

void Session::sync_cache() {
  const int64_t from = cache_.size();
  if (from >= int64_t(history_.size())) return;
  std::vector<int32_t> ids(history_.begin() + from, history_.end());
  std::vector<KvCell> cells(cells_.begin() + from, cells_.end());
  std::vector<ImageSpan> spans;
  for (const auto& sp : history_images_)
    if (sp.offset >= from) spans.push_back({sp.offset - from, sp.emb});
  prefill_pending(ids, cells, spans, nullptr);
}

void Session::rebuild_cache() {
  cache_.truncate(0);
  sync_cache();
}

int64_t Session::keep_tokens() const { return params_.n_keep < 0 ? system_len_ : std::max<int64_t>(params_.n_keep, system_len_); }

void Session::remove_turns(int first, int count) {
  if (first < 0 || count < 0 || first + count > turn_count())
    fail(ErrorCode::kInvalidArgument, "remove_turns: range [" + std::to_string(first) + ", " + std::to_string(first + count) +
                                          ") is outside the " + std::to_string(turn_count()) + " turns");
  if (count == 0) return;
  const int64_t begin = turns_[first];
  const int64_t end = first + count < turn_count() ? turns_[first + count] : int64_t(history_.size());
  const int64_t removed = end - begin;
  // Later tokens move back by the position span of what was removed, on all axes.
  const int32_t p_begin = cells_[begin].pos[0];
  const int32_t p_end = end < int64_t(cells_.size()) ? cells_[end].pos[0] : next_pos_;
  const int32_t delta = p_end - p_begin;
  history_.erase(history_.begin() + begin, history_.begin() + end);
  cells_.erase(cells_.begin() + begin, cells_.begin() + end);
  for (size_t i = begin; i < cells_.size(); ++i)
    for (int a = 0; a < 3; ++a) cells_[i].pos[a] -= delta;
  next_pos_ -= delta;
  std::vector<ImageSpan> kept;
  for (const auto& sp : history_images_) {
    if (sp.offset < begin) kept.push_back(sp);
    else if (sp.offset >= end) kept.push_back({sp.offset - removed, sp.emb});
  }
  history_images_ = std::move(kept);
  turns_.erase(turns_.begin() + first, turns_.begin() + first + count);
  for (size_t t = first; t < turns_.size(); ++t) turns_[t] -= removed;
  // What followed the removed turns was computed with them in context: recompute it.
  cache_.truncate(std::min(cache_.size(), begin));
}

void Session::make_room(int64_t need, TurnStats& st) {
  if (need <= params_.max_context) return;
  auto overflow = [&] {
    fail(ErrorCode::kContextOverflow, "context overflow: the conversation holds " + std::to_string(history_.size()) +
                                          " tokens and this turn needs " + std::to_string(need - int64_t(history_.size())) +
                                          " more, over the context of " + std::to_string(params_.max_context) + " tokens");
  };
  if (params_.overflow == OverflowPolicy::Error) overflow();
  const int64_t keep = keep_tokens();
  while (need > params_.max_context) {
    int victim = -1;
    for (int t = 0; t < turn_count(); ++t)
      if (turns_[t] >= keep) {
        victim = t;
        break;
      }
    if (victim < 0) overflow();
    const int64_t before = int64_t(history_.size());
    remove_turns(victim, 1);
    need -= before - int64_t(history_.size());
    st.turns_evicted++;
  }
}

Session::Snapshot Session::snapshot() const {
  return Snapshot{history_, cells_, history_images_, turns_, next_pos_, system_len_, has_system_, reply_open_};
}

void Session::restore(const Snapshot& s) {
  // The cache stays valid only as far as the restored history agrees with what it was
  // computed from (an eviction may have changed the tokens after some point).
  int64_t same = 0;
  const int64_t n = std::min<int64_t>(int64_t(s.history.size()), cache_.size());
  while (same < n && s.history[same] == history_[same] && s.cells[same].pos == cells_[same].pos) ++same;
  cache_.truncate(same);
  history_ = s.history;
  cells_ = s.cells;
  history_images_ = s.images;
  turns_ = s.turns;
  next_pos_ = s.next_pos;
  system_len_ = s.system_len;
  has_system_ = s.has_system;
  reply_open_ = s.reply_open;
}

// ---- the turn ---------------------------------------------------------------------------

void Session::commit(Pending& seg) {
  const int64_t base = int64_t(history_.size());
  for (const auto& sp : seg.images) history_images_.push_back({base + sp.offset, sp.emb});
  if (seg.system_tokens > 0) {
    system_len_ = base + seg.system_tokens;
    has_system_ = true;
  }
  const int64_t turn_begin = base + seg.turn_start;
  if (turn_begin < base + int64_t(seg.ids.size())) turns_.push_back(turn_begin);
  history_.insert(history_.end(), seg.ids.begin(), seg.ids.end());
  cells_.insert(cells_.end(), seg.cells.begin(), seg.cells.end());
  next_pos_ = seg.next_pos;
  reply_open_ = false;
}

void Session::append_generated(int32_t tok) {
  history_.push_back(tok);
  KvCell c;
  c.pos = {next_pos_, next_pos_, next_pos_};
  c.turn = int32_t(turns_.size()) - 1;
  cells_.push_back(c);
  ++next_pos_;
}

void Session::close_reply(bool model_closed) {
  // History must read exactly as the template writes a finished reply.
  Pending seg;
  seg.next_pos = next_pos_;
  seg.turn = int32_t(turns_.size()) - 1;
  append_text(seg, model_closed ? "\n" : "<|im_end|>\n");
  history_.insert(history_.end(), seg.ids.begin(), seg.ids.end());
  cells_.insert(cells_.end(), seg.cells.begin(), seg.cells.end());
  next_pos_ = seg.next_pos;
}

TurnResult Session::chat(const Message& msg, const TokenCallback& cb) { return chat(msg, params_.generation, cb, TurnOptions{}); }

TurnResult Session::chat(const Message& msg, const GenerationParams& gen, const TokenCallback& cb, const TurnOptions& opt) {
  const double t_start = now_ms();
  // An abort that arrives before this point (e.g. right after an async start) counts;
  // the flag is cleared when the turn ends, so it never leaks into the next turn.
  struct ClearAbort {
    std::atomic<bool>& f;
    ~ClearAbort() { f.store(false); }
  } clear_abort{abort_};
  if (gen.max_new_tokens < 0) fail(ErrorCode::kInvalidArgument, "max_new_tokens must be >= 0");
  sampler_.reset(gen.sampling);
  TurnResult r;
  const Snapshot snap = snapshot();
  try {
    Pending seg;
    seg.next_pos = next_pos_;
    seg.turn = int32_t(turns_.size());
    render(msg, seg, r.stats);
    // Room for the prompt, what the cache lacks, and at least one generated token.
    const int32_t pos_before = next_pos_;
    make_room(int64_t(history_.size()) + int64_t(seg.ids.size()) + (seg.generate && opt.generate ? 1 : 0), r.stats);
    if (next_pos_ != pos_before) {  // turns were evicted: the new segment moves back too
      const int32_t d = pos_before - next_pos_;
      for (auto& c : seg.cells)
        for (int a = 0; a < 3; ++a) c.pos[a] -= d;
      seg.next_pos -= d;
    }
    if (r.stats.turns_evicted) seg.turn = int32_t(turns_.size());
    for (auto& c : seg.cells) c.turn = seg.turn;

    const int64_t uncached = int64_t(history_.size()) - cache_.size();
    commit(seg);
    const double t_prefill = now_ms();
    if (opt.want_hidden) r.hidden.resize(model_->decoder().hidden_size());
    {
      const int64_t from = cache_.size();
      std::vector<int32_t> ids(history_.begin() + from, history_.end());
      std::vector<KvCell> cells(cells_.begin() + from, cells_.end());
      std::vector<ImageSpan> spans;
      for (const auto& sp : history_images_)
        if (sp.offset >= from) spans.push_back({sp.offset - from, sp.emb});
      prefill_pending(ids, cells, spans, opt.want_hidden ? r.hidden.data() : nullptr);
    }
    r.stats.prefill_ms = now_ms() - t_prefill;
    r.stats.prompt_tokens = uncached + int64_t(seg.ids.size());

    if (!seg.generate || !opt.generate) {
      reply_open_ = seg.generate;  // a prompt was prefilled but not answered
      r.finish = FinishReason::Stop;
    } else {
      const auto& eos = model_->config().eos_token_ids;
      const int32_t im_end = model_->tokenizer().special_id("<|im_end|>");
      const int32_t vocab = model_->decoder().vocab_size();
      Utf8StreamDecoder utf8;
      std::vector<float> x(model_->decoder().hidden_size()), work(logits_.size());
      const double t_decode = now_ms();
      r.finish = FinishReason::Length;
      bool model_closed = false;
      for (int step = 0; step < gen.max_new_tokens; ++step) {
        if (abort_.load()) {
          r.finish = FinishReason::Aborted;
          break;
        }
        if (step > 0) {
          // Feed the previous token (in history, not yet in the cache). Keep room
          // for the closing "<|im_end|>\n".
          if (cache_.size() + 3 >= params_.max_context) {
            r.finish = FinishReason::ContextFull;
            break;
          }
          const int32_t prev = history_.back();
          model_->decoder().embed(&prev, 1, x.data());
          model_->decoder().forward(x.data(), 1, &cells_.back(), cache_, pool_, logits_.data());
        }
        work = logits_;
        const int32_t tok = sampler_.sample(work.data(), vocab, history_);
        if (step == 0) r.stats.ttft_ms = now_ms() - t_start;
        const bool is_eos = tok == im_end || std::find(eos.begin(), eos.end(), tok) != eos.end();
        if (is_eos && !gen.ignore_eos) {
          if (tok == im_end) {
            append_generated(tok);
            model_closed = true;
          }
          r.finish = FinishReason::Stop;
          break;
        }
        append_generated(tok);
        r.tokens.push_back(tok);
        ++r.stats.decode_tokens;
        // Padding rows past the tokenizer's vocabulary have no text.
        std::string piece = utf8.push(tok < model_->tokenizer().vocab_size() ? model_->tokenizer().token_to_bytes(tok) : std::string());
        r.text += piece;
        if (cb && !cb(tok, piece)) {
          r.finish = FinishReason::Aborted;
          break;
        }
      }
      std::string tail = utf8.flush();
      if (!tail.empty()) {
        r.text += tail;
        if (cb) cb(-1, tail);
      }
      r.stats.decode_ms = now_ms() - t_decode;
      close_reply(model_closed);
    }
  } catch (...) {
    restore(snap);
    throw;
  }
  if (!opt.keep_history) restore(snap);
  r.stats.kv_tokens = cache_.size();
  r.stats.peak_rss_bytes = peak_rss_bytes();
  return r;
}

void Session::clear(bool keep_system) {
  const int64_t keep = keep_system && has_system_ ? system_len_ : 0;
  cache_.truncate(std::min(cache_.size(), keep));
  history_.resize(keep);
  cells_.resize(keep);
  while (!history_images_.empty() && history_images_.back().offset >= keep) history_images_.pop_back();
  turns_.clear();
  next_pos_ = keep ? cells_.back().pos[0] + 1 : 0;
  if (!keep) {
    system_len_ = 0;
    has_system_ = false;
  }
  reply_open_ = false;
}

void Session::set_template(const ChatTemplate& t) {
  if (!is_valid_utf8(t.system_block) || !is_valid_utf8(t.user_prefix) || !is_valid_utf8(t.user_postfix))
    fail(ErrorCode::kInvalidArgument, "chat template strings must be valid UTF-8");
  tmpl_ = t;
  clear(false);
}

}  // namespace edgevl
