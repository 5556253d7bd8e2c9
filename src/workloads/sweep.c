/*
 * sweep.c: the runtime that drives a workload over a spec's points: groups of ranks, rounds, the
 * collective results file, resume, stop signals, failure isolation and progress.
 *
 * A round gives every group at most one pending point. After the round every rank calls one
 * collective write with the rows its group finished (the group leader passes the row), so the file
 * always records exactly the points that have finished. Then the world agrees on stopping: a stop
 * signal seen by any rank ends the run after that round, with the in-flight points checkpointed by
 * their groups, and the process exits with TB_EXIT_REQUEUE.
 */
#include <math.h>
#include <string.h>
#include <time.h>

#include "sys/sys.h"
#include "workloads.h"

/* ---- the results layout ---------------------------------------------------------------------- */

/* The widest value a string column takes over all points, plus its NUL. */
static int string_width(const tb_spec *s, const char *key) {
    int w = 2;
    for (int p = 0; p < s->n_points; p++) {
        int n = (int)strlen(tb_spec_string(s, p, key)) + 1;
        w = n > w ? n : w;
    }
    return w;
}

/* /topology: rank 0's machine, and every rank's host, binding and threads. The layout must be the
 * same on every rank, so the placements gathered on rank 0 are broadcast. */
static int add_topology(tb_results_layout *L, const tb_topology *topo, const tb_thread_plan *plan) {
    tb_sys_attr attrs[TB_TOPOLOGY_N_ATTRS];
    int size, n = tb_topology_attrs(attrs, topo);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    tb_rank_placement *rows = tb_malloc((size_t)size * sizeof *rows);
    int rc = tb_sys_gather_placement(rows, MPI_COMM_WORLD, 0, topo, plan);
    MPI_Bcast(rows, (int)((size_t)size * sizeof *rows), MPI_BYTE, 0, MPI_COMM_WORLD);
    for (int i = 0; i < n; i++) /* values only: the keys are pointers into each rank's own binary */
        MPI_Bcast(attrs[i].value, (int)sizeof attrs[i].value, MPI_CHAR, 0, MPI_COMM_WORLD);
    for (int i = 0; rc == TB_OK && i < n; i++)
        if (strcmp(attrs[i].key, "binding") != 0 && strcmp(attrs[i].key, "hostname") != 0)
            rc = tb_results_add_topology(L, attrs[i].key, attrs[i].value);
    if (rc == TB_OK) rc = tb_results_add_topology(L, "blas_config", tb_sys_blas_config());
    for (int r = 0; rc == TB_OK && r < size; r++) {
        char key[TB_RESULTS_NAME_MAX], val[TB_CPUSET_CAP + TB_HOSTNAME_CAP + 64];
        snprintf(key, sizeof key, "rank_%d", r);
        snprintf(val, sizeof val, "host=%s binding=%s blas_threads=%d omp_threads=%d", rows[r].hostname,
                 rows[r].binding, rows[r].blas_threads, rows[r].omp_threads);
        rc = tb_results_add_topology(L, key, val);
    }
    tb_free(rows);
    return rc;
}

static int build_layout(tb_results_layout *L, const tb_spec *s, const tb_workload *w, int K,
                        const tb_topology *topo, const tb_thread_plan *plan) {
    tb_results_layout_init(L, s->n_points, K, s->yaml, s->canonical);
    for (int i = 0; i < s->n_swept; i++) {
        const tb_spec_field *f = tb_spec_find(s, s->swept[i]);
        tb_column_type type = f->type == TB_SPEC_FLOAT ? TB_COLUMN_FLOAT64
                              : f->type == TB_SPEC_STRING ? TB_COLUMN_STRING : TB_COLUMN_INT64;
        TB_CHECK(tb_results_add_column(L, f->key, type, type == TB_COLUMN_STRING ? string_width(s, f->key) : 0));
    }
    for (int i = 0; i < w->n_metrics; i++) TB_CHECK(tb_results_add_metric(L, w->metrics[i]));
    int len = w->curve_len(s);
    for (int i = 0; i < w->n_curves; i++) TB_CHECK(tb_results_add_curve(L, w->curves[i], len > 0 ? len : 1));
    if (w->n_sample_sets > 0) {
        int *lens = tb_malloc((size_t)w->n_sample_sets * sizeof(int));
        w->sample_lens(s, lens);
        int rc = TB_OK;
        for (int i = 0; i < w->n_sample_sets && rc == TB_OK; i++)
            rc = tb_results_add_samples(L, w->sample_sets[i][0], w->sample_sets[i][1], lens[i] > 0 ? lens[i] : 1);
        tb_free(lens);
        TB_CHECK(rc);
    }
    TB_CHECK(tb_results_add_attr_string(L, "workload", w->name));
    for (int i = 0; w->conventions && w->conventions[i][0]; i++)
        TB_CHECK(tb_results_add_attr_string(L, w->conventions[i][0], w->conventions[i][1]));
    return add_topology(L, topo, plan);
}

