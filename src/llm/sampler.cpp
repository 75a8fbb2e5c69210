#include "llm/sampler.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "core/error.h"

namespace edgevl {

void validate(const SamplingParams& p) {
  auto bad = [](const char* f, const std::string& why) { fail(ErrorCode::kInvalidArgument, std::string("sampling: ") + f + " " + why); };
  if (!std::isfinite(p.temperature) || p.temperature < 0) bad("temperature", "must be >= 0");
  if (p.top_k < 0) bad("top_k", "must be >= 0");
  if (!(p.top_p > 0 && p.top_p <= 1)) bad("top_p", "must be in (0, 1]");
  if (!std::isfinite(p.repeat_penalty) || p.repeat_penalty <= 0) bad("repeat_penalty", "must be > 0");
  if (!std::isfinite(p.frequency_penalty) || !std::isfinite(p.presence_penalty)) bad("frequency/presence_penalty", "must be finite");
  if (p.penalty_last_n < 0) bad("penalty_last_n", "must be >= 0");
}

Sampler::Sampler(const SamplingParams& p) { reset(p); }

void Sampler::reset(const SamplingParams& p) {
  validate(p);
  p_ = p;
  rng_.seed(p.seed);
}

int32_t Sampler::sample(float* logits, int32_t n_vocab, const std::vector<int32_t>& recent) {
  const bool penalize = p_.repeat_penalty != 1.0f || p_.frequency_penalty != 0.0f || p_.presence_penalty != 0.0f;
  if (penalize && p_.penalty_last_n > 0 && !recent.empty()) {
    std::unordered_map<int32_t, int> counts;
    const size_t from = recent.size() > size_t(p_.penalty_last_n) ? recent.size() - p_.penalty_last_n : 0;
    for (size_t i = from; i < recent.size(); ++i)
      if (recent[i] >= 0 && recent[i] < n_vocab) ++counts[recent[i]];
    for (const auto& [tok, cnt] : counts) {
      float& l = logits[tok];
      l = l > 0 ? l / p_.repeat_penalty : l * p_.repeat_penalty;
      l -= cnt * p_.frequency_penalty + p_.presence_penalty;
    }
  }
  if (p_.temperature <= 0.0f) return static_cast<int32_t>(std::max_element(logits, logits + n_vocab) - logits);

  // Plain temperature sampling needs no ordering: one pass over the distribution.
  if (p_.top_k <= 0 && p_.top_p >= 1.0f) {
    const float inv_t = 1.0f / p_.temperature;
    float mx = logits[0];
    for (int32_t i = 1; i < n_vocab; ++i) mx = std::max(mx, logits[i]);
    double sum = 0;
    for (int32_t i = 0; i < n_vocab; ++i) sum += (logits[i] = std::exp((logits[i] - mx) * inv_t));
    std::uniform_real_distribution<double> u(0.0, sum);
    double r = u(rng_), acc = 0;
    for (int32_t i = 0; i < n_vocab; ++i) {
      acc += logits[i];
      if (r < acc) return i;
    }
    return n_vocab - 1;
  }
  // Candidates: top-k first (partial sort), then softmax, then the top-p nucleus. For
  // top-p alone, the nucleus almost always lies within the best few thousand tokens:
  // sort those first and fall back to all only if their mass is not enough.
  cand_.resize(n_vocab);
  for (int32_t i = 0; i < n_vocab; ++i) cand_[i] = {logits[i] / p_.temperature, i};
  size_t k = (p_.top_k > 0 && p_.top_k < n_vocab) ? size_t(p_.top_k) : size_t(n_vocab);
  auto cmp = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  constexpr size_t kNucleusGuess = 4096;
  double kept_mass = 1.0;  // share of the whole distribution the candidates hold
  if (p_.top_k <= 0 && cand_.size() > kNucleusGuess) {
    std::nth_element(cand_.begin(), cand_.begin() + kNucleusGuess, cand_.end(), cmp);
    float mx = cand_[0].first;
    for (size_t i = 0; i < kNucleusGuess; ++i) mx = std::max(mx, cand_[i].first);
    double top = 0, rest = 0;
    for (size_t i = 0; i < cand_.size(); ++i) (i < kNucleusGuess ? top : rest) += std::exp(cand_[i].first - mx);
    if (top / (top + rest) >= p_.top_p) {
      k = kNucleusGuess;
      kept_mass = top / (top + rest);
    }
  }
  if (k < cand_.size()) {
    std::partial_sort(cand_.begin(), cand_.begin() + k, cand_.end(), cmp);
    cand_.resize(k);
  } else {
    std::sort(cand_.begin(), cand_.end(), cmp);
  }
  const float mx = cand_[0].first;
  double sum = 0;
  for (auto& c : cand_) sum += (c.first = std::exp(c.first - mx));
  size_t keep = cand_.size();
  if (p_.top_p < 1.0f) {
    double acc = 0;
    for (size_t i = 0; i < cand_.size(); ++i) {
      acc += cand_[i].first / sum * kept_mass;
      if (acc >= p_.top_p) {
        keep = i + 1;
        break;
      }
    }
  }
  double total = 0;
  for (size_t i = 0; i < keep; ++i) total += cand_[i].first;
  std::uniform_real_distribution<double> u(0.0, total);
  double r = u(rng_), acc = 0;
  for (size_t i = 0; i < keep; ++i) {
    acc += cand_[i].first;
    if (r < acc) return cand_[i].second;
  }
  return cand_[keep - 1].second;
}

}  // namespace edgevl
