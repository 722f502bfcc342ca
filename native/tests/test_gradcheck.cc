// Checks of the CPU reference itself (no GPU needed): every forward op against a float64
// re-implementation, and every backward op against float64 central differences of that
// re-implementation, on small shapes with padding, GQA and a sliding window.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <string>

#include "test_util.h"

namespace plast {
namespace test {
namespace {

using Vec = std::vector<double>;
using Fn = std::function<double(const Vec&)>;

Vec toD(const std::vector<float>& v) { return Vec(v.begin(), v.end()); }
std::vector<float> toF(const Vec& v) { return std::vector<float>(v.begin(), v.end()); }

Vec numGrad(const Fn& f, Vec x, double h = 1e-5) {
  Vec g(x.size());
  for (size_t k = 0; k < x.size(); ++k) {
    double x0 = x[k];
    x[k] = x0 + h;
    double fp = f(x);
    x[k] = x0 - h;
    double fm = f(x);
    x[k] = x0;
    g[k] = (fp - fm) / (2 * h);
  }
  return g;
}

double dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

Tensor cpuT(Backend* cpu, const std::vector<float>& v, const Shape& s) {
  return makeTensor(cpu, v, s, DType::F32);
}

// ---- float64 references ----

Vec rmsnormRef(const Vec& x, const Vec& w, int N, int D, double eps) {
  Vec y(x.size());
  for (int n = 0; n < N; ++n) {
    double ss = 0;
    for (int j = 0; j < D; ++j) ss += x[n * D + j] * x[n * D + j];
    double r = 1.0 / std::sqrt(ss / D + eps);
    for (int j = 0; j < D; ++j) y[n * D + j] = w[j] * x[n * D + j] * r;
  }
  return y;
}

Vec linearRef(const Vec& x, const Vec& w, const Vec& b, int N, int K, int M) {
  Vec y(static_cast<size_t>(N) * M);
  for (int n = 0; n < N; ++n)
    for (int m = 0; m < M; ++m) {
      double s = b.empty() ? 0 : b[m];
      for (int k = 0; k < K; ++k) s += x[n * K + k] * w[m * K + k];
      y[n * M + m] = s;
    }
  return y;
}

Vec ropeRef(const Vec& x, const std::vector<int32_t>& pos, const std::vector<float>& invFreq, int N,
            int H, int D, double scaling) {
  Vec y(x.size());
  int half = D / 2;
  for (int n = 0; n < N; ++n)
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < half; ++i) {
        double ang = static_cast<float>(pos[n]) * invFreq[i];  // the angle in f32, as HF
        double c = std::cos(ang) * scaling, s = std::sin(ang) * scaling;
        size_t o = (static_cast<size_t>(n) * H + h) * D;
        y[o + i] = x[o + i] * c - x[o + i + half] * s;
        y[o + i + half] = x[o + i + half] * c + x[o + i] * s;
      }
  return y;
}

struct AttnShape {
  int B, T, Hq, Hkv, D, window;
  double scale;
  bool causal = true;
  AttnMask mask() const { return causal ? AttnMask(window) : AttnMask::full(); }
};

bool allowedRef(const AttnShape& a, int i, int j, const int32_t* mask) {
  return (!a.causal || j <= i) && mask[j] != 0 && (a.window <= 0 || i - j < a.window);
}

// out[B,T,Hq,D]; lse[B,Hq,T]
Vec attentionRef(const AttnShape& a, const Vec& q, const Vec& k, const Vec& v,
                 const std::vector<int32_t>& mask, Vec* lse) {
  Vec out(q.size(), 0.0);
  if (lse) lse->assign(static_cast<size_t>(a.B) * a.Hq * a.T, 0.0);
  int group = a.Hq / a.Hkv;
  for (int b = 0; b < a.B; ++b)
    for (int h = 0; h < a.Hq; ++h)
      for (int i = 0; i < a.T; ++i) {
        int hk = h / group;
        const int32_t* m = mask.data() + b * a.T;
        std::vector<double> s(a.T, -INFINITY);
        double mx = -INFINITY;
        int last = a.causal ? i : a.T - 1;
        for (int j = 0; j <= last; ++j) {
          if (!allowedRef(a, i, j, m)) continue;
          double d = 0;
          for (int c = 0; c < a.D; ++c)
            d += q[((b * a.T + i) * a.Hq + h) * a.D + c] * k[((b * a.T + j) * a.Hkv + hk) * a.D + c];
          s[j] = d * a.scale;
          mx = std::max(mx, s[j]);
        }
        size_t li = (static_cast<size_t>(b) * a.Hq + h) * a.T + i;
        if (mx == -INFINITY) {
          if (lse) (*lse)[li] = -INFINITY;
          continue;
        }
        double sum = 0;
        for (int j = 0; j <= last; ++j)
          if (s[j] != -INFINITY) sum += std::exp(s[j] - mx);
        for (int j = 0; j <= last; ++j) {
          if (s[j] == -INFINITY) continue;
          double p = std::exp(s[j] - mx) / sum;
          for (int c = 0; c < a.D; ++c)
            out[((b * a.T + i) * a.Hq + h) * a.D + c] += p * v[((b * a.T + j) * a.Hkv + hk) * a.D + c];
        }
        if (lse) (*lse)[li] = mx + std::log(sum);
      }
  return out;
}

// ---- the checks ----

void checkRmsnorm(Harness& H, Backend* cpu) {
  const int N = 3, D = 7;
  const double eps = 1e-5;
  auto x = H.normal(N * D, 1.f), w = H.uniform(D, 0.5f, 1.5f), R = H.normal(N * D, 1.f);
  auto dx0 = H.normal(N * D, 1.f), dw0 = H.normal(D, 1.f);
  Tensor tx = cpuT(cpu, x, {N, D}), tw = cpuT(cpu, w, {D}), ty = cpu->empty({N, D}, DType::F32),
         tr = cpu->empty({N}, DType::F32);
  cpu->rmsnorm(tx, tw, static_cast<float>(eps), ty, &tr);
  checkRel(H, "cpu rmsnorm forward vs f64", toHost(cpu, ty), toF(rmsnormRef(toD(x), toD(w), N, D, eps)), 1e-6);
  Tensor tdy = cpuT(cpu, R, {N, D}), tdx = cpuT(cpu, dx0, {N, D}), tdw = cpuT(cpu, dw0, {D});
  cpu->rmsnormBackward(tdy, tx, tw, tr, tdx, true, &tdw);
  Vec gx = numGrad([&](const Vec& xx) { return dot(toD(R), rmsnormRef(xx, toD(w), N, D, eps)); }, toD(x));
  Vec gw = numGrad([&](const Vec& ww) { return dot(toD(R), rmsnormRef(toD(x), ww, N, D, eps)); }, toD(w));
  std::vector<float> ex(N * D), ew(D);
  for (int i = 0; i < N * D; ++i) ex[i] = static_cast<float>(dx0[i] + gx[i]);
  for (int i = 0; i < D; ++i) ew[i] = static_cast<float>(dw0[i] + gw[i]);
  checkRel(H, "cpu rmsnorm_backward dx (+=) vs central differences", toHost(cpu, tdx), ex, 1e-4);
  checkRel(H, "cpu rmsnorm_backward dw (+=) vs central differences", toHost(cpu, tdw), ew, 1e-4);
  Tensor tdx2 = cpu->empty({N, D}, DType::F32);
  cpu->rmsnormBackward(tdy, tx, tw, tr, tdx2, false, nullptr);
  checkRel(H, "cpu rmsnorm_backward dx (=) vs central differences", toHost(cpu, tdx2), toF(gx), 1e-4);
}

void checkLinear(Harness& H, Backend* cpu) {
  const int N = 4, K = 5, M = 3;
  auto x = H.normal(N * K, 1.f), w = H.normal(M * K, 1.f), b = H.normal(M, 1.f), R = H.normal(N * M, 1.f);
  Tensor tx = cpuT(cpu, x, {N, K}), tw = cpuT(cpu, w, {M, K}), tb = cpuT(cpu, b, {M});
  Tensor ty = cpu->empty({N, M}, DType::F32);
  cpu->linear(tx, tw, &tb, ty);
  checkRel(H, "cpu linear forward (+bias) vs f64", toHost(cpu, ty), toF(linearRef(toD(x), toD(w), toD(b), N, K, M)), 1e-6);
  auto dx0 = H.normal(N * K, 1.f), dw0 = H.normal(M * K, 1.f), db0 = H.normal(M, 1.f);
  Tensor tdy = cpuT(cpu, R, {N, M}), tdx = cpuT(cpu, dx0, {N, K}), tdw = cpuT(cpu, dw0, {M, K}), tdb = cpuT(cpu, db0, {M});
  cpu->linearBackwardInput(tdy, tw, tdx, true);
  cpu->linearBackwardWeight(tdy, tx, tdw, &tdb);
  Vec gx = numGrad([&](const Vec& v) { return dot(toD(R), linearRef(v, toD(w), toD(b), N, K, M)); }, toD(x));
  Vec gw = numGrad([&](const Vec& v) { return dot(toD(R), linearRef(toD(x), v, toD(b), N, K, M)); }, toD(w));
  Vec gb = numGrad([&](const Vec& v) { return dot(toD(R), linearRef(toD(x), toD(w), v, N, K, M)); }, toD(b));
  std::vector<float> ex(N * K), ew(M * K), eb(M);
  for (int i = 0; i < N * K; ++i) ex[i] = static_cast<float>(dx0[i] + gx[i]);
  for (int i = 0; i < M * K; ++i) ew[i] = static_cast<float>(dw0[i] + gw[i]);
  for (int i = 0; i < M; ++i) eb[i] = static_cast<float>(db0[i] + gb[i]);
  checkRel(H, "cpu linear_backward_input dx (+=) vs central differences", toHost(cpu, tdx), ex, 1e-4);
  checkRel(H, "cpu linear_backward_weight dw (+=) vs central differences", toHost(cpu, tdw), ew, 1e-4);
  checkRel(H, "cpu linear_backward_weight dbias (+=) vs central differences", toHost(cpu, tdb), eb, 1e-4);
  Tensor tdx2 = cpu->empty({N, K}, DType::F32);
  cpu->linearBackwardInput(tdy, tw, tdx2, false);
  checkRel(H, "cpu linear_backward_input dx (=) vs central differences", toHost(cpu, tdx2), toF(gx), 1e-4);
}

void checkRope(Harness& H, Backend* cpu) {
  const int N = 3, Hh = 2, D = 6;
  const double scaling = 1.25;
  std::vector<int32_t> pos = {0, 7, 1999};
  std::vector<float> inv(D / 2);
  for (int i = 0; i < D / 2; ++i) inv[i] = static_cast<float>(std::pow(10000.0, -2.0 * i / D));
  auto x = H.normal(N * Hh * D, 1.f), R = H.normal(N * Hh * D, 1.f);
  Tensor tx = cpuT(cpu, x, {N, Hh, D}), tp = makeI32(cpu, pos, {N}), tf = cpuT(cpu, inv, {D / 2});
  cpu->rope(tx, tp, tf, static_cast<float>(scaling), false);
  checkRel(H, "cpu rope forward vs f64", toHost(cpu, tx), toF(ropeRef(toD(x), pos, inv, N, Hh, D, scaling)), 1e-5);
  Tensor tr = cpuT(cpu, R, {N, Hh, D});
  cpu->rope(tr, tp, tf, static_cast<float>(scaling), true);
  Vec g = numGrad([&](const Vec& v) { return dot(toD(R), ropeRef(v, pos, inv, N, Hh, D, scaling)); }, toD(x));
  checkRel(H, "cpu rope inverse == gradient (central differences)", toHost(cpu, tr), toF(g), 1e-5);
}

// A NaN in q makes that query's scores NaN: its output row (and lse) must be NaN, not the zeros
// of "no visible key"; the other rows stay finite.
void checkAttentionNaN(Harness& H, Backend* cpu) {
  const int B = 1, T = 4, Hh = 2, D = 8;
  auto q = H.normal(B * T * Hh * D, 1.f), k = H.normal(B * T * Hh * D, 1.f), v = H.normal(B * T * Hh * D, 1.f);
  const int row = 2, head = 1;  // query position 2, head 1
  q[(row * Hh + head) * D + 3] = std::numeric_limits<float>::quiet_NaN();
  Tensor tq = cpuT(cpu, q, {B, T, Hh, D}), tk = cpuT(cpu, k, {B, T, Hh, D}), tv = cpuT(cpu, v, {B, T, Hh, D});
  Tensor tm = makeI32(cpu, {1, 1, 1, 1}, {B, T});
  Tensor to = cpu->empty(tq.shape, DType::F32), tl = cpu->empty({B, Hh, T}, DType::F32);
  cpu->attention(tq, tk, tv, tm, 0.35f, AttnMask(0), to, &tl);
  auto o = toHost(cpu, to), l = toHost(cpu, tl);
  bool ok = true;
  for (int i = 0; i < T; ++i)
    for (int h = 0; h < Hh; ++h) {
      bool bad = i == row && h == head;
      for (int c = 0; c < D; ++c) ok = ok && (std::isnan(o[(i * Hh + h) * D + c]) == bad);
      ok = ok && (std::isnan(l[h * T + i]) == bad);
    }
  H.result("cpu attention: a NaN in q gives NaN out (that row only), not zeros", ok, "");
}

void checkAttention(Harness& H, Backend* cpu, const AttnShape& a, const std::vector<int32_t>& mask,
                    const std::string& tag) {
  size_t nq = static_cast<size_t>(a.B) * a.T * a.Hq * a.D, nk = static_cast<size_t>(a.B) * a.T * a.Hkv * a.D;
  auto q = H.normal(nq, 1.f), k = H.normal(nk, 1.f), v = H.normal(nk, 1.f), R = H.normal(nq, 1.f);
  Tensor tq = cpuT(cpu, q, {a.B, a.T, a.Hq, a.D}), tk = cpuT(cpu, k, {a.B, a.T, a.Hkv, a.D}),
         tv = cpuT(cpu, v, {a.B, a.T, a.Hkv, a.D}), tm = makeI32(cpu, mask, {a.B, a.T});
  Tensor to = cpu->empty(tq.shape, DType::F32), tl = cpu->empty({a.B, a.Hq, a.T}, DType::F32);
  cpu->attention(tq, tk, tv, tm, static_cast<float>(a.scale), a.mask(), to, &tl);
  Vec lref;
  Vec oref = attentionRef(a, toD(q), toD(k), toD(v), mask, &lref);
  checkRel(H, "cpu attention out vs f64 " + tag, toHost(cpu, to), toF(oref), 1e-5);
  checkRel(H, "cpu attention lse vs f64 " + tag, toHost(cpu, tl), toF(lref), 1e-5);
  Tensor tdo = cpuT(cpu, R, tq.shape);
  Tensor dq = cpu->empty(tq.shape, DType::F32), dk = cpu->empty(tk.shape, DType::F32), dv = cpu->empty(tv.shape, DType::F32);
  cpu->attentionBackward(tdo, tq, tk, tv, tm, to, tl, static_cast<float>(a.scale), a.mask(), dq, dk, dv);
  Vec gq = numGrad([&](const Vec& x) { return dot(toD(R), attentionRef(a, x, toD(k), toD(v), mask, nullptr)); }, toD(q));
  Vec gk = numGrad([&](const Vec& x) { return dot(toD(R), attentionRef(a, toD(q), x, toD(v), mask, nullptr)); }, toD(k));
  Vec gv = numGrad([&](const Vec& x) { return dot(toD(R), attentionRef(a, toD(q), toD(k), x, mask, nullptr)); }, toD(v));
  checkRel(H, "cpu attention_backward dq vs central differences " + tag, toHost(cpu, dq), toF(gq), 1e-4);
  checkRel(H, "cpu attention_backward dk vs central differences " + tag, toHost(cpu, dk), toF(gk), 1e-4);
  checkRel(H, "cpu attention_backward dv vs central differences " + tag, toHost(cpu, dv), toF(gv), 1e-4);
}

struct AttnRun {
  std::vector<float> out, lse, dq, dk, dv;
};

AttnRun runAttention(Backend* cpu, const AttnShape& a, const std::vector<int32_t>& mask,
                     const std::vector<float>& q, const std::vector<float>& k,
                     const std::vector<float>& v, const std::vector<float>& dout) {
  Tensor tq = cpuT(cpu, q, {a.B, a.T, a.Hq, a.D}), tk = cpuT(cpu, k, {a.B, a.T, a.Hkv, a.D}),
         tv = cpuT(cpu, v, {a.B, a.T, a.Hkv, a.D}), tm = makeI32(cpu, mask, {a.B, a.T});
  // Outputs start as NaN so that an element the kernels leave unwritten shows.
  Tensor to = poisoned(cpu, tq.shape, DType::F32), tl = poisoned(cpu, {a.B, a.Hq, a.T}, DType::F32);
  cpu->attention(tq, tk, tv, tm, static_cast<float>(a.scale), a.mask(), to, &tl);
  Tensor tdo = cpuT(cpu, dout, tq.shape);
  Tensor dq = poisoned(cpu, tq.shape, DType::F32), dk = poisoned(cpu, tk.shape, DType::F32),
         dv = poisoned(cpu, tv.shape, DType::F32);
  cpu->attentionBackward(tdo, tq, tk, tv, tm, to, tl, static_cast<float>(a.scale), a.mask(), dq, dk, dv);
  return {toHost(cpu, to), toHost(cpu, tl), toHost(cpu, dq), toHost(cpu, dk), toHost(cpu, dv)};
}

bool sameBits(const std::vector<float>& x, const std::vector<float>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

// A query row that sees no key (left padding; a batch row that is all padding) must give out = 0,
// lse = -inf and dq = 0 exactly, and a masked key dk = dv = 0 exactly: no NaN, even with NaN in the
// outputs beforehand, a non-zero dout on the padded rows, and NaN/inf garbage in the padded
// positions' q/k/v (which must never be read: a padded slot may hold anything).
void checkMaskedRows(Harness& H, Backend* cpu, int window) {
  AttnShape a{3, 5, 4, 2, 4, window, 0.5};
  // row 0: left padding; row 1: right padding; row 2: nothing but padding
  std::vector<int32_t> mask = {0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0};
  const std::string tag = window > 0 ? " (window " + std::to_string(window) + ")" : "";
  size_t nq = static_cast<size_t>(a.B) * a.T * a.Hq * a.D, nk = static_cast<size_t>(a.B) * a.T * a.Hkv * a.D;
  auto q = H.normal(nq, 1.f), k = H.normal(nk, 1.f), v = H.normal(nk, 1.f), R = H.normal(nq, 1.f);
  auto blind = [&](int b, int i) {  // query (b, i) sees no key
    for (int j = 0; j <= i; ++j)
      if (allowedRef(a, i, j, mask.data() + b * a.T)) return false;
    return true;
  };
  AttnRun clean = runAttention(cpu, a, mask, q, k, v, R);

  int blindRows = 0;
  bool zeros = true, finite = true;
  for (int b = 0; b < a.B; ++b)
    for (int i = 0; i < a.T; ++i) {
      bool bl = blind(b, i);
      blindRows += bl;
      for (int h = 0; h < a.Hq; ++h) {
        float L = clean.lse[(static_cast<size_t>(b) * a.Hq + h) * a.T + i];
        if (bl ? L != -INFINITY : !std::isfinite(L)) zeros = false;
        for (int c = 0; c < a.D; ++c) {
          size_t o = ((static_cast<size_t>(b) * a.T + i) * a.Hq + h) * a.D + c;
          if (!std::isfinite(clean.out[o]) || !std::isfinite(clean.dq[o])) finite = false;
          if (bl && (clean.out[o] != 0.f || clean.dq[o] != 0.f)) zeros = false;
        }
      }
      for (int h = 0; h < a.Hkv; ++h)
        for (int c = 0; c < a.D; ++c) {
          size_t o = ((static_cast<size_t>(b) * a.T + i) * a.Hkv + h) * a.D + c;
          if (!std::isfinite(clean.dk[o]) || !std::isfinite(clean.dv[o])) finite = false;
          if (mask[b * a.T + i] == 0 && (clean.dk[o] != 0.f || clean.dv[o] != 0.f)) zeros = false;
        }
    }
  H.result("cpu attention fully masked query rows: no NaN/inf in out, dq, dk, dv" + tag, finite,
           std::to_string(blindRows) + " of " + std::to_string(a.B * a.T) + " query rows see no key");
  H.result("cpu attention fully masked rows: out = 0, lse = -inf, dq = 0; masked keys dk = dv = 0" + tag, zeros, "");
  checkRel(H, "cpu attention out with fully masked rows vs f64" + tag, clean.out,
           toF(attentionRef(a, toD(q), toD(k), toD(v), mask, nullptr)), 1e-5);

  // Garbage in every padded slot (NaN, +inf, -inf in turn) must change no bit of any result.
  const float junk[3] = {std::numeric_limits<float>::quiet_NaN(), INFINITY, -INFINITY};
  int n = 0;
  for (int b = 0; b < a.B; ++b)
    for (int i = 0; i < a.T; ++i) {
      if (mask[b * a.T + i] != 0) continue;
      for (size_t c = 0; c < static_cast<size_t>(a.Hkv) * a.D; ++c) {
        size_t o = (static_cast<size_t>(b) * a.T + i) * a.Hkv * a.D + c;
        k[o] = junk[n++ % 3];
        v[o] = junk[n++ % 3];
      }
      if (blind(b, i))
        for (size_t c = 0; c < static_cast<size_t>(a.Hq) * a.D; ++c) q[(static_cast<size_t>(b) * a.T + i) * a.Hq * a.D + c] = junk[n++ % 3];
    }
  AttnRun dirty = runAttention(cpu, a, mask, q, k, v, R);
  bool same = sameBits(dirty.out, clean.out) && sameBits(dirty.lse, clean.lse) && sameBits(dirty.dq, clean.dq) &&
              sameBits(dirty.dk, clean.dk) && sameBits(dirty.dv, clean.dv);
  H.result("cpu attention ignores NaN/inf in padded q/k/v (every result bit-identical)" + tag, same, "");
}

void checkSwiglu(Harness& H, Backend* cpu) {
  const int N = 5, I = 6;
  auto g = H.normal(N * I, 2.f), u = H.normal(N * I, 1.f), R = H.normal(N * I, 1.f);
  g[0] = 0.f;  // gates of exactly +0.0 and -0.0 are not active (HF counts `out > 0`)
  g[1] = -0.f;
  g[2 * I + 3] = 0.f;
  std::vector<int32_t> cm = {1, 0, 1, 1, 0};
  std::vector<int64_t> c0(I);
  for (auto& c : c0) c = H.randint(0, 100);
  Tensor tg = cpuT(cpu, g, {N, I}), tu = cpuT(cpu, u, {N, I}), th = cpu->empty({N, I}, DType::F32);
  Tensor tcm = makeI32(cpu, cm, {N}), tc = makeI64(cpu, c0, {I});
  cpu->swiglu(tg, tu, &tcm, &tc, th);
  auto ref = [&](const Vec& gg, const Vec& uu) {
    Vec h(gg.size());
    for (size_t i = 0; i < gg.size(); ++i) h[i] = gg[i] / (1 + std::exp(-gg[i])) * uu[i];
    return h;
  };
  checkRel(H, "cpu swiglu forward vs f64", toHost(cpu, th), toF(ref(toD(g), toD(u))), 1e-6);
  std::vector<int64_t> ce = c0, cg = toHostI64(cpu, tc);
  for (int n = 0; n < N; ++n)
    for (int j = 0; j < I; ++j) ce[j] += (cm[n] != 0 && g[n * I + j] > 0.f);
  H.result("cpu swiglu counts == host count of g > 0 over the mask (+=)", cg == ce, "");
  Tensor tdh = cpuT(cpu, R, {N, I}), dg = cpu->empty({N, I}, DType::F32), du = cpu->empty({N, I}, DType::F32);
  cpu->swigluBackward(tdh, tg, tu, dg, du);
  Vec ng = numGrad([&](const Vec& x) { return dot(toD(R), ref(x, toD(u))); }, toD(g));
  Vec nu = numGrad([&](const Vec& x) { return dot(toD(R), ref(toD(g), x)); }, toD(u));
  checkRel(H, "cpu swiglu_backward dg vs central differences", toHost(cpu, dg), toF(ng), 1e-4);
  checkRel(H, "cpu swiglu_backward du vs central differences", toHost(cpu, du), toF(nu), 1e-4);
}

void checkLayerNorm(Harness& H, Backend* cpu) {
  const int N = 7, D = 24;
  float eps = 1e-5f;
  auto x = H.normal(N * D, 2.f), w = H.normal(D, 1.f), b = H.normal(D, 1.f);
  for (int i = 0; i < D; ++i) x[D + i] = 3.f + 1e-3f * x[D + i];  // a row with a large mean
  Tensor tx = cpuT(cpu, x, {N, D}), tw = cpuT(cpu, w, {D}), tb = cpuT(cpu, b, {D});
  auto ref = [&](bool bias) {
    Vec y(N * D);
    for (int n = 0; n < N; ++n) {
      double m = 0, v = 0;
      for (int i = 0; i < D; ++i) m += x[n * D + i];
      m /= D;
      for (int i = 0; i < D; ++i) v += (x[n * D + i] - m) * (x[n * D + i] - m);
      v /= D;
      for (int i = 0; i < D; ++i)
        y[n * D + i] = (x[n * D + i] - m) / std::sqrt(v + eps) * w[i] + (bias ? b[i] : 0.0);
    }
    return y;
  };
  for (bool bias : {true, false}) {
    Tensor ty = cpu->empty({N, D}, DType::F32);
    cpu->layernorm(tx, tw, bias ? &tb : nullptr, eps, ty);
    checkRel(H, std::string("cpu layernorm forward") + (bias ? " (+bias)" : "") + " vs f64", toHost(cpu, ty),
             toF(ref(bias)), 1e-6);
  }
}

void checkGelu(Harness& H, Backend* cpu) {
  auto x = H.normal(257, 3.f);
  x[0] = 0.f;
  Tensor tx = cpuT(cpu, x, {257});
  struct K {
    GeluKind kind;
    const char* name;
    double (*f)(double);
  };
  const K kinds[] = {
      {GeluKind::Erf, "erf", [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); }},
      {GeluKind::Tanh, "tanh",
       [](double v) { return 0.5 * v * (1 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v))); }},
      {GeluKind::Quick, "quick", [](double v) { return v / (1 + std::exp(-1.702 * v)); }}};
  for (const K& k : kinds) {
    Vec y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = k.f(x[i]);
    Tensor ty = cpu->empty({257}, DType::F32);
    cpu->gelu(tx, k.kind, ty);
    checkRel(H, std::string("cpu gelu (") + k.name + ") forward vs f64", toHost(cpu, ty), toF(y), 1e-6);
  }
  Tensor inPlace = cpuT(cpu, x, {257});
  cpu->gelu(inPlace, GeluKind::Quick, inPlace);
  Vec yq(x.size());
  for (size_t i = 0; i < x.size(); ++i) yq[i] = kinds[2].f(x[i]);
  checkRel(H, "cpu gelu in place (y aliases x)", toHost(cpu, inPlace), toF(yq), 1e-6);
}

