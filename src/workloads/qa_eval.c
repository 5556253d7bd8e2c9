/*
 * qa_eval.c: per-sample evaluation of a model on question-answer items (see qa_eval.h).
 *
 * Conventions (written as results attributes by the workloads):
 *   - avg_loss is the mean NLL over the answer tokens and the closing EOS (the targets of training);
 *   - Min-K%, Min-K%++, extraction strength and exact memorisation use the answer tokens without EOS;
 *   - generation is greedy and stops at EOS or after max_new_tokens, capped by the model's context.
 */
#include <math.h>
#include <string.h>

#include "metrics/metrics.h"
#include "qa_eval.h"

const char *const qa_value_names[QA_N_VALUES] = {
    "avg_loss", "avg_loss_para", "avg_loss_pert", "len",      "prob",     "rouge_recall", "rouge_f1",     "truth_ratio",
    "mia_loss", "mia_zlib",      "mia_mink",      "mia_minkpp", "mia_gradnorm", "es",         "em"};

int qa_text_windows(const tb_tokenizer *tok, const char *const *prompts, const char *const *responses, long n, int T,
                    tb_token_windows *w) {
    memset(w, 0, sizeof *w);
    w->T = T;
    w->n_windows = n;
    w->tokens = tb_malloc((size_t)(n ? n : 1) * (T + 1) * sizeof(int));
    w->mask = tb_malloc((size_t)(n ? n : 1) * T * sizeof(float));
    int *inp = tb_malloc((size_t)T * sizeof(int)), *targets = tb_malloc((size_t)T * sizeof(int));
    int rc = TB_OK;
    for (long i = 0; i < n && rc == TB_OK; i++) {
        int na;
        rc = tb_qa_encode(tok, prompts[i], responses[i], T, inp, targets, &na);
        if (rc != TB_OK) break;
        int *row = w->tokens + (size_t)i * (T + 1);
        float *mask = w->mask + (size_t)i * T;
        memcpy(row, inp, (size_t)T * sizeof(int));
        /* the window's last token is the target of position T-1 (an EOS that only fits as a target) */
        row[T] = targets[T - 1] >= 0 ? targets[T - 1] : TB_TOK_PAD;
        for (int t = 0; t < T; t++) mask[t] = targets[t] >= 0 ? 1.0f : 0.0f;
    }
    tb_free(inp);
    tb_free(targets);
    if (rc != TB_OK) tb_windows_free(w);
    return rc;
}

int qa_windows(const tb_tokenizer *tok, const tb_qa_item *items, const long *idx, long n,
               const char *const *answers, int T, tb_token_windows *w) {
    const char **q = tb_malloc((size_t)(n ? n : 1) * sizeof(char *)), **a = tb_malloc((size_t)(n ? n : 1) * sizeof(char *));
    for (long i = 0; i < n; i++) {
        q[i] = items[idx[i]].question;
        a[i] = answers ? answers[i] : items[idx[i]].answer;
    }
    int rc = qa_text_windows(tok, q, a, n, T, w);
    tb_free(q);
    tb_free(a);
    return rc;
}

/* ---- teacher-forced scoring ------------------------------------------------------------------ */

/* One teacher-forced row: item i (local index) with answer text `kind` (0 answer, 1 paraphrase,
 * 2 + j perturbed answer j). */
typedef struct {
    long item;
    int kind;
} job;

typedef struct {
    double loss_sum;
    int n;
} row_loss;

/* Per-position values of one answer row, T each, allocated once per evaluation. */
typedef struct {
    double *logp, *mu, *sigma;
    int *argmax, *labels;
} row_scratch;

