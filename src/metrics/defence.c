/*
 * defence.c: spectral signatures' flag rule and the detection quality of any defence's flags (see
 * metrics.h; reference/poisoning.md section 6).
 */
#include <math.h>
#include <stdlib.h>

#include "metrics/metrics.h"
#include "metrics/metrics_internal.h"

/* 1.5 eps n within this of an integer counts as that integer (decimal eps such as 0.1 times n). */
#define COUNT_SLACK 1e-9
/* Remove 1.5 times the assumed poison share: the outlier scores of the poison are not all above
 * every clean score, so the original method removes a margin more (Tran et al., 2018). */
#define SPECTRAL_REMOVAL_FACTOR 1.5

typedef struct {
    double score;
    int index;
} ranked;

/* Descending score, then ascending index: a deterministic order for ties. */
static int compare_ranked(const void *pa, const void *pb) {
    const ranked *a = pa, *b = pb;
    if (a->score != b->score) return a->score < b->score ? 1 : -1;
    return (a->index > b->index) - (a->index < b->index);
}

int tb_spectral_flags(const double *projection, int n, double eps, double *score, int *flag, int *n_flagged) {
    TB_ASSERT(n >= 0);
    if (!(eps >= 0.0 && eps <= 1.0))
        return TB_ERROR(TB_ERR_ARG, "set the assumed poison-rate bound eps in [0, 1] (default: the true rate)",
                        "spectral signatures: eps = %g is outside [0, 1]", eps);
    TB_CHECK(metrics_check_no_nan(projection, n, "spectral projection"));
    int k = (int)ceil(SPECTRAL_REMOVAL_FACTOR * eps * n - COUNT_SLACK); /* eps = 0: ceil(-1e-9) = 0 */
    if (k > n) k = n;

    ranked *order = tb_malloc((size_t)(n > 0 ? n : 1) * sizeof *order);
    for (int i = 0; i < n; i++) {
        score[i] = projection[i] * projection[i];
        order[i] = (ranked){score[i], i};
        flag[i] = 0;
    }
    qsort(order, (size_t)n, sizeof *order, compare_ranked);
    for (int r = 0; r < k; r++) flag[order[r].index] = 1;
    tb_free(order);
    *n_flagged = k;
    return TB_OK;
}

tb_detection tb_detection_score(const int *flag, const int *is_poison, int n) {
    TB_ASSERT(n >= 0);
    tb_detection d = {0, 0, 0, NAN, NAN};
    for (int i = 0; i < n; i++) {
        int f = flag[i] != 0, p = is_poison[i] != 0;
        d.true_pos += f && p;
        d.false_pos += f && !p;
        d.false_neg += !f && p;
    }
    if (d.true_pos + d.false_pos > 0) d.precision = (double)d.true_pos / (d.true_pos + d.false_pos);
    if (d.true_pos + d.false_neg > 0) d.recall = (double)d.true_pos / (d.true_pos + d.false_neg);
    return d;
}
