#include "model/host.h"

namespace plast {

Tensor uploadI32(Backend* be, const std::vector<int32_t>& v, const Shape& s) {
  Tensor t = be->empty(s, DType::I32);
  if (!v.empty()) be->upload(t, v.data());
  return t;
}

Tensor uploadActivations(Backend* be, const std::vector<float>& v, const Shape& s) {
  Tensor f = be->empty(s, DType::F32);
  be->upload(f, v.data());
  if (be->activationDType() == DType::F32) return f;
  Tensor a = be->empty(s, be->activationDType());
  be->cast(f, a);
  return a;
}

std::vector<float> downloadF32(Backend* be, const Tensor& t) {
  Tensor f = t;
  if (t.dtype != DType::F32) {
    f = be->empty(t.shape, DType::F32);
    be->cast(t, f);
  }
  std::vector<float> out(static_cast<size_t>(f.numel()));
  be->download(f, out.data());
  return out;
}

}  // namespace plast
