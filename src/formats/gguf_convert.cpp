#include "formats/gguf_convert.h"

#include <sys/stat.h>

#include <cstring>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fp16.h"
#include "core/mmap_file.h"
#include "formats/chat_template_source.h"
#include "formats/gguf.h"
#include "formats/gguf_names.h"
#include "formats/model_config.h"
#include "formats/safetensors.h"
#include "kernels/matmul.h"
#include "kernels/kquant.h"
#include "kernels/quant.h"

namespace edgevl {

using json = nlohmann::json;

namespace {

bool exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

// One tensor to write: its GGUF name, type and shape, and a producer of each source row in f32
// (or, when keeping source types, of raw source bytes).
struct Job {
  std::string name;
  DType type;
  std::vector<int64_t> shape;  // PyTorch order
  const TensorRef* src = nullptr;
  int64_t row0 = 0;            // first source row (qkv split)
  int temporal = -1;           // patch kernel half (0/1), -1 = none
};

int64_t row_len(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (size_t i = 1; i < shape.size(); ++i) n *= shape[i];
  return shape.size() == 1 ? shape[0] : n;
}
int64_t n_rows(const std::vector<int64_t>& shape) { return shape.size() == 1 ? 1 : shape[0]; }

DType pick_type(const TensorRef& src, const std::vector<int64_t>& shape, DType wanted, bool keep) {
  if (keep) return src.dtype;
  if (shape.size() == 1) return DType::F32;
  if (dtype_block_size(wanted) > 1 && row_len(shape) % dtype_block_size(wanted) != 0) return DType::F16;
  return wanted;
}

// Element e of the source tensor as f32.
float src_elem(const TensorRef& t, int64_t e) {
  uint16_t h;
  switch (t.dtype) {
    case DType::F32: {
      float f;
      std::memcpy(&f, t.data + 4 * e, 4);
      return f;
    }
    case DType::F16: std::memcpy(&h, t.data + 2 * e, 2); return f16_to_f32(h);
    case DType::BF16: std::memcpy(&h, t.data + 2 * e, 2); return bf16_to_f32(h);
    default: fail(ErrorCode::kUnsupported, t.file + ": tensor '" + t.name + "' of type " + dtype_name(t.dtype) + " cannot be converted");
  }
}

// Source element index of output element (r, c) of a job.
int64_t src_index(const Job& j, int64_t r, int64_t c) {
  if (j.shape.size() == 1) return j.row0 + c;  // 1-D (a bias slice): row0 counts elements
  if (j.temporal < 0) return (j.row0 + r) * row_len(j.shape) + c;
  // Patch half: output [out, ci, kh, kw] from source [out, ci, 2, kh, kw].
  const int64_t plane = j.shape[2] * j.shape[3];
  const int64_t ci = c / plane, p = c % plane;
  return ((r * j.shape[1] + ci) * 2 + j.temporal) * plane + p;
}

std::vector<uint8_t> encode(const Job& j, bool keep) {
  const int64_t rows = n_rows(j.shape), cols = row_len(j.shape);
  const size_t rb = dtype_row_bytes(j.type, cols);
  std::vector<uint8_t> out(rb * static_cast<size_t>(rows));
  std::vector<float> row(static_cast<size_t>(cols));
  const size_t es = dtype_block_bytes(j.src->dtype);
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* dst = out.data() + r * rb;
    if (keep) {
      if (j.temporal < 0) {
        std::memcpy(dst, j.src->data + src_index(j, r, 0) * es, rb);
      } else {
        for (int64_t c = 0; c < cols; ++c) std::memcpy(dst + c * es, j.src->data + src_index(j, r, c) * es, es);
      }
      continue;
    }
    for (int64_t c = 0; c < cols; ++c) row[c] = src_elem(*j.src, src_index(j, r, c));
    switch (j.type) {
      case DType::F32: std::memcpy(dst, row.data(), rb); break;
      case DType::F16:
        for (int64_t c = 0; c < cols; ++c) {
          const uint16_t h = f32_to_f16(row[c]);
          std::memcpy(dst + 2 * c, &h, 2);
        }
        break;
      case DType::BF16:
        for (int64_t c = 0; c < cols; ++c) {
          const uint16_t h = f32_to_bf16(row[c]);
          std::memcpy(dst + 2 * c, &h, 2);
        }
        break;
      default: quantize_blocks(j.type, row.data(), dst, cols); break;
    }
  }
  return out;
}

// The type holding most matrix elements: what general.file_type reports.
DType dominant_type(const std::vector<Job>& jobs) {
  std::map<DType, int64_t> elems;
  for (const auto& j : jobs)
    if (j.shape.size() >= 2) elems[j.type] += n_rows(j.shape) * row_len(j.shape);
  DType best = DType::F32;
  int64_t most = -1;
  for (const auto& [t, n] : elems)
    if (n > most) best = t, most = n;
  return best;
}

void write_jobs(GgufWriter& w, const std::vector<Job>& jobs, bool keep) {
  for (const auto& j : jobs) w.add_tensor(j.name, j.type, j.shape);
  for (const auto& j : jobs) {
    const auto bytes = encode(j, keep);
    w.write_tensor_data(j.name, bytes.data(), bytes.size());
  }
}

// llama.cpp token types (gguf-py TokenType).
constexpr int32_t kTokNormal = 1, kTokControl = 3, kTokUserDefined = 4, kTokUnused = 5;

}  // namespace

