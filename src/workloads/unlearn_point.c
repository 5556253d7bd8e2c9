/*
 * unlearn_point.c: one point of the unlearning workload, inside a group of ranks:
 *   1. the target (or, for the "retain" row, the retain model) from the shared stages;
 *   2. unlearning: batches of forget rows, their refusal rows (IdkDPO) and paired retain rows, the
 *      reference model's quantities cached once before the first step, WAGLE's mask, and for SPUNGE
 *      one unlearning per attribute subset from the target, merged;
 *   3. evaluation of every set, the metrics against the retain model's per-sample values, the
 *      linear probe and the relearning attack.
 * The forget draws of a global batch are split over the group's ranks; each rank's refusal and
 * retain rows belong to its own forget draws, so a forget row and its refusal row are always on the
 * same rank.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg/linalg.h"
#include "metrics/metrics.h"
#include "unlearn.h"

enum { MEMO_GOLD = 1, MEMO_CONTROL = 2, MEMO_PROBE_TARGET = 3 };

typedef struct {
    const tb_spec *s;
    int p;
    ul_shared *sh;
    tb_run_ctx *ctx;
    MPI_Comm comm;
    int rank, size;
    uint64_t seed;
    tb_model m;
    tb_tokenizer tok;
    tb_qa_splits sp;
    int T;
    /* the method */
    int unlearns;
    tb_unlearn_method method;
    tb_unlearn_params up;
    float *cvec;
    int rmu_layer;
    /* the items being unlearned (the forget split, or one SPUNGE subset), as windows */
    const long *items;
    long n_items;
    tb_token_windows wf, widk, wr; /* forget items, their refusals, every retain item */
    int Bf, first, rows, use_idk, use_retain, B; /* global forget rows, this rank's share, model rows */
    long perm_epoch;
    int *perm;
    /* reference caches */
    float *ref_seq_f, *ref_seq_idk;      /* (n_items) */
    /* log-softmax rows (V) at the scored positions only, packed: item j's q-th scored position is row
     * off[j] + q (UNDIAL: forget items; KL: this rank's retain items, by slot) */
    float *ref_rows_f, *ref_rows_r;
    long *ref_off_f, *ref_off_r;
    float *ref_hid_r; /* RMU: (n_used, T, C) for this rank's retain items */
    long *retain_slot;                   /* (n_retain) slot in those caches, -1 when this rank never draws it */
    double hidden_norm;
    long logged; /* steps written to the loss curve */
    /* rows */
    tb_row_role *role;
    int *pair;
    float *row_ref_seq;
    const float **row_ref_rows, **row_ref_hidden;
    tb_unlearn_rows urows;
} ul_run;

/* ---- memos ------------------------------------------------------------------------------------ */

static const ul_memo *memo_find(const ul_shared *sh, uint64_t key, int kind) {
    for (int i = 0; i < sh->n_memos; i++)
        if (sh->memos[i]->key == key && sh->memos[i]->kind == kind) return sh->memos[i];
    return NULL;
}

static const ul_memo *memo_put(ul_shared *sh, uint64_t key, int kind, const float *values, long n) {
    /* entries are allocated one by one: a pointer handed out stays valid when the table grows */
    sh->memos = realloc(sh->memos, (size_t)(sh->n_memos + 1) * sizeof *sh->memos);
    TB_ASSERT(sh->memos);
    ul_memo *mm = tb_malloc(sizeof *mm);
    sh->memos[sh->n_memos++] = mm;
    mm->key = key, mm->kind = kind, mm->n = n;
    mm->values = tb_malloc((size_t)(n ? n : 1) * sizeof(float));
    memcpy(mm->values, values, (size_t)n * sizeof(float));
    return mm;
}

void ul_memo_free(ul_shared *sh) {
    for (int i = 0; i < sh->n_memos; i++) tb_free(sh->memos[i]->values), tb_free(sh->memos[i]);
    free(sh->memos);
    sh->memos = NULL;
    sh->n_memos = 0;
}

/* ---- the forget schedule ---------------------------------------------------------------------- */

/* Forget draw i of the unlearning run reads item perm_e(i mod n) of the items, e = i / n: every epoch
 * a fresh shuffle keyed by (seed, e). */
static long forget_draw(ul_run *r, long i) {
    long n = r->n_items, e = i / n;
    if (e != r->perm_epoch) {
        tb_rng g = tb_rng_make(r->seed, 0x10000 + (uint64_t)e);
        for (long k = 0; k < n; k++) r->perm[k] = (int)k;
        for (long k = n - 1; k > 0; k--) {
            long j = (long)tb_rng_below(&g, (uint64_t)(k + 1));
            int t = r->perm[k];
            r->perm[k] = r->perm[j], r->perm[j] = t;
        }
        r->perm_epoch = e;
    }
    return r->perm[i % n];
}

/* The retain item paired with forget draw i: uniform over the retain items, stream (seed, draw). */
static long retain_draw(const ul_run *r, long i) {
    tb_rng g = tb_rng_make(r->seed ^ 0x7265746169ull, (uint64_t)i);
    return (long)tb_rng_below(&g, (uint64_t)r->sp.n_retain);
}

static int scored(const tb_token_windows *w, long k) {
    int n = 0;
    for (int t = 0; t < w->T; t++) n += w->mask[(size_t)k * w->T + t] != 0.0f;
    return n;
}

/* One micro-batch: this rank's forget draws, then their refusals, then their retain items. */
static int ul_batch(void *ctx, long step, int micro, int *inp, int *targets) {
    ul_run *r = ctx;
    (void)micro;
    int T = r->T, k = 0;
    long nft = 0, nrt = 0;
    for (int b = 0; b < r->Bf; b++) { /* the group's token counts, from every rank's draws */
        long i = step * r->Bf + b;
        nft += scored(&r->wf, forget_draw(r, i));
        if (r->use_retain) nrt += scored(&r->wr, retain_draw(r, i));
    }
    for (int kind = 0; kind < 3; kind++) {
        if ((kind == 1 && !r->use_idk) || (kind == 2 && !r->use_retain)) continue;
        for (int b = 0; b < r->rows; b++, k++) {
            long i = step * r->Bf + r->first + b, f = forget_draw(r, i);
            const tb_token_windows *w = kind == 0 ? &r->wf : kind == 1 ? &r->widk : &r->wr;
            long item = kind == 2 ? retain_draw(r, i) : f;
            tb_windows_batch(w, &item, 1, inp + k * T, targets + k * T);
            r->role[k] = kind == 0 ? TB_ROW_FORGET : kind == 1 ? TB_ROW_IDK : TB_ROW_RETAIN;
            r->pair[k] = kind == 0 && r->use_idk ? r->rows + b : -1;
            r->row_ref_seq[k] = kind == 0 ? r->ref_seq_f[f] : kind == 1 ? r->ref_seq_idk[f] : 0.0f;
            long slot = kind == 2 ? r->retain_slot[item] : -1;
            r->row_ref_hidden[k] = slot >= 0 && r->ref_hid_r ? r->ref_hid_r + (size_t)slot * T * r->m.cfg.n_embd : NULL;
            size_t V = (size_t)r->m.cfg.vocab_size;
            const float *ref = NULL;
            if (kind == 0 && r->ref_rows_f) ref = r->ref_rows_f + (size_t)r->ref_off_f[f] * V;
            if (kind == 2 && slot >= 0 && r->ref_rows_r) ref = r->ref_rows_r + (size_t)r->ref_off_r[slot] * V;
            for (int t = 0, q = 0; t < T; t++)
                r->row_ref_rows[k * T + t] = ref && targets[k * T + t] >= 0 ? ref + (size_t)q++ * V : NULL;
        }
    }
    r->urows.n_forget = r->Bf;
    r->urows.n_retain = r->use_retain ? r->Bf : 0;
    r->urows.n_forget_tokens = nft;
    r->urows.n_retain_tokens = nrt;
    return TB_OK;
}

