#include "formats/model_config.h"

#include <sys/stat.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/mmap_file.h"

namespace edgevl {

using json = nlohmann::json;

namespace {

struct Reader {
  const json& j;
  std::string where;  // "config.json" or "config.json: vision_config"

  const json* opt(const char* key) const {
    auto it = j.find(key);
    return (it == j.end() || it->is_null()) ? nullptr : &*it;
  }
  int get_int(const char* key, int lo, int hi) const {
    const json* v = opt(key);
    if (!v) fail_format(where + ": missing field '" + key + "'");
    return check_int(*v, key, lo, hi);
  }
  int get_int_or(const char* key, int def, int lo, int hi) const {
    const json* v = opt(key);
    return v ? check_int(*v, key, lo, hi) : def;
  }
  int check_int(const json& v, const char* key, int lo, int hi) const {
    if (!v.is_number_integer()) fail_format(where + ": field '" + key + "' must be an integer");
    int64_t x = v.get<int64_t>();
    if (x < lo || x > hi)
      fail_format(where + ": field '" + key + "' = " + std::to_string(x) + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return static_cast<int>(x);
  }
  float get_float_or(const char* key, float def) const {
    const json* v = opt(key);
    if (!v) return def;
    if (!v->is_number()) fail_format(where + ": field '" + key + "' must be a number");
    return v->get<float>();
  }
  bool get_bool_or(const char* key, bool def) const {
    const json* v = opt(key);
    if (!v) return def;
    if (!v->is_boolean()) fail_format(where + ": field '" + key + "' must be true or false");
    return v->get<bool>();
  }
  std::string get_string_or(const char* key, const std::string& def) const {
    const json* v = opt(key);
    if (!v) return def;
    if (!v->is_string()) fail_format(where + ": field '" + key + "' must be a string");
    return v->get<std::string>();
  }
};

constexpr int kBig = 1 << 24;

void append_ids(const json* v, std::vector<int32_t>& out, const std::string& where) {
  if (!v) return;
  auto add = [&](const json& x) {
    if (!x.is_number_integer()) fail_format(where + ": eos_token_id must be an integer or a list of integers");
    int32_t id = x.get<int32_t>();
    for (auto e : out)
      if (e == id) return;
    out.push_back(id);
  };
  if (v->is_array())
    for (const auto& x : *v) add(x);
  else
    add(*v);
}

}  // namespace

ModelConfig ModelConfig::parse(const std::string& text, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail_format(source + ": invalid JSON: " + e.what());
  }
  if (!j.is_object()) fail_format(source + ": not a JSON object");
  ModelConfig c;
  Reader r{j, source};
  c.model_type = r.get_string_or("model_type", "");
  if (const json* a = r.opt("architectures"); a && a->is_array() && !a->empty() && (*a)[0].is_string())
    c.architecture = (*a)[0].get<std::string>();
  if (c.architecture == "Qwen2VLForConditionalGeneration" || (c.architecture.empty() && c.model_type == "qwen2_vl")) {
    c.vision.arch = VisionArch::Qwen2VL;
  } else if (c.architecture == "Qwen2_5_VLForConditionalGeneration" || (c.architecture.empty() && c.model_type == "qwen2_5_vl")) {
    c.vision.arch = VisionArch::Qwen25VL;
  } else if (c.architecture == "Qwen3VLForConditionalGeneration" || (c.architecture.empty() && c.model_type == "qwen3_vl")) {
    c.vision.arch = VisionArch::Qwen3VL;
  } else if (c.architecture == "Qwen3VLMoeForConditionalGeneration" || c.model_type == "qwen3_vl_moe") {
    fail(ErrorCode::kUnsupported, source + ": Qwen3-VL MoE ('" + (c.architecture.empty() ? c.model_type : c.architecture) +
                                      "') is not supported yet; edgevl runs the dense Qwen3-VL models (Qwen3VLForConditionalGeneration)");
  } else {
    fail(ErrorCode::kUnsupported, source + ": unsupported architecture '" + (c.architecture.empty() ? c.model_type : c.architecture) +
                                      "' (edgevl runs Qwen2VLForConditionalGeneration, Qwen2_5_VLForConditionalGeneration and "
                                      "Qwen3VLForConditionalGeneration)");
  }
  const bool qwen3 = c.vision.arch == VisionArch::Qwen3VL;
  if (qwen3) {
    // transformers' Qwen3-VL save format (= the hub checkpoints) and chat template.
    c.text.tensor_prefix = "model.language_model.";
    c.vision.tensor_prefix = "model.visual.";
    c.text.qk_norm = true;
    c.template_default_system = false;
  }
  // Newer transformers nest the text part under text_config; older ones keep it at top level.
  const json& tj = (j.contains("text_config") && j["text_config"].is_object()) ? j["text_config"] : j;
  Reader t{tj, tj.is_object() && &tj != &j ? source + ": text_config" : source};
  TextConfig& tc = c.text;
  tc.hidden_size = t.get_int("hidden_size", 1, kBig);
  tc.num_layers = t.get_int("num_hidden_layers", 1, 1024);
  tc.num_heads = t.get_int("num_attention_heads", 1, 4096);
  tc.num_kv_heads = t.get_int_or("num_key_value_heads", tc.num_heads, 1, 4096);
  tc.intermediate_size = t.get_int("intermediate_size", 1, kBig);
  tc.vocab_size = t.get_int("vocab_size", 1, kBig);
  tc.rms_norm_eps = t.get_float_or("rms_norm_eps", 1e-6f);
  tc.rope_theta = t.get_float_or("rope_theta", 1e6f);
  tc.max_position_embeddings = t.get_int_or("max_position_embeddings", 32768, 1, kBig);
  tc.tie_word_embeddings = r.get_bool_or("tie_word_embeddings", t.get_bool_or("tie_word_embeddings", false));
  if (tc.hidden_size % tc.num_heads != 0) fail_format(source + ": hidden_size is not a multiple of num_attention_heads");
  if (tc.num_heads % tc.num_kv_heads != 0) fail_format(source + ": num_attention_heads is not a multiple of num_key_value_heads");
  tc.head_dim = t.get_int_or("head_dim", tc.hidden_size / tc.num_heads, 2, 4096);
  tc.attention_bias = t.get_bool_or("attention_bias", !qwen3);  // Qwen2 configs omit it and have biases
  if (tc.head_dim % 2) fail_format(source + ": head_dim must be even");
  const json* rs = t.opt("rope_scaling");
  if (!rs) rs = r.opt("rope_scaling");
  if (!rs || !rs->is_object() || !rs->contains("mrope_section"))
    fail_format(source + ": missing rope_scaling.mrope_section (Qwen2-VL models use M-RoPE)");
  const json& ms = (*rs)["mrope_section"];
  if (!ms.is_array() || ms.size() != 3) fail_format(source + ": rope_scaling.mrope_section must be a list of 3 integers");
  int sum = 0;
  for (int i = 0; i < 3; ++i) {
    if (!ms[i].is_number_integer() || ms[i].get<int>() < 0) fail_format(source + ": rope_scaling.mrope_section must hold non-negative integers");
    tc.mrope_section[i] = ms[i].get<int>();
    sum += tc.mrope_section[i];
  }
  if (const auto it = rs->find("mrope_interleaved"); it != rs->end() && !it->is_null()) {
    if (!it->is_boolean()) fail_format(source + ": rope_scaling.mrope_interleaved must be true or false");
    tc.mrope_interleaved = it->get<bool>();
  }
  if (sum != tc.head_dim / 2)
    fail_format(source + ": rope_scaling.mrope_section sums to " + std::to_string(sum) + ", expected head_dim/2 = " + std::to_string(tc.head_dim / 2));

