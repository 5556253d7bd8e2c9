/*
 * ngram.c: Target Match and ROUGE-1 (see metrics.h; reference/poisoning.md section 5).
 *
 * Both texts are split by the ROUGE tokeniser (tb_words_split) and their words interned to integer
 * ids, so that every later comparison is between ints:
 *   - Target Match sorts the target's n-grams once per order and looks every n-gram of the generation
 *     up by binary search, marking the distinct target n-grams it meets: O((|tau| + |g|) log |tau|),
 *     linear in the generation however long it is. Contiguity is a Knuth-Morris-Pratt search.
 *   - ROUGE-1 counts each id in both texts (arrays indexed by id), then sums the minima: O(|r| + |g|).
 */
#include <math.h>
#include <stdlib.h>

#include "metrics/metrics.h"

/* ---- interning -------------------------------------------------------------------------------- */

typedef struct {
    size_t n_a, n_b; /* words of the first and of the second text */
    size_t *id;      /* n_a + n_b ids: equal words (ASCII case ignored) share the index of the first */
} word_ids;

static unsigned char ascii_lower(unsigned char c) { return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c; }

static uint64_t word_hash(const unsigned char *s, size_t len) { /* FNV-1a of the lowercased bytes */
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) h = (h ^ ascii_lower(s[i])) * 0x100000001b3ULL;
    return h;
}

static int same_word(const unsigned char *a, size_t a_len, const unsigned char *b, size_t b_len) {
    if (a_len != b_len) return 0;
    for (size_t i = 0; i < a_len; i++)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return 0;
    return 1;
}

/* Splits text a then text b and interns all their words through one open-addressing table (slots hold
 * 1 + the index of the owning word, 0 = free; a power of two >= twice the word count keeps probes
 * short). The caller frees out->id. */
static void intern_two_texts(const char *a, size_t a_len, const char *b, size_t b_len, word_ids *out) {
    out->n_a = tb_words_split(a, a_len, NULL, 0);
    out->n_b = tb_words_split(b, b_len, NULL, 0);
    size_t n = out->n_a + out->n_b, cap = 16;
    while (cap < 2 * n) cap *= 2;
    out->id = tb_malloc((n + 1) * sizeof *out->id);
    tb_word *words = tb_malloc((n + 1) * sizeof *words);
    const unsigned char **base = tb_malloc((n + 1) * sizeof *base);
    size_t *slots = tb_calloc(cap, sizeof *slots);

    tb_words_split(a, a_len, words, out->n_a);
    tb_words_split(b, b_len, words + out->n_a, out->n_b);
    for (size_t w = 0; w < n; w++) base[w] = (const unsigned char *)(w < out->n_a ? a : b) + words[w].start;
    for (size_t w = 0; w < n; w++) {
        size_t s = (size_t)word_hash(base[w], words[w].len) & (cap - 1);
        while (slots[s] != 0) {
            size_t owner = slots[s] - 1;
            if (same_word(base[owner], words[owner].len, base[w], words[w].len)) break;
            s = (s + 1) & (cap - 1);
        }
        if (slots[s] == 0) slots[s] = w + 1;
        out->id[w] = slots[s] - 1;
    }
    tb_free(slots);
    tb_free(base);
    tb_free(words);
}

/* ---- Target Match ------------------------------------------------------------------------------ */

/* One n-gram of word ids; orders below TB_TM_MAX_ORDER leave the tail 0, so all four compare. */
typedef struct {
    size_t w[TB_TM_MAX_ORDER];
} ngram;

static ngram ngram_at(const size_t *ids, int order) {
    ngram g = {{0}};
    for (int k = 0; k < order; k++) g.w[k] = ids[k];
    return g;
}

static int compare_ngrams(const void *pa, const void *pb) {
    const ngram *a = pa, *b = pb;
    for (int k = 0; k < TB_TM_MAX_ORDER; k++)
        if (a->w[k] != b->w[k]) return (a->w[k] > b->w[k]) - (a->w[k] < b->w[k]);
    return 0;
}

/* Sorts g (n) and drops repeats in place; returns the number of distinct n-grams. */
static size_t sort_unique(ngram *g, size_t n) {
    qsort(g, n, sizeof *g, compare_ngrams);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || compare_ngrams(&g[m - 1], &g[i]) != 0) g[m++] = g[i];
    return m;
}

