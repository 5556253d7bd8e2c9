/*
 * linalg.h: the public face of src/linalg: a distributed ridge least-squares fit with ScaLAPACK, and
 * the linear probe of the unlearning suite built on it (unlearning.md, "Relearning attack and probe").
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

#endif
