/* Repulsive forces of 2-D t-SNE by FFT-accelerated interpolation (Linderman,
 * Rachh, Hoskins, Steinerberger & Kluger 2019, "Fast interpolation-based
 * t-SNE for improved visualization of single-cell RNA-seq data"; the method
 * of FIt-SNE and openTSNE), with a small radix-2 FFT of our own.
 *
 * Interpolation nodes form a uniform square grid over the embedding (spacing
 * h <= 0.4, the FFT size the smallest power of two that fits). Each point
 * spreads a unit charge onto the 4 x 4 nodes around it with cubic Lagrange
 * weights (FIt-SNE takes the 3 x 3 nodes of the point's box instead; the
 * centred stencil is about 3x more accurate at the same spacing); a kernel
 * summed over all node pairs is a 2-D convolution with a Toeplitz kernel,
 * done by FFT on a zero-padded grid of twice the size; each point reads its
 * potentials back with the same weights. Cost: O(n + G log G) for a grid of
 * G nodes, against O(n^2) exactly and O(n log n) for Barnes-Hut, so it pays
 * for large n (on 60,000 Fashion-MNIST codes it takes 0.6x the time of
 * Barnes-Hut; on 10,000, about the same).
 *
 * Unlike FIt-SNE, which expands |y_i - y_j|^2 into four charges under the
 * kernel K^2 (K = 1 / (1 + d^2)), this convolves one unit charge with the
 * vector kernel K^2(d) d, so the force needs no subtraction of large terms:
 * one forward FFT, one inverse (x and y as real and imaginary parts). The
 * normaliser Z = sum_{i != j} K follows from Parseval's identity on the same
 * spectrum. The kernel spectra depend only on the grid spacing, which is
 * rounded up to a power of 2^(1/16) so that most iterations reuse them.
 * The 2-D transforms work in float (their rounding, ~1e-6, is far below
 * the interpolation's error). */
#ifndef LT_FFT_INTERP_H
#define LT_FFT_INTERP_H

#include <stdint.h>

#include "core/lt_error.h"

/* ---- a radix-2 complex FFT, interleaved (re, im) doubles (the 2-D
 * transforms in fft_interp.c use its twiddles and bit reversal) ---- */
typedef struct lt_fft_plan lt_fft_plan;
lt_fft_plan *lt_fft_plan_new(int n); /* n a power of two >= 2; NULL when out of memory */
void lt_fft_plan_free(lt_fft_plan *p);
/* In place: a[k] = sum_j a[j] exp(-+2 pi i jk / n), sign - forward, + inverse;
 * neither direction divides by n. */
void lt_fft(const lt_fft_plan *p, double *a, int inverse);

/* ---- the repulsion ---- */
typedef struct lt_fft_repulsion lt_fft_repulsion;
lt_fft_repulsion *lt_fft_repulsion_new(void);
void lt_fft_repulsion_free(lt_fft_repulsion *r);

/* For n points y (n x 2): f[i] ~ sum_j K_ij^2 (y_i - y_j) and *z ~ sum_{i != j}
 * K_ij with K_ij = 1 / (1 + |y_i - y_j|^2). OpenMP threads split the FFTs
 * and the points; the charge spreading is sequential, so results do not
 * depend on the thread count. */
lt_status lt_fft_repulsion_2d(lt_fft_repulsion *r, const double *y, int64_t n, double *f, double *z);

#endif
