// The Hopper (sm_90a) wgmma GEMM launchers (cuda/sm90/gemm_sm90.cu). Each returns false when it
// cannot run the problem (not a compute capability 9.0 device, unaligned operands), and the caller
// falls back to the mma.sync kernels. Only built when PLAST_WITH_SM90A is defined.
#pragma once
#include "cuda/gemm.cuh"

namespace plast {
namespace cuda {

// small: 128x128 output tiles (two CTAs per SM) instead of 128x256.
bool wgmmaLinear(const GemmParams& p, const char* name, bool small);  // K-major A and B, bf16 epilogue
bool wgmmaFfnUp(const GemmParams& p, const char* name, bool small);   // gate+up, swiglu+count epilogue

}  // namespace cuda
}  // namespace plast
