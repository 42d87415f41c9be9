/* FFT-accelerated interpolation for the repulsive forces of 2-D t-SNE: the
 * FFT, the grid, the kernel spectra, spreading and gathering. See
 * fft_interp.h for the method. */
#include "analysis/fft_interp.h"

#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/lt_alloc.h"

enum {
  P = 4,         /* interpolation nodes per axis around each point: cubic Lagrange */
  MIN_FFT = 64,  /* smallest FFT size per axis */
  B = 16         /* columns transformed together: 16 floats fill a cache line */
};
/* Largest node spacing, in embedding units. The kernel varies on a scale of
 * 1; at 0.3 the forces' error (relative, L2) is about 1.5% on a 10,000-point
 * embedding, as Barnes-Hut's at angle 0.5, and grows as the spacing^4. */
#define MAX_SPACING 0.4
#define SPACING_STEPS 16.0 /* spacings are rounded up to powers of 2^(1/16) */

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

/* ==================== 2-D transforms ====================
 *
 * Grids are L x L planes of floats (real and imaginary parts apart), row
 * stride L. A pass transforms B columns at once: each butterfly combines two
 * rows' segments of B floats, a loop the compiler runs as SIMD. A 2-D
 * transform is a pass, a transpose and a pass, so the spectrum is stored
 * transposed; the kernels' spectra are made the same way and the inverse
 * undoes it, so nothing needs to transpose back. Passes skip the columns and
 * rows known to be zero (charges fill only m x m of the grid) or unneeded. */

/* Rows of every plane are ROW_PAD floats longer than L: with a stride of
 * exactly L (a power of two) a column's entries would all fall in a few
 * cache sets and evict one another. */
enum { ROW_PAD = 16 };
#define STRIDE(L) ((int64_t)(L) + ROW_PAD)

/* d = the DFT along rows of columns [0, ncols) of s (ncols a multiple of B);
 * rows of s at or past `rows` are taken as zero, and si NULL as all zero. */
static void column_fft(const lt_fft_plan *pl, const float *sr, const float *si, int rows, float *dr, float *di,
                       int ncols, int inverse) {
  int L = pl->n;
  int64_t S = STRIDE(L);
  float sign = inverse ? -1.0f : 1.0f;
#pragma omp parallel for schedule(static)
  for (int c0 = 0; c0 < ncols; c0 += B) {
    for (int k = 0; k < L; k++) { /* bit-reversed copy: read in order, write scattered */
      int64_t from = k * S + c0, to = pl->rev[k] * S + c0;
      for (int c = 0; c < B; c++) {
        dr[to + c] = k < rows ? sr[from + c] : 0;
        di[to + c] = k < rows && si ? si[from + c] : 0;
      }
    }
    for (int half = 1; half < L; half *= 2) {
      int stride = L / (2 * half);
      for (int j = 0; j < half; j++) {
        float wr = (float)pl->tw[2 * j * stride], wi = sign * (float)pl->tw[2 * j * stride + 1];
        for (int i = j; i < L; i += 2 * half) {
          float *restrict ar = dr + i * S + c0, *restrict ai = di + i * S + c0;
          float *restrict br = ar + half * S, *restrict bi = ai + half * S;
          for (int c = 0; c < B; c++) {
            float tr = br[c] * wr - bi[c] * wi, ti = br[c] * wi + bi[c] * wr;
            br[c] = ar[c] - tr, bi[c] = ai[c] - ti;
            ar[c] += tr, ai[c] += ti;
          }
        }
      }
    }
  }
}

/* d[c][r] = s[r][c] for r < rows, c < cols, in 16 x 16 tiles. */
static void transpose(const float *sr, const float *si, float *dr, float *di, int rows, int cols, int L) {
  int64_t S = STRIDE(L);
#pragma omp parallel for schedule(static)
  for (int r0 = 0; r0 < rows; r0 += 16)
    for (int c0 = 0; c0 < cols; c0 += 16)
      for (int r = r0; r < r0 + 16 && r < rows; r++)
        for (int c = c0; c < c0 + 16 && c < cols; c++) {
          dr[c * S + r] = sr[r * S + c];
          di[c * S + r] = si[r * S + c];
        }
}

