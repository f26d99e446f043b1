// `smx export hf`: an smx model folder of BERT or FNet shape as a Hugging Face model folder that
// transformers' from_pretrained loads (docs/importing.md, "Exporting to Hugging Face"):
//   config.json               BertConfig / FNetConfig keys, architectures, id2label / label2id
//   model.safetensors         the tensors under HF's names and layouts
//   (include/smx/import/hf_names.h) vocab.txt + tokenizer_config.json + special_tokens_map.json a
//   WordPiece tokenizer spiece.model + tokenizer_config.json + special_tokens_map.json  a
//   SentencePiece tokenizer modules.json, 1_Pooling/config.json (+ 2_Normalize)  when the folder
//   has embedding defaults
//                                                        sentence-transformers can express
// Everything is written into a temporary folder beside the output and renamed into place at the
// end, so a failure leaves nothing behind and an existing output only goes with --force.
#pragma once

#include <string>
#include <vector>

#include "smx/config/model_config.h"

namespace smx::importer {

struct HfExportOptions {
  // "" chooses from the folder: *ForSequenceClassification for a fine-tuned classifier or
  // regressor (task.json), else *ForPreTraining. Or one of BertModel, BertForPreTraining,
  // BertForMaskedLM, BertForSequenceClassification and the FNet forms.
  std::string architecture;
  std::string tokenizer;  // overrides the folder's tokenizer when non-empty
  bool force = false;     // replace an existing non-empty output folder
};

struct HfExportReport {
  std::string architecture;
  int64_t tensors = 0;               // tensors written
  std::vector<std::string> files;    // files written, relative to the output folder
  std::vector<std::string> dropped;  // smx tensors the architecture has no place for (heads)
  std::vector<std::string> notes;    // what the user should know (no tokenizer, ...)
};

// Why a model of `config` cannot be a Hugging Face BERT or FNet (naming the layer or feature
// that has no counterpart there), or "" when it can.
std::string hf_export_refusal(const ModelConfig& config);

// Exports the model folder `model_dir` to `out_dir`. Throws smx::Error naming the folder and what
// stops the export; nothing is written then.
HfExportReport export_hf(const std::string& model_dir, const std::string& out_dir,
                         const HfExportOptions& options = {});

}  // namespace smx::importer
