// Training curves of runs from their metrics.jsonl files (smx pretrain / smx finetune).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "smx/plot/svg_plot.h"

namespace smx::plot {

struct RunMetrics {
  std::string name;                   // the run folder's name
  std::vector<nlohmann::json> train;  // records with "type": "train"
  std::vector<nlohmann::json> eval;   // records with "type": "eval"
};

// Reads RUN_DIR/metrics.jsonl; errors name the file and line of a malformed record.
RunMetrics read_run_metrics(const std::string& run_dir);

// Panels: training loss against step and against wall-clock, held-out MLM and NSP accuracy
// against step (and the held-out loss against wall-clock).
std::vector<Panel> training_curve_panels(const std::vector<RunMetrics>& runs);

}  // namespace smx::plot
