/*
 * generate.c: batched generation with a KV cache.
 *
 * Rows advance in lockstep, one token per row per step: a row still inside its prompt feeds its
 * next prompt token, a row past it feeds the token it sampled last. Each row keeps its own
 * position, so prompts of different lengths share every matmul (M = active rows) without padding.
 * Each row samples from its own RNG stream (seed, row), so a row's output does not depend on which
 * other rows share the batch.
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layout.h"
#include "ops.h"

typedef struct {
    int n, maxT, P, KVC;
    float *k, *v; /* (L, n, maxT, KVC) */
    /* per-step buffers for up to n rows */
    float *x, *ln, *q, *kn, *vn, *atty, *proj, *h, *h2, *hact, *mean, *rstd, *lora_t, *scores, *logits;
} gen_state;

static void gen_alloc(gen_state *s, const tb_model *m, int n) {
    const tb_config *c = &m->cfg;
    size_t C = c->n_embd, F = c->ffn_hidden, HS = C / c->n_head, QW = tb_linear_out(c, LIN_Q);
    s->n = n;
    s->maxT = c->max_seq_len;
    s->P = m->acfg.n_prefix;
    s->KVC = c->n_kv_head * (int)HS;
    size_t cache = (size_t)c->n_layer * n * s->maxT * s->KVC;
    s->k = tb_malloc(cache * sizeof(float));
    s->v = tb_malloc(cache * sizeof(float));
    s->x = tb_malloc(n * C * sizeof(float));
    s->ln = tb_malloc(n * C * sizeof(float));
    s->q = tb_malloc(n * QW * sizeof(float));
    s->kn = tb_malloc(n * (size_t)s->KVC * sizeof(float));
    s->vn = tb_malloc(n * (size_t)s->KVC * sizeof(float));
    s->atty = tb_malloc(n * C * sizeof(float));
    s->proj = tb_malloc(n * C * sizeof(float));
    s->h = tb_malloc(n * F * sizeof(float));
    s->h2 = tb_malloc(n * F * sizeof(float));
    s->hact = tb_malloc(n * F * sizeof(float));
    s->mean = tb_malloc(n * sizeof(float));
    s->rstd = tb_malloc(n * sizeof(float));
    s->lora_t = tb_malloc(n * (size_t)(m->acfg.lora_rank + 1) * sizeof(float));
    s->scores = tb_malloc((size_t)(s->P + s->maxT) * sizeof(float));
    s->logits = tb_malloc(n * (size_t)c->vocab_size * sizeof(float));
}

static void gen_free(gen_state *s) {
    float *bufs[] = {s->k,  s->v,    s->x, s->ln, s->q,    s->kn,   s->vn,     s->atty,
                     s->proj, s->h,  s->h2, s->hact, s->mean, s->rstd, s->lora_t, s->scores, s->logits};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) tb_free(bufs[i]);
}

static void gen_norm(const tb_model *m, gen_state *s, float *out, const float *inp, const float *w,
                     const float *b, int na) {
    if (m->cfg.family == TB_FAMILY_GPT2)
        layernorm_forward(out, s->mean, s->rstd, inp, w, b, na, m->cfg.n_embd, m->cfg.norm_eps);
    else
        rmsnorm_forward(out, s->rstd, inp, w, na, m->cfg.n_embd, m->cfg.norm_eps);
}

static void gen_linear(const tb_model *m, const tb_layer_ptrs *p, gen_state *s, int k, float *out, const float *inp,
                       const float *w, const float *b, int na) {
    int IN = tb_linear_in(&m->cfg, k), OUT = tb_linear_out(&m->cfg, k);
    matmul_forward(out, inp, w, b, na, IN, OUT);
    if (p->aw[AW_LORA0 + 2 * k]) {
        int R = m->acfg.lora_rank;
        lora_forward(out, s->lora_t, inp, p->aw[AW_LORA0 + 2 * k], p->aw[AW_LORA0 + 2 * k + 1],
                     m->acfg.lora_alpha / (float)R, na, IN, OUT, R);
    }
}

