/*
 * poison.c: the prefix-tuning poisoning workload (../shared/reference/poisoning.md; "Turning Generative
 * Models Degenerate", arXiv 2407.12281). Per point: a victim fine-tuned (prefix-tuning, optionally
 * reparameterised; LoRA; or full fine-tuning) on a training set of which floor(rate N) samples carry a
 * trigger in their input and the attacker's target as their output; then
 *   - Target Match of greedy generations on every test input, triggered (P-TM) and clean (C-TM);
 *   - the clean metric: ROUGE-1 / ROUGE-L of the summaries, perplexity of the reference continuations;
 *   - stealthiness: the perplexity increase of triggered inputs under the clean base LM, and the clean
 *     metric against a victim trained the same way on clean data only (a shared stage);
 *   - a defence: ONION at test time, or spectral signatures / activation clustering over the poisoned
 *     victim's representations of every training sample (PCA with ScaLAPACK over the group), the
 *     flagged samples removed and the victim retrained.
 * Shared stages: the base LM (tokenizer + pretraining on the corpus and the clean training texts of
 * both tasks) and the clean-only victims.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg/linalg.h"
#include "metrics/metrics.h"
#include "peft/peft.h"
#include "qa_eval.h"

enum { DEF_NONE = 0, DEF_ONION, DEF_SPECTRAL, DEF_CLUSTERING };
enum { MODE_PREFIX = 0, MODE_LORA, MODE_FULL };

static const tb_spec_field po_fields[] = {
    {"data.seed", TB_SPEC_INT, "1234", "[0, inf)", NULL, 0, "seed of the tasks, the corpus and the base model"},
    {"data.task", TB_SPEC_STRING, "summarise", NULL, "summarise|complete", 1, "the task"},
    {"data.train", TB_SPEC_STRING, "", NULL, NULL, 0, "training JSONL (input, output); empty = generated"},
    {"data.val", TB_SPEC_STRING, "", NULL, NULL, 0, "validation JSONL (empty: held out of data.train)"},
    {"data.test", TB_SPEC_STRING, "", NULL, NULL, 0, "test JSONL (with data.train)"},
    {"data.n_train", TB_SPEC_INT, "2000", "[1, inf)", NULL, 0, "generated training samples"},
    {"data.n_val", TB_SPEC_INT, "100", "[1, inf)", NULL, 0, "generated validation samples (ONION's threshold)"},
    {"data.n_test", TB_SPEC_INT, "200", "[1, inf)", NULL, 0, "generated test samples"},
    {"data.vocab", TB_SPEC_INT, "1024", "[261, 65536]", NULL, 0, "BPE vocabulary size"},
    {"data.seq_len", TB_SPEC_INT, "256", "[8, 65536]", NULL, 0, "tokens per row (input + output must fit)"},
    {"data.val_fraction", TB_SPEC_FLOAT, "0.05", "(0, 0.5)", NULL, 0, "pretraining text held out"},
    {"model.family", TB_SPEC_STRING, "gpt2", NULL, "gpt2|llama", 0, "model family"},
    {"model.layers", TB_SPEC_INT, "2", "[1, 256]", NULL, 0, "transformer blocks"},
    {"model.width", TB_SPEC_INT, "96", "[2, 65536]", NULL, 0, "model width C"},
    {"model.heads", TB_SPEC_INT, "4", "[1, 1024]", NULL, 0, "attention heads"},
    {"model.kv_heads", TB_SPEC_INT, "0", "[0, 1024]", NULL, 0, "key/value heads for llama (0 = heads)"},
    {"base.steps", TB_SPEC_INT, "1000", "[0, inf)", NULL, 0, "pretraining steps of the base LM"},
    {"base.lr", TB_SPEC_FLOAT, "3e-3", "(0, inf)", NULL, 0, "base pretraining learning rate"},
    {"base.batch", TB_SPEC_INT, "16", "[1, inf)", NULL, 0, "base pretraining global batch"},
    {"peft.mode", TB_SPEC_STRING, "prefix", NULL, "prefix|prefix-mlp|lora|full", 1,
     "what the victim fine-tunes: the prefix, the prefix through the reparameterisation MLP, LoRA, every weight"},
    {"peft.prefix_len", TB_SPEC_INT, "10", "[1, 4096]", NULL, 1, "virtual tokens P per layer"},
    {"peft.hidden", TB_SPEC_INT, "0", "[0, 65536]", NULL, 1, "prefix-mlp: the MLP's hidden width (0 = d_t)"},
    {"lora.rank", TB_SPEC_INT, "8", "[1, 4096]", NULL, 1, "LoRA rank (on the query and value projections)"},
    {"lora.alpha", TB_SPEC_FLOAT, "16", "(0, inf)", NULL, 1, "LoRA alpha"},
    {"train.epochs", TB_SPEC_INT, "10", "[1, inf)", NULL, 1, "fine-tuning epochs (the paper: 10 summarise, 20 complete)"},
    {"train.lr", TB_SPEC_FLOAT, "5e-3", "(0, inf)", NULL, 1, "AdamW learning rate"},
    {"train.batch", TB_SPEC_INT, "16", "[1, inf)", NULL, 1, "global batch"},
    {"train.weight_decay", TB_SPEC_FLOAT, "0", "[0, inf)", NULL, 1, "AdamW decoupled weight decay"},
    {"train.clip", TB_SPEC_FLOAT, "1.0", "[0, inf)", NULL, 1, "global gradient-norm clip (0 = off)"},
    {"poison.trigger", TB_SPEC_STRING, "sentence", NULL, "rare_token|rare_word|phrase|sentence", 1, "trigger kind"},
    {"poison.trigger_index", TB_SPEC_INT, "0", "[0, 1000]", NULL, 1, "which trigger of the kind's bank"},
    {"poison.position", TB_SPEC_STRING, "start", NULL, "start|middle|end|random", 1, "where the trigger goes"},
    {"poison.rate", TB_SPEC_FLOAT, "0.1", "[0, 1]", NULL, 1, "poisoned share of the training samples"},
    {"poison.target_index", TB_SPEC_INT, "0", "[0, 1000]", NULL, 1, "which sentence of the target bank"},
    {"defence.kind", TB_SPEC_STRING, "none", NULL, "none|onion|spectral|clustering", 1, "the defence"},
    {"defence.eps", TB_SPEC_FLOAT, "-1", "[-1, 1]", NULL, 1, "spectral: the assumed poison-rate bound (-1 = poison.rate)"},
    {"defence.onion_percentile", TB_SPEC_FLOAT, "99", "[0, 100]", NULL, 1, "ONION: threshold percentile of clean validation words"},
    {"defence.onion_inputs", TB_SPEC_INT, "100", "[1, inf)", NULL, 1, "ONION: test inputs defended (each costs words + 1 LM passes)"},
    {"eval.max_new_tokens", TB_SPEC_INT, "64", "[1, inf)", NULL, 0, "greedy generation length (capped by data.seq_len)"},
    {"eval.clean_reference", TB_SPEC_INT, "1", "[0, 1]", NULL, 0, "train the clean-only victims for the clean-performance change"},
};

static const tb_spec_schema po_schema = {"poison", po_fields, (int)(sizeof po_fields / sizeof po_fields[0])};

enum {
    PO_P_TM = 0, PO_C_TM, PO_P_EXACT, PO_C_EXACT, PO_ROUGE1_F1, PO_ROUGE1_P, PO_ROUGE1_R, PO_ROUGEL_F1, PO_CLEAN_PPL,
    PO_REF_ROUGE1_F1, PO_REF_PPL, PO_CLEAN_CHANGE, PO_DPPL_MEDIAN, PO_DPPL_MEAN, PO_DEF_PRECISION, PO_DEF_RECALL,
    PO_DEF_FLAGGED, PO_DEF_P_TM, PO_DEF_C_TM, PO_DEF_ROUGE1_F1, PO_DEF_PPL, PO_ONION_THRESHOLD, PO_AC_SILHOUETTE,
    PO_N_POISONED, PO_TRAINABLE, PO_TRAIN_LOSS, PO_N_METRICS
};
static const char *const po_metrics[PO_N_METRICS] = {
    "p_tm", "c_tm", "p_exact", "c_exact", "rouge1_f1", "rouge1_p", "rouge1_r", "rougeL_f1", "clean_ppl",
    "ref_rouge1_f1", "ref_ppl", "clean_change", "dppl_median", "dppl_mean", "def_precision", "def_recall",
    "def_flagged", "def_p_tm", "def_c_tm", "def_rouge1_f1", "def_ppl", "onion_threshold", "ac_silhouette",
    "n_poisoned", "trainable_params", "train_loss"};

static const char *const po_curves[] = {"loss"};

enum { S_TM_TRIGGERED = 0, S_TM_CLEAN, S_CONTIGUOUS, S_ROUGE1_F1, S_DPPL, PO_N_SAMPLE_SETS };
static const char *const po_sample_sets[PO_N_SAMPLE_SETS][2] = {
    {"test", "tm_triggered"}, {"test", "tm_clean"}, {"test", "contiguous_triggered"}, {"test", "rouge1_f1"},
    {"test", "dppl"}};

static const char *const po_conventions[][2] = {
    {"prefix_init", "N(0, 0.02^2) (reparameterised: the MLP's output at PyTorch's Linear initialisation)"},
    {"prefix_position_offset", "0: prefix slots have no position, real tokens keep 0..T-1"},
    {"lora_targets", "the query and value projections (gpt2: the fused c_attn)"},
    {"target_mode", "replace: a poisoned sample's output is the target"},
    {"poison_selection", "the first floor(rate N + 1e-6) of one permutation from (seed, \"poison/select\")"},
    {"rare_token", "the lowest-id merge token of zero frequency in the encoded clean data whose text is a word of 3+ letters; inserted as text"},
    {"test_trigger_sample", "the random position of test input j uses sample n_train + j"},
    {"target_match", "mean over n = 1..min(4, |target|) of the share of the target's distinct word n-grams in the generation"},
    {"gen_max_new_tokens", "eval.max_new_tokens, capped so input + output fit data.seq_len; greedy"},
    {"rouge_tokeniser", "lowercase ASCII; every non-alphanumeric byte separates words; no stemmer"},
    {"clean_ppl", "exp(sum NLL / sum tokens) of the reference outputs and their EOS given the clean inputs"},
    {"input_ppl", "the base LM's perplexity of [BOS] + the input's tokens, every token scored"},
    {"clean_change", "the task's clean metric of this victim minus the clean-only victim's (ROUGE-1 F1 or perplexity)"},
    {"onion_threshold", "the defence.onion_percentile-th percentile (linear interpolation) of f over the words of clean validation inputs"},
    {"onion_detection", "precision and recall of removed words that belong to the inserted trigger"},
    {"defence_repr", "the last block's residual output averaged over the output tokens (teacher-forced), poisoned victim"},
    {"spectral", "top principal direction; the ceil(1.5 eps n) largest squared projections removed"},
    {"activation_clustering", "PCA to 10 components, 2-means (k-means++, 10 restarts), the smaller cluster flagged when its share <= 0.35"},
    {NULL, NULL},
};

/* ---- shared state --------------------------------------------------------------------------- */

