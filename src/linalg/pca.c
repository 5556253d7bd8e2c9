/*
 * pca.c: the distributed PCA with ScaLAPACK (the contract is in linalg.h).
 *
 * The centred rows are moved into Xᵀ (d x N) on the square grid (blacs.c says how), the Gram matrix
 * G = XᵀX is one pdsyrk, and pdsyevd decomposes G whole: ascending eigenvalues, eigenvectors as the
 * columns of Z. The top k are Z's last k columns, so only those are copied to every rank.
 */
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "linalg/blacs.h"
#include "linalg/linalg.h"

static const int ONE = 1;
static const char *WHO = "PCA fit";

/* ------------------------------------------------------------------------------------------------
 * arguments, agreed by every rank */

/* The index of the first non-finite entry of a[0, n), or -1. */
static long first_non_finite(const double *a, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i])) return (long)i;
    return -1;
}

/* As in ridge.c, every rank sees the same row counts and ranges, so all take the same branch. The
 * scan for NaN and infinity rides along: ScaLAPACK would turn one into garbage on every rank. */
static int check_args(MPI_Comm comm, linalg_rows *rows, const double *X, long n_local, int d, int k) {
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    long bad = n_local > 0 && d >= 1 ? first_non_finite(X, (size_t)n_local * (size_t)d) : -1;
    /* the least rank holding a bad entry, or size when none does */
    const double values[3] = {d, k, bad >= 0 ? rank : size};
    double lo[3], hi[3];
    TB_CHECK(linalg_agree_rows(comm, WHO, n_local, values, 3, lo, hi, rows));
    if (lo[0] != hi[0] || lo[1] != hi[1])
        return TB_ERROR(TB_ERR_SHAPE, "every rank must pass the same row width d and component count k",
                        "PCA fit: ranks pass d from %.0f to %.0f and k from %.0f to %.0f", lo[0], hi[0], lo[1],
                        hi[1]);
    if (d < 1 || k < 1 || k > d)
        return TB_ERROR(TB_ERR_ARG, "d is the width of X's rows (at least 1); ask for 1 to d components",
                        "PCA fit: k = %d components of d = %d features", k, d);
    long n = rows->n_total;
    if (n < 2)
        return TB_ERROR(TB_ERR_ARG, "a covariance needs at least 2 rows over all ranks",
                        "PCA fit: %ld row%s in all", n, n == 1 ? "" : "s");
    if (k > n - 1)
        return TB_ERROR(TB_ERR_ARG, "N centred rows span at most N - 1 directions: ask for fewer components",
                        "PCA fit: k = %d components of %ld rows", k, n);
    if (n > INT_MAX || (long)rows->size * rows->n_max > INT_MAX || (long)d * d > INT_MAX)
        return TB_ERROR(TB_ERR_ARG, "fit on fewer rows or spread them more evenly over the ranks",
                        "PCA fit: %ld rows (at most %ld on a rank over %d ranks) with d = %d exceed the 32-bit "
                        "sizes of ScaLAPACK and MPI", n, rows->n_max, rows->size, d);
    const char *hint_finite = "the rows hold a NaN or an infinity: check the model that produced them";
    if (lo[2] == rank)
        return TB_ERROR(TB_ERR_NUMERIC, hint_finite, "PCA fit: rank %d row %ld column %ld is %g", rank, bad / d,
                        bad % d, X[bad]);
    if (lo[2] < size)
        return TB_ERROR(TB_ERR_NUMERIC, hint_finite, "PCA fit: rank %.0f holds a non-finite entry", lo[2]);
    return TB_OK;
}

/* ------------------------------------------------------------------------------------------------
 * the fit */

/* The workspace pdsyevd needs. Its own query leaves out part of what its last step, the PDORMTR
 * that turns the tridiagonal eigenvectors into G's, needs when the blocks are large next to the
 * local part (one rank, or d up to a few blocks): PDORMTR then only prints a message, returns, and
 * pdsyevd reports success with the tridiagonal eigenvectors. PDORMTR works in the workspace after
 * pdsyevd's 2d entries of τ and off-diagonal, and needs max(nb(nb − 1)/2, (rows + cols)·nb) + nb²
 * for Z's local rows x cols. */
static int eigen_workspace(const linalg_matrix *Z, int query) {
    long nb = Z->nb, local = (long)(Z->rows + Z->cols) * nb, triangle = nb * (nb - 1) / 2;
    long need = 2L * Z->m + (local > triangle ? local : triangle) + nb * nb;
    TB_ASSERT(need <= INT_MAX); /* d <= 46340 and nb <= 64 */
    return query > need ? query : (int)need;
}

/* All eigenpairs of the symmetric G (upper triangle; destroyed): ascending w (d), eigenvectors as
 * the columns of Z. Returns pdsyevd's info, which is global. */
static int eigen_decompose(linalg_matrix *G, linalg_matrix *Z, double *w) {
    int d = G->m, info, lwork = -1, liwork = 1, iquery;
    double query;
    pdsyevd_("V", "U", &d, G->a, &ONE, &ONE, G->desc, w, Z->a, &ONE, &ONE, Z->desc, &query, &lwork, &iquery,
             &liwork, &info, 1, 1);
    TB_ASSERT(info == 0);
    lwork = eigen_workspace(Z, (int)query);
    liwork = iquery;
    double *work = tb_malloc(sizeof(double) * (size_t)lwork);
    int *iwork = tb_malloc(sizeof(int) * (size_t)liwork);
    pdsyevd_("V", "U", &d, G->a, &ONE, &ONE, G->desc, w, Z->a, &ONE, &ONE, Z->desc, work, &lwork, iwork, &liwork,
             &info, 1, 1);
    TB_ASSERT(info >= 0); /* a negative info is an argument this file got wrong */
    tb_free(work);
    tb_free(iwork);
    return info;
}

