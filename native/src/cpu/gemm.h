// The CPU GEMM used by every linear op: C[I,J] (=|+=) sum_p A[i,p]·B[p,j] in f32, with A and B
// given as strided views of any float dtype (widened while packing).
#pragma once
#include <cstdint>

#include "plast/tensor.h"

namespace plast {

struct MatRef {
  const void* data;
  DType dtype;
  int64_t rs, cs;  // element (r, c) is data[r*rs + c*cs]
};

void gemmF32(int64_t I, int64_t J, int64_t P, const MatRef& A, const MatRef& B, float* C,
             int64_t ldc, bool accumulate);

}  // namespace plast