/* ---- reference caches ------------------------------------------------------------------------- */

/* off[j] (n + 1): where row j of windows w[idx[0..n)] (idx NULL: 0..n-1) starts among the packed
 * scored positions of all rows. */
static long *scored_offsets(const tb_token_windows *w, const long *idx, long n) {
    long *off = tb_malloc((size_t)(n + 1) * sizeof(long));
    off[0] = 0;
    for (long j = 0; j < n; j++) off[j + 1] = off[j] + scored(w, idx ? idx[j] : j);
    return off;
}

/* Forward passes of the (reference) model over windows w[idx[0..n)], B rows at a time; for each row:
 * the sequence log-prob into seq[j] (if seq), the log-softmax at its scored positions into rows from
 * row off[j] on (if rows), the captured hidden states into hid[j] (T,C) (if hid). */
static int reference_pass(ul_run *r, const tb_token_windows *w, const long *idx, long n, float *seq, float *rows,
                          const long *off, float *hid) {
    tb_model *m = &r->m;
    int B = r->B, T = r->T, C = m->cfg.n_embd;
    size_t V = (size_t)m->cfg.vocab_size;
    int *inp, *targets;
    TB_CHECK(tb_model_batch(m, B, T, &inp, &targets));
    long *bidx = tb_malloc((size_t)B * sizeof(long));
    int rc = TB_OK;
    for (long j0 = 0; j0 < n && rc == TB_OK; j0 += B) {
        int k = (int)(n - j0 < B ? n - j0 : B);
        for (int b = 0; b < B; b++) bidx[b] = idx ? idx[j0 + (b < k ? b : 0)] : j0 + (b < k ? b : 0);
        tb_windows_batch(w, bidx, B, inp, targets);
        for (int b = k; b < B; b++)
            for (int t = 0; t < T; t++) targets[b * T + t] = -1;
        rc = tb_model_forward(m, inp, targets, B, T);
        for (int b = 0; b < k && rc == TB_OK; b++) {
            long j = j0 + b;
            if (seq) {
                double s = 0.0;
                for (int t = 0; t < T; t++) s += targets[b * T + t] >= 0 ? m->logprob[b * T + t] : 0.0f;
                seq[j] = (float)s;
            }
            if (rows)
                for (int t = 0, q = 0; t < T; t++) {
                    if (targets[b * T + t] < 0) continue;
                    const float *z = m->logits + ((size_t)b * T + t) * V;
                    float *o = rows + (size_t)(off[j] + q++) * V;
                    for (size_t v = 0; v < V; v++) o[v] = z[v] - m->lse[b * T + t];
                }
            if (hid) memcpy(hid + (size_t)j * T * C, tb_model_hidden(m) + (size_t)b * T * C, (size_t)T * C * sizeof(float));
        }
    }
    tb_free(bidx);
    return rc;
}

/* The retain items this rank will draw over `steps` steps, numbered in first-draw order. */
static long plan_retain_slots(ul_run *r, long steps) {
    long used = 0;
    for (long k = 0; k < r->sp.n_retain; k++) r->retain_slot[k] = -1;
    for (long step = 0; step < steps; step++)
        for (int b = 0; b < r->rows; b++) {
            long item = retain_draw(r, step * r->Bf + r->first + b);
            if (r->retain_slot[item] < 0) r->retain_slot[item] = used++;
        }
    return used;
}

static int build_reference(ul_run *r, long steps) {
    int T = r->T, C = r->m.cfg.n_embd;
    size_t V = (size_t)r->m.cfg.vocab_size;
    int rmu = r->up.method == TB_UNLEARN_RMU;
    r->ref_seq_f = tb_malloc((size_t)r->n_items * sizeof(float));
    r->ref_seq_idk = tb_malloc((size_t)r->n_items * sizeof(float));
    if (!rmu) {
        if (r->up.method == TB_UNLEARN_UNDIAL) {
            r->ref_off_f = scored_offsets(&r->wf, NULL, r->n_items);
            r->ref_rows_f = tb_malloc((size_t)(r->ref_off_f[r->n_items] + 1) * V * sizeof(float));
        }
        TB_CHECK(reference_pass(r, &r->wf, NULL, r->n_items, r->ref_seq_f, r->ref_rows_f, r->ref_off_f, NULL));
        if (r->use_idk) TB_CHECK(reference_pass(r, &r->widk, NULL, r->n_items, r->ref_seq_idk, NULL, NULL, NULL));
    } else { /* the mean |h_l| on forget data, which c should be read against */
        float *h = tb_malloc((size_t)r->n_items * T * C * sizeof(float));
        TB_CHECK(reference_pass(r, &r->wf, NULL, r->n_items, NULL, NULL, NULL, h));
        double sum = 0.0;
        long cnt = 0;
        for (long j = 0; j < r->n_items; j++)
            for (int t = 0; t < T; t++) {
                if (r->wf.mask[(size_t)j * T + t] == 0.0f) continue;
                double s2 = 0.0;
                for (int c = 0; c < C; c++) s2 += (double)h[((size_t)j * T + t) * C + c] * h[((size_t)j * T + t) * C + c];
                sum += sqrt(s2), cnt++;
            }
        r->hidden_norm = cnt ? sum / cnt : NAN;
        tb_free(h);
    }
    if (!r->use_retain || (r->up.retain != TB_RETAIN_KL && !rmu)) return TB_OK;
    long used = plan_retain_slots(r, steps);
    long *list = tb_malloc((size_t)(used ? used : 1) * sizeof(long));
    for (long k = 0; k < r->sp.n_retain; k++)
        if (r->retain_slot[k] >= 0) list[r->retain_slot[k]] = k;
    int rc;
    if (rmu) {
        r->ref_hid_r = tb_malloc((size_t)(used ? used : 1) * T * C * sizeof(float));
        rc = reference_pass(r, &r->wr, list, used, NULL, NULL, NULL, r->ref_hid_r);
    } else {
        r->ref_off_r = scored_offsets(&r->wr, list, used);
        r->ref_rows_r = tb_malloc((size_t)(r->ref_off_r[used] + 1) * V * sizeof(float));
        rc = reference_pass(r, &r->wr, list, used, NULL, r->ref_rows_r, r->ref_off_r, NULL);
    }
    tb_free(list);
    return rc;
}

