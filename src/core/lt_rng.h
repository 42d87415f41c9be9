/* The one seedable random generator: xoshiro256** (Blackman & Vigna, 2018),
 * seeded through splitmix64; normals by the Box-Muller transform in double.
 * The same seed gives the same numbers on every run, whatever the thread count:
 * fills are sequential. */
#ifndef LT_RNG_H
#define LT_RNG_H

#include <stdint.h>
#include "core/lt_tensor.h"

typedef struct lt_rng_state {
  uint64_t s[4];
  double spare_normal; /* Box-Muller makes two normals; the second waits here */
  int has_spare;
} lt_rng_state;

void lt_rng_seed(uint64_t seed);
void lt_rng_get_state(lt_rng_state *out);
void lt_rng_set_state(const lt_rng_state *in);

uint64_t lt_rng_u64(void);
double lt_rng_uniform(void);                   /* [0, 1) with 53 random bits */
double lt_rng_normal(void);                    /* mean 0, standard deviation 1 */
int64_t lt_rng_int(int64_t lo, int64_t hi);    /* uniform on [lo, hi], unbiased */

/* Fill every element of t (any strides) in row-major order. */
void lt_rng_fill_uniform(lt_tensor *t, double lo, double hi);
void lt_rng_fill_normal(lt_tensor *t, double mean, double std);
void lt_rng_fill_int(lt_tensor *t, int64_t lo, int64_t hi);

/* ---- generators of one's own ----
 * A state seeded from (seed, stream), independent of the global generator
 * and leaving it untouched: a data set's shuffle for (seed, epoch) is then
 * the same in any process, whatever else drew numbers before. Same
 * algorithms as above (xoshiro256**, Lemire's bounded integers). */
void lt_rng_local_seed(lt_rng_state *g, uint64_t seed, uint64_t stream);
uint64_t lt_rng_local_u64(lt_rng_state *g);
int64_t lt_rng_local_int(lt_rng_state *g, int64_t lo, int64_t hi); /* uniform on [lo, hi] */

#endif
