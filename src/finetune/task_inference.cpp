#include "smx/finetune/task_inference.h"

#include "smx/core/error.h"
#include "smx/core/threads.h"
#include "smx/finetune/distributed_prediction.h"
#include "smx/tasks/task_reader.h"

namespace smx::finetune {

void check_model_fits_task(const FinetunedModel& model, const tasks::TaskSpec& spec,
                           const std::string& model_dir) {
  const std::string trained_on = model.task_info.at("task").get<std::string>();
  const tasks::TaskSpec& trained = tasks::find_task(trained_on);
  if (trained.kind != spec.kind || trained.num_outputs() != spec.num_outputs() ||
      trained.labels != spec.labels)
    fail(
        "model '{}' was fine-tuned on {} ({} outputs), which does not fit task {} ({} outputs); "
        "fine-tune a model on {} first",
        model_dir, trained.display_name, trained.num_outputs(), spec.display_name,
        spec.num_outputs(), spec.display_name);
  if (model.task_info.at("num_outputs").get<int64_t>() != spec.num_outputs())
    fail("{}/task.json: num_outputs {} does not match task {} ({})", model_dir,
         model.task_info.at("num_outputs").get<int64_t>(), spec.display_name, spec.num_outputs());
}

SplitOutputs run_on_split(const FinetunedModel& model, const std::string& model_dir,
                          const tasks::TaskSpec& spec, const std::string& data_dir,
                          tasks::Split split, const InferenceOptions& o) {
  check_model_fits_task(model, spec, model_dir);
  const Tokenizer tok = load_tokenizer_for(model.config, o.tokenizer, "model '" + model_dir + "'");
  SplitOutputs r;
  r.examples = tasks::read_split(spec, data_dir, split);
  configure_threads(o.threads);  // 0: every core, as in training
  const int64_t max_len = model.task_info.value("max_seq_len", model.config.max_seq_len);
  const at::Device device(o.device);
  model.model->to(device);
  // A loaded model holds every expert: its forwards are local, so no lockstep.
  r.outputs = predict_across_ranks(*model.model, encode_examples(r.examples, tok, max_len), o.batch,
                                   o.bf16, device, o.group.get(), false);
  return r;
}

}  // namespace smx::finetune