/* ---- rows ------------------------------------------------------------------------------------ */

typedef struct {
    tb_point_out out;
    double *metrics;
    float *curve_buf;
    float **curves;
    float *sample_buf;
    float **samples;
    size_t n_sample_values;
    tb_results_value *values;
    int n_curves, curve_len;
    char method[TB_RESULTS_METHOD_LEN];
} point_buffers;

/* Sized from the results layout, so that the workload's size functions run once per sweep. */
static void buffers_init(point_buffers *b, const tb_workload *w, const tb_spec *s, const tb_results_layout *L) {
    memset(b, 0, sizeof *b);
    b->n_curves = w->n_curves;
    b->curve_len = L->n_curves > 0 ? L->curves[0].len : 1;
    b->metrics = tb_malloc(((size_t)w->n_metrics + 1) * sizeof(double));
    b->curve_buf = tb_malloc(((size_t)w->n_curves * b->curve_len + 1) * sizeof(float));
    b->curves = tb_malloc(((size_t)w->n_curves + 1) * sizeof(float *));
    b->values = tb_malloc(((size_t)s->n_swept + 1) * sizeof(tb_results_value));
    for (int i = 0; i < w->n_curves; i++) b->curves[i] = b->curve_buf + (size_t)i * b->curve_len;
    for (int i = 0; i < L->n_samples; i++) b->n_sample_values += (size_t)L->samples[i].len;
    b->sample_buf = tb_malloc((b->n_sample_values + 1) * sizeof(float));
    b->samples = tb_malloc(((size_t)L->n_samples + 1) * sizeof(float *));
    for (int i = 0, at = 0; i < L->n_samples; i++) {
        b->samples[i] = b->sample_buf + at;
        at += L->samples[i].len;
    }
}

static void buffers_reset(point_buffers *b, int n_metrics) {
    memset(&b->out, 0, sizeof b->out);
    for (int i = 0; i < n_metrics; i++) b->metrics[i] = NAN;
    for (size_t i = 0; i < (size_t)b->n_curves * b->curve_len; i++) b->curve_buf[i] = NAN;
    for (size_t i = 0; i < b->n_sample_values; i++) b->sample_buf[i] = NAN;
    b->out.metrics = b->metrics;
    b->out.curves = b->curves;
    b->out.samples = b->samples;
}

static void buffers_free(point_buffers *b) {
    tb_free(b->metrics);
    tb_free(b->curve_buf);
    tb_free(b->curves);
    tb_free(b->sample_buf);
    tb_free(b->samples);
    tb_free(b->values);
}

static void fill_values(tb_results_value *v, const tb_spec *s, int p) {
    for (int i = 0; i < s->n_swept; i++) {
        const tb_spec_field *f = tb_spec_find(s, s->swept[i]);
        if (f->type == TB_SPEC_FLOAT) v[i].f = tb_spec_float(s, p, f->key);
        else if (f->type == TB_SPEC_STRING) v[i].s = tb_spec_string(s, p, f->key);
        else if (f->type == TB_SPEC_BOOL) v[i].i = tb_spec_bool(s, p, f->key);
        else v[i].i = tb_spec_int(s, p, f->key);
    }
}

/* ---- scheduling ------------------------------------------------------------------------------ */

/* The largest group size dividing world that still gives every group a point when there are fewer
 * points than ranks; one rank per point otherwise. */
static int default_ranks_per_point(int world, int n_points) {
    if (n_points <= 0) return 1;
    int k = 1;
    for (int d = 1; d <= world; d++)
        if (world % d == 0 && world / d >= (n_points < world ? n_points : world)) k = d;
    return k;
}

static int parse_slice(const char *s, int *index, int *count) {
    if (!s) {
        *index = 0;
        *count = 1;
        return TB_OK;
    }
    char tail;
    if (sscanf(s, "%d/%d%c", index, count, &tail) != 2 || *count < 1 || *index < 0 || *index >= *count)
        return TB_ERROR(TB_ERR_ARG, "write --slice i/N with 0 <= i < N, e.g. --slice 0/4",
                        "invalid --slice '%s'", s);
    return TB_OK;
}

/* ---- the run --------------------------------------------------------------------------------- */

typedef struct {
    tb_spec spec;
    const tb_workload *w;
    tb_groups groups;
    tb_topology topo;
    tb_thread_plan plan;
    tb_results_layout layout;
    tb_results *results;
    tb_run_ctx ctx;
    int *pending; /* the run's points, which ctx.points shows the workload */
    int have_spec, have_groups, have_layout, prepared;
} sweep_state;

