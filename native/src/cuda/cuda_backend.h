// The CUDA backend: bf16 activations and weights on the device, hand-written kernels.
#pragma once
#include <string>

#include "plast/backend.h"

namespace plast {

// Returns nullptr and sets *whyNot when no usable device exists (no driver, no GPU, ...).
Backend* createCudaBackend(std::string* whyNot);

}  // namespace plast
