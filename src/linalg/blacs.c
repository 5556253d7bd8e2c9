/*
 * blacs.c: the machinery the distributed fits share (see blacs.h).
 *
 * Data movement. A rank's rows V, row-major n_p x w, are in column-major terms the w x n_p matrix
 * Vᵀ. On the 1 x P grid with column blocks of n_max = max_p n_p, rank p's block of the
 * w x (P·n_max) matrix [V_0ᵀ pad V_1ᵀ pad ...] is exactly the caller's array followed by
 * n_max − n_p padding columns that exist only as indices. ScaLAPACK descriptors need one block size,
 * and this is how uneven row counts get one without copying or padding any memory: a pdgemr2d per
 * non-empty rank moves its n_p real columns into the exact w x N matrix Vᵀ, block-cyclic on the 2-D
 * grid. Keeping Vᵀ (w x N) rather than V makes the Gram matrix VᵀV = Vᵀ(Vᵀ)ᵀ a pdsyrk with trans 'N'.
 */
#include <string.h>

#include "linalg/blacs.h"

static const int ZERO = 0, ONE = 1;

int linalg_mpi_check(int rc, const char *who, const char *what) {
    if (rc == MPI_SUCCESS) return TB_OK;
    return TB_ERROR(TB_ERR_MPI, "a rank of the communicator may have failed", "%s: %s failed (MPI error %d)", who,
                    what, rc);
}

/* ------------------------------------------------------------------------------------------------
 * agreed arguments */

int linalg_agree_rows(MPI_Comm comm, const char *who, long n_local, const double *values, int n_values,
                      double *lo, double *hi, linalg_rows *rows) {
    TB_ASSERT(n_values >= 0 && n_values <= LINALG_AGREE_MAX);
    MPI_Comm_size(comm, &rows->size);
    rows->counts = tb_malloc(sizeof(long) * (size_t)rows->size);
    rows->offsets = tb_malloc(sizeof(long) * (size_t)rows->size);
    rows->n_total = rows->n_max = 0;
    TB_CHECK(linalg_mpi_check(MPI_Allgather(&n_local, 1, MPI_LONG, rows->counts, 1, MPI_LONG, comm), who,
                              "gathering row counts"));
    /* maxima of v and -v give both ends of each range in one reduction */
    double range[2 * LINALG_AGREE_MAX];
    for (int i = 0; i < n_values; i++) {
        range[2 * i] = values[i];
        range[2 * i + 1] = -values[i];
    }
    TB_CHECK(linalg_mpi_check(MPI_Allreduce(MPI_IN_PLACE, range, 2 * n_values, MPI_DOUBLE, MPI_MAX, comm), who,
                              "agreeing on sizes"));
    for (int i = 0; i < n_values; i++) {
        hi[i] = range[2 * i];
        lo[i] = -range[2 * i + 1];
    }
    for (int p = 0; p < rows->size; p++) {
        if (rows->counts[p] < 0)
            return TB_ERROR(TB_ERR_ARG, "pass the number of rows the rank holds (0 or more)",
                            "%s: rank %d passes n_local = %ld", who, p, rows->counts[p]);
        rows->offsets[p] = rows->n_total;
        rows->n_total += rows->counts[p];
        if (rows->counts[p] > rows->n_max) rows->n_max = rows->counts[p];
    }
    return TB_OK;
}

void linalg_rows_free(linalg_rows *rows) {
    tb_free(rows->counts);
    tb_free(rows->offsets);
}

/* ------------------------------------------------------------------------------------------------
 * identical sums */

/* Rank 0 sums and broadcasts because MPI does not promise every rank the same rounding from an
 * all-reduce, and what is made from these sums (means, λ, intercepts) must be bit-identical. */
int linalg_sum_identical(MPI_Comm comm, const char *who, double *buf, int n) {
    int rank;
    MPI_Comm_rank(comm, &rank);
    TB_CHECK(linalg_mpi_check(MPI_Reduce(rank == 0 ? MPI_IN_PLACE : buf, buf, n, MPI_DOUBLE, MPI_SUM, 0, comm), who,
                              "sum"));
    TB_CHECK(linalg_mpi_check(MPI_Bcast(buf, n, MPI_DOUBLE, 0, comm), who, "broadcasting a sum"));
    return TB_OK;
}

void linalg_add_column_sums(const double *V, long n, int w, double *sums) {
    for (long i = 0; i < n; i++)
        for (int j = 0; j < w; j++) sums[j] += V[(size_t)i * (size_t)w + (size_t)j];
}

double *linalg_centred_copy(const double *V, long n, int w, const double *mean) {
    double *c = tb_malloc(sizeof(double) * (size_t)n * (size_t)w);
    for (long i = 0; i < n; i++)
        for (int j = 0; j < w; j++) c[(size_t)i * (size_t)w + (size_t)j] = V[(size_t)i * (size_t)w + (size_t)j] - mean[j];
    return c;
}

/* ------------------------------------------------------------------------------------------------
 * BLACS grids */

static void grid_open(linalg_grid *g, int handle, int nprow, int npcol) {
    g->ctx = handle;
    Cblacs_gridinit(&g->ctx, "Row", nprow, npcol);
    Cblacs_gridinfo(g->ctx, &g->nprow, &g->npcol, &g->myrow, &g->mycol);
    TB_ASSERT(g->nprow == nprow && g->npcol == npcol && g->myrow >= 0); /* every rank is in the grid */
}

