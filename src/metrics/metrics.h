/*
 * metrics.h: the public face of src/metrics: the numbers the unlearning and MIA workloads report,
 * computed from plain arrays (no model, no MPI). Definitions follow reference/unlearning.md section 3
 * and reference/mia.md; where a definition leaves a choice, the comment here states the one taken.
 *   ks.c      two-sample Kolmogorov-Smirnov test with the exact p-value (forget quality)
 *   roc.c     AUC with ties (midranks) and TPR at a fixed FPR
 *   rouge.c   the word tokeniser and ROUGE-L (recall, precision, F1)
 *   unlearn.c truth ratio and its aggregators, normalised probability, harmonic mean (model
 *             utility), extraction strength, exact memorisation
 *   mia.c     membership scores (LOSS, ZLib, Min-K%, Min-K%++, Reference) and privleak
 *
 * Conventions: membership scores are "higher => member" [attr mia_sign=higher_member]. Functions
 * that sort or can meet NaN return a tb_status; the others return the value and document what an
 * empty sample gives.
 */
#ifndef TB_METRICS_H
#define TB_METRICS_H

#include <stddef.h>

#include "core/core.h"

/* ---- Kolmogorov-Smirnov (ks.c) ----------------------------------------------------------------- */

typedef struct {
    double d;       /* max |F1 - F2|, both ECDFs evaluated after each distinct pooled value */
    double p;       /* exact two-sided P(D >= d) under H0; underflows to 0 below ~1e-308 */
    double log10_p; /* log10 of that p-value, finite however small p is */
} tb_ks_result;

/* Two-sample KS test of x (n1) against y (n2), ties allowed. The p-value is exact:
 *   - n1 == n2 == n: D = k/n and P(D >= k/n) = 2 sum_{j=1}^{floor(n/k)} (-1)^{j+1} C(2n, n-jk)/C(2n, n)
 *     (Gnedenko-Korolyuk), summed in log space with lgamma; P = 1 when k = 0;
 *   - n1 != n2: the share of the C(n1+n2, n1) lattice paths that touch |i/n1 - j/n2| >= D, by dynamic
 *     programming over the first-touch probabilities (positive terms only, in log space), which
 *     equals scipy.stats.ks_2samp(method='exact') and stays accurate far below 1e-300.
 * O((n1 + n2) log(n1 + n2)) for the statistic, plus O(n / k) (equal sizes) or O(n1 n2) for p.
 * Errors: TB_ERR_ARG when a sample is empty, TB_ERR_NUMERIC when a value is NaN. */
int tb_ks_2samp(const double *x, int n1, const double *y, int n2, tb_ks_result *out);

/* ---- ROC: AUC and TPR at a fixed FPR (roc.c) --------------------------------------------------- */

/* The operating point for one target FPR t [attr tpr_rule=max_tpr_fpr_le_t]. Thresholds are +inf and
 * every distinct pooled score; a sample is called a member iff its score >= threshold. The point is
 * the one with the largest TPR among thresholds with FPR <= t, which is the smallest such threshold
 * (TPR and FPR only grow as the threshold falls). FPR <= t means at most floor(t*n_non + 1e-9) false
 * positives: the 1e-9 keeps a decimal t from losing a step to binary rounding (0.29 * 100 evaluates to
 * 28.999999999999996). This is
 * sklearn.metrics.roc_curve(drop_intermediate=False) read without interpolation. When
 * n_non * t < 1 (1e-9 allowance again) FPR steps of 1/n_non cannot resolve t: resolved = 0 and
 * tpr, fpr and threshold are NaN. */
typedef struct {
    double target_fpr; /* t, as given */
    double tpr;
    double fpr;        /* the FPR achieved, <= t */
    double threshold;  /* +inf when even the highest score lets too many non-members through */
    int resolved;
} tb_tpr_at_fpr;

/* AUC = P(m_member > m_non) + 0.5 P(m_member = m_non) = (R - n_member (n_member+1)/2)/(n_member
 * n_non), R the sum of the members' midranks in the pooled ascending order (Mann-Whitney), and
 * tpr[i] for each target_fpr[i] in (0, 1] (n_targets may be 0, tpr then NULL). One sort of each
 * sample: O(N log N). Errors: TB_ERR_ARG for an empty sample or a target outside (0, 1],
 * TB_ERR_NUMERIC for a NaN score. */
int tb_roc_summary(const double *member, int n_member, const double *nonmember, int n_nonmember,
                   const double *target_fpr, int n_targets, double *auc, tb_tpr_at_fpr *tpr);

/* ---- ROUGE-L (rouge.c) -------------------------------------------------------------------------- */

typedef struct {
    size_t start, len; /* byte range of one word in the text */
} tb_word;

