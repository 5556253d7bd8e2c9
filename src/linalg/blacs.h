/*
 * blacs.h: what the distributed fits of src/linalg share (not part of the public API).
 *
 * Every fit starts from the same situation: each rank of a communicator holds its own rows of a
 * matrix, row-major, any number per rank (zero included), and the result must come back
 * bit-identical on every rank. The pieces:
 *   - agreeing on the arguments: every rank learns every rank's row count and the range over the
 *     ranks of a few values, in two collectives, so all ranks take the same error branch;
 *   - identical sums (and the column means made from them);
 *   - the two BLACS grids of a communicator: 1 x P to receive the rows as they lie, and an as-square-
 *     as-possible P_r x P_c grid to compute on;
 *   - block-cyclic matrices on a grid, moving the ranks' rows into one, and copying a distributed
 *     result to every rank.
 * ScaLAPACK and BLACS ship no C header, so their prototypes are declared here, once for the folder.
 */
#ifndef TB_LINALG_BLACS_H
#define TB_LINALG_BLACS_H

#include <mpi.h>
#include <stddef.h>

#include "core/core.h"

/* ------------------------------------------------------------------------------------------------
 * ScaLAPACK and BLACS: the Fortran routines take every argument by pointer */

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
/* the solvers are Fortran: gfortran passes each character argument's length after the others */
void pdposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *ia, const int *ja,
             const int *desca, double *b, const int *ib, const int *jb, const int *descb, int *info,
             size_t uplo_len);
void pdsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *ia, const int *ja,
              const int *desca, double *w, double *z, const int *iz, const int *jz, const int *descz,
              double *work, const int *lwork, int *iwork, const int *liwork, int *info, size_t jobz_len,
              size_t uplo_len);

/* ------------------------------------------------------------------------------------------------
 * errors and agreed arguments. `who` names the fit in messages ("ridge fit", "PCA fit"). */

/* TB_OK, or TB_ERR_MPI saying "<who>: <what> failed (MPI error rc)". */
int linalg_mpi_check(int rc, const char *who, const char *what);

/* Where the rows of all ranks lie: rank p holds rows offsets[p] .. offsets[p] + counts[p] − 1 of the
 * n_total, in rank order. */
typedef struct {
    int size;              /* ranks of the communicator */
    long *counts, *offsets; /* size entries each */
    long n_total, n_max;   /* all rows, and the most any rank holds */
} linalg_rows;

#define LINALG_AGREE_MAX 8 /* values agree_rows reduces at once */

/* Collective. Fills rows from every rank's n_local and sets lo[i] and hi[i] to the least and
 * greatest of values[i] over the ranks (n_values <= LINALG_AGREE_MAX), so every rank can check the
 * same facts. TB_ERR_ARG when a rank passes a negative n_local, TB_ERR_MPI when a collective fails;
 * rows must be freed with linalg_rows_free whatever the outcome. */
int linalg_agree_rows(MPI_Comm comm, const char *who, long n_local, const double *values, int n_values,
                      double *lo, double *hi, linalg_rows *rows);
void linalg_rows_free(linalg_rows *rows);

/* ------------------------------------------------------------------------------------------------
 * identical sums */

/* Sums n doubles over comm into every rank's buf, bit-identical on every rank. */
int linalg_sum_identical(MPI_Comm comm, const char *who, double *buf, int n);
/* sums[j] += Σ_i V[i][j] over the n rows of the row-major n x w matrix V. */
void linalg_add_column_sums(const double *V, long n, int w, double *sums);
/* A new row-major n x w copy of V with mean[j] subtracted from column j; free with tb_free. */
double *linalg_centred_copy(const double *V, long n, int w, const double *mean);

/* ------------------------------------------------------------------------------------------------
 * BLACS grids and block-cyclic matrices */

typedef struct {
    int ctx;
    int nprow, npcol, myrow, mycol;
} linalg_grid;

/* The grids of one communicator: `rows` is 1 x P with rank p at column p, `square` is as square as
 * the rank count allows (nprow <= npcol); every rank is in both. They share the communicator's BLACS
 * system handle, which linalg_grids_close frees once after leaving both grids. */
typedef struct {
    int handle;
    linalg_grid rows, square;
} linalg_grids;

void linalg_grids_open(linalg_grids *gs, MPI_Comm comm);
void linalg_grids_close(linalg_grids *gs);

/* A square block size for a matrix of width d on g: large enough for BLAS-3 efficiency, small
 * enough that even a narrow model's d is dealt over every process row and column. */
int linalg_block_size(int d, const linalg_grid *g);

typedef struct {
    int desc[9];
    int m, n, nb;          /* global size and block size */
    int rows, cols, lld;   /* this rank's part */
    double *a;             /* column-major rows x cols, leading dimension lld; zeroed at creation */
    const linalg_grid *g;
} linalg_matrix;

/* An m x n zero matrix in nb x nb blocks dealt cyclically over g from process (0, 0). */
void linalg_matrix_create(linalg_matrix *A, const linalg_grid *g, int m, int n, int nb);
void linalg_matrix_free(linalg_matrix *A);

/* Moves every rank's rows of V (row-major rows->counts[p] x w on rank p; V may be NULL on a rank
 * without rows) into out = Vᵀ, a w x n_total matrix on gs->square. */
void linalg_distribute_rows(const linalg_grids *gs, const double *V, int w, const linalg_rows *rows,
                            linalg_matrix *out);

/* A += value · I for the square matrix A. */
void linalg_add_to_diagonal(linalg_matrix *A, double value);

/* Columns first .. first + ncols − 1 of A into out, row-major A->m x ncols, bit-identical on every
 * rank of comm (the communicator A's grid was made from). */
int linalg_replicate_columns(const linalg_matrix *A, int first, int ncols, MPI_Comm comm, const char *who,
                             double *out);

#endif
