/*
 * model.c: activations, the forward pass and the backward pass of both families, and the hooks
 * (prefix slots, LoRA, residual capture and gradient injection, log-probs of target spans).
 *
 * Forward, per block:  norm -> q,k,v (+rope) -> attention -> o -> residual -> norm -> MLP -> residual.
 * Backward walks it in reverse, carrying one (B,T,C) residual gradient; every other activation
 * gradient is a one-layer scratch buffer reused by all layers, which keeps peak memory near the
 * forward's.
 */
#include <math.h>
#include <string.h>

#include "layout.h"
#include "ops.h"

struct tb_acts {
    int B, T, P, R, QKVW;
    int B_cap;           /* rows the buffers hold; a forward may use fewer (B <= B_cap) */
    int *inp;            /* (B,T) */
    int *targets;        /* (B,T) */
    int *batch_inp;      /* (B,T) where callers stage a batch (tb_model_batch) */
    int *batch_targets;  /* (B,T) */
    float *dlogprob;     /* (B,T) objectives' gradient on logprob (tb_model_dlogprob) */
    float *encoded;      /* (B,T,C) block 0 input */
    float *ln1;          /* (L,B,T,C) */
    float *ln1_mean;     /* (L,B,T) LayerNorm only */
    float *ln1_rstd;     /* (L,B,T) */
    float *qkv;          /* (L,B,T,QKVW) gpt2: fused rows [q|k|v]; llama: blocks q (BT,C), k (BT,KVC), v (BT,KVC) */
    float *atty;         /* (L,B,T,C) attention output before the projection */
    float *att;          /* (L,B,NH,T,P+T) probabilities */
    float *res2;         /* (L,B,T,C) residual after attention */
    float *ln2;          /* (L,B,T,C) */
    float *ln2_mean;     /* (L,B,T) */
    float *ln2_rstd;     /* (L,B,T) */
    float *fch;          /* (L,B,T,F) gpt2: pre-GELU; llama: gate */
    float *fch2;         /* (L,B,T,F) llama: up */
    float *fch_act;      /* (L,B,T,F) gelu(fch) or silu(gate)*up */
    float *res3;         /* (L,B,T,C) block output */
    float *lnf;          /* (B,T,C) */
    float *lnf_mean;     /* (B,T) */
    float *lnf_rstd;     /* (B,T) */
    float *logits;       /* (B,T,V), later dlogits in place */
    float *lse;          /* (B,T) */
    float *logprob;      /* (B,T) */
    float *lora_t;       /* (L,LIN,B,T,R) cached A.x of every LoRA layer */
    /* one-layer scratch */
    float *proj;         /* (B,T,C) attention / MLP projection output before the residual add */
    float *dres;         /* (B,T,C) gradient of the residual stream */
    float *dln;          /* (B,T,C) */
    float *dqkv;         /* (B,T,QKVW) */
    float *datty;        /* (B,T,C) */
    float *datt;         /* (B,NH,T,P+T) */
    float *dfch;         /* (B,T,F) */
    float *dfch2;        /* (B,T,F) */
    float *dfch_act;     /* (B,T,F) */
    float *dlora_t;      /* (B,T,R) */
    float *hidden_grad;  /* (B,T,C) gradient injected at the captured layer */
    int forward_layers;  /* blocks the last forward ran */
    int have_logits;
};

/* ---- activations ----------------------------------------------------------------------------- */

