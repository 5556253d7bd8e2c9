/* cmd_merge.c: `trustbench merge OUT IN...`: combines the slice files of one sweep (job arrays run
 * `trustbench run --slice i/N`) into one results file. */
#include "cli.h"
#include "io/io.h"

int cmd_merge(int argc, char **argv) {
    cli_command cmd = {"merge", "Combines results files of slices of one sweep into one file; a point finished in\n"
                                "two slices, or slices of different specs, are errors.",
                       "trustbench merge OUT.h5 SLICE.h5 [SLICE.h5 ...]", NULL, 0};
    const char *pos[1024];
    int n_pos;
    int rc = cli_parse(&cmd, argc, argv, pos, 1024, &n_pos);
    if (rc != TB_OK) return rc;
    if (n_pos < 2) return TB_ERROR(TB_ERR_ARG, cmd.usage, "merge: name the output and at least one slice");
    TB_CHECK(tb_results_merge(pos[0], pos + 1, n_pos - 1));
    return tb_results_print_table(pos[0], stdout);
}
