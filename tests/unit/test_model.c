/* test_model.c: the whole model: gradients against finite differences for both families with
 * every hook (prefix, LoRA, GQA, loss masks, captured hidden state), frozen tensors, log-probs of
 * target spans, and bad configurations. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "model/model.h"

enum { B = 2, T = 6 };

static void tiny_config(tb_config *c, tb_family f) {
    tb_config_defaults(c, f, 2, 16, 4, 270, 8);
    if (f == TB_FAMILY_LLAMA) {
        c->n_kv_head = 2; /* grouped-query attention */
        c->qkv_bias = 1;
    }
}

static void make_batch(int *inp, int *targets, int V, uint64_t seed) {
    tb_rng r = tb_rng_make(seed, 7);
    for (int i = 0; i < B * T; i++) {
        inp[i] = (int)tb_rng_below(&r, (uint64_t)V);
        targets[i] = (i % T) < 2 ? -1 : (int)tb_rng_below(&r, (uint64_t)V); /* a prompt span is not scored */
    }
}

/* loss = -(1/n) sum_scored logprob + sum(hidden * R) when a layer is captured */
static double model_loss(tb_model *m, const int *inp, const int *targets, const float *R) {
    assert_int_equal(tb_model_forward(m, inp, targets, B, T), TB_OK);
    double s = 0.0;
    int n = 0;
    if (m->capture_layer < 0 || !m->stop_at_capture) {
        for (int i = 0; i < B * T; i++)
            if (targets[i] >= 0) {
                s -= m->logprob[i];
                n++;
            }
        s /= n;
    }
    if (m->capture_layer >= 0) {
        const float *h = tb_model_hidden(m);
        for (int i = 0; i < B * T * m->cfg.n_embd; i++) s += (double)h[i] * R[i];
    }
    return s;
}

static void model_grad(tb_model *m, const int *inp, const int *targets, const float *R) {
    tb_model_zero_grad(m);
    model_loss(m, inp, targets, R);
    int have_logits = m->capture_layer < 0 || !m->stop_at_capture;
    if (have_logits) {
        float dlp[B * T];
        int n = 0;
        for (int i = 0; i < B * T; i++) n += targets[i] >= 0;
        for (int i = 0; i < B * T; i++) dlp[i] = targets[i] >= 0 ? -1.0f / n : 0.0f;
        tb_model_logprob_grad(m, dlp);
    }
    if (m->capture_layer >= 0) memcpy(tb_model_hidden_grad(m), R, sizeof(float) * B * T * m->cfg.n_embd);
    tb_model_backward(m, have_logits);
}

/* Central differences on a sample of every trainable tensor of ps; the error is relative to the
 * tensor's largest gradient, so tiny entries with float rounding noise do not dominate. */
static void check_paramset(tb_model *m, tb_paramset *ps, const int *inp, const int *targets, const float *R) {
    const float h = 1e-3f;
    for (int ti = 0; ti < ps->n_tensors; ti++) {
        tb_tensor *t = &ps->tensors[ti];
        float *w = ps->data + t->offset, *g = ps->grad + t->offset;
        if (t->frozen) {
            for (size_t j = 0; j < t->numel; j++) assert_true(g[j] == 0.0f);
            continue;
        }
        float gmax = 0.0f;
        for (size_t j = 0; j < t->numel; j++) gmax = fmaxf(gmax, fabsf(g[j]));
        if (gmax == 0.0f) fail_msg("tensor %s has an all-zero gradient", t->name);
        size_t stride = t->numel / 7 + 1;
        for (size_t j = 0; j < t->numel; j += stride) {
            float keep = w[j];
            w[j] = keep + h;
            double lp = model_loss(m, inp, targets, R);
            w[j] = keep - h;
            double lm = model_loss(m, inp, targets, R);
            w[j] = keep;
            double fd = (lp - lm) / (2.0 * h);
            double err = fabs(fd - g[j]) / gmax;
            if (err > 2e-2)
                fail_msg("%s[%zu]: analytic %g, finite difference %g (error %.3g of max %g)", t->name, j, (double)g[j],
                         fd, err, (double)gmax);
        }
    }
}

