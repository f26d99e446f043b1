// The corpus file list as the user gives it, expanded: each entry of --data is a path, a glob
// ("c4/en/c4-train.*.json.gz"; matches sorted by name), or "@LIST", a text file naming one path or
// glob per line (blank lines and lines starting with '#' ignored; relative entries are relative to
// the list's folder). An existing file is taken as it is, even if its name has glob characters.
#pragma once

#include <string>
#include <vector>

namespace smx {

// Throws smx::Error naming the entry for a glob that matches nothing, a missing list, or an empty
// result.
std::vector<std::string> expand_corpus_files(const std::vector<std::string>& entries);

}  // namespace smx
