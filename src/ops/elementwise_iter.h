/* Internal to the elementwise family (elementwise.c, unary.c, compare.c):
 * the strided iterator and the macros that build row kernels.
 *
 * An op is a row kernel: a function that fills `n` contiguous outputs from up
 * to three operands, each read with its own stride along the row (1 for a
 * contiguous row, 0 for a broadcast value, anything for a view). The iterator
 * lays the output shape out as rows (merging dimensions that are contiguous
 * for every operand, so same-shape contiguous operands make one long row) and
 * calls the kernel once per row, splitting the work across OpenMP threads
 * when there is enough of it. Kernels get a fast branch per common stride
 * pattern, whose loops the compiler vectorizes (`omp simd`). */
#ifndef LT_ELEMENTWISE_ITER_H
#define LT_ELEMENTWISE_ITER_H

#include "core/lt_tensor.h"

/* GCC will not if-convert a float comparison whose result feeds more
 * arithmetic while it must preserve floating-point exception flags (the
 * default -ftrapping-math), so loops with clamps and selects stay scalar.
 * Nothing in latent reads those flags; dropping the guarantee in the
 * elementwise files lets those loops vectorize (exp: about 8x). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

/* The default build targets any x86-64 (SSE2: 4 floats a vector). On x86-64
 * Linux with GCC each kernel is also compiled for x86-64-v3 (AVX2 + FMA: 8
 * floats and fused multiply-adds), picked at load time by the CPU, as
 * PyTorch's kernels dispatch. Results may differ in the last bit between the
 * two versions (FMA rounds once), never between runs on one machine. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(LT_NO_CLONES)
#define LT_EW_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define LT_EW_CLONES
#endif

/* y[i] = f(a[i*sa], b[i*sb], c[i*sc]) for i < n, with parameters p[0..3]. */
typedef void (*lt_row_fn)(int64_t n, float *restrict y, const float *a, int64_t sa, const float *b,
                          int64_t sb, const float *c, int64_t sc, const float *p);

/* Elements below which a loop runs on one thread: the cost of waking the
 * team beats the work for cheap ops (heavy ones, like exp, split sooner). */
enum { LT_EW_PAR_CHEAP = 32768, LT_EW_PAR_HEAVY = 8192 };

/* Fills y (contiguous) from the operands broadcast to y's shape. */
void lt_ew_map(lt_tensor *y, lt_row_fn f, int n_ops, lt_tensor *const *ops, const float *p, int heavy);
/* A new contiguous tensor of the given shape filled by lt_ew_map; NULL when
 * out of memory. */
lt_tensor *lt_ew_new(int ndim, const int64_t *shape, lt_row_fn f, int n_ops, lt_tensor *const *ops,
                     const float *p, int heavy);
/* The gradient of an input from a full-size (output-shaped) one: sums the
 * broadcast dimensions away and releases `full`. NULL stays NULL. */
struct lt_edge;
lt_tensor *lt_ew_reduce(lt_tensor *full, const struct lt_edge *e);
/* Records `op` on y (saving `saved`), sets *out, and passes y's ownership on;
 * releases y on failure. node (may be NULL) receives the node for params. */
struct lt_op;
struct lt_node;
lt_status lt_ew_finish(lt_tensor **out, lt_tensor *y, const struct lt_op *op, int n_in,
                       lt_tensor *const *in, int n_saved, lt_tensor *const *saved,
                       struct lt_node **node);

/* ---- row kernels from expressions ----
 * X, Y and Z name the current element of the operands; P0..P3 the params. */
#define LT_EW_SIMD _Pragma("omp simd")

#define LT_EW_PARAMS                                         \
  const float P0 = p[0], P1 = p[1], P2 = p[2], P3 = p[3];     \
  (void)P0, (void)P1, (void)P2, (void)P3

/* y = EXPR(X) */
#define LT_EW_UNARY(name, EXPR)                                                        \
  LT_EW_CLONES static void name(int64_t n, float *restrict y, const float *a, int64_t sa, \
                   const float *b, int64_t sb, const float *c, int64_t sc, const float *p) { \
    LT_EW_PARAMS;                                                                       \
    if (sa == 1) {                                                                      \
      LT_EW_SIMD for (int64_t i = 0; i < n; i++) { const float X = a[i]; y[i] = (EXPR); } \
    } else {                                                                            \
      LT_EW_SIMD for (int64_t i = 0; i < n; i++) { const float X = a[i * sa]; y[i] = (EXPR); } \
    }                                                                                   \
  }

/* y = EXPR(X, Y), with branches for contiguous rows and a broadcast value. */
#define LT_EW_BINARY(name, EXPR)                                                       \
  LT_EW_CLONES static void name(int64_t n, float *restrict y, const float *a, int64_t sa, \
                   const float *b, int64_t sb, const float *c, int64_t sc, const float *p) { \
    LT_EW_PARAMS;                                                                       \
    if (sa == 1 && sb == 1) {                                                           \
      LT_EW_SIMD for (int64_t i = 0; i < n; i++) { const float X = a[i], Y = b[i]; y[i] = (EXPR); } \
    } else if (sa == 1 && sb == 0) {                                                    \
      const float Y = b[0];                                                             \
      LT_EW_SIMD for (int64_t i = 0; i < n; i++) { const float X = a[i]; y[i] = (EXPR); } \
    } else if (sa == 0 && sb == 1) {                                                    \
      const float X = a[0];                                                             \
      LT_EW_SIMD for (int64_t i = 0; i < n; i++) { const float Y = b[i]; y[i] = (EXPR); } \
    } else {                                                                            \
      LT_EW_SIMD for (int64_t i = 0; i < n; i++) {                                      \
        const float X = a[i * sa], Y = b[i * sb];                                       \
        y[i] = (EXPR);                                                                  \
      }                                                                                 \
    }                                                                                   \
  }

/* y = EXPR(X, Y, Z): a contiguous branch and a general one. */
#define LT_EW_TERNARY(name, EXPR)                                                      \
  LT_EW_CLONES static void name(int64_t n, float *restrict y, const float *a, int64_t sa, \
                   const float *b, int64_t sb, const float *c, int64_t sc, const float *p) { \
    LT_EW_PARAMS;                                                                       \
    if (sa == 1 && sb == 1 && sc == 1) {                                                \
      LT_EW_SIMD for (int64_t i = 0; i < n; i++) {                                      \
        const float X = a[i], Y = b[i], Z = c[i];                                       \
        y[i] = (EXPR);                                                                  \
      }                                                                                 \
    } else {                                                                            \
      LT_EW_SIMD for (int64_t i = 0; i < n; i++) {                                      \
        const float X = a[i * sa], Y = b[i * sb], Z = c[i * sc];                        \
        y[i] = (EXPR);                                                                  \
      }                                                                                 \
    }                                                                                   \
  }

#endif
