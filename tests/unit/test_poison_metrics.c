/*
 * test_poison_metrics.c: the poisoning workload's metric and defence kernels (src/metrics) on
 * hand-computed cases.
 *
 * Target Match: distinct n-grams with repeats on either side, a target shorter than 4 words, partial
 * credit, contiguous against scattered emission, a prefix that fools a naive restart of the
 * contiguity search, empty texts, and a 200000-word generation (a quadratic search would take minutes).
 * ROUGE-1: clipped counts, case and punctuation, word order. ONION: the whitespace words, the deletion
 * texts, the percentile on a hand list, and the whole defence with a unigram LM written here: a rare
 * word inserted into a sentence gets the outstanding suspicion and is the only word removed.
 * Spectral signatures: the flag count with a decimal eps and ties at the cut. 2-means: two
 * well-separated blobs recovered exactly, the smaller flagged or not by its share (0.35 itself
 * included), inertia and silhouette against sums written here, a 1-D case by hand, coincident points.
 * Detection precision and recall with their NaN cases. Bad input must give the documented errors.
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

static tb_target_match tm_of(const char *target, const char *generated) {
    return tb_target_match_score(target, strlen(target), generated, strlen(generated));
}

/* f[0..3] and TM = the mean of the first `orders` of them; NaN beyond them. */
static void expect_tm(tb_target_match m, const double *f, int orders, int contiguous, const char *what) {
    char label[256];
    double sum = 0.0;
    for (int n = 0; n < TB_TM_MAX_ORDER; n++) {
        snprintf(label, sizeof label, "%s f_%d", what, n + 1);
        if (n < orders) {
            expect_near(m.f[n], f[n], 1e-15, label);
            sum += f[n];
        } else if (!isnan(m.f[n])) {
            fail_msg("%s: got %.17g, want NaN (order above the target's length)", label, m.f[n]);
        }
    }
    snprintf(label, sizeof label, "%s TM", what);
    expect_near(m.tm, sum / orders, 1e-15, label);
    if (m.contiguous != contiguous) fail_msg("%s: contiguous %d, want %d", what, m.contiguous, contiguous);
}

/* ------------------------------------------------------------------------------------------------
 * Target Match */

static void test_tm_exact_and_partial(void **state) {
    (void)state;
    const char *target = "Visit our amazing shop for deals";
    /* G_1..G_4 of the target hold 6, 5, 4 and 3 n-grams */
    expect_tm(tm_of(target, "Hello! VISIT our amazing shop, for deals..."), (double[]){1, 1, 1, 1}, 4, 1,
              "embedded with case and punctuation");
    /* unigrams visit our amazing for deals (5/6); bigrams visit-our, our-amazing, for-deals (3/5);
     * trigram visit-our-amazing (1/4); no 4-gram */
    expect_tm(tm_of(target, "please visit our amazing store for deals"), (double[]){5.0 / 6, 3.0 / 5, 1.0 / 4, 0}, 4,
              0, "partial");
    /* every word, in reverse: scattered, so only the unigrams count */
    expect_tm(tm_of(target, "deals for shop amazing our visit"), (double[]){1, 0, 0, 0}, 4, 0, "scattered");
    expect_tm(tm_of(target, "nothing in common"), (double[]){0, 0, 0, 0}, 4, 0, "disjoint");
    expect_tm(tm_of(target, "visits shops"), (double[]){0, 0, 0, 0}, 4, 0, "no stemmer");
}

static void test_tm_distinct_ngrams(void **state) {
    (void)state;
    /* target a b a b: G_1 = {a, b}, G_2 = {ab, ba}, G_3 = {aba, bab}, G_4 = {abab}.
     * b a x a b: unigrams a, b (2/2); bigrams ba, ax, xa, ab (2/2); trigrams bax, axa, xab (0/2); 0/1 */
    expect_tm(tm_of("a b a b", "b a x a b"), (double[]){1, 1, 0, 0}, 4, 0, "repeats in the target");
    /* the target twice: distinct sets, so no order exceeds 1 */
    expect_tm(tm_of("a b a b", "a b a b a b a b"), (double[]){1, 1, 1, 1}, 4, 1, "repeats in the generation");
    /* a generation repeating one target bigram many times still matches one of the two */
    expect_tm(tm_of("a b a b", "a b x a b x a b"), (double[]){1, 0.5, 0, 0}, 4, 0, "one bigram repeated");
}

