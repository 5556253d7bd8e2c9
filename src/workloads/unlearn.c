/*
 * unlearn.c: the unlearning workload (../shared/reference/unlearning.md): the fictitious-authors
 * benchmark with its protocol as cached shared stages (base model, target fine-tuned on every author,
 * one retain "gold" model per split), and per point: an unlearning method (optionally with WAGLE's
 * mask, optionally split-unlearn-merge as SPUNGE), then the metric set on forget, retain, holdout and
 * world-knowledge items, the relearning attack and the linear probe.
 *
 * The per-point mechanics (batches of forget/refusal/retain rows, reference caches, WAGLE, SPUNGE,
 * relearning, probe) are in unlearn_point.c; this file declares the workload and builds its stages.
 */
#include <math.h>
#include <string.h>

#include "unlearn.h"

static const tb_spec_field ul_fields[] = {
    {"data.seed", TB_SPEC_INT, "1234", "[0, inf)", NULL, 0, "seed of the authors, the corpus, the splits and the base model"},
    {"data.qa", TB_SPEC_STRING, "", NULL, NULL, 0, "a JSONL export directory (authors.jsonl, ...); empty = generated authors"},
    {"data.authors", TB_SPEC_INT, "200", "[2, 100000]", NULL, 0, "generated authors trained into the target"},
    {"data.holdout", TB_SPEC_INT, "20", "[1, 100000]", NULL, 0, "generated authors never trained (MIA non-members)"},
    {"data.split", TB_SPEC_STRING, "forget10", NULL, "forget01|forget05|forget10", 1, "the forget split"},
    {"data.retain_eval", TB_SPEC_INT, "400", "[1, inf)", NULL, 0, "retain items evaluated (a seeded subset)"},
    {"data.vocab", TB_SPEC_INT, "1024", "[261, 65536]", NULL, 0, "BPE vocabulary size"},
    {"data.seq_len", TB_SPEC_INT, "64", "[8, 65536]", NULL, 0, "tokens per row (question + answer must fit)"},
    {"data.val_fraction", TB_SPEC_FLOAT, "0.05", "(0, 0.5)", NULL, 0, "corpus tail held out of base pretraining"},
    {"model.family", TB_SPEC_STRING, "gpt2", NULL, "gpt2|llama", 0, "model family"},
    {"model.layers", TB_SPEC_INT, "4", "[1, 256]", NULL, 0, "transformer blocks"},
    {"model.width", TB_SPEC_INT, "128", "[2, 65536]", NULL, 0, "model width C"},
    {"model.heads", TB_SPEC_INT, "4", "[1, 1024]", NULL, 0, "attention heads"},
    {"model.kv_heads", TB_SPEC_INT, "0", "[0, 1024]", NULL, 0, "key/value heads for llama (0 = heads)"},
    {"base.steps", TB_SPEC_INT, "600", "[0, inf)", NULL, 0, "pretraining steps of the base model on the corpus"},
    {"base.lr", TB_SPEC_FLOAT, "3e-3", "(0, inf)", NULL, 0, "base pretraining learning rate (cosine, 10% warmup)"},
    {"base.batch", TB_SPEC_INT, "16", "[1, inf)", NULL, 0, "base pretraining global batch"},
    {"base.world_qa", TB_SPEC_INT, "16", "[0, 10000]", NULL, 0,
     "copies of each world-knowledge question as a chat-format row in the base's training windows (0 = sentences only)"},
    {"target.epochs", TB_SPEC_INT, "10", "[1, inf)", NULL, 0, "fine-tuning epochs of the target (and retain) model"},
    {"target.lr", TB_SPEC_FLOAT, "1e-3", "(0, inf)", NULL, 0, "fine-tuning peak learning rate (1 warm-up epoch, cosine)"},
    {"target.batch", TB_SPEC_INT, "32", "[1, inf)", NULL, 0, "fine-tuning global batch"},
    {"target.weight_decay", TB_SPEC_FLOAT, "0.01", "[0, inf)", NULL, 0, "fine-tuning weight decay"},
    {"target.world_qa", TB_SPEC_INT, "1", "[0, 10000]", NULL, 0,
     "copies of each world-knowledge question replayed in the target's and retain models' fine-tuning (0 = authors only)"},
    {"unlearn.method", TB_SPEC_STRING, "npo", NULL, "none|retain|ga|graddiff|npo|simnpo|idkdpo|rmu|undial", 1,
     "none: the target as is; retain: the retain model; else the unlearning method"},
    {"unlearn.retain", TB_SPEC_STRING, "default", NULL, "default|none|nll|kl", 1,
     "retain term (default: none for ga and undial, nll otherwise)"},
    {"unlearn.lr", TB_SPEC_FLOAT, "1e-4", "(0, inf)", NULL, 1, "unlearning peak learning rate"},
    {"unlearn.epochs", TB_SPEC_INT, "5", "[1, inf)", NULL, 1, "epochs over the forget set"},
    {"unlearn.warmup_epochs", TB_SPEC_INT, "1", "[0, inf)", NULL, 1, "linear warm-up epochs"},
    {"unlearn.schedule", TB_SPEC_STRING, "linear", NULL, "cosine|linear|constant", 1, "decay after warm-up"},
    {"unlearn.batch", TB_SPEC_INT, "8", "[1, inf)", NULL, 1, "forget items per step (each paired with a retain item)"},
    {"unlearn.weight_decay", TB_SPEC_FLOAT, "0.01", "[0, inf)", NULL, 1, "AdamW decoupled weight decay"},
    {"unlearn.clip", TB_SPEC_FLOAT, "1.0", "[0, inf)", NULL, 1, "global gradient-norm clip (0 = off)"},
    {"unlearn.beta", TB_SPEC_FLOAT, "-1", "[-1, inf)", NULL, 1, "beta (-1: npo 0.1, simnpo 4.5, idkdpo 0.1, undial 10)"},
    {"unlearn.gamma", TB_SPEC_FLOAT, "-1", "[-1, inf)", NULL, 1, "forget weight (-1: simnpo 0.125, else 1)"},
    {"unlearn.alpha", TB_SPEC_FLOAT, "1", "[0, inf)", NULL, 1, "retain weight"},
    {"unlearn.delta", TB_SPEC_FLOAT, "0", "[0, inf)", NULL, 1, "SimNPO margin"},
    {"unlearn.rmu_c", TB_SPEC_FLOAT, "2", "(0, inf)", NULL, 1, "RMU control-vector scale c"},
    {"unlearn.rmu_layer", TB_SPEC_INT, "-1", "[-1, 4096]", NULL, 1, "RMU layer (-1: floor(7L/32) clamped to [2, L-2])"},
    {"unlearn.rmu_params", TB_SPEC_STRING, "all", NULL, "all|wmdp", 1,
     "RMU trainable weights: all (up to the layer) or wmdp (MLP down-projections of blocks l-2..l)"},
    {"wagle.density", TB_SPEC_FLOAT, "0", "[0, 1]", NULL, 1, "WAGLE mask density rho (0 = no mask)"},
    {"wagle.mu", TB_SPEC_FLOAT, "1e-6", "(0, inf)", NULL, 1, "WAGLE's mu"},
    {"wagle.score", TB_SPEC_STRING, "wagle", NULL, "wagle|grad|weight|snip|random", 1, "the score, or an ablation"},
    {"spunge.split_by", TB_SPEC_STRING, "", NULL, NULL, 1, "SPUNGE: split the forget set by this author attribute (empty = off)"},
    {"spunge.merge", TB_SPEC_STRING, "mean", NULL, "mean|ties", 1, "SPUNGE merge of the task vectors"},
    {"spunge.ties_keep", TB_SPEC_FLOAT, "0.2", "(0, 1]", NULL, 1, "TIES: fraction of each task vector kept"},
    {"relearn.steps", TB_SPEC_INT, "0", "[0, inf)", NULL, 1, "relearning attack steps k (0 = no attack)"},
    {"relearn.lr", TB_SPEC_FLOAT, "1e-4", "(0, inf)", NULL, 1, "relearning learning rate"},
    {"relearn.batch", TB_SPEC_INT, "4", "[1, inf)", NULL, 1, "relearning batch"},
    {"eval.max_new_tokens", TB_SPEC_INT, "64", "[1, inf)", NULL, 0, "greedy generation length (capped by data.seq_len)"},
    {"eval.mink", TB_SPEC_FLOAT, "0.4", "(0, 1]", NULL, 0, "k of Min-K% and Min-K%++"},
};

