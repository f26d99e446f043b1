// API keys: the Bearer check, the constant-time comparison's verdicts, and key files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "smx/core/error.h"
#include "smx/serve/auth.h"
#include "support/scratch_dir.h"
#include "support/test_util.h"

namespace smx::serve {
namespace {

TEST(ApiKeys, ConstantTimeEqualVerdicts) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("secret", "secret"));
  EXPECT_FALSE(constant_time_equal("secret", "secreT"));
  EXPECT_FALSE(constant_time_equal("secret", "secret2"));
  EXPECT_FALSE(constant_time_equal("secret", ""));
  EXPECT_FALSE(constant_time_equal(std::string("a\0b", 3), "a"));
}

TEST(ApiKeys, AcceptsOnlyBearerWithAConfiguredKey) {
  ApiKeys keys;
  EXPECT_TRUE(keys.empty());
  keys.add("k-one", "test");
  keys.add("k-two", "test");
  EXPECT_TRUE(keys.accepts("Bearer k-one"));
  EXPECT_TRUE(keys.accepts("bearer k-two"));
  EXPECT_FALSE(keys.accepts("Bearer k-three"));
  EXPECT_FALSE(keys.accepts("Bearer k-on"));
  EXPECT_FALSE(keys.accepts("Bearer "));
  EXPECT_FALSE(keys.accepts("k-one"));
  EXPECT_FALSE(keys.accepts("Basic k-one"));
  EXPECT_FALSE(keys.accepts(""));
  smx::testing::expect_error([&] { keys.add("", "--api-key"); }, "--api-key: an API key is empty");
  smx::testing::expect_error([&] { keys.add("a b", "--api-key"); }, "whitespace");
}

TEST(ApiKeys, FileOfKeys) {
  smx::testing::ScratchDir dir;
  ApiKeys keys;
  keys.add_file(dir.write("keys", "# team keys\n\n  alpha \r\nbeta\n"));
  EXPECT_EQ(keys.size(), 2U);
  EXPECT_TRUE(keys.accepts("Bearer alpha"));
  EXPECT_TRUE(keys.accepts("Bearer beta"));
  ApiKeys none;
  smx::testing::expect_error([&] { none.add_file(dir.write("empty", "# nothing\n")); },
                             "holds no key");
  smx::testing::expect_error([&] { none.add_file(dir.file("missing")); }, "cannot read");
}

}  // namespace
}  // namespace smx::serve
