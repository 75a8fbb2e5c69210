#include "runtime/bench.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>

#include "core/cpu_features.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "core/timer.h"
#include "kernels/fgemm.h"
#include "kernels/gemm_blas.h"
#include "kernels/membw.h"
#include "kernels/qdot.h"
#include "kernels/qgemm.h"
#include "llm/kv_cache.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "vision/window_index.h"

namespace edgevl {

namespace {

void say(const BenchParams& p, const std::string& s) {
  if (p.log) p.log(s);
}

// A deterministic image with structure (gradients) and noise, so preprocessing does real work.
ImageU8 synthetic_image(int size, uint64_t seed) {
  ImageU8 img;
  img.width = img.height = size;
  img.rgb.resize(size_t(size) * size * 3);
  std::mt19937_64 rng(seed);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x) {
      uint8_t* p = &img.rgb[(size_t(y) * size + x) * 3];
      const uint64_t r = rng();
      p[0] = uint8_t((x * 255 / std::max(1, size - 1) + (r & 31)) & 255);
      p[1] = uint8_t((y * 255 / std::max(1, size - 1) + ((r >> 8) & 31)) & 255);
      p[2] = uint8_t(((x + y) * 127 / std::max(1, size - 1) + ((r >> 16) & 63)) & 255);
    }
  return img;
}

std::vector<int32_t> random_ids(int64_t n, int32_t vocab, std::mt19937_64& rng) {
  // Ordinary text ids (below the special tokens when the vocabulary has them).
  const int32_t hi = std::min<int32_t>(vocab, 151643);
  std::uniform_int_distribution<int32_t> d(0, std::max(0, hi - 1));
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (auto& id : ids) id = d(rng);
  return ids;
}

std::vector<KvCell> text_cells(int64_t start, int64_t n) {
  std::vector<KvCell> c(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int32_t p = static_cast<int32_t>(start + i);
    c[i].pos = {p, p, p};
  }
  return c;
}

int64_t layer_matrix_params(const TextConfig& t) {
  const int64_t H = t.hidden_size, I = t.intermediate_size;
  const int64_t qd = int64_t(t.num_heads) * t.head_dim, kvd = int64_t(t.num_kv_heads) * t.head_dim;
  return H * qd + 2 * H * kvd + qd * H + 3 * H * I;
}

std::string fmt(const char* f, double a) {
  char b[64];
  std::snprintf(b, sizeof b, f, a);
  return b;
}

std::string params_str(int64_t n) { return n >= 1000000000 ? fmt("%.3f", n / 1e9) + " B" : fmt("%.2f", n / 1e6) + " M"; }

std::string pm(const BenchStat& s, const char* f) { return fmt(f, s.mean()) + " ± " + fmt(f, s.sd()); }

// Per-sample rate: k / (ms / 1000) for each sample.
BenchStat rate(const BenchStat& ms, double k) {
  BenchStat r;
  for (double m : ms.samples) r.samples.push_back(m > 0 ? k * 1000.0 / m : 0.0);
  return r;
}

nlohmann::json stat_json(const BenchStat& s) {
  return {{"mean", s.mean()}, {"sd", s.sd()}, {"samples", s.samples}};
}

}  // namespace

double BenchStat::mean() const {
  if (samples.empty()) return 0;
  double s = 0;
  for (double x : samples) s += x;
  return s / samples.size();
}

double BenchStat::sd() const {
  if (samples.size() < 2) return 0;
  const double m = mean();
  double s = 0;
  for (double x : samples) s += (x - m) * (x - m);
  return std::sqrt(s / (samples.size() - 1));
}

double BenchResult::decode_tokens_per_s() const { return rate(decode_ms, params.n_gen).mean(); }
double BenchResult::decode_effective_gbs() const { return double(decode_bytes_per_token) * decode_tokens_per_s() / 1e9; }

