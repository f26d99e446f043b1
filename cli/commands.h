// Each smx subcommand lives in its own file and registers itself on the top-level CLI11 app.
#pragma once

#include <CLI/CLI.hpp>

namespace smx::cli {

void register_info_command(CLI::App& app);
void register_init_command(CLI::App& app);
void register_forward_command(CLI::App& app);
void register_bench_command(CLI::App& app);
void register_tokenizer_command(CLI::App& app);
void register_pretrain_command(CLI::App& app);
void register_plot_command(CLI::App& app);
void register_finetune_command(CLI::App& app);
void register_evaluate_command(CLI::App& app);
void register_predict_command(CLI::App& app);
void register_glue_command(CLI::App& app);
void register_infer_commands(CLI::App& app);  // embed, classify, score
void register_serve_command(CLI::App& app);
void register_launch_command(CLI::App& app);
void register_import_command(CLI::App& app);  // import sparse-mixers
void register_export_command(CLI::App& app);  // export hf

}  // namespace smx::cli