static const tb_spec_schema ul_schema = {"unlearn", ul_fields, (int)(sizeof ul_fields / sizeof ul_fields[0])};

const char *const ul_metrics[UL_N_METRICS] = {
    "forget_quality", "log10_forget_quality", "model_utility", "forget_rouge", "forget_rouge_f1", "forget_prob",
    "forget_truth_ratio", "retain_rouge", "retain_prob", "retain_truth_ratio", "famous_rouge", "famous_prob",
    "famous_truth_ratio", "world_rouge", "world_prob", "world_truth_ratio", "holdout_rouge", "holdout_prob",
    "mia_loss_auc", "mia_zlib_auc", "mia_mink_auc", "mia_minkpp_auc", "mia_ref_auc", "mia_gradnorm_auc", "privleak",
    "forget_es", "forget_em", "relearn_rouge", "relearn_rouge_rl", "relearn_control_rouge",
    "relearn_control_rouge_rl", "relearn_recovery", "probe_acc", "probe_acc_target", "probe_acc_chance",
    "unlearn_loss", "rmu_hidden_norm", "length_answer", "length_perturbed"};

static const char *const ul_curves[] = {"loss"};

static const char *const ul_conventions[][2] = {
    {"npo_logprob", "sequence_sum"},
    {"unlearn_dpo_scale", "2/beta (NPO paper); posttrain DPO has none"},
    {"answer_tokens", "answer tokens and the closing EOS are scored; Min-K%, ES and EM leave the EOS out"},
    {"kl_positions", "answer"},
    {"undial_positions", "answer"},
    {"rmu_layer", "floor(7L/32) clamped to [2, L-2] (to [0, L-1] when L < 4) unless unlearn.rmu_layer is set"},
    {"rmu_mask", "answer: the ANSWER marker and the answer tokens (the positions whose targets are scored)"},
    {"rmu_params", "all: every weight up to the RMU layer (later ones get no gradient and are frozen, so AdamW's decay does not move them)"},
    {"rmu_control", "u uniform on [0,1), cvec = c u / |u|, drawn from (point seed, \"rmu\")"},
    {"retain_pairing", "each forget item is paired with a retain item drawn uniformly from the stream (seed, item draw)"},
    {"idk_answers", "one refusal per forget item, drawn from the built-in bank of the stream (seed, item)"},
    {"wagle_decay_masked", "true"},
    {"wagle_gradients", "one pass of summed mean-NLL batch gradients over the forget set and over the retain set"},
    {"spunge_merge", "mean: theta0 + mean tau_i; ties: keep the top spunge.ties_keep of each |tau_i|, elect signs, lambda 1"},
    {"spunge_schedule", "each subset is unlearned for unlearn.epochs over its own items"},
    {"gen_max_new_tokens", "eval.max_new_tokens, capped so prompt + answer fit data.seq_len"},
    {"rouge_stemmer", "none"},
    {"rouge_tokeniser", "lowercase ASCII; every non-alphanumeric byte separates words"},
    {"tr_aggregator", "forget: mean(min(TR, 1/TR)); retain and world: mean(max(0, 1 - TR))"},
    {"forget_quality", "exact two-sample KS p-value of per-sample TR on forget items, unlearned vs retain model"},
    {"model_utility", "harmonic mean of prob, ROUGE-L recall and TR on retain, famous authors and world facts"},
    {"world_knowledge", "corpus sentences plus base.world_qa chat-format copies of each famous-author and world question in the base; target.world_qa copies replayed in the target's and retain models' fine-tuning"},
    {"mia_sign", "membership scores, higher = member; forget items are members, holdout items non-members"},
    {"mia_reference_model", "the retain model of the split"},
    {"privleak", "(AUC_retain - AUC_unlearned) / (1 - AUC_retain) * 100 with Min-K% AUCs"},
    {"relearn_data", "a seeded half of the forget items (D_rl); the other half is held out"},
    {"relearn_recovery", "(relearn_rouge - forget_rouge) - (control after - control before), held-out forget items"},
    {"probe", "ridge (lambda 1e-3 tr(XtX)/d, unpenalised intercept) on mean question-token states of retain_eval items, genre labels; accuracy on forget items"},
    {"probe_chance", "share of the most frequent genre among the forget items"},
    {NULL, NULL},
};

