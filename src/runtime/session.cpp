#include "runtime/session.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>

#include "core/error.h"
#include "core/timer.h"

namespace edgevl {

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
  if (params_.max_image_tokens < 0 || params_.max_image_tokens > (int64_t(1) << 20))
    fail(ErrorCode::kInvalidArgument, "session: max_image_tokens must be between 0 (default " + std::to_string(kDefaultMaxImageTokens) +
                                          ") and 1048576 (got " + std::to_string(params_.max_image_tokens) + ")");
  if (params_.system_prompt && !is_valid_utf8(*params_.system_prompt)) fail(ErrorCode::kInvalidArgument, "session: the system prompt is not valid UTF-8");
  cache_ = model_->decoder().make_cache(params_.max_context, params_.kv_type);
  logits_.resize(model_->decoder().vocab_size());
  tmpl_ = model_->chat_template();
  if (params_.system_prompt) tmpl_.set_system_prompt(*params_.system_prompt);
}

Session::~Session() {
  {
    std::lock_guard<std::mutex> lk(bg_mu_);
    bg_stop_.store(true);  // also cancels the encode in progress
  }
  bg_cv_.notify_all();
  if (bg_thread_.joinable()) bg_thread_.join();
}

void Session::abort() {
  std::lock_guard<std::mutex> lk(run_mu_);
  if (run_abort_) run_abort_->store(true);
}

// ---- images ----------------------------------------------------------------------------

PreprocessConfig Session::effective_preprocess() const {
  PreprocessConfig p = params_.use_model_preprocess ? model_->preprocess_config() : params_.preprocess;
  if (params_.fixed_size > 0) p.fixed_size = params_.fixed_size;
  if (params_.min_pixels > 0) p.min_pixels = params_.min_pixels;
  if (params_.max_pixels > 0) p.max_pixels = params_.max_pixels;
  // The image-token budget caps max_pixels (one merged token covers (patch*merge)^2 px),
  // but never below min_pixels. An explicit max_pixels is a budget of its own: the
  // default one applies only when neither is set.
  if (params_.max_image_tokens > 0 || params_.max_pixels <= 0) {
    const int64_t budget = params_.max_image_tokens > 0 ? params_.max_image_tokens : kDefaultMaxImageTokens;
    const int64_t unit = int64_t(p.patch_size) * p.merge_size * p.patch_size * p.merge_size;
    if (unit > 0) p.max_pixels = std::min(p.max_pixels, std::max(p.min_pixels, budget * unit));
  }
  return p;
}

int64_t Session::image_tokens_for(int width, int height) const {
  const PreprocessConfig p = effective_preprocess();
  p.validate();
  const int factor = p.patch_size * p.merge_size;
  if (p.fixed_size > 0) width = height = p.fixed_size;
  const SmartSize s = smart_resize(height, width, factor, p.min_pixels, p.max_pixels);
  return int64_t(s.height / factor) * (s.width / factor);
}

std::string Session::cache_key(const ImageU8& img) const {
  const PreprocessConfig p = effective_preprocess();
  size_t h = std::hash<std::string_view>{}(std::string_view(reinterpret_cast<const char*>(img.rgb.data()), img.rgb.size()));
  return std::to_string(img.width) + "x" + std::to_string(img.height) + ":" + std::to_string(h) + ":" + std::to_string(p.fixed_size) +
         ":" + std::to_string(p.min_pixels) + ":" + std::to_string(p.max_pixels);
}

