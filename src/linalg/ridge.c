/*
 * ridge.c: the distributed ridge fit with ScaLAPACK (the contract is in linalg.h).
 *
 * The rows of X and Y are moved into Xᵀ (d x N) and Yᵀ (k x N) on the square grid (blacs.c says
 * how), which makes XᵀX = Xᵀ(Xᵀ)ᵀ a pdsyrk with trans 'N' and XᵀY = Xᵀ(Yᵀ)ᵀ a pdgemm 'N','T'.
 */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "linalg/blacs.h"
#include "linalg/linalg.h"

static const int ONE = 1;
static const char *WHO = "ridge fit";

/* ------------------------------------------------------------------------------------------------
 * arguments, agreed by every rank */

/* Every rank sees the same row counts and the same ranges of d, k and lambda_scale over the ranks,
 * so all of them take the same branch below: the same code, the same message, and no rank waiting
 * in a collective that another has skipped. */
static int check_args(MPI_Comm comm, linalg_rows *rows, long n_local, int d, int k, double lambda_scale) {
    int lambda_ok = isfinite(lambda_scale) && lambda_scale >= 0;
    const double values[4] = {d, k, !lambda_ok, lambda_ok ? lambda_scale : 0};
    double lo[4], hi[4];
    TB_CHECK(linalg_agree_rows(comm, WHO, n_local, values, 4, lo, hi, rows));
    if (lo[0] != hi[0] || lo[1] != hi[1])
        return TB_ERROR(TB_ERR_SHAPE, "every rank must pass the same feature width d and target width k",
                        "ridge fit: ranks pass d from %.0f to %.0f and k from %.0f to %.0f", lo[0], hi[0], lo[1],
                        hi[1]);
    if (d < 1 || k < 1)
        return TB_ERROR(TB_ERR_ARG, "d is the number of columns of X and k of Y; both must be at least 1",
                        "ridge fit: d = %d and k = %d", d, k);
    const char *hint_lambda = "lambda_scale must be a finite number >= 0 (1e-3 is the probe's rule)";
    if (!lambda_ok)
        return TB_ERROR(TB_ERR_ARG, hint_lambda, "ridge fit: lambda_scale = %g", lambda_scale);
    if (hi[2] != 0)
        return TB_ERROR(TB_ERR_ARG, hint_lambda, "ridge fit: another rank passes a negative or non-finite lambda_scale");
    if (lo[3] != hi[3])
        return TB_ERROR(TB_ERR_ARG, "every rank must pass the same lambda_scale",
                        "ridge fit: ranks pass lambda_scale from %g to %g", lo[3], hi[3]);
    if (rows->n_total == 0)
        return TB_ERROR(TB_ERR_ARG, "give at least one rank some rows", "ridge fit: no rank holds a row");
    if (rows->n_total > INT_MAX || (long)rows->size * rows->n_max > INT_MAX || (long)d * k > INT_MAX)
        return TB_ERROR(TB_ERR_ARG, "fit on fewer rows or spread them more evenly over the ranks",
                        "ridge fit: %ld rows (at most %ld on a rank over %d ranks) with d = %d, k = %d exceed "
                        "the 32-bit sizes of ScaLAPACK and MPI", rows->n_total, rows->n_max, rows->size, d, k);
    return TB_OK;
}

/* ------------------------------------------------------------------------------------------------
 * the fit */