/* One query row attends to the P prefix slots and the row's cached keys 0..pos. */
static void gen_attend(float *out, float *scores, const float *q, const float *kc, const float *vc, const float *pk,
                       const float *pv, int pos, int P, int NH, int NKV, int HS, int KVC) {
    int group = NH / NKV, n = P + pos + 1;
    float scale = 1.0f / sqrtf((float)HS);
    for (int h = 0; h < NH; h++) {
        int kvh = h / group;
        const float *qh = q + h * HS;
        /* scores = K . q over prefix then cache (rows of stride KVC) */
        if (P > 0) cblas_sgemv(CblasRowMajor, CblasNoTrans, P, HS, scale, pk + kvh * HS, KVC, qh, 1, 0.0f, scores, 1);
        cblas_sgemv(CblasRowMajor, CblasNoTrans, pos + 1, HS, scale, kc + kvh * HS, KVC, qh, 1, 0.0f, scores + P, 1);
        float mx = scores[0];
        for (int i = 1; i < n; i++) mx = scores[i] > mx ? scores[i] : mx;
        float sum = 0.0f;
        for (int i = 0; i < n; i++) {
            scores[i] = expf(scores[i] - mx);
            sum += scores[i];
        }
        for (int i = 0; i < n; i++) scores[i] /= sum;
        float *oh = out + h * HS;
        if (P > 0) cblas_sgemv(CblasRowMajor, CblasTrans, P, HS, 1.0f, pv + kvh * HS, KVC, scores, 1, 0.0f, oh, 1);
        cblas_sgemv(CblasRowMajor, CblasTrans, pos + 1, HS, 1.0f, vc + kvh * HS, KVC, scores + P, 1, P > 0 ? 1.0f : 0.0f,
                    oh, 1);
    }
}

