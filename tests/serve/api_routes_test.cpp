// The OpenAI- and TEI-compatible routes on a live server: every documented request and response
// shape against in-process results, base64 decoding back to the same floats, dimensions, pairs,
// rerank ordering, tokenize offsets against the tokenizer, bad inputs in each route's error shape.
#include <cmath>
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "serve/live_server.h"
#include "smx/serve/inference.h"
#include "smx/serve/json_output.h"
#include "support/test_util.h"
#include "support/tiny_tokenizer.h"

namespace smx::serve {
namespace {

using json = nlohmann::json;
using smx::testing::max_abs_diff;
using ::testing::HasSubstr;

double norm(const std::vector<float>& v) {
  double s = 0;
  for (const float x : v) s += double(x) * x;
  return std::sqrt(s);
}

// RFC 4648 base64 -> little-endian float32 values, written independently of the server's encoder.
std::vector<float> decode_base64_floats(const std::string& text) {
  std::vector<unsigned char> bytes;
  uint32_t buffer = 0;
  int bits = 0;
  for (const char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+')
      v = 62;
    else if (c == '/')
      v = 63;
    else
      break;  // '=' padding
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push_back(static_cast<unsigned char>((buffer >> bits) & 0xff));
    }
  }
  std::vector<float> out(bytes.size() / 4);
  for (size_t i = 0; i < out.size(); ++i) {
    const uint32_t u = uint32_t(bytes[4 * i]) | uint32_t(bytes[4 * i + 1]) << 8 |
                       uint32_t(bytes[4 * i + 2]) << 16 | uint32_t(bytes[4 * i + 3]) << 24;
    std::memcpy(&out[i], &u, 4);
  }
  return out;
}

class ApiRoutes : public live::LiveServerTest {
 protected:
  // One input alone through the engine.
  ExampleOutput run_alone(const EncodedText& e, OutputKind kind,
                          const ModelBundle* bundle = nullptr) const {
    const InferenceEngine engine(bundle ? std::shared_ptr<const ModelBundle>(bundle, [](auto*) {})
                                        : std::shared_ptr<const ModelBundle>(bundle_),
                                 Precision::kFp32);
    return engine.run({{&e.encoded, kind}})[0];
  }
  std::vector<float> pooled(const std::string& text, bool normalize, int64_t dims = 0) const {
    std::vector<float> v = run_alone(bundle_->encode(text, std::nullopt), OutputKind::kCls).values;
    if (dims > 0) v.resize(static_cast<size_t>(dims));
    if (normalize) l2_normalize(v);
    return v;
  }
  json post_json(const std::string& path, const std::string& body, int expect = 200) const {
    const auto res = post(path, body);
    EXPECT_TRUE(res) << path;
    if (!res) return json();
    EXPECT_EQ(res->status, expect)
        << path << " " << body.substr(0, 80) << " -> " << res->body.substr(0, 300);
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
    return json::parse(res->body, nullptr, false);
  }
  std::vector<int64_t> pieces(const std::string& text) const {
    const auto ids = bundle_->tokenizer().encode(text);
    return std::vector<int64_t>(ids.begin(), ids.end());
  }
};

TEST_F(ApiRoutes, OpenAIEmbeddingsEveryInputFormAndModels) {
  start();
  const std::string name = "model";  // the folder's name
  json models = json::parse(get("/v1/models")->body);
  EXPECT_EQ(models["object"], "list");
  ASSERT_EQ(models["data"].size(), 1U);
  EXPECT_EQ(models["data"][0]["id"], name);
  EXPECT_EQ(models["data"][0]["object"], "model");

  const std::string a = "the cat reads", b = "a green window";
  const std::vector<std::pair<std::string, std::vector<std::string>>> forms = {
      {json{{"input", a}, {"model", name}}.dump(), {a}},
      {json{{"input", {a, b}}, {"model", name}, {"user", "u"}}.dump(), {a, b}},
      {json{{"input", pieces(a)}}.dump(), {a}},
      {json{{"input", {pieces(a), pieces(b)}}}.dump(), {a, b}},
  };
  double worst = 0;
  for (const auto& [body, texts] : forms) {
    const json r = post_json("/v1/embeddings", body);
    ASSERT_TRUE(r.is_object()) << body;
    EXPECT_EQ(r["object"], "list");
    EXPECT_EQ(r["model"], name);
    ASSERT_EQ(r["data"].size(), texts.size()) << body;
    int64_t tokens = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
      EXPECT_EQ(r["data"][i]["object"], "embedding");
      EXPECT_EQ(r["data"][i]["index"], i);
      const auto got = r["data"][i]["embedding"].get<std::vector<float>>();
      worst = std::max(worst, max_abs_diff(got, pooled(texts[i], true)));
      EXPECT_NEAR(norm(got), 1.0, 1e-5);
      tokens += bundle_->encode(texts[i], std::nullopt).length();
    }
    EXPECT_EQ(r["usage"]["prompt_tokens"], tokens) << body;
    EXPECT_EQ(r["usage"]["total_tokens"], tokens) << body;
  }
  std::printf("    /v1/embeddings (text and token-id forms) vs in-process: max |diff| = %.3e\n",
              worst);
  EXPECT_LE(worst, 1e-5);

