// Argument checks shared by every backend's ops, so each op states its contract once.
#pragma once
#include <initializer_list>
#include <string>

#include "plast/tensor.h"

namespace plast {

void checkShape(const Tensor& t, const Shape& expected, const char* op, const char* what);
void checkRank(const Tensor& t, int rank, const char* op, const char* what);
void checkDType(const Tensor& t, std::initializer_list<DType> allowed, const char* op,
                const char* what);
void checkFloat(const Tensor& t, const char* op, const char* what);

}  // namespace plast
