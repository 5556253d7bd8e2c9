/*
 * unlearn.c: the unlearning objectives (../shared/reference/unlearning.md, section 2):
 * L = gamma * L_f + alpha * L_r over one micro-batch whose rows the batch function labels forget,
 * refusal ("idk", IdkDPO) or retain.
 *
 * Every term is a mean over the whole data-parallel group's micro-batch (the counts in tb_unlearn_rows
 * are the group's), so each rank returns its share and the shares add up to the batch loss. Sequence
 * log-probabilities are sums over the answer tokens (the scored targets of a row): NPO and IdkDPO use
 * them as open-unlearning and the NPO paper do, SimNPO divides them by the answer length.
 */
#include <math.h>
#include <string.h>

#include "train/train.h"

typedef struct {
    tb_unlearn_params p;
    tb_unlearn_rows *rows;
    /* scratch, sized at the first batch: (B) sequence log-probs, (B*T) soft-target rows and weights,
     * (B*T*V) soft targets built from the cached reference log-softmax */
    int cap_B, cap_T, V;
    float *seq, *dsoft, *ce, *qbuf;
    const float **soft;
} unlearn_ctx;

static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

static void ensure_scratch(unlearn_ctx *u, int B, int T, int V) {
    if (B <= u->cap_B && T <= u->cap_T) return;
    tb_free(u->seq), tb_free(u->dsoft), tb_free(u->ce), tb_free(u->qbuf), tb_free(u->soft);
    size_t BT = (size_t)B * T;
    u->seq = tb_malloc((size_t)B * sizeof(float));
    u->dsoft = tb_malloc(BT * sizeof(float));
    u->ce = tb_malloc(BT * sizeof(float));
    u->soft = tb_malloc(BT * sizeof(*u->soft));
    u->qbuf = tb_malloc(BT * (size_t)V * sizeof(float));
    u->cap_B = B, u->cap_T = T, u->V = V;
}

/* Scored targets of row b: the answer tokens it predicts. */
static int row_tokens(const tb_batch_view *bv, int b) {
    int n = 0;
    for (int t = 0; t < bv->T; t++) n += bv->targets[b * bv->T + t] >= 0;
    return n;
}

/* The soft target of each scored position of the rows that need one: KL retain rows get p_ref;
 * UNDIAL forget rows get softmax(z_ref - beta * e_y), i.e. p_ref with the true token's mass scaled by
 * exp(-beta) and renormalised. Also adds -H(p_ref) to *neg_entropy for the KL rows (KL = CE - H). */
static void build_soft_targets(unlearn_ctx *u, const tb_batch_view *bv, double *neg_entropy) {
    const tb_unlearn_rows *r = u->rows;
    int V = u->V, T = bv->T;
    double ne = 0.0;
    for (int b = 0; b < bv->B; b++) {
        int kl = r->role[b] == TB_ROW_RETAIN && u->p.retain == TB_RETAIN_KL;
        int undial = r->role[b] == TB_ROW_FORGET && u->p.method == TB_UNLEARN_UNDIAL;
        for (int t = 0; t < T; t++) {
            int i = b * T + t, y = bv->targets[i];
            u->soft[i] = NULL;
            if (y < 0 || !(kl || undial)) continue;
            const float *ref = r->ref_rows[i]; /* (V) reference log-softmax */
            TB_ASSERT(ref);
            float *q = u->qbuf + (size_t)i * V;
            if (kl) {
                for (int v = 0; v < V; v++) {
                    q[v] = expf(ref[v]);
                    ne += (double)q[v] * ref[v];
                }
            } else {
                double py = exp(ref[y]), scale = 1.0 / (1.0 - py + py * exp(-u->p.beta));
                for (int v = 0; v < V; v++) q[v] = (float)(exp(ref[v]) * scale);
                q[y] = (float)(py * exp(-u->p.beta) * scale);
            }
            u->soft[i] = q;
        }
    }
    *neg_entropy = ne;
}

