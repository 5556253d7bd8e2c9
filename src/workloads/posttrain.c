/*
 * posttrain.c: the joint post-training workload (../shared/reference/posttrain.md, section A, XRIGHT):
 * SFT and DPO on instruction tasks with a programmatic checker, combined by four schedules:
 *   sequential  T_SFT epochs of SFT, then T_DPO = round(lambda T) epochs of DPO
 *   mix         every step one SFT and one DPO batch, loss (1 - lambda) f_SFT + lambda f_DPO
 *   alright     every step one batch of the objective drawn as Bernoulli(lambda) (1 = DPO) from the
 *               counter-based stream (seed, "alright", step): the same on every rank of the group
 *   maxright    every step the objective with the larger weighted optimality gap: exact gaps every k
 *               steps (no grad, this step's batches, group mean), in between the stale gap of the
 *               objective just trained refreshed from its loss on this step's batch; ties go to SFT
 * Shared stages: the base model theta_0 (tokenizer + pretraining on the corpus), and the optima f*_SFT,
 * f*_DPO, each objective trained alone from theta_0 with the point's hyperparameters.
 *
 * Every method starts at theta_0, and the DPO reference pi_ref is theta_0 for all of them
 * (dpo_reference=initial), so f_DPO is one function and the gaps are comparable. Reference log-probs
 * are computed once per point, before the first step. Each step's forward covers only the rows it
 * uses (the trainer's rows_at), so the wall time compares the schedules' real costs.
 */
#include <math.h>
#include <string.h>
#include <sys/resource.h>

#include "qa_eval.h"

enum { M_SEQUENTIAL = 0, M_MIX, M_ALRIGHT, M_MAXRIGHT, M_SFT_ONLY, M_DPO_ONLY };
enum { STEP_SFT = 1, STEP_DPO = 2, STEP_MIX = 3 }; /* bit 1: SFT rows, bit 2: preference rows */

static const tb_spec_field pt_fields[] = {
    {"data.seed", TB_SPEC_INT, "1234", "[0, inf)", NULL, 0, "seed of the tasks, the corpus and the base model"},
    {"data.sft", TB_SPEC_STRING, "", NULL, NULL, 0, "SFT JSONL (prompt, response); empty = generated tasks"},
    {"data.pref", TB_SPEC_STRING, "", NULL, NULL, 0, "preference JSONL (prompt, chosen, rejected); with data.sft"},
    {"data.sft_eval", TB_SPEC_STRING, "", NULL, NULL, 0, "held-out SFT JSONL (empty: a tenth of data.sft)"},
    {"data.pref_eval", TB_SPEC_STRING, "", NULL, NULL, 0, "held-out preference JSONL (empty: a tenth of data.pref)"},
    {"data.n_sft", TB_SPEC_INT, "1200", "[1, inf)", NULL, 0, "generated SFT items (XRIGHT: 3 x n_pref)"},
    {"data.n_pref", TB_SPEC_INT, "400", "[1, inf)", NULL, 0, "generated preference pairs"},
    {"data.n_sft_eval", TB_SPEC_INT, "160", "[1, inf)", NULL, 0, "generated held-out instructions"},
    {"data.n_pref_eval", TB_SPEC_INT, "160", "[1, inf)", NULL, 0, "generated held-out pairs"},
    {"data.vocab", TB_SPEC_INT, "512", "[261, 65536]", NULL, 0, "BPE vocabulary size"},
    {"data.seq_len", TB_SPEC_INT, "64", "[8, 65536]", NULL, 0, "tokens per row (prompt + response must fit)"},
    {"data.val_fraction", TB_SPEC_FLOAT, "0.05", "(0, 0.5)", NULL, 0, "corpus tail held out of base pretraining"},
    {"model.family", TB_SPEC_STRING, "gpt2", NULL, "gpt2|llama", 0, "model family"},
    {"model.layers", TB_SPEC_INT, "2", "[1, 256]", NULL, 0, "transformer blocks"},
    {"model.width", TB_SPEC_INT, "64", "[2, 65536]", NULL, 0, "model width C"},
    {"model.heads", TB_SPEC_INT, "4", "[1, 1024]", NULL, 0, "attention heads"},
    {"model.kv_heads", TB_SPEC_INT, "0", "[0, 1024]", NULL, 0, "key/value heads for llama (0 = heads)"},
    {"base.steps", TB_SPEC_INT, "300", "[0, inf)", NULL, 0, "pretraining steps of theta_0 on the corpus"},
    {"base.lr", TB_SPEC_FLOAT, "3e-3", "(0, inf)", NULL, 0, "base pretraining learning rate"},
    {"base.batch", TB_SPEC_INT, "16", "[1, inf)", NULL, 0, "base pretraining global batch"},
    {"train.method", TB_SPEC_STRING, "alright", NULL, "sequential|mix|alright|maxright", 1, "the schedule"},
    {"train.lambda", TB_SPEC_FLOAT, "0.5", "[0, 1]", NULL, 1, "the DPO weight lambda"},
    {"train.epochs", TB_SPEC_INT, "4", "[1, inf)", NULL, 1, "epochs T (steps per epoch: the SFT loader's length)"},
    {"train.mode", TB_SPEC_STRING, "full", NULL, "full|lora", 1, "full fine-tuning or LoRA"},
    {"train.lr", TB_SPEC_FLOAT, "1e-3", "(0, inf)", NULL, 1, "AdamW learning rate"},
    {"train.schedule", TB_SPEC_STRING, "constant", NULL, "constant|linear|cosine", 1, "decay after warm-up"},
    {"train.warmup_steps", TB_SPEC_INT, "0", "[0, inf)", NULL, 1, "linear warm-up steps"},
    {"train.batch", TB_SPEC_INT, "12", "[1, inf)", NULL, 1, "SFT rows per step (XRIGHT: 12)"},
    {"train.pref_batch", TB_SPEC_INT, "4", "[1, inf)", NULL, 1, "preference pairs per step (XRIGHT: 4)"},
    {"train.weight_decay", TB_SPEC_FLOAT, "0", "[0, inf)", NULL, 1, "AdamW decoupled weight decay"},
    {"train.clip", TB_SPEC_FLOAT, "1.0", "[0, inf)", NULL, 1, "global gradient-norm clip (0 = off)"},
    {"lora.rank", TB_SPEC_INT, "8", "[1, 4096]", NULL, 1, "LoRA rank on every linear layer (train.mode lora)"},
    {"lora.alpha", TB_SPEC_FLOAT, "16", "(0, inf)", NULL, 1, "LoRA alpha (scale alpha / rank)"},
    {"dpo.beta", TB_SPEC_FLOAT, "0.1", "(0, inf)", NULL, 1, "DPO beta"},
    {"dpo.loss", TB_SPEC_STRING, "sigmoid", NULL, "sigmoid|ipo", 1, "DPO loss"},
    {"dpo.label_smoothing", TB_SPEC_FLOAT, "0", "[0, 0.5)", NULL, 1, "label smoothing eps of the sigmoid loss"},
    {"maxright.k", TB_SPEC_INT, "10", "[1, inf)", NULL, 1, "MAXRIGHT: exact gaps every k steps"},
    {"optimum.max_epochs", TB_SPEC_INT, "0", "[0, inf)", NULL, 1, "f* training: epochs at most (0 = 2 T)"},
    {"optimum.tol", TB_SPEC_FLOAT, "1e-4", "[0, inf)", NULL, 1, "f* training stops when an epoch improves less"},
    {"eval.every", TB_SPEC_INT, "0", "[0, inf)", NULL, 1, "eval-set losses every this many steps (0 = 4 per epoch)"},
    {"eval.win_prompts", TB_SPEC_INT, "0", "[0, inf)", NULL, 0, "held-out prompts for win rate and accuracy (0 = all)"},
    {"eval.max_new_tokens", TB_SPEC_INT, "24", "[1, inf)", NULL, 0, "greedy generation length (capped by data.seq_len)"},
};

