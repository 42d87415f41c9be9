/* im2col/col2im in two layouts (see im2col.h), and the gathers that put the
 * other side's GEMM operand in the same column layout.
 *
 * Every loop runs over (image, channel) pairs under OpenMP: pairs never write
 * the same memory, and each thread keeps the phase planes of its current
 * pair in a small slice of `work`, hot in cache. */
#include "ops/im2col.h"

#include <omp.h>
#include <string.h>

/* The rows here are short (3 to 30 floats): GCC would turn their copy and
 * zero loops into memcpy/memset calls that cost more than the copying. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-loop-distribute-patterns")
#endif

#define PAR_MIN 32768 /* loops over fewer elements run on one thread */

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

static int64_t phase_plane_floats(const lt_conv_geom *g) { return g->qh * g->pitch; }

size_t lt_im2col_work_floats(const lt_conv_geom *g) {
  if (!g->phased) return 0;
  return (size_t)(omp_get_max_threads() * g->sh * g->sw * phase_plane_floats(g));
}

/* The positions x < n whose source column x * s + x0 lies in [0, w): [*lo, *hi). */
static void valid_range(int64_t x0, int64_t s, int64_t w, int64_t n, int64_t *lo, int64_t *hi) {
  int64_t a = x0 >= 0 ? 0 : (-x0 + s - 1) / s;
  int64_t b = x0 > w - 1 ? 0 : (w - 1 - x0) / s + 1;
  *lo = min64(a, n);
  *hi = b < *lo ? *lo : min64(b, n);
}

/* d[x] = s[x sw] for x < n; strides 1 and 2 get loops the compiler vectorizes. */
static inline void gather_row(float *restrict d, const float *restrict s, int64_t n, int64_t sw) {
  if (sw == 1)
    for (int64_t x = 0; x < n; x++) d[x] = s[x];
  else if (sw == 2)
    for (int64_t x = 0; x < n; x++) d[x] = s[2 * x];
  else
    for (int64_t x = 0; x < n; x++) d[x] = s[x * sw];
}

/* d[x sw] += s[x] for x < n. */
static inline void scatter_add_row(float *restrict d, const float *restrict s, int64_t n, int64_t sw) {
  if (sw == 1)
    for (int64_t x = 0; x < n; x++) d[x] += s[x];
  else if (sw == 2)
    for (int64_t x = 0; x < n; x++) d[2 * x] += s[x];
  else
    for (int64_t x = 0; x < n; x++) d[x * sw] += s[x];
}

/* d[x] = s[x * sw + x0] for x < n, zero outside [lo, hi) (from valid_range). */
static inline void padded_row(float *d, const float *s, int64_t x0, int64_t sw, int64_t lo, int64_t hi, int64_t n) {
  for (int64_t x = 0; x < lo; x++) d[x] = 0;
  gather_row(d + lo, s + (lo * sw + x0), hi - lo, sw);
  for (int64_t x = hi; x < n; x++) d[x] = 0;
}

/* Steps (a, r) = (t d % s, t d / s) from tap t to t + 1 without dividing. */
static inline void next_tap(int64_t *a, int64_t *r, int64_t d, int64_t s) {
  *a += d;
  while (*a >= s) *a -= s, ++*r;
}

/* Is phase a (of stride s) read by any of the k taps spaced d apart? */
static bool phase_read(int64_t a, int64_t k, int64_t d, int64_t s) {
  for (int64_t t = 0; t < k; t++)
    if (t * d % s == a) return true;
  return false;
}

static uint64_t phase_mask(int64_t k, int64_t d, int64_t s) {
  uint64_t m = 0;
  for (int64_t a = 0; a < s && a < 64; a++)
    if (phase_read(a, k, d, s)) m |= (uint64_t)1 << a;
  return m;
}

static bool row_used(const lt_conv_geom *g, int64_t a) {
  return a < 64 ? (g->row_phases >> a) & 1 : phase_read(a, g->kh, g->dh, g->sh);
}

