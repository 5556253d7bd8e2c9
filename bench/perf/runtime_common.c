/* runtime_common.c: statistics, options, the environment header and the gpt2 training set-up the
 * runtime benchmarks share (see runtime_common.h). */
#include "runtime_common.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sys/sys.h"

/* ---- statistics ------------------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double rt_median(const double *x, int n) {
    TB_ASSERT(n >= 1);
    double *s = tb_malloc((size_t)n * sizeof(double));
    memcpy(s, x, (size_t)n * sizeof(double));
    qsort(s, (size_t)n, sizeof(double), cmp_double);
    double m = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    tb_free(s);
    return m;
}

double rt_min(const double *x, int n) {
    double m = x[0];
    for (int i = 1; i < n; i++) m = x[i] < m ? x[i] : m;
    return m;
}

double rt_max(const double *x, int n) {
    double m = x[0];
    for (int i = 1; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

double rt_max_over(MPI_Comm comm, double x) {
    double m;
    MPI_Allreduce(&x, &m, 1, MPI_DOUBLE, MPI_MAX, comm);
    return m;
}

/* ---- options --------------------------------------------------------------------------------- */

static int parse_int(const char *flag, const char *s, int lo, int *out) {
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!s[0] || *end || v < lo || v > 1000000000L)
        return TB_ERROR(TB_ERR_ARG, "give an integer within the bounds (see --help)", "%s: '%s' is not an integer >= %d",
                        flag, s, lo);
    *out = (int)v;
    return TB_OK;
}

int rt_parse_options(int argc, char **argv, const rt_int_option *opts, int n_opts, const char *usage) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            exit(0);
        }
        int k = 0;
        while (k < n_opts && strcmp(argv[i], opts[k].flag) != 0) k++;
        if (k == n_opts) return TB_ERROR(TB_ERR_ARG, "see --help", "unknown option '%s'", argv[i]);
        if (i + 1 >= argc) return TB_ERROR(TB_ERR_ARG, "see --help", "option '%s' lacks its value", argv[i]);
        TB_CHECK(parse_int(argv[i], argv[i + 1], opts[k].lo, opts[k].dst));
        i++;
    }
    return TB_OK;
}

/* ---- environment ----------------------------------------------------------------------------- */

static void cpu_model(char *buf, size_t cap) {
    snprintf(buf, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        const char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) != 0 || !colon) continue;
        snprintf(buf, cap, "%s", colon + 2);
        buf[strcspn(buf, "\n")] = '\0';
        break;
    }
    fclose(f);
}

static const char *env_or_unset(const char *name) {
    const char *v = getenv(name);
    return v ? v : "(unset)";
}

static void print_env(const char *bench, const tb_topology *t, const tb_rank_placement *rows, int n) {
    char mpi[MPI_MAX_LIBRARY_VERSION_STRING], cpu[256];
    int len;
    MPI_Get_library_version(mpi, &len);
    mpi[strcspn(mpi, ",\n")] = '\0'; /* the first clause names the implementation and version */
    unsigned h5maj, h5min, h5rel;
    H5get_libversion(&h5maj, &h5min, &h5rel);
    cpu_model(cpu, sizeof cpu);
    printf("# %s: trustbench %s (commit %s), gcc %s\n", bench, TB_VERSION, tb_git_commit(), __VERSION__);
    printf("# %s; HDF5 %u.%u.%u; OpenBLAS %s\n", mpi, h5maj, h5min, h5rel, tb_sys_blas_config());
    printf("# CPU %s: %d cores, %d PUs on %s\n", cpu, t->n_cores, t->n_pus, t->hostname);
    printf("# env: OPENBLAS_NUM_THREADS=%s OMP_NUM_THREADS=%s OMPI_MCA_hwloc_base_binding_policy=%s\n",
           env_or_unset("OPENBLAS_NUM_THREADS"), env_or_unset("OMP_NUM_THREADS"),
           env_or_unset("OMPI_MCA_hwloc_base_binding_policy"));
    for (int i = 0; i < n; i++)
        printf("# rank %d: PUs %s (%s), BLAS threads %d, OpenMP threads %d%s\n", i, rows[i].binding,
               rows[i].bound ? "bound" : "unbound", rows[i].blas_threads, rows[i].omp_threads,
               rows[i].oversubscribed ? ", oversubscribed" : "");
}

