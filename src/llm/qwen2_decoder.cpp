#include "llm/qwen2_decoder.h"

#include <cmath>
#include <cstring>

#include "core/error.h"
#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/rope.h"

namespace edgevl {

namespace {

WeightMatrix bind_matrix(const TensorSource& w, const std::string& name, int64_t rows, int64_t cols) {
  return matrix_of(w.get(name, {rows, cols}));
}

std::vector<float> bind_vector(const TensorSource& w, const std::string& name, int64_t n) {
  return tensor_to_f32(w.get(name, {n}));
}

}  // namespace

Qwen2Decoder::Qwen2Decoder(const TextConfig& cfg, const TensorSource& w)
    : cfg_(cfg), rope_(cfg.head_dim, cfg.rope_theta, cfg.mrope_section, cfg.mrope_interleaved) {
  const int64_t H = cfg.hidden_size, V = cfg.vocab_size, I = cfg.intermediate_size;
  const int64_t qd = int64_t(cfg.num_heads) * cfg.head_dim, kvd = int64_t(cfg.num_kv_heads) * cfg.head_dim;
  const std::string& pre = cfg.tensor_prefix;  // "model." or "model.language_model."
  embed_ = bind_matrix(w, pre + "embed_tokens.weight", V, H);
  if (w.has("lm_head.weight"))
    lm_head_ = bind_matrix(w, "lm_head.weight", V, H);
  else if (cfg.tie_word_embeddings)
    lm_head_ = embed_;
  else
    fail_format(w.description() + ": missing tensor 'lm_head.weight' (config says tie_word_embeddings = false)");
  final_norm_ = bind_vector(w, pre + "norm.weight", H);
  layers_.resize(cfg.num_layers);
  for (int l = 0; l < cfg.num_layers; ++l) {
    const std::string p = pre + "layers." + std::to_string(l) + ".";
    Layer& L = layers_[l];
    L.attn_norm = bind_vector(w, p + "input_layernorm.weight", H);
    L.ffn_norm = bind_vector(w, p + "post_attention_layernorm.weight", H);
    L.wq = bind_matrix(w, p + "self_attn.q_proj.weight", qd, H);
    L.wk = bind_matrix(w, p + "self_attn.k_proj.weight", kvd, H);
    L.wv = bind_matrix(w, p + "self_attn.v_proj.weight", kvd, H);
    if (cfg.attention_bias) {
      L.bq = bind_vector(w, p + "self_attn.q_proj.bias", qd);
      L.bk = bind_vector(w, p + "self_attn.k_proj.bias", kvd);
      L.bv = bind_vector(w, p + "self_attn.v_proj.bias", kvd);
    }
    if (cfg.qk_norm) {
      L.q_norm = bind_vector(w, p + "self_attn.q_norm.weight", cfg.head_dim);
      L.k_norm = bind_vector(w, p + "self_attn.k_norm.weight", cfg.head_dim);
    }
    L.wo = bind_matrix(w, p + "self_attn.o_proj.weight", H, qd);
    L.gate = bind_matrix(w, p + "mlp.gate_proj.weight", I, H);
    L.up = bind_matrix(w, p + "mlp.up_proj.weight", I, H);
    L.down = bind_matrix(w, p + "mlp.down_proj.weight", H, I);
  }
}

size_t Qwen2Decoder::weight_bytes_per_token() const {
  size_t b = lm_head_.total_bytes() + embed_.row_bytes;
  for (const auto& L : layers_)
    b += L.wq.total_bytes() + L.wk.total_bytes() + L.wv.total_bytes() + L.wo.total_bytes() + L.gate.total_bytes() +
         L.up.total_bytes() + L.down.total_bytes();
  return b;
}

void Qwen2Decoder::embed(const int32_t* ids, int64_t n, float* out) const {
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || ids[i] >= embed_.rows)
      fail(ErrorCode::kInvalidArgument, "token id " + std::to_string(ids[i]) + " is outside the vocabulary [0, " + std::to_string(embed_.rows) + ")");
    dequantize_row(embed_, ids[i], out + i * cfg_.hidden_size);
  }
}

void Qwen2Decoder::logits(const float* hidden, float* out, ThreadPool& pool) const {
  matmul(hidden, 1, lm_head_, nullptr, out, pool);
}

namespace {

const float* data_or_null(const std::vector<float>& v) { return v.empty() ? nullptr : v.data(); }

}  // namespace