static void gradient_check(tb_family f, int prefix, int lora, int capture, int stop) {
    tb_config c;
    tiny_config(&c, f);
    tb_model m;
    assert_int_equal(tb_model_create(&m, &c), TB_OK);
    tb_model_init(&m, 11);
    /* larger weights than GPT-2's 0.02 make every path's gradient visible above float noise */
    for (size_t i = 0; i < m.params.numel; i++) m.params.data[i] *= 3.0f;
    if (prefix || lora) {
        tb_adapter_config a = {.n_prefix = prefix, .lora_rank = lora, .lora_alpha = 4.0f,
                               .lora_targets = f == TB_FAMILY_GPT2 ? (TB_LORA_Q | TB_LORA_O | TB_LORA_UP | TB_LORA_DOWN)
                                                                   : 0x7f};
        assert_int_equal(tb_model_add_adapters(&m, &a, 3), TB_OK);
        tb_rng r = tb_rng_make(5, 5); /* LoRA B starts at zero; make it non-zero so A's gradient exists */
        for (size_t i = 0; i < m.adapter.numel; i++) m.adapter.data[i] += 0.1f * tb_rng_normal(&r);
    }
    m.capture_layer = capture;
    m.stop_at_capture = stop;
    int inp[B * T], targets[B * T];
    make_batch(inp, targets, c.vocab_size, 1);
    float *R = tb_malloc(sizeof(float) * B * T * c.n_embd);
    tb_rng r = tb_rng_make(9, 9);
    for (int i = 0; i < B * T * c.n_embd; i++) R[i] = 0.1f * tb_rng_normal(&r);
    model_grad(&m, inp, targets, R);
    check_paramset(&m, &m.params, inp, targets, R);
    if (m.adapter.n_tensors) check_paramset(&m, &m.adapter, inp, targets, R);
    tb_free(R);
    tb_model_free(&m);
}

static void test_grad_gpt2(void **s) { gradient_check(TB_FAMILY_GPT2, 0, 0, -1, 0); }
static void test_grad_llama_gqa(void **s) { gradient_check(TB_FAMILY_LLAMA, 0, 0, -1, 0); }
static void test_grad_gpt2_prefix_lora(void **s) { gradient_check(TB_FAMILY_GPT2, 3, 2, -1, 0); }
static void test_grad_llama_prefix_lora(void **s) { gradient_check(TB_FAMILY_LLAMA, 2, 2, -1, 0); }
/* a gradient injected at layer 0's output joins the logits' gradient */
static void test_grad_capture_inject(void **s) { gradient_check(TB_FAMILY_LLAMA, 0, 0, 0, 0); }
/* forward stopped at the captured layer: only the hidden-state loss, layer 1 and the head untouched */
static void test_grad_capture_stop(void **s) {
    tb_config c;
    tiny_config(&c, TB_FAMILY_GPT2);
    tb_model m;
    assert_int_equal(tb_model_create(&m, &c), TB_OK);
    tb_model_init(&m, 2);
    m.capture_layer = 0;
    m.stop_at_capture = 1;
    /* layer 1 and the final norm see no gradient: freeze them so check_paramset asserts they stay zero */
    tb_paramset_set_frozen(&m.params, "h.1.", 1);
    tb_paramset_set_frozen(&m.params, "ln_f", 1);
    int inp[B * T], targets[B * T];
    make_batch(inp, targets, c.vocab_size, 2);
    float *R = tb_malloc(sizeof(float) * B * T * c.n_embd);
    tb_rng r = tb_rng_make(4, 4);
    for (int i = 0; i < B * T * c.n_embd; i++) R[i] = tb_rng_normal(&r);
    model_grad(&m, inp, targets, R);
    check_paramset(&m, &m.params, inp, targets, R);
    tb_free(R);
    tb_model_free(&m);
}