static void acts_alloc(tb_model *m, int B, int T) {
    const tb_config *c = &m->cfg;
    size_t L = (size_t)c->n_layer, BT = (size_t)B * T, C = (size_t)c->n_embd, F = (size_t)c->ffn_hidden;
    size_t V = (size_t)c->vocab_size, NH = (size_t)c->n_head;
    size_t HS = C / NH, KVC = (size_t)c->n_kv_head * HS;
    tb_acts *a = tb_malloc(sizeof *a);
    a->B = a->B_cap = B;
    a->T = T;
    a->P = m->acfg.n_prefix;
    a->R = m->acfg.lora_rank;
    a->QKVW = (int)(C + 2 * KVC);
    size_t PT = (size_t)a->P + T, W = (size_t)a->QKVW;
    int layernorm = c->family == TB_FAMILY_GPT2;
    a->inp = tb_malloc(BT * sizeof(int));
    a->targets = tb_malloc(BT * sizeof(int));
    a->batch_inp = tb_malloc(BT * sizeof(int));
    a->batch_targets = tb_malloc(BT * sizeof(int));
    a->dlogprob = tb_malloc(BT * sizeof(float));
    a->encoded = tb_malloc(BT * C * sizeof(float));
    a->ln1 = tb_malloc(L * BT * C * sizeof(float));
    a->ln1_mean = layernorm ? tb_malloc(L * BT * sizeof(float)) : NULL;
    a->ln1_rstd = tb_malloc(L * BT * sizeof(float));
    a->qkv = tb_malloc(L * BT * W * sizeof(float));
    a->atty = tb_malloc(L * BT * C * sizeof(float));
    a->att = tb_malloc(L * (size_t)B * NH * T * PT * sizeof(float));
    a->res2 = tb_malloc(L * BT * C * sizeof(float));
    a->ln2 = tb_malloc(L * BT * C * sizeof(float));
    a->ln2_mean = layernorm ? tb_malloc(L * BT * sizeof(float)) : NULL;
    a->ln2_rstd = tb_malloc(L * BT * sizeof(float));
    a->fch = tb_malloc(L * BT * F * sizeof(float));
    a->fch2 = layernorm ? NULL : tb_malloc(L * BT * F * sizeof(float));
    a->fch_act = tb_malloc(L * BT * F * sizeof(float));
    a->res3 = tb_malloc(L * BT * C * sizeof(float));
    a->lnf = tb_malloc(BT * C * sizeof(float));
    a->lnf_mean = layernorm ? tb_malloc(BT * sizeof(float)) : NULL;
    a->lnf_rstd = tb_malloc(BT * sizeof(float));
    a->logits = tb_malloc(BT * V * sizeof(float));
    a->lse = tb_malloc(BT * sizeof(float));
    a->logprob = tb_malloc(BT * sizeof(float));
    a->lora_t = a->R ? tb_malloc(L * LIN_COUNT * BT * (size_t)a->R * sizeof(float)) : NULL;
    a->proj = tb_malloc(BT * C * sizeof(float));
    a->dres = tb_malloc(BT * C * sizeof(float));
    a->dln = tb_malloc(BT * C * sizeof(float));
    a->dqkv = tb_malloc(BT * W * sizeof(float));
    a->datty = tb_malloc(BT * C * sizeof(float));
    a->datt = tb_malloc((size_t)B * NH * T * PT * sizeof(float));
    a->dfch = tb_malloc(BT * F * sizeof(float));
    a->dfch2 = layernorm ? NULL : tb_malloc(BT * F * sizeof(float));
    a->dfch_act = tb_malloc(BT * F * sizeof(float));
    a->dlora_t = a->R ? tb_malloc(BT * (size_t)a->R * sizeof(float)) : NULL;
    a->hidden_grad = tb_malloc(BT * C * sizeof(float));
    m->acts = a;
    m->B = B;
    m->T = T;
    m->logits = a->logits;
    m->lse = a->lse;
    m->logprob = a->logprob;
}

static void acts_free(tb_acts *a) {
    if (!a) return;
    float *bufs[] = {a->encoded, a->ln1, a->ln1_mean, a->ln1_rstd, a->qkv, a->atty, a->att, a->res2, a->ln2,
                     a->ln2_mean, a->ln2_rstd, a->fch, a->fch2, a->fch_act, a->res3, a->lnf, a->lnf_mean,
                     a->lnf_rstd, a->logits, a->lse, a->logprob, a->lora_t, a->proj, a->dres, a->dln, a->dqkv,
                     a->datty, a->datt, a->dfch, a->dfch2, a->dfch_act, a->dlora_t, a->hidden_grad, a->dlogprob};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) tb_free(bufs[i]);
    tb_free(a->inp);
    tb_free(a->targets);
    tb_free(a->batch_inp);
    tb_free(a->batch_targets);
    tb_free(a);
}

