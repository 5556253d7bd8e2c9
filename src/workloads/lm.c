/*
 * lm.c: the language-model workload: the runtime's own sweep (and the quick job until the paper
 * workloads land). A shared stage trains the tokenizer and pretrains a base model on the corpus,
 * data-parallel over every rank, once per distinct (data, model, base) configuration, cached. Each
 * point continues training that base with its own hyperparameters and seed, inside its group
 * (all-reduce or ZeRO-1), and reports its training and validation loss.
 */
#include <math.h>
#include <string.h>

#include "workloads.h"

static const tb_spec_field lm_fields[] = {
    {"data.corpus", TB_SPEC_STRING, "", NULL, NULL, 0, "training text file; empty = the embedded world-knowledge corpus"},
    {"data.seed", TB_SPEC_INT, "1234", "[0, inf)", NULL, 0, "seed of the embedded corpus and of the base model"},
    {"data.vocab", TB_SPEC_INT, "512", "[261, 65536]", NULL, 0, "BPE vocabulary size"},
    {"data.seq_len", TB_SPEC_INT, "64", "[2, 65536]", NULL, 0, "tokens per training window"},
    {"data.val_fraction", TB_SPEC_FLOAT, "0.05", "(0, 0.5)", NULL, 0, "tail of the corpus held out for validation"},
    {"model.family", TB_SPEC_STRING, "gpt2", NULL, "gpt2|llama", 1, "model family"},
    {"model.layers", TB_SPEC_INT, "2", "[1, 256]", NULL, 1, "transformer blocks"},
    {"model.width", TB_SPEC_INT, "64", "[2, 65536]", NULL, 1, "model width C"},
    {"model.heads", TB_SPEC_INT, "4", "[1, 1024]", NULL, 1, "attention heads"},
    {"model.kv_heads", TB_SPEC_INT, "0", "[0, 1024]", NULL, 1, "key/value heads for llama (0 = heads)"},
    {"base.steps", TB_SPEC_INT, "0", "[0, inf)", NULL, 0, "shared pretraining steps of the base model (0 = initialised only)"},
    {"base.lr", TB_SPEC_FLOAT, "3e-3", "(0, inf)", NULL, 0, "base pretraining learning rate (cosine, 10% warmup)"},
    {"base.batch", TB_SPEC_INT, "16", "[1, inf)", NULL, 0, "base pretraining global batch (a multiple of the rank count)"},
    {"train.steps", TB_SPEC_INT, "100", "[1, inf)", NULL, 1, "optimizer steps per point"},
    {"train.batch", TB_SPEC_INT, "8", "[1, inf)", NULL, 1, "global batch rows (a multiple of ranks_per_point)"},
    {"train.accum", TB_SPEC_INT, "1", "[1, inf)", NULL, 1, "micro-batches per step"},
    {"train.lr", TB_SPEC_FLOAT, "1e-3", "(0, inf)", NULL, 1, "peak learning rate"},
    {"train.min_lr", TB_SPEC_FLOAT, "0", "[0, inf)", NULL, 1, "final learning rate of linear/cosine decay"},
    {"train.warmup", TB_SPEC_INT, "10", "[0, inf)", NULL, 1, "linear warmup steps"},
    {"train.schedule", TB_SPEC_STRING, "cosine", NULL, "cosine|linear|constant", 1, "learning-rate schedule"},
    {"train.optimizer", TB_SPEC_STRING, "adamw", NULL, "adamw|sgd", 1, "optimizer"},
    {"train.weight_decay", TB_SPEC_FLOAT, "0.1", "[0, inf)", NULL, 1, "decoupled weight decay on 2-D weights"},
    {"train.clip", TB_SPEC_FLOAT, "1.0", "[0, inf)", NULL, 1, "global gradient-norm clip (0 = off)"},
    {"train.diverge", TB_SPEC_FLOAT, "3.0", "[0, inf)", NULL, 0, "a point fails when its loss exceeds this times its first (0 = off)"},
    {"dist.zero", TB_SPEC_INT, "0", "[0, 3]", NULL, 1,
     "0: all-reduce gradients; 1: ZeRO-1 (sharded optimizer state); 3: ZeRO-3 (sharded weights too)"},
};

static const tb_spec_schema lm_schema = {"lm", lm_fields, (int)(sizeof lm_fields / sizeof lm_fields[0])};

