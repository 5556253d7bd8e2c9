/*
 * runtime_allreduce.c: how fast the gradient all-reduce is, and how much of it training hides
 * behind backward. Run with 2 ranks (mpirun -n 2 --bind-to core); part 1 also runs on any count.
 *
 * Part 1, bandwidth: MPI_Allreduce (float sum, out of place) from 4 KiB to --max-mib MiB, and the
 * same through MPI_Iallreduce + MPI_Wait, the non-blocking path the reducer takes. Bus bandwidth as
 * NCCL-tests define it, busbw = 2(P-1)/P * bytes / time, is what each rank's link carries, so it
 * compares across rank counts.
 *
 * Part 2, overlap in real steps: a gpt2 model trains data-parallel with tb_train_step, the
 * runtime's own step, once per bucket size. A probe wraps the reducer's on_grad_ready hook and the
 * objective, so that without touching the runtime each step yields
 *   backward    from the end of the objective to the embeddings' hook (what backward computes),
 *   hooks       time inside the reducer's hooks during backward: starting and testing the
 *               requests, which is the overlap's own cost and is part of backward,
 *   final hook  the reducer's hook after the embeddings (starts the last bucket: not hidden),
 *   wait        reducer.wait_seconds over the step: the final wait,
 *   blocking    after the step, an MPI_Allreduce of the same bytes alone.
 * The brief's hidden fraction is 1 - wait / blocking. But the wait of a rank that ends backward
 * early also holds the time it waits for the other rank to catch up (skew, load imbalance), so the
 * figure this file leads with is hidden = 1 - exposed / blocking, exposed being the time from the
 * last rank's end of backward to the end of the last wait (both use one monotonic clock of the
 * node). A reference run with no reduction at all (each rank trains its rows alone) gives what a
 * step costs without communication; paid = step - step_without is what the reduction really cost.
 *
 * Part 3, progress probe: Open MPI moves a non-blocking all-reduce only inside MPI calls, and the
 * reducer calls MPI_Test once per layer. Here an MPI_Iallreduce of a bucket's bytes (1 MiB, one
 * block, the whole gradient) is tested after every 2 ms of busy work until it completes: the count
 * says after how many layers a bucket can be done.
 *
 * Every time is the largest over the ranks; figures are medians over repetitions (steps). The lines
 * starting with "result" are machine-readable; runtime_run.sh reads them.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "runtime_common.h"
#include "sys/sys.h"

typedef struct {
    int reps, max_mib;
    int steps, warmup;
    int L, C, NH, V, T, B; /* B: rows per rank */
} bench_opts;

static const char usage[] =
    "usage: mpirun -n 2 bench_runtime_allreduce [--reps n] [--max-mib n] [--steps n] [--warmup n]\n"
    "                                           [--L n --C n --NH n --V n --T n --B n]\n"
    "  defaults: --reps 7 --max-mib 64 --steps 8 --warmup 2, gpt2 L=4 C=256 NH=4 V=4096 T=128 B=8 per rank\n"
    "  bucket sizes compared: 1, 4, 8 and 25 MiB, and no reduction at all (the reference)\n";

/* ---- part 1: bandwidth ----------------------------------------------------------------------- */

/* One call of the all-reduce under test: blocking, or non-blocking and waited for at once. */
static void allreduce_once(const float *send, float *recv, int n, MPI_Comm comm, int nonblocking) {
    if (!nonblocking) {
        MPI_Allreduce(send, recv, n, MPI_FLOAT, MPI_SUM, comm);
        return;
    }
    MPI_Request req;
    MPI_Iallreduce(send, recv, n, MPI_FLOAT, MPI_SUM, comm, &req);
    MPI_Wait(&req, MPI_STATUS_IGNORE);
}

/* Median (and in *fastest the minimum) over reps of the seconds one all-reduce of n floats takes,
 * the slowest rank's. A repetition times a batch of calls lasting about 20 ms, so that neither the
 * timer's resolution nor the barrier's skew between ranks weighs on small messages. */
