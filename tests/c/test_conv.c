/* conv2d, conv_transpose2d, max_pool2d and upsample_nearest2d against naive
 * double-precision loops (outputs and every gradient), over strides,
 * paddings, dilations, both column layouts and batches split into several
 * chunks; im2col/col2im as an adjoint pair; error codes; no leaks. */
#include "autograd/graph.h"
#include "core/lt_alloc.h"
#include "core/lt_rng.h"
#include "core/lt_tensor.h"
#include "lt_test.h"
#include "ops/conv.h"
#include "ops/im2col.h"
#include "ops/pool.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

static lt_tensor *randn(int nd, const int64_t *shape) {
  lt_tensor *t = lt_tensor_empty(nd, shape);
  lt_rng_fill_normal(t, 0, 1);
  return t;
}

static lt_tensor *leaf(int nd, const int64_t *shape) {
  lt_tensor *t = randn(nd, shape);
  t->requires_grad = true;
  return t;
}

/* max |got - want| <= rtol (1 + max |want|) */
static void check_rel(const float *got, const double *want, int64_t n, double rtol, const char *what) {
  double worst = 0, scale = 0;
  for (int64_t i = 0; i < n; i++) {
    double d = fabs(got[i] - want[i]);
    if (d > worst || d != d) worst = d;
    if (fabs(want[i]) > scale) scale = fabs(want[i]);
  }
  if (!(worst <= rtol * (1 + scale))) {
    fprintf(stderr, "  %s: max diff %g (scale %g)\n", what, worst, scale);
    lt_test_current_failed = 1;
  }
}

/* ==================== naive convolution ==================== */

typedef struct {
  int64_t n, cin, h, w, cout, kh, kw;
  lt_conv_params p;
  bool bias, transposed;
} conv_case;

/* For conv2d, each (output pixel, tap) pair links an input pixel to an output
 * pixel; conv_transpose2d uses the same links with the roles of x and y
 * swapped. `visit` is called with flat indices into x, w and y. */
typedef void (*link_fn)(void *ctx, int64_t xi, int64_t wi, int64_t yi);

static void conv_out_size(const conv_case *c, int64_t *oh, int64_t *ow) {
  const lt_conv_params *p = &c->p;
  if (!c->transposed) {
    *oh = (c->h + 2 * p->padding[0] - p->dilation[0] * (c->kh - 1) - 1) / p->stride[0] + 1;
    *ow = (c->w + 2 * p->padding[1] - p->dilation[1] * (c->kw - 1) - 1) / p->stride[1] + 1;
  } else {
    *oh = (c->h - 1) * p->stride[0] - 2 * p->padding[0] + p->dilation[0] * (c->kh - 1) + p->output_padding[0] + 1;
    *ow = (c->w - 1) * p->stride[1] - 2 * p->padding[1] + p->dilation[1] * (c->kw - 1) + p->output_padding[1] + 1;
  }
}

static void for_each_link(const conv_case *c, void *ctx, link_fn f) {
  int64_t oh, ow;
  conv_out_size(c, &oh, &ow);
  const lt_conv_params *p = &c->p;
  /* the "image" is the side the kernel slides over: x for conv2d, y for conv_transpose2d */
  int64_t ih = c->transposed ? oh : c->h, iw = c->transposed ? ow : c->w;
  int64_t sh = c->transposed ? c->h : oh, sw = c->transposed ? c->w : ow; /* kernel positions */
  int64_t ci_img = c->transposed ? c->cout : c->cin, co_other = c->transposed ? c->cin : c->cout;
  for (int64_t i = 0; i < c->n; i++)
    for (int64_t co = 0; co < co_other; co++)
      for (int64_t ci = 0; ci < ci_img; ci++)
        for (int64_t ki = 0; ki < c->kh; ki++)
          for (int64_t kj = 0; kj < c->kw; kj++)
            for (int64_t y = 0; y < sh; y++)
              for (int64_t x = 0; x < sw; x++) {
                int64_t iy = y * p->stride[0] - p->padding[0] + ki * p->dilation[0];
                int64_t ix = x * p->stride[1] - p->padding[1] + kj * p->dilation[1];
                if (iy < 0 || iy >= ih || ix < 0 || ix >= iw) continue;
                int64_t img = ((i * ci_img + ci) * ih + iy) * iw + ix;
                int64_t other = ((i * co_other + co) * sh + y) * sw + x;
                int64_t wi = ((co * ci_img + ci) * c->kh + ki) * c->kw + kj; /* w is co_other x ci_img x kh x kw */
                if (c->transposed) f(ctx, other, wi, img);
                else f(ctx, img, wi, other);
              }
}

