/*
 * metrics_cases.c: random inputs for every kernel of src/metrics with the C results, one case per
 * line, for the SciPy/sklearn cross-check (check_metrics.py, and the clustering and percentile kinds
 * in test_metrics_vs_scipy.sh).
 *
 *   metrics_cases OUT.txt [--seed S]
 *
 * Every line is a kind followed by its inputs and then the C outputs, numbers as %.17g (they read
 * back exactly), texts as hex ("-" when empty):
 *   ks n1 n2 x[n1] y[n2] | d p log10_p
 *   roc n_mem n_non m[n_mem] u[n_non] n_t t[n_t] | auc (tpr fpr threshold resolved)[n_t]
 *   hmean n x[n] | h
 *   rouge ref_hex gen_hex | recall precision f1
 *   zlib loss text_hex | score
 *   mink n k logp[n] | score
 *   minkpp n k logp[n] mu[n] sigma[n] | score
 *   moments V lse logits[V] | mu sigma
 *   truth n n_pert (l_correct l_pert[n_pert])[n] | (p_correct p_wrong tr)[n] forget retain prob_mean
 *   nprob n_false l_true l_false[n_false] | p
 *   memo n argmax[n] labels[n] | extraction_strength exact_memorisation
 *   privleak auc_retain auc_unlearned | privleak
 * and for the poisoning kernels (checked by the sklearn part of test_metrics_vs_scipy.sh):
 *   kmeans n d blobs x[n d] | label[n] inertia silhouette      (tb_activation_clustering, 10 restarts)
 *   silhouette n d k x[n d] label[n] | silhouette                (tb_silhouette_score)
 *   percentile n q x[n] | value                                  (tb_percentile)
 * The cases are drawn from the seeded RNG (one stream per kind) and include ties, unequal sample
 * sizes, random sizes up to 400 (and a few fixed ones up to 1000), p-values far below 1e-300, empty and
 * punctuation-only texts, and for clustering two separated blobs (blobs = 1), structureless clouds,
 * duplicate points, a far outlier (a singleton cluster) and 2000 points across many silhouette tiles.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "metrics/metrics.h"

#define HINT_USAGE "usage: metrics_cases OUT.txt [--seed S]"
#define MAX_TEXT 4096
#define N_TARGETS 6

/* ---- output helpers --------------------------------------------------------------------------- */

static void put_doubles(FILE *f, const double *a, int n) {
    for (int i = 0; i < n; i++) fprintf(f, " %.17g", a[i]);
}

static void put_ints(FILE *f, const int *a, int n) {
    for (int i = 0; i < n; i++) fprintf(f, " %d", a[i]);
}

static void put_hex(FILE *f, const char *s, size_t len) {
    fputc(' ', f);
    if (len == 0) fputc('-', f);
    for (size_t i = 0; i < len; i++) fprintf(f, "%02x", (unsigned char)s[i]);
}

/* ---- random inputs ---------------------------------------------------------------------------- */

static int uniform_int(tb_rng *r, int lo, int hi) { return lo + (int)tb_rng_below(r, (uint64_t)(hi - lo + 1)); }

/* n draws of N(shift, 1); with grid > 0 rounded to multiples of 1/grid, which makes ties. */
static void fill_normal(tb_rng *r, double *a, int n, double shift, double grid) {
    for (int i = 0; i < n; i++) {
        a[i] = shift + tb_rng_normal(r);
        if (grid > 0) a[i] = round(a[i] * grid) / grid;
    }
}

/* ---- kinds ------------------------------------------------------------------------------------ */

