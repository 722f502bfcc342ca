// The kernel-variant registry (see variants.h). Launchers ask variantIndex(op): 0 = auto.
#include <atomic>

#include "cuda/common.cuh"
#include "cuda/variants.h"

namespace plast {
namespace cuda {
namespace {

const std::vector<KernelVariant>& table() {
  static const std::vector<KernelVariant> t = {
      {"gemm", "auto", "bf16 x bf16 -> bf16 | f32 +=", "sm_80+",
       "wgmma on sm_90 for large linear forwards, else an mma.sync tile by problem size"},
      {"gemm", "tc128x256s4", "bf16 x bf16 -> bf16 | f32 +=", "sm_80+",
       "mma.sync m16n8k16, cp.async 4 stages, 8 warps of 64x64"},
      {"gemm", "tc128x128s4", "bf16 x bf16 -> bf16 | f32 +=", "sm_80+",
       "mma.sync m16n8k16, cp.async 4 stages, 8 warps of 64x32"},
      {"gemm", "tc64x64s3", "bf16 x bf16 -> bf16 | f32 +=", "sm_80+",
       "mma.sync m16n8k16, cp.async 3 stages, 4 warps of 32x32 (small problems, unaligned rows)"},
      {"gemm", "wgmma128x256", "bf16 x bf16 -> bf16", "sm_90a",
       "linear forward only: wgmma m64n128k16 from 128B-swizzled smem, cp.async 4 stages of 64"},
      {"gemm", "wgmma128x128", "bf16 x bf16 -> bf16", "sm_90a",
       "linear forward only: wgmma m64n64k16, 3 stages, two CTAs per SM"},
      {"ffn_up", "auto", "bf16 -> bf16, i64 counts", "sm_80+", "wgmma on sm_90 when large, else fused128x128s4"},
      {"ffn_up", "fused128x128s4", "bf16 -> bf16, i64 counts", "sm_80+",
       "one kernel: gate+up tiles (128 tokens x 128 neurons each), swiglu + count epilogue"},
      {"ffn_up", "fused128x128s3", "bf16 -> bf16, i64 counts", "sm_80+", "as above, 3 stages"},
      {"ffn_up", "unfused", "bf16 -> bf16, i64 counts", "sm_80+",
       "two GEMMs then the swiglu+count kernel (the composed reference path)"},
      {"ffn_up", "wgmma128x128x2", "bf16 -> bf16, i64 counts", "sm_90a",
       "one wgmma kernel: gate+up 128x128 tiles per CTA, swiglu + count epilogue"},
      {"ffn_up", "wgmma128x64x2", "bf16 -> bf16, i64 counts", "sm_90a",
       "as above with 128x64 gate+up tiles, 3 stages, two CTAs per SM"},
      {"attention", "auto", "bf16, f32 lse", "sm_80+", "flash for head dim 64/128, else generic"},
      {"attention", "flash_w4m2", "bf16, f32 lse", "sm_80+",
       "flash fwd: 4 warps x 32 query rows, 64-key tiles, double-buffered cp.async"},
      {"attention", "flash_w8m1", "bf16, f32 lse", "sm_80+",
       "flash fwd: 8 warps x 16 query rows, 64-key tiles"},
      {"attention", "generic", "bf16, f32 lse", "sm_80+", "one warp per query row, any head dim <= 256"},
      {"attention", "flash_w4m2k32", "bf16, f32 lse", "sm_80+",
       "flash fwd: 4 warps x 32 query rows, 32-key tiles (fewer registers)"},
      {"attention_backward", "auto", "bf16", "sm_80+", "flash for head dim 64/128, else generic"},
      {"attention_backward", "flash", "bf16", "sm_80+",
       "flash bwd: 64-key tiles per CTA over the GQA group, dq by f32 atomics"},
      {"attention_backward", "generic", "bf16", "sm_80+", "warp per query (dq) and per key (dk, dv)"},
      {"attention_backward", "flash_k128", "bf16", "sm_80+",
       "flash bwd: 128-key tiles, 8 warps (half the dq atomics)"},
  };
  return t;
}

const char* kOps[] = {"gemm", "ffn_up", "attention", "attention_backward"};
std::atomic<int> g_sel[4] = {{0}, {0}, {0}, {0}};

int opSlot(const std::string& op) {
  for (int i = 0; i < 4; ++i)
    if (op == kOps[i]) return i;
  return -1;
}

}  // namespace

std::vector<KernelVariant> kernelVariants() { return table(); }

void selectKernelVariant(const std::string& op, const std::string& name) {
  int slot = opSlot(op);
  PLAST_CHECK(slot >= 0, Code::Invalid,
              "unknown kernel op '" << op << "'; expected gemm, ffn_up, attention or attention_backward");
  int idx = 0;
  for (const KernelVariant& v : table()) {
    if (v.op != op) continue;
    if (v.name == name) {
      g_sel[slot].store(idx);
      return;
    }
    ++idx;
  }
  PLAST_FAIL(Code::Invalid, "unknown kernel variant '" << name << "' for " << op);
}

std::string selectedKernelVariant(const std::string& op) {
  int slot = opSlot(op);
  PLAST_CHECK(slot >= 0, Code::Invalid, "unknown kernel op '" << op << "'");
  int want = g_sel[slot].load(), idx = 0;
  for (const KernelVariant& v : table()) {
    if (v.op != op) continue;
    if (idx++ == want) return v.name;
  }
  return "auto";
}

int variantIndex(const char* op) {
  int slot = opSlot(op);
  return slot < 0 ? 0 : g_sel[slot].load();
}

}  // namespace cuda
}  // namespace plast
