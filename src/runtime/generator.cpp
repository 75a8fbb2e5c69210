#include "runtime/generator.h"

#include <algorithm>

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

GenerationResult generate(const Model& model, Sampler& sampler, const GenerationParams& gen, const Cancel& cancel,
                          DecodeTarget& target, std::vector<float>& logits, const TokenCallback& cb) {
  GenerationResult r;
  const auto& eos = model.config().eos_token_ids;
  const int32_t im_end = model.tokenizer().special_id("<|im_end|>");
  const int32_t vocab = model.decoder().vocab_size();
  const int32_t text_vocab = model.tokenizer().vocab_size();
  Utf8StreamDecoder utf8;
  std::vector<float> work(logits.size());
  for (int step = 0; step < gen.max_new_tokens; ++step) {
    cancel.check("generation");
    if (step > 0) {
      if (!target.room_for_one_more()) {
        r.finish = FinishReason::ContextFull;
        break;
      }
      target.run_last(logits);  // feeds the previous token
    }
    work = logits;
    const int32_t tok = sampler.sample(work.data(), vocab, target.tokens());
    if (step == 0) r.first_token_ms = now_ms();
    const bool is_eos = tok == im_end || std::find(eos.begin(), eos.end(), tok) != eos.end();
    if (is_eos && !gen.ignore_eos) {
      if (tok == im_end) {
        target.append(tok);
        r.model_emitted_stop = true;
      }
      r.finish = FinishReason::Stop;
      break;
    }
    target.append(tok);
    r.tokens.push_back(tok);
    // Padding rows past the tokenizer's vocabulary have no text.
    std::string piece = utf8.push(tok < text_vocab ? model.tokenizer().token_to_bytes(tok) : std::string());
    r.text += piece;
    if (cb && !cb(tok, piece)) {
      r.finish = FinishReason::Aborted;
      break;
    }
  }
  r.unstreamed_tail = utf8.flush();
  r.text += r.unstreamed_tail;
  return r;
}

}  // namespace edgevl