void tb_model_free(tb_model *m) {
    acts_free(m->acts);
    tb_paramset_free(&m->params);
    tb_paramset_free(&m->adapter);
    if (m->layout) {
        tb_free(m->layout->layer);
        tb_free(m->layout->adapter);
        tb_free(m->layout->unit_begin);
        tb_free(m->layout->unit_data);
        tb_free(m->layout->unit_grad);
        tb_free(m->layout);
    }
    tb_free(m->rope_cos);
    tb_free(m->rope_sin);
    memset(m, 0, sizeof *m);
}

/* ---- per-block helpers ----------------------------------------------------------------------- */

/* Views of one block's activations. */
typedef struct {
    float *ln1, *ln1_mean, *ln1_rstd, *q, *k, *v, *atty, *att, *res2, *ln2, *ln2_mean, *ln2_rstd;
    float *fch, *fch2, *fch_act, *res3, *lora_t;
    int ldq, ldkv;
} block_view;

static block_view block_acts(const tb_model *m, int l) {
    const tb_acts *a = m->acts;
    const tb_config *c = &m->cfg;
    size_t BT = (size_t)a->B * a->T, C = (size_t)c->n_embd, F = (size_t)c->ffn_hidden;
    size_t KVC = (size_t)c->n_kv_head * (C / (size_t)c->n_head), W = (size_t)a->QKVW;
    size_t PT = (size_t)a->P + a->T;
    block_view v;
    v.ln1 = a->ln1 + l * BT * C;
    v.ln1_mean = a->ln1_mean ? a->ln1_mean + l * BT : NULL;
    v.ln1_rstd = a->ln1_rstd + l * BT;
    float *qkv = a->qkv + l * BT * W;
    if (c->family == TB_FAMILY_GPT2) { /* fused rows: q, k, v side by side in each (b,t) row */
        v.q = qkv;
        v.k = qkv + C;
        v.v = qkv + 2 * C;
        v.ldq = v.ldkv = (int)W;
    } else { /* separate projections: three contiguous blocks */
        v.q = qkv;
        v.k = qkv + BT * C;
        v.v = qkv + BT * (C + KVC);
        v.ldq = (int)C;
        v.ldkv = (int)KVC;
    }
    v.atty = a->atty + l * BT * C;
    v.att = a->att + l * (size_t)a->B * c->n_head * a->T * PT;
    v.res2 = a->res2 + l * BT * C;
    v.ln2 = a->ln2 + l * BT * C;
    v.ln2_mean = a->ln2_mean ? a->ln2_mean + l * BT : NULL;
    v.ln2_rstd = a->ln2_rstd + l * BT;
    v.fch = a->fch + l * BT * F;
    v.fch2 = a->fch2 ? a->fch2 + l * BT * F : NULL;
    v.fch_act = a->fch_act + l * BT * F;
    v.res3 = a->res3 + l * BT * C;
    v.lora_t = a->lora_t ? a->lora_t + (size_t)l * LIN_COUNT * BT * a->R : NULL;
    return v;
}

static void norm_forward(const tb_model *m, float *out, float *mean, float *rstd, const float *inp,
                         const float *w, const float *b, int BT) {
    if (m->cfg.family == TB_FAMILY_GPT2)
        layernorm_forward(out, mean, rstd, inp, w, b, BT, m->cfg.n_embd, m->cfg.norm_eps);
    else
        rmsnorm_forward(out, rstd, inp, w, BT, m->cfg.n_embd, m->cfg.norm_eps);
}

static void norm_backward(const tb_model *m, float *dinp, float *dw, float *db, const float *dout, const float *inp,
                          const float *w, const float *mean, const float *rstd, int BT) {
    if (m->cfg.family == TB_FAMILY_GPT2)
        layernorm_backward(dinp, dw, db, dout, inp, w, mean, rstd, BT, m->cfg.n_embd);
    else
        rmsnorm_backward(dinp, dw, dout, inp, w, rstd, BT, m->cfg.n_embd);
}