void write_gguf_tokenizer(GgufWriter& w, const std::string& dir, const ModelConfig& c) {
  using namespace gguf_key;
  const std::string tj_path = dir + "/tokenizer.json";
  if (!exists(tj_path)) return;  // a text file without tokenizer is still usable with an external one
  json tj;
  try {
    tj = json::parse(read_text_file(tj_path));
  } catch (const json::exception& e) {
    fail_format(tj_path + ": invalid JSON: " + e.what());
  }
  if (!tj.contains("model") || !tj["model"].is_object() || !tj["model"].contains("vocab") || !tj["model"]["vocab"].is_object())
    fail_format(tj_path + ": missing model.vocab");
  const int64_t n = c.text.vocab_size;
  std::vector<std::string> tokens(static_cast<size_t>(n));
  std::vector<int32_t> types(static_cast<size_t>(n), kTokUnused);
  std::vector<bool> set(static_cast<size_t>(n), false);
  auto put = [&](int64_t id, const std::string& s, int32_t type) {
    if (id < 0 || id >= n) fail_format(tj_path + ": token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(n));
    tokens[id] = s;
    types[id] = type;
    set[id] = true;
  };
  for (auto it = tj["model"]["vocab"].begin(); it != tj["model"]["vocab"].end(); ++it) {
    if (!it.value().is_number_integer()) fail_format(tj_path + ": vocab entry '" + it.key() + "' is not an integer id");
    put(it.value().get<int64_t>(), it.key(), kTokNormal);
  }
  if (tj.contains("added_tokens") && tj["added_tokens"].is_array())
    for (const auto& a : tj["added_tokens"]) {
      if (!a.contains("id") || !a.contains("content")) fail_format(tj_path + ": malformed added_tokens entry");
      put(a["id"].get<int64_t>(), a["content"].get<std::string>(), a.value("special", false) ? kTokControl : kTokUserDefined);
    }
  for (int64_t i = 0; i < n; ++i)
    if (!set[i]) tokens[i] = "[PAD" + std::to_string(i) + "]";  // llama.cpp's filler for unused ids
  std::vector<std::string> merges;
  if (tj["model"].contains("merges") && tj["model"]["merges"].is_array())
    for (const auto& m : tj["model"]["merges"]) {
      if (m.is_string())
        merges.push_back(m.get<std::string>());
      else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string())
        merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
      else
        fail_format(tj_path + ": malformed merge entry");
    }
  auto id_of = [&](const std::string& s) -> int64_t {
    for (int64_t i = n - 1; i >= 0; --i)
      if (tokens[i] == s) return i;
    return -1;
  };
  w.set(kTokModel, GgufValue::string("gpt2"));
  w.set(kTokPre, GgufValue::string("qwen2"));
  w.set(kTokTokens, GgufValue::string_array(tokens));  // a copy: id_of() below still reads tokens
  w.set(kTokTypes, GgufValue::array(types));
  w.set(kTokMerges, GgufValue::string_array(std::move(merges)));

  json tc;
  const std::string tc_path = dir + "/tokenizer_config.json";
  if (exists(tc_path)) {
    try {
      tc = json::parse(read_text_file(tc_path));
    } catch (const json::exception& e) {
      fail_format(tc_path + ": invalid JSON: " + e.what());
    }
  }
  auto special = [&](const char* key) -> int64_t {
    if (!tc.is_object() || !tc.contains(key)) return -1;
    const json& v = tc[key];
    if (v.is_string()) return id_of(v.get<std::string>());
    if (v.is_object() && v.contains("content") && v["content"].is_string()) return id_of(v["content"].get<std::string>());
    return -1;
  };
  int64_t eos = special("eos_token");
  if (eos < 0 && !c.eos_token_ids.empty()) eos = c.eos_token_ids[0];
  int64_t bos = special("bos_token");
  if (bos < 0) bos = c.bos_token_id;
  const int64_t pad = special("pad_token");
  if (eos >= 0) w.set(kTokEos, GgufValue::u32(static_cast<uint32_t>(eos)));
  if (bos >= 0) w.set(kTokBos, GgufValue::u32(static_cast<uint32_t>(bos)));
  if (pad >= 0) w.set(kTokPad, GgufValue::u32(static_cast<uint32_t>(pad)));
  w.set(kTokAddBos, GgufValue::boolean(false));
  const std::string tmpl = read_hf_chat_template(dir);  // the one Model::load reads from the directory
  if (!tmpl.empty()) w.set(kChatTemplate, GgufValue::string(tmpl));
}