typedef struct {
  const float *x, *w, *gy;
  double *y, *gx, *gw;
} naive_ctx;

static void link_forward(void *p, int64_t xi, int64_t wi, int64_t yi) {
  naive_ctx *c = p;
  c->y[yi] += (double)c->x[xi] * c->w[wi];
}

static void link_backward(void *p, int64_t xi, int64_t wi, int64_t yi) {
  naive_ctx *c = p;
  c->gx[xi] += (double)c->gy[yi] * c->w[wi];
  c->gw[wi] += (double)c->gy[yi] * c->x[xi];
}

static void run_conv_case(const conv_case *c, const char *what) {
  int64_t oh, ow;
  conv_out_size(c, &oh, &ow);
  const int64_t xs[4] = {c->n, c->cin, c->h, c->w};
  const int64_t ws[4] = {c->transposed ? c->cin : c->cout, c->transposed ? c->cout : c->cin, c->kh, c->kw};
  const int64_t bs[1] = {c->cout}, ys[4] = {c->n, c->cout, oh, ow};
  lt_tensor *x = leaf(4, xs), *w = leaf(4, ws), *b = c->bias ? leaf(1, bs) : NULL, *y = NULL;
  lt_status st = c->transposed ? lt_conv_transpose2d(&y, x, w, b, &c->p) : lt_conv2d(&y, x, w, b, &c->p);
  CHECK(st == LT_OK);
  if (st != LT_OK) {
    fprintf(stderr, "  %s: %s\n", what, lt_errmsg());
    return;
  }
  CHECK(y->ndim == 4 && !memcmp(y->shape, ys, sizeof ys));
  const int64_t nx = lt_tensor_numel(x), nw = lt_tensor_numel(w), ny = lt_tensor_numel(y);
  lt_tensor *gy = randn(4, ys);
  naive_ctx ctx = {lt_tensor_data(x), lt_tensor_data(w), lt_tensor_data(gy), calloc(ny + 1, 8), calloc(nx + 1, 8),
                   calloc(nw + 1, 8)};
  for_each_link(c, &ctx, link_forward);
  double *gb = calloc(c->cout + 1, 8);
  for (int64_t k = 0; k < ny; k++) {
    int64_t co = k / (oh * ow) % c->cout;
    if (b) ctx.y[k] += lt_tensor_data(b)[co];
    gb[co] += lt_tensor_data(gy)[k];
  }
  for_each_link(c, &ctx, link_backward);
  char msg[200];
  snprintf(msg, sizeof msg, "%s: output", what);
  check_rel(lt_tensor_data(y), ctx.y, ny, 1e-5, msg);
  CHECK(lt_backward(y, gy, false) == LT_OK);
  snprintf(msg, sizeof msg, "%s: grad x", what);
  if (x->grad) check_rel(lt_tensor_data(x->grad), ctx.gx, nx, 1e-5, msg);
  snprintf(msg, sizeof msg, "%s: grad w", what);
  if (w->grad) check_rel(lt_tensor_data(w->grad), ctx.gw, nw, 1e-5, msg);
  snprintf(msg, sizeof msg, "%s: grad b", what);
  if (b && b->grad) check_rel(lt_tensor_data(b->grad), gb, c->cout, 1e-5, msg);
  CHECK(x->grad && w->grad && (!b || b->grad));
  free(ctx.y), free(ctx.gx), free(ctx.gw), free(gb);
  lt_tensor_release(x), lt_tensor_release(w), lt_tensor_release(b), lt_tensor_release(y), lt_tensor_release(gy);
}

