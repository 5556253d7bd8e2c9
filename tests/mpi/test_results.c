/*
 * test_results.c: the collective sweep results file (src/io/results.c), under mpiexec with 1, 2 and 4
 * ranks.
 *
 * A 10-point layout (three hyperparameter columns, two metrics, a curve, two sample sets, convention
 * and topology attributes) is written in rounds where the ranks finish different numbers of rows,
 * some none, and rows come out of order. After every write the transfer must have been collective
 * (actual I/O mode != 0, global no-collective cause 0). Rank 0 then reads the file back with serial
 * HDF5 and checks every value, every fill value of the pending rows, and every attribute; h5py reads
 * it too. Resume keeps the statuses, refuses another spec (accepted with restart) and another
 * layout; damaged files (text, random bytes, truncations, flipped bytes, foreign HDF5, bad status
 * values, a directory, a missing path) give an error naming the path on every rank and never a
 * crash; rows that are inconsistent are refused before anything is written; merging two slice
 * files gives the same datasets as one file written in one go.
 *
 * Every check that follows a collective call is agreed over all ranks (assert_all), so a failure on
 * one rank fails the test on all of them instead of leaving the others waiting.
 *
 * Expected noise: after the damaged-file test, HDF5 1.10.8 prints "HDF5: infinite loop closing
 * library ... FL,FL,..." at MPI_Finalize. Every file, dataset, attribute and property list is closed
 * by then (those packages shut down); HDF5 itself keeps one internal free-list block after a header
 * fails its checksum.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>
#include <mpi.h>

#include "core/core.h"
#include "io/io.h"

#define PATH_CAP 512
#define N_POINTS 10
#define N_STEPS 5
#define N_FORGET 4
#define N_RETAIN 3
#define FAILED_POINT 9
#define FAILURE_TEXT "loss became NaN at step 3"

static const char spec_yaml[] = "workload: unlearn\nmethod: [npo, ga]\nlr: [0.001, 0.01]\nseeds: 5\n";
static const char spec_canonical[] = "workload: unlearn\nmodel: tiny\nmethod: [npo, ga]\nlr: [0.001, 0.01]\nseeds: 5\n";
static const char spec_other[] = "workload: unlearn\nmodel: tiny\nmethod: [npo, ga]\nlr: [0.001, 0.02]\nseeds: 5\n";

static int rank, size;
static char tmpdir[256];

static const char *tmp_path(char *buf, const char *name) {
    snprintf(buf, PATH_CAP, "%s/%s", tmpdir, name);
    return buf;
}

/* The same verdict on every rank. */
static int all_true(int ok) {
    int all = 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    return all;
}
#define assert_all(cond) assert_true(all_true((cond) ? 1 : 0))

/* Rank 0's verdict (from a serial check), on every rank. */
static int from_rank0(int ok) {
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return ok;
}

/* rc must be code and the message must contain every needle; the error record is cleared after. */
static int error_is(int rc, int code, const char *needle1, const char *needle2) {
    const char *msg = tb_error_message();
    int ok = rc == code && strstr(msg, needle1) && (!needle2 || strstr(msg, needle2));
    if (!ok) fprintf(stderr, "[rank %d] expected error %d with '%s', got %d: %s\n", rank, code, needle1, rc, msg);
    tb_error_clear();
    return ok;
}

/* ------------------------------------------------------------------------------------------------
 * fixtures: the layout and the rows, each a pure function of its point */

static void make_layout(tb_results_layout *L, const char *canonical) {
    tb_results_layout_init(L, N_POINTS, 1, spec_yaml, canonical);
    assert_int_equal(tb_results_add_column(L, "lr", TB_COLUMN_FLOAT64, 0), TB_OK);
    assert_int_equal(tb_results_add_column(L, "layers", TB_COLUMN_INT64, 0), TB_OK);
    assert_int_equal(tb_results_add_column(L, "optimizer", TB_COLUMN_STRING, 8), TB_OK);
    assert_int_equal(tb_results_add_metric(L, "forget_quality"), TB_OK);
    assert_int_equal(tb_results_add_metric(L, "model_utility"), TB_OK);
    assert_int_equal(tb_results_add_curve(L, "train_loss", N_STEPS), TB_OK);
    assert_int_equal(tb_results_add_samples(L, "forget", "loss", N_FORGET), TB_OK);
    assert_int_equal(tb_results_add_samples(L, "retain", "loss", N_RETAIN), TB_OK);
    assert_int_equal(tb_results_add_attr_string(L, "npo_normalisation", "mean"), TB_OK);
    assert_int_equal(tb_results_add_attr_number(L, "tpr_at_fpr", 0.01), TB_OK);
    assert_int_equal(tb_results_add_topology(L, "cores", "2"), TB_OK);
    assert_int_equal(tb_results_add_topology(L, "rank0.binding", "0-1"), TB_OK);
}

typedef struct {
    tb_results_row row;
    tb_results_value values[3];
    double metrics[2];
    float curve[N_STEPS], forget[N_FORGET], retain[N_RETAIN];
    const float *curves[1], *samples[2];
} row_data;

static const char *method_of(long p) { return p % 2 ? "ga" : "npo"; }
static const char *optimizer_of(long p) { return p % 3 == 0 ? "adamw" : "sgd"; }
static double lr_of(long p) { return 0.001 * (double)(p + 1); }
static float curve_of(long p, int s) { return (float)p + 0.125f * (float)s; }
static float forget_of(long p, int i) { return (float)(p * 10 + i); }
static float retain_of(long p, int i) { return -(float)p - 0.5f * (float)i; }
static int retain_logged(long p) { return p % 2 == 0; } /* odd points pass no retain samples: NaN */

