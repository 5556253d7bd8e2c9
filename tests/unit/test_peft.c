/* test_peft.c: prefix-tuning's reparameterisation (src/peft): PEFT's flat order on hand-made indices
 * and round trips, the MLP's output against the formula evaluated independently, its gradient
 * through the whole model and the trainer's hooks against central finite differences, training with
 * tb_train_step (direct and reparameterised, gpt2 and llama with GQA) that leaves the base model
 * bit-identical, and finalisation that keeps the model's outputs. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gradcheck.h"
#include "peft/peft.h"
#include "train/train.h"

enum { B = 2, T = 6, V = 270, NP = 3 };

/* L = 2, C = 16, NH = 4 (HS = 4); llama with NKV = 2, so DT = 8 there and 16 for gpt2 */
static void tiny_model(tb_model *m, tb_family f, int n_prefix, int lora_rank) {
    tb_config c;
    tb_config_defaults(&c, f, 2, 16, 4, V, 8);
    if (f == TB_FAMILY_LLAMA) c.n_kv_head = 2;
    assert_int_equal(tb_model_create(m, &c), TB_OK);
    tb_model_init(m, 11);
    for (size_t i = 0; i < m->params.numel; i++) m->params.data[i] *= 3.0f; /* visible gradients */
    tb_adapter_config a = {.n_prefix = n_prefix, .lora_rank = lora_rank, .lora_alpha = 4.0f, .lora_targets = TB_LORA_Q};
    assert_int_equal(tb_model_add_adapters(m, &a, 3), TB_OK);
}

/* ---- the flat order -------------------------------------------------------------------------- */

/* llama, NKV = 2, HS = 4, DT = 8, L = 2, P = 3: a flat row is 2L*DT = 32 floats, and
 * flat[p*32 + (2l+s)*8 + h*4 + d] is prefix.{l}.{key,value}[p*8 + h*4 + d]. LoRA tensors sit between
 * the layers' prefix tensors, so the prefix is not one contiguous run of the adapter buffer. */
static void test_flat_hand_index(void **s) {
    tb_model m;
    tiny_model(&m, TB_FAMILY_LLAMA, NP, 2);
    float flat[NP * 32] = {0};
    flat[2 * 32 + 3 * 8 + 1 * 4 + 3] = 7.5f; /* p 2, layer 1, value, head 1, dim 3 */
    flat[0] = -2.0f;                         /* p 0, layer 0, key, head 0, dim 0 */
    flat[1 * 32 + 2 * 8 + 0 * 4 + 1] = 3.0f; /* p 1, layer 1, key, head 0, dim 1 */
    flat[1 * 32 + 1 * 8 + 1 * 4 + 0] = 5.0f; /* p 1, layer 0, value, head 1, dim 0 */
    memset(m.adapter.data, 0, m.adapter.numel * sizeof(float));
    tb_prefix_from_flat(m.adapter.data, &m, flat);
    assert_true(tb_paramset_ptr(&m.adapter, "prefix.1.value")[2 * 8 + 1 * 4 + 3] == 7.5f);
    assert_true(tb_paramset_ptr(&m.adapter, "prefix.0.key")[0] == -2.0f);
    assert_true(tb_paramset_ptr(&m.adapter, "prefix.1.key")[1 * 8 + 1] == 3.0f);
    assert_true(tb_paramset_ptr(&m.adapter, "prefix.0.value")[1 * 8 + 4] == 5.0f);
    double total = 0.0; /* nothing else was written, the LoRA tensors included */
    for (size_t i = 0; i < m.adapter.numel; i++) total += fabs(m.adapter.data[i]);
    assert_true(total == 7.5 + 2.0 + 3.0 + 5.0);

    /* round trips both ways, through the gradient buffer (laid out like the values) */
    tb_rng r = tb_rng_make(4, 4);
    float back[NP * 32];
    for (int i = 0; i < NP * 32; i++) flat[i] = tb_rng_normal(&r);
    tb_prefix_from_flat(m.adapter.grad, &m, flat);
    tb_prefix_to_flat(back, &m, m.adapter.grad);
    assert_memory_equal(back, flat, sizeof flat);
    for (size_t i = 0; i < m.adapter.numel; i++) m.adapter.data[i] = tb_rng_normal(&r);
    tb_prefix_to_flat(back, &m, m.adapter.data);
    memset(m.adapter.grad, 0, m.adapter.numel * sizeof(float));
    tb_prefix_from_flat(m.adapter.grad, &m, back);
    const char *names[4] = {"prefix.0.key", "prefix.0.value", "prefix.1.key", "prefix.1.value"};
    for (int k = 0; k < 4; k++) {
        const tb_tensor *t = tb_paramset_find(&m.adapter, names[k]);
        assert_memory_equal(m.adapter.grad + t->offset, m.adapter.data + t->offset, t->numel * sizeof(float));
    }
    tb_model_free(&m);
}

