// Runs the built `smx` binary in a shell and captures its exit status and combined output.
#pragma once

#include <string>

namespace smx::testing {

struct CliResult {
  int status = -1;     // exit status
  std::string output;  // stdout + stderr
};

CliResult run_smx(const std::string& arguments);

// `s` in single quotes, for a shell command line (paths without quotes of their own).
std::string shell_quote(const std::string& s);

}  // namespace smx::testing