/* The failed point passes no metrics and no curve (NaN in the file), but its samples. */
static void make_row(row_data *d, long p) {
    int failed = p == FAILED_POINT;
    memset(d, 0, sizeof *d);
    for (int s = 0; s < N_STEPS; s++) d->curve[s] = curve_of(p, s);
    for (int i = 0; i < N_FORGET; i++) d->forget[i] = forget_of(p, i);
    for (int i = 0; i < N_RETAIN; i++) d->retain[i] = retain_of(p, i);
    d->metrics[0] = (double)p / 10.0;
    d->metrics[1] = 1.0 / (double)(p + 1);
    d->values[0].f = lr_of(p);
    d->values[1].i = p + 2;
    d->values[2].s = optimizer_of(p);
    d->curves[0] = failed ? NULL : d->curve;
    d->samples[0] = d->forget;
    d->samples[1] = retain_logged(p) ? d->retain : NULL;
    d->row = (tb_results_row){
        .point = p,
        .status = failed ? TB_POINT_FAILED : TB_POINT_DONE,
        .id = 1000 + p,
        .seed = 7 * p + 1,
        .method = method_of(p),
        .wall_time = 1.5 * (double)p + 0.25,
        .failure = failed ? FAILURE_TEXT : NULL,
        .values = d->values,
        .metrics = failed ? NULL : d->metrics,
        .curves = d->curves,
        .samples = d->samples,
    };
}

static int write_points(tb_results *r, const long *points, int n) {
    row_data *d = tb_calloc((size_t)(n ? n : 1), sizeof *d);
    tb_results_row *rows = tb_calloc((size_t)(n ? n : 1), sizeof *rows);
    for (int i = 0; i < n; i++) {
        make_row(&d[i], points[i]);
        rows[i] = d[i].row;
    }
    int rc = tb_results_write(r, rows, n);
    tb_free(rows);
    tb_free(d);
    return rc;
}

/* This rank's points in round k. Round 0: points 0-3 over all ranks but the last (which has none);
 * round 1: points 8..4, in that order, all on the last rank; round 2: the failed point on rank 0;
 * round 3: nobody has anything. With one rank, rank 0 has everything. */
static int plan_round(int round, long *points) {
    int n = 0, writers = size > 1 ? size - 1 : 1;
    if (round == 0)
        for (long p = 0; p < 4; p++)
            if (p % writers == rank) points[n++] = p;
    if (round == 1 && rank == size - 1)
        for (long p = 8; p >= 4; p--) points[n++] = p;
    if (round == 2 && rank == 0) points[n++] = FAILED_POINT;
    return n;
}

static int round_of(long p) { return p < 4 ? 0 : p < 9 ? 1 : 2; }

/* Writes round k and checks that every dataset write of it was collective. */
static void write_round(tb_results *r, int round) {
    long points[N_POINTS];
    int n = plan_round(round, points);
    assert_all(write_points(r, points, n) == TB_OK);
    int mode;
    uint32_t local, global;
    tb_results_last_io(r, &mode, &local, &global);
    if (mode == 0 || global != 0)
        fprintf(stderr, "[rank %d] round %d: io mode %d, causes local 0x%x global 0x%x\n", rank, round, mode, local,
                global);
    assert_all(mode != 0 && global == 0 && local == 0);
}

/* The statuses after rounds 0..last. */
static void expected_status(int last, int32_t *status) {
    for (long p = 0; p < N_POINTS; p++)
        status[p] = round_of(p) > last ? TB_POINT_PENDING : p == FAILED_POINT ? TB_POINT_FAILED : TB_POINT_DONE;
}

static void create_layout_file(const char *path, const char *canonical, tb_results **r) {
    tb_results_layout L;
    make_layout(&L, canonical);
    assert_all(tb_results_create(r, path, MPI_COMM_WORLD, &L) == TB_OK && *r != NULL);
    tb_results_layout_free(&L);
}

/* ------------------------------------------------------------------------------------------------
 * serial read-back (rank 0) */

static int n_bad;

static void bad(const char *fmt, ...) {
    if (n_bad++ >= 20) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "read-back: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void *read_dataset(hid_t f, const char *name, size_t *elem) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    if (d < 0) {
        bad("no dataset %s", name);
        return NULL;
    }
    hid_t t = H5Dget_type(d), s = H5Dget_space(d);
    *elem = H5Tget_size(t);
    size_t n = (size_t)H5Sget_simple_extent_npoints(s);
    void *buf = tb_malloc(n * *elem);
    if (H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) bad("cannot read %s", name);
    H5Sclose(s);
    H5Tclose(t);
    H5Dclose(d);
    return buf;
}

static void check_string(const char *name, long p, const char *field, size_t width, const char *want) {
    char expect[512] = {0};
    snprintf(expect, sizeof expect, "%s", want);
    if (memcmp(field, expect, width) != 0) bad("%s[%ld] = '%.*s', expected '%s'", name, p, (int)width, field, want);
}

static void check_double(const char *name, long p, double got, double want) {
    int same = isnan(want) ? isnan(got) : got == want;
    if (!same) bad("%s[%ld] = %.17g, expected %.17g", name, p, got, want);
}

static void check_floats(const char *name, long p, const float *got, int n, float (*want)(long, int), int logged) {
    for (int i = 0; i < n; i++) {
        float w = logged ? want(p, i) : NAN;
        int same = isnan(w) ? isnan(got[i]) : got[i] == w;
        if (!same) bad("%s[%ld][%d] = %g, expected %g", name, p, i, (double)got[i], (double)w);
    }
}

