// Typed errors. Native code throws plast::Error; the addon turns it into a JS Error with `.code`.
// Nothing in the engine calls exit() or abort() on bad input.
#pragma once
#include <stdexcept>
#include <string>

namespace plast {

enum class Code {
  Shape,        // ERR_SHAPE: tensor shapes do not fit the op or the model
  DType,        // ERR_DTYPE: unsupported or mismatched element type
  Format,       // ERR_FORMAT: malformed file or config
  NoDevice,     // ERR_NO_DEVICE: the requested backend is not available
  OOM,          // ERR_OOM: an allocation failed
  Unsupported,  // ERR_UNSUPPORTED: op/feature not implemented on this backend
  Invalid,      // ERR_INVALID: bad argument value
  IO,           // ERR_IO: file system failure
  Device,       // ERR_DEVICE: a device runtime call failed
  Internal,     // ERR_INTERNAL: a bug
};

const char* codeName(Code c);

class Error : public std::runtime_error {
 public:
  Error(Code code, const std::string& message) : std::runtime_error(message), code_(code) {}
  Code code() const { return code_; }
  const char* codeName() const { return plast::codeName(code_); }

 private:
  Code code_;
};

// PLAST_CHECK(cond, Code::Shape, "expected ... but received " << x)
#define PLAST_CHECK(cond, code, msg)                         \
  do {                                                       \
    if (!(cond)) {                                           \
      std::ostringstream plast_os_;                          \
      plast_os_ << msg;                                      \
      throw ::plast::Error((code), plast_os_.str());         \
    }                                                        \
  } while (0)

#define PLAST_FAIL(code, msg) PLAST_CHECK(false, code, msg)

}  // namespace plast

#include <sstream>
