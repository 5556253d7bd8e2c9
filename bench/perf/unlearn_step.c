/*
 * unlearn_step.c: what one optimizer step of each unlearning method costs, as a ratio to a plain SFT
 * step on the same rows, timed side by side in one process.
 *
 * A method's step reads more rows than the forget batch alone (GradDiff adds a retain row per forget
 * row, IdkDPO a refusal row and a retain row) and does more per row (soft targets for KL and UNDIAL,
 * the reference's cached values for NPO and IdkDPO, RMU stops at its layer). Two ratios separate
 * the two: "x SFT same rows" divides by an SFT step over exactly the rows the method's step reads,
 * so it is the objective's own overhead; "x SFT forget rows" divides by an SFT step over the forget
 * rows only, so it is what unlearning a batch costs against fine-tuning on it.
 *
 * The reference quantities (sequence log-probs, log-softmax rows at scored positions, RMU's hidden
 * states) are cached before the first step, as the unlearn workload caches them, so no step runs the
 * reference model. Each configuration has its own model copy, optimizer and trainer; every round
 * runs one step of each configuration in turn, so a slow spell of the machine touches all of them
 * alike. Figures are medians over the timed rounds.
 *
 * Rows are question/answer-shaped: T tokens, the second half scored (the answer), as the workload
 * scores answer tokens only. The last line printed is machine-readable ("result ...").
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime_common.h"
#include "sys/sys.h"

typedef struct {
    int L, C, NH, V, T, Bf; /* Bf: forget rows per step */
    int steps, warmup, rmu_layer;
} bench_opts;

/* The row pool every configuration draws from: forget rows [0,Bf), their refusal rows [Bf,2Bf),
 * retain rows [2Bf,3Bf), with the reference's cached values for each. */
typedef struct {
    int Bf, T, V, C;
    int *inp, *targets;       /* (3Bf,T) */
    float *ref_seq;           /* (3Bf) */
    float *ref_logsoftmax;    /* (3Bf,T,V): a full row per position, read at scored positions only */
    float *ref_hidden;        /* (3Bf,T,C) */
    float *cvec;              /* (C) */
} row_pool;

enum { KIND_FORGET = 1, KIND_IDK = 2, KIND_RETAIN = 4 };

/* One timed configuration: a method (or plain SFT) over a set of row kinds. */
typedef struct {
    char label[48];
    const char *key;     /* its name on the result line */
    int kinds;           /* KIND_* bits: the rows its step reads */
    int sft;             /* plain SFT over those rows */
    tb_unlearn_params up;
    double wagle_density; /* > 0: a gradient mask of this density (random scores) */
    /* state */
    const row_pool *pool;
    tb_model model;
    tb_optimizer opt;
    tb_objective obj;
    tb_trainer tr;
    tb_row_role *role;
    int *pair;
    float *ref_seq;
    const float **ref_rows, **ref_hidden;
    tb_unlearn_rows rows;
    double *t;           /* (steps) step seconds */
} bench_cfg;

/* ---- rows ----------------------------------------------------------------------------------- */

