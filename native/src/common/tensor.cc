#include "plast/tensor.h"

#include <sstream>

#include "plast/ops.h"

namespace plast {

size_t dtypeSize(DType t) {
  switch (t) {
    case DType::BF16:
    case DType::F16: return 2;
    case DType::F32:
    case DType::I32: return 4;
    case DType::I64: return 8;
    case DType::U8: return 1;
  }
  return 0;
}

const char* dtypeName(DType t) {
  switch (t) {
    case DType::BF16: return "bf16";
    case DType::F16: return "f16";
    case DType::F32: return "f32";
    case DType::I32: return "i32";
    case DType::I64: return "i64";
    case DType::U8: return "u8";
  }
  return "?";
}

bool isFloat(DType t) { return t == DType::BF16 || t == DType::F16 || t == DType::F32; }

std::string shapeStr(const Shape& s) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << "]";
  return os.str();
}

std::string Tensor::describe() const { return std::string(dtypeName(dtype)) + shapeStr(shape); }

Tensor Tensor::rows(int64_t begin, int64_t end) const {
  PLAST_CHECK(ndim() >= 1 && begin >= 0 && begin <= end && end <= shape[0], Code::Shape,
              "rows(" << begin << ", " << end << ") out of range for " << describe());
  Tensor t = *this;
  int64_t rowElems = shape[0] ? numel() / shape[0] : 0;
  t.offset += static_cast<size_t>(begin * rowElems) * dtypeSize(dtype);
  t.shape[0] = end - begin;
  return t;
}

Tensor Tensor::view(const Shape& s) const {
  int64_t n = 1;
  for (auto d : s) n *= d;
  PLAST_CHECK(n == numel(), Code::Shape,
              "cannot view " << describe() << " as " << shapeStr(s) << " (element counts differ)");
  Tensor t = *this;
  t.shape = s;
  return t;
}

const char* opName(Op op) {
  static const char* names[] = {
#define PLAST_OP(E, name, R, method, params) name,
#include "plast/ops.def"
  };
  int i = static_cast<int>(op);
  return (i >= 0 && i < static_cast<int>(Op::Count_)) ? names[i] : "?";
}

bool isCpuOnly(Op op) {
  switch (op) {
#define PLAST_OP(E, name, R, method, params)
#define PLAST_OP_CPU(E, name, R, method, params) case Op::E:
#include "plast/ops.def"
    return true;
    default:
      return false;
  }
}

}  // namespace plast
