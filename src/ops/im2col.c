/* im2col/col2im through zero-padded phase planes (the steps are described
 * in im2col.h), and the gathers between the other side's tensor layout and
 * its GEMM layout.
 *
 * The loops run over (image, channel) pairs; each step is a worker per pair,
 * compiled twice (LT_EW_CLONES: baseline x86-64 and AVX2). */
#include "ops/im2col.h"
#include "core/lt_error.h"
#include "ops/elementwise_iter.h" /* LT_EW_CLONES */

#include <omp.h>
#include <string.h>

/* The rows here are short (3 to 30 floats): GCC would turn their copy and
 * zero loops into memcpy/memset calls that cost more than the copying. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-loop-distribute-patterns")
#endif

#define PAR_MIN 32768 /* loops over fewer elements run on one thread */
#define GROUP_FLOATS 4096 /* windows and planes of a group of pairs: 16 KB */

/* A call splits its loops across threads when they are large enough and no
 * parallel region is active (inside one, the caller has given this thread
 * its own images). */
static bool run_parallel(int64_t amount) { return amount > PAR_MIN && !omp_in_parallel(); }

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* ==================== short rows ====================
 * Rows of 3 to 30 floats dominate: loops with a run-time length spend more
 * on their set-up and scalar tails than on the moving. These move blocks of
 * 8 (or 4) floats, whose fixed size GCC turns into plain vector moves, and
 * end with a block that overlaps the one before instead of a scalar tail. */

/* d[k] = s[k] for k < n */
static inline void copy_row(float *restrict d, const float *restrict s, int64_t n) {
  if (n >= 8) {
    for (int64_t k = 0; k + 8 < n; k += 8) memcpy(d + k, s + k, 8 * sizeof *d);
    memcpy(d + n - 8, s + n - 8, 8 * sizeof *d);
  } else if (n >= 4) {
    memcpy(d, s, 4 * sizeof *d);
    memcpy(d + n - 4, s + n - 4, 4 * sizeof *d);
  } else {
    for (int64_t k = 0; k < n; k++) d[k] = s[k];
  }
}

/* d[k] = v for k < n */
static inline void fill_row(float *d, float v, int64_t n) {
  const float b[8] = {v, v, v, v, v, v, v, v};
  if (n >= 8) {
    for (int64_t k = 0; k + 8 < n; k += 8) memcpy(d + k, b, sizeof b);
    memcpy(d + n - 8, b, sizeof b);
  } else if (n >= 4) {
    memcpy(d, b, 4 * sizeof *d);
    memcpy(d + n - 4, b, 4 * sizeof *d);
  } else {
    for (int64_t k = 0; k < n; k++) d[k] = v;
  }
}

/* d[k] = s[k] + v for k < n */
static inline void copy_add_row(float *restrict d, const float *restrict s, float v, int64_t n) {
  if (n < 4) {
    for (int64_t k = 0; k < n; k++) d[k] = s[k] + v;
    return;
  }
  const int64_t blk = n >= 8 ? 8 : 4;
  for (int64_t k = 0;; k += blk) {
    if (k + blk > n) k = n - blk; /* the last block overlaps: same values again */
    if (blk == 8)
      for (int j = 0; j < 8; j++) d[k + j] = s[k + j] + v;
    else
      for (int j = 0; j < 4; j++) d[k + j] = s[k + j] + v;
    if (k + blk == n) break;
  }
}

/* d[k] += s[k] for k < n: blocks of 8, then 4, then single floats (an
 * overlapping block would add twice). */
static inline void add_row(float *restrict d, const float *restrict s, int64_t n) {
  int64_t k = 0;
  for (; k + 8 <= n; k += 8)
    for (int j = 0; j < 8; j++) d[k + j] += s[k + j];
  if (k + 4 <= n) {
    for (int j = 0; j < 4; j++) d[k + j] += s[k + j];
    k += 4;
  }
  for (; k < n; k++) d[k] += s[k];
}

/* e[j] = r[2 j], o[j] = r[2 j + 1] for j < n */
static inline void deinterleave_row(float *restrict e, float *restrict o, const float *restrict r, int64_t n) {
  if (n < 4) {
    for (int64_t j = 0; j < n; j++) e[j] = r[2 * j], o[j] = r[2 * j + 1];
    return;
  }
  const int64_t blk = n >= 8 ? 8 : 4;
  for (int64_t j = 0;; j += blk) {
    if (j + blk > n) j = n - blk;
    if (blk == 8)
      for (int k = 0; k < 8; k++) e[j + k] = r[2 * (j + k)], o[j + k] = r[2 * (j + k) + 1];
    else
      for (int k = 0; k < 4; k++) e[j + k] = r[2 * (j + k)], o[j + k] = r[2 * (j + k) + 1];
    if (j + blk == n) break;
  }
}