static void check_points_group(hid_t f, const int32_t *status) {
    size_t e_id, e_st, e_seed, e_m, e_lr, e_ly, e_opt, e_wt, e_fail;
    int64_t *id = read_dataset(f, "points/id", &e_id), *seed = read_dataset(f, "points/seed", &e_seed);
    int32_t *st = read_dataset(f, "points/status", &e_st);
    char *method = read_dataset(f, "points/method", &e_m), *opt = read_dataset(f, "points/optimizer", &e_opt);
    char *failure = read_dataset(f, "points/failure", &e_fail);
    double *lr = read_dataset(f, "points/lr", &e_lr), *wt = read_dataset(f, "points/wall_time", &e_wt);
    int64_t *layers = read_dataset(f, "points/layers", &e_ly);
    if (!id || !seed || !st || !method || !opt || !failure || !lr || !wt || !layers) return;
    if (e_id != 8 || e_seed != 8 || e_st != 4 || e_m != TB_RESULTS_METHOD_LEN || e_opt != 8 ||
        e_fail != TB_RESULTS_FAILURE_LEN || e_lr != 8 || e_wt != 8 || e_ly != 8)
        bad("element sizes %zu %zu %zu %zu %zu %zu %zu %zu %zu", e_id, e_seed, e_st, e_m, e_opt, e_fail, e_lr, e_wt,
            e_ly);
    for (long p = 0; p < N_POINTS; p++) {
        int pending = status[p] == TB_POINT_PENDING;
        if (st[p] != status[p]) bad("status[%ld] = %d, expected %d", p, st[p], status[p]);
        if (id[p] != (pending ? -1 : 1000 + p)) bad("id[%ld] = %lld", p, (long long)id[p]);
        if (seed[p] != (pending ? 0 : 7 * p + 1)) bad("seed[%ld] = %lld", p, (long long)seed[p]);
        if (layers[p] != (pending ? 0 : p + 2)) bad("layers[%ld] = %lld", p, (long long)layers[p]);
        check_double("lr", p, lr[p], pending ? NAN : lr_of(p));
        check_double("wall_time", p, wt[p], pending ? NAN : 1.5 * (double)p + 0.25);
        check_string("method", p, method + p * e_m, e_m, pending ? "" : method_of(p));
        check_string("optimizer", p, opt + p * e_opt, e_opt, pending ? "" : optimizer_of(p));
        check_string("failure", p, failure + p * e_fail, e_fail, status[p] == TB_POINT_FAILED ? FAILURE_TEXT : "");
    }
    tb_free(id), tb_free(seed), tb_free(st), tb_free(method), tb_free(opt), tb_free(failure);
    tb_free(lr), tb_free(wt), tb_free(layers);
}

static void check_value_groups(hid_t f, const int32_t *status) {
    size_t e_fq, e_mu, e_c, e_fo, e_re;
    double *fq = read_dataset(f, "metrics/forget_quality", &e_fq);
    double *mu = read_dataset(f, "metrics/model_utility", &e_mu);
    float *curve = read_dataset(f, "curves/train_loss", &e_c), *forget = read_dataset(f, "samples/forget/loss", &e_fo);
    float *retain = read_dataset(f, "samples/retain/loss", &e_re);
    if (!fq || !mu || !curve || !forget || !retain) return;
    if (e_fq != 8 || e_mu != 8 || e_c != 4 || e_fo != 4 || e_re != 4) bad("metric/curve/sample element sizes");
    for (long p = 0; p < N_POINTS; p++) {
        int pending = status[p] == TB_POINT_PENDING, measured = status[p] == TB_POINT_DONE;
        check_double("forget_quality", p, fq[p], measured ? (double)p / 10.0 : NAN);
        check_double("model_utility", p, mu[p], measured ? 1.0 / (double)(p + 1) : NAN);
        check_floats("train_loss", p, curve + p * N_STEPS, N_STEPS, curve_of, measured);
        check_floats("forget/loss", p, forget + p * N_FORGET, N_FORGET, forget_of, !pending);
        check_floats("retain/loss", p, retain + p * N_RETAIN, N_RETAIN, retain_of, !pending && retain_logged(p));
    }
    tb_free(fq), tb_free(mu), tb_free(curve), tb_free(forget), tb_free(retain);
}

static char *read_text_attr(hid_t loc, const char *name) {
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) {
        bad("no attribute %s", name);
        return NULL;
    }
    hid_t t = H5Aget_type(a);
    char *s = tb_malloc(H5Tget_size(t) + 1);
    if (H5Tget_class(t) != H5T_STRING || H5Aread(a, t, s) < 0) bad("attribute %s is not a string", name);
    H5Tclose(t);
    H5Aclose(a);
    return s;
}

static void check_text_attr(hid_t loc, const char *name, const char *want) {
    char *s = read_text_attr(loc, name);
    if (s && strcmp(s, want) != 0) bad("attribute %s = '%s', expected '%s'", name, s, want);
    tb_free(s);
}

static double read_number_attr(hid_t loc, const char *name) {
    double v = NAN;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0 || H5Aread(a, H5T_NATIVE_DOUBLE, &v) < 0) bad("attribute %s is not a number", name);
    if (a >= 0) H5Aclose(a);
    return v;
}

