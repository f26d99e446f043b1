// ModelBundle: everything needed to run a trained model on text, loaded from one folder.
//
//   <dir>/model.safetensors  weights (required)
//   <dir>/config.json        model config (else the config recorded in the weights); its
//                            "tokenizer" key is the SentencePiece model's path
//   <dir>/task.json          optional, written by fine-tuning: {"task", "num_outputs", "labels",
//                            "kind": classification|regression|ranking|grouped, "max_seq_len"}
//
// A pre-training run folder has no task.json: it loads with the 2-output NSP head and can embed,
// not classify.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "smx/config/model_config.h"
#include "smx/model/sparse_mixer.h"
#include "smx/model_folder/model_folder.h"
#include "smx/serve/pooling.h"
#include "smx/tasks/input_format.h"
#include "smx/tokenizer/tokenizer.h"

namespace smx::serve {

// task.json of a fine-tuned model folder (model_folder/model_folder.h).
using TaskInfo = model_folder::TaskInfo;

struct BundleOptions {
  std::string tokenizer;         // overrides the config's tokenizer path when non-empty
  bool allow_nonfinite = false;  // load weights holding NaN/Inf (refused by default)
};

// One input after tokenization.
struct EncodedText {
  tasks::EncodedInput encoded;
  bool truncated = false;  // longer than the limit and cut to it
  int64_t length() const { return static_cast<int64_t>(encoded.input_ids.size()); }
};

class ModelBundle {
 public:
  static std::shared_ptr<ModelBundle> load(const std::string& dir,
                                           const BundleOptions& options = {});
  // For tests and tools that already hold the pieces.
  ModelBundle(ModelConfig config, std::shared_ptr<const Tokenizer> tokenizer,
              std::shared_ptr<model::SparseMixer> model, std::optional<TaskInfo> task);

  const ModelConfig& config() const { return config_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  model::SparseMixer& model() const { return *model_; }
  const std::optional<TaskInfo>& task() const { return task_; }
  int64_t num_outputs() const;
  // Longest input the model takes: task.json's max_seq_len, else the config's.
  int64_t max_seq_len() const;
  // True for `masked` padding with `sequence` routing groups: an input's outputs do not depend on
  // the rest of its batch (docs/design.md §7.1–7.2).
  bool batch_invariant() const;
  // Why it is not batch-invariant ("" when it is).
  std::string batch_variance_reason() const;

  // [CLS] text [SEP] (text_pair [SEP]) with type ids 0/1 (docs/design.md §4.4). Inputs longer than
  // `max_tokens` (<= 0: max_seq_len()) are cut to it and marked truncated.
  EncodedText encode(const std::string& text, const std::optional<std::string>& text_pair,
                     int64_t max_tokens = 0) const;
  // The same for a single text cut from the left (its last tokens kept) when too long.
  EncodedText encode_keep_end(const std::string& text, int64_t max_tokens = 0) const;
  // [CLS] ids [SEP] for token ids as the tokenizer gives them (no special tokens); cut from the
  // right, or from the left with `keep_end`. Throws smx::Error naming the first id outside the
  // vocabulary.
  EncodedText encode_ids(const std::vector<int64_t>& ids, int64_t max_tokens = 0,
                         bool keep_end = false) const;

  // The pooling embedding routes use unless a request or --pooling says otherwise, and whether
  // /v1/embed and `smx embed` L2-normalise unless told: the folder's embedding defaults
  // (ModelFolder::embedding(): embedding.json or sentence-transformers files), else cls and no.
  Pooling default_pooling() const { return default_pooling_; }
  void set_default_pooling(Pooling pooling) { default_pooling_ = pooling; }
  bool default_normalize() const { return default_normalize_; }
  void set_default_normalize(bool normalize) { default_normalize_ = normalize; }
  // The folder's name (what /v1/models and /info call the model), "" when built in memory.
  const std::string& folder_name() const { return folder_name_; }

 private:
  ModelConfig config_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  std::shared_ptr<model::SparseMixer> model_;
  std::optional<TaskInfo> task_;
  Pooling default_pooling_ = Pooling::kCls;
  bool default_normalize_ = false;
  std::string folder_name_;
};

// Reads a sentence-transformers 1_Pooling/config.json ({"pooling_mode_mean_tokens": true, ...})
// through model_folder::sentence_transformers_pooling; `source` names the file in errors. Throws
// smx::Error for modes smx does not compute.
Pooling parse_pooling_config(const std::string& text, const std::string& source);

}  // namespace smx::serve