static const tb_spec_schema pt_schema = {"posttrain", pt_fields, (int)(sizeof pt_fields / sizeof pt_fields[0])};

enum {
    PT_F_SFT = 0, PT_F_DPO, PT_F_SFT_STAR, PT_F_DPO_STAR, PT_GAP_SFT, PT_GAP_DPO, PT_IDEAL_DISTANCE, PT_REWARD_ACC,
    PT_REWARD_MARGIN, PT_WIN_RATE, PT_TASK_ACC, PT_TASK_ACC_REF, PT_REWARD_MEAN, PT_F_SFT_SWITCH, PT_F_SFT_INIT,
    PT_F_DPO_INIT, PT_DPO_STEP_SHARE, PT_TRAIN_S, PT_STEP_MS, PT_PEAK_RSS_MIB, PT_STEPS, PT_CAPABILITY,
    PT_CAPABILITY_REF, PT_N_METRICS
};
static const char *const pt_metrics[PT_N_METRICS] = {
    "f_sft", "f_dpo", "f_sft_star", "f_dpo_star", "gap_sft", "gap_dpo", "ideal_distance", "reward_acc",
    "reward_margin", "win_rate", "task_acc", "task_acc_ref", "reward_mean", "f_sft_switch", "f_sft_init",
    "f_dpo_init", "dpo_step_share", "train_s", "step_ms", "peak_rss_mib", "steps", "capability_acc",
    "capability_acc_ref"};

enum { C_LOSS = 0, C_OBJECTIVE, C_F_SFT_BATCH, C_F_DPO_BATCH, C_GAP_SFT_EST, C_GAP_DPO_EST, C_F_SFT_EVAL, C_F_DPO_EVAL, PT_N_CURVES };
static const char *const pt_curves[PT_N_CURVES] = {"loss", "objective", "f_sft_batch", "f_dpo_batch",
                                                   "gap_sft_est", "gap_dpo_est", "f_sft_eval", "f_dpo_eval"};

static const char *const pt_conventions[][2] = {
    {"dpo_reference", "initial: pi_ref = theta_0 for every method, log-probs computed once per point"},
    {"dpo_logprob", "sequence_sum over response tokens and the closing EOS"},
    {"sft_loss", "token mean over response tokens and the closing EOS of the batch"},
    {"prompt_template", "role tokens: [BOS][PROMPT] instruction [ANSWER] response [EOS] in place of \"User: {}\\nAssistant: \""},
    {"sequential_split", "T_DPO = round(lambda T) epochs of DPO after T - T_DPO epochs of SFT"},
    {"steps_per_epoch", "floor(n_sft / train.batch): the SFT loader's length; the preference stream cycles at train.pref_batch pairs per step"},
    {"data_order", "step s reads SFT batch s and preference batch s of two epoch-shuffled streams, whichever it uses"},
    {"alright_draw", "Bernoulli(lambda) from the stream (seed, \"alright\", step), 1 = DPO"},
    {"maxright_gaps", "s_SFT = (1-lambda)(f_SFT - f*_SFT), s_DPO = lambda (f_DPO - f*_DPO); exact every maxright.k steps incl. step 0 on the step's batches, else the trained objective's gap refreshed from its batch loss; ties to SFT"},
    {"optimizer", "one AdamW state for both objectives"},
    {"capability", "MMLU stand-in: multiple-choice accuracy on the corpus's famous-author and world-fact questions, plain-text prompt \"Q: {question} A:\", the option (answer or one of 3 distractors) with the largest summed log-likelihood, ties wrong; capability_acc_ref is theta_0's"},
    {"optimum", "each objective alone from theta_0 with the point's training keys; eval after every epoch; stop when it improves by less than optimum.tol or after optimum.max_epochs (2 T); f* = the smallest eval loss"},
    {"ideal_distance", "sqrt(gap_SFT^2 + gap_DPO^2) on the eval splits"},
    {"win_rate", "greedy generations on held-out prompts vs pi_ref's, judged by R = 2 correct + style; win 1, tie 1/2"},
    {"task_accuracy", "exact match of the normalised greedy response on held-out instructions with a checker"},
    {"wall_time", "train_s: the training loop of this run (a resumed point counts the resumed part only)"},
    {"peak_memory", "peak RSS, max over the group's ranks"},
    {NULL, NULL},
};

/* ---- shared state and stages ---------------------------------------------------------------------- */

typedef struct {
    tb_instruct_set data;
    char *corpus, *tok_text;
    size_t corpus_len, tok_len;
} pt_shared;

static uint64_t base_hash(const tb_spec *s, int p) {
    static const char *const keys[] = {"data.", "model.", "base."};
    return tb_spec_hash_keys(s, p, keys, 3);
}

/* The optima depend on everything but the schedule and lambda. */
static uint64_t optimum_hash(const tb_spec *s, int p) {
    static const char *const keys[] = {"data.",        "model.",           "base.",           "train.epochs",
                                       "train.mode",   "train.lr",         "train.schedule",  "train.warmup_steps",
                                       "train.batch",  "train.pref_batch", "train.weight_decay", "train.clip",
                                       "lora.",        "dpo.",             "optimum.",        "eval.every"};
    return tb_spec_hash_keys(s, p, keys, 16) ^ (uint64_t)s->points[p].seed * 0x9e3779b97f4a7c15ull;
}

