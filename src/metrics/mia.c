/*
 * mia.c: membership scores, "higher => member", and privleak (see metrics.h; reference/mia.md).
 */
#include <math.h>

#include <zlib.h>

#include "metrics/metrics.h"
#include "metrics/metrics_internal.h"

/* Min-K%++'s floor on the variance: a near-deterministic position would otherwise divide by ~0. */
#define MINKPP_VAR_MIN 1e-6
/* k n within this of an integer counts as that integer (decimal k such as 0.4 times n). */
#define MINK_SLACK 1e-9
#define ZLIB_LEVEL 6

double tb_mia_loss(double avg_loss) { return -avg_loss; }

double tb_mia_reference(double avg_loss_ref, double avg_loss) { return avg_loss_ref - avg_loss; }

double tb_mia_zlib(double avg_loss, const char *text, size_t len) {
    uLongf size = compressBound((uLong)len);
    Bytef *buf = tb_malloc(size);
    int rc = compress2(buf, &size, (const Bytef *)text, (uLong)len, ZLIB_LEVEL);
    tb_free(buf);
    /* with a compressBound-sized buffer compress2 fails only when zlib's own malloc does, and running
     * out of memory aborts everywhere else too (tb_malloc) */
    TB_ASSERT(rc == Z_OK);
    return -avg_loss / (double)size;
}

/* The mean of the lowest ceil(k n) values of v (n >= 1), at least one; sorts v. NaN in, NaN out. */
static double mean_of_lowest(double *v, int n, double k) {
    TB_ASSERT(k > 0.0 && k <= 1.0);
    for (int i = 0; i < n; i++)
        if (isnan(v[i])) return NAN;
    int m = (int)ceil(k * n - MINK_SLACK);
    if (m < 1) m = 1;
    if (m > n) m = n;
    metrics_sort(v, n);
    double sum = 0.0;
    for (int i = 0; i < m; i++) sum += v[i];
    return sum / m;
}

double tb_mia_min_k(const double *logp, int n, double k) {
    TB_ASSERT(n >= 0);
    if (n == 0) return NAN;
    double *v = tb_malloc((size_t)n * sizeof *v);
    for (int t = 0; t < n; t++) v[t] = logp[t];
    double score = mean_of_lowest(v, n, k);
    tb_free(v);
    return score;
}

void tb_mia_min_k_pp_moments(const float *logits, int V, double lse, double *mu, double *sigma) {
    /* two passes (mean, then centred second moment) recomputing exp rather than storing a (V) row */
    double mean = 0.0;
    for (int v = 0; v < V; v++) {
        double lp = (double)logits[v] - lse, p = exp(lp);
        if (p > 0.0) mean += p * lp; /* p == 0 with lp == -inf would give NaN */
    }
    double var = 0.0;
    for (int v = 0; v < V; v++) {
        double lp = (double)logits[v] - lse, p = exp(lp);
        if (p > 0.0) var += p * (lp - mean) * (lp - mean);
    }
    *mu = mean;
    *sigma = sqrt(fmax(var, MINKPP_VAR_MIN));
}

double tb_mia_min_k_pp(const double *logp, const double *mu, const double *sigma, int n, double k) {
    TB_ASSERT(n >= 0);
    if (n == 0) return NAN;
    double *z = tb_malloc((size_t)n * sizeof *z);
    for (int t = 0; t < n; t++) z[t] = (logp[t] - mu[t]) / sigma[t];
    double score = mean_of_lowest(z, n, k);
    tb_free(z);
    return score;
}

double tb_privleak(double auc_retain, double auc_unlearned) {
    if (auc_retain == 1.0) return NAN;
    return (auc_retain - auc_unlearned) / (1.0 - auc_retain) * 100.0;
}
