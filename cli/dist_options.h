// The multi-process flags shared by the training commands (docs/distributed.md).
#pragma once

#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>

#include <CLI/CLI.hpp>

#include "smx/dist/dist_options.h"
#include "smx/dist/training_session.h"

namespace smx::cli {

// Adds --shard, --expert-parallel, --dist-timeout, --dist-backend, --check-replicas-every and
// --bucket-mb bound to `target`. For each, `on_option(name, copy)` receives a function copying the
// parsed value into another DistOptions (a resumed run's saved options, when the flag was given).
void add_dist_options(
    CLI::App& cmd, dist::DistOptions& target,
    const std::function<void(const std::string& name, std::function<void(dist::DistOptions&)>)>&
        on_option);

// Joins the job the launcher's environment describes (no-op for a single process), using the
// timeout and backend of `options`.
void join_distributed_job(const dist::DistOptions& options);

// True in every process but rank 0 of a distributed job: those print no summary.
bool is_secondary_rank();

// A training command's body as one rank of the job: joins it, runs `train`, names this rank in any
// error, and returns the result on rank 0 only (nothing on the ranks that print no summary).
template <typename Train>
std::optional<std::invoke_result_t<Train>> run_as_rank(const dist::DistOptions& options,
                                                       Train&& train) {
  join_distributed_job(options);  // no-op unless launched as one of several processes
  try {
    auto result = train();
    if (is_secondary_rank()) return std::nullopt;
    return result;
  } catch (const std::exception& e) {
    dist::rethrow_naming_rank(e);
  }
}

}  // namespace smx::cli