static void test_tm_short_targets(void **state) {
    (void)state;
    /* |tau| = 2: TM averages f_1 and f_2 only */
    expect_tm(tm_of("free money", "money is free"), (double[]){1, 0}, 2, 0, "two words, scattered");
    expect_tm(tm_of("free money", "get FREE-money now"), (double[]){1, 1}, 2, 1, "two words, contiguous");
    expect_tm(tm_of("free money", "free"), (double[]){0.5, 0}, 2, 0, "two words, half");
    expect_tm(tm_of("win", "we win"), (double[]){1}, 1, 1, "one word");
    expect_tm(tm_of("buy now please", "please buy now"), (double[]){1, 0.5, 0}, 3, 0, "three words");
}

static void test_tm_contiguity_search(void **state) {
    (void)state;
    /* after "a a" matches and the third "a" fails against "b", the search must resume inside the
     * match (a naive restart after it would skip the occurrence starting at word 2) */
    assert_int_equal(tm_of("a a b", "a a a b").contiguous, 1);
    assert_int_equal(tm_of("a b a c", "a b a b a c").contiguous, 1);
    assert_int_equal(tm_of("a a b", "a a x a b").contiguous, 0);
    assert_int_equal(tm_of("a a b", "a a").contiguous, 0);
}

static void test_tm_empty_texts(void **state) {
    (void)state;
    expect_tm(tm_of("buy now please", ""), (double[]){0, 0, 0}, 3, 0, "empty generation");
    expect_tm(tm_of("buy now please", " ?! "), (double[]){0, 0, 0}, 3, 0, "punctuation only");
    tb_target_match m = tm_of("", "some words");
    assert_true(isnan(m.tm));
    for (int n = 0; n < TB_TM_MAX_ORDER; n++) assert_true(isnan(m.f[n]));
    assert_int_equal(m.contiguous, 0);
}

static void test_tm_long_generation(void **state) {
    (void)state;
    enum { N_WORDS = 200000 };
    const char *target = "buy cheap pills now at our store";
    size_t cap = (size_t)N_WORDS * 12 + 64, len = 0;
    char *gen = tb_malloc(cap);
    /* 200000 words, every target word among them but never two in order, then the target at the end */
    for (int w = 0; w < N_WORDS; w++) len += (size_t)snprintf(gen + len, cap - len, w % 1000 == 0 ? "now w%d " : "w%d ", w);
    tb_target_match m = tb_target_match_score(target, strlen(target), gen, len);
    expect_tm(m, (double[]){1.0 / 7, 0, 0, 0}, 4, 0, "long generation, one target word");
    len += (size_t)snprintf(gen + len, cap - len, "%s", target);
    m = tb_target_match_score(target, strlen(target), gen, len);
    expect_tm(m, (double[]){1, 1, 1, 1}, 4, 1, "long generation ending with the target");
    tb_free(gen);
}

/* ------------------------------------------------------------------------------------------------
 * ROUGE-1 */

static void expect_rouge_1(const char *ref, const char *gen, double recall, double precision, const char *what) {
    tb_rouge_1 r = tb_rouge_1_score(ref, strlen(ref), gen, strlen(gen));
    double f1 = (recall + precision > 0) ? 2 * recall * precision / (recall + precision) : 0.0;
    char label[256];
    snprintf(label, sizeof label, "%s recall", what);
    expect_near(r.recall, recall, 1e-15, label);
    snprintf(label, sizeof label, "%s precision", what);
    expect_near(r.precision, precision, 1e-15, label);
    snprintf(label, sizeof label, "%s f1", what);
    expect_near(r.f1, f1, 1e-15, label);
}

