// The trainable tensors of a model and their optimizer state: for each, an owned copy of the
// weight, an fp32 master, an fp32 gradient and the two fp32 AdamW moments. Models know nothing of
// AdamW; they ask which param a weight belongs to when they compute gradients (forWeight). The
// module is model-agnostic: tensors are found by name through the model's WeightTable.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "model/weights.h"
#include "plast/backend.h"

namespace plast {

enum class ParamPart { Weight, Master, Grad, M, V };

class Params {
 public:
  struct Param {
    std::string name;
    Tensor* weight;  // the model's tensor (replaced by an owned copy when made trainable)
    Tensor master, grad, m, v;
  };

  Params(Backend* backend, WeightTable& weights) : be_(backend), weights_(weights) {}

  // Forgets the trainable set. Weights already replaced by owned copies keep their values.
  void clear() { list_.clear(); }
  // Makes one loaded weight trainable: Invalid when listed twice or not loaded, Format when the
  // model has no such tensor. The order of add() calls is the order of trainable().
  void add(const std::string& name);
  bool empty() const { return list_.empty(); }
  std::vector<std::string> names() const;
  Param* find(const std::string& name);
  // The param whose weight is this model member, or null when that weight is frozen.
  Param* forWeight(const Tensor& slot);

  void zeroGrad();
  double gradSumSquares();
  void adamwStep(const AdamWParams& p);

  // Weight reads any loaded tensor; the other parts exist for trainable tensors only. Writes go
  // to trainable tensors only; writing the master (or the weight) also refreshes the weight.
  std::vector<float> read(const std::string& name, ParamPart part);
  void write(const std::string& name, ParamPart part, const std::vector<float>& data);

 private:
  Backend* be_;
  WeightTable& weights_;
  std::vector<std::unique_ptr<Param>> list_;
};

}  // namespace plast
