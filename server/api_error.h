// An error that becomes an OpenAI-style JSON reply:
//   {"error":{"message":..,"type":..,"param":..,"code":..}}
// Thrown by request parsing and produced by the generation path, so every refusal,
// wherever it is found, reaches the client the same way.
#pragma once
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace edgevl_server {

struct ApiError : std::runtime_error {
  int status;
  std::string type;   // invalid_request_error, rate_limit_error, server_error
  std::string code;   // machine-readable, e.g. "invalid_json", "context_length_exceeded"
  std::string param;  // the offending field ("messages[1].content"), may be empty

  ApiError(int status, std::string code, const std::string& message, std::string param = "",
           std::string type = "invalid_request_error")
      : std::runtime_error(message), status(status), type(std::move(type)), code(std::move(code)), param(std::move(param)) {}

  nlohmann::json to_json() const {
    return {{"error",
             {{"message", what()},
              {"type", type},
              {"param", param.empty() ? nlohmann::json(nullptr) : nlohmann::json(param)},
              {"code", code}}}};
  }
};

// Shorthand for the common 400.
inline ApiError bad_request(const std::string& code, const std::string& message, const std::string& param = "") {
  return ApiError(400, code, message, param);
}

}  // namespace edgevl_server
