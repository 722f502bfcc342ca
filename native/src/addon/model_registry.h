// The model kinds `new NativeModel(backend, config, arch)` can create, by architecture name. A new
// kind is one entry in model_registry.cc: a function that reads its config from the JS object and
// constructs the model; the wrapper (model_wrap.cc) only sees the Model base class.
#pragma once
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "model/model.h"

namespace plast {

// Throws Unsupported naming the architecture when no entry has it, Invalid for a malformed config,
// NoDevice when the backend is not available.
std::unique_ptr<Model> createModel(const std::string& arch, const std::string& backend,
                                   const Napi::Object& config);
std::vector<std::string> modelArchs();

}  // namespace plast
