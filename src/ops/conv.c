/* conv2d and conv_transpose2d: forward and backward side by side. The
 * im2col/col2im they use live in im2col.c (layouts described in im2col.h).
 *
 * Both ops see the convolution from its image side (a `geom`: conv2d's
 * input, conv_transpose2d's output) with a weight W of co x K, K = c kh kw:
 *   conv2d            y = W im2col(x) + b          grad_x = col2im(W^T gy)
 *                     grad_w = gy im2col(x)^T
 *   conv_transpose2d  y = col2im(W^T x) + b        grad_x = W im2col(gy)
 *                     grad_w = x im2col(gy)^T
 * Images go through in chunks whose columns lie side by side (K rows, one
 * column per kernel position of each image), so one sgemm covers a chunk
 * rather than one tiny GEMM per image; the operand on the other side (co
 * channels) is gathered to / scattered from that channel-major layout.
 *
 * Threads: one OpenMP region per call, each thread taking whole chunks
 * (im2col, GEMM, col2im and gathers of a chunk on one core, its columns hot
 * in that core's cache) with its own scratch; weight and bias gradients are
 * summed per thread, then across threads in a fixed order. The GEMMs run
 * inside the region: OpenBLAS's OpenMP build runs a call made from inside a
 * parallel region on the calling thread (common_thread.h, num_cpu_avail),
 * so the two never oversubscribe the cores. This replaced a region per
 * im2col/gather loop plus BLAS's own threads per GEMM, whose fork/join
 * costs ate the second thread's gain: on 2 threads a training step of the
 * reference autoencoder now takes 1/1.35 of the time it took then (A/B in
 * one process, alternating steps). A call with a single chunk (one image)
 * runs outside any region instead, where BLAS and the im2col loops use all
 * threads. conv2d keeps the columns of its input for the weight gradient
 * (up to KEEP_FLOATS) instead of building them again in backward (3%
 * faster than rebuilding them, on 1 thread and on 2). */
#include "ops/conv.h"
#include "autograd/graph.h"
#include "core/lt_alloc.h"
#include "core/lt_profile.h"
#include "ops/im2col.h"
#include "ops/view.h"

#include <cblas.h>
#include <limits.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

/* Floats of scratch (columns and the other side's operand) per chunk of
 * images and thread: small enough that a chunk's columns stay in the core's
 * L2 between im2col and the GEMM (or the GEMM and col2im). */
#define CHUNK_FLOATS ((int64_t)1 << 16)
/* conv2d keeps the columns of its input for backward up to this many floats. */
#define KEEP_FLOATS ((int64_t)1 << 23)

typedef lt_conv_geom geom;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* C (M x N) = op(A) op(B) + beta C, row-major. Inside a parallel region it
 * runs on the calling thread (see the top of the file). */
