// A small thread-safe metrics registry rendered in the Prometheus text exposition format
// (version 0.0.4): counters, gauges and histograms, each with label sets.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace smx::serve {

using Labels = std::vector<std::pair<std::string, std::string>>;

class MetricsRegistry {
 public:
  void add_counter(const std::string& name, const std::string& help);
  void add_gauge(const std::string& name, const std::string& help);
  // `bounds`: the buckets' upper bounds, ascending (+Inf is added).
  void add_histogram(const std::string& name, const std::string& help, std::vector<double> bounds);

  void increment(const std::string& name, const Labels& labels = {}, double by = 1);
  void set(const std::string& name, const Labels& labels, double value);
  void observe(const std::string& name, const Labels& labels, double value);

  // Current value of a counter or gauge series (0 if never touched); for tests.
  double value(const std::string& name, const Labels& labels = {}) const;
  // Number of observations of a histogram series; for tests.
  double count(const std::string& name, const Labels& labels = {}) const;

  std::string render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Series {
    double value = 0;             // counter / gauge
    std::vector<double> buckets;  // histogram: per-bucket (non-cumulative) counts
    double sum = 0, count = 0;    // histogram
  };
  struct Family {
    Type type = Type::kCounter;
    std::string help;
    std::vector<double> bounds;
    std::map<std::string, Series> series;  // key: rendered label set
  };
  Family& family(const std::string& name, Type type);
  const Family* find(const std::string& name) const;

  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
};

// {a="x",b="y"} with Prometheus escaping; "" for no labels.
std::string render_labels(const Labels& labels);

}  // namespace smx::serve
