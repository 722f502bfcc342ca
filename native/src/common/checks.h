// Argument checks shared by every op, so each op states its contract once (native/src/ops).
// Messages follow one pattern: "<op>: expected <what> of <shape|dtype> but received <...>".
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>

#include "plast/backend.h"
#include "plast/tensor.h"

namespace plast {

void checkShape(const Tensor& t, const Shape& expected, const char* op, const char* what);
void checkRank(const Tensor& t, int rank, const char* op, const char* what);
void checkDType(const Tensor& t, std::initializer_list<DType> allowed, const char* op,
                const char* what);
void checkFloat(const Tensor& t, const char* op, const char* what);

// A rank, where only the rank of an argument is known before its dimensions are read: Rank{2}.
// (A scoped enum, so that a braced shape such as {N} never converts to it.)
enum class Rank : int {};

// The arguments of one call of `op` on `be`. Every method first checks that the tensor is
// present and lives on `be` (a host pointer handed to a device kernel would fault the context).
class OpArgs {
 public:
  OpArgs(Backend* be, Op op) : be_(be), op_(op), name_(opName(op)) {}
  OpArgs(Backend* be, const char* call) : be_(be), op_(Op::Count_), name_(call) {}  // not an op
  const char* name() const { return name_; }

  // present and on this backend
  const Tensor& on(const Tensor& t, const char* what) const;
  // of the backend's activation dtype (and rank / shape)
  void act(const Tensor& t, const char* what, Rank rank) const;
  void act(const Tensor& t, const char* what, const Shape& shape) const;
  // a weight operand: a float dtype the backend's kernel for this op takes
  void weight(const Tensor& t, const char* what, Rank rank) const;
  void weight(const Tensor& t, const char* what, const Shape& shape) const;
  // a float tensor of a dtype the backend supports for this op (data moved, not computed on)
  void data(const Tensor& t, const char* what, Rank rank) const;
  // any float dtype (biases, optimizer-refreshed weights: every kernel reads them widened)
  void anyFloat(const Tensor& t, const char* what, const Shape& shape) const;
  // fixed dtypes
  void f32(const Tensor& t, const char* what, const Shape& shape) const;
  void i32(const Tensor& t, const char* what, const Shape& shape) const;
  void i32(const Tensor& t, const char* what, Rank rank) const;
  void i64(const Tensor& t, const char* what, const Shape& shape) const;

  // The first element of i32 `t` outside [lo, hi) (kIgnoreIndex allowed when allowIgnore), or
  // -1, with its value in *value. Uses the range recorded at upload; the values are read back
  // only when that range does not prove them all in range (an error path, or a tensor that was
  // not uploaded).
  int64_t firstOutside(const Tensor& t, int64_t lo, int64_t hi, bool allowIgnore,
                       int32_t* value) const;

 private:
  Backend* be_;
  Op op_;
  const char* name_;
};

}  // namespace plast
