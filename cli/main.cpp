// smx: train and serve Sparse Mixer encoders.
#include <csignal>
#include <cstdio>
#include <exception>

#include "commands.h"
#include "smx/core/error.h"
#include "smx/io/output_file.h"

int main(int argc, char** argv) {
  // A closed stdout (`smx embed ... | head`) must not kill the process silently: writes then fail
  // with EPIPE and the command reports it (io::check_stdout) after saving what it can.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{"smx: Sparse Mixer encoders (MoE + linear mixing) in C++"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Print help for every subcommand");
  smx::cli::register_info_command(app);
  smx::cli::register_init_command(app);
  smx::cli::register_forward_command(app);
  smx::cli::register_tokenizer_command(app);
  smx::cli::register_pretrain_command(app);
  smx::cli::register_plot_command(app);
  smx::cli::register_bench_command(app);
  smx::cli::register_finetune_command(app);
  smx::cli::register_evaluate_command(app);
  smx::cli::register_predict_command(app);
  smx::cli::register_glue_command(app);
  smx::cli::register_infer_commands(app);
  smx::cli::register_serve_command(app);
  smx::cli::register_launch_command(app);
  smx::cli::register_import_command(app);
  smx::cli::register_export_command(app);
  try {
    app.parse(argc, argv);
    smx::io::check_stdout();
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const smx::Error& e) {
    std::fprintf(stderr, "smx: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "smx: internal error: %s\n", e.what());
    return 2;
  }
  return 0;
}