int rt_setup_and_print_env(MPI_Comm comm, const char *bench) {
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    tb_topology t;
    TB_CHECK(tb_topology_query(&t));
    tb_thread_plan plan;
    TB_CHECK(tb_sys_threads_setup(comm, &t, &plan));
    tb_rank_placement *rows = rank == 0 ? tb_malloc((size_t)size * sizeof *rows) : NULL;
    int rc = tb_sys_gather_placement(rows, comm, 0, &t, &plan);
    if (rc == TB_OK && rank == 0) print_env(bench, &t, rows, size);
    fflush(stdout);
    tb_free(rows);
    TB_CHECK(rc);
    return TB_OK;
}

/* ---- training on random tokens --------------------------------------------------------------- */

int rt_random_batch_fill(void *ctx, long step, int micro, int *inp, int *targets) {
    const rt_random_batch *b = ctx;
    // inp (rows,T), targets (rows,T)
    for (int r = 0; r < b->rows; r++) {
        uint64_t row = (uint64_t)(b->first_row + r);
        /* one stream per (step, micro-batch, global row): the draws do not depend on the rank count */
        tb_rng g = tb_rng_make(b->seed, ((uint64_t)step << 32) ^ ((uint64_t)micro << 24) ^ row);
        int prev = (int)tb_rng_below(&g, (uint64_t)b->V);
        for (int t = 0; t < b->T; t++) {
            int next = (int)tb_rng_below(&g, (uint64_t)b->V);
            inp[r * b->T + t] = prev;
            targets[r * b->T + t] = next;
            prev = next;
        }
    }
    return TB_OK;
}

int rt_gpt2_run_init(rt_gpt2_run *r, MPI_Comm comm, int L, int C, int NH, int V, int T, int B_global,
                     size_t dp_bucket_bytes, uint64_t seed) {
    memset(r, 0, sizeof *r);
    int rank = 0, size = 1;
    r->have_dp = dp_bucket_bytes > 0;
    if (r->have_dp) {
        MPI_Comm_rank(comm, &rank);
        MPI_Comm_size(comm, &size);
    }
    int first, rows;
    TB_CHECK(tb_shard_rows(B_global, rank, size, &first, &rows));
    tb_config cfg;
    tb_config_defaults(&cfg, TB_FAMILY_GPT2, L, C, NH, V, T);
    TB_CHECK(tb_config_validate(&cfg));
    TB_CHECK(tb_model_create(&r->model, &cfg));
    tb_model_init(&r->model, seed);
    if (r->have_dp) {
        TB_CHECK(tb_dp_init(&r->dp, TB_DP_ALLREDUCE, comm, &r->model, &r->model.params, dp_bucket_bytes));
        tb_dp_optimizer_init(&r->dp, &r->opt, TB_OPT_ADAMW);
    } else {
        tb_optimizer_init(&r->opt, TB_OPT_ADAMW, &r->model.params);
    }
    r->opt.weight_decay = 0.1f;
    r->objective = tb_objective_sft();
    r->batch = (rt_random_batch){.first_row = first, .rows = rows, .T = T, .V = V, .seed = seed};
    /* a small constant learning rate: the benchmark times steps, it does not chase a loss */
    r->trainer = (tb_trainer){.model = &r->model,
                              .trainable = r->have_dp ? tb_dp_trainable(&r->dp) : &r->model.params,
                              .opt = &r->opt,
                              .sched = {.kind = TB_SCHED_CONSTANT, .lr = 1e-4f, .min_lr = 1e-4f, .total = 1},
                              .objective = &r->objective,
                              .B = rows,
                              .T = T,
                              .accum = 1,
                              .clip = 1.0f,
                              .next_batch = rt_random_batch_fill,
                              .batch_ctx = &r->batch,
                              .dp = r->have_dp ? &r->dp : NULL};
    return TB_OK;
}

void rt_gpt2_run_free(rt_gpt2_run *r) {
    if (r->have_dp) tb_dp_free(&r->dp, &r->model);
    tb_optimizer_free(&r->opt);
    tb_model_free(&r->model);
    memset(r, 0, sizeof *r);
}
