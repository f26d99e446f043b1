// Finding the files of one Flax checkpoint in what a user downloaded: a release zip, the folder it
// unpacks to, or a single checkpoint file. The reference writes (sparse_mixers/checkpoints.py)
//   replicated_checkpoint_<step>                      every replicated parameter (process 0)
//   shard-<p:05d>-of-<n:05d>_checkpoint_<step>        process p's experts, one file per process
// and keeps the last two steps. The newest step with a replicated file is chosen; its shards must
// be complete and of the same step.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "smx/import/zip_archive.h"

namespace smx::importer {

struct CheckpointFile {
  std::string name;      // base name, e.g. "shard-00001-of-00002_checkpoint_1000"
  std::string location;  // for messages: the path, or "release.zip:folder/name"
  uint64_t size = 0;     // bytes (as the folder or zip declares them)
  int64_t step = -1;     // from the name; -1 for a single file named otherwise
  int64_t shard = -1;    // -1 for the replicated file
  int64_t shard_count = 0;
};

// Parses a reference file name; false (and `file` untouched) for other names.
bool parse_checkpoint_name(const std::string& name, CheckpointFile& file);

class CheckpointFiles {
 public:
  // Finds and checks the set; throws smx::Error naming `source` and the offending files.
  explicit CheckpointFiles(const std::string& source);
  ~CheckpointFiles();

  const std::string& source() const { return source_; }
  int64_t step() const { return replicated_.step; }
  const CheckpointFile& replicated() const { return replicated_; }
  const std::vector<CheckpointFile>& shards() const { return shards_; }  // in shard order
  // Names of the zip / folders around the files ("sm_base.zip", "fast_sparse_mixer", ...): the
  // release's own label for settings the tensors do not show.
  const std::vector<std::string>& labels() const { return labels_; }

  // The file's bytes (read in full; zip entries never past their declared size).
  std::shared_ptr<const std::string> read(const CheckpointFile& file) const;

 private:
  std::string source_;
  std::unique_ptr<ZipArchive> zip_;
  CheckpointFile replicated_;
  std::vector<CheckpointFile> shards_;
  std::vector<std::string> labels_;
};

}  // namespace smx::importer
