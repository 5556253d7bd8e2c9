/*
 * linalg.h: the public face of src/linalg: a distributed ridge least-squares fit with ScaLAPACK, the
 * linear probe of the unlearning suite built on it (unlearning.md, "Relearning attack and probe"), and
 * a distributed PCA for the poisoning suite's representation defences (poisoning.md section 6).
 *
 * Ridge. Rows of the design matrix X (N x d) and of the targets Y (N x k) are spread over the ranks
 * of a communicator, any number per rank (zero included). The fit is
 *
 *     W = (XᵀX + λI)⁻¹ XᵀY,   λ = lambda_scale · tr(XᵀX) / d,
 *
 * the reference's scale-free rule (lambda_scale = 1e-3 for the probe): λ follows the features'
 * average energy, so it does not depend on their units. Each rank's rows are copied into a 2-D
 * block-cyclic layout on a BLACS grid made from the communicator (as square as the rank count
 * allows, every rank in it); XᵀX is formed with pdsyrk, XᵀY with pdgemm, and the system is solved
 * by Cholesky (pdposv). W comes back bit-identical on every rank.
 *
 * Intercept. Features such as mean hidden states have large common offsets. Penalising a bias
 * column would shrink the per-class offsets, and the offsets would dominate tr(XᵀX) and so λ.
 * Passing b != NULL therefore fits an unpenalised intercept the standard way: X and Y are centred
 * by their means over all rows, W is the ridge solution of the centred problem (λ from the centred
 * trace), and b = ȳ − Wᵀx̄, so predictions are x W + b. With b == NULL the formula above is
 * applied to X and Y as given.
 *
 * Errors (bad sizes, a negative or non-finite lambda_scale, ranks disagreeing on d or k, a system
 * that is not positive definite) are agreed collectively: every rank returns the same code and
 * none is left waiting in a collective.
 */
#ifndef TB_LINALG_H
#define TB_LINALG_H

#include <mpi.h>

#include "core/core.h"

/* The reference's ridge scale for the probe: λ = 1e-3 · tr(XᵀX) / d. */
#define TB_PROBE_LAMBDA_SCALE 1e-3

/* Collective over comm. X: this rank's n_local rows, row-major n_local x d; Y: n_local x k. d, k
 * and lambda_scale must agree on every rank; n_local may differ and may be 0 (X, Y may then be
 * NULL), but some rank must hold a row. Fills W (d x k, row-major) and, if b != NULL, the
 * intercept b (k) on every rank.
 * Returns TB_ERR_ARG for bad sizes or lambda_scale, TB_ERR_SHAPE when ranks disagree on d or k,
 * TB_ERR_NUMERIC when XᵀX + λI is not positive definite (a zero-variance feature with
 * lambda_scale 0, or no variance at all), TB_ERR_MPI when a collective fails. */
int tb_ridge_fit(MPI_Comm comm, const double *X, const double *Y, long n_local, int d, int k,
                 double lambda_scale, double *W, double *b);

/* The probe's fit: one-hot targets from labels in [0, n_classes), ridge with intercept and
 * lambda_scale TB_PROBE_LAMBDA_SCALE. Collective, with tb_ridge_fit's conventions; a label out of
 * range on any rank is TB_ERR_ARG on every rank. W is d x n_classes, b has n_classes entries. */
int tb_probe_fit_classes(MPI_Comm comm, const double *X, const int *labels, long n_local, int d, int n_classes,
                         double *W, double *b);

/* Serial: the fraction of the n rows of X (row-major n x d) whose argmax over the k classes of
 * x W + b (b may be NULL: no intercept) equals the row's label; ties go to the lower class. n >= 1
 * and labels in [0, k), else TB_ERR_ARG. */
int tb_probe_accuracy(const double *X, const int *labels, long n, int d, const double *W, const double *b, int k,
                      double *accuracy);

/* ------------------------------------------------------------------------------------------------
 * PCA
 *
 * Rows of X (N x d) are spread over the ranks as for ridge. tb_pca_fit centres them by their column
 * means x̄ and finds the top k eigenpairs of the sample covariance
 *
 *     S = (X − 1x̄ᵀ)ᵀ(X − 1x̄ᵀ) / (N − 1),
 *
 * that is the top k right singular vectors v_c of the centred X and the variances λ_c = σ_c²/(N − 1)
 * along them (the N − 1 of the sample covariance, as sklearn's explained_variance_). The centred Xᵀ
 * is moved onto the square BLACS grid, (N − 1)·S is formed with pdsyrk, and pdsyevd (divide and
 * conquer) returns all d eigenpairs: d is a model width, so the d x d problem costs O(d³), little
 * next to the O(N d²) of forming S. Components, variances and the mean come back bit-identical on
 * every rank.
 *
 * Sign. An eigenvector is defined up to sign; each v_c is returned with its entry of largest
 * magnitude positive (the first such entry on a tie), so runs on different rank counts give the
 * same vectors up to rounding. Directions that share an eigenvalue are some orthonormal basis of
 * their eigenspace, which may differ between rank counts.
 *
 * Accuracy. Forming S squares the singular values, so each λ_c carries an absolute error of a small
 * multiple of ε·λ_1 (ε = 2.2e-16) rather than a relative one: ample for the leading directions the
 * defences use; a variance below about 1e-8·λ_1 keeps fewer than ~6 correct digits. λ_c is clamped
 * at 0, below which only rounding can take it.
 *
 * Spectral signatures score s_i = ((r_i − x̄)·v_1)²: a fit with k = 1, tb_pca_project, and a square.
 * Activation clustering projects onto k = 10 components.
 */

/* Collective over comm. X: this rank's n_local rows, row-major n_local x d; n_local may differ over
 * the ranks and may be 0 (X may then be NULL); d and k must agree on every rank. Fills, on every
 * rank, mean (d), components (k x d, row-major: row c is v_c, unit norm, by decreasing variance) and
 * explained (k: λ_c, divisor N − 1).
 * Returns TB_ERR_ARG for bad sizes (d < 1, k outside [1, d], fewer than 2 rows in all, or k > N − 1:
 * N centred rows span at most N − 1 directions), TB_ERR_SHAPE when ranks disagree on d or k,
 * TB_ERR_NUMERIC for a NaN or infinity in X or an eigensolver that did not converge, TB_ERR_MPI when
 * a collective fails; as for ridge, every rank returns the same code. */
int tb_pca_fit(MPI_Comm comm, const double *X, long n_local, int d, int k, double *mean, double *components,
               double *explained);

/* Serial: out (n x k, row-major) = (X − 1 meanᵀ) componentsᵀ, the coordinates of the n rows of X
 * (n x d) along the k components of a fit. n may be 0; TB_ERR_ARG for d < 1, k outside [1, d] or
 * n < 0. */
int tb_pca_project(const double *mean, const double *components, int k, int d, const double *X, long n,
                   double *out);

#endif