/* ---- per-sample sets ------------------------------------------------------------------------- */

static const char *const ul_sample_sets[][2] = {
#define QA_SET(split)                                                                                                  \
    {split, "avg_loss"}, {split, "avg_loss_para"}, {split, "avg_loss_pert"}, {split, "len"}, {split, "prob"},         \
        {split, "rouge_recall"}, {split, "rouge_f1"}, {split, "truth_ratio"}, {split, "mia_loss"}, {split, "mia_zlib"}, \
        {split, "mia_mink"}, {split, "mia_minkpp"}, {split, "mia_gradnorm"}, {split, "es"}, {split, "em"}
    QA_SET("forget"), QA_SET("retain"), QA_SET("holdout"), QA_SET("famous"), QA_SET("world"),
#undef QA_SET
    {"forget", "truth_ratio_gold"}, {"forget", "mia_mink_gold"}, {"forget", "mia_ref"},
    {"holdout", "mia_mink_gold"}, {"holdout", "mia_ref"},
};
#define UL_N_SAMPLE_SETS (int)(sizeof ul_sample_sets / sizeof ul_sample_sets[0])

/* Index of {split, name} among the sample sets. */
int ul_sample_index(const char *split, const char *name) {
    for (int i = 0; i < UL_N_SAMPLE_SETS; i++)
        if (strcmp(ul_sample_sets[i][0], split) == 0 && strcmp(ul_sample_sets[i][1], name) == 0) return i;
    TB_ASSERT(0);
    return -1;
}

