// Weights in the compute dtype: the bf16 copies of GEMM weights that mixed-precision training keeps
// beside the fp32 masters (docs/design.md §7.5), and the switch for bf16 activations between ops.
//
// Under bf16 autocast a layer asks compute_weight(w) for "my weight in the compute dtype". The
// first call makes a bf16 copy of the fp32 master w (a leaf of its own, requiring grad when w does)
// and returns it; later calls return the same copy, so autocast casts no weight. Backward leaves
// the weight's gradient on the copy (bf16, as autocast's cast would have given it). train::AdamW
// reads that gradient, updates the fp32 master and moments, and rewrites the copy in the same pass
// (ops/adamw_step.h). The copy follows the master's version counter: any other in-place write to
// the master (loading weights, a checkpoint restore) is picked up by the next compute_weight.
//
// Copies are not parameters: named_parameters(), checkpoints and weight files hold the fp32
// masters only. Without autocast (fp32) compute_weight(w) is w itself, so fp32 runs are unchanged.
// Copies are looked up by tensor identity in a process-wide table; a copy dies with its master
// (checked on lookup) or by drop_weight_copies.
#pragma once

#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

namespace smx::model {

// Process-wide switch (on by default): off, compute_weight returns the master and LayerNorms write
// fp32, i.e. plain autocast (`smx bench --ablation bf16` measures both in one process).
bool bf16_end_to_end_enabled();
void set_bf16_end_to_end(bool enabled);

// The dtype GEMMs run in for tensors like `t`: autocast's lower precision when autocast is on
// for t's device (and not excluded, as around the router), else t's own dtype.
at::ScalarType compute_dtype(const at::Tensor& t);

// True when activations like `t` stay bf16 between ops: the switch is on and compute_dtype(t) is
// bf16. LayerNorms then write bf16 (statistics still in fp32), so the next GEMM casts nothing.
bool bf16_activations(const at::Tensor& t);

// w (any shape) in compute_dtype(w): the bf16 copy described above when autocast is bf16, w is an
// fp32 tensor and the switch is on; otherwise w itself.
at::Tensor compute_weight(const at::Tensor& w);

// The copy of `w`, or an undefined tensor when it has none (for the optimizer).
at::Tensor weight_copy(const at::Tensor& w);
// After the optimizer wrote master `w` and its copy together: the copy is current at w's version.
void weight_copy_written(const at::Tensor& w);
// Forgets the copies of `weights` (the optimizer's destructor; tests).
void drop_weight_copies(const std::vector<at::Tensor>& weights);
// Number of live copies (tests).
size_t weight_copy_count();

// Moves every copy's gradient onto its master as fp32 (added to a gradient already there) and drops
// it from the copy: for code that reads p.grad() of parameters (the gradient all-reduce, gradient
// accumulation across micro-batches in fp32).
void fold_weight_copy_grads(const torch::nn::Module& module);

}  // namespace smx::model