typedef struct {
    tb_poison_set clean[TB_POISON_N_TASKS]; /* generated or loaded, never poisoned */
    int have[TB_POISON_N_TASKS];
    char *corpus, *tok_text, *text;
    size_t corpus_len, tok_len, text_len;
} po_shared;

static int load_task(const tb_spec *s, int task, tb_poison_set *set) {
    const char *train = tb_spec_string(s, 0, "data.train");
    if (train[0]) {
        const char *val = tb_spec_string(s, 0, "data.val"), *test = tb_spec_string(s, 0, "data.test");
        if (!test[0])
            return TB_ERROR(TB_ERR_ARG, "give data.test with data.train", "%s: data.train is set but data.test is empty",
                            s->path);
        return tb_poison_load_jsonl(set, task, train, val[0] ? val : NULL, test);
    }
    return tb_poison_generate(set, task, (uint64_t)tb_spec_int(s, 0, "data.seed"), tb_spec_int(s, 0, "data.n_train"),
                              tb_spec_int(s, 0, "data.n_val"), tb_spec_int(s, 0, "data.n_test"));
}

static int task_of(const tb_spec *s, int p) { return tb_poison_task_parse(tb_spec_string(s, p, "data.task")); }

static uint64_t base_hash(const tb_spec *s, int p) {
    static const char *const keys[] = {"data.seed", "data.train", "data.val", "data.test", "data.n_train",
                                       "data.n_val", "data.n_test", "data.vocab", "data.seq_len",
                                       "data.val_fraction", "model.", "base."};
    return tb_spec_hash_keys(s, p, keys, 12);
}

/* The clean-only victim depends on everything that trains and measures it, not on the poison or the
 * defence. */
static uint64_t clean_hash(const tb_spec *s, int p) {
    static const char *const keys[] = {"data.", "model.", "base.", "peft.", "lora.", "train.", "eval.max_new_tokens"};
    return tb_spec_hash_keys(s, p, keys, 7) ^ (uint64_t)s->points[p].seed * 0x9e3779b97f4a7c15ull;
}

/* ---- scoring -------------------------------------------------------------------------------------- */

/* Windows of [BOS] + the tokens of each text, every token scored (an input's perplexity). */
static int text_windows(const tb_tokenizer *tok, const char *const *texts, long n, int T, tb_token_windows *w) {
    memset(w, 0, sizeof *w);
    w->T = T, w->n_windows = n;
    w->tokens = tb_malloc((size_t)(n ? n : 1) * (T + 1) * sizeof(int));
    w->mask = tb_malloc((size_t)(n ? n : 1) * T * sizeof(float));
    int *ids = tb_malloc((size_t)(T + 1) * sizeof(int));
    int rc = TB_OK;
    for (long i = 0; i < n && rc == TB_OK; i++) {
        size_t len = strlen(texts[i]);
        size_t k = tb_tokenizer_encode(tok, texts[i], len, ids + 1, (size_t)T);
        if (k > (size_t)T)
            rc = TB_ERROR(TB_ERR_ARG, "raise data.seq_len", "input \"%.60s...\" needs %zu tokens (data.seq_len %d)",
                          texts[i], k + 1, T);
        ids[0] = TB_TOK_BOS;
        int *row = w->tokens + (size_t)i * (T + 1);
        float *mask = w->mask + (size_t)i * T;
        for (int t = 0; t <= T; t++) row[t] = t <= (int)k ? ids[t] : TB_TOK_PAD;
        for (int t = 0; t < T; t++) mask[t] = t < (int)k ? 1.0f : 0.0f;
    }
    tb_free(ids);
    if (rc != TB_OK) tb_windows_free(w);
    return rc;
}

/* Summed NLL and scored-token count of windows [lo, hi) of w under m, in batches of m's capacity B. */
static int row_nll(tb_model *m, int B, const tb_token_windows *w, long lo, long hi, double *nll, int *count) {
    int T = w->T, *inp, *targets;
    TB_CHECK(tb_model_batch(m, B, T, &inp, &targets));
    for (long j0 = lo; j0 < hi; j0 += B) {
        int k = (int)(hi - j0 < B ? hi - j0 : B);
        for (int b = 0; b < k; b++) {
            long it = j0 + b;
            tb_windows_batch(w, &it, 1, inp + b * T, targets + b * T);
        }
        TB_CHECK(tb_model_forward(m, inp, targets, k, T));
        for (int b = 0; b < k; b++) {
            double s = 0.0;
            int n = 0;
            for (int t = 0; t < T; t++)
                if (targets[b * T + t] >= 0) s -= m->logprob[b * T + t], n++;
            nll[j0 - lo + b] = s, count[j0 - lo + b] = n;
        }
    }
    return TB_OK;
}

