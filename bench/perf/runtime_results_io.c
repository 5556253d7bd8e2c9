/*
 * runtime_results_io.c: what writing a sweep's metrics into the results file costs. 10,000 points,
 * each with 8 metrics, a 100-step loss curve and the point columns (id, seed, method, two swept
 * hyperparameters, wall time, failure, status), are written in rounds with tb_results_write, the
 * runtime's one write path, into a fresh file per repetition:
 *
 *   2 ranks  split     every rank passes its share of each round's rows, interleaved by point as the
 *                      sweep's groups take them (collective MPI-IO, both ranks write);
 *            halves    every rank passes a contiguous half of each round's rows (tells the cost of
 *                      interleaving from the cost of a second writer);
 *            rank0     rank 0 passes all of a round's rows, the other rank none (same API);
 *   1 rank   one-rank  the same API on a single process (MPI-IO without a partner);
 *            serial    plain HDF5 (sec2 driver, no MPI) writing the same datasets, types and layout
 *                      (contiguous, allocated early, 1 MiB alignment) in the same order with the same
 *                      two flushes per round: the floor the runtime's path is measured against;
 *            serial+fsync  the same, with fsync after each flush.
 *
 * Per round: the slowest rank's time in the write call, after a barrier. Per repetition: create,
 * the sum of the rounds, close, and then an fsync of the closed file by rank 0, which tells how much
 * was still only in the page cache. The page cache is not dropped (the machine is shared), so the
 * write figures are those of the HDF5 / MPI-IO path into memory unless the write path itself syncs.
 * MB/s counts the row payload as the file stores it (see row_bytes). The lines starting with
 * "result" are machine-readable; runtime_run.sh reads them.
 */
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io/io.h"
#include "runtime_common.h"

enum { SCHEDULE_LEN = 16, ALIGN = 1 << 20 };

typedef struct {
    int points, rounds, metrics, curve, reps;
    const char *dir;
} bench_opts;

static const char usage[] =
    "usage: mpirun -n 1|2 bench_runtime_results_io DIR [--points n] [--rounds n] [--metrics n] [--curve n] [--reps n]\n"
    "  writes results files into DIR (removed afterwards); defaults: --points 10000 --rounds 100 --metrics 8\n"
    "  --curve 100 --reps 5. 2 ranks: modes split, halves and rank0; 1 rank: one-rank, serial, serial+fsync\n";

/* ---- the points ------------------------------------------------------------------------------ */

/* One round's rows with the storage they point into. */
typedef struct {
    tb_results_row *rows;
    tb_results_value *values; /* [n][2]: lr, schedule */
    double *metrics;          /* [n][metrics] */
    float *curves;            /* [n][curve] */
    const float **curve_ptr;  /* [n] */
    int n, cap;
} round_rows;

static void round_rows_alloc(round_rows *r, int cap, const bench_opts *o) {
    memset(r, 0, sizeof *r);
    r->cap = cap;
    r->rows = tb_calloc((size_t)cap, sizeof *r->rows);
    r->values = tb_calloc((size_t)cap * 2, sizeof *r->values);
    r->metrics = tb_calloc((size_t)cap * (size_t)o->metrics, sizeof *r->metrics);
    r->curves = tb_calloc((size_t)cap * (size_t)o->curve, sizeof *r->curves);
    r->curve_ptr = tb_calloc((size_t)cap, sizeof *r->curve_ptr);
}

static void round_rows_free(round_rows *r) {
    tb_free(r->rows);
    tb_free(r->values);
    tb_free(r->metrics);
    tb_free(r->curves);
    tb_free(r->curve_ptr);
}

