#include "smx/dist/training_session.h"

#include <cstring>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "smx/core/error.h"
#include "smx/core/json.h"
#include "smx/dist/expert_parallel.h"
#include "smx/dist/gradient_sync.h"
#include "smx/model/dense.h"
#include "smx/model/model_weights.h"

namespace smx::dist {
namespace {

using json = nlohmann::json;

constexpr const char* kDataStates = "smx.dist.data_states";

uint64_t mix64(uint64_t x) {  // splitmix64 finaliser
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A CPU generator state of its own for rank r > 0 (rank 0 keeps the single-process stream).
at::Tensor rank_rng_state(uint64_t seed, int64_t rank, int64_t step) {
  auto g = at::make_generator<at::CPUGeneratorImpl>(mix64(
      seed ^ mix64(static_cast<uint64_t>(rank) * 0x100000001ULL + static_cast<uint64_t>(step))));
  return g.get_state();
}

std::string rng_name(int64_t rank) {
  return "rng.cpu.rank-" + std::to_string(rank);
}

template <typename T>
std::vector<T> rows(const std::vector<T>& v, int64_t row_size, int64_t first, int64_t count) {
  return std::vector<T>(v.begin() + first * row_size, v.begin() + (first + count) * row_size);
}

}  // namespace

TrainingSession::TrainingSession(DistOptions options, std::shared_ptr<ProcessGroup> group)
    : options_(std::move(options)), group_(std::move(group)) {
  options_.validate();
}

TrainingSession::~TrainingSession() = default;

int64_t TrainingSession::rank() const {
  return group_ ? group_->rank() : 0;
}
int64_t TrainingSession::world_size() const {
  return group_ ? group_->world_size() : 1;
}

at::Device TrainingSession::device(const at::Device& requested) const {
  if (group_ && requested.is_cuda() && !requested.has_index())
    return {at::kCUDA, static_cast<c10::DeviceIndex>(group_->environment().local_rank)};
  return requested;
}

PretrainingOptions TrainingSession::train_stream(PretrainingOptions o) const {
  if (!group_) return o;
  if (options_.shard == "examples") {
    o.batch_size *= world_size();  // the global batch; local_batch() keeps this rank's rows
  } else {
    o.rank = rank();
    o.world_size = world_size();
  }
  o.validate();
  return o;
}

std::optional<PretrainingBatch> TrainingSession::local_batch(
    std::optional<PretrainingBatch> batch) const {
  if (!group_ || !batch || options_.shard != "examples") return batch;
  const PretrainingBatch& g = *batch;
  if (g.batch_size % world_size() != 0)
    fail("rank {}: a global batch of {} examples does not split over {} ranks", rank(),
         g.batch_size, world_size());
  const int64_t b = g.batch_size / world_size(), first = rank() * b;
  const int64_t N = g.seq_len, P = g.max_predictions;
  PretrainingBatch l;
  l.batch_size = b;
  l.seq_len = N;
  l.max_predictions = P;
  l.input_ids = rows(g.input_ids, N, first, b);
  l.type_ids = rows(g.type_ids, N, first, b);
  l.masked_lm_positions = rows(g.masked_lm_positions, P, first, b);
  l.masked_lm_ids = rows(g.masked_lm_ids, P, first, b);
  l.masked_lm_weights = rows(g.masked_lm_weights, P, first, b);
  l.nsp_labels = rows(g.nsp_labels, 1, first, b);
  return l;
}

void TrainingSession::prepare_model(model::SparseMixer& model, uint64_t seed) {
  seed_ = seed;
  if (!group_) return;
  std::vector<NamedParameter> all;
  for (const auto& p : model.named_parameters()) all.push_back({p.key(), p.value()});
  broadcast_parameters(*group_, all);
  if (options_.expert_parallel) experts_ = std::make_unique<ExpertParallel>(group_, model);
  std::vector<NamedParameter> replicated, local;
  for (const auto& p : model.named_parameters())
    (experts_ && experts_->is_expert(p.key()) ? local : replicated).push_back({p.key(), p.value()});
  gradients_ = std::make_unique<GradientSync>(group_, replicated, local, options_.bucket_mb);
  if (rank() > 0) {
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    generator.set_state(rank_rng_state(seed, rank(), 0));
  }
}

std::shared_ptr<model::SparseMixer> TrainingSession::make_model(const ModelConfig& config,
                                                                uint64_t seed,
                                                                bool weights_follow) {
  if (!weights_follow) return model::make_sparse_mixer(config, seed);
  model::SkipParameterInit overwritten_by_load_weights;
  return model::make_sparse_mixer(config, seed);
}

void TrainingSession::load_weights(model::SparseMixer& model, const std::string& path) const {
  if (experts_)
    experts_->load_weights(model, path);
  else
    model::load_model_weights(model, path);
}

at::Tensor TrainingSession::global_loss(const at::Tensor& total,
                                        const std::vector<MeanTerm>& terms) const {
  if (!group_ || terms.empty()) return total;
  std::vector<double> counts;
  for (const auto& t : terms) counts.push_back(t.count);
  std::vector<at::Tensor> all{torch::tensor(counts, torch::kDouble).to(group_->device())};
  group_->all_reduce(all, ReduceOp::sum, "all-reduce of the loss normalisers");
  const at::Tensor sums = all[0].cpu();
  at::Tensor out = total;
  for (size_t i = 0; i < terms.size(); ++i) {
    const double global = std::max(sums[static_cast<int64_t>(i)].item<double>(), 1e-5);
    const double scale = static_cast<double>(world_size()) * counts[i] / global;
    out = out + (scale - 1.0) * terms[i].term;
  }
  return out;
}

void TrainingSession::sync_gradients() {
  if (gradients_) gradients_->average();
}

void TrainingSession::after_step(int64_t step) {
  if (gradients_ && options_.check_every > 0 && step % options_.check_every == 0)
    gradients_->check_replicas(step);
}

bool TrainingSession::any(bool local) const {
  if (!group_) return local;
  std::vector<at::Tensor> t{torch::tensor({local ? 1 : 0}, torch::kInt).to(group_->device())};
  group_->all_reduce(t, ReduceOp::max, "agreeing whether to stop");
  return t[0].item<int>() != 0;
}

double TrainingSession::mean(double local) const {
  double v = local;
  sum({&v});
  return v / static_cast<double>(world_size());
}

void TrainingSession::sum(const std::vector<double*>& values) const {
  if (!group_ || values.empty()) return;
  std::vector<double> v;
  for (double* p : values) v.push_back(*p);
  std::vector<at::Tensor> t{torch::tensor(v, torch::kDouble).to(group_->device())};
  group_->all_reduce(t, ReduceOp::sum, "all-reduce of logged statistics");
  const at::Tensor out = t[0].cpu();
  for (size_t i = 0; i < values.size(); ++i)
    *values[i] = out[static_cast<int64_t>(i)].item<double>();
}

void TrainingSession::gather(io::CheckpointContents& c) const {
  if (!group_) return;
  if (experts_) {
    experts_->gather(c.weights);
    experts_->gather(c.optimizer, "m.");
    experts_->gather(c.optimizer, "v.");
  }
  const std::string tag = "step-" + std::to_string(c.step);
  const at::Tensor rng = at::detail::getDefaultCPUGenerator().get_state().contiguous();
  const std::vector<std::string> rngs = group_->gather_strings(
      tag + "/rng",
      std::string(reinterpret_cast<const char*>(rng.data_ptr<uint8_t>()), rng.numel()));
  for (size_t r = 1; r < rngs.size(); ++r) {
    at::Tensor state = torch::empty({static_cast<int64_t>(rngs[r].size())}, torch::kUInt8);
    std::memcpy(state.data_ptr<uint8_t>(), rngs[r].data(), rngs[r].size());
    c.optimizer.push_back({rng_name(static_cast<int64_t>(r)), state});
  }
  if (options_.shard == "documents") {
    const std::vector<std::string> states = group_->gather_strings(tag + "/data", c.data_state);
    if (primary())
      c.data_state =
          json{{kDataStates,
                {{"shard", "documents"}, {"world_size", world_size()}, {"states", states}}}}
              .dump();
  }
}

void TrainingSession::restore(io::CheckpointContents& c) const {
  // Data: one stream ("examples" or a single process) or one per rank ("documents").
  // A malformed state is not ours to judge: the data stream reports it itself.
  const json wrapper = json_is_valid(c.data_state) ? parse_json(c.data_state, "data.json") : json();
  const bool per_rank = wrapper.is_object() && wrapper.contains(kDataStates);
  const bool want_per_rank = group_ && options_.shard == "documents";
  if (per_rank) {
    const json& d = wrapper.at(kDataStates);
    const int64_t saved = d.at("world_size").get<int64_t>();
    if (!want_per_rank || saved != world_size())
      fail(
          "this checkpoint holds the data streams of {} ranks sharded by document; it resumes "
          "only on {} ranks with --shard documents (this job: {} rank(s), --shard {})",
          saved, saved, world_size(), options_.shard);
    c.data_state = d.at("states").at(static_cast<size_t>(rank())).get<std::string>();
  } else if (want_per_rank) {
    fail(
        "this checkpoint holds one data stream (a single process or --shard examples); resume it "
        "with --shard examples, which continues it on any number of ranks");
  }

  // RNG: rank r > 0 takes its own saved stream, or a fresh one when the checkpoint had fewer ranks.
  at::Tensor own;
  std::vector<io::NamedTensor> kept;
  for (auto& t : c.optimizer) {
    if (t.name.rfind("rng.cpu.rank-", 0) == 0) {
      if (t.name == rng_name(rank())) own = t.tensor;
    } else {
      kept.push_back(t);
    }
  }
  if (group_ && rank() > 0) {
    if (!own.defined()) own = rank_rng_state(seed_, rank(), c.step);
    for (auto& t : kept)
      if (t.name == "rng.cpu") t.tensor = own;
  }
  c.optimizer = std::move(kept);
  if (experts_) {
    experts_->localize(c.optimizer, "m.");
    experts_->localize(c.optimizer, "v.");
  }
}

void TrainingSession::finish(model::SparseMixer& model) {
  if (experts_) experts_->unshard(model);
  experts_.reset();
}

void rethrow_naming_rank(const std::exception& error) {
  const auto group = default_group();
  if (!group) throw;
  const std::string prefix = fmt::format("rank {} of {}", group->rank(), group->world_size());
  const std::string what = error.what();
  if (what.rfind(prefix, 0) == 0) throw;
  throw Error(prefix + ": " + what);
}

}  // namespace smx::dist