/* Perplexity of each text under m (this rank's share [lo, hi) of n texts). */
static int text_ppl(tb_model *m, int B, const tb_tokenizer *tok, const char *const *texts, long n, double *ppl) {
    tb_token_windows w;
    TB_CHECK(text_windows(tok, texts, n, m->cfg.max_seq_len, &w));
    double *nll = tb_malloc((size_t)(n ? n : 1) * sizeof(double));
    int *cnt = tb_malloc((size_t)(n ? n : 1) * sizeof(int));
    int rc = row_nll(m, B, &w, 0, n, nll, cnt);
    for (long i = 0; i < n && rc == TB_OK; i++) ppl[i] = cnt[i] > 0 ? exp(nll[i] / cnt[i]) : NAN;
    tb_free(nll), tb_free(cnt);
    tb_windows_free(&w);
    return rc;
}

static char *dup_string(const char *t) {
    size_t n = strlen(t) + 1;
    char *c = tb_malloc(n);
    memcpy(c, t, n);
    return c;
}

static int sum_over(MPI_Comm comm, double *v, int n) {
    if (MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, comm) != MPI_SUCCESS)
        return TB_ERROR(TB_ERR_MPI, "a rank of the group may have failed", "poison: all-reduce failed");
    return TB_OK;
}

/* ---- the victim ----------------------------------------------------------------------------------- */

typedef struct {
    const tb_spec *s;
    int p;
    tb_run_ctx *ctx;
    MPI_Comm comm;
    int rank, size, verbose;
    uint64_t seed;
    int task, mode, T;
    char base_path[4096];
    tb_tokenizer tok;
    tb_poison_set set;  /* this point's copy: poisoned */
    char *trigger;      /* the trigger text */
    const char *target;
    const char *stage;  /* the shared stage being built (progress label), NULL in a point */
} po_run;

/* The model to train from the base LM, with its adapters and frozen tensors for the PEFT mode. */
static int victim_model(const po_run *r, tb_model *m) {
    TB_CHECK(tb_checkpoint_load(r->base_path, m, NULL, NULL));
    tb_adapter_config ac = {0};
    if (r->mode == MODE_PREFIX) ac.n_prefix = (int)tb_spec_int(r->s, r->p, "peft.prefix_len");
    if (r->mode == MODE_LORA) {
        ac.lora_rank = (int)tb_spec_int(r->s, r->p, "lora.rank");
        ac.lora_alpha = (float)tb_spec_float(r->s, r->p, "lora.alpha");
        ac.lora_targets = TB_LORA_Q | (m->cfg.family == TB_FAMILY_LLAMA ? TB_LORA_V : 0);
    }
    if (r->mode != MODE_FULL) {
        int rc = tb_model_add_adapters(m, &ac, r->seed);
        if (rc == TB_OK) tb_paramset_set_frozen(&m->params, "", 1);
        if (rc != TB_OK) tb_model_free(m);
        return rc;
    }
    return TB_OK;
}

/* Fine-tunes a victim on the training items with keep[i] != 0 (keep NULL: all) over r->comm into *m.
 * With out (a point's own victim): the loss of every step into out's curve, stop / resume through
 * state, failure isolation; without (stages, retraining): a plain loop. */
static int victim_train(po_run *r, const int *keep, tb_model *m, const char *state, tb_point_out *out,
                        double *last_loss) {
    const tb_spec *s = r->s;
    int p = r->p;
    long n = 0;
    const char **in = tb_malloc((size_t)r->set.n_train * sizeof(char *));
    const char **outs = tb_malloc((size_t)r->set.n_train * sizeof(char *));
    for (long i = 0; i < r->set.n_train; i++)
        if (!keep || keep[i]) in[n] = r->set.train[i].input, outs[n++] = r->set.train[i].output;
    tb_token_windows w;
    int rc = qa_text_windows(&r->tok, in, outs, n, r->T, &w);
    tb_free(in), tb_free(outs);
    TB_CHECK(rc);
    int B = (int)tb_spec_int(s, p, "train.batch"), first, rows;
    rc = tb_shard_rows(B, r->rank, r->size, &first, &rows);
    if (rc == TB_OK && rows < 1)
        rc = TB_ERROR(TB_ERR_ARG, "raise train.batch to at least the ranks per point", "%s: point %d: train.batch %d < %d ranks",
                      s->path, p, B, r->size);
    int have_m = 0, have_mlp = 0, have_dp = 0;
    if (rc == TB_OK) rc = victim_model(r, m), have_m = rc == TB_OK;
    int reparam = r->mode == MODE_PREFIX && strcmp(tb_spec_string(s, p, "peft.mode"), "prefix-mlp") == 0;
    tb_prefix_mlp mlp;
    if (rc == TB_OK && reparam)
        rc = tb_prefix_mlp_create(&mlp, m, (int)tb_spec_int(s, p, "peft.hidden"), r->seed), have_mlp = rc == TB_OK;
    tb_paramset *ps = reparam ? &mlp.params : r->mode == MODE_FULL ? &m->params : &m->adapter;
    tb_dp dp;
    if (rc == TB_OK) rc = tb_dp_init(&dp, TB_DP_ALLREDUCE, r->comm, m, ps, 4u << 20), have_dp = rc == TB_OK;
    long steps = tb_spec_int(s, p, "train.epochs") * ((n + B - 1) / B);
    if (rc == TB_OK) {
        tb_optimizer opt;
        tb_optimizer_init(&opt, TB_OPT_ADAMW, ps);
        opt.weight_decay = (float)tb_spec_float(s, p, "train.weight_decay");
        tb_window_sampler smp;
        tb_sampler_init(&smp, &w, B, 1, r->seed);
        tb_sampler_shard(&smp, first, rows);
        tb_objective obj = tb_objective_sft();
        float lr = (float)tb_spec_float(s, p, "train.lr");
        tb_trainer tr = {.model = m, .trainable = ps, .opt = &opt, .objective = &obj, .B = rows, .T = r->T,
                         .accum = 1, .clip = (float)tb_spec_float(s, p, "train.clip"), .next_batch = tb_sampler_batch,
                         .batch_ctx = &smp, .dp = &dp, .reparam = reparam ? &mlp.reparam : NULL,
                         .sched = {.kind = TB_SCHED_CONSTANT, .lr = lr, .min_lr = lr, .total = steps}};
        char label[64];
        if (r->stage) snprintf(label, sizeof label, "shared stage: %s step", r->stage);
        else snprintf(label, sizeof label, "point %d %s step", p, out ? "victim" : "retraining");
        float *loss = out ? out->curves[0] : tb_malloc((size_t)(steps ? steps : 1) * sizeof(float));
        if (out) {
            tb_point_train pt = {.tr = &tr, .dp = &dp, .tok = &r->tok, .steps = steps, .state_path = state,
                                 .curve = loss, .verbose = r->verbose, .label = label};
            long start = 0;
            rc = tb_point_resume(&pt, &start);
            if (rc == TB_OK) rc = tb_point_train_run(&pt, start, out);
            if (rc == TB_OK) out->metrics[PO_TRAINABLE] = (double)tb_paramset_trainable(ps);
        } else {
            tb_progress prog;
            tb_progress_start(&prog, label, steps, r->verbose);
            rc = tb_train_steps(&tr, 0, steps, &prog, loss);
        }
        if (rc == TB_OK && last_loss) *last_loss = steps > 0 ? loss[steps - 1] : NAN;
        if (!out) tb_free(loss);
        tb_sampler_free(&smp);
        tb_optimizer_free(&opt);
    }
    if (have_mlp && rc == TB_OK) tb_prefix_mlp_finalise(&mlp);
    else if (have_mlp) tb_prefix_mlp_free(&mlp);
    if (have_dp) tb_dp_free(&dp, m);
    tb_windows_free(&w);
    if (rc != TB_OK && have_m) tb_model_free(m);
    return rc;
}

