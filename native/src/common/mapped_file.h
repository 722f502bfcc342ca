// Read-only memory mapping of a checkpoint file: tensors reference it instead of copying.
#pragma once
#include <cstddef>
#include <memory>
#include <string>

namespace plast {

struct MappedFile {
  std::string path;
  const unsigned char* data = nullptr;
  size_t size = 0;
  ~MappedFile();
};

std::shared_ptr<MappedFile> mapFile(const std::string& path);  // throws Code::IO

}  // namespace plast
