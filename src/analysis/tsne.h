/* t-SNE (van der Maaten & Hinton 2008) as scikit-learn 1.2 runs it, in C.
 *
 *  1. Input affinities: for each point, a Gaussian over its 3*perplexity + 1
 *     nearest neighbours (exact: a VP tree, vptree.h, up to 16 input dims,
 *     sgemm brute force, neighbors.h, above; every other point in exact mode)
 *     whose width is found by bisection so that its entropy is
 *     log(perplexity); then P = (P_cond + P_cond^T) / sum, a sparse
 *     symmetric matrix summing to 1.
 *  2. Initialisation: the first `dims` principal components of x, scaled so
 *     the first has standard deviation 1e-4 (scikit-learn's 'pca'), or
 *     N(0, 1e-4^2) noise, or a given embedding.
 *  3. Gradient descent on KL(P || Q), Q the normalised Student-t kernel
 *     with dof = max(dims - 1, 1) degrees of freedom: early exaggeration of
 *     P (12) with momentum 0.5 for 250 iterations, then momentum 0.8;
 *     per-coordinate gains (+0.2 when the step changes sign, *0.8 else, at
 *     least 0.01); learning rate 'auto' = max(n / exaggeration / 4, 50).
 *     The repulsive part of the gradient is exact (O(n^2)), Barnes-Hut
 *     (bh_tree.h) or, in 2-D, FFT-accelerated interpolation (fft_interp.h);
 *     the attractive part runs over P's entries, in float, vectorized.
 *
 * One difference from scikit-learn, on purpose: with dof != 1 (3-D) its
 * gradient uses w_ij where the derivative of its own objective has
 * (1 + d_ij^2/dof)^-1; here the gradient is the true one, so descent lowers
 * the KL it reports. In 2-D (dof 1) the two agree.
 *
 * Threads: OpenMP splits points; every sum that crosses points is taken in
 * a fixed order, so a seed gives the same embedding bit for bit for a given
 * thread count. */
#ifndef LT_TSNE_H
#define LT_TSNE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/lt_error.h"
#include "core/lt_tensor.h"

typedef enum { LT_TSNE_EXACT, LT_TSNE_BARNES_HUT, LT_TSNE_FFT } lt_tsne_method;

/* Called every 50 iterations (when scikit-learn checks convergence) and at
 * the end, with the 1-based iteration, the KL divergence there (of exaggerated P while
 * exaggeration lasts, as scikit-learn prints it) and seconds since the start. */
typedef void (*lt_tsne_progress_fn)(void *ud, int iteration, double kl, double seconds);

typedef struct lt_tsne_options {
  int dims;                    /* 2 or 3 (exact: any >= 1) */
  double perplexity;           /* 30; must be below the number of points */
  int iterations;              /* 1000, exaggeration phase included */
  double early_exaggeration;   /* 12 */
  int exaggeration_iterations; /* 250 */
  double learning_rate;        /* <= 0: 'auto' */
  lt_tsne_method method;       /* LT_TSNE_BARNES_HUT */
  double angle;                /* 0.5: Barnes-Hut's accuracy / speed trade-off, in [0, 1] */
  int n_iter_without_progress; /* 300: stop when the KL has not improved for this long */
  double min_grad_norm;        /* 1e-7: stop when the gradient is smaller */
  const lt_tensor *init;       /* an n x dims starting embedding, or NULL */
  bool init_random;            /* without `init`: true for noise, false for PCA */
  bool has_seed;               /* random init: seed a private stream (else draw from lt_rng's) */
  uint64_t seed;
  lt_tsne_progress_fn progress;
  void *progress_ud;
} lt_tsne_options;

void lt_tsne_options_default(lt_tsne_options *o);

/* Checks x (n x d, finite values) against the options; the message names
 * what is wrong, as "tsne: perplexity (40) must be less than the number of
 * points (30)". Cheap: the bindings call it before allocating anything. */
lt_status lt_tsne_check(const lt_tensor *x, const lt_tsne_options *o);

/* Runs t-SNE on x; writes the n x dims embedding into y (contiguous) and the
 * final KL divergence (as reported at the last iteration) into *kl. */
lt_status lt_tsne_fit(const lt_tensor *x, const lt_tsne_options *o, lt_tensor *y, double *kl);

/* ---- placing new points into an embedding ----
 * For each row of x_new (m x d): conditional affinities to its 3 * perplexity
 * + 1 nearest rows of x (the n points y embeds, n x 2 or 3), a start at
 * their affinity-weighted mean in y, then gradient descent on its own
 * KL(P_i || Q_i), Q_i normalised over the embedded points, which stay fixed
 * (as openTSNE's transform: learning rate 0.1, momentum 0.8, each point's
 * gradient norm clipped to 0.25; Barnes-Hut for the repulsion). Options used:
 * perplexity, iterations, learning_rate (<= 0: 0.1), angle, progress.
 * *kl: the mean of the new points' KLs. */
void lt_tsne_transform_options_default(lt_tsne_options *o); /* perplexity 5, 250 iterations */
lt_status lt_tsne_transform(const lt_tensor *x_new, const lt_tensor *x, const lt_tensor *y, const lt_tsne_options *o,
                            lt_tensor *y_new, double *kl);

/* ---- the pieces, for tests ---- */

/* A sparse affinity matrix in CSR form: row i holds columns col[row[i] ..
 * row[i+1]) in increasing order with values val[..]. */
typedef struct lt_tsne_p {
  int64_t n, nnz;
  int64_t *row;
  int32_t *col;
  double *val;
} lt_tsne_p;

void lt_tsne_p_free(lt_tsne_p *p);

/* Conditional affinities of n points from their k squared distances
 * (n x k): row i of p (n x k) is exp(-beta_i d2) / sum, with beta_i found
 * by bisection so that the row's entropy is log(perplexity) within 1e-5
 * (at most 100 steps, scikit-learn's _binary_search_perplexity). */
void lt_tsne_conditional(const float *d2, int64_t n, int k, double perplexity, double *p);

/* The joint P of x (n x d): kNN (or all pairs when `exact`), conditional
 * affinities, symmetrised and normalised. */
lt_status lt_tsne_affinities(const float *x, int64_t n, int64_t d, double perplexity, bool exact, lt_tsne_p *p);

/* The joint P of x as a dense n x n tensor `out` (contiguous), for tests
 * and inspection of small sets. */
lt_status lt_tsne_joint_p(const lt_tensor *x, double perplexity, bool exact, lt_tensor *out);

/* The KL gradient at y (n x dims) for P scaled by `exaggeration`: grad
 * (n x dims) and, when kl is not NULL, KL(exaggeration * P || Q). */
typedef struct lt_tsne_work lt_tsne_work;
lt_tsne_work *lt_tsne_work_new(int64_t n, int dims, lt_tsne_method method, double angle);
void lt_tsne_work_free(lt_tsne_work *w);
lt_status lt_tsne_gradient(lt_tsne_work *w, const lt_tsne_p *p, const double *y, double exaggeration,
                           double *grad, double *kl);

#endif