static int write_ks(FILE *f, uint64_t seed) {
    tb_rng r = tb_rng_make(seed, tb_rng_stream_id("metrics_cases.ks"));
    static const double shifts[] = {0.0, 0.1, 0.3, 1.0, 3.0, 100.0};
    static const double grids[] = {0.0, 0.0, 2.0, 10.0}; /* half the cases with ties */
    /* fixed sizes first: the reference ones, disjoint samples (p = 2/C(n1+n2, n1): 1e-239, 1e-202, then
     * 1e-600 and 1e-512, below the double range) and a larger pair within scipy's reach */
    static const int fixed[][2] = {{400, 400},   {200, 200},  {40, 40},   {400, 300},
                                   {1000, 1000}, {1000, 700}, {900, 1000}};
    static const double fixed_shift[] = {100.0, 3.0, 100.0, 100.0, 100.0, 100.0, 0.6};
    const int n_fixed = sizeof fixed / sizeof fixed[0];
    double *x = tb_malloc(2000 * sizeof *x), *y = x + 1000;
    for (int c = 0; c < 140; c++) {
        int n1, n2;
        if (c < n_fixed) {
            n1 = fixed[c][0];
            n2 = fixed[c][1];
        } else {
            n1 = uniform_int(&r, 1, 400);
            n2 = (c % 2 == 0) ? n1 : uniform_int(&r, 1, 400); /* half equal, half (mostly) unequal */
        }
        double shift = c < n_fixed ? fixed_shift[c] : shifts[tb_rng_below(&r, 6)];
        double grid = grids[tb_rng_below(&r, 4)];
        fill_normal(&r, x, n1, 0.0, grid);
        fill_normal(&r, y, n2, shift, grid);
        tb_ks_result k;
        TB_CHECK(tb_ks_2samp(x, n1, y, n2, &k));
        fprintf(f, "ks %d %d", n1, n2);
        put_doubles(f, x, n1);
        put_doubles(f, y, n2);
        fprintf(f, " %.17g %.17g %.17g\n", k.d, k.p, k.log10_p);
    }
    tb_free(x);
    return TB_OK;
}

static int write_roc(FILE *f, uint64_t seed) {
    tb_rng r = tb_rng_make(seed, tb_rng_stream_id("metrics_cases.roc"));
    static const double targets[N_TARGETS] = {0.001, 0.01, 0.05, 0.1, 0.29, 1.0};
    double *m = tb_malloc(1200 * sizeof *m), *u = m + 600;
    for (int c = 0; c < 60; c++) {
        int nm = uniform_int(&r, 1, 600), nn = uniform_int(&r, 1, 600);
        double grid = (c % 3 == 0) ? 0.0 : (c % 3 == 1 ? 4.0 : 1.0); /* continuous, some ties, many ties */
        fill_normal(&r, m, nm, 0.5 * tb_rng_uniform(&r), grid);
        fill_normal(&r, u, nn, 0.0, grid);
        double auc;
        tb_tpr_at_fpr t[N_TARGETS];
        TB_CHECK(tb_roc_summary(m, nm, u, nn, targets, N_TARGETS, &auc, t));
        fprintf(f, "roc %d %d", nm, nn);
        put_doubles(f, m, nm);
        put_doubles(f, u, nn);
        fprintf(f, " %d", N_TARGETS);
        put_doubles(f, targets, N_TARGETS);
        fprintf(f, " %.17g", auc);
        for (int i = 0; i < N_TARGETS; i++)
            fprintf(f, " %.17g %.17g %.17g %d", t[i].tpr, t[i].fpr, t[i].threshold, t[i].resolved);
        fputc('\n', f);
    }
    tb_free(m);
    return TB_OK;
}

static void write_hmean(FILE *f, uint64_t seed) {
    tb_rng r = tb_rng_make(seed, tb_rng_stream_id("metrics_cases.hmean"));
    double x[9];
    for (int c = 0; c < 40; c++) {
        int n = uniform_int(&r, 1, 9);
        for (int i = 0; i < n; i++) x[i] = 0.01 + tb_rng_uniform(&r);
        if (c % 5 == 1) x[tb_rng_below(&r, (uint64_t)n)] = 0.0;
        if (c % 5 == 2) x[tb_rng_below(&r, (uint64_t)n)] = -0.2;
        fprintf(f, "hmean %d", n);
        put_doubles(f, x, n);
        fprintf(f, " %.17g\n", tb_harmonic_mean(x, n));
    }
}