int64_t decoder_param_count(const TextConfig& t) {
  const int64_t H = t.hidden_size, V = t.vocab_size;
  const int64_t qd = int64_t(t.num_heads) * t.head_dim, kvd = int64_t(t.num_kv_heads) * t.head_dim;
  const int64_t per_layer = layer_matrix_params(t) + qd + 2 * kvd + 2 * H;  // + q/k/v biases, two norms
  return V * H * (t.tie_word_embeddings ? 1 : 2) + t.num_layers * per_layer + H;
}

int64_t vision_param_count(const VisionConfig& v) {
  const bool q25 = v.arch == VisionArch::Qwen25VL;
  const int64_t d = v.embed_dim, m = v.mlp_hidden, md = d * v.spatial_merge_size * v.spatial_merge_size;
  const int64_t norms = q25 ? 2 * d : 4 * d;  // RMSNorm weight, or LayerNorm weight + bias
  const int64_t mlp = q25 ? 3 * d * m + 2 * m + d : 2 * d * m + m + d;
  const int64_t block = 4 * d * d + 4 * d + mlp + norms;
  const int64_t patch = d * int64_t(v.in_channels) * v.temporal_patch_size * v.patch_size * v.patch_size;
  const int64_t merger = md * md + md + int64_t(v.out_hidden_size) * md + v.out_hidden_size;
  // Qwen3-VL: patch bias, learned positions, and a merger (with a LayerNorm over md) per DeepStack tap.
  const int64_t qwen3 = v.arch != VisionArch::Qwen3VL ? 0
                        : d + int64_t(v.num_position_embeddings) * d + int64_t(v.deepstack_visual_indexes.size()) * (merger + 2 * md);
  return patch + v.depth * block + norms / 2 + merger + qwen3;
}

double decoder_prefill_flops(const TextConfig& t, int64_t n, int64_t cached) {
  const double qd = double(t.num_heads) * t.head_dim;
  // Attention: each new position i attends to cached + i + 1 keys; QK^T and AV are qd MACs per key each.
  const double keys = double(n) * cached + double(n) * (n + 1) / 2.0;
  return 2.0 * n * t.num_layers * double(layer_matrix_params(t)) + t.num_layers * 4.0 * qd * keys +
         2.0 * double(t.vocab_size) * t.hidden_size;
}

double vision_encode_flops(const VisionConfig& v, int gh, int gw) {
  const bool q25 = v.arch == VisionArch::Qwen25VL;
  const double n = double(gh) * gw, d = v.embed_dim, m = v.mlp_hidden;
  const double md = d * v.spatial_merge_size * v.spatial_merge_size;
  const double patch_dim = double(v.in_channels) * v.temporal_patch_size * v.patch_size * v.patch_size;
  double f = 2.0 * n * d * patch_dim;                                    // patch embedding
  const double block_mm = 2.0 * n * (4 * d * d + (q25 ? 3 : 2) * d * m);  // qkv, proj, MLP (Qwen2/3: fc1, fc2)
  // Attention segments: the whole frame, or Qwen2.5-VL's windows.
  double full_sq = n * n, win_sq = full_sq;
  if (q25 && v.window_size > 0) {
    const VisionWindows w = vision_window_index(v, 1, gh, gw);
    win_sq = 0;
    for (size_t i = 0; i + 1 < w.cu_seqlens.size(); ++i) {
      const double l = double(w.cu_seqlens[i + 1] - w.cu_seqlens[i]);
      win_sq += l * l;
    }
  }
  for (int b = 0; b < v.depth; ++b) {
    const bool full = !q25 || v.window_size <= 0 ||
                      std::find(v.fullatt_block_indexes.begin(), v.fullatt_block_indexes.end(), b) != v.fullatt_block_indexes.end();
    f += block_mm + 4.0 * d * (full ? full_sq : win_sq);
  }
  const double merged = n / (v.spatial_merge_size * v.spatial_merge_size);
  f += (1.0 + double(v.deepstack_visual_indexes.size())) * 2.0 * merged * (md * md + md * v.out_hidden_size);  // merger (+ DeepStack) MLPs
  return f;
}