static int load_data(const tb_spec *s, tb_instruct_set *d) {
    const char *sft = tb_spec_string(s, 0, "data.sft"), *pref = tb_spec_string(s, 0, "data.pref");
    if (sft[0] || pref[0]) {
        if (!sft[0] || !pref[0])
            return TB_ERROR(TB_ERR_ARG, "give both data.sft and data.pref, or neither (generated tasks)",
                            "%s: data.%s is set but data.%s is empty", s->path, sft[0] ? "sft" : "pref",
                            sft[0] ? "pref" : "sft");
        const char *se = tb_spec_string(s, 0, "data.sft_eval"), *pe = tb_spec_string(s, 0, "data.pref_eval");
        return tb_instruct_load_jsonl(d, sft, pref, se[0] ? se : NULL, pe[0] ? pe : NULL);
    }
    return tb_instruct_generate(d, (uint64_t)tb_spec_int(s, 0, "data.seed"), tb_spec_int(s, 0, "data.n_sft"),
                                tb_spec_int(s, 0, "data.n_pref"), tb_spec_int(s, 0, "data.n_sft_eval"),
                                tb_spec_int(s, 0, "data.n_pref_eval"));
}

/* ---- one training run: a point, or one objective alone for the optima --------------------------------- */

typedef struct {
    const tb_spec *s;
    int p;
    pt_shared *sh;
    MPI_Comm comm;
    int rank, size, verbose;
    uint64_t seed;
    int method;
    double lambda;
    int T;                        /* tokens per row */
    long spe, steps, switch_step; /* steps per epoch, total, Sequential's first DPO step */
    int Bs, Bp;                   /* global SFT rows and pairs per step */
    int sft_first, sft_rows, pair_first, pair_rows;
    tb_model m;
    tb_tokenizer tok;
    tb_token_windows w_sft, w_c, w_r, w_sft_eval, w_ce, w_re; /* responses; chosen; rejected */
    float *ref_c, *ref_r, *ref_ce, *ref_re;                   /* pi_ref's summed response log-probs */
    /* step s reads SFT batch s and preference batch s of two epoch-shuffled streams, whichever it uses */
    tb_window_sampler sft_stream, pref_stream;
    tb_pref_role *role;
    int *pair;
    float *ref_seq;
    tb_pref_rows rows;
    tb_dpo_params dpo;
    tb_objective obj;
    /* per step */
    long cur_step;
    int cur_kind;
    double f_star_sft, f_star_dpo, gap_sft, gap_dpo; /* MAXRIGHT's weighted gaps */
    int k;
    long eval_every;
    float *curves;   /* PT_N_CURVES rows of steps, or NULL */
    double f_sft_switch;
} pt_run;

static int step_kind(pt_run *r, long step);

/* The rows this rank reads at a step of kind `kind`. */
static int rows_of_kind(const pt_run *r, int kind) {
    return (kind & STEP_SFT ? r->sft_rows : 0) + (kind & STEP_DPO ? 2 * r->pair_rows : 0);
}

static int pt_rows_at(void *ctx, long step) {
    pt_run *r = ctx;
    int n = rows_of_kind(r, step_kind(r, step));
    return n > 0 ? n : 1; /* a rank without rows of this kind runs one unscored row */
}

/* Fills this rank's rows of `kind` at `step` into inp/targets and the objective's row table. */
static void fill_rows(pt_run *r, long step, int kind, int *inp, int *targets) {
    int T = r->T, k = 0;
    long n_tok = 0;
    if (kind & STEP_SFT) {
        for (int i = 0; i < r->Bs; i++) { /* the group's token count, from every rank's draws */
            long it = tb_sampler_window(&r->sft_stream, step, 0, i);
            const float *mask = r->w_sft.mask + (size_t)it * T;
            for (int t = 0; t < T; t++) n_tok += mask[t] > 0.0f;
            if (i < r->sft_first || i >= r->sft_first + r->sft_rows) continue;
            tb_windows_batch(&r->w_sft, &it, 1, inp + k * T, targets + k * T);
            r->role[k] = TB_PREF_SFT, r->pair[k] = -1, r->ref_seq[k] = 0.0f;
            k++;
        }
    }
    if (kind & STEP_DPO) {
        for (int i = 0; i < r->pair_rows; i++) {
            long it = tb_sampler_window(&r->pref_stream, step, 0, r->pair_first + i);
            int c = k + i, j = k + r->pair_rows + i;
            tb_windows_batch(&r->w_c, &it, 1, inp + c * T, targets + c * T);
            tb_windows_batch(&r->w_r, &it, 1, inp + j * T, targets + j * T);
            r->role[c] = TB_PREF_CHOSEN, r->pair[c] = j, r->ref_seq[c] = r->ref_c[it];
            r->role[j] = TB_PREF_REJECTED, r->pair[j] = -1, r->ref_seq[j] = r->ref_r[it];
        }
        k += 2 * r->pair_rows;
    }
    if (k == 0) { /* nothing of this kind on this rank: one row that scores nothing */
        for (int t = 0; t < T; t++) inp[t] = TB_TOK_PAD, targets[t] = -1;
        r->role[0] = TB_PREF_UNUSED, r->pair[0] = -1;
    }
    r->rows.n_sft_tokens = n_tok;
    r->rows.n_pairs = kind & STEP_DPO ? r->Bp : 0;
    r->rows.w_sft = kind == STEP_MIX ? (float)(1.0 - r->lambda) : kind == STEP_SFT ? 1.0f : 0.0f;
    r->rows.w_dpo = kind == STEP_MIX ? (float)r->lambda : kind == STEP_DPO ? 1.0f : 0.0f;
}

static int pt_batch(void *ctx, long step, int micro, int *inp, int *targets) {
    (void)micro;
    pt_run *r = ctx;
    fill_rows(r, step, step_kind(r, step), inp, targets);
    return TB_OK;
}

static int sum_over(MPI_Comm comm, double *v, int n) {
    if (MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, comm) != MPI_SUCCESS)
        return TB_ERROR(TB_ERR_MPI, "a rank of the group may have failed", "posttrain: all-reduce failed");
    return TB_OK;
}

/* f_SFT and f_DPO of the step's own batches, no gradient, over the group (MAXRIGHT's exact gaps). */
static int batch_losses(pt_run *r, long step, double *f_sft, double *f_dpo) {
    int *inp, *targets, B = rows_of_kind(r, STEP_MIX);
    TB_CHECK(tb_model_batch(&r->m, B > 0 ? B : 1, r->T, &inp, &targets));
    fill_rows(r, step, STEP_MIX, inp, targets);
    int n = B > 0 ? B : 1;
    TB_CHECK(tb_model_forward(&r->m, inp, targets, n, r->T));
    tb_batch_view bv = {.model = &r->m, .targets = r->m.targets, .B = n, .T = r->T};
    double loss, v[2];
    TB_CHECK(r->obj.loss_and_grad(&r->obj, &bv, 1.0f, &loss, 0));
    v[0] = r->rows.f_sft, v[1] = r->rows.f_dpo;
    TB_CHECK(sum_over(r->comm, v, 2));
    *f_sft = v[0], *f_dpo = v[1];
    return TB_OK;
}