/* W = (XᵀX + λI)⁻¹XᵀY, λ = lambda_scale · tr(XᵀX)/d, on arguments check_args accepted. */
static int solve(MPI_Comm comm, const double *X, const double *Y, long n_local, int d, int k, double lambda_scale,
                 const linalg_rows *rows, double *W) {
    /* tr(XᵀX) is the sum of squares of X: no need to wait for the Gram matrix */
    double trace = 0;
    for (size_t i = 0; i < (size_t)n_local * (size_t)d; i++) trace += X[i] * X[i];
    TB_CHECK(linalg_sum_identical(comm, WHO, &trace, 1));
    double lambda = lambda_scale * trace / d;

    int N = (int)rows->n_total;
    linalg_grids gs;
    linalg_grids_open(&gs, comm);
    int nb = linalg_block_size(d, &gs.square);
    linalg_matrix Xt, Yt, G, C;
    linalg_matrix_create(&Xt, &gs.square, d, N, nb);
    linalg_matrix_create(&Yt, &gs.square, k, N, nb);
    linalg_matrix_create(&G, &gs.square, d, d, nb);
    linalg_matrix_create(&C, &gs.square, d, k, nb);
    linalg_distribute_rows(&gs, X, d, rows, &Xt);
    linalg_distribute_rows(&gs, Y, k, rows, &Yt);

    /* G = λI + XᵀX (upper triangle, all pdposv reads), C = XᵀY */
    const double one = 1, zero = 0;
    linalg_add_to_diagonal(&G, lambda);
    pdsyrk_("U", "N", &d, &N, &one, Xt.a, &ONE, &ONE, Xt.desc, &one, G.a, &ONE, &ONE, G.desc);
    pdgemm_("N", "T", &d, &k, &N, &one, Xt.a, &ONE, &ONE, Xt.desc, Yt.a, &ONE, &ONE, Yt.desc, &zero, C.a, &ONE,
            &ONE, C.desc);
    int info;
    pdposv_("U", &d, &k, G.a, &ONE, &ONE, G.desc, C.a, &ONE, &ONE, C.desc, &info, 1);
    TB_ASSERT(info >= 0); /* a negative info is an argument this file got wrong */

    /* pdposv's info is global, so every rank takes the same branch */
    int rc = TB_OK;
    if (info > 0)
        rc = TB_ERROR(TB_ERR_NUMERIC,
                      "with lambda_scale 0 a feature that is zero (constant, with an intercept) or a linear "
                      "combination of others makes XᵀX singular: raise lambda_scale or drop it; with "
                      "lambda_scale > 0 it means no feature varies at all",
                      "ridge fit: X^T X + lambda I (d = %d, lambda = %g) is not positive definite: its leading "
                      "minor of order %d is not", d, lambda, info);
    else
        rc = linalg_replicate_columns(&C, 0, k, comm, WHO, W);

    linalg_matrix_free(&Xt);
    linalg_matrix_free(&Yt);
    linalg_matrix_free(&G);
    linalg_matrix_free(&C);
    linalg_grids_close(&gs);
    return rc;
}

/* Means over the rows of every rank: mean[0, d) of X's columns, mean[d, d + k) of Y's. */
static int column_means(MPI_Comm comm, const double *X, const double *Y, long n_local, int d, int k, long n_total,
                        double *mean) {
    memset(mean, 0, sizeof(double) * (size_t)(d + k));
    linalg_add_column_sums(X, n_local, d, mean);
    linalg_add_column_sums(Y, n_local, k, mean + d);
    TB_CHECK(linalg_sum_identical(comm, WHO, mean, d + k));
    for (int j = 0; j < d + k; j++) mean[j] /= (double)n_total;
    return TB_OK;
}

/* Centres X and Y, solves the centred problem, and b = ȳ − Wᵀx̄. */
static int solve_with_intercept(MPI_Comm comm, const double *X, const double *Y, long n_local, int d, int k,
                                double lambda_scale, const linalg_rows *rows, double *W, double *b) {
    double *mean = tb_malloc(sizeof(double) * (size_t)(d + k));
    int rc = column_means(comm, X, Y, n_local, d, k, rows->n_total, mean);
    if (rc == TB_OK) {
        double *xc = linalg_centred_copy(X, n_local, d, mean), *yc = linalg_centred_copy(Y, n_local, k, mean + d);
        rc = solve(comm, xc, yc, n_local, d, k, lambda_scale, rows, W);
        tb_free(xc);
        tb_free(yc);
    }
    if (rc == TB_OK)
        for (int c = 0; c < k; c++) {
            double s = mean[d + c];
            for (int j = 0; j < d; j++) s -= mean[j] * W[(size_t)j * (size_t)k + (size_t)c];
            b[c] = s;
        }
    tb_free(mean);
    return rc;
}

int tb_ridge_fit(MPI_Comm comm, const double *X, const double *Y, long n_local, int d, int k, double lambda_scale,
                 double *W, double *b) {
    linalg_rows rows;
    int rc = check_args(comm, &rows, n_local, d, k, lambda_scale);
    if (rc == TB_OK) {
        TB_ASSERT(n_local == 0 || (X && Y));
        rc = b ? solve_with_intercept(comm, X, Y, n_local, d, k, lambda_scale, &rows, W, b)
               : solve(comm, X, Y, n_local, d, k, lambda_scale, &rows, W);
    }
    linalg_rows_free(&rows);
    return rc;
}