static int open_results(sweep_state *st, const tb_sweep_options *o) {
    int exists = st->groups.world_rank == 0 ? tb_file_exists(o->out) : 0;
    MPI_Bcast(&exists, 1, MPI_INT, 0, st->groups.world);
    if (exists) {
        TB_CHECK(tb_results_open(&st->results, o->out, st->groups.world, &st->layout, o->restart));
        if (st->results) {
            if (!o->quiet)
                tb_info("resuming %s: %ld of %ld points finished", o->out,
                        tb_results_count(st->results, TB_POINT_DONE) + tb_results_count(st->results, TB_POINT_FAILED),
                        tb_results_n_points(st->results));
            return TB_OK;
        }
        if (!o->quiet) tb_info("--restart: the spec changed; starting %s again", o->out);
    }
    return tb_results_create(&st->results, o->out, st->groups.world, &st->layout);
}

/* Points of this slice that are still pending, in id order. */
static int *pending_points(const sweep_state *st, int slice, int n_slices, int *n) {
    const int32_t *status = tb_results_status(st->results);
    long N = st->spec.n_points;
    long lo = N * slice / n_slices, hi = N * (slice + 1) / n_slices;
    int *list = tb_malloc((size_t)(hi - lo + 1) * sizeof(int));
    *n = 0;
    for (long p = lo; p < hi; p++)
        if (status[p] == TB_POINT_PENDING) list[(*n)++] = (int)p;
    return list;
}

static void print_progress(const sweep_state *st, int done_now, int total, double start, int running,
                           const point_buffers *b, int my_point) {
    if (st->ctx.quiet || st->groups.world_rank != 0) return;
    double el = tb_now() - start;
    double eta = done_now > 0 ? el / done_now * (total - done_now) : 0.0;
    char extra[96] = "";
    if (my_point >= 0 && b->curve_len > 0 && b->n_curves > 0) {
        float last = NAN;
        for (int i = 0; i < b->curve_len; i++)
            if (!isnan(b->curves[0][i])) last = b->curves[0][i];
        snprintf(extra, sizeof extra, ", point %d final loss %.4f", my_point, (double)last);
    }
    tb_info("sweep: %d/%d points finished, %d running, elapsed %.0f s, ETA %.0f s%s", done_now, total, running, el, eta,
            extra);
}

static int run_rounds(sweep_state *st, int *stopped) {
    const int *pending = st->ctx.points, n_pending = st->ctx.n_points;
    point_buffers b;
    buffers_init(&b, st->w, &st->spec, &st->layout);
    int G = st->groups.n_groups, rc = TB_OK;
    double start = tb_now();
    *stopped = 0;
    for (int round = 0; round * G < n_pending && rc == TB_OK && !*stopped; round++) {
        int slot = round * G + st->groups.group_id;
        int p = slot < n_pending ? pending[slot] : -1;
        int running = n_pending - round * G < G ? n_pending - round * G : G;
        tb_results_row row;
        int n_rows = 0;
        buffers_reset(&b, st->w->n_metrics);
        if (p >= 0) {
            double t0 = tb_now();
            rc = st->w->run_point(&st->ctx, p, &b.out);
            double wall = tb_now() - t0;
            if (rc == TB_OK && !b.out.interrupted && st->groups.group_rank == 0) {
                fill_values(b.values, &st->spec, p);
                if (st->w->method) st->w->method(&st->spec, p, b.method, sizeof b.method);
                else snprintf(b.method, sizeof b.method, "%s", st->w->name);
                row = (tb_results_row){.point = p, .status = b.out.failed ? TB_POINT_FAILED : TB_POINT_DONE,
                                       .id = p, .seed = st->spec.points[p].seed, .method = b.method,
                                       .wall_time = wall, .failure = b.out.failed ? b.out.message : NULL,
                                       .values = b.values, .metrics = b.metrics,
                                       .curves = (const float *const *)b.curves,
                                       .samples = (const float *const *)b.samples};
                n_rows = 1;
                if (b.out.failed) tb_warn("point %d failed: %s", p, b.out.message);
            }
        }
        /* a workload error on one group must not leave the others waiting in the write */
        int any_err = rc != TB_OK, err_world;
        MPI_Allreduce(&any_err, &err_world, 1, MPI_INT, MPI_LOR, st->groups.world);
        if (err_world) {
            if (rc == TB_OK) rc = TB_ERROR(TB_ERR_ARG, "see the other ranks' messages", "another group failed");
            break;
        }
        TB_CHECK(tb_results_write(st->results, &row, n_rows));
        /* the point's checkpoint is obsolete once its row is in the file */
        if (n_rows) {
            char state[4096];
            snprintf(state, sizeof state, "%s/point-%d.h5", st->ctx.state_dir, p);
            remove(state);
        }
        int finished = (int)(tb_results_count(st->results, TB_POINT_DONE) + tb_results_count(st->results, TB_POINT_FAILED));
        print_progress(st, finished, (int)st->spec.n_points, start, running, &b, st->groups.group_id == 0 ? p : -1);
        *stopped = tb_sys_stop_agreed(st->groups.world);
    }
    buffers_free(&b);
    return rc;
}