  // base64: little-endian float32, decoding to exactly the float form's values.
  const json f = post_json("/v1/embeddings", json{{"input", {a, b}}}.dump());
  const json b64 =
      post_json("/v1/embeddings", json{{"input", {a, b}}, {"encoding_format", "base64"}}.dump());
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_TRUE(b64["data"][i]["embedding"].is_string());
    const auto decoded = decode_base64_floats(b64["data"][i]["embedding"].get<std::string>());
    EXPECT_EQ(decoded, f["data"][i]["embedding"].get<std::vector<float>>()) << "input " << i;
  }

  // dimensions: the first k values, re-normalised.
  const json d = post_json("/v1/embeddings", json{{"input", a}, {"dimensions", 8}}.dump());
  const auto cut = d["data"][0]["embedding"].get<std::vector<float>>();
  ASSERT_EQ(cut.size(), 8U);
  EXPECT_NEAR(norm(cut), 1.0, 1e-5);
  EXPECT_LE(max_abs_diff(cut, pooled(a, true, 8)), 1e-5);
}

TEST_F(ApiRoutes, OpenAIErrorsUseTheErrorObjectAndTheServerKeepsServing) {
  start();
  const int width = static_cast<int>(bundle_->config().d_model);
  const std::vector<std::tuple<std::string, int, std::string, std::string>> cases = {
      {"{oops", 400, "not valid JSON", ""},
      {R"({"input": 3})", 400, "must be a string", "input"},
      {R"({"input": ""})", 400, "empty string", "input"},
      {R"({"input": []})", 400, "empty list", "input"},
      {R"({"input": [1, 99999]})", 422, "outside the vocabulary", "input"},
      {json{{"input", "a"}, {"dimensions", width + 1}}.dump(), 400, "at most", "dimensions"},
      {R"({"input": "a", "model": "gpt-4"})", 404, "not served here", "model"},
      {R"({"input": "a", "encoding_format": "hex"})", 400, "encoding_format", "encoding_format"},
      {R"({"input": ["a","b","c","d","e","f","g","h","i"]})", 413, "limit is 8", "input"},
  };
  for (const auto& [body, status, needle, param] : cases) {
    const json r = post_json("/v1/embeddings", body, status);
    ASSERT_TRUE(r.is_object() && r["error"].is_object()) << body << " -> " << r.dump();
    EXPECT_THAT(r["error"]["message"].get<std::string>(), HasSubstr(needle)) << body;
    EXPECT_TRUE(r["error"].contains("type") && r["error"]["type"].is_string()) << r.dump();
    EXPECT_TRUE(r["error"].contains("code")) << r.dump();
    if (param.empty()) {
      EXPECT_TRUE(r["error"]["param"].is_null()) << r.dump();
    } else {
      EXPECT_EQ(r["error"]["param"], param) << r.dump();
    }
    EXPECT_EQ(post_json("/v1/embeddings", R"({"input": "fine"})")["data"].size(), 1U);
  }
  EXPECT_EQ(
      post_json("/v1/embeddings", R"({"input": "a", "model": "gpt-4"})", 404)["error"]["code"],
      "model_not_found");
}

