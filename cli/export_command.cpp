// smx export hf: an smx model folder of BERT or FNet shape as a Hugging Face model folder
// (docs/importing.md, "Exporting to Hugging Face").
#include <iostream>

#include <fmt/format.h>

#include "commands.h"
#include "smx/core/error.h"
#include "smx/import/hf_export.h"

namespace smx::cli {

void register_export_command(CLI::App& app) {
  auto o = std::make_shared<importer::HfExportOptions>();
  auto model = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("export", "Export smx models to other frameworks' formats");
  cmd->require_subcommand(1);
  CLI::App* hf = cmd->add_subcommand(
      "hf",
      "A BERT- or FNet-shaped model folder -> a Hugging Face folder (config.json, "
      "model.safetensors, tokenizer files) that transformers' from_pretrained loads");
  hf->add_option("model", *model, "smx model folder (imported, pre-trained or fine-tuned)")
      ->required();
  hf->add_option("--out,-o", *out, "Hugging Face folder to write (must not exist, or be empty)")
      ->required();
  hf->add_option("--architecture", o->architecture,
                 "BertModel, BertForPreTraining, BertForMaskedLM, BertForSequenceClassification "
                 "or the FNet forms (default: ForSequenceClassification for a fine-tuned folder, "
                 "else ForPreTraining)");
  hf->add_option("--tokenizer", o->tokenizer, "Tokenizer to export (overrides the folder's)");
  hf->add_flag("--force", o->force, "Replace an existing non-empty --out folder");
  hf->callback([o, model, out] {
    const auto report = importer::export_hf(*model, *out, *o);
    std::cout << fmt::format("wrote {} ({}, {} tensors):", *out, report.architecture,
                             report.tensors);
    for (const auto& f : report.files) std::cout << ' ' << f;
    std::cout << '\n';
    if (!report.dropped.empty()) {
      std::cout << "not exported (no place in " << report.architecture << "):";
      for (const auto& d : report.dropped) std::cout << ' ' << d;
      std::cout << '\n';
    }
    for (const auto& n : report.notes) std::cout << "note: " << n << '\n';
  });
}

}  // namespace smx::cli