static void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                 const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  if (K == 0) { /* an empty sum */
    if (beta == 0.0f)
      for (int64_t r = 0; r < M; r++) memset(C + r * ldc, 0, (size_t)N * sizeof *C);
    return;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N,
              (int)K, 1.0f, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

static bool pointwise(const geom *g) {
  return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0;
}

/* y[ci][k] += b[ci] for co channels of l values. */
static void add_bias(float *y, int64_t co, int64_t l, const float *b) {
  for (int64_t ci = 0; ci < co; ci++)
    for (int64_t k = 0; k < l; k++) y[ci * l + k] += b[ci];
}

/* acc[r] += the sum of row r of x (rows rows of n floats, ld apart). */
static void add_row_sums(const float *x, int64_t rows, int64_t n, int64_t ld, double *acc) {
  for (int64_t r = 0; r < rows; r++) {
    const float *s = x + r * ld;
    float part = 0;
#pragma omp simd reduction(+ : part)
    for (int64_t k = 0; k < n; k++) part += s[k];
    acc[r] += part;
  }
}

/* ==================== chunks and threads ==================== */

/* How a call's n images are split: chunk c holds images [c n / chunks,
 * (c + 1) n / chunks), at most nb of them; `threads` threads take equal
 * numbers of chunks. */
typedef struct {
  int64_t chunks, nb;
  int threads;
} plan;

static plan make_plan(int64_t n, int64_t floats_per_image) {
  int64_t nb = floats_per_image > 0 ? max64(1, CHUNK_FLOATS / floats_per_image) : n;
  int64_t chunks = (n + nb - 1) / nb;
  const int T = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (T > 1 && n > 1) { /* at least one chunk per thread, the same number for each */
    chunks = (max64(chunks, T) + T - 1) / T * T;
    chunks = min64(chunks, n);
  }
  return (plan){chunks, (n + chunks - 1) / chunks, (int)min64(T, chunks)};
}

static void chunk_range(const plan *p, int64_t n, int64_t c, int64_t *n0, int64_t *m) {
  *n0 = c * n / p->chunks;
  *m = (c + 1) * n / p->chunks - *n0;
}

/* One thread's buffers: the columns of a chunk (K x nb lp), the other
 * side's operand (co x nb lp), im2col's work, and the thread's weight and
 * bias gradient sums (co x K, and one double per bias channel). */
typedef struct {
  float *col, *tmp, *work, *gw;
  double *gb;
} slot;

/* What a kernel needs: columns, the other side's operand, im2col's work,
 * gradient sums. */
typedef struct {
  bool col, tmp, work, gw;
  int64_t gb; /* bias channels, 0 for none */
} needs;

typedef struct {
  void *base;
  size_t bytes;
  int64_t stride; /* floats per thread */
  int64_t at_tmp, at_work, at_gw, at_gb;
} scratch;

static int64_t round16(int64_t n) { return (n + 15) / 16 * 16; } /* 64-byte steps */

/* The columns and the other side's operand of one image (im2col's work is
 * a few KB whatever the chunk). */
static int64_t per_image_floats(const geom *g) { return (lt_conv_k(g) + g->co) * lt_conv_lp(g); }

static lt_status scratch_init(scratch *s, const geom *g, const plan *p, needs nd) {
  const int64_t nl = p->nb * lt_conv_lp(g);
  *s = (scratch){0};
  s->at_tmp = nd.col ? round16(lt_conv_k(g) * nl) : 0;
  s->at_work = s->at_tmp + (nd.tmp ? round16(g->co * nl) : 0);
  s->at_gw = s->at_work + (nd.work ? round16((int64_t)lt_im2col_work_floats(g, p->nb)) : 0);
  s->at_gb = s->at_gw + (nd.gw ? round16(g->co * lt_conv_k(g)) : 0);
  s->stride = s->at_gb + round16(2 * nd.gb); /* doubles */
  s->bytes = (size_t)(s->stride * p->threads) * sizeof(float);
  if (!s->bytes) return LT_OK;
  s->base = lt_alloc(s->bytes);
  return s->base ? LT_OK : LT_ERR_MEMORY;
}

static slot scratch_slot(const scratch *s, int thread) {
  float *b = (float *)s->base + thread * s->stride;
  return (slot){b, b + s->at_tmp, b + s->at_work, b + s->at_gw, (double *)(b + s->at_gb)};
}

static void scratch_free(scratch *s) { lt_free(s->base, s->bytes); }

/* Thread t's gradient sums start at zero. */
static void slot_zero(const slot *s, const geom *g, needs nd) {
  if (nd.gw) memset(s->gw, 0, (size_t)(g->co * lt_conv_k(g)) * sizeof *s->gw);
  if (nd.gb) memset(s->gb, 0, (size_t)nd.gb * sizeof *s->gb);
}

/* gw and gb (either may be NULL) = the sums of the threads' parts, thread 0 first. */
static void reduce_slots(const scratch *s, const plan *p, const geom *g, needs nd, float *gw, float *gb) {
  const int64_t nw = g->co * lt_conv_k(g);
  double *gb0 = scratch_slot(s, 0).gb;
  for (int t = 0; t < p->threads; t++) {
    const slot sl = scratch_slot(s, t);
    if (gw && t == 0) memcpy(gw, sl.gw, (size_t)nw * sizeof *gw);
    else if (gw)
      for (int64_t k = 0; k < nw; k++) gw[k] += sl.gw[k];
    if (gb && t > 0)
      for (int64_t k = 0; k < nd.gb; k++) gb0[k] += sl.gb[k];
  }
  if (gb)
    for (int64_t k = 0; k < nd.gb; k++) gb[k] = (float)gb0[k];
}

/* The other side's operand needs a copy unless it is one image already laid
 * out as columns. */
static bool needs_tmp(const geom *g, int64_t m) { return m > 1 || g->pitch != g->ow; }

/* The columns of images n0 .. n0 + m - 1 and their row stride *ld: built in
 * s->col (ld = m lp) or in keep (the whole batch's, ld = n lp), or the image
 * itself for one image under a pointwise kernel. */
static const float *columns(const geom *g, const float *img, int64_t n0, int64_t m, const slot *s, float *keep,
                            int64_t *ld) {
  const int64_t lp = lt_conv_lp(g);
  const float *x = img + n0 * lt_conv_plane(g);
  *ld = m * lp;
  if (pointwise(g) && m == 1) return x;
  if (pointwise(g)) {
    lt_conv_gather(g, x, m, g->c, s->col);
    return s->col;
  }
  float *dst = keep ? keep + n0 * lp : s->col;
  if (keep) *ld = g->n * lp;
  lt_im2col(g, x, m, dst, *ld, s->work);
  return dst;
}

/* The other side's operand of m images (m x co x oh x ow at src) as co x m lp. */
static const float *other_side(const geom *g, const float *src, int64_t m, const slot *s) {
  if (!needs_tmp(g, m)) return src;
  lt_conv_gather(g, src, m, g->co, s->tmp);
  return s->tmp;
}

/* ==================== conv2d kernels ==================== */

/* y = W im2col(x) + b for images n0 .. n0 + m - 1 (x: n x c x h x w, W: co x
 * K, b: co or NULL, y: n x co x oh x ow); with keep (K x n lp) the columns
 * stay there for backward. */
static void conv2d_forward_chunk(const geom *g, const float *x, const float *w, const float *b, float *y,
                                 float *keep, int64_t n0, int64_t m, const slot *s) {
  const int64_t K = lt_conv_k(g), lp = lt_conv_lp(g), l = g->oh * g->ow, co = g->co;
  float *o = y + n0 * co * l;
  int64_t ld;
  const float *col = columns(g, x, n0, m, s, keep, &ld);
  if (!needs_tmp(g, m)) { /* straight into the output */
    gemm(false, false, co, l, K, w, K, col, ld, 0.0f, o, l);
    if (b) add_bias(o, co, l, b);
  } else {
    gemm(false, false, co, m * lp, K, w, K, col, ld, 0.0f, s->tmp, m * lp);
    lt_conv_scatter(g, s->tmp, m, co, b, o);
  }
}

static lt_status conv2d_forward(const geom *g, const float *x, const float *w, const float *b, float *y,
                                float *keep) {
  if (g->n == 0) return LT_OK;
  const plan P = make_plan(g->n, per_image_floats(g));
  const needs nd = {.col = !keep, .tmp = true, .work = !pointwise(g)};
  scratch S;
  if (scratch_init(&S, g, &P, nd) != LT_OK) return LT_ERR_MEMORY;
#pragma omp parallel num_threads(P.threads) if (P.threads > 1)
  {
    const slot sl = scratch_slot(&S, omp_get_thread_num());
#pragma omp for schedule(static)
    for (int64_t c = 0; c < P.chunks; c++) {
      int64_t n0, m;
      chunk_range(&P, g->n, c, &n0, &m);
      conv2d_forward_chunk(g, x, w, b, y, keep, n0, m, &sl);
    }
  }
  scratch_free(&S);
  return LT_OK;
}

/* The gradients of images n0 .. n0 + m - 1: gx = col2im(W^T gy), and into
 * the slot's sums gw += gy im2col(x)^T, gb += the sums of gy, each when
 * wanted; `kept` holds the forward's columns of x (K x n lp) or is NULL. */
static void conv2d_grads_chunk(const geom *g, const float *x, const float *kept, const float *w, const float *gy,
                               float *gx, bool want_w, bool want_b, int64_t n0, int64_t m, const slot *s) {
  const int64_t K = lt_conv_k(g), lp = lt_conv_lp(g), l = g->oh * g->ow, co = g->co;
  const float *o = other_side(g, gy + n0 * co * l, m, s); /* zero in unused columns */
  if (want_b) add_row_sums(o, co, m * lp, m * lp, s->gb);
  if (want_w) {
    int64_t ld = g->n * lp;
    const float *col = kept ? kept + n0 * lp : columns(g, x, n0, m, s, NULL, &ld);
    gemm(false, true, co, K, m * lp, o, m * lp, col, ld, 1.0f, s->gw, K);
  }
  if (gx) {
    gemm(true, false, K, m * lp, co, w, K, o, m * lp, 0.0f, s->col, m * lp);
    lt_col2im(g, s->col, m, m * lp, gx + n0 * lt_conv_plane(g), NULL, s->work);
  }
}

static lt_status conv2d_grads(const geom *g, const float *x, const float *kept, const float *w, const float *gy,
                              float *gx, float *gw, float *gb) {
  const int64_t K = lt_conv_k(g), co = g->co;
  if (g->n == 0 || g->oh * g->ow == 0) { /* no kernel positions: nothing flows */
    if (gw) memset(gw, 0, (size_t)(co * K) * sizeof *gw);
    if (gb) memset(gb, 0, (size_t)co * sizeof *gb);
    if (gx) memset(gx, 0, (size_t)(g->n * lt_conv_plane(g)) * sizeof *gx);
    return LT_OK;
  }
  const plan P = make_plan(g->n, per_image_floats(g));
  const bool cols = gx || (gw && !kept);
  const needs nd = {.col = cols, .tmp = true, .work = cols, .gw = gw != NULL, .gb = gb ? co : 0};
  scratch S;
  if (scratch_init(&S, g, &P, nd) != LT_OK) return LT_ERR_MEMORY;
#pragma omp parallel num_threads(P.threads) if (P.threads > 1)
  {
    const slot sl = scratch_slot(&S, omp_get_thread_num());
    slot_zero(&sl, g, nd);
#pragma omp for schedule(static)
    for (int64_t c = 0; c < P.chunks; c++) {
      int64_t n0, m;
      chunk_range(&P, g->n, c, &n0, &m);
      conv2d_grads_chunk(g, x, kept, w, gy, gx, gw != NULL, gb != NULL, n0, m, &sl);
    }
  }
  reduce_slots(&S, &P, g, nd, gw, gb);
  scratch_free(&S);
  return LT_OK;
}

/* ==================== conv_transpose2d kernels ==================== */

/* y = col2im(W^T x) + b for images n0 .. n0 + m - 1 (x: n x co x oh x ow, W:
 * co x K, b: c or NULL, y: n x c x h x w). */
static void conv_transpose2d_forward_chunk(const geom *g, const float *x, const float *w, const float *b, float *y,
                                           int64_t n0, int64_t m, const slot *s) {
  const int64_t K = lt_conv_k(g), lp = lt_conv_lp(g), l = g->oh * g->ow, co = g->co;
  const float *o = other_side(g, x + n0 * co * l, m, s); /* zero in unused columns */
  gemm(true, false, K, m * lp, co, w, K, o, m * lp, 0.0f, s->col, m * lp);
  lt_col2im(g, s->col, m, m * lp, y + n0 * lt_conv_plane(g), b, s->work);
}

static lt_status conv_transpose2d_forward(const geom *g, const float *x, const float *w, const float *b, float *y) {
  if (g->n == 0) return LT_OK;
  const plan P = make_plan(g->n, per_image_floats(g));
  const needs nd = {.col = true, .tmp = true, .work = true};
  scratch S;
  if (scratch_init(&S, g, &P, nd) != LT_OK) return LT_ERR_MEMORY;
#pragma omp parallel num_threads(P.threads) if (P.threads > 1)
  {
    const slot sl = scratch_slot(&S, omp_get_thread_num());
#pragma omp for schedule(static)
    for (int64_t c = 0; c < P.chunks; c++) {
      int64_t n0, m;
      chunk_range(&P, g->n, c, &n0, &m);
      conv_transpose2d_forward_chunk(g, x, w, b, y, n0, m, &sl);
    }
  }
  scratch_free(&S);
  return LT_OK;
}

/* The gradients of images n0 .. n0 + m - 1: gx = W im2col(gy), and into the
 * slot's sums gw += x im2col(gy)^T, gb += the sums of gy per image channel,
 * each when wanted; one im2col of gy serves both products. */
static void conv_transpose2d_grads_chunk(const geom *g, const float *x, const float *w, const float *gy, float *gx,
                                         bool want_w, bool want_b, int64_t n0, int64_t m, const slot *s) {
  const int64_t K = lt_conv_k(g), lp = lt_conv_lp(g), l = g->oh * g->ow, co = g->co, hw = g->h * g->w;
  if (want_b)
    for (int64_t i = 0; i < m; i++) add_row_sums(gy + (n0 + i) * lt_conv_plane(g), g->c, hw, hw, s->gb);
  int64_t ld;
  const float *col = columns(g, gy, n0, m, s, NULL, &ld);
  if (want_w) {
    const float *o = other_side(g, x + n0 * co * l, m, s); /* zero in unused columns */
    gemm(false, true, co, K, m * lp, o, m * lp, col, ld, 1.0f, s->gw, K);
  }
  if (gx && !needs_tmp(g, m)) {
    gemm(false, false, co, l, K, w, K, col, ld, 0.0f, gx + n0 * co * l, l);
  } else if (gx) { /* s->tmp is free again once gw's GEMM has run */
    gemm(false, false, co, m * lp, K, w, K, col, ld, 0.0f, s->tmp, m * lp);
    lt_conv_scatter(g, s->tmp, m, co, NULL, gx + n0 * co * l);
  }
}

static lt_status conv_transpose2d_grads(const geom *g, const float *x, const float *w, const float *gy, float *gx,
                                        float *gw, float *gb) {
  const int64_t K = lt_conv_k(g), l = g->oh * g->ow, co = g->co;
  if (g->n == 0 || l == 0) {
    if (gw) memset(gw, 0, (size_t)(co * K) * sizeof *gw);
    if (gx) memset(gx, 0, (size_t)(g->n * co * l) * sizeof *gx);
    if (gb) { /* the bias still reaches every output pixel */
      double *acc = lt_calloc((size_t)g->c * sizeof *acc);
      if (!acc) return LT_ERR_MEMORY;
      for (int64_t i = 0; i < g->n; i++) add_row_sums(gy + i * lt_conv_plane(g), g->c, g->h * g->w, g->h * g->w, acc);
      for (int64_t k = 0; k < g->c; k++) gb[k] = (float)acc[k];
      lt_free(acc, (size_t)g->c * sizeof *acc);
    }
    return LT_OK;
  }
  const plan P = make_plan(g->n, per_image_floats(g));
  const needs nd = {.col = true, .tmp = true, .work = true, .gw = gw != NULL, .gb = gb ? g->c : 0};
  scratch S;
  if (scratch_init(&S, g, &P, nd) != LT_OK) return LT_ERR_MEMORY;
#pragma omp parallel num_threads(P.threads) if (P.threads > 1)
  {
    const slot sl = scratch_slot(&S, omp_get_thread_num());
    slot_zero(&sl, g, nd);
#pragma omp for schedule(static)
    for (int64_t c = 0; c < P.chunks; c++) {
      int64_t n0, m;
      chunk_range(&P, g->n, c, &n0, &m);
      conv_transpose2d_grads_chunk(g, x, w, gy, gx, gw != NULL, gb != NULL, n0, m, &sl);
    }
  }
  reduce_slots(&S, &P, g, nd, gw, gb);
  scratch_free(&S);
  return LT_OK;
}

/* ==================== argument checks ==================== */

lt_conv_params lt_conv_params_default(void) {
  return (lt_conv_params){{1, 1}, {0, 0}, {0, 0}, {1, 1}};
}

/* "2" when both entries are equal, else "(2, 3)". */
static const char *pair_str(const int64_t *v, char buf[48]) {
  if (v[0] == v[1]) snprintf(buf, 48, "%lld", (long long)v[0]);
  else snprintf(buf, 48, "(%lld, %lld)", (long long)v[0], (long long)v[1]);
  return buf;
}

static lt_status check_params(const char *fn, const lt_conv_params *p, bool transposed) {
  char s1[48], s2[48], s3[48];
  for (int d = 0; d < 2; d++) {
    if (p->stride[d] < 1)
      return lt_error(LT_ERR_ARG, "%s: stride must be positive, got %s", fn, pair_str(p->stride, s1));
    if (p->padding[d] < 0)
      return lt_error(LT_ERR_ARG, "%s: padding must not be negative, got %s", fn, pair_str(p->padding, s1));
    if (p->dilation[d] < 1)
      return lt_error(LT_ERR_ARG, "%s: dilation must be positive, got %s", fn, pair_str(p->dilation, s1));
    if (!transposed) continue;
    if (p->output_padding[d] < 0)
      return lt_error(LT_ERR_ARG, "%s: output_padding must not be negative, got %s", fn,
                      pair_str(p->output_padding, s1));
    if (p->output_padding[d] >= p->stride[d] && p->output_padding[d] >= p->dilation[d])
      return lt_error(LT_ERR_ARG, "%s: output_padding %s must be smaller than either stride %s or dilation %s",
                      fn, pair_str(p->output_padding, s1), pair_str(p->stride, s2), pair_str(p->dilation, s3));
  }
  return LT_OK;
}

/* Checks x (4-D, or 3-D unbatched), w and b; fills g. For conv2d the image
 * side is x; for conv_transpose2d it is the output, whose size is computed
 * here. Messages show x as the caller gave it. */
static lt_status check_inputs(const char *fn, const lt_tensor *x, const lt_tensor *w, const lt_tensor *b,
                              const lt_conv_params *p, bool transposed, geom *g) {
  char sx[LT_SHAPE_STR], sw[LT_SHAPE_STR], sb[LT_SHAPE_STR], s1[48], s2[48];
  lt_status st = check_params(fn, p, transposed);
  if (st != LT_OK) return st;
  if (w->ndim != 4)
    return lt_error(LT_ERR_SHAPE, "%s: weight must be 4-D (%s x kh x kw), got shape %s", fn,
                    transposed ? "in_channels x out_channels" : "out_channels x in_channels", LT_SHAPE(w, sw));
  const int64_t cin = transposed ? w->shape[0] : w->shape[1], cout = transposed ? w->shape[1] : w->shape[0];
  const int64_t *xs = x->shape + x->ndim - 3; /* channels, height, width */
  if (xs[0] != cin)
    return lt_error(LT_ERR_SHAPE, "%s: input %s has %lld channels, weight %s expects %lld", fn, LT_SHAPE(x, sx),
                    (long long)xs[0], LT_SHAPE(w, sw), (long long)cin);
  if (b && (b->ndim != 1 || b->shape[0] != cout))
    return lt_error(LT_ERR_SHAPE, "%s: bias of shape %s does not match weight %s (%lld output channels)", fn,
                    LT_SHAPE(b, sb), LT_SHAPE(w, sw), (long long)cout);
  const int64_t kh = w->shape[2], kw = w->shape[3];
  if (kh < 1 || kw < 1)
    return lt_error(LT_ERR_SHAPE, "%s: weight %s has an empty kernel", fn, LT_SHAPE(w, sw));
  *g = (geom){.n = x->ndim == 4 ? x->shape[0] : 1, .kh = kh, .kw = kw, .sh = p->stride[0], .sw = p->stride[1],
              .ph = p->padding[0], .pw = p->padding[1], .dh = p->dilation[0], .dw = p->dilation[1]};
  const int64_t ekh = p->dilation[0] * (kh - 1) + 1, ekw = p->dilation[1] * (kw - 1) + 1; /* effective */
  if (!transposed) {
    if (xs[1] + 2 * p->padding[0] < ekh || xs[2] + 2 * p->padding[1] < ekw)
      return lt_error(LT_ERR_SHAPE, "%s: input %s is smaller than the kernel %lldx%lld (with padding %s, dilation %s)",
                      fn, LT_SHAPE(x, sx), (long long)kh, (long long)kw, pair_str(p->padding, s1),
                      pair_str(p->dilation, s2));
    g->c = cin, g->h = xs[1], g->w = xs[2], g->co = cout;
    g->oh = (g->h + 2 * g->ph - ekh) / g->sh + 1;
    g->ow = (g->w + 2 * g->pw - ekw) / g->sw + 1;
  } else {
    g->c = cout, g->co = cin, g->oh = xs[1], g->ow = xs[2];
    g->h = (g->oh - 1) * g->sh - 2 * g->ph + ekh + p->output_padding[0];
    g->w = (g->ow - 1) * g->sw - 2 * g->pw + ekw + p->output_padding[1];
    if (g->h < 1 || g->w < 1)
      return lt_error(LT_ERR_SHAPE, "%s: input %s gives an output of %lldx%lld, which is too small "
                      "(kernel %lldx%lld, stride %s, padding %s)", fn, LT_SHAPE(x, sx), (long long)g->h,
                      (long long)g->w, (long long)kh, (long long)kw, pair_str(p->stride, s1),
                      pair_str(p->padding, s2));
  }
  lt_conv_geom_init(g);
  if (lt_conv_k(g) > INT_MAX || lt_conv_lp(g) * g->n > INT_MAX || g->co > INT_MAX)
    return lt_error(LT_ERR_SHAPE, "%s: input %s with weight %s is too large", fn, LT_SHAPE(x, sx), LT_SHAPE(w, sw));
  return LT_OK;
}

/* The geometry again in backward, from the saved tensors and the node. */
static void store_params(lt_node *n, const lt_conv_params *p) {
  for (int d = 0; d < 2; d++) {
    n->i[d] = p->stride[d];
    n->i[2 + d] = p->padding[d];
    n->i[4 + d] = p->output_padding[d];
    n->i[6 + d] = p->dilation[d];
  }
}

static geom node_geom(const lt_node *n, bool transposed) {
  const lt_tensor *x = n->saved[0], *w = n->saved[1];
  geom g = {.n = x->shape[0], .kh = w->shape[2], .kw = w->shape[3], .sh = n->i[0], .sw = n->i[1],
            .ph = n->i[2], .pw = n->i[3], .dh = n->i[6], .dw = n->i[7]};
  if (!transposed) {
    g.c = x->shape[1], g.h = x->shape[2], g.w = x->shape[3];
    g.co = w->shape[0], g.oh = n->out_shape[2], g.ow = n->out_shape[3];
  } else {
    g.c = w->shape[1], g.h = n->out_shape[2], g.w = n->out_shape[3];
    g.co = w->shape[0], g.oh = x->shape[2], g.ow = x->shape[3];
  }
  lt_conv_geom_init(&g);
  return g;
}

/* ==================== shared op plumbing ==================== */

typedef lt_status (*conv_fn)(lt_tensor **, lt_tensor *, lt_tensor *, lt_tensor *, const lt_conv_params *);

/* An unbatched C x H x W input goes through as a batch of one. */
static lt_status unbatched(conv_fn f, lt_tensor **out, lt_tensor *x, lt_tensor *w, lt_tensor *b,
                           const lt_conv_params *p) {
  lt_tensor *x4 = NULL, *y4 = NULL;
  lt_status st = lt_unsqueeze(&x4, x, 0);
  if (st == LT_OK) st = f(&y4, x4, w, b, p);
  if (st == LT_OK) st = lt_squeeze(out, y4, 0);
  lt_tensor_release(x4);
  lt_tensor_release(y4);
  return st;
}

static lt_status check_rank(const char *fn, const lt_tensor *x) {
  if (x->ndim == 3 || x->ndim == 4) return LT_OK;
  char sx[LT_SHAPE_STR];
  return lt_error(LT_ERR_SHAPE, "%s: input must be 4-D (batch x channels x height x width) or 3-D (unbatched), "
                  "got shape %s", fn, LT_SHAPE(x, sx));
}

/* Contiguous values of the inputs (new references; b may be NULL) and an
 * empty output; all or nothing. */
typedef struct {
  lt_tensor *x, *w, *b, *y, *cols;
} operands;

static void operands_release(operands *o) {
  lt_tensor_release(o->x);
  lt_tensor_release(o->w);
  lt_tensor_release(o->b);
  lt_tensor_release(o->y);
  lt_tensor_release(o->cols);
}

static lt_status operands_init(operands *o, lt_tensor *x, lt_tensor *w, lt_tensor *b, const int64_t yshape[4]) {
  *o = (operands){lt_tensor_contiguous_values(x), lt_tensor_contiguous_values(w),
                  b ? lt_tensor_contiguous_values(b) : NULL, lt_tensor_empty(4, yshape), NULL};
  if (o->x && o->w && (o->b || !b) && o->y) return LT_OK;
  operands_release(o);
  return LT_ERR_MEMORY;
}

static float *data_or_null(lt_tensor *t) { return t ? lt_tensor_data(t) : NULL; }

/* Records the node (saving x, w and the columns if any) and hands out y. */
static lt_status finish(lt_tensor **out, operands *o, const lt_op *op, lt_tensor *x, lt_tensor *w, lt_tensor *b,
                        const lt_conv_params *p) {
  lt_node *node = NULL;
  lt_tensor *in[3] = {x, w, b}, *saved[3] = {o->x, o->w, o->cols};
  lt_status st = lt_record(o->y, op, b ? 3 : 2, in, o->cols ? 3 : 2, saved, &node);
  if (node) store_params(node, p);
  if (st == LT_OK) {
    *out = o->y;
    o->y = NULL;
  }
  operands_release(o);
  return st;
}

/* The gradients a backward needs, allocated up front: gi[0] like x, gi[1]
 * like w, gi[2] (the bias) of `cout` channels. */
static lt_status alloc_grads(lt_node *n, int64_t cout, lt_tensor **gi) {
  const lt_tensor *x = n->saved[0], *w = n->saved[1];
  if (lt_edge_needs_grad(&n->inputs[0]) && !(gi[0] = lt_tensor_empty(4, x->shape))) return LT_ERR_MEMORY;
  if (lt_edge_needs_grad(&n->inputs[1]) && !(gi[1] = lt_tensor_empty(4, w->shape))) return LT_ERR_MEMORY;
  if (n->n_inputs == 3 && lt_edge_needs_grad(&n->inputs[2]) && !(gi[2] = lt_tensor_empty(1, &cout)))
    return LT_ERR_MEMORY;
  return LT_OK;
}

/* ==================== conv2d ==================== */

/* grad_x = col2im(W^T gy), grad_w = sum gy im2col(x)^T, grad_b = sum gy.
 * Saved: x and w (contiguous), and the forward's columns of x when the
 * weight needed a gradient and they were not too large. */
static lt_status conv2d_backward(lt_node *n, lt_tensor *gy, lt_tensor **gi) {
  geom g = node_geom(n, false);
  lt_tensor *gc = lt_tensor_contiguous_values(gy);
  if (!gc) return LT_ERR_MEMORY;
  lt_status st = alloc_grads(n, g.co, gi);
  const float *G = lt_tensor_data(gc);
  if (st == LT_OK)
    st = conv2d_grads(&g, lt_tensor_data(n->saved[0]), n->n_saved > 2 ? lt_tensor_data(n->saved[2]) : NULL,
                      lt_tensor_data(n->saved[1]), G, data_or_null(gi[0]), data_or_null(gi[1]), data_or_null(gi[2]));
  lt_tensor_release(gc);
  return st;
}
static const lt_op OP_CONV2D = {"conv2d", conv2d_backward};

lt_status lt_conv2d(lt_tensor **out, lt_tensor *x, lt_tensor *w, lt_tensor *b, const lt_conv_params *p) {
  LT_PROFILE_OP(OP_CONV2D.name);
  lt_status st = check_rank("conv2d", x);
  geom g;
  if (st == LT_OK) st = check_inputs("conv2d", x, w, b, p, false, &g);
  if (st != LT_OK) return st;
  if (x->ndim == 3) return unbatched(lt_conv2d, out, x, w, b, p);
  const int64_t shape[4] = {g.n, g.co, g.oh, g.ow};
  operands o;
  if (operands_init(&o, x, w, b, shape) != LT_OK) return LT_ERR_MEMORY;
  /* keep the columns for the weight gradient, unless they are large */
  if (lt_grad_enabled() && w->requires_grad && g.n > 0 && !pointwise(&g) &&
      lt_conv_k(&g) * g.n * lt_conv_lp(&g) <= KEEP_FLOATS) {
    const int64_t cshape[2] = {lt_conv_k(&g), g.n * lt_conv_lp(&g)};
    if (!(o.cols = lt_tensor_empty(2, cshape))) st = LT_ERR_MEMORY;
  }
  if (st == LT_OK)
    st = conv2d_forward(&g, lt_tensor_data(o.x), lt_tensor_data(o.w), data_or_null(o.b), lt_tensor_data(o.y),
                        data_or_null(o.cols));
  if (st != LT_OK) {
    operands_release(&o);
    return st;
  }
  return finish(out, &o, &OP_CONV2D, x, w, b, p);
}

/* ==================== conv_transpose2d ==================== */

/* grad_x = W im2col(gy), grad_w = sum x im2col(gy)^T, grad_b = sum gy.
 * Saved: x and w (contiguous). */
static lt_status conv_transpose2d_backward(lt_node *n, lt_tensor *gy, lt_tensor **gi) {
  geom g = node_geom(n, true);
  lt_tensor *gc = lt_tensor_contiguous_values(gy);
  if (!gc) return LT_ERR_MEMORY;
  lt_status st = alloc_grads(n, g.c, gi);
  const float *G = lt_tensor_data(gc);
  if (st == LT_OK)
    st = conv_transpose2d_grads(&g, lt_tensor_data(n->saved[0]), lt_tensor_data(n->saved[1]), G,
                                data_or_null(gi[0]), data_or_null(gi[1]), data_or_null(gi[2]));
  lt_tensor_release(gc);
  return st;
}
static const lt_op OP_CONV_TRANSPOSE2D = {"conv_transpose2d", conv_transpose2d_backward};

lt_status lt_conv_transpose2d(lt_tensor **out, lt_tensor *x, lt_tensor *w, lt_tensor *b, const lt_conv_params *p) {
  LT_PROFILE_OP(OP_CONV_TRANSPOSE2D.name);
  lt_status st = check_rank("conv_transpose2d", x);
  geom g;
  if (st == LT_OK) st = check_inputs("conv_transpose2d", x, w, b, p, true, &g);
  if (st != LT_OK) return st;
  if (x->ndim == 3) return unbatched(lt_conv_transpose2d, out, x, w, b, p);
  const int64_t shape[4] = {g.n, g.c, g.h, g.w};
  operands o;
  if (operands_init(&o, x, w, b, shape) != LT_OK) return LT_ERR_MEMORY;
  st = conv_transpose2d_forward(&g, lt_tensor_data(o.x), lt_tensor_data(o.w), data_or_null(o.b),
                                lt_tensor_data(o.y));
  if (st != LT_OK) {
    operands_release(&o);
    return st;
  }
  return finish(out, &o, &OP_CONV_TRANSPOSE2D, x, w, b, p);
}
