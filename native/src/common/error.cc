#include "plast/error.h"

namespace plast {

const char* codeName(Code c) {
  switch (c) {
    case Code::Shape: return "ERR_SHAPE";
    case Code::DType: return "ERR_DTYPE";
    case Code::Format: return "ERR_FORMAT";
    case Code::NoDevice: return "ERR_NO_DEVICE";
    case Code::OOM: return "ERR_OOM";
    case Code::Unsupported: return "ERR_UNSUPPORTED";
    case Code::Invalid: return "ERR_INVALID";
    case Code::IO: return "ERR_IO";
    case Code::Device: return "ERR_DEVICE";
    case Code::Internal: return "ERR_INTERNAL";
  }
  return "ERR_INTERNAL";
}

}  // namespace plast