/* A random text: words (some shared vocabulary, some random letters and digits) in random case,
 * joined by random separators (punctuation, whitespace, UTF-8 bytes). Returns its length. */
static size_t random_text(tb_rng *r, char *out, int max_words) {
    static const char *vocab[] = {"the", "cat", "sat", "on", "mat", "jane", "austen", "wrote", "1984", "route",
                                  "66", "a", "b", "na\xc3\xafve", "don't", "e-mail", "caf\xc3\xa9", "x"};
    static const char *seps[] = {" ", ", ", ". ", "!", "-", "\t", "  ", "\xc3\xa9", "...", "\n", "_", "'"};
    const int n_vocab = sizeof vocab / sizeof vocab[0], n_seps = sizeof seps / sizeof seps[0];
    int n_words = uniform_int(r, 0, max_words);
    size_t len = 0;
    if (tb_rng_below(r, 8) == 0) len += (size_t)sprintf(out, "%s", seps[tb_rng_below(r, (uint64_t)n_seps)]);
    for (int w = 0; w < n_words; w++) {
        char word[16];
        if (tb_rng_below(r, 4) == 0) {
            int wl = uniform_int(r, 1, 6);
            for (int i = 0; i < wl; i++) word[i] = "abcdefghij0123456789"[tb_rng_below(r, 20)];
            word[wl] = '\0';
        } else {
            strcpy(word, vocab[tb_rng_below(r, (uint64_t)n_vocab)]);
        }
        for (char *p = word; *p; p++)
            if (*p >= 'a' && *p <= 'z' && tb_rng_below(r, 3) == 0) *p = (char)(*p - 32);
        len += (size_t)sprintf(out + len, "%s%s", w ? seps[tb_rng_below(r, (uint64_t)n_seps)] : "", word);
    }
    if (tb_rng_below(r, 4) == 0) len += (size_t)sprintf(out + len, "%s", seps[tb_rng_below(r, (uint64_t)n_seps)]);
    return len;
}

static void write_rouge(FILE *f, uint64_t seed) {
    tb_rng r = tb_rng_make(seed, tb_rng_stream_id("metrics_cases.rouge"));
    char ref[MAX_TEXT], gen[MAX_TEXT];
    for (int c = 0; c < 300; c++) {
        int max_words = (c % 10 == 0) ? 150 : 12; /* some long texts */
        size_t nr = random_text(&r, ref, max_words), ng;
        if (c % 4 == 0) { /* a generation that copies the reference with a few words changed */
            memcpy(gen, ref, nr);
            ng = nr;
            for (size_t i = 0; i < ng; i++)
                if (gen[i] >= 'a' && gen[i] <= 'z' && tb_rng_below(&r, 10) == 0) gen[i] = 'q';
        } else {
            ng = random_text(&r, gen, max_words);
        }
        tb_rouge_l s = tb_rouge_l_score(ref, nr, gen, ng);
        fprintf(f, "rouge");
        put_hex(f, ref, nr);
        put_hex(f, gen, ng);
        fprintf(f, " %.17g %.17g %.17g\n", s.recall, s.precision, s.f1);
    }
}

static void write_zlib(FILE *f, uint64_t seed) {
    tb_rng r = tb_rng_make(seed, tb_rng_stream_id("metrics_cases.zlib"));
    char text[MAX_TEXT];
    for (int c = 0; c < 40; c++) {
        size_t len = random_text(&r, text, c % 4 == 0 ? 150 : 20);
        double loss = 0.05 + 5.0 * tb_rng_uniform(&r);
        fprintf(f, "zlib %.17g", loss);
        put_hex(f, text, len);
        fprintf(f, " %.17g\n", tb_mia_zlib(loss, text, len));
    }
}

