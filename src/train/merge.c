/*
 * merge.c: merging task vectors tau_i = theta_i - theta_0 of models fine-tuned from one base
 * (SPUNGE's merge step, ../shared/reference/unlearning.md): the mean, and TIES-merging (trim each
 * tau to its largest entries, elect a sign per coordinate, average the entries that agree with it).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

void tb_merge_mean(float *out, const float *theta0, const float *const *thetas, int k, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t j = 0; j < n; j++) {
        double s = 0.0;
        for (int i = 0; i < k; i++) s += (double)thetas[i][j] - theta0[j];
        out[j] = (float)(theta0[j] + s / k);
    }
}

static int by_magnitude_desc(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return x > y ? -1 : x < y;
}

/* Marks in keep (n) the floor(frac * n) entries of tau with the largest |tau|, ties to the smaller
 * index: everything above the cut value, then entries equal to it in index order. */
static void top_magnitude(unsigned char *keep, const float *theta, const float *theta0, size_t n, double frac,
                          float *scratch) {
    size_t want = (size_t)floor(frac * (double)n);
    memset(keep, 0, n);
    if (want == 0) return;
    for (size_t j = 0; j < n; j++) scratch[j] = fabsf(theta[j] - theta0[j]);
    qsort(scratch, n, sizeof(float), by_magnitude_desc);
    float cut = scratch[want - 1];
    size_t above = 0;
    for (size_t j = 0; j < n; j++) above += fabsf(theta[j] - theta0[j]) > cut;
    size_t ties = want - above;
    for (size_t j = 0; j < n; j++) {
        float a = fabsf(theta[j] - theta0[j]);
        if (a > cut) keep[j] = 1;
        else if (a == cut && ties > 0) keep[j] = 1, ties--;
    }
}

void tb_merge_ties(float *out, const float *theta0, const float *const *thetas, int k, size_t n, double keep_frac,
                   double lambda) {
    unsigned char *keep = tb_malloc((size_t)k * n);
    float *scratch = tb_malloc((n ? n : 1) * sizeof(float));
    for (int i = 0; i < k; i++) top_magnitude(keep + (size_t)i * n, thetas[i], theta0, n, keep_frac, scratch);
#pragma omp parallel for schedule(static)
    for (size_t j = 0; j < n; j++) {
        /* the elected sign: that of the sum of the trimmed task vectors */
        double total = 0.0;
        for (int i = 0; i < k; i++)
            if (keep[(size_t)i * n + j]) total += (double)thetas[i][j] - theta0[j];
        double sum = 0.0;
        int count = 0;
        for (int i = 0; i < k; i++) {
            double tau = (double)thetas[i][j] - theta0[j];
            if (!keep[(size_t)i * n + j] || tau == 0.0 || (tau > 0) != (total > 0)) continue;
            sum += tau;
            count++;
        }
        out[j] = (float)(theta0[j] + (count ? lambda * sum / count : 0.0));
    }
    tb_free(scratch);
    tb_free(keep);
}
