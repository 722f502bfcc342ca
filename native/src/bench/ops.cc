// The kernel-variant benchmarks (`plast bench --op`, plast_bench --op): every variant of an op
// is checked against the CPU reference, then timed; a variant that fails its check is reported,
// not timed. Host code: kernels are reached through the backend ops and the variant registry;
// timing uses CUDA events on the default stream, as the ops do.
#include "bench/bench.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <sstream>

#include "bench/util.h"
#include "cuda/random.h"
#include "cuda/variants.h"
#include "plast/backend.h"
#include "plast/compare.h"
#include "plast/half.h"

namespace plast {
namespace cuda {
namespace {

using namespace bench;

struct DeviceArch {
  int major = 0, minor = 0;
};
DeviceArch deviceArch() {
  DeviceArch a;
  int dev = 0;
  cudaOk(cudaGetDevice(&dev), "cudaGetDevice");
  cudaOk(cudaDeviceGetAttribute(&a.major, cudaDevAttrComputeCapabilityMajor, dev), "compute capability");
  cudaOk(cudaDeviceGetAttribute(&a.minor, cudaDevAttrComputeCapabilityMinor, dev), "compute capability");
  return a;
}

// Why a registered variant cannot run here ("" when it can).
std::string unavailableReason(const KernelVariant& v) {
  if (v.archs.find("sm_90a") == std::string::npos) return "";
#ifndef PLAST_WITH_SM90A
  return "not compiled in (this build has no sm_90a objects)";
#else
  DeviceArch a = deviceArch();
  if (a.major != 9 || a.minor != 0) {
    std::ostringstream os;
    os << "needs sm_90a; this device is sm_" << a.major << a.minor;
    return os.str();
  }
  return "";
#endif
}

// Selects a variant for the lifetime of the guard, then restores "auto".
struct VariantGuard {
  std::string op;
  VariantGuard(const std::string& o, const std::string& v) : op(o) { selectKernelVariant(op, v); }
  ~VariantGuard() {
    try {
      selectKernelVariant(op, "auto");
    } catch (...) {
    }
  }
};

struct Ctx {
  Backend* gpu;
  Backend* cpu;
  const OpBenchOptions& o;
  std::mt19937_64 rng;
  std::vector<BenchRow>* rows;
  void emit(const BenchRow& r) {
    rows->push_back(r);
    if (o.onRow) o.onRow(r);
  }
  int iters(int dflt) const { return o.iters > 0 ? o.iters : (o.quick ? std::max(3, dflt / 4) : dflt); }
};

// Runs check() then, if it passed, time() for each requested variant.
void eachVariant(Ctx& c, const std::string& kop, const std::vector<std::string>& variants, const std::string& bench,
                 const std::string& shape, const std::function<bool(double*, std::string*)>& check,
                 const std::function<double(const std::string&)>& time, double flops, double peakAuto) {
  std::vector<KernelVariant> all = kernelVariants();
  for (const std::string& v : variants) {
    const KernelVariant* kv = nullptr;
    for (auto& k : all)
      if (k.op == kop && k.name == v) kv = &k;
    BenchRow r;
    r.bench = bench;
    r.variant = v;
    r.shape = shape;
    std::string why = kv ? unavailableReason(*kv) : "unknown variant";
    if (!why.empty()) {
      r.note = "not run: " + why;
      c.emit(r);
      continue;
    }
    VariantGuard g(kop, v);
    r.checked = true;
    try {
      r.ok = check(&r.err, &r.note);
    } catch (const Error& e) {
      r.ok = false;
      r.err = INFINITY;
      r.note += std::string("check threw: ") + e.what() + "; ";
      if (e.code() == Code::Device) {  // a device fault poisons the context: stop here
        c.emit(r);
        throw;
      }
    }
    if (!r.ok) {
      r.note += "not timed: failed the CPU check";
      c.emit(r);
      continue;
    }
    r.ms = time(v);
    r.timed = true;
    r.tflops = flops / (r.ms * 1e-3) / 1e12;
    if (v == "auto") r.peakMiB = peakAuto;
    c.emit(r);
  }
}

// ---------------------------------------------------------------- FFN

bool checkFfn(Ctx& c, double* errOut, std::string* note) {
  Backend *gpu = c.gpu, *cpu = c.cpu;
  const int64_t N = 512, K = 1024, I = 1536;
  auto x = randn(c.rng, N * K, 1), wg = randn(c.rng, I * K, 0.03f), wu = randn(c.rng, I * K, 0.03f);
  std::vector<int32_t> mask(N);
  for (int64_t n = 0; n < N; ++n) mask[n] = (n % 5) != 3;
  Tensor xg = upload(gpu, x, {N, K}, DType::BF16), gw = upload(gpu, wg, {I, K}, DType::BF16),
         uw = upload(gpu, wu, {I, K}, DType::BF16);
  Tensor mg = gpu->empty({N}, DType::I32);
  gpu->upload(mg, mask.data());
  Tensor cg = gpu->zeros({I}, DType::I64), hg = gpu->empty({N, I}, DType::BF16), gg = gpu->empty({N, I}, DType::BF16);
  gpu->ffnUp(xg, gw, uw, &mg, &cg, hg, &gg, nullptr);
  Tensor xc = upload(cpu, x, {N, K}, DType::F32), gwc = upload(cpu, wg, {I, K}, DType::F32),
         uwc = upload(cpu, wu, {I, K}, DType::F32);
  Tensor mc = cpu->empty({N}, DType::I32);
  cpu->upload(mc, mask.data());
  Tensor cc = cpu->zeros({I}, DType::I64), hc = cpu->empty({N, I}, DType::F32);
  cpu->ffnUp(xc, gwc, uwc, &mc, &cc, hc, nullptr, nullptr);
  double e = relErr(toHost(gpu, hg), toHost(cpu, hc));
  auto gH = toHost(gpu, gg);
  std::vector<int64_t> want(I, 0), got(I);
  for (int64_t n = 0; n < N; ++n)
    if (mask[n])
      for (int64_t j = 0; j < I; ++j) want[j] += gH[n * I + j] > 0.f;
  gpu->download(cg, got.data());
  *errOut = e;
  bool countsOk = got == want;
  if (!countsOk) *note += "counts differ from the counts of the gates it wrote; ";
  return e < 1e-2 && countsOk;
}

void benchFfn(Ctx& c, const std::vector<std::string>& variants) {
  Backend *gpu = c.gpu, *cpu = c.cpu;
  const int64_t N = c.o.quick ? 2048 : 8192, K = 4096, I = 11008;
  const double flops = 6.0 * N * K * I;
  const std::string shape = shapeOf({N, K, I});
  gpu->synchronize();
  size_t base = gpu->bytesInUse();
  gpu->resetPeak();
  Tensor x = randomDev(gpu, {N, K}, c.o.seed + 1, 1.f), wg = randomDev(gpu, {I, K}, c.o.seed + 2, 0.02f),
         wu = randomDev(gpu, {I, K}, c.o.seed + 3, 0.02f), wd = randomDev(gpu, {K, I}, c.o.seed + 4, 0.02f);
  std::vector<int32_t> ones(N, 1);
  Tensor mask = gpu->empty({N}, DType::I32);
  gpu->upload(mask, ones.data());
  Tensor counts = gpu->zeros({I}, DType::I64), y = gpu->empty({N, K}, DType::BF16);
  auto run = [&]() {
    Tensor h = gpu->empty({N, I}, DType::BF16);
    gpu->ffnUp(x, wg, wu, &mask, &counts, h, nullptr, nullptr);
    gpu->linear(h, wd, nullptr, y);
  };
  run();  // with "auto": the default's peak memory
  gpu->synchronize();
  if (c.o.once) return;
  double peak = double(gpu->peakBytes() - base) / (1 << 20);
  int it = c.iters(20);
  eachVariant(
      c, "ffn_up", variants, "ffn+count", shape, [&](double* e, std::string* n) { return checkFfn(c, e, n); },
      [&](const std::string&) { return timeMs(run, 3, it); }, flops, peak);
  bool withAuto = std::find(variants.begin(), variants.end(), "auto") != variants.end();
  if (!withAuto || !c.o.fullCheck) return;
  {
    BenchRow up;
    up.bench = "ffn_up only";
    up.variant = "auto";
    up.shape = shape;
    Tensor h = gpu->empty({N, I}, DType::BF16);
    up.ms = timeMs([&] { gpu->ffnUp(x, wg, wu, &mask, &counts, h, nullptr, nullptr); }, 3, it);
    up.timed = true;
    up.tflops = 4.0 * N * K * I / (up.ms * 1e-3) / 1e12;
    c.emit(up);
    BenchRow dn;
    dn.bench = "down gemm only";
    dn.variant = "auto";
    dn.shape = shape;
    dn.ms = timeMs([&] { gpu->linear(h, wd, nullptr, y); }, 3, it);
    dn.timed = true;
    dn.tflops = 2.0 * N * K * I / (dn.ms * 1e-3) / 1e12;
    c.emit(dn);
  }
  // Full-shape spot check of the default: 8 sampled rows against the CPU, and all the counts.
  Tensor h = gpu->empty({N, I}, DType::BF16), g = gpu->empty({N, I}, DType::BF16);
  Tensor c2 = gpu->zeros({I}, DType::I64);
  gpu->ffnUp(x, wg, wu, &mask, &c2, h, &g, nullptr);
  gpu->linear(h, wd, nullptr, y);
  auto gH = toHost(gpu, g);
  std::vector<int64_t> want(I, 0), got(I);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = 0; j < I; ++j) want[j] += gH[size_t(n) * I + j] > 0.f;
  gH.clear();
  gH.shrink_to_fit();
  gpu->download(c2, got.data());
  std::vector<int64_t> pick(8);
  for (auto& p : pick) p = static_cast<int64_t>(c.rng() % N);
  auto xH = toHost(gpu, x), hH = toHost(gpu, h), yH = toHost(gpu, y);
  std::vector<float> xs(8 * K), hs(8 * I), ys(8 * K);
  for (int r = 0; r < 8; ++r) {
    std::copy(xH.begin() + pick[r] * K, xH.begin() + (pick[r] + 1) * K, xs.begin() + r * K);
    std::copy(hH.begin() + pick[r] * I, hH.begin() + (pick[r] + 1) * I, hs.begin() + r * I);
    std::copy(yH.begin() + pick[r] * K, yH.begin() + (pick[r] + 1) * K, ys.begin() + r * K);
  }
  Tensor xc = upload(cpu, xs, {8, K}, DType::F32), gwc = upload(cpu, toHost(gpu, wg), {I, K}, DType::F32),
         uwc = upload(cpu, toHost(gpu, wu), {I, K}, DType::F32),
         wdc = upload(cpu, toHost(gpu, wd), {K, I}, DType::F32);
  Tensor hc = cpu->empty({8, I}, DType::F32), yc = cpu->empty({8, K}, DType::F32);
  cpu->ffnUp(xc, gwc, uwc, nullptr, nullptr, hc, nullptr, nullptr);
  Tensor hsc = upload(cpu, hs, {8, I}, DType::F32);  // the down projection of the GPU's own h
  cpu->linear(hsc, wdc, nullptr, yc);
  BenchRow r;
  r.bench = "ffn full check";
  r.variant = "auto";
  r.shape = shape;
  r.checked = true;
  double eh = relErr(hs, toHost(cpu, hc)), ey = relErr(ys, toHost(cpu, yc));
  r.err = std::max(eh, ey);
  r.ok = eh < 1e-2 && ey < 1e-2 && got == want;
  std::ostringstream os;
  os << "8 sampled rows: h " << eh << ", y " << ey << "; counts " << (got == want ? "==" : "!=")
     << " counts of the written gates";
  r.note = os.str();
  c.emit(r);
}

// ---------------------------------------------------------------- linear

void benchLinear(Ctx& c, const std::vector<std::string>& variants) {
  Backend *gpu = c.gpu, *cpu = c.cpu;
  const int64_t N = c.o.quick ? 2048 : 8192, K = 4096, M = 11008;
  Tensor x = randomDev(gpu, {N, K}, c.o.seed + 5, 1.f), w = randomDev(gpu, {M, K}, c.o.seed + 6, 0.02f),
         y = gpu->empty({N, M}, DType::BF16);
  if (c.o.once) {
    gpu->linear(x, w, nullptr, y);
    gpu->synchronize();
    return;
  }
  auto check = [&](double* e, std::string*) {
    const int64_t n = 333, k = 1024, m = 555;  // odd shapes: the edge tiles
    auto xs = randn(c.rng, n * k, 1), ws = randn(c.rng, m * k, 0.03f);
    Tensor xg = upload(gpu, xs, {n, k}, DType::BF16), wg = upload(gpu, ws, {m, k}, DType::BF16),
           yg = gpu->empty({n, m}, DType::BF16);
    gpu->linear(xg, wg, nullptr, yg);
    Tensor xc = upload(cpu, xs, {n, k}, DType::F32), wc = upload(cpu, ws, {m, k}, DType::F32),
           yc = cpu->empty({n, m}, DType::F32);
    cpu->linear(xc, wc, nullptr, yc);
    *e = relErr(toHost(gpu, yg), toHost(cpu, yc));
    return *e < 1e-2;
  };
  eachVariant(
      c, "gemm", variants, "linear", shapeOf({N, K, M}), check,
      [&](const std::string&) { return timeMs([&] { gpu->linear(x, w, nullptr, y); }, 3, c.iters(15)); },
      2.0 * N * K * M, 0);
}

// ---------------------------------------------------------------- attention

bool checkAttention(Ctx& c, bool backward, double* errOut) {
  Backend *gpu = c.gpu, *cpu = c.cpu;
  const int64_t B = 1, T = 333, Hq = 4, Hkv = 2, D = 128;
  Shape qs{B, T, Hq, D}, ks{B, T, Hkv, D};
  auto q = randn(c.rng, B * T * Hq * D, 1), k = randn(c.rng, B * T * Hkv * D, 1),
       v = randn(c.rng, B * T * Hkv * D, 1), dout = randn(c.rng, B * T * Hq * D, 1);
  std::vector<int32_t> mask(B * T, 1);
  for (int t = 0; t < 7; ++t) mask[t] = 0;  // left padding
  float scale = 1.f / std::sqrt(float(D));
  Tensor qg = upload(gpu, q, qs, DType::BF16), kg = upload(gpu, k, ks, DType::BF16), vg = upload(gpu, v, ks, DType::BF16);
  Tensor mg = gpu->empty({B, T}, DType::I32), mc = cpu->empty({B, T}, DType::I32);
  gpu->upload(mg, mask.data());
  cpu->upload(mc, mask.data());
  Tensor og = gpu->empty(qs, DType::BF16), lg = gpu->empty({B, Hq, T}, DType::F32);
  gpu->attention(qg, kg, vg, mg, scale, 0, og, &lg);
  Tensor qc = upload(cpu, q, qs, DType::F32), kc = upload(cpu, k, ks, DType::F32), vc = upload(cpu, v, ks, DType::F32);
  if (!backward) {
    Tensor oc = cpu->empty(qs, DType::F32), lc = cpu->empty({B, Hq, T}, DType::F32);
    cpu->attention(qc, kc, vc, mc, scale, 0, oc, &lc);
    *errOut = std::max(relErr(toHost(gpu, og), toHost(cpu, oc)), relErr(toHost(gpu, lg), toHost(cpu, lc)));
    return *errOut < 1e-2;
  }
  Tensor dg = upload(gpu, dout, qs, DType::BF16);
  Tensor dq = gpu->empty(qs, DType::BF16), dk = gpu->empty(ks, DType::BF16), dv = gpu->empty(ks, DType::BF16);
  gpu->attentionBackward(dg, qg, kg, vg, mg, og, lg, scale, 0, dq, dk, dv);
  Tensor oc = upload(cpu, toHost(gpu, og), qs, DType::F32), lc = upload(cpu, toHost(gpu, lg), {B, Hq, T}, DType::F32);
  Tensor dc = upload(cpu, dout, qs, DType::F32);
  Tensor dqc = cpu->empty(qs, DType::F32), dkc = cpu->empty(ks, DType::F32), dvc = cpu->empty(ks, DType::F32);
  cpu->attentionBackward(dc, qc, kc, vc, mc, oc, lc, scale, 0, dqc, dkc, dvc);
  *errOut = std::max({relErr(toHost(gpu, dq), toHost(cpu, dqc)), relErr(toHost(gpu, dk), toHost(cpu, dkc)),
                      relErr(toHost(gpu, dv), toHost(cpu, dvc))});
  return *errOut < 2e-2;
}

void benchAttention(Ctx& c, const std::vector<std::string>& variants, bool backward) {
  Backend* gpu = c.gpu;
  const int64_t B = c.o.quick ? 1 : 4, Hh = 32, T = 2048, D = 128;
  const double fwdFlops = 4.0 * B * Hh * T * T * D / 2;  // causal: half the score matrix
  const std::string shape = shapeOf({B, Hh, T, D});
  Shape qs{B, T, Hh, D};
  float scale = 1.f / std::sqrt(float(D));
  gpu->synchronize();
  size_t base = gpu->bytesInUse();
  gpu->resetPeak();
  Tensor q = randomDev(gpu, qs, c.o.seed + 7, 1.f), k = randomDev(gpu, qs, c.o.seed + 8, 1.f),
         v = randomDev(gpu, qs, c.o.seed + 9, 1.f);
  std::vector<int32_t> ones(B * T, 1);
  Tensor mask = gpu->empty({B, T}, DType::I32);
  gpu->upload(mask, ones.data());
  Tensor o = gpu->empty(qs, DType::BF16), lse = gpu->empty({B, Hh, T}, DType::F32);
  auto fwd = [&] { gpu->attention(q, k, v, mask, scale, 0, o, &lse); };
  Tensor dout, dq, dk, dv;
  std::function<void()> run = fwd;
  if (backward) {
    dout = randomDev(gpu, qs, c.o.seed + 10, 1.f);
    dq = gpu->empty(qs, DType::BF16);
    dk = gpu->empty(qs, DType::BF16);
    dv = gpu->empty(qs, DType::BF16);
    run = [&] {
      gpu->attention(q, k, v, mask, scale, 0, o, &lse);
      gpu->attentionBackward(dout, q, k, v, mask, o, lse, scale, 0, dq, dk, dv);
    };
  }
  run();
  gpu->synchronize();
  if (c.o.once) return;
  double peak = double(gpu->peakBytes() - base) / (1 << 20);
  eachVariant(
      c, backward ? "attention_backward" : "attention", variants, backward ? "attn fwd+bwd" : "attn fwd", shape,
      [&](double* e, std::string*) { return checkAttention(c, backward, e); },
      [&](const std::string& var) {
        bool slow = var == "generic";
        return timeMs(run, slow ? 1 : 3, slow ? 3 : c.iters(backward ? 20 : 30));
      },
      backward ? 3.5 * fwdFlops : fwdFlops,  // bwd = 2.5x fwd (flash-attention convention)
      peak);
  bool withAuto = std::find(variants.begin(), variants.end(), "auto") != variants.end();
  if (backward || !withAuto || !c.o.fullCheck) return;
  // Full-shape spot check of the default forward: 16 sampled (b, h, i) rows against float64.
  fwd();
  auto qH = toHost(gpu, q), kH = toHost(gpu, k), vH = toHost(gpu, v), oH = toHost(gpu, o);
  double num = 0, den = 0;
  for (int s = 0; s < 16; ++s) {
    int64_t b = c.rng() % B, h = c.rng() % Hh, i = c.rng() % T;
    std::vector<double> sc(i + 1);
    double mx = -INFINITY;
    for (int64_t j = 0; j <= i; ++j) {
      double d = 0;
      for (int64_t e = 0; e < D; ++e) d += double(qH[((b * T + i) * Hh + h) * D + e]) * kH[((b * T + j) * Hh + h) * D + e];
      sc[j] = d * scale;
      mx = std::max(mx, sc[j]);
    }
    double sum = 0;
    for (auto& x : sc) sum += (x = std::exp(x - mx));
    for (int64_t e = 0; e < D; ++e) {
      double acc = 0;
      for (int64_t j = 0; j <= i; ++j) acc += sc[j] / sum * vH[((b * T + j) * Hh + h) * D + e];
      double got = oH[((b * T + i) * Hh + h) * D + e];
      num += (got - acc) * (got - acc);
      den += acc * acc;
    }
  }
  BenchRow r;
  r.bench = "attn full check";
  r.variant = "auto";
  r.shape = shape;
  r.checked = true;
  r.err = std::sqrt(num / den);
  r.ok = r.err < 1e-2;
  r.note = "16 sampled query rows vs float64";
  c.emit(r);
}

}  // namespace

std::vector<std::string> benchOps() { return {"ffn", "linear", "attn", "attn-bwd"}; }

std::string kernelOpFor(const std::string& op) {
  if (op == "ffn") return "ffn_up";
  if (op == "linear") return "gemm";
  if (op == "attn") return "attention";
  if (op == "attn-bwd") return "attention_backward";
  PLAST_FAIL(Code::Invalid, "Expected a bench op of ffn, linear, attn or attn-bwd but received '" << op << "'");
}

std::vector<BenchRow> runOpBench(const OpBenchOptions& o) {
  std::string kop = kernelOpFor(o.op);
  Backend* gpu = getBackend("cuda");  // NoDevice (with the reason) without a usable device
  Backend* cpu = getBackend("cpu");
  std::vector<std::string> variants;
  bool all = o.variants.empty() || std::find(o.variants.begin(), o.variants.end(), "all") != o.variants.end();
  for (const KernelVariant& k : kernelVariants())
    if (k.op == kop && (all || std::find(o.variants.begin(), o.variants.end(), k.name) != o.variants.end()))
      variants.push_back(k.name);
  if (!all)
    for (const std::string& v : o.variants)
      if (std::find(variants.begin(), variants.end(), v) == variants.end()) {
        std::ostringstream os;
        for (const KernelVariant& k : kernelVariants())
          if (k.op == kop) os << (os.tellp() > 0 ? ", " : "") << k.name;
        PLAST_FAIL(Code::Invalid, "unknown kernel variant '" << v << "' for --op " << o.op << " (" << kop
                                                             << "); expected all or one of " << os.str());
      }
  std::vector<BenchRow> rows;
  Ctx c{gpu, cpu, o, std::mt19937_64(o.seed), &rows};
  if (o.op == "ffn") benchFfn(c, variants);
  else if (o.op == "linear") benchLinear(c, variants);
  else benchAttention(c, variants, o.op == "attn-bwd");
  gpu->synchronize();
  return rows;
}

}  // namespace cuda
}  // namespace plast
