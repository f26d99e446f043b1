// smx import sparse-mixers end to end on the tiny Flax fixtures (scripts/make_flax_fixtures.py):
// outputs equal an independent PyTorch forward of the same checkpoint files
// (tests/import/torch_reference.py, the repo's eager model in bench/peers/) for Sparse Mixer, Fast
// Sparse Mixer and BERT; masked padding with sequence groups after import; smx info; --inspect;
// fine-tuning and serving an imported model; every bad input an error naming the file (and
// tensor) with nothing written; and the fixture script reproducing the committed fixtures.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/config/model_config.h"
#include "smx/core/json.h"
#include "smx/import/zip_archive.h"
#include "smx/io/safetensors.h"
#include "smx/tokenizer/tokenizer.h"
#include "support/run_cli.h"
#include "support/scratch_dir.h"
#include "support/test_util.h"
#include "support/tiny_tokenizer.h"
#include "support/toy_task.h"

extern char** environ;

namespace smx::importer {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using smx::testing::run_smx;
using smx::testing::ScratchDir;
using ::testing::HasSubstr;

const std::string kSource = SMX_SOURCE_DIR;
const std::string kFixtures = kSource + "/tests/import/fixtures";
const std::string kPython = "/usr/bin/python3";  // Debian's, with python3-torch / -msgpack / -numpy

smx::testing::CliResult shell(const std::string& command) {
  smx::testing::CliResult r;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  const int status = ::pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Two examples of different lengths with both segment types and two MLM positions each.
std::string write_ids(const ScratchDir& dir) {
  return dir.write("ids.json", R"({"input_ids": [[4, 17, 50, 31, 99, 5, 81, 33, 5],
                                                 [4, 120, 7, 5, 61, 5]],
                                   "type_ids": [[0, 0, 0, 0, 0, 0, 1, 1, 1], [0, 0, 0, 0, 1, 1]],
                                   "masked_lm_positions": [[2, 7], [1, 3]]})");
}

std::string fixture_source(const std::string& name) {
  if (name == "fsm_tiny") return kFixtures + "/fsm_tiny.zip";
  if (name == "bert_tiny") return kFixtures + "/bert_tiny/replicated_checkpoint_990";
  return kFixtures + "/" + name;
}

std::string tokenizer_path() {
  const auto tok = smx::testing::tiny_tokenizer();
  EXPECT_EQ(tok->vocab_size(), 150) << "the fixtures' vocabulary is sized for the test tokenizer";
  return tok->path();
}

std::map<std::string, at::Tensor> forward(const std::string& config, const std::string& weights,
                                          const std::string& ids, const ScratchDir& dir,
                                          const std::string& label) {
  const std::string out = dir.file(label + ".out.safetensors");
  const auto r = run_smx("forward --threads 1 --config " + config + " --weights " + weights +
                         " --input " + ids + " --out " + out);
  EXPECT_EQ(r.status, 0) << r.output;
  std::map<std::string, at::Tensor> tensors;
  if (r.status != 0) return tensors;
  for (auto& t : io::read_safetensors(out).tensors) tensors[t.name] = t.tensor;
  return tensors;
}

void expect_no_output(const ScratchDir& dir, const std::string& out) {
  EXPECT_FALSE(fs::exists(out)) << out << " was written";
  for (const auto& e : fs::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().filename().string().find(".import-tmp-"), std::string::npos)
        << "left behind: " << e.path();
}

class ImportMatchesTorch : public ::testing::TestWithParam<std::string> {};