/* r[2 j] = e[j], r[2 j + 1] = o[j] for j < n */
static inline void interleave_row(float *restrict r, const float *restrict e, const float *restrict o, int64_t n) {
  if (n < 4) {
    for (int64_t j = 0; j < n; j++) r[2 * j] = e[j], r[2 * j + 1] = o[j];
    return;
  }
  const int64_t blk = n >= 8 ? 8 : 4;
  for (int64_t j = 0;; j += blk) {
    if (j + blk > n) j = n - blk;
    if (blk == 8)
      for (int k = 0; k < 8; k++) r[2 * (j + k)] = e[j + k], r[2 * (j + k) + 1] = o[j + k];
    else
      for (int k = 0; k < 4; k++) r[2 * (j + k)] = e[j + k], r[2 * (j + k) + 1] = o[j + k];
    if (j + blk == n) break;
  }
}

/* ==================== geometry ==================== */

void lt_conv_geom_init(lt_conv_geom *g) {
  /* + 1 row: a tap's run of oh pitch-long rows may end in the row below */
  g->qh = g->oh + (g->kh - 1) * g->dh / g->sh + 1;
  g->qw = g->ow + (g->kw - 1) * g->dw / g->sw;
  g->pitch = 2 * g->qw <= 3 * g->ow ? g->qw : g->ow;
}

/* The padded window of one image channel: xh x xw = (sh qh) x (sw qw). */
static int64_t win_rows(const lt_conv_geom *g) { return g->sh * g->qh; }
static int64_t win_cols(const lt_conv_geom *g) { return g->sw * g->qw; }
static int64_t plane_floats(const lt_conv_geom *g) { return g->qh * g->qw; }

/* With one column phase, the window's rows go straight to their planes;
 * with more, the window is a buffer of its own, split in a second step. */
static bool split_cols(const lt_conv_geom *g) { return g->sw > 1; }

/* Floats of one pair's planes, and of its window after them if separate. */
static int64_t pair_floats(const lt_conv_geom *g) {
  return win_rows(g) * win_cols(g) * (split_cols(g) ? 2 : 1);
}

size_t lt_im2col_work_floats(const lt_conv_geom *g, int64_t m) { return (size_t)(m * g->c * pair_floats(g)); }

/* Is row phase a (column phase b) read by any of the kh (kw) taps? */
static bool phase_read(int64_t a, int64_t k, int64_t d, int64_t s) {
  for (int64_t t = 0; t < k; t++)
    if (t * d % s == a) return true;
  return false;
}

/* Plane (a, b) of one pair; planes lie one after another, each qh x qw. */
static float *plane_at(const lt_conv_geom *g, float *planes, int64_t a, int64_t b) {
  return planes + (a * g->sw + b) * plane_floats(g);
}

/* Where window row py goes: its plane row (one column phase) or its row of
 * the separate window. */
static float *window_row(const lt_conv_geom *g, float *pair, int64_t py) {
  if (!split_cols(g)) return plane_at(g, pair, py % g->sh, 0) + py / g->sh * g->qw;
  return pair + win_rows(g) * win_cols(g) + py * win_cols(g);
}

/* Calls body for each tap t = ki kw + kj with `src`, the first float it
 * reads in `planes`: its plane, from its row and column offsets. */
#define FOR_EACH_TAP(g, planes, ...)                                                            \
  for (int64_t ki_ = 0; ki_ < (g)->kh; ki_++)                                                   \
    for (int64_t kj_ = 0; kj_ < (g)->kw; kj_++) {                                               \
      const int64_t t = ki_ * (g)->kw + kj_, ry_ = ki_ * (g)->dh, rx_ = kj_ * (g)->dw;           \
      float *src = plane_at((g), (planes), ry_ % (g)->sh, rx_ % (g)->sw) + ry_ / (g)->sh * (g)->qw + \
                   rx_ / (g)->sw;                                                               \
      __VA_ARGS__;                                                                              \
    }

/* Pairs go through the steps in groups small enough that a group's planes
 * and windows stay in L1, and large enough that a step reads what the step
 * before wrote for other pairs in between, not just now (see im2col.h). */
static int64_t group_pairs(const lt_conv_geom *g) { return max64(1, GROUP_FLOATS / pair_floats(g)); }

/* ==================== im2col ==================== */

/* Step 1: the padded window of one image channel (h x w at src): pixel
 * (py, px) = src (py - ph, px - pw) inside the image, else 0. */
