/* t-SNE: options, input affinities, initialisation, the KL gradient and the
 * optimiser. See tsne.h for the algorithm; the trees and the FFT
 * interpolation live in vptree.c, bh_tree.c and fft_interp.c. */
#include "analysis/tsne.h"

#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analysis/bh_tree.h"
#include "analysis/fft_interp.h"
#include "analysis/neighbors.h"
#include "analysis/pca.h"
#include "analysis/vptree.h"
#include "core/lt_alloc.h"
#include "core/lt_rng.h"

/* scikit-learn's constants (sklearn/manifold/_utils.pyx, _t_sne.py) */
#define PERPLEXITY_TOL 1e-5
#define PERPLEXITY_STEPS 100
#define INIT_STD 1e-4
#define MIN_GAIN 0.01
#define CHECK_EVERY 50 /* iterations between KL evaluations and convergence checks */

void lt_tsne_options_default(lt_tsne_options *o) {
  *o = (lt_tsne_options){.dims = 2, .perplexity = 30, .iterations = 1000, .early_exaggeration = 12,
                         .exaggeration_iterations = 250, .learning_rate = 0, .method = LT_TSNE_BARNES_HUT,
                         .angle = 0.5, .n_iter_without_progress = 300, .min_grad_norm = 1e-7};
}

/* ==================== checks ==================== */

/* The first row (1-based) of a 2-D tensor holding NaN or inf, or 0. */
static int64_t first_bad_row(const lt_tensor *t) {
  const float *base = t->storage->data + t->offset;
  for (int64_t i = 0; i < t->shape[0]; i++)
    for (int64_t j = 0; j < t->shape[1]; j++)
      if (!isfinite(base[i * t->stride[0] + j * t->stride[1]])) return i + 1;
  return 0;
}

static lt_status check_dims(const lt_tsne_options *o) {
  if (o->dims < 1) return lt_error(LT_ERR_ARG, "tsne: dims must be at least 1, got %d", o->dims);
  if (o->method == LT_TSNE_BARNES_HUT && o->dims != 2 && o->dims != 3)
    return lt_error(LT_ERR_ARG, "tsne: method 'barnes_hut' embeds in 2 or 3 dims, got dims = %d "
                    "(method 'exact' takes any)", o->dims);
  if (o->method == LT_TSNE_FFT && o->dims != 2)
    return lt_error(LT_ERR_ARG, "tsne: method 'fft' embeds in 2 dims, got dims = %d "
                    "(use 'barnes_hut' for 3)", o->dims);
  return LT_OK;
}

static lt_status check_numbers(const lt_tsne_options *o, int64_t n) {
  if (!(o->perplexity > 0)) return lt_error(LT_ERR_ARG, "tsne: perplexity must be positive, got %g", o->perplexity);
  if (!(o->perplexity < n))
    return lt_error(LT_ERR_ARG, "tsne: perplexity (%g) must be less than the number of points (%lld)",
                    o->perplexity, (long long)n);
  if (o->iterations < 1) return lt_error(LT_ERR_ARG, "tsne: iterations must be at least 1, got %d", o->iterations);
  if (o->exaggeration_iterations < 0)
    return lt_error(LT_ERR_ARG, "tsne: exaggeration_iterations must not be negative, got %d",
                    o->exaggeration_iterations);
  if (!(o->early_exaggeration >= 1) || isinf(o->early_exaggeration))
    return lt_error(LT_ERR_ARG, "tsne: early_exaggeration must be at least 1, got %g", o->early_exaggeration);
  if (!(o->learning_rate >= 0) || isinf(o->learning_rate))
    return lt_error(LT_ERR_ARG, "tsne: learning_rate must be positive or 'auto', got %g", o->learning_rate);
  if (!(o->angle >= 0 && o->angle <= 1)) return lt_error(LT_ERR_ARG, "tsne: angle must be in [0, 1], got %g", o->angle);
  return LT_OK;
}

static lt_status check_init(const lt_tsne_options *o, int64_t n, int64_t d) {
  char b1[LT_SHAPE_STR];
  if (o->init) {
    const lt_tensor *y = o->init;
    if (y->ndim != 2 || y->shape[0] != n || y->shape[1] != o->dims)
      return lt_error(LT_ERR_SHAPE, "tsne: init must be %lldx%d (points x dims), got %s", (long long)n, o->dims,
                      LT_SHAPE(y, b1));
    int64_t bad = first_bad_row(y);
    if (bad) return lt_error(LT_ERR_ARG, "tsne: init row %lld holds a NaN or an infinite value", (long long)bad);
  } else if (!o->init_random && d < o->dims) {
    return lt_error(LT_ERR_ARG, "tsne: init 'pca' needs at least dims (%d) columns in x, got %lld "
                    "(use init = 'random')", o->dims, (long long)d);
  }
  return LT_OK;
}

lt_status lt_tsne_check(const lt_tensor *x, const lt_tsne_options *o) {
  char b1[LT_SHAPE_STR];
  lt_status st;
  if (x->ndim != 2) return lt_error(LT_ERR_SHAPE, "tsne: x must be 2-D (points x features), got %s", LT_SHAPE(x, b1));
  int64_t n = x->shape[0], d = x->shape[1];
  if (n < 2 || d < 1) return lt_error(LT_ERR_SHAPE, "tsne: x must hold at least 2 points of 1 feature, got %s",
                                      LT_SHAPE(x, b1));
  if (n > INT32_MAX / 4) return lt_error(LT_ERR_SHAPE, "tsne: too many points (%lld)", (long long)n);
  if ((st = check_dims(o)) || (st = check_numbers(o, n)) || (st = check_init(o, n, d))) return st;
  int64_t bad = first_bad_row(x);
  if (bad) return lt_error(LT_ERR_ARG, "tsne: x row %lld holds a NaN or an infinite value", (long long)bad);
  return LT_OK;
}