static void free_reference(ul_run *r) {
    tb_free(r->ref_seq_f), tb_free(r->ref_seq_idk), tb_free(r->ref_rows_f), tb_free(r->ref_rows_r);
    tb_free(r->ref_hid_r), tb_free(r->ref_off_f), tb_free(r->ref_off_r);
    r->ref_seq_f = r->ref_seq_idk = r->ref_rows_f = r->ref_rows_r = r->ref_hid_r = NULL;
    r->ref_off_f = r->ref_off_r = NULL;
}

/* ---- method setup ------------------------------------------------------------------------------ */

static int parse_method(ul_run *r) {
    const tb_spec *s = r->s;
    int p = r->p;
    const char *name = tb_spec_string(s, p, "unlearn.method");
    r->unlearns = strcmp(name, "none") != 0 && strcmp(name, "retain") != 0;
    if (!r->unlearns) return TB_OK;
    TB_CHECK(tb_unlearn_method_parse(name, &r->method));
    tb_unlearn_params *u = &r->up;
    u->method = r->method;
    const char *ret = tb_spec_string(s, p, "unlearn.retain");
    if (strcmp(ret, "default") == 0)
        u->retain = r->method == TB_UNLEARN_GA || r->method == TB_UNLEARN_UNDIAL ? TB_RETAIN_NONE : TB_RETAIN_NLL;
    else u->retain = strcmp(ret, "kl") == 0 ? TB_RETAIN_KL : strcmp(ret, "nll") == 0 ? TB_RETAIN_NLL : TB_RETAIN_NONE;
    if (r->method == TB_UNLEARN_GA || r->method == TB_UNLEARN_RMU) u->retain = TB_RETAIN_NONE; /* RMU's own term */
    double beta = tb_spec_float(s, p, "unlearn.beta"), gamma = tb_spec_float(s, p, "unlearn.gamma");
    if (beta < 0)
        beta = r->method == TB_UNLEARN_SIMNPO ? 4.5 : r->method == TB_UNLEARN_UNDIAL ? 10.0 : 0.1;
    if (gamma < 0) gamma = r->method == TB_UNLEARN_SIMNPO ? 0.125 : 1.0;
    u->beta = (float)beta, u->gamma = (float)gamma;
    u->alpha = (float)tb_spec_float(s, p, "unlearn.alpha");
    u->delta = (float)tb_spec_float(s, p, "unlearn.delta");
    r->use_idk = r->method == TB_UNLEARN_IDKDPO;
    r->use_retain = u->retain != TB_RETAIN_NONE || r->method == TB_UNLEARN_RMU;
    return TB_OK;
}

static int rmu_layer_of(const tb_spec *s, int p, int L) {
    long l = tb_spec_int(s, p, "unlearn.rmu_layer");
    if (l >= 0) return (int)(l < L ? l : L - 1);
    int k = 7 * L / 32;
    int lo = L >= 4 ? 2 : 0, hi = L >= 4 ? L - 2 : L - 1;
    return k < lo ? lo : k > hi ? hi : k;
}

/* RMU trains the weights up to its layer (or, "wmdp", the MLP down-projections of blocks l-2..l):
 * everything else is frozen, so no gradient and no weight decay reaches it. */
static void rmu_freeze(ul_run *r) {
    tb_model *m = &r->m;
    tb_paramset *ps = &m->params;
    int wmdp = strcmp(tb_spec_string(r->s, r->p, "unlearn.rmu_params"), "wmdp") == 0;
    size_t b, e;
    for (int ti = 0; ti < ps->n_tensors; ti++) ps->tensors[ti].frozen = wmdp;
    for (int l = 0; l <= m->cfg.n_layer; l++) {
        tb_model_layer_range(m, ps, l, &b, &e);
        for (int ti = 0; ti < ps->n_tensors; ti++) {
            tb_tensor *t = &ps->tensors[ti];
            if (t->offset < b || t->offset >= e) continue;
            if (l > r->rmu_layer) t->frozen = 1;
            else if (wmdp && l >= r->rmu_layer - 2 &&
                     (strstr(t->name, "mlp.c_proj.weight") || strstr(t->name, "mlp.down_proj.weight")))
                t->frozen = 0;
        }
    }
    m->capture_layer = r->rmu_layer;
    m->stop_at_capture = 1;
}

static void eval_mode(tb_model *m) {
    tb_paramset_set_frozen(&m->params, "", 0);
    m->capture_layer = -1;
    m->stop_at_capture = 0;
    tb_free(m->params.grad_mask);
    m->params.grad_mask = NULL;
}

/* ---- one unlearning run over r->items --------------------------------------------------------- */

static int wagle_mask(ul_run *r, tb_trainer *base, tb_dp *dp) {
    const tb_spec *s = r->s;
    int p = r->p;
    tb_paramset *ps = &r->m.params;
    float *gf = tb_malloc(ps->numel * sizeof(float)), *gr = tb_malloc(ps->numel * sizeof(float));
    memset(gf, 0, ps->numel * sizeof(float));
    memset(gr, 0, ps->numel * sizeof(float));
    tb_objective sft = tb_objective_sft();
    tb_window_sampler smp;
    int rc = TB_OK;
    for (int set = 0; set < 2 && rc == TB_OK; set++) {
        /* forget gradients on the forget answers (IdkDPO: on the refusals), retain on the retain set */
        const tb_token_windows *w = set == 1 ? &r->wr : r->use_idk ? &r->widk : &r->wf;
        tb_sampler_init(&smp, w, r->B * r->size, 1, r->seed);
        tb_sampler_shard(&smp, r->rank * r->B, r->B);
        tb_trainer tr = *base;
        tr.objective = &sft;
        tr.next_batch = tb_sampler_eval_batch;
        tr.batch_ctx = &smp;
        tr.dp = dp;
        long nb = (w->n_windows + (long)r->B * r->size - 1) / ((long)r->B * r->size);
        rc = tb_grad_sum(&tr, nb, set == 1 ? gr : gf);
        tb_sampler_free(&smp);
    }
    tb_wagle_score score;
    if (rc == TB_OK) rc = tb_wagle_score_parse(tb_spec_string(s, p, "wagle.score"), &score);
    if (rc == TB_OK) {
        tb_wagle_config wc = {.density = tb_spec_float(s, p, "wagle.density"), .mu = (float)tb_spec_float(s, p, "wagle.mu"),
                              .score = score, .seed = r->seed};
        tb_wagle_mask(ps, gf, gr, &wc);
    }
    tb_free(gf), tb_free(gr);
    return rc;
}

