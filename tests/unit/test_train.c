/* test_train.c: optimizers, schedules, clipping, accumulation, gradient masks, generation with a
 * KV cache, and a tiny model that memorises random sequences and reproduces them greedily. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "data/data.h"
#include "model/model.h"
#include "train/train.h"

/* ---- optimizer and schedules ----------------------------------------------------------------- */

/* Two tensors: a 2-D weight (decayed) and a bias (not decayed), three AdamW steps against the
 * formulas written out in double precision. */
static void test_adamw_matches_formula(void **s) {
    tb_paramset ps;
    tb_paramset_init(&ps);
    int wshape[2] = {2, 3}, bshape[1] = {3};
    tb_paramset_add(&ps, "w", 2, wshape);
    tb_paramset_add(&ps, "b", 1, bshape);
    tb_paramset_alloc(&ps);
    tb_optimizer o;
    tb_optimizer_init(&o, TB_OPT_ADAMW, &ps);
    o.weight_decay = 0.1f;
    double p[9], m[9] = {0}, v[9] = {0};
    float *w = tb_paramset_ptr(&ps, "w"), *b = tb_paramset_ptr(&ps, "b");
    for (int i = 0; i < 6; i++) p[i] = w[i] = 0.1f * (float)(i - 2);
    for (int i = 0; i < 3; i++) p[6 + i] = b[i] = 0.5f - 0.2f * (float)i;
    float lr = 0.01f;
    for (int step = 1; step <= 3; step++) {
        float *gw = ps.grad + tb_paramset_find(&ps, "w")->offset, *gb = ps.grad + tb_paramset_find(&ps, "b")->offset;
        for (int i = 0; i < 9; i++) {
            float g = (float)sin(1.0 + i * step);
            if (i < 6) gw[i] = g;
            else gb[i - 6] = g;
            int decay = i < 6;
            m[i] = 0.9 * m[i] + 0.1 * g;
            v[i] = 0.95 * v[i] + 0.05 * (double)g * g;
            double mh = m[i] / (1 - pow(0.9, step)), vh = v[i] / (1 - pow(0.95, step));
            p[i] = p[i] * (1 - lr * (decay ? 0.1 : 0.0)) - lr * mh / (sqrt(vh) + 1e-8);
        }
        tb_optimizer_step(&o, &ps, lr);
    }
    for (int i = 0; i < 6; i++) assert_true(fabs(w[i] - p[i]) < 1e-6);
    for (int i = 0; i < 3; i++) assert_true(fabs(b[i] - p[6 + i]) < 1e-6);
    tb_optimizer_free(&o);
    tb_paramset_free(&ps);
}

/* SGD with momentum, and a gradient mask that leaves masked weights unchanged (no decay here). */
static void test_sgd_and_mask(void **s) {
    tb_paramset ps;
    tb_paramset_init(&ps);
    int shape[2] = {2, 2};
    tb_paramset_add(&ps, "w", 2, shape);
    tb_paramset_alloc(&ps);
    float *mask = tb_paramset_mask(&ps);
    mask[1] = 0.0f;
    tb_optimizer o;
    tb_optimizer_init(&o, TB_OPT_SGD, &ps);
    o.momentum = 0.9f;
    for (int i = 0; i < 4; i++) ps.data[i] = 1.0f;
    for (int step = 0; step < 2; step++) {
        for (int i = 0; i < 4; i++) ps.grad[i] = 1.0f;
        tb_optimizer_step(&o, &ps, 0.1f);
    }
    /* buf: 1, then 1.9; p = 1 - 0.1 - 0.19 */
    assert_true(fabsf(ps.data[0] - 0.71f) < 1e-6f);
    assert_true(ps.data[1] == 1.0f);
    tb_optimizer_free(&o);
    tb_paramset_free(&ps);
}

static void test_schedules(void **s) {
    tb_schedule c = {.kind = TB_SCHED_COSINE, .lr = 1.0f, .min_lr = 0.1f, .warmup = 10, .total = 110};
    assert_true(fabsf(tb_schedule_lr(&c, 0) - 0.1f) < 1e-6f);  /* warmup from lr/warmup */
    assert_true(fabsf(tb_schedule_lr(&c, 9) - 1.0f) < 1e-6f);
    assert_true(fabsf(tb_schedule_lr(&c, 10) - 1.0f) < 1e-6f);
    assert_true(fabsf(tb_schedule_lr(&c, 60) - 0.55f) < 1e-5f); /* halfway: the mean of peak and floor */
    assert_true(fabsf(tb_schedule_lr(&c, 110) - 0.1f) < 1e-6f);
    tb_schedule l = c;
    l.kind = TB_SCHED_LINEAR;
    assert_true(fabsf(tb_schedule_lr(&l, 35) - (0.1f + 0.75f * 0.9f)) < 1e-5f);
    tb_schedule k = c;
    k.kind = TB_SCHED_CONSTANT;
    assert_true(tb_schedule_lr(&k, 100) == 1.0f);
    tb_sched_kind kind;
    assert_int_equal(tb_sched_kind_parse("exponential", &kind), TB_ERR_ARG);
    tb_error_clear();
}