static lt_conv_params params(int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw, int64_t oph,
                             int64_t opw) {
  return (lt_conv_params){{sh, sw}, {ph, pw}, {oph, opw}, {dh, dw}};
}

TEST(conv2d_vs_naive) {
  const conv_case cases[] = {
      {3, 1, 28, 28, 4, 3, 3, params(2, 2, 1, 1, 1, 1, 0, 0), true, false},  /* the autoencoder's layers */
      {3, 4, 14, 14, 5, 3, 3, params(2, 2, 1, 1, 1, 1, 0, 0), true, false},
      {3, 5, 7, 7, 6, 3, 3, params(2, 2, 0, 0, 1, 1, 0, 0), false, false},
      {2, 3, 9, 11, 4, 3, 2, params(1, 3, 2, 1, 2, 3, 0, 0), true, false},   /* dilation, odd strides */
      {2, 3, 5, 5, 2, 5, 5, params(1, 1, 0, 0, 1, 1, 0, 0), true, false},    /* one output: plain layout */
      {2, 3, 6, 5, 4, 1, 1, params(1, 1, 0, 0, 1, 1, 0, 0), true, false},    /* pointwise */
      {2, 3, 6, 5, 4, 1, 1, params(2, 2, 0, 0, 1, 1, 0, 0), false, false},   /* 1x1, stride 2 */
      {25, 2, 16, 16, 4, 3, 3, params(1, 1, 1, 1, 1, 1, 0, 0), true, false}, /* several images per chunk, */
      {2, 64, 40, 40, 3, 3, 3, params(1, 1, 1, 1, 1, 1, 0, 0), true, false},  /* one image per chunk, */
      {3, 64, 48, 48, 4, 5, 5, params(1, 1, 2, 2, 1, 1, 0, 0), true, false}, /* columns too big to keep */
      {2, 2, 4, 4, 3, 3, 3, params(1, 1, 3, 3, 1, 1, 0, 0), true, false},    /* padding wider than the kernel */
      {3, 1, 12, 10, 3, 5, 3, params(1, 2, 2, 1, 2, 1, 0, 0), true, false},  /* one input channel: stride 1x2 */
      {2, 1, 11, 13, 2, 3, 3, params(3, 3, 1, 1, 1, 1, 0, 0), false, false}, /* and dilation, stride 3 */
      {1, 16, 32, 32, 8, 3, 3, params(2, 2, 1, 1, 1, 1, 0, 0), true, false}, /* one image: threads share its channels */
  };
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    char what[32];
    snprintf(what, sizeof what, "conv2d case %zu", k);
    run_conv_case(&cases[k], what);
  }
}

