// One model input of a fine-tuning task, after the SuperGLUE expansions (COPA: one per choice,
// ReCoRD: one per candidate entity, MultiRC: one per answer).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace smx::tasks {

struct TaskExample {
  std::vector<std::string> segments;  // in model order (docs/design.md §4.4)
  float label = 0;                    // class id, regression target, or 0/1 for ranking candidates
  bool has_label = true;              // test splits have none
  // COPA question idx, ReCoRD query, MultiRC question: the unit of grouped evaluation. COPA and
  // ReCoRD groups list their candidates in order (COPA: choice1, choice2). -1 = ungrouped.
  int64_t group = -1;
  // Leaderboard id: the TSV index/id column (row number when there is none) or the JSON idx.
  // ReCoRD: the query idx. MultiRC: "<passage idx>:<question idx>:<answer idx>".
  std::string id;
  std::string answer_text;                // ReCoRD: the candidate entity text
  std::vector<std::string> gold_answers;  // ReCoRD: gold answer texts of the query
};

// Indices of the examples of each group, groups in order of first appearance. Examples with
// group -1 each form their own group.
std::vector<std::vector<size_t>> group_examples(const std::vector<TaskExample>& examples);

}  // namespace smx::tasks
