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

/* ---- sharded batches ------------------------------------------------------------------------- */

/* Rows [*first, *first + *count) of a global batch of B rows that rank `rank` of `size` reads.
 * B must be a multiple of size, so every rank does the same work. */
int tb_shard_rows(int B, int rank, int size, int *first, int *count);

#endif
