// Rng: a small, fully specified random generator (xoshiro256**) for the data pipeline.
// The standard library's distributions differ between implementations; this one gives the same
// stream on every platform and its whole state is four integers, which the pipeline's resume state
// stores.
#pragma once

#include <array>
#include <cstdint>

namespace smx {

// splitmix64's finaliser: a bijective 64-bit mix, used for seeding and hashing.
uint64_t mix64(uint64_t x);

class Rng {
 public:
  using State = std::array<uint64_t, 4>;

  explicit Rng(uint64_t seed = 0);

  uint64_t next_u64();
  // Uniform on [0, n), unbiased; n must be > 0.
  uint64_t uniform(uint64_t n);
  // Uniform on [0, 1) with 53 random bits.
  double uniform01();

  const State& state() const { return state_; }
  void set_state(const State& state);  // throws smx::Error for the all-zero state

 private:
  State state_{};
};

}  // namespace smx