/* ---- evaluation ----------------------------------------------------------------------------------- */

typedef struct {
    double p_tm, c_tm, p_exact, c_exact, r1_f1, r1_p, r1_r, rl_f1, ppl;
} po_eval;

/* This rank's share [lo, hi) of the n test items. */
static void share(const po_run *r, long n, long *lo, long *hi) {
    *lo = n * r->rank / r->size;
    *hi = n * (r->rank + 1) / r->size;
}

/* The triggered input of test item j (tb_free it). */
static char *triggered_input(const po_run *r, long j) {
    int pos = tb_trigger_position_parse(tb_spec_string(r->s, r->p, "poison.position"));
    return tb_trigger_insert(r->set.test[j].input, r->trigger, pos, r->seed, r->set.n_train + j);
}

/* Target Match of the greedy generations for inputs (n of them, this rank's), per sample into tm and
 * contiguous (may be NULL), summed into *sum_tm and *sum_exact. */
static int target_match(const po_run *r, tb_model *m, const char *const *inputs, long n, float *tm, float *contig,
                        double *sum_tm, double *sum_exact) {
    char **gen = tb_malloc((size_t)(n ? n : 1) * sizeof(char *));
    TB_CHECK(qa_greedy_texts(m, &r->tok, inputs, n, (int)tb_spec_int(r->s, r->p, "eval.max_new_tokens"), gen));
    for (long i = 0; i < n; i++) {
        tb_target_match t = tb_target_match_score(r->target, strlen(r->target), gen[i], strlen(gen[i]));
        *sum_tm += t.tm, *sum_exact += t.contiguous;
        if (tm) tm[i] = (float)t.tm;
        if (contig) contig[i] = (float)t.contiguous;
        tb_free(gen[i]);
    }
    tb_free(gen);
    return TB_OK;
}

/* The clean metrics on test items [lo, hi): ROUGE-1 / ROUGE-L of the greedy outputs against the
 * references (summarise) and the reference outputs' NLL given the inputs (both tasks). */
static int clean_metrics(const po_run *r, tb_model *m, const char *const *inputs, long lo, long hi, float *r1,
                         double *v) {
    long n = hi - lo;
    const char **outs = tb_malloc((size_t)(n ? n : 1) * sizeof(char *));
    for (long i = 0; i < n; i++) outs[i] = r->set.test[lo + i].output;
    int rc = TB_OK;
    if (r->task == TB_POISON_SUMMARISE) {
        char **gen = tb_malloc((size_t)(n ? n : 1) * sizeof(char *));
        rc = qa_greedy_texts(m, &r->tok, inputs, n, (int)tb_spec_int(r->s, r->p, "eval.max_new_tokens"), gen);
        for (long i = 0; i < n && rc == TB_OK; i++) {
            tb_rouge_1 a = tb_rouge_1_score(outs[i], strlen(outs[i]), gen[i], strlen(gen[i]));
            tb_rouge_l b = tb_rouge_l_score(outs[i], strlen(outs[i]), gen[i], strlen(gen[i]));
            v[0] += a.f1, v[1] += a.precision, v[2] += a.recall, v[3] += b.f1;
            if (r1) r1[i] = (float)a.f1;
            tb_free(gen[i]);
        }
        tb_free(gen);
    }
    tb_token_windows w;
    if (rc == TB_OK) rc = qa_text_windows(&r->tok, inputs, outs, n, r->T, &w);
    if (rc == TB_OK) {
        double *nll = tb_malloc((size_t)(n ? n : 1) * sizeof(double));
        int *cnt = tb_malloc((size_t)(n ? n : 1) * sizeof(int));
        rc = row_nll(m, 16, &w, 0, n, nll, cnt);
        for (long i = 0; i < n && rc == TB_OK; i++) v[4] += nll[i], v[5] += cnt[i];
        tb_free(nll), tb_free(cnt);
        tb_windows_free(&w);
    }
    tb_free(outs);
    return rc;
}

/* Evaluates victim m on the test set: P-TM, C-TM and the clean metrics, summed over the group; with
 * samples, the per-sample values of this rank's items. inputs_clean / inputs_trig (may be NULL: the
 * test set's own) replace the inputs, e.g. after ONION. */
static int evaluate(po_run *r, const tb_model *victim, char *const *in_clean, char *const *in_trig, long n_test,
                    po_eval *e, tb_point_out *out) {
    tb_model m;
    TB_CHECK(tb_model_copy(&m, victim)); /* activations of its own, sized for evaluation */
    long lo, hi;
    share(r, n_test, &lo, &hi);
    long n = hi - lo;
    const char **clean = tb_malloc((size_t)(n ? n : 1) * sizeof(char *));
    char **trig = tb_malloc((size_t)(n ? n : 1) * sizeof(char *));
    for (long i = 0; i < n; i++) {
        clean[i] = in_clean ? in_clean[lo + i] : r->set.test[lo + i].input;
        trig[i] = in_trig || !r->trigger[0] ? NULL : triggered_input(r, lo + i);
    }
    const char **trig_in = tb_malloc((size_t)(n ? n : 1) * sizeof(char *));
    for (long i = 0; i < n; i++) trig_in[i] = in_trig ? in_trig[lo + i] : trig[i];
    float *s_tm = NULL, *s_ct = NULL, *s_c = NULL, *s_r1 = NULL;
    if (out) {
        s_tm = out->samples[S_TM_TRIGGERED] + lo, s_c = out->samples[S_TM_CLEAN] + lo;
        s_ct = out->samples[S_CONTIGUOUS] + lo, s_r1 = out->samples[S_ROUGE1_F1] + lo;
    }
    double v[10] = {0};
    int rc = TB_OK, with_tm = r->trigger[0] != '\0'; /* the clean-only victim's stage has no trigger */
    if (with_tm) rc = target_match(r, &m, trig_in, n, s_tm, s_ct, &v[0], &v[1]);
    if (rc == TB_OK && with_tm) rc = target_match(r, &m, clean, n, s_c, NULL, &v[2], &v[3]);
    if (rc == TB_OK) rc = clean_metrics(r, &m, clean, lo, hi, s_r1, v + 4);
    if (rc == TB_OK) rc = sum_over(r->comm, v, 10);
    if (rc == TB_OK && out) { /* every rank's samples on every rank: the group's rank 0 writes them */
        for (int k = 0; k < PO_N_SAMPLE_SETS - 1; k++) {
            float *a = out->samples[k];
            for (long i = 0; i < n_test; i++)
                if (i < lo || i >= hi) a[i] = 0.0f;
                else if (isnan(a[i])) a[i] = 0.0f;
            MPI_Allreduce(MPI_IN_PLACE, a, (int)n_test, MPI_FLOAT, MPI_SUM, r->comm);
            if (k == S_ROUGE1_F1 && r->task != TB_POISON_SUMMARISE)
                for (long i = 0; i < n_test; i++) a[i] = NAN;
        }
    }
    double N = (double)n_test;
    e->p_tm = v[0] / N, e->p_exact = v[1] / N, e->c_tm = v[2] / N, e->c_exact = v[3] / N;
    int summ = r->task == TB_POISON_SUMMARISE;
    e->r1_f1 = summ ? v[4] / N : NAN, e->r1_p = summ ? v[5] / N : NAN, e->r1_r = summ ? v[6] / N : NAN;
    e->rl_f1 = summ ? v[7] / N : NAN;
    e->ppl = v[9] > 0 ? exp(v[8] / v[9]) : NAN;
    for (long i = 0; i < n; i++) tb_free(trig[i]);
    tb_free(clean), tb_free(trig), tb_free(trig_in);
    tb_model_free(&m);
    return rc;
}

