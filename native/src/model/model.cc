#include "model/model.h"

namespace plast {

void Model::finalize() {
  weights_.checkComplete();
  finalized_ = true;
}

ForwardResult Model::forward(const Batch&, bool) {
  PLAST_FAIL(Code::Unsupported, "a " << arch() << " model has no token forward pass");
}

TrainResult Model::forwardBackward(const Batch&, float) {
  PLAST_FAIL(Code::Unsupported, "a " << arch() << " model has no token training pass");
}

ImageResult Model::encode(const ImageBatch&) {
  PLAST_FAIL(Code::Unsupported, "a " << arch() << " model has no image pass");
}

void Model::setTrainable(const std::vector<std::string>& names) {
  params_.clear();
  for (const std::string& name : names) params_.add(name);
}

}  // namespace plast
