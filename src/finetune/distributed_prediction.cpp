#include "smx/finetune/distributed_prediction.h"

#include <torch/torch.h>

#include "smx/finetune/task_model.h"

namespace smx::finetune {

std::vector<std::vector<float>> predict_across_ranks(model::SparseMixer& model,
                                                     const EncodedExamples& data, int64_t batch,
                                                     bool bf16, const at::Device& device,
                                                     dist::ProcessGroup* group, bool lockstep) {
  if (group == nullptr || group->world_size() == 1)
    return predict(model, data, batch, bf16, device);
  const auto batches =
      inference_batches(data.lengths(), batch, model.config().padding == Padding::kMasked);
  const auto W = static_cast<size_t>(group->world_size()), r = static_cast<size_t>(group->rank());
  const int64_t K = model.classification->kernel.size(1);
  at::Tensor outputs = torch::zeros({static_cast<int64_t>(data.size()), K});  // [n, K]
  const bool was_training = model.is_training();
  model.eval();
  {
    torch::NoGradGuard no_grad;
    for (size_t first = 0; first < batches.size(); first += W) {  // one round: W batches
      const size_t mine = first + r;
      if (mine >= batches.size()) {
        if (lockstep) predict_batch(model, data, batches[0], bf16, device);  // discarded
        continue;
      }
      const auto& rows = batches[mine];
      const at::Tensor logits = predict_batch(model, data, rows, bf16, device);  // [B, K]
      outputs.index_copy_(0, torch::tensor(std::vector<int64_t>(rows.begin(), rows.end())), logits);
    }
  }
  model.train(was_training);
  std::vector<at::Tensor> all{outputs.to(group->device())};
  group->all_reduce(all, dist::ReduceOp::sum, "all-reduce of dev predictions");
  const at::Tensor summed = all[0].cpu().contiguous();
  const float* p = summed.data_ptr<float>();
  std::vector<std::vector<float>> out(data.size());
  for (size_t i = 0; i < out.size(); ++i)
    out[i].assign(p + static_cast<int64_t>(i) * K, p + static_cast<int64_t>(i + 1) * K);
  return out;
}

}  // namespace smx::finetune