/* As square as the rank count allows, every rank in it, nprow <= npcol. */
static void square_shape(int size, int *nprow, int *npcol) {
    *nprow = 1;
    for (int r = 1; r * r <= size; r++)
        if (size % r == 0) *nprow = r;
    *npcol = size / *nprow;
}

/* BLACS hands out one system handle per communicator, and every grid of it shares that handle:
 * freeing it per grid would warn about a handle that no longer exists. */
void linalg_grids_open(linalg_grids *gs, MPI_Comm comm) {
    int rank, size, nprow, npcol;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    square_shape(size, &nprow, &npcol);
    gs->handle = Csys2blacs_handle(comm);
    grid_open(&gs->rows, gs->handle, 1, size);
    grid_open(&gs->square, gs->handle, nprow, npcol);
    TB_ASSERT(gs->rows.mycol == rank); /* BLACS numbers a "Row" grid's processes in the communicator's order */
}

void linalg_grids_close(linalg_grids *gs) {
    Cblacs_gridexit(gs->square.ctx);
    Cblacs_gridexit(gs->rows.ctx);
    Cfree_blacs_system_handle(gs->handle);
}

int linalg_block_size(int d, const linalg_grid *g) {
    int most = g->nprow > g->npcol ? g->nprow : g->npcol;
    int nb = (d + most - 1) / most;
    return nb < 64 ? nb : 64;
}

/* ------------------------------------------------------------------------------------------------
 * block-cyclic matrices */

void linalg_matrix_create(linalg_matrix *A, const linalg_grid *g, int m, int n, int nb) {
    A->g = g;
    A->m = m;
    A->n = n;
    A->nb = nb;
    A->rows = numroc_(&m, &nb, &g->myrow, &ZERO, &g->nprow);
    A->cols = numroc_(&n, &nb, &g->mycol, &ZERO, &g->npcol);
    A->lld = A->rows > 1 ? A->rows : 1;
    int info;
    descinit_(A->desc, &m, &n, &nb, &nb, &ZERO, &ZERO, &g->ctx, &A->lld, &info);
    TB_ASSERT(info == 0);
    A->a = tb_malloc(sizeof(double) * (size_t)A->lld * (size_t)A->cols);
}

void linalg_matrix_free(linalg_matrix *A) {
    tb_free(A->a);
    A->a = NULL;
}

/* The global index of local row or column l of process p of nprocs. */
static int global_index(int l, int nb, int p, int nprocs) { return (l / nb) * nprocs * nb + p * nb + l % nb; }

void linalg_distribute_rows(const linalg_grids *gs, const double *V, int w, const linalg_rows *rows,
                            linalg_matrix *out) {
    const linalg_grid *row_grid = &gs->rows;
    int desc[9], info, n_max = (int)rows->n_max, n_virtual = row_grid->npcol * n_max;
    descinit_(desc, &w, &n_virtual, &w, &n_max, &ZERO, &ZERO, &row_grid->ctx, &w, &info);
    TB_ASSERT(info == 0);
    /* a rank without rows may have no array; pdgemr2d reads only the sending rank's */
    double none = 0;
    const double *local = V ? V : &none;
    for (int p = 0; p < row_grid->npcol; p++) {
        if (rows->counts[p] == 0) continue;
        int n = (int)rows->counts[p], ja = p * n_max + 1, jb = (int)rows->offsets[p] + 1;
        pdgemr2d_(&w, &n, local, &ONE, &ja, desc, out->a, &ONE, &jb, out->desc, &row_grid->ctx);
    }
}

void linalg_add_to_diagonal(linalg_matrix *A, double value) {
    const linalg_grid *g = A->g;
    int nb = A->nb;
    for (int lj = 0; lj < A->cols; lj++) {
        int gj = global_index(lj, nb, g->mycol, g->npcol);
        if ((gj / nb) % g->nprow != g->myrow) continue; /* row gj lives on another process row */
        int li = gj / (nb * g->nprow) * nb + gj % nb;
        A->a[li + (size_t)lj * A->lld] += value;
    }
}

/* Each entry is summed with zeros from the ranks that do not own it, so the sum is exact and
 * identical everywhere. */
int linalg_replicate_columns(const linalg_matrix *A, int first, int ncols, MPI_Comm comm, const char *who,
                             double *out) {
    const linalg_grid *g = A->g;
    memset(out, 0, sizeof(double) * (size_t)A->m * (size_t)ncols);
    for (int lj = 0; lj < A->cols; lj++) {
        int c = global_index(lj, A->nb, g->mycol, g->npcol) - first;
        if (c < 0 || c >= ncols) continue;
        for (int li = 0; li < A->rows; li++)
            out[(size_t)global_index(li, A->nb, g->myrow, g->nprow) * (size_t)ncols + (size_t)c] =
                A->a[li + (size_t)lj * A->lld];
    }
    return linalg_mpi_check(MPI_Allreduce(MPI_IN_PLACE, out, A->m * ncols, MPI_DOUBLE, MPI_SUM, comm), who,
                            "replicating the result");
}
