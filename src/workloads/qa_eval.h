/*
 * qa_eval.h (internal to src/workloads): evaluating a model on question-answer items, the
 * per-sample values of ../shared/reference/unlearning.md section 3: answer losses (answer, paraphrase,
 * perturbed answers), ROUGE-L of greedy generations, truth ratio, membership scores, extraction
 * strength and exact memorisation. Items are split over the ranks of a communicator and the values
 * gathered on every rank.
 */
#ifndef TB_QA_EVAL_H
#define TB_QA_EVAL_H

#include "workloads.h"

/* The per-sample values of one set, n each (NaN where a value does not apply). */
enum {
    QA_AVG_LOSS = 0,   /* mean NLL of the answer tokens and the EOS */
    QA_AVG_LOSS_PARA,  /* the same for the paraphrased answer */
    QA_AVG_LOSS_PERT,  /* mean over the perturbed answers of their avg_loss */
    QA_LEN,            /* scored answer tokens */
    QA_PROB,           /* exp(-avg_loss); world sets: the normalised probability */
    QA_ROUGE_RECALL,
    QA_ROUGE_F1,
    QA_TRUTH_RATIO,
    QA_MIA_LOSS,
    QA_MIA_ZLIB,
    QA_MIA_MINK,
    QA_MIA_MINKPP,
    QA_MIA_GRADNORM, /* only with want_gradnorm */
    QA_ES,
    QA_EM,
    QA_N_VALUES
};
extern const char *const qa_value_names[QA_N_VALUES];

typedef struct {
    long n;
    float *v[QA_N_VALUES]; /* each (n) */
} qa_samples;

typedef struct {
    int B;              /* rows per forward: the model's batch size */
    int max_new_tokens; /* greedy generation, capped so prompt + answer fit the model's context */
    double mink_k;      /* Min-K% and Min-K%++ fraction */
    int want_gradnorm;  /* the GradNorm attack: one backward per sample */
    int world;          /* world-knowledge items: TR against the distractors, normalised probability */
} qa_eval_opts;

/* Evaluates m on items[idx[0..n)] (collective over comm, every rank gets every value). */
int qa_evaluate(tb_model *m, const tb_tokenizer *tok, const tb_qa_item *items, const long *idx, long n,
                const qa_eval_opts *o, MPI_Comm comm, qa_samples *out);
void qa_samples_free(qa_samples *s);

/* Encodes items[idx[0..n)] (answer, or with use_answer == 0 a caller-given text per item) as training
 * windows of T+1 tokens with answer-only loss masks, for tb_window_sampler and tb_windows_batch. */
int qa_windows(const tb_tokenizer *tok, const tb_qa_item *items, const long *idx, long n,
               const char *const *answers, int T, tb_token_windows *w);

/* Windows of n prompt/response text pairs (response-only masks), as qa_windows. */
int qa_text_windows(const tb_tokenizer *tok, const char *const *prompts, const char *const *responses, long n, int T,
                    tb_token_windows *w);

/* Summed log-probs of the scored targets of each window of w under m, rows split over the ranks of
 * comm in chunks of at most B (the model's batch): every rank gets all w->n_windows values in out. */
int qa_window_logprobs(tb_model *m, const tb_token_windows *w, int B, MPI_Comm comm, float *out);

/* Greedy responses of m to prompts[0..n) (decoded, without the EOS), at most max_new_tokens each (fewer
 * where the context is full): texts[i] is allocated (tb_free). This rank's prompts only. */
int qa_greedy_texts(tb_model *m, const tb_tokenizer *tok, const char *const *prompts, long n, int max_new_tokens,
                    char **texts);

/* The residual stream of block `layer` averaged over each item's question tokens (n, C), for the probe. */
int qa_question_features(tb_model *m, const tb_tokenizer *tok, const tb_qa_item *items, const long *idx, long n,
                         int layer, int B, double *features);

#endif
