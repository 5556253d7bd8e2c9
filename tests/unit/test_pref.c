/* test_pref.c: the DPO pair loss on hand-computed cases, and the joint SFT + DPO objective of
 * src/train (posttrain.md section A): its loss against an independent evaluation of the formula, its
 * reported f_SFT / f_DPO / reward accuracy / margin, and its gradient through the whole model
 * against central finite differences, for the sigmoid loss, label smoothing and IPO. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gradcheck.h"
#include "train/train.h"

/* rows 0,1 SFT; 2,3 chosen responses whose rejected ones are rows 5,4 (pairs need not be adjacent) */
enum { B = 6, T = 8, V = 270, C = 16 };

typedef struct {
    tb_model m;
    int inp[B * T], targets[B * T];
    tb_pref_role role[B];
    int pair[B];
    float ref_seq[B];
    tb_pref_rows rows;
    tb_objective o;
} fixture;

static double seq_logprob(const tb_model *m, const int *targets, int b) {
    double s = 0.0;
    for (int t = 0; t < T; t++)
        if (targets[b * T + t] >= 0) s += m->logprob[b * T + t];
    return s;
}

static void setup(fixture *f, float w_sft, float w_dpo) {
    memset(f, 0, sizeof *f);
    tb_config c;
    tb_config_defaults(&c, TB_FAMILY_GPT2, 2, C, 4, V, T);
    assert_int_equal(tb_model_create(&f->m, &c), TB_OK);
    tb_model_init(&f->m, 5);
    for (size_t i = 0; i < f->m.params.numel; i++) f->m.params.data[i] *= 3.0f; /* visible gradients */
    tb_rng r = tb_rng_make(23, 1);
    long n_tok = 0;
    for (int b = 0; b < B; b++) {
        int answer_end = T - (b % 3); /* responses of different lengths */
        for (int t = 0; t < T; t++) {
            f->inp[b * T + t] = (int)tb_rng_below(&r, V);
            f->targets[b * T + t] = t >= 3 && t < answer_end ? (int)tb_rng_below(&r, V) : -1;
            if (b < 2 && f->targets[b * T + t] >= 0) n_tok++;
        }
        f->role[b] = b < 2 ? TB_PREF_SFT : b < 4 ? TB_PREF_CHOSEN : TB_PREF_REJECTED;
        f->pair[b] = b == 2 ? 5 : b == 3 ? 4 : -1;
    }
    /* reference log-probs near the model's own (the sigmoids are not saturated), offset so that pair
     * (2,5) has z = -1.5 (the rejected response ahead) and pair (3,4) z = +1: reward accuracy 1/2 */
    assert_int_equal(tb_model_forward(&f->m, f->inp, f->targets, B, T), TB_OK);
    static const double offset[B] = {0, 0, 1.5, -0.5, 0.5, 0.0};
    for (int b = 2; b < B; b++) f->ref_seq[b] = (float)(seq_logprob(&f->m, f->targets, b) + offset[b]);
    f->rows = (tb_pref_rows){.role = f->role, .pair = f->pair, .ref_seq = f->ref_seq, .n_sft_tokens = n_tok,
                             .n_pairs = 2, .w_sft = w_sft, .w_dpo = w_dpo};
}

static double log_sigmoid(double x) { return -log1p(exp(-x)); }

/* The formulas of posttrain.md, in double precision, sharing no code with the objective. */
static void expected(const fixture *f, const tb_dpo_params *p, double *f_sft, double *f_dpo, double *acc,
                     double *margin) {
    *f_sft = *f_dpo = *acc = *margin = 0.0;
    for (int b = 0; b < 2; b++) *f_sft -= seq_logprob(&f->m, f->targets, b) / (double)f->rows.n_sft_tokens;
    for (int b = 2; b < 4; b++) {
        int j = f->pair[b];
        double z = (seq_logprob(&f->m, f->targets, b) - f->ref_seq[b]) - (seq_logprob(&f->m, f->targets, j) - f->ref_seq[j]);
        double l = p->kind == TB_DPO_IPO ? pow(z - 1.0 / (2.0 * p->beta), 2)
                                         : -(1.0 - p->label_smoothing) * log_sigmoid(p->beta * z) -
                                               p->label_smoothing * log_sigmoid(-p->beta * z);
        *f_dpo += l / 2;
        *acc += (z > 0) / 2.0;
        *margin += p->beta * z / 2;
    }
}

static double objective_loss(void *ctx) {
    fixture *f = ctx;
    assert_int_equal(tb_model_forward(&f->m, f->inp, f->targets, B, T), TB_OK);
    tb_batch_view bv = {.model = &f->m, .targets = f->targets, .B = B, .T = T};
    double loss;
    assert_int_equal(f->o.loss_and_grad(&f->o, &bv, 1.0f, &loss, 0), TB_OK);
    return loss;
}