static int make_windows(ul_run *r) {
    int rc = qa_windows(&r->tok, r->sh->qa.items, r->items, r->n_items, NULL, r->T, &r->wf);
    if (rc == TB_OK) rc = qa_windows(&r->tok, r->sh->qa.items, r->sp.retain, r->sp.n_retain, NULL, r->T, &r->wr);
    if (rc == TB_OK && r->use_idk) {
        const char *const *bank;
        int nb = tb_refusals(&bank);
        const char **answers = tb_malloc((size_t)r->n_items * sizeof(char *));
        for (long j = 0; j < r->n_items; j++) { /* one refusal per forget item, stream (seed, item) */
            tb_rng g = tb_rng_make(r->seed ^ 0x69646bull, (uint64_t)r->items[j]);
            answers[j] = bank[tb_rng_below(&g, (uint64_t)nb)];
        }
        rc = qa_windows(&r->tok, r->sh->qa.items, r->items, r->n_items, answers, r->T, &r->widk);
        tb_free(answers);
    }
    return rc;
}

/* Unlearns r->items from the model's current weights; the loss of every step into curve. */
static int unlearn_items(ul_run *r, const char *state, float *curve, long steps, tb_point_out *out) {
    const tb_spec *s = r->s;
    int p = r->p;
    tb_model *m = &r->m;
    r->perm = tb_malloc((size_t)r->n_items * sizeof(int));
    r->perm_epoch = -1;
    int rc = make_windows(r);
    r->logged += steps;
    if (r->up.method == TB_UNLEARN_RMU) rmu_freeze(r);
    tb_dp dp;
    int have_dp = 0;
    if (rc == TB_OK) rc = tb_dp_init(&dp, TB_DP_ALLREDUCE, r->comm, m, &m->params, 4u << 20);
    have_dp = rc == TB_OK;
    tb_sched_kind sk;
    if (rc == TB_OK) rc = tb_sched_kind_parse(tb_spec_string(s, p, "unlearn.schedule"), &sk);
    if (rc == TB_OK) rc = build_reference(r, steps);
    tb_optimizer opt;
    tb_optimizer_init(&opt, TB_OPT_ADAMW, &m->params);
    opt.weight_decay = (float)tb_spec_float(s, p, "unlearn.weight_decay");
    tb_objective obj = tb_objective_unlearn(&r->up, &r->urows);
    long per_epoch = (r->n_items + r->Bf - 1) / r->Bf;
    tb_trainer tr = {.model = m, .trainable = &m->params, .opt = &opt, .objective = &obj, .B = r->B, .T = r->T,
                     .accum = 1, .clip = (float)tb_spec_float(s, p, "unlearn.clip"), .next_batch = ul_batch,
                     .batch_ctx = r, .dp = &dp,
                     .sched = {.kind = sk, .lr = (float)tb_spec_float(s, p, "unlearn.lr"), .min_lr = 0.0f,
                               .warmup = per_epoch * tb_spec_int(s, p, "unlearn.warmup_epochs"), .total = steps}};
    if (rc == TB_OK && tb_spec_float(s, p, "wagle.density") > 0) rc = wagle_mask(r, &tr, &dp);
    char label[64];
    snprintf(label, sizeof label, "point %d unlearning step", p);
    tb_point_train pt = {.tr = &tr, .dp = &dp, .tok = &r->tok, .steps = steps, .diverge_factor = 0.0f,
                         .state_path = state, .curve = curve, .verbose = !r->ctx->quiet && r->ctx->groups->world_rank == 0,
                         .label = label};
    long start = 0;
    if (rc == TB_OK) rc = tb_point_resume(&pt, &start);
    if (rc == TB_OK) rc = tb_point_train_run(&pt, start, out);
    tb_objective_unlearn_free(&obj);
    tb_optimizer_free(&opt);
    if (have_dp) tb_dp_free(&dp, m);
    free_reference(r);
    tb_windows_free(&r->wf), tb_windows_free(&r->widk), tb_windows_free(&r->wr);
    tb_free(r->perm);
    r->perm = NULL;
    eval_mode(m);
    return rc;
}

/* SPUNGE: one unlearning per value of the split_by attribute among the forget authors, each from
 * the target, merged. Finished subsets are kept as files so that a resumed point skips them. */
static int spunge(ul_run *r, tb_point_out *out) {
    const char *by = tb_spec_string(r->s, r->p, "spunge.split_by");
    const tb_qa_set *qa = &r->sh->qa;
    long nf = r->sp.n_forget;
    const char **val = tb_malloc((size_t)nf * sizeof(char *));
    for (long j = 0; j < nf; j++) TB_CHECK(tb_author_attr(qa, qa->items[r->sp.forget[j]].author, by, &val[j]));
    /* the distinct values in order of first appearance in the (ascending) forget items */
    const char **values = tb_malloc((size_t)nf * sizeof(char *));
    int k = 0;
    for (long j = 0; j < nf; j++) {
        int seen = 0;
        for (int v = 0; v < k && !seen; v++) seen = strcmp(values[v], val[j]) == 0;
        if (!seen) values[k++] = val[j];
    }
    size_t n = r->m.params.numel;
    float *theta0 = tb_malloc(n * sizeof(float)), *thetas = tb_malloc((size_t)k * n * sizeof(float));
    memcpy(theta0, r->m.params.data, n * sizeof(float));
    long *subset = tb_malloc((size_t)nf * sizeof(long));
    long offset = 0;
    int rc = TB_OK;
    for (int v = 0; v < k && rc == TB_OK && !out->failed && !out->interrupted; v++) {
        long ns = 0;
        for (long j = 0; j < nf; j++)
            if (strcmp(val[j], values[v]) == 0) subset[ns++] = r->sp.forget[j];
        r->items = subset, r->n_items = ns;
        long steps = ul_steps_for(r->s, r->p, ns);
        char state[4096], done[4096];
        snprintf(state, sizeof state, "%s/point-%d-subset-%d.h5", r->ctx->state_dir, r->p, v);
        snprintf(done, sizeof done, "%s/point-%d-subset-%d-done.h5", r->ctx->state_dir, r->p, v);
        memcpy(r->m.params.data, theta0, n * sizeof(float));
        if (tb_file_exists(done)) {
            tb_model saved;
            tb_ckpt_state st;
            rc = tb_checkpoint_load(done, &saved, NULL, &st);
            if (rc == TB_OK) {
                memcpy(thetas + (size_t)v * n, saved.params.data, n * sizeof(float));
                if (st.trace) memcpy(out->curves[0] + offset, st.trace, (size_t)steps * sizeof(float));
                r->logged += steps;
                tb_free(st.trace), tb_free(st.opt_m), tb_free(st.opt_v);
                tb_model_free(&saved);
            }
        } else {
            rc = unlearn_items(r, state, out->curves[0] + offset, steps, out);
            if (rc == TB_OK && !out->failed && !out->interrupted) {
                memcpy(thetas + (size_t)v * n, r->m.params.data, n * sizeof(float));
                tb_ckpt_state st = {.step = steps, .trace = out->curves[0] + offset, .trace_len = (size_t)steps};
                if (r->rank == 0) rc = tb_checkpoint_save(done, &r->m, NULL, &st);
                if (r->rank == 0) remove(state);
            }
        }
        offset += steps;
    }
    if (rc == TB_OK && !out->failed && !out->interrupted) {
        const float **list = tb_malloc((size_t)k * sizeof(float *));
        for (int v = 0; v < k; v++) list[v] = thetas + (size_t)v * n;
        if (strcmp(tb_spec_string(r->s, r->p, "spunge.merge"), "ties") == 0)
            tb_merge_ties(r->m.params.data, theta0, list, k, n, tb_spec_float(r->s, r->p, "spunge.ties_keep"), 1.0);
        else tb_merge_mean(r->m.params.data, theta0, list, k, n);
        tb_free(list);
        for (int v = 0; v < k && r->rank == 0; v++) {
            char done[4096];
            snprintf(done, sizeof done, "%s/point-%d-subset-%d-done.h5", r->ctx->state_dir, r->p, v);
            remove(done);
        }
    }
    tb_free(val), tb_free(values), tb_free(theta0), tb_free(thetas), tb_free(subset);
    return rc;
}

