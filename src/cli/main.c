/* main.c: `trustbench <command> [options]`: dispatches to the subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "sys/sys.h"

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *summary;
} commands[] = {
    {"run", cmd_run, "run a sweep spec over MPI ranks into a collective HDF5 results file"},
    {"merge", cmd_merge, "combine the results files of a sliced sweep (job arrays) into one"},
    {"topo", cmd_topo, "the machine, and each MPI rank's binding and threads"},
    {"pretrain", cmd_pretrain, "train a model from scratch on a corpus (default: the embedded one)"},
    {"sample", cmd_sample, "generate text from a checkpoint"},
    {"eval", cmd_eval, "loss and perplexity of a checkpoint on a corpus"},
    {"info", cmd_info, "describe a checkpoint"},
};
#define N_COMMANDS (int)(sizeof commands / sizeof commands[0])

static void usage(FILE *f) {
    fprintf(f, "usage: trustbench <command> [options]\n\ncommands:\n");
    for (int i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n`trustbench <command> --help` describes a command's options.\n");
}

int main(int argc, char **argv) {
    tb_sys_prefer_passive_openmp(argv);
    /* under mpirun or srun stdout is a pipe: line buffering keeps progress lines timely and whole */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("trustbench %s (commit %s)\n", TB_VERSION, tb_git_commit());
        return 0;
    }
    for (int i = 0; i < N_COMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0) {
            int rc = commands[i].run(argc - 2, argv + 2);
            if (rc == TB_OK || rc == CLI_HELP_SHOWN) return 0;
            if (rc <= CLI_EXIT(0)) return -(rc + 100);
            if (rc != CLI_REPORTED) tb_error_report(stderr);
            return 1;
        }
    fprintf(stderr, "error: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