/* MAXRIGHT's exact weighted gaps on the batches of `step` (collective over the group). */
static int exact_gaps(pt_run *r, long step) {
    double fs, fd;
    TB_CHECK(batch_losses(r, step, &fs, &fd));
    r->gap_sft = (1.0 - r->lambda) * (fs - r->f_star_sft);
    r->gap_dpo = r->lambda * (fd - r->f_star_dpo);
    return TB_OK;
}

/* The kind of step `step`: fixed by the method, drawn (ALRIGHT), or the larger weighted gap (MAXRIGHT,
 * from the gaps pt_after_step left). */
static int step_kind(pt_run *r, long step) {
    if (step == r->cur_step) return r->cur_kind;
    int kind = STEP_SFT;
    switch (r->method) {
    case M_SEQUENTIAL: kind = step < r->switch_step ? STEP_SFT : STEP_DPO; break;
    case M_MIX: kind = STEP_MIX; break;
    case M_SFT_ONLY: kind = STEP_SFT; break;
    case M_DPO_ONLY: kind = STEP_DPO; break;
    case M_ALRIGHT: {
        tb_rng g = tb_rng_make(r->seed ^ tb_rng_stream_id("alright"), (uint64_t)step);
        kind = tb_rng_uniform(&g) < r->lambda ? STEP_DPO : STEP_SFT;
        break;
    }
    case M_MAXRIGHT: kind = r->gap_dpo > r->gap_sft ? STEP_DPO : STEP_SFT; break;
    }
    r->cur_step = step, r->cur_kind = kind;
    return kind;
}

/* Mean f_SFT over the eval instructions, or f_DPO / reward accuracy / margin over the eval pairs,
 * this rank's share of the items, summed over the group. */
static int eval_losses(pt_run *r, double *f_sft, double *f_dpo, double *acc, double *margin) {
    long n_s = r->w_sft_eval.n_windows, n_p = r->w_ce.n_windows;
    int cap = rows_of_kind(r, STEP_MIX), T = r->T, *inp, *targets;
    TB_CHECK(tb_model_batch(&r->m, cap, T, &inp, &targets));
    long n_tok = 0;
    for (long i = 0; i < n_s * T; i++) n_tok += r->w_sft_eval.mask[i] > 0.0f;
    double v[4] = {0, 0, 0, 0};
    int per_sft = cap, per_pair = cap / 2;
    /* SFT items: rank r takes chunks r, r + size, ...; every chunk is one forward */
    for (long c0 = (long)r->rank * per_sft; c0 < n_s; c0 += (long)r->size * per_sft) {
        int n = (int)(n_s - c0 < per_sft ? n_s - c0 : per_sft);
        for (int b = 0; b < n; b++) {
            long it = c0 + b;
            tb_windows_batch(&r->w_sft_eval, &it, 1, inp + b * T, targets + b * T);
            r->role[b] = TB_PREF_SFT, r->pair[b] = -1;
        }
        r->rows = (tb_pref_rows){.role = r->role, .pair = r->pair, .ref_seq = r->ref_seq, .n_sft_tokens = n_tok,
                                 .w_sft = 1.0f};
        TB_CHECK(tb_model_forward(&r->m, inp, targets, n, T));
        tb_batch_view bv = {.model = &r->m, .targets = r->m.targets, .B = n, .T = T};
        double loss;
        TB_CHECK(r->obj.loss_and_grad(&r->obj, &bv, 1.0f, &loss, 0));
        v[0] += r->rows.f_sft;
    }
    for (long c0 = (long)r->rank * per_pair; c0 < n_p; c0 += (long)r->size * per_pair) {
        int n = (int)(n_p - c0 < per_pair ? n_p - c0 : per_pair);
        for (int b = 0; b < n; b++) {
            long it = c0 + b;
            tb_windows_batch(&r->w_ce, &it, 1, inp + b * T, targets + b * T);
            tb_windows_batch(&r->w_re, &it, 1, inp + (n + b) * T, targets + (n + b) * T);
            r->role[b] = TB_PREF_CHOSEN, r->pair[b] = n + b, r->ref_seq[b] = r->ref_ce[it];
            r->role[n + b] = TB_PREF_REJECTED, r->pair[n + b] = -1, r->ref_seq[n + b] = r->ref_re[it];
        }
        r->rows = (tb_pref_rows){.role = r->role, .pair = r->pair, .ref_seq = r->ref_seq, .n_pairs = n_p,
                                 .w_dpo = 1.0f};
        TB_CHECK(tb_model_forward(&r->m, inp, targets, 2 * n, T));
        tb_batch_view bv = {.model = &r->m, .targets = r->m.targets, .B = 2 * n, .T = T};
        double loss;
        TB_CHECK(r->obj.loss_and_grad(&r->obj, &bv, 1.0f, &loss, 0));
        v[1] += r->rows.f_dpo, v[2] += r->rows.reward_acc, v[3] += r->rows.reward_margin;
    }
    r->rows = (tb_pref_rows){.role = r->role, .pair = r->pair, .ref_seq = r->ref_seq};
    TB_CHECK(sum_over(r->comm, v, 4));
    *f_sft = v[0], *f_dpo = v[1];
    if (acc) *acc = v[2];
    if (margin) *margin = v[3];
    return TB_OK;
}

/* Summed response log-probs of windows w under the current model, every rank gets all of them. */
static int sequence_logprobs(pt_run *r, const tb_token_windows *w, float *out) {
    return qa_window_logprobs(&r->m, w, rows_of_kind(r, STEP_MIX), r->comm, out);
}

static int make_windows(pt_run *r) {
    const tb_instruct_set *d = &r->sh->data;
    long n = d->n_sft > d->n_sft_eval ? d->n_sft : d->n_sft_eval;
    n = n > d->n_pref ? n : d->n_pref;
    n = n > d->n_pref_eval ? n : d->n_pref_eval;
    const char **a = tb_malloc((size_t)n * sizeof(char *)), **b = tb_malloc((size_t)n * sizeof(char *));
    int rc = TB_OK;
#define TEXTS(items, count, field, win)                                                                                \
    do {                                                                                                               \
        for (long i = 0; i < (count); i++) a[i] = (items)[i].prompt, b[i] = (items)[i].field;                          \
        if (rc == TB_OK) rc = qa_text_windows(&r->tok, a, b, (count), r->T, (win));                                    \
    } while (0)
    TEXTS(d->sft, d->n_sft, response, &r->w_sft);
    TEXTS(d->sft_eval, d->n_sft_eval, response, &r->w_sft_eval);
    TEXTS(d->pref, d->n_pref, chosen, &r->w_c);
    TEXTS(d->pref, d->n_pref, rejected, &r->w_r);
    TEXTS(d->pref_eval, d->n_pref_eval, chosen, &r->w_ce);
    TEXTS(d->pref_eval, d->n_pref_eval, rejected, &r->w_re);
#undef TEXTS
    tb_free(a);
    tb_free(b);
    return rc;
}