static bool col_used(const lt_conv_geom *g, int64_t b) {
  return b < 64 ? (g->col_phases >> b) & 1 : phase_read(b, g->kw, g->dw, g->sw);
}

void lt_conv_geom_init(lt_conv_geom *g) {
  const int64_t pitch = g->ow + (g->kw - 1) * g->dw / g->sw;
  const bool pointwise = g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0;
  g->phased = !pointwise && 2 * pitch <= 3 * g->ow; /* at most half as many wasted columns */
  g->pitch = g->phased ? pitch : g->ow;
  g->qh = g->oh + (g->kh - 1) * g->dh / g->sh + 1; /* + 1: a tap's run may end one row lower */
  g->row_phases = phase_mask(g->kh, g->dh, g->sh);
  g->col_phases = phase_mask(g->kw, g->dw, g->sw);
  g->pair = g->sw == 2 && g->col_phases == 3;
  g->pair_lo = g->pair_hi = 0;
  if (g->pair) {
    int64_t lo1, hi1;
    valid_range(-g->pw, 2, g->w, g->pitch, &g->pair_lo, &g->pair_hi);
    valid_range(1 - g->pw, 2, g->w, g->pitch, &lo1, &hi1);
    if (lo1 > g->pair_lo) g->pair_lo = lo1;
    if (hi1 < g->pair_hi) g->pair_hi = hi1;
    if (g->pair_hi < g->pair_lo) g->pair_hi = g->pair_lo;
  }
}

/* ==================== plain layout ==================== */

static void im2col_plain(const lt_conv_geom *g, const float *img, int64_t m, float *col, int64_t ld) {
  const int64_t lp = lt_conv_lp(g), hw = g->h * g->w, pairs = m * g->c;
#pragma omp parallel for schedule(static) if (pairs * g->kh * g->kw * lp > PAR_MIN)
  for (int64_t q = 0; q < pairs; q++) {
    const int64_t i = q / g->c, ci = q % g->c;
    for (int64_t ki = 0; ki < g->kh; ki++)
      for (int64_t kj = 0; kj < g->kw; kj++) {
        float *dst = col + ((ci * g->kh + ki) * g->kw + kj) * ld + i * lp;
        const int64_t x0 = kj * g->dw - g->pw;
        int64_t lo, hi;
        valid_range(x0, g->sw, g->w, g->ow, &lo, &hi);
        for (int64_t y = 0; y < g->oh; y++) {
          const int64_t iy = y * g->sh - g->ph + ki * g->dh;
          if (iy < 0 || iy >= g->h) memset(dst + y * g->ow, 0, (size_t)g->ow * sizeof *dst);
          else padded_row(dst + y * g->ow, img + q * hw + iy * g->w, x0, g->sw, lo, hi, g->ow);
        }
      }
  }
}

static void col2im_plain(const lt_conv_geom *g, const float *col, int64_t m, float *img, const float *init) {
  const int64_t lp = lt_conv_lp(g), ld = m * lp, hw = g->h * g->w, pairs = m * g->c;
#pragma omp parallel for schedule(static) if (pairs * g->kh * g->kw * lp > PAR_MIN)
  for (int64_t q = 0; q < pairs; q++) {
    const int64_t i = q / g->c, ci = q % g->c;
    float *dst = img + q * hw;
    const float v = init ? init[ci] : 0.0f;
    for (int64_t k = 0; k < hw; k++) dst[k] = v;
    for (int64_t ki = 0; ki < g->kh; ki++)
      for (int64_t kj = 0; kj < g->kw; kj++) {
        const float *src = col + ((ci * g->kh + ki) * g->kw + kj) * ld + i * lp;
        const int64_t x0 = kj * g->dw - g->pw;
        int64_t lo, hi;
        valid_range(x0, g->sw, g->w, g->ow, &lo, &hi);
        for (int64_t y = 0; y < g->oh; y++) {
          const int64_t iy = y * g->sh - g->ph + ki * g->dh;
          if (iy >= 0 && iy < g->h)
            scatter_add_row(dst + (iy * g->w + lo * g->sw + x0), src + y * g->ow + lo, hi - lo, g->sw);
        }
      }
  }
}