/* v (d) times ±1 so that its entry of largest magnitude, the first on a tie, is positive. */
static void fix_sign(double *v, int d) {
    int at = 0;
    for (int j = 1; j < d; j++)
        if (fabs(v[j]) > fabs(v[at])) at = j;
    if (v[at] < 0)
        for (int j = 0; j < d; j++) v[j] = -v[j];
}

/* The k eigenpairs of largest eigenvalue of G = XᵀX, X the centred rows: Z's last k columns, as
 * rows from the largest down, and the eigenvalues over N − 1. */
static int top_eigenpairs(MPI_Comm comm, const double *xc, int d, int k, const linalg_rows *rows,
                          double *components, double *explained) {
    int N = (int)rows->n_total;
    linalg_grids gs;
    linalg_grids_open(&gs, comm);
    int nb = linalg_block_size(d, &gs.square);
    linalg_matrix Xt, G, Z;
    linalg_matrix_create(&Xt, &gs.square, d, N, nb);
    linalg_distribute_rows(&gs, xc, d, rows, &Xt);
    linalg_matrix_create(&G, &gs.square, d, d, nb);
    const double one = 1, zero = 0;
    pdsyrk_("U", "N", &d, &N, &one, Xt.a, &ONE, &ONE, Xt.desc, &zero, G.a, &ONE, &ONE, G.desc);
    linalg_matrix_free(&Xt);

    linalg_matrix_create(&Z, &gs.square, d, d, nb);
    double *w = tb_malloc(sizeof(double) * (size_t)d);
    int info = eigen_decompose(&G, &Z, w), rc = TB_OK;
    if (info > 0) {
        rc = TB_ERROR(TB_ERR_NUMERIC,
                      "finite rows should never cause this: keep the rows and report them with the ScaLAPACK version",
                      "PCA fit: pdsyevd did not converge on the %d x %d covariance (info %d)", d, d, info);
    } else {
        double *top = tb_malloc(sizeof(double) * (size_t)d * (size_t)k); /* d x k, row-major */
        rc = linalg_replicate_columns(&Z, d - k, k, comm, WHO, top);
        /* every rank computes w; rank 0's copy makes it identical */
        if (rc == TB_OK)
            rc = linalg_mpi_check(MPI_Bcast(w + d - k, k, MPI_DOUBLE, 0, comm), WHO, "broadcasting eigenvalues");
        if (rc == TB_OK)
            for (int c = 0; c < k; c++) {
                int col = k - 1 - c; /* ascending order: the largest is the last */
                double *v = components + (size_t)c * (size_t)d;
                for (int j = 0; j < d; j++) v[j] = top[(size_t)j * (size_t)k + (size_t)col];
                fix_sign(v, d);
                /* G is semi-definite: a negative eigenvalue is rounding, at most about ε·λ_1 */
                explained[c] = fmax(w[d - 1 - c], 0.0) / (double)(N - 1);
            }
        tb_free(top);
    }
    tb_free(w);
    linalg_matrix_free(&G);
    linalg_matrix_free(&Z);
    linalg_grids_close(&gs);
    return rc;
}

int tb_pca_fit(MPI_Comm comm, const double *X, long n_local, int d, int k, double *mean, double *components,
               double *explained) {
    TB_ASSERT(n_local <= 0 || X);
    TB_ASSERT(mean && components && explained);
    linalg_rows rows;
    int rc = check_args(comm, &rows, X, n_local, d, k);
    if (rc == TB_OK) {
        memset(mean, 0, sizeof(double) * (size_t)d);
        linalg_add_column_sums(X, n_local, d, mean);
        rc = linalg_sum_identical(comm, WHO, mean, d);
    }
    if (rc == TB_OK) {
        for (int j = 0; j < d; j++) mean[j] /= (double)rows.n_total;
        double *xc = linalg_centred_copy(X, n_local, d, mean);
        rc = top_eigenpairs(comm, xc, d, k, &rows, components, explained);
        tb_free(xc);
    }
    linalg_rows_free(&rows);
    return rc;
}

/* ------------------------------------------------------------------------------------------------
 * projection */

int tb_pca_project(const double *mean, const double *components, int k, int d, const double *X, long n,
                   double *out) {
    if (d < 1 || k < 1 || k > d || n < 0)
        return TB_ERROR(TB_ERR_ARG, "pass the d, k of the fit (1 <= k <= d) and n >= 0 rows",
                        "PCA projection: d = %d, k = %d, n = %ld", d, k, n);
    /* rows are centred in slabs before one GEMM each: subtracting components·mean afterwards would
     * cancel catastrophically when the mean is large next to the spread, as with hidden states */
    enum { SLAB = 512 };
    double *xc = tb_malloc(sizeof(double) * SLAB * (size_t)d);
    for (long first = 0; first < n; first += SLAB) {
        int m = n - first < SLAB ? (int)(n - first) : SLAB;
        for (int i = 0; i < m; i++) {
            const double *x = X + (size_t)(first + i) * (size_t)d;
            double *c = xc + (size_t)i * (size_t)d;
            for (int j = 0; j < d; j++) c[j] = x[j] - mean[j];
        }
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, k, d, 1.0, xc, d, components, d, 0.0,
                    out + (size_t)first * (size_t)k, k);
    }
    tb_free(xc);
    return TB_OK;
}
