// TrainingSession::make_model: a fresh run draws the usual seeded initialisation; a resume builds
// without drawing any random number (model::SkipParameterInit) and load_weights then gives exactly
// the saved weights.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/dist/training_session.h"
#include "smx/model/model_weights.h"
#include "support/scratch_dir.h"
#include "support/test_util.h"

namespace smx::dist {
namespace training_session_model_test {

void expect_same_parameters(model::SparseMixer& a, model::SparseMixer& b, const std::string& what) {
  const auto pb = b.named_parameters();
  for (const auto& p : a.named_parameters())
    EXPECT_TRUE(p.value().equal(pb[p.key()])) << what << ": " << p.key() << " differs";
}

TEST(TrainingSessionModelTest, FreshRunIsTheSeededInitialisation) {
  const ModelConfig c = smx::testing::tiny_config();
  auto made = TrainingSession::make_model(c, 7, /*weights_follow=*/false);
  auto reference = model::make_sparse_mixer(c, 7);
  expect_same_parameters(*made, *reference, "make_model(seed 7) vs make_sparse_mixer(seed 7)");
}

TEST(TrainingSessionModelTest, ResumeDrawsNoRandomNumbersAndLoadsTheSavedWeights) {
  const ModelConfig c = smx::testing::tiny_config("linear");
  smx::testing::ScratchDir dir;
  auto trained = model::make_sparse_mixer(c, 3);
  const std::string path = dir.file("model.safetensors");
  model::save_model_weights(*trained, path);

  auto resumed = TrainingSession::make_model(c, 11, /*weights_follow=*/true);
  // make_model seeds the generator with 11; without random init nothing has drawn from it since.
  const at::Tensor next = torch::rand({16});
  torch::manual_seed(11);
  EXPECT_TRUE(next.equal(torch::rand({16})))
      << "building the model for a resume drew random numbers (random initialisation ran)";

  TrainingSession single_process{DistOptions{}};
  single_process.load_weights(*resumed, path);
  expect_same_parameters(*resumed, *trained, "resumed vs saved");
}

}  // namespace training_session_model_test
}  // namespace smx::dist