void Qwen2Decoder::forward(const float* x, int64_t n, const KvCell* cells, KvCache& cache, ThreadPool& pool,
                           float* last_logits, float* hidden_out, const Cancel& cancel,
                           const std::vector<DeepStackRows>& deepstack) const {
  if (n <= 0) return;
  for (const DeepStackRows& d : deepstack) {
    if (!d.features || d.row < 0 || d.count < 0 || d.row + d.count > n || d.feature_row < 0 ||
        int64_t(d.features->size()) > cfg_.num_layers)
      fail(ErrorCode::kInternal, "decoder: DeepStack rows outside the forward or more features than layers");
    for (const auto& f : *d.features)
      if (int64_t(f.size()) < (d.feature_row + d.count) * cfg_.hidden_size)
        fail(ErrorCode::kInternal, "decoder: DeepStack feature has fewer rows than the image");
  }
  const int64_t start = cache.size();
  if (start + n > cache.capacity())
    fail(ErrorCode::kContextOverflow, "context overflow: " + std::to_string(start) + " cached + " + std::to_string(n) +
                                          " new tokens exceed the KV cache of " + std::to_string(cache.capacity()));
  const int H = cfg_.hidden_size, hd = cfg_.head_dim, I = cfg_.intermediate_size;
  const int nh = cfg_.num_heads, nkv = cfg_.num_kv_heads;
  const int qd = nh * hd, kvd = nkv * hd;

  std::vector<float> h(x, x + n * H), normed(n * H), q(n * qd), kn(n * kvd), vn(n * kvd), att(n * qd), tmp(n * H), g(n * I), u(n * I);
  // Rotary tables once per position, shared by all layers.
  std::vector<float> cos(n * hd), sin(n * hd);
  for (int64_t i = 0; i < n; ++i) rope_.table(cells[i].pos, cos.data() + i * hd, sin.data() + i * hd);

  for (int l = 0; l < cfg_.num_layers; ++l) {
    cancel.check("prefill");  // K/V rows written past cache.size() are not committed yet
    const Layer& L = layers_[l];
    rmsnorm(h.data(), L.attn_norm.data(), normed.data(), n, H, cfg_.rms_norm_eps);
    float* kc = kn.data();
    matmul_same_input(normed.data(), n,
                      {{&L.wq, data_or_null(L.bq), q.data()}, {&L.wk, data_or_null(L.bk), kc}, {&L.wv, data_or_null(L.bv), vn.data()}},
                      pool);
    pool.parallel_for(n, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        if (cfg_.qk_norm) {  // per head, before the rotary (in place: rmsnorm reads a row before writing it)
          rmsnorm(q.data() + i * qd, L.q_norm.data(), q.data() + i * qd, nh, hd, cfg_.rms_norm_eps);
          rmsnorm(kc + i * kvd, L.k_norm.data(), kc + i * kvd, nkv, hd, cfg_.rms_norm_eps);
        }
        rope_apply(q.data() + i * qd, nh, hd, cos.data() + i * hd, sin.data() + i * hd);
        rope_apply(kc + i * kvd, nkv, hd, cos.data() + i * hd, sin.data() + i * hd);
      }
    });
    cache.write(l, start, n, kn.data(), vn.data());  // rounded to the cache's type (f16 or f32)
    AttentionArgs a;
    a.q = q.data();
    a.k = cache.k(l);
    a.v = cache.v(l);
    a.kv_type = cache.dtype();
    a.out = att.data();
    a.q_stride = a.out_stride = qd;
    a.kv_stride = kvd;
    a.nq = n;
    a.nk = start + n;
    a.n_head = nh;
    a.n_kv_head = nkv;
    a.head_dim = hd;
    a.scale = 1.0f / std::sqrt(static_cast<float>(hd));
    a.causal_offset = start;
    a.cancel = &cancel;
    attention(a, pool);
    matmul(att.data(), n, L.wo, nullptr, tmp.data(), pool);
    add_inplace(h.data(), tmp.data(), n * H);

    rmsnorm(h.data(), L.ffn_norm.data(), normed.data(), n, H, cfg_.rms_norm_eps);
    matmul_same_input(normed.data(), n, {{&L.gate, nullptr, g.data()}, {&L.up, nullptr, u.data()}}, pool);
    swiglu_inplace(g.data(), u.data(), n * I);
    matmul(g.data(), n, L.down, nullptr, tmp.data(), pool);
    add_inplace(h.data(), tmp.data(), n * H);
    // DeepStack: the visual rows get feature k after layer k (before layer k+1 / the final norm).
    for (const DeepStackRows& d : deepstack)
      if (l < int(d.features->size()))
        add_inplace(h.data() + d.row * H, (*d.features)[l].data() + d.feature_row * H, d.count * H);
  }
  cache.commit(cells, n);

  if (hidden_out) {
    rmsnorm(h.data(), final_norm_.data(), hidden_out, n, H, cfg_.rms_norm_eps);
    if (last_logits) logits(hidden_out + (n - 1) * H, last_logits, pool);
  } else if (last_logits) {
    std::vector<float> last(H);
    rmsnorm(h.data() + (n - 1) * H, final_norm_.data(), last.data(), 1, H, cfg_.rms_norm_eps);
    logits(last.data(), last_logits, pool);
  }
}

}  // namespace edgevl
