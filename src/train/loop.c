/* loop.c: one training step (accumulation, clipping, mask, update) and evaluation loss. The loop
 * is the same for every objective: the objective only shapes the gradient of the model's outputs. */
#include <math.h>

#include "dist/dist.h"
#include "train.h"

/* Scored targets of the micro-batch over the whole group: the objective's normaliser. */
static int count_scored(const tb_trainer *tr, const int *targets, int B, long *n) {
    long local = 0;
    for (int i = 0; i < B * tr->T; i++) local += targets[i] >= 0;
    *n = local;
    if (!tr->dp) return TB_OK;
    if (MPI_Allreduce(&local, n, 1, MPI_LONG, MPI_SUM, tr->dp->comm) != MPI_SUCCESS)
        return TB_ERROR(TB_ERR_MPI, "a rank of the group may have failed", "token-count all-reduce failed");
    return TB_OK;
}

/* The gradient of the objective over step `step`'s accum micro-batches, reduced over the group, and
 * the group's loss. */
static int batch_gradient(tb_trainer *tr, long step, double *loss) {
    tb_model *m = tr->model;
    int *inp, *targets; /* (B,T) each, the model's staging buffers */
    TB_CHECK(tb_model_batch(m, tr->B, tr->T, &inp, &targets));
    int B = tr->rows_at ? tr->rows_at(tr->batch_ctx, step) : tr->B;
    TB_ASSERT(B >= 1 && B <= tr->B);
    int rc = TB_OK;
    double total = 0.0;
    tb_model_zero_grad(m);
    tb_paramset_zero_grad(tr->trainable); /* ZeRO-3 trains a shard ParamSet outside the model */
    if (tr->reparam) tr->reparam->forward(tr->reparam->ctx);
    /* the reducer reduces `trainable` as the model's backward finalises it; a reparameterised gradient
     * exists only after the reparameterisation's backward, so it is reduced after that */
    int overlap = tr->dp && !tr->reparam;
    for (int u = 0; u < tr->accum && rc == TB_OK; u++) {
        double l = 0.0;
        rc = tr->next_batch(tr->batch_ctx, step, u, inp, targets);
        if (rc == TB_OK) rc = tb_model_forward(m, inp, targets, B, tr->T);
        tb_batch_view bv = {.model = m, .targets = m->targets, .B = B, .T = tr->T};
        if (rc == TB_OK) rc = count_scored(tr, targets, B, &bv.n_scored);
        if (rc == TB_OK) rc = tr->objective->loss_and_grad(tr->objective, &bv, 1.0f / (float)tr->accum, &l, 1);
        /* the last micro-batch's backward reduces gradients as its layers finish */
        if (rc == TB_OK && overlap && u == tr->accum - 1) tb_dp_last_backward(tr->dp);
        if (rc == TB_OK) tb_model_backward(m, tr->objective->uses_logits);
        total += l;
    }
    if (rc == TB_OK && tr->reparam) {
        tr->reparam->backward(tr->reparam->ctx);
        if (tr->dp) tb_dp_last_backward(tr->dp);
    }
    if (rc == TB_OK && tr->dp) rc = tb_dp_sync_grads(tr->dp);
    if (rc == TB_OK && tr->dp)
        rc = MPI_Allreduce(MPI_IN_PLACE, &total, 1, MPI_DOUBLE, MPI_SUM, tr->dp->comm) == MPI_SUCCESS
                 ? TB_OK
                 : TB_ERROR(TB_ERR_MPI, "a rank of the group may have failed", "loss all-reduce failed");
    if (rc != TB_OK) {
        tb_error_trace(__FILE__, __LINE__, __func__);
        return rc;
    }
    *loss = total / tr->accum;
    return TB_OK;
}

int tb_grad_sum(tb_trainer *tr, long n_batches, float *out) {
    TB_ASSERT(!tr->dp || tr->dp->mode == TB_DP_ALLREDUCE);
    tb_paramset *ps = tr->trainable;
    for (long k = 0; k < n_batches; k++) {
        double loss;
        TB_CHECK(batch_gradient(tr, k, &loss));
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < ps->numel; i++) out[i] += ps->grad[i];
    }
    return TB_OK;
}

int tb_train_step(tb_trainer *tr, long step, double *loss, float *grad_norm) {
    TB_CHECK(batch_gradient(tr, step, loss));
    /* the clip uses the unmasked gradient's norm; the optimizer applies the clip factor and then the
     * mask as it reads each gradient, which saves a pass over the gradients */
    if (tr->dp) TB_CHECK(tb_dp_grad_norm(tr->dp, grad_norm));
    else *grad_norm = (float)sqrt(tb_grad_sumsq(tr->trainable, 0, tr->trainable->numel));
    if (!isfinite(*loss) || !isfinite(*grad_norm))
        return TB_ERROR(TB_ERR_NUMERIC, "lower the learning rate or enable clipping",
                        "step %ld: loss %g, gradient norm %g is not finite", step, *loss, (double)*grad_norm);
    tr->opt->grad_scale = tb_clip_scale(*grad_norm, tr->clip);
    tb_optimizer_step(tr->opt, tr->trainable, tb_schedule_lr(&tr->sched, step));
    if (tr->dp) TB_CHECK(tb_dp_gather_params(tr->dp));
    if (tr->reparam) tr->reparam->forward(tr->reparam->ctx);
    return TB_OK;
}

int tb_eval_loss(tb_model *m, tb_batch_fn next_batch, void *ctx, long n_batches, int B, int T, const tb_dp *dp,
                 double *loss) {
    size_t BT = (size_t)B * T;
    int *inp, *targets; /* (B,T) each, the model's staging buffers */
    TB_CHECK(tb_model_batch(m, B, T, &inp, &targets));
    double s = 0.0;
    long n = 0;
    int rc = TB_OK;
    for (long k = 0; k < n_batches && rc == TB_OK; k++) {
        rc = next_batch(ctx, k, 0, inp, targets);
        if (rc == TB_OK) rc = tb_model_forward(m, inp, targets, B, T);
        for (size_t i = 0; rc == TB_OK && i < BT; i++)
            if (m->targets[i] >= 0) {
                s -= m->logprob[i];
                n++;
            }
    }
    TB_CHECK(rc);
    if (dp) {
        double sn[2] = {s, (double)n};
        if (MPI_Allreduce(MPI_IN_PLACE, sn, 2, MPI_DOUBLE, MPI_SUM, dp->comm) != MPI_SUCCESS)
            return TB_ERROR(TB_ERR_MPI, "a rank of the group may have failed", "evaluation all-reduce failed");
        s = sn[0];
        n = (long)sn[1];
    }
    *loss = n ? s / (double)n : 0.0;
    return TB_OK;
}
