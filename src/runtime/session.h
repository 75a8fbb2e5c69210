// One conversation with a Model: the KV cache, the token history with the 3-D
// position of every token, turn boundaries, the sampler, and an image-embedding
// cache. Each turn appends only what is new (ids-append: generated ids are never
// re-tokenized), and every turn is self-contained in history:
//   <|im_start|>user\n … <|im_end|>\n<|im_start|>assistant\n REPLY <|im_end|>\n
// so whole turns can be removed and the rest recomputed exactly.
#pragma once
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/cancel.h"
#include "core/thread_pool.h"
#include "llm/kv_cache.h"
#include "llm/sampler.h"
#include "runtime/chat_template.h"
#include "runtime/generator.h"
#include "runtime/image_cache.h"
#include "runtime/model.h"
#include "tokenizer/tokenizer.h"

namespace edgevl {

struct ContentPart {
  enum class Kind { Text, Image, Tokens, Embeddings } kind = Kind::Text;
  std::string text;
  std::shared_ptr<const ImageU8> image;
  std::vector<int32_t> tokens;
  std::vector<float> embeddings;        // rows of hidden_size
  std::vector<int32_t> positions;       // optional 3*rows relative ids (t row, h row, w row)
  // Text only: true = special-token strings in the text (e.g. "<|im_end|>") are ordinary
  // text, never control tokens. false (default, as RKLLM) = they become their ids.
  bool literal = false;
};

struct Message {
  std::string role = "user";  // system | user | assistant | tool
  std::vector<ContentPart> parts;
};

// Splits text at each "<image>" tag and puts the next image there. Throws
// kInvalidArgument when tags and images do not pair up.
Message message_from_tagged_text(const std::string& role, const std::string& text,
                                 const std::vector<std::shared_ptr<const ImageU8>>& images);

enum class OverflowPolicy { Error, DropOldest };

struct SessionParams {
  int64_t max_context = 4096;  // KV cache capacity in tokens
  KvType kv_type = KvType::F32;  // KV cache element type (f16: half the memory)
  int64_t n_keep = -1;         // tokens never evicted; -1 = the system block
  OverflowPolicy overflow = OverflowPolicy::Error;
  int n_threads = 0;           // 0 = all cores
  std::optional<std::string> system_prompt;  // unset = the model's default (Model::chat_template)
  GenerationParams generation;
  PreprocessConfig preprocess;  // used when use_model_preprocess is false
  bool use_model_preprocess = true;
  int fixed_size = 0;           // >0: on-device square preprocessing at this size
  int64_t min_pixels = 0, max_pixels = 0;  // >0: override the model's preprocessor limits
  ImageLimits image_limits;     // for decoding images given by path or bytes
  size_t image_cache_entries = 8;
  // Most image tokens one image may take (0 = kDefaultMaxImageTokens, unless max_pixels
  // is set, which is then the only cap). Larger images are scaled down before encoding,
  // keeping their aspect (never below min_pixels). Raise it for finer detail at the cost
  // of time and memory (one token = 28x28 px).
  int64_t max_image_tokens = 0;
};

// Default image-token budget: 1024 tokens (about 0.8 megapixels, e.g. 1008x784), which
// a phone-class CPU encodes in seconds and which leaves room in a 4096-token context.
constexpr int64_t kDefaultMaxImageTokens = 1024;

struct TurnStats {
  int64_t prompt_tokens = 0;   // tokens prefilled this turn
  int64_t image_tokens = 0;    // image tokens in the message
  int images = 0, images_encoded = 0;  // images in the turn / not found in the cache
  int turns_evicted = 0;       // turns dropped to make room (DropOldest)
  double image_encode_ms = 0;  // waiting for preprocessing + vision tower, this turn
  double prefill_ms = 0;
  double ttft_ms = 0;          // from the call to the first generated token
  int64_t decode_tokens = 0;
  double decode_ms = 0;
  int64_t kv_tokens = 0;       // KV cache fill after the turn
  int64_t peak_rss_bytes = 0;
  double decode_tokens_per_s() const { return decode_ms > 0 ? decode_tokens * 1000.0 / decode_ms : 0; }
  double prefill_tokens_per_s() const { return prefill_ms > 0 ? prompt_tokens * 1000.0 / prefill_ms : 0; }
};

struct TurnResult {
  std::vector<int32_t> tokens;  // generated ids (stop token excluded)
  std::string text;             // the reply, unstreamed_tail included
  std::string unstreamed_tail;  // held-back bytes flushed at the end, never passed to the TokenCallback
  FinishReason finish = FinishReason::Stop;
  TurnStats stats;
  std::vector<float> hidden;    // final hidden state of the last prompt position (if asked)
};

struct TurnOptions {
  bool generate = true;      // false: prefill only (logits / hidden-state modes)
  bool want_hidden = false;  // fill TurnResult::hidden
  bool keep_history = true;  // false: the conversation is restored after the turn
  // Per-run cancellation: when *cancel becomes true, chat() stops at the next check
  // (between vision blocks, prefill chunks and layers, decode steps) and throws
  // Error(kAborted), leaving the conversation exactly as before the call.
  const std::atomic<bool>* cancel = nullptr;
};

class Session {
 public:
  Session(std::shared_ptr<const Model> model, const SessionParams& params);
  ~Session();  // waits for background image encodes
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Adds a message and (for user/tool messages) generates the assistant's reply. An
  // assistant message is added as it is, without generating. On any error, and on
  // cancellation (Error kAborted), the conversation (history, positions, turns, image
  // spans) is left exactly as it was; the KV cache keeps at most what it held before
  // (it may hold less after an eviction was undone; the next run recomputes the rest).
  TurnResult chat(const Message& msg, const TokenCallback& cb = nullptr);
  TurnResult chat(const Message& msg, const GenerationParams& gen, const TokenCallback& cb, const TurnOptions& opt = {});