/* out (BT,OUT) = inp (BT,IN) . W^T + b, plus the LoRA delta of linear kind k when present */
static void linear_forward(const tb_model *m, const tb_layer_ptrs *p, const block_view *bv, int k, float *out,
                           const float *inp, const float *w, const float *b, int BT) {
    int IN = tb_linear_in(&m->cfg, k), OUT = tb_linear_out(&m->cfg, k);
    matmul_forward(out, inp, w, b, BT, IN, OUT);
    const float *A = p->aw[AW_LORA0 + 2 * k], *Bw = p->aw[AW_LORA0 + 2 * k + 1];
    if (A) {
        int R = m->acfg.lora_rank;
        float *t = bv->lora_t + (size_t)k * BT * R;
        lora_forward(out, t, inp, A, Bw, m->acfg.lora_alpha / (float)R, BT, IN, OUT, R);
    }
}

/* backward of linear_forward: dinp += ..., weight/bias/LoRA gradients accumulated where trainable */
static void linear_backward(const tb_model *m, const tb_layer_ptrs *p, const block_view *bv, int k, float *dinp,
                            const float *dout, const float *inp, const float *w, float *dw, float *db, int BT) {
    int IN = tb_linear_in(&m->cfg, k), OUT = tb_linear_out(&m->cfg, k);
    matmul_backward(dinp, dw, db, dout, inp, w, BT, IN, OUT);
    const float *A = p->aw[AW_LORA0 + 2 * k], *Bw = p->aw[AW_LORA0 + 2 * k + 1];
    if (A) {
        int R = m->acfg.lora_rank;
        const float *t = bv->lora_t + (size_t)k * BT * R;
        memset(m->acts->dlora_t, 0, (size_t)BT * R * sizeof(float));
        lora_backward(dinp, p->ag[AW_LORA0 + 2 * k], p->ag[AW_LORA0 + 2 * k + 1], m->acts->dlora_t, dout, inp, t, A,
                      Bw, m->acfg.lora_alpha / (float)R, BT, IN, OUT, R);
    }
}

/* ---- forward --------------------------------------------------------------------------------- */

void tb_model_ensure_rope(tb_model *m) {
    if (m->cfg.family != TB_FAMILY_LLAMA || m->rope_cos) return;
    int HS = m->cfg.n_embd / m->cfg.n_head, maxT = m->cfg.max_seq_len;
    m->rope_cos = tb_malloc((size_t)maxT * (HS / 2) * sizeof(float));
    m->rope_sin = tb_malloc((size_t)maxT * (HS / 2) * sizeof(float));
    rope_table(m->rope_cos, m->rope_sin, maxT, HS, m->cfg.rope_theta);
}