TEST_F(ApiRoutes, TeiEmbedAndEmbedAll) {
  start();
  const std::string a = "the cat reads", b = "a green window";
  json r = post_json("/embed", json{{"inputs", a}}.dump());
  ASSERT_TRUE(r.is_array() && r.size() == 1 && r[0].is_array()) << r.dump();
  EXPECT_LE(max_abs_diff(r[0].get<std::vector<float>>(), pooled(a, true)), 1e-5);
  r = post_json("/embed", json{{"inputs", {a, pieces(b)}}, {"normalize", false}}.dump());
  ASSERT_EQ(r.size(), 2U);
  EXPECT_LE(max_abs_diff(r[0].get<std::vector<float>>(), pooled(a, false)), 1e-5);
  EXPECT_LE(max_abs_diff(r[1].get<std::vector<float>>(), pooled(b, false)), 1e-5);
  r = post_json("/embed", json{{"inputs", a}, {"dimensions", 4}}.dump());
  EXPECT_EQ(r[0].size(), 4U);

  r = post_json("/embed_all", json{{"inputs", {a, b}}}.dump());
  ASSERT_EQ(r.size(), 2U);
  const EncodedText ea = bundle_->encode(a, std::nullopt);
  ASSERT_EQ(r[0].size(), static_cast<size_t>(ea.length()));
  const auto tokens = run_alone(ea, OutputKind::kTokens);
  std::vector<float> flat;
  for (const auto& row : r[0]) {
    const auto v = row.get<std::vector<float>>();
    flat.insert(flat.end(), v.begin(), v.end());
  }
  EXPECT_LE(max_abs_diff(flat, tokens.values), 1e-5);

  // Truncation: refused by default (422), cut when asked, from either end.
  ServerOptions o = default_options();
  stop();
  o.max_input_tokens = 6;
  start(o);
  const std::string longer = "the model learns mixing tokens over many small layers quickly";
  r = post_json("/embed", json{{"inputs", longer}}.dump(), 422);
  EXPECT_THAT(r["error"].get<std::string>(), HasSubstr("more than 6 tokens"));
  EXPECT_EQ(r["error_type"], "Validation");
  r = post_json("/embed_all", json{{"inputs", longer}, {"truncate", true}}.dump());
  EXPECT_EQ(r[0].size(), 6U);
  auto ids = pieces(longer);
  r = post_json(
      "/embed_all",
      json{{"inputs", longer}, {"truncate", true}, {"truncation_direction", "left"}}.dump());
  const auto left = run_alone(bundle_->encode_ids(std::vector<int64_t>(ids.end() - 4, ids.end())),
                              OutputKind::kTokens);
  std::vector<float> got;
  for (const auto& row : r[0]) {
    const auto v = row.get<std::vector<float>>();
    got.insert(got.end(), v.begin(), v.end());
  }
  EXPECT_LE(max_abs_diff(got, left.values), 1e-5) << "left truncation keeps the last tokens";
}

