// tryLockFd(fd): flock(fd, LOCK_EX | LOCK_NB) on a descriptor opened by Node (src/util/lock.ts).
// Node has no flock of its own; a kernel lock is released when its process ends however it ends,
// which is what lets a killed writer's output be taken at once, with no guessing from pids.
#include <napi.h>
#include <sys/file.h>

#include <cerrno>
#include <cmath>
#include <cstring>

#include "addon/file_lock.h"
#include "addon/task.h"
#include "plast/error.h"

namespace plast {

namespace {

// true: taken; false: another open file (another process, or another open of this process) holds
// it; ERR_UNSUPPORTED where the file system has no flock; anything else is ERR_IO with the
// system's reason.
Napi::Value tryLockFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard(env, [&]() -> Napi::Value {
    PLAST_CHECK(info.Length() > 0 && info[0].IsNumber(), Code::Invalid,
                "Expected a file descriptor (a non-negative integer) for fd");
    double d = info[0].As<Napi::Number>().DoubleValue();
    PLAST_CHECK(d >= 0 && d <= 2147483647.0 && std::floor(d) == d, Code::Invalid,
                "Expected a file descriptor (a non-negative integer) for fd but received " << d);
    int fd = static_cast<int>(d);
    int rc;
    do rc = flock(fd, LOCK_EX | LOCK_NB);
    while (rc != 0 && errno == EINTR);
    int err = rc == 0 ? 0 : errno;
    // A file system without flock (some Lustre mounts, FUSE): the caller decides what to do.
    PLAST_CHECK(err != ENOSYS && err != EOPNOTSUPP && err != ENOLCK && err != EINVAL, Code::Unsupported,
                "flock is not supported on this file system (" << std::strerror(err) << ")");
    PLAST_CHECK(err == 0 || err == EWOULDBLOCK, Code::IO, "flock failed (" << std::strerror(err) << ")");
    return Napi::Boolean::New(env, err == 0);
  });
}

}  // namespace

void registerFileLock(Napi::Env env, Napi::Object exports) {
  exports.Set("tryLockFd", Napi::Function::New(env, tryLockFd));
}

}  // namespace plast