/* Appends point p with made-up but plausible values: a decaying curve, metrics near 1. */
static void add_point(round_rows *r, long p, const bench_opts *o) {
    TB_ASSERT(r->n < r->cap);
    int i = r->n++;
    static const char *const schedules[] = {"cosine", "constant"};
    r->values[2 * i].f = 1e-3 * (double)(1 + p % 4);
    r->values[2 * i + 1].s = schedules[p % 2];
    double *m = r->metrics + (size_t)i * o->metrics;
    for (int k = 0; k < o->metrics; k++) m[k] = 1.0 / (1.0 + (double)k) + 1e-4 * (double)p;
    float *c = r->curves + (size_t)i * o->curve;
    for (int s = 0; s < o->curve; s++) c[s] = 5.0f / (1.0f + 0.05f * (float)s) + 1e-5f * (float)p;
    r->curve_ptr[i] = c;
    r->rows[i] = (tb_results_row){.point = p, .status = TB_POINT_DONE, .id = p, .seed = p % 7, .method = "lm",
                                  .wall_time = 12.5 + 0.01 * (double)p, .failure = NULL, .values = &r->values[2 * i],
                                  .metrics = m, .curves = &r->curve_ptr[i], .samples = NULL};
}

/* Which of a round's points a rank passes. */
typedef enum {
    ROWS_NONE,        /* none: a rank that finished no point this round */
    ROWS_ALL,         /* all of them */
    ROWS_INTERLEAVED, /* every size-th point from its rank on, as the sweep's groups take a round's points */
    ROWS_HALVES       /* a contiguous 1/size of them */
} row_split;

/* The points of round k, [k*per, (k+1)*per) cut to n_points, that this rank passes. */
static void fill_round(round_rows *r, const bench_opts *o, int k, row_split split, int rank, int size) {
    long per = (o->points + o->rounds - 1) / o->rounds, lo = k * per, hi = lo + per < o->points ? lo + per : o->points;
    long n = hi - lo, b_lo = lo + n * rank / size, b_hi = lo + n * (rank + 1) / size;
    r->n = 0;
    for (long p = lo; p < hi; p++) {
        int mine = split == ROWS_ALL || (split == ROWS_INTERLEAVED && p % size == rank) ||
                   (split == ROWS_HALVES && p >= b_lo && p < b_hi);
        if (mine) add_point(r, p, o);
    }
}

/* Bytes one point takes in the file: id, seed (int64), method (64 bytes), lr (float64), schedule
 * (16 bytes), wall_time (float64), failure (256 bytes), the float64 metrics, the float32 curve and
 * the int32 status (results/README.md). */
static double row_bytes(const bench_opts *o) {
    return 8 + 8 + TB_RESULTS_METHOD_LEN + 8 + SCHEDULE_LEN + 8 + TB_RESULTS_FAILURE_LEN + 8.0 * o->metrics +
           4.0 * o->curve + 4;
}

/* ---- the runtime's path ---------------------------------------------------------------------- */

static int make_layout(tb_results_layout *L, const bench_opts *o) {
    tb_results_layout_init(L, o->points, 1, "bench: runtime_results_io\n", "bench: runtime_results_io\n");
    TB_CHECK(tb_results_add_column(L, "lr", TB_COLUMN_FLOAT64, 0));
    TB_CHECK(tb_results_add_column(L, "schedule", TB_COLUMN_STRING, SCHEDULE_LEN));
    for (int k = 0; k < o->metrics; k++) {
        char name[32];
        snprintf(name, sizeof name, "metric%d", k);
        TB_CHECK(tb_results_add_metric(L, name));
    }
    TB_CHECK(tb_results_add_curve(L, "loss", o->curve));
    return TB_OK;
}

typedef struct {
    double create, write, close, fsync; /* seconds of one repetition */
    double *round;                      /* [rounds] */
    int io_mode;                        /* tb_results_last_io of the last round */
} rep_times;

/* fsync of a closed file by one process: what the write path left in the page cache. */
static int fsync_seconds(const char *path, double *sec) {
    double t0 = tb_now();
    int fd = open(path, O_RDONLY);
    if (fd < 0) return TB_ERROR(TB_ERR_IO, "check that DIR is writable", "cannot open %s to fsync it", path);
    int rc = fsync(fd);
    close(fd);
    *sec = tb_now() - t0;
    if (rc != 0) return TB_ERROR(TB_ERR_IO, "check the file system", "fsync of %s failed", path);
    return TB_OK;
}

