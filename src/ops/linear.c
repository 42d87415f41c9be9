/* linear forward and backward through cblas_sgemm.
 *
 * x [..., in] is read as an M x in matrix (M = the product of the leading
 * dims) without a copy when its leading dims step evenly and either its rows
 * or its columns are contiguous; w and its transpose likewise (a transposed
 * weight, as in tied autoencoders, costs nothing). Anything else is copied
 * once, and that copy is what backward uses. */
#include "ops/linear.h"
#include "autograd/graph.h"
#include "core/lt_alloc.h"
#include "core/lt_profile.h"

#include <cblas.h>
#include <limits.h>
#include <string.h>

/* ==================== matrices as BLAS reads them ==================== */

/* rows x cols in row-major BLAS terms: stored as is (NoTrans) or as the
 * transpose of a row-major matrix (Trans), with leading dimension ld. */
typedef struct {
  const float *data;
  int64_t rows, cols;
  enum CBLAS_TRANSPOSE tr;
  int ld;
} bmat;

/* The matrix at data with row stride rs and column stride cs; false when BLAS
 * cannot read it as it is. Strides of size-1 dims do not matter. */
static bool bmat_of(const float *data, int64_t rows, int64_t cols, int64_t rs, int64_t cs, bmat *m) {
  if (cols <= 1) cs = 1;
  if (rows <= 1) rs = cs == 1 ? (cols > 1 ? cols : 1) : 1;
  int64_t ld;
  *m = (bmat){data, rows, cols, CblasNoTrans, 0};
  if (cs == 1 && rs >= (cols > 1 ? cols : 1)) ld = rs;
  else if (rs == 1 && cs >= (rows > 1 ? rows : 1)) m->tr = CblasTrans, ld = cs;
  else return false;
  if (ld > INT_MAX) return false;
  m->ld = (int)ld;
  return true;
}

static bmat bmat_t(bmat m) {
  bmat t = m;
  t.rows = m.cols, t.cols = m.rows;
  t.tr = m.tr == CblasNoTrans ? CblasTrans : CblasNoTrans;
  return t;
}

/* t [..., k] as a rows x k matrix: the leading dims must step evenly. */
static bool rows_of(const lt_tensor *t, bmat *m) {
  int last = t->ndim - 1;
  int64_t rows = 1, rs = 0, expect = -1;
  for (int d = last - 1; d >= 0; d--) {
    rows *= t->shape[d];
    if (t->shape[d] == 1) continue;
    if (expect < 0) rs = t->stride[d];
    else if (t->stride[d] != expect) return false;
    expect = t->stride[d] * t->shape[d];
  }
  return bmat_of(lt_tensor_data(t), rows, t->shape[last], rs, t->stride[last], m);
}

/* t itself (retained) when rows_of reads it, else a contiguous copy; NULL
 * when out of memory. */
static lt_tensor *blas_rows(lt_tensor *t, bmat *m) {
  if (rows_of(t, m)) return lt_tensor_retain(t);
  lt_tensor *c = lt_tensor_copy_values(t);
  if (c) LT_ASSERT(rows_of(c, m));
  return c;
}

/* w [out, in] as a matrix, transposed when `tr`; copied when BLAS cannot read it. */
static lt_tensor *blas_weight(lt_tensor *w, bool tr, bmat *m) {
  lt_tensor *c = rows_of(w, m) ? lt_tensor_retain(w) : lt_tensor_copy_values(w);
  if (!c) return NULL;
  LT_ASSERT(rows_of(c, m));
  if (tr) *m = bmat_t(*m);
  return c;
}

/* C (A.rows x B.cols, row-major, leading dim ldc) = A B + beta C. Never
 * inside an OpenMP region: BLAS brings its own threads. */
static void gemm(const bmat *A, const bmat *B, float *C, int64_t ldc, float beta) {
  LT_ASSERT(A->cols == B->rows);
  cblas_sgemm(CblasRowMajor, A->tr, B->tr, (int)A->rows, (int)B->cols, (int)A->cols, 1.0f, A->data, A->ld,
              B->data, B->ld, beta, C, (int)ldc);
}

/* out[j] = the sum over rows of G[:, j], accumulated in double. */
static lt_status column_sums(const bmat *G, float *out) {
  int64_t rows = G->rows, cols = G->cols;
  if (G->tr == CblasTrans) { /* columns are contiguous */
    for (int64_t j = 0; j < cols; j++) {
      const float *c = G->data + j * G->ld;
      double s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t i = 0; i < rows; i++) s += c[i];
      out[j] = (float)s;
    }
    return LT_OK;
  }
  double *acc = lt_calloc((size_t)cols * sizeof *acc);
  if (!acc) return LT_ERR_MEMORY;
  for (int64_t i = 0; i < rows; i++) {
    const float *r = G->data + i * G->ld;
#pragma omp simd
    for (int64_t j = 0; j < cols; j++) acc[j] += r[j];
  }
  for (int64_t j = 0; j < cols; j++) out[j] = (float)acc[j];
  lt_free(acc, (size_t)cols * sizeof *acc);
  return LT_OK;
}

/* ==================== shapes ==================== */

