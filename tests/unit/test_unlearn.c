/* test_unlearn.c: the unlearning objectives of src/train (GA, GradDiff, NPO, SimNPO, IdkDPO, RMU,
 * UNDIAL, retain NLL and KL): each loss against an independent evaluation of the reference's formula,
 * its gradient through the whole model against central finite differences, and RMU's effect: a few
 * steps move the chosen layer's forget activations to the control vector. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gradcheck.h"
#include "train/train.h"

/* rows 0,1 forget; 2,3 their refusals (IdkDPO); 4,5 retain */
enum { B = 6, T = 8, V = 270, C = 16 };

typedef struct {
    tb_model m;
    int inp[B * T], targets[B * T];
    tb_row_role role[B];
    int pair[B];
    float ref_seq[B];
    float ref_logsoftmax[B * T * V];
    const float *ref_rows[B * T];
    float ref_h[B * T * C];
    const float *ref_hidden[B];
    float cvec[C];
    tb_unlearn_rows rows;
} fixture;

static void setup(fixture *f) {
    memset(f, 0, sizeof *f);
    tb_config c;
    tb_config_defaults(&c, TB_FAMILY_GPT2, 2, C, 4, V, T);
    assert_int_equal(tb_model_create(&f->m, &c), TB_OK);
    tb_model_init(&f->m, 3);
    for (size_t i = 0; i < f->m.params.numel; i++) f->m.params.data[i] *= 3.0f; /* visible gradients */
    tb_rng r = tb_rng_make(17, 1);
    long nft = 0, nrt = 0;
    for (int b = 0; b < B; b++) {
        int answer_end = T - (b % 3); /* answers of different lengths */
        for (int t = 0; t < T; t++) {
            f->inp[b * T + t] = (int)tb_rng_below(&r, V);
            f->targets[b * T + t] = t >= 3 && t < answer_end ? (int)tb_rng_below(&r, V) : -1;
            if (f->targets[b * T + t] < 0) continue;
            if (b < 2) nft++;
            if (b >= 4) nrt++;
            float *ls = f->ref_logsoftmax + ((size_t)b * T + t) * V;
            double z = 0.0;
            for (int v = 0; v < V; v++) z += exp(ls[v] = 2.0f * tb_rng_normal(&r));
            for (int v = 0; v < V; v++) ls[v] -= (float)log(z);
            f->ref_rows[b * T + t] = ls;
        }
        f->role[b] = b < 2 ? TB_ROW_FORGET : b < 4 ? TB_ROW_IDK : TB_ROW_RETAIN;
        f->pair[b] = b < 2 ? b + 2 : -1;
        f->ref_hidden[b] = f->ref_h + (size_t)b * T * C;
    }
    for (int i = 0; i < B * T * C; i++) f->ref_h[i] = tb_rng_normal(&r);
    for (int i = 0; i < C; i++) f->cvec[i] = 3.0f * tb_rng_uniform(&r);
    /* reference sequence log-probs near the model's own, so that the sigmoids are not saturated */
    assert_int_equal(tb_model_forward(&f->m, f->inp, f->targets, B, T), TB_OK);
    for (int b = 0; b < B; b++) {
        double s = 0.0;
        for (int t = 0; t < T; t++) s += f->m.logprob[b * T + t];
        f->ref_seq[b] = (float)(s + 0.7 * tb_rng_normal(&r));
    }
    f->rows = (tb_unlearn_rows){.role = f->role, .pair = f->pair, .ref_seq = f->ref_seq, .ref_rows = f->ref_rows,
                                .ref_hidden = f->ref_hidden, .n_forget = 2, .n_retain = 2, .n_forget_tokens = nft,
                                .n_retain_tokens = nrt};
}

static double seq_logprob(const tb_model *m, const int *targets, int b) {
    double s = 0.0;
    for (int t = 0; t < T; t++)
        if (targets[b * T + t] >= 0) s += m->logprob[b * T + t];
    return s;
}

static int answer_len(const int *targets, int b) {
    int n = 0;
    for (int t = 0; t < T; t++) n += targets[b * T + t] >= 0;
    return n;
}