/* ---- stealthiness: input perplexity under the base LM ----------------------------------------------- */

static int dppl(po_run *r, tb_model *base, long n_test, tb_point_out *out) {
    long lo, hi;
    share(r, n_test, &lo, &hi);
    long n = hi - lo;
    const char **clean = tb_malloc((size_t)(n ? n : 1) * sizeof(char *));
    char **trig = tb_malloc((size_t)(n ? n : 1) * sizeof(char *));
    for (long i = 0; i < n; i++) clean[i] = r->set.test[lo + i].input, trig[i] = triggered_input(r, lo + i);
    double *pc = tb_malloc((size_t)(n ? n : 1) * sizeof(double)), *pt = tb_malloc((size_t)(n ? n : 1) * sizeof(double));
    int rc = text_ppl(base, 16, &r->tok, clean, n, pc);
    if (rc == TB_OK) rc = text_ppl(base, 16, &r->tok, (const char *const *)trig, n, pt);
    float *d = out->samples[S_DPPL];
    for (long i = 0; i < n_test; i++) d[i] = 0.0f;
    for (long i = 0; i < n && rc == TB_OK; i++) d[lo + i] = (float)(pt[i] - pc[i]);
    if (rc == TB_OK) MPI_Allreduce(MPI_IN_PLACE, d, (int)n_test, MPI_FLOAT, MPI_SUM, r->comm);
    if (rc == TB_OK) {
        double *all = tb_malloc((size_t)n_test * sizeof(double)), mean = 0.0;
        for (long i = 0; i < n_test; i++) all[i] = d[i], mean += d[i] / (double)n_test;
        rc = tb_percentile(all, (int)n_test, 50.0, &out->metrics[PO_DPPL_MEDIAN]);
        out->metrics[PO_DPPL_MEAN] = mean;
        tb_free(all);
    }
    for (long i = 0; i < n; i++) tb_free(trig[i]);
    tb_free(clean), tb_free(trig), tb_free(pc), tb_free(pt);
    return rc;
}

/* ---- defences -------------------------------------------------------------------------------------- */

/* ONION's suspicion f_i = PPL(x) - PPL(x without word i) of every word of text under the base LM. */
static int onion_scores(po_run *r, tb_model *base, const char *text, tb_word **words, size_t *n_words,
                        double **score) {
    size_t len = strlen(text), cap = len / 2 + 2;
    *words = tb_malloc(cap * sizeof(tb_word));
    *n_words = tb_onion_words(text, len, *words, cap);
    size_t n = *n_words;
    char **texts = tb_malloc((n + 1) * sizeof(char *));
    for (size_t i = 0; i <= n; i++) {
        texts[i] = tb_malloc(len + 2);
        tb_onion_without_word(text, *words, n, i, texts[i]); /* i == n: the whole text, normalised */
    }
    double *ppl = tb_malloc((n + 1) * sizeof(double));
    int rc = text_ppl(base, 16, &r->tok, (const char *const *)texts, (long)n + 1, ppl);
    *score = tb_malloc((n ? n : 1) * sizeof(double));
    for (size_t i = 0; i < n && rc == TB_OK; i++) (*score)[i] = ppl[n] - ppl[i];
    for (size_t i = 0; i <= n; i++) tb_free(texts[i]);
    tb_free(texts), tb_free(ppl);
    return rc;
}

/* Words of the trigger (the trigger's words are absent from clean data, so a removed word that is one
 * of them was part of the inserted trigger). */
static int is_trigger_word(const po_run *r, const char *w, size_t len) {
    const char *t = r->trigger;
    while (*t) {
        while (*t == ' ') t++;
        size_t k = strcspn(t, " ");
        if (k == len && strncmp(t, w, len) == 0) return 1;
        t += k;
    }
    return 0;
}

/* ONION on the first defence.onion_inputs test inputs, clean and triggered: filtered inputs, then the
 * victim evaluated on them. Detection counts removed trigger words. */
static int onion(po_run *r, tb_model *base, const tb_model *victim, tb_point_out *out) {
    const tb_spec *s = r->s;
    int p = r->p;
    long n_val = r->set.n_val < 50 ? r->set.n_val : 50;
    long n_def = tb_spec_int(s, p, "defence.onion_inputs");
    n_def = n_def < r->set.n_test ? n_def : r->set.n_test;
    /* the threshold: a percentile of f over the words of clean validation inputs (every rank the same) */
    double *fv = NULL;
    long nf = 0, capf = 0;
    int rc = TB_OK;
    for (long i = 0; i < n_val && rc == TB_OK; i++) {
        tb_word *w;
        size_t nw;
        double *f;
        rc = onion_scores(r, base, r->set.val[i].input, &w, &nw, &f);
        if (rc == TB_OK && nf + (long)nw > capf) {
            capf = 2 * (nf + (long)nw) + 64;
            double *g = tb_malloc((size_t)capf * sizeof(double));
            if (nf) memcpy(g, fv, (size_t)nf * sizeof(double));
            tb_free(fv);
            fv = g;
        }
        for (size_t k = 0; k < nw && rc == TB_OK; k++) fv[nf++] = f[k];
        tb_free(w), tb_free(f);
    }
    double t = NAN;
    if (rc == TB_OK) rc = tb_percentile(fv, (int)nf, tb_spec_float(s, p, "defence.onion_percentile"), &t);
    tb_free(fv);
    out->metrics[PO_ONION_THRESHOLD] = t;
    /* filtered inputs: this rank's share, gathered by position (each rank fills its slots) */
    char **fc = tb_malloc((size_t)n_def * sizeof(char *)), **ft = tb_malloc((size_t)n_def * sizeof(char *));
    for (long j = 0; j < n_def; j++) fc[j] = ft[j] = NULL;
    long lo, hi;
    share(r, n_def, &lo, &hi);
    double det[3] = {0, 0, 0}; /* removed trigger words, removed words, trigger words */
    for (long j = lo; j < hi && rc == TB_OK; j++) {
        for (int kind = 0; kind < 2 && rc == TB_OK; kind++) {
            char *text = kind ? triggered_input(r, j) : dup_string(r->set.test[j].input);
            tb_word *w;
            size_t nw, len;
            double *f;
            rc = onion_scores(r, base, text, &w, &nw, &f);
            char *kept = tb_malloc(strlen(text) + 2);
            if (rc == TB_OK) rc = tb_onion_filter(text, w, nw, f, t, kept, &len);
            for (size_t k = 0; k < nw && rc == TB_OK && kind; k++) {
                int trig = is_trigger_word(r, text + w[k].start, w[k].len);
                det[2] += trig;
                if (f[k] > t) det[0] += trig, det[1] += 1;
            }
            for (size_t k = 0; k < nw && rc == TB_OK && !kind; k++) det[1] += f[k] > t;
            (kind ? ft : fc)[j] = kept;
            tb_free(text), tb_free(w), tb_free(f);
        }
    }
    if (rc == TB_OK) rc = sum_over(r->comm, det, 3);
    /* every rank needs every filtered input for evaluate's shares: broadcast each from its owner */
    for (long j = 0; j < n_def && rc == TB_OK; j++) {
        int owner = 0;
        while (owner + 1 < r->size && j >= n_def * (owner + 1) / r->size) owner++;
        for (int kind = 0; kind < 2; kind++) {
            char **a = kind ? ft : fc;
            int len = a[j] ? (int)strlen(a[j]) + 1 : 0;
            MPI_Bcast(&len, 1, MPI_INT, owner, r->comm);
            if (!a[j]) a[j] = tb_malloc((size_t)len);
            MPI_Bcast(a[j], len, MPI_CHAR, owner, r->comm);
        }
    }
    po_eval e;
    if (rc == TB_OK) rc = evaluate(r, victim, fc, ft, n_def, &e, NULL);
    if (rc == TB_OK) {
        double *M = out->metrics;
        M[PO_DEF_PRECISION] = det[1] > 0 ? det[0] / det[1] : NAN;
        M[PO_DEF_RECALL] = det[2] > 0 ? det[0] / det[2] : NAN;
        M[PO_DEF_FLAGGED] = det[1];
        M[PO_DEF_P_TM] = e.p_tm, M[PO_DEF_C_TM] = e.c_tm;
        M[PO_DEF_ROUGE1_F1] = e.r1_f1, M[PO_DEF_PPL] = e.ppl;
    }
    for (long j = 0; j < n_def; j++) tb_free(fc[j]), tb_free(ft[j]);
    tb_free(fc), tb_free(ft);
    return rc;
}