TEST_F(ApiRoutes, TeiPredictSinglePairAndBatch) {
  start();
  const auto logits = [&](const std::string& t, const std::optional<std::string>& p) {
    return run_alone(bundle_->encode(t, p), OutputKind::kLogits).values;
  };
  json r = post_json("/predict", R"({"inputs": "the cat reads"})");
  ASSERT_TRUE(r.is_array() && r.size() == 2 && r[0].is_object()) << r.dump();
  EXPECT_GE(r[0]["score"].get<double>(), r[1]["score"].get<double>());
  EXPECT_NEAR(r[0]["score"].get<double>() + r[1]["score"].get<double>(), 1.0, 1e-5);
  const auto l = logits("the cat reads", std::nullopt);
  const double p_yes = 1.0 / (1.0 + std::exp(double(l[0]) - l[1]));
  const json yes = r[0]["label"] == "yes" ? r[0] : r[1];
  EXPECT_NEAR(yes["score"].get<double>(), p_yes, 1e-5);

  r = post_json("/predict", R"({"inputs": ["a dog", "sleeps"], "raw_scores": true})");
  ASSERT_EQ(r.size(), 2U);
  const auto lp = logits("a dog", std::string("sleeps"));
  for (const auto& p : r)
    EXPECT_NEAR(p["score"].get<double>(), lp[p["label"] == "yes" ? 1 : 0], 1e-5) << r.dump();

  r = post_json("/predict", R"({"inputs": [["a dog"], ["a dog", "sleeps"]]})");
  ASSERT_TRUE(r.is_array() && r.size() == 2 && r[0].is_array()) << r.dump();
  EXPECT_EQ(r[1].size(), 2U);
}

TEST_F(ApiRoutes, RerankSortsByPairScore) {
  // A one-output ranking model: the relevance is sigmoid(output), or the output with raw_scores.
  smx::testing::write_model_folder(dir_.file("ranker"), smx::testing::tiny_serving_config(),
                                   R"({"task": "rank", "num_outputs": 1, "kind": "ranking"})", 1,
                                   11);
  const auto ranker = ModelBundle::load(dir_.file("ranker"));
  start(default_options(), ranker);
  const std::string query = "where does the cat sleep";
  const std::vector<std::string> texts = {"the cat sleeps on a green window", "a dog reads",
                                          "rivers run to the sea", "the cat", "small layers"};
  std::vector<double> expected;
  for (const auto& t : texts)
    expected.push_back(
        run_alone(ranker->encode(query, t), OutputKind::kLogits, ranker.get()).values[0]);
  const json r = post_json(
      "/rerank",
      json{{"query", query}, {"texts", texts}, {"return_text", true}, {"raw_scores", true}}.dump());
  ASSERT_TRUE(r.is_array() && r.size() == texts.size()) << r.dump();
  double worst = 0;
  for (size_t k = 0; k < r.size(); ++k) {
    const auto i = r[k]["index"].get<size_t>();
    EXPECT_EQ(r[k]["text"], texts[i]);
    worst = std::max(worst, std::abs(r[k]["score"].get<double>() - expected[i]));
    if (k > 0) {
      EXPECT_GE(r[k - 1]["score"].get<double>(), r[k]["score"].get<double>());
    }
  }
  std::printf("    /rerank scores vs in-process pair outputs: max |diff| = %.3e\n", worst);
  EXPECT_LE(worst, 1e-5);
  const json s = post_json("/rerank", json{{"query", query}, {"texts", texts}}.dump());
  for (const auto& rank : s) {
    EXPECT_FALSE(rank.contains("text"));
    const double want = 1.0 / (1.0 + std::exp(-expected[rank["index"].get<size_t>()]));
    EXPECT_NEAR(rank["score"].get<double>(), want, 1e-5);
  }
  // A model without task.json cannot rerank or predict: a TEI-shaped 4xx.
  stop();
  smx::testing::write_model_folder(dir_.file("encoder"), smx::testing::tiny_serving_config());
  start(default_options(), ModelBundle::load(dir_.file("encoder")));
  const json e = post_json("/rerank", json{{"query", "q"}, {"texts", {"a"}}}.dump(), 400);
  EXPECT_THAT(e["error"].get<std::string>(), HasSubstr("task.json"));
  EXPECT_EQ(e["error_type"], "Validation");
}

