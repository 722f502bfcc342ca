#pragma once
#include <napi.h>

namespace plast {

// tryLockFd(fd): an exclusive, non-blocking flock on a Node file descriptor: true when taken,
// false when another open file holds it, ERR_IO otherwise (the output lock, src/util/lock.ts).
void registerFileLock(Napi::Env env, Napi::Object exports);

}  // namespace plast