/* ---- evaluation ---------------------------------------------------------------------------------- */

static double mean_of(const float *x, long n) {
    double s = 0.0;
    long k = 0;
    for (long i = 0; i < n; i++)
        if (!isnan(x[i])) s += x[i], k++;
    return k ? s / k : NAN;
}

/* The split's truth-ratio aggregate (metrics.h's aggregators read only TR for these two). */
static double truth_ratio_of_set(const float *tr, long n, tb_tr_aggregator agg) {
    tb_truth_ratio *t = tb_malloc((size_t)(n ? n : 1) * sizeof *t);
    for (long i = 0; i < n; i++) t[i] = (tb_truth_ratio){.p_correct = NAN, .p_wrong = NAN, .tr = tr[i]};
    double v = tb_truth_ratio_aggregate(t, (int)n, agg);
    tb_free(t);
    return v;
}

static double auc_of(const float *member, long nm, const float *non, long nn) {
    double *a = tb_malloc((size_t)(nm + 1) * sizeof(double)), *b = tb_malloc((size_t)(nn + 1) * sizeof(double));
    for (long i = 0; i < nm; i++) a[i] = member[i];
    for (long i = 0; i < nn; i++) b[i] = non[i];
    double auc = NAN;
    if (tb_roc_summary(a, (int)nm, b, (int)nn, NULL, 0, &auc, NULL) != TB_OK) tb_error_clear(), auc = NAN;
    tb_free(a), tb_free(b);
    return auc;
}

static int evaluate_set(ul_run *r, const tb_qa_item *items, const long *idx, long n, int gradnorm, int world,
                        tb_model *m, qa_samples *out) {
    qa_eval_opts o = {.B = m->B > 0 ? m->B : r->B, .max_new_tokens = (int)tb_spec_int(r->s, r->p, "eval.max_new_tokens"),
                      .mink_k = tb_spec_float(r->s, r->p, "eval.mink"), .want_gradnorm = gradnorm, .world = world};
    return qa_evaluate(m, &r->tok, items, idx, n, &o, r->comm, out);
}

static void store_samples(tb_point_out *out, const char *split, const qa_samples *q) {
    for (int k = 0; k < QA_N_VALUES; k++) {
        float *dst = out->samples[ul_sample_index(split, qa_value_names[k])];
        memcpy(dst, q->v[k], (size_t)q->n * sizeof(float));
    }
}

/* The retain model's values the metrics compare with, per split: forget TR, Min-K% and avg_loss on
 * forget, then Min-K% and avg_loss on holdout; memoised for the group. */
static int gold_values(ul_run *r, const ul_memo **gold) {
    uint64_t key = ul_gold_hash(r->s, r->p);
    if ((*gold = memo_find(r->sh, key, MEMO_GOLD))) return TB_OK;
    char path[4096];
    tb_stage_path(path, sizeof path, r->ctx->cache_dir, "unlearn-gold", key);
    tb_model g;
    TB_CHECK(tb_checkpoint_load(path, &g, NULL, NULL));
    qa_samples f = {0}, h = {0};
    int rc = evaluate_set(r, r->sh->qa.items, r->sp.forget, r->sp.n_forget, 0, 0, &g, &f);
    if (rc == TB_OK) rc = evaluate_set(r, r->sh->qa.items, r->sp.holdout, r->sp.n_holdout, 0, 0, &g, &h);
    if (rc == TB_OK) {
        long nf = r->sp.n_forget, nh = r->sp.n_holdout;
        float *v = tb_malloc((size_t)(4 * nf + 2 * nh) * sizeof(float));
        memcpy(v, f.v[QA_TRUTH_RATIO], (size_t)nf * sizeof(float));
        memcpy(v + nf, f.v[QA_MIA_MINK], (size_t)nf * sizeof(float));
        memcpy(v + 2 * nf, f.v[QA_AVG_LOSS], (size_t)nf * sizeof(float));
        memcpy(v + 3 * nf, f.v[QA_ROUGE_RECALL], (size_t)nf * sizeof(float));
        memcpy(v + 4 * nf, h.v[QA_MIA_MINK], (size_t)nh * sizeof(float));
        memcpy(v + 4 * nf + nh, h.v[QA_AVG_LOSS], (size_t)nh * sizeof(float));
        *gold = memo_put(r->sh, key, MEMO_GOLD, v, 4 * nf + 2 * nh);
        tb_free(v);
    }
    qa_samples_free(&f), qa_samples_free(&h);
    tb_model_free(&g);
    return rc;
}

