/*
 * train_step.c: training-step throughput of the engine (forward, backward, clipping, AdamW) at a
 * fixed thread count, set against the machine's own cblas_sgemm measured in the same process with
 * the same threads, so the GFLOP/s figure reads as a fraction of what the hardware and BLAS give.
 *
 * One step is the SFT step of the training loop without the data pipeline: zero the gradients,
 * forward over a random token batch, dlogprob = -1/(B*T) at every position (the mean cross-entropy),
 * backward, global-norm clip to 1.0, AdamW. Model FLOPs per step follow engine.md section 2:
 * 6*N*B*T + 6*L*B*T^2*C, N being the parameter count without the position table.
 *
 * The last line printed is machine-readable ("result key=value ..."); bench/perf/run.sh reads it.
 */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/core.h"
#include "sys/sys.h"
#include "model/model.h"
#include "train/train.h"

typedef struct {
    const char *shape; /* "S1", "S2" or "custom" once a dimension is overridden */
    int L, C, NH, V, T, B;
    int steps, warmup, threads;
    uint64_t seed;
} bench_opts;

/* Per-step phase times in seconds, one entry per timed step. */
typedef struct {
    double *fwd, *bwd, *opt, *step;
    int n;
} phase_times;

typedef struct {
    double layer;   /* GFLOP/s on (M=B*T, N=4C, K=C), the MLP up-projection of the forward */
    double square;  /* GFLOP/s on 2048^3 */
    double peak;    /* the larger of the two: the "sgemm peak" the step is compared with */
} sgemm_rates;

/* ---- options --------------------------------------------------------------------------------- */

static int shape_preset(bench_opts *o, const char *name) {
    if (strcmp(name, "S1") == 0) { /* small gpt2: the shape where the non-matmul ops weigh most */
        o->L = 4, o->C = 256, o->NH = 4, o->V = 4096, o->T = 128, o->B = 16;
    } else if (strcmp(name, "S2") == 0) { /* GPT-2 124M at a fine-tuning batch */
        o->L = 12, o->C = 768, o->NH = 12, o->V = 50304, o->T = 64, o->B = 4;
    } else {
        return TB_ERROR(TB_ERR_ARG, "use --shape S1 or --shape S2 (or give --L --C --NH --V --T --B)",
                        "unknown shape '%s'", name);
    }
    o->shape = strcmp(name, "S1") == 0 ? "S1" : "S2";
    return TB_OK;
}

/* An integer option in [lo, 1e9]; the error names the flag and the bound. */
static int parse_int(const char *flag, const char *s, int lo, int *out) {
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!s[0] || *end || v < lo || v > 1000000000L)
        return TB_ERROR(TB_ERR_ARG, "give an integer within the bounds", "%s: '%s' is not an integer >= %d", flag, s,
                        lo);
    *out = (int)v;
    return TB_OK;
}

static void print_usage(FILE *f) {
    fprintf(f, "usage: bench_train_step [--shape S1|S2] [--L n --C n --NH n --V n --T n --B n]\n"
               "                        [--steps n] [--warmup n] [--threads n] [--seed n]\n"
               "  S1: L=4 C=256 NH=4 V=4096 T=128 B=16   S2: L=12 C=768 NH=12 V=50304 T=64 B=4\n"
               "  defaults: --shape S1 --steps 10 --warmup 2 --threads 2 --seed 1\n");
}

