/* test_ridge.c: the distributed ridge fit (src/linalg) on 1, 2 or 4 ranks against serial LAPACK.
 *
 * Every global problem is a pure function of its row indices, split unevenly over the ranks with one
 * rank holding no rows. Rank 0 gathers the rows the ranks actually passed and solves the same ridge
 * problem by Householder QR (dgels) of the stacked system [X 1; √λ I 0] [W; b] = [Y; 0], whose
 * normal equations are the ridge equations but which never forms XᵀX: it shares no step with the
 * Gram matrix and Cholesky path under test. Every rank asserts on the same broadcast numbers, so a
 * failure fails all ranks together instead of leaving some waiting in a collective. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <mpi.h>

#include "linalg/linalg.h"
#include "mpi_check.h"

/* serial LAPACK (Fortran): gfortran passes each character argument's length after the others */
void dgels_(const char *trans, const int *m, const int *n, const int *nrhs, double *a, const int *lda, double *b,
            const int *ldb, double *work, const int *lwork, int *info, size_t trans_len);

static int rank, size;

/* ------------------------------------------------------------------------------------------------
 * problems */

typedef enum { WELL, ILL, OFFSET, CLASSES } kind;

typedef struct {
    kind kind;
    int d, k;
    double *truth; /* d x k: targets are x · truth (+ noise); CLASSES: the d x k class means */
} problem;

static problem make_problem(kind kd, int d, int k) {
    problem p = {.kind = kd, .d = d, .k = k, .truth = tb_malloc(sizeof(double) * (size_t)d * (size_t)k)};
    tb_rng r = tb_rng_make(100 + kd, 0);
    for (int i = 0; i < d * k; i++) p.truth[i] = tb_rng_normal(&r);
    return p;
}

/* Row i of the problem: features x (d), targets y (k), and for CLASSES the class in *label. */
static void make_row(const problem *p, long i, double *x, double *y, int *label) {
    tb_rng r = tb_rng_make(200 + p->kind, (uint64_t)i);
    int d = p->d, k = p->k;
    if (p->kind == CLASSES) {
        /* the features are an offset plus the class mean plus small noise, so the one-hot label is a
         * linear function of the features (M has full column rank) up to that noise */
        int c = (int)tb_rng_below(&r, (uint64_t)k);
        for (int j = 0; j < d; j++) x[j] = 20.0 + p->truth[j * k + c] + 0.01 * tb_rng_normal(&r);
        *label = c;
        return;
    }
    for (int j = 0; j < d; j++) {
        double z = tb_rng_normal(&r);
        if (p->kind == WELL) x[j] = z;
        /* singular values spread over eight decades, and column 1 almost equal to column 0 */
        if (p->kind == ILL) x[j] = j == 1 ? x[0] + 1e-9 * z : z * pow(10.0, -8.0 * j / (d - 1));
        if (p->kind == OFFSET) x[j] = 100.0 + j + z; /* features far from zero mean */
    }
    for (int c = 0; c < k; c++) {
        double s = p->kind == OFFSET ? 5.0 + c : 0.0;
        for (int j = 0; j < d; j++) s += x[j] * p->truth[j * k + c];
        y[c] = s + 0.1 * tb_rng_normal(&r);
    }
}

typedef struct {
    long n, first, count; /* global rows, and this rank's [first, first + count) */
    double *X, *Y;        /* this rank's rows; NULL when it has none (the API allows it) */
    int *labels;
} local_rows;

static local_rows make_local(const problem *p, long n, int split) {
    local_rows l = {.n = n};
    for (int q = 0; q < rank; q++) l.first += uneven_rows(n, split, q, size);
    l.count = uneven_rows(n, split, rank, size);
    if (l.count == 0) return l;
    l.X = tb_malloc(sizeof(double) * (size_t)l.count * (size_t)p->d);
    l.Y = tb_malloc(sizeof(double) * (size_t)l.count * (size_t)p->k);
    l.labels = tb_malloc(sizeof(int) * (size_t)l.count);
    for (long i = 0; i < l.count; i++)
        make_row(p, l.first + i, l.X + i * p->d, l.Y + i * p->k, l.labels + i);
    return l;
}

static void free_local(local_rows *l) {
    tb_free(l->X);
    tb_free(l->Y);
    tb_free(l->labels);
}

