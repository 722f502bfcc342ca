// plast_bench: the CUDA kernels at benchmark shapes. Every kernel variant is first checked against
// the CPU reference at a moderate shape, then timed (CUDA events, median of repeats) at the
// benchmark shape; the default variants are also spot-checked at the full shape (sampled rows
// against the CPU, and the FFN counts against a count of the gate values the kernel wrote).
// Writes a JSON summary (--json FILE) that scripts/bench_torch.py merges with PyTorch's numbers.
//
// Usage: plast_bench [--json FILE] [--quick] [--once] [--only ffn|gemm|attention] [--seed N]
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cuda/variants.h"
#include "plast/backend.h"
#include "plast/half.h"

using namespace plast;

namespace {

std::mt19937_64 rng(1234);

std::vector<float> randn(size_t n, float sd) {
  std::normal_distribution<float> d(0.f, sd);
  std::vector<float> v(n);
  for (auto& x : v) x = bf16ToF32(f32ToBf16(d(rng)));
  return v;
}

Tensor upload(Backend* be, const std::vector<float>& v, const Shape& s, DType dt) {
  Tensor t = be->empty(s, dt);
  if (dt == DType::F32) {
    be->upload(t, v.data());
  } else {
    std::vector<uint16_t> h(v.size());
    for (size_t i = 0; i < v.size(); ++i) h[i] = f32ToBf16(v[i]);
    be->upload(t, h.data());
  }
  return t;
}

// Random bf16 data generated on the device side cheaply: host random, uploaded once.
Tensor randomDev(Backend* be, const Shape& s, float sd) {
  int64_t n = 1;
  for (auto d : s) n *= d;
  // Generate a 1M-value pool and tile it (fast for multi-GB tensors; still "random" data).
  static std::vector<uint16_t> pool;
  if (pool.empty()) {
    std::normal_distribution<float> d(0.f, 1.f);
    pool.resize(1 << 20);
    for (auto& x : pool) x = f32ToBf16(d(rng));
  }
  std::vector<uint16_t> h(static_cast<size_t>(n));
  std::uniform_int_distribution<int> off(0, (1 << 20) - 1);
  size_t o = static_cast<size_t>(off(rng));
  for (size_t i = 0; i < h.size(); ++i) {
    float f = bf16ToF32(pool[(o + i * 7919) & ((1 << 20) - 1)]) * sd;
    h[i] = f32ToBf16(f);
  }
  Tensor t = be->empty(s, DType::BF16);
  be->upload(t, h.data());
  return t;
}

std::vector<float> download(Backend* be, const Tensor& t) {
  size_t n = static_cast<size_t>(t.numel());
  std::vector<float> out(n);
  if (t.dtype == DType::F32) {
    be->download(t, out.data());
  } else {
    std::vector<uint16_t> h(n);
    be->download(t, h.data());
    for (size_t i = 0; i < n; ++i) out[i] = bf16ToF32(h[i]);
  }
  return out;
}

double relErr(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isinf(b[i]) && a[i] == b[i]) continue;
    if (!std::isfinite(a[i])) return INFINITY;
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

void cudaOk(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e));
    std::exit(2);
  }
}

// Median milliseconds of fn over `iters` timed runs after `warmup` runs.
double timeMs(const std::function<void()>& fn, int warmup, int iters) {
  for (int i = 0; i < warmup; ++i) fn();
  cudaOk(cudaDeviceSynchronize(), "sync");
  std::vector<cudaEvent_t> ev(2 * iters);
  for (auto& e : ev) cudaOk(cudaEventCreate(&e), "event");
  for (int i = 0; i < iters; ++i) {
    cudaEventRecord(ev[2 * i]);
    fn();
    cudaEventRecord(ev[2 * i + 1]);
  }
  cudaOk(cudaEventSynchronize(ev.back()), "event sync");
  std::vector<float> ms(iters);
  for (int i = 0; i < iters; ++i) cudaEventElapsedTime(&ms[i], ev[2 * i], ev[2 * i + 1]);
  for (auto& e : ev) cudaEventDestroy(e);
  std::sort(ms.begin(), ms.end());
  return ms[iters / 2];
}