/* ==================== input affinities ==================== */

void lt_tsne_p_free(lt_tsne_p *p) {
  if (!p) return;
  lt_free(p->row, (size_t)(p->n + 1) * sizeof(int64_t));
  lt_free(p->col, (size_t)p->nnz * sizeof(int32_t));
  lt_free(p->val, (size_t)p->nnz * sizeof(double));
  p->row = NULL, p->col = NULL, p->val = NULL, p->nnz = 0;
}

static lt_status p_alloc(lt_tsne_p *p, int64_t n, int64_t nnz) {
  p->n = n, p->nnz = nnz;
  p->row = lt_alloc((size_t)(n + 1) * sizeof(int64_t));
  p->col = lt_alloc((size_t)nnz * sizeof(int32_t));
  p->val = lt_alloc((size_t)nnz * sizeof(double));
  if (p->row && p->col && p->val) return LT_OK;
  lt_tsne_p_free(p);
  return lt_error(LT_ERR_MEMORY, "tsne: out of memory for %lld affinities", (long long)nnz);
}

/* Bisection on beta = 1 / (2 sigma^2) for one row, as scikit-learn does it. */
static void calibrate_row(const float *d2, int k, double log_perplexity, double *p) {
  double beta = 1, beta_min = -INFINITY, beta_max = INFINITY;
  for (int step = 0; step < PERPLEXITY_STEPS; step++) {
    double sum = 0, sum_dp = 0;
    for (int j = 0; j < k; j++) sum += p[j] = exp(-(double)d2[j] * beta);
    if (sum == 0) sum = 1e-8;
    for (int j = 0; j < k; j++) p[j] /= sum, sum_dp += d2[j] * p[j];
    double diff = log(sum) + beta * sum_dp - log_perplexity; /* entropy minus its target */
    if (fabs(diff) <= PERPLEXITY_TOL) break;
    if (diff > 0) { /* too flat: narrow the Gaussian */
      beta_min = beta;
      beta = beta_max == INFINITY ? beta * 2 : (beta + beta_max) / 2;
    } else {
      beta_max = beta;
      beta = beta_min == -INFINITY ? beta / 2 : (beta + beta_min) / 2;
    }
  }
}

void lt_tsne_conditional(const float *d2, int64_t n, int k, double perplexity, double *p) {
  double target = log(perplexity);
#pragma omp parallel for schedule(dynamic, 64)
  for (int64_t i = 0; i < n; i++) calibrate_row(d2 + i * k, k, target, p + i * k);
}

typedef struct { int32_t col; double val; } entry;

static int entry_cmp(const void *a, const void *b) {
  int32_t x = ((const entry *)a)->col, y = ((const entry *)b)->col;
  return (x > y) - (x < y);
}

/* P = (C + C^T) / sum for the k-neighbour conditional C: each row gathers its
 * own entries and those pointing at it, sorted by column, duplicates added
 * (two terms, so the order of the sum cannot matter). */
static lt_status symmetrize(const int32_t *idx, const double *pc, int64_t n, int k, lt_tsne_p *p) {
  int64_t total = 2 * n * k, *off = lt_calloc((size_t)(n + 1) * sizeof(int64_t));
  entry *e = lt_alloc((size_t)total * sizeof(entry));
  lt_status st = LT_OK;
  if (!off || !e) { st = lt_error(LT_ERR_MEMORY, "tsne: out of memory symmetrising %lld affinities", (long long)total); goto done; }
  for (int64_t a = 0; a < n * k; a++) off[idx[a] + 1]++;
  for (int64_t i = 0; i < n; i++) off[i + 1] += off[i] + k; /* off[i]: start of row i */
  int64_t *at = lt_alloc((size_t)n * sizeof(int64_t)); /* next free slot of each row, then its length */
  if (!at) { st = lt_error(LT_ERR_MEMORY, "tsne: out of memory symmetrising"); goto done; }
  memcpy(at, off, (size_t)n * sizeof(int64_t));
  for (int64_t i = 0; i < n; i++)
    for (int a = 0; a < k; a++) {
      int32_t j = idx[i * k + a];
      double v = pc[i * k + a];
      e[at[i]++] = (entry){j, v};
      e[at[j]++] = (entry){(int32_t)i, v};
    }
  int64_t nnz = 0;
#pragma omp parallel for schedule(dynamic, 64)
  for (int64_t i = 0; i < n; i++) { /* sort and merge row i; its length goes to at[i] */
    entry *r = e + off[i];
    int64_t len = off[i + 1] - off[i], m = 0;
    qsort(r, (size_t)len, sizeof(entry), entry_cmp);
    for (int64_t a = 0; a < len; a++) {
      if (m > 0 && r[m - 1].col == r[a].col) r[m - 1].val += r[a].val;
      else r[m++] = r[a];
    }
    at[i] = m;
  }
  for (int64_t i = 0; i < n; i++) nnz += at[i];
  if ((st = p_alloc(p, n, nnz))) { lt_free(at, (size_t)n * sizeof(int64_t)); goto done; }
  double sum = 0;
  p->row[0] = 0;
  for (int64_t i = 0; i < n; i++) {
    for (int64_t a = 0; a < at[i]; a++) {
      int64_t to = p->row[i] + a;
      p->col[to] = e[off[i] + a].col, p->val[to] = e[off[i] + a].val;
      sum += p->val[to];
    }
    p->row[i + 1] = p->row[i] + at[i];
  }
  sum = sum > DBL_EPSILON ? sum : DBL_EPSILON;
  for (int64_t a = 0; a < nnz; a++) p->val[a] /= sum;
  lt_free(at, (size_t)n * sizeof(int64_t));
done:
  lt_free(off, (size_t)(n + 1) * sizeof(int64_t));
  lt_free(e, (size_t)total * sizeof(entry));
  return st;
}