/* The norm leaves frozen tensors out; the clip factor applied inside the update equals clipping the
 * gradient first. */
static void test_clip(void **s) {
    tb_paramset ps;
    tb_paramset_init(&ps);
    int shape[2] = {1, 2};
    tb_paramset_add(&ps, "a", 2, shape);
    tb_paramset_add(&ps, "frozen", 2, shape)->frozen = 1;
    tb_paramset_alloc(&ps);
    ps.grad[0] = 3.0f;
    ps.grad[1] = 4.0f;
    ps.grad[ps.tensors[1].offset] = 100.0f;
    float norm = (float)sqrt(tb_grad_sumsq(&ps, 0, ps.numel));
    assert_true(fabsf(norm - 5.0f) < 1e-6f);
    assert_true(tb_clip_scale(norm, 10.0f) == 1.0f && tb_clip_scale(norm, 0.0f) == 1.0f);
    float scale = tb_clip_scale(norm, 1.0f);
    assert_true(fabsf(scale - 0.2f) < 1e-6f);
    /* SGD without momentum moves p by -lr * g * scale: the clipped gradient (0.6, 0.8) */
    tb_optimizer o;
    tb_optimizer_init(&o, TB_OPT_SGD, &ps);
    o.grad_scale = scale;
    tb_optimizer_step(&o, &ps, 1.0f);
    assert_true(fabsf(ps.data[0] + 0.6f) < 1e-5f && fabsf(ps.data[1] + 0.8f) < 1e-5f);
    assert_true(ps.data[ps.tensors[1].offset] == 0.0f); /* frozen: untouched */
    assert_true(o.grad_scale == 1.0f);                  /* the factor applies to one step only */
    tb_optimizer_free(&o);
    tb_paramset_free(&ps);
}

/* ---- training a tiny model ------------------------------------------------------------------- */

enum { NSEQ = 64, PROMPT = 4, SEQ = 16 };

typedef struct {
    int seqs[NSEQ][SEQ];
    int rows; /* batch rows per micro-batch */
} memo_data;

/* micro-batch u of every step covers rows [u*rows, (u+1)*rows); only the continuation is scored */
static int memo_batch(void *ctx, long step, int micro, int *inp, int *targets) {
    memo_data *d = ctx;
    for (int b = 0; b < d->rows; b++) {
        const int *q = d->seqs[micro * d->rows + b];
        for (int t = 0; t < SEQ - 1; t++) {
            inp[b * (SEQ - 1) + t] = q[t];
            targets[b * (SEQ - 1) + t] = t + 1 >= PROMPT ? q[t + 1] : -1;
        }
    }
    return TB_OK;
}

static void memo_setup(memo_data *d, int V) {
    tb_rng r = tb_rng_make(77, 1);
    for (int i = 0; i < NSEQ; i++)
        for (int t = 0; t < SEQ; t++) d->seqs[i][t] = (int)tb_rng_below(&r, (uint64_t)V - 5);
}

static void new_model(tb_model *m, tb_family f, int V) {
    tb_config c;
    tb_config_defaults(&c, f, 2, 64, 4, V, SEQ);
    assert_int_equal(tb_model_create(m, &c), TB_OK);
    tb_model_init(m, 42);
}