/* The extras of an answer row: everything the membership scores, ES and EM need. */
static void answer_extras(const tb_model *m, int b, const qa_eval_opts *o, const char *answer, row_scratch *sc,
                          float *vals) {
    int T = m->T, V = m->cfg.vocab_size, n = 0;
    double *logp = sc->logp, *mu = sc->mu, *sigma = sc->sigma;
    int *argmax = sc->argmax, *labels = sc->labels;
    double loss = 0.0;
    int scored = 0;
    for (int t = 0; t < T; t++) {
        int i = b * T + t, y = m->targets[i];
        if (y < 0) continue;
        loss -= m->logprob[i];
        scored++;
        if (y == TB_TOK_EOS) continue; /* EOS excluded from Min-K%, ES and EM */
        const float *row = m->logits + (size_t)i * V;
        int best = 0;
        for (int v = 1; v < V; v++) best = row[v] > row[best] ? v : best;
        logp[n] = m->logprob[i];
        tb_mia_min_k_pp_moments(row, V, m->lse[i], &mu[n], &sigma[n]);
        argmax[n] = best;
        labels[n] = y;
        n++;
    }
    double avg = loss / scored;
    vals[QA_MIA_LOSS] = (float)tb_mia_loss(avg);
    vals[QA_MIA_ZLIB] = (float)tb_mia_zlib(avg, answer, strlen(answer));
    vals[QA_MIA_MINK] = (float)tb_mia_min_k(logp, n, o->mink_k);
    vals[QA_MIA_MINKPP] = (float)tb_mia_min_k_pp(logp, mu, sigma, n, o->mink_k);
    vals[QA_ES] = (float)tb_extraction_strength(argmax, labels, n);
    vals[QA_EM] = (float)tb_exact_memorisation(argmax, labels, n);
    vals[QA_LEN] = (float)scored;
}

static const char *job_text(const tb_qa_item *it, int kind) {
    return kind == 0 ? it->answer : kind == 1 ? it->paraphrase : it->perturbed[kind - 2];
}

/* Runs every job in batches of o->B rows; losses[j] gets job j's (sum, count), answer rows their
 * extras in vals (local item-major, QA_N_VALUES per item). */
static int score_jobs(tb_model *m, const tb_tokenizer *tok, const tb_qa_item *items, const long *idx, const job *jobs,
                      long n_jobs, const qa_eval_opts *o, row_loss *losses, float *vals) {
    int B = o->B, T = m->cfg.max_seq_len;
    int *inp, *targets;
    TB_CHECK(tb_model_batch(m, B, T, &inp, &targets));
    row_scratch sc = {tb_malloc((size_t)T * sizeof(double)), tb_malloc((size_t)T * sizeof(double)),
                      tb_malloc((size_t)T * sizeof(double)), tb_malloc((size_t)T * sizeof(int)),
                      tb_malloc((size_t)T * sizeof(int))};
    int rc = TB_OK;
    for (long j0 = 0; j0 < n_jobs && rc == TB_OK; j0 += B) {
        int rows = (int)(n_jobs - j0 < B ? n_jobs - j0 : B);
        for (int b = 0; b < B; b++) {
            if (b >= rows) { /* padding rows: nothing scored */
                for (int t = 0; t < T; t++) inp[b * T + t] = TB_TOK_PAD, targets[b * T + t] = -1;
                continue;
            }
            const job *jb = &jobs[j0 + b];
            const tb_qa_item *it = &items[idx[jb->item]];
            int na;
            if (rc == TB_OK)
                rc = tb_qa_encode(tok, it->question, job_text(it, jb->kind), T, inp + b * T, targets + b * T, &na);
        }
        if (rc == TB_OK) rc = tb_model_forward(m, inp, targets, B, T);
        for (int b = 0; b < rows && rc == TB_OK; b++) {
            const job *jb = &jobs[j0 + b];
            row_loss *rl = &losses[j0 + b];
            rl->loss_sum = 0.0, rl->n = 0;
            for (int t = 0; t < T; t++)
                if (targets[b * T + t] >= 0) rl->loss_sum -= m->logprob[b * T + t], rl->n++;
            if (jb->kind == 0)
                answer_extras(m, b, o, items[idx[jb->item]].answer, &sc, vals + (size_t)jb->item * QA_N_VALUES);
        }
    }
    tb_free(sc.logp), tb_free(sc.mu), tb_free(sc.sigma), tb_free(sc.argmax), tb_free(sc.labels);
    return rc;
}

/* ---- generation -------------------------------------------------------------------------------- */

