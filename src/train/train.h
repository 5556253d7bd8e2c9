/*
 * train.h: the public face of src/train: optimizers, learning-rate schedules, the Objective
 * interface, and the training loop (accumulation, clipping, gradient masks, evaluation).
 */
#ifndef TB_TRAIN_H
#define TB_TRAIN_H

#include <stddef.h>

#include "core/core.h"
#include "model/model.h"

/* data parallelism over a group (src/dist) */
typedef struct tb_dp tb_dp;

/* ---- optimizers ------------------------------------------------------------------------------ */

typedef enum { TB_OPT_ADAMW = 0, TB_OPT_SGD = 1 } tb_opt_kind;

typedef struct {
    tb_opt_kind kind;
    float beta1, beta2, eps; /* AdamW */
    float momentum;          /* SGD (0 = plain) */
    float weight_decay;      /* decoupled; applied to tensors with decay set (2-D weights) only */
    float *m, *v;            /* moments (AdamW: m, v; SGD: m = momentum buffer) over [begin, end) */
    size_t begin, end;       /* the part of the flat buffer this optimizer updates (ZeRO-1: a shard) */
    size_t numel;            /* end - begin */
    long step;
    float grad_scale;        /* the next step multiplies every gradient by it (clipping without an extra
                              * pass over the gradients); reset to 1 after each step */
} tb_optimizer;

/* An optimizer for the whole ParamSet. */
void tb_optimizer_init(tb_optimizer *o, tb_opt_kind kind, const tb_paramset *ps);
/* An optimizer that owns only [begin, end) of the flat buffer: its moments are end - begin long. */
void tb_optimizer_init_range(tb_optimizer *o, tb_opt_kind kind, size_t begin, size_t end);
void tb_optimizer_free(tb_optimizer *o);
/* One update of the non-frozen elements of ps in the optimizer's range at learning rate lr. The ParamSet's grad_mask, if
 * any, is applied to the gradient first (masked elements get zero moments; decoupled decay still
 * applies to them). */
void tb_optimizer_step(tb_optimizer *o, tb_paramset *ps, float lr);
int tb_opt_kind_parse(const char *s, tb_opt_kind *out);

/* ---- schedules ------------------------------------------------------------------------------- */

typedef enum { TB_SCHED_CONSTANT = 0, TB_SCHED_LINEAR, TB_SCHED_COSINE } tb_sched_kind;

typedef struct {
    tb_sched_kind kind;
    float lr;        /* peak */
    float min_lr;    /* floor of linear/cosine decay */
    long warmup;     /* linear warmup steps from lr/warmup to lr */
    long total;      /* total steps (decay ends here) */
} tb_schedule;

float tb_schedule_lr(const tb_schedule *s, long step); /* step is 0-based */
int tb_sched_kind_parse(const char *s, tb_sched_kind *out);

/* The factor that clips a gradient of this norm to max_norm (1 when max_norm <= 0 or not exceeded). */
float tb_clip_scale(float norm, float max_norm);
/* The squared norm of the non-frozen gradients in [begin, end) (sharded clipping adds these up). */
double tb_grad_sumsq(const tb_paramset *ps, size_t begin, size_t end);

/* ---- objectives ------------------------------------------------------------------------------ */

/* What an objective sees of one batch: the model after forward, and the batch's masks. */
typedef struct {
    tb_model *model;
    const int *targets; /* (B,T), -1 = not scored: this rank's rows */
    int B, T;
    long n_scored;      /* scored targets of the whole micro-batch, summed over the data-parallel group */
} tb_batch_view;

/* An objective returns this rank's share of the loss of the batch (the shares sum to the loss over
 * the group) and writes the gradient with respect to the model's
 * outputs (through tb_model_logprob_grad / tb_model_dlogits / tb_model_hidden_grad), scaled by
 * grad_scale (1/accumulation steps). */
typedef struct tb_objective {
    const char *name;
    int uses_logits; /* 0 for objectives on hidden states only: backward then skips the head */
    int (*loss_and_grad)(struct tb_objective *self, const tb_batch_view *bv, float grad_scale, double *loss,
                         int want_grad);
    void *ctx;
} tb_objective;

/* Token-level cross-entropy over scored targets (mean over scored tokens of the batch). */
tb_objective tb_objective_sft(void);

/* ---- unlearning objectives (../shared/reference/unlearning.md, section 2) ----------------------- */