static void forget_metrics(ul_run *r, const qa_samples *f, const qa_samples *h, const ul_memo *gold,
                           tb_point_out *out) {
    long nf = f->n, nh = h->n;
    double *m = out->metrics;
    const float *tr_gold = gold->values, *mink_gold_f = gold->values + nf, *loss_gold_f = gold->values + 2 * nf;
    const float *mink_gold_h = gold->values + 4 * nf, *loss_gold_h = gold->values + 4 * nf + nh;
    double *a = tb_malloc((size_t)nf * sizeof(double)), *b = tb_malloc((size_t)nf * sizeof(double));
    for (long i = 0; i < nf; i++) a[i] = f->v[QA_TRUTH_RATIO][i], b[i] = tr_gold[i];
    tb_ks_result ks;
    if (tb_ks_2samp(a, (int)nf, b, (int)nf, &ks) == TB_OK) m[UL_FQ] = ks.p, m[UL_LOG10_FQ] = ks.log10_p;
    else tb_error_clear();
    tb_free(a), tb_free(b);
    m[UL_FORGET_TR] = truth_ratio_of_set(f->v[QA_TRUTH_RATIO], nf, TB_TR_FORGET);
    m[UL_FORGET_ROUGE] = mean_of(f->v[QA_ROUGE_RECALL], nf);
    m[UL_FORGET_ROUGE_F1] = mean_of(f->v[QA_ROUGE_F1], nf);
    m[UL_FORGET_PROB] = mean_of(f->v[QA_PROB], nf);
    m[UL_FORGET_ES] = mean_of(f->v[QA_ES], nf);
    m[UL_FORGET_EM] = mean_of(f->v[QA_EM], nf);
    m[UL_HOLDOUT_ROUGE] = mean_of(h->v[QA_ROUGE_RECALL], nh);
    m[UL_HOLDOUT_PROB] = mean_of(h->v[QA_PROB], nh);
    static const int attack[] = {QA_MIA_LOSS, QA_MIA_ZLIB, QA_MIA_MINK, QA_MIA_MINKPP, QA_MIA_GRADNORM};
    static const int slot[] = {UL_AUC_LOSS, UL_AUC_ZLIB, UL_AUC_MINK, UL_AUC_MINKPP, UL_AUC_GRADNORM};
    for (int k = 0; k < 5; k++) m[slot[k]] = auc_of(f->v[attack[k]], nf, h->v[attack[k]], nh);
    /* Reference attack: avg_loss under the retain model minus under this one */
    float *rf = out->samples[ul_sample_index("forget", "mia_ref")], *rh = out->samples[ul_sample_index("holdout", "mia_ref")];
    for (long i = 0; i < nf; i++) rf[i] = loss_gold_f[i] - f->v[QA_AVG_LOSS][i];
    for (long i = 0; i < nh; i++) rh[i] = loss_gold_h[i] - h->v[QA_AVG_LOSS][i];
    m[UL_AUC_REF] = auc_of(rf, nf, rh, nh);
    double a_r = auc_of(mink_gold_f, nf, mink_gold_h, nh);
    m[UL_PRIVLEAK] = tb_privleak(a_r, m[UL_AUC_MINK]);
    memcpy(out->samples[ul_sample_index("forget", "truth_ratio_gold")], tr_gold, (size_t)nf * sizeof(float));
    memcpy(out->samples[ul_sample_index("forget", "mia_mink_gold")], mink_gold_f, (size_t)nf * sizeof(float));
    memcpy(out->samples[ul_sample_index("holdout", "mia_mink_gold")], mink_gold_h, (size_t)nh * sizeof(float));
}

/* prob, ROUGE-L recall and TR (as mean(max(0, 1 - TR))) of a set, for the utility. */
static void utility_triple(const qa_samples *q, double *prob, double *rouge, double *tr) {
    *prob = mean_of(q->v[QA_PROB], q->n);
    *rouge = mean_of(q->v[QA_ROUGE_RECALL], q->n);
    *tr = truth_ratio_of_set(q->v[QA_TRUTH_RATIO], q->n, TB_TR_RETAIN);
}

static int evaluate_all(ul_run *r, tb_point_out *out) {
    const tb_qa_set *qa = &r->sh->qa;
    qa_samples f = {0}, rt = {0}, h = {0}, fa = {0}, w = {0};
    long *fam = tb_malloc((size_t)(qa->n_famous + 1) * sizeof(long)), *wld = tb_malloc((size_t)(qa->n_world + 1) * sizeof(long));
    for (long i = 0; i < qa->n_famous; i++) fam[i] = i;
    for (long i = 0; i < qa->n_world; i++) wld[i] = i;
    const ul_memo *gold;
    int rc = gold_values(r, &gold);
    if (rc == TB_OK) rc = evaluate_set(r, qa->items, r->sp.forget, r->sp.n_forget, 1, 0, &r->m, &f);
    if (rc == TB_OK) rc = evaluate_set(r, qa->items, r->sp.retain_eval, r->sp.n_retain_eval, 0, 0, &r->m, &rt);
    if (rc == TB_OK) rc = evaluate_set(r, qa->items, r->sp.holdout, r->sp.n_holdout, 1, 0, &r->m, &h);
    if (rc == TB_OK) rc = evaluate_set(r, qa->famous, fam, qa->n_famous, 0, 1, &r->m, &fa);
    if (rc == TB_OK) rc = evaluate_set(r, qa->world, wld, qa->n_world, 0, 1, &r->m, &w);
    if (rc == TB_OK) {
        store_samples(out, "forget", &f), store_samples(out, "retain", &rt), store_samples(out, "holdout", &h);
        store_samples(out, "famous", &fa), store_samples(out, "world", &w);
        forget_metrics(r, &f, &h, gold, out);
        double *m = out->metrics, u[9];
        utility_triple(&rt, &m[UL_RETAIN_PROB], &m[UL_RETAIN_ROUGE], &m[UL_RETAIN_TR]);
        utility_triple(&fa, &m[UL_FAMOUS_PROB], &m[UL_FAMOUS_ROUGE], &m[UL_FAMOUS_TR]);
        utility_triple(&w, &m[UL_WORLD_PROB], &m[UL_WORLD_ROUGE], &m[UL_WORLD_TR]);
        static const int parts[9] = {UL_RETAIN_PROB, UL_RETAIN_ROUGE, UL_RETAIN_TR, UL_FAMOUS_PROB, UL_FAMOUS_ROUGE,
                                     UL_FAMOUS_TR,   UL_WORLD_PROB,   UL_WORLD_ROUGE, UL_WORLD_TR};
        for (int i = 0; i < 9; i++) u[i] = m[parts[i]];
        m[UL_MU] = tb_harmonic_mean(u, 9);
        tb_qa_mean_lengths(qa, r->sp.forget, r->sp.n_forget, &m[UL_LEN_ANSWER], &m[UL_LEN_PERTURBED]);
    }
    qa_samples_free(&f), qa_samples_free(&rt), qa_samples_free(&h), qa_samples_free(&fa), qa_samples_free(&w);
    tb_free(fam), tb_free(wld);
    return rc;
}

/* ---- probe ------------------------------------------------------------------------------------- */