TEST(conv_transpose2d_vs_naive) {
  const conv_case cases[] = {
      {3, 8, 3, 3, 4, 3, 3, params(2, 2, 0, 0, 1, 1, 0, 0), true, true}, /* the autoencoder's layers */
      {3, 6, 7, 7, 3, 3, 3, params(2, 2, 1, 1, 1, 1, 1, 1), true, true},
      {2, 4, 14, 14, 1, 3, 3, params(2, 2, 1, 1, 1, 1, 1, 1), true, true},
      {2, 3, 4, 5, 2, 2, 3, params(3, 1, 1, 0, 1, 2, 2, 1), false, true}, /* output_padding < dilation */
      {2, 3, 1, 1, 2, 3, 3, params(1, 1, 0, 0, 1, 1, 0, 0), true, true},  /* a 1x1 input: plain layout */
      {2, 3, 4, 3, 5, 1, 1, params(1, 1, 0, 0, 1, 1, 0, 0), true, true},  /* pointwise */
      {5, 4, 40, 40, 24, 5, 5, params(1, 1, 2, 2, 1, 1, 0, 0), true, true}, /* one image per chunk */
      {25, 4, 8, 8, 2, 3, 3, params(2, 2, 1, 1, 1, 1, 1, 1), true, true},   /* several images per chunk */
      {3, 2, 6, 5, 1, 3, 3, params(2, 1, 1, 1, 1, 1, 1, 0), true, true},    /* one output channel, stride 2x1 */
      {2, 3, 4, 4, 1, 3, 3, params(3, 3, 0, 0, 1, 1, 2, 0), false, true},   /* the same, stride 3 */
      {1, 8, 16, 16, 16, 3, 3, params(2, 2, 1, 1, 1, 1, 1, 1), true, true}, /* one image: threads share its channels */
  };
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    char what[40];
    snprintf(what, sizeof what, "conv_transpose2d case %zu", k);
    run_conv_case(&cases[k], what);
  }
}

/* im2col's entries against their definition, and <im2col(x), c> =
 * <x, col2im(c)>, over strides (1, 2 and 3, different per axis),
 * dilations, paddings wider than the kernel reaches, both column layouts
 * (pitch qw and ow), rows ld > m lp apart. */
static void check_im2col(lt_conv_geom g, const char *what) {
  const int64_t m = g.n;
  g.oh = (g.h + 2 * g.ph - g.dh * (g.kh - 1) - 1) / g.sh + 1;
  g.ow = (g.w + 2 * g.pw - g.dw * (g.kw - 1) - 1) / g.sw + 1;
  lt_conv_geom_init(&g);
  const int64_t K = lt_conv_k(&g), l = lt_conv_lp(&g), ld = m * l + 5, nimg = m * lt_conv_plane(&g), ncol = K * ld;
  float *img = malloc(nimg * 4), *col = malloc(ncol * 4), *c = malloc(ncol * 4), *back = malloc(nimg * 4);
  float *work = malloc((lt_im2col_work_floats(&g, m) + 1) * 4), init[8] = {0.5f, -1, 2, 0, 0, 0, 0, 0};
  for (int64_t k = 0; k < nimg; k++) img[k] = (float)((k * 37) % 11) - 5;
  for (int64_t k = 0; k < ncol; k++) c[k] = (k % ld) % g.pitch < g.ow ? (float)((k * 13) % 7) - 3 : 0; /* zero in unused columns */
  lt_im2col(&g, img, m, col, ld, work);
  bool entries_ok = true;
  for (int64_t r = 0; r < K; r++)
    for (int64_t i = 0; i < m; i++)
      for (int64_t y = 0; y < g.oh; y++)
        for (int64_t x = 0; x < g.ow; x++) {
          int64_t ci = r / (g.kh * g.kw), ki = r / g.kw % g.kh, kj = r % g.kw;
          int64_t iy = y * g.sh - g.ph + ki * g.dh, ix = x * g.sw - g.pw + kj * g.dw;
          float want = iy < 0 || iy >= g.h || ix < 0 || ix >= g.w ? 0 : img[((i * g.c + ci) * g.h + iy) * g.w + ix];
          if (col[r * ld + i * l + y * g.pitch + x] != want) entries_ok = false;
        }
  if (!entries_ok) fprintf(stderr, "  %s: im2col entries differ\n", what);
  CHECK(entries_ok);
  lt_col2im(&g, c, m, ld, back, init, work);
  double lhs = 0, rhs = 0;
  for (int64_t r = 0; r < K; r++)
    for (int64_t k = 0; k < m * l; k++) lhs += (double)col[r * ld + k] * c[r * ld + k];
  for (int64_t k = 0; k < nimg; k++) rhs += (double)img[k] * (back[k] - init[k / (g.h * g.w) % g.c]);
  if (!(fabs(lhs - rhs) <= 1e-6 * (1 + fabs(rhs)))) fprintf(stderr, "  %s: not adjoint\n", what);
  CHECK_CLOSE(lhs, rhs, 1e-6 * (1 + fabs(rhs)));
  free(img), free(col), free(c), free(back), free(work);
}

