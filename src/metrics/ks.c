/*
 * ks.c: the two-sample Kolmogorov-Smirnov test with its exact p-value (see metrics.h).
 *
 * The statistic is kept as an integer. After the pooled values <= v, i of them from x and j from y,
 * n1 n2 (F1 - F2) = i n2 - j n1, so D = h / (n1 n2) with h = max |i n2 - j n1|: the event "D >= d"
 * then needs no floating-point tolerance, and for n1 == n2 == n, h = k n gives k exactly.
 *
 * Under H0 the pooled order is a uniformly random lattice path from (0, 0) to (n1, n2) (a step in i
 * for a value of x, in j for a value of y), and p = P(the path touches |i n2 - j n1| >= h).
 *   - Equal sizes: the reflection-principle sum of metrics.h. Its terms a_j = C(2n, n-jk)/C(2n, n)
 *     fall with j and alternate in sign, so the sum is a_1 (1 - a_2/a_1 + ...) with the bracket in
 *     (0, 1]; ln p = ln 2 + ln a_1 + ln(bracket) never leaves log space, so p = 2/C(4000, 2000) (about
 *     1e-1202) still has its logarithm. The bracket is summed from its smallest term.
 *   - Unequal sizes: the uniform path is the urn walk that steps in i with probability
 *     (n1 - i)/(n1 + n2 - i - j). Dynamic programming carries the probability of reaching each cell
 *     without having touched the boundary; what reaches a boundary cell is absorbed and added to p.
 *     p is thus a sum of positive terms (no 1 - P(inside) cancellation). One row can span
 *     hundreds of orders of magnitude (a corner cell of disjoint samples holds 1/C(n1+n2, n1)), so
 *     every cell is kept as a logarithm.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"
#include "metrics/metrics_internal.h"

/* h = max |i n2 - j n1| over the distinct pooled values; xs (n1) and ys (n2) sorted ascending. */
static long long ks_statistic_numerator(const double *xs, int n1, const double *ys, int n2) {
    long long h = 0;
    int i = 0, j = 0;
    while (i < n1 || j < n2) {
        double v = (j == n2 || (i < n1 && xs[i] <= ys[j])) ? xs[i] : ys[j];
        while (i < n1 && xs[i] == v) i++;
        while (j < n2 && ys[j] == v) j++;
        long long gap = llabs((long long)i * n2 - (long long)j * n1);
        if (gap > h) h = gap;
    }
    return h;
}

/* ln C(2n, n - m) - ln C(2n, n), 0 <= m <= n; lg_n = lgamma(n + 1). */
static double log_binom_ratio(int n, int m, double lg_n) {
    return 2.0 * lg_n - lgamma(n - m + 1.0) - lgamma(n + m + 1.0);
}

/* ln P(D >= k/n) for two samples of size n, 1 <= k <= n. */
static double ks_log_p_equal(int n, int k) {
    double lg_n = lgamma(n + 1.0);
    double log_a1 = log_binom_ratio(n, k, lg_n);
    double bracket = 0.0; /* sum_{j>=1} (-1)^{j+1} a_j / a_1 */
    for (int j = n / k; j >= 1; j--) {
        double term = exp(log_binom_ratio(n, j * k, lg_n) - log_a1);
        bracket += (j % 2 == 1) ? term : -term;
    }
    return M_LN2 + log_a1 + log(bracket);
}

/* ln(e^a + e^b) */
static double log_add(double a, double b) {
    if (a < b) {
        double t = a;
        a = b;
        b = t;
    }
    if (b == -INFINITY) return a;
    return a + log1p(exp(b - a));
}

/* ln P(path touches |i n2 - j n1| >= h), h >= 1, by the first-touch dynamic programme in log space. */
static double ks_log_p_paths(int n1, int n2, long long h) {
    if (n2 > n1) { /* the condition is symmetric in the two samples: keep the shorter row */
        int t = n1;
        n1 = n2;
        n2 = t;
    }
    const int total = n1 + n2;
    double *log_int = tb_malloc((size_t)(total + 1 + n2 + 1) * sizeof *log_int); /* log_int[c] = ln c */
    double *row = log_int + total + 1; /* row[j]: ln P(reach (i, j) without touching the boundary) */
    log_int[0] = -INFINITY;
    for (int c = 1; c <= total; c++) log_int[c] = log((double)c);

    double log_p = -INFINITY;
    for (int i = 0; i <= n1; i++) {
        double left = -INFINITY; /* cell (i, j-1) */
        int alive = 0;
        for (int j = 0; j <= n2; j++) {
            double mass = (i == 0 && j == 0) ? 0.0 : -INFINITY;
            /* row[j] still holds cell (i-1, j); the urn has n1-(i-1) x values among total-(i-1)-j left */
            if (i > 0) mass = log_add(mass, row[j] + log_int[n1 - i + 1] - log_int[total - i + 1 - j]);
            if (j > 0) mass = log_add(mass, left + log_int[n2 - j + 1] - log_int[total - i - j + 1]);
            if (llabs((long long)i * n2 - (long long)j * n1) >= h) {
                log_p = log_add(log_p, mass);
                mass = -INFINITY;
            }
            row[j] = left = mass;
            alive |= mass > -INFINITY;
        }
        if (!alive) break; /* every path has touched the boundary */
    }
    tb_free(log_int);
    return log_p;
}

int tb_ks_2samp(const double *x, int n1, const double *y, int n2, tb_ks_result *out) {
    if (n1 < 1 || n2 < 1)
        return TB_ERROR(TB_ERR_ARG, "both samples need at least one value",
                        "KS test: sample sizes are %d and %d", n1, n2);
    TB_CHECK(metrics_check_no_nan(x, n1, "KS test: value of the first sample"));
    TB_CHECK(metrics_check_no_nan(y, n2, "KS test: value of the second sample"));

    double *xs = tb_malloc((size_t)(n1 + n2) * sizeof *xs);
    double *ys = xs + n1;
    memcpy(xs, x, (size_t)n1 * sizeof *xs);
    memcpy(ys, y, (size_t)n2 * sizeof *ys);
    metrics_sort(xs, n1);
    metrics_sort(ys, n2);
    long long h = ks_statistic_numerator(xs, n1, ys, n2);
    tb_free(xs);

    double log_p = 0.0;
    if (h > 0) log_p = (n1 == n2) ? ks_log_p_equal(n1, (int)(h / n1)) : ks_log_p_paths(n1, n2, h);
    log_p = fmin(log_p, 0.0); /* p = 1 exactly at k = 1 can round a hair above */
    out->d = (double)h / ((double)n1 * (double)n2);
    out->p = exp(log_p);
    out->log10_p = log_p / M_LN10;
    return TB_OK;
}
