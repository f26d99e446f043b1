#include "smx/tasks/glue_readers.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "smx/core/error.h"
#include "tasks/text_lines.h"

namespace smx::tasks {
namespace {

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> fields;
  size_t start = 0;
  while (true) {
    const size_t tab = line.find('\t', start);
    if (tab == std::string::npos) {
      fields.push_back(line.substr(start));
      return fields;
    }
    fields.push_back(line.substr(start, tab - start));
    start = tab + 1;
  }
}

// Index of `name` in `columns`, or -1.
int64_t column_index(const std::vector<std::string>& columns, const std::string& name) {
  const auto it = std::find(columns.begin(), columns.end(), name);
  return it == columns.end() ? -1 : static_cast<int64_t>(it - columns.begin());
}

bool has_all(const std::vector<std::string>& columns, const std::vector<std::string>& names) {
  return std::all_of(names.begin(), names.end(),
                     [&](const std::string& n) { return column_index(columns, n) >= 0; });
}

float parse_target(const std::string& text, const std::string& path, int64_t line,
                   const std::string& field) {
  errno = 0;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || errno != 0 || !std::isfinite(value))
    fail("{}:{}: column '{}': '{}' is not a number; a regression target must be a finite float",
         path, line, field, text);
  return static_cast<float>(value);
}

}  // namespace

std::vector<TaskExample> read_glue_tsv(const TaskSpec& spec, const std::string& path, Split split,
                                       ReadStats* stats) {
  const std::vector<TextLine> lines = read_text_lines(path);
  std::vector<TaskExample> examples;
  if (lines.empty()) return examples;  // read_split reports the empty split

  // Header detection: a header names every segment column; CoLA train/dev have none.
  std::vector<std::string> columns = split_tabs(lines.front().text);
  size_t first_row = 1;
  if (!has_all(columns, spec.segment_fields)) {
    if (!spec.headerless_columns.empty() && columns.size() == spec.headerless_columns.size()) {
      columns = spec.headerless_columns;
      first_row = 0;
    } else {
      for (const std::string& name : spec.segment_fields)
        if (column_index(columns, name) < 0)
          fail("{}:{}: missing column '{}' in the header (found: {}); task {} needs columns {}",
               path, lines.front().number, name, fmt::join(columns, ", "), spec.display_name,
               fmt::join(spec.segment_fields, ", "));
    }
  }
  const bool labelled = split != Split::kTest;
  std::vector<int64_t> segment_cols;
  for (const std::string& name : spec.segment_fields)
    segment_cols.push_back(column_index(columns, name));
  const int64_t label_col = column_index(columns, spec.label_field);
  if (labelled && label_col < 0)
    fail("{}:{}: missing label column '{}' in the header (found: {}); a {} split needs labels",
         path, lines.front().number, spec.label_field, fmt::join(columns, ", "), split_name(split));
  const int64_t id_col = column_index(columns, spec.id_field);

  int64_t row_number = 0;  // data rows, for files without an index column
  for (size_t i = first_row; i < lines.size(); ++i) {
    const TextLine& line = lines[i];
    const std::vector<std::string> fields = split_tabs(line.text);
    if (stats) ++stats->rows;
    if (fields.size() != columns.size()) {
      if (spec.skip_short_rows && fields.size() < columns.size()) {
        if (stats) ++stats->skipped_rows;
        continue;
      }
      fail(
          "{}:{}: {} tab-separated fields, expected {} (columns: {}); GLUE files are split on "
          "tabs only, so a stray tab or a broken line is the usual cause",
          path, line.number, fields.size(), columns.size(), fmt::join(columns, ", "));
    }
    TaskExample ex;
    for (const int64_t c : segment_cols) ex.segments.push_back(fields[static_cast<size_t>(c)]);
    ex.id = id_col >= 0 ? fields[static_cast<size_t>(id_col)] : std::to_string(row_number);
    ++row_number;
    ex.has_label = labelled;
    if (labelled) {
      const std::string& value = fields[static_cast<size_t>(label_col)];
      if (spec.kind == TaskKind::kRegression) {
        ex.label = parse_target(value, path, line.number, spec.label_field);
      } else {
        const int64_t id = spec.label_id(value);
        if (id < 0)
          fail("{}:{}: column '{}': '{}' is not a label of {} (expected one of: {})", path,
               line.number, spec.label_field, value, spec.display_name,
               fmt::join(spec.labels, ", "));
        ex.label = static_cast<float>(id);
      }
    }
    examples.push_back(std::move(ex));
  }
  return examples;
}

}  // namespace smx::tasks
