/*
 * unlearn.h (internal to src/workloads): what unlearn.c (the workload, its stages) and
 * unlearn_point.c (one point) share.
 */
#ifndef TB_UNLEARN_H
#define TB_UNLEARN_H

#include "qa_eval.h"

enum {
    UL_FQ = 0, UL_LOG10_FQ, UL_MU, UL_FORGET_ROUGE, UL_FORGET_ROUGE_F1, UL_FORGET_PROB, UL_FORGET_TR, UL_RETAIN_ROUGE,
    UL_RETAIN_PROB, UL_RETAIN_TR, UL_FAMOUS_ROUGE, UL_FAMOUS_PROB, UL_FAMOUS_TR, UL_WORLD_ROUGE, UL_WORLD_PROB,
    UL_WORLD_TR, UL_HOLDOUT_ROUGE, UL_HOLDOUT_PROB, UL_AUC_LOSS, UL_AUC_ZLIB, UL_AUC_MINK, UL_AUC_MINKPP, UL_AUC_REF,
    UL_AUC_GRADNORM, UL_PRIVLEAK, UL_FORGET_ES, UL_FORGET_EM, UL_RELEARN_ROUGE, UL_RELEARN_ROUGE_RL,
    UL_RELEARN_CONTROL_ROUGE, UL_RELEARN_CONTROL_ROUGE_RL, UL_RELEARN_RECOVERY, UL_PROBE_ACC, UL_PROBE_ACC_TARGET,
    UL_PROBE_ACC_CHANCE, UL_UNLEARN_LOSS, UL_RMU_HIDDEN_NORM, UL_LEN_ANSWER, UL_LEN_PERTURBED, UL_N_METRICS
};
extern const char *const ul_metrics[UL_N_METRICS];

/* Values a group computes once and reuses across its points (the retain model's per-sample values,
 * the relearning control, the target's probe accuracy), keyed by the hash of what determines them. */
typedef struct {
    uint64_t key;
    int kind;
    long n;
    float *values;
} ul_memo;

typedef struct {
    tb_qa_set qa;
    char *corpus, *tok_text;
    size_t corpus_len, tok_len;
    ul_memo **memos;
    int n_memos;
} ul_shared;

int ul_load_qa(const tb_spec *s, tb_qa_set *qa);
long ul_steps_for(const tb_spec *s, int p, long n_items);
uint64_t ul_target_hash(const tb_spec *s, int p);
uint64_t ul_gold_hash(const tb_spec *s, int p);
int ul_sample_index(const char *split, const char *name);
int ul_run_point(tb_run_ctx *ctx, int p, tb_point_out *out);
void ul_memo_free(ul_shared *sh);

#endif
