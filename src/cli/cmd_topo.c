/* cmd_topo.c: `trustbench topo`: the machine, and where every MPI rank runs with how many threads. */
#include <stdio.h>
#include <string.h>

#include <mpi.h>

#include "cli.h"
#include "sys/sys.h"

/* A step that failed on some ranks fails on all of them, so that no rank waits in a collective
 * the failed ones skip. Returns the local status, or an error saying another rank failed. */
static int agree(MPI_Comm comm, int rc, const char *what) {
    int failed = rc != TB_OK, any_failed = 0;
    MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_LOR, comm);
    if (rc != TB_OK || !any_failed) return rc;
    return TB_ERROR(TB_ERR_MPI, "see the error printed by the failing rank", "topo: %s failed on another rank", what);
}

static void print_ranks(const tb_rank_placement *rows, int n) {
    int wh = (int)strlen("host"), wb = (int)strlen("binding");
    for (int i = 0; i < n; i++) {
        if ((int)strlen(rows[i].hostname) > wh) wh = (int)strlen(rows[i].hostname);
        if ((int)strlen(rows[i].binding) > wb) wb = (int)strlen(rows[i].binding);
    }
    printf("%5s  %-*s  %-*s  %5s  %5s  %11s  %7s  %4s  %6s\n", "rank", wh, "host", wb, "binding", "bound", "cores",
           "cores owned", "sharing", "BLAS", "OpenMP");
    for (int i = 0; i < n; i++) {
        const tb_rank_placement *r = &rows[i];
        printf("%5d  %-*s  %-*s  %5s  %5d  %11d  %7d  %4d  %6d\n", i, wh, r->hostname, wb, r->binding,
               r->bound ? "yes" : "no", r->cores, r->cores_owned, r->ranks_sharing, r->blas_threads, r->omp_threads);
    }
}

static void print_report(const tb_topology *t, const tb_thread_plan *plan, const tb_rank_placement *rows, int n) {
    char mpi_version[MPI_MAX_LIBRARY_VERSION_STRING];
    int len = 0;
    MPI_Get_library_version(mpi_version, &len);
    mpi_version[strcspn(mpi_version, "\n")] = '\0';
    /* every rank of a node counts 1/ranks_on_node of it */
    double nodes = 0.0;
    for (int i = 0; i < n; i++) nodes += 1.0 / rows[i].ranks_on_node;

    printf("node of rank 0\n");
    tb_topology_print(stdout, t, "  ");
    printf("BLAS           %s\n", tb_sys_blas_config());
    printf("MPI            %s\n", mpi_version);
    printf("ranks          %d on %d node(s)\n", n, (int)(nodes + 0.5));
    printf("threads        %s\n", plan->from_env ? "from OPENBLAS_NUM_THREADS / OMP_NUM_THREADS"
                                                 : "cores a rank owns / ranks sharing them");
    printf("\n");
    print_ranks(rows, n);
    fflush(stdout);
    for (int i = 0; i < n; i++)
        if (rows[i].oversubscribed) {
            char text[512];
            tb_sys_oversubscription_warning(text, sizeof text, rows[i].ranks_on_node, rows[i].cores);
            tb_warn("%s", text);
            break; /* once, for the first such node */
        }
}

static int report(MPI_Comm comm) {
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    tb_log_init(rank, TB_LOG_INFO);
    tb_topology t;
    tb_thread_plan plan;
    TB_CHECK(agree(comm, tb_topology_query(&t), "the topology query"));
    TB_CHECK(agree(comm, tb_sys_threads_setup(comm, &t, &plan), "the thread setup"));
    tb_rank_placement *rows = rank == 0 ? tb_malloc((size_t)size * sizeof *rows) : NULL;
    int rc = tb_sys_gather_placement(rows, comm, 0, &t, &plan);
    if (rc == TB_OK && rank == 0) print_report(&t, &plan, rows, size);
    tb_free(rows);
    TB_CHECK(rc);
    return TB_OK;
}

int cmd_topo(int argc, char **argv) {
    cli_command cmd = {"topo",
                       "Prints the machine (hwloc), the BLAS and MPI libraries, and for every MPI rank its host, "
                       "CPU binding and BLAS/OpenMP threads, as `trustbench run` would set them.",
                       "trustbench topo  (or: mpirun -n N trustbench topo)", NULL, 0};
    const char *pos[1];
    int n_pos;
    int rc = cli_parse(&cmd, argc, argv, pos, 0, &n_pos);
    if (rc != TB_OK) return rc;
    /* another command may have started MPI already; only the one who initialises finalises */
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized && MPI_Init(NULL, NULL) != MPI_SUCCESS)
        return TB_ERROR(TB_ERR_MPI, "check the MPI installation (mpirun --version)", "topo: MPI_Init failed");
    rc = report(MPI_COMM_WORLD);
    if (!initialized) MPI_Finalize();
    return rc;
}
