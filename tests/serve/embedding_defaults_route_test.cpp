// The embedding routes under a folder's embedding defaults (embedding.json: max pooling,
// normalised): /v1/embed uses both unless the request names "pooling" / "normalize"; the OpenAI and
// TEI routes pool the same way (and normalise as their APIs do). Compared with the engine's own
// pooled vectors.
#include <gtest/gtest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "live_server.h"
#include "smx/model_folder/model_folder.h"
#include "smx/serve/inference.h"
#include "smx/serve/json_output.h"

namespace smx::serve {
namespace embedding_defaults_route_test {

using json = nlohmann::json;

double route_test_max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return 1e30;
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(double(a[i]) - double(b[i])));
  return d;
}

class EmbeddingDefaultRoutes : public live::LiveServerTest {
 protected:
  std::vector<float> engine_output(const std::shared_ptr<const ModelBundle>& bundle,
                                   const std::string& text, OutputKind kind, bool normalize) const {
    const InferenceEngine engine(bundle, Precision::kFp32);
    const EncodedText e = bundle->encode(text, std::nullopt);
    std::vector<float> v = engine.run({{&e.encoded, kind}})[0].values;
    if (normalize) l2_normalize(v);
    return v;
  }
  json post_json(const std::string& path, const std::string& body) const {
    const auto res = post(path, body);
    EXPECT_TRUE(res) << path;
    if (!res) return json();
    EXPECT_EQ(res->status, 200) << path << ": " << res->body;
    return json::parse(res->body);
  }
};

TEST_F(EmbeddingDefaultRoutes, FolderDefaultsApplyUnlessTheRequestSaysOtherwise) {
  model_folder::EmbeddingDefaults d;
  d.pooling = "max";
  d.normalize = true;
  model_folder::ModelFolder::write_embedding_defaults(model_dir(), d);
  const std::shared_ptr<const ModelBundle> bundle = ModelBundle::load(model_dir());
  start(default_options(), bundle);
  const std::string text = "the cat reads";
  const auto max_normed = engine_output(bundle, text, OutputKind::kMax, true);
  const auto max_raw = engine_output(bundle, text, OutputKind::kMax, false);
  const auto cls_raw = engine_output(bundle, text, OutputKind::kCls, false);
  const auto cls_token = engine_output(bundle, text, OutputKind::kClsToken, true);

  json r = post_json("/v1/embed", json{{"input", text}}.dump());
  EXPECT_EQ(r["pooling"], "max");
  const double native_default =
      route_test_max_diff(r["results"][0]["embedding"].get<std::vector<float>>(), max_normed);
  r = post_json("/v1/embed",
                json{{"input", text}, {"pooling", "cls"}, {"normalize", false}}.dump());
  EXPECT_EQ(r["pooling"], "cls");
  const double native_override =
      route_test_max_diff(r["results"][0]["embedding"].get<std::vector<float>>(), cls_raw);
  r = post_json("/v1/embed", json{{"input", text}, {"normalize", false}}.dump());
  const double native_raw =
      route_test_max_diff(r["results"][0]["embedding"].get<std::vector<float>>(), max_raw);
  r = post_json("/v1/embeddings", json{{"input", text}}.dump());
  const double openai =
      route_test_max_diff(r["data"][0]["embedding"].get<std::vector<float>>(), max_normed);
  r = post_json("/embed", json{{"inputs", text}, {"normalize", false}}.dump());
  const double tei = route_test_max_diff(r[0].get<std::vector<float>>(), max_raw);
  r = post_json("/v1/embed", json{{"input", text}, {"pooling", "cls_token"}}.dump());
  const double token =
      route_test_max_diff(r["results"][0]["embedding"].get<std::vector<float>>(), cls_token);
  std::printf(
      "max |route - engine|: /v1/embed default %.3g, override %.3g, raw %.3g, cls_token %.3g; "
      "/v1/embeddings %.3g; /embed %.3g\n",
      native_default, native_override, native_raw, token, openai, tei);
  for (const double diff : {native_default, native_override, native_raw, token, openai, tei})
    EXPECT_LE(diff, 1e-5);
  const auto bad = post("/v1/embed", json{{"input", text}, {"normalize", "yes"}}.dump());
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("normalize"), std::string::npos) << bad->body;
}

}  // namespace embedding_defaults_route_test
}  // namespace smx::serve
