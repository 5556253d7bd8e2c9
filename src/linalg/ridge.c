/*
 * ridge.c: the distributed ridge fit with ScaLAPACK (the contract is in linalg.h).
 *
 * Data movement. A rank's rows V, row-major n_p x w, are in column-major terms the w x n_p matrix
 * Vᵀ. On a 1 x P BLACS grid with column blocks of n_max = max_p n_p, rank p's block of the
 * w x (P·n_max) matrix [V_0ᵀ pad V_1ᵀ pad ...] is exactly the caller's array followed by
 * n_max − n_p padding columns that exist only as indices. ScaLAPACK descriptors need one block size,
 * and this is how uneven row counts get one without copying or padding any memory: a pdgemr2d per
 * non-empty rank moves its n_p real columns into the exact w x N matrix Vᵀ, block-cyclic on the 2-D
 * grid. Keeping Xᵀ (d x N) rather than X makes XᵀX = Xᵀ(Xᵀ)ᵀ a pdsyrk with trans 'N' and
 * XᵀY = Xᵀ(Yᵀ)ᵀ a pdgemm 'N','T'.
 */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "linalg/linalg.h"

/* ---- ScaLAPACK and BLACS have no C header: the Fortran routines take every argument by pointer ---- */

int Csys2blacs_handle(MPI_Comm comm);
void Cfree_blacs_system_handle(int handle);
void Cblacs_gridinit(int *ctx, const char *order, int nprow, int npcol);
void Cblacs_gridinfo(int ctx, int *nprow, int *npcol, int *myrow, int *mycol);
void Cblacs_gridexit(int ctx);
int numroc_(const int *n, const int *nb, const int *iproc, const int *isrcproc, const int *nprocs);
void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb, const int *irsrc,
               const int *icsrc, const int *ctx, const int *lld, int *info);
void pdgemr2d_(const int *m, const int *n, const double *a, const int *ia, const int *ja, const int *desca,
               double *b, const int *ib, const int *jb, const int *descb, const int *ctx);
/* the PBLAS are written in C, so their character arguments carry no hidden length */
void pdsyrk_(const char *uplo, const char *trans, const int *n, const int *k, const double *alpha,
             const double *a, const int *ia, const int *ja, const int *desca, const double *beta, double *c,
             const int *ic, const int *jc, const int *descc);
void pdgemm_(const char *transa, const char *transb, const int *m, const int *n, const int *k,
             const double *alpha, const double *a, const int *ia, const int *ja, const int *desca,
             const double *b, const int *ib, const int *jb, const int *descb, const double *beta, double *c,
             const int *ic, const int *jc, const int *descc);
/* pdposv is Fortran: gfortran passes each character argument's length after the others */
void pdposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *ia, const int *ja,
             const int *desca, double *b, const int *ib, const int *jb, const int *descb, int *info,
             size_t uplo_len);

static const int ZERO = 0, ONE = 1;

#define HINT_MPI "a rank of the communicator may have failed"

static int mpi_check(int rc, const char *what) {
    if (rc == MPI_SUCCESS) return TB_OK;
    return TB_ERROR(TB_ERR_MPI, HINT_MPI, "ridge fit: %s failed (MPI error %d)", what, rc);
}

/* ------------------------------------------------------------------------------------------------
 * arguments, agreed by every rank */

/* Every rank learns every rank's row count and the range of d, k and lambda_scale over the ranks,
 * so all of them take the same branch below: the same code, the same message, and no rank waiting
 * in a collective that another has skipped. */
