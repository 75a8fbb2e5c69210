// Hugging Face Qwen2-VL / Qwen2.5-VL checkpoint -> llama.cpp-style GGUF pair: a text model
// (general.architecture = qwen2vl, with the tokenizer) and an mmproj vision file (clip), named
// and laid out as llama.cpp's convert_hf_to_gguf.py does (see gguf_names.h), so the files run
// in llama.cpp and in edgevl (GgufModelSource).
#pragma once
#include <array>
#include <optional>
#include <string>

#include "core/dtype.h"
#include "formats/model_config.h"
#include "formats/quant_mix.h"

namespace edgevl {

struct GgufConvertOptions {
  DType text_type = DType::Q8_0;    // 2-D text weights: f32, f16, bf16, q8_0, q4_0 (or another type quantize_blocks writes)
  // When set, the 2-D text weights follow llama-quantize's mix for that file type instead of
  // text_type (quant_mix.h); embed_type still overrides token_embd / output.
  KQuantMix text_mix = KQuantMix::None;
  DType vision_type = DType::F16;   // 2-D vision weights (the patch kernel stays float)
  // token_embd and output (lm_head) when set, else text_type: llama-quantize's
  // --token-embedding-type / --output-tensor-type (e.g. q4_0 layers with an 8-bit lm_head).
  std::optional<DType> embed_type;
  // Qwen2-VL only: name fc1 "ffn_down" and fc2 "ffn_up" as llama.cpp's surgery script did
  // before mid-2025, for llama.cpp builds of that time (newer ones and edgevl read both).
  bool legacy_clip_ffn_names = false;
  bool keep_source_types = false;   // store every tensor in its checkpoint type (bit-exact; for tests)
  std::string name;                 // general.name (default: the directory's name)
};

// Writes text_out and (unless empty) mmproj_out; each appears only when complete.
// Tensor types follow llama.cpp's habits: 1-D tensors (norms, biases) stay f32; matrices
// whose rows are not a multiple of 32 fall back to f16 when a block type was asked for.
void convert_hf_to_gguf(const std::string& hf_dir, const std::string& text_out, const std::string& mmproj_out,
                        const GgufConvertOptions& opt = {});

class GgufWriter;

// The tokenizer keys of the text file (tokenizer.ggml.*, chat template), from <hf_dir>/
// tokenizer.json, tokenizer_config.json and chat_template.json, as the converter writes them;
// vocabulary ids up to c.text.vocab_size (unused ids get llama.cpp's "[PADn]" filler). Writes
// nothing when the directory has no tokenizer.json.
void write_gguf_tokenizer(GgufWriter& w, const std::string& hf_dir, const ModelConfig& c);

// image_mean / image_std (key) from <hf_dir>/preprocessor_config.json, or def when absent.
std::array<float, 3> read_hf_image_norm(const std::string& hf_dir, const char* key, std::array<float, 3> def);

}  // namespace edgevl
