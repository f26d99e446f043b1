// The reference's parameter tree renamed and reshaped to smx's names and layouts (docs/weights.md).
// Kernels are [in, out] on both sides; what changes:
//   attention_<l>/self/{query,key,value}/kernel [D, H, D/H] -> mixing.*.kernel [D, D] (heads are
//     contiguous slices of the output axis), their biases [H, D/H] -> [D]; out/kernel [H, D/H, D]
//     -> [D, D];
//   position/embedding [1, N, De] -> [N, De];
//   classification/output_kernel [K, D] (OutputProjection keeps [out, in]) -> kernel [D, K];
//   expert_<l>/* : each shard's [devices, ..., experts per device, ...] (nn.vmap puts a device's
//     experts on axis 1 of each parameter) stitched into [E, ...] in shard, device, expert order.
#pragma once

#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "smx/config/model_config.h"
#include "smx/import/reference_params.h"

namespace smx::importer {

struct MappedTensor {
  std::string smx_name;   // "encoder.layers.3.mixing.query.kernel"
  std::string flax_path;  // "encoder/attention_3/self/query/kernel"
  std::string how;        // "", "reshape", "transpose", "stitch N shards (expert axis 1)", ...
  at::Tensor tensor;      // fp32, smx's shape
};

// Every parameter of the model `config` describes, in smx's layout. Fails naming the file and
// tensor for a missing parameter, one of the wrong shape, or one the model has no place for.
std::vector<MappedTensor> map_to_smx(const ReferenceParams& params, const ModelConfig& config);

}  // namespace smx::importer
