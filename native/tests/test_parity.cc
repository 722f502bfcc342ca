// Every op on the CUDA backend against the CPU reference. Inputs are drawn fresh (seeded), rounded
// to bf16, and given to the CPU widened to f32; outputs are poisoned with NaN first so unwritten
// elements fail; comparisons use ‖out − ref‖ / ‖ref‖ with bf16 tolerances. Gate counts from the
// fused FFN kernel must equal the counts taken from the bf16 gate values it wrote.
#include <algorithm>
#include <cstring>
#include <functional>

#include "test_util.h"
#ifdef PLAST_WITH_CUDA
#include "cuda/variants.h"
#endif

namespace plast {
namespace test {
namespace {

constexpr double kBf16Tol = 1e-2;   // bf16 outputs of f32-accumulated math
constexpr double kRoundTol = 4e-3;  // one bf16 rounding of an exact f32 result
constexpr double kF32Tol = 1e-5;

struct Pair {
  Backend* cpu;
  Backend* gpu;
  Tensor c, g;  // the same values: f32 on the CPU, bf16 (or as given) on the GPU
};

struct Ctx {
  Harness& H;
  Backend* cpu;
  Backend* gpu;
  // bf16-rounded random values on both backends
  DType act;  // the activation dtype of the backend under test
  // gpuType U8 stands for the activation dtype
  std::pair<Tensor, Tensor> both(const std::vector<float>& v, const Shape& s, DType gpuType = DType::U8) {
    return {makeTensor(cpu, v, s, DType::F32), makeTensor(gpu, v, s, gpuType == DType::U8 ? act : gpuType)};
  }
  std::pair<Tensor, Tensor> bothI32(const std::vector<int32_t>& v, const Shape& s) {
    return {makeI32(cpu, v, s), makeI32(gpu, v, s)};
  }
  std::vector<float> rnd(size_t n, float sd) { return bf16Round(H.normal(n, sd)); }
};

template <typename F>
void expectError(Harness& H, const std::string& name, Code want, F&& f, const char* mustContain = nullptr) {
  try {
    f();
    H.result(name, false, "no error thrown");
  } catch (const Error& e) {
    bool ok = e.code() == want && (!mustContain || std::strstr(e.what(), mustContain));
    H.result(name, ok, std::string(e.codeName()) + ": " + e.what());
  } catch (const std::exception& e) {
    H.result(name, false, std::string("not a plast::Error: ") + e.what());
  }
}

std::string shp(std::initializer_list<int64_t> d) { return shapeStr(Shape(d)); }

// ---------------------------------------------------------------------------------------------

void testBackendBasics(Ctx& c) {
  Harness& H = c.H;
  Backend* g = c.gpu;
  H.result("cuda activation dtype is bf16", g->activationDType() == DType::BF16, "");
  bool all = true;
  for (int i = 0; i < static_cast<int>(Op::Count_); ++i) {
    Op op = static_cast<Op>(i);
    DType want = (op == Op::AdamW || op == Op::SumSquares) ? DType::F32 : DType::BF16;
    all = all && g->supportsOp(op, want) != isCpuOnly(op);
  }
  H.result("cuda supportsOp: every op with its native dtype, none of the CPU-only ones", all, "");
  {
    Tensor x = makeTensor(g, c.rnd(8, 1), {2, 4}, DType::BF16), w = makeTensor(g, c.rnd(4, 1), {4}, DType::BF16);
    Tensor y = g->empty({2, 4}, DType::BF16);
    expectError(H, "cuda layernorm (CPU-only so far) throws ERR_UNSUPPORTED", Code::Unsupported,
                [&] { g->layernorm(x, w, nullptr, 1e-5f, y); }, "layernorm is not implemented on the cuda backend");
    Tensor q = makeTensor(g, c.rnd(16, 1), {1, 2, 2, 4}, DType::BF16), km = makeI32(g, {1, 1}, {1, 2});
    Tensor o = g->empty({1, 2, 2, 4}, DType::BF16);
    expectError(H, "cuda full attention (CPU-only so far) throws ERR_UNSUPPORTED", Code::Unsupported,
                [&] { g->attention(q, q, q, km, 0.5f, AttnMask::full(), o, nullptr); }, "full (bidirectional) attention");
  }
  H.result("cuda supportsOp: linear with f32 activations is declared unsupported",
           !g->supportsOp(Op::Linear, DType::F32), "");
  {
    Tensor x = makeTensor(g, c.rnd(12, 1), {3, 4}, DType::F32), w = makeTensor(g, c.rnd(8, 1), {2, 4}, DType::BF16);
    Tensor y = g->empty({3, 2}, DType::F32);
    expectError(H, "cuda linear with f32 activations throws ERR_DTYPE", Code::DType, [&] { g->linear(x, w, nullptr, y); });
  }
  size_t before = g->bytesInUse();
  {
    Tensor t = g->empty({1000, 1000}, DType::F32);
    H.result("cuda bytesInUse grows by the allocation", g->bytesInUse() >= before + 4000000, "");
    H.result("cuda peakBytes >= bytesInUse", g->peakBytes() >= g->bytesInUse(), "");
  }
  H.result("cuda bytesInUse returns after release", g->bytesInUse() == before, "");
  expectError(H, "cuda allocation beyond device memory throws ERR_OOM with the size", Code::OOM,
              [&] { g->empty({int64_t(1) << 50}, DType::U8); }, "1125899906842624");
  {
    Tensor x = makeTensor(g, c.rnd(12, 1), {3, 4}, DType::BF16), w = makeTensor(g, c.rnd(10, 1), {2, 5}, DType::BF16);
    Tensor y = g->empty({3, 2}, DType::BF16);
    expectError(H, "cuda linear with mismatched shapes throws ERR_SHAPE", Code::Shape, [&] { g->linear(x, w, nullptr, y); });
    Tensor hx = makeTensor(c.cpu, c.rnd(12, 1), {3, 4}, DType::F32);
    Tensor w2 = makeTensor(g, c.rnd(8, 1), {2, 4}, DType::BF16);
    expectError(H, "cuda op given a cpu tensor throws ERR_INVALID", Code::Invalid, [&] { g->linear(hx, w2, nullptr, y); });
    Tensor ids = makeI32(g, {0, 5, 2}, {3});
    Tensor tab = makeTensor(g, c.rnd(12, 1), {3, 4}, DType::BF16), out = g->empty({3, 4}, DType::BF16);
    expectError(H, "cuda embedding with an id outside the vocabulary throws ERR_INVALID", Code::Invalid,
                [&] { g->embedding(tab, ids, out); }, "token id 5");
  }
  // zero, upload/download, cast and loadWeight conversions
  {
    auto v = c.H.normal(1003, 3.f);
    Tensor f = makeTensor(g, v, {1003}, DType::F32);
    H.result("cuda upload/download f32 round trip", toHost(g, f) == v, "");
    g->zero(f);
    H.result("cuda zero", toHost(g, f) == std::vector<float>(1003, 0.f), "");
    std::vector<float> vb(v.size()), vh(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      vb[i] = roundBf16(v[i]);
      vh[i] = f16ToF32(f32ToF16(v[i]));
    }
    Tensor src = makeTensor(g, v, {1003}, DType::F32);
    Tensor b = poisoned(g, {1003}, DType::BF16), h = poisoned(g, {1003}, DType::F16);
    g->cast(src, b);
    g->cast(src, h);
    H.result("cuda cast f32 -> bf16 (round to nearest even)", toHost(g, b) == vb, "");
    H.result("cuda cast f32 -> f16", toHost(g, h) == vh, "");
    Tensor back = poisoned(g, {1003}, DType::F32);
    g->cast(b, back);
    H.result("cuda cast bf16 -> f32", toHost(g, back) == vb, "");
    Tensor hb = poisoned(g, {1003}, DType::BF16);
    g->cast(h, hb);
    std::vector<float> vhb(v.size());
    for (size_t i = 0; i < v.size(); ++i) vhb[i] = roundBf16(vh[i]);
    H.result("cuda cast f16 -> bf16", toHost(g, hb) == vhb, "");
    std::vector<uint16_t> hbits(v.size()), bbits(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      hbits[i] = f32ToF16(v[i]);
      bbits[i] = f32ToBf16(v[i]);
    }
    Tensor w32 = g->loadWeight(v.data(), {1003}, DType::F32, nullptr);
    Tensor w16 = g->loadWeight(hbits.data(), {1003}, DType::F16, nullptr);
    Tensor wbf = g->loadWeight(bbits.data(), {1003}, DType::BF16, nullptr);
    H.result("cuda loadWeight f32 -> bf16", w32.dtype == DType::BF16 && toHost(g, w32) == vb, "");
    H.result("cuda loadWeight f16 -> bf16", w16.dtype == DType::BF16 && toHost(g, w16) == vhb, "");
    H.result("cuda loadWeight bf16", wbf.dtype == DType::BF16 && toHost(g, wbf) == vb, "");
  }
}

void testEmbeddingGatherAdd(Ctx& c) {
  Harness& H = c.H;
  for (int64_t D : {44, 64}) {
    int64_t V = 53, N = 29;
    auto tab = c.rnd(V * D, 1);
    std::vector<int32_t> ids(N);
    for (auto& i : ids) i = H.randint(0, static_cast<int>(V) - 1);
    auto [tc, tg] = c.both(tab, {V, D});
    auto [ic, ig] = c.bothI32(ids, {N});
    Tensor oc = c.cpu->empty({N, D}, DType::F32), og = poisoned(c.gpu, {N, D}, c.act);
    c.cpu->embedding(tc, ic, oc);
    c.gpu->embedding(tg, ig, og);
    checkRel(H, "embedding " + shp({N, D}), toHost(c.gpu, og), toHost(c.cpu, oc), 0);
    // gather rows of the output back
    int64_t P = 11;
    std::vector<int32_t> rows(P);
    for (auto& r : rows) r = H.randint(0, static_cast<int>(N) - 1);
    auto [rc, rg] = c.bothI32(rows, {P});
    Tensor gc = c.cpu->empty({P, D}, DType::F32), gg = poisoned(c.gpu, {P, D}, c.act);
    c.cpu->gather(oc, rc, gc);
    c.gpu->gather(og, rg, gg);
    checkRel(H, "gather " + shp({P, D}), toHost(c.gpu, gg), toHost(c.cpu, gc), 0);
    // scatterAdd: distinct rows, then rows with repeats
    for (bool repeats : {false, true}) {
      std::vector<int32_t> idx(P);
      if (repeats) {
        for (auto& r : idx) r = H.randint(0, 3);
      } else {
        std::vector<int32_t> perm(N);
        for (int i = 0; i < N; ++i) perm[i] = i;
        std::shuffle(perm.begin(), perm.end(), H.rng);
        std::copy(perm.begin(), perm.begin() + P, idx.begin());
      }
      auto dy = c.rnd(P * D, 1), dx0 = c.rnd(N * D, 1);
      auto [dyc, dyg] = c.both(dy, {P, D});
      auto [dxc, dxg] = c.both(dx0, {N, D});
      auto [ixc, ixg] = c.bothI32(idx, {P});
      c.cpu->scatterAdd(dyc, ixc, dxc);
      c.gpu->scatterAdd(dyg, ixg, dxg);
      checkRel(H, std::string("scatter_add ") + (repeats ? "(repeated rows) " : "(distinct rows) ") + shp({P, D}),
               toHost(c.gpu, dxg), toHost(c.cpu, dxc), repeats ? kBf16Tol : kRoundTol);
    }
  }
  for (int64_t n : {1001, 4096}) {
    auto a = c.rnd(n, 1), b = c.rnd(n, 1);
    auto [ac, ag] = c.both(a, {n});
    auto [bc, bg] = c.both(b, {n});
    Tensor oc = c.cpu->empty({n}, DType::F32), og = poisoned(c.gpu, {n}, c.act);
    c.cpu->add(ac, bc, oc);
    c.gpu->add(ag, bg, og);
    checkRel(H, "add " + shp({n}), toHost(c.gpu, og), toHost(c.cpu, oc), kRoundTol);
    c.gpu->add(ag, bg, ag);  // out aliases a
    checkRel(H, "add in place " + shp({n}), toHost(c.gpu, ag), toHost(c.cpu, oc), kRoundTol);
  }
}

void testRmsnorm(Ctx& c) {
  Harness& H = c.H;
  for (auto [N, D] : std::vector<std::pair<int64_t, int64_t>>{{19, 100}, {5, 4096}, {33, 64}}) {
    auto x = c.rnd(N * D, 1.5f), w = bf16Round(H.uniform(D, 0.5f, 1.5f));
    auto [xc, xg] = c.both(x, {N, D});
    auto [wc, wg] = c.both(w, {D});
    Tensor yc = c.cpu->empty({N, D}, DType::F32), rc = c.cpu->empty({N}, DType::F32);
    Tensor yg = poisoned(c.gpu, {N, D}, c.act), rg = poisoned(c.gpu, {N}, DType::F32);
    c.cpu->rmsnorm(xc, wc, 1e-5f, yc, &rc);
    c.gpu->rmsnorm(xg, wg, 1e-5f, yg, &rg);
    std::string s = shp({N, D});
    checkRel(H, "rmsnorm y " + s, toHost(c.gpu, yg), toHost(c.cpu, yc), kBf16Tol);
    checkRel(H, "rmsnorm rstd " + s, toHost(c.gpu, rg), toHost(c.cpu, rc), kF32Tol);
    auto dy = c.rnd(N * D, 1), dx0 = c.rnd(N * D, 1), dw0 = H.normal(D, 1);
    auto [dyc, dyg] = c.both(dy, {N, D});
    for (bool acc : {false, true}) {
      auto [dxc, dxg] = c.both(dx0, {N, D});
      if (!acc) poison(c.gpu, dxg);
      auto [dwc, dwg] = c.both(dw0, {D}, DType::F32);
      c.cpu->rmsnormBackward(dyc, xc, wc, rc, dxc, acc, &dwc);
      c.gpu->rmsnormBackward(dyg, xg, wg, rg, dxg, acc, &dwg);
      checkRel(H, std::string("rmsnorm_backward dx") + (acc ? " (+=) " : " (=) ") + s, toHost(c.gpu, dxg),
               toHost(c.cpu, dxc), kBf16Tol);
      checkRel(H, "rmsnorm_backward dw (+=) " + s, toHost(c.gpu, dwg), toHost(c.cpu, dwc), 1e-4);
    }
  }
}

void testRope(Ctx& c) {
  Harness& H = c.H;
  for (auto [N, Hh, D, sc] : std::vector<std::tuple<int64_t, int64_t, int64_t, float>>{
           {13, 3, 8, 1.0f}, {37, 4, 128, 1.3f}, {5, 2, 64, 1.0f}}) {
    std::vector<int32_t> pos(N);
    for (auto& p : pos) p = H.randint(0, 4000);
    std::vector<float> inv(D / 2);
    for (int64_t i = 0; i < D / 2; ++i) inv[i] = static_cast<float>(std::pow(500000.0, -2.0 * i / D));
    auto x = c.rnd(N * Hh * D, 1);
    auto [pc, pg] = c.bothI32(pos, {N});
    auto [fc, fg] = c.both(inv, {D / 2}, DType::F32);
    for (bool inverse : {false, true}) {
      auto [xc, xg] = c.both(x, {N, Hh, D});
      c.cpu->rope(xc, pc, fc, sc, inverse);
      c.gpu->rope(xg, pg, fg, sc, inverse);
      checkRel(H, std::string("rope") + (inverse ? " inverse " : " ") + shp({N, Hh, D}), toHost(c.gpu, xg),
               toHost(c.cpu, xc), kBf16Tol);
    }
  }
}

#ifdef PLAST_WITH_CUDA
std::vector<std::string> variantsOf(const std::string& op) {
  std::vector<std::string> v;
  for (auto& k : cuda::kernelVariants())
    if (k.op == op) v.push_back(k.name);
  return v;
}
#endif

void testLinear(Ctx& c) {
  Harness& H = c.H;
  struct S {
    int64_t N, K, M;
    bool bias;
  };
  std::vector<S> shapes = {{37, 72, 53, true}, {33, 37, 29, false}, {128, 256, 192, false},
                           {300, 520, 260, true}, {515, 1024, 777, false}};
#ifdef PLAST_WITH_CUDA
  for (const std::string& var : variantsOf("gemm")) {
    cuda::selectKernelVariant("gemm", var);
#else
  for (const std::string& var : {std::string("auto")}) {
#endif
    for (const S& s : shapes) {
      std::string tag = "[" + var + "] " + shp({s.N, s.K, s.M});
      auto x = c.rnd(s.N * s.K, 1), w = c.rnd(s.M * s.K, 0.05f), b = c.rnd(s.M, 1);
      auto [xc, xg] = c.both(x, {s.N, s.K});
      auto [wc, wg] = c.both(w, {s.M, s.K});
      auto [bc, bg] = c.both(b, {s.M});
      Tensor yc = c.cpu->empty({s.N, s.M}, DType::F32), yg = poisoned(c.gpu, {s.N, s.M}, c.act);
      c.cpu->linear(xc, wc, s.bias ? &bc : nullptr, yc);
      c.gpu->linear(xg, wg, s.bias ? &bg : nullptr, yg);
      checkRel(H, std::string("linear") + (s.bias ? "+bias " : " ") + tag, toHost(c.gpu, yg), toHost(c.cpu, yc), kBf16Tol);
      auto dy = c.rnd(s.N * s.M, 1), dx0 = c.rnd(s.N * s.K, 1), dw0 = H.normal(s.M * s.K, 1), db0 = H.normal(s.M, 1);
      auto [dyc, dyg] = c.both(dy, {s.N, s.M});
      for (bool acc : {false, true}) {
        auto [dxc, dxg] = c.both(dx0, {s.N, s.K});
        if (!acc) poison(c.gpu, dxg);
        c.cpu->linearBackwardInput(dyc, wc, dxc, acc);
        c.gpu->linearBackwardInput(dyg, wg, dxg, acc);
        checkRel(H, std::string("linear_backward_input") + (acc ? " (+=) " : " (=) ") + tag, toHost(c.gpu, dxg),
                 toHost(c.cpu, dxc), kBf16Tol);
      }
      auto [dwc, dwg] = c.both(dw0, {s.M, s.K}, DType::F32);
      auto [dbc, dbg] = c.both(db0, {s.M}, DType::F32);
      c.cpu->linearBackwardWeight(dyc, xc, dwc, s.bias ? &dbc : nullptr);
      c.gpu->linearBackwardWeight(dyg, xg, dwg, s.bias ? &dbg : nullptr);
      checkRel(H, "linear_backward_weight dw (+=, f32) " + tag, toHost(c.gpu, dwg), toHost(c.cpu, dwc), 1e-4);
      if (s.bias) checkRel(H, "linear_backward_weight dbias (+=) " + tag, toHost(c.gpu, dbg), toHost(c.cpu, dbc), 1e-4);
    }
  }
#ifdef PLAST_WITH_CUDA
  cuda::selectKernelVariant("gemm", "auto");
#endif
}

std::vector<int32_t> randomMask(Harness& H, int64_t n, double pZero) {
  std::vector<int32_t> m(n);
  for (auto& v : m) v = H.uniform(1, 0, 1)[0] < pZero ? 0 : 1;
  return m;
}

void testSwiglu(Ctx& c) {
  Harness& H = c.H;
  for (auto [N, I] : std::vector<std::pair<int64_t, int64_t>>{{77, 200}, {5, 3}, {300, 1030}}) {
    auto g = c.rnd(N * I, 2), u = c.rnd(N * I, 1);
    auto mask = randomMask(H, N, 0.3);
    std::vector<int64_t> c0(I);
    for (auto& v : c0) v = H.randint(0, 1000);
    auto [gc, gg] = c.both(g, {N, I});
    auto [uc, ug] = c.both(u, {N, I});
    auto [mc, mg] = c.bothI32(mask, {N});
    Tensor cc = makeI64(c.cpu, c0, {I}), cg = makeI64(c.gpu, c0, {I});
    Tensor hc = c.cpu->empty({N, I}, DType::F32), hg = poisoned(c.gpu, {N, I}, c.act);
    c.cpu->swiglu(gc, uc, &mc, &cc, hc);
    c.gpu->swiglu(gg, ug, &mg, &cg, hg);
    std::string s = shp({N, I});
    checkRel(H, "swiglu h " + s, toHost(c.gpu, hg), toHost(c.cpu, hc), kBf16Tol);
    H.result("swiglu counts (+=) equal the cpu's from the same bf16 gates " + s,
             toHostI64(c.gpu, cg) == toHostI64(c.cpu, cc), "");
    auto dh = c.rnd(N * I, 1);
    auto [dhc, dhg] = c.both(dh, {N, I});
    Tensor dgc = c.cpu->empty({N, I}, DType::F32), duc = c.cpu->empty({N, I}, DType::F32);
    Tensor dgg = poisoned(c.gpu, {N, I}, c.act), dug = poisoned(c.gpu, {N, I}, c.act);
    c.cpu->swigluBackward(dhc, gc, uc, dgc, duc);
    c.gpu->swigluBackward(dhg, gg, ug, dgg, dug);
    checkRel(H, "swiglu_backward dg " + s, toHost(c.gpu, dgg), toHost(c.cpu, dgc), kBf16Tol);
    checkRel(H, "swiglu_backward du " + s, toHost(c.gpu, dug), toHost(c.cpu, duc), kBf16Tol);
  }
}

void testFfnUp(Ctx& c) {
  Harness& H = c.H;
  struct S {
    int64_t N, K, I;
  };
  std::vector<S> shapes = {{77, 72, 200}, {45, 37, 70}, {300, 256, 520}, {700, 512, 1100}};
#ifdef PLAST_WITH_CUDA
  for (const std::string& var : variantsOf("ffn_up")) {
    cuda::selectKernelVariant("ffn_up", var);
#else
  for (const std::string& var : {std::string("auto")}) {
#endif
    for (const S& s : shapes) {
      std::string tag = "[" + var + "] " + shp({s.N, s.K, s.I});
      auto x = c.rnd(s.N * s.K, 1), wg = c.rnd(s.I * s.K, 0.06f), wu = c.rnd(s.I * s.K, 0.06f);
      // Gates of exactly +0.0 / -0.0 (a zero row of x, a -0.0 row, a zero row of wg): HF counts
      // `out > 0`, so a kernel that counts `>= 0` must fail here.
      for (int64_t k = 0; k < s.K; ++k) {
        x[1 * s.K + k] = 0.f;
        x[2 * s.K + k] = -0.f;
        wg[3 * s.K + k] = 0.f;
      }
      auto mask = randomMask(H, s.N, 0.25);
      mask[1] = mask[2] = 1;
      std::vector<int64_t> c0(s.I);
      for (auto& v : c0) v = H.randint(0, 1000);
      auto [xc, xg] = c.both(x, {s.N, s.K});
      auto [gwc, gwg] = c.both(wg, {s.I, s.K});
      auto [uwc, uwg] = c.both(wu, {s.I, s.K});
      auto [mc, mg] = c.bothI32(mask, {s.N});
      Tensor cc = makeI64(c.cpu, c0, {s.I}), cg = makeI64(c.gpu, c0, {s.I});
      Tensor hc = c.cpu->empty({s.N, s.I}, DType::F32), gc = c.cpu->empty({s.N, s.I}, DType::F32),
             uc = c.cpu->empty({s.N, s.I}, DType::F32);
      Tensor hg = poisoned(c.gpu, {s.N, s.I}, c.act), gg = poisoned(c.gpu, {s.N, s.I}, c.act),
             ug = poisoned(c.gpu, {s.N, s.I}, c.act);
      c.cpu->ffnUp(xc, gwc, uwc, &mc, &cc, hc, &gc, &uc);
      c.gpu->ffnUp(xg, gwg, uwg, &mg, &cg, hg, &gg, &ug);
      auto hH = toHost(c.gpu, hg), gH = toHost(c.gpu, gg);
      checkRel(H, "ffn_up h " + tag, hH, toHost(c.cpu, hc), kBf16Tol);
      checkRel(H, "ffn_up g " + tag, gH, toHost(c.cpu, gc), kBf16Tol);
      checkRel(H, "ffn_up u " + tag, toHost(c.gpu, ug), toHost(c.cpu, uc), kBf16Tol);
      std::vector<int64_t> want = c0;
      for (int64_t n = 0; n < s.N; ++n)
        if (mask[n])
          for (int64_t j = 0; j < s.I; ++j) want[j] += gH[n * s.I + j] > 0.f;
      auto got = toHostI64(c.gpu, cg), cpuCounts = toHostI64(c.cpu, cc);
      int64_t diffCpu = 0;
      for (int64_t j = 0; j < s.I; ++j) diffCpu += std::llabs(cpuCounts[j] - got[j]);
      H.result("ffn_up counts == counts of the bf16 gate values it wrote " + tag, got == want,
               "(vs cpu f32 gates: " + std::to_string(diffCpu) + " flips)");
      // Without g/u outputs (the profiling path): the same counts and h.
      Tensor cg2 = makeI64(c.gpu, c0, {s.I}), hg2 = poisoned(c.gpu, {s.N, s.I}, c.act);
      c.gpu->ffnUp(xg, gwg, uwg, &mg, &cg2, hg2, nullptr, nullptr);
      H.result("ffn_up without g/u outputs: same h and counts " + tag,
               toHostI64(c.gpu, cg2) == got && toHost(c.gpu, hg2) == hH, "");
    }
  }
#ifdef PLAST_WITH_CUDA
  cuda::selectKernelVariant("ffn_up", "auto");
#endif
}

void testAttention(Ctx& c) {
  Harness& H = c.H;
  struct S {
    int64_t B, T, Hq, Hkv, D;
    int window;
    int pad;  // 0 none, 1 random right/left padding, 2 plus a fully padded row
  };
  std::vector<S> shapes = {{2, 37, 4, 2, 8, 0, 1},    {2, 77, 4, 1, 64, 16, 1}, {1, 130, 2, 2, 128, 0, 0},
                           {2, 200, 6, 2, 128, 50, 1}, {1, 64, 2, 1, 32, 0, 0},  {3, 150, 4, 4, 64, 0, 2},
                           {1, 9, 2, 1, 128, 0, 1},    {2, 300, 4, 2, 64, 0, 1}};
  std::vector<std::string> fwdVars = {"auto"}, bwdVars = {"auto"};
#ifdef PLAST_WITH_CUDA
  fwdVars = variantsOf("attention");
  bwdVars = variantsOf("attention_backward");
#endif
  for (const S& s : shapes) {
    std::vector<int32_t> mask(s.B * s.T, 1);
    if (s.pad) {
      for (int64_t b = 0; b < s.B; ++b) {
        int left = b % 2 == 1 ? H.randint(1, static_cast<int>(s.T / 4)) : 0;
        int right = b % 2 == 0 ? H.randint(1, static_cast<int>(s.T / 4)) : 0;
        for (int64_t t = 0; t < s.T; ++t)
          if (t < left || t >= s.T - right) mask[b * s.T + t] = 0;
      }
      if (s.pad == 2)
        for (int64_t t = 0; t < s.T; ++t) mask[(s.B - 1) * s.T + t] = 0;
    }
    float scale = 1.0f / std::sqrt(static_cast<float>(s.D));
    auto q = c.rnd(s.B * s.T * s.Hq * s.D, 1), k = c.rnd(s.B * s.T * s.Hkv * s.D, 1),
         v = c.rnd(s.B * s.T * s.Hkv * s.D, 1), dout = c.rnd(s.B * s.T * s.Hq * s.D, 1);
    Shape qs{s.B, s.T, s.Hq, s.D}, ks{s.B, s.T, s.Hkv, s.D}, ls{s.B, s.Hq, s.T};
    auto [qc, qg] = c.both(q, qs);
    auto [kc, kg] = c.both(k, ks);
    auto [vc, vg] = c.both(v, ks);
    auto [mc, mg] = c.bothI32(mask, {s.B, s.T});
    std::string base = "B" + std::to_string(s.B) + " T" + std::to_string(s.T) + " H" + std::to_string(s.Hq) + "/" +
                       std::to_string(s.Hkv) + " D" + std::to_string(s.D) + " w" + std::to_string(s.window) +
                       (s.pad ? " pad" : "");
    Tensor oc = c.cpu->empty(qs, DType::F32), lc = c.cpu->empty(ls, DType::F32);
    c.cpu->attention(qc, kc, vc, mc, scale, s.window, oc, &lc);
    auto ocH = toHost(c.cpu, oc), lcH = toHost(c.cpu, lc);
    Tensor og, lg;
    for (const std::string& fv : fwdVars) {
#ifdef PLAST_WITH_CUDA
      cuda::selectKernelVariant("attention", fv);
#endif
      og = poisoned(c.gpu, qs, c.act);
      lg = poisoned(c.gpu, ls, DType::F32);
      c.gpu->attention(qg, kg, vg, mg, scale, s.window, og, &lg);
      checkRel(H, "attention out [" + fv + "] " + base, toHost(c.gpu, og), ocH, kBf16Tol);
      checkRel(H, "attention lse [" + fv + "] " + base, toHost(c.gpu, lg), lcH, 1e-4);
    }
#ifdef PLAST_WITH_CUDA
    cuda::selectKernelVariant("attention", "auto");
#endif
    // Backward: both backends get the GPU forward's out (bf16) and lse.
    auto ogH = toHost(c.gpu, og), lgH = toHost(c.gpu, lg);
    Tensor oc2 = makeTensor(c.cpu, ogH, qs, DType::F32), lc2 = makeTensor(c.cpu, lgH, ls, DType::F32);
    auto [dc, dg] = c.both(dout, qs);
    Tensor dqc = c.cpu->empty(qs, DType::F32), dkc = c.cpu->empty(ks, DType::F32), dvc = c.cpu->empty(ks, DType::F32);
    c.cpu->attentionBackward(dc, qc, kc, vc, mc, oc2, lc2, scale, s.window, dqc, dkc, dvc);
    for (const std::string& bv : bwdVars) {
#ifdef PLAST_WITH_CUDA
      cuda::selectKernelVariant("attention_backward", bv);
#endif
      Tensor dqg = poisoned(c.gpu, qs, c.act), dkg = poisoned(c.gpu, ks, c.act),
             dvg = poisoned(c.gpu, ks, c.act);
      c.gpu->attentionBackward(dg, qg, kg, vg, mg, og, lg, scale, s.window, dqg, dkg, dvg);
      checkRel(H, "attention_backward dq [" + bv + "] " + base, toHost(c.gpu, dqg), toHost(c.cpu, dqc), 2e-2);
      checkRel(H, "attention_backward dk [" + bv + "] " + base, toHost(c.gpu, dkg), toHost(c.cpu, dkc), 2e-2);
      checkRel(H, "attention_backward dv [" + bv + "] " + base, toHost(c.gpu, dvg), toHost(c.cpu, dvc), 2e-2);
    }
#ifdef PLAST_WITH_CUDA
    cuda::selectKernelVariant("attention_backward", "auto");
#endif
  }
}

void testCrossEntropy(Ctx& c) {
  Harness& H = c.H;
  for (auto [P, V] : std::vector<std::pair<int64_t, int64_t>>{{13, 1000}, {3, 32000}}) {
    auto x = c.rnd(P * V, 3);
    std::vector<int32_t> labels(P);
    for (int64_t p = 0; p < P; ++p) labels[p] = p % 4 == 1 ? -100 : H.randint(0, static_cast<int>(V) - 1);
    auto [xc, xg] = c.both(x, {P, V});
    auto [lc, lg] = c.bothI32(labels, {P});
    Tensor sc = c.cpu->empty({P}, DType::F32), dc = c.cpu->empty({P, V}, DType::F32);
    Tensor sg = poisoned(c.gpu, {P}, DType::F32), dg = poisoned(c.gpu, {P, V}, c.act);
    c.cpu->crossEntropy(xc, lc, 0.5f, sc, &dc);
    c.gpu->crossEntropy(xg, lg, 0.5f, sg, &dg);
    std::string s = shp({P, V});
    checkRel(H, "cross_entropy losses (-100 rows: 0) " + s, toHost(c.gpu, sg), toHost(c.cpu, sc), kF32Tol);
    checkRel(H, "cross_entropy dlogits " + s, toHost(c.gpu, dg), toHost(c.cpu, dc), kBf16Tol);
  }
  Tensor x = makeTensor(c.gpu, c.rnd(8, 1), {2, 4}, c.act), l = makeI32(c.gpu, {1, 4}, {2});
  Tensor s = c.gpu->empty({2}, DType::F32);
  expectError(H, "cross_entropy with a label outside [0, V) throws ERR_INVALID", Code::Invalid,
              [&] { c.gpu->crossEntropy(x, l, 1.f, s, nullptr); });
}

void testAdamW(Ctx& c) {
  Harness& H = c.H;
  std::vector<Shape> shapes = {{100}, {37, 13}, {1000, 33}};
  AdamWParams p;
  p.lr = 1e-3;
  p.weightDecay = 0.1;
  p.step = 3;
  p.gradScale = 0.7;
  std::vector<AdamWSlot> sc, sg;
  for (size_t i = 0; i < shapes.size(); ++i) {
    int64_t n = 1;
    for (auto d : shapes[i]) n *= d;
    auto w = H.normal(n, 1), g = H.normal(n, 1), m = H.normal(n, 0.1f), v = H.uniform(n, 0.f, 0.01f);
    AdamWSlot a{makeTensor(c.cpu, w, shapes[i], DType::F32), makeTensor(c.cpu, g, shapes[i], DType::F32),
                makeTensor(c.cpu, m, shapes[i], DType::F32), makeTensor(c.cpu, v, shapes[i], DType::F32), Tensor()};
    AdamWSlot b{makeTensor(c.gpu, w, shapes[i], DType::F32), makeTensor(c.gpu, g, shapes[i], DType::F32),
                makeTensor(c.gpu, m, shapes[i], DType::F32), makeTensor(c.gpu, v, shapes[i], DType::F32), Tensor()};
    if (i != 1) {
      a.weight = c.cpu->empty(shapes[i], DType::BF16);
      b.weight = poisoned(c.gpu, shapes[i], DType::BF16);
    }
    sc.push_back(a);
    sg.push_back(b);
  }
  c.cpu->adamw(sc, p);
  c.gpu->adamw(sg, p);
  for (size_t i = 0; i < shapes.size(); ++i) {
    std::string s = shapeStr(shapes[i]);
    checkRel(H, "adamw master " + s, toHost(c.gpu, sg[i].master), toHost(c.cpu, sc[i].master), 1e-6);
    checkRel(H, "adamw m " + s, toHost(c.gpu, sg[i].m), toHost(c.cpu, sc[i].m), 1e-6);
    checkRel(H, "adamw v " + s, toHost(c.gpu, sg[i].v), toHost(c.cpu, sc[i].v), 1e-6);
    if (sg[i].weight.defined())
      checkRel(H, "adamw bf16 weight refreshed from the master " + s, toHost(c.gpu, sg[i].weight),
               toHost(c.cpu, sc[i].weight), 1e-3);
  }
  std::vector<Tensor> xc, xg;
  for (int64_t n : {int64_t(7), int64_t(4096), int64_t(1000003)}) {
    auto v = H.normal(n, 1);
    xc.push_back(makeTensor(c.cpu, v, {n}, DType::F32));
    xg.push_back(makeTensor(c.gpu, v, {n}, DType::F32));
  }
  double a = c.cpu->sumSquares(xc), b = c.gpu->sumSquares(xg);
  double e = std::abs(a - b) / a;
  H.result("sum_squares", e < 1e-9, fmtErr(e, 1e-9));
}

}  // namespace

int runParity(Harness& H, Backend* cuda) {
  Ctx c{H, getBackend("cpu"), cuda, cuda->activationDType()};
  bool self = cuda->name() == "cpu";  // --self-check: the harness run against itself
  std::printf("== %s backend vs CPU reference (%s)\n", cuda->name().c_str(), cuda->deviceDescription().c_str());
  size_t before = H.failed.size();
  struct Group {
    const char* name;
    std::function<void(Ctx&)> fn;
  };
  std::vector<Group> groups = {{"backend", testBackendBasics}, {"embedding/gather/add", testEmbeddingGatherAdd},
                               {"rmsnorm", testRmsnorm},          {"rope", testRope},
                               {"linear", testLinear},            {"swiglu", testSwiglu},
                               {"ffn_up", testFfnUp},             {"attention", testAttention},
                               {"cross_entropy", testCrossEntropy}, {"adamw", testAdamW}};
  for (auto& g : groups) {
    if (self && std::string(g.name) == "backend") continue;
    size_t f0 = H.failed.size();
    int p0 = H.passed;
    try {
      g.fn(c);
    } catch (const std::exception& e) {
      H.result(std::string(g.name) + ": unexpected exception", false, e.what());
    }
    std::printf("  %-22s %d passed, %zu failed\n", g.name, H.passed - p0, H.failed.size() - f0);
    std::fflush(stdout);
  }
  return static_cast<int>(H.failed.size() - before);
}

}  // namespace test
}  // namespace plast
