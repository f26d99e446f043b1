// `smx bench --serving` bookkeeping: the memory-traffic floor's byte count against the same sum
// written from the config's shapes (docs/design.md §1, §2.6), the bf16 conversion's effect on it,
// the rows a run builds and the table's layout. No timing is measured or asserted.
#include <algorithm>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "smx/bench/serving.h"
#include "smx/model/serving_weights.h"
#include "support/test_util.h"

namespace smx::bench {
namespace serving_test {

using ::testing::HasSubstr;

// Elements one eval forward of batch x N tokens reads, from the config alone; `gemm` counts only
// the matrices a GEMM reads (what the bf16 conversion halves). `active`: experts run per MoE layer.
struct Counted {
  int64_t all = 0, gemm = 0;
};
Counted expected_elements(const ModelConfig& c, int64_t batch, int64_t N,
                          const std::vector<int64_t>& active) {
  const int64_t D = c.d_model, De = c.d_emb, F = c.d_ff, Fe = c.expert_d_ff, E = c.num_experts;
  Counted n;
  n.all += std::min(batch * N, c.vocab_size) * De + N * De + c.type_vocab_size * De;  // tables
  n.all += 2 * De + De * D + D;  // embedding LayerNorm, projection
  n.gemm += De * D;
  size_t moe = 0;
  for (int64_t l = 0; l < c.num_layers; ++l) {
    if (c.is_attention_layer(l)) {
      n.all += 4 * (D * D + D);
      n.gemm += 4 * D * D;
    } else {  // linear mixing: the N x N block of W_s and W_h
      n.all += N * N + D * D;
      n.gemm += N * N + D * D;
    }
    n.all += 4 * D;  // two LayerNorms
    if (c.is_moe_layer(l)) {
      const int64_t a = active.empty() ? E : active[moe++];
      n.all += D * E + E + a * (D * Fe + Fe + Fe * D + D);  // router (fp32) and experts that ran
      n.gemm += a * 2 * D * Fe;
    } else {
      n.all += D * F + F + F * D + D;
      n.gemm += 2 * D * F;
    }
  }
  n.all += D * D + D + D * 2 + 2;  // pooler, 2-way head
  n.gemm += D * D + D * 2;
  return n;
}

TEST(ServingBenchTest, FloorCountsTheWeightsACallReads) {
  ModelConfig c = smx::testing::tiny_config("linear", Padding::kMasked);
  const auto m = model::make_sparse_mixer(c, 3);
  for (const auto& [batch, N] : std::vector<std::pair<int64_t, int64_t>>{{1, 8}, {4, 16}}) {
    const Counted want = expected_elements(c, batch, N, {});
    EXPECT_EQ(weight_bytes_read(*m, batch, N, {}), 4 * want.all) << batch << " x " << N;
    // Experts that did not run are not read.
    const Counted some = expected_elements(c, batch, N, {1, 3});
    EXPECT_EQ(weight_bytes_read(*m, batch, N, {1, 3}), 4 * some.all);
  }
  // bf16 GEMM weights: 2 bytes less per GEMM element; the rest (router, LayerNorm, tables,
  // biases) stays fp32.
  const int64_t before = model::parameter_bytes(*m);
  const model::WeightConversion conv = model::hold_gemm_weights_in(*m, at::kBFloat16);
  EXPECT_EQ(conv.bytes_before, before);
  EXPECT_LT(conv.bytes_after, before);
  const Counted want = expected_elements(c, 2, 16, {2, 4});
  const int64_t got = weight_bytes_read(*m, 2, 16, {2, 4});
  std::printf("    tiny model, 2 x 16 tokens: %ld bytes read fp32, %ld with bf16 GEMM weights\n",
              static_cast<long>(4 * want.all), static_cast<long>(got));
  EXPECT_EQ(got, 4 * want.all - 2 * want.gemm);
  // Converting again changes nothing.
  EXPECT_EQ(model::hold_gemm_weights_in(*m, at::kBFloat16).tensors, 0);
}

TEST(ServingBenchTest, FloorArithmetic) {
  EXPECT_DOUBLE_EQ(traffic_floor_ms(2'000'000'000, 10.0), 200.0);  // 2 GB at 10 GB/s
  EXPECT_DOUBLE_EQ(traffic_floor_ms(5'000'000, 20.0), 0.25);
  EXPECT_EQ(traffic_floor_ms(1000, 0.0), 0.0);  // no bandwidth measured: no floor
}

TEST(ServingBenchTest, RowsOfARun) {
  ServingOptions o;
  const std::vector<ServingCase> main = serving_cases(o);
  ASSERT_EQ(main.size(), 3u * 2 * 3 * 3);  // models x dtypes x lengths x batches
  for (const auto& s : main) {
    EXPECT_EQ(s.config.padding, Padding::kMasked);
    EXPECT_TRUE(s.config.sequence_groups());
    EXPECT_EQ(s.bf16_weights, s.precision == Precision::kBf16);
    EXPECT_TRUE(s.variant.empty());
  }
  EXPECT_EQ(serving_cases(quick_serving_options(o)).size(), 3u * 2 * 2 * 2);
  o.ablation = true;
  const std::vector<ServingCase> all = serving_cases(o);
  // Per length: 3 autocast rows, 2 capacity rows for each of the 2 MoE models; then 2
  // tokens-choose rows (skip on / off) for Sparse Mixer Base.
  EXPECT_EQ(all.size(), main.size() + 3 * (3 + 2 * 2) + 3 * 2);
  for (size_t i = main.size(); i < all.size(); ++i) EXPECT_EQ(all[i].batch, 1);
}

TEST(ServingBenchTest, TableLayout) {
  ServingReport report;
  report.cpu_model = "Test CPU @ 1 GHz";
  report.cores = report.threads = 2;
  report.repeats = 3;
  report.warmup = 1;
  report.bandwidth = {int64_t{1} << 30, 10.0, 8.0};
  ServingResult a;
  a.spec.model = "bert-base";
  a.spec.tokens = 32;
  a.spec.batch = 1;
  a.ms = summarize({30.0, 20.0, 25.0});
  a.weight_bytes = 100'000'000;  // 10 ms at 10 GB/s
  a.resident_bytes = 400'000'000;
  ServingResult b = a;
  b.spec.model = "sparse-mixer-base";
  b.spec.variant = "eval_min_expert_capacity=1";
  b.spec.precision = Precision::kBf16;
  b.spec.bf16_weights = true;
  b.spec.batch = 8;
  b.active_experts = 40;
  b.total_experts = 64;
  report.rows = {a, b};
  const std::string table = format_serving_report(report);
  std::printf("%s", table.c_str());
  EXPECT_THAT(table, HasSubstr("Test CPU @ 1 GHz, 2 threads"));
  EXPECT_THAT(table, HasSubstr("10.0 GB/s"));
  EXPECT_THAT(table, HasSubstr("min / median of 3 repeats"));
  // Header + 3 description lines, one line per row, parameters, RSS and wall time.
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 4 + 2 + 3);
  std::istringstream lines(table);
  std::string line;
  std::vector<std::string> rows;
  while (std::getline(lines, line))
    if (line.find("bert-base  ") == 2 || line.find("sparse-mixer-base  ") == 2)
      rows.push_back(line);
  ASSERT_EQ(rows.size(), 2u);
  // min, median, seq/s, MB read, experts, floor, median / floor
  EXPECT_THAT(rows[0], HasSubstr("fp32  fp32"));
  EXPECT_THAT(rows[0], ::testing::MatchesRegex(
                           ".* 32 +1 +20\\.0 +25\\.0 +40\\.0 +100\\.0 +- +10\\.0 +2\\.50"));
  EXPECT_THAT(rows[1], HasSubstr("eval_min_expert_capacity=1"));
  EXPECT_THAT(rows[1],
              ::testing::MatchesRegex(
                  ".*bf16  bf16 .* 8 +20\\.0 +25\\.0 +320\\.0 +100\\.0 +40/64 +10\\.0 +2\\.50"));
  const nlohmann::json j = to_json(report);
  EXPECT_EQ(j["rows"].size(), 2u);
  EXPECT_DOUBLE_EQ(j["rows"][1]["floor_ms"].get<double>(), 10.0);
  EXPECT_EQ(j["rows"][1]["active_experts"], 40);
}

}  // namespace serving_test
}  // namespace smx::bench