/* Rank 0 receives every rank's w-wide rows in global order (n x w); other ranks get NULL. */
static double *gather_rows(const double *local, long count, long n, int w) {
    int mine = (int)(count * w), counts[64], displs[64];
    MPI_Gather(&mine, 1, MPI_INT, counts, 1, MPI_INT, 0, MPI_COMM_WORLD);
    double *all = NULL;
    if (rank == 0) {
        all = tb_malloc(sizeof(double) * (size_t)n * (size_t)w);
        for (int q = 0, at = 0; q < size; q++) {
            displs[q] = at;
            at += counts[q];
        }
    }
    double none = 0;
    MPI_Gatherv(local ? local : &none, mine, MPI_DOUBLE, all, counts, displs, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    return all;
}

/* ------------------------------------------------------------------------------------------------
 * the serial reference */

/* λ = lambda_scale · tr(XᵀX) / d, with X centred by its column means when fitting an intercept. */
static double reference_lambda(const double *X, long n, int d, double lambda_scale, int intercept) {
    double tr = 0;
    for (int j = 0; j < d; j++) {
        double mean = 0;
        if (intercept) {
            for (long i = 0; i < n; i++) mean += X[i * d + j];
            mean /= n;
        }
        for (long i = 0; i < n; i++) tr += (X[i * d + j] - mean) * (X[i * d + j] - mean);
    }
    return lambda_scale * tr / d;
}

/* argmin ||X W + 1 bᵀ − Y||² + λ||W||² (no b unless intercept) by dgels on the stacked system. */
static void reference_fit(const double *X, const double *Y, long n, int d, int k, double lambda, int intercept,
                          double *W, double *b) {
    int m = (int)n + d, cols = d + intercept, info;
    double *A = tb_malloc(sizeof(double) * (size_t)m * (size_t)cols); /* column-major, zeroed */
    double *B = tb_malloc(sizeof(double) * (size_t)m * (size_t)k);
    for (long i = 0; i < n; i++) {
        for (int j = 0; j < d; j++) A[(size_t)j * m + i] = X[i * d + j];
        if (intercept) A[(size_t)d * m + i] = 1.0;
        for (int c = 0; c < k; c++) B[(size_t)c * m + i] = Y[i * k + c];
    }
    for (int j = 0; j < d; j++) A[(size_t)j * m + n + j] = sqrt(lambda);
    double query;
    int lwork = -1;
    dgels_("N", &m, &cols, &k, A, &m, B, &m, &query, &lwork, &info, 1);
    assert_int_equal(info, 0);
    lwork = (int)query;
    double *work = tb_malloc(sizeof(double) * (size_t)lwork);
    dgels_("N", &m, &cols, &k, A, &m, B, &m, work, &lwork, &info, 1);
    assert_int_equal(info, 0);
    for (int j = 0; j < d; j++)
        for (int c = 0; c < k; c++) W[j * k + c] = B[(size_t)c * m + j];
    if (intercept)
        for (int c = 0; c < k; c++) b[c] = B[(size_t)c * m + d];
    tb_free(work);
    tb_free(A);
    tb_free(B);
}

/* max |a − ref| / max |ref| */
static double relative_error(const double *a, const double *ref, int n) {
    double diff = 0, scale = 0;
    for (int i = 0; i < n; i++) {
        diff = fmax(diff, fabs(a[i] - ref[i]));
        scale = fmax(scale, fabs(ref[i]));
    }
    return diff / scale;
}

/* Every rank holds bit-identical values. */
static void assert_same_everywhere(const double *v, int n) {
    double *hi = tb_malloc(sizeof(double) * (size_t)n), *lo = tb_malloc(sizeof(double) * (size_t)n);
    MPI_Allreduce(v, hi, n, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    MPI_Allreduce(v, lo, n, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
    assert_memory_equal(hi, lo, sizeof(double) * (size_t)n);
    tb_free(hi);
    tb_free(lo);
}

/* Fits the problem's n rows split over the ranks and checks W (and b) against rank 0's dgels. */
static void check_fit(const problem *p, long n, int split, double lambda_scale, int intercept) {
    int d = p->d, k = p->k;
    local_rows l = make_local(p, n, split);
    double *W = tb_malloc(sizeof(double) * (size_t)d * (size_t)k), b[16];
    assert_true(k <= 16);
    int rc = tb_ridge_fit(MPI_COMM_WORLD, l.X, l.Y, l.count, d, k, lambda_scale, W, intercept ? b : NULL);
    if (rc != TB_OK) tb_error_report(stderr);
    assert_int_equal(rc, TB_OK);
    assert_same_everywhere(W, d * k);
    if (intercept) assert_same_everywhere(b, k);

    double *X = gather_rows(l.X, l.count, n, d), *Y = gather_rows(l.Y, l.count, n, k);
    double err[2] = {0, 0}; /* W's and b's relative error, computed on rank 0 */
    if (rank == 0) {
        double *Wref = tb_malloc(sizeof(double) * (size_t)d * (size_t)k), bref[16];
        reference_fit(X, Y, n, d, k, reference_lambda(X, n, d, lambda_scale, intercept), intercept, Wref, bref);
        err[0] = relative_error(W, Wref, d * k);
        if (intercept) err[1] = relative_error(b, bref, k);
        tb_free(Wref);
    }
    MPI_Bcast(err, 2, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    if (err[0] > 1e-8 || err[1] > 1e-8)
        fail_msg("d=%d k=%d n=%ld split %d lambda_scale %g intercept %d: relative error W %.3g, b %.3g", d, k, n,
                 split, lambda_scale, intercept, err[0], err[1]);
    tb_free(X);
    tb_free(Y);
    tb_free(W);
    free_local(&l);
}

/* ------------------------------------------------------------------------------------------------
 * tests */

static void test_well_conditioned(void **s) {
    problem small = make_problem(WELL, 37, 5), wide = make_problem(WELL, 130, 3);
    for (int split = 0; split < 2; split++) {
        check_fit(&small, 300, split, 1e-3, 0);
        check_fit(&small, 300, split, 0.0, 0); /* plain least squares */
        check_fit(&wide, 700, split, 1e-3, 0); /* several 64-wide blocks per grid dimension */
    }
    /* fewer rows than features: only the ridge term makes the system definite */
    check_fit(&wide, 90, 1, 1e-3, 0);
    tb_free(small.truth);
    tb_free(wide.truth);
}

static void test_ill_conditioned(void **s) {
    problem p = make_problem(ILL, 40, 4);
    for (int split = 0; split < 2; split++) {
        check_fit(&p, 400, split, 1e-3, 0);
        check_fit(&p, 400, split, 1e-5, 0);
    }
    tb_free(p.truth);
}

/* With b the intercept is fitted unpenalised: the reference puts a column of ones without a ridge
 * row into the stacked system; the implementation centres instead. */
static void test_intercept(void **s) {
    problem p = make_problem(OFFSET, 23, 3);
    for (int split = 0; split < 2; split++) {
        check_fit(&p, 250, split, 1e-3, 1);
        check_fit(&p, 250, split, 0.0, 1);
    }
    problem centred = make_problem(WELL, 130, 3); /* means near zero, several blocks */
    check_fit(&centred, 700, 0, 1e-3, 1);
    tb_free(p.truth);
    tb_free(centred.truth);
}

/* Scores and argmax worked out by hand. */
static void test_probe_accuracy_by_hand(void **s) {
    const double X[] = {1, 0, 0, 1, 2, 1, 1, 3}, W[] = {1, 0, 0, 1}, b[] = {0, 1.5};
    const int labels[] = {0, 1, 0, 1};
    double acc;
    /* scores = X: argmax 0, 1, 0, 1 */
    assert_int_equal(tb_probe_accuracy(X, labels, 4, 2, W, NULL, 2, &acc), TB_OK);
    assert_true(acc == 1.0);
    /* scores = X + (0, 1.5): (1, 1.5), (0, 2.5), (2, 2.5), (1, 4.5): argmax 1 everywhere */
    assert_int_equal(tb_probe_accuracy(X, labels, 4, 2, W, b, 2, &acc), TB_OK);
    assert_true(acc == 0.5);
    /* a tie goes to the lower class: row (1, 1) with label 0 */
    const double tie[] = {1, 1};
    assert_int_equal(tb_probe_accuracy(tie, labels, 1, 2, W, NULL, 2, &acc), TB_OK);
    assert_true(acc == 1.0);
    const int bad[] = {0, 2, 0, 1};
    assert_int_equal(tb_probe_accuracy(X, bad, 4, 2, W, NULL, 2, &acc), TB_ERR_ARG);
    tb_error_clear();
}

/* Labels linear in the features: the probe fitted on unevenly spread rows classifies its training
 * rows and unseen rows perfectly. */
static void test_probe_linear_labels(void **s) {
    enum { D = 24, C = 4, TRAIN = 600, HELD = 200 };
    problem p = make_problem(CLASSES, D, C);
    local_rows l = make_local(&p, TRAIN, 0);
    double W[D * C], b[C], acc;
    int rc = tb_probe_fit_classes(MPI_COMM_WORLD, l.X, l.labels, l.count, D, C, W, b);
    if (rc != TB_OK) tb_error_report(stderr);
    assert_int_equal(rc, TB_OK);
    assert_same_everywhere(W, D * C);
    assert_same_everywhere(b, C);
    if (l.count > 0) {
        assert_int_equal(tb_probe_accuracy(l.X, l.labels, l.count, D, W, b, C, &acc), TB_OK);
        assert_true(acc == 1.0);
    }
    static double X[HELD * D];
    int labels[HELD], shifted[HELD];
    for (long i = 0; i < HELD; i++) {
        make_row(&p, TRAIN + i, X + i * D, NULL, &labels[i]);
        shifted[i] = (labels[i] + 1) % C;
    }
    assert_int_equal(tb_probe_accuracy(X, labels, HELD, D, W, b, C, &acc), TB_OK);
    assert_true(acc == 1.0);
    /* it predicts the classes the features encode, so against shifted labels it is never right */
    assert_int_equal(tb_probe_accuracy(X, shifted, HELD, D, W, b, C, &acc), TB_OK);
    assert_true(acc == 0.0);
    free_local(&l);
    tb_free(p.truth);
}

static void test_bad_input(void **s) {
    problem p = make_problem(WELL, 6, 2);
    local_rows l = make_local(&p, 50, 1);
    double W[6 * 2], b[2];
    expect_everywhere(tb_ridge_fit(MPI_COMM_WORLD, l.X, l.Y, l.count, 0, 2, 1e-3, W, NULL), TB_ERR_ARG);
    expect_everywhere(tb_ridge_fit(MPI_COMM_WORLD, l.X, l.Y, l.count, 6, 0, 1e-3, W, NULL), TB_ERR_ARG);
    expect_everywhere(tb_ridge_fit(MPI_COMM_WORLD, l.X, l.Y, l.count, 6, 2, -1.0, W, b), TB_ERR_ARG);
    expect_everywhere(tb_ridge_fit(MPI_COMM_WORLD, l.X, l.Y, l.count, 6, 2, NAN, W, b), TB_ERR_ARG);
    expect_everywhere(tb_ridge_fit(MPI_COMM_WORLD, l.X, l.Y, rank == 0 ? -1 : l.count, 6, 2, 1e-3, W, b),
                      TB_ERR_ARG);
    /* nobody holds a row */
    expect_everywhere(tb_ridge_fit(MPI_COMM_WORLD, NULL, NULL, 0, 6, 2, 1e-3, W, b), TB_ERR_ARG);
    if (size > 1) { /* ranks disagreeing, only rank 0 wrong: on the width, on lambda_scale */
        expect_everywhere(tb_ridge_fit(MPI_COMM_WORLD, l.X, l.Y, l.count, rank == 0 ? 5 : 6, 2, 1e-3, W, NULL),
                          TB_ERR_SHAPE);
        expect_everywhere(tb_ridge_fit(MPI_COMM_WORLD, l.X, l.Y, l.count, 6, 2, rank == 0 ? 2e-3 : 1e-3, W, NULL),
                          TB_ERR_ARG);
    }

    /* a zero feature without a ridge term: XᵀX is singular wherever the rows are */
    for (long i = 0; i < l.count; i++) l.X[i * 6 + 3] = 0.0;
    expect_everywhere(tb_ridge_fit(MPI_COMM_WORLD, l.X, l.Y, l.count, 6, 2, 0.0, W, NULL), TB_ERR_NUMERIC);
    /* with an intercept a constant feature is the singular one; the ridge term repairs both */
    for (long i = 0; i < l.count; i++) l.X[i * 6 + 3] = 7.0;
    expect_everywhere(tb_ridge_fit(MPI_COMM_WORLD, l.X, l.Y, l.count, 6, 2, 0.0, W, b), TB_ERR_NUMERIC);
    expect_everywhere(tb_ridge_fit(MPI_COMM_WORLD, l.X, l.Y, l.count, 6, 2, 1e-3, W, b), TB_OK);

    /* a label out of range on one rank only (the last one holding rows) */
    int holder = -1;
    for (int q = 0; q < size; q++)
        if (uneven_rows(50, 1, q, size) > 0) holder = q;
    if (rank == holder) l.labels[l.count - 1] = 2;
    expect_everywhere(tb_probe_fit_classes(MPI_COMM_WORLD, l.X, l.labels, l.count, 6, 2, W, b), TB_ERR_ARG);
    free_local(&l);
    tb_free(p.truth);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_well_conditioned),
        cmocka_unit_test(test_ill_conditioned),
        cmocka_unit_test(test_intercept),
        cmocka_unit_test(test_probe_accuracy_by_hand),
        cmocka_unit_test(test_probe_linear_labels),
        cmocka_unit_test(test_bad_input),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    MPI_Finalize();
    return rc;
}
