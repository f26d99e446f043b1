#include "smx/train/metrics_log.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>
#include <unistd.h>

#include "smx/core/error.h"
#include "smx/core/json.h"
#include "smx/io/text_file.h"

namespace smx::train {
namespace {

std::string duration(double seconds) {
  const auto s = static_cast<int64_t>(seconds);
  return s >= 3600 ? fmt::format("{}h{:02}m", s / 3600, s % 3600 / 60)
                   : fmt::format("{}m{:02}s", s / 60, s % 60);
}

// " key value" for every number of a record but step and elapsed_s, keys in alphabetical order.
std::string numeric_fields(const nlohmann::json& r) {
  std::string out;
  for (const auto& [key, value] : r.items()) {
    if (key == "step" || key == "elapsed_s" || key == "type") continue;
    if (value.is_number_integer())
      out += fmt::format(" {} {}", key, value.get<int64_t>());
    else if (value.is_number_float()) {
      const double v = value.get<double>();
      out += (v != 0 && (std::abs(v) < 1e-3 || std::abs(v) >= 1e5))
                 ? fmt::format(" {} {:.2e}", key, v)
                 : fmt::format(" {} {:.4f}", key, v);
    }
  }
  return out;
}

}  // namespace

MetricsLog::MetricsLog(const std::string& path, int64_t total_steps, std::string prefix)
    : total_steps_(total_steps),
      prefix_(std::move(prefix)),
      tty_(::isatty(STDERR_FILENO) != 0),
      quiet_(path.empty()) {
  if (quiet_) return;
  file_ = std::fopen(path.c_str(), "a");
  if (file_ == nullptr) fail("cannot open metrics file '{}': {}", path, std::strerror(errno));
}

MetricsLog::~MetricsLog() {
  end_progress_line();
  if (file_ != nullptr) std::fclose(file_);
}

void MetricsLog::append(const nlohmann::json& record) {
  const std::string line = record.dump() + "\n";
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
}

void MetricsLog::end_progress_line() {
  if (progress_open_) std::fputc('\n', stderr);
  progress_open_ = false;
}

void MetricsLog::train(const nlohmann::json& r, double elapsed_s) {
  if (quiet_) return;
  append(r);
  const int64_t step = r.at("step").get<int64_t>();
  const double done =
      static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, total_steps_));
  double eta = done > 0 ? elapsed_s * (1.0 - done) / done : 0.0;
  if (time_limit_s_ > 0) eta = std::max(0.0, std::min(eta, time_limit_s_ - elapsed_s));
  std::string stats =
      r.contains("mlm_accuracy")
          ? fmt::format(
                "step {}/{} loss {:.4f} mlm {:.3f} nsp {:.3f} {:.0f} tok/s lr {:.2e} elapsed {} "
                "eta {}",
                step, total_steps_, r.at("loss").get<double>(), r.at("mlm_accuracy").get<double>(),
                r.at("nsp_accuracy").get<double>(), r.at("tokens_per_s").get<double>(),
                r.at("lr").get<double>(), duration(elapsed_s), duration(eta))
          : fmt::format("{}step {}/{}{} elapsed {} eta {}", prefix_, step, total_steps_,
                        numeric_fields(r), duration(elapsed_s), duration(eta));
  if (r.contains("data_wait_s"))  // the input pipeline: a starved trainer waits here
    stats +=
        fmt::format(" | data {:.0f} tok/s wait {:.1f} ms/step", r.value("data_tokens_per_s", 0.0),
                    1e3 * r.at("data_wait_s").get<double>());
  if (tty_) {
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(done * kWidth);
    std::fprintf(stderr, "\r[%s%s] %s\x1b[K", std::string(filled, '#').c_str(),
                 std::string(kWidth - filled, '.').c_str(), stats.c_str());
    progress_open_ = true;
  } else {
    std::fprintf(stderr, "%s\n", stats.c_str());
  }
  std::fflush(stderr);
}

void MetricsLog::eval(const nlohmann::json& r) {
  if (quiet_) return;
  append(r);
  end_progress_line();
  if (r.contains("mlm_accuracy")) {
    std::fprintf(stderr,
                 "eval step %lld: loss %.4f mlm accuracy %.4f nsp accuracy %.4f (%lld examples)\n",
                 static_cast<long long>(r.at("step").get<int64_t>()), r.at("loss").get<double>(),
                 r.at("mlm_accuracy").get<double>(), r.at("nsp_accuracy").get<double>(),
                 static_cast<long long>(r.at("examples").get<int64_t>()));
  } else {
    std::fprintf(stderr, "%seval step %lld:%s\n", prefix_.c_str(),
                 static_cast<long long>(r.value("step", int64_t{0})), numeric_fields(r).c_str());
  }
}

int64_t MetricsLog::drop_records_after(const std::string& path, int64_t step) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return 0;
  const std::string text = io::read_text_file(path);
  std::string kept;
  int64_t dropped = 0;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    const bool complete = end != std::string::npos;
    if (!complete) end = text.size();
    const std::string_view line(text.data() + start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    const nlohmann::json record =
        complete && json_is_valid(line) ? parse_json(line, path) : nlohmann::json();
    if (!record.is_object() || !record.contains("step") || !record["step"].is_number_integer() ||
        record["step"].get<int64_t>() > step) {
      ++dropped;
      continue;
    }
    kept.append(line).push_back('\n');
  }
  if (dropped > 0) io::write_file_atomically(path, kept);
  return dropped;
}

void MetricsLog::message(const std::string& text) {
  if (quiet_) return;
  end_progress_line();
  std::fprintf(stderr, "%s\n", text.c_str());
}

}  // namespace smx::train
