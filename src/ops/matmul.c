/* matmul forward and backward through cblas_sgemm / cblas_sgemv.
 *
 * Every operand is seen as a batch of matrices (`mat`: rows, cols, their
 * strides, and a batch stride that is 0 when one matrix serves the whole
 * batch). A matrix whose columns are contiguous goes to BLAS as is; one whose
 * rows are contiguous (a transposed view) goes with CblasTrans; any other
 * layout is copied first. Transposing a mat is free (swap the strides), so
 * backward's dA = dC @ B^T and dB = A^T @ dC reuse the same path. */
#include "ops/matmul.h"
#include "autograd/graph.h"

#include <cblas.h>
#include <limits.h>
#include <omp.h>
#include <string.h>

/* ==================== matrices as BLAS sees them ==================== */

typedef struct {
  const float *data;
  int64_t bstride;    /* distance between batch entries; 0: one matrix for all */
  int64_t rows, cols;
  int64_t rs, cs;     /* strides of a row step and a column step */
} mat;

static mat mat_t(mat m) {
  mat t = m;
  t.rows = m.cols, t.cols = m.rows;
  t.rs = m.cs, t.cs = m.rs;
  return t;
}

/* Gives the strides of size-1 dimensions values that BLAS accepts. */
static void normalize(mat *m) {
  if (m->cols <= 1) m->cs = 1;
  if (m->rows <= 1) m->rs = m->cs == 1 ? (m->cols > 1 ? m->cols : 1) : 1;
}

/* Row-major BLAS form of m: stored as is (NoTrans, leading dimension rs) or
 * as the transpose of a row-major matrix (Trans, leading dimension cs). */
static bool blas_form(const mat *m, enum CBLAS_TRANSPOSE *tr, int *ld) {
  int64_t l;
  if (m->cs == 1 && m->rs >= (m->cols > 1 ? m->cols : 1)) *tr = CblasNoTrans, l = m->rs;
  else if (m->rs == 1 && m->cs >= (m->rows > 1 ? m->rows : 1)) *tr = CblasTrans, l = m->cs;
  else return false;
  if (l > INT_MAX) return false;
  *ld = (int)l;
  return true;
}

/* The matrices of t, whose dims are [batch?][rows?][cols?] as flagged. */
static mat mat_of(const lt_tensor *t, bool has_batch, bool has_rows, bool has_cols, int64_t rows, int64_t cols) {
  mat m = {lt_tensor_data(t), 0, rows, cols, 0, 0};
  int d = 0;
  if (has_batch) {
    m.bstride = t->shape[0] == 1 ? 0 : t->stride[0];
    d++;
  }
  if (has_rows) m.rs = t->stride[d++];
  if (has_cols) m.cs = t->stride[d++];
  normalize(&m);
  return m;
}

/* C (rows x cols, row-major, leading dim ldc) = op(A) @ op(B) + beta * C. */
static void gemm_one(const mat *A, const mat *B, float *C, int64_t ldc, float beta) {
  enum CBLAS_TRANSPOSE ta, tb;
  int lda, ldb;
  LT_ASSERT(blas_form(A, &ta, &lda) && blas_form(B, &tb, &ldb));
  int M = (int)A->rows, K = (int)A->cols, N = (int)B->cols;
  /* some BLAS builds scale y by beta = 0 as y * 0, which keeps a NaN of
   * uninitialised memory: start from zeros */
  if ((N == 1 || M == 1) && beta == 0.0f) memset(C, 0, (size_t)(N == 1 ? M : N) * sizeof *C);
  if (N == 1) { /* matrix @ column: y = op(A) x */
    int sr = ta == CblasNoTrans ? M : K, sc = ta == CblasNoTrans ? K : M; /* A as stored */
    cblas_sgemv(CblasRowMajor, ta, sr, sc, 1.0f, A->data, lda, B->data, (int)B->rs, beta, C, (int)ldc);
  } else if (M == 1) { /* row @ matrix: y = op(B)^T x */
    int sr = tb == CblasNoTrans ? K : N, sc = tb == CblasNoTrans ? N : K;
    cblas_sgemv(CblasRowMajor, tb == CblasNoTrans ? CblasTrans : CblasNoTrans, sr, sc, 1.0f, B->data, ldb,
                A->data, (int)A->cs, beta, C, 1);
  } else {
    cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, 1.0f, A->data, lda, B->data, ldb, beta, C, (int)ldc);
  }
}

static bool fits_int(int64_t v) { return v <= INT_MAX; }

