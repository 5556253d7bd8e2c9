/* test_pca.c: the distributed PCA (src/linalg) on 1, 2 or 4 ranks, against spectra known in closed
 * form, serial LAPACK, and hand-computed cases.
 *
 * Every global problem is a pure function of its row indices, split unevenly over the ranks with one
 * rank holding no rows.
 *   - EXACT rows are x_i = o + Σ_m s_m c_m(i) q_m with c_m the unit DCT-II vectors of frequency
 *     m + 1 over the n rows (orthonormal, and orthogonal to the constant vector) and q_m the columns
 *     of a Householder reflection. The centred matrix is then exactly C diag(s) Qᵀ: the covariance has
 *     eigenvalues s_m²/(n − 1) and eigenvectors q_m, with no solver involved. The spectrum has well-
 *     separated leading values and clusters whose members differ by 1e-9 relative.
 *   - RANDOM rows are Gaussian with unequal column scales, large offsets and one planted direction;
 *     rank 0 gathers them and takes the SVD of the centred matrix with dgesvd, which never forms the
 *     covariance the implementation decomposes.
 *   - POISON rows are the spectral-signature situation: 4% of the rows shifted along one direction.
 * Every assertion is made by every rank on the same numbers (the fitted results are identical on
 * every rank, reference values are broadcast, per-rank errors are reduced first), so a failure fails
 * all ranks together instead of leaving some waiting in a collective. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <mpi.h>

#include "linalg/linalg.h"
#include "mpi_check.h"

/* serial LAPACK (Fortran): gfortran passes each character argument's length after the others */
void dgesvd_(const char *jobu, const char *jobvt, const int *m, const int *n, double *a, const int *lda,
             double *s, double *u, const int *ldu, double *vt, const int *ldvt, double *work, const int *lwork,
             int *info, size_t jobu_len, size_t jobvt_len);

static int rank, size;

/* ------------------------------------------------------------------------------------------------
 * problems */

typedef enum { EXACT, RANDOM, POISON } kind;

typedef struct {
    kind kind;
    int d;
    long n;
    double *s; /* EXACT: the singular values of the centred rows, descending */
    double *Q; /* EXACT: d x d row-major, column m is q_m; RANDOM, POISON: row 0 is the planted unit u */
} problem;

/* A d x d Householder reflection I − 2wwᵀ/wᵀw of a random w: orthogonal and dense. */
static void householder(double *Q, int d, uint64_t seed) {
    tb_rng r = tb_rng_make(seed, 0);
    double *w = tb_malloc(sizeof(double) * (size_t)d), ww = 0;
    for (int j = 0; j < d; j++) {
        w[j] = tb_rng_normal(&r);
        ww += w[j] * w[j];
    }
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) Q[i * d + j] = (i == j) - 2 * w[i] * w[j] / ww;
    tb_free(w);
}

/* Singular values: five well separated (40, 25, 16, 10, 7), a cluster of four near 5 and the rest
 * near 2, members of a cluster 1e-9 apart relative to each other. */
static void exact_spectrum(double *s, int d) {
    const double lead[5] = {40, 25, 16, 10, 7};
    for (int m = 0; m < d; m++) {
        if (m < 5) s[m] = lead[m];
        else if (m < 9) s[m] = 5.0 * (1 + 1e-9 * (8 - m));
        else s[m] = 2.0 * (1 + 1e-9 * (d - 1 - m));
    }
}

static problem make_problem(kind kd, int d, long n) {
    problem p = {.kind = kd, .d = d, .n = n, .Q = tb_malloc(sizeof(double) * (size_t)d * (size_t)d)};
    if (kd == EXACT) {
        assert_true(d >= 9 && n > d); /* the spectrum's clusters; d + 1 DCT frequencies below n */
        p.s = tb_malloc(sizeof(double) * (size_t)d);
        exact_spectrum(p.s, d);
        householder(p.Q, d, 300 + (uint64_t)d);
        return p;
    }
    householder(p.Q, d, 400 + (uint64_t)d); /* its first row is a unit vector */
    return p;
}

static void free_problem(problem *p) {
    tb_free(p->s);
    tb_free(p->Q);
}