static const char *const lm_metrics[] = {"train_loss", "val_loss", "val_perplexity", "state_mib_per_rank"};
static const char *const lm_curves[] = {"loss"};
static const char *const lm_conventions[][2] = {
    {"loss", "mean next-token cross-entropy over scored targets, counted over the whole group"},
    {"train_loss", "mean of the last min(10, steps) step losses"},
    {"divergence_rule", "failed when a step's loss exceeds train.diverge times the first step's"},
    {"adamw_decay", "decoupled, 2-D weights and embeddings only, PyTorch's order"},
    {"gelu", "tanh approximation"},
    {"state_mib_per_rank", "weights, gradients and AdamW moments one rank holds (ZeRO-3: plus the peak of gathered units)"},
    {NULL, NULL},
};

/* ---- shared stage: tokenizer + base model ------------------------------------------------------ */

typedef struct {
    char *text; /* the corpus, read once */
    size_t len;
} lm_shared;

static uint64_t base_hash(const tb_spec *s, int p) {
    static const char *const prefixes[] = {"data.", "model.", "base."};
    return tb_spec_hash_keys(s, p, prefixes, 3);
}

static int build_base(tb_run_ctx *ctx, int p, const char *path) {
    lm_shared *sh = ctx->priv;
    return tb_stage_pretrain(ctx, p, sh->text, sh->len, sh->text, sh->len, NULL, path);
}

static int lm_prepare(tb_run_ctx *ctx) {
    const tb_spec *s = ctx->spec;
    for (int p = 0; p < s->n_points; p++)
        if (tb_spec_int(s, p, "dist.zero") == 2)
            return TB_ERROR(TB_ERR_ARG, "use dist.zero 0, 1 or 3 (ZeRO-2 brings nothing over 1 without overlap here)",
                            "%s: point %d: dist.zero = 2 is not implemented", s->path, p);
    lm_shared *sh = tb_malloc(sizeof *sh);
    ctx->priv = sh;
    const char *corpus = tb_spec_string(s, 0, "data.corpus");
    TB_CHECK(tb_corpus_load(corpus[0] ? corpus : NULL, (uint64_t)tb_spec_int(s, 0, "data.seed"), &sh->text, &sh->len));
    /* one base per distinct (data, model, base) configuration */
    return tb_stage_once(ctx, "lm-base", base_hash, build_base);
}

static void lm_release(tb_run_ctx *ctx) {
    lm_shared *sh = ctx->priv;
    if (!sh) return;
    tb_free(sh->text);
    tb_free(sh);
    ctx->priv = NULL;
}

static int lm_curve_len(const tb_spec *s) {
    long n = 0;
    for (int p = 0; p < s->n_points; p++) {
        long k = tb_spec_int(s, p, "train.steps");
        n = k > n ? k : n;
    }
    return (int)n;
}

/* ---- one point ------------------------------------------------------------------------------- */

typedef struct {
    tb_model m;
    tb_tokenizer tok;
    tb_token_windows train, val;
    tb_window_sampler smp, val_smp;
    tb_optimizer opt;
    tb_dp dp;
    int have_dp, have_opt, have_smp;
} lm_point;

static void point_free(lm_point *pt) {
    if (pt->have_smp) {
        tb_sampler_free(&pt->smp);
        tb_sampler_free(&pt->val_smp);
    }
    if (pt->have_opt) tb_optimizer_free(&pt->opt);
    if (pt->have_dp) tb_dp_free(&pt->dp, &pt->m);
    tb_windows_free(&pt->train);
    tb_windows_free(&pt->val);
    tb_tokenizer_free(&pt->tok);
    tb_model_free(&pt->m);
}