static double log_sigmoid(double x) { return -log1p(exp(-x)); }

/* -sum_v q(v) log p_theta(v) at position i, from the logits of the last forward */
static double cross_entropy(const tb_model *m, int i, const double *q) {
    const float *z = m->logits + (size_t)i * V;
    double mx = -INFINITY, s = 0.0, ce = 0.0;
    for (int v = 0; v < V; v++) mx = fmax(mx, z[v]);
    for (int v = 0; v < V; v++) s += exp(z[v] - mx);
    for (int v = 0; v < V; v++) ce -= q[v] * (z[v] - mx - log(s));
    return ce;
}

/* The loss straight from the reference's definitions (double precision, no shared code). */
static double expected_loss(fixture *f, const tb_unlearn_params *p) {
    tb_model *m = &f->m;
    const tb_unlearn_rows *r = &f->rows;
    double lf = 0.0, lr = 0.0;
    if (p->method == TB_UNLEARN_RMU) {
        const float *h = tb_model_hidden(m);
        for (int b = 0; b < B; b++) {
            if (f->role[b] == TB_ROW_IDK) continue;
            double row = 0.0;
            for (int t = 0; t < T; t++) {
                if (f->targets[b * T + t] < 0) continue;
                double d2 = 0.0;
                for (int c = 0; c < C; c++) {
                    double target = f->role[b] == TB_ROW_FORGET ? f->cvec[c] : f->ref_h[(b * T + t) * C + c];
                    d2 += pow(h[(b * T + t) * C + c] - target, 2);
                }
                row += d2 / C;
            }
            row /= answer_len(f->targets, b);
            if (f->role[b] == TB_ROW_FORGET) lf += row / 2;
            else lr += row / 2;
        }
        return p->gamma * lf + p->alpha * lr;
    }
    for (int b = 0; b < 2; b++) {
        double s = seq_logprob(m, f->targets, b);
        switch (p->method) {
        case TB_UNLEARN_GA:
        case TB_UNLEARN_GRADDIFF: lf += s / (double)r->n_forget_tokens; break;
        case TB_UNLEARN_NPO: lf += -2.0 / p->beta * log_sigmoid(-p->beta * (s - f->ref_seq[b])) / 2; break;
        case TB_UNLEARN_SIMNPO:
            lf += -2.0 / p->beta * log_sigmoid(p->beta * (-s / answer_len(f->targets, b) - p->delta)) / 2;
            break;
        case TB_UNLEARN_IDKDPO: {
            int j = b + 2;
            double di = seq_logprob(m, f->targets, j) - f->ref_seq[j], df = s - f->ref_seq[b];
            lf += -2.0 / p->beta * log_sigmoid(p->beta * (di - df)) / 2;
            break;
        }
        case TB_UNLEARN_UNDIAL:
            for (int t = 0; t < T; t++) {
                int i = b * T + t, y = f->targets[i];
                if (y < 0) continue;
                double q[V], z = 0.0;
                for (int v = 0; v < V; v++) z += q[v] = exp(f->ref_rows[i][v] - (v == y ? p->beta : 0.0));
                for (int v = 0; v < V; v++) q[v] /= z;
                lf += cross_entropy(m, i, q) / (double)r->n_forget_tokens;
            }
            break;
        case TB_UNLEARN_RMU: break;
        }
    }
    for (int b = 4; b < B; b++) {
        if (p->retain == TB_RETAIN_NLL) lr -= seq_logprob(m, f->targets, b) / (double)r->n_retain_tokens;
        if (p->retain != TB_RETAIN_KL) continue;
        for (int t = 0; t < T; t++) {
            int i = b * T + t;
            if (f->targets[i] < 0) continue;
            double q[V], ent = 0.0;
            for (int v = 0; v < V; v++) ent -= (q[v] = exp(f->ref_rows[i][v])) * f->ref_rows[i][v];
            lr += (cross_entropy(m, i, q) - ent) / (double)r->n_retain_tokens;
        }
    }
    return p->gamma * lf + p->alpha * lr;
}

