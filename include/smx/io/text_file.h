// Whole-file text I/O shared by every writer of run and model folders (training, fine-tuning,
// checkpoints, plots): atomic replacement so a kill never leaves a half-written file.
#pragma once

#include <string>

namespace smx::io {

// Writes `text` to `path` atomically (temporary file, fsync, rename, fsync of the folder).
void write_file_atomically(const std::string& path, const std::string& text);
// The whole file as bytes; fails naming `path` when it cannot be opened.
std::string read_text_file(const std::string& path);
// fsync of a file or (directory = true) a folder, so a rename inside it is durable.
void fsync_path(const std::string& path, bool directory);

}  // namespace smx::io
