// smx plot: training curves of one or more runs to SVG (or PNG through rsvg-convert), and a summary
// of each run's last held-out evaluation.
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "commands.h"
#include "smx/core/error.h"
#include "smx/io/text_file.h"
#include "smx/plot/training_curves.h"

namespace smx::cli {

void register_plot_command(CLI::App& app) {
  struct Options {
    std::vector<std::string> runs;
    std::string out = "curves.svg";
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd =
      app.add_subcommand("plot", "Plot training curves of runs (metrics.jsonl) side by side");
  cmd->add_option("runs", o->runs, "Run folders")->required();
  cmd->add_option("--out,-o", o->out, "Output .svg (or .png, converted with rsvg-convert)")
      ->capture_default_str();
  cmd->callback([o] {
    std::vector<plot::RunMetrics> runs;
    for (const auto& dir : o->runs) runs.push_back(plot::read_run_metrics(dir));
    const std::string svg = plot::render_svg(plot::training_curve_panels(runs), 2);
    const bool png = std::filesystem::path(o->out).extension() == ".png";
    const std::string svg_path = png ? o->out + ".svg" : o->out;
    io::write_file_atomically(svg_path, svg);
    if (png) {
      const std::string command = "rsvg-convert -o '" + o->out + "' '" + svg_path + "'";
      if (std::system(command.c_str()) != 0)
        fail(
            "could not convert to PNG with rsvg-convert (Debian package librsvg2-bin); the SVG is "
            "at {}",
            svg_path);
      std::filesystem::remove(svg_path);
    }
    fmt::print("{:<24} {:>8} {:>10} {:>10} {:>10} {:>10}\n", "run", "steps", "time (s)",
               "eval loss", "MLM acc", "NSP acc");
    for (const auto& r : runs) {
      if (r.eval.empty()) {
        fmt::print("{:<24} (no evaluation yet)\n", r.name);
        continue;
      }
      const auto& e = r.eval.back();
      fmt::print("{:<24} {:>8} {:>10.0f} {:>10.4f} {:>10.4f} {:>10.4f}\n", r.name,
                 e.value("step", 0), e.value("elapsed_s", 0.0), e.value("loss", 0.0),
                 e.value("mlm_accuracy", 0.0), e.value("nsp_accuracy", 0.0));
    }
    fmt::print("wrote {}\n", o->out);
  });
}

}  // namespace smx::cli
