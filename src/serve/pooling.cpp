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
  }
  return "cls";
}

std::optional<Pooling> parse_pooling(std::string_view text) {
  if (text == "cls") return Pooling::kCls;
  if (text == "mean") return Pooling::kMean;
  if (text == "tokens") return Pooling::kTokens;
  return std::nullopt;
}

}  // namespace smx::serve
