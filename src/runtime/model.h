// A loaded vision-language model: configuration, mapped weights, tokenizer, the
// Qwen2 decoder and the vision tower. Read-only after load, so one Model can serve
// many sessions and threads at once.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "formats/model_config.h"
#include "formats/tensor_source.h"
#include "llm/qwen2_decoder.h"
#include "runtime/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "vision/image.h"
#include "vision/preprocess.h"
#include "vision/vision_encoder.h"

namespace edgevl {

struct ModelLoadParams {
  std::string path;        // a Hugging Face model directory, or a text-model .gguf
  std::string mmproj_path; // with a .gguf: the vision (mmproj) .gguf
};

// The output of the vision path for one image: what the decoder needs.
struct ImageEmbedding {
  int grid_t = 1, grid_h = 0, grid_w = 0;  // in patches (before the 2x2 merge)
  int merged_h = 0, merged_w = 0;          // merged token grid
  int64_t n_tokens = 0;                    // number of <|image_pad|> tokens
  std::vector<float> embeds;               // [n_tokens][hidden]
  // Qwen3-VL DeepStack: feature k ([n_tokens][hidden]) is added to the image's token rows
  // after text layer k. Empty for models without DeepStack.
  std::vector<std::vector<float>> deepstack;
  double preprocess_ms = 0, encode_ms = 0;
};

class Model {
 public:
  static std::shared_ptr<Model> load(const ModelLoadParams& p);

  const ModelConfig& config() const { return cfg_; }
  const Tokenizer& tokenizer() const { return tok_; }
  const Qwen2Decoder& decoder() const { return *decoder_; }
  // False for a .gguf text model loaded without its mmproj: text chat only, and
  // encode_image throws kInvalidArgument naming the missing vision file.
  bool has_vision() const { return vision_ != nullptr; }
  // The vision tower (for tests and tools); throws kInvalidArgument without one.
  const VisionEncoder& vision() const;
  const PreprocessConfig& preprocess_config() const { return pre_; }
  // The conversation framing sessions start with: what the model's own chat template
  // renders (ChatTemplate::from_jinja), or, when the model has no template or one that
  // cannot be used (reported once at load through core/log.h's warn()), the built-in
  // ChatTemplate::model_default.
  const ChatTemplate& chat_template() const { return chat_template_; }
  const std::string& path() const { return path_; }
  double load_ms() const { return load_ms_; }

  // Preprocess (with the given settings) and run the vision tower; `cancel` is checked
  // between the steps and between vision blocks.
  ImageEmbedding encode_image(const ImageU8& img, const PreprocessConfig& pre, ThreadPool& pool, const Cancel& cancel = Cancel()) const;

 private:
  Model() = default;
  std::string path_;
  ModelConfig cfg_;
  std::unique_ptr<TensorSource> weights_;
  Tokenizer tok_;
  std::unique_ptr<Qwen2Decoder> decoder_;
  std::unique_ptr<VisionEncoder> vision_;
  PreprocessConfig pre_;
  ChatTemplate chat_template_;
  double load_ms_ = 0;
};

}  // namespace edgevl