static void sweep_free(sweep_state *st) {
    if (st->prepared && st->w->release) st->w->release(&st->ctx);
    if (st->results) tb_results_close(st->results);
    if (st->have_layout) tb_results_layout_free(&st->layout);
    if (st->have_groups) tb_groups_free(&st->groups);
    if (st->have_spec) tb_spec_free(&st->spec);
    tb_free(st->pending);
}

int tb_sweep_run(const tb_sweep_options *o, int *exit_status) {
    sweep_state st;
    memset(&st, 0, sizeof st);
    *exit_status = 0;
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    int n_schemas, slice, n_slices;
    const tb_spec_schema *const *schemas = tb_workload_schemas(&n_schemas);
    TB_CHECK(parse_slice(o->slice, &slice, &n_slices));
    /* every rank validates; only rank 0 prints the list of problems */
    int rc = tb_spec_load(&st.spec, o->spec_path, schemas, n_schemas, rank == 0 ? stderr : NULL);
    st.have_spec = 1;
    if (rc != TB_OK) {
        sweep_free(&st);
        return rc;
    }
    st.w = tb_workload_find(st.spec.schema->workload);
    TB_ASSERT(st.w != NULL);
    int world;
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    if (o->dry_run) {
        if (rank == 0) tb_spec_print_points(stdout, &st.spec);
        sweep_free(&st);
        return TB_OK;
    }
    int K = o->ranks_per_point > 0 ? o->ranks_per_point
            : st.spec.ranks_per_point > 0 ? st.spec.ranks_per_point : default_ranks_per_point(world, st.spec.n_points);
    rc = tb_groups_split(&st.groups, MPI_COMM_WORLD, K);
    st.have_groups = rc == TB_OK;
    if (rc == TB_OK) rc = tb_topology_query(&st.topo);
    if (rc == TB_OK) rc = tb_sys_threads_setup(MPI_COMM_WORLD, &st.topo, &st.plan);
    /* warn once, from rank 0, if any node is oversubscribed */
    int over = rc == TB_OK && st.plan.oversubscribed, any_over = 0;
    MPI_Allreduce(&over, &any_over, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (any_over && rank == 0) {
        char warn[512];
        tb_sys_oversubscription_warning(warn, sizeof warn, st.plan.ranks_on_node, st.plan.cores);
        tb_warn("%s", warn);
    }
    if (rc == TB_OK) {
        rc = build_layout(&st.layout, &st.spec, st.w, K, &st.topo, &st.plan);
        st.have_layout = 1;
    }
    char state_dir[4096], cache_dir[4096];
    snprintf(state_dir, sizeof state_dir, "%s.points", o->out);
    snprintf(cache_dir, sizeof cache_dir, "%s", o->cache_dir);
    if (rc == TB_OK && rank == 0) rc = tb_make_dirs(state_dir);
    if (rc == TB_OK && rank == 0) rc = tb_make_dirs(cache_dir);
    MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (rc == TB_OK) rc = open_results(&st, o);
    if (rc == TB_OK && !o->quiet)
        tb_info("sweep %s: workload %s, %d points, %d groups of %d ranks, %d BLAS threads per rank", st.spec.name,
                st.w->name, st.spec.n_points, st.groups.n_groups, K, st.plan.blas_threads);
    st.ctx = (tb_run_ctx){.spec = &st.spec, .groups = &st.groups, .cache_dir = cache_dir, .state_dir = state_dir,
                          .quiet = o->quiet};
    if (rc == TB_OK) {
        st.pending = pending_points(&st, slice, n_slices, &st.ctx.n_points);
        st.ctx.points = st.pending;
    }
    if (rc == TB_OK) {
        rc = st.w->prepare(&st.ctx);
        st.prepared = 1;
    }
    int stopped = 0;
    if (rc == TB_OK) rc = run_rounds(&st, &stopped);
    if (rc == TB_OK && stopped) {
        *exit_status = TB_EXIT_REQUEUE;
        if (!o->quiet) tb_info("stop signal: points in flight are checkpointed in %s; run again to resume", state_dir);
    }
    sweep_free(&st);
    return rc;
}
