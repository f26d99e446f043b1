// The official GLUE/SuperGLUE metric primitives (sklearn / scipy semantics). Values are fractions
// in [0, 1] (correlations in [-1, 1]), not the leaderboard's percentages. Every function fails on
// empty or mismatched inputs.
#pragma once

#include <cstdint>
#include <vector>

namespace smx::tasks {

// Fraction of predictions equal to the labels.
double accuracy(const std::vector<int64_t>& predictions, const std::vector<int64_t>& labels);

// F1 of class `positive`: 2tp / (2tp + fp + fn); 0 when there are no positives in either
// (sklearn zero_division=0), e.g. no positive predictions and no positive labels.
double binary_f1(const std::vector<int64_t>& predictions, const std::vector<int64_t>& labels,
                 int64_t positive = 1);

// Unweighted mean of binary_f1 over classes 0..num_classes-1, every class counted even if absent
// from both (as the SuperGLUE CB scorer; sklearn's average="macro" would skip such a class).
double macro_f1(const std::vector<int64_t>& predictions, const std::vector<int64_t>& labels,
                int64_t num_classes);

// Matthews correlation, sklearn's multiclass formula; 0 when undefined (a constant predictor or
// constant labels).
double matthews_corrcoef(const std::vector<int64_t>& predictions,
                         const std::vector<int64_t>& labels);

// Pearson r. Where scipy returns nan (a constant input) this returns 0, so that metric
// comparisons and averages stay ordered.
double pearson_corrcoef(const std::vector<double>& x, const std::vector<double>& y);

// Spearman rho = Pearson r of the average ranks (ties share the mean of their ranks, as
// scipy.stats.rankdata "average"); 0 for a constant input, like pearson_corrcoef.
double spearman_corrcoef(const std::vector<double>& x, const std::vector<double>& y);

// 1-based ranks, ties given their average rank (scipy.stats.rankdata(method="average")).
std::vector<double> average_ranks(const std::vector<double>& values);

// Index of the largest value; the first one on ties (numpy.argmax).
int64_t argmax(const std::vector<float>& values);

}  // namespace smx::tasks
