#include "common/threadpool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace plast {
namespace {

class Pool {
 public:
  explicit Pool(int n) : n_(n) {
    for (int i = 1; i < n_; ++i) workers_.emplace_back([this] { loop(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int size() const { return n_; }

  // Runs job(i) for i in [0, jobs) on the pool and the caller; rethrows the first exception.
  void run(int jobs, const std::function<void(int)>& job) {
    std::lock_guard<std::mutex> runLock(runMu_);  // one parallel region at a time
    {
      std::lock_guard<std::mutex> lk(mu_);
      job_ = &job;
      jobs_.store(jobs);
      next_.store(0);
      pending_ = jobs;
      error_ = nullptr;
      ++generation_;
    }
    cv_.notify_all();
    work();
    std::unique_lock<std::mutex> lk(mu_);
    done_.wait(lk, [this] { return pending_ == 0; });
    job_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  void work() {
    for (;;) {
      int i = next_.fetch_add(1);
      if (i >= jobs_) return;
      try {
        (*job_)(i);
      } catch (...) {
        std::lock_guard<std::mutex> lk(mu_);
        if (!error_) error_ = std::current_exception();
      }
      std::lock_guard<std::mutex> lk(mu_);
      if (--pending_ == 0) done_.notify_all();
    }
  }
  void loop() {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return stop_ || (generation_ != seen && job_ != nullptr); });
        if (stop_) return;
        seen = generation_;
      }
      work();
    }
  }

  int n_;
  std::vector<std::thread> workers_;
  std::mutex mu_, runMu_;
  std::condition_variable cv_, done_;
  const std::function<void(int)>* job_ = nullptr;
  std::atomic<int> jobs_{0};
  std::atomic<int> next_{0};
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

int configuredThreads() {
  if (const char* env = std::getenv("PLAST_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return std::min(n, 256);
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw ? static_cast<int>(hw) : 1;
}

Pool& pool() {
  static Pool p(configuredThreads());
  return p;
}

thread_local bool inParallel = false;

}  // namespace

int numThreads() { return pool().size(); }

void parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  int threads = numThreads();
  int64_t maxChunks = (n + grain - 1) / grain;
  // Nested regions run inline: the pool is busy with the outer one.
  if (threads <= 1 || maxChunks <= 1 || inParallel) {
    fn(0, n);
    return;
  }
  int chunks = static_cast<int>(std::min<int64_t>(maxChunks, int64_t(threads) * 4));
  int64_t per = (n + chunks - 1) / chunks;
  pool().run(chunks, [&](int c) {
    int64_t b = c * per, e = std::min(n, b + per);
    if (b >= e) return;
    bool prev = inParallel;
    inParallel = true;
    try {
      fn(b, e);
    } catch (...) {
      inParallel = prev;
      throw;
    }
    inParallel = prev;
  });
}

}  // namespace plast
