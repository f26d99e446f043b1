#include "smx/data/pretraining_generator.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "smx/core/error.h"
#include "smx/core/json.h"
#include "smx/data/corpus_files.h"
#include "smx/tokenizer/tokenizer.h"

namespace smx {
namespace {

using json = nlohmann::json;

constexpr const char* kStateFormat = "smx.pretraining_state";
constexpr int kStateVersion = 1;

MaskingIds masking_ids(const Tokenizer& tok) {
  MaskingIds ids;
  ids.vocab_size = tok.vocab_size();
  ids.pad = tok.pad_id();
  ids.cls = tok.cls_id();
  ids.sep = tok.sep_id();
  ids.mask = tok.mask_id();
  ids.bos = tok.bos_id();
  ids.eos = tok.eos_id();
  return ids;
}

// Ranks draw from different streams of the same seed.
uint64_t rank_seed(uint64_t seed, int64_t rank) {
  return mix64(seed ^ mix64(static_cast<uint64_t>(rank) + 1));
}

const Tokenizer& checked(const std::shared_ptr<const Tokenizer>& tokenizer) {
  if (!tokenizer) fail("pre-training data: no tokenizer given");
  return *tokenizer;
}

// The options that shape the example stream; a state only resumes under the same ones.
json generation_options(const PretrainingOptions& o) {
  return {{"max_seq_len", o.max_seq_len},
          {"max_predictions", o.resolved_max_predictions()},
          {"masking_prob", o.masking_prob},
          {"seed", o.seed},
          {"shuffle_buffer", o.shuffle_buffer},
          {"rank", o.rank},
          {"world_size", o.world_size},
          {"split", to_string(o.split)},
          {"eval_fraction", o.eval_fraction},
          {"split_seed", o.split_seed},
          {"corpus_format", to_string(o.corpus.format)},
          {"text_field", o.corpus.text_field}};
}

// Documents in flight between the corpus reader and the example generator.
std::size_t queue_documents(const PretrainingOptions& o) {
  return 256 + 128 * static_cast<std::size_t>(o.corpus.workers);
}

json example_to_json(const PackedExample& ex) {
  return {{"tokens", ex.tokens}, {"first_length", ex.first_length}, {"nsp_label", ex.nsp_label}};
}

PretrainingState::ExamplePtr example_from_json(const json& j, const PretrainingOptions& options,
                                               int32_t vocab_size) {
  auto ex = std::make_shared<PackedExample>();
  j.at("tokens").get_to(ex->tokens);
  ex->first_length = j.at("first_length").get<int32_t>();
  ex->nsp_label = j.at("nsp_label").get<int32_t>();
  const auto n = static_cast<int64_t>(ex->tokens.size());
  const bool ids_ok = std::all_of(ex->tokens.begin(), ex->tokens.end(),
                                  [&](int32_t id) { return id >= 0 && id < vocab_size; });
  if (n < 3 || n > options.max_seq_len || ex->first_length < 2 || ex->first_length >= n ||
      (ex->nsp_label != 0 && ex->nsp_label != 1) || !ids_ok) {
    fail(
        "pre-training state: a stored example is malformed (length {}, first_length {}, label {}); "
        "the state is corrupt or was saved with another tokenizer",
        n, ex->first_length, ex->nsp_label);
  }
  return ex;
}

}  // namespace

PretrainingGenerator::PretrainingGenerator(std::shared_ptr<const Tokenizer> tokenizer,
                                           std::vector<std::string> files,
                                           PretrainingOptions options)
    : tokenizer_(std::move(tokenizer)),
      options_((options.validate(), options)),
      masker_(masking_ids(checked(tokenizer_)), options_.resolved_max_predictions(),
              options_.masking_prob),
      rng_(rank_seed(options_.seed, options_.rank)),
      buffer_(static_cast<std::size_t>(options_.shuffle_buffer)),
      reader_(
          tokenizer_, TextCorpus(expand_corpus_files(files), options_.corpus),
          [this](uint64_t index) { return takes_document(index); }, options_.split == Split::train,
          queue_documents(options_)) {}

bool PretrainingGenerator::takes_document(uint64_t index) const {
  const bool eval = is_eval_document(index, options_.split_seed, options_.eval_fraction);
  return eval == (options_.split == Split::eval) &&
         index % static_cast<uint64_t>(options_.world_size) == static_cast<uint64_t>(options_.rank);
}

void PretrainingGenerator::add_document(const TokenizedDocument& doc) {
  auto examples = pack_document(doc.lines, options_.max_seq_len, tokenizer_->cls_id(),
                                tokenizer_->sep_id(), rng_);
  for (auto& ex : examples) {
    ++examples_in_epoch_;
    auto out = buffer_.push(std::make_shared<const PackedExample>(std::move(ex)), rng_);
    if (out) ready_.push_back(std::move(*out));
  }
}

std::optional<PretrainingState::ExamplePtr> PretrainingGenerator::next_example() {
  while (ready_.empty()) {
    if (exhausted_) return std::nullopt;
    const TokenizedDocument doc = reader_.next();
    position_ = doc.after;
    bad_records_ += doc.bad_records;
    if (doc.bad_records > 0) last_bad_record_ = doc.bad_record;
    if (!doc.end_of_pass) {
      add_document(doc);
      continue;
    }
    if (options_.split == Split::eval) {
      for (auto& ex : buffer_.drain()) ready_.push_back(std::move(ex));
      exhausted_ = true;
      continue;
    }
    if (examples_in_epoch_ == 0) {
      fail(
          "pre-training data: a whole pass over {} file(s) gave rank {} of {} no {} example; every "
          "document is held out, read by another rank, or lacks two lines that fit in {} tokens. "
          "Add text, or lower world_size, eval_fraction or raise max_seq_len",
          reader_.files().size(), options_.rank, options_.world_size, to_string(options_.split),
          options_.max_seq_len - 3);
    }
    ++epoch_;  // the reader has already started the next pass
    examples_in_epoch_ = 0;
  }
  auto ex = std::move(ready_.front());
  ready_.pop_front();
  return ex;
}

std::optional<PretrainingBatch> PretrainingGenerator::next_batch() {
  std::vector<MaskedExample> examples;
  examples.reserve(static_cast<std::size_t>(options_.batch_size));
  while (static_cast<int64_t>(examples.size()) < options_.batch_size) {
    auto ex = next_example();
    if (!ex) break;
    examples.push_back(masker_(**ex, rng_));
  }
  if (examples.empty()) return std::nullopt;
  return make_batch(examples);
}

PretrainingBatch PretrainingGenerator::make_batch(
    const std::vector<MaskedExample>& examples) const {
  const auto b = static_cast<int64_t>(examples.size());
  const int64_t p = masker_.max_predictions();
  int64_t n = options_.max_seq_len;
  if (options_.padding == PaddingMode::masked) {
    int64_t longest = 0;
    for (const auto& ex : examples) longest = std::max<int64_t>(longest, ex.input_ids.size());
    n = std::min(n, (longest + 7) / 8 * 8);
  }
  PretrainingBatch batch;
  batch.batch_size = b;
  batch.seq_len = n;
  batch.max_predictions = p;
  batch.input_ids.assign(b * n, tokenizer_->pad_id());  // [B, N]
  batch.type_ids.assign(b * n, 0);                      // [B, N]
  batch.masked_lm_positions.assign(b * p, 0);           // [B, P]
  batch.masked_lm_ids.assign(b * p, 0);                 // [B, P]
  batch.masked_lm_weights.assign(b * p, 0.0f);          // [B, P]
  batch.nsp_labels.resize(b);                           // [B]
  for (int64_t i = 0; i < b; ++i) {
    const auto& ex = examples[i];
    const auto len = static_cast<int64_t>(ex.input_ids.size());
    batch.real_tokens += len;
    std::copy(ex.input_ids.begin(), ex.input_ids.end(), batch.input_ids.begin() + i * n);
    std::fill(batch.type_ids.begin() + i * n + ex.first_length,
              batch.type_ids.begin() + i * n + len, 1);
    for (std::size_t k = 0; k < ex.positions.size(); ++k) {
      batch.masked_lm_positions[i * p + k] = ex.positions[k];
      batch.masked_lm_ids[i * p + k] = ex.labels[k];
      batch.masked_lm_weights[i * p + k] = 1.0f;
    }
    batch.nsp_labels[i] = ex.nsp_label;
  }
  return batch;
}

PretrainingState PretrainingGenerator::snapshot() const {
  PretrainingState state;
  state.corpus = position_;
  state.rng = rng_.state();
  state.epoch = epoch_;
  state.examples_in_epoch = examples_in_epoch_;
  state.exhausted = exhausted_;
  state.shuffle_slots = buffer_.slots();
  state.ready = ready_;
  state.bad_records = bad_records_;
  state.last_bad_record = last_bad_record_;
  return state;
}

// State JSON: {"format", "version", "generation": options that shape the stream, "files": [{"path",
// "bytes"}], "corpus": {"file", "byte_offset", "line", "document", "restart": [compressed byte,
// decompressed byte]}, "rng": [4 x uint64], "epoch", "examples_in_epoch", "exhausted",
// "bad_records", "shuffle_buffer": [[slot, example]...] (occupied slots only),
// "ready": [example...]}, an example being {"tokens", "first_length", "nsp_label"} before masking.
std::string PretrainingGenerator::serialize(const PretrainingState& state) const {
  json files = json::array();
  for (std::size_t i = 0; i < reader_.files().size(); ++i) {
    files.push_back({{"path", reader_.files()[i]}, {"bytes", reader_.file_sizes()[i]}});
  }
  json slots = json::array();
  for (std::size_t i = 0; i < state.shuffle_slots.size(); ++i) {
    if (state.shuffle_slots[i]) slots.push_back({i, example_to_json(**state.shuffle_slots[i])});
  }
  json ready = json::array();
  for (const auto& ex : state.ready) ready.push_back(example_to_json(*ex));
  const json j = {
      {"format", kStateFormat},
      {"version", kStateVersion},
      {"generation", generation_options(options_)},
      {"files", files},
      {"corpus",
       {{"file", state.corpus.file},
        {"byte_offset", state.corpus.byte_offset},
        {"line", state.corpus.line},
        {"document", state.corpus.document},
        {"restart", {state.corpus.restart.compressed, state.corpus.restart.decompressed}}}},
      {"rng", state.rng},
      {"epoch", state.epoch},
      {"examples_in_epoch", state.examples_in_epoch},
      {"exhausted", state.exhausted},
      {"bad_records", state.bad_records},
      {"shuffle_buffer", slots},
      {"ready", ready}};
  return j.dump();
}

void PretrainingGenerator::restore(const std::string& text) {
  json j;
  try {
    j = parse_json(text, "pre-training state", JsonLimits{64, std::size_t{1} << 31});
  } catch (const Error& e) {
    fail("{}; pass the string that state() returned", e.what());
  }
  try {
    if (j.value("format", "") != kStateFormat || j.value("version", 0) != kStateVersion) {
      fail("pre-training state: format {} version {} is not {} version {}", j.value("format", "?"),
           j.value("version", 0), kStateFormat, kStateVersion);
    }
    const json expected = generation_options(options_);
    json saved = j.at("generation");
    if (saved.is_object()) {  // states from before JSON Lines support read plain text
      if (!saved.contains("corpus_format")) saved["corpus_format"] = "auto";
      if (!saved.contains("text_field")) saved["text_field"] = "text";
    }
    if (saved != expected) {
      fail(
          "pre-training state: saved with options {} but this stream has {}; resume with the same "
          "options (only batch_size, padding and prefetch may change)",
          saved.dump(), expected.dump());
    }
    const auto& files = j.at("files");
    bool same_files = files.size() == reader_.files().size();
    for (std::size_t i = 0; same_files && i < files.size(); ++i) {
      same_files = files[i].at("bytes").get<uint64_t>() == reader_.file_sizes()[i];
    }
    if (!same_files) {
      fail(
          "pre-training state: saved for corpus files {} but this stream reads other files or "
          "files of other sizes; resume on the unchanged corpus",
          files.dump());
    }
    const auto& c = j.at("corpus");
    CorpusPosition position;
    position.file = c.at("file").get<std::size_t>();
    position.byte_offset = c.at("byte_offset").get<uint64_t>();
    position.line = c.at("line").get<uint64_t>();
    position.document = c.at("document").get<uint64_t>();
    if (c.contains("restart")) {
      position.restart = {c.at("restart").at(0).get<uint64_t>(),
                          c.at("restart").at(1).get<uint64_t>()};
    } else {  // plain text shards only before compressed ones were read
      position.restart = {position.byte_offset, position.byte_offset};
    }

    const auto vocab = tokenizer_->vocab_size();
    std::vector<std::optional<PretrainingState::ExamplePtr>> slots(buffer_.capacity());
    for (const auto& entry : j.at("shuffle_buffer")) {
      const auto slot = entry.at(0).get<std::size_t>();
      if (slot >= slots.size()) fail("pre-training state: shuffle slot {} out of range", slot);
      slots[slot] = example_from_json(entry.at(1), options_, vocab);
    }
    std::deque<PretrainingState::ExamplePtr> ready;
    for (const auto& ex : j.at("ready")) ready.push_back(example_from_json(ex, options_, vocab));

    PretrainingState state;
    state.corpus = position;
    state.rng = j.at("rng").get<Rng::State>();
    Rng().set_state(state.rng);  // rejects the invalid all-zero state before anything changes
    state.epoch = j.at("epoch").get<uint64_t>();
    state.examples_in_epoch = j.at("examples_in_epoch").get<uint64_t>();
    state.exhausted = j.at("exhausted").get<bool>();
    state.bad_records = j.value("bad_records", uint64_t{0});
    state.shuffle_slots = std::move(slots);
    state.ready = std::move(ready);
    restore(state);
  } catch (const json::exception& e) {
    fail("pre-training state: missing or mistyped field ({}); the state is corrupt", e.what());
  }
}

void PretrainingGenerator::restore(const PretrainingState& state) {
  if (state.shuffle_slots.size() != buffer_.capacity()) {
    fail("pre-training state: {} shuffle slots, but the stream has {}", state.shuffle_slots.size(),
         buffer_.capacity());
  }
  reader_.seek(state.corpus);
  position_ = state.corpus;
  bad_records_ = state.bad_records;
  last_bad_record_ = state.last_bad_record;
  rng_.set_state(state.rng);
  buffer_.set_slots(state.shuffle_slots);
  ready_ = state.ready;
  epoch_ = state.epoch;
  examples_in_epoch_ = state.examples_in_epoch;
  exhausted_ = state.exhausted;
}

}  // namespace smx
