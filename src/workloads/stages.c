/*
 * stages.c: the shared stages more than one workload runs: building a model from the spec's model
 * keys, pretraining a base model (tokenizer + causal LM on a corpus), data-parallel fine-tuning on
 * token windows, and running a stage once per distinct configuration with its output cached.
 */
#include <string.h>

#include "workloads.h"

int tb_stage_model_config(const tb_spec *s, int p, int vocab, tb_config *c) {
    tb_family fam;
    TB_CHECK(tb_family_parse(tb_spec_string(s, p, "model.family"), &fam));
    tb_config_defaults(c, fam, (int)tb_spec_int(s, p, "model.layers"), (int)tb_spec_int(s, p, "model.width"),
                       (int)tb_spec_int(s, p, "model.heads"), vocab, (int)tb_spec_int(s, p, "data.seq_len"));
    long kv = tb_spec_int(s, p, "model.kv_heads");
    if (kv > 0) c->n_kv_head = (int)kv;
    return tb_config_validate(c);
}

int tb_train_steps(tb_trainer *tr, long first, long last, tb_progress *prog, float *loss) {
    for (long step = first; step < last; step++) {
        double l;
        float gn;
        TB_CHECK(tb_train_step(tr, step, &l, &gn));
        if (loss) loss[step] = (float)l;
        char extra[64];
        snprintf(extra, sizeof extra, "loss %.4f", l);
        tb_progress_update(prog, step + 1, extra);
    }
    return TB_OK;
}

int tb_finetune_run(MPI_Comm comm, tb_model *m, const tb_token_windows *w, const tb_finetune *f, const char *label,
                    int verbose) {
    int rank, size, first, rows;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    TB_CHECK(tb_shard_rows(f->batch, rank, size, &first, &rows));
    tb_dp dp;
    tb_optimizer opt;
    tb_window_sampler smp;
    tb_objective sft = tb_objective_sft();
    TB_CHECK(tb_dp_init(&dp, TB_DP_ALLREDUCE, comm, m, &m->params, 4u << 20));
    tb_optimizer_init(&opt, TB_OPT_ADAMW, &m->params);
    opt.weight_decay = f->weight_decay;
    tb_sampler_init(&smp, w, f->batch, 1, f->seed);
    tb_sampler_shard(&smp, first, rows);
    tb_trainer tr = {.model = m, .trainable = &m->params, .opt = &opt, .objective = &sft, .B = rows, .T = w->T,
                     .accum = 1, .clip = f->clip, .next_batch = tb_sampler_batch, .batch_ctx = &smp, .dp = &dp,
                     .sched = {.kind = TB_SCHED_COSINE, .lr = f->lr, .min_lr = f->min_lr, .warmup = f->warmup,
                               .total = f->steps}};
    tb_progress prog;
    tb_progress_start(&prog, label, f->steps, verbose && rank == 0);
    int rc = tb_train_steps(&tr, 0, f->steps, &prog, NULL);
    tb_sampler_free(&smp);
    tb_optimizer_free(&opt);
    tb_dp_free(&dp, m);
    return rc;
}

int tb_stage_pretrain(tb_run_ctx *ctx, int p, const char *tok_text, size_t tok_len, const char *text, size_t len,
                      tb_stage_windows_fn more, const char *path) {
    const tb_spec *s = ctx->spec;
    tb_tokenizer tok;
    /* every rank trains the same tokenizer: deterministic, milliseconds, no broadcast needed */
    TB_CHECK(tb_tokenizer_train(&tok, tok_text, tok_len, (int)tb_spec_int(s, p, "data.vocab")));
    tb_config c;
    tb_model m;
    int rc = tb_stage_model_config(s, p, tok.vocab_size, &c);
    if (rc == TB_OK) rc = tb_model_create(&m, &c);
    if (rc != TB_OK) {
        tb_tokenizer_free(&tok);
        return rc;
    }
    uint64_t seed = (uint64_t)tb_spec_int(s, p, "data.seed");
    tb_model_init(&m, seed);
    long steps = tb_spec_int(s, p, "base.steps");
    if (steps > 0) {
        tb_token_windows train;
        rc = tb_corpus_windows(&tok, text, len, (int)tb_spec_int(s, p, "data.seq_len"),
                               (float)tb_spec_float(s, p, "data.val_fraction"), &train, NULL);
        if (rc == TB_OK && more) rc = more(ctx, p, &tok, &train);
        float lr = (float)tb_spec_float(s, p, "base.lr");
        tb_finetune f = {.steps = steps, .batch = (int)tb_spec_int(s, p, "base.batch"), .lr = lr, .min_lr = lr / 10,
                         .weight_decay = 0.1f, .clip = 1.0f, .warmup = steps / 10 + 1, .seed = seed};
        if (rc == TB_OK) rc = tb_finetune_run(ctx->groups->world, &m, &train, &f, "shared stage: base model step", !ctx->quiet);
        tb_windows_free(&train);
    }
    if (rc == TB_OK && ctx->groups->world_rank == 0) rc = tb_checkpoint_save(path, &m, &tok, NULL);
    tb_model_free(&m);
    tb_tokenizer_free(&tok);
    return rc;
}

int tb_stage_once(tb_run_ctx *ctx, const char *stage, uint64_t (*hash)(const tb_spec *s, int p),
                  int (*build)(tb_run_ctx *ctx, int p, const char *path)) {
    const tb_spec *s = ctx->spec;
    for (int i = 0; i < ctx->n_points; i++) {
        int p = ctx->points[i];
        uint64_t h = hash(s, p);
        int seen = 0;
        for (int j = 0; j < i && !seen; j++) seen = hash(s, ctx->points[j]) == h;
        if (seen) continue;
        char path[4096];
        tb_stage_path(path, sizeof path, ctx->cache_dir, stage, h);
        int cached = tb_file_exists(path);
        MPI_Bcast(&cached, 1, MPI_INT, 0, ctx->groups->world); /* rank 0's view decides for all */
        if (cached) {
            if (!ctx->quiet) tb_info("shared stage: %s from cache %s", stage, path);
            continue;
        }
        int rc = build(ctx, p, path);
        /* every rank must learn whether rank 0 managed to write the file */
        MPI_Bcast(&rc, 1, MPI_INT, 0, ctx->groups->world);
        TB_CHECK(rc);
        if (!ctx->quiet) tb_info("shared stage: %s written to %s", stage, path);
    }
    return TB_OK;
}
