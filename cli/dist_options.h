// The multi-process flags shared by the training commands (docs/distributed.md).
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "smx/dist/dist_options.h"

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

}  // namespace smx::cli