int qa_window_logprobs(tb_model *m, const tb_token_windows *w, int B, MPI_Comm comm, float *out) {
    int rank, size, T = w->T, *inp, *targets;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    const long n = w->n_windows;
    TB_CHECK(tb_model_batch(m, B, T, &inp, &targets));
    double *v = tb_calloc((size_t)(n ? n : 1), sizeof(double)); /* (n), this rank's chunks, zeros elsewhere */
    long *idx = tb_malloc((size_t)B * sizeof(long));
    int rc = TB_OK;
    for (long c0 = (long)rank * B; c0 < n && rc == TB_OK; c0 += (long)size * B) {
        int k = (int)(n - c0 < B ? n - c0 : B);
        for (int b = 0; b < k; b++) idx[b] = c0 + b;
        tb_windows_batch(w, idx, k, inp, targets);
        rc = tb_model_forward(m, inp, targets, k, T);
        for (int b = 0; b < k && rc == TB_OK; b++)
            for (int t = 0; t < T; t++)
                if (targets[b * T + t] >= 0) v[c0 + b] += m->logprob[b * T + t];
    }
    if (rc == TB_OK && MPI_Allreduce(MPI_IN_PLACE, v, (int)n, MPI_DOUBLE, MPI_SUM, comm) != MPI_SUCCESS)
        rc = TB_ERROR(TB_ERR_MPI, "check the MPI installation", "summing %ld sequence log-probs failed", n);
    for (long i = 0; i < n && rc == TB_OK; i++) out[i] = (float)v[i];
    tb_free(idx);
    tb_free(v);
    return rc;
}

/* One multiple-choice row in plain text: [BOS] context continuation [PAD...], the continuation's tokens
 * scored. Context and continuation are encoded apart, so the scored tokens are the option's own. */
static int choice_window(const tb_tokenizer *tok, const char *context, const char *continuation, int T, int *row,
                         float *mask) {
    size_t room = (size_t)T, n = 1;
    row[0] = TB_TOK_BOS;
    size_t k = tb_tokenizer_encode(tok, context, strlen(context), row + n, room + 1 - n);
    const size_t first = n += k;
    if (n <= room) k = tb_tokenizer_encode(tok, continuation, strlen(continuation), row + n, room + 1 - n), n += k;
    if (n > room + 1)
        return TB_ERROR(TB_ERR_ARG, "use a model with a longer context (data.seq_len, pretrain --seq-len)",
                        "the multiple-choice row \"%s%s\" needs %zu tokens, more than the model's %d + 1", context,
                        continuation, n, T);
    for (size_t t = n; t <= room; t++) row[t] = TB_TOK_PAD;
    /* position t predicts row[t + 1]: the continuation is row[first .. n) */
    for (size_t t = 0; t < room; t++) mask[t] = t + 1 >= first && t + 1 < n ? 1.0f : 0.0f;
    return TB_OK;
}

int tb_capability_accuracy(tb_model *m, const tb_tokenizer *tok, int B, MPI_Comm comm, double *accuracy) {
    enum { K = 4 }; /* the true answer and its 3 distractors */
    const tb_fact *f;
    const long nf = tb_world_facts(&f);
    const int T = m->cfg.max_seq_len;
    tb_token_windows w = {.T = T, .n_windows = nf * K};
    w.tokens = tb_malloc((size_t)w.n_windows * (size_t)(T + 1) * sizeof(int)); /* (nf*K, T+1) */
    w.mask = tb_malloc((size_t)w.n_windows * (size_t)T * sizeof(float));     /* (nf*K, T) */
    char context[512], option[256];
    int rc = TB_OK;
    for (long i = 0; i < nf && rc == TB_OK; i++) {
        snprintf(context, sizeof context, "Q: %s A:", f[i].question);
        for (int k = 0; k < K && rc == TB_OK; k++) {
            snprintf(option, sizeof option, " %s", k == 0 ? f[i].answer : f[i].distractors[k - 1]);
            long r = i * K + k;
            rc = choice_window(tok, context, option, T, w.tokens + (size_t)r * (T + 1), w.mask + (size_t)r * T);
        }
    }
    float *lp = tb_malloc((size_t)w.n_windows * sizeof(float)); /* (nf*K) summed option log-likelihoods */
    if (rc == TB_OK) rc = qa_window_logprobs(m, &w, B, comm, lp);
    long right = 0;
    for (long i = 0; i < nf && rc == TB_OK; i++) {
        int best = 1;
        for (int k = 1; k < K; k++) best &= lp[i * K] > lp[i * K + k];
        right += best;
    }
    if (rc == TB_OK) *accuracy = (double)right / (double)nf;
    tb_free(lp);
    tb_windows_free(&w);
    return rc;
}