static lt_conv_geom geo(int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                        int64_t ph, int64_t pw, int64_t dh, int64_t dw) {
  return (lt_conv_geom){.n = n, .c = c, .h = h, .w = w, .co = 1, .kh = kh, .kw = kw, .sh = sh, .sw = sw,
                        .ph = ph, .pw = pw, .dh = dh, .dw = dw};
}

TEST(im2col_entries_and_adjoint) {
  /* n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw */
  check_im2col(geo(3, 2, 9, 8, 3, 2, 2, 3, 1, 2, 2, 1), "strides 2x3, dilation 2x1");
  check_im2col(geo(2, 3, 14, 14, 3, 3, 2, 2, 1, 1, 1, 1), "3x3 stride 2 padding 1");
  check_im2col(geo(2, 3, 7, 7, 3, 3, 2, 2, 0, 0, 1, 1), "3x3 stride 2, 3x3 output");
  check_im2col(geo(2, 2, 11, 13, 5, 3, 1, 1, 2, 1, 1, 1), "5x3 stride 1");
  check_im2col(geo(1, 2, 4, 5, 2, 2, 1, 2, 4, 3, 1, 3), "padding beyond the kernel's reach");
  check_im2col(geo(2, 1, 40, 33, 3, 3, 3, 2, 1, 0, 1, 2), "long rows, stride 3x2");
  check_im2col(geo(2, 3, 5, 3, 5, 3, 1, 1, 0, 0, 1, 1), "a 1x1 output: pitch ow, not qw = 3");
}

/* ==================== pooling ==================== */

TEST(max_pool2d_vs_naive) {
  const int64_t xs[4] = {2, 3, 7, 6}, k[2] = {3, 2}, s[2] = {2, 1}, p[2] = {1, 1};
  lt_tensor *x = leaf(4, xs), *y = NULL;
  CHECK(lt_max_pool2d(&y, x, k, s, p) == LT_OK);
  const int64_t oh = (7 + 2 - 3) / 2 + 1, ow = (6 + 2 - 2) / 1 + 1, ys[4] = {2, 3, oh, ow};
  CHECK(y && y->shape[2] == oh && y->shape[3] == ow);
  lt_tensor *gy = randn(4, ys);
  double *want = calloc(2 * 3 * oh * ow, 8), *gx = calloc(2 * 3 * 7 * 6, 8);
  const float *xd = lt_tensor_data(x);
  for (int64_t pl = 0; pl < 6; pl++)
    for (int64_t a = 0; a < oh; a++)
      for (int64_t b = 0; b < ow; b++) {
        double m = -INFINITY;
        int64_t at = -1;
        for (int64_t i = a * 2 - 1; i < a * 2 - 1 + 3; i++)
          for (int64_t j = b - 1; j < b - 1 + 2; j++)
            if (i >= 0 && i < 7 && j >= 0 && j < 6 && xd[pl * 42 + i * 6 + j] > m) m = xd[pl * 42 + i * 6 + j], at = i * 6 + j;
        want[(pl * oh + a) * ow + b] = m;
        gx[pl * 42 + at] += lt_tensor_data(gy)[(pl * oh + a) * ow + b];
      }
  check_rel(lt_tensor_data(y), want, 6 * oh * ow, 0, "max_pool2d output");
  CHECK(lt_backward(y, gy, false) == LT_OK);
  check_rel(lt_tensor_data(x->grad), gx, 6 * 42, 1e-6, "max_pool2d grad");
  free(want), free(gx);
  lt_tensor_release(x), lt_tensor_release(y), lt_tensor_release(gy);
}