static void write_min_k(FILE *f, uint64_t seed) {
    tb_rng r = tb_rng_make(seed, tb_rng_stream_id("metrics_cases.mink"));
    static const double ks[] = {0.2, 0.4, 0.55, 1.0};
    double lp[100], mu[100], sigma[100];
    for (int c = 0; c < 60; c++) {
        int n = uniform_int(&r, 1, 100);
        double k = ks[tb_rng_below(&r, 4)];
        for (int t = 0; t < n; t++) {
            lp[t] = -fabs(3.0 * tb_rng_normal(&r));
            if (c % 3 == 0) lp[t] = round(lp[t]); /* ties */
            mu[t] = -fabs(2.0 * tb_rng_normal(&r));
            sigma[t] = 1e-3 + 2.0 * tb_rng_uniform(&r);
        }
        fprintf(f, "mink %d %.17g", n, k);
        put_doubles(f, lp, n);
        fprintf(f, " %.17g\n", tb_mia_min_k(lp, n, k));
        fprintf(f, "minkpp %d %.17g", n, k);
        put_doubles(f, lp, n);
        put_doubles(f, mu, n);
        put_doubles(f, sigma, n);
        fprintf(f, " %.17g\n", tb_mia_min_k_pp(lp, mu, sigma, n, k));
    }
}

static void write_moments(FILE *f, uint64_t seed) {
    tb_rng r = tb_rng_make(seed, tb_rng_stream_id("metrics_cases.moments"));
    static const int vocab[] = {2, 50, 1000};
    static const double scales[] = {0.01, 1.0, 8.0, 40.0};
    float logits[1000];
    for (int c = 0; c < 24; c++) {
        int V = vocab[c % 3];
        double scale = scales[(c / 3) % 4], offset = (c % 2) ? 500.0 : 0.0;
        for (int v = 0; v < V; v++) logits[v] = (float)(offset + scale * tb_rng_normal(&r));
        if (c % 6 == 5) logits[tb_rng_below(&r, (uint64_t)V)] = -INFINITY; /* a masked entry */
        double top = -INFINITY, sum = 0.0; /* the caller's log-sum-exp, here in double */
        for (int v = 0; v < V; v++) top = fmax(top, logits[v]);
        for (int v = 0; v < V; v++) sum += exp(logits[v] - top);
        double lse = top + log(sum), mu, sigma;
        tb_mia_min_k_pp_moments(logits, V, lse, &mu, &sigma);
        fprintf(f, "moments %d %.17g", V, lse);
        for (int v = 0; v < V; v++) fprintf(f, " %.9g", (double)logits[v]);
        fprintf(f, " %.17g %.17g\n", mu, sigma);
    }
}

static void write_truth(FILE *f, uint64_t seed) {
    tb_rng r = tb_rng_make(seed, tb_rng_stream_id("metrics_cases.truth"));
    enum { MAX_SAMPLES = 50, N_PERT = 5 };
    double losses[MAX_SAMPLES][1 + N_PERT];
    tb_truth_ratio tr[MAX_SAMPLES];
    for (int c = 0; c < 30; c++) {
        int n = uniform_int(&r, 1, MAX_SAMPLES);
        fprintf(f, "truth %d %d", n, N_PERT);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j <= N_PERT; j++) losses[i][j] = 0.05 + 6.0 * tb_rng_uniform(&r);
            if (c % 10 == 3 && i == 0) losses[i][0] = 800.0; /* p_correct underflows: the 1e-10 matters */
            tr[i] = tb_truth_ratio_of(losses[i][0], &losses[i][1], N_PERT);
            put_doubles(f, losses[i], 1 + N_PERT);
        }
        for (int i = 0; i < n; i++) fprintf(f, " %.17g %.17g %.17g", tr[i].p_correct, tr[i].p_wrong, tr[i].tr);
        fprintf(f, " %.17g %.17g %.17g\n", tb_truth_ratio_aggregate(tr, n, TB_TR_FORGET),
                tb_truth_ratio_aggregate(tr, n, TB_TR_RETAIN), tb_truth_ratio_aggregate(tr, n, TB_TR_PROB_MEAN));
    }
    for (int c = 0; c < 30; c++) {
        int n_false = uniform_int(&r, 0, 4);
        double l[5];
        for (int j = 0; j <= n_false; j++) l[j] = 0.05 + 6.0 * tb_rng_uniform(&r);
        fprintf(f, "nprob %d", n_false);
        put_doubles(f, l, 1 + n_false);
        fprintf(f, " %.17g\n", tb_normalised_prob(l[0], l + 1, n_false));
    }
}

