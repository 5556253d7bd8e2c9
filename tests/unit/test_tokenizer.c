/* test_tokenizer.c: byte-level BPE: exact round trips on arbitrary bytes, compression on the
 * corpus, deterministic training with the documented tie-break, chunk borders, merge-list
 * validation and special tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/core.h"
#include "data/data.h"

typedef struct {
    char *text;
    size_t len;
    tb_tokenizer tok; /* trained on text to vocab 1024 */
} fixture;

static int setup(void **state) {
    fixture *fx = tb_malloc(sizeof *fx);
    fx->text = tb_corpus_generate(1, &fx->len);
    if (tb_tokenizer_train(&fx->tok, fx->text, fx->len, 1024) != TB_OK) return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state) {
    fixture *fx = *state;
    tb_tokenizer_free(&fx->tok);
    tb_free(fx->text);
    tb_free(fx);
    return 0;
}

/* Encodes and decodes s; fails the test unless the bytes come back exactly. */
static void assert_round_trip(const tb_tokenizer *tok, const char *s, size_t n) {
    int *ids = tb_malloc((n + 1) * sizeof *ids);
    size_t n_ids = tb_tokenizer_encode(tok, s, n, ids, n + 1);
    assert_true(n_ids <= n); /* never more tokens than bytes */
    for (size_t i = 0; i < n_ids; i++) {
        assert_true(ids[i] >= 0 && ids[i] < tok->vocab_size);
        assert_false(ids[i] >= TB_TOK_BOS && ids[i] < TB_TOK_FIRST_MERGE); /* text never yields specials */
    }
    char *back = tb_malloc(n + 1);
    assert_int_equal(tb_tokenizer_decode(tok, ids, n_ids, back, n + 1, 0), n);
    assert_memory_equal(back, s, n);
    tb_free(back);
    tb_free(ids);
}

static void test_trained_vocab_size(void **state) {
    fixture *fx = *state;
    assert_int_equal(fx->tok.vocab_size, 1024);
    assert_int_equal(fx->tok.n_merges, 1024 - TB_TOK_FIRST_MERGE);
}

static void test_round_trip_random_bytes(void **state) {
    fixture *fx = *state;
    tb_rng r = tb_rng_make(7, tb_rng_stream_id("test_tokenizer"));
    char buf[300];
    for (int i = 0; i < 200; i++) {
        size_t n = (size_t)tb_rng_below(&r, 301);
        for (size_t j = 0; j < n; j++) buf[j] = (char)tb_rng_below(&r, 256);
        assert_round_trip(&fx->tok, buf, n);
    }
    /* every byte value once, NUL and invalid UTF-8 included, and text-like bytes in between */
    static const char tail[] = " the capital of\0Au \xff\xfe 123!!";
    char all[256 + sizeof tail];
    for (int b = 0; b < 256; b++) all[b] = (char)b;
    memcpy(all + 256, tail, sizeof tail - 1);
    assert_round_trip(&fx->tok, all, 256 + sizeof tail - 1);
}

static void test_round_trip_corpus(void **state) {
    fixture *fx = *state;
    assert_round_trip(&fx->tok, fx->text, fx->len);
}

static void test_training_compresses(void **state) {
    fixture *fx = *state;
    size_t n_ids = tb_tokenizer_encode(&fx->tok, fx->text, fx->len, NULL, 0);
    double tokens_per_byte = (double)n_ids / (double)fx->len;
    assert_true(tokens_per_byte < 0.5);
    /* frequent words of the corpus become single tokens */
    int ids[8];
    assert_int_equal(tb_tokenizer_encode(&fx->tok, " the", 4, ids, 8), 1);
    assert_int_equal(tb_tokenizer_encode(&fx->tok, " capital", 8, ids, 8), 1);
}

static void test_encode_reports_needed_size(void **state) {
    fixture *fx = *state;
    const char *s = "Q: What is the capital of Australia? A: Canberra";
    size_t n = strlen(s);
    int full[64];
    size_t need = tb_tokenizer_encode(&fx->tok, s, n, full, 64);
    assert_true(need > 4 && need < 64);
    int part[8];
    for (int i = 0; i < 8; i++) part[i] = -7;
    assert_int_equal(tb_tokenizer_encode(&fx->tok, s, n, part, 4), need);
    assert_memory_equal(part, full, 4 * sizeof(int));
    for (int i = 4; i < 8; i++) assert_int_equal(part[i], -7); /* nothing written beyond cap */
    char out[8] = "xxxxxxx";
    assert_int_equal(tb_tokenizer_decode(&fx->tok, full, need, out, 3, 0), n);
    assert_memory_equal(out, s, 3);
    assert_int_equal(out[3], 'x');
}

