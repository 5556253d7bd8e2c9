/*
 * rouge.c: the word tokeniser and ROUGE-L (see metrics.h).
 *
 * The words of both texts are first interned to integer ids (a hash table keyed by the lowercased
 * bytes, each word compared byte by byte once), so the O(|r| |g|) LCS loop compares two ints.
 * The LCS keeps one DP row over the shorter text: row[c] = L[i][c] before cell (i, c) is updated,
 * with the diagonal L[i-1][c-1] carried in a scalar.
 */
#include <stdint.h>

#include "metrics/metrics.h"

static int is_word_byte(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static unsigned char ascii_lower(unsigned char c) { return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c; }

size_t tb_words_split(const char *text, size_t len, tb_word *words, size_t cap) {
    const unsigned char *s = (const unsigned char *)text;
    size_t n = 0;
    for (size_t pos = 0; pos < len;) {
        if (!is_word_byte(s[pos])) {
            pos++;
            continue;
        }
        size_t start = pos;
        while (pos < len && is_word_byte(s[pos])) pos++;
        if (n < cap) words[n] = (tb_word){start, pos - start};
        n++;
    }
    return n;
}

/* ---- interning -------------------------------------------------------------------------------- */

typedef struct {
    const unsigned char *s;
    size_t len;
} word_view;

static uint64_t word_hash(word_view w) { /* FNV-1a of the lowercased bytes */
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < w.len; i++) h = (h ^ ascii_lower(w.s[i])) * 0x100000001b3ULL;
    return h;
}

static int words_equal(word_view a, word_view b) {
    if (a.len != b.len) return 0;
    for (size_t i = 0; i < a.len; i++)
        if (ascii_lower(a.s[i]) != ascii_lower(b.s[i])) return 0;
    return 1;
}

/* ids[w] = the index of the first word equal to word w, for all n words. slots (cap, a power of two
 * >= 2n) is scratch: 0 = free, else 1 + the index of the word that owns the slot. */
static void intern_words(const word_view *views, size_t n, size_t *ids, size_t *slots, size_t cap) {
    for (size_t s = 0; s < cap; s++) slots[s] = 0;
    for (size_t w = 0; w < n; w++) {
        size_t s = (size_t)word_hash(views[w]) & (cap - 1);
        while (slots[s] != 0 && !words_equal(views[slots[s] - 1], views[w])) s = (s + 1) & (cap - 1);
        if (slots[s] == 0) slots[s] = w + 1;
        ids[w] = slots[s] - 1;
    }
}

/* ---- LCS -------------------------------------------------------------------------------------- */

/* LCS length of a (na) and b (nb); row (nb + 1) is scratch. */
static size_t lcs_length(const size_t *a, size_t na, const size_t *b, size_t nb, size_t *row) {
    for (size_t c = 0; c <= nb; c++) row[c] = 0;
    for (size_t r = 0; r < na; r++) {
        size_t diag = 0; /* L[r][c-1] of the previous row */
        for (size_t c = 1; c <= nb; c++) {
            size_t up = row[c];
            row[c] = (a[r] == b[c - 1]) ? diag + 1 : (up > row[c - 1] ? up : row[c - 1]);
            diag = up;
        }
    }
    return row[nb];
}

tb_rouge_l tb_rouge_l_score(const char *reference, size_t ref_len, const char *generated, size_t gen_len) {
    tb_rouge_l out = {0.0, 0.0, 0.0};
    size_t nr = tb_words_split(reference, ref_len, NULL, 0);
    size_t ng = tb_words_split(generated, gen_len, NULL, 0);
    if (nr == 0 || ng == 0) return out;

    size_t n = nr + ng, cap = 16;
    while (cap < 2 * n) cap *= 2;
    tb_word *words = tb_malloc(n * sizeof *words);
    word_view *views = tb_malloc(n * sizeof *views);
    size_t *ints = tb_malloc((n + cap + (nr < ng ? nr : ng) + 1) * sizeof *ints); /* ids, slots, row */
    size_t *ids = ints, *slots = ints + n, *row = ints + n + cap;

    tb_words_split(reference, ref_len, words, nr);
    tb_words_split(generated, gen_len, words + nr, ng);
    for (size_t w = 0; w < n; w++) {
        const char *text = w < nr ? reference : generated;
        views[w] = (word_view){(const unsigned char *)text + words[w].start, words[w].len};
    }
    intern_words(views, n, ids, slots, cap);
    size_t lcs = nr >= ng ? lcs_length(ids, nr, ids + nr, ng, row) : lcs_length(ids + nr, ng, ids, nr, row);

    tb_free(ints);
    tb_free(views);
    tb_free(words);
    if (lcs == 0) return out;
    out.recall = (double)lcs / (double)nr;
    out.precision = (double)lcs / (double)ng;
    out.f1 = 2.0 * out.precision * out.recall / (out.precision + out.recall);
    return out;
}