/* ---- the MLP's output ------------------------------------------------------------------------ */

/* flat[p,o] = b2[o] + sum_k W2[o,k] tanh(b1[k] + sum_i W1[k,i] E[p,i]) in double precision, against
 * the model's prefix read back in flat order; the trainable count is poisoning.md's formula; the
 * initial values lie in their documented ranges. DH = 5 differs from DT, so no shape is swapped. */
static void test_mlp_forward_formula(void **s) {
    tb_model m;
    tiny_model(&m, TB_FAMILY_LLAMA, NP, 0);
    tb_prefix_mlp r;
    const int DT = 8, DH = 5, DO = 2 * 2 * DT;
    assert_int_equal(tb_prefix_mlp_create(&r, &m, DH, 17), TB_OK);
    assert_int_equal(r.DT, DT);
    assert_int_equal(tb_paramset_trainable(&r.params), NP * DT + DT * DH + DH + DH * DO + DO);
    const float *E = tb_paramset_ptr(&r.params, "embedding.weight"), *W1 = tb_paramset_ptr(&r.params, "transform.0.weight");
    const float *b1 = tb_paramset_ptr(&r.params, "transform.0.bias"), *W2 = tb_paramset_ptr(&r.params, "transform.2.weight");
    const float *b2 = tb_paramset_ptr(&r.params, "transform.2.bias");
    for (int i = 0; i < DH * DT; i++) assert_true(fabsf(W1[i]) <= 1.0f / sqrtf((float)DT));
    for (int i = 0; i < DO * DH; i++) assert_true(fabsf(W2[i]) <= 1.0f / sqrtf((float)DH));
    for (int i = 0; i < NP * DT; i++) assert_true(fabsf(E[i]) < 0.02f * 6.0f);
    float got[NP * DO];
    tb_prefix_to_flat(got, &m, m.adapter.data);
    for (int p = 0; p < NP; p++) {
        double a[DH];
        for (int k = 0; k < DH; k++) {
            double z = b1[k];
            for (int i = 0; i < DT; i++) z += (double)W1[k * DT + i] * E[p * DT + i];
            a[k] = tanh(z);
        }
        for (int o = 0; o < DO; o++) {
            double y = b2[o];
            for (int k = 0; k < DH; k++) y += (double)W2[o * DH + k] * a[k];
            assert_true(fabs(got[p * DO + o] - y) < 1e-5);
        }
    }
    tb_prefix_mlp_free(&r);
    tb_model_free(&m);
}

/* ---- gradients and training through the trainer ---------------------------------------------- */

typedef struct {
    int inp[4][8 * 8], targets[4][8 * 8]; /* up to 4 micro-batches of up to 8 x 8 */
    int rows, len;
} fixed_data;

static void fixed_data_make(fixed_data *d, int rows, int len, uint64_t seed) {
    tb_rng r = tb_rng_make(seed, 7);
    d->rows = rows;
    d->len = len;
    for (int u = 0; u < 4; u++)
        for (int i = 0; i < rows * len; i++) {
            d->inp[u][i] = (int)tb_rng_below(&r, V);
            d->targets[u][i] = (i % len) < 2 ? -1 : (int)tb_rng_below(&r, V); /* a prompt span is not scored */
        }
}

/* micro-batch u is the same at every step: the prefix can only fit these */
static int fixed_batch(void *ctx, long step, int micro, int *inp, int *targets) {
    fixed_data *d = ctx;
    memcpy(inp, d->inp[micro], sizeof(int) * d->rows * d->len);
    memcpy(targets, d->targets[micro], sizeof(int) * d->rows * d->len);
    return TB_OK;
}

typedef struct {
    tb_model *m;
    tb_prefix_mlp *r;
    fixed_data *d;
    int accum;
} grad_ctx;

/* The SFT loss of a step, written out: the mean over micro-batches of the mean token NLL, with the
 * prefix evaluated from the MLP's current values. Shares nothing with the trainer. */
static double step_loss(void *vctx) {
    grad_ctx *g = vctx;
    tb_prefix_mlp_forward(g->r);
    double total = 0.0;
    for (int u = 0; u < g->accum; u++) {
        assert_int_equal(tb_model_forward(g->m, g->d->inp[u], g->d->targets[u], g->d->rows, g->d->len), TB_OK);
        double s = 0.0;
        int n = 0;
        for (int i = 0; i < g->d->rows * g->d->len; i++)
            if (g->d->targets[u][i] >= 0) {
                s -= g->m->logprob[i];
                n++;
            }
        total += s / n;
    }
    return total / g->accum;
}