void checkCrossEntropy(Harness& H, Backend* cpu) {
  const int P = 4, V = 7;
  const double scale = 0.7;
  auto x = H.normal(P * V, 2.f);
  std::vector<int32_t> labels = {2, -100, 0, 6};
  auto ref = [&](const Vec& xx) {
    Vec loss(P, 0.0);
    for (int p = 0; p < P; ++p) {
      if (labels[p] == -100) continue;
      double mx = -INFINITY;
      for (int v = 0; v < V; ++v) mx = std::max(mx, xx[p * V + v]);
      double s = 0;
      for (int v = 0; v < V; ++v) s += std::exp(xx[p * V + v] - mx);
      loss[p] = mx + std::log(s) - xx[p * V + labels[p]];
    }
    return loss;
  };
  Tensor tx = cpuT(cpu, x, {P, V}), tl = makeI32(cpu, labels, {P});
  Tensor losses = cpu->empty({P}, DType::F32), dl = cpu->empty({P, V}, DType::F32);
  poison(cpu, losses);
  poison(cpu, dl);
  cpu->crossEntropy(tx, tl, static_cast<float>(scale), losses, &dl);
  checkRel(H, "cpu cross_entropy losses vs f64 (row with -100 gives 0)", toHost(cpu, losses), toF(ref(toD(x))), 1e-6);
  Vec g = numGrad([&](const Vec& xx) {
    Vec l = ref(xx);
    double s = 0;
    for (double v : l) s += v;
    return s * scale;
  }, toD(x));
  checkRel(H, "cpu cross_entropy dlogits vs central differences", toHost(cpu, dl), toF(g), 1e-4);
}

}  // namespace