int qa_greedy_texts(tb_model *m, const tb_tokenizer *tok, const char *const *prompts, long n, int max_new_tokens,
                    char **texts) {
    enum { CHUNK = 32 };
    int maxT = m->cfg.max_seq_len;
    int *prompt_buf = tb_malloc((size_t)CHUNK * maxT * sizeof(int)), *plen = tb_malloc(CHUNK * sizeof(int));
    int *out_buf = tb_malloc((size_t)CHUNK * maxT * sizeof(int)), *out_len = tb_malloc(CHUNK * sizeof(int));
    const int *prompt_rows[CHUNK];
    int *outs[CHUNK];
    size_t text_cap = (size_t)maxT * 64;
    char *text = tb_malloc(text_cap);
    for (long i = 0; i < n; i++) texts[i] = NULL;
    int rc = TB_OK;
    for (long i0 = 0; i0 < n && rc == TB_OK; i0 += CHUNK) {
        int k = (int)(n - i0 < CHUNK ? n - i0 : CHUNK), longest = 0;
        for (int j = 0; j < k && rc == TB_OK; j++) {
            prompt_rows[j] = prompt_buf + (size_t)j * maxT;
            outs[j] = out_buf + (size_t)j * maxT;
            rc = tb_qa_encode_prompt(tok, prompts[i0 + j], prompt_buf + (size_t)j * maxT, maxT, &plen[j]);
            longest = plen[j] > longest ? plen[j] : longest;
        }
        if (rc != TB_OK) break;
        int room = maxT - longest;
        tb_sample_config sc = {.max_new_tokens = max_new_tokens < room ? max_new_tokens : room,
                               .temperature = 0.0f, .top_k = 0, .top_p = 1.0f, .eos_id = TB_TOK_EOS, .seed = 0};
        if (sc.max_new_tokens < 1)
            rc = TB_ERROR(TB_ERR_ARG, "raise data.seq_len", "a prompt fills the whole context (%d tokens)", maxT);
        if (rc == TB_OK) rc = tb_generate(m, prompt_rows, plen, k, &sc, outs, out_len);
        for (int j = 0; j < k && rc == TB_OK; j++) {
            int len = out_len[j] > 0 && outs[j][out_len[j] - 1] == TB_TOK_EOS ? out_len[j] - 1 : out_len[j];
            size_t bytes = tb_tokenizer_decode(tok, outs[j], (size_t)len, text, text_cap, 0);
            if (bytes > text_cap) bytes = text_cap;
            char *t = tb_malloc(bytes + 1);
            memcpy(t, text, bytes);
            t[bytes] = '\0';
            texts[i0 + j] = t;
        }
    }
    tb_free(prompt_buf), tb_free(plen), tb_free(out_buf), tb_free(out_len), tb_free(text);
    if (rc != TB_OK)
        for (long i = 0; i < n; i++) tb_free(texts[i]), texts[i] = NULL;
    return rc;
}

static int rouge_of_generations(tb_model *m, const tb_tokenizer *tok, const tb_qa_item *items, const long *idx,
                                long n, const qa_eval_opts *o, float *vals) {
    const char **prompts = tb_malloc((size_t)(n ? n : 1) * sizeof(char *));
    char **texts = tb_malloc((size_t)(n ? n : 1) * sizeof(char *));
    for (long i = 0; i < n; i++) prompts[i] = items[idx[i]].question;
    int rc = qa_greedy_texts(m, tok, prompts, n, o->max_new_tokens, texts);
    for (long i = 0; i < n && rc == TB_OK; i++) {
        const char *ref = items[idx[i]].answer;
        tb_rouge_l r = tb_rouge_l_score(ref, strlen(ref), texts[i], strlen(texts[i]));
        float *v = vals + (size_t)i * QA_N_VALUES;
        v[QA_ROUGE_RECALL] = (float)r.recall;
        v[QA_ROUGE_F1] = (float)r.f1;
        tb_free(texts[i]);
    }
    tb_free(prompts);
    tb_free(texts);
    return rc;
}

/* ---- GradNorm ---------------------------------------------------------------------------------- */

/* -mean over tensors of ||grad of avg_loss||_2 for each item, batch 1: on a copy of the model, whose
 * batch shape is free to be one row (m's is fixed by its earlier passes). */