/* Up to this many input dimensions the VP tree finds the neighbours
 * fastest; above, brute force through sgemm does (neighbors.h): on 10,000
 * points the tree takes 0.7 s at 8 dims, 1.4 s at 32 and 5.2 s at 128, brute
 * force 0.75, 0.8 and 2.2 s. Both are exact. */
#define VPTREE_MAX_DIMS 16

/* The k nearest rows of x (n x d) to each row of q (m x d), or to each row
 * of x itself (q NULL, excluding the row): idx and d2 (squared) are m x k. */
static lt_status knn(const float *x, int64_t n, const float *q, int64_t m, int64_t d, int k, int32_t *idx,
                     float *d2) {
  if (d > VPTREE_MAX_DIMS) {
    int64_t *wide = lt_alloc((size_t)(m * k) * sizeof(int64_t));
    if (!wide) return LT_ERR_MEMORY;
    lt_status st = lt_knn(x, n, q, m, d, k, wide, d2);
    for (int64_t a = 0; !st && a < m * k; a++) idx[a] = (int32_t)wide[a];
    lt_free(wide, (size_t)(m * k) * sizeof(int64_t));
    return st;
  }
  lt_vptree *tree = lt_vptree_build(x, n, d);
  if (!tree) return LT_ERR_MEMORY;
  lt_status st = LT_OK;
  if (!q) {
    st = lt_vptree_knn_self(tree, k, idx, d2);
  } else {
#pragma omp parallel for schedule(dynamic, 32)
    for (int64_t i = 0; i < m; i++) lt_vptree_query(tree, q + i * d, -1, k, idx + i * k, d2 + i * k);
  }
  lt_vptree_free(tree);
  return st;
}

/* The k = 3 * perplexity + 1 nearest neighbours of every row (scikit-learn's
 * and bhtsne's choice), their conditional affinities, symmetrised. */
static lt_status knn_affinities(const float *x, int64_t n, int64_t d, double perplexity, lt_tsne_p *p) {
  int k = (int)fmin((double)(n - 1), floor(3 * perplexity + 1));
  size_t nk = (size_t)(n * k);
  int32_t *idx = lt_alloc(nk * sizeof(int32_t));
  float *d2 = lt_alloc(nk * sizeof(float));
  double *pc = lt_alloc(nk * sizeof(double));
  lt_status st = idx && d2 && pc ? knn(x, n, NULL, n, d, k, idx, d2) : LT_ERR_MEMORY;
  if (st == LT_ERR_MEMORY) st = lt_error(LT_ERR_MEMORY, "tsne: out of memory for the neighbours of %lld points", (long long)n);
  if (!st) {
    lt_tsne_conditional(d2, n, k, perplexity, pc);
    st = symmetrize(idx, pc, n, k, p);
  }
  lt_free(idx, nk * sizeof(int32_t)), lt_free(d2, nk * sizeof(float)), lt_free(pc, nk * sizeof(double));
  return st;
}

/* Every pair (method 'exact'): dense rows of n - 1 entries, clamped below
 * at DBL_EPSILON after normalising, as scikit-learn's _joint_probabilities. */
static lt_status exact_affinities(const float *x, int64_t n, int64_t d, double perplexity, lt_tsne_p *p) {
  int64_t k = n - 1;
  size_t nk = (size_t)(n * k);
  float *d2 = lt_alloc(nk * sizeof(float));
  double *pc = lt_alloc(nk * sizeof(double));
  lt_status st = d2 && pc ? p_alloc(p, n, n * k) : lt_error(LT_ERR_MEMORY, "tsne: out of memory for %lld pairs", (long long)nk);
  if (!st) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0, a = 0; j < n; j++) {
        if (j == i) continue;
        double s = 0;
        for (int64_t c = 0; c < d; c++) {
          double t = (double)x[i * d + c] - x[j * d + c];
          s += t * t;
        }
        d2[i * k + a++] = (float)s;
      }
    lt_tsne_conditional(d2, n, (int)k, perplexity, pc);
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
      p->row[i] = i * k;
      for (int64_t j = 0, a = 0; j < n; j++) {
        if (j == i) continue;
        double v = pc[i * k + a] + pc[j * k + (i < j ? i : i - 1)];
        p->col[i * k + a] = (int32_t)j, p->val[i * k + a] = v, sum += v;
        a++;
      }
    }
    p->row[n] = n * k;
    sum = sum > DBL_EPSILON ? sum : DBL_EPSILON;
    for (int64_t a = 0; a < n * k; a++) p->val[a] = fmax(p->val[a] / sum, DBL_EPSILON);
  }
  lt_free(d2, nk * sizeof(float)), lt_free(pc, nk * sizeof(double));
  return st;
}

lt_status lt_tsne_affinities(const float *x, int64_t n, int64_t d, double perplexity, bool exact, lt_tsne_p *p) {
  memset(p, 0, sizeof *p);
  return exact ? exact_affinities(x, n, d, perplexity, p) : knn_affinities(x, n, d, perplexity, p);
}

lt_status lt_tsne_joint_p(const lt_tensor *x, double perplexity, bool exact, lt_tensor *out) {
  int64_t n = x->shape[0];
  lt_tensor *xc = lt_tensor_contiguous_values((lt_tensor *)x);
  if (!xc) return LT_ERR_MEMORY;
  lt_tsne_p p;
  lt_status st = lt_tsne_affinities(lt_tensor_data(xc), n, x->shape[1], perplexity, exact, &p);
  lt_tensor_release(xc);
  if (st) return st;
  float *o = lt_tensor_data(out);
  memset(o, 0, (size_t)(n * n) * sizeof(float));
  for (int64_t i = 0; i < n; i++)
    for (int64_t a = p.row[i]; a < p.row[i + 1]; a++) o[i * n + p.col[a]] = (float)p.val[a];
  lt_tensor_bump_version(out);
  lt_tsne_p_free(&p);
  return LT_OK;
}

