/*
 * preference.c: DPO and the joint SFT + DPO objective of the post-training workload
 * (../shared/reference/posttrain.md, section A):
 *   L = w_sft * f_SFT + w_dpo * f_DPO
 *   f_SFT = token-mean NLL over the scored targets of the SFT rows
 *   f_DPO = mean over pairs of -log sigmoid(beta z) (or IPO's (z - 1/(2 beta))^2), where
 *           z = (s_c - s_c^ref) - (s_r - s_r^ref), s = the summed log-prob of a row's response.
 * The schedules (Sequential, Mix, ALRIGHT, MAXRIGHT) only choose the rows and the two weights of
 * each step, so one objective serves all of them. Means are over the whole data-parallel group's
 * micro-batch (the counts in tb_pref_rows are the group's), so each rank returns its share.
 */
#include <math.h>
#include <string.h>

#include "train/train.h"

static double softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

double tb_dpo_pair_loss(const tb_dpo_params *p, double z, double *dloss_dz) {
    if (p->kind == TB_DPO_IPO) {
        double d = z - 1.0 / (2.0 * p->beta);
        *dloss_dz = 2.0 * d;
        return d * d;
    }
    /* -(1-eps) log sigmoid(beta z) - eps log sigmoid(-beta z) = (1-eps) softplus(-bz) + eps softplus(bz) */
    double bz = p->beta * z, eps = p->label_smoothing;
    *dloss_dz = p->beta * (-(1.0 - eps) * sigmoid(-bz) + eps * sigmoid(bz));
    return (1.0 - eps) * softplus(-bz) + eps * softplus(bz);
}

typedef struct {
    tb_dpo_params p;
    tb_pref_rows *rows;
    int cap_B;
    double *seq; /* (B) summed response log-probs of this rank's rows */
} pref_ctx;

static int pref_loss_and_grad(tb_objective *self, const tb_batch_view *bv, float gs, double *loss, int want_grad) {
    pref_ctx *u = self->ctx;
    tb_pref_rows *r = u->rows;
    tb_model *m = bv->model;
    int B = bv->B, T = bv->T;
    if (B > u->cap_B) {
        tb_free(u->seq);
        u->seq = tb_malloc((size_t)B * sizeof(double));
        u->cap_B = B;
    }
    for (int b = 0; b < B; b++) {
        double s = 0.0;
        for (int t = 0; t < T; t++)
            if (bv->targets[b * T + t] >= 0) s += m->logprob[b * T + t];
        u->seq[b] = s;
    }
    float *dlp = tb_model_dlogprob(m); /* (B,T) */
    memset(dlp, 0, (size_t)B * T * sizeof(float));
    double n_tok = (double)r->n_sft_tokens, n_pairs = (double)r->n_pairs;
    double f_sft = 0.0, f_dpo = 0.0, acc = 0.0, margin = 0.0;
    for (int b = 0; b < B; b++) {
        double dseq = 0.0; /* dL/ds_b, the same at every scored position of row b */
        if (r->role[b] == TB_PREF_SFT) {
            // forward: f_sft -= s_b / n_tok
            f_sft -= u->seq[b] / n_tok;
            dseq = -r->w_sft / n_tok;
        } else if (r->role[b] == TB_PREF_CHOSEN) {
            int j = r->pair[b];
            TB_ASSERT(j >= 0 && j < B && r->role[j] == TB_PREF_REJECTED);
            double rc = u->seq[b] - r->ref_seq[b], rr = u->seq[j] - r->ref_seq[j], z = rc - rr, dz;
            f_dpo += tb_dpo_pair_loss(&u->p, z, &dz) / n_pairs;
            /* the implicit rewards beta (s - s_ref): accuracy counts rc > rr, ties as misses */
            acc += (rc > rr) / n_pairs;
            margin += u->p.beta * z / n_pairs;
            // forward: z = (s_c - ref_c) - (s_r - ref_r): dz/ds_c = 1, dz/ds_r = -1
            dseq = r->w_dpo * dz / n_pairs;
            for (int t = 0; t < T; t++)
                if (bv->targets[j * T + t] >= 0) dlp[j * T + t] = (float)(-dseq) * gs;
        }
        if (dseq != 0.0)
            for (int t = 0; t < T; t++)
                if (bv->targets[b * T + t] >= 0) dlp[b * T + t] = (float)dseq * gs;
    }
    r->f_sft = f_sft, r->f_dpo = f_dpo, r->reward_acc = acc, r->reward_margin = margin;
    *loss = r->w_sft * f_sft + r->w_dpo * f_dpo;
    if (want_grad) tb_model_logprob_grad(m, dlp);
    return TB_OK;
}

tb_objective tb_objective_pref(const tb_dpo_params *p, tb_pref_rows *rows) {
    pref_ctx *u = tb_malloc(sizeof *u);
    memset(u, 0, sizeof *u);
    u->p = *p;
    u->rows = rows;
    tb_objective o = {.name = "sft+dpo", .uses_logits = 1, .loss_and_grad = pref_loss_and_grad, .ctx = u};
    return o;
}

void tb_objective_pref_free(tb_objective *o) {
    pref_ctx *u = o->ctx;
    if (!u) return;
    tb_free(u->seq);
    tb_free(u);
    o->ctx = NULL;
}
