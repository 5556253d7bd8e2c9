/* cmd_info.c: `trustbench info`: describes a checkpoint. */
#include <stdio.h>

#include "cli.h"
#include "io/io.h"

int cmd_info(int argc, char **argv) {
    const cli_option *opts = NULL;
    cli_command cmd = {"info", "Prints a checkpoint's config, tensors, step and what state it holds.",
                       "trustbench info CHECKPOINT", opts, 0};
    const char *pos[1];
    int n_pos;
    int rc = cli_parse(&cmd, argc, argv, pos, 1, &n_pos);
    if (rc != TB_OK) return rc;
    if (n_pos != 1) return TB_ERROR(TB_ERR_ARG, cmd.usage, "info: name one checkpoint");
    return tb_checkpoint_info(pos[0], stdout);
}
