// smx_loadtest: a bounded HTTP load generator for `smx serve` (loopback only).
// For each concurrency level: that many clients, each on one kept-alive connection, send short
// /v1/embed requests until a fixed request count or a duration is reached. Prints throughput,
// p50/p99 latency, errors, and the server's RSS sampled through the run (flat = no growth).
//
//   smx_loadtest --port 8080 --server-pid 1234 --concurrency 1,4,16 --requests 2000 --duration 30
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::vector<int> concurrency = {1, 4, 16};
  int requests = 2000;      // per level
  double duration = 30;     // seconds per level, at most
  int words = 8;            // words per input text
  int inputs = 1;           // inputs per request
  int warmup = 20;          // requests per level not measured
  int server_pid = 0;       // sample this process's RSS (0: don't)
  std::string label;        // echoed in the output, e.g. the server flags
  std::string api = "smx";  // smx: POST /v1/embed {"inputs"}; openai: POST /v1/embeddings {"input"}

  const char* path() const { return api == "openai" ? "/v1/embeddings" : "/v1/embed"; }
};

[[noreturn]] void usage(const char* message) {
  std::fprintf(stderr,
               "smx_loadtest: %s\nusage: smx_loadtest [--host H] [--port P] [--concurrency 1,4,16] "
               "[--requests N] [--duration S] [--words W] [--inputs K] [--warmup N] "
               "[--server-pid PID] [--label TEXT] [--api smx|openai]\n",
               message);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    if (i + 1 >= argc) usage(("missing value for " + key).c_str());
    const std::string value = argv[++i];
    if (key == "--host")
      o.host = value;
    else if (key == "--port")
      o.port = std::stoi(value);
    else if (key == "--requests")
      o.requests = std::stoi(value);
    else if (key == "--duration")
      o.duration = std::stod(value);
    else if (key == "--words")
      o.words = std::stoi(value);
    else if (key == "--inputs")
      o.inputs = std::stoi(value);
    else if (key == "--warmup")
      o.warmup = std::stoi(value);
    else if (key == "--server-pid")
      o.server_pid = std::stoi(value);
    else if (key == "--api") {
      if (value != "smx" && value != "openai") usage("--api takes smx or openai");
      o.api = value;
    } else if (key == "--label")
      o.label = value;
    else if (key == "--concurrency") {
      o.concurrency.clear();
      std::stringstream list(value);
      for (std::string item; std::getline(list, item, ',');)
        o.concurrency.push_back(std::stoi(item));
    } else {
      usage(("unknown option " + key).c_str());
    }
  }
  if (o.host != "127.0.0.1" && o.host != "localhost" && o.host != "::1")
    usage("loopback hosts only (127.0.0.1, localhost, ::1)");
  return o;
}

// VmRSS of a process in MiB (0 if unreadable).
double rss_mib(int pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

std::string make_body(uint64_t seed, const Options& o) {
  static const char* const kWords[] = {"the",   "a",     "model", "learns", "mixing", "tokens",
                                       "river", "stone", "green", "light",  "garden", "music",
                                       "cat",   "dog",   "runs",  "reads",  "sparse", "expert"};
  nlohmann::json inputs = nlohmann::json::array();
  for (int k = 0; k < o.inputs; ++k) {
    std::string text;
    for (int w = 0; w < o.words; ++w) {
      seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
      if (w) text += ' ';
      text += kWords[(seed >> 33) % (sizeof(kWords) / sizeof(kWords[0]))];
    }
    inputs.push_back(text);
  }
  return nlohmann::json{{o.api == "openai" ? "input" : "inputs", inputs}}.dump();
}

struct LevelResult {
  int concurrency = 0;
  int64_t requests = 0, errors = 0;
  double seconds = 0, p50_ms = 0, p99_ms = 0, max_ms = 0;
  double rss_first = 0, rss_last = 0, rss_max = 0;
};

LevelResult run_level(const Options& o, int concurrency) {
  LevelResult result;
  result.concurrency = concurrency;
  std::atomic<int64_t> issued{0}, errors{0};
  std::mutex mutex;
  std::vector<double> latencies;
  std::atomic<bool> done{false};
  std::vector<double> rss;
  std::thread sampler([&] {
    while (!done.load() && o.server_pid > 0) {
      rss.push_back(rss_mib(o.server_pid));
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  // Warm-up: connections, allocator, thread pools.
  {
    httplib::Client client(o.host, o.port);
    for (int i = 0; i < o.warmup; ++i) client.Post(o.path(), make_body(i, o), "application/json");
  }
  const auto start = Clock::now();
  const auto stop_at = start + std::chrono::duration<double>(o.duration);
  std::vector<std::thread> clients;
  for (int c = 0; c < concurrency; ++c) {
    clients.emplace_back([&, c] {
      httplib::Client client(o.host, o.port);
      client.set_read_timeout(60, 0);
      std::vector<double> mine;
      while (true) {
        const int64_t n = issued.fetch_add(1);
        if (n >= o.requests || Clock::now() >= stop_at) break;
        const std::string body = make_body(static_cast<uint64_t>(n) * 7919 + c, o);
        const auto t0 = Clock::now();
        const auto res = client.Post(o.path(), body, "application/json");
        mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (!res || res->status != 200) ++errors;
      }
      std::lock_guard lock(mutex);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : clients) t.join();
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  done = true;
  sampler.join();
  std::sort(latencies.begin(), latencies.end());
  result.requests = static_cast<int64_t>(latencies.size());
  result.errors = errors.load();
  auto pct = [&](double p) {
    if (latencies.empty()) return 0.0;
    return latencies[std::min(latencies.size() - 1,
                              static_cast<size_t>(p * static_cast<double>(latencies.size())))];
  };
  result.p50_ms = pct(0.50);
  result.p99_ms = pct(0.99);
  result.max_ms = latencies.empty() ? 0 : latencies.back();
  if (!rss.empty()) {
    result.rss_first = rss.front();
    result.rss_last = rss.back();
    result.rss_max = *std::max_element(rss.begin(), rss.end());
  }
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  {
    httplib::Client probe(o.host, o.port);
    const auto res = probe.Get("/readyz");
    if (!res || res->status != 200) {
      std::fprintf(stderr, "smx_loadtest: no ready server at %s:%d (GET /readyz)\n", o.host.c_str(),
                   o.port);
      return 1;
    }
  }
  std::printf(
      "# %s  (POST %s, %d words x %d inputs per request, <= %d requests or %.0f s per "
      "level)\n",
      o.label.c_str(), o.path(), o.words, o.inputs, o.requests, o.duration);
  std::printf("%11s %9s %7s %8s %10s %9s %9s %9s   %s\n", "concurrency", "requests", "errors",
              "seconds", "req/s", "p50 ms", "p99 ms", "max ms", "server RSS MiB first/max/last");
  int64_t total_errors = 0;
  for (const int c : o.concurrency) {
    const LevelResult r = run_level(o, c);
    total_errors += r.errors;
    std::printf("%11d %9lld %7lld %8.2f %10.1f %9.2f %9.2f %9.2f   %.1f / %.1f / %.1f\n",
                r.concurrency, static_cast<long long>(r.requests), static_cast<long long>(r.errors),
                r.seconds, static_cast<double>(r.requests) / r.seconds, r.p50_ms, r.p99_ms,
                r.max_ms, r.rss_first, r.rss_max, r.rss_last);
    std::fflush(stdout);
  }
  return total_errors == 0 ? 0 : 1;
}
