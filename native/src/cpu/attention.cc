// Causal or full attention with GQA, key padding masks and an optional sliding window; the
// backward pass recomputes probabilities from the saved log-sum-exp (as flash attention does).
#include <cmath>
#include <limits>
#include <vector>

#include "common/threadpool.h"
#include "cpu/cpu_backend.h"

namespace plast {
namespace {

struct Dims {
  int64_t B, T, Hq, Hkv, D;
};

Dims dims(const Tensor& q, const Tensor& k) {
  return Dims{q.dim(0), q.dim(1), q.dim(2), k.dim(2), q.dim(3)};
}

inline bool allowed(int64_t i, int64_t j, const int32_t* mask, const AttnMask& m) {
  return (!m.causal || j <= i) && mask[j] != 0 && (m.window <= 0 || i - j < m.window);
}

}  // namespace

void CpuBackend::attentionImpl(const Tensor& q, const Tensor& k, const Tensor& v,
                           const Tensor& keyMask, float scale, AttnMask attn, Tensor& out,
                           Tensor* lse) {
  Dims d = dims(q, k);
  auto last = [&](int64_t i) { return attn.causal ? i : d.T - 1; };  // the last key to visit
  const float *qp = q.ptr<float>(), *kp = k.ptr<float>(), *vp = v.ptr<float>();
  float* op_ = out.ptr<float>();
  float* lp = lse ? lse->ptr<float>() : nullptr;
  const int32_t* mp = keyMask.ptr<int32_t>();
  int64_t group = d.Hq / d.Hkv;
  parallelFor(d.B * d.Hq, 1, [&](int64_t b0, int64_t e0) {
    std::vector<float> s(d.T);
    for (int64_t bh = b0; bh < e0; ++bh) {
      int64_t b = bh / d.Hq, h = bh % d.Hq, hk = h / group;
      const int32_t* mask = mp + b * d.T;
      for (int64_t i = 0; i < d.T; ++i) {
        const float* qi = qp + ((b * d.T + i) * d.Hq + h) * d.D;
        float* oi = op_ + ((b * d.T + i) * d.Hq + h) * d.D;
        float mx = -std::numeric_limits<float>::infinity();
        bool nan = false;
        for (int64_t j = 0; j <= last(i); ++j) {
          if (!allowed(i, j, mask, attn)) continue;
          const float* kj = kp + ((b * d.T + j) * d.Hkv + hk) * d.D;
          float dot = 0;
          for (int64_t c = 0; c < d.D; ++c) dot += qi[c] * kj[c];
          s[j] = dot * scale;
          // std::max drops a NaN score (every comparison with it is false), so an all-NaN row came
          // out as zeros; a NaN score makes the whole row NaN, as in the softmax it stands for.
          if (std::isnan(s[j])) nan = true;
          mx = std::max(mx, s[j]);
        }
        if (nan) {
          const float qnan = std::numeric_limits<float>::quiet_NaN();
          for (int64_t c = 0; c < d.D; ++c) oi[c] = qnan;
          if (lp) lp[(b * d.Hq + h) * d.T + i] = qnan;
          continue;
        }
        for (int64_t c = 0; c < d.D; ++c) oi[c] = 0.f;
        if (mx == -std::numeric_limits<float>::infinity()) {  // no visible key
          if (lp) lp[(b * d.Hq + h) * d.T + i] = mx;
          continue;
        }
        double sum = 0;
        for (int64_t j = 0; j <= last(i); ++j) {
          if (!allowed(i, j, mask, attn)) continue;
          float p = std::exp(s[j] - mx);
          s[j] = p;
          sum += p;
        }
        float inv = static_cast<float>(1.0 / sum);
        for (int64_t j = 0; j <= last(i); ++j) {
          if (!allowed(i, j, mask, attn)) continue;
          const float* vj = vp + ((b * d.T + j) * d.Hkv + hk) * d.D;
          float p = s[j] * inv;
          for (int64_t c = 0; c < d.D; ++c) oi[c] += p * vj[c];
        }
        if (lp) lp[(b * d.Hq + h) * d.T + i] = mx + static_cast<float>(std::log(sum));
      }
    }
  });
}

void CpuBackend::attentionBackwardImpl(const Tensor& dout, const Tensor& q, const Tensor& k,
                                   const Tensor& v, const Tensor& keyMask, const Tensor& out,
                                   const Tensor& lse, float scale, AttnMask attn, Tensor& dq,
                                   Tensor& dk, Tensor& dv) {
  Dims d = dims(q, k);
  auto last = [&](int64_t i) { return attn.causal ? i : d.T - 1; };  // the last key to visit
  const float *qp = q.ptr<float>(), *kp = k.ptr<float>(), *vp = v.ptr<float>();
  const float *dop = dout.ptr<float>(), *oup = out.ptr<float>(), *lp = lse.ptr<float>();
  float *dqp = dq.ptr<float>(), *dkp = dk.ptr<float>(), *dvp = dv.ptr<float>();
  const int32_t* mp = keyMask.ptr<int32_t>();
  int64_t group = d.Hq / d.Hkv;
  // One task per (batch, kv head): it owns dk/dv of that head and dq of its query heads.
  parallelFor(d.B * d.Hkv, 1, [&](int64_t b0, int64_t e0) {
    std::vector<float> p(d.T);
    for (int64_t bk = b0; bk < e0; ++bk) {
      int64_t b = bk / d.Hkv, hk = bk % d.Hkv;
      const int32_t* mask = mp + b * d.T;
      for (int64_t j = 0; j < d.T; ++j) {
        float* dkj = dkp + ((b * d.T + j) * d.Hkv + hk) * d.D;
        float* dvj = dvp + ((b * d.T + j) * d.Hkv + hk) * d.D;
        for (int64_t c = 0; c < d.D; ++c) dkj[c] = dvj[c] = 0.f;
      }
      for (int64_t h = hk * group; h < (hk + 1) * group; ++h) {
        for (int64_t i = 0; i < d.T; ++i) {
          size_t qi_off = ((b * d.T + i) * d.Hq + h) * d.D;
          const float* qi = qp + qi_off;
          const float* doi = dop + qi_off;
          const float* oi = oup + qi_off;
          float* dqi = dqp + qi_off;
          for (int64_t c = 0; c < d.D; ++c) dqi[c] = 0.f;
          float L = lp[(b * d.Hq + h) * d.T + i];
          if (L == -std::numeric_limits<float>::infinity()) continue;
          float Di = 0;
          for (int64_t c = 0; c < d.D; ++c) Di += doi[c] * oi[c];
          for (int64_t j = 0; j <= last(i); ++j) {
            if (!allowed(i, j, mask, attn)) continue;
            const float* kj = kp + ((b * d.T + j) * d.Hkv + hk) * d.D;
            const float* vj = vp + ((b * d.T + j) * d.Hkv + hk) * d.D;
            float dot = 0, dpv = 0;
            for (int64_t c = 0; c < d.D; ++c) {
              dot += qi[c] * kj[c];
              dpv += doi[c] * vj[c];
            }
            float pij = std::exp(dot * scale - L);
            float ds = pij * (dpv - Di) * scale;
            float* dkj = dkp + ((b * d.T + j) * d.Hkv + hk) * d.D;
            float* dvj = dvp + ((b * d.T + j) * d.Hkv + hk) * d.D;
            for (int64_t c = 0; c < d.D; ++c) {
              dqi[c] += ds * kj[c];
              dkj[c] += ds * qi[c];
              dvj[c] += pij * doi[c];
            }
          }
        }
      }
    }
  });
}

}  // namespace plast
