// The counter-based dropout mask shared by every kernel that drops elements (ops/dropout.h,
// ops/add_layer_norm.h): element i of a flat tensor is kept when a hash of (seed, i) is at least
// rate · 2^32, and is then scaled by 1 / (1 - rate). A mask is a pure function of (seed, i), so the
// forward pass needs no mask tensor and no separate random pass, and the backward pass recomputes
// the same decisions; the scalar and AVX-512 paths agree bit for bit. The counter i is 32 bits:
// callers keep tensors below 2^32 elements (check_dropout_counter).
#pragma once

#include <algorithm>
#include <cstdint>

#include "simd.h"
#include "smx/core/error.h"
#include "smx/ops/dropout.h"

namespace smx::ops::dropout_mask {

struct Draw {
  bool active = false;  // rate > 0
  uint32_t seed_lo = 0, seed_hi = 0;
  uint32_t threshold = 0;  // rate · 2^32: hashes below it are dropped
  float scale = 1;         // 1 / (1 - rate)
};

inline Draw make_draw(const FusedDropout& d) {
  Draw dr;
  if (!(d.rate >= 0 && d.rate < 1)) fail("dropout: rate {} is outside [0, 1)", d.rate);
  if (d.rate == 0) return dr;
  dr.active = true;
  dr.seed_lo = static_cast<uint32_t>(d.seed);
  dr.seed_hi = static_cast<uint32_t>(d.seed >> 32);
  dr.threshold = static_cast<uint32_t>(std::min(d.rate * 4294967296.0, 4294967295.0));
  dr.scale = static_cast<float>(1.0 / (1.0 - d.rate));
  return dr;
}

inline void check_counter(int64_t numel) {
  if (numel >= (int64_t{1} << 32))
    fail("dropout: a tensor of {} elements is past the mask's 32-bit counter; split it", numel);
}

inline uint32_t fmix32(uint32_t h) {  // MurmurHash3's finaliser
  h ^= h >> 16;
  h *= 0x85EBCA6Bu;
  h ^= h >> 13;
  h *= 0xC2B2AE35u;
  h ^= h >> 16;
  return h;
}

inline bool keeps(const Draw& dr, int64_t index) {
  return fmix32(fmix32(static_cast<uint32_t>(index) ^ dr.seed_lo) + dr.seed_hi) >= dr.threshold;
}

SMX_AVX512 inline __m512i fmix32(__m512i h) {
  h = _mm512_xor_si512(h, _mm512_srli_epi32(h, 16));
  h = _mm512_mullo_epi32(h, _mm512_set1_epi32(static_cast<int>(0x85EBCA6Bu)));
  h = _mm512_xor_si512(h, _mm512_srli_epi32(h, 13));
  h = _mm512_mullo_epi32(h, _mm512_set1_epi32(static_cast<int>(0xC2B2AE35u)));
  return _mm512_xor_si512(h, _mm512_srli_epi32(h, 16));
}

// The keep decisions of elements index .. index + 15, one bit each.
SMX_AVX512 inline __mmask16 keeps16(const Draw& dr, int64_t index) {
  const __m512i lanes =
      _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(index))),
                       _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  __m512i h = fmix32(_mm512_xor_si512(lanes, _mm512_set1_epi32(static_cast<int>(dr.seed_lo))));
  h = fmix32(_mm512_add_epi32(h, _mm512_set1_epi32(static_cast<int>(dr.seed_hi))));
  return _mm512_cmpge_epu32_mask(h, _mm512_set1_epi32(static_cast<int>(dr.threshold)));
}

// x[index] after dropout, in fp32 (x itself when inactive).
template <typename X>
inline float dropped(X x, int64_t index, const Draw& dr) {
  if (!dr.active) return static_cast<float>(x);
  return keeps(dr, index) ? static_cast<float>(x) * dr.scale : 0.0f;
}

// 16 lanes of x from x[0] (flat index `index`) after dropout, masked by k.
template <typename X>
SMX_AVX512 inline __m512 load_dropped(const X* x, __mmask16 k, int64_t index, const Draw& dr) {
  if (!dr.active) return simd::load(x, k);
  return _mm512_maskz_mul_ps(keeps16(dr, index), simd::load(x, k), _mm512_set1_ps(dr.scale));
}

}  // namespace smx::ops::dropout_mask