static void check_attributes(hid_t f, const char *canonical) {
    check_text_attr(f, "format", "trustbench-results");
    check_text_attr(f, "trustbench_version", TB_VERSION);
    check_text_attr(f, "trustbench_commit", tb_git_commit());
    check_text_attr(f, "spec_yaml", spec_yaml);
    check_text_attr(f, "spec_canonical", canonical);
    check_text_attr(f, "npo_normalisation", "mean");
    if (read_number_attr(f, "format_version") != 1) bad("format_version");
    if (read_number_attr(f, "mpi_size") != size) bad("mpi_size");
    if (read_number_attr(f, "ranks_per_point") != 1) bad("ranks_per_point");
    if (read_number_attr(f, "n_points") != N_POINTS) bad("n_points");
    if (read_number_attr(f, "tpr_at_fpr") != 0.01) bad("tpr_at_fpr");
    char *when = read_text_attr(f, "start_time");
    if (when && (strlen(when) != 20 || when[4] != '-' || when[10] != 'T' || when[19] != 'Z'))
        bad("start_time %s", when);
    tb_free(when);
    hid_t a = H5Aopen(f, "hostnames", H5P_DEFAULT), s = H5Aget_space(a);
    if (H5Sget_simple_extent_ndims(s) != 1 || H5Sget_simple_extent_npoints(s) != size)
        bad("hostnames is not [%d]", size);
    H5Sclose(s);
    H5Aclose(a);
    hid_t points = H5Gopen2(f, "points", H5P_DEFAULT), topo = H5Gopen2(f, "topology", H5P_DEFAULT);
    check_text_attr(points, "hyperparameters", "lr,layers,optimizer");
    check_text_attr(topo, "cores", "2");
    check_text_attr(topo, "rank0.binding", "0-1");
    H5Gclose(points);
    H5Gclose(topo);
}

/* Rank 0 reads path serially and checks every value and attribute; the verdict goes to all ranks. */
static int verify_file(const char *path, const int32_t *status, const char *canonical) {
    int ok = 1;
    if (rank == 0) {
        n_bad = 0;
        hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        if (f < 0) bad("cannot open %s", path);
        else {
            check_points_group(f, status);
            check_value_groups(f, status);
            check_attributes(f, canonical);
            H5Fclose(f);
        }
        ok = n_bad == 0;
    }
    return from_rank0(ok);
}

/* ------------------------------------------------------------------------------------------------
 * tests */