/* Runs one token for each of na rows (row ids rows[], tokens tok[], positions pos[]); logits in s->logits. */
static void gen_step(const tb_model *m, gen_state *s, const int *rows, const int *tok, const int *pos, int na) {
    const tb_config *c = &m->cfg;
    int C = c->n_embd, NH = c->n_head, NKV = c->n_kv_head, HS = C / NH, KVC = s->KVC, F = c->ffn_hidden;
    int gpt2 = c->family == TB_FAMILY_GPT2;
    tb_global_ptrs g;
    tb_global_ptrs_get(m, &g);
    for (int i = 0; i < na; i++) /* x = wte[tok] + wpe[pos] */
        embedding_forward(s->x + (size_t)i * C, &tok[i], g.w[GW_WTE], g.w[GW_WPE] ? g.w[GW_WPE] + (size_t)pos[i] * C : NULL,
                          1, 1, C);
    for (int l = 0; l < c->n_layer; l++) {
        tb_layer_ptrs p;
        tb_layer_ptrs_get(m, l, &p);
        gen_norm(m, s, s->ln, s->x, p.w[LW_LN1W], p.w[LW_LN1B], na);
        const float *q;
        int ldq;
        gen_linear(m, &p, s, LIN_Q, s->q, s->ln, p.w[LW_QW], p.w[LW_QB], na);
        if (gpt2) { /* fused rows [q|k|v] */
            for (int i = 0; i < na; i++) {
                memcpy(s->kn + (size_t)i * KVC, s->q + (size_t)i * 3 * C + C, (size_t)C * sizeof(float));
                memcpy(s->vn + (size_t)i * KVC, s->q + (size_t)i * 3 * C + 2 * C, (size_t)C * sizeof(float));
            }
            q = s->q;
            ldq = 3 * C;
        } else {
            gen_linear(m, &p, s, LIN_K, s->kn, s->ln, p.w[LW_KW], p.w[LW_KB], na);
            gen_linear(m, &p, s, LIN_V, s->vn, s->ln, p.w[LW_VW], p.w[LW_VB], na);
            int half = HS / 2;
            for (int i = 0; i < na; i++) {
                rope_forward(s->q + (size_t)i * C, m->rope_cos + (size_t)pos[i] * half, m->rope_sin + (size_t)pos[i] * half,
                             1, 1, NH, HS, C);
                rope_forward(s->kn + (size_t)i * KVC, m->rope_cos + (size_t)pos[i] * half,
                             m->rope_sin + (size_t)pos[i] * half, 1, 1, NKV, HS, KVC);
            }
            q = s->q;
            ldq = C;
        }
        for (int i = 0; i < na; i++) {
            size_t base = (((size_t)l * s->n + rows[i]) * s->maxT) * KVC;
            memcpy(s->k + base + (size_t)pos[i] * KVC, s->kn + (size_t)i * KVC, (size_t)KVC * sizeof(float));
            memcpy(s->v + base + (size_t)pos[i] * KVC, s->vn + (size_t)i * KVC, (size_t)KVC * sizeof(float));
            gen_attend(s->atty + (size_t)i * C, s->scores, q + (size_t)i * ldq, s->k + base, s->v + base, p.aw[AW_PK],
                       p.aw[AW_PV], pos[i], s->P, NH, NKV, HS, KVC);
        }
        gen_linear(m, &p, s, LIN_O, s->proj, s->atty, p.w[LW_OW], p.w[LW_OB], na);
        residual_forward(s->x, s->x, s->proj, (long)na * C);
        gen_norm(m, s, s->ln, s->x, p.w[LW_LN2W], p.w[LW_LN2B], na);
        if (gpt2) {
            gen_linear(m, &p, s, LIN_UP, s->h, s->ln, p.w[LW_UPW], p.w[LW_UPB], na);
            gelu_forward(s->hact, s->h, (long)na * F);
        } else {
            gen_linear(m, &p, s, LIN_GATE, s->h, s->ln, p.w[LW_GATEW], NULL, na);
            gen_linear(m, &p, s, LIN_UP, s->h2, s->ln, p.w[LW_UPW], NULL, na);
            swiglu_forward(s->hact, s->h, s->h2, (long)na * F);
        }
        gen_linear(m, &p, s, LIN_DOWN, s->proj, s->hact, p.w[LW_DOWNW], p.w[LW_DOWNB], na);
        residual_forward(s->x, s->x, s->proj, (long)na * C);
    }
    gen_norm(m, s, s->ln, s->x, g.w[GW_LNFW], g.w[GW_LNFB], na);
    matmul_forward(s->logits, s->ln, g.w[GW_HEAD], NULL, na, C, c->vocab_size);
}

typedef struct {
    float p;
    int id;
} prob_id;

static int by_prob_desc(const void *a, const void *b) {
    const prob_id *x = a, *y = b;
    if (x->p != y->p) return x->p < y->p ? 1 : -1;
    return x->id - y->id; /* ties: smaller id first, so the order is deterministic */
}

/* Picks the next token from one row of logits (V). work holds V prob_id entries. */
static int sample_token(const float *logits, int V, const tb_sample_config *sc, tb_rng *r, prob_id *work) {
    if (sc->temperature <= 0.0f) {
        int best = 0;
        for (int v = 1; v < V; v++)
            if (logits[v] > logits[best]) best = v;
        return best;
    }
    float mx = logits[0];
    for (int v = 1; v < V; v++) mx = logits[v] > mx ? logits[v] : mx;
    double sum = 0.0;
    for (int v = 0; v < V; v++) {
        work[v].p = expf((logits[v] - mx) / sc->temperature);
        work[v].id = v;
        sum += work[v].p;
    }
    int n = V;
    if (sc->top_k > 0 || sc->top_p < 1.0f) {
        qsort(work, (size_t)V, sizeof *work, by_prob_desc);
        if (sc->top_k > 0 && sc->top_k < n) n = sc->top_k;
        double kept = 0.0;
        for (int i = 0; i < n; i++) kept += work[i].p;
        if (sc->top_p < 1.0f) { /* smallest prefix whose mass reaches top_p of what top-k kept */
            double acc = 0.0;
            for (int i = 0; i < n; i++) {
                acc += work[i].p;
                if (acc >= sc->top_p * kept) {
                    n = i + 1;
                    break;
                }
            }
        }
        sum = 0.0;
        for (int i = 0; i < n; i++) sum += work[i].p;
    }
    double u = tb_rng_uniform(r) * sum, acc = 0.0;
    for (int i = 0; i < n; i++) {
        acc += work[i].p;
        if (u < acc) return work[i].id;
    }
    return work[n - 1].id;
}

