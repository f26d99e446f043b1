#include "smx/dist/dist_options.h"

#include "smx/core/error.h"

namespace smx::dist {

void DistOptions::validate() const {
  if (shard != "examples" && shard != "documents")
    fail("--shard must be 'examples' or 'documents' (got '{}')", shard);
  if (!(timeout_s > 0)) fail("--dist-timeout must be > 0 seconds (got {})", timeout_s);
  if (check_every < 0) fail("--check-replicas-every must be >= 0 (got {})", check_every);
  if (!(bucket_mb > 0)) fail("--bucket-mb must be > 0 (got {})", bucket_mb);
  if (backend != "auto" && backend != "gloo" && backend != "nccl")
    fail("--dist-backend must be auto, gloo or nccl (got '{}')", backend);
}

void to_json(nlohmann::json& j, const DistOptions& o) {
  j = {{"shard", o.shard},         {"expert_parallel", o.expert_parallel},
       {"timeout_s", o.timeout_s}, {"check_every", o.check_every},
       {"bucket_mb", o.bucket_mb}, {"backend", o.backend}};
}

void from_json(const nlohmann::json& j, DistOptions& o) {
  o = DistOptions();
  if (j.contains("shard")) j.at("shard").get_to(o.shard);
  if (j.contains("expert_parallel")) j.at("expert_parallel").get_to(o.expert_parallel);
  if (j.contains("timeout_s")) j.at("timeout_s").get_to(o.timeout_s);
  if (j.contains("check_every")) j.at("check_every").get_to(o.check_every);
  if (j.contains("bucket_mb")) j.at("bucket_mb").get_to(o.bucket_mb);
  if (j.contains("backend")) j.at("backend").get_to(o.backend);
}

}  // namespace smx::dist
