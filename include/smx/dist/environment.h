// Where this process sits in a multi-process job, read from the variables the usual launchers set:
//   torchrun / smx launch: RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT
//   Open MPI (mpirun):     OMPI_COMM_WORLD_RANK, _SIZE, _LOCAL_RANK, _LOCAL_SIZE
//   SLURM (srun):          SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, SLURM_NTASKS_PER_NODE
// The first family whose rank variable is set wins (in that order). MASTER_ADDR / MASTER_PORT name
// the rendezvous (a TCPStore served by rank 0) whatever the launcher; MASTER_ADDR defaults to
// 127.0.0.1 only when every rank runs on one host. No variables at all: a single process.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace smx::dist {

struct Environment {
  int64_t rank = 0;
  int64_t world_size = 1;
  int64_t local_rank = 0;        // rank among the processes of this host (picks the GPU)
  int64_t local_world_size = 1;  // processes on this host
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string launcher = "none";  // "torchrun", "mpi", "slurm" or "none"

  bool distributed() const { return world_size > 1; }
  // "rank 1 of 4 (torchrun, local rank 1, rendezvous 10.0.0.1:29500)".
  std::string describe() const;
};

// Reads the process environment (or `lookup`, for tests); throws smx::Error naming the variable
// that is malformed or inconsistent (RANK >= WORLD_SIZE, a non-numeric port, ...).
Environment environment_from_variables(
    const std::function<const char*(const char*)>& lookup = nullptr);

}  // namespace smx::dist