typedef enum {
    TB_UNLEARN_GA = 0,   /* gradient ascent: L_f = -NLL(forget) */
    TB_UNLEARN_GRADDIFF, /* gradient ascent plus a retain term */
    TB_UNLEARN_NPO,      /* -(2/beta) mean log sigmoid(-beta (log pi - log pi_ref)) */
    TB_UNLEARN_SIMNPO,   /* -(2/beta) mean log sigmoid(beta (avg_loss - delta)), no reference */
    TB_UNLEARN_IDKDPO,   /* DPO preferring a refusal over the forget answer */
    TB_UNLEARN_RMU,      /* hidden states of one layer pushed to a control vector */
    TB_UNLEARN_UNDIAL,   /* distillation to the reference with the true token's logit lowered by beta */
} tb_unlearn_method;

typedef enum { TB_RETAIN_NONE = 0, TB_RETAIN_NLL, TB_RETAIN_KL } tb_retain_term;

typedef enum { TB_ROW_FORGET = 0, TB_ROW_IDK, TB_ROW_RETAIN, TB_ROW_UNUSED } tb_row_role;

/* L = gamma * L_f + alpha * L_r */
typedef struct {
    tb_unlearn_method method;
    tb_retain_term retain;
    float beta, gamma, alpha;
    float delta;       /* SimNPO's margin */
    const float *cvec; /* RMU: the control vector (C); the model's capture_layer is the RMU layer and
                        * stop_at_capture must be set */
} tb_unlearn_params;

/* What the batch function tells the objective about this rank's rows of the current micro-batch. */
typedef struct {
    tb_row_role *role;        /* (B) */
    int *pair;                /* (B) IdkDPO: for a forget row, the row of its refusal answer (same rank) */
    float *ref_seq;           /* (B) the reference's sequence-sum log-prob of the row's answer (NPO, IdkDPO) */
    const float **ref_rows;   /* (B*T) the reference's log-softmax (V) at each scored position (KL retain rows,
                               * UNDIAL forget rows), NULL elsewhere */
    const float **ref_hidden; /* (B) the reference's hidden states (T,C) at the RMU layer (RMU retain rows) */
    long n_forget, n_retain;               /* rows of the whole group's micro-batch */
    long n_forget_tokens, n_retain_tokens; /* their scored targets, whole group */
} tb_unlearn_rows;

/* The objective reads rows (owned by the caller, refilled by its batch function before each forward). */
tb_objective tb_objective_unlearn(const tb_unlearn_params *p, tb_unlearn_rows *rows);
void tb_objective_unlearn_free(tb_objective *o);
const char *tb_unlearn_method_name(tb_unlearn_method m);
int tb_unlearn_method_parse(const char *s, tb_unlearn_method *out);

/* ---- preference optimisation and joint SFT + DPO (../shared/reference/posttrain.md, section A) ---- */

typedef enum { TB_DPO_SIGMOID = 0, TB_DPO_IPO } tb_dpo_kind;

typedef struct {
    tb_dpo_kind kind;
    float beta;            /* 0.1 */
    float label_smoothing; /* eps of the sigmoid loss: -(1-eps) log sig(beta z) - eps log sig(-beta z) */
} tb_dpo_params;

/* The loss of one pair with reward difference z = (s_c - s_c^ref) - (s_r - s_r^ref), and dloss/dz. */
double tb_dpo_pair_loss(const tb_dpo_params *p, double z, double *dloss_dz);

typedef enum { TB_PREF_SFT = 0, TB_PREF_CHOSEN, TB_PREF_REJECTED, TB_PREF_UNUSED } tb_pref_role;

/* What the batch function tells the joint objective about this rank's rows, and what the objective
 * reports back: L = w_sft * f_SFT + w_dpo * f_DPO (the schedule sets the weights each step). */
typedef struct {
    tb_pref_role *role; /* (B) */
    int *pair;          /* (B) for a chosen row, the row of its rejected response (same rank) */
    float *ref_seq;     /* (B) the reference's summed response log-prob of each preference row */
    long n_sft_tokens;  /* scored targets of the SFT rows, whole group */
    long n_pairs;       /* pairs, whole group */
    float w_sft, w_dpo;
    /* this rank's shares of the last batch (sum them over the group): f_SFT, f_DPO, the share of
     * pairs whose implicit reward beta (s - s_ref) is larger for the chosen response, and the mean
     * reward margin */
    double f_sft, f_dpo, reward_acc, reward_margin;
} tb_pref_rows;

tb_objective tb_objective_pref(const tb_dpo_params *p, tb_pref_rows *rows);
void tb_objective_pref_free(tb_objective *o);

/* ---- WAGLE: the weight-attribution mask ----------------------------------------------------- */

typedef enum {
    TB_WAGLE_SCORE_WAGLE = 0, /* |(theta - g_r/mu) * g_f| */
    TB_WAGLE_SCORE_GRAD,      /* ablation |g_f| */
    TB_WAGLE_SCORE_WEIGHT,    /* ablation |theta| */
    TB_WAGLE_SCORE_SNIP,      /* ablation |theta * g_f| */
    TB_WAGLE_SCORE_RANDOM,    /* ablation: uniform scores from seed */
} tb_wagle_score;