  // Forgets the conversation; with keep_system the system block stays cached.
  void clear(bool keep_system = true);
  // Cancels the chat() in progress on another thread, if any; no effect when idle and
  // never carries over to the next run (use TurnOptions::cancel for a token that can be
  // set before the run starts).
  void abort();
  void set_template(const ChatTemplate& t);  // clears the conversation
  const ChatTemplate& chat_template() const { return tmpl_; }

  // Removes turns [first, first + count) (recomputed lazily: call sync_cache() or the
  // next chat()). Throws kInvalidArgument when the range is not within the turns.
  void remove_turns(int first, int count);
  int turn_count() const { return int(turns_.size()); }

  int64_t kv_size() const { return cache_.size(); }
  int64_t max_context() const { return params_.max_context; }
  const std::vector<int32_t>& history() const { return history_; }
  const std::vector<KvCell>& positions() const { return cells_; }
  const Model& model() const { return *model_; }
  const SessionParams& params() const { return params_; }
  int images_encoded_total() const { return images_encoded_total_.load(); }
  // Logits of the last position after the last prefill/decode step.
  const std::vector<float>& last_logits() const { return logits_; }

  // Prefills whatever history the KV cache lacks (after remove_turns or load).
  void sync_cache();
  // Drops the whole KV cache and recomputes it from history.
  void rebuild_cache();

  // Encodes (or finds in the cache) the embedding of an image with the session's pool.
  std::shared_ptr<const ImageEmbedding> image_embedding(const ImageU8& img, bool* was_cached = nullptr,
                                                        const Cancel& cancel = Cancel());
  // Queues an image for encoding in the background: one worker thread per session,
  // started on first use, joined in ~Session (which cancels its encode). The worker
  // uses the session's pool when no chat() holds it, else encodes on its own thread
  // alone; there is never a second pool. A chat() that starts while the worker holds the
  // pool waits for that encode (cancellably); one that needs an image the worker has
  // not started on encodes it itself. Thread-safe with respect to a running chat().
  void prepare_image(std::shared_ptr<const ImageU8> img);
  // The preprocessing this session applies (model or params, size overrides, and the
  // image-token budget folded into max_pixels).
  PreprocessConfig effective_preprocess() const;
  // Image tokens an image of this size will take under effective_preprocess().
  int64_t image_tokens_for(int width, int height) const;

