#include "model/params.h"

namespace plast {

void Params::add(const std::string& name) {
  PLAST_CHECK(!find(name), Code::Invalid, "trainable tensor '" << name << "' listed twice");
  Tensor* w = weights_.slot(name);
  PLAST_CHECK(w->defined(), Code::Invalid, "tensor '" << name << "' has no weights loaded");
  auto p = std::make_unique<Param>();
  p->name = name;
  p->weight = w;
  // An owned copy: the loaded weight may live in a read-only file mapping.
  Tensor own = be_->empty(w->shape, w->dtype);
  be_->cast(*w, own);
  *w = own;
  if (w->dtype == DType::F32) {
    p->master = *w;  // the weight is its own fp32 master
  } else {
    p->master = be_->empty(w->shape, DType::F32);
    be_->cast(*w, p->master);
  }
  p->grad = be_->zeros(w->shape, DType::F32);
  p->m = be_->zeros(w->shape, DType::F32);
  p->v = be_->zeros(w->shape, DType::F32);
  list_.push_back(std::move(p));
}

std::vector<std::string> Params::names() const {
  std::vector<std::string> out;
  for (auto& p : list_) out.push_back(p->name);
  return out;
}

Params::Param* Params::find(const std::string& name) {
  for (auto& p : list_)
    if (p->name == name) return p.get();
  return nullptr;
}

Params::Param* Params::forWeight(const Tensor& slot) {
  for (auto& p : list_)
    if (p->weight == &slot) return p.get();
  return nullptr;
}

void Params::zeroGrad() {
  for (auto& p : list_) be_->zero(p->grad);
}

double Params::gradSumSquares() {
  std::vector<Tensor> gs;
  for (auto& p : list_) gs.push_back(p->grad);
  return be_->sumSquares(gs);
}

void Params::adamwStep(const AdamWParams& ap) {
  PLAST_CHECK(!list_.empty(), Code::Invalid, "no trainable tensors: call setTrainable first");
  std::vector<AdamWSlot> slots;
  for (auto& p : list_) {
    AdamWSlot s{p->master, p->grad, p->m, p->v, Tensor()};
    // A bf16/f16 weight is refreshed from its master in the same pass; an f32 weight is the master.
    if (p->weight->data() != p->master.data()) s.weight = *p->weight;
    slots.push_back(s);
  }
  be_->adamw(slots, ap);
}

std::vector<float> Params::read(const std::string& name, ParamPart part) {
  Tensor src;
  if (part == ParamPart::Weight) {
    src = *weights_.slot(name);
    PLAST_CHECK(src.defined(), Code::Invalid, "tensor '" << name << "' has no weights loaded");
  } else {
    Param* p = find(name);
    PLAST_CHECK(p, Code::Invalid, "tensor '" << name << "' is not trainable");
    src = part == ParamPart::Master ? p->master
          : part == ParamPart::Grad ? p->grad
          : part == ParamPart::M    ? p->m
                                    : p->v;
  }
  Tensor f = src;
  if (src.dtype != DType::F32) {
    f = be_->empty(src.shape, DType::F32);
    be_->cast(src, f);
  }
  std::vector<float> out(static_cast<size_t>(f.numel()));
  be_->download(f, out.data());
  return out;
}

void Params::write(const std::string& name, ParamPart part, const std::vector<float>& data) {
  Param* p = find(name);
  PLAST_CHECK(p, Code::Invalid, "tensor '" << name << "' is not trainable; only trainable tensors can be written");
  PLAST_CHECK(static_cast<int64_t>(data.size()) == p->master.numel(), Code::Shape,
              "write '" << name << "': expected " << p->master.numel() << " values but received "
                        << data.size());
  Tensor& dst = part == ParamPart::Grad ? p->grad
                : part == ParamPart::M  ? p->m
                : part == ParamPart::V  ? p->v
                                        : p->master;
  be_->upload(dst, data.data());
  if ((part == ParamPart::Master || part == ParamPart::Weight) && p->weight->data() != p->master.data())
    be_->cast(p->master, *p->weight);
}

}  // namespace plast