/* ==================== initialisation ==================== */

/* scikit-learn's init='pca' (1.2): the principal-component scores, each
 * column's sign set so its largest-magnitude entry is positive (svd_flip on
 * U: pca.h's LT_PCA_SIGN_SCORES), all divided by the standard deviation of
 * the first and multiplied by 1e-4. */
static lt_status pca_init(const lt_tensor *x, int dims, double *y) {
  lt_pca_model m;
  lt_status st = lt_pca_fit(&m, x, dims, LT_PCA_SIGN_SCORES);
  if (st) return st;
  lt_tensor *scores = lt_pca_transform(x, m.mean, m.components, NULL);
  lt_pca_model_release(&m);
  if (!scores) return LT_ERR_MEMORY;
  int64_t n = x->shape[0];
  const float *sc = lt_tensor_data(scores); /* n x dims, contiguous */
  double mean = 0, var = 0;
  for (int64_t i = 0; i < n; i++) mean += sc[i * dims];
  mean /= n;
  for (int64_t i = 0; i < n; i++) var += (sc[i * dims] - mean) * (sc[i * dims] - mean);
  double scale = var > 0 ? INIT_STD / sqrt(var / n) : 0;
  for (int64_t a = 0; a < n * dims; a++) y[a] = sc[a] * scale;
  lt_tensor_release(scores);
  return LT_OK;
}

static void random_init(const lt_tsne_options *o, int64_t n, double *y) {
  lt_rng_state saved;
  if (o->has_seed) { /* a private stream: the caller's generator is left as it was */
    lt_rng_get_state(&saved);
    lt_rng_seed(o->seed);
  }
  for (int64_t a = 0; a < n * o->dims; a++) y[a] = INIT_STD * lt_rng_normal();
  if (o->has_seed) lt_rng_set_state(&saved);
}

static lt_status initialise(const lt_tsne_options *o, const lt_tensor *x, double *y) {
  int64_t n = x->shape[0];
  if (o->init) {
    const lt_tensor *t = o->init;
    const float *base = t->storage->data + t->offset;
    for (int64_t i = 0; i < n; i++)
      for (int a = 0; a < o->dims; a++) y[i * o->dims + a] = base[i * t->stride[0] + a * t->stride[1]];
    return LT_OK;
  }
  if (o->init_random) {
    random_init(o, n, y);
    return LT_OK;
  }
  return pca_init(x, o->dims, y);
}

/* ==================== the gradient ==================== */

struct lt_tsne_work {
  int64_t n;
  int dims;
  lt_tsne_method method;
  double angle, dof;
  double *f, *z, *kl_row; /* repulsion (n x dims), each point's share of Z, of the KL */
  float *yf;              /* the embedding in float, for the attraction's gathers */
  float *pf;              /* P's values in float, copied from `pf_of` */
  const double *pf_of;
  int64_t pf_nnz;
  lt_bh_tree *tree;
  lt_fft_repulsion *fft;
};

void lt_tsne_work_free(lt_tsne_work *w) {
  if (!w) return;
  lt_free(w->f, (size_t)(w->n * w->dims) * sizeof(double));
  lt_free(w->z, (size_t)w->n * sizeof(double));
  lt_free(w->kl_row, (size_t)w->n * sizeof(double));
  lt_free(w->yf, (size_t)(w->n * w->dims) * sizeof(float));
  lt_free(w->pf, (size_t)w->pf_nnz * sizeof(float));
  lt_bh_tree_free(w->tree);
  lt_fft_repulsion_free(w->fft);
  lt_free(w, sizeof *w);
}

lt_tsne_work *lt_tsne_work_new(int64_t n, int dims, lt_tsne_method method, double angle) {
  lt_tsne_work *w = lt_calloc(sizeof *w);
  if (!w) return NULL;
  *w = (lt_tsne_work){.n = n, .dims = dims, .method = method, .angle = angle, .dof = dims > 2 ? dims - 1 : 1};
  w->f = lt_alloc((size_t)(n * dims) * sizeof(double));
  w->z = lt_alloc((size_t)n * sizeof(double));
  w->kl_row = lt_alloc((size_t)n * sizeof(double));
  w->yf = lt_alloc((size_t)(n * dims) * sizeof(float));
  bool ok = w->f && w->z && w->kl_row && w->yf;
  if (ok && method == LT_TSNE_BARNES_HUT) ok = (w->tree = lt_bh_tree_new(dims)) != NULL;
  if (ok && method == LT_TSNE_FFT) ok = (w->fft = lt_fft_repulsion_new()) != NULL;
  if (!ok) {
    lt_tsne_work_free(w);
    lt_error(LT_ERR_MEMORY, "tsne: out of memory for the gradient of %lld points", (long long)n);
    return NULL;
  }
  return w;
}

/* The Student-t kernel w = (1 + d2/dof)^(-(dof+1)/2) and u = 1 / (1 + d2/dof). */
static inline __attribute__((always_inline)) void student(double d2, double dof, double *w, double *u) {
  if (dof == 1) {
    *u = *w = 1 / (1 + d2);
  } else if (dof == 2) {
    *u = 1 / (1 + 0.5 * d2);
    *w = *u * sqrt(*u);
  } else {
    *u = 1 / (1 + d2 / dof);
    *w = pow(*u, 0.5 * (dof + 1));
  }
}

static inline __attribute__((always_inline)) double sqdist(const double *a, const double *b, int D, double *diff) {
  double s = 0;
  for (int c = 0; c < D; c++) diff[c] = a[c] - b[c], s += diff[c] * diff[c];
  return s;
}

