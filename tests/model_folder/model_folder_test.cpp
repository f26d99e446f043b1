// ModelFolder, the one reader and writer of model folders: a written folder opens to the same
// config, typed task and weights; a pre-trained folder (no task.json) keeps its NSP head; task.json
// and tokenizer mismatches are errors naming the file.
#include "smx/model_folder/model_folder.h"

#include <filesystem>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/io/text_file.h"
#include "support/model_folder.h"
#include "support/scratch_dir.h"
#include "support/test_util.h"
#include "support/tiny_tokenizer.h"

namespace smx::model_folder {
namespace {

using smx::testing::expect_error;

TEST(ModelFolderTest, WriteThenOpenGivesTheSameModelAndATypedTask) {
  smx::testing::ScratchDir dir;
  const ModelConfig config = smx::testing::tiny_serving_config();
  auto model = model::make_sparse_mixer(config, 11, 1);
  const nlohmann::json task = {
      {"task", "sts-b"}, {"kind", "regression"}, {"num_outputs", 1}, {"dev_score", 0.5}};
  ModelFolder::write(dir.file("m"), *model, config, task, {{"note", "kept"}});
  const auto folder = ModelFolder::open(dir.file("m"));
  ASSERT_TRUE(folder.task().has_value());
  EXPECT_EQ(folder.task()->kind, tasks::TaskKind::kRegression);
  EXPECT_FALSE(folder.task()->has_classes());
  EXPECT_EQ(folder.task()->record.at("dev_score"), 0.5);
  EXPECT_EQ(folder.config().to_json(), config.to_json());
  EXPECT_EQ(folder.name(), "m");
  const auto loaded = folder.load_model();
  EXPECT_FALSE(loaded->is_training());
  const auto a = model->named_parameters(), b = loaded->named_parameters();
  double worst = 0;
  for (const auto& p : a)
    worst = std::max(worst, smx::testing::max_abs_diff(p.value(), b[p.key()]));
  std::printf("    written vs loaded weights: max |diff| %.3g\n", worst);
  EXPECT_EQ(worst, 0.0);
  EXPECT_EQ(folder.load_tokenizer().vocab_size(), config.vocab_size);
}

TEST(ModelFolderTest, PretrainedFolderKeepsItsHeadAndBadFilesAreNamed) {
  smx::testing::ScratchDir dir;
  const ModelConfig config = smx::testing::tiny_serving_config();
  smx::testing::write_model_folder(dir.file("pre"), config);
  const auto folder = ModelFolder::open(dir.file("pre"));
  EXPECT_FALSE(folder.task().has_value());
  EXPECT_EQ(folder.load_model()->named_parameters()["classification.kernel"].size(1), 2);

  const std::string task_path = dir.file("pre") + "/task.json";
  io::write_file_atomically(task_path, R"({"task": "x", "kind": "ranked", "num_outputs": 1})");
  expect_error([&] { ModelFolder::open(dir.file("pre")); },
               "task.json: kind \"ranked\" is not one of classification");
  io::write_file_atomically(task_path, R"({"task": "x", "num_outputs": 3, "labels": ["a"]})");
  expect_error([&] { ModelFolder::open(dir.file("pre")); }, "1 labels for num_outputs = 3");
  std::filesystem::remove(task_path);

  ModelConfig other = config;
  other.vocab_size += 10;
  smx::testing::write_model_folder(dir.file("other"), other);
  expect_error([&] { ModelFolder::open(dir.file("other")).load_tokenizer(); },
               "the model was trained with another vocabulary");
  expect_error([&] { ModelFolder::open(dir.file("nowhere")); }, "does not exist");
}

}  // namespace
}  // namespace smx::model_folder