static int check_args(MPI_Comm comm, long *counts, long n_local, int d, int k, double lambda_scale) {
    int size;
    MPI_Comm_size(comm, &size);
    TB_CHECK(mpi_check(MPI_Allgather(&n_local, 1, MPI_LONG, counts, 1, MPI_LONG, comm), "gathering row counts"));
    int lambda_ok = isfinite(lambda_scale) && lambda_scale >= 0;
    /* maxima of v and -v give both ends of each range in one reduction */
    double range[7] = {d, -(double)d, k, -(double)k, !lambda_ok, lambda_ok ? lambda_scale : 0,
                       lambda_ok ? -lambda_scale : 0};
    TB_CHECK(mpi_check(MPI_Allreduce(MPI_IN_PLACE, range, 7, MPI_DOUBLE, MPI_MAX, comm), "agreeing on sizes"));
    long n_total = 0, n_max = 0;
    for (int p = 0; p < size; p++) {
        if (counts[p] < 0)
            return TB_ERROR(TB_ERR_ARG, "pass the number of rows the rank holds (0 or more)",
                            "ridge fit: rank %d passes n_local = %ld", p, counts[p]);
        n_total += counts[p];
        if (counts[p] > n_max) n_max = counts[p];
    }
    if (range[0] != -range[1] || range[2] != -range[3])
        return TB_ERROR(TB_ERR_SHAPE, "every rank must pass the same feature width d and target width k",
                        "ridge fit: ranks pass d from %.0f to %.0f and k from %.0f to %.0f", -range[1], range[0],
                        -range[3], range[2]);
    if (d < 1 || k < 1)
        return TB_ERROR(TB_ERR_ARG, "d is the number of columns of X and k of Y; both must be at least 1",
                        "ridge fit: d = %d and k = %d", d, k);
    const char *hint_lambda = "lambda_scale must be a finite number >= 0 (1e-3 is the probe's rule)";
    if (!lambda_ok)
        return TB_ERROR(TB_ERR_ARG, hint_lambda, "ridge fit: lambda_scale = %g", lambda_scale);
    if (range[4] != 0)
        return TB_ERROR(TB_ERR_ARG, hint_lambda, "ridge fit: another rank passes a negative or non-finite lambda_scale");
    if (range[5] != -range[6])
        return TB_ERROR(TB_ERR_ARG, "every rank must pass the same lambda_scale",
                        "ridge fit: ranks pass lambda_scale from %g to %g", -range[6], range[5]);
    if (n_total == 0)
        return TB_ERROR(TB_ERR_ARG, "give at least one rank some rows", "ridge fit: no rank holds a row");
    if (n_total > INT_MAX || (long)size * n_max > INT_MAX || (long)d * k > INT_MAX)
        return TB_ERROR(TB_ERR_ARG, "fit on fewer rows or spread them more evenly over the ranks",
                        "ridge fit: %ld rows (at most %ld on a rank over %d ranks) with d = %d, k = %d exceed "
                        "the 32-bit sizes of ScaLAPACK and MPI", n_total, n_max, size, d, k);
    return TB_OK;
}

/* Sums n doubles over comm into every rank's buf. Rank 0 sums and broadcasts because MPI does not
 * promise every rank the same rounding from an all-reduce, and λ, the means and the intercept must
 * be bit-identical on every rank. */
static int sum_identical(MPI_Comm comm, double *buf, int n) {
    int rank;
    MPI_Comm_rank(comm, &rank);
    TB_CHECK(mpi_check(MPI_Reduce(rank == 0 ? MPI_IN_PLACE : buf, buf, n, MPI_DOUBLE, MPI_SUM, 0, comm), "sum"));
    TB_CHECK(mpi_check(MPI_Bcast(buf, n, MPI_DOUBLE, 0, comm), "broadcasting a sum"));
    return TB_OK;
}

/* ------------------------------------------------------------------------------------------------
 * BLACS grids and block-cyclic matrices */

typedef struct {
    int ctx; /* the BLACS grid */
    int nprow, npcol, myrow, mycol;
} grid;

/* A grid over the communicator of BLACS system handle `handle`. Every grid of one communicator shares
 * that handle (BLACS hands out one per communicator), so the caller frees it once, after the last
 * grid_close: freeing it per grid warns about a handle that no longer exists. */
static void grid_open(grid *g, int handle, int nprow, int npcol) {
    g->ctx = handle;
    Cblacs_gridinit(&g->ctx, "Row", nprow, npcol);
    Cblacs_gridinfo(g->ctx, &g->nprow, &g->npcol, &g->myrow, &g->mycol);
    TB_ASSERT(g->nprow == nprow && g->npcol == npcol && g->myrow >= 0); /* every rank is in the grid */
}

static void grid_close(grid *g) { Cblacs_gridexit(g->ctx); }

/* As square as the rank count allows, every rank in it, nprow <= npcol. */
static void square_shape(int size, int *nprow, int *npcol) {
    *nprow = 1;
    for (int r = 1; r * r <= size; r++)
        if (size % r == 0) *nprow = r;
    *npcol = size / *nprow;
}

/* Blocks large enough for BLAS-3 efficiency but small enough that even a narrow model's d is dealt
 * over every process row and column. */
static int block_size(int d, int nprow, int npcol) {
    int most = nprow > npcol ? nprow : npcol;
    int nb = (d + most - 1) / most;
    return nb < 64 ? nb : 64;
}