BenchResult run_bench(const BenchParams& p) {
  if (p.reps < 1 || p.reps > 1000) fail(ErrorCode::kInvalidArgument, "bench: repetitions must be between 1 and 1000");
  if (p.n_prompt < 0 || p.n_gen < 0 || p.decode_context < 1 || p.n_prompt > (1 << 20) || p.n_gen > (1 << 20))
    fail(ErrorCode::kInvalidArgument, "bench: token counts must be non-negative (and the decode context at least 1)");
  if (p.image_size < -1 || p.image_size > 4096)
    fail(ErrorCode::kInvalidArgument, "bench: image size must be -1 (the model's on-device size), 0 or up to 4096 (got " +
                                          std::to_string(p.image_size) + ")");
  if (p.n_threads < 0 || p.n_threads > 1024) fail(ErrorCode::kInvalidArgument, "bench: threads must be between 0 and 1024");

  BenchResult r;
  r.params = p;
  r.threads = p.n_threads > 0 ? p.n_threads : default_thread_count();
  r.cpu_features = cpu_features().describe();
  r.kernels = std::string("dot ") + qdot_table_best().name + ", gemm " + (qgemm_table_best() ? qgemm_table_best()->name : "none") +
              ", fgemm " + (fgemm_kernels_best() ? fgemm_kernels_best()->name : "none") + ", sgemm " + blas_name();

  say(p, "loading " + p.model + (p.mmproj.empty() ? "" : " + " + p.mmproj));
  ModelLoadParams lp;
  lp.path = p.model;
  lp.mmproj_path = p.mmproj;
  std::shared_ptr<Model> model = Model::load(lp);
  r.load_ms = model->load_ms();
  r.config = model->config();
  const TextConfig& tc = r.config.text;
  const Qwen2Decoder& dec = model->decoder();
  r.text_params = decoder_param_count(tc);
  r.decode_bytes_per_token = dec.weight_bytes_per_token();
  r.decode_params_per_token = tc.num_layers * layer_matrix_params(tc) + int64_t(tc.vocab_size) * tc.hidden_size + tc.hidden_size;
  r.has_vision = r.config.vision.depth > 0 && r.config.vision.embed_dim > 0;
  if (r.has_vision) r.vision_params = vision_param_count(r.config.vision);

  ThreadPool pool(r.threads);
  std::mt19937_64 rng(p.seed);
  const int32_t vocab = dec.vocab_size();
  const int H = dec.hidden_size();
  const int factor = r.config.vision.patch_size * r.config.vision.spatial_merge_size;  // 28, or 32 for Qwen3-VL
  const int image_size = p.image_size < 0 ? 14 * factor : p.image_size;
  if (r.has_vision && image_size % factor != 0)
    fail(ErrorCode::kInvalidArgument, "bench: image size " + std::to_string(image_size) + " is not a multiple of " + std::to_string(factor) +
                                          " (patch size x merge size of this model)");
  const bool images = r.has_vision && image_size > 0;
  const ImageU8 img = images ? synthetic_image(image_size, p.seed) : ImageU8{};
  PreprocessConfig pre = model->preprocess_config();
  pre.fixed_size = image_size;

  if (p.warmup) {
    // Touch every weight once (first use of a mapped file pages it in).
    say(p, "warm-up");
    KvCache c = dec.make_cache(1);
    std::vector<float> x(H), logits(vocab);
    const auto ids = random_ids(1, vocab, rng);
    const auto cells = text_cells(0, 1);
    dec.embed(ids.data(), 1, x.data());
    dec.forward(x.data(), 1, cells.data(), c, pool, logits.data());
    if (images) {
      PreprocessConfig small = pre;
      small.fixed_size = 2 * factor;
      model->encode_image(synthetic_image(2 * factor, p.seed + 1), small, pool);
    }
  }

  if (images) {
    say(p, "image encode " + std::to_string(image_size) + "x" + std::to_string(image_size));
    r.image_run = true;
    r.image_size = image_size;
    for (int i = 0; i < p.reps; ++i) {
      const ImageEmbedding e = model->encode_image(img, pre, pool);
      r.image_ms.samples.push_back(e.encode_ms);
      r.image_preprocess_ms.samples.push_back(e.preprocess_ms);
      r.image_patches = e.grid_t * e.grid_h * e.grid_w;
      r.image_tokens = static_cast<int>(e.n_tokens);
      r.image_gflop = vision_encode_flops(r.config.vision, e.grid_h, e.grid_w) * e.grid_t / 1e9;
    }
  }

  if (p.n_prompt > 0) {
    say(p, "prefill pp" + std::to_string(p.n_prompt));
    r.prefill_run = true;
    r.prefill_gflop = decoder_prefill_flops(tc, p.n_prompt, 0) / 1e9;
    KvCache c = dec.make_cache(p.n_prompt, p.kv_type);
    std::vector<float> x(size_t(p.n_prompt) * H), logits(vocab);
    const auto cells = text_cells(0, p.n_prompt);
    for (int i = 0; i < p.reps; ++i) {
      const auto ids = random_ids(p.n_prompt, vocab, rng);
      c.clear();
      const double t0 = now_ms();
      dec.embed(ids.data(), p.n_prompt, x.data());
      dec.forward(x.data(), p.n_prompt, cells.data(), c, pool, logits.data());
      r.prefill_ms.samples.push_back(now_ms() - t0);
    }
  }

  if (p.n_gen > 0) {
    say(p, "decode tg" + std::to_string(p.n_gen));
    r.decode_run = true;
    const int64_t ctx = p.decode_context;
    // Step k (0-based) runs one token after ctx + k cached ones.
    for (int k = 0; k < p.n_gen; ++k) r.decode_gflop += decoder_prefill_flops(tc, 1, ctx + k) / 1e9;
    KvCache c = dec.make_cache(ctx + p.n_gen, p.kv_type);
    std::vector<float> x(size_t(ctx) * H), logits(vocab);
    const auto cells = text_cells(0, ctx + p.n_gen);
    for (int i = 0; i < p.reps; ++i) {
      c.clear();
      const auto ids = random_ids(ctx, vocab, rng);
      dec.embed(ids.data(), ctx, x.data());
      dec.forward(x.data(), ctx, cells.data(), c, pool, logits.data());
      const double t0 = now_ms();
      for (int k = 0; k < p.n_gen; ++k) {
        const int32_t tok = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
        dec.embed(&tok, 1, x.data());
        dec.forward(x.data(), 1, &cells[ctx + k], c, pool, logits.data());
      }
      r.decode_ms.samples.push_back(now_ms() - t0);
    }
  }

  if (images && p.ttft) {
    say(p, "time to first token, image question");
    r.ttft_run = true;
    auto image = std::make_shared<const ImageU8>(img);
    for (int i = 0; i < p.reps; ++i) {
      SessionParams sp;
      sp.n_threads = r.threads;
      sp.kv_type = p.kv_type;
      sp.fixed_size = image_size;
      {  // the size asked for, not the default budget
        const int64_t f = model->config().vision.patch_size * model->config().vision.spatial_merge_size;
        sp.max_image_tokens = (image_size / f) * (image_size / f);
      }
      sp.max_context = std::max<int64_t>(256, int64_t(r.image_tokens) + 256);
      sp.generation.max_new_tokens = 1;
      sp.generation.ignore_eos = true;
      Session s(model, sp);  // a fresh session: nothing cached, the image is encoded again
      Message m;
      m.role = "user";
      ContentPart ip;
      ip.kind = ContentPart::Kind::Image;
      ip.image = image;
      ContentPart tp;
      tp.text = "Describe this image.";
      m.parts = {ip, tp};
      const TurnResult t = s.chat(m);
      r.ttft_ms.samples.push_back(t.stats.ttft_ms);
      r.ttft_prompt_tokens = t.stats.prompt_tokens;
      r.ttft_image_tokens = t.stats.image_tokens;
    }
  }

  r.peak_rss_bytes = peak_rss_bytes();  // before the bandwidth probe's buffer
  if (p.bandwidth_bytes > 0) {
    say(p, "memory read bandwidth");
    r.bandwidth_gbs = measure_read_bandwidth_gbs(pool, p.bandwidth_bytes);
  }
  return r;
}

