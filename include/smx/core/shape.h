// Printing tensor shapes in error messages: "[2, 512]".
#pragma once

#include <string>

#include <c10/util/ArrayRef.h>

namespace smx {

inline std::string shape_string(c10::IntArrayRef shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace smx