/* One repetition through tb_results_*, every rank passing the rows `split` gives it (rank0_alone:
 * rank 0 passes all, the others none). */
static int runtime_rep(MPI_Comm comm, const bench_opts *o, const tb_results_layout *L, const char *path,
                       row_split split, int rank0_alone, round_rows *rr, rep_times *t) {
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    tb_results *res;
    MPI_Barrier(comm);
    double t0 = tb_now();
    TB_CHECK(tb_results_create(&res, path, comm, L));
    t->create = rt_max_over(comm, tb_now() - t0);
    t->write = 0.0;
    int rc = TB_OK;
    for (int k = 0; k < o->rounds && rc == TB_OK; k++) {
        fill_round(rr, o, k, rank0_alone && rank != 0 ? ROWS_NONE : split, rank, size);
        MPI_Barrier(comm);
        t0 = tb_now();
        rc = tb_results_write(res, rr->rows, rr->n);
        t->round[k] = rt_max_over(comm, tb_now() - t0);
        t->write += t->round[k];
    }
    uint32_t local, global;
    tb_results_last_io(res, &t->io_mode, &local, &global);
    long done = tb_results_count(res, TB_POINT_DONE);
    MPI_Barrier(comm);
    t0 = tb_now();
    int crc = tb_results_close(res);
    t->close = rt_max_over(comm, tb_now() - t0);
    TB_CHECK(rc);
    TB_CHECK(crc);
    if (done != o->points)
        return TB_ERROR(TB_ERR_IO, "this is a results-file bug", "%s: %ld of %d points marked done after the writes",
                        path, done, o->points);
    t->fsync = 0.0;
    if (rank == 0) TB_CHECK(fsync_seconds(path, &t->fsync));
    return TB_OK;
}

/* ---- plain serial HDF5 ----------------------------------------------------------------------- */

typedef enum { F_ID, F_SEED, F_METHOD, F_LR, F_SCHEDULE, F_WALL, F_FAILURE, F_METRIC, F_CURVE, F_STATUS } field;

typedef struct {
    char path[64];
    field f;
    int index;     /* which metric */
    hid_t type;    /* native, or a NUL-padded string type owned here */
    size_t elem;   /* bytes per element */
    hsize_t len;   /* elements per point */
    hid_t dset;
} plain_ds;

static hid_t string_type(size_t width) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, width);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    return t;
}

/* The runtime's datasets in its write order; returns how many. */
static int plain_describe(plain_ds *ds, const bench_opts *o) {
    int n = 0;
    ds[n++] = (plain_ds){"points/id", F_ID, 0, H5T_NATIVE_INT64, 8, 1, -1};
    ds[n++] = (plain_ds){"points/seed", F_SEED, 0, H5T_NATIVE_INT64, 8, 1, -1};
    ds[n++] = (plain_ds){"points/method", F_METHOD, 0, string_type(TB_RESULTS_METHOD_LEN), TB_RESULTS_METHOD_LEN, 1, -1};
    ds[n++] = (plain_ds){"points/lr", F_LR, 0, H5T_NATIVE_DOUBLE, 8, 1, -1};
    ds[n++] = (plain_ds){"points/schedule", F_SCHEDULE, 0, string_type(SCHEDULE_LEN), SCHEDULE_LEN, 1, -1};
    ds[n++] = (plain_ds){"points/wall_time", F_WALL, 0, H5T_NATIVE_DOUBLE, 8, 1, -1};
    ds[n++] = (plain_ds){"points/failure", F_FAILURE, 0, string_type(TB_RESULTS_FAILURE_LEN), TB_RESULTS_FAILURE_LEN,
                         1, -1};
    for (int k = 0; k < o->metrics; k++) {
        ds[n] = (plain_ds){"", F_METRIC, k, H5T_NATIVE_DOUBLE, 8, 1, -1};
        snprintf(ds[n++].path, sizeof ds[0].path, "metrics/metric%d", k);
    }
    ds[n++] = (plain_ds){"curves/loss", F_CURVE, 0, H5T_NATIVE_FLOAT, 4, (hsize_t)o->curve, -1};
    ds[n++] = (plain_ds){"points/status", F_STATUS, 0, H5T_NATIVE_INT32, 4, 1, -1};
    return n;
}