struct Row {
  std::string bench, variant;
  bool checked = false, ok = false;
  double err = 0;
  double ms = 0, tflops = 0;
  double peakMiB = 0;
  std::string note;
};

std::vector<Row> rows;
bool g_once = false;  // --once: run the default kernels once (for profilers) and return

void printRow(const Row& r) {
  std::printf("  %-16s %-16s check %-4s (rel err %.2e)  %9.3f ms  %7.1f TFLOP/s  peak %8.0f MiB  %s\n",
              r.bench.c_str(), r.variant.c_str(), r.checked ? (r.ok ? "ok" : "FAIL") : "-", r.err, r.ms, r.tflops,
              r.peakMiB, r.note.c_str());
  std::fflush(stdout);
}

std::vector<std::string> variantsOf(const std::string& op) {
  std::vector<std::string> v;
  for (auto& k : cuda::kernelVariants())
    if (k.op == op) v.push_back(k.name);  // "auto" (the default choice) first
  return v;
}

// ---------------------------------------------------------------- GEMM / FFN

bool checkFfnVariant(Backend* gpu, Backend* cpu, double* errOut, std::string* note) {
  const int64_t N = 512, K = 1024, I = 1536;
  auto x = randn(N * K, 1), wg = randn(I * K, 0.03f), wu = randn(I * K, 0.03f);
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
  double e = relErr(download(gpu, hg), download(cpu, hc));
  auto gH = download(gpu, gg);
  std::vector<int64_t> want(I, 0), got(I);
  for (int64_t n = 0; n < N; ++n)
    if (mask[n])
      for (int64_t j = 0; j < I; ++j) want[j] += gH[n * I + j] > 0.f;
  gpu->download(cg, got.data());
  *errOut = e;
  bool countsOk = got == want;
  if (!countsOk) *note += "counts differ from the written gates; ";
  return e < 1e-2 && countsOk;
}