static int gradnorms(const tb_model *m, const tb_tokenizer *tok, const tb_qa_item *items, const long *idx, long n,
                     float *vals) {
    int T = m->cfg.max_seq_len;
    tb_model one;
    TB_CHECK(tb_model_copy(&one, m));
    tb_paramset_set_frozen(&one.params, "", 0);
    int *inp, *targets, rc = tb_model_batch(&one, 1, T, &inp, &targets);
    tb_paramset *ps = &one.params;
    for (long i = 0; i < n && rc == TB_OK; i++) {
        int na;
        rc = tb_qa_encode(tok, items[idx[i]].question, items[idx[i]].answer, T, inp, targets, &na);
        if (rc == TB_OK) rc = tb_model_forward(&one, inp, targets, 1, T);
        if (rc != TB_OK) break;
        tb_model_zero_grad(&one);
        float *dlp = tb_model_dlogprob(&one); /* (1,T) */
        for (int t = 0; t < T; t++) dlp[t] = targets[t] >= 0 ? -1.0f / (float)na : 0.0f;
        tb_model_logprob_grad(&one, dlp);
        tb_model_backward(&one, 1);
        double sum = 0.0;
        for (int ti = 0; ti < ps->n_tensors; ti++) {
            const tb_tensor *tt = &ps->tensors[ti];
            double s2 = 0.0;
            for (size_t j = 0; j < tt->numel; j++) s2 += (double)ps->grad[tt->offset + j] * ps->grad[tt->offset + j];
            sum += sqrt(s2);
        }
        vals[(size_t)i * QA_N_VALUES + QA_MIA_GRADNORM] = (float)(-sum / ps->n_tensors);
    }
    tb_model_free(&one);
    return rc;
}

/* ---- the whole evaluation ------------------------------------------------------------------------ */

static int evaluate_local(tb_model *m, const tb_tokenizer *tok, const tb_qa_item *items, const long *idx, long n,
                          const qa_eval_opts *o, float *vals) {
    for (size_t i = 0; i < (size_t)n * QA_N_VALUES; i++) vals[i] = NAN;
    long n_jobs = 0;
    for (long i = 0; i < n; i++) n_jobs += 1 + (items[idx[i]].paraphrase != NULL) + items[idx[i]].n_perturbed;
    job *jobs = tb_malloc((size_t)(n_jobs ? n_jobs : 1) * sizeof *jobs);
    row_loss *losses = tb_malloc((size_t)(n_jobs ? n_jobs : 1) * sizeof *losses);
    long *first = tb_malloc((size_t)(n ? n : 1) * sizeof(long));
    long j = 0;
    for (long i = 0; i < n; i++) {
        const tb_qa_item *it = &items[idx[i]];
        first[i] = j;
        jobs[j++] = (job){i, 0};
        if (it->paraphrase) jobs[j++] = (job){i, 1};
        for (int k = 0; k < it->n_perturbed; k++) jobs[j++] = (job){i, 2 + k};
    }
    int rc = score_jobs(m, tok, items, idx, jobs, n_jobs, o, losses, vals);
    for (long i = 0; i < n && rc == TB_OK; i++) {
        const tb_qa_item *it = &items[idx[i]];
        float *v = vals + (size_t)i * QA_N_VALUES;
        long jj = first[i];
        double answer = losses[jj].loss_sum / losses[jj].n;
        jj++;
        double para = NAN;
        if (it->paraphrase) para = losses[jj].loss_sum / losses[jj].n, jj++;
        double pert[TB_QA_MAX_PERTURBED], pert_mean = 0.0;
        for (int k = 0; k < it->n_perturbed; k++, jj++) {
            pert[k] = losses[jj].loss_sum / losses[jj].n;
            pert_mean += pert[k] / it->n_perturbed;
        }
        v[QA_AVG_LOSS] = (float)answer;
        v[QA_AVG_LOSS_PARA] = (float)para;
        v[QA_AVG_LOSS_PERT] = (float)pert_mean;
        /* the correct answer of the truth ratio: the paraphrase (authors), the answer itself (world) */
        tb_truth_ratio tr = tb_truth_ratio_of(o->world || !it->paraphrase ? answer : para, pert, it->n_perturbed);
        v[QA_TRUTH_RATIO] = (float)tr.tr;
        v[QA_PROB] = (float)(o->world ? tb_normalised_prob(answer, pert, it->n_perturbed) : exp(-answer));
    }
    if (rc == TB_OK) rc = rouge_of_generations(m, tok, items, idx, n, o, vals);
    if (rc == TB_OK && o->want_gradnorm) rc = gradnorms(m, tok, items, idx, n, vals);
    tb_free(jobs), tb_free(losses), tb_free(first);
    return rc;
}

