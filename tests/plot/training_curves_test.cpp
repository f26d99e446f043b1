#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "smx/core/error.h"
#include "smx/plot/training_curves.h"
#include "support/scratch_dir.h"

namespace smx::plot {
namespace {

using ::testing::HasSubstr;

TEST(TrainingCurvesTest, ReadsRunsAndDrawsEverySeries) {
  smx::testing::ScratchDir dir;
  std::filesystem::create_directories(dir.path() / "sm");
  dir.write(
      "sm/metrics.jsonl",
      R"({"type":"train","step":10,"loss":9.5,"elapsed_s":1.0,"mlm_accuracy":0.0,"nsp_accuracy":0.5})"
      "\n"
      R"({"type":"train","step":20,"loss":8.25,"elapsed_s":2.0,"mlm_accuracy":0.1,"nsp_accuracy":0.5})"
      "\n"
      R"({"type":"eval","step":20,"loss":8.5,"elapsed_s":2.1,"mlm_accuracy":0.12,"nsp_accuracy":0.55})"
      "\n");
  const RunMetrics run = read_run_metrics(dir.file("sm"));
  EXPECT_EQ(run.name, "sm");
  EXPECT_EQ(run.train.size(), 2u);
  EXPECT_EQ(run.eval.size(), 1u);
  const auto panels = training_curve_panels({run});
  ASSERT_EQ(panels.size(), 6u);
  EXPECT_EQ(panels[0].series[0].y, (std::vector<double>{9.5, 8.25}));
  EXPECT_EQ(panels[2].series[0].y, (std::vector<double>{0.12}));
  const std::string svg = render_svg(panels);
  EXPECT_THAT(svg, HasSubstr("<svg"));
  EXPECT_THAT(svg, HasSubstr("held-out NSP accuracy"));
  EXPECT_EQ(std::count(svg.begin(), svg.end(), '\n') > 20, true);
  EXPECT_THAT(svg, ::testing::Not(HasSubstr(">-0<")));
}

TEST(TrainingCurvesTest, MalformedRecordsNameFileAndLine) {
  smx::testing::ScratchDir dir;
  std::filesystem::create_directories(dir.path() / "bad");
  dir.write("bad/metrics.jsonl", "{\"step\": 1, \"loss\": 2}\nnot json\n");
  try {
    read_run_metrics(dir.file("bad"));
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("metrics.jsonl:2"));
  }
  EXPECT_THROW(read_run_metrics(dir.file("missing")), Error);
}

}  // namespace
}  // namespace smx::plot
