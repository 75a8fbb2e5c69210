#include "formats/quant_mix.h"

#include <cctype>
#include <cstdlib>

#include "core/error.h"

namespace edgevl {

bool parse_kquant_mix(const std::string& s, KQuantMix* out) {
  std::string l;
  for (char c : s) l += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (l == "q4_k_m") *out = KQuantMix::Q4_K_M;
  else if (l == "q5_k_m") *out = KQuantMix::Q5_K_M;
  else if (l == "q6_k") *out = KQuantMix::Q6_K;
  else return false;
  return true;
}

const char* kquant_mix_name(KQuantMix m) {
  switch (m) {
    case KQuantMix::Q4_K_M: return "Q4_K_M";
    case KQuantMix::Q5_K_M: return "Q5_K_M";
    case KQuantMix::Q6_K: return "Q6_K";
    default: return "none";
  }
}

uint32_t kquant_mix_file_type(KQuantMix m) {
  switch (m) {
    case KQuantMix::Q4_K_M: return 15;
    case KQuantMix::Q5_K_M: return 17;
    case KQuantMix::Q6_K: return 18;
    default: fail(ErrorCode::kInvalidArgument, "no k-quant mix");
  }
}

namespace {

// Layer index of "blk.N.<...>", or -1.
int layer_of(const std::string& name) {
  if (name.compare(0, 4, "blk.") != 0) return -1;
  char* end = nullptr;
  const long v = std::strtol(name.c_str() + 4, &end, 10);
  return (end && *end == '.' && v >= 0 && v < 1000000) ? static_cast<int>(v) : -1;
}

// llama-quantize's choice of layers that get more bits: the first and last eighth and every
// third layer in between.
bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

}  // namespace

DType kquant_mix_tensor_type(KQuantMix m, const std::string& name, int64_t row_len, int n_layers, bool tied) {
  DType t = m == KQuantMix::Q4_K_M ? DType::Q4_K : m == KQuantMix::Q5_K_M ? DType::Q5_K : DType::Q6_K;
  if (m == KQuantMix::None) fail(ErrorCode::kInvalidArgument, "no k-quant mix");
  if (name == "output.weight" || (tied && name == "token_embd.weight")) {
    t = row_len % 256 != 0 ? DType::Q8_0 : DType::Q6_K;
  } else if (m != KQuantMix::Q6_K && (contains(name, "attn_v.weight") || contains(name, "ffn_down"))) {
    const int i = layer_of(name);
    if (i >= 0 && use_more_bits(i, n_layers)) t = DType::Q6_K;
  }
  if (row_len % 256 != 0) {
    if (t == DType::Q4_K) t = DType::Q5_0;
    else if (t == DType::Q5_K) t = DType::Q5_1;
    else if (t == DType::Q6_K) t = DType::Q8_0;
  }
  if (row_len % dtype_block_size(t) != 0) t = DType::F16;
  return t;
}

}  // namespace edgevl
