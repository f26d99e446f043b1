// The one table between Hugging Face BERT / FNet tensor names and layouts and smx's parameter
// names (docs/weights.md), used in both directions: `smx import hf` reads HF names into smx
// parameters, `smx export hf` writes smx parameters under HF names.
//
// Layouts: HF's nn.Linear stores `weight` as [out, in]; smx's Dense stores `kernel` as [in, out].
// Every other tensor (embedding tables, LayerNorm weight/bias, biases) has the same shape in both.
// Canonical HF names are those of the task models (`BertForPreTraining`, `FNetForMaskedLM`, ...):
// base-model tensors carry the family prefix ("bert.", "fnet."), heads do not ("cls.",
// "classifier."). A bare `BertModel` / `FNetModel` saves the same names without the prefix, and
// TF-era BERT checkpoints name LayerNorm parameters `gamma` / `beta`: hf_name_aliases lists them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace smx::importer::hf {

enum class Family { kBert, kFNet };

// The part of the model a tensor belongs to: which HF architectures have it.
enum class Part {
  kEncoder,     // embeddings and layers: every architecture
  kPooler,      // pooler.dense: all but BertForMaskedLM
  kMlm,         // cls.predictions.*: *ForPreTraining, *ForMaskedLM
  kNsp,         // cls.seq_relationship: *ForPreTraining (smx's 2-output classification head)
  kClassifier,  // classifier: *ForSequenceClassification (smx's task head)
};

enum class Layout {
  kSame,        // same shape and element order
  kTransposed,  // HF Linear weight [out, in] <-> smx Dense kernel [in, out]
};

struct NameRow {
  std::string hf;   // canonical HF name, e.g. "bert.encoder.layer.0.attention.self.query.weight"
  std::string smx;  // smx parameter, e.g. "encoder.layers.0.mixing.query.kernel"
  Layout layout = Layout::kSame;
  Part part = Part::kEncoder;
};

// An HF architecture smx reads and writes, and the parts of the model its state dict holds.
struct Architecture {
  std::string name;  // "BertForMaskedLM", ...
  Family family = Family::kBert;
  bool pooler = true, mlm = false, nsp = false, classifier = false;
  bool prefixed = true;  // tensor names carry "bert." / "fnet." (all but the bare *Model)
  bool holds(Part part) const;
};

// The eight architectures: {Bert, FNet} x {Model, ForPreTraining, ForMaskedLM,
// ForSequenceClassification}.
const std::vector<Architecture>& architectures();
// The architecture named `name`, or nullptr.
const Architecture* find_architecture(const std::string& name);

// "bert" / "fnet": HF's model_type and base_model_prefix.
const char* model_type(Family family);
// "bert." / "fnet.".
std::string family_prefix(Family family);
// Family of an HF model_type ("bert", "fnet"); false for any other.
bool parse_model_type(const std::string& model_type, Family& family);

// Every row for a model of `num_layers` layers, in the model's order (embeddings, layers, pooler,
// heads). Both kNsp and kClassifier rows map to smx's `classification.*`: an architecture has one.
std::vector<NameRow> name_table(Family family, int64_t num_layers);

// The names under which HF checkpoints may store the row's tensor, canonical first: without the
// family prefix, with LayerNorm `gamma`/`beta` for `weight`/`bias`, and `cls.predictions.bias`
// also as `cls.predictions.decoder.bias` (the two are one tied tensor in HF).
std::vector<std::string> hf_name_aliases(const std::string& canonical_hf, Family family);

// The MLM decoder matrix, tied to the word embeddings (smx has only the word embeddings): HF's
// safetensors files usually omit it; when present it must equal the word embeddings.
std::string tied_decoder_name();  // "cls.predictions.decoder.weight"
// HF's non-parameter buffers some checkpoints hold (position_ids, token_type_ids): skipped.
bool is_hf_buffer(const std::string& hf_name);

// The tensor in smx's layout from HF's, and back (contiguous copies of `t`).
at::Tensor to_smx_layout(const at::Tensor& hf_tensor, Layout layout);  // [out, in] -> [in, out]
at::Tensor to_hf_layout(const at::Tensor& smx_tensor, Layout layout);  // [in, out] -> [out, in]

}  // namespace smx::importer::hf
