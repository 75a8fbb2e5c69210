// Reference code for the k-quants (kquant.h): dequantization with ggml's float expressions
// in ggml's order (built with -ffp-contract=off, CMakeLists.txt, so no FMA fuses them and
// the results stay bit-identical to ggml's on every target), our quantizers, and the
// unpacked view the scalar dot reference uses for every block type.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/fp16.h"
#include "kernels/kquant.h"
#include "kernels/quant.h"

namespace edgevl {

namespace {

// Six-bit scale and min j (0..7) of a Q4_K/Q5_K block (ggml: get_scale_min_k4).
inline void scale_min_k4(int j, const uint8_t* s, int* sc, int* m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
    *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// The inverse of scale_min_k4 for 8 pairs of 6-bit values.
void pack_scale_min_k4(const int* sc, const int* m, uint8_t* s) {
  std::memset(s, 0, 12);
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      s[j] |= static_cast<uint8_t>(sc[j]);
      s[j + 4] |= static_cast<uint8_t>(m[j]);
    } else {
      s[j + 4] = static_cast<uint8_t>((sc[j] & 0x0f) | ((m[j] & 0x0f) << 4));
      s[j - 4] |= static_cast<uint8_t>((sc[j] >> 4) << 6);
      s[j] |= static_cast<uint8_t>((m[j] >> 4) << 6);
    }
  }
}

// Q3_K's 16 scales: 4 low bits from bytes 0..7 (low then high nibbles), 2 high bits from
// bytes 8..11; stored with an offset of 32.
inline int q3k_scale(const uint8_t* s, int i) {
  const int lo = i < 8 ? (s[i] & 0x0f) : (s[i - 8] >> 4);
  const int hi = (s[8 + (i % 4)] >> (2 * (i / 4))) & 3;
  return (lo | (hi << 4)) - 32;
}

// Q6_K value e (0..255) of a block, 0..63 (subtract 32 for the signed value).
inline int q6k_value(const BlockQ6_K& b, int e) {
  const int h = e / 128, i = (e % 128) / 32, l = e % 32;
  const uint8_t lo = b.ql[64 * h + (i & 1) * 32 + l];
  const int nib = i >= 2 ? (lo >> 4) : (lo & 0x0f);
  return nib | (((b.qh[32 * h + l] >> (2 * i)) & 3) << 4);
}

// Q2_K / Q3_K: value e's 2-bit field and the index of its 16-value group.
inline int k23_bits(const uint8_t* qs, int e) {
  const int h = e / 128, j = (e % 128) / 32, l = e % 32;
  return (qs[32 * h + l] >> (2 * j)) & 3;
}
inline int k23_group(int e) {
  const int h = e / 128, j = (e % 128) / 32, l = e % 32;
  return 8 * h + 2 * j + (l >= 16 ? 1 : 0);
}
// Q3_K: the hmask bit of value e (set = no -4 offset).
inline bool q3k_high(const BlockQ3_K& b, int e) {
  const int h = e / 128, j = (e % 128) / 32, l = e % 32;
  return (b.hmask[l] >> (4 * h + j)) & 1;
}

// Q4_K / Q5_K value e's low nibble (chunk c = e / 64 holds sub-blocks 2c, 2c + 1).
inline int k45_nibble(const uint8_t* qs, int e) {
  const int c = e / 64, l = e % 32;
  return (e % 64) < 32 ? (qs[32 * c + l] & 0x0f) : (qs[32 * c + l] >> 4);
}
inline int q5k_high(const uint8_t* qh, int e) { return ((qh[e % 32] >> (e / 32)) & 1) << 4; }

}  // namespace

// ---- dequantization (ggml's arithmetic, value by value) ------------------------------