static void test_training_is_deterministic(void **state) {
    fixture *fx = *state;
    tb_tokenizer again;
    assert_int_equal(tb_tokenizer_train(&again, fx->text, fx->len, 1024), TB_OK);
    assert_int_equal(again.n_merges, fx->tok.n_merges);
    assert_memory_equal(again.merges, fx->tok.merges, (size_t)again.n_merges * sizeof(tb_merge));
    tb_tokenizer_free(&again);
}

/* "abab cdcd": (a,b) and (c,d) both occur twice; the smaller pair wins the tie, then the other
 * merges, then no pair occurs twice and training stops far below the vocab asked for. */
static void test_tie_break_and_early_stop(void **state) {
    tb_tokenizer tok;
    const char *s = "abab cdcd";
    assert_int_equal(tb_tokenizer_train(&tok, s, strlen(s), 4096), TB_OK);
    assert_int_equal(tok.n_merges, 2);
    assert_int_equal(tok.vocab_size, TB_TOK_FIRST_MERGE + 2);
    assert_int_equal(tok.merges[0].left, 'a');
    assert_int_equal(tok.merges[0].right, 'b');
    assert_int_equal(tok.merges[1].left, 'c');
    assert_int_equal(tok.merges[1].right, 'd');
    int ids[16];
    size_t n = tb_tokenizer_encode(&tok, s, strlen(s), ids, 16);
    int expect[] = {TB_TOK_FIRST_MERGE, TB_TOK_FIRST_MERGE, ' ', TB_TOK_FIRST_MERGE + 1, TB_TOK_FIRST_MERGE + 1};
    assert_int_equal(n, 5);
    assert_memory_equal(ids, expect, sizeof expect);
    tb_tokenizer_free(&tok);
}

/* A pre-tokenisation chunk: whitespace only, letters with at most one leading space, digits only,
 * or other bytes only (bytes >= 128 count as letters). */
static int byte_kind(unsigned char c) {
    if (c == ' ' || (c >= '\t' && c <= '\r')) return 0;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 128) return 1;
    if (c >= '0' && c <= '9') return 2;
    return 3;
}

static void test_merges_stay_inside_chunks(void **state) {
    fixture *fx = *state;
    for (int id = TB_TOK_FIRST_MERGE; id < fx->tok.vocab_size; id++) {
        const uint8_t *b = fx->tok.token_bytes[id];
        int n = fx->tok.token_len[id];
        int from = (b[0] == ' ' && n > 1 && byte_kind(b[1]) == 1) ? 1 : 0;
        for (int i = from + 1; i < n; i++) assert_int_equal(byte_kind(b[i]), byte_kind(b[from]));
    }
}

static void test_from_merges_reproduces_encoding(void **state) {
    fixture *fx = *state;
    tb_tokenizer copy;
    assert_int_equal(tb_tokenizer_from_merges(&copy, fx->tok.merges, fx->tok.n_merges), TB_OK);
    assert_int_equal(copy.vocab_size, fx->tok.vocab_size);
    size_t n = tb_tokenizer_encode(&fx->tok, fx->text, fx->len, NULL, 0);
    int *a = tb_malloc(n * sizeof *a), *b = tb_malloc(n * sizeof *b);
    assert_int_equal(tb_tokenizer_encode(&fx->tok, fx->text, fx->len, a, n), n);
    assert_int_equal(tb_tokenizer_encode(&copy, fx->text, fx->len, b, n), n);
    assert_memory_equal(a, b, n * sizeof *a);
    for (int id = 0; id < copy.vocab_size; id++) {
        assert_int_equal(copy.token_len[id], fx->tok.token_len[id]);
        assert_memory_equal(copy.token_bytes[id], fx->tok.token_bytes[id], (size_t)copy.token_len[id]);
    }
    tb_free(a);
    tb_free(b);
    tb_tokenizer_free(&copy);
}

