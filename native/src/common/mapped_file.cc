#include "common/mapped_file.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plast/error.h"

namespace plast {

MappedFile::~MappedFile() {
  if (data && size) munmap(const_cast<unsigned char*>(data), size);
}

std::shared_ptr<MappedFile> mapFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  PLAST_CHECK(fd >= 0, Code::IO, path << ": cannot open (" << std::strerror(errno) << ")");
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    PLAST_FAIL(Code::IO, path << ": cannot stat (" << std::strerror(err) << ")");
  }
  auto m = std::make_shared<MappedFile>();
  m->path = path;
  m->size = static_cast<size_t>(st.st_size);
  if (m->size > 0) {
    void* p = mmap(nullptr, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    ::close(fd);
    PLAST_CHECK(p != MAP_FAILED, Code::IO, path << ": cannot map (" << std::strerror(err) << ")");
    m->data = static_cast<const unsigned char*>(p);
  } else {
    ::close(fd);
  }
  return m;
}

}  // namespace plast
