// `edgevl convert`: Hugging Face directory -> llama.cpp-style GGUF pair (text model +
// mmproj), quantized, streamed tensor by tensor.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "commands.h"
#include "core/timer.h"
#include "formats/gguf_convert.h"

namespace edgevl_cli {

static bool parse_type(const std::string& s, edgevl::DType& out) {
  using edgevl::DType;
  if (s == "f32") out = DType::F32;
  else if (s == "f16") out = DType::F16;
  else if (s == "bf16") out = DType::BF16;
  else if (s == "q8_0") out = DType::Q8_0;
  else if (s == "q4_0") out = DType::Q4_0;
  else if (s == "q4_1") out = DType::Q4_1;
  else if (s == "q5_0") out = DType::Q5_0;
  else if (s == "q5_1") out = DType::Q5_1;
  else return false;
  return true;
}

int cmd_convert(int argc, char** argv) {
  CLI::App app{"Convert a Hugging Face Qwen2-VL / Qwen2.5-VL directory into GGUF files (text model + mmproj)", "edgevl convert"};
  std::string hf, out, type = "q8_0", vision_type = "f16", embed_type;
  app.add_option("--hf", hf, "Hugging Face model directory")->required();
  app.add_option("--out", out, "output prefix: writes PREFIX.gguf and PREFIX-mmproj.gguf")->required();
  app.add_option("--type", type,
                 "text weights: q4_k_m, q5_k_m, q6_k (llama-quantize's mixes of q4_K/q5_K/q6_K with q5_0/q5_1/q8_0 where rows are "
                 "not a multiple of 256), q8_0, q5_0, q5_1, q4_0, q4_1, f16, bf16 or f32");
  app.add_option("--vision-type", vision_type, "vision weights: f16, bf16, q8_0, q4_0 or f32");
  bool legacy = false;
  app.add_flag("--legacy-clip-names", legacy, "Qwen2-VL mmproj with fc1/fc2 named as llama.cpp builds before mid-2025 expect");
  app.add_option("--embed-type", embed_type, "token embedding and lm_head (default: --type), e.g. q8_0 or f16 beside --type q4_0");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  edgevl::GgufConvertOptions opt;
  const bool mix = edgevl::parse_kquant_mix(type, &opt.text_mix);
  if ((!mix && !parse_type(type, opt.text_type)) || !parse_type(vision_type, opt.vision_type)) {
    std::fprintf(stderr, "edgevl convert: error: unknown type (use q4_k_m, q5_k_m, q6_k, q8_0, q5_0, q5_1, q4_0, q4_1, f16, bf16 or f32)\n");
    return 2;
  }
  opt.legacy_clip_ffn_names = legacy;
  if (!embed_type.empty()) {
    edgevl::DType e;
    if (!parse_type(embed_type, e)) {
      std::fprintf(stderr, "edgevl convert: error: unknown --embed-type '%s' (use q4_0, q8_0, f16, bf16 or f32)\n", embed_type.c_str());
      return 2;
    }
    opt.embed_type = e;
  }
  try {
    const double t0 = edgevl::now_ms();
    edgevl::convert_hf_to_gguf(hf, out + ".gguf", out + "-mmproj.gguf", opt);
    std::fprintf(stderr, "wrote %s.gguf and %s-mmproj.gguf in %.1f s (peak RSS %.1f MB)\n", out.c_str(), out.c_str(),
                 (edgevl::now_ms() - t0) / 1000.0, edgevl::peak_rss_bytes() / 1048576.0);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "edgevl convert: error: %s\n", e.what());
    return 1;
  }
}

}  // namespace edgevl_cli
