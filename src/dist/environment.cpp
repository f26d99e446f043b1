#include "smx/dist/environment.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "smx/core/error.h"

namespace smx::dist {
namespace {

struct Family {
  const char* launcher;
  const char *rank, *size, *local_rank, *local_size;
};

// Checked in this order; the first whose rank variable is set describes the job.
constexpr Family kFamilies[] = {
    {"torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"},
    {"mpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
     "OMPI_COMM_WORLD_LOCAL_SIZE"},
    {"slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE"},
};

int64_t parse_int(const char* name, const char* text, int64_t min, int64_t max) {
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text, &end, 10);
  if (end == text || *end != '\0' || errno != 0 || value < min || value > max)
    fail(
        "environment variable {}='{}' is not an integer in [{}, {}]; fix or unset it (it is read "
        "to place this process in a multi-process job, see docs/distributed.md)",
        name, text, min, max);
  return value;
}

}  // namespace

std::string Environment::describe() const {
  return fmt::format("rank {} of {} ({}, local rank {} of {}, rendezvous {}:{})", rank, world_size,
                     launcher, local_rank, local_world_size, master_addr, master_port);
}

Environment environment_from_variables(const std::function<const char*(const char*)>& lookup) {
  auto get = [&](const char* name) -> const char* {
    const char* v = lookup ? lookup(name) : std::getenv(name);
    return v != nullptr && *v != '\0' ? v : nullptr;
  };
  Environment env;
  for (const Family& f : kFamilies) {
    const char* rank = get(f.rank);
    if (rank == nullptr) continue;
    const char* size = get(f.size);
    if (size == nullptr)
      fail("environment variable {} is set but {} is not; a {} job needs both", f.rank, f.size,
           f.launcher);
    env.launcher = f.launcher;
    env.world_size = parse_int(f.size, size, 1, 1 << 20);
    env.rank = parse_int(f.rank, rank, 0, env.world_size - 1);
    const char* local_rank = get(f.local_rank);
    env.local_rank = local_rank ? parse_int(f.local_rank, local_rank, 0, env.world_size - 1) : 0;
    const char* local_size = get(f.local_size);
    // SLURM_NTASKS_PER_NODE may read "2(x3)" on heterogeneous allocations: keep the leading count.
    if (local_size != nullptr) {
      const std::string count(local_size, std::strcspn(local_size, "("));
      env.local_world_size = parse_int(f.local_size, count.c_str(), 1, env.world_size);
    }
    break;
  }
  if (const char* addr = get("MASTER_ADDR")) {
    env.master_addr = addr;
  } else if (env.distributed() && env.local_world_size != env.world_size) {
    fail(
        "{}: MASTER_ADDR is not set; with ranks on several hosts export MASTER_ADDR=<host of rank "
        "0> (and MASTER_PORT) in every process (see docs/distributed.md)",
        env.describe());
  }
  if (const char* port = get("MASTER_PORT"))
    env.master_port = static_cast<int>(parse_int("MASTER_PORT", port, 1, 65535));
  return env;
}

}  // namespace smx::dist
