// Reading and writing float tensors of any float dtype as f32 on the host.
#pragma once
#include <cstdint>

#include "plast/half.h"
#include "plast/tensor.h"

namespace plast {

inline float loadF32(const void* base, DType t, int64_t i) {
  switch (t) {
    case DType::F32: return static_cast<const float*>(base)[i];
    case DType::BF16: return bf16ToF32(static_cast<const uint16_t*>(base)[i]);
    case DType::F16: return f16ToF32(static_cast<const uint16_t*>(base)[i]);
    default: return 0.f;
  }
}

inline void storeF32(void* base, DType t, int64_t i, float v) {
  switch (t) {
    case DType::F32: static_cast<float*>(base)[i] = v; break;
    case DType::BF16: static_cast<uint16_t*>(base)[i] = f32ToBf16(v); break;
    case DType::F16: static_cast<uint16_t*>(base)[i] = f32ToF16(v); break;
    default: break;
  }
}

// dst[0..n) = src[off..off+n) widened to f32
inline void toF32(const void* src, DType t, int64_t off, int64_t n, float* dst) {
  if (t == DType::F32) {
    const float* s = static_cast<const float*>(src) + off;
    for (int64_t i = 0; i < n; ++i) dst[i] = s[i];
  } else if (t == DType::BF16) {
    const uint16_t* s = static_cast<const uint16_t*>(src) + off;
    for (int64_t i = 0; i < n; ++i) dst[i] = bf16ToF32(s[i]);
  } else {
    const uint16_t* s = static_cast<const uint16_t*>(src) + off;
    for (int64_t i = 0; i < n; ++i) dst[i] = f16ToF32(s[i]);
  }
}

}  // namespace plast
