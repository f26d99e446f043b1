// SuperGLUE JSONL files (one JSON object a line, nlohmann-json), expanded per docs/design.md §3.6:
//   COPA:    each question -> 2 examples (premise, question word, choice k), label = k is correct,
//            group = running question number (equal to idx in the official files).
//   ReCoRD:  each query -> one example per candidate entity (entity, query, passage), label =
//            entity is a gold answer, group = running query number. Candidates are the distinct
//            entity span texts, stripped and sorted (as TFDS builds them); spans are inclusive
//            code-point offsets into the passage. The passage keeps its "@highlight" lines.
//   MultiRC: each answer -> (question, answer, paragraph) with <br> -> ' ' and <b>, </b> removed,
//            label = answer label, group = running question number.
// BoolQ, CB, RTE, WiC: one example per line with the spec's segment fields.
#pragma once

#include <string>
#include <vector>

#include "smx/tasks/task_example.h"
#include "smx/tasks/task_reader.h"
#include "smx/tasks/task_registry.h"

namespace smx::tasks {

// Reads one SuperGLUE JSONL file of `spec`. `split` decides whether labels are read (not for
// kTest).
std::vector<TaskExample> read_superglue_jsonl(const TaskSpec& spec, const std::string& path,
                                              Split split, ReadStats* stats = nullptr);

// MultiRC paragraph cleanup: "<br>" -> " ", "<b>" and "</b>" removed.
std::string strip_multirc_tags(const std::string& text);

}  // namespace smx::tasks
