/* groups.c: splitting the world into groups of ranks that each run one point at a time. */
#include "dist.h"

int tb_groups_split(tb_groups *g, MPI_Comm world, int ranks_per_group) {
    MPI_Comm_rank(world, &g->world_rank);
    MPI_Comm_size(world, &g->world_size);
    if (ranks_per_group < 1 || g->world_size % ranks_per_group != 0)
        return TB_ERROR(TB_ERR_ARG, "choose ranks per point dividing the number of MPI ranks",
                        "%d ranks cannot be split into groups of %d", g->world_size, ranks_per_group);
    g->world = world;
    g->group_id = g->world_rank / ranks_per_group;
    g->n_groups = g->world_size / ranks_per_group;
    if (MPI_Comm_split(world, g->group_id, g->world_rank, &g->group) != MPI_SUCCESS)
        return TB_ERROR(TB_ERR_MPI, "check the MPI installation", "MPI_Comm_split into groups failed");
    MPI_Comm_rank(g->group, &g->group_rank);
    MPI_Comm_size(g->group, &g->group_size);
    /* the leaders' communicator carries per-group results; other ranks get MPI_COMM_NULL */
    if (MPI_Comm_split(world, g->group_rank == 0 ? 0 : MPI_UNDEFINED, g->world_rank, &g->leaders) != MPI_SUCCESS)
        return TB_ERROR(TB_ERR_MPI, "check the MPI installation", "MPI_Comm_split of group leaders failed");
    return TB_OK;
}

void tb_groups_free(tb_groups *g) {
    if (g->group != MPI_COMM_NULL) MPI_Comm_free(&g->group);
    if (g->leaders != MPI_COMM_NULL) MPI_Comm_free(&g->leaders);
}

int tb_shard_rows(int B, int rank, int size, int *first, int *count) {
    if (B % size != 0)
        return TB_ERROR(TB_ERR_ARG, "make the batch size a multiple of the ranks per point",
                        "a batch of %d rows cannot be shared evenly by %d ranks", B, size);
    *count = B / size;
    *first = rank * *count;
    return TB_OK;
}