std::unique_lock<std::mutex> Session::take_pool(const Cancel& cancel) {
  // try_lock + sleep rather than a timed mutex: GCC 12's try_lock_for uses
  // pthread_mutex_clocklock, which ThreadSanitizer does not model (false reports).
  std::unique_lock<std::mutex> lk(pool_mu_, std::defer_lock);
  while (!lk.try_lock()) {
    cancel.check("waiting for a background image encode");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return lk;
}

void Session::run_on_pool(const std::function<void()>& fn) {
  auto lk = take_pool(Cancel());
  pool_.run([&](int i, int) {
    if (i) fn();
  });
}

std::shared_ptr<const ImageEmbedding> Session::image_embedding(const ImageU8& img, bool* was_cached, const Cancel& cancel) {
  auto lk = take_pool(cancel);
  return encode_cached(img, was_cached, cancel);
}

std::shared_ptr<const ImageEmbedding> Session::encode_cached(const ImageU8& img, bool* was_cached, const Cancel& cancel) {
  const std::string key = cache_key(img);
  auto compute = [&] {
    ++images_encoded_total_;
    return model_->encode_image(img, effective_preprocess(), pool_, cancel);
  };
  // Queued by prepare_image() but not started: encode it here, with the whole pool.
  PreparedImage queued;
  {
    std::lock_guard<std::mutex> lk(bg_mu_);
    for (auto it = bg_queue_.begin(); it != bg_queue_.end(); ++it)
      if (it->key == key) {
        queued = std::move(*it);
        bg_queue_.erase(it);
        break;
      }
  }
  if (queued.claim) {
    if (was_cached) *was_cached = true;  // prepared ahead: not counted as this turn's encode
    return image_cache_.fulfil(key, queued.claim, compute);
  }
  return image_cache_.get_or_compute(key, compute, was_cached, cancel);
}

void Session::abandon(PreparedImage& p) {
  try {  // publishes an error to any waiter and drops the key, so a later lookup encodes it
    image_cache_.fulfil(p.key, p.claim, []() -> ImageEmbedding { fail(ErrorCode::kAborted, "image dropped from the prepare queue"); });
  } catch (...) {
  }
}

void Session::prepare_image(std::shared_ptr<const ImageU8> img) {
  if (!img) return;
  PreparedImage p;
  p.key = cache_key(*img);
  p.claim = image_cache_.claim(p.key);  // from now on a chat() finds it in the cache or the queue
  if (!p.claim) return;                 // cached or being encoded
  p.img = std::move(img);
  std::vector<PreparedImage> dropped;
  {
    std::lock_guard<std::mutex> lk(bg_mu_);
    try {
      if (!bg_thread_.joinable()) bg_thread_ = std::thread([this] { background_loop(); });
    } catch (...) {
      abandon(p);
      throw;
    }
    // More waiting images than the cache holds would evict each other: keep the newest.
    while (!bg_queue_.empty() && bg_queue_.size() >= std::max<size_t>(1, params_.image_cache_entries)) {
      dropped.push_back(std::move(bg_queue_.front()));
      bg_queue_.pop_front();
    }
    bg_queue_.push_back(std::move(p));
  }
  bg_cv_.notify_one();
  for (auto& d : dropped) abandon(d);
}

void Session::background_loop() {
  // No pool of its own: the session's pool when it is free, else this thread alone (a
  // background encode must not take the cores a running reply needs).
  ThreadPool single(1);
  const Cancel stop(&bg_stop_);
  for (;;) {
    PreparedImage p;
    {
      std::unique_lock<std::mutex> lk(bg_mu_);
      bg_cv_.wait(lk, [&] { return bg_stop_.load() || !bg_queue_.empty(); });
      if (bg_stop_.load()) return;
      p = std::move(bg_queue_.front());
      bg_queue_.pop_front();
    }
    try {
      std::unique_lock<std::mutex> pool(pool_mu_, std::try_to_lock);
      image_cache_.fulfil(p.key, p.claim, [&] {
        ++images_encoded_total_;
        return model_->encode_image(*p.img, effective_preprocess(), pool.owns_lock() ? pool_ : single, stop);
      });
    } catch (...) {
      // Not cached: a chat() waiting for it gets the error, a later one encodes it again.
    }
  }
}

// ---- rendering a message into tokens ---------------------------------------------------

void Session::append_text(Pending& seg, const std::string& text, bool parse_special) const {
  if (text.empty()) return;
  if (!is_valid_utf8(text)) fail(ErrorCode::kInvalidArgument, "message text is not valid UTF-8");
  for (int32_t id : model_->tokenizer().encode(text, parse_special)) {
    seg.ids.push_back(id);
    KvCell c;
    c.pos = {seg.next_pos, seg.next_pos, seg.next_pos};
    c.turn = seg.turn;
    seg.cells.push_back(c);
    ++seg.next_pos;
  }
}

void Session::append_image(Pending& seg, const ContentPart& part, TurnStats& st, const Cancel& cancel) {
  if (!part.image) fail(ErrorCode::kInvalidArgument, "image part without an image");
  const ModelConfig& cfg = model_->config();
  // Refuse before any encode work when the image cannot fit: with DropOldest only the
  // kept tokens stay, otherwise the whole conversation does.
  const ImageU8& img = *part.image;
  const int64_t tokens = image_tokens_for(img.width, img.height);
  const int64_t held = params_.overflow == OverflowPolicy::DropOldest ? keep_tokens() : int64_t(history_.size());
  const int64_t need = held + int64_t(seg.ids.size()) + tokens + 2 + 1;  // + vision start/end, one reply token
  if (need > params_.max_context)
    fail(ErrorCode::kContextOverflow, "context overflow: the " + std::to_string(img.width) + "x" + std::to_string(img.height) + " image takes " +
                                          std::to_string(tokens) + " tokens, the conversation keeps " + std::to_string(held) +
                                          " and this turn has " + std::to_string(seg.ids.size()) + " more before it, over the context of " +
                                          std::to_string(params_.max_context) + " tokens (raise max_context or lower max_image_tokens)");
  bool cached = false;
  const double t0 = now_ms();
  auto emb = encode_cached(img, &cached, cancel);
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

void Session::render(const Message& msg, Pending& seg, TurnStats& st, const Cancel& cancel) {
  const Role role = parse_role(msg.role);
  // A first system message replaces the default system block.
  const bool system_first = role == Role::System && !has_system_;
  if (!has_system_ && !system_first) {
    append_text(seg, tmpl_.system_block());
    seg.system_tokens = int64_t(seg.ids.size());
  }
  if (reply_open_) append_text(seg, tmpl_.suffix(Role::Assistant));  // close the reply a prefill-only turn left open
  seg.turn_start = int64_t(seg.ids.size());
  // Template text and non-literal parts are tokenized together (special tokens parsed);
  // literal text on its own, as plain text.
  std::string text = tmpl_.prefix(role);
  for (const ContentPart& part : msg.parts) {
    switch (part.kind) {
      case ContentPart::Kind::Text:
        if (!part.literal) {
          text += part.text;
          break;
        }
        append_text(seg, text);
        text.clear();
        append_text(seg, part.text, /*parse_special=*/false);
        break;
      case ContentPart::Kind::Image:
        if (role == Role::System) fail(ErrorCode::kInvalidArgument, "a system message cannot hold images");
        append_text(seg, text);
        text.clear();
        append_image(seg, part, st, cancel);
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
  seg.generate = role_generates(role);
  text += tmpl_.suffix(role);
  if (seg.generate) text += tmpl_.generation_prompt();
  append_text(seg, text);
  if (system_first) seg.system_tokens = seg.turn_start = int64_t(seg.ids.size());
}

// ---- KV cache maintenance ---------------------------------------------------------------

// Prefill runs in chunks of at most kPrefillChunk tokens, of equal size (so a prompt
// up to one chunk is computed exactly as one pass): it bounds the temporaries of a long
// prompt and is a cancellation point.
static constexpr int64_t kPrefillChunk = 256;

void Session::prefill_uncached(const Cancel& cancel, float* hidden_last) {
  const int64_t from = cache_.size(), end = int64_t(history_.size());
  if (from >= end) return;
  const int64_t n = end - from;
  const int H = model_->decoder().hidden_size();
  const int64_t chunks = (n + kPrefillChunk - 1) / kPrefillChunk, per = (n + chunks - 1) / chunks;
  std::vector<float> x(per * H), hidden(hidden_last ? per * H : 0);
  for (int64_t c0 = from; c0 < end; c0 += per) {
    cancel.check("prefill");
    const int64_t c1 = std::min(end, c0 + per), m = c1 - c0;
    const bool last = c1 == end;
    model_->decoder().embed(history_.data() + c0, m, x.data());
    std::vector<DeepStackRows> deepstack;  // Qwen3-VL: the image rows of this chunk get their features
    for (const auto& sp : history_images_) {  // image rows come from their embeddings
      const int64_t b = std::max(c0, sp.offset), e = std::min(c1, sp.offset + sp.emb->n_tokens);
      if (b >= e) continue;
      std::memcpy(x.data() + (b - c0) * H, sp.emb->embeds.data() + (b - sp.offset) * H, sizeof(float) * H * (e - b));
      if (!sp.emb->deepstack.empty()) deepstack.push_back({b - c0, e - b, b - sp.offset, &sp.emb->deepstack});
    }
    model_->decoder().forward(x.data(), m, cells_.data() + c0, cache_, pool_, last ? logits_.data() : nullptr,
                              last && hidden_last ? hidden.data() : nullptr, cancel, deepstack);
    if (last && hidden_last) std::memcpy(hidden_last, hidden.data() + (m - 1) * H, sizeof(float) * H);
  }
}

void Session::sync_cache() {
  auto lk = take_pool(Cancel());
  prefill_uncached(Cancel(), nullptr);
}

void Session::rebuild_cache() {
  cache_.truncate(0);
  sync_cache();
}

int64_t Session::keep_tokens() const { return params_.n_keep < 0 ? system_len_ : std::max<int64_t>(params_.n_keep, system_len_); }

void Session::remove_turns(int first, int count) {
  const int n = turn_count();
  if (first < 0 || count < 0 || first > n || count > n - first)  // no first + count: it may overflow
    fail(ErrorCode::kInvalidArgument, "remove_turns: " + std::to_string(count) + " turns from turn " + std::to_string(first) +
                                          " is outside the " + std::to_string(n) + " turns");
  if (count == 0) return;
  if (first + count == n) reply_open_ = false;  // the open reply goes with its turn
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
  return Snapshot{history_, cells_, history_images_, turns_, next_pos_, system_len_, has_system_, reply_open_, cache_.size(), logits_};
}

void Session::restore(const Snapshot& s) {
  // The cache goes back to its old size, or less where the restored history disagrees
  // with what it was computed from (an eviction may have changed the tokens after some
  // point; the next run recomputes those).
  int64_t same = 0;
  const int64_t n = std::min<int64_t>(s.kv_size, cache_.size());
  while (same < n && s.history[same] == history_[same] && s.cells[same].pos == cells_[same].pos) ++same;
  cache_.truncate(same);
  logits_ = s.logits;
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
  append_text(seg, tmpl_.reply_close(model_closed));
  history_.insert(history_.end(), seg.ids.begin(), seg.ids.end());
  cells_.insert(cells_.end(), seg.cells.begin(), seg.cells.end());
  next_pos_ = seg.next_pos;
}

TurnResult Session::chat(const Message& msg, const TokenCallback& cb) { return chat(msg, params_.generation, cb, TurnOptions{}); }

// The conversation as the generation loop sees it.
class Session::Decoding final : public DecodeTarget {
 public:
  explicit Decoding(Session& s) : s_(s), x_(s.model_->decoder().hidden_size()) {}
  const std::vector<int32_t>& tokens() const override { return s_.history_; }
  // Keep room for the reply's closing ("<|im_end|>\n").
  bool room_for_one_more() const override { return s_.cache_.size() + 3 < s_.params_.max_context; }
  void append(int32_t tok) override { s_.append_generated(tok); }
  void run_last(std::vector<float>& logits) override {
    const int32_t prev = s_.history_.back();  // in history, not yet in the cache
    s_.model_->decoder().embed(&prev, 1, x_.data());
    s_.model_->decoder().forward(x_.data(), 1, &s_.cells_.back(), s_.cache_, s_.pool_, logits.data());
  }

 private:
  Session& s_;
  std::vector<float> x_;
};

TurnResult Session::chat(const Message& msg, const GenerationParams& gen, const TokenCallback& cb, const TurnOptions& opt) {
  const double t_start = now_ms();
  // abort() reaches this run only while it is registered here: nothing carries over.
  std::atomic<bool> aborted{false};
  {
    std::lock_guard<std::mutex> lk(run_mu_);
    run_abort_ = &aborted;
  }
  struct Unregister {
    Session& s;
    ~Unregister() {
      std::lock_guard<std::mutex> lk(s.run_mu_);
      s.run_abort_ = nullptr;
    }
  } unregister{*this};
  const Cancel cancel(opt.cancel, &aborted);
  auto pool_lock = take_pool(cancel);

  if (gen.max_new_tokens < 0) fail(ErrorCode::kInvalidArgument, "max_new_tokens must be >= 0");
  sampler_.reset(gen.sampling);
  TurnResult r;
  const Snapshot snap = snapshot();
  try {
    Pending seg;
    seg.next_pos = next_pos_;
    seg.turn = int32_t(turns_.size());
    render(msg, seg, r.stats, cancel);
    // Room for the prompt, what the cache lacks, and at least one generated token.
    make_room(int64_t(history_.size()) + int64_t(seg.ids.size()) + (seg.generate && opt.generate ? 1 : 0), r.stats);
    if (r.stats.turns_evicted) {
      // Evicted turns change what the message renders to (positions, turn index, and
      // the closing of an open reply that went with them): render it again; its images
      // are in the image cache by now.
      const int evicted = r.stats.turns_evicted;
      r.stats = TurnStats();
      r.stats.turns_evicted = evicted;
      seg = Pending();
      seg.next_pos = next_pos_;
      seg.turn = int32_t(turns_.size());
      render(msg, seg, r.stats, cancel);
    }

    const int64_t uncached = int64_t(history_.size()) - cache_.size();
    commit(seg);
    const double t_prefill = now_ms();
    if (opt.want_hidden) r.hidden.resize(model_->decoder().hidden_size());
    prefill_uncached(cancel, opt.want_hidden ? r.hidden.data() : nullptr);
    r.stats.prefill_ms = now_ms() - t_prefill;
    r.stats.prompt_tokens = uncached + int64_t(seg.ids.size());

    if (!seg.generate || !opt.generate) {
      reply_open_ = seg.generate;  // a prompt was prefilled but not answered
      r.finish = FinishReason::Stop;
    } else {
      const double t_decode = now_ms();
      Decoding target(*this);
      GenerationResult g = generate(*model_, sampler_, gen, cancel, target, logits_, cb);
      r.stats.decode_ms = now_ms() - t_decode;
      if (g.first_token_ms >= 0) r.stats.ttft_ms = g.first_token_ms - t_start;
      r.stats.decode_tokens = int64_t(g.tokens.size());
      r.tokens = std::move(g.tokens);
      r.text = std::move(g.text);
      r.unstreamed_tail = std::move(g.unstreamed_tail);
      r.finish = g.finish;
      close_reply(g.model_emitted_stop);
    }
  } catch (...) {
    restore(snap);
    throw;
  }
  if (!opt.keep_history) {
    std::vector<float> logits = std::move(logits_);  // the run's result stays readable
    restore(snap);
    logits_ = std::move(logits);
  }
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
  tmpl_ = t;
  clear(false);
}

}  // namespace edgevl