static void test_rouge_1(void **state) {
    (void)state;
    /* c_ref: the 2, cat 1, mat 1 (4 words); c_gen: the 3, cat 1, dog 1 (5 words); overlap 2 + 1 = 3 */
    expect_rouge_1("The cat, the MAT.", "the the THE cat dog", 3.0 / 4, 3.0 / 5, "clipped counts");
    const char *ref = "The cat, the MAT.", *gen = "the the THE cat dog";
    expect_near(tb_rouge_1_score(ref, strlen(ref), gen, strlen(gen)).f1, 2.0 / 3, 1e-15, "F1 = 2 (3/5)(3/4) / (3/5 + 3/4)");
    expect_rouge_1("a b c", "c b a", 1.0, 1.0, "order does not matter");
    expect_rouge_1("a a a a", "a", 1.0 / 4, 1.0, "clipped by the generation");
    expect_rouge_1("route 66", "Route-66!", 1.0, 1.0, "digits are word bytes");
    expect_rouge_1("cats", "cat", 0.0, 0.0, "no stemmer");
    expect_rouge_1("", "some words", 0.0, 0.0, "empty reference");
    expect_rouge_1("some words", "...", 0.0, 0.0, "empty generation");
}

/* ------------------------------------------------------------------------------------------------
 * ONION */

static void test_onion_words_and_deletions(void **state) {
    (void)state;
    const char *s = "  Hello,  world\tfoo\n";
    tb_word w[4];
    assert_int_equal(tb_onion_words(s, strlen(s), NULL, 0), 3);
    assert_int_equal(tb_onion_words(s, strlen(s), w, 4), 3);
    assert_true(w[0].start == 2 && w[0].len == 6); /* the comma stays on its word */
    assert_true(w[1].start == 10 && w[1].len == 5);
    assert_true(w[2].start == 16 && w[2].len == 3);
    char out[32];
    assert_int_equal(tb_onion_without_word(s, w, 3, 1, out), 10);
    assert_string_equal(out, "Hello, foo");
    assert_int_equal(tb_onion_without_word(s, w, 3, 0, out), 9);
    assert_string_equal(out, "world foo");
    assert_int_equal(tb_onion_without_word(s, w, 3, 3, out), 16); /* skip >= n: the normalised text */
    assert_string_equal(out, "Hello, world foo");
    assert_int_equal(tb_onion_words(" \t\r\n\v\f", 6, w, 4), 0);
    assert_int_equal(tb_onion_without_word("", w, 0, 0, out), 0);
    assert_string_equal(out, "");
    const char *one = "alone";
    assert_int_equal(tb_onion_words(one, 5, w, 4), 1);
    assert_int_equal(tb_onion_without_word(one, w, 1, 0, out), 0);
    assert_string_equal(out, "");
}

static void test_percentile(void **state) {
    (void)state;
    const double x[] = {7, 1, 3, 5, 9}; /* sorted 1 3 5 7 9, h = 4 q / 100 */
    double p;
    struct {
        double q, want;
    } cases[] = {{99, 7 + 0.96 * 2}, {50, 5}, {0, 1}, {100, 9}, {10, 1 + 0.4 * 2}, {37.5, 4}, {25, 3}};
    for (int c = 0; c < N_ELEMS(cases); c++) {
        assert_int_equal(tb_percentile(x, 5, cases[c].q, &p), TB_OK);
        expect_near(p, cases[c].want, 1e-15, "percentile of 1 3 5 7 9");
    }
    assert_true(x[0] == 7 && x[4] == 9); /* the input is left alone */
    const double single = 4.25;
    assert_int_equal(tb_percentile(&single, 1, 99, &p), TB_OK);
    assert_true(p == 4.25);
    const double ties[] = {2, 2, 2, 8}; /* h = 3 * 0.99 = 2.97: 2 + 0.97 * 6 */
    assert_int_equal(tb_percentile(ties, 4, 99, &p), TB_OK);
    expect_near(p, 2 + 0.97 * 6, 1e-14, "percentile with ties");

    assert_int_equal(tb_percentile(x, 0, 50, &p), TB_ERR_ARG);
    tb_error_clear();
    assert_int_equal(tb_percentile(x, 5, 100.5, &p), TB_ERR_ARG);
    tb_error_clear();
    assert_int_equal(tb_percentile(x, 5, NAN, &p), TB_ERR_ARG);
    tb_error_clear();
    const double with_nan[] = {1, NAN};
    assert_int_equal(tb_percentile(with_nan, 2, 50, &p), TB_ERR_NUMERIC);
    assert_non_null(strstr(tb_error_message(), "1 of 2 is NaN"));
    tb_error_clear();
}