static double allreduce_seconds(MPI_Comm comm, const float *send, float *recv, int n, int reps, int nonblocking,
                                double *fastest) {
    allreduce_once(send, recv, n, comm, nonblocking); /* first touch of the pages, connection set-up */
    MPI_Barrier(comm);
    double t0 = MPI_Wtime();
    allreduce_once(send, recv, n, comm, nonblocking);
    double once = rt_max_over(comm, MPI_Wtime() - t0); /* identical on every rank, so is calls */
    int calls = once >= 0.02 ? 1 : (int)(0.02 / (once > 1e-7 ? once : 1e-7)) + 1;
    double *t = tb_malloc((size_t)reps * sizeof(double));
    for (int r = 0; r < reps; r++) {
        MPI_Barrier(comm);
        t0 = MPI_Wtime();
        for (int c = 0; c < calls; c++) allreduce_once(send, recv, n, comm, nonblocking);
        t[r] = rt_max_over(comm, (MPI_Wtime() - t0) / calls);
    }
    double m = rt_median(t, reps);
    *fastest = rt_min(t, reps);
    tb_free(t);
    return m;
}

/* Blocking MPI_Allreduce (Open MPI's tuned collectives) against MPI_Iallreduce + MPI_Wait (libnbc,
 * what the reducer uses), at every size. */
static void bandwidth(MPI_Comm comm, const bench_opts *o, int rank, int size) {
    size_t max_n = (size_t)o->max_mib << 18; /* floats in max_mib MiB */
    float *send = tb_malloc(max_n * sizeof(float)), *recv = tb_malloc(max_n * sizeof(float));
    for (size_t i = 0; i < max_n; i++) send[i] = (float)(i % 251) * 0.01f;
    if (rank == 0)
        printf("# part 1: MPI_Allreduce and MPI_Iallreduce + MPI_Wait, float sum, out of place, %d ranks, median of %d\n",
               size, o->reps);
    for (size_t n = 1024; n <= max_n; n *= 2) {
        double sec_min, nb_min;
        double sec = allreduce_seconds(comm, send, recv, (int)n, o->reps, 0, &sec_min);
        double nb = allreduce_seconds(comm, send, recv, (int)n, o->reps, 1, &nb_min);
        double bytes = (double)n * sizeof(float);
        double algbw = bytes / sec / 1e9, busbw = algbw * 2.0 * (size - 1) / size;
        if (rank == 0)
            printf("result part=bw ranks=%d bytes=%.0f time_us=%.2f time_min_us=%.2f algbw_gbs=%.3f busbw_gbs=%.3f "
                   "nb_time_us=%.2f nb_time_min_us=%.2f nb_busbw_gbs=%.3f reps=%d\n",
                   size, bytes, sec * 1e6, sec_min * 1e6, algbw, busbw, nb * 1e6, nb_min * 1e6,
                   bytes / nb / 1e9 * 2.0 * (size - 1) / size, o->reps);
    }
    tb_free(send);
    tb_free(recv);
}

/* ---- part 2: overlap in training steps ------------------------------------------------------- */

typedef struct {
    void (*reducer_hook)(void *ctx, int l); /* the reducer's on_grad_ready; NULL without reduction */
    tb_grad_reducer *reducer;               /* its context */
    tb_objective inner;                     /* the step's real objective (sft) */
    double bwd_start, bwd_end;
    double hook_seconds;       /* in the reducer's hooks after the head and every block */
    double final_hook_seconds; /* in its hook after the embeddings, when backward's compute is over */
    double done_at_bwd_end;    /* bytes whose reduction had completed when backward's compute ended */
} step_probe;

static int probe_loss_and_grad(tb_objective *self, const tb_batch_view *bv, float grad_scale, double *loss,
                               int want_grad) {
    step_probe *p = self->ctx;
    int rc = p->inner.loss_and_grad(&p->inner, bv, grad_scale, loss, want_grad);
    p->bwd_start = tb_now(); /* tb_train_step runs the model's backward next */
    return rc;
}

/* Bytes of the buckets the reducer's last MPI_Test found complete (it resets their requests to
 * MPI_REQUEST_NULL); read without an MPI call, so the probe adds no progress of its own. */
