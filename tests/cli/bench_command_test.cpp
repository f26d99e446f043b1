// `smx bench` on a tiny config through the real binary: --peer runs the real PyTorch peer
// interleaved (python3-torch, as scripts/setup installs), bad --device and --peer-script values
// are one-line errors. No timing is asserted, only the report's structure.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/run_cli.h"

namespace smx::cli {
namespace bench_command_test {

using smx::testing::run_smx;
using ::testing::HasSubstr;

constexpr const char* kTiny =
    "bench --config sparse-mixer-tiny --seq-len 32 --batch 2 --threads 1 ";

TEST(BenchCommandTest, PeerRunsInterleavedAndIsReportedByMedianAndMin) {
  const auto r = run_smx(std::string(kTiny) + "--repeats 2 --peer");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("median [min-max] of 2 repeats after 1 warm-up"));
  EXPECT_THAT(r.output, HasSubstr("(1.00x/1.00x)"));
  EXPECT_THAT(r.output, HasSubstr("each step right after smx's step of the same case"));
  // The peer's step of a case follows smx's step of the same case in the progress log.
  EXPECT_THAT(r.output, HasSubstr("repeat 2/2 training  sparse-mixer-tiny"));
  EXPECT_THAT(r.output, HasSubstr("    peer     training  sparse-mixer-tiny"));
  EXPECT_THAT(r.output, HasSubstr(" smx "));
}

TEST(BenchCommandTest, BadDeviceAndMissingPeerScriptAreErrors) {
  auto r = run_smx(std::string(kTiny) + "--device tpu");
  EXPECT_NE(r.status, 0);
  EXPECT_THAT(r.output, HasSubstr("--device 'tpu' is not a device; use cpu, cuda or cuda:N"));
  r = run_smx(std::string(kTiny) + "--peer --peer-script /nonexistent/torch_peer.py");
  EXPECT_NE(r.status, 0);
  EXPECT_THAT(r.output, HasSubstr("peer script /nonexistent/torch_peer.py not found"));
}

}  // namespace bench_command_test
}  // namespace smx::cli
