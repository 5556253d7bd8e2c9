/*
 * test_metrics.c: the metric kernels (src/metrics) on hand-computed cases.
 *
 * KS: a small case with ties inside and across samples (p by hand from the Gnedenko-Korolyuk sum),
 * identical samples, the reference table of reference/unlearning.md (to its printed digits, with
 * ties across the samples), p far below the double range (log10 p against a product formula that
 * does not use lgamma), and unequal sizes whose lattice paths are enumerated by hand. ROC: AUC with
 * ties by pair counting, the extremes, TPR at FPR where the threshold is a member's score, the
 * unresolved case and a top group of non-members. ROUGE-L: case, punctuation, digits, non-ASCII
 * bytes as separators, repeats, empty texts. Then the truth ratio and its aggregators, normalised
 * probability, the harmonic mean with a zero and a negative value, every MIA score, privleak,
 * extraction strength and exact memorisation. Bad input must give the documented error codes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "metrics/metrics.h"

#define N_ELEMS(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* |got - want| <= tol * max(1, |want|) */
static void expect_near(double got, double want, double tol, const char *what) {
    double err = fabs(got - want), scale = fmax(1.0, fabs(want));
    if (!(err <= tol * scale)) fail_msg("%s: got %.17g, want %.17g (error %.3g)", what, got, want, err);
}

/* |got - want| <= rel * |want| */
static void expect_rel(double got, double want, double rel, const char *what) {
    if (!(fabs(got - want) <= rel * fabs(want)))
        fail_msg("%s: got %.17g, want %.17g (relative error %.3g)", what, got, want, fabs(got - want) / fabs(want));
}

static void expect_rouge(const char *ref, const char *gen, double recall, double precision, const char *what) {
    tb_rouge_l r = tb_rouge_l_score(ref, strlen(ref), gen, strlen(gen));
    double f1 = (recall + precision > 0) ? 2 * recall * precision / (recall + precision) : 0.0;
    char label[256];
    snprintf(label, sizeof label, "%s recall", what);
    expect_near(r.recall, recall, 1e-15, label);
    snprintf(label, sizeof label, "%s precision", what);
    expect_near(r.precision, precision, 1e-15, label);
    snprintf(label, sizeof label, "%s f1", what);
    expect_near(r.f1, f1, 1e-15, label);
}

/* log10 of 2 / C(a + b, a), as a product of ratios (an independent route to what lgamma gives). */
static double log10_two_over_binom(int a, int b) {
    double s = log10(2.0);
    for (int i = 1; i <= b; i++) s -= log10((double)(a + i) / i);
    return s;
}

/* ------------------------------------------------------------------------------------------------
 * Kolmogorov-Smirnov */

static void test_ks_ties_by_hand(void **state) {
    (void)state;
    /* pooled values 1,2,3,4: F1 = 1/4, 3/4, 1, 1 and F2 = 0, 1/4, 3/4, 1, so D = 1/2 (k = 2, n = 4) and
     * p = 2 (C(8,2) - C(8,0)) / C(8,4) = 2 (28 - 1) / 70 */
    const double x[] = {3, 2, 1, 2}, y[] = {4, 3, 2, 3};
    tb_ks_result r;
    assert_int_equal(tb_ks_2samp(x, 4, y, 4, &r), TB_OK);
    assert_true(r.d == 0.5);
    expect_rel(r.p, 54.0 / 70.0, 1e-13, "p");
    expect_near(r.log10_p, log10(54.0 / 70.0), 1e-13, "log10 p");
    assert_int_equal(tb_ks_2samp(y, 4, x, 4, &r), TB_OK); /* two-sided: symmetric */
    expect_rel(r.p, 54.0 / 70.0, 1e-13, "p, samples swapped");
}

static void test_ks_identical_samples(void **state) {
    (void)state;
    const double x[] = {0.5, -1, 2, 2, 7};
    tb_ks_result r;
    assert_int_equal(tb_ks_2samp(x, 5, x, 5, &r), TB_OK);
    assert_true(r.d == 0.0 && r.p == 1.0 && r.log10_p == 0.0);
}