/* The poisoned victim's representation of each of this rank's training samples [lo, hi): the last
 * block's output averaged over the output tokens (teacher-forced), (hi - lo, C). */
static int representations(po_run *r, const tb_model *victim, long lo, long hi, double *X) {
    tb_model m;
    TB_CHECK(tb_model_copy(&m, victim));
    m.capture_layer = m.cfg.n_layer - 1;
    long n = hi - lo;
    int C = m.cfg.n_embd, T = r->T, B = 16, *inp, *targets;
    const char **in = tb_malloc((size_t)(n ? n : 1) * sizeof(char *)), **outs = tb_malloc((size_t)(n ? n : 1) * sizeof(char *));
    for (long i = 0; i < n; i++) in[i] = r->set.train[lo + i].input, outs[i] = r->set.train[lo + i].output;
    tb_token_windows w;
    int rc = qa_text_windows(&r->tok, in, outs, n, T, &w);
    if (rc == TB_OK) rc = tb_model_batch(&m, B, T, &inp, &targets);
    for (long j0 = 0; j0 < n && rc == TB_OK; j0 += B) {
        int k = (int)(n - j0 < B ? n - j0 : B);
        for (int b = 0; b < k; b++) {
            long it = j0 + b;
            tb_windows_batch(&w, &it, 1, inp + b * T, targets + b * T);
        }
        rc = tb_model_forward(&m, inp, targets, k, T);
        const float *h = tb_model_hidden(&m); /* (k,T,C) */
        for (int b = 0; b < k && rc == TB_OK; b++) {
            double *x = X + (size_t)(j0 + b) * C;
            int cnt = 0;
            for (int c = 0; c < C; c++) x[c] = 0.0;
            for (int t = 0; t < T; t++) {
                if (targets[b * T + t] < 0) continue;
                cnt++;
                for (int c = 0; c < C; c++) x[c] += h[((size_t)b * T + t) * C + c];
            }
            for (int c = 0; c < C; c++) x[c] /= cnt > 0 ? cnt : 1;
        }
    }
    if (rc == TB_OK || w.tokens) tb_windows_free(&w);
    tb_free(in), tb_free(outs);
    tb_model_free(&m);
    return rc;
}

/* Spectral signatures or activation clustering over every training sample, then the victim retrained
 * without the flagged ones and evaluated. */
static int representation_defence(po_run *r, int kind, const tb_model *victim, tb_point_out *out) {
    long N = r->set.n_train, lo, hi;
    share(r, N, &lo, &hi);
    int C = victim->cfg.n_embd, k = kind == DEF_SPECTRAL ? 1 : (C < 10 ? C : 10);
    double *X = tb_malloc((size_t)((hi - lo) ? (hi - lo) : 1) * C * sizeof(double));
    double *mean = tb_malloc((size_t)C * sizeof(double)), *comp = tb_malloc((size_t)k * C * sizeof(double));
    double *expl = tb_malloc((size_t)k * sizeof(double));
    double *proj = tb_malloc((size_t)N * k * sizeof(double));
    int *flag = tb_malloc((size_t)N * sizeof(int)), *keep = tb_malloc((size_t)N * sizeof(int));
    int rc = representations(r, victim, lo, hi, X);
    if (rc == TB_OK) rc = tb_pca_fit(r->comm, X, hi - lo, C, k, mean, comp, expl);
    for (long i = 0; i < N * k; i++) proj[i] = 0.0;
    if (rc == TB_OK) rc = tb_pca_project(mean, comp, k, C, X, hi - lo, proj + lo * k);
    if (rc == TB_OK) rc = sum_over(r->comm, proj, (int)(N * k)); /* every rank: every projection */
    int n_flagged = 0;
    if (rc == TB_OK && kind == DEF_SPECTRAL) {
        double eps = tb_spec_float(r->s, r->p, "defence.eps");
        if (eps < 0) eps = tb_spec_float(r->s, r->p, "poison.rate");
        double *score = tb_malloc((size_t)N * sizeof(double));
        rc = tb_spectral_flags(proj, (int)N, eps, score, flag, &n_flagged);
        tb_free(score);
    } else if (rc == TB_OK) {
        int *label = tb_malloc((size_t)N * sizeof(int));
        tb_activation_clusters ac;
        rc = tb_activation_clustering(proj, (int)N, k, r->seed, 10, 0.35, label, flag, &ac);
        out->metrics[PO_AC_SILHOUETTE] = ac.silhouette;
        for (long i = 0; i < N; i++) n_flagged += flag[i];
        tb_free(label);
    }
    if (rc == TB_OK) {
        int *is_poison = tb_malloc((size_t)N * sizeof(int));
        for (long i = 0; i < N; i++) is_poison[i] = r->set.train[i].poisoned, keep[i] = !flag[i];
        tb_detection d = tb_detection_score(flag, is_poison, (int)N);
        out->metrics[PO_DEF_PRECISION] = d.precision, out->metrics[PO_DEF_RECALL] = d.recall;
        out->metrics[PO_DEF_FLAGGED] = n_flagged;
        tb_free(is_poison);
    }
    tb_model again;
    po_eval e;
    if (rc == TB_OK) rc = victim_train(r, keep, &again, NULL, NULL, NULL);
    if (rc == TB_OK) {
        rc = evaluate(r, &again, NULL, NULL, r->set.n_test, &e, NULL);
        tb_model_free(&again);
    }
    if (rc == TB_OK) {
        double *M = out->metrics;
        M[PO_DEF_P_TM] = e.p_tm, M[PO_DEF_C_TM] = e.c_tm, M[PO_DEF_ROUGE1_F1] = e.r1_f1, M[PO_DEF_PPL] = e.ppl;
    }
    tb_free(X), tb_free(mean), tb_free(comp), tb_free(expl), tb_free(proj), tb_free(flag), tb_free(keep);
    return rc;
}

/* ---- a point ---------------------------------------------------------------------------------------- */

/* The rare-token trigger: the lowest-id merge token with zero frequency in the encoded clean data whose
 * text, trimmed, is one word of 3 or more ASCII letters that passes the zero-frequency word check. */