int runGradChecks(Harness& H) {
  Backend* cpu = getBackend("cpu");
  std::printf("== CPU reference: forward ops vs float64, backward ops vs float64 central differences\n");
  size_t before = H.failed.size();
  checkRmsnorm(H, cpu);
  checkLinear(H, cpu);
  checkRope(H, cpu);
  {
    // GQA (4 query heads over 2 kv heads), right padding in row 0, left padding in row 1 (its
    // first two queries see no key: lse = -inf, out = 0, no gradient).
    AttnShape a{2, 6, 4, 2, 4, 0, 0.61};
    std::vector<int32_t> mask = {1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1};
    checkAttention(H, cpu, a, mask, "(GQA, padding)");
    a.window = 3;
    checkAttention(H, cpu, a, mask, "(GQA, padding, window 3)");
    AttnShape b{1, 5, 2, 2, 3, 2, 0.5};
    checkAttention(H, cpu, b, {1, 1, 0, 1, 1}, "(MHA, inner pad, window 2)");
    AttnShape full{2, 5, 4, 2, 3, 0, 0.7, false};  // bidirectional (the CLIP tower), GQA, padding
    checkAttention(H, cpu, full, {1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, "(full, GQA, padding)");
    checkAttentionNaN(H, cpu);
    checkMaskedRows(H, cpu, 0);
    checkMaskedRows(H, cpu, 2);
  }
  checkSwiglu(H, cpu);
  checkCrossEntropy(H, cpu);
  checkLayerNorm(H, cpu);
  checkGelu(H, cpu);
  return static_cast<int>(H.failed.size() - before);
}

}  // namespace test
}  // namespace plast
