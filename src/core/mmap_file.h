// Read-only memory-mapped file. Model weights are used in place from the mapping,
// so loading a model costs page faults, not copies.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace edgevl {

class MappedFile {
 public:
  MappedFile() = default;
  explicit MappedFile(const std::string& path);  // throws Error(kIo) naming the path
  ~MappedFile();
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  void release();
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

// Whole file into memory (small text files: json configs, tokenizer). Throws kIo.
std::string read_text_file(const std::string& path);

// Writes via a temp file + rename so a crash never leaves a half-written file.
void write_file_atomic(const std::string& path, const void* data, size_t size);

}  // namespace edgevl