static double bytes_done(const tb_grad_reducer *r) {
    double b = 0.0;
    for (int i = 0; i < r->n_buckets; i++)
        if (r->buckets[i].started && r->buckets[i].req == MPI_REQUEST_NULL)
            b += (double)(r->buckets[i].end - r->buckets[i].begin) * sizeof(float);
    return b;
}

static void probe_hook(void *ctx, int l) {
    step_probe *p = ctx;
    double t0 = tb_now();
    if (l == -1) {
        p->bwd_end = t0;
        p->done_at_bwd_end = p->reducer ? bytes_done(p->reducer) : 0.0;
    }
    if (p->reducer_hook) p->reducer_hook(p->reducer, l);
    double dt = tb_now() - t0;
    if (l == -1) p->final_hook_seconds += dt;
    else p->hook_seconds += dt;
}

/* Puts the probe between the run's model and its reducer hook, and around its objective. */
static void probe_install(step_probe *p, rt_gpt2_run *run) {
    memset(p, 0, sizeof *p);
    p->reducer_hook = run->model.on_grad_ready;
    p->reducer = run->have_dp ? &run->dp.reducer : NULL;
    TB_ASSERT(!run->have_dp || run->model.grad_ready_ctx == p->reducer);
    run->model.on_grad_ready = probe_hook;
    run->model.grad_ready_ctx = p;
    p->inner = run->objective;
    run->objective = (tb_objective){.name = "probe", .uses_logits = p->inner.uses_logits,
                                    .loss_and_grad = probe_loss_and_grad, .ctx = p};
}

/* Gives the model its reducer hook back, so that tb_dp_free finds and removes it. */
static void probe_remove(step_probe *p, rt_gpt2_run *run) {
    run->model.on_grad_ready = p->reducer_hook;
    run->model.grad_ready_ctx = p->reducer;
    run->objective = p->inner;
}

/* Per-step columns. Times are the largest over the ranks, except:
 *   skew     last minus first rank to end backward's compute (load imbalance, not communication),
 *   exposed  from the moment the last rank ends backward's compute to the end of the last wait:
 *            the reduction time no backward hid (the slowest rank's final hook and wait),
 *   done     share of the gradient bytes already reduced when backward's compute ended (least rank). */
enum { S_STEP, S_BWD, S_HOOKS, S_FINAL, S_WAIT, S_BLOCKING, S_SKEW, S_EXPOSED, S_DONE, S_COUNT };

typedef struct {
    double *v[S_COUNT]; /* [steps] */
    int n;
    int n_buckets;
    double grad_bytes, last_bucket_bytes; /* the last bucket starts only after backward */
} overlap_series;

/* One training step and, after it, a blocking all-reduce of the same bytes; fills column k (k < 0:
 * a warm-up step, not recorded). */
static int timed_step(MPI_Comm comm, rt_gpt2_run *run, step_probe *p, float *scratch, long step, overlap_series *s,
                      int k) {
    p->hook_seconds = p->final_hook_seconds = 0.0;
    double wait0 = run->have_dp ? run->dp.reducer.wait_seconds : 0.0;
    double loss;
    float norm;
    MPI_Barrier(comm);
    double t0 = tb_now();
    TB_CHECK(tb_train_step(&run->trainer, step, &loss, &norm));
    double t_step = tb_now() - t0;
    double wait = run->have_dp ? run->dp.reducer.wait_seconds - wait0 : 0.0;
    size_t n = run->model.params.numel;
    for (size_t i = 0; i < n; i++) scratch[i] = 1.0f; /* the same bytes, kept finite */
    MPI_Barrier(comm);
    double t1 = tb_now();
    MPI_Allreduce(MPI_IN_PLACE, scratch, (int)n, MPI_FLOAT, MPI_SUM, comm);
    double blocking = tb_now() - t1;
    if (k < 0) return TB_OK;
    /* tb_now is CLOCK_MONOTONIC, one clock for every process of the node, so ends compare across
     * ranks; the wait begins as the final hook returns (tb_dp_sync_grads follows backward at once) */
    double wait_end = p->bwd_end + p->final_hook_seconds + wait;
    enum { N = 10 };
    double local[N] = {t_step, p->bwd_end - p->bwd_start, p->hook_seconds, p->final_hook_seconds, wait, blocking,
                       p->bwd_end, -p->bwd_end, wait_end, -p->done_at_bwd_end};
    double worst[N];
    MPI_Allreduce(local, worst, N, MPI_DOUBLE, MPI_MAX, comm);
    for (int i = S_STEP; i <= S_BLOCKING; i++) s->v[i][k] = worst[i];
    s->v[S_SKEW][k] = worst[6] + worst[7];
    s->v[S_EXPOSED][k] = worst[8] - worst[6];
    s->v[S_DONE][k] = -worst[9] / s->grad_bytes;
    return TB_OK;
}