/* ==================== phased layout ==================== */

/* Phase plane (a, b) holds padded[i sh + a][j sw + b] for i < qh, j < pitch,
 * where padded is the image with ph, pw rows and columns of zeros around. */
static float *phase_plane(const lt_conv_geom *g, float *planes, int64_t a, int64_t b) {
  return planes + (a * g->sw + b) * phase_plane_floats(g);
}

/* e[j] = r[2 j + x0], o[j] = r[2 j + 1 + x0] for j < n, zero where the source
 * is outside [0, w): both column phases of a row for stride 2 in one pass.
 * [lo, hi) is where both sources are inside (from valid_range). */
static void split_row2(float *restrict e, float *restrict o, const float *restrict r, int64_t x0, int64_t w,
                       int64_t lo, int64_t hi, int64_t n) {
  for (int64_t j = 0; j < lo; j++) {
    const int64_t ix = 2 * j + x0;
    e[j] = ix >= 0 && ix < w ? r[ix] : 0;
    o[j] = ix + 1 >= 0 && ix + 1 < w ? r[ix + 1] : 0;
  }
  const float *rr = r + (2 * lo + x0);
  for (int64_t j = 0; j < hi - lo; j++) {
    e[lo + j] = rr[2 * j];
    o[lo + j] = rr[2 * j + 1];
  }
  for (int64_t j = hi; j < n; j++) {
    const int64_t ix = 2 * j + x0;
    e[j] = ix >= 0 && ix < w ? r[ix] : 0;
    o[j] = ix + 1 >= 0 && ix + 1 < w ? r[ix + 1] : 0;
  }
}

static void split_phases(const lt_conv_geom *g, const float *src, float *planes) {
  for (int64_t a = 0; a < g->sh; a++) {
    if (!row_used(g, a)) continue;
    if (g->pair) {
      float *e = phase_plane(g, planes, a, 0), *o = phase_plane(g, planes, a, 1);
      for (int64_t i = 0; i < g->qh; i++) {
        const int64_t iy = i * g->sh + a - g->ph;
        if (iy < 0 || iy >= g->h) {
          memset(e + i * g->pitch, 0, (size_t)g->pitch * sizeof *e);
          memset(o + i * g->pitch, 0, (size_t)g->pitch * sizeof *o);
        } else {
          split_row2(e + i * g->pitch, o + i * g->pitch, src + iy * g->w, -g->pw, g->w, g->pair_lo, g->pair_hi,
                     g->pitch);
        }
      }
      continue;
    }
    for (int64_t b = 0; b < g->sw; b++) {
      if (!col_used(g, b)) continue;
      float *p = phase_plane(g, planes, a, b);
      int64_t lo, hi;
      valid_range(b - g->pw, g->sw, g->w, g->pitch, &lo, &hi);
      for (int64_t i = 0; i < g->qh; i++) {
        const int64_t iy = i * g->sh + a - g->ph;
        if (iy < 0 || iy >= g->h) memset(p + i * g->pitch, 0, (size_t)g->pitch * sizeof *p);
        else padded_row(p + i * g->pitch, src + iy * g->w, b - g->pw, g->sw, lo, hi, g->pitch);
      }
    }
  }
}

/* Calls body(t, plane, start) for each tap t = ki kw + kj, which reads its
 * oh x pitch values from phase plane `plane` from offset `start` on. */
#define FOR_EACH_TAP(g, body)                                                   \
  do {                                                                          \
    int64_t a_ = 0, r_ = 0;                                                     \
    for (int64_t ki_ = 0; ki_ < (g)->kh; ki_++, next_tap(&a_, &r_, (g)->dh, (g)->sh)) { \
      int64_t b_ = 0, c_ = 0;                                                   \
      for (int64_t kj_ = 0; kj_ < (g)->kw; kj_++, next_tap(&b_, &c_, (g)->dw, (g)->sw)) { \
        const int64_t t = ki_ * (g)->kw + kj_, plane = a_ * (g)->sw + b_;       \
        const int64_t start = r_ * (g)->pitch + c_;                             \
        body;                                                                   \
      }                                                                         \
    }                                                                           \
  } while (0)

