// A command's output file (--output/--out): refused when it is one of the command's inputs (same
// device and inode, so a symlink or a second name is caught too), written to a temporary file
// beside its target and renamed over it only by commit(). A run that fails or is interrupted leaves
// the previous file untouched, never a truncated one. "-" or "" writes to standard output.
#pragma once

#include <fstream>
#include <ostream>
#include <string>
#include <vector>

namespace smx::io {

// Fails when `output` names the same file as any of `inputs` ("-" and "" are skipped).
void check_output_is_not_input(const std::string& output, const std::vector<std::string>& inputs,
                               const std::string& output_flag = "--output");

class OutputFile {
 public:
  OutputFile(const std::string& path, const std::vector<std::string>& inputs,
             const std::string& flag = "--output");
  ~OutputFile();  // removes the temporary file unless committed
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  std::ostream& stream();
  // Flushes and checks the stream; for a file also fsyncs and renames it into place.
  void commit();

 private:
  std::string target_;  // the real file written (symlinks resolved); empty for stdout
  std::string temp_;
  std::ofstream file_;
  bool committed_ = false;
};

// Flushes standard output and fails with a clear message when writing to it failed (a closed
// pipe or a full disk), instead of exiting 0 with output lost.
void check_stdout();

}  // namespace smx::io