TEST_F(ApiRoutes, TokenizeOffsetsMatchTheTokenizerAndDecodeRoundTrips) {
  start();
  const std::string text = "the cat reads  a green window";
  json r = post_json("/tokenize", json{{"inputs", text}}.dump());
  ASSERT_TRUE(r.is_array() && r.size() == 1) << r.dump();
  const auto ids = pieces(text);
  const json& tokens = r[0];
  ASSERT_EQ(tokens.size(), ids.size() + 2);
  EXPECT_EQ(tokens[0]["id"], bundle_->tokenizer().cls_id());
  EXPECT_TRUE(tokens[0]["special"].get<bool>());
  EXPECT_TRUE(tokens[0]["start"].is_null());
  EXPECT_EQ(tokens.back()["id"], bundle_->tokenizer().sep_id());
  size_t previous_stop = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    const json& t = tokens[i + 1];
    EXPECT_EQ(t["id"], ids[i]);
    EXPECT_FALSE(t["special"].get<bool>());
    ASSERT_TRUE(t["start"].is_number()) << t.dump();
    const auto start = t["start"].get<size_t>(), stop = t["stop"].get<size_t>();
    EXPECT_GE(start, previous_stop);
    previous_stop = stop;
    EXPECT_EQ(text.substr(start, stop - start), t["text"].get<std::string>());
    // The span is the piece's own text (its leading "▁" is the space before it).
    std::string piece = bundle_->tokenizer().id_to_piece(static_cast<int32_t>(ids[i]));
    if (piece.rfind("\xE2\x96\x81", 0) == 0) piece = piece.substr(3);
    EXPECT_EQ(t["text"].get<std::string>(), piece);
  }
  r = post_json("/tokenize", json{{"inputs", {text, "a"}}, {"add_special_tokens", false}}.dump());
  ASSERT_EQ(r.size(), 2U);
  EXPECT_EQ(r[0].size(), ids.size());

  json d = post_json("/decode", json{{"ids", ids}}.dump());
  ASSERT_TRUE(d.is_array() && d.size() == 1);
  EXPECT_EQ(d[0], bundle_->tokenizer().decode(std::vector<int32_t>(ids.begin(), ids.end())));
  std::vector<int64_t> with_specials = {bundle_->tokenizer().cls_id()};
  with_specials.insert(with_specials.end(), ids.begin(), ids.end());
  with_specials.push_back(bundle_->tokenizer().sep_id());
  d = post_json("/decode", json{{"ids", {with_specials, with_specials}}}.dump());
  ASSERT_EQ(d.size(), 2U);
  EXPECT_EQ(d[1], d[0]);
  EXPECT_EQ(d[0], bundle_->tokenizer().decode(std::vector<int32_t>(ids.begin(), ids.end())));
  d = post_json("/decode", json{{"ids", {1, 100000}}}.dump(), 422);
  EXPECT_THAT(d["error"].get<std::string>(), HasSubstr("outside the vocabulary"));
}