/* Genre class of each item's author: index among the sorted distinct values over all authors. */
static int genre_labels(const tb_qa_set *qa, const long *idx, long n, int *labels, int *n_classes) {
    int na = qa->n_authors + qa->n_holdout, k = 0;
    const char **vals = tb_malloc((size_t)na * sizeof(char *));
    for (int a = 0; a < na; a++) {
        const char *v;
        TB_CHECK(tb_author_attr(qa, a, "genre", &v));
        int seen = 0;
        for (int j = 0; j < k && !seen; j++) seen = strcmp(vals[j], v) == 0;
        if (!seen) vals[k++] = v;
    }
    for (long i = 0; i < n; i++) {
        const char *v;
        TB_CHECK(tb_author_attr(qa, qa->items[idx[i]].author, "genre", &v));
        int c = 0;
        while (strcmp(vals[c], v) != 0) c++;
        labels[i] = c;
    }
    *n_classes = k;
    tb_free(vals);
    return TB_OK;
}

/* Accuracy of a ridge probe fitted on the retain_eval items' question features (rows split over the
 * group) and tested on the forget items. */
static int probe_accuracy(ul_run *r, double *acc, double *chance) {
    const tb_qa_set *qa = &r->sh->qa;
    int C = r->m.cfg.n_embd, k;
    long nt = r->sp.n_retain_eval, lo = nt * r->rank / r->size, hi = nt * (r->rank + 1) / r->size, nf = r->sp.n_forget;
    int *lt = tb_malloc((size_t)(nt + 1) * sizeof(int)), *lf = tb_malloc((size_t)(nf + 1) * sizeof(int));
    int rc = genre_labels(qa, r->sp.retain_eval, nt, lt, &k);
    if (rc == TB_OK) rc = genre_labels(qa, r->sp.forget, nf, lf, &k);
    double *xt = tb_malloc((size_t)(hi - lo + 1) * C * sizeof(double)), *xf = tb_malloc((size_t)(nf + 1) * C * sizeof(double));
    double *W = tb_malloc((size_t)C * (k + 1) * sizeof(double)), *b = tb_malloc((size_t)(k + 1) * sizeof(double));
    if (rc == TB_OK) rc = qa_question_features(&r->m, &r->tok, qa->items, r->sp.retain_eval + lo, hi - lo, r->rmu_layer, r->B, xt);
    if (rc == TB_OK) rc = qa_question_features(&r->m, &r->tok, qa->items, r->sp.forget, nf, r->rmu_layer, r->B, xf);
    if (rc == TB_OK) rc = tb_probe_fit_classes(r->comm, xt, lt + lo, hi - lo, C, k, W, b);
    if (rc == TB_OK) rc = tb_probe_accuracy(xf, lf, nf, C, W, b, k, acc);
    if (rc == TB_OK) {
        int *count = tb_malloc((size_t)k * sizeof(int)), best = 0;
        memset(count, 0, (size_t)k * sizeof(int));
        for (long i = 0; i < nf; i++) best = ++count[lf[i]] > best ? count[lf[i]] : best;
        *chance = (double)best / nf;
        tb_free(count);
    }
    tb_free(lt), tb_free(lf), tb_free(xt), tb_free(xf), tb_free(W), tb_free(b);
    return rc;
}

/* ---- relearning attack ---------------------------------------------------------------------------- */

/* Fine-tunes a copy of src on a seeded half of the forget items (D_rl) for relearn.steps, then the
 * ROUGE-L recall on D_rl and on the held-out half: rouge[0..4) = before on D_rl, before held out,
 * after D_rl, after held out (before values from the forget samples given). */
static int relearn(ul_run *r, const tb_model *src, const float *rouge_before, double rouge[4]) {
    const tb_spec *s = r->s;
    int p = r->p;
    long nf = r->sp.n_forget, nrl = nf / 2;
    long *order = tb_malloc((size_t)nf * sizeof(long)), *pos = tb_malloc((size_t)nf * sizeof(long));
    for (long i = 0; i < nf; i++) pos[i] = i;
    tb_rng g = tb_rng_make((uint64_t)tb_spec_int(s, p, "data.seed"), 0x72656cull);
    for (long i = nf - 1; i > 0; i--) {
        long j = (long)tb_rng_below(&g, (uint64_t)(i + 1)), t = pos[i];
        pos[i] = pos[j], pos[j] = t;
    }
    for (long i = 0; i < nf; i++) order[i] = r->sp.forget[pos[i]];
    double b_rl = 0.0, b_ho = 0.0;
    for (long i = 0; i < nf; i++) *(i < nrl ? &b_rl : &b_ho) += rouge_before[pos[i]];
    rouge[0] = b_rl / nrl, rouge[1] = b_ho / (nf - nrl);
    tb_model copy, *m = &copy;
    TB_CHECK(tb_model_copy(m, src));
    tb_token_windows w;
    int rc = qa_windows(&r->tok, r->sh->qa.items, order, nrl, NULL, r->T, &w);
    float lr = (float)tb_spec_float(s, p, "relearn.lr");
    tb_finetune f = {.steps = tb_spec_int(s, p, "relearn.steps"), .batch = (int)tb_spec_int(s, p, "relearn.batch"),
                     .lr = lr, .min_lr = lr, .weight_decay = 0.01f, .clip = 1.0f, .warmup = 0, .seed = r->seed};
    if (rc == TB_OK) rc = tb_finetune_run(r->comm, m, &w, &f, "relearning attack step", 0);
    tb_windows_free(&w);
    qa_samples q = {0};
    if (rc == TB_OK) rc = evaluate_set(r, r->sh->qa.items, order, nf, 0, 0, m, &q);
    if (rc == TB_OK) {
        rouge[2] = mean_of(q.v[QA_ROUGE_RECALL], nrl);
        rouge[3] = mean_of(q.v[QA_ROUGE_RECALL] + nrl, nf - nrl);
    }
    qa_samples_free(&q);
    tb_model_free(m);
    tb_free(order), tb_free(pos);
    return rc;
}

static int relearn_metrics(ul_run *r, tb_point_out *out) {
    const float *before = out->samples[ul_sample_index("forget", "rouge_recall")];
    double u[4];
    TB_CHECK(relearn(r, &r->m, before, u));
    static const char *const keys[] = {"relearn."};
    uint64_t key = ul_gold_hash(r->s, r->p) ^ tb_spec_hash_keys(r->s, r->p, keys, 1) ^ r->seed;
    const ul_memo *ctl = memo_find(r->sh, key, MEMO_CONTROL);
    if (!ctl) { /* the same attack on the retain model: recovery beyond it is what counts */
        const ul_memo *gold;
        TB_CHECK(gold_values(r, &gold));
        char path[4096];
        tb_stage_path(path, sizeof path, r->ctx->cache_dir, "unlearn-gold", ul_gold_hash(r->s, r->p));
        tb_model g;
        TB_CHECK(tb_checkpoint_load(path, &g, NULL, NULL));
        double c[4];
        int rc = relearn(r, &g, gold->values + 3 * r->sp.n_forget, c);
        tb_model_free(&g);
        TB_CHECK(rc);
        float cf[4] = {(float)c[0], (float)c[1], (float)c[2], (float)c[3]};
        ctl = memo_put(r->sh, key, MEMO_CONTROL, cf, 4);
    }
    double *m = out->metrics;
    m[UL_RELEARN_ROUGE_RL] = u[2];
    m[UL_RELEARN_ROUGE] = u[3];
    m[UL_RELEARN_CONTROL_ROUGE_RL] = ctl->values[2];
    m[UL_RELEARN_CONTROL_ROUGE] = ctl->values[3];
    m[UL_RELEARN_RECOVERY] = (u[3] - u[1]) - ((double)ctl->values[3] - ctl->values[1]);
    return TB_OK;
}

