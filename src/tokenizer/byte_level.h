// GPT-2's byte-level alphabet: every byte 0..255 is shown as one printable Unicode
// character (printable Latin-1 bytes stand for themselves, the rest are shifted to
// U+0100.., so ' ' is 'Ġ' and '\n' is 'Ċ'). tokenizer.json stores vocab and merges in
// this alphabet; internally we convert them to raw bytes once at load time so BPE and
// decode work on bytes directly.
#pragma once
#include <string>
#include <string_view>

namespace edgevl {

// Raw bytes -> byte-level text (what HF's tokenize() shows, e.g. "Ġworld").
std::string bytes_to_byte_level(std::string_view bytes);

// Byte-level text -> raw bytes. Returns false when `text` is not valid UTF-8 or holds a
// character outside the 256-character alphabet.
bool byte_level_to_bytes(std::string_view text, std::string& bytes);

}  // namespace edgevl
