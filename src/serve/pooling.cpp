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
    case Pooling::kClsToken:
      return "cls_token";
    case Pooling::kMax:
      return "max";
  }
  return "cls";
}

std::optional<Pooling> parse_pooling(std::string_view text) {
  if (text == "cls") return Pooling::kCls;
  if (text == "mean") return Pooling::kMean;
  if (text == "tokens") return Pooling::kTokens;
  if (text == "last") return Pooling::kLast;
  if (text == "cls_token") return Pooling::kClsToken;
  if (text == "max") return Pooling::kMax;
  return std::nullopt;
}

}  // namespace smx::serve
