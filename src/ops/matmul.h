/* Matrix products through OpenBLAS, with autograd; and the one thread-count
 * setting shared by OpenMP loops and OpenBLAS. */
#ifndef LT_MATMUL_H
#define LT_MATMUL_H

#include "core/lt_error.h"
#include "core/lt_tensor.h"

/* y = a @ b, PyTorch's torch.matmul for operands of 1 to 3 dimensions:
 *   m x k  @ k x n    -> m x n
 *   b x m x k @ b x k x n -> b x m x n; a batch of 1 (or a 2-D operand) is
 *                        broadcast against the other's batch
 *   k @ k -> scalar (dot);  m x k @ k -> m;  k @ k x n -> n  (a 1-D operand is
 *                        a row on the left, a column on the right, then dropped)
 * Operands whose matrices are row- or column-major views (a transpose of a
 * contiguous tensor, a narrow of columns) go to cblas_sgemm as they are;
 * others are copied first. The result is contiguous. */
lt_status lt_matmul(lt_tensor **out, lt_tensor *a, lt_tensor *b);

/* Sets the threads of OpenMP loops and of OpenBLAS together (n >= 1). */
void lt_set_num_threads(int n);
int lt_get_num_threads(void);

#endif
