/* zero3.h: ZeRO-3 parameter sharding, internal to src/dist (dp.c drives it through tb_dp). */
#ifndef TB_DIST_ZERO3_H
#define TB_DIST_ZERO3_H

#include "dist.h"

/* Shards m's base weights over comm, frees m->params.data/.grad and installs the model's provider. */
int tb_zero3_init(tb_zero3 **out, MPI_Comm comm, tb_model *m);
void tb_zero3_free(tb_zero3 *z);
tb_paramset *tb_zero3_shard(tb_zero3 *z);
size_t tb_zero3_peak_bytes(const tb_zero3 *z);
/* shard-laid-out values (data, a moment) -> the whole flat layout on every rank (collective) */
int tb_zero3_gather(tb_zero3 *z, const float *shard_vals, float *full);
/* the whole flat layout -> this rank's pieces (local) */
void tb_zero3_scatter(const tb_zero3 *z, const float *full, float *shard_vals);
/* gives m whole parameters again and removes the provider (collective) */
int tb_zero3_unshard(tb_zero3 *z);

#endif