/* Terms on the logits: every method but RMU. */
static int logit_terms(unlearn_ctx *u, const tb_batch_view *bv, float gs, double *loss, int want_grad) {
    const tb_unlearn_rows *r = u->rows;
    const tb_unlearn_params *p = &u->p;
    tb_model *m = bv->model;
    int B = bv->B, T = bv->T;
    double nf = (double)r->n_forget, nft = (double)r->n_forget_tokens;
    double nrt = (double)r->n_retain_tokens;
    float *dlp = tb_model_dlogprob(m); /* (B,T) */
    memset(dlp, 0, (size_t)B * T * sizeof(float));
    /* per-row dL/d(sequence log-prob); rows of token-level terms set dlp directly */
    for (int b = 0; b < B; b++) {
        double s = 0.0;
        for (int t = 0; t < T; t++)
            if (bv->targets[b * T + t] >= 0) s += m->logprob[b * T + t];
        u->seq[b] = (float)s;
    }
    double lf = 0.0, lr = 0.0;
    for (int b = 0; b < B; b++) {
        double dseq = 0.0; /* dL/ds_b */
        float dtok = 0.0f; /* dL/dlogprob at each scored position of b */
        double s = u->seq[b];
        if (r->role[b] == TB_ROW_RETAIN) {
            if (p->retain == TB_RETAIN_NLL) {
                lr -= s / nrt;
                dtok = (float)(-p->alpha / nrt);
            }
        } else if (r->role[b] == TB_ROW_FORGET) {
            switch (p->method) {
            case TB_UNLEARN_GA:
            case TB_UNLEARN_GRADDIFF:
                /* L_f = -NLL(forget) = sum logprob / n_tokens */
                lf += s / nft;
                dtok = (float)(p->gamma / nft);
                break;
            case TB_UNLEARN_NPO: {
                /* L_f = -(2/beta) mean log sigmoid(-beta (s - s_ref)) = (2/beta) mean softplus(x) */
                double x = p->beta * (s - r->ref_seq[b]);
                lf += 2.0 / p->beta * softplus(x) / nf;
                dseq = p->gamma * 2.0 / nf * sigmoid(x);
                break;
            }
            case TB_UNLEARN_SIMNPO: {
                /* L_f = -(2/beta) mean log sigmoid(beta (avg_loss - delta)), avg_loss = -s / |y| */
                int n = row_tokens(bv, b);
                double x = p->beta * (-s / n - p->delta);
                lf += 2.0 / p->beta * softplus(-x) / nf;
                dseq = p->gamma * 2.0 / nf * sigmoid(-x) / n;
                break;
            }
            case TB_UNLEARN_IDKDPO: {
                /* L_f = -(2/beta) mean log sigmoid(beta [(s_idk - r_idk) - (s_f - r_f)]) */
                int j = r->pair[b];
                TB_ASSERT(j >= 0 && j < B && r->role[j] == TB_ROW_IDK);
                /* = (2/beta) mean DPO loss of the pair (refusal chosen, forget answer rejected) */
                tb_dpo_params dpo = {.kind = TB_DPO_SIGMOID, .beta = p->beta};
                double dz, z = (u->seq[j] - r->ref_seq[j]) - (s - r->ref_seq[b]);
                lf += 2.0 / p->beta * tb_dpo_pair_loss(&dpo, z, &dz) / nf;
                double g = p->gamma * 2.0 / p->beta * dz / nf; /* dL/ds_idk; dL/ds_f = -g */
                dseq = -g;
                for (int t = 0; t < T; t++)
                    if (bv->targets[j * T + t] >= 0) dlp[j * T + t] = (float)(g * gs);
                break;
            }
            case TB_UNLEARN_UNDIAL:
                break; /* soft-target term below */
            case TB_UNLEARN_RMU:
                TB_ASSERT(0);
            }
        }
        if (dseq != 0.0) dtok = (float)dseq;
        if (dtok != 0.0f)
            for (int t = 0; t < T; t++)
                if (bv->targets[b * T + t] >= 0) dlp[b * T + t] = dtok * gs;
    }
    /* soft-target terms: KL(p_ref || p_theta) on retain rows, UNDIAL's distillation on forget rows */
    int soft = p->retain == TB_RETAIN_KL || p->method == TB_UNLEARN_UNDIAL;
    if (soft) {
        double neg_entropy;
        build_soft_targets(u, bv, &neg_entropy);
        tb_model_softce(m, u->soft, u->ce);
        lr += p->retain == TB_RETAIN_KL ? neg_entropy / nrt : 0.0;
        for (int i = 0; i < B * T; i++) {
            u->dsoft[i] = 0.0f;
            if (!u->soft[i]) continue;
            if (r->role[i / T] == TB_ROW_RETAIN) {
                lr += u->ce[i] / nrt;
                u->dsoft[i] = (float)(p->alpha / nrt) * gs;
            } else {
                lf += u->ce[i] / nft;
                u->dsoft[i] = (float)(p->gamma / nft) * gs;
            }
        }
    }
    *loss = p->gamma * lf + p->alpha * lr;
    if (want_grad) tb_model_head_grad(m, dlp, soft ? u->soft : NULL, soft ? u->dsoft : NULL);
    return TB_OK;
}

