// embedding.json of a model folder: the pooling and normalisation that `smx embed`, /v1/embed and
// the OpenAI / TEI embedding routes use unless a flag or request field says otherwise. Written by
// `smx import hf` from a sentence-transformers folder (modules.json, 1_Pooling/config.json,
// 2_Normalize); a folder without it embeds with the pooler output ("cls"), not normalised.
//
//   {"pooling": "mean", "normalize": true, "source": "sentence-transformers modules.json"}
//
// Poolings (serve/pooling.h computes them): "cls" the pooler output (tanh dense on [CLS]),
// "cls_token" the final hidden state of [CLS] (sentence-transformers' CLS pooling), "mean" the mean
// of the final hidden states over the real tokens, "max" their element-wise maximum, "last" the
// last real token's hidden state.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace smx::model_folder {

struct EmbeddingDefaults {
  std::string pooling = "cls";
  bool normalize = false;  // L2-normalise the pooled vector
  std::string source;      // where they came from, for messages and `smx info`
};

// True for the pooling names above.
bool is_embedding_pooling(const std::string& name);

// Checks and types an embedding.json object; `source` names the file in errors.
EmbeddingDefaults parse_embedding_defaults(const nlohmann::json& j, const std::string& source);
nlohmann::json to_json(const EmbeddingDefaults& defaults);

// The defaults a sentence-transformers folder `dir` declares, or nullopt when it has neither
// modules.json nor 1_Pooling/config.json. Fails naming the file and key for a module or pooling
// mode smx cannot reproduce (Dense, mean_sqrt_len, weighted mean, several modes at once), since
// embeddings without it would silently differ.
std::optional<EmbeddingDefaults> read_sentence_transformers_modules(const std::string& dir);

// The pooling name for a sentence-transformers 1_Pooling/config.json object; `source` names it.
std::string sentence_transformers_pooling(const nlohmann::json& j, const std::string& source);

}  // namespace smx::model_folder