/* memcpy pays off from a few dozen floats on; shorter runs copy inline. */
static inline void copy_run(float *restrict d, const float *restrict s, int64_t n) {
  if (n >= 32) {
    memcpy(d, s, (size_t)n * sizeof *d);
    return;
  }
  for (int64_t k = 0; k < n; k++) d[k] = s[k];
}

static void im2col_phased(const lt_conv_geom *g, const float *img, int64_t m, float *col, int64_t ld,
                          float *work) {
  const int64_t lp = lt_conv_lp(g), hw = g->h * g->w, pairs = m * g->c;
  const int64_t slice = g->sh * g->sw * phase_plane_floats(g);
#pragma omp parallel for schedule(static) if (pairs * g->kh * g->kw * lp > PAR_MIN)
  for (int64_t q = 0; q < pairs; q++) {
    const int64_t i = q / g->c, ci = q % g->c;
    float *planes = work + omp_get_thread_num() * slice;
    split_phases(g, img + q * hw, planes);
    FOR_EACH_TAP(g, copy_run(col + (ci * g->kh * g->kw + t) * ld + i * lp,
                             planes + plane * phase_plane_floats(g) + start, lp));
  }
}

/* r[2 j + x0] = v + e[j], r[2 j + 1 + x0] = v + o[j] for j < n where inside
 * [0, w), and r = v where no j reaches: split_row2 backwards. */
static void merge_row2(float *restrict r, const float *restrict e, const float *restrict o, int64_t x0, int64_t w,
                       int64_t lo, int64_t hi, int64_t n, float v) {
  for (int64_t ix = 0; ix < x0 && ix < w; ix++) r[ix] = v;
  for (int64_t j = 0; j < lo; j++) {
    const int64_t ix = 2 * j + x0;
    if (ix >= 0 && ix < w) r[ix] = v + e[j];
    if (ix + 1 >= 0 && ix + 1 < w) r[ix + 1] = v + o[j];
  }
  float *rr = r + (2 * lo + x0);
  for (int64_t j = 0; j < hi - lo; j++) {
    rr[2 * j] = v + e[lo + j];
    rr[2 * j + 1] = v + o[lo + j];
  }
  for (int64_t j = hi; j < n; j++) {
    const int64_t ix = 2 * j + x0;
    if (ix >= 0 && ix < w) r[ix] = v + e[j];
    if (ix + 1 >= 0 && ix + 1 < w) r[ix + 1] = v + o[j];
  }
  for (int64_t ix = 2 * n + x0 > 0 ? 2 * n + x0 : 0; ix < w; ix++) r[ix] = v;
}

/* img rows from the phase planes: pixel (iy, ix) is padded (iy + ph, ix + pw);
 * pixels that no tap reads get v alone. */
static void merge_phases(const lt_conv_geom *g, float *planes, float *dst, float v) {
  int64_t a = g->ph % g->sh, i = g->ph / g->sh; /* the phase row of image row 0 */
  for (int64_t iy = 0; iy < g->h; iy++, next_tap(&a, &i, 1, g->sh)) {
    float *d = dst + iy * g->w;
    if (i >= g->qh || !row_used(g, a)) {
      for (int64_t x = 0; x < g->w; x++) d[x] = v;
      continue;
    }
    if (g->pair) {
      merge_row2(d, phase_plane(g, planes, a, 0) + i * g->pitch, phase_plane(g, planes, a, 1) + i * g->pitch,
                 -g->pw, g->w, g->pair_lo, g->pair_hi, g->pitch, v);
      continue;
    }
    for (int64_t x = 0; x < g->w; x++) d[x] = v;
    for (int64_t b = 0; b < g->sw; b++) {
      if (!col_used(g, b)) continue;
      int64_t jl, jh; /* plane columns j whose pixel j sw + b - pw is in the image */
      valid_range(b - g->pw, g->sw, g->w, g->pitch, &jl, &jh);
      scatter_add_row(d + (jl * g->sw + b - g->pw), phase_plane(g, planes, a, b) + i * g->pitch + jl, jh - jl, g->sw);
    }
  }
}

