/* options.c: the table-driven option parser shared by every subcommand. */
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void openblas_set_num_threads(int num_threads); /* OpenBLAS's own control, not in cblas.h */

static const cli_option *find_option(const cli_command *cmd, const char *name) {
    for (int i = 0; i < cmd->n_options; i++)
        if (strcmp(cmd->options[i].name, name) == 0) return &cmd->options[i];
    return NULL;
}

static int parse_value(const cli_command *cmd, const cli_option *o, const char *s) {
    char *end = NULL;
    errno = 0;
    switch (o->type) {
    case OPT_INT: {
        long v = strtol(s, &end, 10);
        if (errno || *end || end == s || v < -2147483647L || v > 2147483647L) break;
        *(int *)o->value = (int)v;
        return TB_OK;
    }
    case OPT_LONG: {
        long v = strtol(s, &end, 10);
        if (errno || *end || end == s) break;
        *(long *)o->value = v;
        return TB_OK;
    }
    case OPT_FLOAT: {
        float v = strtof(s, &end);
        if (errno || *end || end == s) break;
        *(float *)o->value = v;
        return TB_OK;
    }
    case OPT_STRING: *(const char **)o->value = s; return TB_OK;
    case OPT_FLAG: break;
    }
    static const char *kinds[] = {"an integer", "an integer", "a number", "a string", ""};
    return TB_ERROR(TB_ERR_ARG, "see `trustbench <command> --help` for the options", "%s: --%s expects %s, got '%s'",
                    cmd->name, o->name, kinds[o->type], s);
}

int cli_parse(const cli_command *cmd, int argc, char **argv, const char **pos, int max_pos, int *n_pos) {
    *n_pos = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            cli_print_help(cmd);
            return CLI_HELP_SHOWN;
        }
        if (strncmp(a, "--", 2) != 0) {
            if (*n_pos >= max_pos)
                return TB_ERROR(TB_ERR_ARG, cmd->usage, "%s: unexpected argument '%s'", cmd->name, a);
            pos[(*n_pos)++] = a;
            continue;
        }
        char name[64];
        const char *eq = strchr(a + 2, '=');
        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        snprintf(name, sizeof name, "%.*s", (int)len, a + 2);
        const cli_option *o = find_option(cmd, name);
        if (!o)
            return TB_ERROR(TB_ERR_ARG, "see the options with --help", "%s: unknown option --%s", cmd->name, name);
        if (o->type == OPT_FLAG) {
            *(int *)o->value = 1;
            continue;
        }
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val) return TB_ERROR(TB_ERR_ARG, "give the option a value", "%s: --%s needs a value", cmd->name, name);
        TB_CHECK(parse_value(cmd, o, val));
    }
    return TB_OK;
}

void cli_print_help(const cli_command *cmd) {
    printf("usage: %s\n\n%s\n\noptions:\n", cmd->usage, cmd->summary);
    for (int i = 0; i < cmd->n_options; i++) {
        const cli_option *o = &cmd->options[i];
        char def[64] = "";
        switch (o->type) {
        case OPT_INT: snprintf(def, sizeof def, " (default %d)", *(int *)o->value); break;
        case OPT_LONG: snprintf(def, sizeof def, " (default %ld)", *(long *)o->value); break;
        case OPT_FLOAT: snprintf(def, sizeof def, " (default %g)", (double)*(float *)o->value); break;
        case OPT_STRING:
            if (*(const char **)o->value) snprintf(def, sizeof def, " (default %s)", *(const char **)o->value);
            break;
        case OPT_FLAG: break;
        }
        char flag[48];
        snprintf(flag, sizeof flag, "--%s%s", o->name, o->type == OPT_FLAG ? "" : " X");
        printf("  %-22s %s%s\n", flag, o->help, def);
    }
    printf("  %-22s %s\n", "-h, --help", "show this help");
}

void cli_set_threads(int threads) {
    if (threads <= 0) return;
    openblas_set_num_threads(threads);
    omp_set_num_threads(threads);
}
