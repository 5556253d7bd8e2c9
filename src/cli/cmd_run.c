/* cmd_run.c: `trustbench run SPEC -o FILE`: a sweep over MPI ranks (see src/workloads/sweep.c).
 * Exit status: 0 when the sweep finished, TB_EXIT_REQUEUE (75) when a stop signal ended it early
 * with its points checkpointed (run the same command again to continue), 1 on an error. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "io/io.h"
#include "sys/sys.h"
#include "workloads/workloads.h"

/* Every rank's error message to rank 0, which prints each distinct one once with its ranks. */
static void report_errors(int rc, int rank, int size) {
    char mine[1024] = "";
    if (rc != TB_OK) {
        FILE *f = fmemopen(mine, sizeof mine - 1, "w");
        if (f) {
            tb_error_report(f);
            fclose(f);
        }
    }
    char *all = rank == 0 ? tb_malloc((size_t)size * sizeof mine) : NULL;
    MPI_Gather(mine, sizeof mine, MPI_CHAR, all, sizeof mine, MPI_CHAR, 0, MPI_COMM_WORLD);
    if (rank != 0) return;
    for (int r = 0; r < size; r++) {
        const char *m = all + (size_t)r * sizeof mine;
        int first = m[0] != '\0';
        for (int q = 0; q < r && first; q++) first = strcmp(m, all + (size_t)q * sizeof mine) != 0;
        if (!first) continue;
        if (size > 1) fprintf(stderr, "[rank %d] ", r);
        fputs(m, stderr);
    }
    tb_free(all);
}

int cmd_run(int argc, char **argv) {
    tb_sweep_options o = {.out = NULL, .cache_dir = "results/cache", .slice = NULL, .ranks_per_point = 0};
    const char *level = "info";
    const cli_option opts[] = {
        {"out", OPT_STRING, &o.out, "results file (HDF5), also -o; required unless --dry-run"},
        {"ranks-per-point", OPT_INT, &o.ranks_per_point, "ranks per group (0 = the spec's, else all busy)"},
        {"cache", OPT_STRING, &o.cache_dir, "directory of cached shared stages"},
        {"slice", OPT_STRING, &o.slice, "i/N: run only the i-th of N slices of the points, and build only their shared stages (job arrays)"},
        {"restart", OPT_FLAG, &o.restart, "start the results file again if it holds another spec"},
        {"dry-run", OPT_FLAG, &o.dry_run, "print the expanded points and exit"},
        {"quiet", OPT_FLAG, &o.quiet, "no progress output"},
        {"log-level", OPT_STRING, &level, "error, warn, info or debug"},
    };
    cli_command cmd = {"run",
                       "Runs every point of a sweep spec over the MPI ranks, groups of ranks per point, and writes\n"
                       "their metrics collectively into one HDF5 file. Running it again resumes; exit status 75\n"
                       "means a stop signal ended it early and it should be run again (Slurm: requeue).",
                       "mpirun -n N trustbench run SPEC -o RESULTS.h5 [options]", opts,
                       (int)(sizeof opts / sizeof opts[0])};
    /* `-o FILE` is the one short option: rewrite it for the long-option parser */
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "-o") == 0) argv[i] = "--out";
    const char *pos[1];
    int n_pos;
    int rc = cli_parse(&cmd, argc, argv, pos, 1, &n_pos);
    if (rc != TB_OK) return rc;
    if (n_pos != 1) return TB_ERROR(TB_ERR_ARG, cmd.usage, "run: name one spec file");
    if (!o.out && !o.dry_run) return TB_ERROR(TB_ERR_ARG, "name the results file: -o results/NAME.h5", "run: -o is required");
    tb_log_level lv;
    TB_CHECK(tb_log_parse_level(level, &lv));
    o.spec_path = pos[0];

    /* before MPI_Init, which can take seconds on a loaded node: a stop signal (Slurm's warning, passed
     * on by run.sbatch) that arrives meanwhile must set the flag, not end the process */
    rc = tb_sys_signals_install();
    MPI_Init(&argc, &argv);
    int rank, size, status = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    tb_log_init(rank, o.quiet ? TB_LOG_WARN : lv);
    /* srun without PMIx support starts N singletons of size 1. Under mpirun (which sets
     * OMPI_COMM_WORLD_SIZE) the Slurm variables describe mpirun's daemons, not the ranks. */
    const char *ntasks = getenv("SLURM_STEP_NUM_TASKS");
    if (rc == TB_OK && ntasks && !getenv("OMPI_COMM_WORLD_SIZE") && atoi(ntasks) != size)
        rc = TB_ERROR(TB_ERR_MPI, "launch with `srun --mpi=pmix` or mpirun inside the allocation (see slurm/README.md)",
                      "MPI sees %d ranks but Slurm started %s tasks", size, ntasks);
    if (rc == TB_OK) rc = tb_sweep_run(&o, &status);
    report_errors(rc, rank, size);
    if (rc == TB_OK && rank == 0 && !o.dry_run && status == 0) {
        printf("\n");
        rc = tb_results_print_table(o.out, stdout);
        if (rc != TB_OK) tb_error_report(stderr);
    }
    MPI_Finalize();
    if (rc != TB_OK) return CLI_REPORTED;
    return status ? CLI_EXIT(status) : TB_OK;
}