static int parse_options(bench_opts *o, int argc, char **argv) {
    memset(o, 0, sizeof *o);
    TB_CHECK(shape_preset(o, "S1"));
    o->steps = 10;
    o->warmup = 2;
    o->threads = 2;
    o->seed = 1;
    struct {
        const char *flag;
        int *dst;
        int is_dim; /* overriding a dimension turns the preset into a custom shape */
    } ints[] = {{"--L", &o->L, 1},          {"--C", &o->C, 1},           {"--NH", &o->NH, 1},
                {"--V", &o->V, 1},          {"--T", &o->T, 1},           {"--B", &o->B, 1},
                {"--steps", &o->steps, 0},  {"--warmup", &o->warmup, 0}, {"--threads", &o->threads, 0}};
    int custom = 0;
    /* --shape is applied first wherever it appears, so explicit dimensions always override it */
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--shape") == 0) TB_CHECK(shape_preset(o, argv[i + 1]));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_usage(stdout);
            exit(0);
        }
        if (i + 1 >= argc)
            return TB_ERROR(TB_ERR_ARG, "see --help", "option '%s' is unknown or lacks its value", a);
        const char *val = argv[++i];
        if (strcmp(a, "--shape") == 0) continue;
        if (strcmp(a, "--seed") == 0) {
            int s;
            TB_CHECK(parse_int(a, val, 1, &s));
            o->seed = (uint64_t)s;
            continue;
        }
        size_t k = 0, n = sizeof ints / sizeof ints[0];
        while (k < n && strcmp(a, ints[k].flag) != 0) k++;
        if (k == n) return TB_ERROR(TB_ERR_ARG, "see --help", "unknown option '%s'", a);
        /* warmup may be 0; every dimension, the step count and the thread count must be at least 1 */
        TB_CHECK(parse_int(a, val, ints[k].dst == &o->warmup ? 0 : 1, ints[k].dst));
        custom |= ints[k].is_dim;
    }
    if (custom) o->shape = "custom";
    if (o->C % o->NH != 0)
        return TB_ERROR(TB_ERR_ARG, "choose C a multiple of NH", "--C %d is not divisible by --NH %d", o->C, o->NH);
    return TB_OK;
}

/* ---- statistics and environment -------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of n values (n >= 1); x is left untouched. */
static double median(const double *x, int n) {
    double *s = tb_malloc((size_t)n * sizeof(double));
    memcpy(s, x, (size_t)n * sizeof(double));
    qsort(s, (size_t)n, sizeof(double), cmp_double);
    double m = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    tb_free(s);
    return m;
}

static double min_of(const double *x, int n) {
    double m = x[0];
    for (int i = 1; i < n; i++) m = x[i] < m ? x[i] : m;
    return m;
}

