// Embedding defaults of a model folder (embedding.json, or sentence-transformers files): reading
// modules.json / 1_Pooling / 2_Normalize, refusing modules smx cannot run, the ModelFolder owning
// them, and `smx embed` using them unless --pooling / --normalize / --no-normalize say otherwise
// (compared with the inference engine's own pooled vectors).
#include "smx/model_folder/embedding_defaults.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "smx/core/json.h"
#include "smx/io/text_file.h"
#include "smx/model_folder/model_folder.h"
#include "smx/serve/inference.h"
#include "smx/serve/json_output.h"
#include "smx/serve/model_bundle.h"
#include "support/model_folder.h"
#include "support/run_cli.h"
#include "support/scratch_dir.h"
#include "support/test_util.h"

namespace smx::model_folder {
namespace embedding_defaults_test {

namespace fs = std::filesystem;
using json = nlohmann::json;

// A sentence-transformers folder's module files: Transformer, Pooling (`modes` true) and, with
// `normalize`, Normalize.
void write_st_modules(const testing::ScratchDir& dir, const std::string& sub, const json& modes,
                      bool normalize, const std::string& extra_type = "") {
  json modules = json::array({{{"idx", 0},
                               {"name", "0"},
                               {"path", ""},
                               {"type", "sentence_transformers.models.Transformer"}},
                              {{"idx", 1},
                               {"name", "1"},
                               {"path", "1_Pooling"},
                               {"type", "sentence_transformers.models.Pooling"}}});
  if (normalize)
    modules.push_back({{"idx", 2},
                       {"name", "2"},
                       {"path", "2_Normalize"},
                       {"type", "sentence_transformers.models.Normalize"}});
  if (!extra_type.empty())
    modules.push_back({{"idx", 3}, {"name", "3"}, {"path", "3_X"}, {"type", extra_type}});
  json pooling = {{"word_embedding_dimension", 32},
                  {"pooling_mode_cls_token", false},
                  {"pooling_mode_mean_tokens", false},
                  {"pooling_mode_max_tokens", false},
                  {"pooling_mode_mean_sqrt_len_tokens", false},
                  {"pooling_mode_weightedmean_tokens", false},
                  {"pooling_mode_lasttoken", false},
                  {"include_prompt", true}};
  pooling.update(modes);
  fs::create_directories(dir.path() / sub / "1_Pooling");
  dir.write(sub + "/modules.json", modules.dump());
  dir.write(sub + "/1_Pooling/config.json", pooling.dump());
}

TEST(EmbeddingDefaults, SentenceTransformersModulesGiveThePoolingAndNormalisation) {
  testing::ScratchDir dir;
  const std::pair<const char*, const char*> cases[] = {{"pooling_mode_mean_tokens", "mean"},
                                                       {"pooling_mode_cls_token", "cls_token"},
                                                       {"pooling_mode_max_tokens", "max"},
                                                       {"pooling_mode_lasttoken", "last"}};
  int n = 0;
  for (const auto& [key, name] : cases) {
    for (const bool normalize : {false, true}) {
      const std::string sub = "st" + std::to_string(n++);
      write_st_modules(dir, sub, {{key, true}}, normalize);
      const auto d = read_sentence_transformers_modules(dir.file(sub));
      ASSERT_TRUE(d) << sub;
      EXPECT_EQ(d->pooling, name) << key;
      EXPECT_EQ(d->normalize, normalize) << key;
      EXPECT_EQ(d->source, "sentence-transformers modules.json");
    }
  }
  // No sentence-transformers files: no defaults. A bare 1_Pooling (older folders): its pooling.
  fs::create_directories(dir.path() / "plain");
  EXPECT_FALSE(read_sentence_transformers_modules(dir.file("plain")));
  fs::create_directories(dir.path() / "old" / "1_Pooling");
  dir.write("old/1_Pooling/config.json", R"({"pooling_mode_cls_token": true})");
  const auto old = read_sentence_transformers_modules(dir.file("old"));
  ASSERT_TRUE(old);
  EXPECT_EQ(old->pooling, "cls_token");
  EXPECT_FALSE(old->normalize);
}

TEST(EmbeddingDefaults, ModulesSmxCannotRunAreRefusedByName) {
  testing::ScratchDir dir;
  write_st_modules(dir, "dense", {{"pooling_mode_mean_tokens", true}}, true,
                   "sentence_transformers.models.Dense");
  testing::expect_error([&] { read_sentence_transformers_modules(dir.file("dense")); },
                        "sentence_transformers.models.Dense");
  write_st_modules(dir, "sqrt", {{"pooling_mode_mean_sqrt_len_tokens", true}}, false);
  testing::expect_error([&] { read_sentence_transformers_modules(dir.file("sqrt")); },
                        "pooling_mode_mean_sqrt_len_tokens");
  write_st_modules(dir, "two",
                   {{"pooling_mode_mean_tokens", true}, {"pooling_mode_cls_token", true}}, false);
  testing::expect_error([&] { read_sentence_transformers_modules(dir.file("two")); },
                        "exactly one");
  fs::create_directories(dir.path() / "bad");
  dir.write("bad/modules.json", "{}");
  testing::expect_error([&] { read_sentence_transformers_modules(dir.file("bad")); },
                        "modules.json");
  testing::expect_error(
      [&] {
        parse_embedding_defaults(json{{"pooling", "sum"}}, "embedding.json");
      },
      "\"sum\"");
  testing::expect_error(
      [&] {
        parse_embedding_defaults(json{{"normalise", true}}, "embedding.json");
      },
      "normalise");
}

TEST(EmbeddingDefaults, TheModelFolderOwnsThem) {
  testing::ScratchDir dir;
  const std::string model = dir.file("model");
  testing::write_model_folder(model, testing::tiny_serving_config());
  EXPECT_FALSE(ModelFolder::open(model).embedding());
  EmbeddingDefaults d;
  d.pooling = "max";
  d.normalize = true;
  d.source = "test";
  ModelFolder::write_embedding_defaults(model, d);
  const auto read = ModelFolder::open(model).embedding();
  ASSERT_TRUE(read);
  EXPECT_EQ(to_json(*read), to_json(d));
  EXPECT_EQ(parse_json(io::read_text_file(model + "/embedding.json"), "embedding.json"),
            to_json(d));
  d.pooling = "tokens";  // not a pooled vector
  EXPECT_THROW(ModelFolder::write_embedding_defaults(model, d), Error);
}

double embedding_test_max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return 1e30;
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(double(a[i]) - double(b[i])));
  return d;
}

