// smx import sparse-mixers: turn the paper authors' released Flax checkpoints into an smx model
// folder (docs/importing.md).
#include <iostream>

#include <fmt/format.h>

#include "commands.h"
#include "smx/core/error.h"
#include "smx/import/hf_importer.h"
#include "smx/import/importer.h"

namespace smx::cli {

void register_import_command(CLI::App& app) {
  auto o = std::make_shared<importer::ImportOptions>();
  auto inspect = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("import", "Import pre-trained weights from other frameworks");
  cmd->require_subcommand(1);
  CLI::App* sm = cmd->add_subcommand(
      "sparse-mixers",
      "The released Sparse Mixer / Fast Sparse Mixer / BERT checkpoints of google-research "
      "sparse_mixers (Flax msgpack) -> an smx model folder");
  sm->add_option("source", o->source,
                 "Release zip, the folder it unpacks to, or a replicated_checkpoint_<step> file")
      ->required();
  sm->add_option("--out,-o", o->out_dir, "Model folder to create (must not exist)");
  sm->add_option(
      "--vocab", o->vocab,
      "SentencePiece model the checkpoint was trained with (c4_bpe_sentencepiece.model); "
      "copied into the folder and recorded in its config");
  sm->add_option("--config,-c", o->config,
                 "Preset or JSON file to check the checkpoint against; its non-shape settings "
                 "(capacity factors, routing, padding) are used");
  sm->add_flag("--inspect", *inspect,
               "Print the files, tree, dtypes and shapes found, the inferred config and the "
               "mapping; write nothing");
  sm->callback([o, inspect] {
    if (*inspect) {
      if (!importer::inspect_sparse_mixers(*o, std::cout))
        fail("{}: the checkpoint cannot be imported as it is (see above)", o->source);
      return;
    }
    if (o->out_dir.empty()) fail("smx import sparse-mixers: --out DIR is required");
    importer::import_sparse_mixers(*o, std::cout);
  });

  auto h = std::make_shared<importer::HfImportOptions>();
  CLI::App* hf = cmd->add_subcommand(
      "hf",
      "A Hugging Face BERT or FNet model folder (config.json + model.safetensors, sharded "
      "safetensors or pytorch_model.bin; vocab.txt / tokenizer.json / spiece.model) -> an smx "
      "model folder; *ForSequenceClassification becomes a fine-tuned one");
  hf->add_option("source", h->source, "Hugging Face model folder")->required();
  hf->add_option("--out,-o", h->out_dir, "Model folder to create (must not exist)")->required();
  hf->add_option("--max-seq-len", h->max_seq_len,
                 "Longest input smx runs (default: max_position_embeddings; FNet batches are "
                 "padded to it)");
  hf->add_option("--padding", h->padding,
                 "\"masked\" or \"reference\" (default: masked for BERT, reference for FNet; "
                 "docs/importing.md)");
  hf->callback([h] { importer::import_hf(*h, std::cout); });
}

}  // namespace smx::cli
