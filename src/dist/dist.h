/*
 * dist.h: the public face of src/dist: process groups, and data-parallel gradient reduction that
 * overlaps backward.
 *
 * Gradient reduction follows the model's layer-major layout: when backward finishes a block, the
 * block's slice of the flat gradient buffer is final, so its all-reduce (MPI_Iallreduce, in
 * buckets of whole layers) starts at once and is progressed with MPI_Testall while the blocks below
 * still run. Open MPI has no progress thread, so without those tests the reduction would only move
 * inside the final wait.
 */
#ifndef TB_DIST_H
#define TB_DIST_H

#include <mpi.h>

#include "core/core.h"
#include "model/model.h"
#include "train/train.h"

/* ---- groups ---------------------------------------------------------------------------------- */

typedef struct {
    MPI_Comm world, group, leaders; /* leaders: group rank 0 of every group, else MPI_COMM_NULL */
    int world_rank, world_size;
    int group_rank, group_size;
    int group_id, n_groups;
} tb_groups;

/* Splits world into world_size / ranks_per_group groups of consecutive ranks. ranks_per_group must
 * divide world_size. */
int tb_groups_split(tb_groups *g, MPI_Comm world, int ranks_per_group);
void tb_groups_free(tb_groups *g);

/* ---- data-parallel gradient reduction -------------------------------------------------------- */

typedef struct {
    size_t begin, end; /* flat range of the ParamSet */
    int ready_at;      /* the on_grad_ready layer index after which the range is final */
    MPI_Request req;
    int started;
} tb_bucket;

typedef struct {
    MPI_Comm comm;
    int size;
    tb_paramset *ps;
    tb_bucket *buckets;
    int n_buckets;
    int armed;           /* reduce during this backward (the last micro-batch of a step) */
    double bytes_reduced; /* for --log-view style accounting */
    double wait_seconds;  /* time spent in the final wait: the part not hidden behind backward */
} tb_grad_reducer;

/* Builds buckets of consecutive layers of ps, at most bucket_bytes each (a layer is never split),
 * ordered as backward produces them: after the head, then from the last block down, then the
 * embeddings. Installs itself as m's on_grad_ready hook. */
int tb_grad_reducer_init(tb_grad_reducer *r, MPI_Comm comm, tb_model *m, tb_paramset *ps, size_t bucket_bytes);
void tb_grad_reducer_free(tb_grad_reducer *r, tb_model *m);
/* Arms the reducer for the next backward (call before the last micro-batch of a step). */
void tb_grad_reducer_arm(tb_grad_reducer *r);
/* Starts what has not started, waits for every bucket: afterwards every rank holds the sum. */
int tb_grad_reducer_finish(tb_grad_reducer *r);

/* ---- data parallelism: all-reduce (ZeRO-0) or sharded optimizer state (ZeRO-1) ----------------- */

typedef enum { TB_DP_ALLREDUCE = 0, TB_DP_ZERO1 = 1, TB_DP_ZERO3 = 3 } tb_dp_mode;

typedef struct tb_zero3 tb_zero3; /* ZeRO-3 state, private to zero3.c */

struct tb_dp {
    tb_dp_mode mode;
    MPI_Comm comm;
    int rank, size;
    tb_paramset *ps;
    tb_grad_reducer reducer;        /* ALLREDUCE: overlapped with backward */
    size_t shard_begin, shard_end;  /* ZERO1: the part of the flat buffer this rank updates */
    int *counts, *displs;           /* ZERO1: every rank's shard, for reduce-scatter and all-gather */
    float *shard_grad;              /* ZERO1: receive buffer of the reduce-scatter */
    tb_zero3 *z3;                   /* ZERO3: parameter shards and the model's parameter provider */
};

/* ZeRO-1 shards are ceil(numel / size) rounded up to 16 floats, so every shard but the last is
 * 64-byte aligned; the last may be shorter (or empty).
 * ZeRO-3 (ps must be m's base ParamSet) shards every unit of the model (embeddings, each block, the
 * head) ceil(n_unit / size) ways: this rank keeps its part of every unit in a shard ParamSet, and
 * m->params.data / .grad are freed; the model gathers each unit before its forward and backward
 * (MPI_Allgatherv), and reduce-scatters the unit's gradient into the shards when its backward is
 * done. tb_dp_unshard gives the model whole parameters back. */
int tb_dp_init(tb_dp *d, tb_dp_mode mode, MPI_Comm comm, tb_model *m, tb_paramset *ps, size_t bucket_bytes);
void tb_dp_free(tb_dp *d, tb_model *m);
/* The ParamSet the optimizer updates and clipping measures: ps, or under ZeRO-3 this rank's shard. */
tb_paramset *tb_dp_trainable(tb_dp *d);
/* An optimizer for this rank's part: all of ps, the ZeRO-1 shard range, or the ZeRO-3 shard. */
void tb_dp_optimizer_init(tb_dp *d, tb_optimizer *o, tb_opt_kind kind);
/* State laid out like the optimizer's moments (the values of this rank's part) to and from the
 * whole ParamSet's layout: gather is collective and fills full on every rank; scatter is local. */
int tb_dp_gather_state(tb_dp *d, const float *part, float *full);
void tb_dp_scatter_state(const tb_dp *d, const float *full, float *part);
/* ZeRO-3: allocates m->params.data and gathers every unit into it (collective); other modes no-op. */
int tb_dp_unshard(tb_dp *d, tb_model *m);
/* Call before the backward of a step's last micro-batch (starts the overlapped all-reduce). */
void tb_dp_last_backward(tb_dp *d);
/* After backward: ALLREDUCE leaves the summed gradient everywhere; ZERO1 leaves the summed
 * gradient of this rank's shard in place (the rest of the buffer is stale). */
int tb_dp_sync_grads(tb_dp *d);
/* Global gradient norm over the group (summed over the shards under ZeRO-1 and ZeRO-3). */
int tb_dp_grad_norm(tb_dp *d, float *norm);
/* ZERO1, after the optimizer updated this rank's shard: every rank gets every shard. */
int tb_dp_gather_params(tb_dp *d);
/* Bytes of parameter, gradient and optimizer state this rank holds for ps (AdamW), and under
 * ZeRO-3 the peak of gathered unit buffers alive at once. */
size_t tb_dp_state_bytes(const tb_dp *d);

/* ---- sharded batches ------------------------------------------------------------------------- */

/* Rows [*first, *first + *count) of a global batch of B rows that rank `rank` of `size` reads.
 * B must be a multiple of size, so every rank does the same work. */
int tb_shard_rows(int B, int rank, int size, int *first, int *count);

#endif
