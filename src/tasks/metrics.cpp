#include "smx/tasks/metrics.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "smx/core/error.h"

namespace smx::tasks {
namespace {

template <typename T>
void check_pair(const std::vector<T>& a, const std::vector<T>& b, const char* metric) {
  if (a.size() != b.size())
    fail("{}: {} predictions but {} labels; pass one prediction per example", metric, a.size(),
         b.size());
  if (a.empty()) fail("{}: no examples to score", metric);
}

struct Counts {
  double tp = 0, fp = 0, fn = 0;
};

Counts count_class(const std::vector<int64_t>& predictions, const std::vector<int64_t>& labels,
                   int64_t positive) {
  Counts c;
  for (size_t i = 0; i < labels.size(); ++i) {
    const bool p = predictions[i] == positive, t = labels[i] == positive;
    c.tp += p && t;
    c.fp += p && !t;
    c.fn += !p && t;
  }
  return c;
}

double f1_of(const Counts& c) {
  const double denominator = 2 * c.tp + c.fp + c.fn;
  return denominator == 0 ? 0.0 : 2 * c.tp / denominator;
}

}  // namespace

double accuracy(const std::vector<int64_t>& predictions, const std::vector<int64_t>& labels) {
  check_pair(predictions, labels, "accuracy");
  size_t correct = 0;
  for (size_t i = 0; i < labels.size(); ++i) correct += predictions[i] == labels[i];
  return static_cast<double>(correct) / static_cast<double>(labels.size());
}

double binary_f1(const std::vector<int64_t>& predictions, const std::vector<int64_t>& labels,
                 int64_t positive) {
  check_pair(predictions, labels, "binary_f1");
  return f1_of(count_class(predictions, labels, positive));
}

double macro_f1(const std::vector<int64_t>& predictions, const std::vector<int64_t>& labels,
                int64_t num_classes) {
  check_pair(predictions, labels, "macro_f1");
  if (num_classes < 1) fail("macro_f1: num_classes is {}, it must be at least 1", num_classes);
  double sum = 0;
  for (int64_t k = 0; k < num_classes; ++k) sum += f1_of(count_class(predictions, labels, k));
  return sum / static_cast<double>(num_classes);
}

double matthews_corrcoef(const std::vector<int64_t>& predictions,
                         const std::vector<int64_t>& labels) {
  check_pair(predictions, labels, "matthews_corrcoef");
  // sklearn: from the confusion matrix's row sums t, column sums p, trace c and total s.
  std::map<int64_t, double> t_sum, p_sum;
  double correct = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    t_sum[labels[i]] += 1;
    p_sum[predictions[i]] += 1;
    correct += predictions[i] == labels[i];
  }
  const double s = static_cast<double>(labels.size());
  double tp = 0, pp = 0, tt = 0;
  for (const auto& [k, n] : t_sum) {
    tt += n * n;
    const auto it = p_sum.find(k);
    if (it != p_sum.end()) tp += n * it->second;
  }
  for (const auto& [k, n] : p_sum) pp += n * n;
  const double cov_ytyp = correct * s - tp;
  const double cov_ypyp = s * s - pp;
  const double cov_ytyt = s * s - tt;
  if (cov_ypyp * cov_ytyt == 0) return 0.0;
  return cov_ytyp / std::sqrt(cov_ytyt * cov_ypyp);
}

double pearson_corrcoef(const std::vector<double>& x, const std::vector<double>& y) {
  check_pair(x, y, "pearson_corrcoef");
  const double n = static_cast<double>(x.size());
  const double mx = std::accumulate(x.begin(), x.end(), 0.0) / n;
  const double my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double dx = x[i] - mx, dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx == 0 || syy == 0) return 0.0;  // scipy: nan
  return std::clamp(sxy / std::sqrt(sxx * syy), -1.0, 1.0);
}

std::vector<double> average_ranks(const std::vector<double>& values) {
  std::vector<size_t> order(values.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return values[a] < values[b]; });
  std::vector<double> ranks(values.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i + 1;
    while (j < order.size() && values[order[j]] == values[order[i]]) ++j;
    const double rank =
        (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;  // mean of i+1..j
    for (size_t k = i; k < j; ++k) ranks[order[k]] = rank;
    i = j;
  }
  return ranks;
}

double spearman_corrcoef(const std::vector<double>& x, const std::vector<double>& y) {
  check_pair(x, y, "spearman_corrcoef");
  return pearson_corrcoef(average_ranks(x), average_ranks(y));
}

int64_t argmax(const std::vector<float>& values) {
  if (values.empty()) fail("argmax of an empty output vector");
  return static_cast<int64_t>(std::max_element(values.begin(), values.end()) - values.begin());
}

}  // namespace smx::tasks
