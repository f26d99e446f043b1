// Runs the built `smx` binary in a shell and captures its exit status and combined output.
#pragma once

#include <string>

namespace smx::testing {

struct CliResult {
  int status = -1;     // exit status
  std::string output;  // stdout + stderr
};

CliResult run_smx(const std::string& arguments);

}  // namespace smx::testing
