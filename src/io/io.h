/*
 * io.h: the public face of src/io: model checkpoints in HDF5 (and, later, results files and
 * safetensors).
 *
 * A checkpoint holds the config, the tokenizer's merges, every parameter by name (base and
 * adapter), the step, the RNG state and optionally the optimizer's moments. It is written to
 * "<path>.tmp", closed, then renamed, and carries a `complete` attribute written last, so a
 * half-written file is never mistaken for a checkpoint. Loading validates names and shapes
 * against the stored config and names the offending dataset on mismatch.
 */
#ifndef TB_IO_H
#define TB_IO_H

#include <stdio.h>

#include "core/core.h"
#include "data/data.h"
#include "model/model.h"

typedef struct {
    long step;       /* optimizer steps taken */
    tb_rng rng;      /* the training loop's data/sampling stream, to resume bit-identically */
    /* optimizer moments for the ParamSet being trained (NULL when not saved / not present);
     * opt_numel must equal that ParamSet's numel. On load they are allocated with tb_malloc. */
    float *opt_m, *opt_v;
    size_t opt_numel;
    int opt_on_adapter; /* 1: the moments belong to the adapter ParamSet, 0: the base one */
} tb_ckpt_state;

/* Writes m (config, base + adapter parameters), tok (may be NULL) and st (may be NULL). */
int tb_checkpoint_save(const char *path, const tb_model *m, const tb_tokenizer *tok, const tb_ckpt_state *st);
/* Creates *m from the file (config, adapters, parameters); fills tok if non-NULL (error if the
 * file has none), and st if non-NULL (opt_m/opt_v NULL when the file has no optimizer state). */
int tb_checkpoint_load(const char *path, tb_model *m, tb_tokenizer *tok, tb_ckpt_state *st);
/* Prints a human summary (config, tensors, parameter count, step, optimizer state). */
int tb_checkpoint_info(const char *path, FILE *out);

#endif