void dequantize_q4_k(const void* in, float* out, int64_t n) {
  const BlockQ4_K* b = static_cast<const BlockQ4_K*>(in);
  for (int64_t i = 0; i < n / kQK_K; ++i, out += kQK_K) {
    const float d = f16_to_f32(b[i].d), dmin = f16_to_f32(b[i].dmin);
    for (int s = 0; s < 8; ++s) {
      int sc, m;
      scale_min_k4(s, b[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = dmin * m;
      for (int e = 32 * s; e < 32 * s + 32; ++e) out[e] = d1 * k45_nibble(b[i].qs, e) - m1;
    }
  }
}

void dequantize_q5_k(const void* in, float* out, int64_t n) {
  const BlockQ5_K* b = static_cast<const BlockQ5_K*>(in);
  for (int64_t i = 0; i < n / kQK_K; ++i, out += kQK_K) {
    const float d = f16_to_f32(b[i].d), dmin = f16_to_f32(b[i].dmin);
    for (int s = 0; s < 8; ++s) {
      int sc, m;
      scale_min_k4(s, b[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = dmin * m;
      for (int e = 32 * s; e < 32 * s + 32; ++e) out[e] = d1 * (k45_nibble(b[i].qs, e) + q5k_high(b[i].qh, e)) - m1;
    }
  }
}

void dequantize_q6_k(const void* in, float* out, int64_t n) {
  const BlockQ6_K* b = static_cast<const BlockQ6_K*>(in);
  for (int64_t i = 0; i < n / kQK_K; ++i, out += kQK_K) {
    const float d = f16_to_f32(b[i].d);
    for (int e = 0; e < kQK_K; ++e) out[e] = d * b[i].scales[e / 16] * (q6k_value(b[i], e) - 32);
  }
}

void dequantize_q2_k(const void* in, float* out, int64_t n) {
  const BlockQ2_K* b = static_cast<const BlockQ2_K*>(in);
  for (int64_t i = 0; i < n / kQK_K; ++i, out += kQK_K) {
    const float d = f16_to_f32(b[i].d), dmin = f16_to_f32(b[i].dmin);
    for (int e = 0; e < kQK_K; ++e) {
      const uint8_t sc = b[i].scales[k23_group(e)];
      const float dl = d * (sc & 0x0f), ml = dmin * (sc >> 4);
      out[e] = dl * k23_bits(b[i].qs, e) - ml;
    }
  }
}

void dequantize_q3_k(const void* in, float* out, int64_t n) {
  const BlockQ3_K* b = static_cast<const BlockQ3_K*>(in);
  for (int64_t i = 0; i < n / kQK_K; ++i, out += kQK_K) {
    const float d = f16_to_f32(b[i].d);
    for (int e = 0; e < kQK_K; ++e) {
      const float dl = d * q3k_scale(b[i].scales, k23_group(e));
      out[e] = dl * (k23_bits(b[i].qs, e) - (q3k_high(b[i], e) ? 0 : 4));
    }
  }
}

// ---- quantization (ours; see kquant.h) -----------------------------------------------

namespace {

inline int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

// Affine sub-blocks (Q4_K: qmax 15, Q5_K: qmax 31): integer values L[256], 6-bit scales
// and mins, f16 d and dmin.
void quantize_affine_k(const float* x, int qmax, uint8_t* L, uint8_t* scales12, uint16_t* d16, uint16_t* dmin16) {
  float scale[8], minv[8];  // x ≈ scale·q - minv, minv >= 0
  float max_scale = 0, max_min = 0;
  for (int s = 0; s < 8; ++s) {
    const float* v = x + 32 * s;
    float lo = 0, hi = v[0];  // the range always includes 0, so the min is never negative
    for (int j = 0; j < 32; ++j) {
      lo = std::min(lo, v[j]);
      hi = std::max(hi, v[j]);
    }
    scale[s] = (hi - lo) / qmax;
    minv[s] = -lo;
    max_scale = std::max(max_scale, scale[s]);
    max_min = std::max(max_min, minv[s]);
  }
  const float d = f16_to_f32(f32_to_f16(max_scale / 63.0f));
  const float dmin = f16_to_f32(f32_to_f16(max_min / 63.0f));
  int ls[8], lm[8];
  for (int s = 0; s < 8; ++s) {
    const float* v = x + 32 * s;
    lm[s] = dmin > 0 ? clampi(static_cast<int>(std::nearbyint(minv[s] / dmin)), 0, 63) : 0;
    const int guess = d > 0 ? clampi(static_cast<int>(std::nearbyint(scale[s] / d)), 0, 63) : 0;
    // Refinement: the integer scale (guess ± 1) whose rounded values fit the block best.
    const float m1 = dmin * lm[s];
    float best_err = INFINITY;
    ls[s] = guess;
    for (int cand = std::max(0, guess - 1); cand <= std::min(63, guess + 1); ++cand) {
      const float d1 = d * cand;
      const float id = d1 > 0 ? 1.0f / d1 : 0.0f;
      float err = 0;
      for (int j = 0; j < 32; ++j) {
        const int q = clampi(static_cast<int>(std::nearbyint((v[j] + m1) * id)), 0, qmax);
        const float e = d1 * q - m1 - v[j];
        err += e * e;
      }
      if (err < best_err) {
        best_err = err;
        ls[s] = cand;
      }
    }
    const float d1 = d * ls[s];
    const float id = d1 > 0 ? 1.0f / d1 : 0.0f;
    for (int j = 0; j < 32; ++j) L[32 * s + j] = static_cast<uint8_t>(clampi(static_cast<int>(std::nearbyint((v[j] + m1) * id)), 0, qmax));
  }
  pack_scale_min_k4(ls, lm, scales12);
  *d16 = f32_to_f16(d);
  *dmin16 = f32_to_f16(dmin);
}

// Nibbles of Q4_K/Q5_K in the chunked order (kquant.h).
void pack_k45_nibbles(const uint8_t* L, uint8_t* qs) {
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) qs[32 * c + l] = static_cast<uint8_t>((L[64 * c + l] & 0x0f) | ((L[64 * c + 32 + l] & 0x0f) << 4));
}

}  // namespace

void quantize_q4_k(const float* x, void* out, int64_t n) {
  BlockQ4_K* b = static_cast<BlockQ4_K*>(out);
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    quantize_affine_k(x + i * kQK_K, 15, L, b[i].scales, &b[i].d, &b[i].dmin);
    pack_k45_nibbles(L, b[i].qs);
  }
}

void quantize_q5_k(const float* x, void* out, int64_t n) {
  BlockQ5_K* b = static_cast<BlockQ5_K*>(out);
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    quantize_affine_k(x + i * kQK_K, 31, L, b[i].scales, &b[i].d, &b[i].dmin);
    pack_k45_nibbles(L, b[i].qs);
    std::memset(b[i].qh, 0, sizeof b[i].qh);
    for (int e = 0; e < kQK_K; ++e) b[i].qh[e % 32] |= static_cast<uint8_t>((L[e] >> 4) << (e / 32));
  }
}

void quantize_q6_k(const float* x, void* out, int64_t n) {
  BlockQ6_K* b = static_cast<BlockQ6_K*>(out);
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float* v = x + i * kQK_K;
    // Per 16 values: the value of largest magnitude (with its sign) maps to -32.
    float gscale[16], amax_scale = 0;
    for (int g = 0; g < 16; ++g) {
      float amax = 0, max = 0;
      for (int j = 0; j < 16; ++j)
        if (std::fabs(v[16 * g + j]) > amax) {
          amax = std::fabs(v[16 * g + j]);
          max = v[16 * g + j];
        }
      gscale[g] = max / -32.0f;
      amax_scale = std::max(amax_scale, std::fabs(gscale[g]));
    }
    const float d = f16_to_f32(f32_to_f16(amax_scale / 127.0f));
    b[i].d = f32_to_f16(d);
    std::memset(b[i].ql, 0, sizeof b[i].ql);
    std::memset(b[i].qh, 0, sizeof b[i].qh);
    for (int g = 0; g < 16; ++g) {
      const int sc = d > 0 ? clampi(static_cast<int>(std::nearbyint(gscale[g] / d)), -127, 127) : 0;
      b[i].scales[g] = static_cast<int8_t>(sc);
      const float dl = d * sc;
      const float id = dl != 0 ? 1.0f / dl : 0.0f;
      for (int j = 0; j < 16; ++j) {
        const int e = 16 * g + j;
        const int q = clampi(static_cast<int>(std::nearbyint(v[e] * id)), -32, 31) + 32;
        const int h = e / 128, k = (e % 128) / 32, l = e % 32;
        uint8_t& lo = b[i].ql[64 * h + (k & 1) * 32 + l];
        lo |= static_cast<uint8_t>(k >= 2 ? (q & 0x0f) << 4 : (q & 0x0f));
        b[i].qh[32 * h + l] |= static_cast<uint8_t>((q >> 4) << (2 * k));
      }
    }
  }
}