static void pool_init(row_pool *p, const tb_model *m, int Bf, int T, uint64_t seed) {
    int n = 3 * Bf, V = m->cfg.vocab_size, C = m->cfg.n_embd;
    *p = (row_pool){.Bf = Bf, .T = T, .V = V, .C = C};
    p->inp = tb_malloc((size_t)n * T * sizeof(int));
    p->targets = tb_malloc((size_t)n * T * sizeof(int));
    p->ref_seq = tb_malloc((size_t)n * sizeof(float));
    p->ref_logsoftmax = tb_malloc((size_t)n * T * V * sizeof(float));
    p->ref_hidden = tb_malloc((size_t)n * T * C * sizeof(float));
    p->cvec = tb_malloc((size_t)C * sizeof(float));
    tb_rng r = tb_rng_make(seed, tb_rng_stream_id("bench.unlearn.rows"));
    for (int b = 0; b < n; b++) {
        double seq = 0.0;
        for (int t = 0; t < T; t++) {
            int i = b * T + t;
            p->inp[i] = (int)tb_rng_below(&r, (uint64_t)V);
            p->targets[i] = t >= T / 2 ? (int)tb_rng_below(&r, (uint64_t)V) : -1;
            float *ls = p->ref_logsoftmax + (size_t)i * V;
            double z = 0.0;
            for (int v = 0; v < V; v++) z += exp(ls[v] = tb_rng_normal(&r));
            for (int v = 0; v < V; v++) ls[v] -= (float)log(z);
            if (p->targets[i] >= 0) seq += ls[p->targets[i]];
        }
        p->ref_seq[b] = (float)seq;
    }
    for (size_t i = 0; i < (size_t)n * T * C; i++) p->ref_hidden[i] = tb_rng_normal(&r);
    for (int c = 0; c < C; c++) p->cvec[c] = 6.5f * tb_rng_uniform(&r) / sqrtf((float)C);
}

static void pool_free(row_pool *p) {
    tb_free(p->inp), tb_free(p->targets), tb_free(p->ref_seq), tb_free(p->ref_logsoftmax);
    tb_free(p->ref_hidden), tb_free(p->cvec);
}

static int cfg_rows(const bench_cfg *c) {
    return c->pool->Bf * (!!(c->kinds & KIND_FORGET) + !!(c->kinds & KIND_IDK) + !!(c->kinds & KIND_RETAIN));
}

/* tb_batch_fn: the configuration's rows of the pool, labelled, with their cached reference values.
 * The same batch every step: the benchmark times the step, not the data. */
static int cfg_batch(void *ctx, long step, int micro, int *inp, int *targets) {
    (void)step, (void)micro;
    bench_cfg *c = ctx;
    const row_pool *p = c->pool;
    int T = p->T, k = 0;
    long tokens[3] = {0, 0, 0};
    for (int kind = 0; kind < 3; kind++) {
        if (!(c->kinds & (1 << kind))) continue;
        for (int b = 0; b < p->Bf; b++, k++) {
            int src = kind * p->Bf + b;
            memcpy(inp + k * T, p->inp + src * T, (size_t)T * sizeof(int));
            memcpy(targets + k * T, p->targets + src * T, (size_t)T * sizeof(int));
            c->role[k] = kind == 0 ? TB_ROW_FORGET : kind == 1 ? TB_ROW_IDK : TB_ROW_RETAIN;
            c->pair[k] = kind == 0 && (c->kinds & KIND_IDK) ? p->Bf + b : -1;
            c->ref_seq[k] = p->ref_seq[src];
            c->ref_hidden[k] = p->ref_hidden + (size_t)src * T * p->C;
            for (int t = 0; t < T; t++) {
                int scored = p->targets[src * T + t] >= 0;
                tokens[kind] += scored;
                c->ref_rows[k * T + t] = scored ? p->ref_logsoftmax + ((size_t)src * T + t) * p->V : NULL;
            }
        }
    }
    c->rows.n_forget = c->kinds & KIND_FORGET ? p->Bf : 0;
    c->rows.n_retain = c->kinds & KIND_RETAIN ? p->Bf : 0;
    c->rows.n_forget_tokens = tokens[0];
    c->rows.n_retain_tokens = tokens[2];
    return TB_OK;
}

/* ---- configurations --------------------------------------------------------------------------- */

/* RMU as the workload runs it: blocks after its layer and what follows the last block are frozen,
 * and the forward stops at the layer. */
static void rmu_setup(tb_model *m, int layer) {
    size_t b, e;
    for (int l = layer + 1; l <= m->cfg.n_layer; l++) {
        tb_model_layer_range(m, &m->params, l, &b, &e);
        for (int ti = 0; ti < m->params.n_tensors; ti++)
            if (m->params.tensors[ti].offset >= b && m->params.tensors[ti].offset < e) m->params.tensors[ti].frozen = 1;
    }
    m->capture_layer = layer;
    m->stop_at_capture = 1;
}

