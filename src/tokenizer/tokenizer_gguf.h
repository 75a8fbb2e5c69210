// The tokenizer stored in a llama.cpp GGUF file (tokenizer.ggml.*: gpt2-style byte-level
// BPE with the "qwen2" pre-tokenizer), rebuilt into the same Tokenizer that
// tokenizer.json gives, so both paths tokenize identically.
#pragma once
#include "formats/gguf.h"
#include "tokenizer/tokenizer.h"

namespace edgevl {

Tokenizer tokenizer_from_gguf(const GgufFile& f);

}  // namespace edgevl