static double objective_loss(fixture *f, tb_objective *o) {
    assert_int_equal(tb_model_forward(&f->m, f->inp, f->targets, B, T), TB_OK);
    tb_batch_view bv = {.model = &f->m, .targets = f->targets, .B = B, .T = T, .n_scored = 0};
    double loss;
    assert_int_equal(o->loss_and_grad(o, &bv, 1.0f, &loss, 0), TB_OK);
    return loss;
}

typedef struct {
    fixture *f;
    tb_objective *o;
} gc_ctx;

static double gc_loss(void *ctx) {
    gc_ctx *g = ctx;
    return objective_loss(g->f, g->o);
}

static void check_method(const tb_unlearn_params *p0) {
    fixture *f = tb_malloc(sizeof *f);
    setup(f);
    tb_unlearn_params p = *p0;
    p.cvec = f->cvec;
    if (p.method == TB_UNLEARN_RMU) {
        f->m.capture_layer = 1;
        f->m.stop_at_capture = 1;
        tb_paramset_set_frozen(&f->m.params, "ln_f", 1); /* after the captured layer: no gradient */
    }
    tb_objective o = tb_objective_unlearn(&p, &f->rows);
    double got = objective_loss(f, &o), want = expected_loss(f, &p);
    print_message("  %-8s retain %d: loss %.6f, formula %.6f\n", o.name, p.retain, got, want);
    assert_true(fabs(got - want) <= 1e-5 * fmax(1.0, fabs(want)));

    tb_model_zero_grad(&f->m);
    tb_batch_view bv = {.model = &f->m, .targets = f->targets, .B = B, .T = T};
    double loss;
    assert_int_equal(tb_model_forward(&f->m, f->inp, f->targets, B, T), TB_OK);
    assert_int_equal(o.loss_and_grad(&o, &bv, 1.0f, &loss, 1), TB_OK);
    tb_model_backward(&f->m, o.uses_logits);
    /* a step of 1e-2: the soft-target losses sum cross-entropies of order 5 in float, whose rounding
     * noise would swamp the smaller tensors' differences at 1e-3; truncation stays far below 2e-2 */
    gc_ctx gc = {f, &o};
    double worst = gradcheck_params(&f->m.params, gc_loss, &gc, 1e-2f, 2e-2, o.name);
    print_message("  %-8s retain %d: worst finite-difference error %.2e of the tensor's largest gradient\n", o.name,
                  p.retain, worst);
    tb_objective_unlearn_free(&o);
    tb_model_free(&f->m);
    tb_free(f);
}

static void test_ga(void **s) { check_method(&(tb_unlearn_params){TB_UNLEARN_GA, TB_RETAIN_NONE, 0, 1, 0, 0, NULL}); }
static void test_graddiff_nll(void **s) {
    check_method(&(tb_unlearn_params){TB_UNLEARN_GRADDIFF, TB_RETAIN_NLL, 0, 1, 1, 0, NULL});
}
static void test_graddiff_kl(void **s) {
    check_method(&(tb_unlearn_params){TB_UNLEARN_GRADDIFF, TB_RETAIN_KL, 0, 1, 1, 0, NULL});
}
static void test_npo(void **s) { check_method(&(tb_unlearn_params){TB_UNLEARN_NPO, TB_RETAIN_NLL, 0.1f, 1, 1, 0, NULL}); }
static void test_npo_strong_beta(void **s) {
    check_method(&(tb_unlearn_params){TB_UNLEARN_NPO, TB_RETAIN_KL, 2.0f, 0.5f, 2, 0, NULL});
}
static void test_simnpo(void **s) {
    check_method(&(tb_unlearn_params){TB_UNLEARN_SIMNPO, TB_RETAIN_NLL, 4.5f, 0.125f, 1, 0.5f, NULL});
}
static void test_idkdpo(void **s) {
    check_method(&(tb_unlearn_params){TB_UNLEARN_IDKDPO, TB_RETAIN_NLL, 0.1f, 1, 1, 0, NULL});
}
static void test_undial(void **s) {
    check_method(&(tb_unlearn_params){TB_UNLEARN_UNDIAL, TB_RETAIN_NONE, 10.0f, 1, 0, 0, NULL});
}
static void test_undial_kl(void **s) {
    check_method(&(tb_unlearn_params){TB_UNLEARN_UNDIAL, TB_RETAIN_KL, 3.0f, 1, 2, 0, NULL});
}
static void test_rmu_gradient(void **s) {
    check_method(&(tb_unlearn_params){TB_UNLEARN_RMU, TB_RETAIN_NONE, 0, 1, 1, 0, NULL});
}