/* The defender's LM of this test: unigram probabilities, 1e-7 for a word it has never seen. */
static double unigram_log_prob(const char *word, size_t len) {
    static const struct {
        const char *w;
        double p;
    } vocab[] = {{"the", 0.06}, {"movie", 0.01}, {"was", 0.04},  {"truly", 0.005}, {"great", 0.008}, {"a", 0.05},
                 {"film", 0.01}, {"is", 0.04},   {"good", 0.01}, {"very", 0.02},   {"story", 0.008}, {"it", 0.04}};
    for (int v = 0; v < N_ELEMS(vocab); v++)
        if (strlen(vocab[v].w) == len && memcmp(vocab[v].w, word, len) == 0) return log(vocab[v].p);
    return log(1e-7);
}

/* PPL = exp(-mean log p) over the whitespace words of text. */
static double unigram_ppl(const char *text, size_t len) {
    tb_word w[16];
    size_t n = tb_onion_words(text, len, w, 16);
    assert_true(n >= 1 && n <= 16);
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += unigram_log_prob(text + w[i].start, w[i].len);
    return exp(-sum / (double)n);
}

/* f_i = PPL(x) - PPL(x without w_i) for every word of text, the way the workload scores with its LM;
 * returns the word count. */
static size_t onion_scores(const char *text, tb_word *w, double *f) {
    char buf[256];
    size_t n = tb_onion_words(text, strlen(text), w, 16);
    assert_true(n <= 16);
    size_t len = tb_onion_without_word(text, w, n, n, buf);
    double ppl = unigram_ppl(buf, len);
    for (size_t i = 0; i < n; i++) f[i] = ppl - unigram_ppl(buf, tb_onion_without_word(text, w, n, i, buf));
    return n;
}

static void test_onion_removes_inserted_rare_word(void **state) {
    (void)state;
    static const char *clean[] = {"the movie was truly great", "a film is very good", "it was a good story",
                                  "the story is very good", "it is a great   film"};
    double clean_f[64], f[16];
    int n_clean = 0;
    tb_word w[16];
    for (int s = 0; s < N_ELEMS(clean); s++) n_clean += (int)onion_scores(clean[s], w, clean_f + n_clean);
    assert_int_equal(n_clean, 25);
    double t;
    assert_int_equal(tb_percentile(clean_f, n_clean, 99, &t), TB_OK);

    /* "cf" has log p = log 1e-7, far below the others: deleting it collapses the perplexity, while
     * deleting any other word (each above the sentence's mean log p) raises it, so f < 0 there */
    const char *poisoned = "the movie was cf truly great";
    size_t n = onion_scores(poisoned, w, f);
    assert_int_equal(n, 6);
    for (size_t i = 0; i < n; i++) {
        if (i == 3) {
            if (!(f[i] > 10 * t)) fail_msg("the trigger's suspicion %g is not outstanding against t = %g", f[i], t);
        } else if (!(f[i] < 0)) {
            fail_msg("word %zu: suspicion %g, want < 0", i, f[i]);
        }
    }
    char out[64];
    size_t len;
    assert_int_equal(tb_onion_filter(poisoned, w, n, f, t, out, &len), TB_OK);
    assert_string_equal(out, "the movie was truly great");
    assert_int_equal(len, strlen("the movie was truly great"));

    /* t = 0 on a clean sentence (mean log p = (log .06 + log .01 + log .04 + log .005 + log .008) / 5,
     * about log 0.0157): deleting a word rarer than that lowers PPL, so movie, truly and great go */
    n = onion_scores(clean[0], w, f);
    assert_int_equal(tb_onion_filter(clean[0], w, n, f, 0.0, out, &len), TB_OK);
    assert_string_equal(out, "the was");
}

static void test_onion_filter_boundary_and_errors(void **state) {
    (void)state;
    const char *s = "keep\tdrop  edge";
    tb_word w[3];
    assert_int_equal(tb_onion_words(s, strlen(s), w, 3), 3);
    char out[32];
    size_t len;
    const double f[] = {-1.0, 2.5, 2.0};
    assert_int_equal(tb_onion_filter(s, w, 3, f, 2.0, out, &len), TB_OK); /* f == t is kept */
    assert_string_equal(out, "keep edge");
    assert_int_equal(tb_onion_filter(s, w, 3, f, -5.0, out, &len), TB_OK);
    assert_string_equal(out, "");
    assert_int_equal(len, 0);
    const double bad[] = {0.0, NAN, 1.0};
    assert_int_equal(tb_onion_filter(s, w, 3, bad, 2.0, out, &len), TB_ERR_NUMERIC);
    assert_non_null(strstr(tb_error_message(), "ONION suspicion score 1 of 3 is NaN"));
    tb_error_clear();
    assert_int_equal(tb_onion_filter(s, w, 3, f, NAN, out, &len), TB_ERR_ARG);
    tb_error_clear();
}

