// The backend registry: the one place that knows every backend (it sits above cpu/ and cuda/,
// which know nothing of each other). Probed once; CUDA is optional at build and at run time.
#include <mutex>

#include "cpu/cpu_backend.h"
#include "plast/backend.h"
#ifdef PLAST_WITH_CUDA
#include "cuda/cuda_backend.h"
#endif

namespace plast {
namespace {

struct Registry {
  std::mutex mu;
  bool probed = false;
  std::vector<BackendInfo> infos;
  Backend* cuda = nullptr;
};

Registry& registry() {
  static Registry r;
  std::lock_guard<std::mutex> lk(r.mu);
  if (!r.probed) {
    r.probed = true;
    BackendInfo cpu{"cpu", true, "", cpuBackend()->deviceDescription()};
    r.infos.push_back(cpu);
#ifdef PLAST_WITH_CUDA
    std::string why;
    r.cuda = createCudaBackend(&why);
    BackendInfo ci{"cuda", r.cuda != nullptr, r.cuda ? "" : why,
                   r.cuda ? r.cuda->deviceDescription() : ""};
    r.infos.push_back(ci);
#else
    r.infos.push_back({"cuda", false, "this build has no CUDA backend (nvcc was not found when it was compiled)", ""});
#endif
  }
  return r;
}

}  // namespace

std::vector<BackendInfo> listBackends() { return registry().infos; }

Backend* getBackend(const std::string& name) {
  Registry& r = registry();
  if (name == "cpu") return cpuBackend();
  if (name == "cuda" || name == "auto") {
    if (r.cuda) return r.cuda;
    if (name == "auto") return cpuBackend();
    std::string why;
    for (auto& i : r.infos)
      if (i.name == "cuda") why = i.reason;
    PLAST_FAIL(Code::NoDevice, "the cuda backend is not available: " << why);
  }
  PLAST_FAIL(Code::Invalid, "unknown backend '" << name << "'; expected one of cpu, cuda, auto");
}

}  // namespace plast
