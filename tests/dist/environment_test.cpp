// Launcher variables -> Environment: torchrun, Open MPI and SLURM families, defaults and errors.
#include <map>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "smx/core/error.h"
#include "smx/dist/dist_options.h"
#include "smx/dist/environment.h"

namespace smx::dist {
namespace {

using ::testing::HasSubstr;

Environment read(const std::map<std::string, std::string>& vars) {
  return environment_from_variables([&](const char* name) -> const char* {
    const auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

TEST(EnvironmentTest, NoVariablesMeansOneProcess) {
  const Environment env = read({});
  EXPECT_FALSE(env.distributed());
  EXPECT_EQ(env.rank, 0);
  EXPECT_EQ(env.world_size, 1);
  EXPECT_EQ(env.launcher, "none");
}

TEST(EnvironmentTest, TorchrunVariables) {
  const Environment env = read({{"RANK", "3"},
                                {"WORLD_SIZE", "4"},
                                {"LOCAL_RANK", "1"},
                                {"LOCAL_WORLD_SIZE", "2"},
                                {"MASTER_ADDR", "10.0.0.7"},
                                {"MASTER_PORT", "29511"}});
  EXPECT_EQ(env.launcher, "torchrun");
  EXPECT_EQ(env.rank, 3);
  EXPECT_EQ(env.world_size, 4);
  EXPECT_EQ(env.local_rank, 1);
  EXPECT_EQ(env.local_world_size, 2);
  EXPECT_EQ(env.master_addr, "10.0.0.7");
  EXPECT_EQ(env.master_port, 29511);
  EXPECT_THAT(env.describe(), HasSubstr("rank 3 of 4"));
}

TEST(EnvironmentTest, OpenMpiAndSlurmVariables) {
  const Environment mpi = read({{"OMPI_COMM_WORLD_RANK", "1"},
                                {"OMPI_COMM_WORLD_SIZE", "2"},
                                {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                                {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"}});
  EXPECT_EQ(mpi.launcher, "mpi");
  EXPECT_EQ(mpi.rank, 1);
  EXPECT_EQ(mpi.master_addr, "127.0.0.1");  // one host: loopback is a safe default
  const Environment slurm = read({{"SLURM_PROCID", "5"},
                                  {"SLURM_NTASKS", "8"},
                                  {"SLURM_LOCALID", "1"},
                                  {"SLURM_NTASKS_PER_NODE", "4(x2)"},
                                  {"MASTER_ADDR", "node01"}});
  EXPECT_EQ(slurm.launcher, "slurm");
  EXPECT_EQ(slurm.rank, 5);
  EXPECT_EQ(slurm.world_size, 8);
  EXPECT_EQ(slurm.local_world_size, 4);
  EXPECT_EQ(slurm.master_addr, "node01");
  // torchrun's variables win over the scheduler's (torchrun inside an allocation).
  EXPECT_EQ(read({{"RANK", "0"}, {"WORLD_SIZE", "1"}, {"SLURM_PROCID", "3"}, {"SLURM_NTASKS", "4"}})
                .launcher,
            "torchrun");
}

TEST(EnvironmentTest, BadVariablesNameTheVariable) {
  auto expect_error = [](const std::map<std::string, std::string>& vars,
                         const std::string& needle) {
    try {
      read(vars);
      ADD_FAILURE() << "expected an error containing " << needle;
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr(needle));
    }
  };
  expect_error({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}}, "RANK='2'");
  expect_error({{"RANK", "0"}}, "WORLD_SIZE is not");
  expect_error({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "x"}},
               "MASTER_PORT='x'");
  // Several hosts (2 ranks, 1 per host) need the rendezvous host.
  expect_error({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"LOCAL_WORLD_SIZE", "1"}}, "MASTER_ADDR");
}

TEST(EnvironmentTest, DistOptionsRoundTripAndValidate) {
  DistOptions o;
  o.shard = "documents";
  o.expert_parallel = true;
  o.timeout_s = 7;
  const DistOptions back = nlohmann::json(o).get<DistOptions>();
  EXPECT_EQ(back.shard, "documents");
  EXPECT_TRUE(back.expert_parallel);
  EXPECT_EQ(back.timeout_s, 7);
  o.shard = "rows";
  EXPECT_THROW(o.validate(), Error);
}

}  // namespace
}  // namespace smx::dist