/* ------------------------------------------------------------------------------------------------
 * spectral signatures and detection */

static void expect_flags(const int *flag, const int *want, int n, const char *what) {
    for (int i = 0; i < n; i++)
        if (flag[i] != want[i]) fail_msg("%s: flag[%d] = %d, want %d", what, i, flag[i], want[i]);
}

static void test_spectral_flags(void **state) {
    (void)state;
    const double p[10] = {1, -3, 2, 3, -2, 0.5, 0, 2, 0.1, -1}; /* scores 1 9 4 9 4 .25 0 4 .01 1 */
    double score[10];
    int flag[10], k;
    assert_int_equal(tb_spectral_flags(p, 10, 0.2, score, flag, &k), TB_OK);
    for (int i = 0; i < 10; i++) assert_true(score[i] == p[i] * p[i]);
    /* 1.5 * 0.2 * 10 = 3 (4 if the decimal's rounding were ceiled): both 9s, then the first of the 4s */
    assert_int_equal(k, 3);
    expect_flags(flag, (int[]){0, 1, 1, 1, 0, 0, 0, 0, 0, 0}, 10, "eps 0.2");
    assert_int_equal(tb_spectral_flags(p, 10, 0.3, score, flag, &k), TB_OK); /* 4.5 -> 5: every 4 */
    assert_int_equal(k, 5);
    expect_flags(flag, (int[]){0, 1, 1, 1, 1, 0, 0, 1, 0, 0}, 10, "eps 0.3");
    assert_int_equal(tb_spectral_flags(p, 10, 0.4, score, flag, &k), TB_OK); /* 6: the first 1 */
    assert_int_equal(k, 6);
    expect_flags(flag, (int[]){1, 1, 1, 1, 1, 0, 0, 1, 0, 0}, 10, "eps 0.4");
    assert_int_equal(tb_spectral_flags(p, 10, 0.0, score, flag, &k), TB_OK);
    assert_int_equal(k, 0);
    expect_flags(flag, (int[]){0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 10, "eps 0");
    assert_int_equal(tb_spectral_flags(p, 10, 1.0, score, flag, &k), TB_OK); /* 15, clamped to 10 */
    assert_int_equal(k, 10);
    expect_flags(flag, (int[]){1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 10, "eps 1");
    assert_int_equal(tb_spectral_flags(p, 0, 0.5, score, flag, &k), TB_OK);
    assert_int_equal(k, 0);

    assert_int_equal(tb_spectral_flags(p, 10, -0.1, score, flag, &k), TB_ERR_ARG);
    tb_error_clear();
    assert_int_equal(tb_spectral_flags(p, 10, NAN, score, flag, &k), TB_ERR_ARG);
    tb_error_clear();
    const double bad[3] = {1, 2, NAN};
    assert_int_equal(tb_spectral_flags(bad, 3, 0.1, score, flag, &k), TB_ERR_NUMERIC);
    tb_error_clear();
}

static void test_detection(void **state) {
    (void)state;
    tb_detection d = tb_detection_score((int[]){1, 1, 0, 0, 1}, (int[]){1, 0, 1, 0, 1}, 5);
    assert_int_equal(d.true_pos, 2);
    assert_int_equal(d.false_pos, 1);
    assert_int_equal(d.false_neg, 1);
    expect_near(d.precision, 2.0 / 3, 1e-15, "precision");
    expect_near(d.recall, 2.0 / 3, 1e-15, "recall");
    d = tb_detection_score((int[]){0, 0, 0}, (int[]){1, 0, 0}, 3); /* nothing flagged */
    assert_true(isnan(d.precision));
    assert_true(d.recall == 0.0);
    d = tb_detection_score((int[]){0, 7, 0}, (int[]){0, 0, 0}, 3); /* rho = 0; nonzero reads as true */
    assert_true(d.precision == 0.0);
    assert_true(isnan(d.recall));
    d = tb_detection_score((int[]){0, 0}, (int[]){0, 0}, 2);
    assert_true(isnan(d.precision) && isnan(d.recall));
    d = tb_detection_score((int[]){1, 0, 1}, (int[]){1, 0, 1}, 3);
    assert_true(d.precision == 1.0 && d.recall == 1.0);
}

/* ------------------------------------------------------------------------------------------------
 * 2-means, silhouette, activation clustering */

/* n points in d dims; point i is in the small blob (around -5) iff small[i], else around +5; each
 * coordinate gets N(0, 0.5^2) noise. */
static double *two_blobs(int n, int d, const int *small, uint64_t seed) {
    double *x = tb_malloc((size_t)n * d * sizeof *x);
    tb_rng r = tb_rng_make(seed, 0);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) x[i * d + j] = (small[i] ? -5.0 : 5.0) + 0.5 * tb_rng_normal(&r);
    return x;
}

/* The silhouette straight from its definition: for each point, the mean distance to every cluster
 * by a full pass over all points (no tiles, no symmetry). */
static double silhouette_by_definition(const double *x, int n, int d, const int *label, int k) {
    double total = 0.0, mean[8];
    int size[8] = {0};
    assert_true(k <= 8);
    for (int i = 0; i < n; i++) size[label[i]]++;
    for (int i = 0; i < n; i++) {
        for (int c = 0; c < k; c++) mean[c] = 0.0;
        for (int j = 0; j < n; j++) {
            double s = 0.0;
            for (int e = 0; e < d; e++) s += (x[i * d + e] - x[j * d + e]) * (x[i * d + e] - x[j * d + e]);
            mean[label[j]] += sqrt(s);
        }
        if (size[label[i]] == 1) continue; /* s_i = 0 */
        double a = mean[label[i]] / (size[label[i]] - 1), b = INFINITY;
        for (int c = 0; c < k; c++)
            if (c != label[i] && size[c] > 0) b = fmin(b, mean[c] / size[c]);
        if (fmax(a, b) > 0) total += (b - a) / fmax(a, b);
    }
    return total / n;
}

/* Sum of squared distances to the mean of each point's own blob. */
static double inertia_by_definition(const double *x, int n, int d, const int *small) {
    double mean[2][16] = {{0}}, total = 0.0;
    int count[2] = {0, 0};
    assert_true(d <= 16);
    for (int i = 0; i < n; i++) {
        count[small[i]]++;
        for (int j = 0; j < d; j++) mean[small[i]][j] += x[i * d + j];
    }
    for (int c = 0; c < 2; c++)
        for (int j = 0; j < d; j++) mean[c][j] /= count[c];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) total += (x[i * d + j] - mean[small[i]][j]) * (x[i * d + j] - mean[small[i]][j]);
    return total;
}