static int lm_run_point(tb_run_ctx *ctx, int p, tb_point_out *out) {
    const tb_spec *s = ctx->spec;
    const tb_groups *g = ctx->groups;
    lm_shared *sh = ctx->priv;
    char base[4096], state[4096], label[64];
    tb_stage_path(base, sizeof base, ctx->cache_dir, "lm-base", base_hash(s, p));
    snprintf(state, sizeof state, "%s/point-%d.h5", ctx->state_dir, p);
    snprintf(label, sizeof label, "point %d step", p);
    lm_point pt;
    memset(&pt, 0, sizeof pt);
    int T = (int)tb_spec_int(s, p, "data.seq_len"), B = (int)tb_spec_int(s, p, "train.batch");
    int accum = (int)tb_spec_int(s, p, "train.accum");
    long steps = tb_spec_int(s, p, "train.steps");
    int first, rows;
    int rc = tb_shard_rows(B, g->group_rank, g->group_size, &first, &rows);
    if (rc == TB_OK) rc = tb_checkpoint_load(base, &pt.m, &pt.tok, NULL);
    if (rc == TB_OK)
        rc = tb_corpus_windows(&pt.tok, sh->text, sh->len, T, (float)tb_spec_float(s, p, "data.val_fraction"), &pt.train,
                               &pt.val);
    tb_opt_kind kind;
    tb_sched_kind sched_kind;
    if (rc == TB_OK) rc = tb_opt_kind_parse(tb_spec_string(s, p, "train.optimizer"), &kind);
    if (rc == TB_OK) rc = tb_sched_kind_parse(tb_spec_string(s, p, "train.schedule"), &sched_kind);
    if (rc == TB_OK) {
        long z = tb_spec_int(s, p, "dist.zero");
        tb_dp_mode mode = z == 3 ? TB_DP_ZERO3 : z == 1 ? TB_DP_ZERO1 : TB_DP_ALLREDUCE;
        rc = tb_dp_init(&pt.dp, mode, g->group, &pt.m, &pt.m.params, 4u << 20);
        pt.have_dp = rc == TB_OK;
    }
    if (rc != TB_OK) {
        point_free(&pt);
        return rc;
    }
    tb_dp_optimizer_init(&pt.dp, &pt.opt, kind);
    pt.have_opt = 1;
    pt.opt.weight_decay = (float)tb_spec_float(s, p, "train.weight_decay");
    uint64_t seed = (uint64_t)s->points[p].seed;
    tb_sampler_init(&pt.smp, &pt.train, B, accum, seed);
    tb_sampler_shard(&pt.smp, first, rows);
    tb_sampler_init(&pt.val_smp, &pt.val, B, 1, seed);
    tb_sampler_shard(&pt.val_smp, first, rows);
    pt.have_smp = 1;
    tb_objective sft = tb_objective_sft();
    tb_trainer tr = {.model = &pt.m, .trainable = tb_dp_trainable(&pt.dp), .opt = &pt.opt, .objective = &sft, .B = rows, .T = T,
                     .accum = accum, .clip = (float)tb_spec_float(s, p, "train.clip"),
                     .next_batch = tb_sampler_batch, .batch_ctx = &pt.smp, .dp = &pt.dp,
                     .sched = {.kind = sched_kind, .lr = (float)tb_spec_float(s, p, "train.lr"),
                               .min_lr = (float)tb_spec_float(s, p, "train.min_lr"),
                               .warmup = tb_spec_int(s, p, "train.warmup"), .total = steps}};
    tb_point_train ptr = {.tr = &tr, .dp = &pt.dp, .tok = &pt.tok, .steps = steps,
                          .diverge_factor = (float)tb_spec_float(s, p, "train.diverge"), .state_path = state,
                          .curve = out->curves[0], .verbose = !ctx->quiet && g->world_rank == 0, .label = label};
    long start = 0;
    rc = tb_point_resume(&ptr, &start);
    if (rc == TB_OK) rc = tb_point_train_run(&ptr, start, out);
    if (rc == TB_OK && !out->failed && !out->interrupted) {
        long k = steps < 10 ? steps : 10;
        double sum = 0.0;
        for (long i = steps - k; i < steps; i++) sum += out->curves[0][i];
        out->metrics[0] = sum / (double)k;
        long nb = (pt.val.n_windows + B - 1) / B;
        rc = tb_eval_loss(&pt.m, tb_sampler_eval_batch, &pt.val_smp, nb, rows, T, &pt.dp, &out->metrics[1]);
        out->metrics[2] = exp(out->metrics[1]);
        out->metrics[3] = (double)tb_dp_state_bytes(&pt.dp) / (1024.0 * 1024.0);
    }
    point_free(&pt);
    return rc;
}

const tb_workload tb_workload_lm = {
    .name = "lm",
    .schema = &lm_schema,
    .metrics = lm_metrics,
    .n_metrics = 4,
    .curves = lm_curves,
    .n_curves = 1,
    .curve_len = lm_curve_len,
    .conventions = lm_conventions,
    .prepare = lm_prepare,
    .run_point = lm_run_point,
    .release = lm_release,
};