int qa_evaluate(tb_model *m, const tb_tokenizer *tok, const tb_qa_item *items, const long *idx, long n,
                const qa_eval_opts *o, MPI_Comm comm, qa_samples *out) {
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    long lo = n * rank / size, hi = n * (rank + 1) / size;
    float *local = tb_malloc((size_t)(hi - lo + 1) * QA_N_VALUES * sizeof(float));
    int rc = evaluate_local(m, tok, items, idx + lo, hi - lo, o, local);
    /* agree on failure before the gather, so that no rank waits in it */
    int worst = rc;
    MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, comm);
    if (worst != TB_OK) {
        tb_free(local);
        return rc != TB_OK ? rc : TB_ERROR(worst, "see the failing rank's message", "evaluation failed on another rank");
    }
    int *counts = tb_malloc((size_t)size * sizeof(int)), *displs = tb_malloc((size_t)size * sizeof(int));
    for (int r = 0; r < size; r++) {
        long a = n * r / size, b = n * (r + 1) / size;
        counts[r] = (int)((b - a) * QA_N_VALUES);
        displs[r] = (int)(a * QA_N_VALUES);
    }
    float *all = tb_malloc((size_t)(n ? n : 1) * QA_N_VALUES * sizeof(float));
    MPI_Allgatherv(local, counts[rank], MPI_FLOAT, all, counts, displs, MPI_FLOAT, comm);
    out->n = n;
    for (int k = 0; k < QA_N_VALUES; k++) {
        out->v[k] = tb_malloc((size_t)(n ? n : 1) * sizeof(float));
        for (long i = 0; i < n; i++) out->v[k][i] = all[(size_t)i * QA_N_VALUES + k];
    }
    tb_free(local), tb_free(counts), tb_free(displs), tb_free(all);
    return TB_OK;
}

void qa_samples_free(qa_samples *s) {
    for (int k = 0; k < QA_N_VALUES; k++) tb_free(s->v[k]), s->v[k] = NULL;
    s->n = 0;
}

int qa_question_features(tb_model *m, const tb_tokenizer *tok, const tb_qa_item *items, const long *idx, long n,
                         int layer, int B, double *features) {
    int T = m->cfg.max_seq_len, C = m->cfg.n_embd;
    int *inp, *targets, *plen = tb_malloc((size_t)B * sizeof(int));
    TB_CHECK(tb_model_batch(m, B, T, &inp, &targets));
    int keep_layer = m->capture_layer, keep_stop = m->stop_at_capture, rc = TB_OK;
    m->capture_layer = layer;
    m->stop_at_capture = 1;
    for (long i0 = 0; i0 < n && rc == TB_OK; i0 += B) {
        int rows = (int)(n - i0 < B ? n - i0 : B);
        for (int t = 0; t < B * T; t++) inp[t] = TB_TOK_PAD, targets[t] = -1;
        for (int b = 0; b < rows && rc == TB_OK; b++)
            rc = tb_qa_encode_prompt(tok, items[idx[i0 + b]].question, inp + b * T, T, &plen[b]);
        if (rc == TB_OK) rc = tb_model_forward(m, inp, targets, B, T);
        if (rc != TB_OK) break;
        const float *h = tb_model_hidden(m); /* (B,T,C) */
        for (int b = 0; b < rows; b++) {
            /* the question's tokens: after BOS and PROMPT, before the ANSWER marker */
            int t0 = 2, t1 = plen[b] - 1;
            double *f = features + (size_t)(i0 + b) * C;
            for (int c = 0; c < C; c++) f[c] = 0.0;
            for (int t = t0; t < t1; t++)
                for (int c = 0; c < C; c++) f[c] += h[((size_t)b * T + t) * C + c];
            for (int c = 0; c < C; c++) f[c] /= (t1 > t0 ? t1 - t0 : 1);
        }
    }
    m->capture_layer = keep_layer;
    m->stop_at_capture = keep_stop;
    tb_free(plen);
    return rc;
}
