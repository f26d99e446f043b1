// libFuzzer target for every reader of JSON that smx did not write in this process: model configs
// (config.json, --config files), a safetensors file's header and its "smx.config" metadata, task
// lines (SuperGLUE JSONL) and `smx forward --input` (batch-inference JSONL lines and HTTP bodies
// are request_fuzzer's). The first byte picks the reader, the rest is its input. Any bytes must
// give a value or an smx::Error, never a crash (deep nesting used to overflow the stack), a hang, a
// leak or another exception. Built by `make fuzz` (clang -fsanitize=fuzzer,address,undefined,
// linked with LibTorch); not in CI.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <unistd.h>

#include "smx/config/model_config.h"
#include "smx/core/error.h"
#include "smx/core/json.h"
#include "smx/data/forward_input.h"
#include "smx/io/safetensors.h"
#include "smx/tasks/superglue_readers.h"
#include "smx/tasks/task_registry.h"

namespace {

const smx::ModelConfig& tiny() {
  static const smx::ModelConfig config = [] {
    smx::ModelConfig c;
    c.name = "fuzz";
    c.vocab_size = 64;
    c.max_seq_len = 16;
    c.d_emb = c.d_model = 8;
    c.d_ff = 16;
    c.num_heads = 2;
    c.num_layers = 2;
    c.num_attention_layers = 1;
    c.num_moe_layers = 1;
    c.num_experts = 2;
    c.expert_d_ff = 8;
    c.validate();
    return c;
  }();
  return config;
}

void read_task_line(std::string_view text) {
  static const std::string path = "/tmp/smx_json_fuzz_" + std::to_string(::getpid()) + ".jsonl";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return;
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
  for (const char* task : {"copa", "boolq", "multirc", "record"}) try {
      smx::tasks::read_superglue_jsonl(smx::tasks::find_task(task), path, smx::tasks::Split::kDev,
                                       nullptr);
    } catch (const smx::Error&) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    switch (data[0] % 4) {
      case 0:  // config.json
        smx::ModelConfig::from_json(smx::parse_json(text, "fuzz"), "fuzz");
        break;
      case 1: {  // a safetensors file whose header is `text`, metadata "smx.config" included
        std::string file(8, '\0');
        const uint64_t n = text.size();
        for (int i = 0; i < 8; ++i) file[i] = static_cast<char>(n >> (8 * i));
        file += text;
        const auto parsed = smx::io::parse_safetensors(file, "fuzz.safetensors");
        if (const auto it = parsed.metadata.find("smx.config"); it != parsed.metadata.end())
          smx::ModelConfig::from_json(smx::parse_json(it->second, "fuzz metadata"), "fuzz");
        break;
      }
      case 2:  // one SuperGLUE task line
        read_task_line(text);
        break;
      case 3:  // smx forward --input
        smx::data::parse_forward_input(std::string(text), tiny(), "fuzz");
        break;
    }
  } catch (const smx::Error&) {
  }
  return 0;
}