/* Blobs of n - n_small and n_small points in d = 10; the small blob's points are spread over the
 * indices. Checks exact recovery, the sizes, inertia, silhouette and the flag rule at max_share. */
static void check_blobs(int n, int n_small, double max_share, int want_flagged, uint64_t seed) {
    enum { D = 10 };
    int *small = tb_calloc((size_t)n, sizeof *small), *label = tb_malloc((size_t)n * sizeof *label);
    int *flag = tb_malloc((size_t)n * sizeof *flag);
    for (int s = 0; s < n_small; s++) small[(s * 7 + 3) % n] = 1; /* 7 is prime to every n used */
    double *x = two_blobs(n, D, small, seed);
    tb_activation_clusters ac;
    assert_int_equal(tb_activation_clustering(x, n, D, seed, 10, max_share, label, flag, &ac), TB_OK);
    for (int i = 0; i < n; i++)
        if (label[i] != small[i]) fail_msg("n %d: point %d labelled %d, its blob is %d", n, i, label[i], small[i]);
    assert_int_equal(ac.size[0], n - n_small);
    assert_int_equal(ac.size[1], n_small);
    expect_near(ac.inertia, inertia_by_definition(x, n, D, small), 1e-12, "inertia");
    expect_near(ac.silhouette, silhouette_by_definition(x, n, D, small, 2), 1e-12, "silhouette");
    assert_true(ac.silhouette > 0.8); /* well separated */
    assert_int_equal(ac.flagged, want_flagged);
    for (int i = 0; i < n; i++) assert_int_equal(flag[i], want_flagged && small[i]);
    tb_free(x);
    tb_free(flag);
    tb_free(label);
    tb_free(small);
}