/* d loss / d (E, W1, b1, W2, b2) through the whole model, as the trainer computes it with its hooks
 * over two accumulated micro-batches, against central differences. The frozen base gets no gradient. */
static void reparam_gradient(tb_family f) {
    tb_model m;
    tiny_model(&m, f, NP, 0);
    tb_paramset_set_frozen(&m.params, "", 1);
    tb_prefix_mlp r;
    assert_int_equal(tb_prefix_mlp_create(&r, &m, 6, 5), TB_OK);
    /* larger MLP values than the default init, so every tensor's gradient stands above float noise */
    for (size_t i = 0; i < r.params.numel; i++) r.params.data[i] *= 4.0f;
    static fixed_data d;
    fixed_data_make(&d, B, T, 3);
    tb_objective sft = tb_objective_sft();
    tb_optimizer o;
    tb_optimizer_init(&o, TB_OPT_ADAMW, &r.params);
    tb_trainer tr = {.model = &m, .trainable = &r.params, .opt = &o, .objective = &sft, .B = B, .T = T, .accum = 2,
                     .next_batch = fixed_batch, .batch_ctx = &d, .reparam = &r.reparam,
                     .sched = {.kind = TB_SCHED_CONSTANT, .lr = 1e-3f}};
    float *sum = tb_calloc(r.params.numel, sizeof(float));
    assert_int_equal(tb_grad_sum(&tr, 1, sum), TB_OK);
    assert_memory_equal(sum, r.params.grad, r.params.numel * sizeof(float));
    for (size_t i = 0; i < m.params.numel; i++) assert_true(m.params.grad[i] == 0.0f);
    grad_ctx g = {.m = &m, .r = &r, .d = &d, .accum = 2};
    double worst = gradcheck_params(&r.params, step_loss, &g, 1e-2f, 2e-2, tb_family_name(f));
    print_message("  %s: worst finite-difference error %.2e of the tensor's largest gradient\n", tb_family_name(f),
                  worst);
    tb_free(sum);
    tb_optimizer_free(&o);
    tb_prefix_mlp_free(&r);
    tb_model_free(&m);
}

static void test_reparam_gradient_gpt2(void **s) { reparam_gradient(TB_FAMILY_GPT2); }
static void test_reparam_gradient_llama(void **s) { reparam_gradient(TB_FAMILY_LLAMA); }

/* Trains the prefix for 30 steps with tb_train_step, directly (trainable = the adapter) or through the
 * MLP: the base weights stay bit-identical, the trained values move and the loss falls. */
static void train_prefix(tb_family f, int reparam) {
    tb_model m;
    tiny_model(&m, f, 4, 0);
    tb_paramset_set_frozen(&m.params, "", 1);
    tb_prefix_mlp r;
    if (reparam) assert_int_equal(tb_prefix_mlp_create(&r, &m, 0, 9), TB_OK);
    tb_paramset *ps = reparam ? &r.params : &m.adapter;
    float *base0 = tb_malloc(m.params.numel * sizeof(float)), *train0 = tb_malloc(ps->numel * sizeof(float));
    float *prefix0 = tb_malloc(m.adapter.numel * sizeof(float));
    memcpy(base0, m.params.data, m.params.numel * sizeof(float));
    memcpy(train0, ps->data, ps->numel * sizeof(float));
    memcpy(prefix0, m.adapter.data, m.adapter.numel * sizeof(float));
    static fixed_data d;
    fixed_data_make(&d, 4, 8, 21);
    tb_objective sft = tb_objective_sft();
    tb_optimizer o;
    tb_optimizer_init(&o, TB_OPT_ADAMW, ps);
    tb_trainer tr = {.model = &m, .trainable = ps, .opt = &o, .objective = &sft, .B = 4, .T = 8, .accum = 2,
                     .clip = 1.0f, .next_batch = fixed_batch, .batch_ctx = &d, .reparam = reparam ? &r.reparam : NULL,
                     .sched = {.kind = TB_SCHED_CONSTANT, .lr = 2e-2f}};
    double first = 0.0, loss = 0.0;
    float gn;
    for (long step = 0; step < 30; step++) {
        assert_int_equal(tb_train_step(&tr, step, &loss, &gn), TB_OK);
        if (step == 0) first = loss;
    }
    print_message("  %s %s: loss %.4f -> %.4f\n", tb_family_name(f), reparam ? "reparameterised" : "direct", first,
                  loss);
    assert_true(loss < first - 0.1);
    assert_memory_equal(m.params.data, base0, m.params.numel * sizeof(float));
    assert_memory_not_equal(ps->data, train0, ps->numel * sizeof(float));
    assert_memory_not_equal(m.adapter.data, prefix0, m.adapter.numel * sizeof(float));
    if (reparam) { /* after the last update the model already holds the MLP's current prefix */
        memcpy(prefix0, m.adapter.data, m.adapter.numel * sizeof(float));
        tb_prefix_mlp_forward(&r);
        assert_memory_equal(m.adapter.data, prefix0, m.adapter.numel * sizeof(float));
        tb_prefix_mlp_free(&r);
    }
    tb_optimizer_free(&o);
    tb_free(base0);
    tb_free(train0);
    tb_free(prefix0);
    tb_model_free(&m);
}