void benchFfn(Backend* gpu, Backend* cpu, bool quick) {
  const int64_t N = quick ? 2048 : 8192, K = 4096, I = 11008;
  const double flops = 6.0 * N * K * I;
  std::printf("== FFN + count: %lld tokens x %lld hidden x %lld intermediate (up fused + down GEMM)\n",
              (long long)N, (long long)K, (long long)I);
  gpu->synchronize();
  size_t base = gpu->bytesInUse();
  gpu->resetPeak();
  Tensor x = randomDev(gpu, {N, K}, 1.f), wg = randomDev(gpu, {I, K}, 0.02f), wu = randomDev(gpu, {I, K}, 0.02f),
         wd = randomDev(gpu, {K, I}, 0.02f);
  std::vector<int32_t> ones(N, 1);
  Tensor mask = gpu->empty({N}, DType::I32);
  gpu->upload(mask, ones.data());
  Tensor counts = gpu->zeros({I}, DType::I64), y = gpu->empty({N, K}, DType::BF16);
  auto run = [&]() {
    Tensor h = gpu->empty({N, I}, DType::BF16);
    gpu->ffnUp(x, wg, wu, &mask, &counts, h, nullptr, nullptr);
    gpu->linear(h, wd, nullptr, y);
  };
  run();
  gpu->synchronize();
  if (g_once) return;
  double peak = double(gpu->peakBytes() - base) / (1 << 20);
  for (const std::string& v : variantsOf("ffn_up")) {
    cuda::selectKernelVariant("ffn_up", v);
    Row r{"ffn+count", v};
    r.checked = true;
    r.ok = checkFfnVariant(gpu, cpu, &r.err, &r.note);
    r.ms = timeMs(run, 3, quick ? 5 : 20);
    r.tflops = flops / (r.ms * 1e-3) / 1e12;
    r.peakMiB = v == "auto" ? peak : 0;  // measured once, for the default
    rows.push_back(r);
    printRow(r);
  }
  cuda::selectKernelVariant("ffn_up", "auto");
  {
    Row up{"ffn_up only", "auto"};
    Tensor h = gpu->empty({N, I}, DType::BF16);
    up.ms = timeMs([&] { gpu->ffnUp(x, wg, wu, &mask, &counts, h, nullptr, nullptr); }, 3, quick ? 5 : 20);
    up.tflops = 4.0 * N * K * I / (up.ms * 1e-3) / 1e12;
    rows.push_back(up);
    printRow(up);
    Row dn{"down gemm only", "auto"};
    dn.ms = timeMs([&] { gpu->linear(h, wd, nullptr, y); }, 3, quick ? 5 : 20);
    dn.tflops = 2.0 * N * K * I / (dn.ms * 1e-3) / 1e12;
    rows.push_back(dn);
    printRow(dn);
  }
  // Full-shape spot checks of the default: 8 sampled rows against the CPU, and the counts.
  {
    Tensor h = gpu->empty({N, I}, DType::BF16), g = gpu->empty({N, I}, DType::BF16);
    Tensor c2 = gpu->zeros({I}, DType::I64);
    gpu->ffnUp(x, wg, wu, &mask, &c2, h, &g, nullptr);
    gpu->linear(h, wd, nullptr, y);
    auto gH = download(gpu, g);
    std::vector<int64_t> want(I, 0), got(I);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t j = 0; j < I; ++j) want[j] += gH[size_t(n) * I + j] > 0.f;
    gpu->download(c2, got.data());
    std::vector<int32_t> pick(8);
    for (auto& p : pick) p = static_cast<int32_t>(rng() % N);
    auto xH = download(gpu, x), hH = download(gpu, h), yH = download(gpu, y);
    std::vector<float> xs(8 * K), hs(8 * I), ys(8 * K);
    for (int r = 0; r < 8; ++r) {
      std::copy(xH.begin() + size_t(pick[r]) * K, xH.begin() + size_t(pick[r] + 1) * K, xs.begin() + r * K);
      std::copy(hH.begin() + size_t(pick[r]) * I, hH.begin() + size_t(pick[r] + 1) * I, hs.begin() + r * I);
      std::copy(yH.begin() + size_t(pick[r]) * K, yH.begin() + size_t(pick[r] + 1) * K, ys.begin() + r * K);
    }
    Tensor xc = upload(cpu, xs, {8, K}, DType::F32), gwc = upload(cpu, download(gpu, wg), {I, K}, DType::F32),
           uwc = upload(cpu, download(gpu, wu), {I, K}, DType::F32), wdc = upload(cpu, download(gpu, wd), {K, I}, DType::F32);
    Tensor hc = cpu->empty({8, I}, DType::F32), yc = cpu->empty({8, K}, DType::F32);
    cpu->ffnUp(xc, gwc, uwc, nullptr, nullptr, hc, nullptr, nullptr);
    Tensor hsc = upload(cpu, hs, {8, I}, DType::F32);  // the down projection of the GPU's own h
    cpu->linear(hsc, wdc, nullptr, yc);
    Row r{"ffn full check", "auto"};
    r.checked = true;
    double eh = relErr(hs, download(cpu, hc)), ey = relErr(ys, download(cpu, yc));
    r.err = std::max(eh, ey);
    r.ok = eh < 1e-2 && ey < 1e-2 && got == want;
    std::ostringstream os;
    os << "8 sampled rows: h " << eh << ", y " << ey << "; counts " << (got == want ? "==" : "!=")
       << " counts of written gates";
    r.note = os.str();
    rows.push_back(r);
    printRow(r);
  }
}