/* The ROUGE tokenisation (also used for TF-IDF retrieval in the MIA workload): every byte that is not
 * an ASCII letter or digit separates words, empty words are dropped; comparison lowercases ASCII only
 * (no stemmer [attr rouge_stemmer=none]). Writes at most cap words and returns how many the text
 * holds, so a first call with cap 0 sizes the array. */
size_t tb_words_split(const char *text, size_t len, tb_word *words, size_t cap);

typedef struct {
    double recall;    /* LCS / |reference words| (TOFU's number) */
    double precision; /* LCS / |generated words| */
    double f1;        /* 2PR/(P+R) (MUSE's number) */
} tb_rouge_l;

/* ROUGE-L of a generation against its reference: word LCS by dynamic programming in O(|r| |g|) time
 * and O(min(|r|, |g|)) memory. All three are 0 when either text has no word. */
tb_rouge_l tb_rouge_l_score(const char *reference, size_t ref_len, const char *generated, size_t gen_len);

/* ---- unlearning metrics (unlearn.c) ------------------------------------------------------------ */

typedef struct {
    double p_correct; /* exp(-avg_loss of the correct answer) */
    double p_wrong;   /* exp(-mean of the perturbed answers' avg_loss) */
    double tr;        /* p_wrong / (p_correct + 1e-10) */
} tb_truth_ratio;

/* One sample's truth ratio. "correct" is the paraphrased answer on forget and retain, the original
 * answer on the world sets (the caller picks). n_perturbed >= 1. */
tb_truth_ratio tb_truth_ratio_of(double loss_correct, const double *loss_perturbed, int n_perturbed);

typedef enum {
    TB_TR_FORGET,    /* mean(min(TR, 1/TR)): closer to 1 is better */
    TB_TR_RETAIN,    /* mean(max(0, 1 - TR)): for the retain and world sets */
    TB_TR_PROB_MEAN, /* mean(p_correct / (p_correct + p_wrong)) */
} tb_tr_aggregator;

/* The split's truth-ratio number [attr tr_aggregator]; NaN when n == 0. */
double tb_truth_ratio_aggregate(const tb_truth_ratio *samples, int n, tb_tr_aggregator agg);

/* World sets: p_true / (p_true + sum_j p_false_j + 1e-10), p = exp(-avg_loss). */
double tb_normalised_prob(double loss_true, const double *loss_false, int n_false);

/* Model utility: n / sum(1/x_i) for n >= 1, and 0 when any x_i <= 0 (NaN propagates). */
double tb_harmonic_mean(const double *x, int n);

/* From the teacher-forced argmax and the labels of one answer (n tokens). Extraction strength is
 * 1 - k_min / n with k_min the smallest k such that argmax[t] == labels[t] for every t >= k (1 when
 * all match, 0 when the last token misses); exact memorisation is the share of positions where they
 * agree. Both are NaN when n == 0. */
double tb_extraction_strength(const int *argmax, const int *labels, int n);
double tb_exact_memorisation(const int *argmax, const int *labels, int n);

/* ---- membership scores (mia.c); every score is "higher => member" ------------------------------ */

double tb_mia_loss(double avg_loss);                           /* -avg_loss */
double tb_mia_reference(double avg_loss_ref, double avg_loss); /* avg_loss_ref - avg_loss */
/* -avg_loss / (zlib-compressed size in bytes of the answer text, compress2 at level 6). */
double tb_mia_zlib(double avg_loss, const char *text, size_t len);

/* Min-K%: the mean of the lowest ceil(k n) of the n answer-token log-probs (the caller leaves EOS out),
 * at least one [attr mink_rounding=ceil]; k in (0, 1], k n within 1e-9 of an integer counts as that
 * integer so that a decimal k behaves as written (0.55 * 100 evaluates to 55.00000000000001). NaN when
 * n == 0. */
double tb_mia_min_k(const double *logp, int n, double k);

/* Min-K%++ moments of one position: mu = sum_v p_v log p_v and sigma^2 = sum_v p_v (log p_v - mu)^2
 * (the same as sum_v p_v (log p_v)^2 - mu^2, without its cancellation), clamped at >= 1e-6, with
 * log p_v = logits[v] - lse and lse the row's log-sum-exp. Entries with p_v == 0 (logit -inf or an
 * underflow) contribute nothing. logits (V) */
void tb_mia_min_k_pp_moments(const float *logits, int V, double lse, double *mu, double *sigma);
/* Min-K%++: Min-K% over z_t = (logp[t] - mu[t]) / sigma[t]. NaN when n == 0. */
double tb_mia_min_k_pp(const double *logp, const double *mu, const double *sigma, int n, double k);

/* privleak = (A_r - A_u) / (1 - A_r) * 100 with A_r the retain model's AUC and A_u the unlearned
 * model's: ~0 ideal, ~-100 untouched target, > 0 over-unlearning. NaN when A_r == 1 (undefined). */
double tb_privleak(double auc_retain, double auc_unlearned);

#endif
