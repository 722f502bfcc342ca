#pragma once
#include <napi.h>

namespace plast {

// kernelVariants(): the CUDA kernel-variant registry; opBench(options): Promise of benchmark rows
// (native/src/cuda/opbench.h). Both throw ERR_NO_DEVICE in a build without CUDA; opBench rejects
// with ERR_NO_DEVICE when no usable device is present.
void registerBench(Napi::Env env, Napi::Object exports);

}  // namespace plast
