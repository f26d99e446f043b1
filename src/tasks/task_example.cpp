#include "smx/tasks/task_example.h"

#include <unordered_map>

namespace smx::tasks {

std::vector<std::vector<size_t>> group_examples(const std::vector<TaskExample>& examples) {
  std::vector<std::vector<size_t>> groups;
  std::unordered_map<int64_t, size_t> slot;  // group id -> index into `groups`
  for (size_t i = 0; i < examples.size(); ++i) {
    const int64_t g = examples[i].group;
    if (g < 0) {
      groups.push_back({i});
      continue;
    }
    const auto [it, inserted] = slot.emplace(g, groups.size());
    if (inserted) groups.emplace_back();
    groups[it->second].push_back(i);
  }
  return groups;
}

}  // namespace smx::tasks