static double last_bucket_bytes(const tb_grad_reducer *r) {
    for (int i = 0; i < r->n_buckets; i++)
        if (r->buckets[i].ready_at == -1) return (double)(r->buckets[i].end - r->buckets[i].begin) * sizeof(float);
    return 0.0;
}

static void series_alloc(overlap_series *s, int n) {
    memset(s, 0, sizeof *s);
    for (int i = 0; i < S_COUNT; i++) s->v[i] = tb_malloc((size_t)n * sizeof(double));
}

static void series_free(overlap_series *s) {
    for (int i = 0; i < S_COUNT; i++) tb_free(s->v[i]);
}

static double med(const overlap_series *s, int i) { return rt_median(s->v[i], s->n); }

/* The median over steps of 1 - x / blocking for column x. */
static double hidden(const overlap_series *s, int x) {
    double *h = tb_malloc((size_t)s->n * sizeof(double));
    for (int k = 0; k < s->n; k++) h[k] = 1.0 - s->v[x][k] / s->v[S_BLOCKING][k];
    double m = rt_median(h, s->n);
    tb_free(h);
    return m;
}

static void print_overlap(const char *bucket, const overlap_series *s, const overlap_series *ref) {
    double step = med(s, S_STEP), paid = step - med(ref, S_STEP);
    printf("result part=overlap bucket=%s n_buckets=%d grad_mib=%.2f last_bucket_mib=%.2f steps=%d step_ms=%.1f "
           "step_min_ms=%.1f step_max_ms=%.1f bwd_ms=%.1f hooks_ms=%.2f final_hook_ms=%.2f wait_ms=%.2f skew_ms=%.2f "
           "exposed_ms=%.2f blocking_ms=%.2f done_at_bwd_end=%.3f hidden_wait=%.3f hidden=%.3f paid_ms=%.1f\n",
           bucket, s->n_buckets, s->grad_bytes / 1048576.0, s->last_bucket_bytes / 1048576.0, s->n, step * 1e3,
           rt_min(s->v[S_STEP], s->n) * 1e3, rt_max(s->v[S_STEP], s->n) * 1e3, med(s, S_BWD) * 1e3,
           med(s, S_HOOKS) * 1e3, med(s, S_FINAL) * 1e3, med(s, S_WAIT) * 1e3, med(s, S_SKEW) * 1e3,
           med(s, S_EXPOSED) * 1e3, med(s, S_BLOCKING) * 1e3, med(s, S_DONE), hidden(s, S_WAIT), hidden(s, S_EXPOSED),
           paid * 1e3);
}

static void print_reference(const overlap_series *ref) {
    printf("result part=overlap bucket=none n_buckets=0 grad_mib=%.2f steps=%d step_ms=%.1f step_min_ms=%.1f "
           "step_max_ms=%.1f bwd_ms=%.1f skew_ms=%.2f blocking_ms=%.2f\n",
           ref->grad_bytes / 1048576.0, ref->n, med(ref, S_STEP) * 1e3, rt_min(ref->v[S_STEP], ref->n) * 1e3,
           rt_max(ref->v[S_STEP], ref->n) * 1e3, med(ref, S_BWD) * 1e3, med(ref, S_SKEW) * 1e3,
           med(ref, S_BLOCKING) * 1e3);
}

/* The configurations of part 2: no reduction (the reference), then these bucket sizes. */
static const int bucket_mib[] = {0, 1, 4, 8, 25};
enum { N_CONFIGS = sizeof bucket_mib / sizeof bucket_mib[0] };

