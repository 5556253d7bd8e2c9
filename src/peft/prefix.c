/*
 * prefix.c: prefix-tuning's reparameterisation MLP (forward, backward, finalise) and the conversion
 * between the model's per-layer prefix tensors and PEFT's flat order (layouts in peft.h).
 *
 * The MLP runs once per optimizer step on P rows, so its cost is P*DH*(DT + 2*L*DT) multiply-adds
 * each way: small next to the model's, but every product is still one cblas_sgemm.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "peft.h"

/* hidden widths beyond this are a mistyped setting, not a model anyone trains on this suite */
#define TB_PREFIX_MAX_HIDDEN 65536

enum { MLP_E, MLP_W1, MLP_B1, MLP_W2, MLP_B2, MLP_COUNT };
static const char *const mlp_names[MLP_COUNT] = {"embedding.weight", "transform.0.weight", "transform.0.bias",
                                                 "transform.2.weight", "transform.2.bias"};

/* ---- the flat order -------------------------------------------------------------------------- */

static int kv_width(const tb_config *c) { return c->n_kv_head * (c->n_embd / c->n_head); }

/* Block j = 2l + s of the flat order: layer l's key tensor (s = 0) or value tensor (s = 1). */
static tb_tensor *prefix_tensor(const tb_model *m, int j) {
    char name[TB_NAME_MAX];
    snprintf(name, sizeof name, "prefix.%d.%s", j / 2, j % 2 ? "value" : "key");
    return tb_paramset_find(&m->adapter, name);
}

static size_t prefix_offset(const tb_model *m, int j) {
    const tb_tensor *t = prefix_tensor(m, j);
    TB_ASSERT(t != NULL); /* the model has no prefix slots: the caller skipped tb_prefix_mlp_create's check */
    return t->offset;
}

void tb_prefix_from_flat(float *buf, const tb_model *m, const float *flat) {
    // buf: prefix.{l}.key / .value (P,DT) each, at their adapter offsets; flat (P,2L*DT)
    const int P = m->acfg.n_prefix, DT = kv_width(&m->cfg), J = 2 * m->cfg.n_layer;
    TB_ASSERT(P > 0);
    for (int j = 0; j < J; j++) {
        float *dst = buf + prefix_offset(m, j);
        for (int p = 0; p < P; p++)
            memcpy(dst + (size_t)p * DT, flat + ((size_t)p * J + j) * DT, (size_t)DT * sizeof(float));
    }
}

void tb_prefix_to_flat(float *flat, const tb_model *m, const float *buf) {
    // flat (P,2L*DT); buf as in tb_prefix_from_flat
    const int P = m->acfg.n_prefix, DT = kv_width(&m->cfg), J = 2 * m->cfg.n_layer;
    TB_ASSERT(P > 0);
    for (int j = 0; j < J; j++) {
        const float *src = buf + prefix_offset(m, j);
        for (int p = 0; p < P; p++)
            memcpy(flat + ((size_t)p * J + j) * DT, src + (size_t)p * DT, (size_t)DT * sizeof(float));
    }
}

/* ---- kernels --------------------------------------------------------------------------------- */

/* out = inp . w^T + b.  out (N,OC), inp (N,C), w (OC,C), b (OC) */
static void linear_forward(float *out, const float *inp, const float *w, const float *b, int N, int C, int OC) {
    for (int n = 0; n < N; n++) memcpy(out + (size_t)n * OC, b, (size_t)OC * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp, C, w, C, 1.0f, out, OC);
}

/* dinp += dout . w ; dw += dout^T . inp ; db += colsum(dout). A NULL gradient is not computed. */
static void linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                            int N, int C, int OC) {
    // forward: out = inp . w^T + b
    if (dinp) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f, dout, OC, w, C, 1.0f, dinp, C);
    if (dw) cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, N, 1.0f, dout, OC, inp, C, 1.0f, dw, C);
    if (db)
        for (int n = 0; n < N; n++) {
            const float *row = dout + (size_t)n * OC;
            for (int o = 0; o < OC; o++) db[o] += row[o];
        }
}

/* out = tanh(inp), elementwise over n (in place allowed) */
static void tanh_forward(float *out, const float *inp, long n) {
    for (long i = 0; i < n; i++) out[i] = tanhf(inp[i]);
}

/* dinp += dout * (1 - out^2), with out the forward's output */
static void tanh_backward(float *dinp, const float *dout, const float *out, long n) {
    // forward: out = tanh(inp)
    for (long i = 0; i < n; i++) dinp[i] += dout[i] * (1.0f - out[i] * out[i]);
}

/* ---- the MLP --------------------------------------------------------------------------------- */

static float *mlp_value(const tb_prefix_mlp *r, int k) { return r->params.data + r->params.tensors[k].offset; }

static float *mlp_grad(const tb_prefix_mlp *r, int k) {
    const tb_tensor *t = &r->params.tensors[k];
    return t->frozen ? NULL : r->params.grad + t->offset;
}

static void hook_forward(void *ctx) { tb_prefix_mlp_forward(ctx); }
static void hook_backward(void *ctx) { tb_prefix_mlp_backward(ctx); }

