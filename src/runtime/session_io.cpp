// Session save/load. The file holds the conversation, not the KV cache: tokens,
// their 3-D positions, turn boundaries, the template, and the image embeddings (so
// images are not re-encoded). Loading validates every field against the model and
// the file size, then recomputes the KV cache with one prefill.
//
// Layout (little-endian): "EDGEVLS\0", u32 version, str model fingerprint,
// str system_block, str user_prefix, str user_postfix, u8 has_system, u8 reply_open,
// i64 system_len, i32 next_pos, u64 n, n × (i32 id, i32 t, i32 h, i32 w, u8 source,
// i32 turn), u64 n_turns, n_turns × i64 begin, u64 n_images, n_images × (i64 offset,
// i32 grid_t, grid_h, grid_w, merged_h, merged_w, i64 n_tokens, f32 × n_tokens·hidden),
// u64 checksum of everything before it.
#include <cstring>

#include "core/error.h"
#include "core/mmap_file.h"
#include "runtime/session.h"

namespace edgevl {

namespace {

constexpr char kMagic[8] = {'E', 'D', 'G', 'E', 'V', 'L', 'S', '\0'};
constexpr uint32_t kVersion = 2;  // 2: the whole chat template (1: its RKLLM strings)

uint64_t fnv1a(const uint8_t* p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

class Writer {
 public:
  template <typename T>
  void put(T v) {
    const char* p = reinterpret_cast<const char*>(&v);
    buf_.append(p, sizeof(T));
  }
  void str(const std::string& s) {
    put<uint64_t>(s.size());
    buf_ += s;
  }
  void raw(const void* p, size_t n) { buf_.append(static_cast<const char*>(p), n); }
  std::string& bytes() { return buf_; }

 private:
  std::string buf_;
};

class Reader {
 public:
  Reader(const uint8_t* p, size_t n, const std::string& path) : p_(p), n_(n), path_(path) {}
  template <typename T>
  T get(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + off_, sizeof(T));
    off_ += sizeof(T);
    return v;
  }
  std::string str(const char* what) {
    uint64_t len = get<uint64_t>(what);
    need(len, what);
    std::string s(reinterpret_cast<const char*>(p_ + off_), len);
    off_ += len;
    return s;
  }
  // A count of items of item_size bytes each: rejected if the rest of the file cannot hold them.
  uint64_t count(const char* what, size_t item_size) {
    uint64_t c = get<uint64_t>(what);
    if (item_size && c > (n_ - off_) / item_size) bad(std::string(what) + " count " + std::to_string(c) + " exceeds the file size");
    return c;
  }
  void raw(void* dst, size_t n, const char* what) {
    need(n, what);
    std::memcpy(dst, p_ + off_, n);
    off_ += n;
  }
  size_t offset() const { return off_; }
  [[noreturn]] void bad(const std::string& msg) const { fail_format(path_ + ": invalid session file: " + msg); }

 private:
  void need(size_t k, const char* what) const {
    if (k > n_ - off_) bad(std::string("truncated while reading ") + what);
  }
  const uint8_t* p_;
  size_t n_, off_ = 0;
  std::string path_;
};

std::string fingerprint(const Model& m) {
  const auto& c = m.config();
  return c.architecture + "|hidden=" + std::to_string(c.text.hidden_size) + "|layers=" + std::to_string(c.text.num_layers) +
         "|vocab=" + std::to_string(c.text.vocab_size) + "|vision=" + std::to_string(c.vision.embed_dim) + "x" + std::to_string(c.vision.depth);
}

}  // namespace

void Session::save(const std::string& path) const {
  Writer w;
  w.raw(kMagic, 8);
  w.put<uint32_t>(kVersion);
  w.str(fingerprint(*model_));
  for (int i = 0; i < ChatTemplate::kFieldCount; ++i) w.str(tmpl_.field(i));
  w.put<uint8_t>(has_system_);
  w.put<uint8_t>(reply_open_);
  w.put<int64_t>(system_len_);
  w.put<int32_t>(next_pos_);
  w.put<uint64_t>(history_.size());
  for (size_t i = 0; i < history_.size(); ++i) {
    w.put<int32_t>(history_[i]);
    for (int a = 0; a < 3; ++a) w.put<int32_t>(cells_[i].pos[a]);
    w.put<uint8_t>(static_cast<uint8_t>(cells_[i].source));
    w.put<int32_t>(cells_[i].turn);
  }
  w.put<uint64_t>(turns_.size());
  for (int64_t t : turns_) w.put<int64_t>(t);
  w.put<uint64_t>(history_images_.size());
  for (const auto& sp : history_images_) {
    const ImageEmbedding& e = *sp.emb;
    w.put<int64_t>(sp.offset);
    for (int v : {e.grid_t, e.grid_h, e.grid_w, e.merged_h, e.merged_w}) w.put<int32_t>(v);
    w.put<int64_t>(e.n_tokens);
    w.raw(e.embeds.data(), e.embeds.size() * sizeof(float));
  }
  const uint64_t sum = fnv1a(reinterpret_cast<const uint8_t*>(w.bytes().data()), w.bytes().size());
  w.put<uint64_t>(sum);
  write_file_atomic(path, w.bytes().data(), w.bytes().size());
}

void Session::load(const std::string& path) {
  MappedFile f(path);
  if (f.size() < 8 + 4 + 8 || std::memcmp(f.data(), kMagic, 8) != 0) fail_format(path + ": not an edgevl session file (bad magic)");
  Reader r(f.data(), f.size() - 8, path);
  uint64_t stored;
  std::memcpy(&stored, f.data() + f.size() - 8, 8);
  if (stored != fnv1a(f.data(), f.size() - 8)) fail_format(path + ": session file is corrupt (checksum mismatch)");
  char magic[8];
  r.raw(magic, 8, "magic");
  const uint32_t version = r.get<uint32_t>("version");
  if (version != kVersion && version != 1) fail(ErrorCode::kUnsupported, path + ": session file version " + std::to_string(version) + " (this build reads " + std::to_string(kVersion) + ")");
  const std::string fp = r.str("model fingerprint");
  if (fp != fingerprint(*model_)) fail(ErrorCode::kInvalidArgument, path + ": saved with another model (" + fp + "), this session runs " + fingerprint(*model_));
  ChatTemplate t = ChatTemplate::chatml();
  if (version == 1) {  // the RKLLM strings only
    const std::string sys = r.str("system block"), pre = r.str("user prefix"), post = r.str("user postfix");
    t.set_rkllm(&sys, &pre, &post);
  } else {
    for (int i = 0; i < ChatTemplate::kFieldCount; ++i) t.set_field(i, r.str("chat template"));
  }
  const bool has_system = r.get<uint8_t>("has_system") != 0;
  const bool reply_open = r.get<uint8_t>("reply_open") != 0;
  const int64_t system_len = r.get<int64_t>("system_len");
  const int32_t next_pos = r.get<int32_t>("next_pos");
  const uint64_t n = r.count("tokens", 21);
  if (int64_t(n) + 1 > params_.max_context)
    fail(ErrorCode::kContextOverflow, path + ": the saved conversation has " + std::to_string(n) + " tokens, over this session's context of " +
                                          std::to_string(params_.max_context));
  const int32_t vocab = model_->decoder().vocab_size();
  std::vector<int32_t> hist(n);
  std::vector<KvCell> cells(n);
  int32_t maxpos = -1;
  for (uint64_t i = 0; i < n; ++i) {
    hist[i] = r.get<int32_t>("token");
    if (hist[i] < 0 || hist[i] >= vocab) r.bad("token " + std::to_string(i) + " id " + std::to_string(hist[i]) + " outside the vocabulary");
    for (int a = 0; a < 3; ++a) {
      cells[i].pos[a] = r.get<int32_t>("position");
      if (cells[i].pos[a] < 0 || cells[i].pos[a] > (1 << 24)) r.bad("position out of range at token " + std::to_string(i));
      maxpos = std::max(maxpos, cells[i].pos[a]);
    }
    const uint8_t src = r.get<uint8_t>("source");
    if (src > 1) r.bad("bad token source at token " + std::to_string(i));
    cells[i].source = static_cast<CellSource>(src);
    cells[i].turn = r.get<int32_t>("turn");
  }
  if (system_len < 0 || system_len > int64_t(n)) r.bad("system_len out of range");
  if (next_pos != maxpos + 1) r.bad("next position is not max(position) + 1");
  const uint64_t nt = r.count("turns", 8);
  std::vector<int64_t> turns(nt);
  for (uint64_t i = 0; i < nt; ++i) {
    turns[i] = r.get<int64_t>("turn begin");
    if (turns[i] < system_len || turns[i] >= int64_t(n) || (i && turns[i] <= turns[i - 1])) r.bad("turn boundaries out of order");
  }
  const int H = model_->decoder().hidden_size();
  const uint64_t ni = r.count("images", 8 + 20 + 8);
  std::vector<ImageSpan> images;
  int64_t last_end = 0;
  for (uint64_t i = 0; i < ni; ++i) {
    auto e = std::make_shared<ImageEmbedding>();
    const int64_t off = r.get<int64_t>("image offset");
    e->grid_t = r.get<int32_t>("grid");
    e->grid_h = r.get<int32_t>("grid");
    e->grid_w = r.get<int32_t>("grid");
    e->merged_h = r.get<int32_t>("grid");
    e->merged_w = r.get<int32_t>("grid");
    e->n_tokens = r.get<int64_t>("image tokens");
    if (off < last_end || e->n_tokens <= 0 || e->n_tokens > int64_t(n) - off) r.bad("image " + std::to_string(i) + " lies outside the history");
    for (int64_t k = off; k < off + e->n_tokens; ++k)
      if (hist[k] != model_->config().image_token_id || cells[k].source != CellSource::Image)
        r.bad("image " + std::to_string(i) + " does not cover image tokens");
    if (uint64_t(e->n_tokens) * H * 4 > f.size() - r.offset()) r.bad("image " + std::to_string(i) + " embeddings truncated");
    e->embeds.resize(size_t(e->n_tokens) * H);
    r.raw(e->embeds.data(), e->embeds.size() * sizeof(float), "image embeddings");
    last_end = off + e->n_tokens;
    images.push_back({off, e});
  }
  for (uint64_t k = 0; k < n; ++k)
    if (cells[k].source == CellSource::Image &&
        std::none_of(images.begin(), images.end(), [&](const ImageSpan& s) { return int64_t(k) >= s.offset && int64_t(k) < s.offset + s.emb->n_tokens; }))
      r.bad("image token " + std::to_string(k) + " has no saved embedding");
  if (r.offset() != f.size() - 8) r.bad("trailing bytes after the images");
  // Everything checked: replace the conversation and recompute its KV cache; if that
  // fails (out of memory...), put the old conversation back.
  const Snapshot old = snapshot();
  ChatTemplate old_tmpl = tmpl_;
  tmpl_ = t;
  history_ = std::move(hist);
  cells_ = std::move(cells);
  turns_ = std::move(turns);
  history_images_ = std::move(images);
  has_system_ = has_system;
  reply_open_ = reply_open;
  system_len_ = system_len;
  next_pos_ = next_pos;
  cache_.truncate(0);
  try {
    sync_cache();
  } catch (...) {
    tmpl_ = std::move(old_tmpl);
    restore(old);  // the cache is recomputed by the next run
    throw;
  }
}

}  // namespace edgevl