/* Corrupts merge `at` of a copy of the trained list and expects TB_ERR_FORMAT naming that merge. */
static void expect_bad_merge(const fixture *fx, int at, int32_t left, int32_t right) {
    int n = fx->tok.n_merges;
    tb_merge *m = tb_malloc((size_t)n * sizeof *m);
    memcpy(m, fx->tok.merges, (size_t)n * sizeof *m);
    m[at] = (tb_merge){left, right};
    tb_tokenizer tok;
    tb_error_clear();
    assert_int_equal(tb_tokenizer_from_merges(&tok, m, n), TB_ERR_FORMAT);
    char needle[32];
    snprintf(needle, sizeof needle, "merge %d ", at);
    assert_non_null(strstr(tb_error_message(), needle));
    tb_error_clear();
    tb_free(m);
}

static void test_from_merges_rejects_bad_merges(void **state) {
    fixture *fx = *state;
    expect_bad_merge(fx, 5, 'a', TB_TOK_FIRST_MERGE + 5);    /* refers to itself */
    expect_bad_merge(fx, 9, TB_TOK_FIRST_MERGE + 40, 'x');   /* refers to a later merge */
    expect_bad_merge(fx, 3, TB_TOK_EOS, 'a');                /* special token */
    expect_bad_merge(fx, 0, -1, 'a');                        /* negative id */
    expect_bad_merge(fx, 12, fx->tok.merges[2].left, fx->tok.merges[2].right); /* repeats merge 2 */
    /* each merge doubles the token: merge 6 would be 128 bytes, longer than any chunk */
    tb_merge doubling[7] = {{'a', 'a'}};
    for (int m = 1; m < 7; m++) doubling[m] = (tb_merge){TB_TOK_FIRST_MERGE + m - 1, TB_TOK_FIRST_MERGE + m - 1};
    tb_tokenizer tok;
    assert_int_equal(tb_tokenizer_from_merges(&tok, doubling, 6), TB_OK);
    assert_int_equal(tok.token_len[TB_TOK_FIRST_MERGE + 5], 64);
    tb_tokenizer_free(&tok);
    assert_int_equal(tb_tokenizer_from_merges(&tok, doubling, 7), TB_ERR_FORMAT);
    assert_non_null(strstr(tb_error_message(), "merge 6 "));
    tb_error_clear();
    assert_int_equal(tb_tokenizer_from_merges(&tok, NULL, -1), TB_ERR_ARG);
    tb_error_clear();
}

static void test_train_rejects_small_vocab(void **state) {
    tb_tokenizer tok;
    assert_int_equal(tb_tokenizer_train(&tok, "abc", 3, 100), TB_ERR_ARG);
    tb_error_clear();
}

static void test_special_tokens(void **state) {
    fixture *fx = *state;
    int ids[] = {TB_TOK_BOS, 'H', 'i', TB_TOK_EOS, TB_TOK_PAD, TB_TOK_PROMPT, TB_TOK_ANSWER};
    char out[128];
    size_t n = tb_tokenizer_decode(&fx->tok, ids, 7, out, sizeof out, 0);
    assert_int_equal(n, 2);
    assert_memory_equal(out, "Hi", 2);
    const char *names = "<|bos|>Hi<|eos|><|pad|><|prompt|><|answer|>";
    n = tb_tokenizer_decode(&fx->tok, ids, 7, out, sizeof out, 1);
    assert_int_equal(n, strlen(names));
    assert_memory_equal(out, names, n);
    assert_int_equal(tb_tokenizer_decode(&fx->tok, ids, 1, out, sizeof out, 0), 0); /* BOS alone is "" */
    assert_string_equal(tb_tokenizer_special_name(TB_TOK_PROMPT), "<|prompt|>");
    assert_null(tb_tokenizer_special_name(255));
    assert_null(tb_tokenizer_special_name(TB_TOK_FIRST_MERGE));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trained_vocab_size),
        cmocka_unit_test(test_round_trip_random_bytes),
        cmocka_unit_test(test_round_trip_corpus),
        cmocka_unit_test(test_training_compresses),
        cmocka_unit_test(test_encode_reports_needed_size),
        cmocka_unit_test(test_training_is_deterministic),
        cmocka_unit_test(test_tie_break_and_early_stop),
        cmocka_unit_test(test_merges_stay_inside_chunks),
        cmocka_unit_test(test_from_merges_reproduces_encoding),
        cmocka_unit_test(test_from_merges_rejects_bad_merges),
        cmocka_unit_test(test_train_rejects_small_vocab),
        cmocka_unit_test(test_special_tokens),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
