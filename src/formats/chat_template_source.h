// Where a Hugging Face model directory keeps its own chat template (Jinja source). In
// order: chat_template.jinja (newer transformers), chat_template.json {"chat_template":
// "..."} (the processor's template, the one vision-language models are used with), then
// tokenizer_config.json "chat_template" (a string, or a list of {"name", "template"} of
// which "default" is used). A GGUF file keeps it under tokenizer.chat_template.
#pragma once
#include <string>

namespace edgevl {

// The template source, or "" when the directory has none. Throws Error(kFormat) naming
// the file when one of them is not valid JSON or holds a chat_template of the wrong type.
std::string read_hf_chat_template(const std::string& dir);

}  // namespace edgevl