/* C[b] = A[b] @ B[b] for b < batch, C contiguous (batch x rows x cols); or,
 * with `sum`, C (rows x cols) = the sum over b. A and B must have a BLAS form.
 * Never called inside an OpenMP region: BLAS brings its own threads. */
static void gemm_batch(int64_t batch, mat A, mat B, float *C, bool sum) {
  int64_t M = A.rows, K = A.cols, N = B.cols;
  enum CBLAS_TRANSPOSE ta, tb;
  int lda, ldb;
  LT_ASSERT(blas_form(&A, &ta, &lda) && blas_form(&B, &tb, &ldb) && B.rows == K);
  if (M == 0 || N == 0) return;
  if (K == 0 || batch == 0) {
    memset(C, 0, (size_t)((sum ? 1 : batch) * M * N) * sizeof *C);
    return;
  }
  if (batch > 1 && !sum && B.bstride == 0 && ta == CblasNoTrans && A.bstride == M * lda &&
      fits_int(batch * M)) {
    A.rows = batch * M; /* a stack of A's rows times one B: a single GEMM */
    gemm_one(&A, &B, C, N, 0.0f);
    return;
  }
  if (batch > 1 && sum && ta == CblasTrans && A.bstride == K * lda && tb == CblasNoTrans &&
      B.bstride == K * ldb && fits_int(batch * K)) {
    A.cols = B.rows = batch * K; /* sum of products = one product over the joined K */
    gemm_one(&A, &B, C, N, 0.0f);
    return;
  }
  for (int64_t b = 0; b < batch; b++) {
    mat Ab = A, Bb = B;
    Ab.data += b * A.bstride;
    Bb.data += b * B.bstride;
    if (sum) gemm_one(&Ab, &Bb, C, N, b ? 1.0f : 0.0f);
    else gemm_one(&Ab, &Bb, C + b * M * N, N, 0.0f);
  }
}

/* ==================== shapes ==================== */

typedef struct {
  int64_t batch, m, k, n;
  bool a_vec, b_vec, batched; /* 1-D a, 1-D b, a batch dim in the result */
  int out_ndim;
  int64_t out_shape[3];
} plan;

static lt_status check(const lt_tensor *a, const lt_tensor *b, plan *p) {
  char sa[LT_SHAPE_STR], sb[LT_SHAPE_STR];
  if (a->ndim < 1 || a->ndim > 3 || b->ndim < 1 || b->ndim > 3)
    return lt_error(LT_ERR_SHAPE, "matmul: expects tensors of 1 to 3 dimensions, got shapes %s and %s%s",
                    LT_SHAPE(a, sa), LT_SHAPE(b, sb),
                    a->ndim == 0 || b->ndim == 0 ? " (multiply by a scalar with *)" : "");
  const int64_t *as = a->shape + a->ndim - 1, *bs = b->shape + b->ndim - 1; /* last dims */
  int64_t ba = a->ndim == 3 ? a->shape[0] : 1, bb = b->ndim == 3 ? b->shape[0] : 1;
  p->a_vec = a->ndim == 1, p->b_vec = b->ndim == 1;
  p->batched = a->ndim == 3 || b->ndim == 3;
  p->m = p->a_vec ? 1 : as[-1];
  p->k = as[0];
  p->n = p->b_vec ? 1 : bs[0];
  int64_t kb = p->b_vec ? bs[0] : bs[-1];
  if (kb != p->k)
    return lt_error(LT_ERR_SHAPE, "matmul: shapes %s and %s do not match", LT_SHAPE(a, sa), LT_SHAPE(b, sb));
  if (ba != bb && ba != 1 && bb != 1)
    return lt_error(LT_ERR_SHAPE, "matmul: shapes %s and %s do not match (batch sizes %lld and %lld)",
                    LT_SHAPE(a, sa), LT_SHAPE(b, sb), (long long)ba, (long long)bb);
  p->batch = ba == 1 ? bb : ba;
  if (!fits_int(p->m) || !fits_int(p->k) || !fits_int(p->n))
    return lt_error(LT_ERR_SHAPE, "matmul: shapes %s and %s are too large for BLAS (sizes over 2^31)",
                    LT_SHAPE(a, sa), LT_SHAPE(b, sb));
  p->out_ndim = 0;
  if (p->batched) p->out_shape[p->out_ndim++] = p->batch;
  if (!p->a_vec) p->out_shape[p->out_ndim++] = p->m;
  if (!p->b_vec) p->out_shape[p->out_ndim++] = p->n;
  return LT_OK;
}