std::string bench_markdown(const BenchResult& r) {
  const BenchParams& p = r.params;
  const TextConfig& t = r.config.text;
  std::string s;
  s += "model: " + p.model + (p.mmproj.empty() ? "" : " + " + p.mmproj) + "\n";
  s += "text: " + params_str(r.text_params) + " params, " + std::to_string(t.num_layers) + " layers, hidden " +
       std::to_string(t.hidden_size) + ", " + fmt("%.2f", r.decode_params_per_token ? 8.0 * r.decode_bytes_per_token / r.decode_params_per_token : 0) +
       " bits/weight, " + fmt("%.3f", r.decode_bytes_per_token / 1e9) + " GB read per decoded token";
  if (r.has_vision)
    s += " | vision: " + params_str(r.vision_params) + " params, " + std::to_string(r.config.vision.depth) + " blocks";
  s += "\n";
  s += "cpu: " + r.cpu_features + " | kernels: " + r.kernels + " | threads: " + std::to_string(r.threads) + " | KV cache: " + kv_type_name(r.params.kv_type) + " | load: " + fmt("%.0f", r.load_ms) + " ms | peak RSS: " +
       fmt("%.1f", r.peak_rss_bytes / 1048576.0) + " MiB | read bandwidth: " +
       (r.bandwidth_gbs > 0 ? fmt("%.2f", r.bandwidth_gbs) + " GB/s" : std::string("not measured")) + "\n\n";
  s += "| test | tokens | reps | ms | t/s | GFLOP/s | notes |\n";
  s += "| :--- | ---: | ---: | ---: | ---: | ---: | :--- |\n";
  const std::string reps = std::to_string(p.reps);
  if (r.image_run) {
    const std::string sz = std::to_string(r.image_size);
    s += "| image encode " + sz + "x" + sz + " | " + std::to_string(r.image_tokens) + " | " + reps + " | " + pm(r.image_ms, "%.1f") + " | | " +
         pm(rate(r.image_ms, r.image_gflop), "%.1f") + " | vision tower, " + std::to_string(r.image_patches) + " patches, " +
         fmt("%.1f", r.image_gflop) + " GFLOP; preprocess " + pm(r.image_preprocess_ms, "%.2f") + " ms |\n";
  }
  if (r.prefill_run)
    s += "| prefill pp" + std::to_string(p.n_prompt) + " | " + std::to_string(p.n_prompt) + " | " + reps + " | " + pm(r.prefill_ms, "%.1f") +
         " | " + pm(rate(r.prefill_ms, p.n_prompt), "%.2f") + " | " + pm(rate(r.prefill_ms, r.prefill_gflop), "%.1f") + " | " +
         fmt("%.1f", r.prefill_gflop) + " GFLOP, fresh KV cache |\n";
  if (r.decode_run) {
    std::string bw = fmt("%.2f", r.decode_effective_gbs()) + " GB/s effective";
    if (r.bandwidth_gbs > 0) bw += " = " + fmt("%.1f", 100.0 * r.decode_effective_gbs() / r.bandwidth_gbs) + "% of " + fmt("%.2f", r.bandwidth_gbs) + " GB/s";
    s += "| decode tg" + std::to_string(p.n_gen) + " | " + std::to_string(p.n_gen) + " | " + reps + " | " + pm(r.decode_ms, "%.1f") + " | " +
         pm(rate(r.decode_ms, p.n_gen), "%.2f") + " | " + pm(rate(r.decode_ms, r.decode_gflop), "%.1f") + " | " + bw + "; after " +
         std::to_string(p.decode_context) + " cached tokens |\n";
  }
  if (r.ttft_run) {
    const std::string sz = std::to_string(r.image_size);
    s += "| ttft image " + sz + "x" + sz + " | " + std::to_string(r.ttft_prompt_tokens) + " | " + reps + " | " + pm(r.ttft_ms, "%.1f") +
         " | | | fresh session: encode + prefill of the first turn (" + std::to_string(r.ttft_image_tokens) +
         " image tokens) + first token |\n";
  }
  return s;
}