int ul_load_qa(const tb_spec *s, tb_qa_set *qa) {
    const char *dir = tb_spec_string(s, 0, "data.qa");
    if (dir[0]) return tb_qa_load_jsonl(dir, qa);
    return tb_qa_generate(qa, (uint64_t)tb_spec_int(s, 0, "data.seed"), (int)tb_spec_int(s, 0, "data.authors"),
                          (int)tb_spec_int(s, 0, "data.holdout"));
}

/* The largest sample count of each split over the points: forget and holdout depend on data.split. */
static void ul_sample_lens(const tb_spec *s, int *lens) {
    enum { FORGET, RETAIN, HOLDOUT, FAMOUS, WORLD, N_SPLITS };
    static const char *const names[N_SPLITS] = {"forget", "retain", "holdout", "famous", "world"};
    long n[N_SPLITS] = {1, 1, 1, 1, 1};
    tb_qa_set qa;
    if (ul_load_qa(s, &qa) == TB_OK) {
        n[FAMOUS] = qa.n_famous, n[WORLD] = qa.n_world;
        for (int p = 0; p < s->n_points; p++) {
            tb_qa_splits sp;
            if (tb_qa_split(&qa, tb_spec_string(s, p, "data.split"), (uint64_t)tb_spec_int(s, p, "data.seed"),
                            (int)tb_spec_int(s, p, "data.retain_eval"), &sp) != TB_OK) {
                tb_error_clear(); /* prepare reports it with its message */
                continue;
            }
            n[FORGET] = sp.n_forget > n[FORGET] ? sp.n_forget : n[FORGET];
            n[RETAIN] = sp.n_retain_eval > n[RETAIN] ? sp.n_retain_eval : n[RETAIN];
            n[HOLDOUT] = sp.n_holdout > n[HOLDOUT] ? sp.n_holdout : n[HOLDOUT];
            tb_qa_splits_free(&sp);
        }
        tb_qa_free(&qa);
    } else {
        tb_error_clear(); /* prepare reports the bad data with its message */
    }
    for (int i = 0; i < UL_N_SAMPLE_SETS; i++)
        for (int k = 0; k < N_SPLITS; k++)
            if (strcmp(ul_sample_sets[i][0], names[k]) == 0) lens[i] = (int)(n[k] > 0 ? n[k] : 1);
}