/* a frozen tensor gets no gradient while its neighbours do */
static void test_frozen_tensor(void **s) {
    tb_config c;
    tiny_config(&c, TB_FAMILY_LLAMA);
    tb_model m;
    assert_int_equal(tb_model_create(&m, &c), TB_OK);
    tb_model_init(&m, 3);
    assert_int_equal(tb_paramset_set_frozen(&m.params, "mlp.down_proj", 1), 2);
    size_t down = 2 * (size_t)c.n_embd * c.ffn_hidden;
    assert_int_equal(tb_paramset_trainable(&m.params), tb_model_num_params(&m, 0) - down);
    int inp[B * T], targets[B * T];
    make_batch(inp, targets, c.vocab_size, 3);
    model_grad(&m, inp, targets, NULL);
    for (int i = 0; i < m.params.n_tensors; i++) {
        tb_tensor *t = &m.params.tensors[i];
        double s2 = 0.0;
        for (size_t j = 0; j < t->numel; j++) s2 += fabs(m.params.grad[t->offset + j]);
        if (t->frozen) assert_true(s2 == 0.0);
        else if (!strstr(t->name, "bias")) assert_true(s2 > 0.0);
    }
    tb_model_free(&m);
}

/* logprob equals a direct log-softmax, and sequence sums respect the mask */
static void test_logprob_span(void **s) {
    tb_config c;
    tiny_config(&c, TB_FAMILY_GPT2);
    tb_model m;
    assert_int_equal(tb_model_create(&m, &c), TB_OK);
    tb_model_init(&m, 4);
    int inp[B * T], targets[B * T];
    make_batch(inp, targets, c.vocab_size, 4);
    assert_int_equal(tb_model_forward(&m, inp, targets, B, T), TB_OK);
    int V = c.vocab_size;
    float mask[B * T];
    for (int i = 0; i < B * T; i++) {
        mask[i] = targets[i] >= 0 && (i % T) != 3;
        if (targets[i] < 0) {
            assert_true(m.logprob[i] == 0.0f);
            continue;
        }
        const float *z = m.logits + (size_t)i * V;
        double mx = z[0], se = 0.0;
        for (int v = 1; v < V; v++) mx = fmax(mx, z[v]);
        for (int v = 0; v < V; v++) se += exp(z[v] - mx);
        double lp = z[targets[i]] - mx - log(se);
        assert_true(fabs(lp - m.logprob[i]) < 1e-4);
    }
    float seq[B];
    tb_sequence_logprob(seq, m.logprob, mask, B, T);
    for (int b = 0; b < B; b++) {
        double e = 0.0;
        for (int t = 0; t < T; t++)
            if (mask[b * T + t]) e += m.logprob[b * T + t];
        assert_true(fabs(e - seq[b]) < 1e-5);
        assert_true(seq[b] < 0.0f);
    }
    tb_model_free(&m);
}

/* LoRA starts as the identity (B = 0): logits equal the base model's */
static void test_lora_starts_neutral(void **s) {
    tb_config c;
    tiny_config(&c, TB_FAMILY_LLAMA);
    tb_model a, b;
    assert_int_equal(tb_model_create(&a, &c), TB_OK);
    assert_int_equal(tb_model_create(&b, &c), TB_OK);
    tb_model_init(&a, 5);
    tb_model_init(&b, 5);
    tb_adapter_config ac = {.lora_rank = 4, .lora_alpha = 8.0f, .lora_targets = 0x7f};
    assert_int_equal(tb_model_add_adapters(&b, &ac, 1), TB_OK);
    int inp[B * T], targets[B * T];
    make_batch(inp, targets, c.vocab_size, 5);
    assert_int_equal(tb_model_forward(&a, inp, targets, B, T), TB_OK);
    assert_int_equal(tb_model_forward(&b, inp, targets, B, T), TB_OK);
    assert_memory_equal(a.logits, b.logits, sizeof(float) * B * T * c.vocab_size);
    tb_model_free(&a);
    tb_model_free(&b);
}

/* A forward over fewer rows than the activations hold (a schedule's smaller step) gives the logits
 * and gradients of a model sized for those rows, bit for bit; more rows than the capacity is an error. */