/* x = 0..n-1 and y = k..n+k-1 share the values k..n-1, and D = k/n is reached at each of them. */
static void ks_shifted(int n, int k, tb_ks_result *r) {
    double *x = tb_malloc(2 * (size_t)n * sizeof *x), *y = x + n;
    for (int i = 0; i < n; i++) {
        x[i] = i;
        y[n - 1 - i] = i + k; /* unsorted on purpose */
    }
    assert_int_equal(tb_ks_2samp(x, n, y, n, r), TB_OK);
    tb_free(x);
}

static void test_ks_reference_table(void **state) {
    (void)state;
    const struct {
        int n, k;
        const char *p; /* as printed in reference/unlearning.md */
    } rows[] = {{400, 400, "1.064e-239"}, {200, 200, "1.943e-119"}, {200, 77, "1.326e-13"},
                {400, 138, "1.662e-21"},  {10, 5, "1.67821e-01"}};
    for (int i = 0; i < N_ELEMS(rows); i++) {
        tb_ks_result r;
        ks_shifted(rows[i].n, rows[i].k, &r);
        assert_true(r.d == (double)rows[i].k / rows[i].n);
        int digits = (int)strcspn(rows[i].p, "e") - 2; /* digits after the point */
        char got[64];
        snprintf(got, sizeof got, "%.*e", digits, r.p);
        if (strcmp(got, rows[i].p) != 0) fail_msg("n=%d k=%d: p = %s, table %s", rows[i].n, rows[i].k, got, rows[i].p);
        expect_near(r.log10_p, log10(r.p), 1e-12, "log10 p agrees with p");
    }
}

static void test_ks_far_below_double_range(void **state) {
    (void)state;
    /* disjoint samples: only the two paths along the border reach D = 1, p = 2 / C(2n, n) */
    tb_ks_result r;
    ks_shifted(2000, 2000, &r);
    assert_true(r.d == 1.0);
    assert_true(r.p == 0.0); /* about 1e-1202: underflows, as documented */
    expect_near(r.log10_p, log10_two_over_binom(2000, 2000), 1e-9, "log10 p, n = 2000, k = 2000");
    ks_shifted(400, 400, &r);
    expect_near(r.log10_p, log10_two_over_binom(400, 400), 1e-10, "log10 p, n = 400, k = 400");
}

static void test_ks_unequal_by_hand(void **state) {
    (void)state;
    tb_ks_result r;
    /* {1,2} against {3,4,5}: D = 1, touched only by the 2 of C(5,2) = 10 paths that put one whole
     * sample first */
    const double a[] = {1, 2}, b[] = {3, 4, 5};
    assert_int_equal(tb_ks_2samp(a, 2, b, 3, &r), TB_OK);
    assert_true(r.d == 1.0);
    expect_rel(r.p, 0.2, 1e-13, "p, D = 1");
    /* {1,3} against {2,4,5}: 6 (F1 - F2) = 3i - 2j runs 3, 1, 4, 2, 0, so D = 4/6. Of the 10 orders,
     * (x positions) 12, 13, 23, 34, 35, 45 reach |3i - 2j| >= 4 and 14, 15, 24, 25 do not: p = 6/10 */
    const double c[] = {1, 3}, d[] = {2, 4, 5};
    assert_int_equal(tb_ks_2samp(c, 2, d, 3, &r), TB_OK);
    expect_rel(r.d, 2.0 / 3.0, 1e-15, "D");
    expect_rel(r.p, 0.6, 1e-13, "p, D = 2/3");
    assert_int_equal(tb_ks_2samp(d, 3, c, 2, &r), TB_OK);
    expect_rel(r.p, 0.6, 1e-13, "p, samples swapped");
}