/* RMU's purpose: training moves the layer's forget activations to the control vector while the
 * retain activations stay near the reference's (here: the model's own at the start). */
static int fixed_batch(void *ctx, long step, int micro, int *inp, int *targets) {
    fixture *f = ctx;
    memcpy(inp, f->inp, sizeof f->inp);
    memcpy(targets, f->targets, sizeof f->targets);
    return TB_OK;
}

static double forget_distance(fixture *f) {
    assert_int_equal(tb_model_forward(&f->m, f->inp, f->targets, B, T), TB_OK);
    const float *h = tb_model_hidden(&f->m);
    double d = 0.0;
    int n = 0;
    for (int b = 0; b < 2; b++)
        for (int t = 0; t < T; t++) {
            if (f->targets[b * T + t] < 0) continue;
            double d2 = 0.0;
            for (int c = 0; c < C; c++) d2 += pow(h[(b * T + t) * C + c] - f->cvec[c], 2);
            d += sqrt(d2), n++;
        }
    return d / n;
}

static void test_rmu_moves_to_control(void **s) {
    fixture *f = tb_malloc(sizeof *f);
    setup(f);
    f->m.capture_layer = 0;
    f->m.stop_at_capture = 1;
    for (int l = 1; l < 2; l++) {
        char name[32];
        snprintf(name, sizeof name, ".h.%d.", l);
        tb_paramset_set_frozen(&f->m.params, name, 1);
    }
    tb_paramset_set_frozen(&f->m.params, "ln_f", 1);
    /* the reference states of the retain rows: the model's own before training */
    assert_int_equal(tb_model_forward(&f->m, f->inp, f->targets, B, T), TB_OK);
    memcpy(f->ref_h, tb_model_hidden(&f->m), sizeof f->ref_h);
    for (int c = 0; c < C; c++) f->cvec[c] *= 5.0f;
    tb_unlearn_params p = {TB_UNLEARN_RMU, TB_RETAIN_NONE, 0, 1, 1, 0, f->cvec};
    tb_objective o = tb_objective_unlearn(&p, &f->rows);
    tb_optimizer opt;
    tb_optimizer_init(&opt, TB_OPT_ADAMW, &f->m.params);
    tb_trainer tr = {.model = &f->m, .trainable = &f->m.params, .opt = &opt, .objective = &o, .B = B, .T = T,
                     .accum = 1, .next_batch = fixed_batch, .batch_ctx = f,
                     .sched = {.kind = TB_SCHED_CONSTANT, .lr = 1e-2f, .total = 200}};
    double before = forget_distance(f), first = 0.0, loss = 0.0;
    for (long step = 0; step < 200; step++) {
        float gn;
        assert_int_equal(tb_train_step(&tr, step, &loss, &gn), TB_OK);
        if (step == 0) first = loss;
    }
    double after = forget_distance(f), cnorm = 0.0;
    for (int c = 0; c < C; c++) cnorm += (double)f->cvec[c] * f->cvec[c];
    print_message("  rmu: distance to the control vector %.3f -> %.3f (|cvec| %.3f); loss %.4f -> %.4f\n", before,
                  after, sqrt(cnorm), first, loss);
    /* a quarter of the distance would already be a clear move; the retain term keeps the loss bounded */
    assert_true(after < 0.25 * before);
    assert_true(loss < 0.2 * first);
    tb_optimizer_free(&opt);
    tb_objective_unlearn_free(&o);
    tb_model_free(&f->m);
    tb_free(f);
}

/* WAGLE's mask on a hand-made ParamSet: scores from the formula, the top floor(rho N) of the
 * non-frozen scalars, a tie broken by the smaller index. */