static void block_forward(tb_model *m, int l, const float *res_in) {
    const tb_config *c = &m->cfg;
    tb_acts *a = m->acts;
    int B = a->B, T = a->T, BT = B * T, C = c->n_embd, NH = c->n_head, NKV = c->n_kv_head, HS = C / NH;
    long BTC = (long)BT * C, BTF = (long)BT * c->ffn_hidden;
    tb_layer_ptrs p;
    tb_layer_ptrs_get(m, l, &p);
    block_view v = block_acts(m, l);

    norm_forward(m, v.ln1, v.ln1_mean, v.ln1_rstd, res_in, p.w[LW_LN1W], p.w[LW_LN1B], BT);
    if (c->family == TB_FAMILY_GPT2) {
        linear_forward(m, &p, &v, LIN_Q, v.q, v.ln1, p.w[LW_QW], p.w[LW_QB], BT); /* fused q,k,v (BT,3C) */
    } else {
        linear_forward(m, &p, &v, LIN_Q, v.q, v.ln1, p.w[LW_QW], p.w[LW_QB], BT);
        linear_forward(m, &p, &v, LIN_K, v.k, v.ln1, p.w[LW_KW], p.w[LW_KB], BT);
        linear_forward(m, &p, &v, LIN_V, v.v, v.ln1, p.w[LW_VW], p.w[LW_VB], BT);
        rope_forward(v.q, m->rope_cos, m->rope_sin, B, T, NH, HS, v.ldq);
        rope_forward(v.k, m->rope_cos, m->rope_sin, B, T, NKV, HS, v.ldkv);
    }
    attention_forward(v.atty, v.att, v.q, v.k, v.v, p.aw[AW_PK], p.aw[AW_PV], B, T, a->P, NH, NKV, HS, v.ldq,
                      v.ldkv);
    linear_forward(m, &p, &v, LIN_O, a->proj, v.atty, p.w[LW_OW], p.w[LW_OB], BT);
    residual_forward(v.res2, res_in, a->proj, BTC);

    norm_forward(m, v.ln2, v.ln2_mean, v.ln2_rstd, v.res2, p.w[LW_LN2W], p.w[LW_LN2B], BT);
    if (c->family == TB_FAMILY_GPT2) {
        linear_forward(m, &p, &v, LIN_UP, v.fch, v.ln2, p.w[LW_UPW], p.w[LW_UPB], BT);
        gelu_forward(v.fch_act, v.fch, BTF);
    } else {
        linear_forward(m, &p, &v, LIN_GATE, v.fch, v.ln2, p.w[LW_GATEW], NULL, BT);
        linear_forward(m, &p, &v, LIN_UP, v.fch2, v.ln2, p.w[LW_UPW], NULL, BT);
        swiglu_forward(v.fch_act, v.fch, v.fch2, BTF);
    }
    linear_forward(m, &p, &v, LIN_DOWN, a->proj, v.fch_act, p.w[LW_DOWNW], p.w[LW_DOWNB], BT);
    residual_forward(v.res3, v.res2, a->proj, BTC);
}

/* Activations are sized at the first use for (B, T); another shape later is an error. */
static int ensure_acts(tb_model *m, int B, int T) {
    const tb_config *c = &m->cfg;
    if (T > c->max_seq_len || T < 1 || B < 1)
        return TB_ERROR(TB_ERR_ARG, "shorten the sequences or use a model with a larger max_seq_len",
                        "batch shape (B=%d, T=%d) does not fit the model (max_seq_len %d)", B, T, c->max_seq_len);
    if (m->acts && (B > m->acts->B_cap || m->T != T))
        return TB_ERROR(TB_ERR_ARG, "activations are sized once; create another model for another batch shape",
                        "batch shape (%d, %d) does not fit the activations sized for (%d, %d)", B, T,
                        m->acts->B_cap, m->T);
    if (!m->acts) acts_alloc(m, B, T);
    /* fewer rows use the front of every buffer: each layer's slice is laid out from the current B */
    m->acts->B = m->B = B;
    return TB_OK;
}

int tb_model_batch(tb_model *m, int B, int T, int **inp, int **targets) {
    TB_CHECK(ensure_acts(m, B, T));
    *inp = m->acts->batch_inp;
    *targets = m->acts->batch_targets;
    return TB_OK;
}

float *tb_model_dlogprob(tb_model *m) {
    TB_ASSERT(m->acts != NULL);
    return m->acts->dlogprob;
}