/* Every pair: z[i] = sum_j w_ij, f[i] = sum_j w_ij u_ij (y_i - y_j). */
static void exact_repulsion(const lt_tsne_work *w, const double *y) {
  int64_t n = w->n;
  int D = w->dims;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) {
    double *f = w->f + i * D, z = 0, diff[D], k, u;
    for (int c = 0; c < D; c++) f[c] = 0;
    for (int64_t j = 0; j < n; j++) {
      if (j == i) continue;
      student(sqdist(y + i * D, y + j * D, D, diff), w->dof, &k, &u);
      z += k;
      for (int c = 0; c < D; c++) f[c] += k * u * diff[c];
    }
    w->z[i] = z;
  }
}

enum { CHUNK = 64, LANES = 8 }; /* neighbours gathered at a time; independent partial sums */

/* Row i of the attraction, g = sum_j p_ij u_ij (y_i - y_j) over P's
 * entries, in float: the neighbours' offsets are gathered in chunks, so the
 * kernel loop runs as SIMD (in a fixed order). D is a constant at each call
 * site (2: dof 1, 3: dof 2). */
static inline __attribute__((always_inline)) void attract_row(const lt_tsne_p *p, const float *pf, int64_t i,
                                                             const float *y, double *g, const int D) {
  float dx[3][CHUNK + LANES], tail[LANES];
  double acc[3] = {0, 0, 0};
  const float *yi = y + i * D;
  for (int64_t a0 = p->row[i]; a0 < p->row[i + 1]; a0 += CHUNK) {
    int m = p->row[i + 1] - a0 < CHUNK ? (int)(p->row[i + 1] - a0) : CHUNK;
    for (int a = 0; a < m; a++) {
      const float *yj = y + (int64_t)p->col[a0 + a] * D;
      for (int d = 0; d < D; d++) dx[d][a] = yi[d] - yj[d];
    }
    const float *pv = pf + a0;
    int full = m - m % LANES;
    if (full < m) { /* the last few, padded with zero weights */
      for (int l = 0; l < LANES; l++) {
        tail[l] = full + l < m ? pv[full + l] : 0;
        for (int d = 0; d < D; d++) dx[d][full + l] = full + l < m ? dx[d][full + l] : 0;
      }
    }
    float s[3][LANES] = {{0}};
    for (int a = 0; a < m; a += LANES) {
      const float *w = a < full ? pv + a : tail;
      for (int l = 0; l < LANES; l++) {
        float d2 = 0;
        for (int d = 0; d < D; d++) d2 += dx[d][a + l] * dx[d][a + l];
        float pu = w[l] / (1.0f + (D == 2 ? d2 : 0.5f * d2));
        for (int d = 0; d < D; d++) s[d][l] += pu * dx[d][a + l];
      }
    }
    for (int d = 0; d < D; d++)
      for (int l = 0; l < LANES; l++) acc[d] += s[d][l];
  }
  for (int d = 0; d < D; d++) g[d] = acc[d];
}

/* Row i's KL term, sum_j p log(p / q), in double, P and Q floored as
 * scikit-learn does; only every CHECK_EVERY iterations. */
static double kl_row(const lt_tsne_p *p, int64_t i, const double *y, int D, double dof, double ex, double zsum,
                     double floor_) {
  double diff[D], k, u, kl = 0;
  for (int64_t a = p->row[i]; a < p->row[i + 1]; a++) {
    student(sqdist(y + i * D, y + (int64_t)p->col[a] * D, D, diff), dof, &k, &u);
    double pe = ex * p->val[a];
    kl += pe * log(fmax(pe, floor_) / fmax(k / zsum, floor_));
  }
  return kl;
}

/* The attraction for any number of dims (method 'exact' only), in double. */
static void attract_row_any(const lt_tsne_p *p, int64_t i, const double *y, double ex, double *g, int D,
                            double dof) {
  double diff[D], k, u;
  for (int c = 0; c < D; c++) g[c] = 0;
  for (int64_t a = p->row[i]; a < p->row[i + 1]; a++) {
    student(sqdist(y + i * D, y + (int64_t)p->col[a] * D, D, diff), dof, &k, &u);
    for (int c = 0; c < D; c++) g[c] += ex * p->val[a] * u * diff[c];
  }
}

/* P's values in float, copied once per P. */
static lt_status float_p(lt_tsne_work *w, const lt_tsne_p *p) {
  if (w->pf_of == p->val && w->pf_nnz == p->nnz) return LT_OK;
  lt_free(w->pf, (size_t)w->pf_nnz * sizeof(float));
  w->pf_nnz = 0, w->pf_of = NULL;
  if (!(w->pf = lt_alloc((size_t)p->nnz * sizeof(float)))) return LT_ERR_MEMORY;
  for (int64_t a = 0; a < p->nnz; a++) w->pf[a] = (float)p->val[a];
  w->pf_nnz = p->nnz, w->pf_of = p->val;
  return LT_OK;
}

/* grad = ex * attraction, and each row's KL term when asked. */
static void attraction(lt_tsne_work *w, const lt_tsne_p *p, const double *y, double ex, double zsum, double *grad,
                       bool want_kl) {
  int D = w->dims;
  double floor_ = w->method == LT_TSNE_EXACT ? DBL_EPSILON : FLT_MIN, dof = w->dof;
  for (int64_t a = 0; a < p->n * D; a++) w->yf[a] = (float)y[a];
#pragma omp parallel for schedule(static, 256)
  for (int64_t i = 0; i < p->n; i++) {
    double *g = grad + i * D;
    if (D == 2) attract_row(p, w->pf, i, w->yf, g, 2);
    else if (D == 3) attract_row(p, w->pf, i, w->yf, g, 3);
    else attract_row_any(p, i, y, 1, g, D, dof);
    for (int d = 0; d < D; d++) g[d] *= ex;
    w->kl_row[i] = want_kl ? kl_row(p, i, y, D, dof, ex, zsum, floor_) : 0;
  }
}

