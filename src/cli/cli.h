/*
 * cli.h: the `trustbench` command line: subcommands and a small table-driven option parser that
 * gives every subcommand the same --help, error messages and value checking.
 */
#ifndef TB_CLI_H
#define TB_CLI_H

#include "core/core.h"
#include "data/data.h"

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
int cli_parse(const cli_command *cmd, int argc, char **argv, const char **pos, int max_pos, int *n_pos);
void cli_print_help(const cli_command *cmd);
/* Sets the BLAS and OpenMP thread counts (0 = leave the environment's choice). */
void cli_set_threads(int threads);

/* Reads path, or generates the embedded corpus from seed when path is NULL or "". */
int cli_corpus_load(const char *path, uint64_t seed, char **text, size_t *len);
/* Encodes text and cuts it into windows of T+1 tokens; the last val_fraction of the stream is the
 * validation split (val may be NULL to skip it). */
int cli_corpus_windows(const tb_tokenizer *tok, const char *text, size_t len, int T, float val_fraction,
                       tb_token_windows *train, tb_token_windows *val);

int cmd_pretrain(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_info(int argc, char **argv);

#endif