typedef struct {
    int desc[9];
    int rows, cols, lld; /* this rank's part */
    double *a;           /* column-major rows x cols, leading dimension lld */
} dmatrix;

/* An m x n zero matrix in nb x nb blocks dealt cyclically over g from process (0, 0). */
static void dmatrix_create(dmatrix *A, const grid *g, int m, int n, int nb) {
    A->rows = numroc_(&m, &nb, &g->myrow, &ZERO, &g->nprow);
    A->cols = numroc_(&n, &nb, &g->mycol, &ZERO, &g->npcol);
    A->lld = A->rows > 1 ? A->rows : 1;
    int info;
    descinit_(A->desc, &m, &n, &nb, &nb, &ZERO, &ZERO, &g->ctx, &A->lld, &info);
    TB_ASSERT(info == 0);
    A->a = tb_malloc(sizeof(double) * (size_t)A->lld * (size_t)A->cols);
}

/* The global index of local row or column l of process p of nprocs. */
static int global_index(int l, int nb, int p, int nprocs) { return (l / nb) * nprocs * nb + p * nb + l % nb; }

/* Moves every rank's rows of V (row-major counts[p] x w on rank p, rows offsets[p]... of the whole)
 * into out = Vᵀ, w x N on the 2-D grid, as described at the top of the file. */
static void distribute_rows(const grid *row_grid, const double *V, int w, const long *counts, const long *offsets,
                            int n_max, dmatrix *out) {
    int desc[9], info, n_virtual = row_grid->npcol * n_max;
    descinit_(desc, &w, &n_virtual, &w, &n_max, &ZERO, &ZERO, &row_grid->ctx, &w, &info);
    TB_ASSERT(info == 0);
    /* a rank without rows may have no array; pdgemr2d reads only the sending rank's */
    double none = 0;
    const double *local = V ? V : &none;
    for (int p = 0; p < row_grid->npcol; p++) {
        if (counts[p] == 0) continue;
        int n = (int)counts[p], ja = p * n_max + 1, jb = (int)offsets[p] + 1;
        pdgemr2d_(&w, &n, local, &ONE, &ja, desc, out->a, &ONE, &jb, out->desc, &row_grid->ctx);
    }
}

/* A += value · I for the square matrix A. */
static void add_to_diagonal(dmatrix *A, const grid *g, int nb, double value) {
    for (int lj = 0; lj < A->cols; lj++) {
        int gj = global_index(lj, nb, g->mycol, g->npcol);
        if ((gj / nb) % g->nprow != g->myrow) continue; /* row gj lives on another process row */
        int li = gj / (nb * g->nprow) * nb + gj % nb;
        A->a[li + (size_t)lj * A->lld] += value;
    }
}

/* Copies the distributed d x k matrix C into W (row-major) on every rank. Each entry is summed with
 * zeros from the ranks that do not own it, so the sum is exact and identical everywhere. */
static int replicate(const dmatrix *C, const grid *g, int nb, int d, int k, MPI_Comm comm, double *W) {
    memset(W, 0, sizeof(double) * (size_t)d * (size_t)k);
    for (int lj = 0; lj < C->cols; lj++) {
        int gj = global_index(lj, nb, g->mycol, g->npcol);
        for (int li = 0; li < C->rows; li++)
            W[(size_t)global_index(li, nb, g->myrow, g->nprow) * (size_t)k + (size_t)gj] = C->a[li + (size_t)lj * C->lld];
    }
    return mpi_check(MPI_Allreduce(MPI_IN_PLACE, W, d * k, MPI_DOUBLE, MPI_SUM, comm), "replicating W");
}

/* ------------------------------------------------------------------------------------------------
 * the fit */

