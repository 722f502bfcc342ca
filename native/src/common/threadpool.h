// A fixed pool of worker threads for the CPU backend. parallelFor splits [0, n) into contiguous
// chunks; the calling thread takes part. Thread count: PLAST_THREADS or the hardware's.
#pragma once
#include <cstdint>
#include <functional>

namespace plast {

int numThreads();
// fn(begin, end) over disjoint chunks covering [0, n); chunks have at least `grain` items.
void parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace plast