static int cfg_init(bench_cfg *c, const tb_model *src, const row_pool *p, int rmu_layer, int steps) {
    c->pool = p;
    TB_CHECK(tb_model_copy(&c->model, src));
    int B = cfg_rows(c), T = p->T;
    c->role = tb_malloc((size_t)B * sizeof *c->role);
    c->pair = tb_malloc((size_t)B * sizeof *c->pair);
    c->ref_seq = tb_malloc((size_t)B * sizeof *c->ref_seq);
    c->ref_rows = tb_malloc((size_t)B * T * sizeof *c->ref_rows);
    c->ref_hidden = tb_malloc((size_t)B * sizeof *c->ref_hidden);
    c->rows = (tb_unlearn_rows){.role = c->role, .pair = c->pair, .ref_seq = c->ref_seq, .ref_rows = c->ref_rows,
                                .ref_hidden = c->ref_hidden};
    c->t = tb_malloc((size_t)steps * sizeof(double));
    if (c->sft) {
        c->obj = tb_objective_sft();
    } else {
        c->up.cvec = p->cvec;
        if (c->up.method == TB_UNLEARN_RMU) rmu_setup(&c->model, rmu_layer);
        c->obj = tb_objective_unlearn(&c->up, &c->rows);
    }
    tb_optimizer_init(&c->opt, TB_OPT_ADAMW, &c->model.params);
    c->opt.weight_decay = 0.01f;
    c->tr = (tb_trainer){.model = &c->model, .trainable = &c->model.params, .opt = &c->opt,
                         .sched = {.kind = TB_SCHED_CONSTANT, .lr = 1e-5f, .min_lr = 1e-5f, .total = 1},
                         .objective = &c->obj, .B = B, .T = T, .accum = 1, .clip = 1.0f, .next_batch = cfg_batch,
                         .batch_ctx = c};
    if (c->wagle_density > 0) {
        /* the mask's cost is its multiply in the update; random scores give the same mask density */
        tb_wagle_config w = {.density = c->wagle_density, .score = TB_WAGLE_SCORE_RANDOM, .seed = 5};
        tb_wagle_mask(&c->model.params, c->model.params.data, c->model.params.data, &w);
    }
    return TB_OK;
}

static void cfg_free(bench_cfg *c) {
    if (!c->sft) tb_objective_unlearn_free(&c->obj);
    tb_optimizer_free(&c->opt);
    tb_model_free(&c->model);
    tb_free(c->role), tb_free(c->pair), tb_free(c->ref_seq), tb_free(c->ref_rows), tb_free(c->ref_hidden);
    tb_free(c->t);
}

/* The reference's defaults (unlearning.md section 2), as the unlearn workload sets them. */
static tb_unlearn_params method_params(tb_unlearn_method m, tb_retain_term retain) {
    tb_unlearn_params u = {.method = m, .retain = retain, .beta = 0.1f, .gamma = 1.0f, .alpha = 1.0f};
    if (m == TB_UNLEARN_SIMNPO) u.beta = 4.5f, u.gamma = 0.125f;
    if (m == TB_UNLEARN_UNDIAL) u.beta = 10.0f;
    return u;
}

