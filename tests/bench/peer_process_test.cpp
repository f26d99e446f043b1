// The peer pipe protocol (bench/peer_process.h, bench/peer.h) against a fake peer: a small Python
// script that answers like bench/peers/torch_peer.py --serve, or dies, prints garbage, stays
// silent or refuses. Failures must be smx::Errors that say what happened, never hangs; the
// interleaved driver must take exactly one peer step per smx step. No timing is asserted.
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "smx/bench/peer.h"
#include "smx/bench/peer_process.h"
#include "smx/bench/runner.h"
#include "smx/core/error.h"
#include "support/scratch_dir.h"
#include "support/test_util.h"

namespace smx::bench {
namespace peer_process_test {

using ::testing::HasSubstr;

// argv[1] picks how the fake misbehaves on its first "run" request; a log of every op goes to
// argv[2] so tests can check the order of requests.
constexpr const char* kFakePeer = R"PY(
import json, sys, time
mode, log = sys.argv[1], open(sys.argv[2], "a")
for line in sys.stdin:
    req = json.loads(line)
    op = req["op"]
    log.write(op + " " + req.get("label", "") + " " + req.get("mode", "") + "\n"); log.flush()
    if op == "quit":
        break
    if op == "run" and mode == "dies":
        sys.exit(3)
    if op == "run" and mode == "garbage":
        print("Traceback (most recent call last): not json", flush=True)
        continue
    if op == "run" and mode == "silent":
        time.sleep(60)
    if op == "run" and mode == "no-ok":
        print(json.dumps({"ms": 1.0}), flush=True)
        continue
    if op == "run" and mode == "refuses":
        print(json.dumps({"ok": False, "error": "RuntimeError: out of memory"}), flush=True)
        continue
    answer = {"ok": True}
    if op == "init":
        answer["torch"] = "fake torch"
    elif op == "build":
        answer["supported"] = not req["label"].startswith("unsupported")
        answer["reason"] = "mixing c_net"
    elif op == "run":
        answer["ms"] = 2.5 if req["mode"] == "training" else 1.5
    print(json.dumps(answer), flush=True)
)PY";

struct FakePeer {
  smx::testing::ScratchDir dir;
  std::string script = dir.write("fake_peer.py", kFakePeer);
  std::string log = dir.file("requests.log");