/* RMU: masked mean-square distances at the captured layer, forget rows to the control vector and
 * retain rows to the reference model's states. M = the scored positions of a row. */
static int rmu_terms(unlearn_ctx *u, const tb_batch_view *bv, float gs, double *loss, int want_grad) {
    const tb_unlearn_rows *r = u->rows;
    const tb_unlearn_params *p = &u->p;
    tb_model *m = bv->model;
    int B = bv->B, T = bv->T, C = m->cfg.n_embd;
    const float *h = tb_model_hidden(m); /* (B,T,C) */
    float *dh = tb_model_hidden_grad(m); /* (B,T,C) */
    double lf = 0.0, lr = 0.0;
    for (int b = 0; b < B; b++) {
        int forget = r->role[b] == TB_ROW_FORGET;
        if (!forget && r->role[b] != TB_ROW_RETAIN) continue;
        int n = row_tokens(bv, b);
        if (n == 0) continue;
        double w = forget ? p->gamma / (double)r->n_forget : p->alpha / (double)r->n_retain;
        double scale = w / ((double)n * C);
        double sum = 0.0;
        for (int t = 0; t < T; t++) {
            if (bv->targets[b * T + t] < 0) continue;
            const float *ht = h + ((size_t)b * T + t) * C;
            const float *target = forget ? p->cvec : r->ref_hidden[b] + (size_t)t * C;
            float *dht = dh + ((size_t)b * T + t) * C;
            for (int c = 0; c < C; c++) {
                double d = (double)ht[c] - target[c];
                sum += d * d;
                // forward: L += scale * (h - target)^2
                if (want_grad) dht[c] += (float)(2.0 * scale * d) * gs;
            }
        }
        if (forget) lf += sum * scale / p->gamma;
        else lr += sum * scale / p->alpha;
    }
    *loss = p->gamma * lf + p->alpha * lr;
    return TB_OK;
}

static int unlearn_loss_and_grad(tb_objective *self, const tb_batch_view *bv, float grad_scale, double *loss,
                                 int want_grad) {
    unlearn_ctx *u = self->ctx;
    ensure_scratch(u, bv->B, bv->T, bv->model->cfg.vocab_size);
    if (u->p.method == TB_UNLEARN_RMU) return rmu_terms(u, bv, grad_scale, loss, want_grad);
    return logit_terms(u, bv, grad_scale, loss, want_grad);
}

tb_objective tb_objective_unlearn(const tb_unlearn_params *p, tb_unlearn_rows *rows) {
    unlearn_ctx *u = tb_malloc(sizeof *u);
    u->p = *p;
    u->rows = rows;
    tb_objective o = {.name = tb_unlearn_method_name(p->method), .uses_logits = p->method != TB_UNLEARN_RMU,
                      .loss_and_grad = unlearn_loss_and_grad, .ctx = u};
    return o;
}

void tb_objective_unlearn_free(tb_objective *o) {
    unlearn_ctx *u = o->ctx;
    if (!u) return;
    tb_free(u->seq), tb_free(u->dsoft), tb_free(u->ce), tb_free(u->qbuf), tb_free(u->soft);
    tb_free(u);
    o->ctx = NULL;
}

static const char *const method_names[] = {"ga", "graddiff", "npo", "simnpo", "idkdpo", "rmu", "undial"};

const char *tb_unlearn_method_name(tb_unlearn_method m) { return method_names[m]; }

int tb_unlearn_method_parse(const char *s, tb_unlearn_method *out) {
    for (int i = 0; i < (int)(sizeof method_names / sizeof method_names[0]); i++)
        if (strcmp(s, method_names[i]) == 0) {
            *out = (tb_unlearn_method)i;
            return TB_OK;
        }
    return TB_ERROR(TB_ERR_ARG, "use one of ga, graddiff, npo, simnpo, idkdpo, rmu, undial",
                    "unknown unlearning method \"%s\"", s);
}
