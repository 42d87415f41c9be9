/* Principal component analysis, as scikit-learn's PCA(svd_solver="full").
 *
 * fit: the mean of x (N x D), and the k leading eigenvectors of the D x D
 * covariance of the centred data, which are the right singular vectors of the
 * centred data (see pca.c for why the covariance and not an SVD of the data).
 * explained_variance = eigenvalue = s^2 / (N - 1) (ddof 1), its ratio to the
 * total variance (the trace), singular_values s.
 *
 * Signs are made deterministic as scikit-learn's svd_flip does:
 *   LT_PCA_SIGN_SCORES   (scikit-learn up to 1.4, u_based_decision=True, so
 *                         Debian 12's 1.2): in each component's scores
 *                         (x - mean) . v, the one largest in magnitude (the
 *                         first such row) is positive;
 *   LT_PCA_SIGN_LOADINGS (scikit-learn 1.5+): each component's loading largest
 *                         in magnitude (the first such column) is positive.
 * An all-zero column of scores or loadings keeps the sign LAPACK gave.
 *
 * transform(x)         = (x - mean) components^T        [/ sqrt(explained_variance)]
 * inverse_transform(y) = y [* sqrt(explained_variance)] components + mean
 * The bracketed parts are whitening, given by passing the explained variance;
 * with it the inverse is exact on the span of the components. */
#ifndef LT_PCA_H
#define LT_PCA_H

#include <stdint.h>

#include "core/lt_error.h"
#include "core/lt_tensor.h"

typedef enum { LT_PCA_SIGN_SCORES, LT_PCA_SIGN_LOADINGS } lt_pca_sign;

typedef struct {
  lt_tensor *components;               /* k x D, orthonormal rows, leading first */
  lt_tensor *mean;                     /* D */
  lt_tensor *explained_variance;       /* k, ddof 1 */
  lt_tensor *explained_variance_ratio; /* k, of the total over all D directions */
  lt_tensor *singular_values;          /* k, of the centred data */
  double total_variance;               /* the trace of the covariance, ddof 1 */
} lt_pca_model;

/* Fits k components to x (N x D, finite, N >= 2, 1 <= k <= min(N, D)). On
 * failure every tensor of *m is NULL. */
lt_status lt_pca_fit(lt_pca_model *m, const lt_tensor *x, int64_t k, lt_pca_sign sign);
void lt_pca_model_release(lt_pca_model *m); /* releases the tensors, sets them NULL */

/* x: M x D; mean: D; components: k x D; whiten_var: k positive values, or NULL
 * for no whitening. Returns M x k, or NULL and an error naming the shapes. */
lt_tensor *lt_pca_transform(const lt_tensor *x, const lt_tensor *mean, const lt_tensor *components,
                            const lt_tensor *whiten_var);
/* y: M x k; the rest as above. Returns M x D. */
lt_tensor *lt_pca_inverse_transform(const lt_tensor *y, const lt_tensor *mean, const lt_tensor *components,
                                    const lt_tensor *whiten_var);

#endif