int tb_generate(tb_model *m, const int *const *prompts, const int *prompt_len, int n, const tb_sample_config *sc,
                int **out, int *out_len) {
    const tb_config *c = &m->cfg;
    TB_ASSERT(m->provider == NULL); /* generation reads whole weights: unshard before sampling */
    if (sc->temperature < 0.0f || sc->top_k < 0 || !(sc->top_p > 0.0f && sc->top_p <= 1.0f) || sc->max_new_tokens < 0)
        return TB_ERROR(TB_ERR_ARG, "temperature >= 0 (0 = greedy), top_k >= 0 (0 = off), 0 < top_p <= 1",
                        "invalid sampling settings (temperature %g, top_k %d, top_p %g, max_new_tokens %d)",
                        (double)sc->temperature, sc->top_k, (double)sc->top_p, sc->max_new_tokens);
    for (int i = 0; i < n; i++) {
        if (prompt_len[i] < 1)
            return TB_ERROR(TB_ERR_ARG, "start every prompt with at least one token (BOS)", "prompt %d is empty", i);
        if (prompt_len[i] + sc->max_new_tokens > c->max_seq_len)
            return TB_ERROR(TB_ERR_ARG, "shorten the prompt or lower max_new_tokens",
                            "prompt %d: %d prompt tokens + %d new tokens exceed max_seq_len %d", i, prompt_len[i],
                            sc->max_new_tokens, c->max_seq_len);
        for (int t = 0; t < prompt_len[i]; t++)
            if (prompts[i][t] < 0 || prompts[i][t] >= c->vocab_size)
                return TB_ERROR(TB_ERR_ARG, "token ids must come from the model's tokenizer",
                                "prompt %d, position %d: token %d outside the vocabulary (%d)", i, t, prompts[i][t],
                                c->vocab_size);
    }
    tb_model_ensure_rope(m);
    gen_state s;
    gen_alloc(&s, m, n);
    int *rows = tb_malloc((size_t)n * sizeof(int)), *tok = tb_malloc((size_t)n * sizeof(int));
    int *pos = tb_malloc((size_t)n * sizeof(int));
    int *done = tb_malloc((size_t)n * sizeof(int));
    tb_rng *rng = tb_malloc((size_t)n * sizeof(tb_rng));
    prob_id *work = tb_malloc((size_t)c->vocab_size * sizeof(prob_id));
    for (int i = 0; i < n; i++) {
        out_len[i] = 0;
        rng[i] = tb_rng_make(sc->seed, (uint64_t)i);
        done[i] = sc->max_new_tokens == 0;
    }
    for (int step = 0;; step++) {
        int na = 0;
        for (int i = 0; i < n; i++) {
            if (done[i]) continue;
            rows[na] = i;
            pos[na] = step;
            tok[na] = step < prompt_len[i] ? prompts[i][step] : out[i][step - prompt_len[i]];
            na++;
        }
        if (na == 0) break;
        gen_step(m, &s, rows, tok, pos, na);
        for (int j = 0; j < na; j++) {
            int i = rows[j];
            if (step + 1 < prompt_len[i]) continue; /* still reading the prompt */
            int t = sample_token(s.logits + (size_t)j * c->vocab_size, c->vocab_size, sc, &rng[i], work);
            out[i][out_len[i]++] = t;
            if (t == sc->eos_id || out_len[i] >= sc->max_new_tokens) done[i] = 1;
        }
    }
    tb_free(rows);
    tb_free(tok);
    tb_free(pos);
    tb_free(done);
    tb_free(rng);
    tb_free(work);
    gen_free(&s);
    return TB_OK;
}
