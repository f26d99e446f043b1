// The fine-tuning knobs shared by `smx finetune` and `smx glue`.
#pragma once

#include <CLI/CLI.hpp>

#include "dist_options.h"
#include "smx/finetune/finetuner.h"

namespace smx::cli {

// Registers --init, --tokenizer, --set, --epochs, --lr, --batch, --grad-accum, --clip-norm,
// --warmup-fraction, --expert-dropout, --weight-decay, --max-seq-len, --eval-every, --eval-batch,
// --log-every, --threads, --bf16, --seed, --device and the multi-process flags (dist_options.h)
// on `cmd`, writing into `o`.
inline void add_finetune_options(CLI::App* cmd, finetune::FinetuneOptions& o) {
  cmd->add_option("--init,-i", o.init,
                  "Pre-training run folder (smx pretrain --out), fine-tuned model folder, or "
                  ".safetensors with a recorded config")
      ->required();
  cmd->add_option("--tokenizer,-t", o.tokenizer,
                  "SentencePiece model (default: the one the init config records)");
  cmd->add_option("--set", o.overrides,
                  "Override a non-architecture config key: --set eval_capacity_factor=2");
  cmd->add_option("--epochs", o.epochs, "Passes over the training split")->capture_default_str();
  cmd->add_option("--lr", o.learning_rates,
                  "Base learning rate(s); a comma list sweeps: --lr 1e-5,3e-5,1e-4")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--batch", o.batch_sizes, "Batch size(s); a comma list sweeps: --batch 16,32,64")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option(
         "--grad-accum", o.grad_accum,
         "Micro-batches of --batch per optimizer step (global batch: ranks x batch x this)")
      ->capture_default_str();
  cmd->add_option("--clip-norm", o.clip_norm, "Clip the global gradient norm to this (0: off)")
      ->capture_default_str();
  cmd->add_option("--warmup-fraction", o.warmup_fraction, "Share of steps spent in linear warmup")
      ->capture_default_str();
  cmd->add_option("--expert-dropout", o.expert_dropout,
                  "Expert output dropout (docs/design.md §2.6)")
      ->capture_default_str();
  cmd->add_option("--weight-decay", o.weight_decay, "AdamW decoupled weight decay")
      ->capture_default_str();
  cmd->add_option("--max-seq-len", o.max_seq_len,
                  "Truncate inputs to this many tokens (0: the model's)")
      ->capture_default_str();
  cmd->add_option(
         "--eval-every", o.eval_every,
         "Steps between dev evaluations (0: ceil(steps/100)*10 as the reference; -1: end only)")
      ->capture_default_str();
  cmd->add_option("--eval-batch", o.eval_batch, "Batch size of evaluation")->capture_default_str();
  cmd->add_option("--log-every", o.log_every, "Steps per progress line / metrics record")
      ->capture_default_str();
  cmd->add_option("--threads", o.threads, "Intra-op threads (0: every core)")
      ->capture_default_str();
  cmd->add_flag("--bf16", o.bf16, "bf16 autocast (router and losses stay fp32)");
  cmd->add_option("--seed", o.seed, "Seed of the classifier, data order and dropout")
      ->capture_default_str();
  cmd->add_option("--device", o.device, "cpu, cuda, cuda:1, ...")->capture_default_str();
  add_dist_options(*cmd, o.dist, [](const auto&, const auto&) {});  // no --resume to override
}

}  // namespace smx::cli