static void pack_field(const plain_ds *d, const tb_results_row *row, unsigned char *dst) {
    int32_t status = row->status;
    const char *s = NULL;
    switch (d->f) {
    case F_ID: memcpy(dst, &row->id, 8); return;
    case F_SEED: memcpy(dst, &row->seed, 8); return;
    case F_LR: memcpy(dst, &row->values[0].f, 8); return;
    case F_WALL: memcpy(dst, &row->wall_time, 8); return;
    case F_METRIC: memcpy(dst, &row->metrics[d->index], 8); return;
    case F_CURVE: memcpy(dst, row->curves[0], d->len * sizeof(float)); return;
    case F_STATUS: memcpy(dst, &status, 4); return;
    case F_METHOD: s = row->method; break;
    case F_SCHEDULE: s = row->values[1].s; break;
    case F_FAILURE: s = row->failure; break;
    }
    memset(dst, 0, d->elem);
    if (s) memcpy(dst, s, strlen(s) < d->elem ? strlen(s) : d->elem);
}

static int plain_create(hid_t *file, plain_ds *ds, int n, const char *path, const bench_opts *o) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_alignment(fapl, ALIGN, ALIGN);
    H5Pset_create_intermediate_group(lcpl, 1);
    *file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (*file < 0) {
        H5Pclose(lcpl);
        return TB_ERROR(TB_ERR_HDF5, "check that DIR is writable", "cannot create %s", path);
    }
    int rc = TB_OK;
    for (int i = 0; i < n && rc == TB_OK; i++) {
        hsize_t dims[2] = {(hsize_t)o->points, ds[i].len};
        hid_t space = H5Screate_simple(ds[i].f == F_CURVE ? 2 : 1, dims, NULL);
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_layout(dcpl, H5D_CONTIGUOUS);
        H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
        ds[i].dset = H5Dcreate2(*file, ds[i].path, ds[i].type, space, lcpl, dcpl, H5P_DEFAULT);
        H5Pclose(dcpl);
        H5Sclose(space);
        if (ds[i].dset < 0) rc = TB_ERROR(TB_ERR_HDF5, "check disk space", "cannot create %s in %s", ds[i].path, path);
    }
    H5Pclose(lcpl);
    return rc;
}

/* H5Fflush, and with do_fsync an fsync of the file underneath (sec2: the handle is a file descriptor). */
static int plain_flush(hid_t file, int do_fsync) {
    if (H5Fflush(file, H5F_SCOPE_LOCAL) < 0) return TB_ERROR(TB_ERR_HDF5, "check disk space", "H5Fflush failed");
    if (!do_fsync) return TB_OK;
    int *fd = NULL;
    if (H5Fget_vfd_handle(file, H5P_DEFAULT, (void **)&fd) < 0 || fsync(*fd) != 0)
        return TB_ERROR(TB_ERR_IO, "check the file system", "fsync of the results file failed");
    return TB_OK;
}

/* The round's rows are consecutive points written by this one process: one hyperslab each. */
static int plain_write_round(hid_t file, const plain_ds *ds, int n, const round_rows *rr, unsigned char *buf,
                             int do_fsync) {
    for (int i = 0; i < n; i++) {
        const plain_ds *d = &ds[i];
        if (d->f == F_STATUS) TB_CHECK(plain_flush(file, do_fsync)); /* values before the status, as the runtime */
        size_t row = d->elem * d->len;
        for (int r = 0; r < rr->n; r++) pack_field(d, &rr->rows[r], buf + (size_t)r * row);
        hsize_t start[2] = {(hsize_t)rr->rows[0].point, 0}, count[2] = {(hsize_t)rr->n, d->len};
        int rank = d->f == F_CURVE ? 2 : 1;
        hid_t mspace = H5Screate_simple(rank, count, NULL), fspace = H5Dget_space(d->dset);
        herr_t e = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
        if (e >= 0) e = H5Dwrite(d->dset, d->type, mspace, fspace, H5P_DEFAULT, buf);
        H5Sclose(mspace);
        H5Sclose(fspace);
        if (e < 0) return TB_ERROR(TB_ERR_HDF5, "check disk space", "writing %s failed", d->path);
    }
    return plain_flush(file, do_fsync);
}