static void test_ks_unequal_tiny_p(void **state) {
    (void)state;
    /* disjoint samples of sizes n1 != n2: p = 2 / C(n1 + n2, n1); the second case ends far below the
     * double range (about 1e-719) and needs the row rescaling */
    const int sizes[][2] = {{400, 300}, {1500, 1000}};
    for (int c = 0; c < 2; c++) {
        int n1 = sizes[c][0], n2 = sizes[c][1];
        double *x = tb_malloc((size_t)(n1 + n2) * sizeof *x), *y = x + n1;
        for (int i = 0; i < n1; i++) x[i] = i;
        for (int j = 0; j < n2; j++) y[j] = n1 + j;
        tb_ks_result r;
        assert_int_equal(tb_ks_2samp(x, n1, y, n2, &r), TB_OK);
        assert_true(r.d == 1.0);
        expect_near(r.log10_p, log10_two_over_binom(n1, n2), 1e-9, "log10 p, disjoint unequal samples");
        tb_free(x);
    }
}

static void test_ks_bad_input(void **state) {
    (void)state;
    const double x[] = {1, NAN, 3}, y[] = {1, 2};
    tb_ks_result r;
    assert_int_equal(tb_ks_2samp(x, 0, y, 2, &r), TB_ERR_ARG);
    tb_error_clear();
    assert_int_equal(tb_ks_2samp(x, 3, y, 2, &r), TB_ERR_NUMERIC);
    assert_non_null(strstr(tb_error_message(), "1 of 3 is NaN"));
    tb_error_clear();
}

/* ------------------------------------------------------------------------------------------------
 * ROC */

static void test_auc_with_ties(void **state) {
    (void)state;
    /* pairs (member, non-member): 3 beats all 3; each 2 beats 1 and 0 and ties 2 (2.5 each); 1 beats 0
     * and ties 1 (1.5): (3 + 5 + 1.5) / 12 */
    const double m[] = {2, 3, 1, 2}, u[] = {1, 2, 0};
    double auc;
    assert_int_equal(tb_roc_summary(m, 4, u, 3, NULL, 0, &auc, NULL), TB_OK);
    expect_near(auc, 9.5 / 12.0, 1e-15, "AUC with ties");
    /* swapping the roles gives 1 - AUC */
    assert_int_equal(tb_roc_summary(u, 3, m, 4, NULL, 0, &auc, NULL), TB_OK);
    expect_near(auc, 1.0 - 9.5 / 12.0, 1e-15, "AUC, roles swapped");
}

static void test_auc_extremes(void **state) {
    (void)state;
    const double lo[] = {0, 1, 2}, hi[] = {5, 3, 4, 6}, same[] = {1, 1, 1};
    double auc;
    assert_int_equal(tb_roc_summary(hi, 4, lo, 3, NULL, 0, &auc, NULL), TB_OK);
    assert_true(auc == 1.0);
    assert_int_equal(tb_roc_summary(lo, 3, hi, 4, NULL, 0, &auc, NULL), TB_OK);
    assert_true(auc == 0.0);
    assert_int_equal(tb_roc_summary(same, 3, same, 2, NULL, 0, &auc, NULL), TB_OK);
    assert_true(auc == 0.5);
}