typedef struct {
    double density; /* rho: the fraction of trainable scalars that may update */
    float mu;
    tb_wagle_score score;
    uint64_t seed;
} tb_wagle_config;

int tb_wagle_score_parse(const char *s, tb_wagle_score *out);
/* Sets ps's grad_mask from the summed forget and retain gradients g_f, g_r (ps->numel each): every
 * non-frozen scalar is ranked by its score (ties to the smaller flat index), the top
 * floor(density * N) get 1, everything else 0. Returns the count of ones. */
long tb_wagle_mask(tb_paramset *ps, const float *g_f, const float *g_r, const tb_wagle_config *w);

/* ---- merging fine-tuned models (SPUNGE) -------------------------------------------------------- */

/* out = theta0 + (1/k) sum_i (thetas[i] - theta0), over n floats. */
void tb_merge_mean(float *out, const float *theta0, const float *const *thetas, int k, size_t n);
/* TIES-merging: each task vector keeps its floor(keep_frac * n) largest-magnitude entries (ties to the
 * smaller index), the sign of the sum of the kept entries is elected per coordinate, and the kept
 * entries with that sign are averaged: out = theta0 + lambda * mean. */
void tb_merge_ties(float *out, const float *theta0, const float *const *thetas, int k, size_t n, double keep_frac,
                   double lambda);

/* ---- the training loop ----------------------------------------------------------------------- */

/* Fills one micro-batch: inp (B,T) and targets (B,T) (-1 = not scored), for optimizer step `step`
 * and micro-batch `micro`. A pure function of (step, micro) makes resumed runs bit-identical. */
typedef int (*tb_batch_fn)(void *ctx, long step, int micro, int *inp, int *targets);

/* A reparameterisation of what is trained (prefix-tuning's MLP, src/peft): the trainer's `trainable`
 * ParamSet holds the reparameterisation's parameters, and some of the model's tensors (the prefix)
 * are a function of them. */
typedef struct {
    /* writes the model's tensors from the trainable values: before a step's first forward (the values
     * may have been restored since) and after each update (evaluation between steps then sees them) */
    void (*forward)(void *ctx);
    /* adds to `trainable`'s gradient what the model's accumulated gradient implies: once after a step's
     * last backward (the map is linear in the model's gradient, so once per step is the sum over the
     * micro-batches), before the data-parallel reduction of `trainable` */
    void (*backward)(void *ctx);
    void *ctx;
} tb_reparam;

typedef struct {
    tb_model *model;
    tb_paramset *trainable; /* &model->params (full fine-tuning) or &model->adapter (prefix, LoRA) */
    tb_optimizer *opt;
    tb_schedule sched;
    tb_objective *objective;
    int B, T;
    int accum;      /* micro-batches per optimizer step */
    float clip;     /* global-norm clip (0 = off) */
    tb_batch_fn next_batch; /* fills this rank's B rows of the group's global batch */
    void *batch_ctx;
    /* this rank's rows at step `step` (<= B; the forward and backward then cost only those), or NULL
     * for B at every step: schedules whose steps read different batches (ALRIGHT's SFT or DPO step) */
    int (*rows_at)(void *ctx, long step);
    tb_dp *dp;                /* data parallel over a group (all-reduce or ZeRO-1); NULL for one
                               * process. Under ZeRO-1 opt must own dp's shard (tb_optimizer_init_range). */
    const tb_reparam *reparam; /* NULL: the model's own tensors are trainable. Else trainable is the
                                * reparameterisation's ParamSet and dp (if any) is built on it; its
                                * gradient is reduced after the reparameterisation's backward */
} tb_trainer;

/* One optimizer step: accum forward/backward passes, the gradient all-reduce over the group,
 * clipping, the gradient mask, the update. The reported loss is the group's.
 * Fails with TB_ERR_NUMERIC (naming the step) if the loss or the gradient norm is not finite. */
int tb_train_step(tb_trainer *tr, long step, double *loss, float *grad_norm);

/* Adds to out (trainable->numel) the gradient of each of batches 0..n_batches-1 of next_batch
 * (reduced over the group; all-reduce data parallelism or none): WAGLE's summed gradients. */
int tb_grad_sum(tb_trainer *tr, long n_batches, float *out);

/* Mean token loss of the objective-free cross-entropy over n_batches batches from next_batch
 * (step index = batch index, micro 0), without touching gradients. With dp, each rank scores its
 * rows and the mean is over the whole group. */
int tb_eval_loss(tb_model *m, tb_batch_fn next_batch, void *ctx, long n_batches, int B, int T, const tb_dp *dp,
                 double *loss);

#endif
