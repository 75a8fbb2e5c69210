// One conversation with a Model: the KV cache, the token history with the 3-D
// position of every token, the sampler, and an image-embedding cache. Each turn
// appends only what is new (ids-append: generated ids are never re-tokenized).
#pragma once
#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/thread_pool.h"
#include "llm/kv_cache.h"
#include "llm/sampler.h"
#include "runtime/model.h"
#include "tokenizer/tokenizer.h"

namespace edgevl {

struct ContentPart {
  enum class Kind { Text, Image } kind = Kind::Text;
  std::string text;
  std::shared_ptr<const ImageU8> image;
};

struct Message {
  std::string role = "user";  // system | user | assistant | tool
  std::vector<ContentPart> parts;
};

// Splits text at each "<image>" tag and puts the next image there. Throws
// kInvalidArgument when there are more tags than images (or more images than tags).
Message message_from_tagged_text(const std::string& role, const std::string& text,
                                 const std::vector<std::shared_ptr<const ImageU8>>& images);

struct GenerationParams {
  SamplingParams sampling;
  int max_new_tokens = 512;
  bool ignore_eos = false;  // keep generating past <|im_end|> (as the goldens do)
};

struct SessionParams {
  int64_t max_context = 4096;  // KV cache capacity in tokens
  int n_threads = 0;           // 0 = all cores
  std::string system_prompt = "You are a helpful assistant.";
  GenerationParams generation;
  PreprocessConfig preprocess;  // image preprocessing (defaults: the model's own)
  bool use_model_preprocess = true;
  int fixed_size = 0;           // >0: on-device square preprocessing at this size
  size_t image_cache_entries = 8;
};

enum class FinishReason { Stop, Length, ContextFull, Aborted };
const char* finish_reason_name(FinishReason r);

struct TurnStats {
  int64_t prompt_tokens = 0;   // tokens prefilled this turn
  int64_t image_tokens = 0;    // of which image tokens
  int images = 0, images_encoded = 0;  // images in the turn / not found in the cache
  double image_encode_ms = 0;  // preprocessing + vision tower, this turn
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
};

// Called for every generated token with the text it completes (may be empty while a
// UTF-8 character is incomplete). Return false to stop generating.
using TokenCallback = std::function<bool(int32_t id, const std::string& piece)>;

class Session {
 public:
  Session(std::shared_ptr<const Model> model, const SessionParams& params);

  // Adds a message and generates the assistant's reply. On error (bad input,
  // context overflow) the conversation is left exactly as it was.
  TurnResult chat(const Message& msg, const TokenCallback& cb = nullptr);
  TurnResult chat(const Message& msg, const GenerationParams& gen, const TokenCallback& cb);

  // Forgets the conversation; with keep_system the system prompt stays cached.
  void clear(bool keep_system = true);
  void abort() { abort_.store(true); }

  int64_t kv_size() const { return cache_.size(); }
  int64_t max_context() const { return params_.max_context; }
  const std::vector<int32_t>& history() const { return history_; }
  const std::vector<KvCell>& positions() const { return cells_; }
  const Model& model() const { return *model_; }
  SessionParams& params() { return params_; }
  int images_encoded_total() const { return images_encoded_total_; }
  // Logits of the last position after the last prefill/decode step.
  const std::vector<float>& last_logits() const { return logits_; }

  // Recomputes the KV cache from the token history (a fresh prefill of the whole
  // conversation). The result must equal the incrementally built cache; used after
  // evicting turns, after loading a saved session, and by tests.
  void rebuild_cache();

  // Encodes (or finds in the cache) the embedding of an image.
  std::shared_ptr<const ImageEmbedding> image_embedding(const ImageU8& img, bool* was_cached = nullptr);

 private:
  struct ImageSpan {
    int64_t offset;  // index of the first <|image_pad|> (in the sequence it belongs to)
    std::shared_ptr<const ImageEmbedding> emb;
  };
  struct Pending;  // tokens of a turn before they are committed
  void render_turn(const Message& msg, Pending& seg, TurnStats& st);
  void append_text(Pending& seg, const std::string& text) const;
  void prefill(Pending& seg);
  // Runs ids/cells through the decoder on top of the cache; image pads take rows from spans.
  void forward_tokens(const std::vector<int32_t>& ids, const std::vector<KvCell>& cells, const std::vector<ImageSpan>& spans);
  PreprocessConfig effective_preprocess() const;
  std::string cache_key(const ImageU8& img) const;

  std::shared_ptr<const Model> model_;
  SessionParams params_;
  ThreadPool pool_;
  KvCache cache_;
  Sampler sampler_;
  std::vector<int32_t> history_;  // every token of the conversation
  std::vector<KvCell> cells_;     // its positions; cache_ holds the first cache_.size()
  std::vector<ImageSpan> history_images_;  // image blocks in history_ (offsets into history_)
  int32_t next_pos_ = 0;          // max of all positions + 1
  int64_t system_len_ = 0;        // tokens of the system block
  // How the history ends, which decides what the next turn must write first.
  enum class Tail { Empty, SystemBlock, ReplyClosed, ReplyOpen };
  Tail tail_ = Tail::Empty;
  int turn_ = 0;
  std::vector<float> logits_;
  std::atomic<bool> abort_{false};
  int images_encoded_total_ = 0;
  // Image embeddings by content hash, least recently used at the back.
  std::list<std::pair<std::string, std::shared_ptr<const ImageEmbedding>>> image_lru_;
};

}  // namespace edgevl