TEST(EmbeddingDefaults, SmxEmbedUsesThemUnlessFlagsSayOtherwise) {
  testing::ScratchDir dir;
  const std::string model = dir.file("model");
  testing::write_model_folder(model, testing::tiny_serving_config());
  EmbeddingDefaults d;
  d.pooling = "max";
  d.normalize = true;
  ModelFolder::write_embedding_defaults(model, d);
  const std::string text = "the cat reads a book";
  const auto bundle = serve::ModelBundle::load(model);
  EXPECT_EQ(bundle->default_pooling(), serve::Pooling::kMax);
  EXPECT_TRUE(bundle->default_normalize());
  const serve::InferenceEngine engine(bundle, serve::Precision::kFp32);
  const serve::EncodedText e = bundle->encode(text, std::nullopt);
  const auto run = [&](serve::OutputKind kind) { return engine.run({{&e.encoded, kind}})[0]; };
  std::vector<float> max = run(serve::OutputKind::kMax).values;
  const std::vector<float> mean = run(serve::OutputKind::kMean).values;
  const auto tokens = run(serve::OutputKind::kTokens);
  // Reference poolings from the per-token hidden states.
  std::vector<float> want_max(tokens.values.begin(), tokens.values.begin() + tokens.cols);
  for (int64_t r = 1; r < tokens.rows; ++r)
    for (int64_t c = 0; c < tokens.cols; ++c)
      want_max[c] = std::max(want_max[c], tokens.values[r * tokens.cols + c]);
  const std::vector<float> cls_token(tokens.values.begin(), tokens.values.begin() + tokens.cols);
  EXPECT_EQ(max, want_max);
  EXPECT_EQ(run(serve::OutputKind::kClsToken).values, cls_token);
  serve::l2_normalize(max);

  const std::string input = dir.write("in.jsonl", json{{"id", 1}, {"text", text}}.dump() + "\n");
  const auto embed = [&](const std::string& flags) {
    const auto r = testing::run_smx("embed --model " + model + " --input " + input + " " + flags);
    EXPECT_EQ(r.status, 0) << r.output;
    const auto line = r.output.substr(0, r.output.find('\n'));
    return parse_json(line, "smx embed")["embedding"].get<std::vector<float>>();
  };
  const double by_default = embedding_test_max_diff(embed(""), max);
  const double raw_mean = embedding_test_max_diff(embed("--pooling mean --no-normalize"), mean);
  std::printf("smx embed vs engine: default (max, normalised) %.3g, --pooling mean %.3g\n",
              by_default, raw_mean);
  EXPECT_LE(by_default, 1e-6);
  EXPECT_LE(raw_mean, 1e-6);
  double norm = 0;
  for (const float v : embed("--pooling cls_token")) norm += double(v) * v;
  EXPECT_NEAR(std::sqrt(norm), 1.0, 1e-5) << "the folder's normalisation applies to any pooling";
}

}  // namespace embedding_defaults_test
}  // namespace smx::model_folder