nlohmann::json bench_json(const BenchResult& r) {
  const BenchParams& p = r.params;
  const TextConfig& t = r.config.text;
  nlohmann::json j;
  j["model"] = p.model;
  j["mmproj"] = p.mmproj;
  j["cpu_features"] = r.cpu_features;
  j["kernels"] = r.kernels;
  j["threads"] = r.threads;
  j["kv_type"] = kv_type_name(r.params.kv_type);
  j["reps"] = p.reps;
  j["load_ms"] = r.load_ms;
  j["text"] = {{"params", r.text_params},
               {"layers", t.num_layers},
               {"hidden_size", t.hidden_size},
               {"vocab_size", t.vocab_size},
               {"decode_bytes_per_token", r.decode_bytes_per_token},
               {"decode_params_per_token", r.decode_params_per_token},
               {"bits_per_weight", r.decode_params_per_token ? 8.0 * r.decode_bytes_per_token / r.decode_params_per_token : 0.0}};
  j["vision"] = r.has_vision ? nlohmann::json{{"params", r.vision_params}, {"depth", r.config.vision.depth}, {"embed_dim", r.config.vision.embed_dim}}
                             : nlohmann::json(nullptr);
  if (r.image_run)
    j["image_encode"] = {{"image_size", r.image_size},      {"patches", r.image_patches},
                         {"tokens", r.image_tokens},        {"gflop", r.image_gflop},
                         {"ms", stat_json(r.image_ms)},     {"preprocess_ms", stat_json(r.image_preprocess_ms)},
                         {"gflops", stat_json(rate(r.image_ms, r.image_gflop))}};
  if (r.prefill_run)
    j["prefill"] = {{"tokens", p.n_prompt},
                    {"gflop", r.prefill_gflop},
                    {"ms", stat_json(r.prefill_ms)},
                    {"tokens_per_s", stat_json(rate(r.prefill_ms, p.n_prompt))},
                    {"gflops", stat_json(rate(r.prefill_ms, r.prefill_gflop))}};
  if (r.decode_run) {
    j["decode"] = {{"tokens", p.n_gen},
                   {"context", p.decode_context},
                   {"gflop", r.decode_gflop},
                   {"ms", stat_json(r.decode_ms)},
                   {"tokens_per_s", stat_json(rate(r.decode_ms, p.n_gen))},
                   {"gflops", stat_json(rate(r.decode_ms, r.decode_gflop))},
                   {"effective_bandwidth_gbs", r.decode_effective_gbs()},
                   {"bandwidth_fraction", r.bandwidth_gbs > 0 ? nlohmann::json(r.decode_effective_gbs() / r.bandwidth_gbs) : nlohmann::json(nullptr)}};
  }
  if (r.ttft_run)
    j["ttft"] = {{"image_size", r.image_size},
                 {"prompt_tokens", r.ttft_prompt_tokens},
                 {"image_tokens", r.ttft_image_tokens},
                 {"ms", stat_json(r.ttft_ms)}};
  j["peak_rss_bytes"] = r.peak_rss_bytes;
  j["memory_bandwidth_gbs"] = r.bandwidth_gbs > 0 ? nlohmann::json(r.bandwidth_gbs) : nlohmann::json(nullptr);
  return j;
}

}  // namespace edgevl
