// Host <-> backend transfers every model needs: index tensors from host vectors, activations from
// host f32 values, and any float tensor read back as f32 (widened on a bf16 backend).
#pragma once
#include <vector>

#include "plast/backend.h"

namespace plast {

// An i32 tensor holding v (its range is recorded by upload, for the ops' index checks).
Tensor uploadI32(Backend* be, const std::vector<int32_t>& v, const Shape& s);
// Activations of `be` (f32 on the CPU, cast to bf16 on CUDA) from host f32 values.
Tensor uploadActivations(Backend* be, const std::vector<float>& v, const Shape& s);
// A float tensor's values as f32 on the host.
std::vector<float> downloadF32(Backend* be, const Tensor& t);

}  // namespace plast