  PeerOptions options(const std::string& mode, double timeout_s = 30) const {
    PeerOptions p;
    p.command = {"/usr/bin/python3", script, mode, log};
    p.timeout_s = timeout_s;
    p.step_timeout_factor = 0;  // the timeout is timeout_s alone
    return p;
  }
  std::string requests() const {
    std::ifstream in(log);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
};

std::vector<BenchCase> two_cases() {
  ModelConfig c = smx::testing::tiny_config();
  return {{"case-a", c, 0, 0}, {"unsupported-b", c, 0, 0}};
}

BenchOptions small_options() {
  BenchOptions o;
  o.batch = 2;
  o.seq_len = 16;
  o.threads = 1;
  return o;
}

TEST(PeerProcessTest, GoodPeerAnswersEveryRequestAndQuitsAtTheEnd) {
  FakePeer fake;
  {
    InterleavedPeer peer(two_cases(), small_options(), fake.options("good"));
    peer.step(0, false, /*timed=*/false, 0.1);  // warm-up: not kept
    peer.step(0, false, true, 0.1);
    peer.step(0, true, true, 0.1);
    peer.step(1, false, true, 0.1);  // unsupported: built once, never run
    peer.step(1, true, true, 0.1);
    const nlohmann::json r = peer.report();
    EXPECT_EQ(r.at("torch"), "fake torch");
    EXPECT_TRUE(r.at("interleaved").get<bool>());
    const auto& a = r.at("cases")[0];
    EXPECT_TRUE(a.at("supported").get<bool>());
    EXPECT_EQ(a.at("inference_ms").at("samples").size(), 1u);
    EXPECT_EQ(a.at("inference_ms").at("median").get<double>(), 1.5);
    EXPECT_EQ(a.at("training_ms").at("min").get<double>(), 2.5);
    const auto& b = r.at("cases")[1];
    EXPECT_FALSE(b.at("supported").get<bool>());
    EXPECT_EQ(b.at("reason"), "mixing c_net");
    EXPECT_TRUE(b.at("inference_ms").is_null());
    peer.drop(0);
  }  // the destructor sends quit
  EXPECT_EQ(fake.requests(),
            "init  \nbuild case-a \nrun case-a inference\nrun case-a inference\n"
            "run case-a training\nbuild unsupported-b \ndrop case-a \nquit  \n");
}

TEST(PeerProcessTest, PeerThatDiesIsAnErrorWithItsExitStatus) {
  FakePeer fake;
  InterleavedPeer peer(two_cases(), small_options(), fake.options("dies"));
  smx::testing::expect_error([&] { peer.step(0, false, true, 0.1); },
                             "exited with status 3 while running one inference step of case "
                             "'case-a'");
  // Once dead, later requests fail at once instead of waiting.
  smx::testing::expect_error([&] { peer.step(0, true, true, 0.1); }, "not running");
}

TEST(PeerProcessTest, GarbageOnThePipeIsAnErrorQuotingIt) {
  FakePeer fake;
  InterleavedPeer peer(two_cases(), small_options(), fake.options("garbage"));
  smx::testing::expect_error([&] { peer.step(0, false, true, 0.1); },
                             "'Traceback (most recent call last): not json' is not a JSON line");
}

TEST(PeerProcessTest, AnswerWithoutOkOrWithAnErrorIsReported) {
  {
    FakePeer fake;
    InterleavedPeer peer(two_cases(), small_options(), fake.options("no-ok"));
    smx::testing::expect_error([&] { peer.step(0, false, true, 0.1); }, "is not a protocol answer");
  }
  {
    FakePeer fake;
    InterleavedPeer peer(two_cases(), small_options(), fake.options("refuses"));
    smx::testing::expect_error([&] { peer.step(0, true, true, 0.1); },
                               "failed running one training step of case 'case-a': RuntimeError: "
                               "out of memory");
  }
}

TEST(PeerProcessTest, SilentPeerTimesOutAndIsKilled) {
  FakePeer fake;
  InterleavedPeer peer(two_cases(), small_options(), fake.options("silent", /*timeout_s=*/1));
  smx::testing::expect_error([&] { peer.step(0, false, true, 0.1); },
                             "no answer within 1 s while running one inference step");
  smx::testing::expect_error([&] { peer.step(0, false, true, 0.1); }, "not running");
}

TEST(PeerProcessTest, MissingCommandIsAnErrorNotAHang) {
  smx::testing::expect_error(
      [] {
        PeerProcess p({"/nonexistent/python3", "peer.py"}, {}, "the test peer");
        p.request({{"op", "init"}}, 30, "starting up");
      },
      "exited with status 127");
  PeerOptions o;
  o.script = "/nonexistent/torch_peer.py";
  smx::testing::expect_error([&] { InterleavedPeer(two_cases(), small_options(), o); },
                             "peer script /nonexistent/torch_peer.py not found");
}

TEST(PeerProcessTest, RunnerInterleavesOnePeerStepAfterEachSmxStep) {
  FakePeer fake;
  ModelConfig c = smx::testing::tiny_config("linear", Padding::kReference);
  const std::vector<BenchCase> cases = {{"case-a", c, 0, 0}, {"case-c", c, 0, 0}};
  BenchOptions o = small_options();
  o.seq_len = c.max_seq_len;
  o.repeats = 2;
  o.warmup = 1;
  InterleavedPeer peer(cases, o, fake.options("good"));
  peer.attach(o);
  BenchReport r = run_bench("interleaved", cases, o);
  r.peer = peer.report();
  // Per round (1 warm-up, 2 repeats): inference a, c, then training a, c; the peer's step follows
  // smx's each time, and a case is built before its first step.
  const std::string round =
      "run case-a inference\nrun case-c inference\nrun case-a training\nrun case-c training\n";
  EXPECT_EQ(fake.requests(),
            "init  \nbuild case-a \nrun case-a inference\nbuild case-c \nrun case-c inference\n"
            "run case-a training\nrun case-c training\n" +
                round + round);
  for (const auto& row : r.peer.at("cases")) {
    EXPECT_EQ(row.at("inference_ms").at("samples").size(), 2u);
    EXPECT_EQ(row.at("training_ms").at("samples").size(), 2u);
  }
  const std::string text = format_report(r);
  EXPECT_THAT(text, HasSubstr("PyTorch eager peer (fake torch), each step right after smx's step"));
  EXPECT_THAT(text, HasSubstr("1.5 [1.5-1.5] smx "));
}

}  // namespace peer_process_test
}  // namespace smx::bench
