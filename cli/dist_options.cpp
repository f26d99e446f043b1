#include "dist_options.h"

#include "smx/dist/process_group.h"

namespace smx::cli {

void add_dist_options(
    CLI::App& cmd, dist::DistOptions& target,
    const std::function<void(const std::string&, std::function<void(dist::DistOptions&)>)>&
        on_option) {
  auto bind = [&](CLI::Option* opt, auto member) {
    opt->capture_default_str();
    on_option(opt->get_name(),
              [&target, member](dist::DistOptions& dst) { dst.*member = target.*member; });
  };
  using D = dist::DistOptions;
  bind(cmd.add_option("--shard", target.shard,
                      "Multi-process data split: 'examples' (ranks share each global batch; "
                      "equivalent to one process with batch W*b) or 'documents'"),
       &D::shard);
  bind(cmd.add_flag("--expert-parallel,!--no-expert-parallel", target.expert_parallel,
                    "Split each MoE layer's experts across the ranks (num_experts % ranks == 0)"),
       &D::expert_parallel);
  bind(cmd.add_option("--dist-timeout", target.timeout_s,
                      "Seconds any collective may wait for the other ranks before the job fails"),
       &D::timeout_s);
  bind(cmd.add_option("--dist-backend", target.backend, "auto (NCCL on CUDA builds), gloo or nccl"),
       &D::backend);
  bind(cmd.add_option("--check-replicas-every", target.check_every,
                      "Steps between cross-rank weight checksums (0: never)"),
       &D::check_every);
  bind(cmd.add_option("--bucket-mb", target.bucket_mb, "Gradient all-reduce bucket size in MB"),
       &D::bucket_mb);
}

void join_distributed_job(const dist::DistOptions& options) {
  options.validate();
  dist::init_from_environment({options.timeout_s, options.backend});
}

bool is_secondary_rank() {
  const auto group = dist::default_group();
  return group != nullptr && group->rank() != 0;
}

}  // namespace smx::cli
