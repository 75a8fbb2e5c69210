// One conversation with a Model: the KV cache, the token history with the 3-D
// position of every token, turn boundaries, the sampler, and an image-embedding
// cache. Each turn appends only what is new (ids-append: generated ids are never
// re-tokenized), and every turn is self-contained in history:
//   <|im_start|>user\n … <|im_end|>\n<|im_start|>assistant\n REPLY <|im_end|>\n
// so whole turns can be removed and the rest recomputed exactly.
#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/thread_pool.h"
#include "llm/kv_cache.h"
#include "llm/sampler.h"
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
};

struct Message {
  std::string role = "user";  // system | user | assistant | tool
  std::vector<ContentPart> parts;
};

// Splits text at each "<image>" tag and puts the next image there. Throws
// kInvalidArgument when tags and images do not pair up.
Message message_from_tagged_text(const std::string& role, const std::string& text,
                                 const std::vector<std::shared_ptr<const ImageU8>>& images);

struct GenerationParams {
  SamplingParams sampling;
  int max_new_tokens = 512;
  bool ignore_eos = false;  // keep generating past <|im_end|> (as the goldens do)
};

enum class OverflowPolicy { Error, DropOldest };

// RKLLM-style chat template: raw strings around each part of the conversation.
struct ChatTemplate {
  std::string system_block;  // the whole system part, tags included
  std::string user_prefix = "<|im_start|>user\n";
  std::string user_postfix = "<|im_end|>\n<|im_start|>assistant\n";
  static ChatTemplate chatml(const std::string& system_prompt);
  // What the model's official template renders without a system message: Qwen2-VL and
  // Qwen2.5-VL add kDefaultSystemPrompt, Qwen3-VL adds no system block.
  static ChatTemplate model_default(const ModelConfig& cfg);
};
inline constexpr const char* kDefaultSystemPrompt = "You are a helpful assistant.";

struct SessionParams {
  int64_t max_context = 4096;  // KV cache capacity in tokens
  int64_t n_keep = -1;         // tokens never evicted; -1 = the system block
  OverflowPolicy overflow = OverflowPolicy::Error;
  int n_threads = 0;           // 0 = all cores
  std::optional<std::string> system_prompt;  // unset = the model's default (ChatTemplate::model_default)
  GenerationParams generation;
  PreprocessConfig preprocess;  // used when use_model_preprocess is false
  bool use_model_preprocess = true;
  int fixed_size = 0;           // >0: on-device square preprocessing at this size
  int64_t min_pixels = 0, max_pixels = 0;  // >0: override the model's preprocessor limits
  ImageLimits image_limits;     // for decoding images given by path or bytes
  size_t image_cache_entries = 8;
};

enum class FinishReason { Stop, Length, ContextFull, Aborted };
const char* finish_reason_name(FinishReason r);

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
  std::string text;
  FinishReason finish = FinishReason::Stop;
  TurnStats stats;
  std::vector<float> hidden;    // final hidden state of the last prompt position (if asked)
};

// Called for every generated token with the text it completes (empty while a UTF-8
// character is incomplete; id -1 for the final flush). Return false to stop.
using TokenCallback = std::function<bool(int32_t id, const std::string& piece)>;

struct TurnOptions {
  bool generate = true;      // false: prefill only (logits / hidden-state modes)
  bool want_hidden = false;  // fill TurnResult::hidden
  bool keep_history = true;  // false: the conversation is restored after the turn
};

class Session {
 public:
  Session(std::shared_ptr<const Model> model, const SessionParams& params);
  ~Session();  // waits for background image encodes
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Adds a message and (for user/tool messages) generates the assistant's reply. An
  // assistant message is added as it is, without generating. On any error the
  // conversation is left exactly as it was.
  TurnResult chat(const Message& msg, const TokenCallback& cb = nullptr);
  TurnResult chat(const Message& msg, const GenerationParams& gen, const TokenCallback& cb, const TurnOptions& opt = {});

  // Forgets the conversation; with keep_system the system block stays cached.
  void clear(bool keep_system = true);
  void abort() { abort_.store(true); }
  void set_template(const ChatTemplate& t);  // clears the conversation
  const ChatTemplate& chat_template() const { return tmpl_; }

  // Removes turns [first, first + count) and recomputes what follows them.
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

  // Encodes (or finds in the cache) the embedding of an image. Thread-safe with
  // respect to a running chat() of this session: prepare_image() uses its own threads.
  std::shared_ptr<const ImageEmbedding> image_embedding(const ImageU8& img, bool* was_cached = nullptr);
  void prepare_image(std::shared_ptr<const ImageU8> img);

  // Runs fn once on each worker thread of the session's pool (not the caller's), e.g.
  // to pin them to CPUs.
  void run_on_pool(const std::function<void()>& fn) {
    pool_.run([&](int i, int) {
      if (i) fn();
    });
  }

  // Versioned binary save of the conversation (tokens, positions, turns, template,
  // image embeddings); load validates everything, then recomputes the KV cache.
  void save(const std::string& path) const;
  void load(const std::string& path);

 private:
  struct ImageSpan {
    int64_t offset;  // index of the first <|image_pad|> (in the sequence it belongs to)
    std::shared_ptr<const ImageEmbedding> emb;
  };
  struct Pending;  // tokens of a turn before they are committed
  struct Snapshot;
  friend struct SessionFile;

  void render(const Message& msg, Pending& seg, TurnStats& st);
  void append_text(Pending& seg, const std::string& text) const;
  void append_image(Pending& seg, const ContentPart& part, TurnStats& st);
  void append_embeddings(Pending& seg, const ContentPart& part);
  void commit(Pending& seg);
  void append_generated(int32_t tok);
  void close_reply(bool model_closed);
  void make_room(int64_t need, TurnStats& st);
  void prefill_pending(const std::vector<int32_t>& ids, const std::vector<KvCell>& cells, const std::vector<ImageSpan>& spans,
                       float* hidden_last);
  Snapshot snapshot() const;
  void restore(const Snapshot& s);
  PreprocessConfig effective_preprocess() const;
  std::string cache_key(const ImageU8& img) const;
  int64_t keep_tokens() const;

  std::shared_ptr<const Model> model_;
  SessionParams params_;
  ThreadPool pool_;
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
  std::atomic<bool> abort_{false};
  std::atomic<int> images_encoded_total_{0};
  ImageCache image_cache_;
  std::vector<std::thread> background_;  // prepare_image() encodes
};

}  // namespace edgevl
