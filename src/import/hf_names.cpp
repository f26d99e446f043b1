#include "smx/import/hf_names.h"

#include <fmt/format.h>

namespace smx::importer::hf {
namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Rows of one nn.Linear (weight transposed, bias as is) or one LayerNorm (weight -> scale).
void add_linear(std::vector<NameRow>& rows, const std::string& hf, const std::string& smx,
                Part part) {
  rows.push_back({hf + ".weight", smx + ".kernel", Layout::kTransposed, part});
  rows.push_back({hf + ".bias", smx + ".bias", Layout::kSame, part});
}

void add_layer_norm(std::vector<NameRow>& rows, const std::string& hf, const std::string& smx,
                    Part part) {
  rows.push_back({hf + ".weight", smx + ".scale", Layout::kSame, part});
  rows.push_back({hf + ".bias", smx + ".bias", Layout::kSame, part});
}

}  // namespace

bool Architecture::holds(Part part) const {
  switch (part) {
    case Part::kEncoder:
      return true;
    case Part::kPooler:
      return pooler;
    case Part::kMlm:
      return mlm;
    case Part::kNsp:
      return nsp;
    case Part::kClassifier:
      return classifier;
  }
  return false;
}

const std::vector<Architecture>& architectures() {
  static const std::vector<Architecture> table = [] {
    std::vector<Architecture> out;
    for (const Family f : {Family::kBert, Family::kFNet}) {
      const std::string p = f == Family::kBert ? "Bert" : "FNet";
      out.push_back({p + "Model", f, true, false, false, false, false});
      out.push_back({p + "ForPreTraining", f, true, true, true, false, true});
      // BertForMaskedLM builds its BertModel without the pooler; FNetForMaskedLM keeps it.
      out.push_back({p + "ForMaskedLM", f, f == Family::kFNet, true, false, false, true});
      out.push_back({p + "ForSequenceClassification", f, true, false, false, true, true});
    }
    return out;
  }();
  return table;
}

const Architecture* find_architecture(const std::string& name) {
  for (const Architecture& a : architectures())
    if (a.name == name) return &a;
  return nullptr;
}

const char* model_type(Family family) {
  return family == Family::kBert ? "bert" : "fnet";
}

std::string family_prefix(Family family) {
  return std::string(model_type(family)) + ".";
}

bool parse_model_type(const std::string& type, Family& family) {
  if (type == "bert") {
    family = Family::kBert;
    return true;
  }
  if (type == "fnet") {
    family = Family::kFNet;
    return true;
  }
  return false;
}

std::vector<NameRow> name_table(Family family, int64_t num_layers) {
  const std::string p = family_prefix(family);
  std::vector<NameRow> rows;
  const std::string e = p + "embeddings.", se = "encoder.embedder.";
  rows.push_back({e + "word_embeddings.weight", se + "word_embeddings"});
  rows.push_back({e + "position_embeddings.weight", se + "position_embeddings"});
  rows.push_back({e + "token_type_embeddings.weight", se + "type_embeddings"});
  add_layer_norm(rows, e + "LayerNorm", se + "layer_norm", Part::kEncoder);
  if (family == Family::kFNet)  // BERT has no projection (embedding_projection false)
    add_linear(rows, e + "projection", se + "hidden_mapping_in", Part::kEncoder);
  for (int64_t l = 0; l < num_layers; ++l) {
    const std::string h = fmt::format("{}encoder.layer.{}.", p, l);
    const std::string s = fmt::format("encoder.layers.{}.", l);
    if (family == Family::kBert) {
      for (const char* qkv : {"query", "key", "value"})
        add_linear(rows, h + "attention.self." + qkv, s + "mixing." + qkv, Part::kEncoder);
      add_linear(rows, h + "attention.output.dense", s + "mixing.out", Part::kEncoder);
      add_layer_norm(rows, h + "attention.output.LayerNorm", s + "mixing_layer_norm",
                     Part::kEncoder);
    } else {  // the Fourier sublayer has no parameters, only its LayerNorm
      add_layer_norm(rows, h + "fourier.output.LayerNorm", s + "mixing_layer_norm", Part::kEncoder);
    }
    add_linear(rows, h + "intermediate.dense", s + "feed_forward.intermediate", Part::kEncoder);
    add_linear(rows, h + "output.dense", s + "feed_forward.output", Part::kEncoder);
    add_layer_norm(rows, h + "output.LayerNorm", s + "output_layer_norm", Part::kEncoder);
  }
  add_linear(rows, p + "pooler.dense", "encoder.pooler", Part::kPooler);
  add_linear(rows, "cls.predictions.transform.dense", "mlm.dense", Part::kMlm);
  add_layer_norm(rows, "cls.predictions.transform.LayerNorm", "mlm.layer_norm", Part::kMlm);
  rows.push_back({"cls.predictions.bias", "mlm.output_bias", Layout::kSame, Part::kMlm});
  add_linear(rows, "cls.seq_relationship", "classification", Part::kNsp);
  add_linear(rows, "classifier", "classification", Part::kClassifier);
  return rows;
}

std::vector<std::string> hf_name_aliases(const std::string& canonical, Family family) {
  std::vector<std::string> bases = {canonical};
  const std::string p = family_prefix(family);
  if (canonical.rfind(p, 0) == 0) bases.push_back(canonical.substr(p.size()));
  if (canonical == "cls.predictions.bias") bases.push_back("cls.predictions.decoder.bias");
  std::vector<std::string> names = bases;
  if (canonical.find("LayerNorm.") != std::string::npos)
    for (const auto& b : bases) {
      if (ends_with(b, ".weight"))
        names.push_back(b.substr(0, b.size() - 6) + "gamma");
      else if (ends_with(b, ".bias"))
        names.push_back(b.substr(0, b.size() - 4) + "beta");
    }
  return names;
}

std::string tied_decoder_name() {
  return "cls.predictions.decoder.weight";
}

bool is_hf_buffer(const std::string& name) {
  return ends_with(name, "embeddings.position_ids") || ends_with(name, "embeddings.token_type_ids");
}

at::Tensor to_smx_layout(const at::Tensor& t, Layout layout) {
  // clone(): a fresh contiguous tensor even where the transpose is already contiguous ([1, D]).
  return (layout == Layout::kTransposed ? t.t() : t).clone(at::MemoryFormat::Contiguous);
}

at::Tensor to_hf_layout(const at::Tensor& t, Layout layout) {
  return (layout == Layout::kTransposed ? t.t() : t).clone(at::MemoryFormat::Contiguous);
}

}  // namespace smx::importer::hf