static int method_of(const char *name) {
    static const char *const names[] = {"sequential", "mix", "alright", "maxright"};
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0) return i;
    TB_ASSERT(0); /* the schema's choices */
    return -1;
}

/* Everything a run needs before its first step: theta_0 (with LoRA adapters), windows, the
 * shards of the group's rows, the objective, and pi_ref's log-probs (theta_0's: LoRA starts at 0). */
static int run_init(pt_run *r, tb_run_ctx *ctx, int p, MPI_Comm comm, int method, const char *base_path) {
    const tb_spec *s = ctx->spec;
    r->s = s, r->p = p, r->sh = ctx->priv, r->comm = comm, r->method = method, r->cur_step = -1;
    MPI_Comm_rank(comm, &r->rank);
    MPI_Comm_size(comm, &r->size);
    r->seed = (uint64_t)s->points[p].seed;
    r->lambda = tb_spec_float(s, p, "train.lambda");
    r->T = (int)tb_spec_int(s, p, "data.seq_len");
    r->Bs = (int)tb_spec_int(s, p, "train.batch");
    r->Bp = (int)tb_spec_int(s, p, "train.pref_batch");
    r->k = (int)tb_spec_int(s, p, "maxright.k");
    TB_CHECK(tb_shard_rows(r->Bs, r->rank, r->size, &r->sft_first, &r->sft_rows));
    TB_CHECK(tb_shard_rows(r->Bp, r->rank, r->size, &r->pair_first, &r->pair_rows));
    TB_CHECK(tb_checkpoint_load(base_path, &r->m, &r->tok, NULL));
    if (strcmp(tb_spec_string(s, p, "train.mode"), "lora") == 0) {
        tb_adapter_config ac = {.lora_rank = (int)tb_spec_int(s, p, "lora.rank"),
                                .lora_alpha = (float)tb_spec_float(s, p, "lora.alpha"),
                                .lora_targets = TB_LORA_Q | TB_LORA_O | TB_LORA_UP | TB_LORA_DOWN};
        /* every linear layer: gpt2's fused c_attn is the Q target, llama's k, v and gate are their own */
        if (r->m.cfg.family == TB_FAMILY_LLAMA) ac.lora_targets |= TB_LORA_K | TB_LORA_V | TB_LORA_GATE;
        TB_CHECK(tb_model_add_adapters(&r->m, &ac, r->seed));
    }
    TB_CHECK(make_windows(r));
    long n_sft = r->w_sft.n_windows;
    r->spe = n_sft / r->Bs > 0 ? n_sft / r->Bs : 1;
    long epochs = tb_spec_int(s, p, "train.epochs");
    r->steps = r->spe * epochs;
    r->switch_step = r->spe * (epochs - lround(r->lambda * (double)epochs));
    long every = tb_spec_int(s, p, "eval.every");
    r->eval_every = every > 0 ? every : (r->spe / 4 > 0 ? r->spe / 4 : 1);
    int cap = rows_of_kind(r, STEP_MIX);
    cap = cap > 2 ? cap : 2;
    r->role = tb_malloc((size_t)cap * sizeof *r->role);
    r->pair = tb_malloc((size_t)cap * sizeof *r->pair);
    r->ref_seq = tb_malloc((size_t)cap * sizeof *r->ref_seq);
    r->rows = (tb_pref_rows){.role = r->role, .pair = r->pair, .ref_seq = r->ref_seq};
    const char *loss = tb_spec_string(s, p, "dpo.loss");
    r->dpo = (tb_dpo_params){.kind = strcmp(loss, "ipo") == 0 ? TB_DPO_IPO : TB_DPO_SIGMOID,
                             .beta = (float)tb_spec_float(s, p, "dpo.beta"),
                             .label_smoothing = (float)tb_spec_float(s, p, "dpo.label_smoothing")};
    r->obj = tb_objective_pref(&r->dpo, &r->rows);
    /* the model's activations are sized here, at the largest step (Mix's): smaller steps use fewer rows */
    int *inp, *targets;
    TB_CHECK(tb_model_batch(&r->m, cap, r->T, &inp, &targets));
    r->ref_c = tb_malloc((size_t)r->w_c.n_windows * sizeof(float));
    r->ref_r = tb_malloc((size_t)r->w_c.n_windows * sizeof(float));
    r->ref_ce = tb_malloc((size_t)(r->w_ce.n_windows ? r->w_ce.n_windows : 1) * sizeof(float));
    r->ref_re = tb_malloc((size_t)(r->w_ce.n_windows ? r->w_ce.n_windows : 1) * sizeof(float));
    TB_CHECK(sequence_logprobs(r, &r->w_c, r->ref_c));
    TB_CHECK(sequence_logprobs(r, &r->w_r, r->ref_r));
    TB_CHECK(sequence_logprobs(r, &r->w_ce, r->ref_ce));
    TB_CHECK(sequence_logprobs(r, &r->w_re, r->ref_re));
    tb_sampler_init(&r->sft_stream, &r->w_sft, r->Bs, 1, r->seed ^ tb_rng_stream_id("posttrain/sft"));
    tb_sampler_init(&r->pref_stream, &r->w_c, r->Bp, 1, r->seed ^ tb_rng_stream_id("posttrain/pref"));
    return TB_OK;
}

static void run_free(pt_run *r) {
    tb_objective_pref_free(&r->obj);
    tb_model_free(&r->m);
    tb_tokenizer_free(&r->tok);
    tb_windows_free(&r->w_sft), tb_windows_free(&r->w_sft_eval), tb_windows_free(&r->w_c);
    tb_windows_free(&r->w_r), tb_windows_free(&r->w_ce), tb_windows_free(&r->w_re);
    tb_free(r->ref_c), tb_free(r->ref_r), tb_free(r->ref_ce), tb_free(r->ref_re);
    tb_free(r->role), tb_free(r->pair), tb_free(r->ref_seq);
    if (r->sft_stream.perm) tb_sampler_free(&r->sft_stream);
    if (r->pref_stream.perm) tb_sampler_free(&r->pref_stream);
    memset(r, 0, sizeof *r);
}