std::array<float, 3> read_hf_image_norm(const std::string& dir, const char* key, std::array<float, 3> def) {
  const std::string p = dir + "/preprocessor_config.json";
  if (!exists(p)) return def;
  json j;
  try {
    j = json::parse(read_text_file(p));
  } catch (const json::exception& e) {
    fail_format(p + ": invalid JSON: " + e.what());
  }
  if (!j.contains(key)) return def;
  const json& v = j[key];
  if (!v.is_array() || v.size() != 3) fail_format(p + ": '" + key + "' must be a list of 3 numbers");
  for (int i = 0; i < 3; ++i) def[i] = v[i].get<float>();
  return def;
}



void convert_hf_to_gguf(const std::string& dir, const std::string& text_out, const std::string& mmproj_out, const GgufConvertOptions& opt) {
  const ModelConfig cfg = ModelConfig::load(dir);
  const SafetensorsModel src(dir);
  std::string name = opt.name;
  if (name.empty()) {
    std::string d = dir;
    while (d.size() > 1 && d.back() == '/') d.pop_back();
    name = d.substr(d.find_last_of('/') + 1);
  }

  std::vector<Job> text_jobs, vision_jobs;
  for (const auto& hf : src.names()) {
    const TensorRef& t = src.get(hf);
    if (std::string g = gguf_text_name(hf); !g.empty()) {
      const bool embed = g == "token_embd.weight" || g == "output.weight";
      const DType want = embed && opt.embed_type ? *opt.embed_type : opt.text_type;
      text_jobs.push_back({g, pick_type(t, t.shape, want, opt.keep_source_types), t.shape, &t, 0, -1});
      continue;
    }
    if (mmproj_out.empty()) continue;
    // llama.cpp splits Qwen2/2.5-VL's fused qkv into attn_q/k/v but keeps Qwen3-VL's fused.
    const bool split_qkv = hf.find(".attn.qkv.") != std::string::npos && cfg.vision.arch != VisionArch::Qwen3VL;
    if (std::string g = gguf_vision_name(hf, cfg.vision.deepstack_visual_indexes); !g.empty() && !split_qkv) {
      if (opt.legacy_clip_ffn_names && cfg.vision.arch == VisionArch::Qwen2VL) g = swap_ffn_name(g);
      // llama.cpp keeps learned position tables f32 (conversion/base.py, V_ENC_EMBD_POS).
      const DType want = g == "v.position_embd.weight" ? DType::F32 : opt.vision_type;
      vision_jobs.push_back({g, pick_type(t, t.shape, want, opt.keep_source_types), t.shape, &t, 0, -1});
    } else if (split_qkv) {
      // Split into q, k, v as llama.cpp does.
      if (t.shape[0] % 3) fail_format(dir + ": tensor '" + hf + "' rows are not a multiple of 3");
      const int64_t c3 = t.shape[0] / 3;
      std::vector<int64_t> shape = t.shape;
      shape[0] = c3;
      const std::string base = "v.blk." + hf.substr(std::string("visual.blocks.").size(), hf.find(".attn") - std::string("visual.blocks.").size());
      const std::string tail = hf.substr(hf.rfind('.'));
      const char* parts[3] = {"q", "k", "v"};
      for (int p = 0; p < 3; ++p)
        vision_jobs.push_back({base + ".attn_" + parts[p] + tail, pick_type(t, shape, opt.vision_type, opt.keep_source_types), shape, &t,
                               p * c3, -1});
    } else if (hf == "visual.patch_embed.proj.weight" || hf == "model.visual.patch_embed.proj.weight") {
      if (t.shape.size() != 5 || t.shape[2] != 2)
        fail(ErrorCode::kUnsupported, dir + ": patch kernel " + t.shape_str() + " is not [out, c, 2, kh, kw] (llama.cpp splits exactly 2 frames)");
      const std::vector<int64_t> half = {t.shape[0], t.shape[1], t.shape[3], t.shape[4]};
      const DType pt = opt.keep_source_types ? t.dtype : (dtype_is_float(opt.vision_type) ? opt.vision_type : DType::F16);
      vision_jobs.push_back({"v.patch_embd.weight", pt, half, &t, 0, 0});
      vision_jobs.push_back({"v.patch_embd.weight.1", pt, half, &t, 0, 1});
    }
  }
  if (text_jobs.empty()) fail_format(dir + ": no text-model tensors found");
  if (opt.text_mix != KQuantMix::None && !opt.keep_source_types) {
    bool tied = true;  // llama-quantize: token_embd takes output's type when there is no output.weight
    for (const auto& j : text_jobs) tied &= j.name != "output.weight";
    for (auto& j : text_jobs) {
      const bool embed = j.name == "token_embd.weight" || j.name == "output.weight";
      if (j.shape.size() < 2 || (embed && opt.embed_type)) continue;
      j.type = kquant_mix_tensor_type(opt.text_mix, j.name, row_len(j.shape), static_cast<int>(cfg.text.num_layers), tied);
    }
  }

  {
    GgufWriter w(text_out);
    write_text_metadata(w, cfg, name);
    if (opt.text_mix != KQuantMix::None && !opt.keep_source_types)
      w.set(gguf_key::kFileType, GgufValue::u32(kquant_mix_file_type(opt.text_mix)));
    else
      write_file_type(w, dominant_type(text_jobs));
    bool quant = false;
    for (const auto& j : text_jobs) quant |= dtype_block_size(j.type) > 1;
    if (quant) w.set(gguf_key::kQuantVersion, GgufValue::u32(2));
    write_gguf_tokenizer(w, dir, cfg);
    write_jobs(w, text_jobs, opt.keep_source_types);
    w.finish();
  }
  if (!mmproj_out.empty()) {
    if (vision_jobs.empty()) fail_format(dir + ": no vision tensors found");
    GgufWriter w(mmproj_out);
    const auto mean = read_hf_image_norm(dir, "image_mean", {0.48145466f, 0.4578275f, 0.40821073f});
    const auto stdv = read_hf_image_norm(dir, "image_std", {0.26862954f, 0.26130258f, 0.27577711f});
    write_vision_metadata(w, cfg, name, mean, stdv);
    write_file_type(w, dominant_type(vision_jobs));
    write_jobs(w, vision_jobs, opt.keep_source_types);
    w.finish();
  }
}

}  // namespace edgevl