lt_status lt_tsne_gradient(lt_tsne_work *w, const lt_tsne_p *p, const double *y, double exaggeration,
                           double *grad, double *kl) {
  int64_t n = w->n;
  int D = w->dims;
  double zsum = 0;
  lt_status st = LT_OK;
  if (w->method == LT_TSNE_FFT) {
    st = lt_fft_repulsion_2d(w->fft, y, n, w->f, &zsum);
  } else {
    if (w->method == LT_TSNE_EXACT) exact_repulsion(w, y);
    else if (!(st = lt_bh_tree_build(w->tree, y, n))) st = lt_bh_tree_repulsion(w->tree, w->angle, w->f, w->z);
    for (int64_t i = 0; i < n; i++) zsum += w->z[i]; /* in order: the same sum for any thread count */
  }
  if (st) return st;
  if (float_p(w, p)) return lt_error(LT_ERR_MEMORY, "tsne: out of memory for %lld affinities", (long long)p->nnz);
  zsum = fmax(zsum, DBL_MIN);
  attraction(w, p, y, exaggeration, zsum, grad, kl != NULL);
  double c = 2 * (w->dof + 1) / w->dof;
  for (int64_t a = 0; a < n * D; a++) grad[a] = c * (grad[a] - w->f[a] / zsum);
  if (kl) {
    *kl = 0;
    for (int64_t i = 0; i < n; i++) *kl += w->kl_row[i];
  }
  return LT_OK;
}

/* ==================== the optimiser ==================== */

typedef struct {
  const lt_tsne_options *o;
  const lt_tsne_p *p;
  lt_tsne_work *work;
  int64_t n;
  int dims;
  double lr, t0;
  double *y, *update, *gains, *grad;
  double kl, kl_exaggeration; /* the last KL evaluated, and the exaggeration it was taken under */
} run;