static void test_fewer_rows(void **s) {
    tb_config c;
    tiny_config(&c, TB_FAMILY_LLAMA);
    tb_model big, small;
    assert_int_equal(tb_model_create(&big, &c), TB_OK);
    assert_int_equal(tb_model_create(&small, &c), TB_OK);
    tb_model_init(&big, 6);
    tb_model_init(&small, 6);
    int inp[B * T], targets[B * T];
    make_batch(inp, targets, c.vocab_size, 6);
    assert_int_equal(tb_model_forward(&big, inp, targets, B, T), TB_OK); /* sized for B rows */
    for (int k = 0; k < 2; k++) {
        tb_model *m = k ? &small : &big;
        tb_model_zero_grad(m);
        assert_int_equal(tb_model_forward(m, inp, targets, 1, T), TB_OK);
        float *dlp = tb_model_dlogprob(m);
        for (int t = 0; t < T; t++) dlp[t] = targets[t] >= 0 ? -1.0f : 0.0f;
        tb_model_logprob_grad(m, dlp);
        tb_model_backward(m, 1);
    }
    assert_int_equal(big.B, 1);
    assert_memory_equal(big.logits, small.logits, sizeof(float) * T * c.vocab_size);
    assert_memory_equal(big.params.grad, small.params.grad, sizeof(float) * big.params.numel);
    assert_int_equal(tb_model_forward(&small, inp, targets, B, T), TB_ERR_ARG); /* beyond its capacity */
    tb_error_clear();
    tb_model_free(&big);
    tb_model_free(&small);
}

static void test_bad_config(void **s) {
    tb_config c;
    tb_model m;
    tiny_config(&c, TB_FAMILY_GPT2);
    c.n_head = 5; /* does not divide 16 */
    assert_int_equal(tb_model_create(&m, &c), TB_ERR_ARG);
    assert_non_null(strstr(tb_error_message(), "n_head"));
    tb_error_clear();
    tiny_config(&c, TB_FAMILY_LLAMA);
    c.n_kv_head = 3;
    assert_int_equal(tb_model_create(&m, &c), TB_ERR_ARG);
    tb_error_clear();
    tiny_config(&c, TB_FAMILY_GPT2);
    c.n_kv_head = 2; /* gpt2 has no grouped-query attention */
    assert_int_equal(tb_model_create(&m, &c), TB_ERR_ARG);
    tb_error_clear();
    tb_family f;
    assert_int_equal(tb_family_parse("mamba", &f), TB_ERR_ARG);
    assert_non_null(strstr(tb_error_message(), "mamba"));
    tb_error_clear();
    unsigned bits;
    assert_int_equal(tb_lora_targets_parse("q,zz", &bits), TB_ERR_ARG);
    tb_error_clear();
    assert_int_equal(tb_lora_targets_parse("q,v", &bits), TB_OK);
    assert_int_equal(bits, TB_LORA_Q | TB_LORA_V);
    /* gpt2 has no separate k projection to adapt */
    tiny_config(&c, TB_FAMILY_GPT2);
    assert_int_equal(tb_model_create(&m, &c), TB_OK);
    tb_adapter_config ac = {.lora_rank = 2, .lora_alpha = 4.0f, .lora_targets = TB_LORA_K};
    assert_int_equal(tb_model_add_adapters(&m, &ac, 1), TB_ERR_ARG);
    tb_error_clear();
    /* token outside the vocabulary, and a batch shape beyond the activations (a longer T) */
    int inp[B * T], targets[B * T];
    make_batch(inp, targets, c.vocab_size, 6);
    inp[3] = c.vocab_size;
    assert_int_equal(tb_model_forward(&m, inp, targets, B, T), TB_ERR_ARG);
    tb_error_clear();
    inp[3] = 0;
    assert_int_equal(tb_model_forward(&m, inp, targets, B, T), TB_OK);
    assert_int_equal(tb_model_forward(&m, inp, targets, 1, T - 1), TB_ERR_ARG);
    tb_error_clear();
    tb_model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grad_gpt2),           cmocka_unit_test(test_grad_llama_gqa),
        cmocka_unit_test(test_grad_gpt2_prefix_lora), cmocka_unit_test(test_grad_llama_prefix_lora),
        cmocka_unit_test(test_grad_capture_inject), cmocka_unit_test(test_grad_capture_stop),
        cmocka_unit_test(test_frozen_tensor),       cmocka_unit_test(test_logprob_span),
        cmocka_unit_test(test_lora_starts_neutral), cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_fewer_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
