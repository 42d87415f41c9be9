/* A header-only harness for latent's C tests.
 *
 *   TEST(name) { CHECK(cond); CHECK_CLOSE(a, b, tol); }
 *   int main(void) { RUN(name); return lt_test_summary(); }
 *
 * CHECK_ARRAY_CLOSE prints the largest difference, as llm.c's check_tensor. */
#ifndef LT_TEST_H
#define LT_TEST_H

#include <math.h>
#include <stdio.h>

static int lt_test_failed, lt_test_passed, lt_test_current_failed;

#define TEST(name) static void name(void)
#define RUN(name)                                                 \
  do {                                                            \
    lt_test_current_failed = 0;                                   \
    name();                                                       \
    if (lt_test_current_failed) lt_test_failed++;                 \
    else lt_test_passed++;                                        \
  } while (0)

#define CHECK(cond)                                                           \
  do {                                                                        \
    if (!(cond)) {                                                            \
      fprintf(stderr, "%s:%d: %s: check failed: %s\n", __FILE__, __LINE__, __func__, #cond); \
      lt_test_current_failed = 1;                                             \
    }                                                                         \
  } while (0)

#define CHECK_CLOSE(a, b, tol)                                                  \
  do {                                                                          \
    double a_ = (a), b_ = (b);                                                  \
    if (!(fabs(a_ - b_) <= (tol))) {                                            \
      fprintf(stderr, "%s:%d: %s: %s = %.9g, expected %.9g (tol %g)\n", __FILE__, __LINE__, \
              __func__, #a, a_, b_, (double)(tol));                             \
      lt_test_current_failed = 1;                                               \
    }                                                                           \
  } while (0)

/* Compares n floats with reference doubles; reports the worst difference. */
#define CHECK_ARRAY_CLOSE(got, want, n, tol)                                    \
  do {                                                                          \
    double worst_ = 0;                                                          \
    long at_ = -1;                                                              \
    for (long i_ = 0; i_ < (long)(n); i_++) {                                   \
      double d_ = fabs((double)(got)[i_] - (double)(want)[i_]);                 \
      if (d_ > worst_ || d_ != d_) { worst_ = d_; at_ = i_; }                   \
    }                                                                           \
    if (!(worst_ <= (tol))) {                                                   \
      fprintf(stderr, "%s:%d: %s: %s vs %s: max diff %g at %ld (tol %g)\n", __FILE__, __LINE__, \
              __func__, #got, #want, worst_, at_, (double)(tol));              \
      lt_test_current_failed = 1;                                               \
    }                                                                           \
  } while (0)

static int lt_test_summary(void) {
  printf("%d passed, %d failed\n", lt_test_passed, lt_test_failed);
  return lt_test_failed ? 1 : 0;
}

#endif
