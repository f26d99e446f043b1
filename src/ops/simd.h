// AVX-512 building blocks of the fused CPU kernels (src/ops/*.cpp): fp32 and bf16 loads and stores
// of 16 lanes and a vectorized exp. Every function is compiled for AVX-512 by a function target
// attribute, so the library still builds for generic x86-64; kernels take these paths only when
// cpu_has_avx512() says the CPU runs them, and a scalar loop otherwise.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <type_traits>

#include <immintrin.h>

// GCC 12 warns about _mm512_undefined_* inside its own intrinsics headers once they are inlined
// here (GCC bug 105593, fixed in 13): a false positive in every file that uses these helpers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <c10/core/ScalarType.h>
#include <c10/util/BFloat16.h>

// AVX512-BF16 is in the target list only for the hardware fp32 -> bf16 conversion in store(),
// which runs only where cpu_has_avx512_bf16() says so (GCC emits no other BF16 instruction).
// Compilers without it (GCC < 10) build the software rounding alone.
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 10)
#define SMX_HAVE_AVX512_BF16 1
#define SMX_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#else
#define SMX_HAVE_AVX512_BF16 0
#define SMX_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#endif

namespace smx::ops::simd {

// Calls body(float{}) or body(c10::BFloat16{}): the two element types every kernel takes.
template <typename F>
void dispatch_float_types(at::ScalarType type, F&& body) {
  if (type == at::kFloat)
    body(float{});
  else
    body(c10::BFloat16{});
}

bool cpu_has_avx512();  // AVX-512 F, BW, VL and DQ (checked once), unless turned off below
// Off: every kernel takes its scalar loop, as on a CPU without AVX-512 (tests run both paths).
void allow_avx512(bool allowed);

// AVX512-BF16 as well (checked once), unless turned off below: bf16 stores then round with one
// vcvtneps2bf16 instead of five integer ops. Same bits as the software rounding except for fp32
// subnormals, which the instruction flushes to zero.
bool cpu_has_avx512_bf16();
// Off: bf16 stores round in software, as on an AVX-512 CPU without BF16 (tests run both).
void allow_avx512_bf16(bool allowed);
namespace detail {
extern std::atomic<bool> hardware_bf16_store;  // cpu_has_avx512_bf16(), read by every store
}  // namespace detail

// The lanes of the vector at offset i of an n-element row: all 16, or the tail's first n - i.
inline __mmask16 lanes(int64_t i, int64_t n) {
  return n - i >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << (n - i)) - 1u);
}

// A per-feature reduction over rows (bias, scale gradients) without atomics: the rows cut into at
// most 64 chunks, each summed into a partial row of its own; the partials are added up after.
struct RowChunks {
  int64_t count, rows;  // chunks, rows per chunk (the last may hold fewer)
  explicit RowChunks(int64_t total)
      : count(std::max<int64_t>(1, std::min<int64_t>(total, 64))),
        rows((total + count - 1) / count),
        total_(total) {}
  int64_t first(int64_t c) const { return std::min(total_, c * rows); }
  int64_t end(int64_t c) const { return std::min(total_, (c + 1) * rows); }

 private:
  int64_t total_;
};

SMX_AVX512 inline __m512 load(const float* p, __mmask16 mask = 0xFFFF) {
  return _mm512_maskz_loadu_ps(mask, p);
}
SMX_AVX512 inline __m512 load(const c10::BFloat16* p, __mmask16 mask = 0xFFFF) {
  const __m256i h = _mm256_maskz_loadu_epi16(mask, p);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

SMX_AVX512 inline void store(float* p, __m512 v, __mmask16 mask = 0xFFFF) {
  _mm512_mask_storeu_ps(p, mask, v);
}
// Round to nearest even, as c10::BFloat16's conversion; NaNs stay (quiet) NaNs.
SMX_AVX512 inline void store(c10::BFloat16* p, __m512 v, __mmask16 mask = 0xFFFF) {
#if SMX_HAVE_AVX512_BF16
  if (detail::hardware_bf16_store.load(std::memory_order_relaxed)) {
    _mm256_mask_storeu_epi16(p, mask, reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v)));
    return;
  }
#endif
  const __m512i bits = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  __m512i rounded = _mm512_add_epi32(bits, _mm512_add_epi32(_mm512_set1_epi32(0x7FFF), lsb));
  const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  rounded = _mm512_mask_mov_epi32(rounded, nan, _mm512_or_si512(bits, _mm512_set1_epi32(0x400000)));
  _mm256_mask_storeu_epi16(p, mask, _mm512_cvtepi32_epi16(_mm512_srli_epi32(rounded, 16)));
}

// How exactly exp() must work: to fp32 (results kept in fp32), or to what a result rounded to
// bf16 (8 significant bits) can show.
enum class ExpAccuracy { kFloat, kBf16 };

// The accuracy for results stored as T: kBf16 for c10::BFloat16, else kFloat.
template <typename T>
constexpr ExpAccuracy exp_accuracy_for() {
  return std::is_same_v<T, c10::BFloat16> ? ExpAccuracy::kBf16 : ExpAccuracy::kFloat;
}

// e^x by range reduction to 2^n · e^y, |y| <= ln2/2, and a Taylor polynomial of degree 7 (relative
// error below 2e-7) or, for kBf16, of degree 5 (below 3e-6, a thousandth of a bf16 rounding step;
// two FMAs fewer); saturates to 0 and +inf like std::exp.
template <ExpAccuracy A = ExpAccuracy::kFloat>
SMX_AVX512 inline __m512 exp(__m512 x) {
  x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(100.0f)), _mm512_set1_ps(-100.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 y = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);  // x - n·ln2_hi
  const __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.4286068203094172e-06f), y);  // - n·ln2_lo
  __m512 p;
  if constexpr (A == ExpAccuracy::kFloat) {
    p = _mm512_set1_ps(1.0f / 5040);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  } else {
    p = _mm512_set1_ps(1.0f / 120);
  }
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

}  // namespace smx::ops::simd