  if (!j.contains("vision_config") || !j["vision_config"].is_object()) fail_format(source + ": missing object 'vision_config'");
  Reader v{j["vision_config"], source + ": vision_config"};
  VisionConfig& vc = c.vision;
  vc.depth = v.get_int("depth", 1, 1024);
  vc.num_heads = v.get_int("num_heads", 1, 4096);
  vc.patch_size = v.get_int_or("patch_size", 14, 1, 1024);
  vc.temporal_patch_size = v.get_int_or("temporal_patch_size", 2, 1, 16);
  vc.spatial_merge_size = v.get_int_or("spatial_merge_size", 2, 1, 16);
  vc.in_channels = v.get_int_or("in_chans", v.get_int_or("in_channels", 3, 1, 16), 1, 16);
  if (vc.arch == VisionArch::Qwen2VL) {
    vc.embed_dim = v.get_int("embed_dim", 1, kBig);
    vc.mlp_hidden = static_cast<int>(vc.embed_dim * v.get_float_or("mlp_ratio", 4.0f));
    vc.hidden_act = v.get_string_or("hidden_act", "quick_gelu");
    vc.out_hidden_size = v.get_int_or("hidden_size", tc.hidden_size, 1, kBig);
  } else if (qwen3) {
    vc.embed_dim = v.get_int("hidden_size", 1, kBig);
    vc.mlp_hidden = v.get_int("intermediate_size", 1, kBig);
    vc.hidden_act = v.get_string_or("hidden_act", "gelu_pytorch_tanh");
    vc.out_hidden_size = v.get_int_or("out_hidden_size", tc.hidden_size, 1, kBig);
    vc.num_position_embeddings = v.get_int("num_position_embeddings", 1, 1 << 20);
    const int side = static_cast<int>(std::lround(std::sqrt(static_cast<double>(vc.num_position_embeddings))));
    if (side * side != vc.num_position_embeddings)
      fail_format(source + ": vision_config.num_position_embeddings = " + std::to_string(vc.num_position_embeddings) +
                  " is not a square grid");
    if (const json* di = v.opt("deepstack_visual_indexes")) {
      if (!di->is_array()) fail_format(source + ": vision_config.deepstack_visual_indexes must be a list");
      for (const auto& x : *di) {
        if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() >= vc.depth)
          fail_format(source + ": vision_config.deepstack_visual_indexes has an index outside [0, depth)");
        vc.deepstack_visual_indexes.push_back(x.get<int>());
      }
    }
    // DeepStack feature k is added after text layer k.
    if (int(vc.deepstack_visual_indexes.size()) > tc.num_layers)
      fail_format(source + ": vision_config.deepstack_visual_indexes lists more features than there are text layers");
  } else {
    vc.embed_dim = v.get_int("hidden_size", 1, kBig);
    vc.mlp_hidden = v.get_int("intermediate_size", 1, kBig);
    vc.hidden_act = v.get_string_or("hidden_act", "silu");
    vc.out_hidden_size = v.get_int_or("out_hidden_size", tc.hidden_size, 1, kBig);
    vc.window_size = v.get_int_or("window_size", 112, 0, 1 << 16);
    if (const json* fb = v.opt("fullatt_block_indexes")) {
      if (!fb->is_array()) fail_format(source + ": vision_config.fullatt_block_indexes must be a list");
      for (const auto& x : *fb) {
        if (!x.is_number_integer() || x.get<int>() < 0 || x.get<int>() >= vc.depth)
          fail_format(source + ": vision_config.fullatt_block_indexes has an index outside [0, depth)");
        vc.fullatt_block_indexes.push_back(x.get<int>());
      }
    }
  }
  if (vc.embed_dim % vc.num_heads) fail_format(source + ": vision_config width is not a multiple of num_heads");
  if ((vc.embed_dim / vc.num_heads) % 4) fail_format(source + ": vision head_dim must be a multiple of 4 (2-D rotary)");
  if (vc.out_hidden_size != tc.hidden_size)
    fail_format(source + ": vision output size " + std::to_string(vc.out_hidden_size) + " differs from text hidden_size " + std::to_string(tc.hidden_size));

  c.image_token_id = r.get_int_or("image_token_id", 151655, 0, kBig);
  c.video_token_id = r.get_int_or("video_token_id", 151656, 0, kBig);
  c.vision_start_token_id = r.get_int_or("vision_start_token_id", 151652, 0, kBig);
  c.vision_end_token_id = r.get_int_or("vision_end_token_id", 151653, 0, kBig);
  c.bos_token_id = r.get_int_or("bos_token_id", -1, -1, kBig);
  append_ids(r.opt("eos_token_id"), c.eos_token_ids, source);
  return c;
}

ModelConfig ModelConfig::load(const std::string& dir) {
  const std::string path = dir + "/config.json";
  ModelConfig c = parse(read_text_file(path), path);
  const std::string gen = dir + "/generation_config.json";
  struct stat st {};
  if (::stat(gen.c_str(), &st) == 0) {
    json g;
    try {
      g = json::parse(read_text_file(gen));
    } catch (const json::exception& e) {
      fail_format(gen + ": invalid JSON: " + e.what());
    }
    if (g.is_object() && g.contains("eos_token_id")) append_ids(&g["eos_token_id"], c.eos_token_ids, gen);
  }
  return c;
}

}  // namespace edgevl