/* E ~ N(0, 0.02^2); each Linear's weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)), PyTorch's default */
static void mlp_init(tb_prefix_mlp *r, uint64_t seed) {
    tb_rng rng = tb_rng_make(seed, tb_rng_stream_id("prefix-mlp-init"));
    const tb_tensor *te = &r->params.tensors[MLP_E];
    float *E = mlp_value(r, MLP_E);
    for (size_t i = 0; i < te->numel; i++) E[i] = 0.02f * tb_rng_normal(&rng);
    for (int k = MLP_W1; k < MLP_COUNT; k++) {
        const tb_tensor *t = &r->params.tensors[k];
        float bound = 1.0f / sqrtf((float)(k <= MLP_B1 ? r->DT : r->DH));
        float *w = mlp_value(r, k);
        for (size_t i = 0; i < t->numel; i++) w[i] = (2.0f * tb_rng_uniform(&rng) - 1.0f) * bound;
    }
}

int tb_prefix_mlp_create(tb_prefix_mlp *r, tb_model *m, int d_hidden, uint64_t seed) {
    memset(r, 0, sizeof *r);
    if (m->acfg.n_prefix <= 0)
        return TB_ERROR(TB_ERR_ARG, "add prefix slots first (tb_adapter_config.n_prefix > 0)",
                        "the model has no prefix to reparameterise");
    for (int j = 0; j < 2 * m->cfg.n_layer; j++) {
        const tb_tensor *t = prefix_tensor(m, j);
        TB_ASSERT(t != NULL); /* n_prefix > 0 declares every layer's key and value */
        if (t->frozen)
            return TB_ERROR(TB_ERR_ARG, "thaw the prefix (tb_paramset_set_frozen(&m->adapter, \"prefix.\", 0))",
                            "prefix tensor %s is frozen, but the reparameterisation learns from its gradient",
                            t->name);
    }
    if (d_hidden > TB_PREFIX_MAX_HIDDEN)
        return TB_ERROR(TB_ERR_ARG, "the hidden width is usually the prefix width NKV*HS (give 0) or 512..800",
                        "prefix MLP hidden width %d exceeds %d", d_hidden, TB_PREFIX_MAX_HIDDEN);
    r->model = m;
    r->P = m->acfg.n_prefix;
    r->L = m->cfg.n_layer;
    r->DT = kv_width(&m->cfg);
    r->DH = d_hidden > 0 ? d_hidden : r->DT;
    const int P = r->P, DT = r->DT, DH = r->DH, DO = 2 * r->L * DT;
    const int shapes[MLP_COUNT][2] = {{P, DT}, {DH, DT}, {DH, 0}, {DO, DH}, {DO, 0}};
    tb_paramset_init(&r->params);
    for (int k = 0; k < MLP_COUNT; k++) tb_paramset_add(&r->params, mlp_names[k], shapes[k][1] ? 2 : 1, shapes[k]);
    tb_paramset_alloc(&r->params);
    mlp_init(r, seed);
    r->act = tb_malloc((size_t)P * DH * sizeof(float));
    r->dact = tb_malloc((size_t)P * DH * sizeof(float));
    r->dpre = tb_malloc((size_t)P * DH * sizeof(float));
    r->flat = tb_malloc((size_t)P * DO * sizeof(float));
    r->reparam = (tb_reparam){.forward = hook_forward, .backward = hook_backward, .ctx = r};
    tb_prefix_mlp_forward(r);
    return TB_OK;
}

void tb_prefix_mlp_free(tb_prefix_mlp *r) {
    tb_paramset_free(&r->params);
    tb_free(r->act);
    tb_free(r->dact);
    tb_free(r->dpre);
    tb_free(r->flat);
    memset(r, 0, sizeof *r);
}

void tb_prefix_mlp_forward(tb_prefix_mlp *r) {
    const int P = r->P, DT = r->DT, DH = r->DH, DO = 2 * r->L * DT;
    // act = tanh(E . W1^T + b1)      act (P,DH), E (P,DT), W1 (DH,DT), b1 (DH)
    linear_forward(r->act, mlp_value(r, MLP_E), mlp_value(r, MLP_W1), mlp_value(r, MLP_B1), P, DT, DH);
    tanh_forward(r->act, r->act, (long)P * DH);
    // flat = act . W2^T + b2         flat (P,2L*DT), W2 (2L*DT,DH), b2 (2L*DT)
    linear_forward(r->flat, r->act, mlp_value(r, MLP_W2), mlp_value(r, MLP_B2), P, DH, DO);
    tb_prefix_from_flat(r->model->adapter.data, r->model, r->flat);
}

void tb_prefix_mlp_backward(tb_prefix_mlp *r) {
    const int P = r->P, DT = r->DT, DH = r->DH, DO = 2 * r->L * DT;
    tb_prefix_to_flat(r->flat, r->model, r->model->adapter.grad); /* dflat (P,2L*DT) */
    memset(r->dact, 0, (size_t)P * DH * sizeof(float));
    memset(r->dpre, 0, (size_t)P * DH * sizeof(float));
    // backward of flat = act . W2^T + b2
    linear_backward(r->dact, mlp_grad(r, MLP_W2), mlp_grad(r, MLP_B2), r->flat, r->act, mlp_value(r, MLP_W2), P, DH,
                    DO);
    // backward of act = tanh(pre)
    tanh_backward(r->dpre, r->dact, r->act, (long)P * DH);
    // backward of pre = E . W1^T + b1: E is the layer's input and a trained weight at once
    linear_backward(mlp_grad(r, MLP_E), mlp_grad(r, MLP_W1), mlp_grad(r, MLP_B1), r->dpre, mlp_value(r, MLP_E),
                    mlp_value(r, MLP_W1), P, DT, DH);
}

void tb_prefix_mlp_finalise(tb_prefix_mlp *r) {
    tb_prefix_mlp_forward(r);
    tb_prefix_mlp_free(r);
}