static int make_trainer(pt_run *r, tb_trainer *tr, tb_optimizer *opt, tb_dp *dp) {
    const tb_spec *s = r->s;
    int p = r->p;
    tb_paramset *ps = r->m.adapter.numel ? &r->m.adapter : &r->m.params;
    if (ps == &r->m.adapter) tb_paramset_set_frozen(&r->m.params, "", 1);
    TB_CHECK(tb_dp_init(dp, TB_DP_ALLREDUCE, r->comm, &r->m, ps, 4u << 20));
    tb_optimizer_init(opt, TB_OPT_ADAMW, ps);
    opt->weight_decay = (float)tb_spec_float(s, p, "train.weight_decay");
    tb_sched_kind sk;
    TB_CHECK(tb_sched_kind_parse(tb_spec_string(s, p, "train.schedule"), &sk));
    *tr = (tb_trainer){.model = &r->m, .trainable = ps, .opt = opt, .objective = &r->obj,
                       .B = rows_of_kind(r, STEP_MIX) > 2 ? rows_of_kind(r, STEP_MIX) : 2, .T = r->T, .accum = 1,
                       .clip = (float)tb_spec_float(s, p, "train.clip"), .next_batch = pt_batch, .batch_ctx = r,
                       .rows_at = pt_rows_at, .dp = dp,
                       .sched = {.kind = sk, .lr = (float)tb_spec_float(s, p, "train.lr"), .min_lr = 0.0f,
                                 .warmup = tb_spec_int(s, p, "train.warmup_steps"), .total = r->steps}};
    return TB_OK;
}

/* ---- the optima (a shared stage) ------------------------------------------------------------------- */

/* Trains one objective alone from theta_0 on the world communicator, evaluating after every epoch:
 * f* is the smallest eval loss. Returns the epochs run in *epochs. */
static int train_alone(tb_run_ctx *ctx, int p, int method, const char *base, double *f_star, long *epochs,
                       tb_model *keep) {
    const tb_spec *s = ctx->spec;
    pt_run r;
    memset(&r, 0, sizeof r);
    int rc = run_init(&r, ctx, p, ctx->groups->world, method, base);
    long max_epochs = tb_spec_int(s, p, "optimum.max_epochs");
    if (max_epochs == 0) max_epochs = 2 * tb_spec_int(s, p, "train.epochs");
    double tol = tb_spec_float(s, p, "optimum.tol");
    tb_trainer tr;
    tb_optimizer opt = {0};
    tb_dp dp;
    int have_dp = 0;
    if (rc == TB_OK) rc = make_trainer(&r, &tr, &opt, &dp), have_dp = rc == TB_OK;
    if (rc == TB_OK) tr.sched.total = r.spe * max_epochs;
    *f_star = INFINITY;
    double prev = INFINITY;
    *epochs = 0;
    tb_progress prog;
    tb_progress_start(&prog, method == M_SFT_ONLY ? "shared stage: f*_SFT step" : "shared stage: f*_DPO step",
                      r.spe * max_epochs, !ctx->quiet && ctx->groups->world_rank == 0);
    for (long e = 0; e < max_epochs && rc == TB_OK; e++) {
        rc = tb_train_steps(&tr, e * r.spe, (e + 1) * r.spe, &prog, NULL);
        double fs, fd;
        if (rc == TB_OK) rc = eval_losses(&r, &fs, &fd, NULL, NULL);
        if (rc != TB_OK) break;
        double f = method == M_SFT_ONLY ? fs : fd;
        *epochs = e + 1;
        if (f < *f_star) *f_star = f;
        if (prev - f < tol) break; /* improved by less than tol over this epoch (or got worse) */
        prev = f;
    }
    if (rc == TB_OK && keep) rc = tb_model_copy(keep, &r.m);
    if (have_dp) tb_dp_free(&dp, &r.m);
    tb_optimizer_free(&opt);
    run_free(&r);
    return rc;
}

/* The optimum stage's file: the SFT-optimal model, with (f*_SFT, f*_DPO, epochs of each) as trace. */
static int build_optimum(tb_run_ctx *ctx, int p, const char *path) {
    char base[4096];
    tb_stage_path(base, sizeof base, ctx->cache_dir, "posttrain-base", base_hash(ctx->spec, p));
    double fs, fd;
    long es, ed;
    tb_model best;
    tb_tokenizer tok;
    TB_CHECK(train_alone(ctx, p, M_SFT_ONLY, base, &fs, &es, &best));
    int rc = train_alone(ctx, p, M_DPO_ONLY, base, &fd, &ed, NULL);
    if (rc == TB_OK && ctx->groups->world_rank == 0) {
        tb_model m0;
        rc = tb_checkpoint_load(base, &m0, &tok, NULL);
        if (rc == TB_OK) {
            float trace[4] = {(float)fs, (float)fd, (float)es, (float)ed};
            tb_ckpt_state st = {.trace = trace, .trace_len = 4};
            rc = tb_checkpoint_save(path, &best, &tok, &st);
            tb_model_free(&m0);
            tb_tokenizer_free(&tok);
        }
    }
    if (rc == TB_OK && !ctx->quiet && ctx->groups->world_rank == 0)
        printf("shared stage: f*_SFT = %.5f (%ld epochs), f*_DPO = %.5f (%ld epochs)\n", fs, es, fd, ed);
    tb_model_free(&best);
    return rc;
}

static int build_base(tb_run_ctx *ctx, int p, const char *path) {
    pt_shared *sh = ctx->priv;
    return tb_stage_pretrain(ctx, p, sh->tok_text, sh->tok_len, sh->corpus, sh->corpus_len, NULL, path);
}

/* ---- a point ------------------------------------------------------------------------------------ */

/* After each step: the step's batch losses, MAXRIGHT's refreshed gap, and the eval-set losses every
 * eval_every steps, at Sequential's switch and at the last step. Collective over the group. */
static int pt_after_step(void *ctx, long step, double loss) {
    pt_run *r = ctx;
    float *c = r->curves;
    long n = r->steps;
    int kind = step_kind(r, step);
    double v[2] = {r->rows.f_sft, r->rows.f_dpo};
    TB_CHECK(sum_over(r->comm, v, 2));
    if (r->method == M_MAXRIGHT) {
        /* the trained objective's stale gap, from its loss before the update; then, when the next
         * step is due for it, both gaps exactly. The curves keep the gaps the next step reads, so a
         * resumed run continues from them. */
        if (kind == STEP_SFT) r->gap_sft = (1.0 - r->lambda) * (v[0] - r->f_star_sft);
        else r->gap_dpo = r->lambda * (v[1] - r->f_star_dpo);
        if ((step + 1) % r->k == 0 && step + 1 < n) TB_CHECK(exact_gaps(r, step + 1));
        c[C_GAP_SFT_EST * n + step] = (float)r->gap_sft;
        c[C_GAP_DPO_EST * n + step] = (float)r->gap_dpo;
    }
    (void)loss;
    c[C_OBJECTIVE * n + step] = kind == STEP_MIX ? 0.5f : kind == STEP_DPO ? 1.0f : 0.0f;
    c[C_F_SFT_BATCH * n + step] = kind & STEP_SFT ? (float)v[0] : NAN;
    c[C_F_DPO_BATCH * n + step] = kind & STEP_DPO ? (float)v[1] : NAN;
    int at_switch = r->method == M_SEQUENTIAL && step == r->switch_step - 1;
    if ((step + 1) % r->eval_every == 0 || step == n - 1 || at_switch) {
        double fs, fd;
        TB_CHECK(eval_losses(r, &fs, &fd, NULL, NULL));
        c[C_F_SFT_EVAL * n + step] = (float)fs;
        c[C_F_DPO_EVAL * n + step] = (float)fd;
    }
    return TB_OK;
}

