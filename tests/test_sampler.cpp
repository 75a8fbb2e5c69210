#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include "core/error.h"
#include "llm/sampler.h"

using namespace edgevl;

TEST(Sampler, GreedyIsArgmax) {
  Sampler s;
  std::vector<float> l = {0.1f, 3.0f, 2.9f, -1.0f};
  EXPECT_EQ(s.sample(l.data(), 4, {}), 1);
}

TEST(Sampler, RepeatPenaltyChangesGreedyChoice) {
  SamplingParams p;
  p.repeat_penalty = 1.5f;
  Sampler s(p);
  std::vector<float> l = {0.1f, 3.0f, 2.9f, -1.0f};
  EXPECT_EQ(s.sample(l.data(), 4, {1}), 2);  // 3.0/1.5 = 2.0 < 2.9
  EXPECT_FLOAT_EQ(l[1], 2.0f);
}

TEST(Sampler, FrequencyAndPresencePenalties) {
  SamplingParams p;
  p.frequency_penalty = 0.5f;
  p.presence_penalty = 0.25f;
  Sampler s(p);
  std::vector<float> l = {1.0f, 1.0f};
  s.sample(l.data(), 2, {0, 0, 0});
  EXPECT_FLOAT_EQ(l[0], 1.0f - 1.5f - 0.25f);
  EXPECT_FLOAT_EQ(l[1], 1.0f);
}

TEST(Sampler, SeedMakesSamplingReproducible) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 42;
  std::vector<float> base(100);
  for (int i = 0; i < 100; ++i) base[i] = float(i % 7) * 0.3f;
  auto run = [&] {
    Sampler s(p);
    std::vector<int32_t> out;
    for (int i = 0; i < 50; ++i) {
      auto l = base;
      out.push_back(s.sample(l.data(), 100, {}));
    }
    return out;
  };
  auto a = run(), b = run();
  EXPECT_EQ(a, b);
  EXPECT_GT(std::set<int32_t>(a.begin(), a.end()).size(), 3u);  // it really samples
}

TEST(Sampler, TopKAndTopPRestrictCandidates) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 2;
  p.seed = 7;
  Sampler s(p);
  std::vector<float> base = {5.0f, 4.9f, 4.8f, 4.7f};
  std::map<int32_t, int> seen;
  for (int i = 0; i < 200; ++i) {
    auto l = base;
    seen[s.sample(l.data(), 4, {})]++;
  }
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_TRUE(seen.count(0) && seen.count(1));
  p.top_k = 0;
  p.top_p = 0.01f;  // nucleus of one token
  s.reset(p);
  for (int i = 0; i < 20; ++i) {
    auto l = base;
    EXPECT_EQ(s.sample(l.data(), 4, {}), 0);
  }
}

TEST(Sampler, RejectsBadParams) {
  SamplingParams p;
  p.top_p = 0.0f;
  EXPECT_THROW(Sampler{p}, Error);
  p = {};
  p.temperature = -1;
  EXPECT_THROW(Sampler{p}, Error);
}

TEST(Sampler, TopPOnLargeVocabularyStaysInsideTheExactNucleus) {
  const int n = 20000;
  std::mt19937 g(3);
  std::normal_distribution<float> d(0.0f, 3.0f);
  std::vector<float> base(n);
  for (auto& x : base) x = d(g);
  // The exact nucleus for top_p = 0.5 at temperature 1.
  std::vector<int> order(n);
  for (int i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](int a, int b) { return base[a] > base[b]; });
  double z = 0;
  for (float x : base) z += std::exp(double(x) - base[order[0]]);
  std::set<int32_t> nucleus;
  double acc = 0;
  for (int i : order) {
    nucleus.insert(i);
    acc += std::exp(double(base[i]) - base[order[0]]) / z;
    if (acc >= 0.5) break;
  }
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_p = 0.5f;
  p.seed = 11;
  Sampler s(p);
  std::set<int32_t> seen;
  for (int i = 0; i < 500; ++i) {
    auto l = base;
    int32_t t = s.sample(l.data(), n, {});
    ASSERT_TRUE(nucleus.count(t)) << "token " << t << " is outside the nucleus";
    seen.insert(t);
  }
  EXPECT_GT(seen.size(), 1u);
}
