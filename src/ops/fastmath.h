/* Vectorizable float math: exp, expm1, log, log1p, tanh, sigmoid, softplus.
 *
 * Branch-free float math shared by the elementwise, activation and loss
 * kernels (unary.c, activation.c, loss.c), so that the loops
 * calling it vectorize (libm's calls do not). Accuracy: a few ulp (checked
 * against double precision in tests/c/test_elementwise.c and
 * test_nnops.c); NaN gives NaN.
 * They are compiled without trapping math (as elementwise_iter.h compiles the
 * kernels that call them): GCC neither if-converts the selects nor inlines
 * into such kernels otherwise, and the loops stay scalar. */
#ifndef LT_FASTMATH_H
#define LT_FASTMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#endif

static inline float lt_fm_from_bits(int32_t b) {
  float f;
  memcpy(&f, &b, sizeof f);
  return f;
}
static inline int32_t lt_fm_to_bits(float f) {
  int32_t b;
  memcpy(&b, &f, sizeof b);
  return b;
}

/* exp(r) - 1 for |r| <= ln2 / 2: Taylor to r^7 (truncation < 6e-9 relative). */
static inline float lt_fm_expm1_reduced(float r) {
  float p = 1.0f / 5040;
  p = p * r + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  return p * r;
}

/* x = k ln2 + r with k integral (returned as float) and |r| <= ln2 / 2. ln2 is
 * split in a high part with few bits (k * hi exact) and a low correction. */
static inline float lt_fm_reduce(float x, float *r) {
  const float log2e = 1.44269504f, ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
  const float round = 12582912.0f; /* 1.5 * 2^23: (v + round) - round rounds v */
  float k = (x * log2e + round) - round;
  *r = (x - k * ln2_hi) - k * ln2_lo;
  return k;
}

/* exp(x); 0 below -104, inf above 88.8; 2^k is applied in two factors so that
 * subnormal results round once. */
static inline float lt_fm_exp(float x) {
  float xc = x < -104.0f ? -104.0f : x > 88.8f ? 88.8f : x;
  xc = xc == xc ? xc : 0.0f;
  float r, kf = lt_fm_reduce(xc, &r);
  int32_t k = (int32_t)kf, k1 = k / 2, k2 = k - k1;
  float y = (1.0f + lt_fm_expm1_reduced(r)) * lt_fm_from_bits((k1 + 127) << 23) *
            lt_fm_from_bits((k2 + 127) << 23);
  return x == x ? y : x;
}

/* exp(x) - 1, accurate relative to small results: (2^k - 1) + 2^k expm1(r). */
static inline float lt_fm_expm1(float x) {
  float xc = x < -30.0f ? -30.0f : x > 88.0f ? 88.0f : x; /* below -30 the result is -1 */
  xc = xc == xc ? xc : 0.0f;
  float r, kf = lt_fm_reduce(xc, &r);
  float s = lt_fm_from_bits(((int32_t)kf + 127) << 23);
  float y = (s - 1.0f) + s * lt_fm_expm1_reduced(r);
  y = x > 88.8f ? INFINITY : y;
  return x == x ? y : x;
}

/* log(x): -inf at 0, NaN below, inf at inf. x = 2^k m with m in [sqrt(1/2),
 * sqrt(2)); log(m) = 2 atanh(f), f = (m - 1) / (m + 1), |f| < 0.172, by its
 * odd series to f^11. Subnormal x is scaled by 2^25 first. */
static inline float lt_fm_log(float x) {
  int sub = x < 1.17549435e-38f;
  float xs = sub ? x * 33554432.0f : x;
  xs = (xs > 0.0f && xs < INFINITY) ? xs : 1.0f;
  uint32_t b;
  memcpy(&b, &xs, sizeof b);
  int32_t k = (int32_t)(b - 0x3f3504f3u) >> 23; /* 0x3f3504f3: sqrt(1/2) */
  b -= (uint32_t)k << 23;
  float m;
  memcpy(&m, &b, sizeof m);
  float kf = (float)k - (sub ? 25.0f : 0.0f);
  float f = (m - 1.0f) / (m + 1.0f), s = f * f;
  float p = 1.0f / 11;
  p = p * s + 1.0f / 9;
  p = p * s + 1.0f / 7;
  p = p * s + 1.0f / 5;
  p = p * s + 1.0f / 3;
  float lm = 2.0f * f + 2.0f * f * s * p;
  float y = kf * 0.693359375f + (lm + kf * -2.12194440e-4f);
  y = x == 0.0f ? -INFINITY : y;
  y = x < 0.0f ? NAN : y;
  y = x == INFINITY ? x : y;
  return x == x ? y : x;
}

/* log(1 + u) for u >= -1, accurate for small u: with w = 1 + u rounded,
 * log(w) * u / (w - 1) cancels the rounding of w (Goldberg's trick). */
static inline float lt_fm_log1p(float u) {
  float w = 1.0f + u, d = w - 1.0f;
  float y = lt_fm_log(w) * (u / (d == 0.0f ? 1.0f : d));
  return d == 0.0f ? u : y;
}

/* log(1 + e) for e in [0, 1] (softplus's case), cheaper than lt_fm_log1p:
 * 2 atanh(f) with f = e / (2 + e) in [0, 1/3], by its odd series to f^15
 * (truncation below 2e-9 relative); accurate for small e. */
static inline float lt_fm_log1p_unit(float e) {
  float f = e / (2.0f + e), s = f * f;
  float p = 1.0f / 15;
  p = p * s + 1.0f / 13;
  p = p * s + 1.0f / 11;
  p = p * s + 1.0f / 9;
  p = p * s + 1.0f / 7;
  p = p * s + 1.0f / 5;
  p = p * s + 1.0f / 3;
  return 2.0f * f + 2.0f * f * s * p;
}

/* tanh(x) = sign(x) * e / (e + 2) with e = exp(2|x|) - 1, computed as
 * (2^k - 1) + 2^k expm1(r), which keeps full relative precision for small
 * |x| (where tanh(x) ~ x). Beyond |x| = 9, tanh rounds to +-1. */
static inline float lt_fm_tanh(float x) {
  float ax = fabsf(x);
  float y = ax > 9.0f ? 18.0f : 2.0f * ax;
  y = y == y ? y : 0.0f;
  float r, kf = lt_fm_reduce(y, &r);
  float s = lt_fm_from_bits(((int32_t)kf + 127) << 23); /* k in [0, 26] */
  float e = (s - 1.0f) + s * lt_fm_expm1_reduced(r);
  float t = e / (e + 2.0f);
  t = lt_fm_from_bits(lt_fm_to_bits(t) | (lt_fm_to_bits(x) & (int32_t)0x80000000)); /* tanh(-0) = -0 */
  return x == x ? t : x;
}

/* 1 / (1 + exp(-x)), never overflowing. */
static inline float lt_fm_sigmoid(float x) {
  float e = lt_fm_exp(-fabsf(x));
  float q = 1.0f / (1.0f + e);
  return x >= 0.0f ? q : e * q;
}

/* log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), stable everywhere. */
static inline float lt_fm_softplus(float x) {
  return (x > 0.0f ? x : 0.0f) + lt_fm_log1p_unit(lt_fm_exp(-fabsf(x)));
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#endif