/* W = (XᵀX + λI)⁻¹XᵀY, λ = lambda_scale · tr(XᵀX)/d, on arguments check_args accepted. */
static int solve(MPI_Comm comm, const double *X, const double *Y, long n_local, int d, int k, double lambda_scale,
                 const long *counts, double *W) {
    int size;
    MPI_Comm_size(comm, &size);
    /* tr(XᵀX) is the sum of squares of X: no need to wait for the Gram matrix */
    double trace = 0;
    for (size_t i = 0; i < (size_t)n_local * (size_t)d; i++) trace += X[i] * X[i];
    TB_CHECK(sum_identical(comm, &trace, 1));
    double lambda = lambda_scale * trace / d;

    long *offsets = tb_malloc(sizeof(long) * (size_t)size);
    long n_total = 0, n_max = 0;
    for (int p = 0; p < size; p++) {
        offsets[p] = n_total;
        n_total += counts[p];
        if (counts[p] > n_max) n_max = counts[p];
    }
    int N = (int)n_total, nprow, npcol;
    square_shape(size, &nprow, &npcol);
    grid rows, g;
    int handle = Csys2blacs_handle(comm);
    grid_open(&rows, handle, 1, size);
    grid_open(&g, handle, nprow, npcol);
    int rank;
    MPI_Comm_rank(comm, &rank);
    TB_ASSERT(rows.mycol == rank); /* BLACS numbers a "Row" grid's processes in the communicator's order */

    int nb = block_size(d, nprow, npcol);
    dmatrix Xt, Yt, G, C;
    dmatrix_create(&Xt, &g, d, N, nb);
    dmatrix_create(&Yt, &g, k, N, nb);
    dmatrix_create(&G, &g, d, d, nb);
    dmatrix_create(&C, &g, d, k, nb);
    distribute_rows(&rows, X, d, counts, offsets, (int)n_max, &Xt);
    distribute_rows(&rows, Y, k, counts, offsets, (int)n_max, &Yt);

    /* G = λI + XᵀX (upper triangle, all pdposv reads), C = XᵀY */
    const double one = 1, zero = 0;
    add_to_diagonal(&G, &g, nb, lambda);
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
        rc = replicate(&C, &g, nb, d, k, comm, W);

    tb_free(Xt.a);
    tb_free(Yt.a);
    tb_free(G.a);
    tb_free(C.a);
    grid_close(&g);
    grid_close(&rows);
    Cfree_blacs_system_handle(handle);
    tb_free(offsets);
    return rc;
}

/* Means over the rows of every rank: mean[0, d) of X's columns, mean[d, d + k) of Y's. */
static int column_means(MPI_Comm comm, const double *X, const double *Y, long n_local, int d, int k, long n_total,
                        double *mean) {
    memset(mean, 0, sizeof(double) * (size_t)(d + k));
    for (long i = 0; i < n_local; i++) {
        for (int j = 0; j < d; j++) mean[j] += X[(size_t)i * (size_t)d + (size_t)j];
        for (int j = 0; j < k; j++) mean[d + j] += Y[(size_t)i * (size_t)k + (size_t)j];
    }
    TB_CHECK(sum_identical(comm, mean, d + k));
    for (int j = 0; j < d + k; j++) mean[j] /= (double)n_total;
    return TB_OK;
}

static double *centred_copy(const double *V, long n, int w, const double *mean) {
    double *c = tb_malloc(sizeof(double) * (size_t)n * (size_t)w);
    for (long i = 0; i < n; i++)
        for (int j = 0; j < w; j++) c[(size_t)i * (size_t)w + (size_t)j] = V[(size_t)i * (size_t)w + (size_t)j] - mean[j];
    return c;
}

/* Centres X and Y, solves the centred problem, and b = ȳ − Wᵀx̄. */
static int solve_with_intercept(MPI_Comm comm, const double *X, const double *Y, long n_local, int d, int k,
                                double lambda_scale, const long *counts, double *W, double *b) {
    int size;
    MPI_Comm_size(comm, &size);
    long n_total = 0;
    for (int p = 0; p < size; p++) n_total += counts[p];
    double *mean = tb_malloc(sizeof(double) * (size_t)(d + k));
    int rc = column_means(comm, X, Y, n_local, d, k, n_total, mean);
    if (rc == TB_OK) {
        double *xc = centred_copy(X, n_local, d, mean), *yc = centred_copy(Y, n_local, k, mean + d);
        rc = solve(comm, xc, yc, n_local, d, k, lambda_scale, counts, W);
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
    int size;
    MPI_Comm_size(comm, &size);
    long *counts = tb_malloc(sizeof(long) * (size_t)size);
    int rc = check_args(comm, counts, n_local, d, k, lambda_scale);
    if (rc == TB_OK) {
        TB_ASSERT(n_local == 0 || (X && Y));
        rc = b ? solve_with_intercept(comm, X, Y, n_local, d, k, lambda_scale, counts, W, b)
               : solve(comm, X, Y, n_local, d, k, lambda_scale, counts, W);
    }
    tb_free(counts);
    return rc;
}