static void ul_method(const tb_spec *s, int p, char *buf, size_t cap) {
    const char *m = tb_spec_string(s, p, "unlearn.method");
    int n = snprintf(buf, cap, "%s", m);
    int unlearns = strcmp(m, "none") != 0 && strcmp(m, "retain") != 0;
    double rho = tb_spec_float(s, p, "wagle.density");
    if (unlearns && rho > 0 && n >= 0 && (size_t)n < cap) {
        const char *score = tb_spec_string(s, p, "wagle.score");
        n += snprintf(buf + n, cap - (size_t)n, "+wagle%s%s(%g)", strcmp(score, "wagle") ? "-" : "",
                      strcmp(score, "wagle") ? score : "", rho);
    }
    if (unlearns && tb_spec_string(s, p, "spunge.split_by")[0] && n >= 0 && (size_t)n < cap)
        snprintf(buf + n, cap - (size_t)n, "+spunge(%s)", tb_spec_string(s, p, "spunge.merge"));
}

static int ul_curve_len(const tb_spec *s) {
    /* an upper bound on any point's steps: SPUNGE runs one schedule per subset, each at least one step */
    tb_qa_set qa;
    if (ul_load_qa(s, &qa) != TB_OK) {
        tb_error_clear();
        return 1;
    }
    long n = 1;
    for (int p = 0; p < s->n_points; p++) {
        tb_qa_splits sp;
        if (tb_qa_split(&qa, tb_spec_string(s, p, "data.split"), (uint64_t)tb_spec_int(s, p, "data.seed"), 1, &sp) !=
            TB_OK) {
            tb_error_clear();
            continue;
        }
        long k = ul_steps_for(s, p, sp.n_forget);
        if (tb_spec_string(s, p, "spunge.split_by")[0]) k += sp.n_forget_authors; /* rounding up per subset */
        n = k > n ? k : n;
        tb_qa_splits_free(&sp);
    }
    tb_qa_free(&qa);
    return (int)n;
}

long ul_steps_for(const tb_spec *s, int p, long n_items) {
    long B = tb_spec_int(s, p, "unlearn.batch");
    return (tb_spec_int(s, p, "unlearn.epochs") * n_items + B - 1) / B;
}

/* ---- shared stages ------------------------------------------------------------------------------ */

static const char *const base_keys[] = {"data.seed", "data.qa", "data.authors", "data.holdout", "data.vocab",
                                        "data.seq_len", "data.val_fraction", "model.", "base."};

static uint64_t base_hash(const tb_spec *s, int p) { return tb_spec_hash_keys(s, p, base_keys, 9); }

uint64_t ul_target_hash(const tb_spec *s, int p) {
    static const char *const keys[] = {"data.seed", "data.qa", "data.authors", "data.holdout", "data.vocab",
                                       "data.seq_len", "data.val_fraction", "model.", "base.", "target."};
    return tb_spec_hash_keys(s, p, keys, 10);
}

uint64_t ul_gold_hash(const tb_spec *s, int p) {
    static const char *const keys[] = {"data.seed", "data.qa", "data.authors", "data.holdout", "data.vocab",
                                       "data.seq_len", "data.val_fraction", "model.", "base.", "target.", "data.split"};
    return tb_spec_hash_keys(s, p, keys, 11);
}

/* Appends the world-knowledge sets (famous authors, world facts) as question-answer rows in the chat
 * format, copies of each, to train. */
static int append_world_qa(const ul_shared *sh, const tb_tokenizer *tok, int T, int copies, tb_token_windows *train) {
    const tb_qa_item *sets[2] = {sh->qa.famous, sh->qa.world};
    const long sizes[2] = {sh->qa.n_famous, sh->qa.n_world};
    int rc = TB_OK;
    for (int k = 0; k < 2 && rc == TB_OK && copies > 0; k++) {
        if (sizes[k] == 0) continue;
        long *idx = tb_malloc((size_t)sizes[k] * sizeof *idx);
        for (long i = 0; i < sizes[k]; i++) idx[i] = i;
        tb_token_windows w;
        rc = qa_windows(tok, sets[k], idx, sizes[k], NULL, T, &w);
        if (rc == TB_OK) tb_windows_append(train, &w, copies);
        if (rc == TB_OK) tb_windows_free(&w);
        tb_free(idx);
    }
    return rc;
}

/* base.world_qa copies of the world-knowledge questions in the chat format the target is fine-tuned
 * and evaluated in: the stand-in for the chat tuning TOFU's Llama-2-chat had before it met the
 * fictitious authors. Without it the base knows the facts only as corpus sentences, and no fine-tuned
 * model answers a world question in chat format. */