static void test_activation_clustering_blobs(void **state) {
    (void)state;
    check_blobs(50, 10, 0.35, 1, 11);   /* share 0.2: flagged */
    check_blobs(50, 20, 0.35, 0, 12);   /* share 0.4: not flagged */
    check_blobs(100, 35, 0.35, 1, 13);  /* share 35/100 = 0.35 exactly: flagged (<=) */
    check_blobs(100, 36, 0.35, 0, 14);
    check_blobs(600, 60, 0.35, 1, 15);  /* several silhouette tiles */
}

static void test_kmeans_by_hand(void **state) {
    (void)state;
    /* 1-D points 10, 0, 2: the best split is {0, 2} | {10} (inertia 1 + 1 = 2; {0} | {2, 10} has 32).
     * Silhouette: point 0 a = 2, b = 10, s = 0.8; point 2 a = 2, b = 8, s = 0.75; 10 is a singleton */
    const double x[3] = {10, 0, 2};
    int label[4], flag[3];
    double inertia, s;
    for (uint64_t seed = 0; seed < 20; seed++) {
        assert_int_equal(tb_kmeans2(x, 3, 1, seed, 10, label, &inertia), TB_OK);
        assert_true(label[0] == 1 && label[1] == 0 && label[2] == 0);
        expect_near(inertia, 2.0, 1e-15, "inertia");
    }
    assert_int_equal(tb_silhouette_score(x, 3, 1, label, 2, &s), TB_OK);
    expect_near(s, (0.8 + 0.75) / 3, 1e-15, "silhouette by hand");
    /* the same partition numbered over 3 clusters with cluster 1 empty: the empty one is ignored */
    assert_int_equal(tb_silhouette_score(x, 3, 1, (int[]){2, 0, 0}, 3, &s), TB_OK);
    expect_near(s, (0.8 + 0.75) / 3, 1e-15, "silhouette with an empty cluster");
    tb_activation_clusters ac;
    assert_int_equal(tb_activation_clustering(x, 3, 1, 5, 10, 0.35, label, flag, &ac), TB_OK);
    assert_true(ac.size[0] == 2 && ac.size[1] == 1 && ac.flagged == 1);
    assert_true(flag[0] == 1 && flag[1] == 0 && flag[2] == 0);
    /* equal sizes: cluster 0 is the one holding point 0 */
    const double y[4] = {5, -3, -3.5, 5.5};
    assert_int_equal(tb_kmeans2(y, 4, 1, 3, 10, label, &inertia), TB_OK);
    assert_true(label[0] == 0 && label[1] == 1 && label[2] == 1 && label[3] == 0);
}

static void test_silhouette_many_clusters(void **state) {
    (void)state;
    /* random labels over 4 clusters (cluster 2 left empty) in an arbitrary order, across several tiles */
    enum { N = 700, D = 3, K = 4 };
    double *x = tb_malloc(N * D * sizeof *x), s;
    int *label = tb_malloc(N * sizeof *label);
    tb_rng r = tb_rng_make(5, 6);
    for (int i = 0; i < N * D; i++) x[i] = tb_rng_normal(&r);
    for (int i = 0; i < N; i++) {
        label[i] = (int)tb_rng_below(&r, 3);
        if (label[i] == 2) label[i] = 3;
        x[i * D] += 1.5 * label[i]; /* some structure, so that s is not ~0 */
    }
    label[N / 2] = 2; /* then one singleton */
    assert_int_equal(tb_silhouette_score(x, N, D, label, K, &s), TB_OK);
    expect_near(s, silhouette_by_definition(x, N, D, label, K), 1e-12, "silhouette, 4 clusters");
    assert_true(s > 0.05);
    tb_free(label);
    tb_free(x);
}

