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

/* The steps of one pair are inlined into the group functions, which are
 * compiled twice (LT_EW_CLONES), so that they run as AVX2 code where the
 * CPU has it. */
#define INLINE inline __attribute__((always_inline))

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
  if (n >= 32 && v == 0.0f) {
    memset(d, 0, (size_t)n * sizeof *d);
  } else if (n >= 8) {
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

/* r[2 j] = v + e[j], r[2 j + 1] = v + o[j] for j < n */
static inline void interleave_row(float *restrict r, const float *restrict e, const float *restrict o, float v,
                                  int64_t n) {
  if (n < 4) {
    for (int64_t j = 0; j < n; j++) r[2 * j] = v + e[j], r[2 * j + 1] = v + o[j];
    return;
  }
  const int64_t blk = n >= 8 ? 8 : 4;
  for (int64_t j = 0;; j += blk) {
    if (j + blk > n) j = n - blk;
    if (blk == 8)
      for (int k = 0; k < 8; k++) r[2 * (j + k)] = v + e[j + k], r[2 * (j + k) + 1] = v + o[j + k];
    else
      for (int k = 0; k < 4; k++) r[2 * (j + k)] = v + e[j + k], r[2 * (j + k) + 1] = v + o[j + k];
    if (j + blk == n) break;
  }
}

/* ==================== geometry ==================== */

/* Is row phase a (column phase b) read by any of the kh (kw) taps? */
static bool phase_read(int64_t a, int64_t k, int64_t d, int64_t s) {
  for (int64_t t = 0; t < k; t++)
    if (t * d % s == a) return true;
  return false;
}

void lt_conv_geom_init(lt_conv_geom *g) {
  /* + 1 row: a tap's run of oh pitch-long rows may end in the row below */
  g->qh = g->oh + (g->kh - 1) * g->dh / g->sh + 1;
  g->qw = g->ow + (g->kw - 1) * g->dw / g->sw;
  g->pitch = 2 * g->qw <= 3 * g->ow ? g->qw : g->ow;
  g->row_phases = 0;
  for (int64_t t = 0; t < g->kh; t++)
    if (t * g->dh % g->sh < 64) g->row_phases |= (uint64_t)1 << (t * g->dh % g->sh);
}

/* Does some tap read row phase a? */
static inline bool row_read(const lt_conv_geom *g, int64_t a) {
  return a < 64 ? (g->row_phases >> a) & 1 : phase_read(a, g->kh, g->dh, g->sh);
}

/* The padded window of one image channel: xh x xw = (sh qh) x (sw qw). */
static int64_t win_rows(const lt_conv_geom *g) { return g->sh * g->qh; }
static int64_t win_cols(const lt_conv_geom *g) { return g->sw * g->qw; }
static int64_t plane_floats(const lt_conv_geom *g) { return g->qh * g->qw; }

/* With one column phase, the window's rows go straight to their planes;
 * with two, the image rows are split into them directly (split_image2);
 * with more, the window is a buffer of its own, split in a second step. */
static bool split_cols(const lt_conv_geom *g) { return g->sw > 2; }

/* Floats of one pair's planes, and of its window after them if separate. */
static int64_t pair_floats(const lt_conv_geom *g) {
  return win_rows(g) * win_cols(g) * (split_cols(g) ? 2 : 1);
}

/* Plane (a, b) of one pair; planes lie one after another, each qh x qw. */
static inline float *plane_at(const lt_conv_geom *g, float *planes, int64_t a, int64_t b) {
  return planes + (a * g->sw + b) * plane_floats(g);
}

/* Where window row py goes: its plane row (one column phase) or its row of
 * the separate window. */
static inline float *window_row(const lt_conv_geom *g, float *pair, int64_t py) {
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

/* One group's planes (and windows) per thread that may run a call. */
size_t lt_im2col_work_floats(const lt_conv_geom *g, int64_t m) {
  const int64_t pairs = m * g->c, gp = min64(group_pairs(g), pairs), groups = gp > 0 ? (pairs + gp - 1) / gp : 0;
  return (size_t)(min64(groups, omp_get_max_threads()) * gp * pair_floats(g));
}

/* The planes of pair q of group [q0, ...) in this thread's part of work. */
static float *group_work(const lt_conv_geom *g, float *work, int64_t q, int64_t q0) {
  return work + (omp_get_thread_num() * group_pairs(g) + (q - q0)) * pair_floats(g);
}

/* ==================== im2col ==================== */

/* Step 1: the padded window of one image channel (h x w at src): pixel
 * (py, px) = src (py - ph, px - pw) inside the image, else 0. All zeros
 * first, then the image rows over them: two long loops rather than three
 * short ones per row. */
static INLINE void pad_window(const lt_conv_geom *g, const float *src, float *pair) {
  const int64_t xh = win_rows(g), xw = win_cols(g);
  const int64_t c0 = min64(g->pw, xw), c1 = min64(g->pw + g->w, xw); /* window columns from the image */
  const int64_t r0 = min64(g->ph, xh), r1 = min64(g->ph + g->h, xh);  /* window rows from the image */
  fill_row(split_cols(g) ? window_row(g, pair, 0) : pair, 0.0f, xh * xw);
  if (c1 > c0)
    for (int64_t py = r0; py < r1; py++)
      copy_row(window_row(g, pair, py) + c0, src + (py - g->ph) * g->w + (c0 - g->pw), c1 - c0);
}

/* Step 2 (column stride > 1): each window row into its column phases;
 * rows and columns of phases no tap reads are skipped. */
static INLINE void split_window(const lt_conv_geom *g, float *pair) {
  const int64_t qw = g->qw, sw = g->sw;
  for (int64_t py = 0; py < win_rows(g); py++) {
    const int64_t a = py % g->sh, i = py / g->sh;
    if (!row_read(g, a)) continue;
    const float *r = window_row(g, pair, py);
    for (int64_t b = 0; b < sw; b++) {
      if (!phase_read(b, g->kw, g->dw, sw)) continue;
      float *p = plane_at(g, pair, a, b) + i * qw;
      for (int64_t x = 0; x < qw; x++) p[x] = r[x * sw + b];
    }
  }
}

/* Where the image columns of a row land for column stride 2: image column
 * ix is padded column ix + pw = 2 x + b, so even columns go to plane
 * be = pw % 2 from its column se = pw / 2 on, odd ones to the other plane
 * from column so = (pw + 1) / 2 on; ne and no of them fit in the planes. */
typedef struct {
  int64_t be, se, so, ne, no;
} cols2;

static cols2 columns2(const lt_conv_geom *g) {
  cols2 k = {g->pw % 2, min64(g->pw / 2, g->qw), min64((g->pw + 1) / 2, g->qw), 0, 0};
  k.ne = min64((g->w + 1) / 2, g->qw - k.se);
  k.no = min64(g->w / 2, g->qw - k.so);
  return k;
}

/* Steps 1 and 2 at once for column stride 2: plane rows straight from the
 * image rows, zero where the padding is. */
static INLINE void split_image2(const lt_conv_geom *g, const float *src, float *pair) {
  const int64_t qw = g->qw;
  const cols2 k = columns2(g);
  for (int64_t a = 0; a < g->sh; a++) {
    if (!row_read(g, a)) continue;
    float *e = plane_at(g, pair, a, k.be), *o = plane_at(g, pair, a, 1 - k.be);
    int64_t iy = a - g->ph;
    for (int64_t i = 0; i < g->qh; i++, e += qw, o += qw, iy += g->sh) {
      if (iy < 0 || iy >= g->h) {
        fill_row(e, 0.0f, qw);
        fill_row(o, 0.0f, qw);
        continue;
      }
      const float *r = src + iy * g->w;
      fill_row(e, 0.0f, k.se);
      fill_row(o, 0.0f, k.so);
      deinterleave_row(e + k.se, o + k.so, r, k.no);
      if (k.ne > k.no) e[k.se + k.no] = r[2 * k.no]; /* an odd width's last column */
      fill_row(e + k.se + k.ne, 0.0f, qw - k.se - k.ne);
      fill_row(o + k.so + k.no, 0.0f, qw - k.so - k.no);
    }
  }
}

/* Step 3: the taps' columns of one pair (col points at its first column of
 * row (ci, 0, 0); rows ld apart). */
static INLINE void taps_to_columns(const lt_conv_geom *g, float *pair, float *col, int64_t ld) {
  FOR_EACH_TAP(g, pair, {
    float *d = col + t * ld;
    if (g->pitch == g->qw) copy_row(d, src, g->oh * g->qw);
    else
      for (int64_t y = 0; y < g->oh; y++) copy_row(d + y * g->ow, src + y * g->qw, g->ow);
  });
}

/* The columns of pairs q0 .. q1 - 1 (a group), their planes in `planes`. */
LT_EW_CLONES static void im2col_group(const lt_conv_geom *g, const float *img, int64_t q0, int64_t q1, float *col,
                                      int64_t ld, float *planes) {
  const int64_t hw = g->h * g->w, lp = lt_conv_lp(g), kk = g->kh * g->kw, pf = pair_floats(g);
  if (g->sw == 2) {
    for (int64_t q = q0; q < q1; q++) split_image2(g, img + q * hw, planes + (q - q0) * pf);
  } else {
    for (int64_t q = q0; q < q1; q++) pad_window(g, img + q * hw, planes + (q - q0) * pf);
    if (split_cols(g))
      for (int64_t q = q0; q < q1; q++) split_window(g, planes + (q - q0) * pf);
  }
  for (int64_t q = q0; q < q1; q++) {
    const int64_t i = q / g->c, ci = q % g->c;
    taps_to_columns(g, planes + (q - q0) * pf, col + ci * kk * ld + i * lp, ld);
  }
}

void lt_im2col(const lt_conv_geom *g, const float *img, int64_t m, float *col, int64_t ld, float *work) {
  const int64_t pairs = m * g->c, lp = lt_conv_lp(g), kk = g->kh * g->kw;
  const int64_t gp = group_pairs(g), groups = (pairs + gp - 1) / gp;
  const bool par = run_parallel(pairs * kk * lp);
#pragma omp parallel for schedule(static) if (par)
  for (int64_t gr = 0; gr < groups; gr++) {
    const int64_t q0 = gr * gp;
    im2col_group(g, img, q0, min64(q0 + gp, pairs), col, ld, group_work(g, work, q0, q0));
  }
}

/* ==================== col2im ==================== */

/* Step 3 backwards for one tap of one pair: its columns added into its plane. */
static INLINE void column_to_plane(const lt_conv_geom *g, const float *col, float *src) {
  if (g->pitch == g->qw) add_row(src, col, g->oh * g->qw);
  else
    for (int64_t y = 0; y < g->oh; y++) add_row(src + y * g->qw, col + y * g->ow, g->ow);
}

/* Step 2 backwards: the window rows interleaved from the column phases
 * (zero in rows of phases no tap reads). */
static INLINE void merge_window(const lt_conv_geom *g, float *pair) {
  const int64_t qw = g->qw, sw = g->sw;
  for (int64_t py = 0; py < win_rows(g); py++) {
    const int64_t a = py % g->sh, i = py / g->sh;
    float *r = window_row(g, pair, py);
    for (int64_t b = 0; b < sw; b++) {
      const float *p = plane_at(g, pair, a, b) + i * qw;
      for (int64_t x = 0; x < qw; x++) r[x * sw + b] = p[x];
    }
  }
}

/* Steps 2 and 1 backwards at once for column stride 2 (see split_image2). */
static INLINE void merge_image2(const lt_conv_geom *g, float *pair, float *dst, float v) {
  const int64_t qw = g->qw;
  const cols2 k = columns2(g);
  const int64_t inside = max64(0, k.ne) + max64(0, k.no); /* image columns in the planes */
  for (int64_t iy = 0; iy < g->h; iy++) {
    float *d = dst + iy * g->w;
    const int64_t py = iy + g->ph, a = py % g->sh, i = py / g->sh;
    if (py >= win_rows(g) || !row_read(g, a)) {
      fill_row(d, v, g->w);
      continue;
    }
    const float *e = plane_at(g, pair, a, k.be) + i * qw + k.se, *o = plane_at(g, pair, a, 1 - k.be) + i * qw + k.so;
    interleave_row(d, e, o, v, k.no);
    if (k.ne > k.no) d[2 * k.no] = v + e[k.no];
    fill_row(d + inside, v, g->w - inside);
  }
}

/* Step 1 backwards: the image channel (h x w at dst) = v + its pixels of
 * the window; pixels outside the window (read by no tap) get v alone. */
static INLINE void crop_window(const lt_conv_geom *g, float *pair, float *dst, float v) {
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
/* Pixels of pairs q0 .. q1 - 1 (a group) from their columns, through their
 * planes in `planes`. */
LT_EW_CLONES static void col2im_group(const lt_conv_geom *g, const float *col, int64_t ld, int64_t q0, int64_t q1,
                                      float *img, const float *init, float *planes) {
  const int64_t hw = g->h * g->w, pf = pair_floats(g), lp = lt_conv_lp(g), kk = g->kh * g->kw;
  fill_row(planes, 0.0f, (q1 - q0) * pf); /* rows of phases no tap reads stay zero */
  FOR_EACH_TAP(g, planes, {
    for (int64_t q = q0; q < q1; q++) {
      const int64_t i = q / g->c, ci = q % g->c;
      column_to_plane(g, col + (ci * kk + t) * ld + i * lp, src + (q - q0) * pf);
    }
  });
  for (int64_t q = q0; q < q1; q++) {
    float *pair = planes + (q - q0) * pf, *dst = img + q * hw;
    const float v = init ? init[q % g->c] : 0.0f;
    if (g->sw == 2) {
      merge_image2(g, pair, dst, v);
      continue;
    }
    if (split_cols(g)) merge_window(g, pair);
    crop_window(g, pair, dst, v);
  }
}

void lt_col2im(const lt_conv_geom *g, const float *col, int64_t m, int64_t ld, float *img, const float *init,
               float *work) {
  const int64_t pairs = m * g->c, lp = lt_conv_lp(g), kk = g->kh * g->kw;
  const int64_t gp = group_pairs(g), groups = (pairs + gp - 1) / gp;
  const bool par = run_parallel(pairs * kk * lp);
#pragma omp parallel for schedule(static) if (par)
  for (int64_t gr = 0; gr < groups; gr++) {
    const int64_t q0 = gr * gp;
    col2im_group(g, col, ld, q0, min64(q0 + gp, pairs), img, init, group_work(g, work, q0, q0));
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