static void test_tpr_at_fpr(void **state) {
    (void)state;
    /* non-members 0..99. Going down: 99.5 (TP 1, FP 0), 99 (TP 2, FP 1: a tie), 98.5 (TP 3, FP 1),
     * 98 (TP 3, FP 2), ..., 95 (TP 3, FP 5), 94 (TP 3, FP 6), ..., 50 (TP 4, FP 50), ..., 0 (TP 4, FP 100) */
    double u[100];
    for (int i = 0; i < 100; i++) u[i] = 99 - i;
    const double m[] = {99, 50, 99.5, 98.5};
    const double targets[] = {0.01, 0.05, 0.001, 1.0, 0.5, 0.29};
    tb_tpr_at_fpr t[6];
    double auc;
    assert_int_equal(tb_roc_summary(m, 4, u, 100, targets, 6, &auc, t), TB_OK);
    /* FPR <= 1%: one false positive allowed, the lowest such threshold is a member's score */
    assert_true(t[0].resolved && t[0].target_fpr == 0.01);
    assert_true(t[0].tpr == 0.75 && t[0].fpr == 0.01 && t[0].threshold == 98.5);
    assert_true(t[1].resolved && t[1].tpr == 0.75 && t[1].fpr == 0.05 && t[1].threshold == 95.0);
    /* 100 non-members cannot resolve 0.1% */
    assert_true(!t[2].resolved && isnan(t[2].tpr) && isnan(t[2].fpr) && isnan(t[2].threshold));
    assert_true(t[3].tpr == 1.0 && t[3].fpr == 1.0 && t[3].threshold == 0.0);
    /* FP 50 at threshold 50, where the fourth member joins */
    assert_true(t[4].tpr == 1.0 && t[4].fpr == 0.5 && t[4].threshold == 50.0);
    /* 0.29 * 100 is 28.999999999999996 in binary: still 29 false positives (99..71) allowed */
    assert_true(t[5].tpr == 0.75 && t[5].fpr == 0.29 && t[5].threshold == 71.0);
    /* AUC by pairs: 99.5 and 98.5 beat 100 and 99; 99 beats 99 and ties 1; 50 beats 50 and ties 1 */
    expect_near(auc, (100 + 99 + 99.5 + 50.5) / 400.0, 1e-15, "AUC");

    /* the top score is shared by 3 non-members: no finite threshold keeps FPR <= 1/3 */
    const double u2[] = {5, 5, 5}, m2[] = {1};
    const double third = 1.0 / 3.0;
    assert_int_equal(tb_roc_summary(m2, 1, u2, 3, &third, 1, &auc, t), TB_OK);
    assert_true(t[0].resolved && t[0].tpr == 0.0 && t[0].fpr == 0.0 && isinf(t[0].threshold));
}

static void test_roc_bad_input(void **state) {
    (void)state;
    const double m[] = {1, 2}, u[] = {0, NAN};
    const double zero = 0.0, big = 1.5;
    tb_tpr_at_fpr t;
    double auc;
    assert_int_equal(tb_roc_summary(m, 2, u, 0, NULL, 0, &auc, NULL), TB_ERR_ARG);
    tb_error_clear();
    assert_int_equal(tb_roc_summary(m, 2, u, 1, &zero, 1, &auc, &t), TB_ERR_ARG);
    tb_error_clear();
    assert_int_equal(tb_roc_summary(m, 2, u, 1, &big, 1, &auc, &t), TB_ERR_ARG);
    tb_error_clear();
    assert_int_equal(tb_roc_summary(m, 2, u, 2, NULL, 0, &auc, NULL), TB_ERR_NUMERIC);
    assert_non_null(strstr(tb_error_message(), "non-member score 1 of 2 is NaN"));
    tb_error_clear();
}

/* ------------------------------------------------------------------------------------------------
 * ROUGE-L */

static void test_words_split(void **state) {
    (void)state;
    const char *s = "  Route-66,\xc3\xa9t\xc3\xa9 ok";
    tb_word w[8];
    size_t n = tb_words_split(s, strlen(s), w, 8);
    /* "Route", "66", "t" (the UTF-8 bytes of each é separate), "ok" */
    assert_int_equal(n, 4);
    assert_true(w[0].start == 2 && w[0].len == 5);
    assert_true(w[1].start == 8 && w[1].len == 2);
    assert_true(w[2].start == 13 && w[2].len == 1);
    assert_true(w[3].start == 17 && w[3].len == 2);
    assert_int_equal(tb_words_split(s, strlen(s), NULL, 0), 4); /* sizing call writes nothing */
    assert_int_equal(tb_words_split(s, strlen(s), w, 2), 4);
    assert_int_equal(tb_words_split("", 0, w, 8), 0);
    assert_int_equal(tb_words_split(" ,.;", 4, w, 8), 0);
}