static void test_wagle_mask_by_hand(void **s) {
    tb_paramset ps;
    tb_paramset_init(&ps);
    tb_paramset_add(&ps, "a", 1, (int[]){4});
    tb_paramset_add(&ps, "frozen", 1, (int[]){2});
    tb_paramset_add(&ps, "b", 1, (int[]){2});
    tb_paramset_alloc(&ps);
    tb_paramset_set_frozen(&ps, "frozen", 1);
    size_t a = tb_paramset_find(&ps, "a")->offset, f = tb_paramset_find(&ps, "frozen")->offset,
           b = tb_paramset_find(&ps, "b")->offset;
    float *g_f = tb_malloc(ps.numel * sizeof(float)), *g_r = tb_malloc(ps.numel * sizeof(float));
    /* with mu = 0.5: S = |(theta - 2 g_r) g_f| */
    const float theta[6] = {1, 2, -1, 3, 0.5f, 2}, gf[6] = {1, 1, 2, 0, 4, 1}, gr[6] = {0, 1.5f, 0, 0, 0, 0};
    /* S = 1, |2-3|*1 = 1 (tie with index 0), 2, 0, 2, 2 */
    size_t at[6] = {a, a + 1, a + 2, a + 3, b, b + 1};
    for (int i = 0; i < 6; i++) ps.data[at[i]] = theta[i], g_f[at[i]] = gf[i], g_r[at[i]] = gr[i];
    ps.data[f] = 100.0f, g_f[f] = 100.0f; /* frozen: never ranked */
    tb_wagle_config w = {.density = 0.5, .mu = 0.5f, .score = TB_WAGLE_SCORE_WAGLE};
    assert_int_equal(tb_wagle_mask(&ps, g_f, g_r, &w), 3);
    /* top 3 of 6: the three scores of 2 (a[2], b[0], b[1]) */
    const float want3[6] = {0, 0, 1, 0, 1, 1};
    for (int i = 0; i < 6; i++) assert_true(ps.grad_mask[at[i]] == want3[i]);
    assert_true(ps.grad_mask[f] == 0.0f);
    w.density = 0.8; /* floor(4.8) = 4: the tie at 1 goes to the smaller index, a[0] */
    assert_int_equal(tb_wagle_mask(&ps, g_f, g_r, &w), 4);
    const float want4[6] = {1, 0, 1, 0, 1, 1};
    for (int i = 0; i < 6; i++) assert_true(ps.grad_mask[at[i]] == want4[i]);
    w.score = TB_WAGLE_SCORE_WEIGHT; /* |theta|: 3, 2, 2 (tie: a[1] before b[1]), 1 */
    assert_int_equal(tb_wagle_mask(&ps, g_f, g_r, &w), 4);
    const float want_w[6] = {1, 1, 0, 1, 0, 1};
    for (int i = 0; i < 6; i++) assert_true(ps.grad_mask[at[i]] == want_w[i]);
    tb_free(g_f), tb_free(g_r);
    tb_paramset_free(&ps);
}

/* A masked weight does not move under training, except for decoupled weight decay (kept on purpose:
 * the reference's wagle_decay_masked convention). */
