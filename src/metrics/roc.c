/*
 * roc.c: AUC with ties and TPR at a fixed FPR (see metrics.h).
 *
 * Both samples are sorted once and walked together from the highest score down, one group of tied
 * scores at a time. After a group with value v, the counts above the walk are the true and false
 * positives of threshold v, so every ROC point is visited in threshold order. The group (a members,
 * b non-members) also sits at pooled ascending ranks i+j+1 .. i+j+a+b, i + j being the scores below
 * v, which gives the members' midranks for the Mann-Whitney AUC in the same pass.
 */
#include <math.h>
#include <string.h>

#include "metrics/metrics.h"
#include "metrics/metrics_internal.h"

/* Allowance for a decimal FPR target whose binary value sits a hair under t * n_non. */
#define FPR_SLACK 1e-9

/* FPR <= t as a count: at most floor(t n_non) false positives. */
static long max_false_positives(double t, int n_nonmember) { return (long)floor(t * n_nonmember + FPR_SLACK); }

static int check_roc_input(int n_member, int n_nonmember, const double *target_fpr, int n_targets) {
    if (n_member < 1 || n_nonmember < 1)
        return TB_ERROR(TB_ERR_ARG, "an MIA split needs at least one member and one non-member",
                        "ROC: %d members and %d non-members", n_member, n_nonmember);
    for (int t = 0; t < n_targets; t++)
        if (!(target_fpr[t] > 0.0 && target_fpr[t] <= 1.0))
            return TB_ERROR(TB_ERR_ARG, "give FPR targets as fractions, e.g. 0.01 for 1%",
                            "ROC: FPR target %d is %g, outside (0, 1]", t, target_fpr[t]);
    return TB_OK;
}

int tb_roc_summary(const double *member, int n_member, const double *nonmember, int n_nonmember,
                   const double *target_fpr, int n_targets, double *auc, tb_tpr_at_fpr *tpr) {
    TB_CHECK(check_roc_input(n_member, n_nonmember, target_fpr, n_targets));
    TB_CHECK(metrics_check_no_nan(member, n_member, "ROC: member score"));
    TB_CHECK(metrics_check_no_nan(nonmember, n_nonmember, "ROC: non-member score"));

    for (int t = 0; t < n_targets; t++)
        tpr[t] = (tb_tpr_at_fpr){.target_fpr = target_fpr[t], .tpr = 0.0, .fpr = 0.0, .threshold = INFINITY,
                                 .resolved = max_false_positives(target_fpr[t], n_nonmember) >= 1};

    double *m = tb_malloc((size_t)(n_member + n_nonmember) * sizeof *m);
    double *u = m + n_member;
    memcpy(m, member, (size_t)n_member * sizeof *m);
    memcpy(u, nonmember, (size_t)n_nonmember * sizeof *u);
    metrics_sort(m, n_member);
    metrics_sort(u, n_nonmember);

    /* m[i..n_member) and u[j..n_nonmember) are the scores above the walk */
    int i = n_member, j = n_nonmember;
    double member_rank_sum = 0.0; /* exact: sums of half-integers far below 2^53 */
    while (i > 0 || j > 0) {
        double v = (j == 0 || (i > 0 && m[i - 1] >= u[j - 1])) ? m[i - 1] : u[j - 1];
        int a = 0, b = 0;
        while (i > 0 && m[i - 1] == v) i--, a++;
        while (j > 0 && u[j - 1] == v) j--, b++;
        member_rank_sum += a * ((double)(i + j) + (a + b + 1) / 2.0);
        long fp = n_nonmember - j;
        for (int t = 0; t < n_targets; t++) {
            if (!tpr[t].resolved || fp > max_false_positives(target_fpr[t], n_nonmember)) continue;
            tpr[t].tpr = (double)(n_member - i) / n_member;
            tpr[t].fpr = (double)fp / n_nonmember;
            tpr[t].threshold = v;
        }
    }
    for (int t = 0; t < n_targets; t++)
        if (!tpr[t].resolved) tpr[t].tpr = tpr[t].fpr = tpr[t].threshold = NAN;

    double nm = n_member;
    *auc = (member_rank_sum - nm * (nm + 1.0) / 2.0) / (nm * (double)n_nonmember);
    tb_free(m);
    return TB_OK;
}
