/* cmd_pretrain.c: `trustbench pretrain`: trains a model from scratch on a corpus, with periodic
 * evaluation and checkpoints, and resumes bit-identically from a checkpoint. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "data/data.h"
#include "io/io.h"
#include "model/model.h"
#include "train/train.h"

typedef struct {
    const char *family, *corpus, *out, *resume, *schedule, *optimizer, *log_path;
    int layers, width, heads, kv_heads, vocab, seq_len, batch, accum, threads, quiet;
    long steps, stop_at, warmup, eval_every, save_every, seed;
    float lr, min_lr, weight_decay, clip, val_fraction;
} pretrain_opts;

static int build_model(tb_model *m, tb_tokenizer *tok, const pretrain_opts *o, const char *text, size_t len) {
    tb_family fam;
    TB_CHECK(tb_family_parse(o->family, &fam));
    double t0 = tb_now();
    TB_CHECK(tb_tokenizer_train(tok, text, len, o->vocab));
    if (!o->quiet) tb_info("tokenizer: %d tokens trained in %.1f s", tok->vocab_size, tb_now() - t0);
    tb_config cfg;
    tb_config_defaults(&cfg, fam, o->layers, o->width, o->heads, tok->vocab_size, o->seq_len);
    cfg.n_kv_head = o->kv_heads > 0 ? o->kv_heads : o->heads;
    TB_CHECK(tb_model_create(m, &cfg));
    tb_model_init(m, (uint64_t)o->seed);
    return TB_OK;
}

static int open_log(FILE **f, const char *path, int append) {
    *f = NULL;
    if (!path) return TB_OK;
    *f = fopen(path, append ? "a" : "w");
    if (!*f) return TB_ERROR(TB_ERR_IO, "check that the directory exists and is writable", "cannot write --log '%s'", path);
    return TB_OK;
}

static int save(const char *path, tb_model *m, const tb_tokenizer *tok, const tb_optimizer *opt, long step,
                uint64_t seed) {
    tb_ckpt_state st = {.step = step, .rng = tb_rng_make(seed, tb_rng_stream_id("train")), .opt_m = opt->m,
                        .opt_v = opt->v, .opt_numel = opt->numel, .opt_owner = TB_CKPT_BASE};
    return tb_checkpoint_save(path, m, tok, &st);
}

static int run(pretrain_opts *o) {
    if (!o->out) return TB_ERROR(TB_ERR_ARG, "name the checkpoint to write: --out model.h5", "pretrain: --out is required");
    if (o->batch < 1 || o->accum < 1 || o->seq_len < 2 || o->steps < 1)
        return TB_ERROR(TB_ERR_ARG, "--batch, --accum >= 1, --seq-len >= 2, --steps >= 1",
                        "pretrain: invalid sizes (batch %d, accum %d, seq-len %d, steps %ld)", o->batch, o->accum,
                        o->seq_len, o->steps);
    if (!(o->val_fraction >= 0.0f && o->val_fraction < 0.5f))
        return TB_ERROR(TB_ERR_ARG, "a typical value is 0.05", "pretrain: --val-fraction %g must be in [0, 0.5)",
                        (double)o->val_fraction);
    cli_set_threads(o->threads);
    char *text;
    size_t len;
    TB_CHECK(tb_corpus_load(o->corpus, (uint64_t)o->seed, &text, &len));

    tb_model m;
    tb_tokenizer tok;
    tb_optimizer opt;
    tb_opt_kind kind;
    long start = 0;
    int rc = tb_opt_kind_parse(o->optimizer, &kind);
    if (rc == TB_OK && o->resume) {
        tb_ckpt_state st;
        rc = tb_checkpoint_load(o->resume, &m, &tok, &st);
        if (rc == TB_OK && !st.opt_m)
            rc = TB_ERROR(TB_ERR_FORMAT, "resume from a checkpoint written by pretrain (it stores the optimizer)",
                          "checkpoint '%s' has no optimizer state", o->resume);
        if (rc == TB_OK && m.cfg.max_seq_len != o->seq_len)
            rc = TB_ERROR(TB_ERR_ARG, "resume with the --seq-len the checkpoint was trained with",
                          "--seq-len %d differs from the checkpoint's %d", o->seq_len, m.cfg.max_seq_len);
        if (rc == TB_OK) {
            tb_optimizer_init(&opt, kind, &m.params);
            memcpy(opt.m, st.opt_m, opt.numel * sizeof(float));
            if (opt.v && st.opt_v) memcpy(opt.v, st.opt_v, opt.numel * sizeof(float));
            opt.step = start = st.step;
            tb_free(st.opt_m);
            tb_free(st.opt_v);
            tb_info("resuming from %s at step %ld", o->resume, start);
        }
    } else if (rc == TB_OK) {
        rc = build_model(&m, &tok, o, text, len);
        if (rc == TB_OK) tb_optimizer_init(&opt, kind, &m.params);
    }
    if (rc != TB_OK) {
        tb_free(text);
        TB_CHECK(rc);
    }
    opt.weight_decay = o->weight_decay;

    tb_token_windows train_w, val_w;
    memset(&val_w, 0, sizeof val_w);
    rc = tb_corpus_windows(&tok, text, len, o->seq_len, o->val_fraction, &train_w,
                            o->val_fraction > 0 ? &val_w : NULL);
    tb_free(text);
    TB_CHECK(rc);

    tb_schedule sched = {.lr = o->lr, .min_lr = o->min_lr, .warmup = o->warmup, .total = o->steps};
    TB_CHECK(tb_sched_kind_parse(o->schedule, &sched.kind));
    tb_window_sampler sampler, val_sampler;
    tb_sampler_init(&sampler, &train_w, o->batch, o->accum, (uint64_t)o->seed);
    if (val_w.n_windows) tb_sampler_init(&val_sampler, &val_w, o->batch, 1, (uint64_t)o->seed);
    tb_objective sft = tb_objective_sft();
    tb_trainer tr = {.model = &m, .trainable = &m.params, .opt = &opt, .sched = sched, .objective = &sft,
                     .B = o->batch, .T = o->seq_len, .accum = o->accum, .clip = o->clip,
                     .next_batch = tb_sampler_batch, .batch_ctx = &sampler};
    if (!o->quiet)
        tb_info("model: %s, L=%d C=%d NH=%d NKV=%d V=%d, %zu parameters; %ld train windows, %ld validation windows",
                tb_family_name(m.cfg.family), m.cfg.n_layer, m.cfg.n_embd, m.cfg.n_head, m.cfg.n_kv_head,
                m.cfg.vocab_size, tb_model_num_params(&m, 0), train_w.n_windows, val_w.n_windows);

    FILE *logf;
    rc = open_log(&logf, o->log_path, o->resume != NULL);
    long end = o->stop_at > 0 && o->stop_at < o->steps ? o->stop_at : o->steps;
    tb_progress prog;
    tb_progress_resume(&prog, "pretrain step", start, end, !o->quiet);
    for (long step = start; rc == TB_OK && step < end; step++) {
        double loss;
        float gnorm;
        rc = tb_train_step(&tr, step, &loss, &gnorm);
        if (rc != TB_OK) break;
        if (logf) fprintf(logf, "%ld %.9g %.9g %.9g\n", step, loss, (double)gnorm, (double)tb_schedule_lr(&sched, step));
        char extra[128];
        snprintf(extra, sizeof extra, "loss %.4f  |g| %.3f  lr %.2e", loss, (double)gnorm,
                 (double)tb_schedule_lr(&sched, step));
        tb_progress_update(&prog, step + 1, extra);
        int last = step + 1 == end;
        if (val_w.n_windows && o->eval_every > 0 && ((step + 1) % o->eval_every == 0 || last)) {
            double vl;
            long nb = (val_w.n_windows + o->batch - 1) / o->batch;
            rc = tb_eval_loss(&m, tb_sampler_eval_batch, &val_sampler, nb, o->batch, o->seq_len, NULL, &vl);
            if (rc == TB_OK && !o->quiet) tb_info("step %ld: validation loss %.4f, perplexity %.2f", step + 1, vl, exp(vl));
        }
        if (rc == TB_OK && (last || (o->save_every > 0 && (step + 1) % o->save_every == 0)))
            rc = save(o->out, &m, &tok, &opt, step + 1, (uint64_t)o->seed);
    }
    if (rc == TB_OK && !o->quiet) tb_info("wrote %s (step %ld)", o->out, end);
    if (logf) fclose(logf);
    tb_sampler_free(&sampler);
    if (val_w.n_windows) tb_sampler_free(&val_sampler);
    tb_windows_free(&train_w);
    tb_windows_free(&val_w);
    tb_optimizer_free(&opt);
    tb_tokenizer_free(&tok);
    tb_model_free(&m);
    TB_CHECK(rc);
    return TB_OK;
}

int cmd_pretrain(int argc, char **argv) {
    pretrain_opts o = {.family = "gpt2", .corpus = NULL, .out = NULL, .resume = NULL, .schedule = "cosine",
                       .optimizer = "adamw", .log_path = NULL, .layers = 4, .width = 128, .heads = 4, .kv_heads = 0,
                       .vocab = 1024, .seq_len = 64, .batch = 16, .accum = 1, .threads = 0, .quiet = 0,
                       .steps = 300, .stop_at = 0, .warmup = 20, .eval_every = 100, .save_every = 0, .seed = 1234,
                       .lr = 3e-3f, .min_lr = 3e-4f, .weight_decay = 0.1f, .clip = 1.0f, .val_fraction = 0.05f};
    const cli_option opts[] = {
        {"out", OPT_STRING, &o.out, "checkpoint to write (HDF5); required"},
        {"corpus", OPT_STRING, &o.corpus, "training text file (default: the embedded world-knowledge corpus)"},
        {"family", OPT_STRING, &o.family, "model family: gpt2 or llama"},
        {"layers", OPT_INT, &o.layers, "transformer blocks L"},
        {"width", OPT_INT, &o.width, "model width C"},
        {"heads", OPT_INT, &o.heads, "attention heads NH"},
        {"kv-heads", OPT_INT, &o.kv_heads, "key/value heads (llama grouped-query attention; 0 = heads)"},
        {"vocab", OPT_INT, &o.vocab, "BPE vocabulary size to train"},
        {"seq-len", OPT_INT, &o.seq_len, "sequence length T (also the model's max_seq_len)"},
        {"batch", OPT_INT, &o.batch, "sequences per micro-batch B"},
        {"accum", OPT_INT, &o.accum, "micro-batches per optimizer step"},
        {"steps", OPT_LONG, &o.steps, "optimizer steps in total (the schedule's length)"},
        {"stop-at", OPT_LONG, &o.stop_at, "stop (and save) after this step, to continue later with --resume"},
        {"optimizer", OPT_STRING, &o.optimizer, "adamw or sgd"},
        {"lr", OPT_FLOAT, &o.lr, "peak learning rate"},
        {"min-lr", OPT_FLOAT, &o.min_lr, "final learning rate of linear/cosine decay"},
        {"schedule", OPT_STRING, &o.schedule, "constant, linear or cosine (after warmup)"},
        {"warmup", OPT_LONG, &o.warmup, "linear warmup steps"},
        {"weight-decay", OPT_FLOAT, &o.weight_decay, "decoupled weight decay on 2-D weights"},
        {"clip", OPT_FLOAT, &o.clip, "global gradient-norm clip (0 = off)"},
        {"val-fraction", OPT_FLOAT, &o.val_fraction, "tail of the corpus held out for validation"},
        {"eval-every", OPT_LONG, &o.eval_every, "validation loss every N steps (0 = only at the end if any)"},
        {"save-every", OPT_LONG, &o.save_every, "checkpoint every N steps (0 = only at the end)"},
        {"resume", OPT_STRING, &o.resume, "continue from this checkpoint (same options as the first run)"},
        {"seed", OPT_LONG, &o.seed, "seed of the corpus, initialisation and data order"},
        {"log", OPT_STRING, &o.log_path, "append 'step loss grad_norm lr' lines to this file"},
        {"threads", OPT_INT, &o.threads, "BLAS and OpenMP threads (0 = environment default)"},
        {"quiet", OPT_FLAG, &o.quiet, "no progress output"},
    };
    cli_command cmd = {"pretrain", "Trains a model from scratch with the SFT (next-token) objective.",
                       "trustbench pretrain --out CHECKPOINT [options]", opts, (int)(sizeof opts / sizeof opts[0])};
    const char *pos[1];
    int n_pos;
    int rc = cli_parse(&cmd, argc, argv, pos, 0, &n_pos);
    if (rc != TB_OK) return rc;
    return run(&o);
}
