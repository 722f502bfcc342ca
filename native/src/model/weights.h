// A model's weights by HF name: for each name, the model member that holds the tensor and the
// shape the model's config implies. Models declare their names once (llama_weights.cc for the
// decoder); loading, shape checks and "what is missing" are the same for every model.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "plast/tensor.h"

namespace plast {

class WeightTable {
 public:
  // `slot` is a member of the model and must outlive the table.
  void declare(const std::string& name, Tensor* slot, Shape shape);

  std::vector<std::string> names() const;  // sorted
  Shape shape(const std::string& name) const;  // throws Format for unknown names
  Tensor* slot(const std::string& name);        // throws Format for unknown names
  // Stores a loaded tensor after checking its shape against the config and that it is a float.
  void set(const std::string& name, Tensor t);
  // Throws Format naming every declared tensor that was never set (the first 8 of them).
  void checkComplete() const;

 private:
  struct Entry {
    Tensor* slot;
    Shape shape;
  };
  const Entry& entry(const std::string& name) const;
  std::map<std::string, Entry> entries_;  // a map: names() is sorted, as callers list it
};

}  // namespace plast