static int plain_rep(const bench_opts *o, const char *path, int do_fsync, round_rows *rr, rep_times *t) {
    plain_ds ds[32 + 16];
    if (o->metrics > 32) return TB_ERROR(TB_ERR_ARG, "use at most 32 metrics", "--metrics %d", o->metrics);
    int n = plain_describe(ds, o);
    hid_t file;
    double t0 = tb_now();
    int rc = plain_create(&file, ds, n, path, o);
    t->create = tb_now() - t0;
    size_t max_row = (size_t)o->curve * 4 > TB_RESULTS_FAILURE_LEN ? (size_t)o->curve * 4 : TB_RESULTS_FAILURE_LEN;
    unsigned char *buf = tb_malloc((size_t)rr->cap * max_row);
    t->write = 0.0;
    for (int k = 0; k < o->rounds && rc == TB_OK; k++) {
        fill_round(rr, o, k, ROWS_ALL, 0, 1);
        t0 = tb_now();
        rc = plain_write_round(file, ds, n, rr, buf, do_fsync);
        t->round[k] = tb_now() - t0;
        t->write += t->round[k];
    }
    tb_free(buf);
    t0 = tb_now();
    for (int i = 0; i < n; i++) {
        if (ds[i].dset >= 0) H5Dclose(ds[i].dset);
        if (ds[i].f == F_METHOD || ds[i].f == F_SCHEDULE || ds[i].f == F_FAILURE) H5Tclose(ds[i].type);
    }
    if (file >= 0 && H5Fclose(file) < 0 && rc == TB_OK)
        rc = TB_ERROR(TB_ERR_HDF5, "check disk space", "closing %s failed", path);
    t->close = tb_now() - t0;
    t->io_mode = -1;
    TB_CHECK(rc);
    TB_CHECK(fsync_seconds(path, &t->fsync));
    return TB_OK;
}

/* ---- driver ---------------------------------------------------------------------------------- */

typedef struct {
    const char *name;
    int plain;         /* plain serial HDF5 rather than tb_results */
    row_split split;   /* tb_results: the rows each rank passes */
    int rank0_alone;   /* tb_results: only rank 0 passes rows */
    int fsync;         /* plain: fsync after each flush */
    double *create, *write, *close, *fsync_s, *round; /* [reps], [reps], [reps], [reps], [reps * rounds] */
    int io_mode;
} mode_stats;

static void report(const mode_stats *m, const bench_opts *o, int size) {
    int nr = o->reps * o->rounds;
    double payload = row_bytes(o) * o->points, write = rt_median(m->write, o->reps);
    printf("result part=io mode=%s ranks=%d points=%d rounds=%d rows_per_round=%d payload_mb=%.2f create_ms=%.1f "
           "write_s=%.3f write_min_s=%.3f write_max_s=%.3f round_ms=%.2f round_max_ms=%.2f mb_s=%.1f close_ms=%.1f "
           "fsync_ms=%.1f io_mode=%d reps=%d\n",
           m->name, size, o->points, o->rounds, (o->points + o->rounds - 1) / o->rounds, payload / 1e6,
           rt_median(m->create, o->reps) * 1e3, write, rt_min(m->write, o->reps), rt_max(m->write, o->reps),
           rt_median(m->round, nr) * 1e3, rt_max(m->round, nr) * 1e3, payload / 1e6 / write,
           rt_median(m->close, o->reps) * 1e3, rt_median(m->fsync_s, o->reps) * 1e3, m->io_mode, o->reps);
}