static void test_rouge_l(void **state) {
    (void)state;
    /* ref: the cat sat on the mat (6); gen: the mat a cat sat (5); LCS "the cat sat" = 3 */
    expect_rouge("The cat, sat on the MAT!", "the mat: a cat sat.", 3.0 / 6, 3.0 / 5, "punctuation and case");
    expect_rouge("Jane AUSTEN wrote it.", "jane austen-wrote...IT", 1.0, 1.0, "same words");
    expect_rouge("route 66", "Route-66!", 1.0, 1.0, "digits are word bytes");
    expect_rouge("na\xc3\xafve", "na ve", 1.0, 1.0, "non-ASCII bytes separate");
    expect_rouge("a b a b", "b a b a", 3.0 / 4, 3.0 / 4, "repeated words");
    expect_rouge("a b", "x a y b z", 1.0, 2.0 / 5, "generation longer than reference");
    expect_rouge("x a y b z", "b a", 1.0 / 5, 1.0 / 2, "reference longer than generation");
    expect_rouge("cats", "cat", 0.0, 0.0, "no stemmer");
    expect_rouge("", "some words", 0.0, 0.0, "empty reference");
    expect_rouge("some words", "", 0.0, 0.0, "empty generation");
    expect_rouge("some words", "?! ...", 0.0, 0.0, "punctuation only");
    expect_rouge("abc", "xyz", 0.0, 0.0, "nothing shared");
}

/* ------------------------------------------------------------------------------------------------
 * unlearning metrics */

static void test_truth_ratio(void **state) {
    (void)state;
    /* p_c = 1/2 and the perturbed losses average ln 4 (p_w = 1/4): TR = 0.25 / (0.5 + 1e-10) */
    const double pert[] = {log(2.0), log(8.0)};
    tb_truth_ratio r = tb_truth_ratio_of(log(2.0), pert, 2);
    expect_near(r.p_correct, 0.5, 1e-15, "p_correct");
    expect_near(r.p_wrong, 0.25, 1e-15, "p_wrong");
    expect_rel(r.tr, 0.25 / (0.5 + 1e-10), 1e-14, "TR");

    /* TR = 0.5, 2, 1 (losses chosen so; the 1e-10 shifts them by < 1e-9) */
    const double l1[] = {log(1.0)}, l4[] = {log(4.0)}, l8[] = {log(8.0)};
    tb_truth_ratio s[3] = {tb_truth_ratio_of(log(4.0), l8, 1), tb_truth_ratio_of(log(2.0), l1, 1),
                           tb_truth_ratio_of(log(4.0), l4, 1)};
    expect_near(tb_truth_ratio_aggregate(s, 3, TB_TR_FORGET), (0.5 + 0.5 + 1.0) / 3, 1e-9, "forget");
    expect_near(tb_truth_ratio_aggregate(s, 3, TB_TR_RETAIN), (0.5 + 0 + 0) / 3, 1e-9, "retain");
    /* p_c / (p_c + p_w) = (1/4)/(3/8), (1/2)/(3/2), (1/4)/(1/2) */
    expect_near(tb_truth_ratio_aggregate(s, 3, TB_TR_PROB_MEAN), (2.0 / 3 + 1.0 / 3 + 0.5) / 3, 1e-15, "prob_mean");
    assert_true(isnan(tb_truth_ratio_aggregate(s, 0, TB_TR_FORGET)));
}

static void test_normalised_prob(void **state) {
    (void)state;
    /* 1/2 / (1/2 + 1/4 + 1/8 + 1/8 + 1e-10) */
    const double f[] = {log(4.0), log(8.0), log(8.0)};
    expect_rel(tb_normalised_prob(log(2.0), f, 3), 0.5 / (1.0 + 1e-10), 1e-14, "normalised prob");
    expect_rel(tb_normalised_prob(0.0, f, 0), 1.0 / (1.0 + 1e-10), 1e-15, "no distractor");
}

