/* FFT-accelerated interpolation for the repulsive forces of 2-D t-SNE: the
 * FFT, the grid, the kernel spectra, spreading and gathering. See
 * fft_interp.h for the method. */
#include "analysis/fft_interp.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/lt_alloc.h"

#ifndef FFT_P
#define FFT_P 3
#define FFT_MIN_BOXES 50
#define FFT_BOX_WIDTH 1.0
#endif
enum {
  P = FFT_P,          /* interpolation nodes per box and axis (FIt-SNE's default) */
  MIN_BOXES = FFT_MIN_BOXES, /* boxes per axis however small the embedding (FIt-SNE's default) */
  COLS = 4        /* columns transformed together: four complex doubles fill a cache line */
};
#define BOX_WIDTH FFT_BOX_WIDTH /* wanted box width in embedding units; the kernel varies on a scale of 1 */
#define SPACING_STEPS 16.0 /* box widths are rounded up to powers of 2^(1/16) */

/* ==================== the FFT ==================== */

struct lt_fft_plan {
  int n;
  double *tw;    /* exp(-2 pi i k / n), k < n/2, interleaved */
  int32_t *rev;  /* bit-reversed indices */
};

lt_fft_plan *lt_fft_plan_new(int n) {
  if (n < 2 || (n & (n - 1))) {
    lt_error(LT_ERR_ARG, "fft: size must be a power of two, got %d", n);
    return NULL;
  }
  lt_fft_plan *p = lt_calloc(sizeof *p);
  if (!p) return NULL;
  p->n = n;
  p->tw = lt_alloc((size_t)n * sizeof(double));
  p->rev = lt_alloc((size_t)n * sizeof(int32_t));
  if (!p->tw || !p->rev) {
    lt_fft_plan_free(p);
    return NULL;
  }
  for (int k = 0; k < n / 2; k++) {
    p->tw[2 * k] = cos(2 * M_PI * k / n);
    p->tw[2 * k + 1] = -sin(2 * M_PI * k / n);
  }
  int bits = 0;
  while ((1 << bits) < n) bits++;
  for (int k = 0; k < n; k++) {
    int r = 0;
    for (int b = 0; b < bits; b++) r |= ((k >> b) & 1) << (bits - 1 - b);
    p->rev[k] = r;
  }
  return p;
}

void lt_fft_plan_free(lt_fft_plan *p) {
  if (!p) return;
  lt_free(p->tw, (size_t)p->n * sizeof(double));
  lt_free(p->rev, (size_t)p->n * sizeof(int32_t));
  lt_free(p, sizeof *p);
}

/* Iterative decimation in time (Cooley-Tukey): bit-reversal, then
 * butterflies of growing span. */
void lt_fft(const lt_fft_plan *p, double *a, int inverse) {
  int n = p->n;
  double sign = inverse ? -1 : 1;
  for (int k = 0; k < n; k++) {
    int r = p->rev[k];
    if (r > k) {
      double t0 = a[2 * k], t1 = a[2 * k + 1];
      a[2 * k] = a[2 * r], a[2 * k + 1] = a[2 * r + 1];
      a[2 * r] = t0, a[2 * r + 1] = t1;
    }
  }
  for (int half = 1; half < n; half *= 2) {
    int stride = n / (2 * half);
    for (int j = 0; j < half; j++) {
      double wr = p->tw[2 * j * stride], wi = sign * p->tw[2 * j * stride + 1];
      for (int i = j; i < n; i += 2 * half) {
        double *u = a + 2 * i, *v = a + 2 * (i + half);
        double vr = v[0] * wr - v[1] * wi, vi = v[0] * wi + v[1] * wr;
        v[0] = u[0] - vr, v[1] = u[1] - vi;
        u[0] += vr, u[1] += vi;
      }
    }
  }
}

/* ==================== 2-D transforms of an L x L grid ==================== */