/* ==================== state ==================== */

struct lt_fft_repulsion {
  int L, m;            /* FFT size per axis; grid nodes per axis (m <= L / 2) */
  double h;            /* node spacing the spectra were made for (0: none yet) */
  lt_fft_plan *plan;
  float *kz;           /* L x L: spectrum of K / L^2 (real: K is even) */
  float *kfr, *kfi;    /* L x L: spectrum of (K^2 dx + i K^2 dy) / L^2 */
  float *ar, *ai, *br, *bi; /* two work grids; all planes have rows of STRIDE(L) floats */
  double *zrow;        /* per-row parts of Z's sum */
  int64_t cap;         /* points the per-point arrays hold */
  int32_t *box;        /* n x 2: first node of each point's stencil on each axis */
  float *w;            /* n x 2 x P: Lagrange weights on each axis */
};

lt_fft_repulsion *lt_fft_repulsion_new(void) { return lt_calloc(sizeof(lt_fft_repulsion)); }

static void free_grid(lt_fft_repulsion *r) {
  size_t LL = (size_t)(r->L * STRIDE(r->L)) * sizeof(float);
  lt_fft_plan_free(r->plan);
  lt_free(r->kz, LL), lt_free(r->kfr, LL), lt_free(r->kfi, LL);
  lt_free(r->ar, LL), lt_free(r->ai, LL), lt_free(r->br, LL), lt_free(r->bi, LL);
  lt_free(r->zrow, (size_t)r->L * sizeof(double));
  r->plan = NULL, r->kz = r->kfr = r->kfi = r->ar = r->ai = r->br = r->bi = NULL, r->zrow = NULL;
  r->L = 0, r->h = 0;
}

static void free_points(lt_fft_repulsion *r) {
  lt_free(r->box, (size_t)r->cap * 2 * sizeof(int32_t)), lt_free(r->w, (size_t)r->cap * 2 * P * sizeof(float));
  r->box = NULL, r->w = NULL, r->cap = 0;
}

void lt_fft_repulsion_free(lt_fft_repulsion *r) {
  if (!r) return;
  free_grid(r);
  free_points(r);
  lt_free(r, sizeof *r);
}

static lt_status reserve(lt_fft_repulsion *r, int L, int64_t n) {
  if (L != r->L) {
    free_grid(r);
    size_t LL = (size_t)(L * STRIDE(L)) * sizeof(float);
    r->L = L;
    r->plan = lt_fft_plan_new(L);
    r->kz = lt_alloc(LL), r->kfr = lt_alloc(LL), r->kfi = lt_alloc(LL);
    r->ar = lt_alloc(LL), r->ai = lt_alloc(LL), r->br = lt_alloc(LL), r->bi = lt_alloc(LL);
    r->zrow = lt_alloc((size_t)L * sizeof(double));
    if (!r->plan || !r->kz || !r->kfr || !r->kfi || !r->ar || !r->ai || !r->br || !r->bi || !r->zrow) {
      free_grid(r);
      return lt_error(LT_ERR_MEMORY, "tsne: out of memory for a %dx%d FFT grid", L, L);
    }
  }
  if (n > r->cap) {
    free_points(r);
    r->box = lt_alloc((size_t)n * 2 * sizeof(int32_t)), r->w = lt_alloc((size_t)n * 2 * P * sizeof(float));
    r->cap = n;
    if (!r->box || !r->w) {
      free_points(r);
      return lt_error(LT_ERR_MEMORY, "tsne: out of memory for %lld points", (long long)n);
    }
  }
  return LT_OK;
}

/* ==================== kernel spectra ==================== */

