// What an embedding request returns per input: the pooler output ([CLS] through the pooler dense
// + tanh), the final hidden state of [CLS] itself (sentence-transformers' CLS pooling), the mean or
// the element-wise maximum of the final hidden states over the input's real tokens, the last real
// token's hidden state ([SEP]), or every real token's hidden state.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace smx::serve {

enum class Pooling { kCls, kMean, kTokens, kLast, kClsToken, kMax };

std::string to_string(Pooling pooling);
// "cls" | "cls_token" | "mean" | "max" | "tokens" | "last"; nullopt for anything else.
std::optional<Pooling> parse_pooling(std::string_view text);

}  // namespace smx::serve