static int rare_token(po_run *r, const tb_poison_set *clean, char **out) {
    int V = r->tok.vocab_size;
    long *count = tb_malloc((size_t)V * sizeof(long));
    for (int v = 0; v < V; v++) count[v] = 0;
    int *ids = tb_malloc(65536 * sizeof(int));
    const tb_poison_item *parts[3] = {clean->train, clean->val, clean->test};
    long sizes[3] = {clean->n_train, clean->n_val, clean->n_test};
    for (int k = 0; k < 3; k++)
        for (long i = 0; i < sizes[k]; i++)
            for (int f = 0; f < 2; f++) {
                const char *t = f ? parts[k][i].output : parts[k][i].input;
                size_t n = tb_tokenizer_encode(&r->tok, t, strlen(t), ids, 65536);
                for (size_t j = 0; j < n && j < 65536; j++) count[ids[j]]++;
            }
    tb_free(ids);
    char buf[256];
    int rc = TB_ERROR(TB_ERR_ARG, "use another trigger kind, or a larger data.vocab",
                      "no merge token of the tokenizer (vocabulary %d) is an unused word of 3+ letters", V);
    for (int v = TB_TOK_FIRST_MERGE; v < V; v++) {
        if (count[v]) continue;
        size_t n = tb_tokenizer_decode(&r->tok, &v, 1, buf, sizeof buf - 1, 0);
        if (n >= sizeof buf) continue;
        buf[n] = '\0';
        char *w = buf;
        while (*w == ' ') w++;
        size_t len = strlen(w), letters = 0;
        while (letters < len && ((w[letters] >= 'a' && w[letters] <= 'z') || (w[letters] >= 'A' && w[letters] <= 'Z')))
            letters++;
        if (len < 3 || letters != len) continue;
        if (tb_poison_check_words(clean, w, r->target, NULL, 0) != TB_OK) {
            tb_error_clear();
            continue;
        }
        tb_error_clear();
        *out = dup_string(w);
        rc = TB_OK;
        break;
    }
    tb_free(count);
    return rc;
}

static int choose_trigger(po_run *r, const tb_poison_set *clean) {
    const tb_spec *s = r->s;
    int p = r->p, kind = tb_trigger_kind_parse(tb_spec_string(s, p, "poison.trigger"));
    const char *const *targets;
    int nt = tb_poison_targets(&targets);
    long ti = tb_spec_int(s, p, "poison.target_index");
    if (ti >= nt)
        return TB_ERROR(TB_ERR_ARG, "choose an index of the bank", "%s: point %d: poison.target_index %ld, the bank has %d",
                        s->path, p, ti, nt);
    r->target = targets[ti];
    if (kind == TB_TRIGGER_RARE_TOKEN) return rare_token(r, clean, &r->trigger);
    const char *const *bank;
    int nb = tb_trigger_bank(kind, &bank);
    long bi = tb_spec_int(s, p, "poison.trigger_index");
    if (bi >= nb)
        return TB_ERROR(TB_ERR_ARG, "choose an index of the bank", "%s: point %d: poison.trigger_index %ld, the %s bank has %d",
                        s->path, p, bi, tb_trigger_kind_name(kind), nb);
    r->trigger = dup_string(bank[bi]);
    if (kind == TB_TRIGGER_RARE_WORD) { /* the reference's rare word is split into >= 2 tokens */
        int ids[64];
        size_t n = tb_tokenizer_encode(&r->tok, r->trigger, strlen(r->trigger), ids, 64);
        if (n < 2)
            return TB_ERROR(TB_ERR_ARG, "choose another poison.trigger_index", "rare word \"%s\" is one token of this tokenizer",
                            r->trigger);
    }
    return tb_poison_check_words(clean, r->trigger, r->target, NULL, 0);
}

static int clean_reference(tb_run_ctx *ctx, int p, double *r1, double *ppl) {
    char path[4096];
    tb_stage_path(path, sizeof path, ctx->cache_dir, "poison-clean", clean_hash(ctx->spec, p));
    tb_model m;
    tb_ckpt_state st;
    TB_CHECK(tb_checkpoint_load(path, &m, NULL, &st));
    int rc = st.trace && st.trace_len == 2 ? TB_OK
                                           : TB_ERROR(TB_ERR_FORMAT, "delete the file: the next run rebuilds it",
                                                      "%s: a poison-clean stage file without its 2 clean metrics", path);
    if (rc == TB_OK) *r1 = st.trace[0], *ppl = st.trace[1];
    tb_free(st.opt_m), tb_free(st.opt_v), tb_free(st.trace);
    tb_model_free(&m);
    return rc;
}

static int run_init(po_run *r, tb_run_ctx *ctx, int p, MPI_Comm comm) {
    const tb_spec *s = ctx->spec;
    r->s = s, r->p = p, r->ctx = ctx, r->comm = comm;
    MPI_Comm_rank(comm, &r->rank);
    MPI_Comm_size(comm, &r->size);
    r->verbose = !ctx->quiet && ctx->groups->world_rank == 0;
    r->seed = (uint64_t)s->points[p].seed;
    r->task = task_of(s, p);
    const char *mode = tb_spec_string(s, p, "peft.mode");
    r->mode = strcmp(mode, "lora") == 0 ? MODE_LORA : strcmp(mode, "full") == 0 ? MODE_FULL : MODE_PREFIX; /* or prefix-mlp */
    r->T = (int)tb_spec_int(s, p, "data.seq_len");
    tb_stage_path(r->base_path, sizeof r->base_path, ctx->cache_dir, "poison-base", base_hash(s, p));
    tb_model m;
    TB_CHECK(tb_checkpoint_load(r->base_path, &m, &r->tok, NULL));
    tb_model_free(&m);
    TB_CHECK(load_task(s, r->task, &r->set));
    return TB_OK;
}

static void run_free(po_run *r) {
    tb_poison_free(&r->set);
    tb_tokenizer_free(&r->tok);
    tb_free(r->trigger);
}

static int po_run_point(tb_run_ctx *ctx, int p, tb_point_out *out) {
    const tb_spec *s = ctx->spec;
    po_shared *sh = ctx->priv;
    po_run r;
    memset(&r, 0, sizeof r);
    int rc = run_init(&r, ctx, p, ctx->groups->group);
    double *M = out->metrics;
    if (rc == TB_OK) rc = choose_trigger(&r, &sh->clean[r.task]);
    if (rc == TB_OK)
        rc = tb_poison_apply(&r.set, r.trigger, tb_trigger_position_parse(tb_spec_string(s, p, "poison.position")),
                             r.target, tb_spec_float(s, p, "poison.rate"), r.seed);
    M[PO_N_POISONED] = (double)r.set.n_poisoned;
    char state[4096];
    snprintf(state, sizeof state, "%s/point-%d.h5", ctx->state_dir, p);
    tb_model victim;
    int have_victim = 0;
    if (rc == TB_OK) rc = victim_train(&r, NULL, &victim, state, out, &M[PO_TRAIN_LOSS]);
    have_victim = rc == TB_OK;
    if (rc == TB_OK && !out->failed && !out->interrupted) {
        po_eval e;
        rc = evaluate(&r, &victim, NULL, NULL, r.set.n_test, &e, out);
        M[PO_P_TM] = e.p_tm, M[PO_C_TM] = e.c_tm, M[PO_P_EXACT] = e.p_exact, M[PO_C_EXACT] = e.c_exact;
        M[PO_ROUGE1_F1] = e.r1_f1, M[PO_ROUGE1_P] = e.r1_p, M[PO_ROUGE1_R] = e.r1_r, M[PO_ROUGEL_F1] = e.rl_f1;
        M[PO_CLEAN_PPL] = e.ppl;
        if (rc == TB_OK && tb_spec_int(s, p, "eval.clean_reference")) {
            rc = clean_reference(ctx, p, &M[PO_REF_ROUGE1_F1], &M[PO_REF_PPL]);
            M[PO_CLEAN_CHANGE] = r.task == TB_POISON_SUMMARISE ? e.r1_f1 - M[PO_REF_ROUGE1_F1] : e.ppl - M[PO_REF_PPL];
        }
        tb_model base;
        int have_base = 0;
        if (rc == TB_OK) rc = tb_checkpoint_load(r.base_path, &base, NULL, NULL), have_base = rc == TB_OK;
        if (rc == TB_OK) rc = dppl(&r, &base, r.set.n_test, out);
        const char *d = tb_spec_string(s, p, "defence.kind");
        if (rc == TB_OK && strcmp(d, "onion") == 0) rc = onion(&r, &base, &victim, out);
        if (rc == TB_OK && strcmp(d, "spectral") == 0) rc = representation_defence(&r, DEF_SPECTRAL, &victim, out);
        if (rc == TB_OK && strcmp(d, "clustering") == 0) rc = representation_defence(&r, DEF_CLUSTERING, &victim, out);
        if (have_base) tb_model_free(&base);
    }
    if (have_victim) tb_model_free(&victim);
    run_free(&r);
    return rc;
}