static lt_status check(const lt_tensor *x, const lt_tensor *w, const lt_tensor *b) {
  char sx[LT_SHAPE_STR], sw[LT_SHAPE_STR], sb[LT_SHAPE_STR];
  if (w->ndim != 2)
    return lt_error(LT_ERR_SHAPE, "linear: weight must be 2-D (out x in), got %s", LT_SHAPE(w, sw));
  if (x->ndim < 1)
    return lt_error(LT_ERR_SHAPE, "linear: input must have at least 1 dimension (... x in), got a scalar");
  if (x->shape[x->ndim - 1] != w->shape[1])
    return lt_error(LT_ERR_SHAPE, "linear: input %s has %lld features, weight %s expects %lld", LT_SHAPE(x, sx),
                    (long long)x->shape[x->ndim - 1], LT_SHAPE(w, sw), (long long)w->shape[1]);
  if (b && (b->ndim != 1 || b->shape[0] != w->shape[0]))
    return lt_error(LT_ERR_SHAPE, "linear: bias %s does not match weight %s (expected %lld values)",
                    LT_SHAPE(b, sb), LT_SHAPE(w, sw), (long long)w->shape[0]);
  int64_t rows = x->shape[x->ndim - 1] ? lt_tensor_numel(x) / x->shape[x->ndim - 1] : 0;
  if (rows > INT_MAX || w->shape[0] > INT_MAX || w->shape[1] > INT_MAX)
    return lt_error(LT_ERR_SHAPE, "linear: input %s and weight %s are too large for BLAS (sizes over 2^31)",
                    LT_SHAPE(x, sx), LT_SHAPE(w, sw));
  return LT_OK;
}

/* ==================== linear ==================== */

/* gx = g w, gw = g^T x, gb = the column sums of g. saved[0] = x (or the
 * copy forward made), saved[1] = w; i[0] = whether there is a bias. */
static lt_status linear_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  lt_tensor *x = n->saved[0], *w = n->saved[1], *gc, *xc = NULL, *wc = NULL;
  bmat G, X, W;
  if (!(gc = blas_rows(g, &G))) return LT_ERR_MEMORY;
  lt_status st = LT_OK;
  int64_t out_f = w->shape[0], in_f = w->shape[1];
  if (lt_edge_needs_grad(&n->inputs[0])) {
    if (!(wc = blas_weight(w, false, &W)) || !(gi[0] = lt_tensor_empty(n->inputs[0].ndim, n->inputs[0].shape)))
      st = LT_ERR_MEMORY;
    else if (G.rows > 0 && in_f > 0) {
      if (out_f > 0) gemm(&G, &W, lt_tensor_data(gi[0]), in_f, 0.0f);
      else lt_fill(gi[0], 0.0f);
    }
  }
  if (st == LT_OK && lt_edge_needs_grad(&n->inputs[1])) {
    if (!(xc = blas_rows(x, &X)) || !(gi[1] = lt_tensor_empty(2, w->shape))) st = LT_ERR_MEMORY;
    else if (out_f > 0 && in_f > 0) {
      bmat Gt = bmat_t(G);
      if (G.rows > 0) gemm(&Gt, &X, lt_tensor_data(gi[1]), in_f, 0.0f);
      else lt_fill(gi[1], 0.0f);
    }
  }
  if (st == LT_OK && n->i[0] && lt_edge_needs_grad(&n->inputs[2])) {
    if (!(gi[2] = lt_tensor_empty(1, &out_f))) st = LT_ERR_MEMORY;
    else st = column_sums(&G, lt_tensor_data(gi[2]));
  }
  lt_tensor_release(gc);
  lt_tensor_release(xc);
  lt_tensor_release(wc);
  return st;
}
static const lt_op OP_LINEAR = {"linear", linear_backward};

/* y = x w^T + b: y's rows start as b, then one sgemm adds x w^T (beta = 1).
 * Shapes: see linear.h. PyTorch: F.linear */
lt_status lt_linear(lt_tensor **out, lt_tensor *x, lt_tensor *w, lt_tensor *b) {
  LT_PROFILE_OP(OP_LINEAR.name);
  lt_status st = check(x, w, b);
  if (st != LT_OK) return st;
  bmat X, Wt;
  lt_tensor *xc = blas_rows(x, &X), *wc = xc ? blas_weight(w, true, &Wt) : NULL, *y = NULL;
  int64_t shape[LT_MAX_DIMS], out_f = w->shape[0];
  memcpy(shape, x->shape, sizeof shape);
  shape[x->ndim - 1] = out_f;
  if (wc && (y = lt_tensor_empty(x->ndim, shape))) {
    float *yd = lt_tensor_data(y);
    if (b && X.rows > 0) {
      const float *bd = lt_tensor_data(b);
      int64_t bs = b->stride[0];
      for (int64_t j = 0; j < out_f; j++) yd[j] = bd[j * bs];
      for (int64_t i = 1; i < X.rows; i++) memcpy(yd + i * out_f, yd, (size_t)out_f * sizeof *yd);
    }
    if (X.rows > 0 && out_f > 0) {
      if (X.cols > 0) gemm(&X, &Wt, yd, out_f, b ? 1.0f : 0.0f);
      else if (!b) lt_fill(y, 0.0f);
    }
  }
  lt_tensor *in[3] = {x, w, b}, *saved[2] = {xc, w};
  lt_node *n = NULL;
  if (y && (st = lt_record(y, &OP_LINEAR, b ? 3 : 2, in, 2, saved, &n)) == LT_OK) {
    if (n) n->i[0] = b != NULL;
    *out = y;
  } else {
    lt_tensor_release(y);
    if (!y) st = LT_ERR_MEMORY;
  }
  lt_tensor_release(xc);
  lt_tensor_release(wc);
  return st;
}
