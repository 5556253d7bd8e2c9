/*
 * onion.c: the text side of the ONION defence (see metrics.h; reference/poisoning.md section 6).
 * The workload owns the LM: it scores the normalised input and each deletion built here, turns the
 * perplexities into suspicion scores f_i, takes the threshold from tb_percentile over clean
 * validation words, and rebuilds each test input with tb_onion_filter.
 */
#include <limits.h>
#include <math.h>
#include <string.h>

#include "metrics/metrics.h"
#include "metrics/metrics_internal.h"

static int is_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); } /* \t \n \v \f \r */

size_t tb_onion_words(const char *text, size_t len, tb_word *words, size_t cap) {
    const unsigned char *s = (const unsigned char *)text;
    size_t n = 0;
    for (size_t pos = 0; pos < len;) {
        if (is_space(s[pos])) {
            pos++;
            continue;
        }
        size_t start = pos;
        while (pos < len && !is_space(s[pos])) pos++;
        if (n < cap) words[n] = (tb_word){start, pos - start};
        n++;
    }
    return n;
}

/* Appends word w of text to out (length *len), after a single space unless it is the first. */
static void append_word(char *out, size_t *len, const char *text, tb_word w) {
    if (*len > 0) out[(*len)++] = ' ';
    memcpy(out + *len, text + w.start, w.len);
    *len += w.len;
}

size_t tb_onion_without_word(const char *text, const tb_word *words, size_t n_words, size_t skip, char *out) {
    size_t len = 0;
    for (size_t i = 0; i < n_words; i++)
        if (i != skip) append_word(out, &len, text, words[i]);
    out[len] = '\0';
    return len;
}

int tb_onion_filter(const char *text, const tb_word *words, size_t n_words, const double *score, double threshold,
                    char *out, size_t *out_len) {
    if (isnan(threshold))
        return TB_ERROR(TB_ERR_ARG, "take the threshold from tb_percentile over clean validation scores",
                        "ONION threshold is NaN");
    TB_ASSERT(n_words <= (size_t)INT_MAX);
    TB_CHECK(metrics_check_no_nan(score, (int)n_words, "ONION suspicion score"));
    size_t len = 0;
    for (size_t i = 0; i < n_words; i++)
        if (score[i] <= threshold) append_word(out, &len, text, words[i]);
    out[len] = '\0';
    *out_len = len;
    return TB_OK;
}

int tb_percentile(const double *x, int n, double q, double *out) {
    if (n < 1) return TB_ERROR(TB_ERR_ARG, "pass at least one value", "percentile of an empty sample");
    if (!(q >= 0.0 && q <= 100.0))
        return TB_ERROR(TB_ERR_ARG, "give the percentile in [0, 100], e.g. 99", "percentile %g is outside [0, 100]", q);
    TB_CHECK(metrics_check_no_nan(x, n, "value"));
    double *v = tb_malloc((size_t)n * sizeof *v);
    memcpy(v, x, (size_t)n * sizeof *v);
    metrics_sort(v, n);
    double h = (double)(n - 1) * (q / 100.0);
    int lo = (int)floor(h);
    double frac = h - lo;
    /* an integer h (always so at q = 100, where h = n - 1) reads the order statistic itself: no
     * v[n] read, and no inf - inf from an infinite neighbour */
    *out = frac == 0.0 ? v[lo] : v[lo] + frac * (v[lo + 1] - v[lo]);
    tb_free(v);
    return TB_OK;
}