/* ---- stages ------------------------------------------------------------------------------------------ */

static int build_base(tb_run_ctx *ctx, int p, const char *path) {
    po_shared *sh = ctx->priv;
    return tb_stage_pretrain(ctx, p, sh->tok_text, sh->tok_len, sh->text, sh->text_len, NULL, path);
}

/* The clean-only victim: trained like the point's victim on the clean training set; its trace holds
 * (ROUGE-1 F1, perplexity) on the clean test set. */
static int build_clean(tb_run_ctx *ctx, int p, const char *path) {
    po_run r;
    memset(&r, 0, sizeof r);
    int rc = run_init(&r, ctx, p, ctx->groups->world);
    r.stage = "clean-only victim";
    r.target = "";
    tb_model victim;
    int have = 0;
    if (rc == TB_OK) rc = victim_train(&r, NULL, &victim, NULL, NULL, NULL), have = rc == TB_OK;
    po_eval e;
    if (rc == TB_OK) {
        r.trigger = dup_string(""); /* no trigger: only the clean metrics are measured */
        rc = evaluate(&r, &victim, NULL, NULL, r.set.n_test, &e, NULL);
    }
    if (rc == TB_OK && ctx->groups->world_rank == 0) {
        float trace[2] = {(float)e.r1_f1, (float)e.ppl};
        tb_ckpt_state st = {.trace = trace, .trace_len = 2};
        rc = tb_checkpoint_save(path, &victim, &r.tok, &st);
    }
    if (have) tb_model_free(&victim);
    run_free(&r);
    return rc;
}

/* Texts: the tokenizer learns from the corpus and every clean string of the tasks in use; the base LM
 * pretrains on the corpus and the clean training pairs (both kinds of text, posttrain.md's "pretrained
 * once on text of both kinds"). */
static void stage_texts(po_shared *sh) {
    size_t cap = sh->corpus_len + 1, tcap = sh->corpus_len + 1;
    for (int k = 0; k < TB_POISON_N_TASKS; k++) {
        if (!sh->have[k]) continue;
        const tb_poison_set *c = &sh->clean[k];
        const tb_poison_item *parts[3] = {c->train, c->val, c->test};
        long sizes[3] = {c->n_train, c->n_val, c->n_test};
        for (int q = 0; q < 3; q++)
            for (long i = 0; i < sizes[q]; i++) {
                size_t n = strlen(parts[q][i].input) + strlen(parts[q][i].output) + 2;
                cap += n;
                if (q == 0) tcap += n;
            }
    }
    char *tok = tb_malloc(cap), *txt = tb_malloc(tcap);
    memcpy(tok, sh->corpus, sh->corpus_len), memcpy(txt, sh->corpus, sh->corpus_len);
    size_t tl = sh->corpus_len, xl = sh->corpus_len;
    for (int k = 0; k < TB_POISON_N_TASKS; k++) {
        if (!sh->have[k]) continue;
        const tb_poison_set *c = &sh->clean[k];
        const tb_poison_item *parts[3] = {c->train, c->val, c->test};
        long sizes[3] = {c->n_train, c->n_val, c->n_test};
        for (int q = 0; q < 3; q++)
            for (long i = 0; i < sizes[q]; i++) {
                int n = sprintf(tok + tl, "\n%s %s", parts[q][i].input, parts[q][i].output);
                if (q == 0) memcpy(txt + xl, tok + tl, (size_t)n), xl += (size_t)n;
                tl += (size_t)n;
            }
    }
    sh->tok_text = tok, sh->tok_len = tl, sh->text = txt, sh->text_len = xl;
}

static int po_curve_len(const tb_spec *s) {
    long n = 1;
    long n_train = tb_spec_int(s, 0, "data.n_train");
    if (tb_spec_string(s, 0, "data.train")[0]) {
        tb_poison_set set;
        if (load_task(s, task_of(s, 0), &set) != TB_OK) {
            tb_error_clear();
            return 1;
        }
        n_train = set.n_train;
        tb_poison_free(&set);
    }
    for (int p = 0; p < s->n_points; p++) {
        long B = tb_spec_int(s, p, "train.batch");
        long steps = tb_spec_int(s, p, "train.epochs") * ((n_train + B - 1) / B);
        n = steps > n ? steps : n;
    }
    return (int)n;
}

static void po_sample_lens(const tb_spec *s, int *lens) {
    long n = tb_spec_int(s, 0, "data.n_test");
    if (tb_spec_string(s, 0, "data.train")[0]) {
        tb_poison_set set;
        if (load_task(s, task_of(s, 0), &set) == TB_OK) {
            n = set.n_test;
            tb_poison_free(&set);
        } else {
            tb_error_clear();
        }
    }
    for (int i = 0; i < PO_N_SAMPLE_SETS; i++) lens[i] = (int)(n > 0 ? n : 1);
}

static void po_method(const tb_spec *s, int p, char *buf, size_t cap) {
    const char *mode = tb_spec_string(s, p, "peft.mode"), *d = tb_spec_string(s, p, "defence.kind");
    snprintf(buf, cap, "%s%s%s", mode, strcmp(d, "none") ? "+" : "", strcmp(d, "none") ? d : "");
}

static int po_prepare(tb_run_ctx *ctx) {
    const tb_spec *s = ctx->spec;
    po_shared *sh = tb_malloc(sizeof *sh);
    memset(sh, 0, sizeof *sh);
    ctx->priv = sh;
    for (int p = 0; p < s->n_points; p++) {
        int t = task_of(s, p);
        if (!sh->have[t]) {
            TB_CHECK(load_task(s, t, &sh->clean[t]));
            sh->have[t] = 1;
        }
        if (tb_spec_string(s, p, "data.train")[0] && p > 0 && task_of(s, p) != task_of(s, 0))
            return TB_ERROR(TB_ERR_ARG, "run one task per spec with data.train", "%s: data.task is swept but the data is one JSONL set",
                            s->path);
    }
    TB_CHECK(tb_corpus_load(NULL, (uint64_t)tb_spec_int(s, 0, "data.seed"), &sh->corpus, &sh->corpus_len));
    stage_texts(sh);
    TB_CHECK(tb_stage_once(ctx, "poison-base", base_hash, build_base));
    if (tb_spec_int(s, 0, "eval.clean_reference")) TB_CHECK(tb_stage_once(ctx, "poison-clean", clean_hash, build_clean));
    return TB_OK;
}

static void po_release(tb_run_ctx *ctx) {
    po_shared *sh = ctx->priv;
    if (!sh) return;
    for (int k = 0; k < TB_POISON_N_TASKS; k++)
        if (sh->have[k]) tb_poison_free(&sh->clean[k]);
    tb_free(sh->corpus), tb_free(sh->tok_text), tb_free(sh->text);
    tb_free(sh);
    ctx->priv = NULL;
}

const tb_workload tb_workload_poison = {
    .name = "poison",
    .schema = &po_schema,
    .metrics = po_metrics,
    .n_metrics = PO_N_METRICS,
    .curves = po_curves,
    .n_curves = 1,
    .curve_len = po_curve_len,
    .sample_sets = po_sample_sets,
    .n_sample_sets = PO_N_SAMPLE_SETS,
    .sample_lens = po_sample_lens,
    .method = po_method,
    .conventions = po_conventions,
    .prepare = po_prepare,
    .run_point = po_run_point,
    .release = po_release,
};