static inline void add_run(float *restrict d, const float *restrict s, int64_t n) {
  for (int64_t k = 0; k < n; k++) d[k] += s[k];
}

static void col2im_phased(const lt_conv_geom *g, const float *col, int64_t m, float *img, const float *init,
                          float *work) {
  const int64_t lp = lt_conv_lp(g), ld = m * lp, hw = g->h * g->w, pairs = m * g->c;
  const int64_t slice = g->sh * g->sw * phase_plane_floats(g);
#pragma omp parallel for schedule(static) if (pairs * g->kh * g->kw * lp > PAR_MIN)
  for (int64_t q = 0; q < pairs; q++) {
    const int64_t i = q / g->c, ci = q % g->c;
    float *planes = work + omp_get_thread_num() * slice;
    memset(planes, 0, (size_t)slice * sizeof *planes);
    FOR_EACH_TAP(g, add_run(planes + plane * phase_plane_floats(g) + start,
                            col + (ci * g->kh * g->kw + t) * ld + i * lp, lp));
    merge_phases(g, planes, img + q * hw, init ? init[ci] : 0.0f);
  }
}

/* ==================== entry points ==================== */

void lt_im2col(const lt_conv_geom *g, const float *img, int64_t m, float *col, int64_t ld, float *work) {
  if (g->phased) im2col_phased(g, img, m, col, ld, work);
  else im2col_plain(g, img, m, col, ld);
}

void lt_col2im(const lt_conv_geom *g, const float *col, int64_t m, float *img, const float *init, float *work) {
  if (g->phased) col2im_phased(g, col, m, img, init, work);
  else col2im_plain(g, col, m, img, init);
}

void lt_conv_gather(const lt_conv_geom *g, const float *src, int64_t m, int64_t c, float *dst) {
  const int64_t lp = lt_conv_lp(g), l = g->oh * g->ow, pairs = m * c;
#pragma omp parallel for schedule(static) if (pairs * lp > PAR_MIN)
  for (int64_t q = 0; q < pairs; q++) {
    const int64_t i = q / c, ci = q % c;
    float *d = dst + (ci * m + i) * lp;
    const float *s = src + q * l;
    if (g->pitch == g->ow) {
      memcpy(d, s, (size_t)l * sizeof *d);
      continue;
    }
    for (int64_t y = 0; y < g->oh; y++) {
      float *dr = d + y * g->pitch;
      const float *sr = s + y * g->ow;
      for (int64_t x = 0; x < g->ow; x++) dr[x] = sr[x];
      for (int64_t x = g->ow; x < g->pitch; x++) dr[x] = 0;
    }
  }
}

void lt_conv_scatter(const lt_conv_geom *g, const float *src, int64_t m, int64_t c, const float *bias, float *dst) {
  const int64_t lp = lt_conv_lp(g), l = g->oh * g->ow, pairs = m * c;
#pragma omp parallel for schedule(static) if (pairs * l > PAR_MIN)
  for (int64_t q = 0; q < pairs; q++) {
    const int64_t i = q / c, ci = q % c;
    const float *s = src + (ci * m + i) * lp;
    float *d = dst + q * l;
    const float v = bias ? bias[ci] : 0.0f;
    if (g->pitch == g->ow) {
      for (int64_t k = 0; k < l; k++) d[k] = s[k] + v;
      continue;
    }
    for (int64_t y = 0; y < g->oh; y++)
      for (int64_t x = 0; x < g->ow; x++) d[y * g->ow + x] = s[y * g->pitch + x] + v;
  }
}