/* Fills cfgs (capacity >= 13) with the SFT baselines and every method; returns the count. */
static int make_configs(bench_cfg *cfgs) {
    static const struct {
        const char *label, *key;
        tb_unlearn_method m;
        tb_retain_term r;
        double wagle;
    } methods[] = {
        {"ga", "ga", TB_UNLEARN_GA, TB_RETAIN_NONE, 0},
        {"graddiff (nll)", "graddiff_nll", TB_UNLEARN_GRADDIFF, TB_RETAIN_NLL, 0},
        {"graddiff (kl)", "graddiff_kl", TB_UNLEARN_GRADDIFF, TB_RETAIN_KL, 0},
        {"npo (nll)", "npo_nll", TB_UNLEARN_NPO, TB_RETAIN_NLL, 0},
        {"npo (nll) + wagle 0.5", "npo_nll_wagle", TB_UNLEARN_NPO, TB_RETAIN_NLL, 0.5},
        {"simnpo (nll)", "simnpo_nll", TB_UNLEARN_SIMNPO, TB_RETAIN_NLL, 0},
        {"idkdpo (nll)", "idkdpo_nll", TB_UNLEARN_IDKDPO, TB_RETAIN_NLL, 0},
        {"rmu", "rmu", TB_UNLEARN_RMU, TB_RETAIN_NONE, 0},
        {"undial", "undial", TB_UNLEARN_UNDIAL, TB_RETAIN_NONE, 0},
    };
    int n = 0;
    static const int sft_kinds[] = {KIND_FORGET, KIND_FORGET | KIND_RETAIN, KIND_FORGET | KIND_IDK | KIND_RETAIN};
    for (int i = 0; i < 3; i++) {
        bench_cfg *c = &cfgs[n++];
        c->sft = 1, c->kinds = sft_kinds[i];
        snprintf(c->label, sizeof c->label, "sft x%d", i + 1);
    }
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        bench_cfg *c = &cfgs[n++];
        snprintf(c->label, sizeof c->label, "%s", methods[i].label);
        c->key = methods[i].key;
        c->up = method_params(methods[i].m, methods[i].r);
        c->wagle_density = methods[i].wagle;
        c->kinds = KIND_FORGET | (methods[i].r != TB_RETAIN_NONE || methods[i].m == TB_UNLEARN_RMU ? KIND_RETAIN : 0) |
                   (methods[i].m == TB_UNLEARN_IDKDPO ? KIND_IDK : 0);
    }
    return n;
}

/* The SFT baseline over the same rows as c (configurations 0..2 are SFT on 1, 2, 3 row kinds). */
static const bench_cfg *same_rows_sft(const bench_cfg *cfgs, const bench_cfg *c) {
    for (int i = 0; i < 3; i++)
        if (cfgs[i].kinds == c->kinds) return &cfgs[i];
    return &cfgs[cfg_rows(c) / c->pool->Bf - 1]; /* same row count, other kinds: same SFT work */
}

/* ---- main ------------------------------------------------------------------------------------ */

static int run_rounds(bench_cfg *cfgs, int n, const bench_opts *o) {
    for (int s = 0; s < o->warmup + o->steps; s++) {
        for (int i = 0; i < n; i++) {
            double loss;
            float norm;
            double t0 = tb_now();
            TB_CHECK(tb_train_step(&cfgs[i].tr, s, &loss, &norm));
            if (s >= o->warmup) cfgs[i].t[s - o->warmup] = tb_now() - t0;
        }
    }
    return TB_OK;
}

static void print_table(const bench_cfg *cfgs, int n, const bench_opts *o) {
    double forget_sft = rt_median(cfgs[0].t, o->steps);
    printf("\n| step | rows | ms/step (min-max) | x SFT same rows | x SFT forget rows |\n|---|---|---|---|---|\n");
    for (int i = 0; i < n; i++) {
        const bench_cfg *c = &cfgs[i];
        double med = rt_median(c->t, o->steps), same = rt_median(same_rows_sft(cfgs, c)->t, o->steps);
        printf("| %s | %d | %.1f (%.1f-%.1f) | %.2f | %.2f |\n", c->label, cfg_rows(c), med * 1e3,
               rt_min(c->t, o->steps) * 1e3, rt_max(c->t, o->steps) * 1e3, med / same, med / forget_sft);
    }
    printf("\nresult bench=unlearn_step L=%d C=%d V=%d T=%d Bf=%d steps=%d", o->L, o->C, o->V, o->T, o->Bf, o->steps);
    for (int i = 3; i < n; i++)
        printf(" %s=%.3f", cfgs[i].key, rt_median(cfgs[i].t, o->steps) / rt_median(same_rows_sft(cfgs, &cfgs[i])->t, o->steps));
    printf("\n");
}