static void test_harmonic_mean(void **state) {
    (void)state;
    const double a[] = {1, 2, 4}, zero[] = {0.5, 0.0, 0.9}, neg[] = {0.5, -0.1, 0.9}, one[] = {0.3};
    expect_near(tb_harmonic_mean(a, 3), 3.0 / 1.75, 1e-15, "{1,2,4}");
    assert_true(tb_harmonic_mean(zero, 3) == 0.0);
    assert_true(tb_harmonic_mean(neg, 3) == 0.0);
    expect_near(tb_harmonic_mean(one, 1), 0.3, 1e-15, "one value");
}

static void test_extraction_and_memorisation(void **state) {
    (void)state;
    const int argmax[] = {1, 2, 3, 4};
    const int first_wrong[] = {9, 2, 3, 4}, last_wrong[] = {1, 2, 3, 9}, middle_wrong[] = {1, 9, 3, 4};
    expect_near(tb_extraction_strength(argmax, argmax, 4), 1.0, 0, "all match");
    expect_near(tb_extraction_strength(argmax, first_wrong, 4), 0.75, 0, "first wrong: k = 1");
    expect_near(tb_extraction_strength(argmax, last_wrong, 4), 0.0, 0, "last wrong: k = 4");
    expect_near(tb_extraction_strength(argmax, middle_wrong, 4), 0.5, 0, "second wrong: k = 2");
    expect_near(tb_exact_memorisation(argmax, argmax, 4), 1.0, 0, "EM all");
    expect_near(tb_exact_memorisation(argmax, middle_wrong, 4), 0.75, 0, "EM 3 of 4");
    const int none[] = {0, 0, 0, 0};
    expect_near(tb_exact_memorisation(argmax, none, 4), 0.0, 0, "EM none");
    assert_true(isnan(tb_extraction_strength(argmax, argmax, 0)) && isnan(tb_exact_memorisation(argmax, argmax, 0)));
}

/* ------------------------------------------------------------------------------------------------
 * MIA scores */

static void test_mia_simple_scores(void **state) {
    (void)state;
    assert_true(tb_mia_loss(2.5) == -2.5);
    assert_true(tb_mia_reference(3.0, 1.0) == 2.0); /* the target fits better than the reference */
    /* zlib at level 6: an empty input is header (2) + an empty final fixed block (2) + Adler-32 (4) =
     * 8 bytes; "a" adds one literal: 3 + 8 + 7 bits = 3 bytes, so 9 */
    expect_near(tb_mia_zlib(2.0, "", 0), -2.0 / 8, 1e-15, "zlib, empty");
    expect_near(tb_mia_zlib(2.0, "a", 1), -2.0 / 9, 1e-15, "zlib, one byte");
    /* a long repetition compresses to far fewer bytes than it has */
    char rep[4000];
    memset(rep, 'z', sizeof rep);
    double s = tb_mia_zlib(1.0, rep, sizeof rep);
    assert_true(s < -1.0 / 100 && s > -1.0 / 8);
}

static void test_min_k(void **state) {
    (void)state;
    const double lp[] = {-1, -5, -3, -2, -4};
    expect_near(tb_mia_min_k(lp, 5, 0.4), -4.5, 1e-15, "k = 0.4: ceil(2.0) = 2 lowest");
    expect_near(tb_mia_min_k(lp, 5, 0.5), -4.0, 1e-15, "k = 0.5: ceil(2.5) = 3 lowest");
    expect_near(tb_mia_min_k(lp, 5, 0.01), -5.0, 1e-15, "k small: at least one");
    expect_near(tb_mia_min_k(lp, 5, 1.0), -3.0, 1e-15, "k = 1: all");
    /* 0.55 * 100 is 55.00000000000001 in binary: still the 55 lowest of -1..-100, not 56 */
    double hundred[100];
    for (int i = 0; i < 100; i++) hundred[i] = -(i + 1);
    expect_near(tb_mia_min_k(hundred, 100, 0.55), -(100 + 46) / 2.0, 1e-13, "k = 0.55, n = 100");
    assert_true(isnan(tb_mia_min_k(lp, 0, 0.4)));
}