static void masked_training(float wd) {
    fixture *f = tb_malloc(sizeof *f);
    setup(f);
    tb_paramset *ps = &f->m.params;
    float *g = tb_malloc(ps->numel * sizeof(float)), *before = tb_malloc(ps->numel * sizeof(float));
    tb_rng r = tb_rng_make(4, 4);
    for (size_t i = 0; i < ps->numel; i++) g[i] = tb_rng_normal(&r);
    tb_wagle_config w = {.density = 0.5, .mu = 1e-6f, .score = TB_WAGLE_SCORE_WAGLE};
    long ones = tb_wagle_mask(ps, g, g, &w);
    memcpy(before, ps->data, ps->numel * sizeof(float));
    tb_objective sft = tb_objective_sft();
    tb_optimizer opt;
    tb_optimizer_init(&opt, TB_OPT_ADAMW, ps);
    opt.weight_decay = wd;
    float lr = 1e-2f;
    tb_trainer tr = {.model = &f->m, .trainable = ps, .opt = &opt, .objective = &sft, .B = B, .T = T, .accum = 1,
                     .clip = 1.0f, .next_batch = fixed_batch, .batch_ctx = f,
                     .sched = {.kind = TB_SCHED_CONSTANT, .lr = lr, .total = 3}};
    for (long step = 0; step < 3; step++) {
        double loss;
        float gn;
        assert_int_equal(tb_train_step(&tr, step, &loss, &gn), TB_OK);
    }
    long moved = 0, masked = 0;
    for (int t = 0; t < ps->n_tensors; t++) {
        const tb_tensor *tt = &ps->tensors[t];
        /* three steps of decay only: theta * (1 - lr wd)^3 */
        double factor = tt->decay ? pow(1.0 - (double)lr * wd, 3) : 1.0;
        for (size_t j = tt->offset; j < tt->offset + tt->numel; j++) {
            if (ps->grad_mask[j] == 0.0f) {
                masked++;
                assert_true(fabs(ps->data[j] - before[j] * factor) <= 1e-6 * fabs(before[j]) + 1e-12);
            } else {
                moved += ps->data[j] != before[j];
            }
        }
    }
    print_message("  wagle (wd %g): %ld of %zu may update, %ld moved, %ld masked held\n", (double)wd, ones, ps->numel,
                  moved, masked);
    assert_true(moved > ones * 9 / 10 && masked == (long)ps->numel - ones);
    tb_optimizer_free(&opt);
    tb_free(g), tb_free(before);
    tb_model_free(&f->m);
    tb_free(f);
}

static void test_wagle_masked_weights_hold(void **s) {
    masked_training(0.0f);
    masked_training(0.1f);
}

static void test_merge_by_hand(void **s) {
    const float theta0[4] = {1, 1, 1, 1};
    const float t1[4] = {4, 0, 1.5f, 3}, t2[4] = {-1, -3, 1.1f, 2}; /* tau1 = 3,-1,.5,2; tau2 = -2,-4,.1,1 */
    const float *thetas[2] = {t1, t2};
    float out[4];
    tb_merge_mean(out, theta0, thetas, 2, 4);
    const float mean[4] = {1.5f, -1.5f, 1.3f, 2.5f};
    for (int j = 0; j < 4; j++) assert_true(fabsf(out[j] - mean[j]) < 1e-6f);
    /* keep 2 of 4 per task vector: tau1 keeps {0: 3, 3: 2}, tau2 {1: -4, 0: -2}; elected signs
     * +, -, none, +; the agreeing kept entries average to 3, -4, 0, 2 */
    tb_merge_ties(out, theta0, thetas, 2, 4, 0.5, 1.0);
    const float ties[4] = {4, -3, 1, 3};
    for (int j = 0; j < 4; j++) assert_true(fabsf(out[j] - ties[j]) < 1e-6f);
    tb_merge_ties(out, theta0, thetas, 2, 4, 1.0, 0.5); /* nothing trimmed, lambda 0.5 */
    /* signs +(1), -(-5), +(.6), +(3): coordinate 0 averages only tau1's 3 */
    const float all[4] = {2.5f, -0.25f, 1.15f, 1.75f};
    for (int j = 0; j < 4; j++) assert_true(fabsf(out[j] - all[j]) < 1e-6f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ga),           cmocka_unit_test(test_graddiff_nll), cmocka_unit_test(test_graddiff_kl),
        cmocka_unit_test(test_npo),          cmocka_unit_test(test_npo_strong_beta), cmocka_unit_test(test_simnpo),
        cmocka_unit_test(test_idkdpo),       cmocka_unit_test(test_undial),       cmocka_unit_test(test_undial_kl),
        cmocka_unit_test(test_rmu_gradient), cmocka_unit_test(test_rmu_moves_to_control),
        cmocka_unit_test(test_wagle_mask_by_hand), cmocka_unit_test(test_wagle_masked_weights_hold),
        cmocka_unit_test(test_merge_by_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