TEST_P(ImportMatchesTorch, OutputsEqualAnIndependentForwardOfTheSameFiles) {
  const std::string name = GetParam();
  ScratchDir dir;
  const std::string out = dir.file(name), ids = write_ids(dir);
  auto r = run_smx("import sparse-mixers " + fixture_source(name) + " --out " + out + " --vocab " +
                   tokenizer_path());
  ASSERT_EQ(r.status, 0) << r.output;

  // The inferred config is the one the fixture was made with.
  const json want = parse_json(read_file(kFixtures + "/reference_configs.json"), "fixtures")[name];
  const json got = parse_json(read_file(out + "/config.json"), "config.json");
  for (const auto& [key, value] : want.items())
    if (key != "name") {
      EXPECT_EQ(got[key], value) << name << ": " << key;
    }
  EXPECT_EQ(got["tokenizer"], out + "/tokenizer.model");
  EXPECT_TRUE(fs::exists(out + "/tokenizer.model"));
  EXPECT_FALSE(fs::exists(out + "/task.json"));

  const std::string expected = dir.file("expected.json");
  r = shell(kPython + " " + kSource + "/tests/import/torch_reference.py --checkpoint " +
            (name == "bert_tiny" ? kFixtures + "/bert_tiny" : fixture_source(name)) + " --config " +
            kFixtures + "/reference_configs.json:" + name + " --input " + ids + " --out " +
            expected);
  ASSERT_EQ(r.status, 0) << r.output;
  const json ref = parse_json(read_file(expected), expected);
  auto smx_out = forward(out + "/config.json", out + "/model.safetensors", ids, dir, name);
  for (const char* key : {"hidden", "pooled", "nsp_logits", "mlm_logits"}) {
    ASSERT_TRUE(smx_out.count(key)) << key;
    const at::Tensor want_t = smx::testing::tensor_from_json(ref[key]);
    ASSERT_EQ(smx_out[key].sizes(), want_t.sizes()) << key;
    const double diff = smx::testing::max_abs_diff(smx_out[key], want_t);
    std::printf("    %s %-10s max |smx - torch| = %.3e\n", name.c_str(), key, diff);
    EXPECT_LT(diff, 1e-5) << name << " " << key;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ImportMatchesTorch,
                         ::testing::Values("sm_tiny", "fsm_tiny", "bert_tiny"));

// The imported folder with its config switched to masked padding and sequence groups.
std::string switch_to_masked(const std::string& out, const ScratchDir& dir) {
  json j = parse_json(read_file(out + "/config.json"), "config.json");
  j["padding"] = "masked";
  j["routing_groups"] = "sequence";
  const ModelConfig c = ModelConfig::from_json(j, "masked config");  // must still validate
  return dir.write("masked.json", c.to_json().dump(2));
}

TEST(ImportTest, MaskedPaddingAndSequenceGroupsAfterImport) {
  ScratchDir dir;
  const std::string ids = write_ids(dir);
  // BERT: attention already ignores pads, so masked padding changes nothing on real tokens.
  const std::string bert = dir.file("bert");
  ASSERT_EQ(
      run_smx("import sparse-mixers " + fixture_source("bert_tiny") + " --out " + bert).status, 0);
  auto ref = forward(bert + "/config.json", bert + "/model.safetensors", ids, dir, "bert-ref");
  auto masked =
      forward(switch_to_masked(bert, dir), bert + "/model.safetensors", ids, dir, "bert-m");
  ASSERT_TRUE(ref.count("pooled") && masked.count("pooled"));
  const double pooled = smx::testing::max_abs_diff(ref["pooled"], masked["pooled"]);
  const double hidden = smx::testing::max_abs_diff(ref["hidden"].slice(1, 0, 6).select(0, 1),
                                                   masked["hidden"].slice(1, 0, 6).select(0, 1));
  std::printf("    BERT reference vs masked: pooled %.3e, hidden (real tokens) %.3e\n", pooled,
              hidden);
  EXPECT_LT(pooled, 1e-5);
  EXPECT_LT(hidden, 1e-5);

  // Sparse Mixer: masked + sequence makes an example's output independent of its batch-mates
  // (reference padding lets pads mix and compete for experts, so there it is not).
  const std::string sm = dir.file("sm");
  ASSERT_EQ(run_smx("import sparse-mixers " + fixture_source("sm_tiny") + " --out " + sm).status,
            0);
  const std::string masked_cfg = switch_to_masked(sm, dir);
  const std::string alone = dir.write(
      "alone.json", R"({"input_ids": [[4, 120, 7, 5, 61, 5]], "type_ids": [[0, 0, 0, 0, 1, 1]]})");
  auto both = forward(masked_cfg, sm + "/model.safetensors", ids, dir, "sm-both");
  auto one = forward(masked_cfg, sm + "/model.safetensors", alone, dir, "sm-alone");
  ASSERT_TRUE(both.count("pooled") && one.count("pooled"));
  const double diff = smx::testing::max_abs_diff(both["pooled"][1], one["pooled"][0]);
  std::printf("    Sparse Mixer masked+sequence: alone vs batched max |diff| = %.3e\n", diff);
  EXPECT_LT(diff, 1e-5);
  auto ref_sm = forward(sm + "/config.json", sm + "/model.safetensors", ids, dir, "sm-ref");
  EXPECT_GT(smx::testing::max_abs_diff(ref_sm["pooled"], both["pooled"]), 1e-4)
      << "masked padding should change a Linear-mixing model's outputs (pads no longer mix)";
}

TEST(ImportTest, InfoShowsSourceAndStepAndInspectWritesNothing) {
  ScratchDir dir;
  const std::string out = dir.file("sm");
  ASSERT_EQ(run_smx("import sparse-mixers " + fixture_source("sm_tiny") + " --out " + out).status,
            0);
  auto r = run_smx("info " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("imported from " + fixture_source("sm_tiny")));
  EXPECT_THAT(r.output, HasSubstr("step 1000"));
  EXPECT_THAT(r.output, HasSubstr("shard-00001-of-00002_checkpoint_1000"));
  EXPECT_THAT(r.output, HasSubstr("layers 1-2    linear + moe"));

  r = run_smx("import sparse-mixers " + fixture_source("fsm_tiny") + " --inspect --out " +
              dir.file("never"));
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* needle :
       {"target/encoder/expert_0/intermediate/kernel", "[1, 16, 2, 12] float32", "void16",
        "state/... ", "\"train_capacity_factor\": 0.5", "encoder/expert_0/intermediate/kernel",
        "-> encoder.layers.0.moe.intermediate_kernel", "stitch 2 shards, experts on axis 1",
        "classification.kernel", "(transpose)", "import would write"})
    EXPECT_THAT(r.output, HasSubstr(needle));
  expect_no_output(dir, dir.file("never"));

  r = run_smx("import sparse-mixers " + kFixtures + "/bad/unknown_param --inspect");
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.output, HasSubstr("params/encoder/mystery_0/kernel"));
  EXPECT_THAT(r.output, HasSubstr("import would fail"));
}

