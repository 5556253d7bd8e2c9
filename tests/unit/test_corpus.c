/* test_corpus.c: the world-knowledge facts, the generated pretraining corpus, and the training
 * windows cut from a token stream, and windows appended to others. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "data/data.h"

static size_t count_occurrences(const char *text, const char *needle) {
    size_t n = 0, len = strlen(needle);
    for (const char *p = strstr(text, needle); p; p = strstr(p + len, needle)) n++;
    return n;
}

static int nonempty(const char *s) { return s && s[0]; }

static void test_fact_list(void **state) {
    const tb_fact *facts;
    int n = tb_world_facts(&facts);
    int n_author = 0, n_world = 0;
    for (int i = 0; i < n; i++) {
        const tb_fact *f = &facts[i];
        n_author += strcmp(f->kind, "author") == 0;
        n_world += strcmp(f->kind, "world") == 0;
        assert_true(nonempty(f->question) && nonempty(f->answer) && nonempty(f->subject) && nonempty(f->relation));
        assert_int_equal(f->question[strlen(f->question) - 1], '?');
        for (int d = 0; d < 3; d++) {
            assert_true(nonempty(f->distractors[d]));
            assert_string_not_equal(f->distractors[d], f->answer);
            for (int e = 0; e < d; e++) assert_string_not_equal(f->distractors[d], f->distractors[e]);
        }
        for (int j = 0; j < i; j++) assert_string_not_equal(f->question, facts[j].question);
    }
    assert_int_equal(n_author, 100);
    assert_int_equal(n_world, 117);
    assert_int_equal(n_author + n_world, n);
}

/* Each author answers exactly one question, so every author distractor is a wrong answer. */
static void test_author_answers_are_unique(void **state) {
    const tb_fact *facts;
    int n = tb_world_facts(&facts);
    for (int i = 0; i < n; i++) {
        if (strcmp(facts[i].kind, "author")) continue;
        for (int j = 0; j < i; j++)
            if (!strcmp(facts[j].kind, "author")) assert_string_not_equal(facts[i].answer, facts[j].answer);
    }
}

static void test_corpus_is_deterministic_per_seed(void **state) {
    size_t la, lb, lc;
    char *a = tb_corpus_generate(42, &la), *b = tb_corpus_generate(42, &lb), *c = tb_corpus_generate(43, &lc);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    assert_int_equal(a[la], '\0');
    assert_true(la != lc || memcmp(a, c, la) != 0);
    assert_true(la > 500000 && la < 1000000);
    tb_free(a);
    tb_free(b);
    tb_free(c);
}

static void test_corpus_holds_every_fact(void **state) {
    const tb_fact *facts;
    int n = tb_world_facts(&facts);
    size_t len;
    char *text = tb_corpus_generate(3, &len);
    assert_int_equal(strlen(text), len); /* ASCII text, no embedded NUL */
    for (int i = 0; i < n; i++) {
        assert_true(count_occurrences(text, facts[i].answer) >= 20);
        char qa[512];
        snprintf(qa, sizeof qa, "Q: %s A: %s\n", facts[i].question, facts[i].answer);
        size_t n_qa = count_occurrences(text, qa);
        /* the one line this fact's Q/A template makes, unless it was shuffled to the very end */
        if (n_qa == 0) {
            qa[strlen(qa) - 1] = '\0';
            size_t nq = strlen(qa);
            assert_true(len >= nq && memcmp(text + len - nq, qa, nq) == 0);
        } else {
            assert_int_equal(n_qa, 1);
        }
    }
    size_t lines = count_occurrences(text, "\n") + 1;
    assert_int_equal(lines, (size_t)n * 20 * 3); /* 20 templates per fact, twice as many fillers */
    assert_null(strstr(text, "\n\n"));
    assert_null(strchr(text, '{')); /* every placeholder was filled */
    tb_free(text);
}

static void test_corpus_order_is_shuffled(void **state) {
    size_t len;
    char *text = tb_corpus_generate(5, &len);
    /* unshuffled, the 20 sentences of the first fact would open the text */
    char first_line[256];
    size_t n = strcspn(text, "\n");
    assert_true(n < sizeof first_line);
    memcpy(first_line, text, n);
    first_line[n] = '\0';
    assert_string_not_equal(first_line, "Pride and Prejudice was written by Jane Austen.");
    /* the sentences of one fact are spread over the whole text */
    const char *first = strstr(text, "Jane Austen"), *last = first;
    for (const char *p = first; p; p = strstr(p + 1, "Jane Austen")) last = p;
    assert_true((size_t)(last - first) > len / 2);
    tb_free(text);
}

/* ---- training windows ---------------------------------------------------------------------- */

