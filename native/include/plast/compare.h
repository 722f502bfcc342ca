// Host-side comparison of a backend's output with a reference: shared by the native op tests
// and `plast bench --op`, which checks every kernel variant against the CPU before timing it.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "plast/backend.h"
#include "plast/half.h"

namespace plast {

// A float tensor (f32, bf16 or f16) on any backend, widened to f32 on the host.
inline std::vector<float> toHost(Backend* be, const Tensor& t) {
  size_t n = static_cast<size_t>(t.numel());
  std::vector<float> out(n);
  if (t.dtype == DType::F32) {
    be->download(t, out.data());
  } else {
    std::vector<uint16_t> h(n);
    be->download(t, h.data());
    for (size_t i = 0; i < n; ++i) out[i] = t.dtype == DType::BF16 ? bf16ToF32(h[i]) : f16ToF32(h[i]);
  }
  return out;
}

// ‖out − ref‖ / ‖ref‖ (inf when out has a NaN/inf that ref does not, or sizes differ)
inline double relErr(const std::vector<float>& out, const std::vector<float>& ref) {
  if (out.size() != ref.size()) return std::numeric_limits<double>::infinity();
  double num = 0, den = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    double o = out[i], r = ref[i];
    if (std::isinf(r) && o == r) continue;  // matching infinities (e.g. lse = -inf)
    if (!std::isfinite(o) || !std::isfinite(r)) return std::numeric_limits<double>::infinity();
    num += (o - r) * (o - r);
    den += r * r;
  }
  if (den == 0) return num == 0 ? 0 : std::sqrt(num);
  return std::sqrt(num / den);
}

}  // namespace plast
