// Saving and loading a SparseMixer's weights with its config recorded in the file's metadata
// ("smx.config"), so that loading into a different architecture names the differing keys.
#pragma once

#include <map>
#include <string>

#include "smx/io/weights.h"
#include "smx/model/sparse_mixer.h"

namespace smx::model {

void save_model_weights(const SparseMixer& model, const std::string& path,
                        std::map<std::string, std::string> metadata = {});

// Checks the recorded config's shape-defining keys against the model's, then every tensor's name,
// shape and dtype; copies nothing unless everything matches. Returns the file's metadata.
std::map<std::string, std::string> load_model_weights(SparseMixer& model, const std::string& path,
                                                      const io::WeightLoadOptions& options = {});
// The same for a file already read; `path` names it in errors.
std::map<std::string, std::string> load_model_weights(SparseMixer& model, io::SafetensorsFile file,
                                                      const std::string& path,
                                                      const io::WeightLoadOptions& options = {});

// The classifier's output count in a weights file ([D, outputs] "classification.kernel"): 2 for the
// NSP head of a pre-trained model, the task's outputs for a fine-tuned one.
int64_t classifier_outputs(const io::SafetensorsFile& file, const std::string& path);

// The config recorded in a weights file, checked with check_config_fits_file; throws if the file
// records none.
ModelConfig recorded_config(const std::string& path);

// Fails, before anything is allocated, when `config` describes an encoder with more parameters
// than the weights file at `path` can hold (at least 2 bytes per value): a corrupt or hostile
// config (a 300 KB file whose config claims a 10-million-token vocabulary) must not make the
// loader build a multi-GB model first. Call it before building a model for a file.
void check_config_fits_file(const ModelConfig& config, const std::string& path);

}  // namespace smx::model
