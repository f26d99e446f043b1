// Options shared by every command that builds a model: --config, --set, --device.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "smx/config/model_config.h"

namespace smx::cli {

struct ModelOptions {
  std::string config;
  std::vector<std::string> overrides;
  std::string device = "cpu";

  ModelConfig load() const { return load_model_config(config, overrides); }
};

inline void add_model_options(CLI::App* cmd, ModelOptions& o, bool with_device = true) {
  cmd->add_option("--config,-c", o.config, "Preset name (see `smx info --list`) or JSON file")
      ->required();
  cmd->add_option("--set", o.overrides, "Override a config key: --set key=value (repeatable)");
  if (with_device)
    cmd->add_option("--device", o.device, "Torch device: cpu, cuda, cuda:1, ...")
        ->capture_default_str();
}

}  // namespace smx::cli
