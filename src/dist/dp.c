/* dp.c: data parallelism over a group: plain all-reduce of gradients (overlapped with backward by
 * the reducer), or ZeRO-1: reduce-scatter the gradients, update only this rank's shard (so the
 * AdamW moments exist for 1/P of the parameters), all-gather the updated shards. */
#include <math.h>
#include <string.h>

#include "dist.h"
#include "zero3.h"

static int mpi_check(int rc, const char *what) {
    if (rc == MPI_SUCCESS) return TB_OK;
    return TB_ERROR(TB_ERR_MPI, "a rank of the group may have failed", "%s failed (MPI error %d)", what, rc);
}

int tb_dp_init(tb_dp *d, tb_dp_mode mode, MPI_Comm comm, tb_model *m, tb_paramset *ps, size_t bucket_bytes) {
    memset(d, 0, sizeof *d);
    d->mode = mode;
    d->comm = comm;
    d->ps = ps;
    MPI_Comm_rank(comm, &d->rank);
    MPI_Comm_size(comm, &d->size);
    d->shard_begin = 0;
    d->shard_end = ps->numel;
    if (mode == TB_DP_ALLREDUCE) return tb_grad_reducer_init(&d->reducer, comm, m, ps, bucket_bytes);
    if (mode == TB_DP_ZERO3) {
        if (ps != &m->params)
            return TB_ERROR(TB_ERR_ARG, "shard adapters with ZeRO-1 (dist.zero: 1); they are small anyway",
                            "ZeRO-3 shards the base weights only");
        return tb_zero3_init(&d->z3, comm, m);
    }
    size_t S = (ps->numel + (size_t)d->size - 1) / (size_t)d->size;
    S = (S + 15) / 16 * 16;
    if (ps->numel > (size_t)0x7fffffff)
        return TB_ERROR(TB_ERR_ARG, "use fewer parameters per ParamSet or more ranks",
                        "%zu parameters exceed what one MPI count can address", ps->numel);
    d->counts = tb_malloc((size_t)d->size * sizeof(int));
    d->displs = tb_malloc((size_t)d->size * sizeof(int));
    for (int r = 0; r < d->size; r++) {
        size_t b = (size_t)r * S < ps->numel ? (size_t)r * S : ps->numel;
        size_t e = (size_t)(r + 1) * S < ps->numel ? (size_t)(r + 1) * S : ps->numel;
        d->displs[r] = (int)b;
        d->counts[r] = (int)(e - b);
    }
    d->shard_begin = (size_t)d->displs[d->rank];
    d->shard_end = d->shard_begin + (size_t)d->counts[d->rank];
    d->shard_grad = tb_malloc(((size_t)d->counts[d->rank] + 1) * sizeof(float));
    return TB_OK;
}

void tb_dp_free(tb_dp *d, tb_model *m) {
    if (d->mode == TB_DP_ALLREDUCE) tb_grad_reducer_free(&d->reducer, m);
    tb_zero3_free(d->z3);
    tb_free(d->counts);
    tb_free(d->displs);
    tb_free(d->shard_grad);
    memset(d, 0, sizeof *d);
}

void tb_dp_last_backward(tb_dp *d) {
    if (d->mode == TB_DP_ALLREDUCE) tb_grad_reducer_arm(&d->reducer);
}

tb_paramset *tb_dp_trainable(tb_dp *d) { return d->mode == TB_DP_ZERO3 ? tb_zero3_shard(d->z3) : d->ps; }

void tb_dp_optimizer_init(tb_dp *d, tb_optimizer *o, tb_opt_kind kind) {
    if (d->mode == TB_DP_ZERO3) tb_optimizer_init(o, kind, tb_zero3_shard(d->z3));
    else tb_optimizer_init_range(o, kind, d->shard_begin, d->shard_end);
}

int tb_dp_gather_state(tb_dp *d, const float *part, float *full) {
    if (d->mode == TB_DP_ZERO3) return tb_zero3_gather(d->z3, part, full);
    if (d->mode == TB_DP_ALLREDUCE) {
        memcpy(full, part, d->ps->numel * sizeof(float));
        return TB_OK;
    }
    return mpi_check(MPI_Allgatherv(part, d->counts[d->rank], MPI_FLOAT, full, d->counts, d->displs, MPI_FLOAT, d->comm),
                     "gathering ZeRO-1 shards");
}

void tb_dp_scatter_state(const tb_dp *d, const float *full, float *part) {
    if (d->mode == TB_DP_ZERO3) tb_zero3_scatter(d->z3, full, part);
    else memcpy(part, full + d->shard_begin, (d->shard_end - d->shard_begin) * sizeof(float));
}

int tb_dp_unshard(tb_dp *d, tb_model *m) {
    (void)m;
    return d->mode == TB_DP_ZERO3 ? tb_zero3_unshard(d->z3) : TB_OK;
}

int tb_dp_sync_grads(tb_dp *d) {
    if (d->mode == TB_DP_ALLREDUCE) return tb_grad_reducer_finish(&d->reducer);
    if (d->mode == TB_DP_ZERO3) return TB_OK; /* each unit was reduce-scattered when its backward ended */
    /* every rank contributes its whole gradient and receives the sum over its own shard */
    TB_CHECK(mpi_check(MPI_Reduce_scatter(d->ps->grad, d->shard_grad, d->counts, MPI_FLOAT, MPI_SUM, d->comm),
                       "gradient reduce-scatter"));
    memcpy(d->ps->grad + d->shard_begin, d->shard_grad, (size_t)d->counts[d->rank] * sizeof(float));
    return TB_OK;
}

int tb_dp_grad_norm(tb_dp *d, float *norm) {
    tb_paramset *ps = tb_dp_trainable(d);
    size_t b = d->mode == TB_DP_ZERO3 ? 0 : d->shard_begin, e = d->mode == TB_DP_ZERO3 ? ps->numel : d->shard_end;
    double sumsq = tb_grad_sumsq(ps, b, e);
    if (d->mode != TB_DP_ALLREDUCE) /* shards are disjoint: their squared norms add up */
        TB_CHECK(mpi_check(MPI_Allreduce(MPI_IN_PLACE, &sumsq, 1, MPI_DOUBLE, MPI_SUM, d->comm), "norm all-reduce"));
    *norm = (float)sqrt(sumsq);
    return TB_OK;
}

int tb_dp_gather_params(tb_dp *d) {
    if (d->mode != TB_DP_ZERO1) return TB_OK;
    return mpi_check(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, d->ps->data, d->counts, d->displs, MPI_FLOAT,
                                    d->comm),
                     "parameter all-gather");
}

size_t tb_dp_state_bytes(const tb_dp *d) {
    if (d->mode == TB_DP_ZERO3) { /* values, gradients and both moments of the shard, plus gathered units */
        const tb_paramset *sh = tb_zero3_shard(d->z3);
        return 4 * sh->numel * sizeof(float) + tb_zero3_peak_bytes(d->z3);
    }
    size_t n = d->ps->numel, shard = d->shard_end - d->shard_begin;
    /* values and gradients are whole on every rank; AdamW's two moments cover the shard */
    size_t bytes = 2 * n * sizeof(float) + 2 * shard * sizeof(float);
    if (d->mode == TB_DP_ZERO1) bytes += shard * sizeof(float); /* the reduce-scatter buffer */
    return bytes;
}
