#include "smx/tasks/task_registry.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "smx/core/error.h"

namespace smx::tasks {
namespace {

const std::vector<std::string> kBinary = {"0", "1"};
const std::vector<std::string> kBool = {"false", "true"};
const std::vector<std::string> kMnliLabels = {"entailment", "neutral", "contradiction"};
const std::vector<std::string> kRteLabels = {"entailment", "not_entailment"};

TaskSpec glue(std::string name, std::string display, std::string dir, TaskKind kind,
              std::vector<std::string> labels, std::vector<std::string> segments,
              std::string label_field, std::string id_field, std::vector<std::string> metrics,
              std::vector<std::string> score_metrics) {
  TaskSpec t;
  t.name = std::move(name);
  t.display_name = display;
  t.benchmark = Benchmark::kGlue;
  t.kind = kind;
  t.dir = std::move(dir);
  t.train_file = "train.tsv";
  t.dev_file = "dev.tsv";
  t.test_file = "test.tsv";
  t.labels = std::move(labels);
  t.segment_fields = std::move(segments);
  t.label_field = std::move(label_field);
  t.id_field = std::move(id_field);
  t.metrics = std::move(metrics);
  t.score_metrics = std::move(score_metrics);
  t.submission_file = display + ".tsv";
  return t;
}

TaskSpec superglue(std::string name, std::string display, TaskKind kind,
                   std::vector<std::string> labels, std::vector<std::string> segments,
                   std::string label_field, std::vector<std::string> metrics) {
  TaskSpec t;
  t.name = std::move(name);
  t.display_name = display;
  t.benchmark = Benchmark::kSuperGlue;
  t.kind = kind;
  t.dir = display;
  t.train_file = "train.jsonl";
  t.dev_file = "val.jsonl";
  t.test_file = "test.jsonl";
  t.labels = std::move(labels);
  t.segment_fields = std::move(segments);
  t.label_field = std::move(label_field);
  t.id_field = "idx";
  t.metrics = metrics;
  t.score_metrics = std::move(metrics);
  t.submission_file = display + ".jsonl";
  return t;
}

std::vector<TaskSpec> build_registry() {
  using K = TaskKind;
  std::vector<TaskSpec> r;
  // GLUE (download_glue_data.py layout). CoLA train/dev have no header.
  TaskSpec cola = glue("cola", "CoLA", "CoLA", K::kClassification, kBinary, {"sentence"}, "label",
                       "index", {"mcc", "accuracy"}, {"mcc"});
  cola.headerless_columns = {"source", "label", "original_label", "sentence"};
  r.push_back(cola);
  r.push_back(glue("sst-2", "SST-2", "SST-2", K::kClassification, kBinary, {"sentence"}, "label",
                   "index", {"accuracy"}, {"accuracy"}));
  r.back().aliases = {"sst"};
  // MRPC train/dev have no index column (and start with a BOM); test has one.
  r.push_back(glue("mrpc", "MRPC", "MRPC", K::kClassification, kBinary, {"#1 String", "#2 String"},
                   "Quality", "index", {"f1", "accuracy"}, {"f1", "accuracy"}));
  TaskSpec qqp = glue("qqp", "QQP", "QQP", K::kClassification, kBinary, {"question1", "question2"},
                      "is_duplicate", "id", {"f1", "accuracy"}, {"f1", "accuracy"});
  qqp.skip_short_rows = true;
  r.push_back(qqp);
  r.push_back(glue("sts-b", "STS-B", "STS-B", K::kRegression, {}, {"sentence1", "sentence2"},
                   "score", "index", {"pearson", "spearman"}, {"pearson", "spearman"}));
  // MNLI: hypothesis (sentence2) first (docs/design.md §4.4). Both dev sets share train.tsv.
  TaskSpec mnli_m =
      glue("mnli-m", "MNLI-m", "MNLI", K::kClassification, kMnliLabels, {"sentence2", "sentence1"},
           "gold_label", "index", {"accuracy"}, {"accuracy"});
  mnli_m.aliases = {"mnli", "mnli-matched"};
  mnli_m.dev_file = "dev_matched.tsv";
  mnli_m.test_file = "test_matched.tsv";
  mnli_m.score_group = "mnli";
  r.push_back(mnli_m);
  TaskSpec mnli_mm = mnli_m;
  mnli_mm.name = "mnli-mm";
  mnli_mm.display_name = "MNLI-mm";
  mnli_mm.aliases = {"mnli-mismatched"};
  mnli_mm.dev_file = "dev_mismatched.tsv";
  mnli_mm.test_file = "test_mismatched.tsv";
  mnli_mm.submission_file = "MNLI-mm.tsv";
  r.push_back(mnli_mm);
  r.push_back(glue("qnli", "QNLI", "QNLI", K::kClassification, kRteLabels, {"question", "sentence"},
                   "label", "index", {"accuracy"}, {"accuracy"}));
  r.push_back(glue("rte", "RTE", "RTE", K::kClassification, kRteLabels, {"sentence1", "sentence2"},
                   "label", "index", {"accuracy"}, {"accuracy"}));
  r.push_back(glue("wnli", "WNLI", "WNLI", K::kClassification, kBinary, {"sentence1", "sentence2"},
                   "label", "index", {"accuracy"}, {"accuracy"}));
  // AX: MNLI-style diagnostic, predicted by an MNLI model; unlabeled, so test only.
  TaskSpec ax = glue("ax", "AX", "diagnostic", K::kClassification, kMnliLabels,
                     {"sentence2", "sentence1"}, "label", "index", {}, {});
  ax.aliases = {"diagnostic", "glue-ax"};
  ax.train_file.clear();
  ax.dev_file.clear();
  ax.test_file = "diagnostic.tsv";
  ax.in_average = false;
  r.push_back(ax);

  // SuperGLUE (official jsonl: train/val/test).
  r.push_back(superglue("boolq", "BoolQ", K::kClassification, kBool, {"question", "passage"},
                        "label", {"accuracy"}));
  // CB: hypothesis first; label order as TFDS.
  r.push_back(superglue("cb", "CB", K::kClassification, {"entailment", "contradiction", "neutral"},
                        {"hypothesis", "premise"}, "label", {"accuracy", "macro_f1"}));
  r.back().aliases = {"commitmentbank"};
  r.push_back(superglue("copa", "COPA", K::kRanking, kBinary, {"premise", "question", "choice"},
                        "label", {"accuracy"}));
  r.push_back(superglue("multirc", "MultiRC", K::kGrouped, kBinary,
                        {"question", "answer", "paragraph"}, "label", {"f1a", "exact_match"}));
  r.push_back(superglue("record", "ReCoRD", K::kRanking, {}, {"entity", "query", "passage"},
                        "answers", {"f1", "exact_match"}));
  TaskSpec sg_rte = superglue("superglue-rte", "RTE", K::kClassification, kRteLabels,
                              {"hypothesis", "premise"}, "label", {"accuracy"});
  sg_rte.aliases = {"rte-superglue", "sg-rte", "rte-sg"};
  r.push_back(sg_rte);
  r.push_back(superglue("wic", "WiC", K::kClassification, kBool, {"word", "sentence1", "sentence2"},
                        "label", {"accuracy"}));
  return r;
}

// Lookup key: lower case without '-', '_' and spaces ("SST-2" == "sst2").
std::string lookup_key(const std::string& name) {
  std::string key;
  for (const char c : name)
    if (c != '-' && c != '_' && c != ' ')
      key += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return key;
}

}  // namespace

int64_t TaskSpec::num_outputs() const {
  switch (kind) {
    case TaskKind::kClassification:
      return static_cast<int64_t>(labels.size());
    case TaskKind::kGrouped:
      return 2;
    case TaskKind::kRegression:
    case TaskKind::kRanking:
      return 1;
  }
  return 1;
}

int64_t TaskSpec::label_id(const std::string& label) const {
  const auto it = std::find(labels.begin(), labels.end(), label);
  return it == labels.end() ? -1 : static_cast<int64_t>(it - labels.begin());
}

const std::string& TaskSpec::file(Split split) const {
  switch (split) {
    case Split::kTrain:
      return train_file;
    case Split::kDev:
      return dev_file;
    case Split::kTest:
      return test_file;
  }
  return test_file;
}

const std::vector<TaskSpec>& all_tasks() {
  static const std::vector<TaskSpec> registry = build_registry();
  return registry;
}

std::vector<std::string> task_names() {
  std::vector<std::string> names;
  for (const TaskSpec& t : all_tasks()) names.push_back(t.name);
  return names;
}

const TaskSpec& find_task(const std::string& name) {
  const std::string key = lookup_key(name);
  for (const TaskSpec& t : all_tasks()) {
    if (lookup_key(t.name) == key) return t;
    for (const std::string& alias : t.aliases)
      if (lookup_key(alias) == key) return t;
  }
  fail("unknown task '{}'; known tasks: {} (case, '-' and '_' are ignored)", name,
       fmt::join(task_names(), ", "));
}

const char* split_name(Split split) {
  switch (split) {
    case Split::kTrain:
      return "train";
    case Split::kDev:
      return "dev";
    case Split::kTest:
      return "test";
  }
  return "?";
}

Split parse_split(const std::string& name) {
  const std::string key = lookup_key(name);
  if (key == "train") return Split::kTrain;
  if (key == "dev" || key == "val" || key == "validation") return Split::kDev;
  if (key == "test") return Split::kTest;
  fail("unknown split '{}'; use train, dev (or val) or test", name);
}

const char* benchmark_name(Benchmark benchmark) {
  return benchmark == Benchmark::kGlue ? "GLUE" : "SuperGLUE";
}

}  // namespace smx::tasks