/* Rows [0, rows) of g (L x L complex, row-major), one FFT each. */
static void fft_rows(const lt_fft_plan *pl, double *g, int rows, int inverse) {
  int L = pl->n;
#pragma omp parallel for schedule(static)
  for (int r = 0; r < rows; r++) lt_fft(pl, g + (int64_t)2 * r * L, inverse);
}

/* Every column of g; rows at or past `rows` are taken as zero on input.
 * Columns travel COLS at a time through a per-thread buffer. */
static void fft_cols(const lt_fft_plan *pl, double *g, int rows, int inverse, double *buf) {
  int L = pl->n;
#pragma omp parallel for schedule(static)
  for (int c0 = 0; c0 < L; c0 += COLS) {
    double *b = buf + (int64_t)omp_get_thread_num() * 2 * COLS * L;
    for (int r = 0; r < L; r++)
      for (int c = 0; c < COLS; c++) {
        const double *src = g + 2 * ((int64_t)r * L + c0 + c);
        b[2 * (c * L + r)] = r < rows ? src[0] : 0;
        b[2 * (c * L + r) + 1] = r < rows ? src[1] : 0;
      }
    for (int c = 0; c < COLS; c++) lt_fft(pl, b + 2 * c * L, inverse);
    for (int r = 0; r < L; r++)
      for (int c = 0; c < COLS; c++) {
        double *dst = g + 2 * ((int64_t)r * L + c0 + c);
        dst[0] = b[2 * (c * L + r)], dst[1] = b[2 * (c * L + r) + 1];
      }
  }
}

/* ==================== state ==================== */

struct lt_fft_repulsion {
  int L, nb;          /* FFT size per axis; boxes per axis (nb * P <= L / 2) */
  double bw;          /* box width the spectra were made for (0: none yet) */
  lt_fft_plan *plan;
  double *kz;         /* L x L real: spectrum of K, divided by L^2 */
  double *kf;         /* L x L complex: spectrum of K^2 dx + i K^2 dy, divided by L^2 */
  double *g;          /* L x L complex work grid */
  double *buf;        /* column buffers, `threads` of them */
  int threads;
  double *zrow;       /* per-row parts of Z's sum, L of them */
  int64_t cap;        /* points the per-point arrays hold */
  int32_t *box;       /* n x 2: box of each point */
  double *w;          /* n x 2 x P: Lagrange weights on each axis */
};

lt_fft_repulsion *lt_fft_repulsion_new(void) { return lt_calloc(sizeof(lt_fft_repulsion)); }

static void free_grid(lt_fft_repulsion *r) {
  size_t LL = (size_t)r->L * r->L;
  lt_fft_plan_free(r->plan);
  lt_free(r->kz, LL * sizeof(double)), lt_free(r->kf, 2 * LL * sizeof(double)), lt_free(r->g, 2 * LL * sizeof(double));
  lt_free(r->buf, (size_t)r->threads * 2 * COLS * r->L * sizeof(double));
  lt_free(r->zrow, (size_t)r->L * sizeof(double));
  r->plan = NULL, r->kz = r->kf = r->g = r->buf = r->zrow = NULL, r->L = 0, r->bw = 0;
}

static void free_points(lt_fft_repulsion *r) {
  lt_free(r->box, (size_t)r->cap * 2 * sizeof(int32_t)), lt_free(r->w, (size_t)r->cap * 2 * P * sizeof(double));
  r->box = NULL, r->w = NULL, r->cap = 0;
}

void lt_fft_repulsion_free(lt_fft_repulsion *r) {
  if (!r) return;
  free_grid(r);
  free_points(r);
  lt_free(r, sizeof *r);
}

