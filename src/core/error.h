// Errors inside the library are exceptions carrying a code and a message that names
// the file/field and what is wrong. The C API (runtime/) turns them into status codes.
#pragma once
#include <stdexcept>
#include <string>

namespace edgevl {

enum class ErrorCode {
  kInvalidArgument = 1,  // a caller passed something unusable
  kIo,                   // a file could not be opened/read/written
  kFormat,               // a file's contents are malformed or inconsistent
  kUnsupported,          // well-formed, but a feature/type we do not handle
  kContextOverflow,      // a turn does not fit in the context window
  kAborted,              // generation stopped by abort()/callback
  kBusy,                 // a session is already running
  kInternal,
};

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& msg) : std::runtime_error(msg), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

[[noreturn]] inline void fail(ErrorCode code, const std::string& msg) { throw Error(code, msg); }

// Shorthand for "this input is malformed": the message must name the source.
[[noreturn]] inline void fail_format(const std::string& msg) { fail(ErrorCode::kFormat, msg); }

}  // namespace edgevl