static void test_memorise_and_generate(void **s) {
    int V = 300;
    static memo_data d;
    memo_setup(&d, V);
    d.rows = NSEQ;
    tb_model m;
    new_model(&m, TB_FAMILY_GPT2, V);
    tb_optimizer o;
    tb_optimizer_init(&o, TB_OPT_ADAMW, &m.params);
    tb_objective sft = tb_objective_sft();
    tb_trainer tr = {.model = &m, .trainable = &m.params, .opt = &o, .objective = &sft, .B = NSEQ, .T = SEQ - 1,
                     .accum = 1, .clip = 1.0f, .next_batch = memo_batch, .batch_ctx = &d,
                     .sched = {.kind = TB_SCHED_COSINE, .lr = 1e-2f, .min_lr = 1e-3f, .warmup = 10, .total = 400}};
    double loss = 0.0;
    float gn;
    for (long step = 0; step < 400; step++) assert_int_equal(tb_train_step(&tr, step, &loss, &gn), TB_OK);
    printf("memorisation: loss after 400 steps %.5f\n", loss);
    assert_true(loss < 0.05);

    /* greedy generation from each 4-token prompt reproduces the 12 memorised tokens */
    const int *prompts[NSEQ];
    int plen[NSEQ], olen[NSEQ], *outs[NSEQ];
    for (int i = 0; i < NSEQ; i++) {
        prompts[i] = d.seqs[i];
        plen[i] = PROMPT;
        outs[i] = tb_malloc(sizeof(int) * SEQ);
    }
    tb_sample_config sc = {.max_new_tokens = SEQ - PROMPT, .temperature = 0.0f, .top_p = 1.0f, .eos_id = -1};
    assert_int_equal(tb_generate(&m, prompts, plen, NSEQ, &sc, outs, olen), TB_OK);
    int exact = 0;
    for (int i = 0; i < NSEQ; i++) {
        assert_int_equal(olen[i], SEQ - PROMPT);
        exact += memcmp(outs[i], d.seqs[i] + PROMPT, sizeof(int) * (SEQ - PROMPT)) == 0;
        tb_free(outs[i]);
    }
    printf("memorisation: %d of %d sequences reproduced exactly\n", exact, NSEQ);
    assert_int_equal(exact, NSEQ);
    tb_optimizer_free(&o);
    tb_model_free(&m);
}

/* Accumulating 4 micro-batches of 16 rows gives the update of one batch of 64 rows. */
static void test_accumulation_equivalence(void **s) {
    int V = 300;
    static memo_data d;
    memo_setup(&d, V);
    double losses[2][3];
    float first[2][64];
    for (int run = 0; run < 2; run++) {
        int accum = run == 0 ? 1 : 4;
        d.rows = NSEQ / accum;
        tb_model m;
        new_model(&m, TB_FAMILY_LLAMA, V);
        tb_optimizer o;
        tb_optimizer_init(&o, TB_OPT_ADAMW, &m.params);
        tb_objective sft = tb_objective_sft();
        tb_trainer tr = {.model = &m, .trainable = &m.params, .opt = &o, .objective = &sft, .B = d.rows,
                         .T = SEQ - 1, .accum = accum, .clip = 0.0f, .next_batch = memo_batch, .batch_ctx = &d,
                         .sched = {.kind = TB_SCHED_CONSTANT, .lr = 1e-3f}};
        float gn;
        for (long step = 0; step < 3; step++) assert_int_equal(tb_train_step(&tr, step, &losses[run][step], &gn), TB_OK);
        memcpy(first[run], m.params.data, sizeof first[run]);
        tb_optimizer_free(&o);
        tb_model_free(&m);
    }
    /* every micro-batch has the same number of scored tokens, so the mean of means is the mean */
    for (int step = 0; step < 3; step++) assert_true(fabs(losses[0][step] - losses[1][step]) < 1e-5 * losses[0][step]);
    for (int i = 0; i < 64; i++) assert_true(fabsf(first[0][i] - first[1][i]) < 1e-5f);
}

/* ---- generation ------------------------------------------------------------------------------ */

/* The KV-cache path gives the same next-token distribution as the full forward pass, so greedy
 * generation equals repeated argmax over the full forward; for both families and with a prefix. */
static void kv_cache_matches_forward(tb_family f, int prefix) {
    int V = 280;
    tb_model m;
    new_model(&m, f, V);
    if (prefix) {
        tb_adapter_config ac = {.n_prefix = prefix};
        assert_int_equal(tb_model_add_adapters(&m, &ac, 9), TB_OK);
    }
    for (size_t i = 0; i < m.params.numel; i++) m.params.data[i] *= 4.0f; /* a peaked, non-trivial distribution */
    int prompt[3] = {TB_TOK_BOS, 65, 66};
    const int *pp[1] = {prompt};
    int plen = 3, olen, out[SEQ];
    int *outs[1] = {out};
    tb_sample_config sc = {.max_new_tokens = SEQ - 3, .temperature = 0.0f, .top_p = 1.0f, .eos_id = -1};
    assert_int_equal(tb_generate(&m, pp, &plen, 1, &sc, outs, &olen), TB_OK);
    int seq[SEQ] = {0};
    memcpy(seq, prompt, sizeof prompt);
    memcpy(seq + 3, out, sizeof(int) * olen);
    assert_int_equal(tb_model_forward(&m, seq, NULL, 1, SEQ), TB_OK);
    for (int t = 2; t < SEQ - 1; t++) {
        const float *z = m.logits + (size_t)t * V;
        int best = 0;
        for (int v = 1; v < V; v++)
            if (z[v] > z[best]) best = v;
        assert_int_equal(best, seq[t + 1]);
    }
    tb_model_free(&m);
}