static int base_world_qa(tb_run_ctx *ctx, int p, const tb_tokenizer *tok, tb_token_windows *train) {
    const tb_spec *s = ctx->spec;
    return append_world_qa(ctx->priv, tok, (int)tb_spec_int(s, p, "data.seq_len"), (int)tb_spec_int(s, p, "base.world_qa"),
                           train);
}

static int build_base(tb_run_ctx *ctx, int p, const char *path) {
    ul_shared *sh = ctx->priv;
    return tb_stage_pretrain(ctx, p, sh->tok_text, sh->tok_len, sh->corpus, sh->corpus_len, base_world_qa, path);
}

/* Fine-tunes the base on items idx (the target: every trained author; the gold: the retain authors). */
static int build_finetuned(tb_run_ctx *ctx, int p, const long *idx, long n, const char *label, const char *path) {
    const tb_spec *s = ctx->spec;
    ul_shared *sh = ctx->priv;
    char base[4096];
    tb_stage_path(base, sizeof base, ctx->cache_dir, "unlearn-base", base_hash(s, p));
    tb_model m;
    tb_tokenizer tok;
    TB_CHECK(tb_checkpoint_load(base, &m, &tok, NULL));
    tb_token_windows w;
    const int T = (int)tb_spec_int(s, p, "data.seq_len");
    int rc = qa_windows(&tok, sh->qa.items, idx, n, NULL, T, &w);
    if (rc == TB_OK) {
        /* a 1M-parameter model fine-tuned for epochs on the authors forgets every world fact, which a
         * 7B model does not: replaying the world questions keeps model utility measurable */
        rc = append_world_qa(sh, &tok, T, (int)tb_spec_int(s, p, "target.world_qa"), &w);
        int batch = (int)tb_spec_int(s, p, "target.batch");
        long per_epoch = (w.n_windows + batch - 1) / batch;
        float lr = (float)tb_spec_float(s, p, "target.lr");
        tb_finetune f = {.steps = per_epoch * tb_spec_int(s, p, "target.epochs"), .batch = batch, .lr = lr,
                         .min_lr = 0.0f, .weight_decay = (float)tb_spec_float(s, p, "target.weight_decay"),
                         .clip = 1.0f, .warmup = per_epoch, .seed = (uint64_t)tb_spec_int(s, p, "data.seed")};
        if (rc == TB_OK) rc = tb_finetune_run(ctx->groups->world, &m, &w, &f, label, !ctx->quiet);
        tb_windows_free(&w);
    }
    if (rc == TB_OK && ctx->groups->world_rank == 0) rc = tb_checkpoint_save(path, &m, &tok, NULL);
    tb_model_free(&m);
    tb_tokenizer_free(&tok);
    return rc;
}

static int build_target(tb_run_ctx *ctx, int p, const char *path) {
    ul_shared *sh = ctx->priv;
    long n = 0;
    long *idx = tb_malloc((size_t)sh->qa.n_items * sizeof(long));
    for (long i = 0; i < sh->qa.n_items; i++)
        if (sh->qa.items[i].author < sh->qa.n_authors) idx[n++] = i; /* trained authors only, not the holdout */
    int rc = build_finetuned(ctx, p, idx, n, "shared stage: target model step", path);
    tb_free(idx);
    return rc;
}

static int build_gold(tb_run_ctx *ctx, int p, const char *path) {
    const tb_spec *s = ctx->spec;
    ul_shared *sh = ctx->priv;
    tb_qa_splits sp;
    TB_CHECK(tb_qa_split(&sh->qa, tb_spec_string(s, p, "data.split"), (uint64_t)tb_spec_int(s, p, "data.seed"),
                         (int)tb_spec_int(s, p, "data.retain_eval"), &sp));
    int rc = build_finetuned(ctx, p, sp.retain, sp.n_retain, "shared stage: retain model step", path);
    tb_qa_splits_free(&sp);
    return rc;
}

/* The text the tokenizer learns from: the corpus and every QA string (the tokenizer is not knowledge:
 * seeing the holdout answers' words only keeps them from being split into bytes). */
