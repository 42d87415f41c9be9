/* Shuffled orders for batches and splits.
 *
 * An order is a pure function of (seed, stream): a generator of its own is
 * seeded from the pair (lt_rng_local_seed), so the same seed and epoch give
 * the same batches in any process, whatever else used the global generator,
 * and different epochs give unrelated orders. */
#ifndef LT_SAMPLER_H
#define LT_SAMPLER_H

#include <stdint.h>

/* perm[0..n) = a uniformly random permutation of 0..n-1 (Fisher-Yates,
 * drawing from the end, as in Knuth's Algorithm P). */
void lt_data_permutation(int64_t *perm, int64_t n, uint64_t seed, uint64_t stream);

#endif