static void test_min_k_pp_moments(void **state) {
    (void)state;
    double mu, sigma;
    /* p = (1/4, 3/4): mu = sum p log p; a two-point law has variance p1 p2 (log p1 - log p2)^2 */
    const float two[] = {0.0f, (float)log(3.0)};
    tb_mia_min_k_pp_moments(two, 2, log(4.0), &mu, &sigma);
    expect_near(mu, 0.25 * log(0.25) + 0.75 * log(0.75), 1e-7, "mu, two-point");
    expect_near(sigma, sqrt(0.25 * 0.75) * log(3.0), 1e-7, "sigma, two-point");
    /* huge logits, shifted by the log-sum-exp: the same law */
    const float big[] = {1000.0f, 1000.0f + (float)log(3.0)};
    tb_mia_min_k_pp_moments(big, 2, 1000.0 + log(4.0), &mu, &sigma);
    expect_near(mu, 0.25 * log(0.25) + 0.75 * log(0.75), 1e-4, "mu, logits near 1000");
    /* uniform over 4: sigma^2 = 0, clamped to 1e-6; a -inf logit contributes nothing */
    const float flat[] = {2.0f, 2.0f, -INFINITY, 2.0f, 2.0f};
    tb_mia_min_k_pp_moments(flat, 5, 2.0 + log(4.0), &mu, &sigma);
    expect_near(mu, -log(4.0), 1e-12, "mu, uniform");
    expect_near(sigma, 1e-3, 1e-12, "sigma clamped");
}

static void test_min_k_pp_score(void **state) {
    (void)state;
    /* z = (-1 + 0.5)/0.5, (-2 + 0.5)/1, (-3 + 0.5)/2 = -1, -1.5, -1.25; the 2 lowest average -1.375 */
    const double lp[] = {-1, -2, -3}, mu[] = {-0.5, -0.5, -0.5}, sigma[] = {0.5, 1, 2};
    expect_near(tb_mia_min_k_pp(lp, mu, sigma, 3, 0.4), -1.375, 1e-15, "Min-K%++");
    assert_true(isnan(tb_mia_min_k_pp(lp, mu, sigma, 0, 0.4)));
}

static void test_privleak(void **state) {
    (void)state;
    expect_near(tb_privleak(0.5, 0.75), -50.0, 1e-12, "under-unlearning");
    expect_near(tb_privleak(0.5, 1.0), -100.0, 1e-12, "untouched target");
    expect_near(tb_privleak(0.6, 0.6), 0.0, 1e-12, "ideal");
    expect_near(tb_privleak(0.6, 0.4), 50.0, 1e-12, "over-unlearning");
    assert_true(isnan(tb_privleak(1.0, 0.9)));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ks_ties_by_hand),
        cmocka_unit_test(test_ks_identical_samples),
        cmocka_unit_test(test_ks_reference_table),
        cmocka_unit_test(test_ks_far_below_double_range),
        cmocka_unit_test(test_ks_unequal_by_hand),
        cmocka_unit_test(test_ks_unequal_tiny_p),
        cmocka_unit_test(test_ks_bad_input),
        cmocka_unit_test(test_auc_with_ties),
        cmocka_unit_test(test_auc_extremes),
        cmocka_unit_test(test_tpr_at_fpr),
        cmocka_unit_test(test_roc_bad_input),
        cmocka_unit_test(test_words_split),
        cmocka_unit_test(test_rouge_l),
        cmocka_unit_test(test_truth_ratio),
        cmocka_unit_test(test_normalised_prob),
        cmocka_unit_test(test_harmonic_mean),
        cmocka_unit_test(test_extraction_and_memorisation),
        cmocka_unit_test(test_mia_simple_scores),
        cmocka_unit_test(test_min_k),
        cmocka_unit_test(test_min_k_pp_moments),
        cmocka_unit_test(test_min_k_pp_score),
        cmocka_unit_test(test_privleak),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