struct BadCase {
  std::string label, source, extra;
  std::vector<std::string> needles;
};

TEST(ImportTest, BadInputsNameTheFileAndWriteNothing) {
  ScratchDir dir;
  auto copy_sm = [&](const std::string& name) {
    const fs::path p = dir.path() / name;
    fs::copy(kFixtures + "/sm_tiny", p);
    return p;
  };
  const fs::path truncated = copy_sm("truncated");
  const std::string rep = (truncated / "replicated_checkpoint_1000").string();
  fs::resize_file(rep, fs::file_size(rep) / 2);
  const fs::path corrupt = copy_sm("corrupt");
  {
    std::fstream f(corrupt / "shard-00000-of-00002_checkpoint_1000",
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    f.write("\xc1\xc1\xc1\xc1", 4);  // 0xc1 is never used in msgpack
  }
  const fs::path missing = copy_sm("missing");
  fs::remove(missing / "shard-00001-of-00002_checkpoint_1000");
  const fs::path steps = copy_sm("steps");
  fs::rename(steps / "shard-00001-of-00002_checkpoint_1000",
             steps / "shard-00001-of-00002_checkpoint_2000");

  // A vocabulary of another size than the embeddings.
  TokenizerTrainOptions t;
  std::string text;
  for (const auto& s : smx::testing::sample_sentences(200, 3)) text += s + "\n";
  t.input_files = {dir.write("small.txt", text)};
  t.vocab_size = 60;
  t.output_path = dir.file("small.model");
  t.character_coverage = 1.0;
  Tokenizer::train(t);

  fs::create_directories(dir.path() / "taken");
  std::ofstream(dir.path() / "taken" / "x") << "x";

  const std::vector<BadCase> cases = {
      {"truncated msgpack", truncated.string(), "", {rep, "ends early"}},
      {"corrupt msgpack",
       corrupt.string(),
       "",
       {"shard-00000-of-00002_checkpoint_1000", "msgpack"}},
      {"missing shard", missing.string(), "", {"missing shard file shard-00001-of-00002"}},
      {"shards of different steps",
       steps.string(),
       "",
       {"missing shard file", "files from different checkpoints"}},
      {"wrong-shaped tensor",
       kFixtures + "/bad/wrong_shape",
       "",
       {"bad/wrong_shape/replicated_checkpoint_990", "'encoder/pooler/kernel' is [16, 17]",
        "needs [16, 16]"}},
      {"unknown parameter",
       kFixtures + "/bad/unknown_param",
       "",
       {"bad/unknown_param/replicated_checkpoint_990",
        "unknown parameter 'encoder/mystery_0/kernel'"}},
      {"vocabulary size mismatch",
       fixture_source("bert_tiny"),
       " --vocab " + dir.file("small.model"),
       {"small.model", "'encoder/embedder/word/embedding'", "has 150 rows"}},
      {"zip without a checkpoint",
       kFixtures + "/bad/no_checkpoint.zip",
       "",
       {"no_checkpoint.zip: no replicated_checkpoint_<step> file found", "sm_base/README.txt"}},
      {"config that does not fit",
       fixture_source("sm_tiny"),
       " --config sparse-mixer-base",
       {"does not fit --config sparse-mixer-base", "vocab_size is 150 in the checkpoint"}},
      {"missing vocabulary file",
       fixture_source("bert_tiny"),
       " --vocab " + dir.file("nope.model"),
       {"nope.model"}},
  };
  for (const auto& c : cases) {
    const std::string out = dir.file("out");
    const auto r = run_smx("import sparse-mixers " + c.source + " --out " + out + c.extra);
    std::printf("    %-26s -> %s", c.label.c_str(), r.output.c_str());
    EXPECT_EQ(r.status, 1) << c.label << ": " << r.output;
    EXPECT_THAT(r.output, HasSubstr("smx: error:")) << c.label;
    for (const auto& needle : c.needles) EXPECT_THAT(r.output, HasSubstr(needle)) << c.label;
    expect_no_output(dir, out);
  }
  const auto r =
      run_smx("import sparse-mixers " + fixture_source("sm_tiny") + " --out " + dir.file("taken"));
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.output, HasSubstr("already exists"));
  EXPECT_TRUE(fs::exists(dir.path() / "taken" / "x"));
}