static int bench_main(int argc, char **argv) {
    bench_opts o = {.points = 10000, .rounds = 100, .metrics = 8, .curve = 100, .reps = 5};
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return TB_OK;
    }
    if (argc < 2 || argv[1][0] == '-')
        return TB_ERROR(TB_ERR_ARG, "see --help", "the first argument must be the directory DIR");
    o.dir = argv[1];
    const rt_int_option opts[] = {{"--points", &o.points, 1}, {"--rounds", &o.rounds, 1},
                                  {"--metrics", &o.metrics, 1}, {"--curve", &o.curve, 1}, {"--reps", &o.reps, 1}};
    TB_CHECK(rt_parse_options(argc - 1, argv + 1, opts, (int)(sizeof opts / sizeof opts[0]), usage));
    if (o.rounds > o.points)
        return TB_ERROR(TB_ERR_ARG, "give at most as many rounds as points", "--rounds %d > --points %d", o.rounds,
                        o.points);
    MPI_Comm comm = MPI_COMM_WORLD;
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    TB_CHECK(rt_setup_and_print_env(comm, "runtime_results_io"));
    if (rank == 0)
        printf("# %d points in %d rounds: %.0f bytes a point as stored (%d metrics, %d-step curve, point columns); "
               "files in %s; page cache not dropped\n",
               o.points, o.rounds, row_bytes(&o), o.metrics, o.curve, o.dir);
    tb_results_layout L;
    TB_CHECK(make_layout(&L, &o));
    const mode_stats two[] = {{.name = "split", .split = ROWS_INTERLEAVED},
                              {.name = "halves", .split = ROWS_HALVES},
                              {.name = "rank0", .split = ROWS_ALL, .rank0_alone = 1}};
    const mode_stats one[] = {{.name = "one-rank", .split = ROWS_ALL},
                              {.name = "serial", .plain = 1},
                              {.name = "serial+fsync", .plain = 1, .fsync = 1}};
    enum { N_MODES = 3 };
    mode_stats ms[N_MODES];
    for (int m = 0; m < N_MODES; m++) {
        ms[m] = size == 1 ? one[m] : two[m];
        ms[m].create = tb_malloc((size_t)o.reps * sizeof(double));
        ms[m].write = tb_malloc((size_t)o.reps * sizeof(double));
        ms[m].close = tb_malloc((size_t)o.reps * sizeof(double));
        ms[m].fsync_s = tb_malloc((size_t)o.reps * sizeof(double));
        ms[m].round = tb_malloc((size_t)o.reps * (size_t)o.rounds * sizeof(double));
    }
    round_rows rr;
    round_rows_alloc(&rr, (o.points + o.rounds - 1) / o.rounds, &o);
    int rc = TB_OK;
    /* the modes take turns within every repetition, so a burst of load from elsewhere hits all alike */
    for (int r = 0; r < o.reps && rc == TB_OK; r++)
        for (int m = 0; m < N_MODES && rc == TB_OK; m++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/results-%s-%d.h5", o.dir, ms[m].name, r);
            rep_times t = {.round = ms[m].round + (size_t)r * o.rounds};
            if (ms[m].plain) rc = plain_rep(&o, path, ms[m].fsync, &rr, &t);
            else rc = runtime_rep(comm, &o, &L, path, ms[m].split, ms[m].rank0_alone, &rr, &t);
            ms[m].create[r] = t.create, ms[m].write[r] = t.write, ms[m].close[r] = t.close, ms[m].fsync_s[r] = t.fsync;
            ms[m].io_mode = t.io_mode;
            if (rank == 0) unlink(path);
        }
    if (rc == TB_OK && rank == 0)
        for (int m = 0; m < N_MODES; m++) report(&ms[m], &o, size);
    for (int m = 0; m < N_MODES; m++) {
        tb_free(ms[m].create);
        tb_free(ms[m].write);
        tb_free(ms[m].close);
        tb_free(ms[m].fsync_s);
        tb_free(ms[m].round);
    }
    round_rows_free(&rr);
    tb_results_layout_free(&L);
    TB_CHECK(rc);
    return TB_OK;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    if (bench_main(argc, argv) != TB_OK) {
        tb_error_report(stderr);
        MPI_Abort(MPI_COMM_WORLD, 1); /* the other ranks may be waiting in a collective */
    }
    MPI_Finalize();
    return 0;
}
