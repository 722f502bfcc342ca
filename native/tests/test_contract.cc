// Checks of the op contract itself (no GPU needed): the op list from plast/ops.def, the checks
// in native/src/ops that run before any backend code, and the index ranges recorded at upload,
// which let a device backend range-check ids and labels without copying them back.
#include <cstring>
#include <limits>
#include <string>

#include "common/finite.h"
#include "cpu/cpu_backend.h"
#include "test_util.h"

namespace plast {
namespace test {
namespace {

// The CPU backend, counting read-backs: what a device backend would pay as device-to-host stalls.
class CountingCpu : public CpuBackend {
 public:
  int downloads = 0;

 protected:
  void downloadImpl(const Tensor& src, void* host) override {
    ++downloads;
    CpuBackend::downloadImpl(src, host);
  }
};

template <typename F>
void expectCode(Harness& H, const std::string& name, Code want, F&& f, const char* mustContain) {
  try {
    f();
    H.result(name, false, "no error thrown");
  } catch (const Error& e) {
    bool ok = e.code() == want && std::strstr(e.what(), mustContain);
    H.result(name, ok, std::string(e.codeName()) + ": " + e.what());
  }
}

void checkOpList(Harness& H) {
  const char* want[] = {"embedding", "rmsnorm", "rmsnorm_backward", "linear",
                        "linear_backward_input", "linear_backward_weight", "rope", "attention",
                        "attention_backward", "swiglu", "swiglu_backward", "ffn_up",
                        "cross_entropy", "add", "cast", "gather", "scatter_add", "adamw",
                        "sum_squares", "layernorm", "gelu"};
  bool ok = static_cast<int>(Op::Count_) == 21;
  for (int i = 0; ok && i < 21; ++i) ok = std::string(opName(static_cast<Op>(i))) == want[i];
  H.result("ops.def: Op enum and opName in the documented order", ok, "");
  H.result("ops.def: layernorm and gelu are the CPU-only ops",
           isCpuOnly(Op::LayerNorm) && isCpuOnly(Op::Gelu) && !isCpuOnly(Op::RmsNorm), "");
  H.result("opName of an out-of-range op is '?'", std::string(opName(Op::Count_)) == "?", "");
}

void checkIndexRecord(Harness& H) {
  CountingCpu be;
  Tensor table = makeTensor(&be, H.normal(5 * 3, 1), {5, 3}, DType::F32);
  Tensor out = be.empty({4, 3}, DType::F32);
  Tensor ids = makeI32(&be, {0, 4, 2, 4}, {4});
  IndexStats s = be.indexStats(ids);
  H.result("upload records the range of i32 data", s.min == 0 && s.max == 4 && !s.distinct, "");
  {
    // distinct: the linear (small range) and the sorting (sparse, wide range) paths
    std::vector<int32_t> a = {3, 1, 2}, b = {0, 2000000000, 5}, c = {7, -2000000000, 9, 7};
    IndexStats sa = computeIndexStats(a.data(), 3), sb = computeIndexStats(b.data(), 3),
               sc = computeIndexStats(c.data(), 4);
    H.result("index record: distinct values, repeats found over a small and a wide range",
             sa.distinct && sb.distinct && !sc.distinct && sb.max == 2000000000 && sc.min == -2000000000, "");
  }
  be.embedding(table, ids, out);
  H.result("embedding with uploaded ids reads nothing back", be.downloads == 0, std::to_string(be.downloads));

  Tensor bad = makeI32(&be, {0, 1, 5, 2}, {4});
  expectCode(H, "embedding: an id outside the vocabulary is refused with its position", Code::Invalid,
             [&] { be.embedding(table, bad, out); }, "token id 5 at position 2");

  // Written without upload: no record, so the values are read back and checked exactly.
  Tensor raw = be.empty({4}, DType::I32);
  int32_t vals[] = {1, 2, 3, 7};
  std::memcpy(raw.data(), vals, sizeof vals);
  be.downloads = 0;
  expectCode(H, "embedding: ids written without upload are still checked", Code::Invalid,
             [&] { be.embedding(table, raw, out); }, "token id 7 at position 3");
  H.result("  ... by reading them back", be.downloads > 0, "");

  // Labels: the ignore index (-100) does not defeat the record.
  Tensor logits = makeTensor(&be, H.normal(3 * 6, 1), {3, 6}, DType::F32);
  Tensor losses = be.empty({3}, DType::F32);
  Tensor labels = makeI32(&be, {kIgnoreIndex, 5, 0}, {3});
  be.downloads = 0;
  be.crossEntropy(logits, labels, 1.f, losses, nullptr);
  H.result("cross_entropy with -100 labels reads nothing back", be.downloads == 0, std::to_string(be.downloads));
  Tensor badLabels = makeI32(&be, {kIgnoreIndex, 6, 0}, {3});
  expectCode(H, "cross_entropy: a label outside [0, V) is refused with its row", Code::Invalid,
             [&] { be.crossEntropy(logits, badLabels, 1.f, losses, nullptr); }, "label 6 at row 1");
  Tensor negLabels = makeI32(&be, {-1, 0, 0}, {3});
  expectCode(H, "cross_entropy: a negative label other than -100 is refused", Code::Invalid,
             [&] { be.crossEntropy(logits, negLabels, 1.f, losses, nullptr); }, "label -1 at row 0");

  // A view of an uploaded tensor is checked against the whole record (a superset of its values).
  Tensor rowsIdx = makeI32(&be, {2, 0, 9}, {3});
  Tensor firstTwo = rowsIdx.rows(0, 2);
  Tensor x = makeTensor(&be, H.normal(3 * 2, 1), {3, 2}, DType::F32), g = be.empty({2, 2}, DType::F32);
  be.downloads = 0;
  be.gather(x, firstTwo, g);
  H.result("gather on an in-range view of a wider record is exact (read back once)",
           be.downloads == 1 && toHost(&be, g)[0] == toHost(&be, x)[4], std::to_string(be.downloads));

  be.zero(ids);
  s = be.indexStats(ids);
  H.result("zero leaves a record of zeros", s.min == 0 && s.max == 0, "");
}

void checkArgChecks(Harness& H) {
  Backend* cpu = getBackend("cpu");
  Tensor x = makeTensor(cpu, H.normal(6, 1), {2, 3}, DType::F32);
  Tensor w = makeTensor(cpu, H.normal(4, 1), {4}, DType::F32), y = cpu->empty({2, 3}, DType::F32);
  expectCode(H, "rmsnorm: a weight of the wrong shape names it", Code::Shape,
             [&] { cpu->rmsnorm(x, w, 1e-5f, y, nullptr); }, "rmsnorm: expected w of shape [3]");
  Tensor xb = makeTensor(cpu, H.normal(6, 1), {2, 3}, DType::BF16), wb = makeTensor(cpu, H.normal(3, 1), {3}, DType::BF16);
  expectCode(H, "rmsnorm: bf16 activations on the CPU are refused", Code::DType,
             [&] { cpu->rmsnorm(xb, wb, 1e-5f, y, nullptr); }, "expected x of dtype f32");
  Tensor none;
  expectCode(H, "linear: a missing tensor is named", Code::Invalid,
             [&] { cpu->linear(x, none, nullptr, y); }, "linear: w is missing");
  Tensor a = makeTensor(cpu, H.normal(4, 1), {4}, DType::BF16), b = makeTensor(cpu, H.normal(4, 1), {4}, DType::BF16);
  expectCode(H, "add: the CPU adds f32 only", Code::DType, [&] { cpu->add(a, b, a); }, "expected a of dtype f32");
  CountingCpu other;
  Tensor foreign = makeTensor(&other, H.normal(3, 1), {3}, DType::F32);
  expectCode(H, "an op given another backend's tensor is refused", Code::Invalid,
             [&] { cpu->rmsnorm(x, foreign, 1e-5f, y, nullptr); }, "w must be a cpu tensor but lives on another cpu backend");
}

void checkFiniteScan(Harness& H) {
  // f32: NaN, +Inf, -Inf found at their index; the largest finite value is not; misaligned data.
  std::vector<float> f(100003, 1.5f);
  f[100000] = 3.4e38f;
  bool ok = firstNonFinite(f.data(), DType::F32, int64_t(f.size())) == -1;
  f[77777] = std::numeric_limits<float>::infinity();
  f[90000] = std::numeric_limits<float>::quiet_NaN();
  ok = ok && firstNonFinite(f.data(), DType::F32, int64_t(f.size())) == 77777;
  f[77777] = -std::numeric_limits<float>::infinity();
  ok = ok && firstNonFinite(f.data(), DType::F32, int64_t(f.size())) == 77777;
  std::vector<unsigned char> raw(4 * 10 + 1);
  std::vector<float> ten(10, 2.f);
  ten[9] = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(raw.data() + 1, ten.data(), 40);
  ok = ok && firstNonFinite(raw.data() + 1, DType::F32, 10) == 9;
  H.result("firstNonFinite f32: NaN/+Inf/-Inf at their index, 3.4e38 finite, misaligned data", ok, "");
  // bf16 and f16: exponent all ones is NaN/Inf; the largest finite values are not.
  std::vector<uint16_t> b(5000, f32ToBf16(1.f));
  b[10] = 0x7f7f;  // bf16 max finite
  bool okb = firstNonFinite(b.data(), DType::BF16, 5000) == -1;
  b[4321] = 0xff80;  // bf16 -Inf
  okb = okb && firstNonFinite(b.data(), DType::BF16, 5000) == 4321;
  std::vector<uint16_t> h(5000, f32ToF16(1.f));
  h[10] = 0x7bff;  // f16 max finite (65504)
  bool okh = firstNonFinite(h.data(), DType::F16, 5000) == -1;
  h[12] = 0x7e00;  // f16 NaN
  okh = okh && firstNonFinite(h.data(), DType::F16, 5000) == 12;
  H.result("firstNonFinite bf16 and f16: -Inf / NaN found, the largest finite values not", okb && okh, "");
}

}  // namespace

int runContractChecks(Harness& H) {
  std::printf("== op contract: op list, argument checks, index ranges recorded at upload\n");
  size_t before = H.failed.size();
  checkOpList(H);
  checkIndexRecord(H);
  checkArgChecks(H);
  checkFiniteScan(H);
  return static_cast<int>(H.failed.size() - before);
}

}  // namespace test
}  // namespace plast
