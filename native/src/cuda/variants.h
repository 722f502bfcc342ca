// A small registry of kernel variants (name -> launcher choice, dtypes, archs) so that the
// benchmark can check each against the CPU reference and time them side by side. Plain C++:
// included by the CUDA sources and by the bench binary. Selection is process-wide.
#pragma once
#include <string>
#include <vector>

namespace plast {
namespace cuda {

struct KernelVariant {
  std::string op;      // "gemm", "ffn_up", "attention", "attention_backward"
  std::string name;    // "auto" is the default heuristic
  std::string dtypes;  // e.g. "bf16 x bf16 -> bf16 (f32 accumulate)"
  std::string archs;   // e.g. "sm_80+"
  std::string note;
};

std::vector<KernelVariant> kernelVariants();
// Throws plast::Error(Invalid) for an unknown op or name.
void selectKernelVariant(const std::string& op, const std::string& name);
std::string selectedKernelVariant(const std::string& op);

}  // namespace cuda
}  // namespace plast
