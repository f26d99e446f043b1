#include "support/run_cli.h"

#include <array>
#include <cstdio>

#include <sys/wait.h>

namespace smx::testing {

CliResult run_smx(const std::string& arguments) {
  CliResult result;
  const std::string command = std::string(SMX_CLI_PATH) + " " + arguments + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    result.output.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string shell_quote(const std::string& s) {
  return "'" + s + "'";
}

}  // namespace smx::testing