static lt_status reserve(lt_fft_repulsion *r, int L, int64_t n) {
  int threads = omp_get_max_threads();
  if (L != r->L || threads != r->threads) {
    free_grid(r);
    size_t LL = (size_t)L * L;
    r->L = L, r->threads = threads;
    r->plan = lt_fft_plan_new(L);
    r->kz = lt_alloc(LL * sizeof(double)), r->kf = lt_alloc(2 * LL * sizeof(double));
    r->g = lt_alloc(2 * LL * sizeof(double));
    r->buf = lt_alloc((size_t)threads * 2 * COLS * L * sizeof(double));
    r->zrow = lt_alloc((size_t)L * sizeof(double));
    if (!r->plan || !r->kz || !r->kf || !r->g || !r->buf || !r->zrow) {
      free_grid(r);
      return lt_error(LT_ERR_MEMORY, "tsne: out of memory for a %dx%d FFT grid", L, L);
    }
  }
  if (n > r->cap) {
    free_points(r);
    r->box = lt_alloc((size_t)n * 2 * sizeof(int32_t)), r->w = lt_alloc((size_t)n * 2 * P * sizeof(double));
    r->cap = n;
    if (!r->box || !r->w) {
      free_points(r);
      return lt_error(LT_ERR_MEMORY, "tsne: out of memory for %lld points", (long long)n);
    }
  }
  return LT_OK;
}

/* ==================== kernel spectra ==================== */

/* Tabulates the kernels at node offsets (wrapped circularly, so the L x L
 * grid holds every offset in (-L/2, L/2]) and transforms them. h is the
 * node spacing. */
static void make_spectra(lt_fft_repulsion *r, double h) {
  int L = r->L;
  double scale = 1.0 / ((double)L * L), *g = r->g;
#pragma omp parallel for schedule(static)
  for (int row = 0; row < L; row++)
    for (int col = 0; col < L; col++) {
      double dy = (row <= L / 2 ? row : row - L) * h, dx = (col <= L / 2 ? col : col - L) * h;
      double k = 1 / (1 + dx * dx + dy * dy);
      int64_t at = (int64_t)row * L + col;
      r->kz[at] = k;
      g[2 * at] = k * k * dx, g[2 * at + 1] = k * k * dy;
    }
  fft_rows(r->plan, g, L, 0);
  fft_cols(r->plan, g, L, 0, r->buf);
  for (int64_t a = 0; a < 2 * (int64_t)L * L; a++) r->kf[a] = g[a] * scale;
  for (int64_t a = 0; a < (int64_t)L * L; a++) g[2 * a] = r->kz[a], g[2 * a + 1] = 0;
  fft_rows(r->plan, g, L, 0);
  fft_cols(r->plan, g, L, 0, r->buf);
  for (int64_t a = 0; a < (int64_t)L * L; a++) r->kz[a] = g[2 * a] * scale; /* real: K is even */
}

/* ==================== the grid and the points ==================== */

typedef struct {
  double lo[2], bw; /* lower corner of the boxes and their width */
  int nb, L;
} geometry;

/* At least MIN_BOXES boxes per axis, about BOX_WIDTH wide, as many as the
 * FFT size allows (more boxes cost no more FFT time), over a square centred
 * on the points; the width rounded up to a power of 2^(1/16). */
static geometry choose_grid(const double *y, int64_t n) {
  double lo[2] = {y[0], y[1]}, hi[2] = {y[0], y[1]};
  for (int64_t i = 1; i < n; i++)
    for (int a = 0; a < 2; a++) lo[a] = fmin(lo[a], y[2 * i + a]), hi[a] = fmax(hi[a], y[2 * i + a]);
  double range = fmax(fmax(hi[0] - lo[0], hi[1] - lo[1]), 1e-12);
  double need = fmax(MIN_BOXES, ceil(range / BOX_WIDTH));
  geometry g;
  g.L = 2;
  while (g.L / (2 * P) < need) g.L *= 2;
  g.nb = g.L / (2 * P);
  g.bw = exp2(ceil(log2(range * (1 + 1e-9) / g.nb) * SPACING_STEPS) / SPACING_STEPS);
  for (int a = 0; a < 2; a++) g.lo[a] = 0.5 * (lo[a] + hi[a]) - 0.5 * g.nb * g.bw;
  return g;
}

/* Lagrange weights at s in [0, 1] of the nodes at (t + 1/2) / P of a box. */
static void lagrange(double s, double *w) {
  for (int t = 0; t < P; t++) {
    double num = 1, den = 1, xt = (t + 0.5) / P;
    for (int u = 0; u < P; u++) {
      if (u == t) continue;
      double xu = (u + 0.5) / P;
      num *= s - xu, den *= xt - xu;
    }
    w[t] = num / den;
  }
}

