/* Corruption kernels (src/data/corrupt.c) through the C API: the rounding and
 * rejection rules of random erasing on cases with one possible outcome, and
 * the error statuses (no crash, nothing returned, nothing leaked). The
 * distribution against torchvision is tested in tests/lua/test_corrupt.lua. */
#include "autograd/graph.h"
#include "core/lt_alloc.h"
#include "core/lt_rng.h"
#include "data/corrupt.h"
#include "lt_test.h"

#include <string.h>

/* Ratio 1 (its log-uniform draw is exactly 0, exp 1) and one scale value, so
 * h = w = rint(sqrt(H * W * scale)) with no randomness. */
static lt_erasing_opts fixed(double scale) {
  lt_erasing_opts o = lt_erasing_defaults();
  o.p = 1;
  o.scale[0] = o.scale[1] = scale;
  o.ratio[0] = o.ratio[1] = 1;
  return o;
}

TEST(rounding_is_half_to_even) {
  int64_t box[4];
  lt_erasing_opts o = fixed(81.0 / 256); /* 8 x 8: area 20.25, sqrt 4.5 -> 4 (Python's round) */
  CHECK(lt_erasing_draw(8, 8, &o, box));
  CHECK(box[2] == 4 && box[3] == 4);
  o = fixed(121.0 / 256); /* area 30.25, sqrt 5.5 -> 6 */
  CHECK(lt_erasing_draw(8, 8, &o, box));
  CHECK(box[2] == 6 && box[3] == 6);
  CHECK(box[0] >= 0 && box[0] <= 2 && box[1] >= 0 && box[1] <= 2);
}

TEST(rejected_after_ten_tries_leaves_the_image) {
  int64_t shape[4] = {3, 2, 4, 4};
  lt_tensor *x = lt_tensor_full(4, shape, 0.5f), *y = NULL, *boxes = NULL;
  lt_erasing_opts o = fixed(1.0); /* h = w = 4 = H: never fits */
  CHECK(lt_corrupt_random_erasing(&y, &boxes, x, &o) == LT_OK);
  CHECK(memcmp(lt_tensor_data(x), lt_tensor_data(y), 96 * sizeof(float)) == 0);
  for (int i = 0; i < 12; i++) CHECK(lt_tensor_data(boxes)[i] == 0);
  lt_tensor_release(y);
  lt_tensor_release(boxes);
  o = fixed(9.0 / 16); /* h = w = 3 < 4: always fits, value fills 2 x 3 x 3 per image */
  o.value = 2;
  CHECK(lt_corrupt_random_erasing(&y, NULL, x, &o) == LT_OK);
  float sum = 0;
  for (int i = 0; i < 96; i++) sum += lt_tensor_data(y)[i];
  CHECK_CLOSE(sum, 3 * (18 * 2 + 14 * 0.5), 1e-4);
  lt_tensor_release(y);
  lt_tensor_release(x);
}

TEST(errors_return_a_status_and_no_tensor) {
  int64_t shape[4] = {2, 1, 5, 5};
  lt_tensor *x = lt_tensor_zeros(4, shape), *flat = lt_tensor_zeros(2, shape + 2), *y = NULL, *b = NULL;
  lt_erasing_opts o = lt_erasing_defaults();
  CHECK(lt_corrupt_random_erasing(&y, &b, flat, &o) == LT_ERR_SHAPE && !y && !b);
  CHECK(strstr(lt_errmsg(), "random_erasing: x must be B x C x H x W") != NULL);
  o.scale[0] = 0.5, o.scale[1] = 0.1;
  CHECK(lt_corrupt_random_erasing(&y, &b, x, &o) == LT_ERR_ARG && !y && !b);
  CHECK(strstr(lt_errmsg(), "option 'scale'") != NULL);
  o = lt_erasing_defaults();
  o.ratio[0] = -1;
  CHECK(lt_erasing_boxes(&b, 4, 5, 5, &o) == LT_ERR_ARG && !b);
  CHECK(lt_corrupt_gaussian(&y, x, -1, false) == LT_ERR_ARG && !y);
  x->requires_grad = true;
  CHECK(lt_corrupt_gaussian(&y, x, 0.1, false) == LT_ERR_ARG && !y);
  bool was = lt_set_grad_enabled(false); /* under no_grad it is allowed */
  CHECK(lt_corrupt_gaussian(&y, x, 0.1, false) == LT_OK && y && !y->requires_grad);
  lt_set_grad_enabled(was);
  lt_tensor_release(y);
  lt_tensor_release(flat);
  lt_tensor_release(x);
}

TEST(gaussian_clamps_and_repeats) {
  int64_t n = 1000;
  lt_tensor *x = lt_tensor_full(1, &n, 0.5f), *a = NULL, *b = NULL;
  lt_rng_seed(7);
  CHECK(lt_corrupt_gaussian(&a, x, 2.0, true) == LT_OK);
  lt_rng_seed(7);
  CHECK(lt_corrupt_gaussian(&b, x, 2.0, true) == LT_OK);
  int at_ends = 0;
  for (int64_t i = 0; i < n; i++) {
    float v = lt_tensor_data(a)[i];
    CHECK(v >= 0 && v <= 1 && v == lt_tensor_data(b)[i]);
    at_ends += v == 0 || v == 1;
  }
  CHECK(at_ends > 700); /* P(|N(0, 2)| > 0.5) = 0.80 */
  lt_tensor_release(a);
  lt_tensor_release(b);
  lt_tensor_release(x);
}

int main(void) {
  size_t live = lt_mem_live();
  RUN(rounding_is_half_to_even);
  RUN(rejected_after_ten_tries_leaves_the_image);
  RUN(errors_return_a_status_and_no_tensor);
  RUN(gaussian_clamps_and_repeats);
  if (lt_mem_live() != live) { /* every tensor released, error paths included */
    fprintf(stderr, "leak: %zu bytes live, %zu before\n", lt_mem_live(), live);
    return 1;
  }
  return lt_test_summary();
}
