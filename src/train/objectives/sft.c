/* sft.c: token-level cross-entropy over the scored targets of a batch (the SFT objective).
 * loss = -(1/N) sum_{scored} logprob; dloss/dlogprob = -1/N at scored positions, with N counted
 * over the whole data-parallel group so that sharding the batch does not change the loss. */
#include "train/train.h"

static int sft_loss_and_grad(tb_objective *self, const tb_batch_view *bv, float grad_scale, double *loss,
                             int want_grad) {
    tb_model *m = bv->model;
    int BT = bv->B * bv->T;
    long n = bv->n_scored;
    double s = 0.0;
    for (int i = 0; i < BT; i++)
        if (bv->targets[i] >= 0) s += m->logprob[i];
    *loss = n ? -s / (double)n : 0.0;
    if (!want_grad) return TB_OK;
    float *dlp = tb_model_dlogprob(m); /* (B,T) */
    for (int i = 0; i < BT; i++) dlp[i] = bv->targets[i] >= 0 ? -grad_scale / (float)n : 0.0f;
    tb_model_logprob_grad(m, dlp);
    return TB_OK;
}

tb_objective tb_objective_sft(void) {
    tb_objective o = {.name = "sft", .uses_logits = 1, .loss_and_grad = sft_loss_and_grad, .ctx = NULL};
    return o;
}