static void test_rounds_are_collective_and_read_back(void **state) {
    (void)state;
    char path[PATH_CAP];
    tmp_path(path, "rounds.h5");
    tb_results *r = NULL;
    create_layout_file(path, spec_canonical, &r);
    int32_t want[N_POINTS];
    expected_status(-1, want);
    assert_all(memcmp(tb_results_status(r), want, sizeof want) == 0);
    for (int round = 0; round < 4; round++) {
        write_round(r, round);
        expected_status(round, want);
        assert_all(memcmp(tb_results_status(r), want, sizeof want) == 0);
    }
    assert_all(tb_results_n_points(r) == N_POINTS && tb_results_count(r, TB_POINT_DONE) == N_POINTS - 1 &&
               tb_results_count(r, TB_POINT_FAILED) == 1 && tb_results_count(r, TB_POINT_PENDING) == 0);
    assert_all(tb_results_close(r) == TB_OK);
    assert_all(access(path, F_OK) == 0);
    char tmp[PATH_CAP + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_all(access(tmp, F_OK) != 0); /* the temporary name is gone */
    assert_all(verify_file(path, want, spec_canonical));
}

static const char h5py_script[] =
    "import sys, h5py, numpy as np\n"
    "path, size = sys.argv[1], int(sys.argv[2])\n"
    "n = np.arange(10)\n"
    "with h5py.File(path, 'r') as f:\n"
    "    p = f['points']\n"
    "    assert (p['id'][:] == 1000 + n).all()\n"
    "    assert p['status'].dtype == np.int32 and list(p['status'][:]) == [1] * 9 + [2]\n"
    "    assert p['optimizer'].dtype == np.dtype('S8')\n"
    "    assert [s.decode() for s in p['optimizer'][:]] == ['adamw' if i % 3 == 0 else 'sgd' for i in n]\n"
    "    assert p['method'].dtype == np.dtype('S64') and p['method'][1] == b'ga'\n"
    "    assert p['failure'][9].decode() == 'loss became NaN at step 3' and p['failure'][0] == b''\n"
    "    assert np.array_equal(p['lr'][:], 0.001 * (n + 1)) and (p['layers'][:] == n + 2).all()\n"
    "    m = f['metrics/forget_quality'][:]\n"
    "    assert m.dtype == np.float64 and np.isnan(m[9]) and np.array_equal(m[:9], n[:9] / 10.0)\n"
    "    c = f['curves/train_loss']\n"
    "    assert c.shape == (10, 5) and c.dtype == np.float32\n"
    "    assert np.array_equal(c[2], np.float32(2) + np.float32(0.125) * np.arange(5, dtype=np.float32))\n"
    "    assert f['samples/forget/loss'].shape == (10, 4) and np.isnan(f['samples/retain/loss'][1]).all()\n"
    "    assert f.attrs['format'] == b'trustbench-results' and len(f.attrs['hostnames']) == size\n"
    "    assert f.attrs['tpr_at_fpr'] == 0.01 and f.attrs['npo_normalisation'] == b'mean'\n"
    "    assert f['points'].attrs['hyperparameters'] == b'lr,layers,optimizer'\n"
    "    assert f['topology'].attrs['cores'] == b'2'\n"
    "print('h5py read the results file')\n";

/* 0 ok, 1 failed, 2 no h5py here */
static int run_h5py(const char *results) {
    if (system("/usr/bin/python3 -c 'import h5py' >/dev/null 2>&1") != 0) return 2;
    char script[PATH_CAP], cmd[3 * PATH_CAP];
    FILE *f = fopen(tmp_path(script, "read_results.py"), "w");
    if (!f) return 1;
    fputs(h5py_script, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s %d", script, results, size);
    return system(cmd) == 0 ? 0 : 1;
}

static void test_h5py_reads_columns(void **state) {
    (void)state;
    char path[PATH_CAP];
    tmp_path(path, "h5py.h5");
    tb_results *r = NULL;
    create_layout_file(path, spec_canonical, &r);
    for (int round = 0; round < 3; round++) write_round(r, round);
    assert_all(tb_results_close(r) == TB_OK);
    int verdict = rank == 0 ? run_h5py(path) : 0;
    MPI_Bcast(&verdict, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (verdict == 2) skip();
    assert_int_equal(verdict, 0);
}

static void test_resume_keeps_status(void **state) {
    (void)state;
    char path[PATH_CAP];
    tmp_path(path, "resume.h5");
    tb_results *r = NULL;
    create_layout_file(path, spec_canonical, &r);
    write_round(r, 0);
    assert_all(tb_results_close(r) == TB_OK);

    tb_results_layout L;
    make_layout(&L, spec_canonical);
    int32_t want[N_POINTS];
    expected_status(0, want);
    assert_all(tb_results_open(&r, path, MPI_COMM_WORLD, &L, 0) == TB_OK && r != NULL);
    assert_all(memcmp(tb_results_status(r), want, sizeof want) == 0);
    assert_all(tb_results_count(r, TB_POINT_DONE) == 4 && tb_results_count(r, TB_POINT_PENDING) == 6);
    write_round(r, 1);
    write_round(r, 2);
    assert_all(tb_results_close(r) == TB_OK);
    expected_status(2, want);
    assert_all(verify_file(path, want, spec_canonical));

    /* a resumed run must not write a finished point again */
    assert_all(tb_results_open(&r, path, MPI_COMM_WORLD, &L, 0) == TB_OK);
    long again = 3;
    int rc = write_points(r, &again, rank == 0 ? 1 : 0);
    assert_all(error_is(rc, TB_ERR_ARG, "point 3", "already done"));
    assert_all(tb_results_close(r) == TB_OK);
    assert_all(verify_file(path, want, spec_canonical));
    tb_results_layout_free(&L);
}

static void test_other_spec_refused_unless_restart(void **state) {
    (void)state;
    char path[PATH_CAP];
    tmp_path(path, "spec.h5");
    tb_results *r = NULL;
    create_layout_file(path, spec_canonical, &r);
    write_round(r, 0);
    assert_all(tb_results_close(r) == TB_OK);

    tb_results_layout L;
    make_layout(&L, spec_other);
    r = (tb_results *)&r; /* must be reset to NULL on failure */
    int rc = tb_results_open(&r, path, MPI_COMM_WORLD, &L, 0);
    assert_all(r == NULL && error_is(rc, TB_ERR_ARG, path, "different spec (line 4: the file has 'lr: [0.001, 0.01]' "
                                                             "but this run has 'lr: [0.001, 0.02]')"));
    assert_all(tb_results_open(&r, path, MPI_COMM_WORLD, &L, 1) == TB_OK && r == NULL);
    tb_results_layout_free(&L);

    /* the same spec with another set of datasets: a file of another trustbench version */
    make_layout(&L, spec_canonical);
    assert_int_equal(tb_results_add_metric(&L, "extra"), TB_OK);
    rc = tb_results_open(&r, path, MPI_COMM_WORLD, &L, 1);
    assert_all(r == NULL && error_is(rc, TB_ERR_FORMAT, path, "/metrics/extra"));
    tb_results_layout_free(&L);
    make_layout(&L, spec_canonical);
    assert_int_equal(tb_results_add_curve(&L, "gap", 3), TB_OK);
    L.curves[0].len = N_STEPS + 1; /* train_loss logged one more step than the file has */
    rc = tb_results_open(&r, path, MPI_COMM_WORLD, &L, 0);
    assert_all(r == NULL && error_is(rc, TB_ERR_FORMAT, "/curves/train_loss", "(10, 6)"));
    tb_results_layout_free(&L);

    /* the refused opens left the file as it was */
    make_layout(&L, spec_canonical);
    assert_all(tb_results_open(&r, path, MPI_COMM_WORLD, &L, 0) == TB_OK && r != NULL);
    assert_all(tb_results_count(r, TB_POINT_DONE) == 4);
    assert_all(tb_results_close(r) == TB_OK);
    tb_results_layout_free(&L);
}

/* ---- damaged files: rank 0 makes them, every rank opens them */

static long file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

static void copy_damaged(const char *from, const char *to, long keep, long flip_at) {
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    for (long i = 0; keep < 0 || i < keep; i++) {
        int c = fgetc(in);
        if (c == EOF) break;
        fputc(i == flip_at ? c ^ 0xFF : c, out);
    }
    fclose(in);
    fclose(out);
}

static void write_text(const char *path, const char *text, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(text, 1, n, f);
    fclose(f);
}

static void make_foreign_hdf5(const char *path) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t n = 4;
    hid_t s = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(f, "data", H5T_NATIVE_INT, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(d);
    H5Sclose(s);
    H5Fclose(f);
}

static void set_status(const char *path, long point, int32_t value) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "points/status", H5P_DEFAULT), fs = H5Dget_space(d);
    hsize_t start = (hsize_t)point, count = 1;
    hid_t ms = H5Screate_simple(1, &count, NULL);
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL);
    assert_true(H5Dwrite(d, H5T_NATIVE_INT32, ms, fs, H5P_DEFAULT, &value) >= 0);
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
    H5Fclose(f);
}

/* Every rank opens path; it must fail with code, naming the path, on all of them. */
static int open_fails(const char *path, const tb_results_layout *L, int code, const char *needle) {
    tb_results *r = NULL;
    int rc = tb_results_open(&r, path, MPI_COMM_WORLD, L, 1);
    return all_true(r == NULL && error_is(rc, code, path, needle));
}

