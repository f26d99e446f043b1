// parse_json, the one JSON entry point: deep or huge input is an error naming its source, never a
// stack overflow in a later copy, dump or comparison of the value.
#include <string>

#include <gtest/gtest.h>

#include "smx/core/json.h"
#include "support/test_util.h"

namespace smx {
namespace {

std::string nested_arrays(int depth) {
  return std::string(depth, '[') + std::string(depth, ']');
}

TEST(ParseJsonTest, ParsesOrdinaryJson) {
  const auto j = parse_json(R"({"a": [1, {"b": "c"}]})", "test");
  EXPECT_EQ(j["a"][1]["b"], "c");
  EXPECT_TRUE(json_is_valid("[1, 2]"));
}

TEST(ParseJsonTest, DeepNestingIsAnErrorNamingTheSource) {
  // 100,000 levels: before parse_json, readers that later copied or dumped such a value crashed.
  const std::string deep = nested_arrays(100000);
  testing::expect_error([&] { parse_json(deep, "config.json"); },
                        "config.json: JSON nests deeper than 64 levels");
  const std::string in_value = R"({"num_layers": )" + nested_arrays(100000) + "}";
  testing::expect_error([&] { parse_json(in_value, "task.jsonl:3"); }, "task.jsonl:3");
  EXPECT_FALSE(json_is_valid(deep));
  EXPECT_NO_THROW(parse_json(nested_arrays(60), "shallow enough"));
}

TEST(ParseJsonTest, SizeLimitAndSyntaxErrorsNameTheSource) {
  JsonLimits limits;
  limits.max_bytes = 16;
  testing::expect_error([&] { parse_json(R"({"text": "a long enough value"})", "body", limits); },
                        "body: JSON text is 31 bytes, over the 16-byte limit");
  testing::expect_error([&] { parse_json("{\"a\": }", "options.json"); },
                        "options.json: not valid JSON");
  testing::expect_error([&] { parse_json("", "empty.json"); }, "empty.json: not valid JSON");
}

}  // namespace
}  // namespace smx