  // Runs fn once on each worker thread of the session's pool (not the caller's), e.g.
  // to pin them to CPUs.
  void run_on_pool(const std::function<void()>& fn);

  // Versioned binary save of the conversation (tokens, positions, turns, template,
  // image embeddings); load validates everything, then recomputes the KV cache. A
  // failed load leaves the conversation as it was.
  void save(const std::string& path) const;
  void load(const std::string& path);

 private:
  struct ImageSpan {
    int64_t offset;  // index of the first <|image_pad|> (in the sequence it belongs to)
    std::shared_ptr<const ImageEmbedding> emb;
  };
  struct Pending;  // tokens of a turn before they are committed
  struct Snapshot {  // the conversation, for undoing a failed run or load
    std::vector<int32_t> history;
    std::vector<KvCell> cells;
    std::vector<ImageSpan> images;
    std::vector<int64_t> turns;
    int32_t next_pos;
    int64_t system_len;
    bool has_system, reply_open;
    int64_t kv_size;
    std::vector<float> logits;
  };
  friend struct SessionFile;

  class Decoding;  // the DecodeTarget of a reply
  void render(const Message& msg, Pending& seg, TurnStats& st, const Cancel& cancel);
  void append_text(Pending& seg, const std::string& text, bool parse_special = true) const;
  void append_image(Pending& seg, const ContentPart& part, TurnStats& st, const Cancel& cancel);
  void append_embeddings(Pending& seg, const ContentPart& part);
  void commit(Pending& seg);
  void append_generated(int32_t tok);
  void close_reply(bool model_closed);
  void make_room(int64_t need, TurnStats& st);
  void prefill_uncached(const Cancel& cancel, float* hidden_last);
  Snapshot snapshot() const;
  void restore(const Snapshot& s);
  void background_loop();
  struct PreparedImage;
  void abandon(PreparedImage& p);  // a queued image that will not be encoded
  // The pool runs one job at a time: a chat()/sync_cache() or a background encode.
  // Waits for it, polling `cancel`.
  std::unique_lock<std::mutex> take_pool(const Cancel& cancel);
  std::shared_ptr<const ImageEmbedding> encode_cached(const ImageU8& img, bool* was_cached, const Cancel& cancel);
  std::string cache_key(const ImageU8& img) const;
  int64_t keep_tokens() const;

  std::shared_ptr<const Model> model_;
  SessionParams params_;
  ThreadPool pool_;
  std::mutex pool_mu_;         // held by whoever runs jobs on pool_
  KvCache cache_;
  Sampler sampler_;
  ChatTemplate tmpl_;
  std::vector<int32_t> history_;           // every token of the conversation
  std::vector<KvCell> cells_;              // its positions; cache_ holds the first cache_.size()
  std::vector<ImageSpan> history_images_;  // image/embedding blocks in history_ (offsets into history_)
  std::vector<int64_t> turns_;             // history offset where each turn begins
  int32_t next_pos_ = 0;                   // max of all positions + 1
  int64_t system_len_ = 0;                 // tokens of the system block
  bool has_system_ = false;                // the system block is in history
  bool reply_open_ = false;                // a prefill-only turn left the assistant's reply open
  std::vector<float> logits_;
  std::atomic<int> images_encoded_total_{0};
  ImageCache image_cache_;

  // abort(): the flag of the run in progress (null when idle), under run_mu_.
  std::mutex run_mu_;
  std::atomic<bool>* run_abort_ = nullptr;

  // prepare_image(): one worker, a queue, a stop flag that also cancels its encode.
  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  struct PreparedImage {
    std::shared_ptr<const ImageU8> img;
    std::string key;
    ImageCache::Claim claim;  // registered in the cache at prepare_image() time
  };
  std::deque<PreparedImage> bg_queue_;
  std::atomic<bool> bg_stop_{false};
  std::thread bg_thread_;
};

}  // namespace edgevl