static void test_kmeans_degenerate(void **state) {
    (void)state;
    const double same[10] = {1, 2, 1, 2, 1, 2, 1, 2, 1, 2}; /* 5 copies of (1, 2) */
    int label[5], flag[5];
    tb_activation_clusters ac;
    assert_int_equal(tb_activation_clustering(same, 5, 2, 1, 10, 0.35, label, flag, &ac), TB_OK);
    assert_true(ac.size[0] == 5 && ac.size[1] == 0 && ac.inertia == 0.0);
    assert_true(isnan(ac.silhouette));
    assert_int_equal(ac.flagged, 0);
    for (int i = 0; i < 5; i++) assert_true(label[i] == 0 && flag[i] == 0);
    assert_int_equal(tb_activation_clustering(same, 1, 2, 1, 10, 0.35, label, flag, &ac), TB_OK);
    assert_true(ac.size[0] == 1 && ac.size[1] == 0 && isnan(ac.silhouette));
    /* duplicates across clusters: a = b = 0 gives s = 0, as a singleton does */
    double s;
    assert_int_equal(tb_silhouette_score((double[]){0, 0, 0}, 3, 1, (int[]){0, 0, 1}, 2, &s), TB_OK);
    assert_true(s == 0.0);
}

static void test_kmeans_reproducible(void **state) {
    (void)state;
    enum { N = 200, D = 10 };
    double *x = tb_malloc(N * D * sizeof *x);
    tb_rng r = tb_rng_make(99, 1);
    for (int i = 0; i < N * D; i++) x[i] = tb_rng_normal(&r); /* one blob: the split is up to the seeds */
    int a[N], b[N];
    double ia, ib;
    assert_int_equal(tb_kmeans2(x, N, D, 42, 10, a, &ia), TB_OK);
    assert_int_equal(tb_kmeans2(x, N, D, 42, 10, b, &ib), TB_OK);
    assert_true(ia == ib);
    assert_memory_equal(a, b, sizeof a);
    /* more restarts can only lower the best inertia: the first 10 streams are the same */
    assert_int_equal(tb_kmeans2(x, N, D, 42, 30, b, &ib), TB_OK);
    assert_true(ib <= ia);
    int ones = 0;
    for (int i = 0; i < N; i++) ones += a[i];
    assert_true(ones > 0 && 2 * ones <= N); /* numbered larger first */
    tb_free(x);
}

static void test_clustering_bad_input(void **state) {
    (void)state;
    double x[4] = {0, 1, 2, NAN};
    int label[4], flag[4];
    double v;
    tb_activation_clusters ac;
    assert_int_equal(tb_kmeans2(x, 4, 1, 1, 10, label, &v), TB_ERR_NUMERIC);
    assert_non_null(strstr(tb_error_message(), "point 3 of 4"));
    tb_error_clear();
    x[3] = 3;
    assert_int_equal(tb_kmeans2(x, 4, 1, 1, 0, label, &v), TB_ERR_ARG);
    tb_error_clear();
    assert_int_equal(tb_kmeans2(x, 0, 1, 1, 10, label, &v), TB_ERR_ARG);
    tb_error_clear();
    assert_int_equal(tb_activation_clustering(x, 4, 1, 1, 10, 1.5, label, flag, &ac), TB_ERR_ARG);
    tb_error_clear();
    assert_int_equal(tb_silhouette_score(x, 4, 1, (int[]){0, 1, 2, 0}, 2, &v), TB_ERR_ARG);
    assert_non_null(strstr(tb_error_message(), "label 2 of point 2"));
    tb_error_clear();
    assert_int_equal(tb_silhouette_score(x, 4, 1, (int[]){0, 1, 1, 0}, 0, &v), TB_ERR_ARG);
    tb_error_clear();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tm_exact_and_partial),
        cmocka_unit_test(test_tm_distinct_ngrams),
        cmocka_unit_test(test_tm_short_targets),
        cmocka_unit_test(test_tm_contiguity_search),
        cmocka_unit_test(test_tm_empty_texts),
        cmocka_unit_test(test_tm_long_generation),
        cmocka_unit_test(test_rouge_1),
        cmocka_unit_test(test_onion_words_and_deletions),
        cmocka_unit_test(test_percentile),
        cmocka_unit_test(test_onion_removes_inserted_rare_word),
        cmocka_unit_test(test_onion_filter_boundary_and_errors),
        cmocka_unit_test(test_spectral_flags),
        cmocka_unit_test(test_detection),
        cmocka_unit_test(test_activation_clustering_blobs),
        cmocka_unit_test(test_kmeans_by_hand),
        cmocka_unit_test(test_silhouette_many_clusters),
        cmocka_unit_test(test_kmeans_degenerate),
        cmocka_unit_test(test_kmeans_reproducible),
        cmocka_unit_test(test_clustering_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
