#include "model/weights.h"

#include <sstream>

namespace plast {

void WeightTable::declare(const std::string& name, Tensor* slot, Shape shape) {
  PLAST_CHECK(entries_.emplace(name, Entry{slot, std::move(shape)}).second, Code::Internal,
              "weight '" << name << "' declared twice");
}

std::vector<std::string> WeightTable::names() const {
  std::vector<std::string> out;
  for (auto& kv : entries_) out.push_back(kv.first);
  return out;
}

const WeightTable::Entry& WeightTable::entry(const std::string& name) const {
  auto it = entries_.find(name);
  PLAST_CHECK(it != entries_.end(), Code::Format, "unexpected tensor '" << name << "' for this model");
  return it->second;
}

Shape WeightTable::shape(const std::string& name) const { return entry(name).shape; }

Tensor* WeightTable::slot(const std::string& name) { return entry(name).slot; }

void WeightTable::set(const std::string& name, Tensor t) {
  const Entry& e = entry(name);
  PLAST_CHECK(t.shape == e.shape, Code::Shape,
              "tensor '" << name << "': expected shape " << shapeStr(e.shape)
                         << " from config.json but the checkpoint has " << shapeStr(t.shape));
  PLAST_CHECK(isFloat(t.dtype), Code::DType,
              "tensor '" << name << "': expected a float dtype but received " << dtypeName(t.dtype));
  *e.slot = std::move(t);
}

void WeightTable::checkComplete() const {
  std::vector<std::string> missing;
  for (auto& kv : entries_)
    if (!kv.second.slot->defined()) missing.push_back(kv.first);
  if (missing.empty()) return;
  std::ostringstream os;
  os << missing.size() << " tensor(s) missing from the checkpoint: ";
  for (size_t i = 0; i < missing.size() && i < 8; ++i) os << (i ? ", " : "") << missing[i];
  if (missing.size() > 8) os << ", ...";
  PLAST_FAIL(Code::Format, os.str());
}

}  // namespace plast