static double max_of(const double *x, int n) {
    double m = x[0];
    for (int i = 1; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

/* Peak resident set of this process so far, in MiB (Linux reports ru_maxrss in KiB). */
static double peak_rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

/* CPU seconds (user + system, all threads) this process has used: run.sh subtracts it from the
 * machine's busy time to tell how much of the machine other processes took during the run. */
static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double sec = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec);
    return sec + 1e-6 * (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static const char *env_or_unset(const char *name) {
    const char *v = getenv(name);
    return v ? v : "(unset)";
}

/* Hoefler & Belli: document the environment of every number (hpc.md section 6). */
static void print_environment(const bench_opts *o) {
    printf("# trustbench %s (commit %s), compiler gcc %s\n", TB_VERSION, tb_git_commit(), __VERSION__);
    printf("# OpenBLAS: %s; core %s; threads %d (OpenMP max threads %d)\n", openblas_get_config(),
           openblas_get_corename(), openblas_get_num_threads(), omp_get_max_threads());
    printf("# env: OPENBLAS_CORETYPE=%s OPENBLAS_L2_SIZE=%s OPENBLAS_NUM_THREADS=%s OMP_NUM_THREADS=%s "
           "OMP_WAIT_POLICY=%s\n",
           env_or_unset("OPENBLAS_CORETYPE"), env_or_unset("OPENBLAS_L2_SIZE"), env_or_unset("OPENBLAS_NUM_THREADS"),
           env_or_unset("OMP_NUM_THREADS"), env_or_unset("OMP_WAIT_POLICY"));
    printf("# shape %s: L=%d C=%d NH=%d V=%d T=%d B=%d; %d warmup + %d timed steps; seed %llu\n", o->shape, o->L,
           o->C, o->NH, o->V, o->T, o->B, o->warmup, o->steps, (unsigned long long)o->seed);
}

/* ---- sgemm reference --------------------------------------------------------------------------- */

/* Median GFLOP/s of C (M,N) = A (M,K) . B (N,K)^T, the layout of every forward linear layer. */
static double sgemm_gflops(int M, int N, int K, int reps, tb_rng *r) {
    float *A = tb_malloc((size_t)M * K * sizeof(float));  // (M,K)
    float *Bm = tb_malloc((size_t)N * K * sizeof(float)); // (N,K)
    float *Cm = tb_malloc((size_t)M * N * sizeof(float)); // (M,N)
    for (size_t i = 0; i < (size_t)M * K; i++) A[i] = tb_rng_uniform(r) - 0.5f;
    for (size_t i = 0; i < (size_t)N * K; i++) Bm[i] = tb_rng_uniform(r) - 0.5f;
    double *t = tb_malloc((size_t)reps * sizeof(double));
    /* the first call pays for OpenBLAS's buffer set-up and page faults on C: not timed */
    for (int i = -1; i < reps; i++) {
        double t0 = tb_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, K, Bm, K, 0.0f, Cm, N);
        if (i >= 0) t[i] = tb_now() - t0;
    }
    double gflops = 2.0 * M * N * (double)K / median(t, reps) / 1e9;
    tb_free(t);
    tb_free(A);
    tb_free(Bm);
    tb_free(Cm);
    return gflops;
}

static sgemm_rates measure_sgemm(const bench_opts *o) {
    tb_rng r = tb_rng_make(o->seed, tb_rng_stream_id("bench.sgemm"));
    sgemm_rates s;
    s.layer = sgemm_gflops(o->B * o->T, 4 * o->C, o->C, 20, &r);
    s.square = sgemm_gflops(2048, 2048, 2048, 5, &r);
    s.peak = s.layer > s.square ? s.layer : s.square;
    return s;
}

/* ---- the training step ----------------------------------------------------------------------- */

static void random_batch(int *inp, int *targets, int n, int V, tb_rng *r) {
    // inp (B,T), targets (B,T)
    for (int i = 0; i < n; i++) {
        inp[i] = (int)tb_rng_below(r, (uint64_t)V);
        targets[i] = (int)tb_rng_below(r, (uint64_t)V);
    }
}

static double mean_loss(const tb_model *m, int n) {
    double s = 0.0;
    for (int i = 0; i < n; i++) s -= m->logprob[i];
    return s / n;
}

/* Runs warmup + steps training steps; fills the phase times of the timed ones and the first and last
 * loss. The gradient zeroing is booked with the optimizer: it is update bookkeeping, as is
 * optimizer.zero_grad() on the PyTorch side. */
static int run_steps(tb_model *m, tb_optimizer *opt, const bench_opts *o, phase_times *pt, double *loss_first,
                     double *loss_last) {
    int BT = o->B * o->T;
    int *inp = tb_malloc((size_t)BT * sizeof(int));           // (B,T)
    int *targets = tb_malloc((size_t)BT * sizeof(int));       // (B,T)
    float *dlogprob = tb_malloc((size_t)BT * sizeof(float));  // (B,T)
    /* loss = -(1/(B*T)) sum logprob over every position, all of them scored */
    for (int i = 0; i < BT; i++) dlogprob[i] = -1.0f / (float)BT;
    tb_rng r = tb_rng_make(o->seed, tb_rng_stream_id("bench.batch"));
    const float lr = 1e-4f;
    int rc = TB_OK;
    for (int s = 0; s < o->warmup + o->steps && rc == TB_OK; s++) {
        random_batch(inp, targets, BT, o->V, &r);
        double t0 = tb_now();
        tb_model_zero_grad(m);
        double t1 = tb_now();
        rc = tb_model_forward(m, inp, targets, o->B, o->T);
        if (rc != TB_OK) break;
        double t2 = tb_now();
        double loss = mean_loss(m, BT);
        tb_model_logprob_grad(m, dlogprob);
        tb_model_backward(m, 1);
        double t3 = tb_now();
        /* as tb_train_step does it: the clip factor is applied inside the update, not in a pass of its own */
        float norm = (float)sqrt(tb_grad_sumsq(&m->params, 0, m->params.numel));
        opt->grad_scale = tb_clip_scale(norm, 1.0f);
        tb_optimizer_step(opt, &m->params, lr);
        double t4 = tb_now();
        if (!isfinite(loss) || !isfinite(norm))
            rc = TB_ERROR(TB_ERR_NUMERIC, "this is an engine bug: a random batch at init must give finite values",
                          "step %d: loss %g, gradient norm %g", s, loss, (double)norm);
        if (s == 0) *loss_first = loss;
        *loss_last = loss;
        int k = s - o->warmup;
        if (k >= 0) {
            pt->fwd[k] = t2 - t1;
            pt->bwd[k] = t3 - t2;
            pt->opt[k] = (t1 - t0) + (t4 - t3);
            pt->step[k] = t4 - t0;
        }
    }
    tb_free(inp);
    tb_free(targets);
    tb_free(dlogprob);
    TB_CHECK(rc);
    return TB_OK;
}

static int bench_main(int argc, char **argv) {
    bench_opts o;
    TB_CHECK(parse_options(&o, argc, argv));
    openblas_set_num_threads(o.threads);
    omp_set_num_threads(o.threads);
    print_environment(&o);

    tb_config cfg;
    tb_config_defaults(&cfg, TB_FAMILY_GPT2, o.L, o.C, o.NH, o.V, o.T);
    TB_CHECK(tb_config_validate(&cfg));
    tb_model m;
    TB_CHECK(tb_model_create(&m, &cfg));
    tb_model_init(&m, o.seed);
    tb_optimizer opt;
    tb_optimizer_init(&opt, TB_OPT_ADAMW, &m.params);
    opt.weight_decay = 0.1f; /* nanoGPT's value, on the same 2-D tensors as torch_step.py */

    phase_times pt = {.n = o.steps};
    pt.fwd = tb_malloc((size_t)o.steps * sizeof(double));
    pt.bwd = tb_malloc((size_t)o.steps * sizeof(double));
    pt.opt = tb_malloc((size_t)o.steps * sizeof(double));
    pt.step = tb_malloc((size_t)o.steps * sizeof(double));
    double loss_first = 0.0, loss_last = 0.0;
    int rc = run_steps(&m, &opt, &o, &pt, &loss_first, &loss_last);
    /* read before the sgemm buffers exist, so the peak is the training step's alone */
    double rss = peak_rss_mib();
    size_t n_params = tb_model_num_params(&m, 1);
    tb_optimizer_free(&opt);
    tb_model_free(&m);
    if (rc == TB_OK) {
        sgemm_rates sg = measure_sgemm(&o);
        double BT = (double)o.B * o.T;
        double flops = 6.0 * (double)n_params * BT + 6.0 * o.L * BT * o.T * o.C;
        double step = median(pt.step, pt.n);
        double gflops = flops / step / 1e9;
        printf("# params without positions N=%zu; %.2f GFLOP per step\n", n_params, flops / 1e9);
        printf("# step ms: median %.1f (min %.1f, max %.1f over %d steps); fwd %.1f bwd %.1f opt %.1f\n",
               step * 1e3, min_of(pt.step, pt.n) * 1e3, max_of(pt.step, pt.n) * 1e3, pt.n,
               median(pt.fwd, pt.n) * 1e3, median(pt.bwd, pt.n) * 1e3, median(pt.opt, pt.n) * 1e3);
        printf("# %.0f tokens/s, %.1f GFLOP/s; sgemm %.1f GFLOP/s at (%d,%d,%d), %.1f at 2048^3: %.0f%% of peak\n",
               BT / step, gflops, sg.layer, o.B * o.T, 4 * o.C, o.C, sg.square, 100.0 * gflops / sg.peak);
        printf("# loss first %.4f last %.4f (ln V = %.4f); peak RSS %.0f MiB\n", loss_first, loss_last,
               log((double)o.V), rss);
        printf("result impl=ours shape=%s threads=%d steps=%d fwd_ms=%.2f bwd_ms=%.2f opt_ms=%.2f step_ms=%.2f "
               "step_min_ms=%.2f step_max_ms=%.2f tok_s=%.1f gflop_step=%.3f gflops=%.2f sgemm_layer=%.2f "
               "sgemm_2048=%.2f sgemm_peak=%.2f pct_sgemm=%.1f peak_rss_mib=%.0f loss_last=%.4f cpu_s=%.2f\n",
               o.shape, o.threads, pt.n, median(pt.fwd, pt.n) * 1e3, median(pt.bwd, pt.n) * 1e3,
               median(pt.opt, pt.n) * 1e3, step * 1e3, min_of(pt.step, pt.n) * 1e3, max_of(pt.step, pt.n) * 1e3,
               BT / step, flops / 1e9, gflops, sg.layer, sg.square, sg.peak, 100.0 * gflops / sg.peak, rss,
               loss_last, cpu_seconds());
    }
    tb_free(pt.fwd);
    tb_free(pt.bwd);
    tb_free(pt.opt);
    tb_free(pt.step);
    TB_CHECK(rc);
    return TB_OK;
}

int main(int argc, char **argv) {
    tb_sys_prefer_passive_openmp(argv); /* what `trustbench` does, so the figures are the user's */
    if (bench_main(argc, argv) != TB_OK) {
        tb_error_report(stderr);
        return 1;
    }
    return 0;
}