static void write_memo(FILE *f, uint64_t seed) {
    tb_rng r = tb_rng_make(seed, tb_rng_stream_id("metrics_cases.memo"));
    int argmax[64], labels[64];
    for (int c = 0; c < 40; c++) {
        int n = uniform_int(&r, 1, 64);
        int suffix = uniform_int(&r, 0, n); /* the last `suffix` positions agree */
        for (int t = 0; t < n; t++) {
            labels[t] = uniform_int(&r, 0, 9);
            argmax[t] = (t >= n - suffix || tb_rng_below(&r, 2) == 0) ? labels[t] : uniform_int(&r, 0, 9);
        }
        fprintf(f, "memo %d", n);
        put_ints(f, argmax, n);
        put_ints(f, labels, n);
        fprintf(f, " %.17g %.17g\n", tb_extraction_strength(argmax, labels, n),
                tb_exact_memorisation(argmax, labels, n));
    }
}

static void write_privleak(FILE *f, uint64_t seed) {
    tb_rng r = tb_rng_make(seed, tb_rng_stream_id("metrics_cases.privleak"));
    for (int c = 0; c < 20; c++) {
        double ar = 0.3 + 0.69 * tb_rng_uniform(&r), au = tb_rng_uniform(&r);
        fprintf(f, "privleak %.17g %.17g %.17g\n", ar, au, tb_privleak(ar, au));
    }
}

/* Points for the clustering cases (n x d): shape 0 two blobs 8 apart per coordinate with a random
 * share in the smaller one, 1 one Gaussian cloud, 2 a cloud rounded to a coarse grid (duplicates),
 * 3 a cloud with one far outlier. */
static void fill_cluster_points(tb_rng *r, double *x, int n, int d, int shape) {
    double share = 0.05 + 0.45 * tb_rng_uniform(r);
    for (int i = 0; i < n; i++) {
        int small = shape == 0 && tb_rng_uniform(r) < share;
        for (int j = 0; j < d; j++) {
            x[i * d + j] = (small ? 8.0 : 0.0) + tb_rng_normal(r);
            if (shape == 2) x[i * d + j] = round(x[i * d + j]);
        }
    }
    if (shape == 3)
        for (int j = 0; j < d; j++) x[(int)tb_rng_below(r, (uint64_t)n) * d + j] += 1000.0;
}

