// Where training progress goes: every record appended to DIR/metrics.jsonl (one JSON object per
// line, flushed), and to the terminal as a live progress line on a TTY or plain log lines otherwise.
#pragma once

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

namespace smx::train {

class MetricsLog {
 public:
  // Appends to `path` (created if missing); `total_steps` sizes the progress bar and ETA.
  // An empty path makes a silent log (ranks other than 0 of a distributed job).
  MetricsLog(const std::string& path, int64_t total_steps);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  // A training record: {"step", "loss", "mlm_accuracy", "nsp_accuracy", "tokens_per_s", "lr", ...}.
  void train(const nlohmann::json& record, double elapsed_s);
  // An evaluation record: printed on its own line.
  void eval(const nlohmann::json& record);
  // A free-form message (keeps the progress line intact).
  void message(const std::string& text);

 private:
  void append(const nlohmann::json& record);
  void end_progress_line();

  std::FILE* file_ = nullptr;
  int64_t total_steps_;
  bool tty_;
  bool progress_open_ = false;
  bool quiet_ = false;
};

}  // namespace smx::train
