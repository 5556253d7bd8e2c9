/* threads.c: how many BLAS and OpenMP threads each rank runs, from the topology and the ranks that
 * share its cores. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <hwloc.h>
#include <omp.h>

#include "sys/sys.h"

/* A thread count from the environment: 0 when unset or empty, else a positive integer. */
static int parse_thread_env(int *out, const char *name, const char *value) {
    *out = 0;
    if (value == NULL || value[0] == '\0') return TB_OK;
    char *end = NULL;
    errno = 0;
    long v = strtol(value, &end, 10);
    /* a ',' ends the first entry of OMP_NUM_THREADS's per-nesting-level list */
    if (errno || end == value || (*end != '\0' && *end != ',') || v < 1 || v > INT_MAX)
        return TB_ERROR(TB_ERR_ARG, "set it to a positive integer, or unset it to let trustbench choose from the cores",
                        "%s='%s' is not a thread count", name, value);
    *out = (int)v;
    return TB_OK;
}

int tb_thread_plan_make(tb_thread_plan *plan, int cores, int cores_owned, int ranks_on_node, int ranks_sharing,
                        const char *env_openblas, const char *env_omp) {
    TB_ASSERT(cores >= 1 && cores_owned >= 0 && cores_owned <= cores);
    TB_ASSERT(ranks_on_node >= 1 && ranks_sharing >= 1 && ranks_sharing <= ranks_on_node);
    int user_blas, user_omp;
    TB_CHECK(parse_thread_env(&user_blas, "OPENBLAS_NUM_THREADS", env_openblas));
    TB_CHECK(parse_thread_env(&user_omp, "OMP_NUM_THREADS", env_omp));
    memset(plan, 0, sizeof *plan);
    plan->cores = cores;
    plan->cores_owned = cores_owned;
    plan->ranks_on_node = ranks_on_node;
    plan->ranks_sharing = ranks_sharing;
    plan->computed = cores_owned / ranks_sharing > 1 ? cores_owned / ranks_sharing : 1;
    plan->blas_threads = user_blas ? user_blas : user_omp ? user_omp : plan->computed;
    plan->omp_threads = user_omp ? user_omp : user_blas ? user_blas : plan->computed;
    plan->from_env = user_blas || user_omp;
    plan->oversubscribed = ranks_on_node > cores;
    return TB_OK;
}

void tb_thread_plan_apply(const tb_thread_plan *plan) {
    openblas_set_num_threads(plan->blas_threads);
    omp_set_num_threads(plan->omp_threads);
}

void tb_sys_oversubscription_warning(char *buf, size_t cap, int ranks_on_node, int cores) {
    snprintf(buf, cap,
             "%d ranks share the %d cores of a node: they time-share the cores, so step times do not measure "
             "the hardware. Launch at most %d ranks per node (mpirun --map-by ppr:%d:node, srun "
             "--ntasks-per-node=%d).",
             ranks_on_node, cores, cores, cores, cores);
}

/* The ranks of comm that share this rank's node (shared memory), in comm's order. */
static int split_node(MPI_Comm comm, MPI_Comm *node) {
    if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, node) != MPI_SUCCESS)
        return TB_ERROR(TB_ERR_MPI, "check the MPI launch (mpirun or srun --mpi=pmix)",
                        "MPI_Comm_split_type(MPI_COMM_TYPE_SHARED) failed");
    return TB_OK;
}

int tb_sys_ranks_on_node(MPI_Comm comm, int *ranks_on_node) {
    MPI_Comm node;
    TB_CHECK(split_node(comm, &node));
    MPI_Comm_size(node, ranks_on_node);
    MPI_Comm_free(&node);
    return TB_OK;
}

/* How many of the n bindings (list syntax, TB_CPUSET_CAP apart) share a PU with mine. */
static int count_overlapping(const char *mine, const char *all, int n) {
    hwloc_bitmap_t a = hwloc_bitmap_alloc(), b = hwloc_bitmap_alloc();
    TB_ASSERT(a != NULL && b != NULL);
    /* the strings come from hwloc_bitmap_list_snprintf, so a parse failure is a broken invariant */
    int parsed = hwloc_bitmap_list_sscanf(a, mine);
    TB_ASSERT(parsed == 0);
    int count = 0;
    for (int i = 0; i < n; i++) {
        parsed = hwloc_bitmap_list_sscanf(b, all + (size_t)i * TB_CPUSET_CAP);
        TB_ASSERT(parsed == 0);
        if (hwloc_bitmap_intersects(a, b)) count++;
    }
    hwloc_bitmap_free(a);
    hwloc_bitmap_free(b);
    return count;
}

int tb_sys_ranks_sharing(MPI_Comm comm, const tb_topology *t, int *ranks_sharing) {
    MPI_Comm node;
    TB_CHECK(split_node(comm, &node));
    int n;
    MPI_Comm_size(node, &n);
    char *all = tb_malloc((size_t)n * TB_CPUSET_CAP);
    int mrc = MPI_Allgather(t->binding, TB_CPUSET_CAP, MPI_CHAR, all, TB_CPUSET_CAP, MPI_CHAR, node);
    MPI_Comm_free(&node);
    if (mrc == MPI_SUCCESS) *ranks_sharing = count_overlapping(t->binding, all, n);
    tb_free(all);
    if (mrc != MPI_SUCCESS)
        return TB_ERROR(TB_ERR_MPI, "a rank on this node may have failed", "all-gather of CPU bindings failed");
    return TB_OK;
}

int tb_sys_threads_setup(MPI_Comm comm, const tb_topology *t, tb_thread_plan *plan) {
    int on_node, sharing;
    TB_CHECK(tb_sys_ranks_on_node(comm, &on_node));
    TB_CHECK(tb_sys_ranks_sharing(comm, t, &sharing));
    TB_CHECK(tb_thread_plan_make(plan, t->n_cores, t->cores_owned, on_node, sharing, getenv("OPENBLAS_NUM_THREADS"),
                                 getenv("OMP_NUM_THREADS")));
    tb_thread_plan_apply(plan);
    return TB_OK;
}

const char *tb_sys_blas_config(void) { return openblas_get_config(); }

int tb_sys_gather_placement(tb_rank_placement *rows, MPI_Comm comm, int root, const tb_topology *t,
                            const tb_thread_plan *plan) {
    tb_rank_placement mine;
    memset(&mine, 0, sizeof mine);
    memcpy(mine.hostname, t->hostname, sizeof mine.hostname);
    memcpy(mine.binding, t->binding, sizeof mine.binding);
    mine.cores = t->n_cores;
    mine.bound = t->bound;
    mine.cores_owned = t->cores_owned;
    mine.ranks_on_node = plan->ranks_on_node;
    mine.ranks_sharing = plan->ranks_sharing;
    mine.blas_threads = openblas_get_num_threads();
    mine.omp_threads = omp_get_max_threads();
    mine.oversubscribed = plan->oversubscribed;
    /* as bytes: the ranks of one job run the same binary on the same architecture */
    if (MPI_Gather(&mine, (int)sizeof mine, MPI_BYTE, rows, (int)sizeof mine, MPI_BYTE, root, comm) != MPI_SUCCESS)
        return TB_ERROR(TB_ERR_MPI, "a rank may have failed", "gathering the ranks' placements failed");
    return TB_OK;
}