static void test_damaged_files_give_clear_errors(void **state) {
    (void)state;
    char good[PATH_CAP], p[PATH_CAP];
    tmp_path(good, "good.h5");
    tb_results *r = NULL;
    create_layout_file(good, spec_canonical, &r);
    write_round(r, 0);
    assert_all(tb_results_close(r) == TB_OK);
    long n = file_size(good);
    assert_all(n > 1000);

    tb_results_layout L;
    make_layout(&L, spec_canonical);
    static const char text[] = "point,status\n0,done\n1,pending\n";
    if (rank == 0) write_text(tmp_path(p, "text.h5"), text, sizeof text - 1);
    MPI_Barrier(MPI_COMM_WORLD);
    assert_true(open_fails(tmp_path(p, "text.h5"), &L, TB_ERR_FORMAT, "not an HDF5 file"));

    if (rank == 0) {
        char noise[4096];
        tb_rng g = tb_rng_make(42, 0);
        for (size_t i = 0; i < sizeof noise; i++) noise[i] = (char)tb_rng_u32(&g);
        write_text(tmp_path(p, "noise.h5"), noise, sizeof noise);
        make_foreign_hdf5(tmp_path(p, "foreign.h5"));
        mkdir(tmp_path(p, "adir"), 0700);
        copy_damaged(good, tmp_path(p, "status7.h5"), -1, -1);
        set_status(p, 5, 7);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    assert_true(open_fails(tmp_path(p, "noise.h5"), &L, TB_ERR_FORMAT, "not an HDF5 file"));
    assert_true(open_fails(tmp_path(p, "foreign.h5"), &L, TB_ERR_FORMAT, "not a trustbench results file"));
    assert_true(open_fails(tmp_path(p, "adir"), &L, TB_ERR_IO, "is a directory"));
    assert_true(open_fails(tmp_path(p, "missing.h5"), &L, TB_ERR_IO, "No such file"));
    assert_true(open_fails(tmp_path(p, "status7.h5"), &L, TB_ERR_FORMAT, "/points/status[5] = 7"));

    /* truncated anywhere: the signature alone, mid-metadata, mid-data, one byte short */
    const long cuts[] = {8, 600, n / 2, n - 1};
    tmp_path(p, "cut.h5");
    for (int i = 0; i < 4; i++) {
        if (rank == 0) copy_damaged(good, p, cuts[i], -1);
        MPI_Barrier(MPI_COMM_WORLD);
        tb_results *c = NULL;
        int rc = tb_results_open(&c, p, MPI_COMM_WORLD, &L, 0);
        int named = strstr(tb_error_message(), p) != NULL;
        tb_error_clear();
        assert_all(c == NULL && rc == TB_ERR_FORMAT && named);
    }

    /* one flipped byte at 48 places: an error naming the file or a file that opens, never a crash */
    int n_refused = 0;
    tmp_path(p, "flip.h5");
    for (int i = 0; i < 48; i++) {
        if (rank == 0) copy_damaged(good, p, -1, (long)i * n / 48);
        MPI_Barrier(MPI_COMM_WORLD);
        tb_results *c = NULL;
        int rc = tb_results_open(&c, p, MPI_COMM_WORLD, &L, 0);
        int named = strstr(tb_error_message(), p) != NULL;
        tb_error_clear();
        if (rc == TB_OK) assert_all(tb_results_close(c) == TB_OK);
        else assert_all(c == NULL && named);
        n_refused += rc != TB_OK;
    }
    assert_all(n_refused > 0); /* the superblock at offset 0 at least is checksummed */

    /* and the good file still opens */
    assert_all(tb_results_open(&r, good, MPI_COMM_WORLD, &L, 0) == TB_OK);
    assert_all(tb_results_count(r, TB_POINT_DONE) == 4);
    assert_all(tb_results_close(r) == TB_OK);
    tb_results_layout_free(&L);
}

static void test_inconsistent_rows_are_refused(void **state) {
    (void)state;
    char path[PATH_CAP];
    tmp_path(path, "rows.h5");
    tb_results *r = NULL;
    create_layout_file(path, spec_canonical, &r);

    /* the same point from two ranks (a group whose non-leaders also wrote), or twice from one */
    long dup[2] = {2, 2};
    int rc = write_points(r, dup, size > 1 ? (rank < 2 ? 1 : 0) : 2);
    assert_all(error_is(rc, TB_ERR_ARG, "point 2 was passed by rank 0 and by rank", "same round"));

    long outside = N_POINTS;
    rc = write_points(r, &outside, rank == size - 1 ? 1 : 0);
    assert_all(error_is(rc, TB_ERR_ARG, "outside [0, 10)", NULL));

    row_data d;
    make_row(&d, 1);
    d.row.status = TB_POINT_PENDING;
    rc = tb_results_write(r, &d.row, rank == 0 ? 1 : 0);
    assert_all(error_is(rc, TB_ERR_ARG, "point 1 has status 0", NULL));

    make_row(&d, 1);
    d.values[2].s = "adamw-with-a-long-name"; /* the column holds 8 bytes */
    rc = tb_results_write(r, &d.row, rank == 0 ? 1 : 0);
    assert_all(error_is(rc, TB_ERR_ARG, "column optimizer is longer than its 8 bytes", NULL));

    /* a failure message longer than its column is cut at a character boundary: 255 ASCII bytes,
     * then a 2-byte character that does not fit */
    char long_failure[300];
    memset(long_failure, 'x', 255);
    memcpy(long_failure + 255, "\xc3\xa9tail", 7);
    make_row(&d, FAILED_POINT);
    d.row.failure = long_failure;
    assert_all(tb_results_write(r, &d.row, rank == 0 ? 1 : 0) == TB_OK);

    /* nothing of the refused rounds reached the file */
    int32_t want[N_POINTS] = {0};
    want[FAILED_POINT] = TB_POINT_FAILED;
    assert_all(memcmp(tb_results_status(r), want, sizeof want) == 0);
    assert_all(tb_results_close(r) == TB_OK);
    int ok = 1;
    if (rank == 0) {
        hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        size_t e_st, e_f;
        int32_t *st = read_dataset(f, "points/status", &e_st);
        char *failure = read_dataset(f, "points/failure", &e_f);
        ok = st && failure && memcmp(st, want, sizeof want) == 0 && e_f == 256 &&
             memcmp(failure + FAILED_POINT * e_f, long_failure, 255) == 0 && failure[FAILED_POINT * e_f + 255] == 0;
        tb_free(st);
        tb_free(failure);
        H5Fclose(f);
    }
    assert_true(from_rank0(ok));
}

static void test_layout_declaration(void **state) {
    (void)state;
    tb_results_layout L;
    tb_results_layout_init(&L, N_POINTS, 1, spec_yaml, spec_canonical);
    assert_true(error_is(tb_results_add_column(&L, "bad/name", TB_COLUMN_INT64, 0), TB_ERR_ARG, "bad/name", NULL));
    assert_true(error_is(tb_results_add_column(&L, ".hidden", TB_COLUMN_INT64, 0), TB_ERR_ARG, ".hidden", NULL));
    assert_true(error_is(tb_results_add_column(&L, "", TB_COLUMN_INT64, 0), TB_ERR_ARG, "invalid column name", NULL));
    assert_true(error_is(tb_results_add_column(&L, "status", TB_COLUMN_INT64, 0), TB_ERR_ARG, "reserved", NULL));
    assert_true(error_is(tb_results_add_column(&L, "opt", TB_COLUMN_STRING, 0), TB_ERR_ARG, "0 bytes", NULL));
    assert_int_equal(tb_results_add_column(&L, "lr", TB_COLUMN_FLOAT64, 0), TB_OK);
    assert_true(error_is(tb_results_add_column(&L, "lr", TB_COLUMN_INT64, 0), TB_ERR_ARG, "declared twice", NULL));
    assert_int_equal(tb_results_add_metric(&L, "auc"), TB_OK);
    assert_true(error_is(tb_results_add_metric(&L, "auc"), TB_ERR_ARG, "declared twice", NULL));
    assert_true(error_is(tb_results_add_curve(&L, "loss", 0), TB_ERR_ARG, "length 0", NULL));
    assert_true(error_is(tb_results_add_samples(&L, "", "loss", 3), TB_ERR_ARG, "split", NULL));
    assert_int_equal(tb_results_add_samples(&L, "forget", "loss", 3), TB_OK);
    assert_int_equal(tb_results_add_samples(&L, "retain", "loss", 3), TB_OK);
    assert_true(error_is(tb_results_add_samples(&L, "forget", "loss", 3), TB_ERR_ARG, "declared twice", NULL));
    assert_true(error_is(tb_results_add_attr_string(&L, "spec_yaml", "x"), TB_ERR_ARG, "reserved", NULL));
    assert_int_equal(tb_results_add_attr_number(&L, "rouge", 1.0), TB_OK);
    assert_true(error_is(tb_results_add_attr_string(&L, "rouge", "L"), TB_ERR_ARG, "declared twice", NULL));
    assert_int_equal(L.n_columns, 1);
    assert_int_equal(L.n_metrics, 1);
    assert_int_equal(L.n_samples, 2);
    assert_int_equal(L.n_attrs, 1);

    /* ranks that declared different layouts (a spec file that differs between nodes) */
    if (size > 1 && rank == 1) assert_int_equal(tb_results_add_metric(&L, "only_on_rank_1"), TB_OK);
    char path[PATH_CAP];
    tb_results *r = NULL;
    int rc = tb_results_create(&r, tmp_path(path, "mixed.h5"), MPI_COMM_WORLD, &L);
    if (size > 1) assert_all(r == NULL && error_is(rc, TB_ERR_ARG, "different results layouts", NULL));
    else assert_all(rc == TB_OK && tb_results_close(r) == TB_OK);
    tb_results_layout_free(&L);
    assert_null(L.columns);
}

/* ---- merge */

static void write_slice(const char *path, const char *canonical, int (*in_slice)(long)) {
    tb_results *r = NULL;
    create_layout_file(path, canonical, &r);
    long points[N_POINTS];
    int n = 0;
    for (long p = 0; p < N_POINTS; p++)
        if (in_slice(p) && p % size == rank) points[n++] = p;
    assert_all(write_points(r, points, n) == TB_OK);
    assert_all(tb_results_close(r) == TB_OK);
}

static int even(long p) { return p % 2 == 0; }
static int odd(long p) { return p % 2 == 1; }
static int zero_and_one(long p) { return p < 2; }

static const char *const all_datasets[] = {
    "points/id",           "points/status",         "points/seed",         "points/method",
    "points/lr",           "points/layers",         "points/optimizer",    "points/wall_time",
    "points/failure",      "metrics/forget_quality", "metrics/model_utility", "curves/train_loss",
    "samples/forget/loss", "samples/retain/loss",
};

/* Every dataset of a equals b's, byte for byte (NaN included). */
static int same_datasets(const char *a, const char *b) {
    hid_t fa = H5Fopen(a, H5F_ACC_RDONLY, H5P_DEFAULT), fb = H5Fopen(b, H5F_ACC_RDONLY, H5P_DEFAULT);
    int same = fa >= 0 && fb >= 0;
    for (size_t i = 0; same && i < sizeof all_datasets / sizeof *all_datasets; i++) {
        hid_t da = H5Dopen2(fa, all_datasets[i], H5P_DEFAULT), db = H5Dopen2(fb, all_datasets[i], H5P_DEFAULT);
        hid_t sa = H5Dget_space(da), sb = H5Dget_space(db), ta = H5Dget_type(da);
        size_t bytes = (size_t)H5Sget_simple_extent_npoints(sa) * H5Tget_size(ta);
        unsigned char *ba = tb_malloc(bytes), *bb = tb_malloc(bytes);
        same = H5Sget_simple_extent_npoints(sa) == H5Sget_simple_extent_npoints(sb) &&
               H5Dread(da, ta, H5S_ALL, H5S_ALL, H5P_DEFAULT, ba) >= 0 &&
               H5Dread(db, ta, H5S_ALL, H5S_ALL, H5P_DEFAULT, bb) >= 0 && memcmp(ba, bb, bytes) == 0;
        if (!same) fprintf(stderr, "merge: %s differs\n", all_datasets[i]);
        tb_free(ba), tb_free(bb);
        H5Tclose(ta), H5Sclose(sa), H5Sclose(sb), H5Dclose(da), H5Dclose(db);
    }
    if (fa >= 0) H5Fclose(fa);
    if (fb >= 0) H5Fclose(fb);
    return same;
}

static void test_merge_equals_one_go(void **state) {
    (void)state;
    char whole[PATH_CAP], a[PATH_CAP], b[PATH_CAP], c[PATH_CAP], d[PATH_CAP], merged[PATH_CAP];
    tmp_path(whole, "whole.h5");
    tb_results *r = NULL;
    create_layout_file(whole, spec_canonical, &r);
    for (int round = 0; round < 3; round++) write_round(r, round);
    assert_all(tb_results_close(r) == TB_OK);
    write_slice(tmp_path(a, "slice_a.h5"), spec_canonical, even);
    write_slice(tmp_path(b, "slice_b.h5"), spec_canonical, odd);
    write_slice(tmp_path(c, "slice_c.h5"), spec_canonical, zero_and_one);
    write_slice(tmp_path(d, "slice_d.h5"), spec_other, odd);
    tmp_path(merged, "merged.h5");

    int ok = 1; /* merge is serial: rank 0 runs it */
    if (rank == 0) {
        char bad_out[PATH_CAP], foreign[PATH_CAP];
        tmp_path(bad_out, "bad.h5");
        make_foreign_hdf5(tmp_path(foreign, "foreign_slice.h5"));
        const char *ab[] = {a, b}, *ac[] = {a, c}, *ad[] = {a, d}, *self[] = {a, merged}, *af[] = {a, foreign};
        ok = tb_results_merge(merged, ab, 2) == TB_OK && same_datasets(merged, whole);
        hid_t f = H5Fopen(merged, H5F_ACC_RDONLY, H5P_DEFAULT);
        char *from = f >= 0 ? read_text_attr(f, "merged_from") : NULL;
        char want_from[2 * PATH_CAP + 2];
        snprintf(want_from, sizeof want_from, "%s\n%s", a, b);
        ok = ok && from && strcmp(from, want_from) == 0;
        tb_free(from);
        if (f >= 0) H5Fclose(f);
        ok = ok && error_is(tb_results_merge(bad_out, ac, 2), TB_ERR_ARG, "point 0 is finished in both", "slice_c.h5");
        ok = ok && access(bad_out, F_OK) != 0; /* a refused merge leaves no output */
        ok = ok && error_is(tb_results_merge(bad_out, ad, 2), TB_ERR_ARG, "different specs", "slice_d.h5");
        ok = ok && error_is(tb_results_merge(merged, self, 2), TB_ERR_ARG, "is one of its inputs", NULL);
        ok = ok && error_is(tb_results_merge(bad_out, af, 2), TB_ERR_FORMAT, "not a trustbench results file",
                            "foreign_slice.h5");
        ok = ok && access(bad_out, F_OK) != 0;
    }
    assert_true(from_rank0(ok));
}

/* ------------------------------------------------------------------------------------------------ */

/* A test that failed half-way may leave an error record; the next one starts clean. */
static int clear_errors(void **state) {
    (void)state;
    tb_error_clear();
    return 0;
}

static void remove_tree(const char *dir) {
    DIR *dd = opendir(dir);
    if (!dd) return;
    struct dirent *e;
    char p[PATH_CAP];
    while ((e = readdir(dd)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) remove_tree(p);
        else unlink(p);
    }
    closedir(dd);
    rmdir(dir);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    tb_log_init(rank, TB_LOG_ERROR);
    if (rank == 0) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/tb_results_XXXXXX");
        if (!mkdtemp(tmpdir)) tmpdir[0] = '\0';
    }
    MPI_Bcast(tmpdir, sizeof tmpdir, MPI_CHAR, 0, MPI_COMM_WORLD);
    if (!tmpdir[0]) {
        fprintf(stderr, "cannot create a directory under /tmp\n");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_layout_declaration, clear_errors),
        cmocka_unit_test_setup(test_rounds_are_collective_and_read_back, clear_errors),
        cmocka_unit_test_setup(test_h5py_reads_columns, clear_errors),
        cmocka_unit_test_setup(test_resume_keeps_status, clear_errors),
        cmocka_unit_test_setup(test_other_spec_refused_unless_restart, clear_errors),
        cmocka_unit_test_setup(test_damaged_files_give_clear_errors, clear_errors),
        cmocka_unit_test_setup(test_inconsistent_rows_are_refused, clear_errors),
        cmocka_unit_test_setup(test_merge_equals_one_go, clear_errors),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) remove_tree(tmpdir);
    MPI_Finalize();
    return failed ? 1 : 0;
}
