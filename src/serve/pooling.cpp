#include "smx/serve/pooling.h"

namespace smx::serve {

std::string to_string(Pooling pooling) {
  switch (pooling) {
    case Pooling::kCls:
      return "cls";
    case Pooling::kMean:
      return "mean";
    case Pooling::kTokens:
      return "tokens";
    case Pooling::kLast:
      return "last";
  }
  return "cls";
}

std::optional<Pooling> parse_pooling(std::string_view text) {
  if (text == "cls") return Pooling::kCls;
  if (text == "mean") return Pooling::kMean;
  if (text == "tokens") return Pooling::kTokens;
  if (text == "last") return Pooling::kLast;
  return std::nullopt;
}

}  // namespace smx::serve