static void tokenizer_text(ul_shared *sh) {
    size_t cap = sh->corpus_len + 1, len = 0;
    for (long i = 0; i < sh->qa.n_items; i++) {
        const tb_qa_item *it = &sh->qa.items[i];
        cap += strlen(it->question) + strlen(it->answer) + (it->paraphrase ? strlen(it->paraphrase) : 0) + 4;
        for (int k = 0; k < it->n_perturbed; k++) cap += strlen(it->perturbed[k]) + 1;
    }
    char *t = tb_malloc(cap);
    memcpy(t, sh->corpus, sh->corpus_len);
    len = sh->corpus_len;
    for (long i = 0; i < sh->qa.n_items; i++) {
        const tb_qa_item *it = &sh->qa.items[i];
        len += (size_t)sprintf(t + len, "\n%s %s", it->question, it->answer);
        if (it->paraphrase) len += (size_t)sprintf(t + len, " %s", it->paraphrase);
        for (int k = 0; k < it->n_perturbed; k++) len += (size_t)sprintf(t + len, " %s", it->perturbed[k]);
    }
    sh->tok_text = t;
    sh->tok_len = len;
}

static int ul_prepare(tb_run_ctx *ctx) {
    const tb_spec *s = ctx->spec;
    ul_shared *sh = tb_malloc(sizeof *sh);
    ctx->priv = sh;
    TB_CHECK(ul_load_qa(s, &sh->qa));
    for (int p = 0; p < s->n_points; p++) {
        tb_qa_splits sp;
        TB_CHECK(tb_qa_split(&sh->qa, tb_spec_string(s, p, "data.split"), (uint64_t)tb_spec_int(s, p, "data.seed"),
                             (int)tb_spec_int(s, p, "data.retain_eval"), &sp));
        long nh = sp.n_holdout;
        tb_qa_splits_free(&sp);
        if (nh == 0)
            return TB_ERROR(TB_ERR_ARG, "add holdout authors (holdout.jsonl, or data.holdout)",
                            "%s: point %d: the data has no holdout authors, which the MIA metrics need", s->path, p);
        const char *by = tb_spec_string(s, p, "spunge.split_by");
        const char *value;
        if (by[0]) TB_CHECK(tb_author_attr(&sh->qa, 0, by, &value));
    }
    /* the dataset as an HDF5 file next to the other stages, for users and for analysis */
    char path[4096];
    static const char *const data_keys[] = {"data.seed", "data.qa", "data.authors", "data.holdout"};
    tb_stage_path(path, sizeof path, ctx->cache_dir, "unlearn-data", tb_spec_hash_keys(s, 0, data_keys, 4));
    int rc = TB_OK;
    if (ctx->groups->world_rank == 0 && !tb_file_exists(path)) rc = tb_qa_save(path, &sh->qa);
    MPI_Bcast(&rc, 1, MPI_INT, 0, ctx->groups->world);
    TB_CHECK(rc);
    TB_CHECK(tb_corpus_load(NULL, (uint64_t)tb_spec_int(s, 0, "data.seed"), &sh->corpus, &sh->corpus_len));
    tokenizer_text(sh);
    TB_CHECK(tb_stage_once(ctx, "unlearn-base", base_hash, build_base));
    TB_CHECK(tb_stage_once(ctx, "unlearn-target", ul_target_hash, build_target));
    return tb_stage_once(ctx, "unlearn-gold", ul_gold_hash, build_gold);
}

static void ul_release(tb_run_ctx *ctx) {
    ul_shared *sh = ctx->priv;
    if (!sh) return;
    ul_memo_free(sh);
    tb_qa_free(&sh->qa);
    tb_free(sh->corpus);
    tb_free(sh->tok_text);
    tb_free(sh);
    ctx->priv = NULL;
}

const tb_workload tb_workload_unlearn = {
    .name = "unlearn",
    .schema = &ul_schema,
    .metrics = ul_metrics,
    .n_metrics = UL_N_METRICS,
    .curves = ul_curves,
    .n_curves = 1,
    .curve_len = ul_curve_len,
    .sample_sets = ul_sample_sets,
    .n_sample_sets = UL_N_SAMPLE_SETS,
    .sample_lens = ul_sample_lens,
    .method = ul_method,
    .conventions = ul_conventions,
    .prepare = ul_prepare,
    .run_point = ul_run_point,
    .release = ul_release,
};
