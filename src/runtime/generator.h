// The decode loop of one reply, apart from the conversation it extends: sample a token
// from the logits, stop on end-of-turn / length / a full context / the callback, stream
// the text as whole UTF-8 characters, poll cancellation between steps. The session
// supplies the conversation through DecodeTarget (history, KV cache, positions).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/cancel.h"
#include "llm/sampler.h"
#include "runtime/model.h"

namespace edgevl {

struct GenerationParams {
  SamplingParams sampling;
  int max_new_tokens = 512;
  bool ignore_eos = false;  // keep generating past <|im_end|> (as the goldens do)
};

// Stop: end of turn (or prefill only); Length: max_new_tokens; ContextFull: no room for
// another token; Aborted: the TokenCallback returned false (the partial reply is kept;
// a cancellation through abort()/TurnOptions::cancel is an Error(kAborted) instead).
enum class FinishReason { Stop, Length, ContextFull, Aborted };
const char* finish_reason_name(FinishReason r);

// Called for every generated token with the text it completes: empty while a UTF-8
// character is incomplete (the bytes are held back and come with a later token). Never
// called with anything but a real generated token. Bytes still held back when the reply
// ends come out as GenerationResult::unstreamed_tail (U+FFFD per incomplete character),
// never through the callback. Return false to stop (FinishReason::Aborted).
using TokenCallback = std::function<bool(int32_t id, const std::string& piece)>;

// What the loop needs from the conversation it extends.
class DecodeTarget {
 public:
  virtual ~DecodeTarget() = default;
  virtual const std::vector<int32_t>& tokens() const = 0;  // the conversation so far (for penalties)
  virtual bool room_for_one_more() const = 0;               // another token and the reply's closing fit
  virtual void append(int32_t tok) = 0;                     // add tok to the conversation
  virtual void run_last(std::vector<float>& logits) = 0;    // compute the logits after the last appended token
};

struct GenerationResult {
  std::vector<int32_t> tokens;  // generated ids (the stop token excluded)
  std::string text;             // their text, unstreamed_tail included
  std::string unstreamed_tail;  // held-back bytes flushed at the end (see TokenCallback)
  FinishReason finish = FinishReason::Length;
  bool model_emitted_stop = false;  // the stop token was generated and appended
  double first_token_ms = -1;       // now_ms() when the first token was sampled
};

// Runs the loop. `logits` holds the logits after the prompt on entry. Throws
// Error(kAborted) when `cancel` is requested before a step; what was appended so far is
// the caller's to roll back.
GenerationResult generate(const Model& model, Sampler& sampler, const GenerationParams& gen, const Cancel& cancel,
                          DecodeTarget& target, std::vector<float>& logits, const TokenCallback& cb);

}  // namespace edgevl