TEST(upsample_nearest2d_vs_naive) {
  const int64_t xs[4] = {2, 2, 3, 4}, sc[2] = {3, 2}, ys[4] = {2, 2, 9, 8};
  lt_tensor *x = leaf(4, xs), *y = NULL;
  CHECK(lt_upsample_nearest2d(&y, x, sc) == LT_OK);
  CHECK(y && !memcmp(y->shape, ys, sizeof ys));
  lt_tensor *gy = randn(4, ys);
  double *want = calloc(4 * 72, 8), *gx = calloc(4 * 12, 8);
  for (int64_t pl = 0; pl < 4; pl++)
    for (int64_t i = 0; i < 9; i++)
      for (int64_t j = 0; j < 8; j++) {
        want[pl * 72 + i * 8 + j] = lt_tensor_data(x)[pl * 12 + i / 3 * 4 + j / 2];
        gx[pl * 12 + i / 3 * 4 + j / 2] += lt_tensor_data(gy)[pl * 72 + i * 8 + j];
      }
  check_rel(lt_tensor_data(y), want, 4 * 72, 0, "upsample output");
  CHECK(lt_backward(y, gy, false) == LT_OK);
  check_rel(lt_tensor_data(x->grad), gx, 48, 1e-6, "upsample grad");
  free(want), free(gx);
  lt_tensor_release(x), lt_tensor_release(y), lt_tensor_release(gy);
}

/* ==================== errors ==================== */

TEST(errors) {
  const int64_t xs[4] = {250, 3, 28, 28}, ws[4] = {8, 1, 3, 3}, small[4] = {1, 1, 2, 2}, w3[4] = {1, 1, 3, 3};
  lt_tensor *x = randn(4, xs), *w = randn(4, ws), *xsmall = randn(4, small), *wk3 = randn(4, w3), *y = NULL;
  lt_conv_params p = lt_conv_params_default();
  CHECK(lt_conv2d(&y, x, w, NULL, &p) == LT_ERR_SHAPE);
  CHECK(strcmp(lt_errmsg(), "conv2d: input 250x3x28x28 has 3 channels, weight 8x1x3x3 expects 1") == 0);
  CHECK(lt_conv2d(&y, xsmall, wk3, NULL, &p) == LT_ERR_SHAPE);
  CHECK(strstr(lt_errmsg(), "smaller than the kernel 3x3 (with padding 0, dilation 1)") != NULL);
  p.stride[1] = 0;
  CHECK(lt_conv2d(&y, xsmall, wk3, NULL, &p) == LT_ERR_ARG);
  CHECK(strcmp(lt_errmsg(), "conv2d: stride must be positive, got (1, 0)") == 0);
  p = lt_conv_params_default();
  p.output_padding[0] = 1;
  CHECK(lt_conv_transpose2d(&y, xsmall, wk3, NULL, &p) == LT_ERR_ARG);
  const int64_t k[2] = {2, 2}, s[2] = {2, 2}, pad[2] = {2, 0}, sc[2] = {0, 1};
  CHECK(lt_max_pool2d(&y, x, k, s, pad) == LT_ERR_ARG);
  CHECK(lt_upsample_nearest2d(&y, x, sc) == LT_ERR_ARG);
  CHECK(y == NULL);
  lt_tensor_release(x), lt_tensor_release(w), lt_tensor_release(xsmall), lt_tensor_release(wk3);
}

int main(void) {
  lt_rng_seed(1234);
  size_t live = lt_mem_live();
  RUN(conv2d_vs_naive);
  RUN(conv_transpose2d_vs_naive);
  RUN(im2col_entries_and_adjoint);
  RUN(max_pool2d_vs_naive);
  RUN(upsample_nearest2d_vs_naive);
  RUN(errors);
  if (lt_mem_live() != live) {
    fprintf(stderr, "leak: %zu bytes live before, %zu after\n", live, lt_mem_live());
    lt_test_failed++;
  }
  return lt_test_summary();
}