int tb_model_forward(tb_model *m, const int *inp, const int *targets, int B, int T) {
    const tb_config *c = &m->cfg;
    TB_CHECK(ensure_acts(m, B, T));
    tb_model_ensure_rope(m);
    tb_acts *a = m->acts;
    int BT = B * T, C = c->n_embd, V = c->vocab_size;
    for (int i = 0; i < BT; i++) {
        if (inp[i] < 0 || inp[i] >= V)
            return TB_ERROR(TB_ERR_ARG, "token ids must come from the model's tokenizer",
                            "token id %d at position %d is outside the vocabulary (size %d)", inp[i], i, V);
        if (targets && targets[i] >= V)
            return TB_ERROR(TB_ERR_ARG, "target ids must come from the model's tokenizer",
                            "target id %d at position %d is outside the vocabulary (size %d)", targets[i], i, V);
    }
    memcpy(a->inp, inp, (size_t)BT * sizeof(int));
    for (int i = 0; i < BT; i++) a->targets[i] = targets ? targets[i] : -1;
    m->targets = a->targets;

    int last = c->n_layer - 1;
    if (m->stop_at_capture && m->capture_layer >= 0) last = m->capture_layer;
    a->forward_layers = last + 1;
    a->have_logits = last == c->n_layer - 1;
    /* under ZeRO-3 each unit's weights are gathered just before use and dropped after; a tied
     * embedding stays until the head has used it */
    int keep_wte = a->have_logits && c->tie_embeddings;
    tb_global_ptrs g;
    tb_unit_acquire(m, -1, 0);
    tb_global_ptrs_get(m, &g);
    embedding_forward(a->encoded, inp, g.w[GW_WTE], g.w[GW_WPE], B, T, C);
    if (!keep_wte) tb_unit_release(m, -1, 0);
    const float *res = a->encoded;
    for (int l = 0; l <= last; l++) {
        tb_unit_acquire(m, l, 0);
        block_forward(m, l, res);
        tb_unit_release(m, l, 0);
        res = block_acts(m, l).res3;
    }
    memset(a->hidden_grad, 0, (size_t)BT * C * sizeof(float));
    if (!a->have_logits) return TB_OK;

    tb_unit_acquire(m, c->n_layer, 0);
    tb_global_ptrs_get(m, &g);
    norm_forward(m, a->lnf, a->lnf_mean, a->lnf_rstd, res, g.w[GW_LNFW], g.w[GW_LNFB], BT);
    matmul_forward(a->logits, a->lnf, g.w[GW_HEAD], NULL, BT, C, V);
    tb_unit_release(m, c->n_layer, 0);
    tb_unit_release(m, -1, 0);
    logprob_forward(a->logprob, a->lse, a->logits, a->targets, BT, V);
    return TB_OK;
}

/* ---- backward -------------------------------------------------------------------------------- */

void tb_model_zero_grad(tb_model *m) {
    tb_paramset_zero_grad(&m->params);
    tb_paramset_zero_grad(&m->adapter);
}

void tb_model_logprob_grad(tb_model *m, const float *dlogprob) { tb_model_head_grad(m, dlogprob, NULL, NULL); }

void tb_model_head_grad(tb_model *m, const float *dlogprob, const float *const *soft, const float *dsoft) {
    TB_ASSERT(m->acts && m->acts->have_logits);
    logprob_backward_inplace(m->acts->logits, m->acts->lse, m->acts->targets, dlogprob, soft, dsoft, m->B * m->T,
                             m->cfg.vocab_size);
}

void tb_model_softce(const tb_model *m, const float *const *soft, float *ce) {
    TB_ASSERT(m->acts && m->acts->have_logits);
    softce_forward(ce, m->acts->logits, m->acts->lse, soft, m->B * m->T, m->cfg.vocab_size);
}

float *tb_model_dlogits(tb_model *m) {
    TB_ASSERT(m->acts && m->acts->have_logits);
    return m->acts->logits;
}

const float *tb_model_hidden(const tb_model *m) {
    TB_ASSERT(m->acts && m->capture_layer >= 0 && m->capture_layer < m->acts->forward_layers);
    return block_acts(m, m->capture_layer).res3;
}

float *tb_model_hidden_grad(tb_model *m) {
    TB_ASSERT(m->acts && m->capture_layer >= 0);
    return m->acts->hidden_grad;
}

/* lets data-parallel training progress its reductions between the matmuls of a block */
static void progress(tb_model *m) {
    if (m->on_grad_ready) m->on_grad_ready(m->grad_ready_ctx, TB_GRAD_PROGRESS);
}

