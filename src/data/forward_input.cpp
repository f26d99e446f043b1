#include "smx/data/forward_input.h"

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "smx/core/error.h"
#include "smx/core/json.h"
#include "smx/data/batch_padding.h"

namespace smx::data {
namespace {

using json = nlohmann::json;

std::vector<std::vector<int64_t>> read_rows(const json& j, const std::string& key,
                                            const std::string& path) {
  if (!j.is_array() || j.empty())
    fail("{}: '{}' must be a non-empty list of lists of integers", path, key);
  std::vector<std::vector<int64_t>> rows;
  for (size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_array()) fail("{}: {}[{}] is not a list of integers", path, key, i);
    std::vector<int64_t> row;
    for (size_t t = 0; t < j[i].size(); ++t) {
      if (!j[i][t].is_number_integer())
        fail("{}: {}[{}][{}] = {} is not an integer", path, key, i, t, j[i][t].dump());
      row.push_back(j[i][t].get<int64_t>());
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace

ForwardInput parse_forward_input(const std::string& text, const ModelConfig& config,
                                 const std::string& source) {
  const json j = parse_json(text, source);
  if (!j.is_object()) fail("{}: not a JSON object (see docs/forward-input.md)", source);
  for (const auto& [key, value] : j.items())
    if (key != "input_ids" && key != "type_ids" && key != "masked_lm_positions")
      fail("{}: unknown key '{}' (expected input_ids, type_ids, masked_lm_positions)", source, key);
  if (!j.contains("input_ids")) fail("{}: missing 'input_ids'", source);
  const auto ids = read_rows(j["input_ids"], "input_ids", source);
  size_t longest = 0;
  for (const auto& row : ids) {
    longest = std::max(longest, row.size());
    for (int64_t id : row)
      if (id < 0 || id >= config.vocab_size)
        fail("{}: token id {} is outside the vocabulary [0, {})", source, id, config.vocab_size);
  }
  if (longest == 0 || static_cast<int64_t>(longest) > config.max_seq_len)
    fail("{}: sequences must have 1 to max_seq_len = {} tokens (longest has {})", source,
         config.max_seq_len, longest);
  const int64_t N = config.padded_length(static_cast<int64_t>(longest));
  const at::Tensor input_ids = data::pad_sequences(ids, N, config.pad_id);
  at::Tensor type_ids = torch::zeros_like(input_ids);
  if (j.contains("type_ids")) {
    const auto types = read_rows(j["type_ids"], "type_ids", source);
    if (types.size() != ids.size())
      fail("{}: type_ids has {} rows, input_ids {}", source, types.size(), ids.size());
    for (size_t b = 0; b < ids.size(); ++b)
      if (types[b].size() != ids[b].size())
        fail("{}: type_ids[{}] has {} entries, input_ids[{}] has {}", source, b, types[b].size(), b,
             ids[b].size());
    type_ids = data::pad_sequences(types, N, 0);
    if (type_ids.min().item<int64_t>() < 0 ||
        type_ids.max().item<int64_t>() >= config.type_vocab_size)
      fail("{}: type ids must be in [0, {})", source, config.type_vocab_size);
  }
  at::Tensor positions;
  if (j.contains("masked_lm_positions")) {
    const auto pos = read_rows(j["masked_lm_positions"], "masked_lm_positions", source);
    if (pos.size() != ids.size())
      fail("{}: masked_lm_positions needs one row per sequence", source);
    size_t P = 1;
    for (const auto& row : pos) P = std::max(P, row.size());
    positions = data::pad_sequences(pos, static_cast<int64_t>(P), 0);
    if (positions.min().item<int64_t>() < 0 || positions.max().item<int64_t>() >= N)
      fail("{}: masked_lm_positions must be in [0, {})", source, N);
  }

  return {input_ids, type_ids, positions};
}

}  // namespace smx::data