/* One model per configuration, all alive at once; step i of every configuration runs before step
 * i + 1 of any, so a burst of load from elsewhere hits every configuration alike. */
static int overlap_steps(MPI_Comm comm, const bench_opts *o, rt_gpt2_run *runs, step_probe *probes,
                         overlap_series *series) {
    int size;
    MPI_Comm_size(comm, &size);
    int rc = TB_OK, made = 0;
    for (; made < N_CONFIGS && rc == TB_OK; made++) {
        size_t bucket = (size_t)bucket_mib[made] << 20;
        rc = rt_gpt2_run_init(&runs[made], comm, o->L, o->C, o->NH, o->V, o->T, bucket ? o->B * size : o->B, bucket, 1);
        if (rc != TB_OK) break;
        probe_install(&probes[made], &runs[made]);
        overlap_series *s = &series[made];
        series_alloc(s, o->steps);
        s->n = o->steps;
        s->n_buckets = runs[made].have_dp ? runs[made].dp.reducer.n_buckets : 0;
        s->grad_bytes = (double)runs[made].model.params.numel * sizeof(float);
        s->last_bucket_bytes = runs[made].have_dp ? last_bucket_bytes(&runs[made].dp.reducer) : 0.0;
    }
    float *scratch = rc == TB_OK ? tb_malloc(runs[0].model.params.numel * sizeof(float)) : NULL;
    for (int i = 0; i < o->warmup + o->steps && rc == TB_OK; i++)
        for (int c = 0; c < N_CONFIGS && rc == TB_OK; c++)
            rc = timed_step(comm, &runs[c], &probes[c], scratch, i, &series[c], i - o->warmup);
    tb_free(scratch);
    for (int c = 0; c < made; c++) {
        probe_remove(&probes[c], &runs[c]);
        rt_gpt2_run_free(&runs[c]);
    }
    TB_CHECK(rc);
    return TB_OK;
}

/* Part 2; leaves the reference's series in *ref for part 3. */
static int overlap(MPI_Comm comm, const bench_opts *o, int rank, overlap_series *ref) {
    if (rank == 0)
        printf("# part 2: gpt2 L=%d C=%d NH=%d V=%d T=%d, B=%d rows per rank, tb_train_step (AdamW, clip 1.0); "
               "%d warmup + %d timed steps per configuration, the configurations taking turns step by step\n",
               o->L, o->C, o->NH, o->V, o->T, o->B, o->warmup, o->steps);
    rt_gpt2_run *runs = tb_malloc(N_CONFIGS * sizeof *runs); /* the trainers point into them: never moved */
    step_probe *probes = tb_malloc(N_CONFIGS * sizeof *probes);
    overlap_series series[N_CONFIGS];
    memset(series, 0, sizeof series);
    int rc = overlap_steps(comm, o, runs, probes, series);
    if (rc == TB_OK && rank == 0) {
        print_reference(&series[0]);
        for (int c = 1; c < N_CONFIGS; c++) {
            char name[32];
            snprintf(name, sizeof name, "%dMiB", bucket_mib[c]);
            print_overlap(name, &series[c], &series[0]);
        }
    }
    *ref = series[0];
    for (int c = 1; c < N_CONFIGS; c++) series_free(&series[c]);
    tb_free(runs);
    tb_free(probes);
    TB_CHECK(rc);
    return TB_OK;
}

/* ---- part 3: how many MPI_Test calls does a bucket need? ------------------------------------ */

/* Occupies the core for `seconds`, as backward's arithmetic would. */
static void busy(double seconds) {
    double end = tb_now() + seconds;
    while (tb_now() < end) continue;
}

/* Starts an MPI_Iallreduce of n floats and calls MPI_Test after every `gap` seconds of busy work
 * until it completes; returns the calls this rank needed and the time in *seconds. */