static mat mat_a(const lt_tensor *a, const plan *p) {
  return mat_of(a, a->ndim == 3, a->ndim >= 2, true, p->m, p->k);
}
static mat mat_b(const lt_tensor *b, const plan *p) {
  return mat_of(b, b->ndim == 3, true, b->ndim >= 2, p->k, p->n);
}
static mat mat_out(const lt_tensor *g, const plan *p) {
  return mat_of(g, p->batched, !p->a_vec, !p->b_vec, p->m, p->n);
}

/* t itself (retained) when its matrices have a BLAS form, else a contiguous
 * copy; *m is set to the matrices of the result. NULL when out of memory. */
static lt_tensor *blas_ready(lt_tensor *t, const plan *p, mat (*view)(const lt_tensor *, const plan *), mat *m) {
  enum CBLAS_TRANSPOSE tr;
  int ld;
  *m = view(t, p);
  if (blas_form(m, &tr, &ld)) return lt_tensor_retain(t);
  lt_tensor *c = lt_tensor_copy_values(t);
  if (c) *m = view(c, p);
  return c;
}

/* ==================== matmul ==================== */

/* dA = dC @ B^T, dB = A^T @ dC; summed over the batch for an operand that
 * was broadcast. saved[0] = a, saved[1] = b. */
static lt_status matmul_backward(lt_node *n, lt_tensor *g, lt_tensor **gi) {
  lt_tensor *a = n->saved[0], *b = n->saved[1];
  plan p;
  LT_ASSERT(check(a, b, &p) == LT_OK);
  mat G, A, B;
  lt_tensor *gc = blas_ready(g, &p, mat_out, &G), *ca = NULL, *cb = NULL;
  lt_status st = gc ? LT_OK : LT_ERR_MEMORY;
  if (st == LT_OK && lt_edge_needs_grad(&n->inputs[0])) {
    bool own_batch = p.batch == 1 || (a->ndim == 3 && a->shape[0] == p.batch);
    if (!(cb = blas_ready(b, &p, mat_b, &B)) || !(gi[0] = lt_tensor_empty(a->ndim, a->shape))) st = LT_ERR_MEMORY;
    else gemm_batch(p.batch, G, mat_t(B), lt_tensor_data(gi[0]), !own_batch);
  }
  if (st == LT_OK && lt_edge_needs_grad(&n->inputs[1])) {
    bool own_batch = p.batch == 1 || (b->ndim == 3 && b->shape[0] == p.batch);
    if (!(ca = blas_ready(a, &p, mat_a, &A)) || !(gi[1] = lt_tensor_empty(b->ndim, b->shape))) st = LT_ERR_MEMORY;
    else gemm_batch(p.batch, mat_t(A), G, lt_tensor_data(gi[1]), !own_batch);
  }
  lt_tensor_release(gc);
  lt_tensor_release(ca);
  lt_tensor_release(cb);
  return st;
}
static const lt_op OP_MATMUL = {"matmul", matmul_backward};

/* y = a @ b. Shapes: see matmul.h. PyTorch: torch.matmul */
lt_status lt_matmul(lt_tensor **out, lt_tensor *a, lt_tensor *b) {
  plan p;
  lt_status st = check(a, b, &p);
  if (st != LT_OK) return st;
  mat A, B;
  lt_tensor *ca = blas_ready(a, &p, mat_a, &A), *cb = ca ? blas_ready(b, &p, mat_b, &B) : NULL;
  lt_tensor *y = cb ? lt_tensor_empty(p.out_ndim, p.out_shape) : NULL;
  if (y) gemm_batch(p.batch, A, B, lt_tensor_data(y), false);
  lt_tensor_release(ca);
  lt_tensor_release(cb);
  if (!y) return LT_ERR_MEMORY;
  lt_tensor *saved[2] = {a, b};
  if ((st = lt_record(y, &OP_MATMUL, 2, saved, 2, saved, NULL)) != LT_OK) {
    lt_tensor_release(y);
    return st;
  }
  *out = y;
  return LT_OK;
}

/* ==================== threads ==================== */

/* One setting for both pools: with the OpenMP build of OpenBLAS they are the
 * same libgomp threads, and setting only one would oversubscribe the cores. */
void lt_set_num_threads(int n) {
  if (n < 1) n = 1;
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

int lt_get_num_threads(void) { return omp_get_max_threads(); }