/* ---- the point ------------------------------------------------------------------------------------ */

static int load_start_model(ul_run *r) {
    char path[4096];
    int retain = strcmp(tb_spec_string(r->s, r->p, "unlearn.method"), "retain") == 0;
    tb_stage_path(path, sizeof path, r->ctx->cache_dir, retain ? "unlearn-gold" : "unlearn-target",
                  retain ? ul_gold_hash(r->s, r->p) : ul_target_hash(r->s, r->p));
    return tb_checkpoint_load(path, &r->m, &r->tok, NULL);
}

static void run_free(ul_run *r) {
    tb_free(r->role), tb_free(r->pair), tb_free(r->row_ref_seq), tb_free(r->row_ref_rows);
    tb_free(r->row_ref_hidden), tb_free(r->retain_slot), tb_free(r->cvec);
    tb_qa_splits_free(&r->sp);
    tb_model_free(&r->m);
    tb_tokenizer_free(&r->tok);
}

static int setup_rows(ul_run *r) {
    TB_CHECK(tb_shard_rows(r->Bf, r->rank, r->size, &r->first, &r->rows));
    r->B = r->rows * (1 + r->use_idk + r->use_retain);
    if (!r->unlearns) r->B = r->rows;
    int B = r->B, T = r->T;
    r->role = tb_malloc((size_t)B * sizeof(tb_row_role));
    r->pair = tb_malloc((size_t)B * sizeof(int));
    r->row_ref_seq = tb_malloc((size_t)B * sizeof(float));
    r->row_ref_rows = tb_malloc((size_t)B * T * sizeof(float *));
    r->row_ref_hidden = tb_malloc((size_t)B * sizeof(float *));
    r->retain_slot = tb_malloc((size_t)(r->sp.n_retain + 1) * sizeof(long));
    r->urows = (tb_unlearn_rows){.role = r->role, .pair = r->pair, .ref_seq = r->row_ref_seq,
                                 .ref_rows = r->row_ref_rows, .ref_hidden = r->row_ref_hidden};
    int C = r->m.cfg.n_embd;
    r->cvec = tb_malloc((size_t)C * sizeof(float));
    /* RMU's control vector: u uniform on [0,1), c u / |u| */
    tb_rng g = tb_rng_make(r->seed, 0x726d75ull);
    double norm = 0.0;
    for (int c = 0; c < C; c++) {
        r->cvec[c] = tb_rng_uniform(&g);
        norm += (double)r->cvec[c] * r->cvec[c];
    }
    float scale = (float)(tb_spec_float(r->s, r->p, "unlearn.rmu_c") / sqrt(norm));
    for (int c = 0; c < C; c++) r->cvec[c] *= scale;
    r->up.cvec = r->cvec;
    return TB_OK;
}

int ul_run_point(tb_run_ctx *ctx, int p, tb_point_out *out) {
    const tb_spec *s = ctx->spec;
    ul_run r;
    memset(&r, 0, sizeof r);
    r.s = s, r.p = p, r.sh = ctx->priv, r.ctx = ctx;
    r.comm = ctx->groups->group, r.rank = ctx->groups->group_rank, r.size = ctx->groups->group_size;
    r.seed = (uint64_t)s->points[p].seed;
    r.T = (int)tb_spec_int(s, p, "data.seq_len");
    r.Bf = (int)tb_spec_int(s, p, "unlearn.batch");
    int rc = parse_method(&r);
    if (rc == TB_OK)
        rc = tb_qa_split(&r.sh->qa, tb_spec_string(s, p, "data.split"), (uint64_t)tb_spec_int(s, p, "data.seed"),
                         (int)tb_spec_int(s, p, "data.retain_eval"), &r.sp);
    if (rc == TB_OK) rc = load_start_model(&r);
    if (rc == TB_OK) {
        r.rmu_layer = rmu_layer_of(s, p, r.m.cfg.n_layer);
        rc = setup_rows(&r);
    }
    /* the probe needs the genre attribute, which a JSONL export may not carry */
    const char *genre;
    int have_genre = rc == TB_OK && tb_author_attr(&r.sh->qa, 0, "genre", &genre) == TB_OK;
    if (rc == TB_OK && !have_genre) tb_error_clear();
    /* the target's probe accuracy, once per group and split */
    static const char *const split_key[] = {"data.split"};
    uint64_t probe_key = ul_target_hash(s, p) ^ tb_spec_hash_keys(s, p, split_key, 1);
    const ul_memo *pt = NULL;
    if (rc == TB_OK && have_genre && !(pt = memo_find(r.sh, probe_key, MEMO_PROBE_TARGET))) {
        double acc, chance;
        rc = probe_accuracy(&r, &acc, &chance);
        float v[2] = {(float)acc, (float)chance};
        if (rc == TB_OK) pt = memo_put(r.sh, probe_key, MEMO_PROBE_TARGET, v, 2);
    }
    if (rc == TB_OK && r.unlearns) {
        if (tb_spec_string(s, p, "spunge.split_by")[0]) rc = spunge(&r, out);
        else {
            char state[4096];
            snprintf(state, sizeof state, "%s/point-%d.h5", ctx->state_dir, p);
            r.items = r.sp.forget, r.n_items = r.sp.n_forget;
            rc = unlearn_items(&r, state, out->curves[0], ul_steps_for(s, p, r.sp.n_forget), out);
        }
    }
    if (rc == TB_OK && !out->failed && !out->interrupted) {
        out->metrics[UL_UNLEARN_LOSS] = r.logged > 0 ? out->curves[0][r.logged - 1] : NAN;
        out->metrics[UL_RMU_HIDDEN_NORM] = r.up.method == TB_UNLEARN_RMU && r.unlearns ? r.hidden_norm : NAN;
        rc = evaluate_all(&r, out);
        if (rc == TB_OK && have_genre) {
            double acc, chance;
            rc = probe_accuracy(&r, &acc, &chance);
            out->metrics[UL_PROBE_ACC] = acc;
            out->metrics[UL_PROBE_ACC_CHANCE] = chance;
            out->metrics[UL_PROBE_ACC_TARGET] = pt->values[0];
        }
        if (rc == TB_OK && tb_spec_int(s, p, "relearn.steps") > 0) rc = relearn_metrics(&r, out);
    }
    run_free(&r);
    return rc;
}