static int tests_to_complete(MPI_Comm comm, float *buf, int n, double gap, double *seconds) {
    for (int i = 0; i < n; i++) buf[i] = 1.0f;
    MPI_Barrier(comm);
    double t0 = tb_now();
    MPI_Request req;
    MPI_Iallreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, comm, &req);
    int done = 0, tests = 0;
    while (!done) {
        busy(gap);
        MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        tests++;
    }
    *seconds = tb_now() - t0;
    return tests;
}

/* The reducer calls MPI_Test once per layer, so a bucket started after layer l has seen l + 1 tests
 * when backward's compute ends: this prints how many tests buckets of the sizes at hand need. */
static void progress_probe(MPI_Comm comm, const bench_opts *o, int rank, const overlap_series *ref) {
    int n_all = (int)(ref->grad_bytes / sizeof(float));
    int sizes[] = {1 << 18, 0, n_all}; /* 1 MiB, one block's gradient, the whole gradient */
    sizes[1] = 12 * o->C * o->C + 13 * o->C;
    const double gap = 2e-3;
    float *buf = tb_malloc((size_t)n_all * sizeof(float));
    double *tests = tb_malloc((size_t)o->reps * sizeof(double)), *sec = tb_malloc((size_t)o->reps * sizeof(double));
    if (rank == 0)
        printf("# part 3: MPI_Iallreduce, then MPI_Test after every %.0f ms of busy work until it completes; "
               "median of %d (the reducer tests once per layer: %d times per backward)\n",
               gap * 1e3, o->reps, o->L + 2);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        for (int r = 0; r < o->reps; r++) {
            double t;
            tests[r] = rt_max_over(comm, (double)tests_to_complete(comm, buf, sizes[k], gap, &t));
            sec[r] = rt_max_over(comm, t);
        }
        if (rank == 0)
            printf("result part=probe bytes=%.0f gap_ms=%.1f tests=%.0f tests_min=%.0f tests_max=%.0f time_ms=%.2f "
                   "reps=%d\n",
                   (double)sizes[k] * sizeof(float), gap * 1e3, rt_median(tests, o->reps), rt_min(tests, o->reps),
                   rt_max(tests, o->reps), rt_median(sec, o->reps) * 1e3, o->reps);
    }
    tb_free(tests);
    tb_free(sec);
    tb_free(buf);
}

static int bench_main(int argc, char **argv) {
    bench_opts o = {.reps = 7, .max_mib = 64, .steps = 8, .warmup = 2, .L = 4, .C = 256, .NH = 4, .V = 4096,
                    .T = 128, .B = 8};
    const rt_int_option opts[] = {{"--reps", &o.reps, 1}, {"--max-mib", &o.max_mib, 1}, {"--steps", &o.steps, 1},
                                  {"--warmup", &o.warmup, 0}, {"--L", &o.L, 1}, {"--C", &o.C, 1},
                                  {"--NH", &o.NH, 1}, {"--V", &o.V, 1}, {"--T", &o.T, 1}, {"--B", &o.B, 1}};
    TB_CHECK(rt_parse_options(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), usage));
    if (o.max_mib > 1024)
        return TB_ERROR(TB_ERR_ARG, "give --max-mib of at most 1024", "--max-mib %d exceeds one MPI count", o.max_mib);
    MPI_Comm comm = MPI_COMM_WORLD;
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    TB_CHECK(rt_setup_and_print_env(comm, "runtime_allreduce"));
    bandwidth(comm, &o, rank, size);
    fflush(stdout);
    if (size < 2) {
        if (rank == 0) printf("# parts 2 and 3 need 2 or more ranks: skipped\n");
        return TB_OK;
    }
    overlap_series ref;
    int rc = overlap(comm, &o, rank, &ref);
    if (rc == TB_OK) progress_probe(comm, &o, rank, &ref);
    series_free(&ref);
    TB_CHECK(rc);
    return TB_OK;
}

int main(int argc, char **argv) {
    tb_sys_prefer_passive_openmp(argv); /* what `trustbench` does, so the figures are the user's */
    MPI_Init(&argc, &argv);
    if (bench_main(argc, argv) != TB_OK) {
        tb_error_report(stderr);
        MPI_Abort(MPI_COMM_WORLD, 1); /* the other ranks may be waiting in a collective */
    }
    MPI_Finalize();
    return 0;
}
