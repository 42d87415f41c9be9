/* Seeded permutations (sampler.h). */
#include "data/sampler.h"

#include "core/lt_rng.h"

void lt_data_permutation(int64_t *perm, int64_t n, uint64_t seed, uint64_t stream) {
  lt_rng_state g;
  lt_rng_local_seed(&g, seed, stream);
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = lt_rng_local_int(&g, 0, i), t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
}