static void block_backward(tb_model *m, int l, const float *res_in) {
    const tb_config *c = &m->cfg;
    tb_acts *a = m->acts;
    int B = a->B, T = a->T, BT = B * T, C = c->n_embd, NH = c->n_head, NKV = c->n_kv_head, HS = C / NH;
    size_t BTC = (size_t)BT * C, BTF = (size_t)BT * c->ffn_hidden;
    tb_layer_ptrs p;
    tb_layer_ptrs_get(m, l, &p);
    block_view v = block_acts(m, l);
    float *dres = a->dres;

    /* in the forward pass: res3 = res2 + down(fch_act); so d res2 = dres (kept in place) and d down = dres */
    memset(a->dfch_act, 0, BTF * sizeof(float));
    linear_backward(m, &p, &v, LIN_DOWN, a->dfch_act, dres, v.fch_act, p.w[LW_DOWNW], p.g[LW_DOWNW],
                    p.g[LW_DOWNB], BT);
    memset(a->dln, 0, BTC * sizeof(float));
    memset(a->dfch, 0, BTF * sizeof(float));
    if (c->family == TB_FAMILY_GPT2) {
        /* fch_act = gelu(fch), fch = ln2 . Wfc^T + bfc */
        gelu_backward(a->dfch, v.fch, a->dfch_act, (long)BTF);
        linear_backward(m, &p, &v, LIN_UP, a->dln, a->dfch, v.ln2, p.w[LW_UPW], p.g[LW_UPW], p.g[LW_UPB], BT);
    } else {
        /* fch_act = silu(gate) * up; gate = ln2 . Wg^T, up = ln2 . Wu^T */
        memset(a->dfch2, 0, BTF * sizeof(float));
        swiglu_backward(a->dfch, a->dfch2, a->dfch_act, v.fch, v.fch2, (long)BTF);
        linear_backward(m, &p, &v, LIN_GATE, a->dln, a->dfch, v.ln2, p.w[LW_GATEW], p.g[LW_GATEW], NULL, BT);
        linear_backward(m, &p, &v, LIN_UP, a->dln, a->dfch2, v.ln2, p.w[LW_UPW], p.g[LW_UPW], NULL, BT);
    }
    /* ln2 = norm(res2): adds into d res2 */
    norm_backward(m, dres, p.g[LW_LN2W], p.g[LW_LN2B], a->dln, v.res2, p.w[LW_LN2W], v.ln2_mean, v.ln2_rstd, BT);
    progress(m);

    /* res2 = res_in + o(atty): d res_in = dres (kept in place), d o = dres */
    memset(a->datty, 0, BTC * sizeof(float));
    linear_backward(m, &p, &v, LIN_O, a->datty, dres, v.atty, p.w[LW_OW], p.g[LW_OW], p.g[LW_OB], BT);

    /* atty = attention(q, k, v, prefix) */
    size_t W = (size_t)a->QKVW;
    memset(a->dqkv, 0, (size_t)BT * W * sizeof(float));
    float *dq, *dk, *dv;
    if (c->family == TB_FAMILY_GPT2) {
        dq = a->dqkv;
        dk = a->dqkv + C;
        dv = a->dqkv + 2 * C;
    } else {
        size_t KVC = (size_t)NKV * HS;
        dq = a->dqkv;
        dk = a->dqkv + BTC;
        dv = a->dqkv + BTC + (size_t)BT * KVC;
    }
    progress(m);
    attention_backward(dq, dk, dv, p.ag[AW_PK], p.ag[AW_PV], a->datt, a->datty, v.att, v.q, v.k, v.v, p.aw[AW_PK],
                       p.aw[AW_PV], B, T, a->P, NH, NKV, HS, v.ldq, v.ldkv);
    progress(m);

    memset(a->dln, 0, BTC * sizeof(float));
    if (c->family == TB_FAMILY_GPT2) {
        /* qkv = ln1 . Wqkv^T + bqkv */
        linear_backward(m, &p, &v, LIN_Q, a->dln, a->dqkv, v.ln1, p.w[LW_QW], p.g[LW_QW], p.g[LW_QB], BT);
    } else {
        /* q = rope(ln1 . Wq^T + bq), k = rope(ln1 . Wk^T + bk), v = ln1 . Wv^T + bv */
        rope_backward(dq, m->rope_cos, m->rope_sin, B, T, NH, HS, v.ldq);
        rope_backward(dk, m->rope_cos, m->rope_sin, B, T, NKV, HS, v.ldkv);
        linear_backward(m, &p, &v, LIN_Q, a->dln, dq, v.ln1, p.w[LW_QW], p.g[LW_QW], p.g[LW_QB], BT);
        linear_backward(m, &p, &v, LIN_K, a->dln, dk, v.ln1, p.w[LW_KW], p.g[LW_KW], p.g[LW_KB], BT);
        linear_backward(m, &p, &v, LIN_V, a->dln, dv, v.ln1, p.w[LW_VW], p.g[LW_VW], p.g[LW_VB], BT);
    }
    /* ln1 = norm(res_in): adds into d res_in */
    norm_backward(m, dres, p.g[LW_LN1W], p.g[LW_LN1B], a->dln, res_in, p.w[LW_LN1W], v.ln1_mean, v.ln1_rstd, BT);
}

