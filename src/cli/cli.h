/*
 * cli.h: the `trustbench` command line: subcommands and a small table-driven option parser that
 * gives every subcommand the same --help, error messages and value checking.
 */
#ifndef TB_CLI_H
#define TB_CLI_H

#include "core/core.h"

typedef enum { OPT_INT, OPT_LONG, OPT_FLOAT, OPT_STRING, OPT_FLAG } opt_type;

typedef struct {
    const char *name; /* without the leading dashes */
    opt_type type;
    void *value;      /* int*, long*, float*, const char**, int* (flag) */
    const char *help; /* one line; the default is printed from *value */
} cli_option;

typedef struct {
    const char *name;
    const char *summary;
    const char *usage;    /* e.g. "trustbench sample CHECKPOINT [options]" */
    const cli_option *options;
    int n_options;
} cli_command;

/* Parses argv (after the subcommand name). Positional arguments are returned in pos (up to
 * max_pos). Returns TB_OK, TB_ERR_ARG on a bad option (message names it), or CLI_HELP_SHOWN. */
#define CLI_HELP_SHOWN (-1)
/* A subcommand that already reported its error (exit 1), or that asks for a given exit status. */
#define CLI_REPORTED (-2)
#define CLI_EXIT(status) (-100 - (status))
int cli_parse(const cli_command *cmd, int argc, char **argv, const char **pos, int max_pos, int *n_pos);
void cli_print_help(const cli_command *cmd);
/* Sets the BLAS and OpenMP thread counts (0 = leave the environment's choice). */
void cli_set_threads(int threads);

int cmd_pretrain(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_topo(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_merge(int argc, char **argv);

#endif
