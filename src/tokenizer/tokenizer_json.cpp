#include "tokenizer/tokenizer_json.h"

#include "core/error.h"

namespace edgevl {
namespace {

using json = nlohmann::json;

class Reader : public nlohmann::json_sax<json> {
 public:
  Reader(TokenizerJson& out, const std::string& file, int64_t max_id) : out_(out), file_(file), max_id_(max_id) {}

  bool null() override { return scalar(nullptr, "null"); }
  bool boolean(bool v) override { return scalar(v, "a boolean"); }
  bool number_integer(number_integer_t v) override { return integer(v); }
  bool number_unsigned(number_unsigned_t v) override {
    return integer(v > static_cast<uint64_t>(INT64_MAX) ? -1 : static_cast<int64_t>(v));
  }
  bool number_float(number_float_t v, const string_t&) override { return scalar(v, "a float"); }
  bool binary(binary_t&) override { return scalar(nullptr, "binary"); }

  bool string(string_t& v) override {
    switch (top()) {
      case kVocab:
        bad_vocab_value();
      case kMerges: {  // "a b": byte-level tokens never contain a real space
        size_t sp = v.find(' ');
        if (sp == std::string::npos || v.find(' ', sp + 1) != std::string::npos)
          bad_merge("must be two tokens separated by one space");
        out_.merges.push_back({add(std::string_view(v).substr(0, sp)), add(std::string_view(v).substr(sp + 1))});
        return true;
      }
      case kMergePair: {
        Frame& f = frames_.back();
        if (f.halves == 2) bad_merge("must be a pair [\"a\", \"b\"]");
        f.pair[f.halves++] = add(v);
        return true;
      }
      default:
        put(std::move(v));
        return true;
    }
  }

  bool start_object(std::size_t) override {
    Kind k = top();
    if (k == kVocab) bad_vocab_value();
    if (k == kMerges || k == kMergePair) bad_merge("must be \"a b\" or [\"a\", \"b\"]");
    if (in_model() && frames_.back().key == "vocab") {
      if (out_.vocab_streamed) fail_format(file_ + ": model.vocab appears twice");
      out_.vocab_streamed = true;
      frames_.push_back(Frame(kVocab, nullptr));
      return true;
    }
    bool is_model = frames_.size() == 1 && frames_[0].key == "model";
    frames_.push_back(Frame(kDom, put(json::object())));
    frames_.back().is_model = is_model;
    return true;
  }

  bool start_array(std::size_t) override {
    Kind k = top();
    if (k == kVocab) bad_vocab_value();
    if (k == kMergePair) bad_merge("must be \"a b\" or [\"a\", \"b\"]");
    if (k == kMerges) {
      frames_.push_back(Frame(kMergePair, nullptr));
      return true;
    }
    if (in_model() && frames_.back().key == "merges") {
      if (out_.merges_streamed) fail_format(file_ + ": model.merges appears twice");
      out_.merges_streamed = true;
      frames_.push_back(Frame(kMerges, nullptr));
      return true;
    }
    frames_.push_back(Frame(kDom, put(json::array())));
    return true;
  }

  bool key(string_t& k) override {
    frames_.back().key = std::move(k);
    return true;
  }

  bool end_object() override {
    frames_.pop_back();
    return true;
  }

  bool end_array() override {
    if (top() == kMergePair) {
      const Frame& f = frames_.back();
      if (f.halves != 2) bad_merge("must be a pair [\"a\", \"b\"]");
      out_.merges.push_back({f.pair[0], f.pair[1]});
    }
    frames_.pop_back();
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    fail_format(file_ + ": not valid JSON: " + e.what());
  }

 private:
  enum Kind { kNone, kDom, kVocab, kMerges, kMergePair };
  struct Frame {
    Frame(Kind k, json* n) : kind(k), node(n) {}
    Kind kind;
    json* node;        // kDom: the object/array being filled
    std::string key;   // object frames: the key of the value that comes next
    bool is_model = false;
    TokenizerJson::Span pair[2];
    int halves = 0;
  };

  Kind top() const { return frames_.empty() ? kNone : frames_.back().kind; }
  bool in_model() const { return frames_.size() == 2 && frames_[1].is_model; }

  TokenizerJson::Span add(std::string_view s) {
    if (out_.strings.size() + s.size() > UINT32_MAX) fail_format(file_ + ": too large");
    TokenizerJson::Span span{static_cast<uint32_t>(out_.strings.size()), static_cast<uint32_t>(s.size())};
    out_.strings.append(s);
    return span;
  }

  // Adds a value to the DOM under the current key / at the end of the current array.
  json* put(json v) {
    if (frames_.empty()) {
      out_.doc = std::move(v);
      return &out_.doc;
    }
    Frame& f = frames_.back();
    if (f.node->is_object()) {
      json& slot = (*f.node)[f.key];
      slot = std::move(v);
      return &slot;
    }
    f.node->push_back(std::move(v));
    return &f.node->back();
  }

  bool scalar(json v, const char*) {
    Kind k = top();
    if (k == kVocab) bad_vocab_value();
    if (k == kMerges || k == kMergePair) bad_merge("must be \"a b\" or [\"a\", \"b\"]");
    put(std::move(v));
    return true;
  }

  bool integer(int64_t v) {
    if (top() != kVocab) return scalar(v, "an integer");
    if (v < 0 || v >= max_id_)
      fail_format(file_ + ": model.vocab[\"" + frames_.back().key + "\"] = " + std::to_string(v) +
                  " is not a token id in [0, " + std::to_string(max_id_) + ")");
    out_.vocab.push_back({add(frames_.back().key), static_cast<int32_t>(v)});
    return true;
  }

  [[noreturn]] void bad_vocab_value() {
    fail_format(file_ + ": model.vocab[\"" + frames_.back().key + "\"] must be an integer token id");
  }
  [[noreturn]] void bad_merge(const std::string& what) {
    fail_format(file_ + ": model.merges[" + std::to_string(out_.merges.size()) + "] " + what);
  }

  TokenizerJson& out_;
  const std::string& file_;
  int64_t max_id_;
  std::vector<Frame> frames_;
};

}  // namespace

TokenizerJson read_tokenizer_json(std::string_view text, const std::string& file, int64_t max_token_id) {
  TokenizerJson out;
  out.strings.reserve(text.size() / 2);
  Reader reader(out, file, max_token_id);
  json::sax_parse(text.begin(), text.end(), &reader);
  return out;
}

}  // namespace edgevl