void benchGemm(Backend* gpu, Backend* cpu, bool quick) {
  const int64_t N = quick ? 2048 : 8192, K = 4096, M = 11008;
  std::printf("== linear y = x W^T: %lld x %lld -> %lld (one GEMM, per tile variant)\n", (long long)N, (long long)K,
              (long long)M);
  Tensor x = randomDev(gpu, {N, K}, 1.f), w = randomDev(gpu, {M, K}, 0.02f), y = gpu->empty({N, M}, DType::BF16);
  for (const std::string& v : variantsOf("gemm")) {
    cuda::selectKernelVariant("gemm", v);
    Row r{"linear", v};
    {  // check at a moderate odd shape
      const int64_t n = 333, k = 1024, m = 555;
      auto xs = randn(n * k, 1), ws = randn(m * k, 0.03f);
      Tensor xg = upload(gpu, xs, {n, k}, DType::BF16), wg = upload(gpu, ws, {m, k}, DType::BF16),
             yg = gpu->empty({n, m}, DType::BF16);
      gpu->linear(xg, wg, nullptr, yg);
      Tensor xc = upload(cpu, xs, {n, k}, DType::F32), wc = upload(cpu, ws, {m, k}, DType::F32),
             yc = cpu->empty({n, m}, DType::F32);
      cpu->linear(xc, wc, nullptr, yc);
      r.checked = true;
      r.err = relErr(download(gpu, yg), download(cpu, yc));
      r.ok = r.err < 1e-2;
    }
    r.ms = timeMs([&] { gpu->linear(x, w, nullptr, y); }, 3, quick ? 5 : 15);
    r.tflops = 2.0 * N * K * M / (r.ms * 1e-3) / 1e12;
    rows.push_back(r);
    printRow(r);
  }
  cuda::selectKernelVariant("gemm", "auto");
}

// ---------------------------------------------------------------- attention

bool checkAttention(Backend* gpu, Backend* cpu, bool backward, double* errOut) {
  const int64_t B = 1, T = 333, Hq = 4, Hkv = 2, D = 128;
  Shape qs{B, T, Hq, D}, ks{B, T, Hkv, D};
  auto q = randn(B * T * Hq * D, 1), k = randn(B * T * Hkv * D, 1), v = randn(B * T * Hkv * D, 1),
       dout = randn(B * T * Hq * D, 1);
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
    *errOut = std::max(relErr(download(gpu, og), download(cpu, oc)), relErr(download(gpu, lg), download(cpu, lc)));
    return *errOut < 1e-2;
  }
  Tensor dg = upload(gpu, dout, qs, DType::BF16);
  Tensor dq = gpu->empty(qs, DType::BF16), dk = gpu->empty(ks, DType::BF16), dv = gpu->empty(ks, DType::BF16);
  gpu->attentionBackward(dg, qg, kg, vg, mg, og, lg, scale, 0, dq, dk, dv);
  Tensor oc = upload(cpu, download(gpu, og), qs, DType::F32), lc = upload(cpu, download(gpu, lg), {B, Hq, T}, DType::F32);
  Tensor dc = upload(cpu, dout, qs, DType::F32);
  Tensor dqc = cpu->empty(qs, DType::F32), dkc = cpu->empty(ks, DType::F32), dvc = cpu->empty(ks, DType::F32);
  cpu->attentionBackward(dc, qc, kc, vc, mc, oc, lc, scale, 0, dqc, dkc, dvc);
  *errOut = std::max({relErr(download(gpu, dq), download(cpu, dqc)), relErr(download(gpu, dk), download(cpu, dkc)),
                      relErr(download(gpu, dv), download(cpu, dvc))});
  return *errOut < 2e-2;
}