static double seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One gradient step with momentum and per-coordinate gains (Jacobs 1988, as
 * scikit-learn's _gradient_descent); returns the norm of the gained gradient. */
static double step(run *r, double momentum) {
  double norm = 0;
  for (int64_t a = 0; a < r->n * r->dims; a++) {
    double g = r->grad[a];
    r->gains[a] = r->update[a] * g < 0 ? r->gains[a] + 0.2 : r->gains[a] * 0.8;
    if (r->gains[a] < MIN_GAIN) r->gains[a] = MIN_GAIN;
    g *= r->gains[a];
    norm += g * g;
    r->update[a] = momentum * r->update[a] - r->lr * g;
    r->y[a] += r->update[a];
  }
  return sqrt(norm);
}

/* Iterations [start, end) of one phase; *last receives the last one run.
 * Every CHECK_EVERY iterations: report, then stop early when the KL has not
 * improved for `patience` iterations or the gradient has vanished. */
static lt_status descend(run *r, int start, int end, double momentum, double ex, int patience, int *last) {
  double best = DBL_MAX;
  int best_i = start, i;
  for (i = start; i < end; i++) {
    bool check = (i + 1) % CHECK_EVERY == 0;
    double kl = 0;
    lt_status st = lt_tsne_gradient(r->work, r->p, r->y, ex, r->grad, check || i == end - 1 ? &kl : NULL);
    if (st) return st;
    double norm = step(r, momentum);
    if (check || i == end - 1) r->kl = kl, r->kl_exaggeration = ex;
    if (!check) continue;
    if (r->o->progress) r->o->progress(r->o->progress_ud, i + 1, kl, seconds() - r->t0);
    if (kl < best) best = kl, best_i = i;
    else if (i - best_i > patience) break;
    if (norm <= r->o->min_grad_norm) break;
  }
  *last = i < end ? i : end - 1;
  return LT_OK;
}

static lt_status optimise(run *r) {
  const lt_tsne_options *o = r->o;
  int explore = o->exaggeration_iterations < o->iterations ? o->exaggeration_iterations : o->iterations, last = -1;
  lt_status st = LT_OK;
  if (explore > 0) /* scikit-learn's patience in this phase is the phase's length */
    st = descend(r, 0, explore, 0.5, o->early_exaggeration, o->exaggeration_iterations, &last);
  if (!st && last + 1 < o->iterations) st = descend(r, last + 1, o->iterations, 0.8, 1, o->n_iter_without_progress, &last);
  if (!st && r->kl_exaggeration != 1) { /* the run ended exaggerated: report the plain KL */
    st = lt_tsne_gradient(r->work, r->p, r->y, 1, r->grad, &r->kl);
    r->kl_exaggeration = 1;
  }
  if (!st && o->progress && (last + 1) % CHECK_EVERY != 0)
    o->progress(o->progress_ud, last + 1, r->kl, seconds() - r->t0);
  return st;
}

lt_status lt_tsne_fit(const lt_tensor *x, const lt_tsne_options *o, lt_tensor *y, double *kl) {
  lt_status st = lt_tsne_check(x, o);
  if (st) return st;
  int64_t n = x->shape[0], d = x->shape[1];
  int D = o->dims;
  if (y->ndim != 2 || y->shape[0] != n || y->shape[1] != D || !lt_tensor_is_contiguous(y))
    return lt_error(LT_ERR_SHAPE, "tsne: the output must be a contiguous %lldx%d tensor", (long long)n, D);
  run r = {.o = o, .n = n, .dims = D, .t0 = seconds(), .kl_exaggeration = 1};
  r.lr = o->learning_rate > 0 ? o->learning_rate : fmax(n / o->early_exaggeration / 4, 50);
  lt_tensor *xc = lt_tensor_contiguous_values((lt_tensor *)x);
  lt_tsne_p p = {0};
  size_t vb = (size_t)(n * D) * sizeof(double);
  r.y = lt_alloc(vb), r.update = lt_calloc(vb), r.gains = lt_alloc(vb), r.grad = lt_alloc(vb);
  if (!xc || !r.y || !r.update || !r.gains || !r.grad) {
    st = lt_error(LT_ERR_MEMORY, "tsne: out of memory for %lld points", (long long)n);
    goto done;
  }
  for (int64_t a = 0; a < n * D; a++) r.gains[a] = 1;
  const float *xd = lt_tensor_data(xc);
  if ((st = lt_tsne_affinities(xd, n, d, o->perplexity, o->method == LT_TSNE_EXACT, &p))) goto done;
  if ((st = initialise(o, xc, r.y))) goto done;
  r.p = &p;
  if (!(r.work = lt_tsne_work_new(n, D, o->method, o->angle))) { st = LT_ERR_MEMORY; goto done; }
  if ((st = optimise(&r))) goto done;
  float *out = lt_tensor_data(y);
  for (int64_t a = 0; a < n * D; a++) out[a] = (float)r.y[a];
  lt_tensor_bump_version(y);
  *kl = r.kl;
done:
  lt_tsne_work_free(r.work);
  lt_tsne_p_free(&p);
  lt_tensor_release(xc);
  lt_free(r.y, vb), lt_free(r.update, vb), lt_free(r.gains, vb), lt_free(r.grad, vb);
  return st;
}

/* ==================== transform ==================== */

#define TRANSFORM_LR 0.1        /* openTSNE's transform defaults: learning rate, */
#define TRANSFORM_MOMENTUM 0.8  /* momentum, */
#define TRANSFORM_MAX_GRAD 0.25 /* and the largest gradient norm of one point */

void lt_tsne_transform_options_default(lt_tsne_options *o) {
  lt_tsne_options_default(o);
  o->perplexity = 5, o->iterations = 250, o->exaggeration_iterations = 0;
}

static lt_status check_transform(const lt_tensor *xn, const lt_tensor *x, const lt_tensor *y,
                                 const lt_tsne_options *o) {
  char b1[LT_SHAPE_STR], b2[LT_SHAPE_STR], b3[LT_SHAPE_STR];
  if (xn->ndim != 2 || x->ndim != 2 || y->ndim != 2 || xn->shape[1] != x->shape[1] || y->shape[0] != x->shape[0] ||
      (y->shape[1] != 2 && y->shape[1] != 3) || x->shape[0] < 2)
    return lt_error(LT_ERR_SHAPE, "tsne.transform: x_new (m x d), x (n x d, n >= 2) and its embedding y (n x 2 "
                    "or n x 3) do not fit: got %s, %s and %s", LT_SHAPE(xn, b1), LT_SHAPE(x, b2), LT_SHAPE(y, b3));
  if (!(o->perplexity > 0 && o->perplexity < x->shape[0]))
    return lt_error(LT_ERR_ARG, "tsne.transform: perplexity (%g) must be positive and less than the number of "
                    "embedded points (%lld)", o->perplexity, (long long)x->shape[0]);
  if (o->iterations < 0) return lt_error(LT_ERR_ARG, "tsne.transform: iterations must not be negative, got %d", o->iterations);
  if (!(o->learning_rate >= 0) || isinf(o->learning_rate))
    return lt_error(LT_ERR_ARG, "tsne.transform: learning_rate must be positive or 'auto', got %g", o->learning_rate);
  if (!(o->angle >= 0 && o->angle <= 1))
    return lt_error(LT_ERR_ARG, "tsne.transform: angle must be in [0, 1], got %g", o->angle);
  const lt_tensor *ts[3] = {xn, x, y};
  const char *names[3] = {"x_new", "x", "y"};
  for (int t = 0; t < 3; t++) {
    int64_t bad = first_bad_row(ts[t]);
    if (bad) return lt_error(LT_ERR_ARG, "tsne.transform: %s row %lld holds a NaN or an infinite value", names[t], (long long)bad);
  }
  return LT_OK;
}

/* New points placed into a fixed embedding: each descends its own KL. */
typedef struct {
  const lt_tsne_options *o;
  int64_t m;
  int k, dims;
  double dof, lr;
  const int32_t *idx; /* m x k: neighbours among the embedded points */
  const double *p;    /* m x k: conditional affinities, rows summing to 1 */
  const double *yt;   /* the fixed embedding, n x dims */
  const lt_bh_tree *tree;
  double *y, *update, *gains, *kl_row;
} placing;

/* Point i's gradient of KL(P_i || Q_i), Q_i = w_i. / sum_j w_ij over the
 * embedded points (Barnes-Hut for the sum), and its KL when asked. */
static double place_grad(const placing *pl, int64_t i, double *g, bool want_kl) {
  int D = pl->dims;
  const double *yi = pl->y + i * D;
  double f[3], z, a[3] = {0, 0, 0}, diff[3], w, u, kl = 0;
  lt_bh_tree_repulsion_at(pl->tree, yi, pl->o->angle, f, &z);
  z = fmax(z, DBL_MIN);
  for (int j = 0; j < pl->k; j++) {
    double pij = pl->p[i * pl->k + j];
    student(sqdist(yi, pl->yt + (int64_t)pl->idx[i * pl->k + j] * D, D, diff), pl->dof, &w, &u);
    for (int d = 0; d < D; d++) a[d] += pij * u * diff[d];
    if (want_kl) kl += pij * log(fmax(pij, FLT_MIN) / fmax(w / z, FLT_MIN));
  }
  for (int d = 0; d < D; d++) g[d] = (pl->dof + 1) / pl->dof * (a[d] - f[d] / z);
  return kl;
}

static double mean_kl(const placing *pl) {
  double s = 0;
  for (int64_t i = 0; i < pl->m; i++) s += pl->kl_row[i];
  return s / (double)pl->m;
}

/* Gradient steps with momentum, gains and each point's gradient norm
 * clipped; the points are independent, so threads split them freely. */
static double place(placing *pl) {
  const lt_tsne_options *o = pl->o;
  double t0 = seconds();
  for (int it = 0; it <= o->iterations; it++) {
    bool last = it == o->iterations, report = o->progress && !last && (it + 1) % CHECK_EVERY == 0;
#pragma omp parallel for schedule(dynamic, 16)
    for (int64_t i = 0; i < pl->m; i++) {
      double g[3], norm = 0;
      pl->kl_row[i] = place_grad(pl, i, g, last || report);
      if (last) continue; /* the final pass only measures */
      for (int d = 0; d < pl->dims; d++) norm += g[d] * g[d];
      norm = sqrt(norm);
      for (int d = 0; d < pl->dims; d++) {
        int64_t a = i * pl->dims + d;
        double gd = norm > TRANSFORM_MAX_GRAD ? g[d] * TRANSFORM_MAX_GRAD / norm : g[d];
        pl->gains[a] = pl->update[a] * gd < 0 ? pl->gains[a] + 0.2 : fmax(pl->gains[a] * 0.8, MIN_GAIN);
        pl->update[a] = TRANSFORM_MOMENTUM * pl->update[a] - pl->lr * pl->gains[a] * gd;
        pl->y[a] += pl->update[a];
      }
    }
    if (report) o->progress(o->progress_ud, it + 1, mean_kl(pl), seconds() - t0);
  }
  return mean_kl(pl);
}

/* Start: each new point at the affinity-weighted mean of its neighbours. */
static void place_start(placing *pl) {
  for (int64_t i = 0; i < pl->m; i++)
    for (int d = 0; d < pl->dims; d++) {
      double s = 0;
      for (int j = 0; j < pl->k; j++) s += pl->p[i * pl->k + j] * pl->yt[(int64_t)pl->idx[i * pl->k + j] * pl->dims + d];
      pl->y[i * pl->dims + d] = s;
      pl->gains[i * pl->dims + d] = 1, pl->update[i * pl->dims + d] = 0;
    }
}

lt_status lt_tsne_transform(const lt_tensor *xn, const lt_tensor *x, const lt_tensor *y, const lt_tsne_options *o,
                            lt_tensor *out, double *kl) {
  lt_status st = check_transform(xn, x, y, o);
  if (st) return st;
  int64_t n = x->shape[0], m = xn->shape[0], d = x->shape[1];
  int D = (int)y->shape[1], k = (int)fmin((double)n, floor(3 * o->perplexity + 1));
  if (out->ndim != 2 || out->shape[0] != m || out->shape[1] != D || !lt_tensor_is_contiguous(out))
    return lt_error(LT_ERR_SHAPE, "tsne.transform: the output must be a contiguous %lldx%d tensor", (long long)m, D);
  placing pl = {.o = o, .m = m, .k = k, .dims = D, .dof = D > 2 ? D - 1 : 1,
                .lr = o->learning_rate > 0 ? o->learning_rate : TRANSFORM_LR};
  lt_tensor *xc = lt_tensor_contiguous_values((lt_tensor *)x), *xnc = lt_tensor_contiguous_values((lt_tensor *)xn);
  size_t mk = (size_t)(m * k), mD = (size_t)(m * D) * sizeof(double), nD = (size_t)(n * D) * sizeof(double);
  int32_t *idx = lt_alloc(mk * sizeof(int32_t));
  float *d2 = lt_alloc(mk * sizeof(float));
  double *p = lt_alloc(mk * sizeof(double)), *yt = lt_alloc(nD);
  pl.y = lt_alloc(mD), pl.update = lt_alloc(mD), pl.gains = lt_alloc(mD), pl.kl_row = lt_alloc((size_t)m * sizeof(double));
  lt_bh_tree *tree = xc && xnc && idx && d2 && p && yt && pl.y && pl.update && pl.gains && pl.kl_row
                         ? lt_bh_tree_new(D) : NULL;
  if (!tree) { st = lt_error(LT_ERR_MEMORY, "tsne.transform: out of memory for %lld points", (long long)m); goto done; }
  if ((st = knn(lt_tensor_data(xc), n, lt_tensor_data(xnc), m, d, k, idx, d2))) goto done;
  lt_tsne_conditional(d2, m, k, o->perplexity, p);
  const float *yv = y->storage->data + y->offset;
  for (int64_t i = 0; i < n; i++)
    for (int a = 0; a < D; a++) yt[i * D + a] = yv[i * y->stride[0] + a * y->stride[1]];
  if ((st = lt_bh_tree_build(tree, yt, n))) goto done;
  pl.idx = idx, pl.p = p, pl.yt = yt, pl.tree = tree;
  place_start(&pl);
  *kl = place(&pl);
  float *o_ = lt_tensor_data(out);
  for (int64_t a = 0; a < m * D; a++) o_[a] = (float)pl.y[a];
  lt_tensor_bump_version(out);
done:
  lt_bh_tree_free(tree);
  lt_tensor_release(xc), lt_tensor_release(xnc);
  lt_free(idx, mk * sizeof(int32_t)), lt_free(d2, mk * sizeof(float)), lt_free(p, mk * sizeof(double)), lt_free(yt, nD);
  lt_free(pl.y, mD), lt_free(pl.update, mD), lt_free(pl.gains, mD), lt_free(pl.kl_row, (size_t)m * sizeof(double));
  return st;
}
