// plast_op_tests: the native op tests.
//   0. The op contract: the op list, argument checks, index ranges recorded at upload.
//   1. The CPU reference against float64 (forward) and float64 central differences (backward).
//   2. Every op on the CUDA backend against the CPU reference, when a CUDA device is available;
//      otherwise a "skipped: <reason>" line.
// Usage: plast_op_tests [--seed N] [--verbose] [--cpu-only] [--self-check]. Exits 1 on any failure.
// --self-check runs the parity suite with the CPU backend in the CUDA backend's place (a test of
// the harness itself on machines without a GPU).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "test_util.h"

int main(int argc, char** argv) {
  using namespace plast;
  uint64_t seed = static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()) % 1000000007ull;
  bool verbose = false, cpuOnly = false, selfCheck = false;
  if (const char* s = std::getenv("PLAST_TEST_SEED")) seed = std::strtoull(s, nullptr, 10);
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--seed") && i + 1 < argc) seed = std::strtoull(argv[++i], nullptr, 10);
    else if (!std::strcmp(argv[i], "--verbose") || !std::strcmp(argv[i], "-v")) verbose = true;
    else if (!std::strcmp(argv[i], "--cpu-only")) cpuOnly = true;
    else if (!std::strcmp(argv[i], "--self-check")) selfCheck = true;
    else {
      std::fprintf(stderr, "usage: %s [--seed N] [--verbose] [--cpu-only] [--self-check]\n", argv[0]);
      return 2;
    }
  }
  std::printf("plast_op_tests: seed %llu (rerun with --seed %llu)\n", static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(seed));
  test::Harness h(seed);
  h.verbose = verbose;
  auto t0 = std::chrono::steady_clock::now();
  try {
    test::runContractChecks(h);
    test::runGradChecks(h);
    Backend* cuda = nullptr;
    std::string why;
    for (const BackendInfo& b : listBackends())
      if (b.name == "cuda") {
        if (b.available) cuda = getBackend("cuda");
        else why = b.reason;
      }
    if (selfCheck) {
      test::runParity(h, getBackend("cpu"));  // the parity harness against the CPU itself
    } else if (cpuOnly) {
      std::printf("== CUDA backend vs CPU reference: skipped: --cpu-only\n");
    } else if (!cuda) {
      std::printf("== CUDA backend vs CPU reference: skipped: %s\n", why.c_str());
    } else {
      test::runParity(h, cuda);
    }
  } catch (const std::exception& e) {
    h.result("unexpected exception", false, e.what());
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("plast_op_tests: %d passed, %zu failed (%.1f s, seed %llu)\n", h.passed, h.failed.size(), secs,
              static_cast<unsigned long long>(seed));
  for (const std::string& f : h.failed) std::printf("  failed: %s\n", f.c_str());
  return h.failed.empty() ? 0 : 1;
}