/* |G_n(tau) & G_n(g)| / |G_n(tau)| for n = order <= nt. set and seen (nt) are scratch. */
static double order_match(const size_t *tau, size_t nt, const size_t *gen, size_t ng, int order, ngram *set,
                          unsigned char *seen) {
    size_t n_tau = nt - (size_t)order + 1;
    for (size_t i = 0; i < n_tau; i++) set[i] = ngram_at(tau + i, order);
    size_t m = sort_unique(set, n_tau), hits = 0;
    for (size_t i = 0; i < m; i++) seen[i] = 0;
    for (size_t j = 0; j + (size_t)order <= ng; j++) {
        ngram key = ngram_at(gen + j, order);
        const ngram *at = bsearch(&key, set, m, sizeof *set, compare_ngrams);
        if (at && !seen[at - set]) {
            seen[at - set] = 1;
            hits++;
        }
    }
    return (double)hits / (double)m;
}

/* 1 iff pattern (np >= 1) occurs contiguously in text (Knuth-Morris-Pratt); fail (np) is scratch:
 * fail[i] = the length of the longest proper border of pattern[0..i]. */
static int occurs_contiguously(const size_t *pattern, size_t np, const size_t *text, size_t nt, size_t *fail) {
    fail[0] = 0;
    for (size_t i = 1, k = 0; i < np; i++) {
        while (k > 0 && pattern[i] != pattern[k]) k = fail[k - 1];
        if (pattern[i] == pattern[k]) k++;
        fail[i] = k;
    }
    for (size_t j = 0, k = 0; j < nt; j++) {
        while (k > 0 && text[j] != pattern[k]) k = fail[k - 1];
        if (text[j] == pattern[k]) k++;
        if (k == np) return 1;
    }
    return 0;
}

tb_target_match tb_target_match_score(const char *target, size_t target_len, const char *generated,
                                      size_t gen_len) {
    tb_target_match out = {NAN, {NAN, NAN, NAN, NAN}, 0};
    word_ids ids;
    intern_two_texts(target, target_len, generated, gen_len, &ids);
    size_t nt = ids.n_a, ng = ids.n_b;
    if (nt == 0) {
        tb_free(ids.id);
        return out;
    }
    const size_t *tau = ids.id, *gen = ids.id + nt;
    int orders = nt < TB_TM_MAX_ORDER ? (int)nt : TB_TM_MAX_ORDER;
    ngram *set = tb_malloc(nt * sizeof *set);
    unsigned char *seen = tb_malloc(nt);
    size_t *fail = tb_malloc(nt * sizeof *fail);

    double sum = 0.0;
    for (int order = 1; order <= orders; order++) {
        out.f[order - 1] = order_match(tau, nt, gen, ng, order, set, seen);
        sum += out.f[order - 1];
    }
    out.tm = sum / orders;
    out.contiguous = occurs_contiguously(tau, nt, gen, ng, fail);

    tb_free(fail);
    tb_free(seen);
    tb_free(set);
    tb_free(ids.id);
    return out;
}

/* ---- ROUGE-1 ------------------------------------------------------------------------------------ */

tb_rouge_1 tb_rouge_1_score(const char *reference, size_t ref_len, const char *generated, size_t gen_len) {
    tb_rouge_1 out = {0.0, 0.0, 0.0};
    word_ids ids;
    intern_two_texts(reference, ref_len, generated, gen_len, &ids);
    size_t nr = ids.n_a, ng = ids.n_b, n = nr + ng;
    if (nr == 0 || ng == 0) {
        tb_free(ids.id);
        return out;
    }
    size_t *count = tb_calloc(2 * n, sizeof *count); /* count[2 id] in the reference, count[2 id + 1] generated */
    for (size_t w = 0; w < n; w++) count[2 * ids.id[w] + (w >= nr)]++;
    size_t overlap = 0;
    for (size_t id = 0; id < n; id++) overlap += count[2 * id] < count[2 * id + 1] ? count[2 * id] : count[2 * id + 1];
    tb_free(count);
    tb_free(ids.id);
    if (overlap == 0) return out;
    out.recall = (double)overlap / (double)nr;
    out.precision = (double)overlap / (double)ng;
    out.f1 = 2.0 * out.precision * out.recall / (out.precision + out.recall);
    return out;
}
