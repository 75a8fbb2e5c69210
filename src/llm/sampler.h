// Picks the next token from logits: penalties over recent tokens (repeat,
// frequency, presence), then greedy or temperature + top-k + top-p with a seeded RNG.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace edgevl {

struct SamplingParams {
  float temperature = 0.0f;  // <= 0: greedy (argmax)
  int top_k = 0;             // 0: off
  float top_p = 1.0f;        // 1: off
  float repeat_penalty = 1.0f;     // CTRL-style: positive logits divided, negative multiplied
  float frequency_penalty = 0.0f;  // subtract count * f
  float presence_penalty = 0.0f;   // subtract p if seen
  int penalty_last_n = 64;         // window of recent tokens the penalties look at
  uint64_t seed = 0;               // same seed + same inputs => same tokens
};

// Throws kInvalidArgument naming the field when a value is out of range.
void validate(const SamplingParams& p);

class Sampler {
 public:
  explicit Sampler(const SamplingParams& p = {});
  void reset(const SamplingParams& p);
  const SamplingParams& params() const { return p_; }

  // `logits` is modified in place (penalties, temperature). `recent` are the
  // previous tokens of the conversation, oldest first.
  int32_t sample(float* logits, int32_t n_vocab, const std::vector<int32_t>& recent);

 private:
  SamplingParams p_;
  std::mt19937_64 rng_;
  std::vector<std::pair<float, int32_t>> cand_;
};

}  // namespace edgevl
