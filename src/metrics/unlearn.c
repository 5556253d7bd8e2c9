/*
 * unlearn.c: truth ratio, normalised probability, harmonic mean, extraction strength and exact
 * memorisation (see metrics.h; reference/unlearning.md section 3).
 */
#include <math.h>

#include "metrics/metrics.h"

/* Keeps the ratios finite when the correct answer's probability underflows (open-unlearning's value). */
#define PROB_EPS 1e-10

tb_truth_ratio tb_truth_ratio_of(double loss_correct, const double *loss_perturbed, int n_perturbed) {
    TB_ASSERT(n_perturbed >= 1);
    double mean = 0.0;
    for (int j = 0; j < n_perturbed; j++) mean += loss_perturbed[j];
    mean /= n_perturbed;
    tb_truth_ratio r;
    r.p_correct = exp(-loss_correct);
    r.p_wrong = exp(-mean);
    r.tr = r.p_wrong / (r.p_correct + PROB_EPS);
    return r;
}

double tb_truth_ratio_aggregate(const tb_truth_ratio *samples, int n, tb_tr_aggregator agg) {
    if (n == 0) return NAN;
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        const tb_truth_ratio *s = &samples[i];
        switch (agg) {
        case TB_TR_FORGET: sum += fmin(s->tr, 1.0 / s->tr); break;
        case TB_TR_RETAIN: sum += fmax(0.0, 1.0 - s->tr); break;
        case TB_TR_PROB_MEAN: sum += s->p_correct / (s->p_correct + s->p_wrong); break;
        }
    }
    return sum / n;
}

double tb_normalised_prob(double loss_true, const double *loss_false, int n_false) {
    double p_true = exp(-loss_true), total = p_true;
    for (int j = 0; j < n_false; j++) total += exp(-loss_false[j]);
    return p_true / (total + PROB_EPS);
}

double tb_harmonic_mean(const double *x, int n) {
    TB_ASSERT(n >= 1);
    double inverse_sum = 0.0;
    for (int i = 0; i < n; i++) {
        if (x[i] <= 0.0) return 0.0;
        inverse_sum += 1.0 / x[i];
    }
    return n / inverse_sum;
}

double tb_extraction_strength(const int *argmax, const int *labels, int n) {
    TB_ASSERT(n >= 0);
    if (n == 0) return NAN;
    int k = n; /* walk back over the matching suffix */
    while (k > 0 && argmax[k - 1] == labels[k - 1]) k--;
    return 1.0 - (double)k / n;
}

double tb_exact_memorisation(const int *argmax, const int *labels, int n) {
    TB_ASSERT(n >= 0);
    if (n == 0) return NAN;
    int hits = 0;
    for (int t = 0; t < n; t++) hits += argmax[t] == labels[t];
    return (double)hits / n;
}