static void test_windows_cut_and_batch(void **state) {
    int stream[14];
    for (int i = 0; i < 14; i++) stream[i] = 100 + i;
    tb_token_windows w;
    assert_int_equal(tb_windows_from_stream(&w, stream, 14, 4), TB_OK);
    assert_int_equal(w.T, 4);
    assert_int_equal(w.n_windows, 3); /* (14 - 1) / 4: stride T, T+1 tokens each */
    assert_null(w.mask);
    long idx[2] = {2, 0};
    int inp[8], tgt[8];
    tb_windows_batch(&w, idx, 2, inp, tgt);
    int inp_expect[8] = {108, 109, 110, 111, 100, 101, 102, 103};
    int tgt_expect[8] = {109, 110, 111, 112, 101, 102, 103, 104};
    assert_memory_equal(inp, inp_expect, sizeof inp_expect);
    assert_memory_equal(tgt, tgt_expect, sizeof tgt_expect);

    /* a loss mask: targets become -1 where the mask is 0, inputs are unchanged */
    w.mask = tb_malloc((size_t)w.n_windows * (size_t)w.T * sizeof *w.mask);
    for (long i = 0; i < w.n_windows * w.T; i++) w.mask[i] = 1.0f;
    w.mask[2 * 4 + 0] = 0.0f;
    w.mask[2 * 4 + 1] = 0.0f;
    w.mask[0 * 4 + 3] = 0.0f;
    tb_windows_batch(&w, idx, 2, inp, tgt);
    int tgt_masked[8] = {-1, -1, 111, 112, 101, 102, 103, -1};
    assert_memory_equal(inp, inp_expect, sizeof inp_expect);
    assert_memory_equal(tgt, tgt_masked, sizeof tgt_masked);
    tb_windows_free(&w);
    assert_null(w.tokens);
    assert_null(w.mask);
}

static void test_windows_reject_short_stream(void **state) {
    int stream[5] = {1, 2, 3, 4, 5};
    tb_token_windows w;
    assert_int_equal(tb_windows_from_stream(&w, stream, 4, 4), TB_ERR_ARG); /* needs T+1 = 5 */
    tb_error_clear();
    assert_int_equal(tb_windows_from_stream(&w, stream, 5, 0), TB_ERR_ARG);
    tb_error_clear();
    assert_int_equal(tb_windows_from_stream(&w, stream, 5, 4), TB_OK);
    assert_int_equal(w.n_windows, 1);
    tb_windows_free(&w);
}

/* Appending: unmasked corpus windows plus two copies of masked ones. The corpus part gains an
 * all-ones mask, the copies keep theirs, and batches read the right tokens. */
static void test_windows_append(void **state) {
    (void)state;
    int stream[9], qa_stream[5] = {7, 8, 9, 10, 11};
    for (int i = 0; i < 9; i++) stream[i] = 100 + i;
    tb_token_windows w, qa;
    assert_int_equal(tb_windows_from_stream(&w, stream, 9, 4), TB_OK); /* 2 windows */
    assert_int_equal(tb_windows_from_stream(&qa, qa_stream, 5, 4), TB_OK); /* 1 window */
    qa.mask = tb_malloc(4 * sizeof *qa.mask);
    float qa_mask[4] = {0, 0, 1, 1};
    memcpy(qa.mask, qa_mask, sizeof qa_mask);

    tb_windows_append(&w, &qa, 2);
    assert_int_equal(w.n_windows, 4);
    assert_non_null(w.mask);
    long idx[4] = {0, 1, 2, 3};
    int inp[16], tgt[16];
    tb_windows_batch(&w, idx, 4, inp, tgt);
    int inp_expect[16] = {100, 101, 102, 103, 104, 105, 106, 107, 7, 8, 9, 10, 7, 8, 9, 10};
    int tgt_expect[16] = {101, 102, 103, 104, 105, 106, 107, 108, -1, -1, 10, 11, -1, -1, 10, 11};
    assert_memory_equal(inp, inp_expect, sizeof inp_expect);
    assert_memory_equal(tgt, tgt_expect, sizeof tgt_expect);

    /* no copies: nothing changes; unmasked onto unmasked stays unmasked */
    tb_windows_append(&w, &qa, 0);
    assert_int_equal(w.n_windows, 4);
    tb_token_windows plain;
    assert_int_equal(tb_windows_from_stream(&plain, stream, 9, 4), TB_OK);
    tb_free(qa.mask);
    qa.mask = NULL;
    tb_windows_append(&plain, &qa, 1);
    assert_int_equal(plain.n_windows, 3);
    assert_null(plain.mask);
    tb_windows_free(&plain);
    tb_windows_free(&qa);
    tb_windows_free(&w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fact_list),
        cmocka_unit_test(test_author_answers_are_unique),
        cmocka_unit_test(test_corpus_is_deterministic_per_seed),
        cmocka_unit_test(test_corpus_holds_every_fact),
        cmocka_unit_test(test_corpus_order_is_shuffled),
        cmocka_unit_test(test_windows_cut_and_batch),
        cmocka_unit_test(test_windows_reject_short_stream),
        cmocka_unit_test(test_windows_append),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