static int write_clusters(FILE *f, uint64_t seed) {
    tb_rng r = tb_rng_make(seed, tb_rng_stream_id("metrics_cases.clusters"));
    static const int dims[] = {1, 2, 3, 10};
    enum { MAX_N = 2000 };
    double *x = tb_malloc((size_t)MAX_N * 10 * sizeof *x);
    int *label = tb_malloc(MAX_N * sizeof *label), *flag = tb_malloc(MAX_N * sizeof *flag);
    for (int c = 0; c < 48; c++) {
        int n = c == 0 ? MAX_N : uniform_int(&r, 3, 400), d = c == 0 ? 10 : dims[tb_rng_below(&r, 4)];
        int shape = c % 4;
        fill_cluster_points(&r, x, n, d, shape);
        tb_activation_clusters ac;
        TB_CHECK(tb_activation_clustering(x, n, d, seed + (uint64_t)c, 10, 0.35, label, flag, &ac));
        fprintf(f, "kmeans %d %d %d", n, d, shape == 0);
        put_doubles(f, x, n * d);
        put_ints(f, label, n);
        fprintf(f, " %.17g %.17g\n", ac.inertia, ac.silhouette);
    }
    for (int c = 0; c < 24; c++) {
        int n = c == 0 ? MAX_N : uniform_int(&r, 4, 300), d = dims[tb_rng_below(&r, 4)], k = uniform_int(&r, 2, 5);
        fill_cluster_points(&r, x, n, d, c % 4);
        for (int i = 0; i < n; i++) label[i] = (int)tb_rng_below(&r, (uint64_t)k);
        label[0] = 0; /* at least two clusters are non-empty, as sklearn requires */
        label[1] = 1;
        double sil;
        TB_CHECK(tb_silhouette_score(x, n, d, label, k, &sil));
        fprintf(f, "silhouette %d %d %d", n, d, k);
        put_doubles(f, x, n * d);
        put_ints(f, label, n);
        fprintf(f, " %.17g\n", sil);
    }
    tb_free(flag);
    tb_free(label);
    tb_free(x);
    return TB_OK;
}

static int write_percentiles(FILE *f, uint64_t seed) {
    tb_rng r = tb_rng_make(seed, tb_rng_stream_id("metrics_cases.percentile"));
    static const double qs[] = {0, 1, 50, 90, 99, 99.9, 100};
    double x[500];
    for (int c = 0; c < 40; c++) {
        int n = uniform_int(&r, 1, 500);
        double q = qs[tb_rng_below(&r, 7)], p;
        fill_normal(&r, x, n, 0.0, c % 2 ? 4.0 : 0.0);
        TB_CHECK(tb_percentile(x, n, q, &p));
        fprintf(f, "percentile %d %.17g", n, q);
        put_doubles(f, x, n);
        fprintf(f, " %.17g\n", p);
    }
    return TB_OK;
}

/* ---- main ------------------------------------------------------------------------------------- */

static int parse_args(int argc, char **argv, const char **out, uint64_t *seed) {
    *seed = 1234;
    if (argc != 2 && !(argc == 4 && strcmp(argv[2], "--seed") == 0))
        return TB_ERROR(TB_ERR_ARG, HINT_USAGE, "metrics_cases: expected an output file and an optional --seed");
    if (argc == 4) {
        char *end;
        unsigned long long s = strtoull(argv[3], &end, 10);
        if (*argv[3] == '\0' || *end != '\0')
            return TB_ERROR(TB_ERR_ARG, HINT_USAGE, "--seed expects a non-negative integer, got '%s'", argv[3]);
        *seed = s;
    }
    *out = argv[1];
    return TB_OK;
}

static int write_cases(const char *path, uint64_t seed) {
    FILE *f = fopen(path, "w");
    if (!f)
        return TB_ERROR(TB_ERR_IO, "check that the output directory exists and is writable", "cannot create %s", path);
    int rc = write_ks(f, seed);
    if (rc == TB_OK) rc = write_roc(f, seed);
    if (rc == TB_OK) rc = write_clusters(f, seed);
    if (rc == TB_OK) rc = write_percentiles(f, seed);
    if (rc == TB_OK) {
        write_hmean(f, seed);
        write_rouge(f, seed);
        write_zlib(f, seed);
        write_min_k(f, seed);
        write_moments(f, seed);
        write_truth(f, seed);
        write_memo(f, seed);
        write_privleak(f, seed);
    }
    if (fclose(f) != 0 && rc == TB_OK) rc = TB_ERROR(TB_ERR_IO, "check the free space", "cannot write %s", path);
    return rc;
}

int main(int argc, char **argv) {
    const char *out = NULL;
    uint64_t seed = 0;
    int rc = parse_args(argc, argv, &out, &seed);
    if (rc == TB_OK) rc = write_cases(out, seed);
    if (rc != TB_OK) {
        tb_error_report(stderr);
        return 1;
    }
    return 0;
}