void quantize_blocks(DType t, const float* x, void* out, int64_t n) {
  switch (t) {
    case DType::Q8_0: return quantize_q8_0(x, out, n);
    case DType::Q4_0: return quantize_q4_0(x, out, n);
    case DType::Q4_1: return quantize_q4_1(x, out, n);
    case DType::Q5_0: return quantize_q5_0(x, out, n);
    case DType::Q5_1: return quantize_q5_1(x, out, n);
    case DType::Q4_K: return quantize_q4_k(x, out, n);
    case DType::Q5_K: return quantize_q5_k(x, out, n);
    case DType::Q6_K: return quantize_q6_k(x, out, n);
    default: fail(ErrorCode::kUnsupported, std::string("edgevl cannot quantize to ") + dtype_name(t));
  }
}

// ---- unpacked view for the scalar dot reference --------------------------------------

void unpack32(QKind k, const uint8_t* row, int64_t j, Unpacked32* u) {
  u->bias[0] = u->bias[1] = 0;
  switch (k) {
    case QKind::Q8_0: {
      const uint8_t* p = row + j * sizeof(BlockQ8_0);
      BlockQ8_0 b;
      std::memcpy(&b, p, sizeof b);
      u->scale[0] = u->scale[1] = f16_to_f32(b.d);
      std::memcpy(u->q, b.qs, 32);
      return;
    }
    case QKind::Q4_0: case QKind::Q4_1: {
      // Q4_1 shares Q4_0's nibble layout after its extra f16 min.
      const bool affine = k == QKind::Q4_1;
      const uint8_t* p = row + j * (affine ? sizeof(BlockQ4_1) : sizeof(BlockQ4_0));
      uint16_t d, m = 0;
      std::memcpy(&d, p, 2);
      if (affine) std::memcpy(&m, p + 2, 2);
      const uint8_t* qs = p + (affine ? 4 : 2);
      for (int l = 0; l < 16; ++l) {
        u->q[l] = static_cast<int8_t>((qs[l] & 0x0f) - (affine ? 0 : 8));
        u->q[l + 16] = static_cast<int8_t>((qs[l] >> 4) - (affine ? 0 : 8));
      }
      u->scale[0] = u->scale[1] = f16_to_f32(d);
      u->bias[0] = u->bias[1] = f16_to_f32(m);
      return;
    }
    case QKind::Q5_0: case QKind::Q5_1: {
      const bool affine = k == QKind::Q5_1;
      const uint8_t* p = row + j * (affine ? sizeof(BlockQ5_1) : sizeof(BlockQ5_0));
      uint16_t d, m = 0;
      uint32_t qh;
      std::memcpy(&d, p, 2);
      if (affine) std::memcpy(&m, p + 2, 2);
      const uint8_t* q = p + (affine ? 4 : 2);
      std::memcpy(&qh, q, 4);
      const uint8_t* qs = q + 4;
      for (int l = 0; l < 16; ++l) {
        u->q[l] = static_cast<int8_t>(((qs[l] & 0x0f) | (((qh >> l) & 1) << 4)) - (affine ? 0 : 16));
        u->q[l + 16] = static_cast<int8_t>(((qs[l] >> 4) | (((qh >> (l + 16)) & 1) << 4)) - (affine ? 0 : 16));
      }
      u->scale[0] = u->scale[1] = f16_to_f32(d);
      u->bias[0] = u->bias[1] = f16_to_f32(m);
      return;
    }
    case QKind::Q4_K: case QKind::Q5_K: {
      const bool five = k == QKind::Q5_K;
      const int64_t blk = j / 8;
      const int s = static_cast<int>(j % 8);
      const uint8_t* p = row + blk * (five ? sizeof(BlockQ5_K) : sizeof(BlockQ4_K));
      uint16_t d, dmin;
      std::memcpy(&d, p, 2);
      std::memcpy(&dmin, p + 2, 2);
      const uint8_t* scales = p + 4;
      const uint8_t* qh = p + 16;
      const uint8_t* qs = p + 16 + (five ? 32 : 0);
      int sc, m;
      scale_min_k4(s, scales, &sc, &m);
      for (int l = 0; l < 32; ++l) {
        const int e = 32 * s + l;
        u->q[l] = static_cast<int8_t>(k45_nibble(qs, e) + (five ? q5k_high(qh, e) : 0));
      }
      u->scale[0] = u->scale[1] = f16_to_f32(d) * sc;
      u->bias[0] = u->bias[1] = -(f16_to_f32(dmin) * m);
      return;
    }
    case QKind::Q6_K: {
      BlockQ6_K b;
      std::memcpy(&b, row + (j / 8) * sizeof(BlockQ6_K), sizeof b);
      const int s = static_cast<int>(j % 8);
      for (int l = 0; l < 32; ++l) u->q[l] = static_cast<int8_t>(q6k_value(b, 32 * s + l) - 32);
      const float d = f16_to_f32(b.d);
      u->scale[0] = d * b.scales[2 * s];
      u->scale[1] = d * b.scales[2 * s + 1];
      return;
    }
    case QKind::Q2_K: {
      BlockQ2_K b;
      std::memcpy(&b, row + (j / 8) * sizeof(BlockQ2_K), sizeof b);
      const int s = static_cast<int>(j % 8);
      const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
      for (int l = 0; l < 32; ++l) u->q[l] = static_cast<int8_t>(k23_bits(b.qs, 32 * s + l));
      for (int h = 0; h < 2; ++h) {
        const uint8_t sc = b.scales[2 * s + h];  // k23_group(32s + 16h) = 2s + h
        u->scale[h] = d * (sc & 0x0f);
        u->bias[h] = -(dmin * (sc >> 4));
      }
      return;
    }
    case QKind::Q3_K: {
      BlockQ3_K b;
      std::memcpy(&b, row + (j / 8) * sizeof(BlockQ3_K), sizeof b);
      const int s = static_cast<int>(j % 8);
      for (int l = 0; l < 32; ++l) {
        const int e = 32 * s + l;
        u->q[l] = static_cast<int8_t>(k23_bits(b.qs, e) - (q3k_high(b, e) ? 0 : 4));
      }
      const float d = f16_to_f32(b.d);
      for (int h = 0; h < 2; ++h) u->scale[h] = d * q3k_scale(b.scales, 2 * s + h);
      return;
    }
  }
}

}  // namespace edgevl
