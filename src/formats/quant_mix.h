// The per-tensor type mixes llama-quantize writes for its k-quant file types, so that
// `edgevl convert --type q4_k_m` makes the same kind of file people download. Rules as in
// llama.cpp's src/llama-quant.cpp (llama_tensor_get_type_impl, tensor_type_fallback) for a
// dense model without importance matrix:
//   - base type: Q4_K_M -> q4_K, Q5_K_M -> q5_K, Q6_K -> q6_K;
//   - output.weight (token_embd.weight too when the embeddings are tied, i.e. the file has
//     no output.weight): q6_K, or q8_0 when its rows are not a multiple of 256;
//   - attn_v.weight and ffn_down of layer i: q6_K for Q4_K_M and Q5_K_M when
//     i < n/8 or i >= 7n/8 or (i - n/8) % 3 == 2 ("use_more_bits");
//   - a row length that is not a multiple of 256 falls back q4_K -> q5_0, q5_K -> q5_1,
//     q6_K -> q8_0, and to f16 when not even a multiple of 32.
// 1-D tensors (norms, biases) stay f32, as everywhere in our converter.
#pragma once
#include <cstdint>
#include <string>

#include "core/dtype.h"

namespace edgevl {

enum class KQuantMix : uint8_t { None, Q4_K_M, Q5_K_M, Q6_K };

// "q4_k_m" / "q5_k_m" / "q6_k" (any case) -> the mix; false for anything else.
bool parse_kquant_mix(const std::string& s, KQuantMix* out);
const char* kquant_mix_name(KQuantMix m);  // "Q4_K_M", ...
// llama.cpp's general.file_type for the mix (LLAMA_FTYPE_MOSTLY_Q4_K_M = 15, Q5_K_M = 17, Q6_K = 18).
uint32_t kquant_mix_file_type(KQuantMix m);

// Type of the 2-D text tensor `name` (GGUF name, e.g. "blk.3.attn_v.weight") with rows of
// row_len values, in a model of n_layers layers.
DType kquant_mix_tensor_type(KQuantMix m, const std::string& name, int64_t row_len, int n_layers, bool tied_embeddings);

}  // namespace edgevl
