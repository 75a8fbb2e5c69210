#include "formats/safetensors.h"

#include <sys/stat.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"

namespace edgevl {

using json = nlohmann::json;

static DType parse_dtype(const std::string& s, const std::string& where) {
  if (s == "F32") return DType::F32;
  if (s == "F16") return DType::F16;
  if (s == "BF16") return DType::BF16;
  if (s == "I64") return DType::I64;
  if (s == "I32") return DType::I32;
  if (s == "I16") return DType::I16;
  if (s == "I8") return DType::I8;
  if (s == "U8") return DType::U8;
  fail(ErrorCode::kUnsupported, where + ": unsupported dtype '" + s + "'");
}

SafetensorsFile::SafetensorsFile(const std::string& path) : file_(path) {
  const size_t size = file_.size();
  if (size < 8) fail_format(path + ": too small for a safetensors file (" + std::to_string(size) + " bytes)");
  uint64_t hlen;
  std::memcpy(&hlen, file_.data(), 8);
  // A header is JSON text; anything past the file (or absurdly large) is corruption,
  // and we must not allocate what the header merely claims.
  if (hlen < 2 || hlen > size - 8 || hlen > (100u << 20))
    fail_format(path + ": bad safetensors header length " + std::to_string(hlen) + " (file has " + std::to_string(size) + " bytes)");
  const char* hp = reinterpret_cast<const char*>(file_.data() + 8);
  if (hp[0] != '{') fail_format(path + ": not a safetensors file (header does not start with '{')");
  json h;
  try {
    h = json::parse(hp, hp + hlen);
  } catch (const std::exception& e) {
    fail_format(path + ": safetensors header is not valid JSON: " + e.what());
  }
  if (!h.is_object()) fail_format(path + ": safetensors header is not a JSON object");
  const size_t data_start = 8 + hlen;
  const size_t data_size = size - data_start;
  for (auto it = h.begin(); it != h.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const std::string where = path + ": tensor '" + it.key() + "'";
    const json& t = it.value();
    if (!t.is_object() || !t.contains("dtype") || !t.contains("shape") || !t.contains("data_offsets") ||
        !t["dtype"].is_string() || !t["shape"].is_array() || !t["data_offsets"].is_array() || t["data_offsets"].size() != 2)
      fail_format(where + ": malformed entry (needs dtype, shape, data_offsets[2])");
    TensorRef r;
    r.name = it.key();
    r.file = path;
    r.dtype = parse_dtype(t["dtype"].get<std::string>(), where);
    uint64_t numel = 1;
    for (const auto& d : t["shape"]) {
      if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<int64_t>() >= 0))
        fail_format(where + ": shape has a non-integer or negative dimension");
      uint64_t v = d.get<uint64_t>();
      if (v != 0 && numel > (uint64_t(1) << 62) / v) fail_format(where + ": shape overflows");
      numel *= v;
      r.shape.push_back(static_cast<int64_t>(v));
    }
    const auto& off = t["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      fail_format(where + ": data_offsets must be non-negative integers");
    uint64_t b = off[0].get<uint64_t>(), e = off[1].get<uint64_t>();
    if (b > e || e > data_size)
      fail_format(where + ": data_offsets [" + std::to_string(b) + ", " + std::to_string(e) + ") out of range (data section has " +
                  std::to_string(data_size) + " bytes)");
    if (e - b != numel * dtype_block_bytes(r.dtype))
      fail_format(where + ": " + std::to_string(e - b) + " bytes of data do not match shape " + r.shape_str() + " of " + dtype_name(r.dtype));
    r.data = file_.data() + data_start + b;
    r.nbytes = e - b;
    tensors_.emplace(r.name, std::move(r));
  }
}

static bool file_exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

SafetensorsModel::SafetensorsModel(const std::string& dir) : dir_(dir) {
  const std::string index_path = dir + "/model.safetensors.index.json";
  std::vector<std::string> shard_names;
  if (file_exists(index_path)) {
    json idx;
    try {
      idx = json::parse(read_text_file(index_path));
    } catch (const json::exception& e) {
      fail_format(index_path + ": invalid JSON: " + e.what());
    }
    if (!idx.contains("weight_map") || !idx["weight_map"].is_object())
      fail_format(index_path + ": missing object 'weight_map'");
    std::set<std::string> seen;
    for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
      if (!it.value().is_string()) fail_format(index_path + ": weight_map['" + it.key() + "'] is not a file name");
      std::string f = it.value().get<std::string>();
      if (f.find('/') != std::string::npos || f.find("..") != std::string::npos)
        fail_format(index_path + ": shard name '" + f + "' must be a plain file name");
      if (seen.insert(f).second) shard_names.push_back(f);
    }
  } else if (file_exists(dir + "/model.safetensors")) {
    shard_names.push_back("model.safetensors");
  } else {
    fail(ErrorCode::kIo, dir + ": no model.safetensors or model.safetensors.index.json");
  }
  for (const auto& s : shard_names) {
    files_.push_back(std::make_unique<SafetensorsFile>(dir + "/" + s));
    for (const auto& kv : files_.back()->tensors()) {
      if (!index_.emplace(kv.first, &kv.second).second)
        fail_format(dir + ": tensor '" + kv.first + "' appears in more than one shard");
    }
  }
}

const TensorRef* SafetensorsModel::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second;
}

std::vector<std::string> SafetensorsModel::names() const {
  std::vector<std::string> n;
  for (const auto& kv : index_) n.push_back(kv.first);
  return n;
}

}  // namespace edgevl