void benchAttention(Backend* gpu, Backend* cpu, bool quick) {
  const int64_t B = quick ? 1 : 4, Hh = 32, T = 2048, D = 128;
  const double fwdFlops = 4.0 * B * Hh * T * T * D / 2;  // causal: half the score matrix
  std::printf("== causal attention: B %lld x H %lld x T %lld x D %lld\n", (long long)B, (long long)Hh, (long long)T,
              (long long)D);
  Shape qs{B, T, Hh, D};
  float scale = 1.f / std::sqrt(float(D));
  gpu->synchronize();
  size_t base = gpu->bytesInUse();
  gpu->resetPeak();
  Tensor q = randomDev(gpu, qs, 1.f), k = randomDev(gpu, qs, 1.f), v = randomDev(gpu, qs, 1.f);
  std::vector<int32_t> ones(B * T, 1);
  Tensor mask = gpu->empty({B, T}, DType::I32);
  gpu->upload(mask, ones.data());
  Tensor o = gpu->empty(qs, DType::BF16), lse = gpu->empty({B, Hh, T}, DType::F32);
  auto fwd = [&] { gpu->attention(q, k, v, mask, scale, 0, o, &lse); };
  fwd();
  gpu->synchronize();
  double peakFwd = double(gpu->peakBytes() - base) / (1 << 20);
  Tensor dout = randomDev(gpu, qs, 1.f);
  Tensor dq = gpu->empty(qs, DType::BF16), dk = gpu->empty(qs, DType::BF16), dv = gpu->empty(qs, DType::BF16);
  auto fwdbwd = [&] {
    gpu->attention(q, k, v, mask, scale, 0, o, &lse);
    gpu->attentionBackward(dout, q, k, v, mask, o, lse, scale, 0, dq, dk, dv);
  };
  fwdbwd();
  gpu->synchronize();
  if (g_once) return;
  double peak = double(gpu->peakBytes() - base) / (1 << 20);
  for (const std::string& var : variantsOf("attention")) {
    cuda::selectKernelVariant("attention", var);
    Row r{"attn fwd", var};
    r.checked = true;
    r.ok = checkAttention(gpu, cpu, false, &r.err);
    bool slow = var == "generic";
    r.ms = timeMs(fwd, slow ? 1 : 3, slow ? 3 : (quick ? 5 : 30));
    r.tflops = fwdFlops / (r.ms * 1e-3) / 1e12;
    r.peakMiB = var == "auto" ? peakFwd : 0;
    rows.push_back(r);
    printRow(r);
  }
  cuda::selectKernelVariant("attention", "auto");
  for (const std::string& var : variantsOf("attention_backward")) {
    cuda::selectKernelVariant("attention_backward", var);
    Row r{"attn fwd+bwd", var};
    r.checked = true;
    r.ok = checkAttention(gpu, cpu, true, &r.err);
    bool slow = var == "generic";
    r.ms = timeMs(fwdbwd, slow ? 1 : 3, slow ? 3 : (quick ? 5 : 20));
    r.tflops = 3.5 * fwdFlops / (r.ms * 1e-3) / 1e12;  // bwd = 2.5x fwd (flash-attention convention)
    r.peakMiB = var == "auto" ? peak : 0;
    rows.push_back(r);
    printRow(r);
  }
  cuda::selectKernelVariant("attention_backward", "auto");
  // Full-shape spot check of the default forward: 16 sampled (b, h, i) rows against the CPU.
  {
    fwd();
    auto qH = download(gpu, q), kH = download(gpu, k), vH = download(gpu, v), oH = download(gpu, o);
    double num = 0, den = 0;
    for (int s = 0; s < 16; ++s) {
      int64_t b = rng() % B, h = rng() % Hh, i = rng() % T;
      std::vector<double> sc(i + 1);
      double mx = -INFINITY;
      for (int64_t j = 0; j <= i; ++j) {
        double d = 0;
        for (int64_t c = 0; c < D; ++c) d += double(qH[((b * T + i) * Hh + h) * D + c]) * kH[((b * T + j) * Hh + h) * D + c];
        sc[j] = d * scale;
        mx = std::max(mx, sc[j]);
      }
      double sum = 0;
      for (auto& x : sc) sum += (x = std::exp(x - mx));
      for (int64_t c = 0; c < D; ++c) {
        double acc = 0;
        for (int64_t j = 0; j <= i; ++j) acc += sc[j] / sum * vH[((b * T + j) * Hh + h) * D + c];
        double got = oH[((b * T + i) * Hh + h) * D + c];
        num += (got - acc) * (got - acc);
        den += acc * acc;
      }
    }
    Row r{"attn full check", "auto"};
    r.checked = true;
    r.err = std::sqrt(num / den);
    r.ok = r.err < 1e-2;
    r.note = "16 sampled query rows vs float64";
    rows.push_back(r);
    printRow(r);
  }
}