// POST `body` to 127.0.0.1:port`path`; the whole HTTP response, or "" when the server is not there.
std::string http_post(int port, const std::string& path, const std::string& body) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return "";
  }
  const std::string request = "POST " + path +
                              " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                              "Connection: close\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body;
  if (::send(fd, request.data(), request.size(), 0) != static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return "";
  }
  std::string response;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) response.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return response;
}

TEST(ImportTest, FinetuneAndServeAnImportedModel) {
  ScratchDir dir;
  const std::string model = dir.file("sm"), tuned = dir.file("tuned");
  auto r = run_smx("import sparse-mixers " + fixture_source("sm_tiny") + " --out " + model +
                   " --vocab " + tokenizer_path());
  ASSERT_EQ(r.status, 0) << r.output;

  r = run_smx("finetune --task sst-2 --data " + smx::testing::toy_task(dir, 64, 16) + " --init " +
              model + " --out " + tuned + " --epochs 2 --batch 8 --lr 1e-3 --threads 1");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("majority-class baseline"));
  std::map<std::string, at::Tensor> before, after;
  for (auto& t : io::read_safetensors(model + "/model.safetensors").tensors)
    before[t.name] = t.tensor;
  for (auto& t : io::read_safetensors(tuned + "/model.safetensors").tensors)
    after[t.name] = t.tensor;
  for (const char* name : {"encoder.layers.1.moe.intermediate_kernel",
                           "encoder.layers.3.mixing.query.kernel", "encoder.pooler.kernel"}) {
    const double moved = smx::testing::max_abs_diff(before[name], after[name]);
    std::printf("    fine-tuning moved %s by up to %.3e\n", name, moved);
    EXPECT_GT(moved, 0.0) << name;
  }

  const std::string port_file = dir.file("port"), log = dir.file("serve.log");
  std::vector<std::string> args = {SMX_CLI_PATH, "serve",       "--model", model,       "--port",
                                   "0",          "--port-file", port_file, "--threads", "1"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  ASSERT_EQ(::posix_spawn(&pid, SMX_CLI_PATH, &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!fs::exists(port_file) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  int port = 0;
  std::ifstream(port_file) >> port;
  const std::string response =
      port > 0 ? http_post(port, "/v1/embed", R"({"input": "the cat reads"})") : std::string();
  ::kill(pid, SIGTERM);
  int status = -1;
  ::waitpid(pid, &status, 0);
  ASSERT_GT(port, 0) << "smx serve did not start: " << read_file(log);
  EXPECT_THAT(response, HasSubstr("200 OK")) << response << read_file(log);
  const auto body = response.find("\r\n\r\n");
  ASSERT_NE(body, std::string::npos);
  const json j = parse_json(response.substr(body + 4), "response");
  ASSERT_EQ(j["results"].size(), 1U);
  EXPECT_EQ(j["results"][0]["embedding"].size(), 16U);  // d_model of sm_tiny
}

TEST(ImportTest, FixtureScriptReproducesTheCommittedFixtures) {
  ScratchDir dir;
  const auto r =
      shell(kPython + " " + kSource + "/scripts/make_flax_fixtures.py --out " + dir.file("fx"));
  ASSERT_EQ(r.status, 0) << r.output;
  int files = 0;
  for (const auto& e : fs::recursive_directory_iterator(kFixtures)) {
    if (!e.is_regular_file()) continue;
    const std::string rel = fs::relative(e.path(), kFixtures).string();
    const std::string fresh = dir.file("fx/" + rel);
    ASSERT_TRUE(fs::exists(fresh)) << rel;
    ++files;
    if (e.path().extension() == ".zip") {  // compare contents: deflate bytes vary with zlib
      const ZipArchive a(e.path().string()), b(fresh);
      ASSERT_EQ(a.entries().size(), b.entries().size()) << rel;
      for (size_t i = 0; i < a.entries().size(); ++i) {
        EXPECT_EQ(a.entries()[i].name, b.entries()[i].name) << rel;
        EXPECT_EQ(a.read(a.entries()[i], 1 << 24), b.read(b.entries()[i], 1 << 24)) << rel;
      }
    } else {
      EXPECT_EQ(read_file(e.path().string()), read_file(fresh))
          << rel << " differs from the script's";
    }
  }
  std::printf("    %d fixture files match scripts/make_flax_fixtures.py\n", files);
  EXPECT_GE(files, 9);
}

}  // namespace
}  // namespace smx::importer