static void locate(lt_fft_repulsion *r, const geometry *g, const double *y, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++)
    for (int a = 0; a < 2; a++) {
      double s = (y[2 * i + a] - g->lo[a]) / g->bw;
      int b = (int)s;
      b = b < 0 ? 0 : b >= g->nb ? g->nb - 1 : b;
      r->box[2 * i + a] = b;
      lagrange(s - b, r->w + (2 * i + a) * P);
    }
}

/* Unit charges onto the grid: row index = axis 2, column = axis 1.
 * Sequential, so the sums keep one order. */
static void spread(lt_fft_repulsion *r, int64_t n) {
  int L = r->L, m = r->nb * P;
  memset(r->g, 0, (size_t)2 * m * L * sizeof(double));
  for (int64_t i = 0; i < n; i++) {
    const double *wx = r->w + 2 * i * P, *wy = wx + P;
    int64_t base = (int64_t)r->box[2 * i + 1] * P * L + (int64_t)r->box[2 * i] * P;
    for (int u = 0; u < P; u++)
      for (int t = 0; t < P; t++) r->g[2 * (base + (int64_t)u * L + t)] += wy[u] * wx[t];
  }
}

static void gather(const lt_fft_repulsion *r, int64_t n, double *f) {
  int L = r->L;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) {
    const double *wx = r->w + 2 * i * P, *wy = wx + P;
    int64_t base = (int64_t)r->box[2 * i + 1] * P * L + (int64_t)r->box[2 * i] * P;
    double fx = 0, fy = 0;
    for (int u = 0; u < P; u++)
      for (int t = 0; t < P; t++) {
        const double *v = r->g + 2 * (base + (int64_t)u * L + t);
        fx += wy[u] * wx[t] * v[0], fy += wy[u] * wx[t] * v[1];
      }
    f[2 * i] = fx, f[2 * i + 1] = fy;
  }
}

/* Z from the charge spectrum (Parseval: sum_g q(g) (K*q)(g) = sum_k |Q_k|^2 K^_k / L^2,
 * the 1/L^2 already in kz), then the spectrum times that of the force kernel. */
static double convolve(lt_fft_repulsion *r) {
  int L = r->L;
#pragma omp parallel for schedule(static)
  for (int row = 0; row < L; row++) {
    double s = 0;
    for (int col = 0; col < L; col++) {
      int64_t at = (int64_t)row * L + col;
      double *q = r->g + 2 * at, kr = r->kf[2 * at], ki = r->kf[2 * at + 1];
      s += (q[0] * q[0] + q[1] * q[1]) * r->kz[at];
      double re = q[0] * kr - q[1] * ki, im = q[0] * ki + q[1] * kr;
      q[0] = re, q[1] = im;
    }
    r->zrow[row] = s;
  }
  double z = 0;
  for (int row = 0; row < L; row++) z += r->zrow[row];
  return z;
}

lt_status lt_fft_repulsion_2d(lt_fft_repulsion *r, const double *y, int64_t n, double *f, double *z) {
  geometry g = choose_grid(y, n);
  lt_status st = reserve(r, g.L, n);
  if (st) return st;
  if (g.bw != r->bw || g.nb != r->nb) {
    r->nb = g.nb, r->bw = g.bw;
    make_spectra(r, g.bw / P);
  }
  int m = g.nb * P;
  locate(r, &g, y, n);
  spread(r, n);
  fft_rows(r->plan, r->g, m, 0);  /* rows past m are zero... */
  fft_cols(r->plan, r->g, m, 0, r->buf);
  *z = convolve(r) - (double)n;   /* each point's kernel with itself is 1 */
  fft_cols(r->plan, r->g, r->L, 1, r->buf);
  fft_rows(r->plan, r->g, m, 1);  /* ...and only rows below m are wanted back */
  gather(r, n, f);
  return LT_OK;
}