void tb_model_backward(tb_model *m, int have_dlogits) {
    tb_acts *a = m->acts;
    TB_ASSERT(a != NULL);
    const tb_config *c = &m->cfg;
    int BT = a->B * a->T, C = c->n_embd;
    size_t BTC = (size_t)BT * C;
    tb_global_ptrs g;
    memset(a->dres, 0, BTC * sizeof(float));
    int last = a->forward_layers - 1;
    if (have_dlogits) {
        TB_ASSERT(a->have_logits);
        tb_unit_acquire(m, c->n_layer, 1);
        if (c->tie_embeddings) tb_unit_acquire(m, -1, 1); /* the head's gradient goes into wte */
        tb_global_ptrs_get(m, &g);
        const float *res_last = block_acts(m, last).res3;
        /* logits = lnf . Whead^T */
        memset(a->dln, 0, BTC * sizeof(float));
        matmul_backward(a->dln, g.g[GW_HEAD], NULL, a->logits, a->lnf, g.w[GW_HEAD], BT, C, c->vocab_size);
        /* lnf = norm(res_last) */
        norm_backward(m, a->dres, g.g[GW_LNFW], g.g[GW_LNFB], a->dln, res_last, g.w[GW_LNFW], a->lnf_mean,
                      a->lnf_rstd, BT);
        tb_unit_release(m, c->n_layer, 1);
    }
    if (m->on_grad_ready) m->on_grad_ready(m->grad_ready_ctx, c->n_layer);
    for (int l = last; l >= 0; l--) {
        if (l == m->capture_layer) /* the objective's gradient on block l's output joins the stream here */
            for (size_t i = 0; i < BTC; i++) a->dres[i] += a->hidden_grad[i];
        const float *res_in = l == 0 ? a->encoded : block_acts(m, l - 1).res3;
        tb_unit_acquire(m, l, 1);
        block_backward(m, l, res_in);
        tb_unit_release(m, l, 1);
        if (m->on_grad_ready) m->on_grad_ready(m->grad_ready_ctx, l);
    }
    /* encoded = wte[inp] + wpe[t] */
    tb_unit_acquire(m, -1, 1);
    tb_global_ptrs_get(m, &g);
    embedding_backward(g.g[GW_WTE], g.g[GW_WPE], a->dres, a->inp, a->B, a->T, C);
    tb_unit_release(m, -1, 1);
    if (m->on_grad_ready) m->on_grad_ready(m->grad_ready_ctx, -1);
}

void tb_sequence_logprob(float *out, const float *logprob, const float *mask, int B, int T) {
    for (int b = 0; b < B; b++) {
        double s = 0.0;
        for (int t = 0; t < T; t++)
            if (!mask || mask[b * T + t] != 0.0f) s += logprob[b * T + t];
        out[b] = (float)s;
    }
}
