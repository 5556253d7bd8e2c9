/*
 * runtime_dp_scaling.c: the time of one training step at a fixed global batch, on however many
 * ranks and threads it is launched with. runtime_run.sh launches it three ways on a 2-core machine,
 *   1 rank x 1 thread, 1 rank x 2 threads, 2 ranks x 1 thread (data parallel, overlapped all-reduce),
 * and reads data-parallel efficiency T(1x1) / (2 T(2x1)) against the threads' T(1x1) / (2 T(1x2)).
 *
 * The step is the runtime's own tb_train_step (forward, backward with the bucketed all-reduce, loss
 * all-reduce, clip, AdamW) on the S1 shape of bench_train_step (gpt2 L=4 C=256 NH=4 V=4096 T=128)
 * with random tokens; each rank reads only its rows of the global batch, which is the same batch at
 * every rank count, so the last loss must agree between launches (a check that the runs did the same
 * work). Each timed step starts after a barrier; its time is the slowest rank's; the figure is the
 * median over the timed steps. The last line is machine-readable ("result ...").
 */
#include <cblas.h>
#include <stdio.h>

#include "runtime_common.h"
#include "sys/sys.h"

typedef struct {
    int steps, warmup, bucket_mib;
    int L, C, NH, V, T, B; /* B: the global batch */
} bench_opts;

static const char usage[] =
    "usage: mpirun -n P bench_runtime_dp_scaling [--steps n] [--warmup n] [--bucket-mib n]\n"
    "                                            [--L n --C n --NH n --V n --T n --B n]\n"
    "  defaults: --steps 8 --warmup 2 --bucket-mib 4 (the sweep's), gpt2 L=4 C=256 NH=4 V=4096 T=128,\n"
    "  global batch B=16 (a multiple of P); threads per rank from OPENBLAS_NUM_THREADS / OMP_NUM_THREADS\n";

typedef struct {
    double *step, *wait; /* per timed step, the slowest rank's */
    double loss_last;
} step_times;

static int run_steps(MPI_Comm comm, rt_gpt2_run *run, const bench_opts *o, step_times *st) {
    for (int i = 0; i < o->warmup + o->steps; i++) {
        double wait0 = run->have_dp ? run->dp.reducer.wait_seconds : 0.0, loss;
        float norm;
        MPI_Barrier(comm);
        double t0 = tb_now();
        TB_CHECK(tb_train_step(&run->trainer, i, &loss, &norm));
        double local[2] = {tb_now() - t0, run->have_dp ? run->dp.reducer.wait_seconds - wait0 : 0.0}, worst[2];
        MPI_Allreduce(local, worst, 2, MPI_DOUBLE, MPI_MAX, comm);
        int k = i - o->warmup;
        if (k >= 0) {
            st->step[k] = worst[0];
            st->wait[k] = worst[1];
        }
        st->loss_last = loss;
    }
    return TB_OK;
}

static int bench_main(int argc, char **argv) {
    bench_opts o = {.steps = 8, .warmup = 2, .bucket_mib = 4, .L = 4, .C = 256, .NH = 4, .V = 4096, .T = 128,
                    .B = 16};
    const rt_int_option opts[] = {{"--steps", &o.steps, 1}, {"--warmup", &o.warmup, 0},
                                  {"--bucket-mib", &o.bucket_mib, 1}, {"--L", &o.L, 1}, {"--C", &o.C, 1},
                                  {"--NH", &o.NH, 1}, {"--V", &o.V, 1}, {"--T", &o.T, 1}, {"--B", &o.B, 1}};
    TB_CHECK(rt_parse_options(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), usage));
    MPI_Comm comm = MPI_COMM_WORLD;
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    TB_CHECK(rt_setup_and_print_env(comm, "runtime_dp_scaling"));
    /* one rank trains the whole batch itself; more ranks share it data-parallel */
    size_t bucket = size > 1 ? (size_t)o.bucket_mib << 20 : 0;
    rt_gpt2_run run;
    TB_CHECK(rt_gpt2_run_init(&run, comm, o.L, o.C, o.NH, o.V, o.T, o.B, bucket, 1));
    step_times st = {.step = tb_malloc((size_t)o.steps * sizeof(double)),
                     .wait = tb_malloc((size_t)o.steps * sizeof(double))};
    int rc = run_steps(comm, &run, &o, &st);
    if (rc == TB_OK && rank == 0) {
        double step = rt_median(st.step, o.steps);
        printf("# gpt2 L=%d C=%d NH=%d V=%d T=%d, global batch %d = %d ranks x %d rows; %d warmup + %d timed steps%s\n",
               o.L, o.C, o.NH, o.V, o.T, o.B, size, o.B / size, o.warmup, o.steps,
               size > 1 ? "; all-reduce buckets of at most --bucket-mib MiB" : "");
        printf("result part=dp ranks=%d threads=%d B=%d steps=%d step_ms=%.1f step_min_ms=%.1f step_max_ms=%.1f "
               "wait_ms=%.2f tok_s=%.0f loss_last=%.6f\n",
               size, openblas_get_num_threads(), o.B, o.steps, step * 1e3, rt_min(st.step, o.steps) * 1e3,
               rt_max(st.step, o.steps) * 1e3, rt_median(st.wait, o.steps) * 1e3, (double)o.B * o.T / step,
               st.loss_last);
    }
    tb_free(st.step);
    tb_free(st.wait);
    rt_gpt2_run_free(&run);
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