void writeJson(const std::string& path, Backend* gpu) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    return;
  }
  std::fprintf(f, "{\n  \"device\": \"%s\",\n  \"rows\": [\n", gpu->deviceDescription().c_str());
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    std::fprintf(f,
                 "    {\"bench\": \"%s\", \"variant\": \"%s\", \"checked\": %s, \"ok\": %s, \"err\": %.4g, "
                 "\"ms\": %.5f, \"tflops\": %.2f, \"peak_mib\": %.1f, \"note\": \"%s\"}%s\n",
                 r.bench.c_str(), r.variant.c_str(), r.checked ? "true" : "false", r.ok ? "true" : "false",
                 std::isfinite(r.err) ? r.err : 1e30, r.ms, r.tflops, r.peakMiB, r.note.c_str(),
                 i + 1 < rows.size() ? "," : "");
  }
  std::fprintf(f, "  ]\n}\n");
  std::fclose(f);
}

}  // namespace

int main(int argc, char** argv) {
  std::string json;
  bool quick = false;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--json") && i + 1 < argc) json = argv[++i];
    else if (!std::strcmp(argv[i], "--quick")) quick = true;
    else if (!std::strcmp(argv[i], "--once")) g_once = true;
    else if (!std::strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
    else if (!std::strcmp(argv[i], "--seed") && i + 1 < argc) rng.seed(std::strtoull(argv[++i], nullptr, 10));
    else {
      std::fprintf(stderr, "usage: %s [--json FILE] [--quick] [--once] [--only ffn|gemm|attention] [--seed N]\n", argv[0]);
      return 2;
    }
  }
  Backend* gpu = nullptr;
  for (const BackendInfo& b : listBackends())
    if (b.name == "cuda" && !b.available) {
      std::printf("plast_bench: skipped: %s\n", b.reason.c_str());
      return 0;
    }
  int failed = 0;
  try {
    gpu = getBackend("cuda");
    Backend* cpu = getBackend("cpu");
    std::printf("plast_bench on %s%s\n", gpu->deviceDescription().c_str(), quick ? " (quick shapes)" : "");
    std::printf("kernel variants:\n");
    for (auto& v : cuda::kernelVariants())
      std::printf("  %-20s %-16s %-30s %-7s %s\n", v.op.c_str(), v.name.c_str(), v.dtypes.c_str(), v.archs.c_str(),
                  v.note.c_str());
    if (only.empty() || only == "ffn") benchFfn(gpu, cpu, quick);
    if (only.empty() || only == "gemm") benchGemm(gpu, cpu, quick);
    if (only.empty() || only == "attention") benchAttention(gpu, cpu, quick);
  } catch (const std::exception& e) {
    std::printf("plast_bench: error: %s\n", e.what());
    failed = 1;
  }
  for (const Row& r : rows) failed += r.checked && !r.ok;
  if (!json.empty() && gpu) writeJson(json, gpu);
  std::printf("plast_bench: %zu rows, %d failed checks\n", rows.size(), failed);
  return failed ? 1 : 0;
}