static void check(tb_dpo_params p, float w_sft, float w_dpo) {
    fixture *f = tb_malloc(sizeof *f);
    setup(f, w_sft, w_dpo);
    f->o = tb_objective_pref(&p, &f->rows);
    double got = objective_loss(f), fs, fd, acc, margin;
    expected(f, &p, &fs, &fd, &acc, &margin);
    double want = w_sft * fs + w_dpo * fd;
    print_message("  kind %d eps %.2f w (%.2f, %.2f): loss %.6f, formula %.6f; f_sft %.5f f_dpo %.5f acc %.2f\n",
                  p.kind, (double)p.label_smoothing, (double)w_sft, (double)w_dpo, got, want, fs, fd, acc);
    assert_true(fabs(got - want) <= 1e-5 * fmax(1.0, fabs(want)));
    assert_true(fabs(f->rows.f_sft - fs) <= 1e-5 * fmax(1.0, fs));
    assert_true(fabs(f->rows.f_dpo - fd) <= 1e-5 * fmax(1.0, fd));
    assert_true(fabs(f->rows.reward_acc - acc) < 1e-12 && fabs(acc - 0.5) < 1e-12);
    assert_true(fabs(f->rows.reward_margin - margin) <= 1e-5 * fmax(1.0, fabs(margin)));

    tb_model_zero_grad(&f->m);
    tb_batch_view bv = {.model = &f->m, .targets = f->targets, .B = B, .T = T};
    double loss;
    assert_int_equal(tb_model_forward(&f->m, f->inp, f->targets, B, T), TB_OK);
    assert_int_equal(f->o.loss_and_grad(&f->o, &bv, 1.0f, &loss, 1), TB_OK);
    tb_model_backward(&f->m, 1);
    double worst = gradcheck_params(&f->m.params, objective_loss, f, 1e-2f, 2e-2, "sft+dpo");
    print_message("  worst finite-difference error %.2e of the tensor's largest gradient\n", worst);
    tb_objective_pref_free(&f->o);
    tb_model_free(&f->m);
    tb_free(f);
}

/* Hand-computed: beta 0.1, z = 2: softplus(-0.2) = ln(1 + e^-0.2) = 0.5981388693;
 * dL/dz = -0.1 sigmoid(-0.2) = -0.1 * 0.4501660027 = -0.04501660027. With eps 0.1:
 * 0.9 * 0.5981388693 + 0.1 * (0.2 + 0.5981388693) = 0.6181388693, dL/dz = -0.9 * 0.04501660027 +
 * 0.1 * 0.1 * 0.5498339973 = -0.03501660027. IPO: (2 - 5)^2 = 9, dL/dz = 2 (2 - 5) = -6. */
static void test_pair_loss_hand(void **s) {
    double d;
    tb_dpo_params p = {.kind = TB_DPO_SIGMOID, .beta = 0.1f};
    assert_true(fabs(tb_dpo_pair_loss(&p, 2.0, &d) - 0.5981388693) < 1e-7);
    assert_true(fabs(d + 0.04501660027) < 1e-8);
    p.label_smoothing = 0.1f;
    assert_true(fabs(tb_dpo_pair_loss(&p, 2.0, &d) - 0.6181388693) < 1e-7);
    assert_true(fabs(d + 0.03501660027) < 1e-8);
    p = (tb_dpo_params){.kind = TB_DPO_IPO, .beta = 0.1f};
    assert_true(fabs(tb_dpo_pair_loss(&p, 2.0, &d) - 9.0) < 1e-5);
    assert_true(fabs(d + 6.0) < 1e-5);
    /* z = 0 (the policy is its reference): log 2, the value every DPO run starts from */
    p = (tb_dpo_params){.kind = TB_DPO_SIGMOID, .beta = 0.1f};
    assert_true(fabs(tb_dpo_pair_loss(&p, 0.0, &d) - log(2.0)) < 1e-12);
    /* far from 0 the loss stays finite and its slope saturates at -beta (no overflow) */
    assert_true(fabs(tb_dpo_pair_loss(&p, -1e4, &d) - 1e4 * (double)p.beta) < 1e-9);
    assert_true(fabs(d + (double)p.beta) < 1e-12);
}

static void test_sft_only(void **s) { check((tb_dpo_params){TB_DPO_SIGMOID, 0.1f, 0.0f}, 1.0f, 0.0f); }
static void test_dpo_only(void **s) { check((tb_dpo_params){TB_DPO_SIGMOID, 0.1f, 0.0f}, 0.0f, 1.0f); }
static void test_mix(void **s) { check((tb_dpo_params){TB_DPO_SIGMOID, 0.5f, 0.0f}, 0.3f, 0.7f); }
static void test_label_smoothing(void **s) { check((tb_dpo_params){TB_DPO_SIGMOID, 0.5f, 0.2f}, 0.5f, 0.5f); }
static void test_ipo(void **s) { check((tb_dpo_params){TB_DPO_IPO, 0.5f, 0.0f}, 0.5f, 0.5f); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pair_loss_hand), cmocka_unit_test(test_sft_only),
        cmocka_unit_test(test_dpo_only),       cmocka_unit_test(test_mix),
        cmocka_unit_test(test_label_smoothing), cmocka_unit_test(test_ipo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