/* c_m(i), the unit DCT-II vector of frequency m + 1 at row i of n. */
static double dct(long i, int m, long n) { return sqrt(2.0 / n) * cos(M_PI * (i + 0.5) * (m + 1) / n); }

static int is_poisoned(long i) { return i % 25 == 0; }

/* Row i of the problem into x (d). */
static void make_row(const problem *p, long i, double *x) {
    int d = p->d;
    const double *u = p->Q;
    tb_rng r = tb_rng_make(500 + p->kind, (uint64_t)i);
    if (p->kind == EXACT) {
        for (int j = 0; j < d; j++) {
            double v = 0;
            for (int m = 0; m < d; m++) v += p->s[m] * dct(i, m, p->n) * p->Q[j * d + m];
            x[j] = 50.0 + j + v;
        }
    } else if (p->kind == RANDOM) {
        double g = tb_rng_normal(&r);
        for (int j = 0; j < d; j++) x[j] = 10.0 + j % 7 + (1.0 + (double)j / d) * tb_rng_normal(&r) + 6.0 * g * u[j];
    } else {
        for (int j = 0; j < d; j++) x[j] = tb_rng_normal(&r) + (is_poisoned(i) ? 10.0 * u[j] : 0.0);
    }
}

typedef struct {
    long first, count; /* this rank's rows [first, first + count) */
    double *X;         /* NULL when it has none (the API allows it) */
} local_rows;

static local_rows make_local(const problem *p, int split) {
    local_rows l = {0};
    for (int q = 0; q < rank; q++) l.first += uneven_rows(p->n, split, q, size);
    l.count = uneven_rows(p->n, split, rank, size);
    if (l.count == 0) return l;
    l.X = tb_malloc(sizeof(double) * (size_t)l.count * (size_t)p->d);
    for (long i = 0; i < l.count; i++) make_row(p, l.first + i, l.X + i * p->d);
    return l;
}