static int bench_main(int argc, char **argv) {
    bench_opts o = {.L = 4, .C = 128, .NH = 4, .V = 1024, .T = 96, .Bf = 8, .steps = 10, .warmup = 2, .rmu_layer = -1};
    const rt_int_option opts[] = {
        {"--L", &o.L, 1},       {"--C", &o.C, 1},         {"--NH", &o.NH, 1},         {"--V", &o.V, 2},
        {"--T", &o.T, 2},       {"--B", &o.Bf, 1},        {"--steps", &o.steps, 1},   {"--warmup", &o.warmup, 0},
        {"--rmu-layer", &o.rmu_layer, 0},
    };
    const char *usage = "usage: bench_unlearn_step [--L n --C n --NH n --V n --T n] [--B forget_rows] [--steps n]\n"
                        "                          [--warmup n] [--rmu-layer l]\n"
                        "  defaults: the unlearn workload's model (bench/unlearn/common.yaml): L=4 C=128 NH=4 V=1024\n"
                        "  T=96, B=8 forget rows, 10 timed rounds after 2 warmup rounds, RMU layer min(2, L-1)\n";
    TB_CHECK(rt_parse_options(argc, argv, opts, (int)(sizeof opts / sizeof opts[0]), usage));
    if (o.C % o.NH != 0)
        return TB_ERROR(TB_ERR_ARG, "choose C a multiple of NH", "--C %d is not divisible by --NH %d", o.C, o.NH);
    if (o.rmu_layer < 0) o.rmu_layer = o.L > 2 ? 2 : o.L - 1;
    if (o.rmu_layer >= o.L)
        return TB_ERROR(TB_ERR_ARG, "give a layer below --L", "--rmu-layer %d: the model has %d layers", o.rmu_layer, o.L);
    TB_CHECK(rt_setup_and_print_env(MPI_COMM_SELF, "unlearn_step"));
    printf("# L=%d C=%d NH=%d V=%d T=%d (answer half scored), %d forget rows per step, RMU layer %d; %d warmup + "
           "%d timed rounds\n",
           o.L, o.C, o.NH, o.V, o.T, o.Bf, o.rmu_layer, o.warmup, o.steps);

    tb_config cfg;
    tb_config_defaults(&cfg, TB_FAMILY_GPT2, o.L, o.C, o.NH, o.V, o.T);
    TB_CHECK(tb_config_validate(&cfg));
    tb_model base;
    TB_CHECK(tb_model_create(&base, &cfg));
    tb_model_init(&base, 1);
    row_pool pool;
    pool_init(&pool, &base, o.Bf, o.T, 1);
    bench_cfg cfgs[16];
    memset(cfgs, 0, sizeof cfgs);
    int n = make_configs(cfgs), ready = 0, rc = TB_OK;
    while (ready < n && rc == TB_OK)
        if ((rc = cfg_init(&cfgs[ready], &base, &pool, o.rmu_layer, o.steps)) == TB_OK) ready++;
    if (rc == TB_OK) rc = run_rounds(cfgs, n, &o);
    if (rc == TB_OK) print_table(cfgs, n, &o);
    for (int i = 0; i < ready; i++) cfg_free(&cfgs[i]);
    pool_free(&pool);
    tb_model_free(&base);
    TB_CHECK(rc);
    return TB_OK;
}

int main(int argc, char **argv) {
    tb_sys_prefer_passive_openmp(argv);
    MPI_Init(&argc, &argv);
    int rc = bench_main(argc, argv);
    if (rc != TB_OK) tb_error_report(stderr);
    MPI_Finalize();
    return rc == TB_OK ? 0 : 1;
}
