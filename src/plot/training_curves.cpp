#include "smx/plot/training_curves.h"

#include <filesystem>
#include <fstream>

#include "smx/core/error.h"
#include "smx/core/json.h"

namespace smx::plot {

RunMetrics read_run_metrics(const std::string& run_dir) {
  const std::string path = run_dir + "/metrics.jsonl";
  std::ifstream in(path);
  if (!in)
    fail("cannot open '{}': is '{}' a run folder of smx pretrain or smx finetune?", path, run_dir);
  RunMetrics run;
  run.name = std::filesystem::path(run_dir).lexically_normal().filename().string();
  if (run.name.empty()) run.name = std::filesystem::path(run_dir).parent_path().filename().string();
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    const std::string where = fmt::format("{}:{}", path, number);
    auto j = json_is_valid(line) ? parse_json(line, where) : nlohmann::json();
    if (!j.is_object() || !j.contains("step"))
      fail("{}:{}: not a metrics record (a JSON object with a \"step\")", path, number);
    (j.value("type", "train") == "eval" ? run.eval : run.train).push_back(std::move(j));
  }
  return run;
}

std::vector<Panel> training_curve_panels(const std::vector<RunMetrics>& runs) {
  auto series = [](const RunMetrics& r, const std::vector<nlohmann::json>& records,
                   const char* x_key, const char* y_key) {
    Series s{r.name, {}, {}};
    for (const auto& rec : records)
      if (rec.contains(x_key) && rec.contains(y_key) && rec[y_key].is_number()) {
        s.x.push_back(rec[x_key].get<double>());
        s.y.push_back(rec[y_key].get<double>());
      }
    return s;
  };
  std::vector<Panel> panels = {
      {"training loss", "step", "loss", {}},
      {"training loss", "wall-clock (s)", "loss", {}},
      {"held-out MLM accuracy", "step", "accuracy", {}},
      {"held-out NSP accuracy", "step", "accuracy", {}},
      {"held-out MLM accuracy", "wall-clock (s)", "accuracy", {}},
      {"held-out loss", "wall-clock (s)", "loss", {}},
  };
  for (const auto& r : runs) {
    panels[0].series.push_back(series(r, r.train, "step", "loss"));
    panels[1].series.push_back(series(r, r.train, "elapsed_s", "loss"));
    panels[2].series.push_back(series(r, r.eval, "step", "mlm_accuracy"));
    panels[3].series.push_back(series(r, r.eval, "step", "nsp_accuracy"));
    panels[4].series.push_back(series(r, r.eval, "elapsed_s", "mlm_accuracy"));
    panels[5].series.push_back(series(r, r.eval, "elapsed_s", "loss"));
  }
  return panels;
}

}  // namespace smx::plot