/* The full 2-D transform of (ar, ai) into (br, bi), transposed. */
static void full_fft(lt_fft_repulsion *r) {
  int L = r->L;
  column_fft(r->plan, r->ar, r->ai, L, r->br, r->bi, L, 0);
  transpose(r->br, r->bi, r->ar, r->ai, L, L, L);
  column_fft(r->plan, r->ar, r->ai, L, r->br, r->bi, L, 0);
}

/* Tabulates the kernels at node offsets (wrapped circularly: the grid holds
 * every offset in (-L/2, L/2]) for node spacing h and transforms them. */
static void make_spectra(lt_fft_repulsion *r, double h) {
  int L = r->L;
  int64_t S = STRIDE(L), LS = L * S;
  double scale = 1.0 / ((double)L * L);
#pragma omp parallel for schedule(static)
  for (int row = 0; row < L; row++)
    for (int col = 0; col < L; col++) {
      double dy = (row <= L / 2 ? row : row - L) * h, dx = (col <= L / 2 ? col : col - L) * h;
      double k = 1 / (1 + dx * dx + dy * dy);
      int64_t at = row * S + col;
      r->ar[at] = (float)(k * k * dx), r->ai[at] = (float)(k * k * dy);
      r->kz[at] = (float)k;
    }
  full_fft(r);
  for (int64_t a = 0; a < LS; a++) r->kfr[a] = (float)(r->br[a] * scale), r->kfi[a] = (float)(r->bi[a] * scale);
  memcpy(r->ar, r->kz, (size_t)LS * sizeof(float));
  memset(r->ai, 0, (size_t)LS * sizeof(float));
  full_fft(r);
  for (int64_t a = 0; a < LS; a++) r->kz[a] = (float)(r->br[a] * scale); /* real: K is even */
}

/* ==================== the grid and the points ==================== */

typedef struct {
  double lo[2], h; /* position of node 0 on each axis, and the spacing */
  int m, L;        /* nodes per axis (m <= L / 2, so the circular convolution cannot wrap) */
} geometry;

/* The smallest FFT size whose grid covers the points at a spacing of at
 * most MAX_SPACING (at least MIN_FFT), the spacing rounded up to a power of
 * 2^(1/16), the grid centred on the points with P/2 + 1 spare nodes a side. */
static geometry choose_grid(const double *y, int64_t n) {
  double lo[2] = {y[0], y[1]}, hi[2] = {y[0], y[1]};
  for (int64_t i = 1; i < n; i++)
    for (int a = 0; a < 2; a++) {
      double v = y[2 * i + a];
      lo[a] = v < lo[a] ? v : lo[a], hi[a] = v > hi[a] ? v : hi[a];
    }
  double range = fmax(fmax(hi[0] - lo[0], hi[1] - lo[1]), 1e-9);
  geometry g;
  g.L = MIN_FFT;
  while (range / (g.L / 2 - P - 2) > MAX_SPACING) g.L *= 2;
  g.h = exp2(ceil(log2(range / (g.L / 2 - P - 2)) * SPACING_STEPS) / SPACING_STEPS);
  g.m = (int)ceil(range / g.h) + P + 2;
  for (int a = 0; a < 2; a++) g.lo[a] = 0.5 * (lo[a] + hi[a]) - 0.5 * (g.m - 1) * g.h;
  return g;
}

/* Lagrange weights at s of the nodes 0, 1, ..., P - 1. */
static void lagrange(double s, float *w) {
  for (int t = 0; t < P; t++) {
    double num = 1, den = 1;
    for (int u = 0; u < P; u++)
      if (u != t) num *= s - u, den *= t - u;
    w[t] = (float)(num / den);
  }
}

/* Each point's first stencil node per axis, and its weights: the P nodes
 * around it, centred (for even P, P/2 on each side). */
