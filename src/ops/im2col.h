/* im2col/col2im for conv.c (internal to the conv ops).
 *
 * A convolution is seen from its image side (conv2d's input,
 * conv_transpose2d's output): the kernel visits oh x ow positions of each
 * c x h x w image. The columns of m images form a K x (m lp) matrix, K = c kh
 * kw: row (ci, ki, kj), and lp = oh pitch columns per image, position (y, x)
 * at y pitch + x. The other side of the GEMM (co channels) uses the same
 * co x (m lp) layout, which lt_conv_gather/lt_conv_scatter make from and to
 * m x co x oh x ow.
 *
 * How the columns are built: each image channel is copied into a zero-padded
 * window (the rows and columns some tap reads), which is split into its
 * sh x sw stride phases (for a column stride of 2 both in one step): plane
 * (a, b) holds padded pixel (i sh + a, x sw + b) at (i, x), qh rows of qw. Tap (ki, kj) reads plane ((ki dh) % sh,
 * (kj dw) % sw) from row (ki dh) / sh and column (kj dw) / sw on, ow values
 * per row. With pitch = qw (the usual layout) a tap's oh rows are one
 * contiguous run of the plane, copied at once; the qw - ow extra columns of
 * each row then hold values no output uses: GEMM outputs there are dropped,
 * and GEMM operands on the other side must be zero there (lt_conv_gather
 * does it). Outputs so narrow that more than half the columns would be
 * wasted use pitch = ow and copy row by row. col2im runs the same steps
 * backwards, adding.
 *
 * Each step runs over a group of pairs (image, channel) before the next
 * starts: a step must not read blocks that the step before has only just
 * written with smaller stores, which stalls the core until they reach the
 * cache, and a group's windows and planes still fit in L1. */
#ifndef LT_IM2COL_H
#define LT_IM2COL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
  int64_t n, c, h, w, co; /* co: channels on the other side of the GEMM */
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  int64_t oh, ow;
  /* derived by lt_conv_geom_init */
  int64_t qh, qw;       /* rows and columns of a phase plane */
  int64_t pitch;        /* columns per output row in the column layout: qw or ow */
  uint64_t row_phases;  /* bit a: some tap reads row phase a (for a < 64) */
} lt_conv_geom;

/* Sets the derived fields once the fields up to ow are set. */
void lt_conv_geom_init(lt_conv_geom *g);

static inline int64_t lt_conv_k(const lt_conv_geom *g) { return g->c * g->kh * g->kw; }
static inline int64_t lt_conv_lp(const lt_conv_geom *g) { return g->oh * g->pitch; }
static inline int64_t lt_conv_plane(const lt_conv_geom *g) { return g->c * g->h * g->w; }

/* Floats of scratch (`work`) that lt_im2col/lt_col2im need for m images. */
size_t lt_im2col_work_floats(const lt_conv_geom *g, int64_t m);

/* col (K x m lp, rows ld >= m lp apart) = the columns of m images (m x c x h x w). */
void lt_im2col(const lt_conv_geom *g, const float *img, int64_t m, float *col, int64_t ld, float *work);

/* img[i][ci] = init[ci] (0 when init is NULL) + the adjoint of im2col:
 * each pixel gets the sum of the column entries read from it. col is K x m
 * lp with rows ld apart; its unused columns must be zero. */
void lt_col2im(const lt_conv_geom *g, const float *col, int64_t m, int64_t ld, float *img, const float *init,
               float *work);

/* dst (c x m lp) from src (m x c x oh x ow): the other side's operand in
 * the column layout, zero in unused columns. */
void lt_conv_gather(const lt_conv_geom *g, const float *src, int64_t m, int64_t c, float *dst);

/* dst (m x c x oh x ow) = src (c x m lp) + bias[ci] (none when NULL),
 * dropping unused columns. */
void lt_conv_scatter(const lt_conv_geom *g, const float *src, int64_t m, int64_t c, const float *bias, float *dst);

/* Calls made from outside an OpenMP parallel region split their loops
 * across threads when large enough; calls made inside one (conv.c gives each
 * thread its own chunk of images) run on the calling thread. */

#endif
