#include "smx/serve/model_bundle.h"

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "smx/core/error.h"
#include "smx/core/json.h"
#include "smx/io/text_file.h"

namespace smx::serve {

using json = nlohmann::json;
namespace fs = std::filesystem;

std::shared_ptr<ModelBundle> ModelBundle::load(const std::string& dir,
                                               const BundleOptions& options) {
  const auto folder = model_folder::ModelFolder::open(dir, options.tokenizer);
  auto tokenizer = std::make_shared<const Tokenizer>(folder.load_tokenizer());
  auto bundle =
      std::make_shared<ModelBundle>(folder.config(), std::move(tokenizer),
                                    folder.load_model({options.allow_nonfinite}), folder.task());
  if (const auto& embedding = folder.embedding()) {
    // ModelFolder checked the name.
    bundle->set_default_pooling(parse_pooling(embedding->pooling).value_or(Pooling::kCls));
    bundle->set_default_normalize(embedding->normalize);
  }
  bundle->folder_name_ = folder.name();
  return bundle;
}

Pooling parse_pooling_config(const std::string& text, const std::string& source) {
  const std::string name =
      model_folder::sentence_transformers_pooling(parse_json(text, source), source);
  return parse_pooling(name).value_or(Pooling::kCls);
}

ModelBundle::ModelBundle(ModelConfig config, std::shared_ptr<const Tokenizer> tokenizer,
                         std::shared_ptr<model::SparseMixer> model, std::optional<TaskInfo> task)
    : config_(std::move(config)),
      tokenizer_(std::move(tokenizer)),
      model_(std::move(model)),
      task_(std::move(task)) {
  model_->eval();
}

int64_t ModelBundle::num_outputs() const {
  return task_ ? task_->num_outputs : 2;
}

int64_t ModelBundle::max_seq_len() const {
  return task_ && task_->max_seq_len > 0 ? task_->max_seq_len : config_.max_seq_len;
}

bool ModelBundle::batch_invariant() const {
  return batch_variance_reason().empty();
}

std::string ModelBundle::batch_variance_reason() const {
  std::string reason;
  if (config_.padding != Padding::kMasked)
    reason = "padding is 'reference' (pads are mixed into real tokens and compete for experts)";
  if (config_.num_moe_layers > 0 && !config_.sequence_groups()) {
    if (!reason.empty()) reason += "; ";
    reason += "routing_groups is '" + config_.routing_groups() +
              "' (an input's expert routing depends on its batch-mates)";
  }
  return reason;
}

EncodedText ModelBundle::encode(const std::string& text,
                                const std::optional<std::string>& text_pair,
                                int64_t max_tokens) const {
  const int64_t limit = max_tokens > 0 ? std::min(max_tokens, max_seq_len()) : max_seq_len();
  std::vector<std::string> segments{text};
  if (text_pair) segments.push_back(*text_pair);
  const auto encode_fn = [this](const std::string& s) { return tokenizer_->encode(s); };
  // One token past the limit tells whether anything was cut.
  EncodedText out;
  out.encoded = tasks::encode_segments(segments, encode_fn, tokenizer_->cls_id(),
                                       tokenizer_->sep_id(), limit + 1);
  if (out.length() > limit) {
    out.encoded.input_ids.resize(static_cast<size_t>(limit));
    out.encoded.type_ids.resize(static_cast<size_t>(limit));
    out.truncated = true;
  }
  return out;
}

EncodedText ModelBundle::encode_keep_end(const std::string& text, int64_t max_tokens) const {
  const std::vector<int32_t> pieces = tokenizer_->encode(text);
  return encode_ids(std::vector<int64_t>(pieces.begin(), pieces.end()), max_tokens, true);
}

EncodedText ModelBundle::encode_ids(const std::vector<int64_t>& ids, int64_t max_tokens,
                                    bool keep_end) const {
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= tokenizer_->vocab_size())
      fail("token id {} at position {} is outside the vocabulary (0 to {})", ids[i], i,
           tokenizer_->vocab_size() - 1);
  const int64_t limit = max_tokens > 0 ? std::min(max_tokens, max_seq_len()) : max_seq_len();
  const auto body = static_cast<size_t>(std::max<int64_t>(limit - 2, 0));  // room for [CLS] [SEP]
  EncodedText out;
  auto begin = ids.begin(), end = ids.end();
  if (ids.size() > body) {
    out.truncated = true;
    if (keep_end)
      begin = end - static_cast<std::ptrdiff_t>(body);
    else
      end = begin + static_cast<std::ptrdiff_t>(body);
  }
  out.encoded.input_ids.push_back(tokenizer_->cls_id());
  out.encoded.input_ids.insert(out.encoded.input_ids.end(), begin, end);
  out.encoded.input_ids.push_back(tokenizer_->sep_id());
  out.encoded.type_ids.assign(out.encoded.input_ids.size(), 0);
  return out;
}

}  // namespace smx::serve
