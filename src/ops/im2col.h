/* im2col/col2im for conv.c (internal to the conv ops).
 *
 * A convolution is seen from its image side (conv2d's input,
 * conv_transpose2d's output): the kernel visits oh x ow positions of each
 * c x h x w image. The columns of m images form a K x (m lp) matrix: row
 * (ci, ki, kj), K = c kh kw, and lp columns per image, one per kernel
 * position (y, x) at y * pitch + x.
 *
 * Two layouts (lt_conv_geom_init picks one):
 *  - plain: pitch = ow, built by strided gathers row by row;
 *  - phased: each image channel is first split into its sh x sw stride
 *    phases (zero-padded planes of qh x pitch), where every kernel tap reads
 *    one contiguous run; pitch = ow + (kw - 1) dw / sw, so a tap's whole
 *    oh x pitch block is one copy. The pitch - ow extra columns of each row
 *    hold values no output uses: GEMM outputs there are dropped, and GEMM
 *    operands on the other side must be zero there (lt_conv_gather does it).
 * The phased layout trades a few wasted GEMM columns (7% to 33% on the
 * MNIST autoencoder's layers) for contiguous copies, which made im2col about
 * twice as fast there; outputs so narrow that more than half the columns
 * would be wasted (ow = 1) keep the plain layout. */
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
  bool phased;
  int64_t pitch, qh;            /* column pitch; rows of a phase plane (phased) */
  uint64_t row_phases, col_phases; /* bit a: phase a is read by some tap (strides < 64) */
  bool pair;                    /* stride-2 columns with both phases read */
  int64_t pair_lo, pair_hi;     /* pair: plane columns j where 2 j - pw and 2 j + 1 - pw are inside */
} lt_conv_geom;

/* Chooses the layout once the fields up to ow are set. */
void lt_conv_geom_init(lt_conv_geom *g);

static inline int64_t lt_conv_k(const lt_conv_geom *g) { return g->c * g->kh * g->kw; }
static inline int64_t lt_conv_lp(const lt_conv_geom *g) { return g->oh * g->pitch; }
static inline int64_t lt_conv_plane(const lt_conv_geom *g) { return g->c * g->h * g->w; }

/* Floats of scratch that lt_im2col/lt_col2im need (per call, any m). */
size_t lt_im2col_work_floats(const lt_conv_geom *g);

/* col (K x m lp, rows ld >= m lp apart) = the columns of m images (m x c x h x w). */
void lt_im2col(const lt_conv_geom *g, const float *img, int64_t m, float *col, int64_t ld, float *work);

/* img[i][ci] = init[ci] (0 when init is NULL) + the adjoint of im2col:
 * each pixel gets the sum of the column entries read from it. The unused
 * columns of a phased col must be zero. */
void lt_col2im(const lt_conv_geom *g, const float *col, int64_t m, float *img, const float *init, float *work);

/* dst (c x m lp) from src (m x c x oh x ow): the other side's operand in
 * the column layout, zero in unused columns. */
void lt_conv_gather(const lt_conv_geom *g, const float *src, int64_t m, int64_t c, float *dst);

/* dst (m x c x oh x ow) = src (c x m lp) + bias[ci] (none when NULL),
 * dropping unused columns. */
void lt_conv_scatter(const lt_conv_geom *g, const float *src, int64_t m, int64_t c, const float *bias, float *dst);

#endif