static void test_kv_cache_gpt2(void **s) { kv_cache_matches_forward(TB_FAMILY_GPT2, 0); }
static void test_kv_cache_llama_prefix(void **s) { kv_cache_matches_forward(TB_FAMILY_LLAMA, 2); }

/* Sampling is reproducible from the seed, a row's output does not depend on its batch mates,
 * top_k = 1 is greedy, and generation stops at EOS. */
static void test_sampling(void **s) {
    int V = 280;
    tb_model m;
    new_model(&m, TB_FAMILY_LLAMA, V);
    int p1[2] = {TB_TOK_BOS, 70}, p2[5] = {TB_TOK_BOS, 71, 72, 73, 74};
    const int *pp[2] = {p1, p2};
    int plen[2] = {2, 5}, olen[2], a[2][SEQ], b[2][SEQ];
    int *oa[2] = {a[0], a[1]}, *ob[2] = {b[0], b[1]};
    tb_sample_config sc = {.max_new_tokens = 10, .temperature = 1.0f, .top_k = 50, .top_p = 0.9f, .eos_id = -1,
                           .seed = 5};
    assert_int_equal(tb_generate(&m, pp, plen, 2, &sc, oa, olen), TB_OK);
    assert_int_equal(tb_generate(&m, pp, plen, 2, &sc, ob, olen), TB_OK);
    assert_memory_equal(a[0], b[0], sizeof(int) * 10);
    assert_memory_equal(a[1], b[1], sizeof(int) * 10);
    int single[SEQ], slen;
    int *os[1] = {single};
    assert_int_equal(tb_generate(&m, pp, plen, 1, &sc, os, &slen), TB_OK); /* row 0 alone */
    assert_memory_equal(single, a[0], sizeof(int) * 10);
    sc.seed = 6;
    assert_int_equal(tb_generate(&m, pp, plen, 2, &sc, ob, olen), TB_OK);
    assert_true(memcmp(a[0], b[0], sizeof(int) * 10) != 0 || memcmp(a[1], b[1], sizeof(int) * 10) != 0);

    tb_sample_config greedy = {.max_new_tokens = 10, .temperature = 0.0f, .top_p = 1.0f, .eos_id = -1};
    tb_sample_config top1 = {.max_new_tokens = 10, .temperature = 1.5f, .top_k = 1, .top_p = 1.0f, .eos_id = -1,
                             .seed = 3};
    assert_int_equal(tb_generate(&m, pp, plen, 2, &greedy, oa, olen), TB_OK);
    assert_int_equal(tb_generate(&m, pp, plen, 2, &top1, ob, olen), TB_OK);
    assert_memory_equal(a[0], b[0], sizeof(int) * 10);
    /* stop at EOS: declare the greedy row's third token the EOS */
    greedy.eos_id = a[1][2];
    assert_int_equal(tb_generate(&m, pp, plen, 2, &greedy, ob, olen), TB_OK);
    int first_eos = 0;
    while (a[1][first_eos] != greedy.eos_id) first_eos++;
    assert_int_equal(olen[1], first_eos + 1);
    /* bad settings and an over-long request are errors, not crashes */
    tb_sample_config bad = {.max_new_tokens = 10, .temperature = -1.0f, .top_p = 1.0f};
    assert_int_equal(tb_generate(&m, pp, plen, 2, &bad, oa, olen), TB_ERR_ARG);
    tb_error_clear();
    tb_sample_config longer = {.max_new_tokens = SEQ, .temperature = 0.0f, .top_p = 1.0f};
    assert_int_equal(tb_generate(&m, pp, plen, 2, &longer, oa, olen), TB_ERR_ARG);
    tb_error_clear();
    tb_model_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adamw_matches_formula), cmocka_unit_test(test_sgd_and_mask),
        cmocka_unit_test(test_schedules),             cmocka_unit_test(test_clip),
        cmocka_unit_test(test_memorise_and_generate), cmocka_unit_test(test_accumulation_equivalence),
        cmocka_unit_test(test_kv_cache_gpt2),         cmocka_unit_test(test_kv_cache_llama_prefix),
        cmocka_unit_test(test_sampling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
