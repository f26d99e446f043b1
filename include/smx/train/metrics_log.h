// Where training progress goes: every record appended to DIR/metrics.jsonl (one JSON object per
// line, flushed), and to the terminal as a live progress line on a TTY or plain log lines
// otherwise.
#pragma once

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

namespace smx::train {

class MetricsLog {
 public:
  // Appends to `path` (created if missing); `total_steps` sizes the progress bar and ETA;
  // `prefix` starts every generic terminal line (e.g. "[lr 1e-05 batch 32] "). An empty path makes
  // a silent log (ranks other than 0 of a distributed job).
  MetricsLog(const std::string& path, int64_t total_steps, std::string prefix = "");
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  // A training record. Pre-training's {"step", "loss", "mlm_accuracy", "nsp_accuracy",
  // "tokens_per_s", "lr", ...} gets its fixed layout; any other record needs "step" and is shown
  // as "step s/S" followed by each of its numbers (fine-tuning's loss, accuracy, lr, ...).
  void train(const nlohmann::json& record, double elapsed_s);
  // An evaluation record: printed on its own line (pre-training's layout when it has
  // "mlm_accuracy", else every number of the record).
  void eval(const nlohmann::json& record);
  // A free-form message (keeps the progress line intact).
  void message(const std::string& text);
  // A wall-clock limit (seconds since the run started) that caps the ETA; 0 = none.
  void set_time_limit(double seconds) { time_limit_s_ = seconds; }

  // For a resume from the checkpoint of `step`: rewrites `path` (atomically) without the records
  // of later steps, which a run killed after that checkpoint wrote and the resumed run writes
  // again, and without a last line cut short by the kill. Returns the number of lines dropped.
  static int64_t drop_records_after(const std::string& path, int64_t step);

 private:
  void append(const nlohmann::json& record);
  void end_progress_line();

  std::FILE* file_ = nullptr;
  int64_t total_steps_;
  double time_limit_s_ = 0;
  std::string prefix_;
  bool tty_;
  bool progress_open_ = false;
  bool quiet_ = false;
};

}  // namespace smx::train