/* Win rate, task accuracy and mean reward of greedy generations on the held-out prompts with a
 * checker, against pi_ref = theta_0: this rank's share of the prompts, summed over the group. */
static int generation_metrics(pt_run *r, tb_model *m0, const tb_tokenizer *tok0, int max_new, long n_prompts,
                              double *out) {
    const tb_instruct_set *d = &r->sh->data;
    long n = d->n_sft_eval < n_prompts || n_prompts == 0 ? d->n_sft_eval : n_prompts;
    long lo = n * r->rank / r->size, hi = n * (r->rank + 1) / r->size, k = 0;
    const char **prompts = tb_malloc((size_t)(hi - lo + 1) * sizeof(char *));
    long *item = tb_malloc((size_t)(hi - lo + 1) * sizeof(long));
    for (long i = lo; i < hi; i++)
        if (d->sft_eval[i].answer) prompts[k] = d->sft_eval[i].prompt, item[k++] = i;
    char **mine = tb_malloc((size_t)(k + 1) * sizeof(char *)), **ref = tb_malloc((size_t)(k + 1) * sizeof(char *));
    int rc = qa_greedy_texts(&r->m, &r->tok, prompts, k, max_new, mine);
    if (rc == TB_OK) rc = qa_greedy_texts(m0, tok0, prompts, k, max_new, ref);
    double v[5] = {0, 0, 0, 0, 0}; /* wins, correct, correct (ref), reward, items */
    for (long j = 0; j < k && rc == TB_OK; j++) {
        const char *a = d->sft_eval[item[j]].answer;
        double rm = tb_task_reward(a, mine[j]), rr = tb_task_reward(a, ref[j]);
        v[0] += rm > rr ? 1.0 : rm == rr ? 0.5 : 0.0;
        v[1] += tb_task_correct(a, mine[j]);
        v[2] += tb_task_correct(a, ref[j]);
        v[3] += rm;
        v[4] += 1.0;
        tb_free(mine[j]), tb_free(ref[j]);
    }
    tb_free(prompts), tb_free(item), tb_free(mine), tb_free(ref);
    TB_CHECK(rc);
    TB_CHECK(sum_over(r->comm, v, 5));
    for (int i = 0; i < 4; i++) out[i] = v[4] > 0 ? v[i] / v[4] : NAN;
    return TB_OK;
}

/* Capability retention: the multiple-choice accuracy of the trained model and of theta_0. */
static int capability_metrics(pt_run *r, tb_model *m0, const tb_tokenizer *tok0, double *acc, double *acc_ref) {
    const int B = rows_of_kind(r, STEP_MIX);
    TB_CHECK(tb_capability_accuracy(&r->m, &r->tok, B, r->comm, acc));
    return tb_capability_accuracy(m0, tok0, B, r->comm, acc_ref);
}

static int optimum_values(tb_run_ctx *ctx, int p, double *fs, double *fd) {
    char path[4096];
    tb_stage_path(path, sizeof path, ctx->cache_dir, "posttrain-optimum", optimum_hash(ctx->spec, p));
    tb_model m;
    tb_ckpt_state st;
    TB_CHECK(tb_checkpoint_load(path, &m, NULL, &st));
    int rc = st.trace && st.trace_len == 4
                 ? TB_OK
                 : TB_ERROR(TB_ERR_FORMAT, "delete the file: the next run rebuilds the stage",
                            "%s: a posttrain-optimum stage file without its 4 optimum values", path);
    if (rc == TB_OK) *fs = st.trace[0], *fd = st.trace[1];
    tb_free(st.opt_m), tb_free(st.opt_v), tb_free(st.trace);
    tb_model_free(&m);
    return rc;
}

static int pt_run_point(tb_run_ctx *ctx, int p, tb_point_out *out) {
    const tb_spec *s = ctx->spec;
    char base[4096], state[4096];
    tb_stage_path(base, sizeof base, ctx->cache_dir, "posttrain-base", base_hash(s, p));
    snprintf(state, sizeof state, "%s/point-%d.h5", ctx->state_dir, p);
    pt_run r;
    memset(&r, 0, sizeof r);
    int rc = run_init(&r, ctx, p, ctx->groups->group, method_of(tb_spec_string(s, p, "train.method")), base);
    double *M = out->metrics;
    if (rc == TB_OK) rc = optimum_values(ctx, p, &r.f_star_sft, &r.f_star_dpo);
    r.curves = out->curves[0];
    if (rc == TB_OK) rc = eval_losses(&r, &M[PT_F_SFT_INIT], &M[PT_F_DPO_INIT], NULL, NULL);
    tb_trainer tr;
    tb_optimizer opt = {0};
    tb_dp dp;
    int have_dp = 0;
    if (rc == TB_OK) rc = make_trainer(&r, &tr, &opt, &dp), have_dp = rc == TB_OK;
    char label[64];
    snprintf(label, sizeof label, "point %d step", p);
    tb_point_train pt = {.tr = &tr, .dp = &dp, .tok = &r.tok, .steps = r.steps, .diverge_factor = 0.0f,
                         .state_path = state, .curve = r.curves, .curve_rows = PT_N_CURVES,
                         .verbose = !ctx->quiet && ctx->groups->world_rank == 0, .label = label,
                         .after_step = pt_after_step, .hook_ctx = &r};
    long start = 0;
    if (rc == TB_OK) rc = tb_point_resume(&pt, &start);
    /* MAXRIGHT's gaps: exact at step 0, else where the restored curves left them */
    if (rc == TB_OK && start == 0 && r.method == M_MAXRIGHT) rc = exact_gaps(&r, 0);
    if (rc == TB_OK && start > 0 && r.method == M_MAXRIGHT) {
        r.gap_sft = r.curves[C_GAP_SFT_EST * r.steps + start - 1];
        r.gap_dpo = r.curves[C_GAP_DPO_EST * r.steps + start - 1];
    }
    double t0 = tb_now();
    if (rc == TB_OK) rc = tb_point_train_run(&pt, start, out);
    double train_s = tb_now() - t0;
    if (rc == TB_OK && !out->failed && !out->interrupted) {
        rc = eval_losses(&r, &M[PT_F_SFT], &M[PT_F_DPO], &M[PT_REWARD_ACC], &M[PT_REWARD_MARGIN]);
        M[PT_F_SFT_STAR] = r.f_star_sft, M[PT_F_DPO_STAR] = r.f_star_dpo;
        M[PT_GAP_SFT] = M[PT_F_SFT] - r.f_star_sft;
        M[PT_GAP_DPO] = M[PT_F_DPO] - r.f_star_dpo;
        M[PT_IDEAL_DISTANCE] = sqrt(M[PT_GAP_SFT] * M[PT_GAP_SFT] + M[PT_GAP_DPO] * M[PT_GAP_DPO]);
        if (r.method == M_SEQUENTIAL && r.switch_step > 0)
            M[PT_F_SFT_SWITCH] = r.curves[C_F_SFT_EVAL * r.steps + r.switch_step - 1];
        long dpo_steps = 0;
        for (long st = 0; st < r.steps; st++) dpo_steps += r.curves[C_OBJECTIVE * r.steps + st] > 0.0f;
        M[PT_DPO_STEP_SHARE] = (double)dpo_steps / (double)r.steps;
        M[PT_TRAIN_S] = train_s;
        M[PT_STEP_MS] = start < r.steps ? 1e3 * train_s / (double)(r.steps - start) : NAN;
        M[PT_STEPS] = (double)r.steps;
        /* pi_ref = theta_0, loaded once for its generations and its capability */
        double g[4] = {NAN, NAN, NAN, NAN};
        tb_model m0;
        tb_tokenizer tok0;
        int have_ref = 0;
        if (rc == TB_OK) rc = tb_checkpoint_load(base, &m0, &tok0, NULL), have_ref = rc == TB_OK;
        if (rc == TB_OK)
            rc = generation_metrics(&r, &m0, &tok0, (int)tb_spec_int(s, p, "eval.max_new_tokens"),
                                    tb_spec_int(s, p, "eval.win_prompts"), g);
        M[PT_WIN_RATE] = g[0], M[PT_TASK_ACC] = g[1], M[PT_TASK_ACC_REF] = g[2], M[PT_REWARD_MEAN] = g[3];
        if (rc == TB_OK) rc = capability_metrics(&r, &m0, &tok0, &M[PT_CAPABILITY], &M[PT_CAPABILITY_REF]);
        if (have_ref) tb_model_free(&m0), tb_tokenizer_free(&tok0);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        double rss = (double)ru.ru_maxrss / 1024.0;
        MPI_Allreduce(MPI_IN_PLACE, &rss, 1, MPI_DOUBLE, MPI_MAX, r.comm);
        M[PT_PEAK_RSS_MIB] = rss;
    }
    if (have_dp) tb_dp_free(&dp, &r.m);
    tb_optimizer_free(&opt);
    run_free(&r);
    return rc;
}