LT_EW_CLONES static void pad_window(const lt_conv_geom *g, const float *src, float *pair) {
  const int64_t xh = win_rows(g), xw = win_cols(g);
  const int64_t c0 = min64(g->pw, xw), c1 = min64(g->pw + g->w, xw); /* window columns from the image */
  for (int64_t py = 0; py < xh; py++) {
    float *d = window_row(g, pair, py);
    const int64_t iy = py - g->ph;
    if (iy < 0 || iy >= g->h) {
      fill_row(d, 0.0f, xw);
      continue;
    }
    fill_row(d, 0.0f, c0);
    if (c1 > c0) copy_row(d + c0, src + iy * g->w + (c0 - g->pw), c1 - c0);
    fill_row(d + c1, 0.0f, xw - c1);
  }
}

/* Step 2 (column stride > 1): each window row into its column phases;
 * rows and columns of phases no tap reads are skipped. */
LT_EW_CLONES static void split_window(const lt_conv_geom *g, float *pair) {
  const int64_t qw = g->qw, sw = g->sw;
  for (int64_t py = 0; py < win_rows(g); py++) {
    const int64_t a = py % g->sh, i = py / g->sh;
    if (!phase_read(a, g->kh, g->dh, g->sh)) continue;
    const float *r = window_row(g, pair, py);
    if (sw == 2) {
      deinterleave_row(plane_at(g, pair, a, 0) + i * qw, plane_at(g, pair, a, 1) + i * qw, r, qw);
      continue;
    }
    for (int64_t b = 0; b < sw; b++) {
      if (!phase_read(b, g->kw, g->dw, sw)) continue;
      float *p = plane_at(g, pair, a, b) + i * qw;
      for (int64_t x = 0; x < qw; x++) p[x] = r[x * sw + b];
    }
  }
}

/* Step 3: the taps' columns of one pair (col points at its first column of
 * row (ci, 0, 0); rows ld apart). */
LT_EW_CLONES static void taps_to_columns(const lt_conv_geom *g, float *pair, float *col, int64_t ld) {
  FOR_EACH_TAP(g, pair, {
    float *d = col + t * ld;
    if (g->pitch == g->qw) copy_row(d, src, g->oh * g->qw);
    else
      for (int64_t y = 0; y < g->oh; y++) copy_row(d + y * g->ow, src + y * g->qw, g->ow);
  });
}

void lt_im2col(const lt_conv_geom *g, const float *img, int64_t m, float *col, int64_t ld, float *work) {
  const int64_t pairs = m * g->c, hw = g->h * g->w, pf = pair_floats(g), lp = lt_conv_lp(g), kk = g->kh * g->kw;
  const int64_t gp = group_pairs(g), groups = (pairs + gp - 1) / gp;
  const bool par = run_parallel(pairs * kk * lp);
#pragma omp parallel for schedule(static) if (par)
  for (int64_t gr = 0; gr < groups; gr++) {
    const int64_t q0 = gr * gp, q1 = min64(q0 + gp, pairs);
    for (int64_t q = q0; q < q1; q++) pad_window(g, img + q * hw, work + q * pf);
    if (split_cols(g))
      for (int64_t q = q0; q < q1; q++) split_window(g, work + q * pf);
    for (int64_t q = q0; q < q1; q++) {
      const int64_t i = q / g->c, ci = q % g->c;
      taps_to_columns(g, work + q * pf, col + ci * kk * ld + i * lp, ld);
    }
  }
}

/* ==================== col2im ==================== */

/* Step 3 backwards for one tap of one pair: its columns added into its plane. */
LT_EW_CLONES static void column_to_plane(const lt_conv_geom *g, const float *col, float *src) {
  if (g->pitch == g->qw) add_row(src, col, g->oh * g->qw);
  else
    for (int64_t y = 0; y < g->oh; y++) add_row(src + y * g->qw, col + y * g->ow, g->ow);
}

/* Step 2 backwards: the window rows interleaved from the column phases
 * (zero in rows of phases no tap reads). */
LT_EW_CLONES static void merge_window(const lt_conv_geom *g, float *pair) {
  const int64_t qw = g->qw, sw = g->sw;
  for (int64_t py = 0; py < win_rows(g); py++) {
    const int64_t a = py % g->sh, i = py / g->sh;
    float *r = window_row(g, pair, py);
    if (sw == 2) {
      interleave_row(r, plane_at(g, pair, a, 0) + i * qw, plane_at(g, pair, a, 1) + i * qw, qw);
      continue;
    }
    for (int64_t b = 0; b < sw; b++) {
      const float *p = plane_at(g, pair, a, b) + i * qw;
      for (int64_t x = 0; x < qw; x++) r[x * sw + b] = p[x];
    }
  }
}