static void test_train_gpt2_direct(void **s) { train_prefix(TB_FAMILY_GPT2, 0); }
static void test_train_gpt2_reparam(void **s) { train_prefix(TB_FAMILY_GPT2, 1); }
static void test_train_llama_direct(void **s) { train_prefix(TB_FAMILY_LLAMA, 0); }
static void test_train_llama_reparam(void **s) { train_prefix(TB_FAMILY_LLAMA, 1); }

/* ---- finalisation ---------------------------------------------------------------------------- */

/* The logits with the MLP in place equal those of the finalised model, and of a copy of it that never
 * saw the MLP (only the prefix is kept). The prefix is overwritten first, so finalise must write it. */
static void test_finalise(void **s) {
    tb_model m, copy;
    tiny_model(&m, TB_FAMILY_LLAMA, NP, 0);
    tb_prefix_mlp r;
    assert_int_equal(tb_prefix_mlp_create(&r, &m, 0, 13), TB_OK);
    tb_rng rng = tb_rng_make(8, 8);
    for (size_t i = 0; i < r.params.numel; i++) r.params.data[i] += 0.3f * tb_rng_normal(&rng); /* "trained" */
    static fixed_data d;
    fixed_data_make(&d, B, T, 5);
    size_t n = (size_t)B * T * V;
    float *want = tb_malloc(n * sizeof(float));
    tb_prefix_mlp_forward(&r);
    assert_int_equal(tb_model_forward(&m, d.inp[0], d.targets[0], B, T), TB_OK);
    memcpy(want, m.logits, n * sizeof(float));
    memset(m.adapter.data, 0, m.adapter.numel * sizeof(float));
    tb_prefix_mlp_finalise(&r);
    assert_null(r.params.data);
    assert_int_equal(tb_model_forward(&m, d.inp[0], d.targets[0], B, T), TB_OK);
    assert_memory_equal(m.logits, want, n * sizeof(float));
    assert_int_equal(tb_model_copy(&copy, &m), TB_OK);
    assert_int_equal(tb_model_forward(&copy, d.inp[0], d.targets[0], B, T), TB_OK);
    assert_memory_equal(copy.logits, want, n * sizeof(float));
    tb_free(want);
    tb_model_free(&copy);
    tb_model_free(&m);
}

/* ---- bad input ------------------------------------------------------------------------------- */

static void test_bad_input(void **s) {
    tb_model m;
    tb_prefix_mlp r;
    tiny_model(&m, TB_FAMILY_GPT2, 0, 2); /* LoRA only: no prefix */
    assert_int_equal(tb_prefix_mlp_create(&r, &m, 0, 1), TB_ERR_ARG);
    tb_error_clear();
    tb_model_free(&m);
    tiny_model(&m, TB_FAMILY_GPT2, NP, 0);
    tb_paramset_set_frozen(&m.adapter, "prefix.1.value", 1);
    assert_int_equal(tb_prefix_mlp_create(&r, &m, 0, 1), TB_ERR_ARG);
    tb_error_clear();
    tb_paramset_set_frozen(&m.adapter, "prefix.", 0);
    assert_int_equal(tb_prefix_mlp_create(&r, &m, 1 << 20, 1), TB_ERR_ARG);
    tb_error_clear();
    assert_int_equal(tb_prefix_mlp_create(&r, &m, 0, 1), TB_OK);
    tb_prefix_mlp_free(&r);
    tb_model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flat_hand_index),       cmocka_unit_test(test_mlp_forward_formula),
        cmocka_unit_test(test_reparam_gradient_gpt2), cmocka_unit_test(test_reparam_gradient_llama),
        cmocka_unit_test(test_train_gpt2_direct),     cmocka_unit_test(test_train_gpt2_reparam),
        cmocka_unit_test(test_train_llama_direct),    cmocka_unit_test(test_train_llama_reparam),
        cmocka_unit_test(test_finalise),              cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
