/* xoshiro256** with splitmix64 seeding, Box-Muller normals, Lemire's unbiased
 * bounded integers (Lemire, "Fast random integer generation in an interval", 2019). */
#include "core/lt_rng.h"

#include <math.h>
#include <string.h>

static lt_rng_state rng = {{0x9e3779b97f4a7c15ull, 0xbf58476d1ce4e5b9ull,
                            0x94d049bb133111ebull, 0x2545f4914f6cdd1dull}, 0, 0};

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void lt_rng_seed(uint64_t seed) {
  for (int i = 0; i < 4; i++) rng.s[i] = splitmix64(&seed);
  rng.has_spare = 0;
  rng.spare_normal = 0;
}

void lt_rng_get_state(lt_rng_state *out) { *out = rng; }
void lt_rng_set_state(const lt_rng_state *in) { rng = *in; }

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t lt_rng_u64(void) { return lt_rng_local_u64(&rng); }

double lt_rng_uniform(void) { return (double)(lt_rng_u64() >> 11) * 0x1.0p-53; }

double lt_rng_normal(void) {
  if (rng.has_spare) {
    rng.has_spare = 0;
    return rng.spare_normal;
  }
  double u1 = 1.0 - lt_rng_uniform(); /* (0, 1]: log(u1) is finite */
  double u2 = lt_rng_uniform();
  double r = sqrt(-2.0 * log(u1)), a = 6.283185307179586476925 * u2; /* 2 pi */
  rng.spare_normal = r * sin(a);
  rng.has_spare = 1;
  return r * cos(a);
}

int64_t lt_rng_int(int64_t lo, int64_t hi) {
  uint64_t range = (uint64_t)hi - (uint64_t)lo + 1; /* 0 means the full 2^64 */
  if (range == 0) return (int64_t)lt_rng_u64();
  unsigned __int128 m = (unsigned __int128)lt_rng_u64() * range;
  uint64_t low = (uint64_t)m;
  if (low < range) {
    uint64_t threshold = -range % range;
    while (low < threshold) {
      m = (unsigned __int128)lt_rng_u64() * range;
      low = (uint64_t)m;
    }
  }
  return lo + (int64_t)(m >> 64);
}

/* Calls gen() for every element of t in row-major order. */
#define FILL_EACH(t, expr)                                                      \
  do {                                                                          \
    int64_t n_ = lt_tensor_numel(t), idx_[LT_MAX_DIMS] = {0};                   \
    float *base_ = lt_tensor_data(t);                                           \
    for (int64_t i_ = 0; i_ < n_; i_++) {                                       \
      int64_t off_ = 0;                                                         \
      for (int k_ = 0; k_ < (t)->ndim; k_++) off_ += idx_[k_] * (t)->stride[k_]; \
      base_[off_] = (float)(expr);                                              \
      for (int k_ = (t)->ndim - 1; k_ >= 0 && ++idx_[k_] == (t)->shape[k_]; k_--) \
        idx_[k_] = 0;                                                           \
    }                                                                           \
  } while (0)

/* A float on [lo, hi): 24 random bits, exact in float, and a guard for the
 * rounding of lo + (hi - lo) * u up to hi. */
static float uniform_float(float lo, float hi) {
  float u = (float)(lt_rng_u64() >> 40) * 0x1.0p-24f;
  float v = lo + (hi - lo) * u;
  return v < hi ? v : nextafterf(hi, lo);
}

void lt_rng_fill_uniform(lt_tensor *t, double lo, double hi) {
  FILL_EACH(t, uniform_float((float)lo, (float)hi));
}

void lt_rng_fill_normal(lt_tensor *t, double mean, double std) {
  FILL_EACH(t, mean + std * lt_rng_normal());
}

void lt_rng_fill_int(lt_tensor *t, int64_t lo, int64_t hi) {
  FILL_EACH(t, lt_rng_int(lo, hi));
}

/* ==================== generators of one's own ==================== */

/* One xoshiro256** step on a caller's state; the global generator steps its
 * own state with it too. */
uint64_t lt_rng_local_u64(lt_rng_state *g) {
  uint64_t *s = g->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

/* splitmix64 scrambles the seed; the stream number is mixed in through a
 * second splitmix64 output, so neighbouring (seed, stream) pairs give unrelated
 * states. */
void lt_rng_local_seed(lt_rng_state *g, uint64_t seed, uint64_t stream) {
  uint64_t x = seed;
  uint64_t key = splitmix64(&x);
  uint64_t y = stream ^ 0xd1b54a32d192ed03ull;
  x = key ^ splitmix64(&y);
  for (int i = 0; i < 4; i++) g->s[i] = splitmix64(&x);
  g->spare_normal = 0;
  g->has_spare = 0;
}

int64_t lt_rng_local_int(lt_rng_state *g, int64_t lo, int64_t hi) {
  uint64_t range = (uint64_t)hi - (uint64_t)lo + 1;
  if (range == 0) return (int64_t)lt_rng_local_u64(g);
  unsigned __int128 m = (unsigned __int128)lt_rng_local_u64(g) * range;
  uint64_t low = (uint64_t)m;
  if (low < range) {
    uint64_t threshold = -range % range;
    while (low < threshold) {
      m = (unsigned __int128)lt_rng_local_u64(g) * range;
      low = (uint64_t)m;
    }
  }
  return lo + (int64_t)(m >> 64);
}
