#include "smx/serve/metrics.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "smx/core/error.h"

namespace smx::serve {
namespace {

std::string escape_label(const std::string& value) {
  std::string out;
  for (const char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string prometheus_number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  return fmt::format("{}", v);
}

// Adds le="..." to a rendered label set.
std::string with_le(const std::string& labels, const std::string& le) {
  const std::string item = "le=\"" + le + "\"";
  if (labels.empty()) return "{" + item + "}";
  return labels.substr(0, labels.size() - 1) + "," + item + "}";
}

}  // namespace

std::string render_labels(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ',';
    out += labels[i].first + "=\"" + escape_label(labels[i].second) + "\"";
  }
  return out + "}";
}

MetricsRegistry::Family& MetricsRegistry::family(const std::string& name, Type type) {
  auto it = families_.find(name);
  if (it == families_.end()) fail("metric '{}' was never registered", name);
  if (it->second.type != type) fail("metric '{}' is used as the wrong type", name);
  return it->second;
}

const MetricsRegistry::Family* MetricsRegistry::find(const std::string& name) const {
  auto it = families_.find(name);
  return it == families_.end() ? nullptr : &it->second;
}

void MetricsRegistry::add_counter(const std::string& name, const std::string& help) {
  std::lock_guard lock(mutex_);
  families_[name] = Family{Type::kCounter, help, {}, {}};
}

void MetricsRegistry::add_gauge(const std::string& name, const std::string& help) {
  std::lock_guard lock(mutex_);
  families_[name] = Family{Type::kGauge, help, {}, {}};
}

void MetricsRegistry::add_histogram(const std::string& name, const std::string& help,
                                    std::vector<double> bounds) {
  std::sort(bounds.begin(), bounds.end());
  std::lock_guard lock(mutex_);
  families_[name] = Family{Type::kHistogram, help, std::move(bounds), {}};
}

void MetricsRegistry::increment(const std::string& name, const Labels& labels, double by) {
  std::lock_guard lock(mutex_);
  family(name, Type::kCounter).series[render_labels(labels)].value += by;
}

void MetricsRegistry::set(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mutex_);
  family(name, Type::kGauge).series[render_labels(labels)].value = value;
}

void MetricsRegistry::observe(const std::string& name, const Labels& labels, double value) {
  std::lock_guard lock(mutex_);
  Family& f = family(name, Type::kHistogram);
  Series& s = f.series[render_labels(labels)];
  if (s.buckets.empty()) s.buckets.assign(f.bounds.size() + 1, 0);
  const auto bucket = std::lower_bound(f.bounds.begin(), f.bounds.end(), value) - f.bounds.begin();
  s.buckets[static_cast<size_t>(bucket)] += 1;
  s.sum += value;
  s.count += 1;
}

double MetricsRegistry::value(const std::string& name, const Labels& labels) const {
  std::lock_guard lock(mutex_);
  const Family* f = find(name);
  if (!f) return 0;
  auto it = f->series.find(render_labels(labels));
  return it == f->series.end() ? 0 : it->second.value;
}

double MetricsRegistry::count(const std::string& name, const Labels& labels) const {
  std::lock_guard lock(mutex_);
  const Family* f = find(name);
  if (!f) return 0;
  auto it = f->series.find(render_labels(labels));
  return it == f->series.end() ? 0 : it->second.count;
}

std::string MetricsRegistry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, f] : families_) {
    const char* type = f.type == Type::kCounter ? "counter"
                       : f.type == Type::kGauge ? "gauge"
                                                : "histogram";
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, f.help, name, type);
    for (const auto& [labels, s] : f.series) {
      if (f.type != Type::kHistogram) {
        out += fmt::format("{}{} {}\n", name, labels, prometheus_number(s.value));
        continue;
      }
      double cumulative = 0;
      for (size_t b = 0; b < f.bounds.size(); ++b) {
        cumulative += s.buckets[b];
        out +=
            fmt::format("{}_bucket{} {}\n", name, with_le(labels, prometheus_number(f.bounds[b])),
                        prometheus_number(cumulative));
      }
      out += fmt::format("{}_bucket{} {}\n", name, with_le(labels, "+Inf"),
                         prometheus_number(s.count));
      out += fmt::format("{}_sum{} {}\n{}_count{} {}\n", name, labels, prometheus_number(s.sum),
                         name, labels, prometheus_number(s.count));
    }
  }
  return out;
}

}  // namespace smx::serve