TEST_F(ApiRoutes, InfoHealthAndTeiErrorsKeepTheServerServing) {
  start();
  const json info = json::parse(get("/info")->body);
  EXPECT_EQ(info["model_id"], "model");
  EXPECT_EQ(info["max_input_length"], bundle_->max_seq_len());
  EXPECT_EQ(info["model_type"]["classifier"]["id2label"]["1"], "yes");
  EXPECT_EQ(info["max_client_batch_size"], 8);
  for (const std::string path : {"/health", "/", "/ping"}) {
    const auto health = get(path);
    ASSERT_TRUE(health) << path;
    EXPECT_EQ(health->status, 200) << path;
  }
  // TEI's aliases: POST / follows the model (a classifier here: /predict), /embeddings is
  // /v1/embeddings.
  const json root = post_json("/", R"({"inputs": "the cat reads"})");
  ASSERT_TRUE(root.is_array() && root.size() == 1) << root.dump();
  EXPECT_EQ(root[0], post_json("/predict", R"({"inputs": "the cat reads"})"));
  EXPECT_EQ(post_json("/embeddings", R"({"input": "a"})")["object"], "list");
  const auto wrong = live::http_request(port_, "DELETE", "/");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 405);
  EXPECT_EQ(wrong->get_header_value("Allow"), "GET, POST");

  const std::vector<std::tuple<std::string, std::string, int>> cases = {
      {"/embed", R"({"inputs": 3})", 400},
      {"/embed", R"({"inputs": []})", 400},
      {"/embed", R"({"inputs": [[5, -1]]})", 400},
      {"/embed", R"({"inputs": [5, 999999]})", 422},
      {"/embed", R"({"inputs": "a", "dimensions": 100000})", 400},
      {"/embed", R"({"inputs": "a", "truncation_direction": "up"})", 422},
      {"/embed_all", R"({"input": "a"})", 400},
      {"/predict", R"({"inputs": ["a", "b", "c"]})", 422},
      {"/predict", R"({"inputs": {}})", 422},
      {"/rerank", R"({"query": "q", "texts": []})", 400},
      {"/rerank", R"({"query": 1, "texts": ["a"]})", 400},
      {"/tokenize", R"({"inputs": [1, 2]})", 400},
      {"/decode", R"({"ids": "x"})", 422},
      {"/decode", "[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]", 400},
  };
  for (const auto& [path, body, status] : cases) {
    const json r = post_json(path, body, status);
    ASSERT_TRUE(r.is_object()) << path << " " << body;
    EXPECT_TRUE(r["error"].is_string()) << r.dump();
    EXPECT_TRUE(r["error_type"].is_string()) << r.dump();
    EXPECT_EQ(post_json("/embed", R"({"inputs": "fine"})").size(), 1U) << "after " << body;
  }
}

}  // namespace
}  // namespace smx::serve

namespace smx::serve {
namespace {

// The embedding routes' pooling: the folder's 1_Pooling/config.json, overridden by --pooling.
TEST_F(ApiRoutes, PoolingComesFromTheFolderUnlessOverridden) {
  std::filesystem::create_directories(model_dir() + "/1_Pooling");
  std::ofstream(model_dir() + "/1_Pooling/config.json")
      << R"({"word_embedding_dimension": 32, "pooling_mode_cls_token": false,
            "pooling_mode_mean_tokens": true, "pooling_mode_max_tokens": false})";
  const auto folder = ModelBundle::load(model_dir());
  EXPECT_EQ(folder->default_pooling(), Pooling::kMean);
  const std::string text = "the cat reads";
  const EncodedText e = folder->encode(text, std::nullopt);
  std::vector<float> mean = run_alone(e, OutputKind::kMean, folder.get()).values;
  std::vector<float> last = run_alone(e, OutputKind::kLast, folder.get()).values;
  l2_normalize(mean);
  l2_normalize(last);
  ServerOptions o = default_options();
  start(o, folder);
  json r = post_json("/embed", json{{"inputs", text}}.dump());
  EXPECT_LE(max_abs_diff(r[0].get<std::vector<float>>(), mean), 1e-5);
  EXPECT_EQ(json::parse(get("/info")->body)["model_type"]["classifier"].is_object(), true);
  stop();
  o.pooling = Pooling::kLast;
  start(o, folder);
  r = post_json("/v1/embeddings", json{{"input", text}}.dump());
  EXPECT_LE(max_abs_diff(r["data"][0]["embedding"].get<std::vector<float>>(), last), 1e-5);
  // The last real token's hidden state is the [SEP] row of the per-token output.
  const auto tokens = run_alone(e, OutputKind::kTokens, folder.get());
  std::vector<float> sep(tokens.values.end() - tokens.cols, tokens.values.end());
  l2_normalize(sep);
  EXPECT_LE(max_abs_diff(sep, last), 1e-6);

  for (const auto& [text_json, needle] : std::vector<std::pair<std::string, std::string>>{
           {R"({"pooling_mode_mean_sqrt_len_tokens": true})", "not a pooling smx computes"},
           {R"({"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": true})", "exactly one"},
           {R"({})", "exactly one"},
           {"[1]", "not a JSON object"}})
    smx::testing::expect_error([&] { parse_pooling_config(text_json, "1_Pooling/config.json"); },
                               needle);
}

}  // namespace
}  // namespace smx::serve