/* Step 1 backwards: the image channel (h x w at dst) = v + its pixels of
 * the window; pixels outside the window (read by no tap) get v alone. */
LT_EW_CLONES static void crop_window(const lt_conv_geom *g, float *pair, float *dst, float v) {
  const int64_t inside = max64(0, min64(g->w, win_cols(g) - g->pw)); /* image columns in the window */
  for (int64_t iy = 0; iy < g->h; iy++) {
    float *d = dst + iy * g->w;
    const int64_t py = iy + g->ph;
    if (py >= win_rows(g)) {
      fill_row(d, v, g->w);
      continue;
    }
    if (inside > 0) copy_add_row(d, window_row(g, pair, py) + g->pw, v, inside);
    fill_row(d + inside, v, g->w - inside);
  }
}

/* Within a group the taps go one after another over all its pairs: two
 * taps of one pair add into overlapping places, and running them back to
 * back would read blocks whose stores are still in flight. Rows of phases
 * no tap reads stay zero from the start. */
void lt_col2im(const lt_conv_geom *g, const float *col, int64_t m, int64_t ld, float *img, const float *init,
               float *work) {
  const int64_t pairs = m * g->c, hw = g->h * g->w, pf = pair_floats(g), lp = lt_conv_lp(g), kk = g->kh * g->kw;
  const int64_t gp = group_pairs(g), groups = (pairs + gp - 1) / gp, planes = win_rows(g) * win_cols(g);
  const bool par = run_parallel(pairs * kk * lp);
#pragma omp parallel for schedule(static) if (par)
  for (int64_t gr = 0; gr < groups; gr++) {
    const int64_t q0 = gr * gp, q1 = min64(q0 + gp, pairs);
    for (int64_t q = q0; q < q1; q++) fill_row(work + q * pf, 0.0f, planes);
    FOR_EACH_TAP(g, work, {
      for (int64_t q = q0; q < q1; q++) {
        const int64_t i = q / g->c, ci = q % g->c;
        column_to_plane(g, col + (ci * kk + t) * ld + i * lp, src + q * pf);
      }
    });
    if (split_cols(g))
      for (int64_t q = q0; q < q1; q++) merge_window(g, work + q * pf);
    for (int64_t q = q0; q < q1; q++) crop_window(g, work + q * pf, img + q * hw, init ? init[q % g->c] : 0.0f);
  }
}

/* ==================== the other side ==================== */

/* One plane of the other side (oh x ow) into the column layout (oh x
 * pitch), zero in the unused columns. */
LT_EW_CLONES static void gather_plane(const lt_conv_geom *g, const float *s, float *d) {
  if (g->pitch == g->ow) {
    copy_row(d, s, g->oh * g->ow);
    return;
  }
  for (int64_t y = 0; y < g->oh; y++) {
    copy_row(d + y * g->pitch, s + y * g->ow, g->ow);
    fill_row(d + y * g->pitch + g->ow, 0.0f, g->pitch - g->ow);
  }
}

/* One plane back (oh x pitch to oh x ow), plus v. */
LT_EW_CLONES static void scatter_plane(const lt_conv_geom *g, const float *s, float v, float *d) {
  if (g->pitch == g->ow) {
    copy_add_row(d, s, v, g->oh * g->ow);
    return;
  }
  for (int64_t y = 0; y < g->oh; y++) copy_add_row(d + y * g->ow, s + y * g->pitch, v, g->ow);
}

void lt_conv_gather(const lt_conv_geom *g, const float *src, int64_t m, int64_t c, float *dst) {
  const int64_t lp = lt_conv_lp(g), l = g->oh * g->ow, pairs = m * c;
  const bool par = run_parallel(pairs * lp);
#pragma omp parallel for schedule(static) if (par)
  for (int64_t q = 0; q < pairs; q++) gather_plane(g, src + q * l, dst + (q % c * m + q / c) * lp);
}

void lt_conv_scatter(const lt_conv_geom *g, const float *src, int64_t m, int64_t c, const float *bias, float *dst) {
  const int64_t lp = lt_conv_lp(g), l = g->oh * g->ow, pairs = m * c;
  const bool par = run_parallel(pairs * l);
#pragma omp parallel for schedule(static) if (par)
  for (int64_t q = 0; q < pairs; q++)
    scatter_plane(g, src + (q % c * m + q / c) * lp, bias ? bias[q % c] : 0.0f, dst + q * l);
}
