#include "common/finite.h"

#include <atomic>
#include <cstring>

#include "common/threadpool.h"

namespace plast {
namespace {

// Loads through memcpy: tensor data in a checkpoint need not be aligned to its element size.
template <typename U>
inline U at(const unsigned char* p, int64_t i) {
  U u;
  std::memcpy(&u, p + i * static_cast<int64_t>(sizeof(U)), sizeof(U));
  return u;
}

template <typename U, U kExp>
int64_t scan(const void* data, int64_t b, int64_t e) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  // A branch-free pass first (vectorises), the position only when the chunk has a bad value.
  U any = 0;
  for (int64_t i = b; i < e; ++i) any |= static_cast<U>((at<U>(p, i) & kExp) == kExp);
  if (!any) return -1;
  for (int64_t i = b; i < e; ++i)
    if ((at<U>(p, i) & kExp) == kExp) return i;
  return -1;
}

}  // namespace

int64_t firstNonFinite(const void* p, DType dt, int64_t n) {
  if (!isFloat(dt) || n <= 0) return -1;
  std::atomic<int64_t> first{n};
  parallelFor(n, 1 << 16, [&](int64_t b, int64_t e) {
    if (b >= first.load()) return;  // a bad value earlier was found already
    int64_t i = dt == DType::F32    ? scan<uint32_t, 0x7f800000u>(p, b, e)
                : dt == DType::BF16 ? scan<uint16_t, 0x7f80>(p, b, e)
                                    : scan<uint16_t, 0x7c00>(p, b, e);
    int64_t cur = first.load();
    while (i >= 0 && i < cur && !first.compare_exchange_weak(cur, i)) {
    }
  });
  int64_t f = first.load();
  return f < n ? f : -1;
}

}  // namespace plast
