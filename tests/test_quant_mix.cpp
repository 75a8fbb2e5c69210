// llama-quantize's k-quant mixes (quant_mix.h), on the qwen2-vl-2b shapes (28 layers,
// hidden 1536, intermediate 8960 = 35·256, tied embeddings) and on rows that do not divide.
#include <gtest/gtest.h>

#include "formats/quant_mix.h"

using namespace edgevl;

TEST(QuantMix, ParsesNamesAndFileTypes) {
  KQuantMix m;
  ASSERT_TRUE(parse_kquant_mix("Q4_K_M", &m));
  EXPECT_EQ(m, KQuantMix::Q4_K_M);
  EXPECT_EQ(kquant_mix_file_type(m), 15u);
  ASSERT_TRUE(parse_kquant_mix("q5_k_m", &m));
  EXPECT_EQ(kquant_mix_file_type(m), 17u);
  ASSERT_TRUE(parse_kquant_mix("q6_k", &m));
  EXPECT_EQ(kquant_mix_file_type(m), 18u);
  EXPECT_FALSE(parse_kquant_mix("q4_k_s", &m));
  EXPECT_FALSE(parse_kquant_mix("", &m));
}

TEST(QuantMix, Q4KMOnQwen2VL2BShapes) {
  const int n = 28;
  // use_more_bits: i < 3, i >= 24, or (i - 3) % 3 == 2.
  for (int i = 0; i < n; ++i) {
    const bool more = i < 3 || i >= 24 || (i - 3) % 3 == 2;
    const std::string b = "blk." + std::to_string(i) + ".";
    EXPECT_EQ(kquant_mix_tensor_type(KQuantMix::Q4_K_M, b + "attn_v.weight", 1536, n, true), more ? DType::Q6_K : DType::Q4_K) << i;
    EXPECT_EQ(kquant_mix_tensor_type(KQuantMix::Q4_K_M, b + "ffn_down.weight", 8960, n, true), more ? DType::Q6_K : DType::Q4_K) << i;
    EXPECT_EQ(kquant_mix_tensor_type(KQuantMix::Q5_K_M, b + "ffn_down.weight", 8960, n, true), more ? DType::Q6_K : DType::Q5_K) << i;
    EXPECT_EQ(kquant_mix_tensor_type(KQuantMix::Q4_K_M, b + "attn_q.weight", 1536, n, true), DType::Q4_K) << i;
    EXPECT_EQ(kquant_mix_tensor_type(KQuantMix::Q4_K_M, b + "ffn_up.weight", 1536, n, true), DType::Q4_K) << i;
    EXPECT_EQ(kquant_mix_tensor_type(KQuantMix::Q6_K, b + "attn_v.weight", 1536, n, true), DType::Q6_K) << i;
  }
  // Tied embeddings: token_embd takes the output's q6_K; untied it keeps the base type.
  EXPECT_EQ(kquant_mix_tensor_type(KQuantMix::Q4_K_M, "token_embd.weight", 1536, n, true), DType::Q6_K);
  EXPECT_EQ(kquant_mix_tensor_type(KQuantMix::Q4_K_M, "token_embd.weight", 1536, n, false), DType::Q4_K);
  EXPECT_EQ(kquant_mix_tensor_type(KQuantMix::Q4_K_M, "output.weight", 1536, n, false), DType::Q6_K);
}

TEST(QuantMix, RowsNotAMultipleOf256FallBack) {
  EXPECT_EQ(kquant_mix_tensor_type(KQuantMix::Q4_K_M, "blk.1.attn_q.weight", 64, 2, true), DType::Q5_0);
  EXPECT_EQ(kquant_mix_tensor_type(KQuantMix::Q5_K_M, "blk.1.attn_q.weight", 64, 2, true), DType::Q5_1);
  EXPECT_EQ(kquant_mix_tensor_type(KQuantMix::Q6_K, "blk.1.attn_q.weight", 64, 2, true), DType::Q8_0);
  EXPECT_EQ(kquant_mix_tensor_type(KQuantMix::Q4_K_M, "blk.1.attn_v.weight", 64, 2, true), DType::Q8_0);  // q6_K (last eighth) -> q8_0
  EXPECT_EQ(kquant_mix_tensor_type(KQuantMix::Q4_K_M, "blk.0.attn_v.weight", 64, 2, true), DType::Q5_0);  // q4_K -> q5_0
  EXPECT_EQ(kquant_mix_tensor_type(KQuantMix::Q4_K_M, "output.weight", 64, 2, false), DType::Q8_0);
  EXPECT_EQ(kquant_mix_tensor_type(KQuantMix::Q4_K_M, "blk.1.attn_q.weight", 40, 2, true), DType::F16);  // not even 32
}
