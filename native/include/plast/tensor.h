// Tensors: contiguous row-major buffers owned by a backend (host memory for the CPU backend,
// device memory for CUDA). A Tensor is a cheap handle: copies share the storage.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "plast/error.h"

namespace plast {

enum class DType : int32_t { BF16 = 0, F16 = 1, F32 = 2, I32 = 3, I64 = 4, U8 = 5 };

size_t dtypeSize(DType t);
const char* dtypeName(DType t);
bool isFloat(DType t);

class Backend;

// What Backend::upload saw in i32 data: ops range-check index tensors against this instead of
// copying them back from the device. Code that writes an i32 tensor by any other means must
// reset Storage::indices (Backend::zero and the ops do; none of them writes i32 data).
constexpr int32_t kIgnoreIndex = -100;  // a label that is not scored (torch's ignore_index)
struct IndexStats {
  int32_t min = 0, max = -1;          // over all values; max < min: no elements
  int32_t minKept = 0, maxKept = -1;  // over the values other than kIgnoreIndex
  bool distinct = true;               // no value repeats
};
IndexStats computeIndexStats(const int32_t* v, int64_t n);

// One allocation. `release` frees it (cudaFree, free, munmap bookkeeping, ...).
struct Storage {
  Backend* backend = nullptr;
  void* ptr = nullptr;
  size_t bytes = 0;
  std::function<void(void*)> release;
  std::optional<IndexStats> indices;  // set by upload() of i32 data covering the whole storage
  Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  ~Storage() {
    if (release && ptr) release(ptr);
  }
};

using Shape = std::vector<int64_t>;
std::string shapeStr(const Shape& s);

struct Tensor {
  std::shared_ptr<Storage> storage;
  size_t offset = 0;  // bytes into storage
  Shape shape;
  DType dtype = DType::F32;

  bool defined() const { return storage != nullptr; }
  Backend* backend() const { return storage ? storage->backend : nullptr; }
  void* data() const { return storage ? static_cast<char*>(storage->ptr) + offset : nullptr; }
  template <typename T>
  T* ptr() const { return static_cast<T*>(data()); }
  int64_t numel() const {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtypeSize(dtype); }
  int ndim() const { return static_cast<int>(shape.size()); }
  int64_t dim(int i) const { return shape.at(i < 0 ? shape.size() + i : i); }
  // Rows [begin, end) of the first dimension, sharing storage.
  Tensor rows(int64_t begin, int64_t end) const;
  // The same bytes seen with another shape (same numel).
  Tensor view(const Shape& s) const;
  std::string describe() const;  // "bf16[4, 16]"
};

}  // namespace plast