/* ---- the workload ----------------------------------------------------------------------------------- */

static int pt_curve_len(const tb_spec *s) {
    tb_instruct_set d;
    if (load_data(s, &d) != TB_OK) {
        tb_error_clear(); /* prepare reports it */
        return 1;
    }
    long n = 1;
    for (int p = 0; p < s->n_points; p++) {
        long spe = d.n_sft / tb_spec_int(s, p, "train.batch");
        long steps = (spe > 0 ? spe : 1) * tb_spec_int(s, p, "train.epochs");
        n = steps > n ? steps : n;
    }
    tb_instruct_free(&d);
    return (int)n;
}

static void pt_method(const tb_spec *s, int p, char *buf, size_t cap) {
    snprintf(buf, cap, "%s%s", tb_spec_string(s, p, "train.method"),
             strcmp(tb_spec_string(s, p, "train.mode"), "lora") == 0 ? "+lora" : "");
}

/* Tokenizer text: the corpus and every string of the data (the tokenizer is not knowledge). */
static void tokenizer_text(pt_shared *sh) {
    const tb_instruct_set *d = &sh->data;
    size_t cap = sh->corpus_len + 1;
    for (long i = 0; i < d->n_sft; i++) cap += strlen(d->sft[i].prompt) + strlen(d->sft[i].response) + 2;
    for (long i = 0; i < d->n_pref; i++)
        cap += strlen(d->pref[i].prompt) + strlen(d->pref[i].chosen) + strlen(d->pref[i].rejected) + 3;
    char *t = tb_malloc(cap);
    memcpy(t, sh->corpus, sh->corpus_len);
    size_t len = sh->corpus_len;
    for (long i = 0; i < d->n_sft; i++) len += (size_t)sprintf(t + len, "\n%s %s", d->sft[i].prompt, d->sft[i].response);
    for (long i = 0; i < d->n_pref; i++)
        len += (size_t)sprintf(t + len, "\n%s %s %s", d->pref[i].prompt, d->pref[i].chosen, d->pref[i].rejected);
    sh->tok_text = t;
    sh->tok_len = len;
}

static int pt_prepare(tb_run_ctx *ctx) {
    const tb_spec *s = ctx->spec;
    pt_shared *sh = tb_malloc(sizeof *sh);
    memset(sh, 0, sizeof *sh);
    ctx->priv = sh;
    TB_CHECK(load_data(s, &sh->data));
    for (int p = 0; p < s->n_points; p++) {
        long spe = sh->data.n_sft / tb_spec_int(s, p, "train.batch");
        if (spe < 1)
            return TB_ERROR(TB_ERR_ARG, "lower train.batch or add SFT items",
                            "%s: point %d: train.batch %ld exceeds the %ld SFT items", s->path, p,
                            tb_spec_int(s, p, "train.batch"), sh->data.n_sft);
        if (sh->data.n_pref_eval < 1 || sh->data.n_sft_eval < 1)
            return TB_ERROR(TB_ERR_ARG, "give held-out items (data.n_sft_eval, data.n_pref_eval or the eval files)",
                            "%s: the evaluation splits are empty", s->path);
    }
    TB_CHECK(tb_corpus_load(NULL, (uint64_t)tb_spec_int(s, 0, "data.seed"), &sh->corpus, &sh->corpus_len));
    tokenizer_text(sh);
    TB_CHECK(tb_stage_once(ctx, "posttrain-base", base_hash, build_base));
    return tb_stage_once(ctx, "posttrain-optimum", optimum_hash, build_optimum);
}

static void pt_release(tb_run_ctx *ctx) {
    pt_shared *sh = ctx->priv;
    if (!sh) return;
    tb_instruct_free(&sh->data);
    tb_free(sh->corpus);
    tb_free(sh->tok_text);
    tb_free(sh);
    ctx->priv = NULL;
}

const tb_workload tb_workload_posttrain = {
    .name = "posttrain",
    .schema = &pt_schema,
    .metrics = pt_metrics,
    .n_metrics = PT_N_METRICS,
    .curves = pt_curves,
    .n_curves = PT_N_CURVES,
    .curve_len = pt_curve_len,
    .method = pt_method,
    .conventions = pt_conventions,
    .prepare = pt_prepare,
    .run_point = pt_run_point,
    .release = pt_release,
};