/* Rank 0 receives every rank's d-wide rows in global order (n x d); other ranks get NULL. */
static double *gather_rows(const local_rows *l, long n, int d) {
    int mine = (int)(l->count * d), counts[64], displs[64];
    MPI_Gather(&mine, 1, MPI_INT, counts, 1, MPI_INT, 0, MPI_COMM_WORLD);
    double *all = NULL;
    if (rank == 0) {
        all = tb_malloc(sizeof(double) * (size_t)n * (size_t)d);
        for (int q = 0, at = 0; q < size; q++) {
            displs[q] = at;
            at += counts[q];
        }
    }
    double none = 0;
    MPI_Gatherv(l->X ? l->X : &none, mine, MPI_DOUBLE, all, counts, displs, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    return all;
}

/* ------------------------------------------------------------------------------------------------
 * checks */

/* Every rank holds bit-identical values. */
static void assert_same_everywhere(const double *v, int n) {
    double *hi = tb_malloc(sizeof(double) * (size_t)n), *lo = tb_malloc(sizeof(double) * (size_t)n);
    MPI_Allreduce(v, hi, n, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    MPI_Allreduce(v, lo, n, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
    assert_memory_equal(hi, lo, sizeof(double) * (size_t)n);
    tb_free(hi);
    tb_free(lo);
}

static double max_everywhere(double v) {
    MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return v;
}

static double dot(const double *a, const double *b, int d) {
    double s = 0;
    for (int j = 0; j < d; j++) s += a[j] * b[j];
    return s;
}

/* The test's own statement of the sign rule: the entry of largest magnitude (the first on a tie)
 * is positive. */
static void sign_fixed(const double *v, int d, double *out) {
    int at = 0;
    for (int j = 1; j < d; j++)
        if (fabs(v[j]) > fabs(v[at])) at = j;
    for (int j = 0; j < d; j++) out[j] = v[at] < 0 ? -v[j] : v[j];
}

typedef struct {
    int d, k;
    double *mean, *V, *lambda; /* d, k x d, k */
} fit;

/* Fits on this rank's rows; asserts success and bit-identical results on every rank. */
static fit fit_rows(const local_rows *l, int d, int k) {
    fit f = {.d = d, .k = k, .mean = tb_malloc(sizeof(double) * (size_t)d),
             .V = tb_malloc(sizeof(double) * (size_t)k * (size_t)d), .lambda = tb_malloc(sizeof(double) * (size_t)k)};
    int rc = tb_pca_fit(MPI_COMM_WORLD, l->X, l->count, d, k, f.mean, f.V, f.lambda);
    if (rc != TB_OK) tb_error_report(stderr);
    assert_int_equal(rc, TB_OK);
    assert_same_everywhere(f.mean, d);
    assert_same_everywhere(f.V, k * d);
    assert_same_everywhere(f.lambda, k);
    return f;
}

static void free_fit(fit *f) {
    tb_free(f->mean);
    tb_free(f->V);
    tb_free(f->lambda);
}

/* max |v_a·v_b − δ_ab| over the components */
static double orthonormality_error(const fit *f) {
    double worst = 0;
    for (int a = 0; a < f->k; a++)
        for (int b = 0; b <= a; b++)
            worst = fmax(worst, fabs(dot(f->V + a * f->d, f->V + b * f->d, f->d) - (a == b)));
    return worst;
}

/* The variance of the projected rows of all ranks along each component must be its λ: projection
 * and fit agree. Returns the largest relative difference. */
static double projected_variance_error(const fit *f, const local_rows *l, long n, double *coords) {
    assert_int_equal(tb_pca_project(f->mean, f->V, f->k, f->d, l->X, l->count, coords), TB_OK);
    double var[64] = {0}, worst = 0;
    assert_true(f->k <= 64);
    for (long i = 0; i < l->count; i++)
        for (int c = 0; c < f->k; c++) var[c] += coords[i * f->k + c] * coords[i * f->k + c];
    MPI_Allreduce(MPI_IN_PLACE, var, f->k, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    for (int c = 0; c < f->k; c++) worst = fmax(worst, fabs(var[c] / (n - 1) - f->lambda[c]) / f->lambda[c]);
    return worst;
}

/* ------------------------------------------------------------------------------------------------
 * against the closed form */

/* The members of s's cluster around index c: [*lo, *hi). */
static void cluster_of(const double *s, int d, int c, int *lo, int *hi) {
    *lo = c;
    *hi = c + 1;
    while (*lo > 0 && fabs(s[*lo - 1] - s[c]) < 1e-6 * s[c]) (*lo)--;
    while (*hi < d && fabs(s[*hi] - s[c]) < 1e-6 * s[c]) (*hi)++;
}

static void check_exact(const problem *p, int split, int k) {
    int d = p->d;
    long n = p->n;
    local_rows l = make_local(p, split);
    fit f = fit_rows(&l, d, k);
    double q[1024], q_fixed[1024];
    assert_true(d <= 1024);

    double mean_err = 0;
    for (int j = 0; j < d; j++) mean_err = fmax(mean_err, fabs(f.mean[j] - (50.0 + j)) / (50.0 + j));
    double val_err = 0, angle_err = 0, sign_err = 0, cluster_err = 0;
    for (int c = 0; c < k; c++) {
        double want = p->s[c] * p->s[c] / (n - 1);
        val_err = fmax(val_err, fabs(f.lambda[c] - want) / want);
        const double *v = f.V + c * d;
        int lo, hi;
        cluster_of(p->s, d, c, &lo, &hi);
        if (hi - lo == 1) { /* a well-separated direction: q_c itself, with the sign rule */
            for (int j = 0; j < d; j++) q[j] = p->Q[j * d + c];
            sign_fixed(q, d, q_fixed);
            angle_err = fmax(angle_err, 1 - fabs(dot(v, q, d)));
            for (int j = 0; j < d; j++) sign_err = fmax(sign_err, fabs(v[j] - q_fixed[j]));
        } else { /* in a cluster only the span is defined: v must lie in span(q_lo .. q_hi−1) */
            double inside = 0;
            for (int m = lo; m < hi; m++) {
                for (int j = 0; j < d; j++) q[j] = p->Q[j * d + m];
                inside += dot(v, q, d) * dot(v, q, d);
            }
            cluster_err = fmax(cluster_err, fabs(1 - inside));
        }
    }
    if (mean_err > 1e-13 || val_err > 1e-10 || angle_err > 1e-10 || sign_err > 1e-9 || cluster_err > 1e-10)
        fail_msg("d=%d n=%ld k=%d split %d: relative error mean %.3g, eigenvalues %.3g; 1 - |cos| %.3g, "
                 "sign-fixed vector error %.3g, 1 - |projection on its cluster| %.3g",
                 d, n, k, split, mean_err, val_err, angle_err, sign_err, cluster_err);
    double ortho = orthonormality_error(&f);
    if (ortho > 1e-12) fail_msg("d=%d k=%d: components are not orthonormal (error %.3g)", d, k, ortho);

    /* coordinates along a well-separated component are ±s_c c_c(i) */
    double *coords = tb_malloc(sizeof(double) * (size_t)(l.count + 1) * (size_t)k);
    double var_err = projected_variance_error(&f, &l, n, coords), coord_err = 0;
    for (int c = 0; c < k; c++) {
        int lo, hi;
        cluster_of(p->s, d, c, &lo, &hi);
        if (hi - lo > 1) continue;
        for (int j = 0; j < d; j++) q[j] = p->Q[j * d + c];
        double sign = dot(f.V + c * d, q, d) > 0 ? 1 : -1;
        for (long i = 0; i < l.count; i++)
            coord_err = fmax(coord_err, fabs(coords[i * k + c] - sign * p->s[c] * dct(l.first + i, c, n)));
    }
    coord_err = max_everywhere(coord_err) / p->s[0];
    if (var_err > 1e-10 || coord_err > 1e-10)
        fail_msg("d=%d k=%d split %d: projections: variance relative error %.3g, coordinate error %.3g", d, k, split,
                 var_err, coord_err);
    tb_free(coords);
    free_fit(&f);
    tb_free(l.X);
}

static void test_exact_spectrum(void **s) {
    problem small = make_problem(EXACT, 40, 600), wide = make_problem(EXACT, 130, 1000);
    for (int split = 0; split < 2; split++) {
        check_exact(&small, split, 9);  /* the separated five and the whole cluster near 5 */
        check_exact(&small, split, 7);  /* k cuts through the cluster */
        check_exact(&small, split, 1);  /* the spectral-signature case */
        check_exact(&small, split, 40); /* everything, the cluster of 31 near 2 included */
    }
    check_exact(&wide, 0, 12); /* several 64-wide blocks per grid dimension */
    free_problem(&small);
    free_problem(&wide);
}

/* ------------------------------------------------------------------------------------------------
 * against serial LAPACK */

/* On rank 0: the column means of the n x d rows X, and the singular values s and right singular
 * vectors (rows of vt, d x d row-major) of the centred rows, by dgesvd. Broadcast to every rank. */
static void reference_svd(const double *X, long n, int d, double *mean, double *s, double *vt) {
    if (rank == 0) {
        int m = (int)n, info, lwork = -1, ldu = 1;
        double *A = tb_malloc(sizeof(double) * (size_t)n * (size_t)d), *VT = tb_malloc(sizeof(double) * (size_t)d * d);
        for (int j = 0; j < d; j++) {
            double sum = 0;
            for (long i = 0; i < n; i++) sum += X[i * d + j];
            mean[j] = sum / n;
            for (long i = 0; i < n; i++) A[(size_t)j * n + i] = X[i * d + j] - mean[j]; /* column-major */
        }
        double query, none;
        dgesvd_("N", "S", &m, &d, A, &m, s, &none, &ldu, VT, &d, &query, &lwork, &info, 1, 1);
        assert_int_equal(info, 0);
        lwork = (int)query;
        double *work = tb_malloc(sizeof(double) * (size_t)lwork);
        dgesvd_("N", "S", &m, &d, A, &m, s, &none, &ldu, VT, &d, work, &lwork, &info, 1, 1);
        assert_int_equal(info, 0);
        for (int r = 0; r < d; r++)
            for (int j = 0; j < d; j++) vt[r * d + j] = VT[(size_t)j * d + r];
        tb_free(work);
        tb_free(A);
        tb_free(VT);
    }
    MPI_Bcast(mean, d, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    MPI_Bcast(s, d, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    MPI_Bcast(vt, d * d, MPI_DOUBLE, 0, MPI_COMM_WORLD);
}

static void check_random(const problem *p, int split, int k) {
    int d = p->d;
    long n = p->n;
    local_rows l = make_local(p, split);
    fit f = fit_rows(&l, d, k);
    double *X = gather_rows(&l, n, d);
    double *mean = tb_malloc(sizeof(double) * (size_t)d), *s = tb_malloc(sizeof(double) * (size_t)d);
    double *vt = tb_malloc(sizeof(double) * (size_t)d * (size_t)d), *v_fixed = tb_malloc(sizeof(double) * (size_t)d);
    reference_svd(X, n, d, mean, s, vt);

    double mean_err = 0, val_err = 0, angle_err = 0, sign_err = 0;
    for (int j = 0; j < d; j++) mean_err = fmax(mean_err, fabs(f.mean[j] - mean[j]) / fabs(mean[j]));
    for (int c = 0; c < k; c++) {
        /* the data has no near-ties among its leading directions, so each is defined alone: a gap
         * of 1e-5 relative bounds the angle rounding can turn a vector by to about 1e-11 λ_1/λ_c */
        assert_true(s[c] - s[c + 1] > 1e-5 * s[c]);
        double want = s[c] * s[c] / (n - 1);
        val_err = fmax(val_err, fabs(f.lambda[c] - want) / want);
        angle_err = fmax(angle_err, 1 - fabs(dot(f.V + c * d, vt + c * d, d)));
        sign_fixed(vt + c * d, d, v_fixed);
        for (int j = 0; j < d; j++) sign_err = fmax(sign_err, fabs(f.V[c * d + j] - v_fixed[j]));
    }
    if (mean_err > 1e-13 || val_err > 1e-10 || angle_err > 1e-10 || sign_err > 1e-9)
        fail_msg("d=%d n=%ld k=%d split %d against dgesvd: relative error mean %.3g, eigenvalues %.3g; "
                 "1 - |cos| %.3g, sign-fixed vector error %.3g",
                 d, n, k, split, mean_err, val_err, angle_err, sign_err);
    /* the planted direction dominates */
    assert_true(fabs(dot(f.V, p->Q, d)) > 0.99);
    double ortho = orthonormality_error(&f);
    if (ortho > 1e-12) fail_msg("d=%d k=%d: components are not orthonormal (error %.3g)", d, k, ortho);

    /* coordinates against the reference's: (x_i − x̄)·v_c with the reference's own mean and vectors */
    double *coords = tb_malloc(sizeof(double) * (size_t)(l.count + 1) * (size_t)k);
    double var_err = projected_variance_error(&f, &l, n, coords), coord_err = 0;
    for (int c = 0; c < k; c++) {
        sign_fixed(vt + c * d, d, v_fixed);
        for (long i = 0; i < l.count; i++) {
            double want = 0;
            for (int j = 0; j < d; j++) want += (l.X[i * d + j] - mean[j]) * v_fixed[j];
            coord_err = fmax(coord_err, fabs(coords[i * k + c] - want) / s[0]);
        }
    }
    coord_err = max_everywhere(coord_err);
    if (var_err > 1e-10 || coord_err > 1e-10)
        fail_msg("d=%d k=%d split %d: projections: variance relative error %.3g, coordinate error %.3g", d, k, split,
                 var_err, coord_err);
    tb_free(coords);
    tb_free(X);
    tb_free(mean);
    tb_free(s);
    tb_free(vt);
    tb_free(v_fixed);
    free_fit(&f);
    tb_free(l.X);
}

static void test_against_lapack(void **s) {
    problem small = make_problem(RANDOM, 37, 800), wide = make_problem(RANDOM, 300, 2000);
    for (int split = 0; split < 2; split++) check_random(&small, split, 10);
    check_random(&small, 1, 36);
    check_random(&wide, 0, 10);
    free_problem(&small);
    free_problem(&wide);
}

/* ------------------------------------------------------------------------------------------------
 * the defences' use */

/* Spectral signatures: with 4% of the rows shifted 10 units along u, the top component is u and
 * every poisoned row scores above every clean one. */
static void test_spectral_signature(void **s) {
    problem p = make_problem(POISON, 64, 2000);
    local_rows l = make_local(&p, 0);
    fit f = fit_rows(&l, 64, 1);
    assert_true(fabs(dot(f.V, p.Q, 64)) > 0.99);
    double *proj = tb_malloc(sizeof(double) * (size_t)(l.count + 1));
    assert_int_equal(tb_pca_project(f.mean, f.V, 1, 64, l.X, l.count, proj), TB_OK);
    double clean_max = 0, poison_min = INFINITY;
    long poisoned = 0;
    for (long i = 0; i < l.count; i++) {
        double score = proj[i] * proj[i];
        if (is_poisoned(l.first + i)) {
            poison_min = fmin(poison_min, score);
            poisoned++;
        } else {
            clean_max = fmax(clean_max, score);
        }
    }
    MPI_Allreduce(MPI_IN_PLACE, &clean_max, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &poison_min, 1, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &poisoned, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    assert_int_equal(poisoned, 80);
    if (!(poison_min > clean_max)) fail_msg("lowest poisoned score %g, highest clean score %g", poison_min, clean_max);
    tb_free(proj);
    free_fit(&f);
    tb_free(l.X);
    free_problem(&p);
}

/* ------------------------------------------------------------------------------------------------
 * hand-computed cases */

/* The rows of the n x d matrix all that fall to this rank under split 1. */
static local_rows hand_rows(const double *all, long n, int d) {
    local_rows l = {0};
    for (int q = 0; q < rank; q++) l.first += uneven_rows(n, 1, q, size);
    l.count = uneven_rows(n, 1, rank, size);
    if (l.count > 0) {
        l.X = tb_malloc(sizeof(double) * (size_t)l.count * (size_t)d);
        memcpy(l.X, all + l.first * d, sizeof(double) * (size_t)l.count * (size_t)d);
    }
    return l;
}

static void assert_close(double got, double want, double tol) {
    if (fabs(got - want) > tol) fail_msg("got %.17g, want %.17g", got, want);
}

static void test_by_hand(void **s) {
    /* (10, 20) ± (3, 0) and ± (0, 1): covariance diag(18, 2)/3, axes as components */
    const double axes[] = {13, 20, 7, 20, 10, 21, 10, 19};
    local_rows l = hand_rows(axes, 4, 2);
    fit f = fit_rows(&l, 2, 2);
    assert_close(f.mean[0], 10, 1e-14);
    assert_close(f.mean[1], 20, 1e-14);
    assert_close(f.lambda[0], 6, 1e-13);
    assert_close(f.lambda[1], 2.0 / 3, 1e-14);
    const double e[] = {1, 0, 0, 1};
    for (int i = 0; i < 4; i++) assert_close(f.V[i], e[i], 1e-14);
    double coords[8];
    /* row (13, 20) is 3 along the first axis and 0 along the second; (1010, 1020), far from the
     * mean, is 1000 along both */
    const double far[] = {13, 20, 1010, 1020};
    assert_int_equal(tb_pca_project(f.mean, f.V, 2, 2, far, 2, coords), TB_OK);
    assert_close(coords[0], 3, 1e-14);
    assert_close(coords[1], 0, 1e-14);
    assert_close(coords[2], 1000, 1e-11);
    assert_close(coords[3], 1000, 1e-11);
    free_fit(&f);
    tb_free(l.X);

    /* (5, 5) + t (1, −2), t = −1, 0, 1: covariance [[1, −2], [−2, 4]], eigenvalues 5 and 0; the sign
     * rule turns (1, −2)/√5 into (−1, 2)/√5 and makes the null direction (2, 1)/√5 */
    const double line[] = {4, 7, 5, 5, 6, 3};
    l = hand_rows(line, 3, 2);
    f = fit_rows(&l, 2, 2);
    assert_close(f.lambda[0], 5, 1e-13);
    assert_true(f.lambda[1] >= 0 && f.lambda[1] < 1e-14);
    const double v[] = {-1 / sqrt(5), 2 / sqrt(5), 2 / sqrt(5), 1 / sqrt(5)};
    for (int i = 0; i < 4; i++) assert_close(f.V[i], v[i], 1e-14);
    free_fit(&f);
    tb_free(l.X);

    /* one feature: 1, 2, 3, 4 has mean 2.5 and variance (2.25 + 0.25 + 0.25 + 2.25) / 3 */
    const double one[] = {1, 2, 3, 4};
    l = hand_rows(one, 4, 1);
    f = fit_rows(&l, 1, 1);
    assert_close(f.mean[0], 2.5, 1e-15);
    assert_close(f.lambda[0], 5.0 / 3, 1e-15);
    assert_close(f.V[0], 1, 1e-15);
    free_fit(&f);
    tb_free(l.X);
}

/* ------------------------------------------------------------------------------------------------
 * bad input */

static void test_bad_input(void **s) {
    problem p = make_problem(RANDOM, 5, 50);
    local_rows l = make_local(&p, 1);
    double mean[5], V[25], lambda[5];
    MPI_Comm w = MPI_COMM_WORLD;
    expect_everywhere(tb_pca_fit(w, l.X, l.count, 5, 0, mean, V, lambda), TB_ERR_ARG);
    expect_everywhere(tb_pca_fit(w, l.X, l.count, 5, 6, mean, V, lambda), TB_ERR_ARG); /* k > d */
    expect_everywhere(tb_pca_fit(w, l.X, l.count, 0, 1, mean, V, lambda), TB_ERR_ARG);
    expect_everywhere(tb_pca_fit(w, l.X, rank == 0 ? -1 : l.count, 5, 2, mean, V, lambda), TB_ERR_ARG);
    /* no rows, one row, and three rows (two directions at most) */
    expect_everywhere(tb_pca_fit(w, NULL, 0, 5, 1, mean, V, lambda), TB_ERR_ARG);
    int holder = -1; /* the last rank holding rows */
    for (int q = 0; q < size; q++)
        if (uneven_rows(50, 1, q, size) > 0) holder = q;
    expect_everywhere(tb_pca_fit(w, l.X, rank == holder ? 1 : 0, 5, 1, mean, V, lambda), TB_ERR_ARG);
    expect_everywhere(tb_pca_fit(w, l.X, rank == holder ? 3 : 0, 5, 3, mean, V, lambda), TB_ERR_ARG);
    expect_everywhere(tb_pca_fit(w, l.X, rank == holder ? 3 : 0, 5, 2, mean, V, lambda), TB_OK);
    if (size > 1) { /* ranks disagreeing, only rank 0 wrong: on the width, on the component count */
        expect_everywhere(tb_pca_fit(w, l.X, l.count, rank == 0 ? 4 : 5, 2, mean, V, lambda), TB_ERR_SHAPE);
        expect_everywhere(tb_pca_fit(w, l.X, l.count, 5, rank == 0 ? 1 : 2, mean, V, lambda), TB_ERR_SHAPE);
    }

    /* a NaN, then an infinity, on one rank only: the rank holding it names the place */
    double saved = 0;
    if (rank == holder) {
        saved = l.X[l.count * 5 - 2];
        l.X[l.count * 5 - 2] = NAN;
    }
    int rc = tb_pca_fit(w, l.X, l.count, 5, 2, mean, V, lambda);
    if (rank == holder) {
        char want[64];
        snprintf(want, sizeof want, "rank %d row %ld column 3", rank, l.count - 1);
        if (!strstr(tb_error_message(), want)) fail_msg("'%s' does not say '%s'", tb_error_message(), want);
    }
    expect_everywhere(rc, TB_ERR_NUMERIC);
    if (rank == holder) l.X[l.count * 5 - 2] = -INFINITY;
    expect_everywhere(tb_pca_fit(w, l.X, l.count, 5, 2, mean, V, lambda), TB_ERR_NUMERIC);
    if (rank == holder) l.X[l.count * 5 - 2] = saved;
    expect_everywhere(tb_pca_fit(w, l.X, l.count, 5, 2, mean, V, lambda), TB_OK);

    /* the serial projection */
    double out[10];
    const double x[5] = {0};
    assert_int_equal(tb_pca_project(mean, V, 6, 5, x, 1, out), TB_ERR_ARG);
    assert_int_equal(tb_pca_project(mean, V, 0, 5, x, 1, out), TB_ERR_ARG);
    assert_int_equal(tb_pca_project(mean, V, 2, 5, x, -1, out), TB_ERR_ARG);
    tb_error_clear();
    assert_int_equal(tb_pca_project(mean, V, 2, 5, NULL, 0, out), TB_OK);
    tb_free(l.X);
    free_problem(&p);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_by_hand),
        cmocka_unit_test(test_exact_spectrum),
        cmocka_unit_test(test_against_lapack),
        cmocka_unit_test(test_spectral_signature),
        cmocka_unit_test(test_bad_input),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    MPI_Finalize();
    return rc;
}