static void locate(lt_fft_repulsion *r, const geometry *g, const double *y, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++)
    for (int a = 0; a < 2; a++) {
      double t = (y[2 * i + a] - g->lo[a]) / g->h;
      int b = (int)floor(t) - (P - 1) / 2;
      b = b < 0 ? 0 : b > g->m - P ? g->m - P : b;
      r->box[2 * i + a] = b;
      lagrange(t - b, r->w + (2 * i + a) * P);
    }
}

/* Unit charges onto rows and columns [0, m) of (br): row index = axis 2,
 * column = axis 1. Sequential, so the sums keep one order. */
static void spread(lt_fft_repulsion *r, int64_t n, int mb) {
  int64_t S = STRIDE(r->L);
  for (int row = 0; row < mb; row++) memset(r->br + row * S, 0, (size_t)mb * sizeof(float));
  for (int64_t i = 0; i < n; i++) {
    const float *wx = r->w + 2 * i * P, *wy = wx + P;
    int64_t base = r->box[2 * i + 1] * S + r->box[2 * i];
    for (int u = 0; u < P; u++)
      for (int t = 0; t < P; t++) r->br[base + u * S + t] += wy[u] * wx[t];
  }
}

/* Each point's force from the potentials (br: x, bi: y). */
static void gather(const lt_fft_repulsion *r, int64_t n, double *f) {
  int64_t S = STRIDE(r->L);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) {
    const float *wx = r->w + 2 * i * P, *wy = wx + P;
    int64_t base = r->box[2 * i + 1] * S + r->box[2 * i];
    double fx = 0, fy = 0;
    for (int u = 0; u < P; u++)
      for (int t = 0; t < P; t++) {
        int64_t at = base + u * S + t;
        fx += (double)wy[u] * wx[t] * r->br[at], fy += (double)wy[u] * wx[t] * r->bi[at];
      }
    f[2 * i] = fx, f[2 * i + 1] = fy;
  }
}

/* Z from the charge spectrum (Parseval: sum_g q(g) (K*q)(g) = sum_k |Q_k|^2
 * K^_k / L^2, the 1/L^2 already in kz), then the spectrum times the force
 * kernel's. Rows are summed apart, then in order. */
static double convolve(lt_fft_repulsion *r) {
  int L = r->L;
  int64_t S = STRIDE(L);
#pragma omp parallel for schedule(static)
  for (int row = 0; row < L; row++) {
    double s = 0;
    float *qr = r->ar + row * S, *qi = r->ai + row * S;
    const float *kz = r->kz + row * S, *kr = r->kfr + row * S, *ki = r->kfi + row * S;
    for (int col = 0; col < L; col++) {
      s += (double)(qr[col] * qr[col] + qi[col] * qi[col]) * kz[col];
      float re = qr[col] * kr[col] - qi[col] * ki[col], im = qr[col] * ki[col] + qi[col] * kr[col];
      qr[col] = re, qi[col] = im;
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
  if (g.h != r->h) {
    r->h = g.h;
    make_spectra(r, g.h);
  }
  r->m = g.m;
  int L = r->L, mb = (g.m + B - 1) / B * B; /* m rounded up to whole column blocks (L / 2 is one) */
  locate(r, &g, y, n);
  spread(r, n, mb);
  column_fft(r->plan, r->br, NULL, mb, r->ar, r->ai, mb, 0); /* [kr][c], c < mb */
  transpose(r->ar, r->ai, r->br, r->bi, L, mb, L);             /* [c][kr], c < mb */
  column_fft(r->plan, r->br, r->bi, mb, r->ar, r->ai, L, 0);   /* [kc][kr] */
  *z = convolve(r) - (double)n; /* each point's kernel with itself is 1 */
  column_fft(r->plan, r->ar, r->ai, L, r->br, r->bi, L, 1);    /* [c][kr] */
  transpose(r->br, r->bi, r->ar, r->ai, mb, L, L);             /* [kr][c], c < mb */
  column_fft(r->plan, r->ar, r->ai, L, r->br, r->bi, mb, 1);   /* [r][c]: x and y potentials */
  gather(r, n, f);
  return LT_OK;
}
