// A resume after kill -9 must not leave the killed run's records past its checkpoint in
// metrics.jsonl (the resumed run writes those steps again), nor a line the kill cut short.
#include "smx/train/metrics_log.h"

#include <gtest/gtest.h>

#include "smx/io/text_file.h"
#include "support/scratch_dir.h"

namespace smx::train {
namespace {

TEST(MetricsLogTest, DropRecordsAfterKeepsOnlyStepsUpToTheCheckpoint) {
  smx::testing::ScratchDir dir;
  const std::string path = dir.write("metrics.jsonl",
                                     "{\"type\":\"train\",\"step\":10,\"loss\":2.0}\n"
                                     "{\"type\":\"eval\",\"step\":20,\"loss\":1.9}\n"
                                     "{\"type\":\"train\",\"step\":20,\"loss\":1.8}\n"
                                     "{\"type\":\"train\",\"step\":30,\"loss\":1.7}\n"
                                     "{\"type\":\"train\",\"step\":3");  // cut by the kill
  EXPECT_EQ(MetricsLog::drop_records_after(path, 20), 2);
  EXPECT_EQ(io::read_text_file(path),
            "{\"type\":\"train\",\"step\":10,\"loss\":2.0}\n"
            "{\"type\":\"eval\",\"step\":20,\"loss\":1.9}\n"
            "{\"type\":\"train\",\"step\":20,\"loss\":1.8}\n");
  EXPECT_EQ(MetricsLog::drop_records_after(path, 20), 0);  // nothing left to drop
  EXPECT_EQ(MetricsLog::drop_records_after(dir.file("absent.jsonl"), 5), 0);
}

}  // namespace
}  // namespace smx::train
