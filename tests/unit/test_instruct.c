/*
 * test_instruct.c: the instruction tasks and datasets of the joint post-training benchmark
 * (src/data/instruct.c, instruct_jsonl.c) and the shared JSONL reader (src/data/jsonl.c).
 *
 * Tasks: hand-computed answers of every family and phrasing (numeric and byte order for sort, signs,
 * the chat template), prompts of no known form; correct() with each normalisation on its own; style()
 * with each of the four rules broken on its own; reward values by hand. Generation: the same seed gives
 * the same set, another seed another one, the eval parts do not depend on the training sizes; every
 * generated answer is re-derived here from the prompt text (an independent parse, not the solver);
 * SFT targets are correct and terse; prompts are distinct across all parts; every pair has
 * R(chosen) >= R(rejected) + 0.5 and its contrast's shape; families and contrasts in equal shares (+-1).
 * JSONL: save + load gives the set back field by field; without eval files the floor(n/10) rows of
 * lowest prompt hash are held out (checked against a hash sort done here); missing optional fields
 * fall back to the solver; bad files fail with the file, the line and the field in the message.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tmpdir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "core/core.h"
#include "data/data.h"

#define CAP 256

/* ------------------------------------------------------------------------------------------------
 * solving */

static void expect_solved(const char *prompt, const char *answer, int family) {
    char out[CAP];
    int f = -7;
    if (!tb_task_solve(prompt, out, sizeof out, &f)) fail_msg("\"%s\" was not solved", prompt);
    if (strcmp(out, answer) != 0) fail_msg("\"%s\": answer \"%s\", expected \"%s\"", prompt, out, answer);
    assert_int_equal(f, family);
}

static void expect_unsolved(const char *prompt) {
    char out[CAP] = "untouched";
    int f = -7;
    if (tb_task_solve(prompt, out, sizeof out, &f)) fail_msg("\"%s\" was solved as \"%s\"", prompt, out);
    assert_int_equal(f, -7);
}

static void test_solve_every_phrasing(void **state) {
    expect_solved("Copy: cat dog ant", "cat dog ant", TB_TASK_COPY);
    expect_solved("Repeat: 3 1 2", "3 1 2", TB_TASK_COPY);
    expect_solved("Echo:   x    y  z ", "x y z", TB_TASK_COPY);
    expect_solved("Reverse: b d a", "a d b", TB_TASK_REVERSE);
    expect_solved("Reverse the list: ant bee cat dog", "dog cat bee ant", TB_TASK_REVERSE);
    expect_solved("Backwards: 1 2 3", "3 2 1", TB_TASK_REVERSE);
    expect_solved("Sort: dog ant cat", "ant cat dog", TB_TASK_SORT);
    expect_solved("Sort the list: 7 0 4 2", "0 2 4 7", TB_TASK_SORT);
    expect_solved("In order: emu eel elk", "eel elk emu", TB_TASK_SORT);
    expect_solved("Sort: 10 9 -2 100", "-2 9 10 100", TB_TASK_SORT); /* numeric: every item an integer */
    expect_solved("Sort: b10 b9 B1", "B1 b10 b9", TB_TASK_SORT);     /* bytes: "B" < "b", "1" < "9" */
    expect_solved("Compute: 12 x 7", "84", TB_TASK_ARITHMETIC);
    expect_solved("What is 3 - 12?", "-9", TB_TASK_ARITHMETIC);
    expect_solved("Calculate: 999 + 1", "1000", TB_TASK_ARITHMETIC);
    expect_solved("Compute: 7*6", "42", TB_TASK_ARITHMETIC);
    expect_solved("compute: 5 X 0.", "0", TB_TASK_ARITHMETIC); /* case-insensitive prefix, final "." */
    expect_solved("Compute: -4 - -10", "6", TB_TASK_ARITHMETIC);
    expect_solved("Compute: 999999999 x 999999999", "999999998000000001", TB_TASK_ARITHMETIC);
    expect_solved("User: Reverse: b d a\nAssistant: ", "a d b", TB_TASK_REVERSE);
    expect_solved("User: What is 2 + 2?\nAssistant:", "4", TB_TASK_ARITHMETIC);
}

static void test_solve_rejects_unknown_forms(void **state) {
    expect_unsolved("Tell me a joke.");
    expect_unsolved("Sort:");
    expect_unsolved("Reverse:   ?");
    expect_unsolved("Compute: 1 +");
    expect_unsolved("Compute: 1 + 2 + 3");
    expect_unsolved("Compute: 1 / 2");
    expect_unsolved("Compute: 1234567890 + 1"); /* operands below 10^9 */
    expect_unsolved("What is the capital of France?");
    expect_unsolved("");
    /* more than TB_TASK_MAX_ITEMS items */
    char prompt[4 * TB_TASK_MAX_ITEMS + 16] = "Copy:";
    for (int k = 0; k <= TB_TASK_MAX_ITEMS; k++) strcat(prompt, " a");
    expect_unsolved(prompt);
    /* an answer that does not fit: "ant bee" needs 8 bytes */
    char out[8];
    assert_int_equal(tb_task_solve("Copy: ant bee", out, 7, NULL), 0);
    assert_int_equal(tb_task_solve("Copy: ant bee", out, 8, NULL), 1);
    assert_string_equal(out, "ant bee");
}

static void test_family_and_contrast_names(void **state) {
    const char *families[] = {"copy", "reverse", "sort", "arithmetic"};
    for (int f = 0; f < TB_TASK_N_FAMILIES; f++) {
        assert_string_equal(tb_task_family_name(f), families[f]);
        assert_int_equal(tb_task_family_parse(families[f]), f);
    }
    const char *contrasts[] = {"correctness", "style", "both"};
    for (int c = 0; c < TB_CONTRAST_N; c++) {
        assert_string_equal(tb_pref_contrast_name(c), contrasts[c]);
        assert_int_equal(tb_pref_contrast_parse(contrasts[c]), c);
    }
    assert_int_equal(tb_task_family_parse("Copy"), -1);
    assert_int_equal(tb_pref_contrast_parse("none"), -1);
}

/* ------------------------------------------------------------------------------------------------
 * scoring */

static void test_correct_normalises(void **state) {
    assert_int_equal(tb_task_correct("a d b", "a d b"), 1);
    assert_int_equal(tb_task_correct("a d b", "Answer: a d b."), 1);
    assert_int_equal(tb_task_correct("a d b", "answer:a d b"), 1);       /* prefix in any case */
    assert_int_equal(tb_task_correct("a d b", "  a \t d\n b  "), 1);    /* whitespace collapsed */
    assert_int_equal(tb_task_correct("a d b", "A D B."), 1);            /* case-insensitive */
    assert_int_equal(tb_task_correct("a d b", "ANSWER:   A  D B ."), 1); /* all at once */
    assert_int_equal(tb_task_correct("Bee Ant", "bee ant"), 1);
    assert_int_equal(tb_task_correct("84", "Answer: 84.."), 0); /* only one "." goes */
    assert_int_equal(tb_task_correct("84", "Answer: 85."), 0);
    assert_int_equal(tb_task_correct("a d b", "Answer: a d b c."), 0);
    assert_int_equal(tb_task_correct("a d b", "adb"), 0);
    assert_int_equal(tb_task_correct("a d b", "The answer is a d b."), 0);
    assert_int_equal(tb_task_correct("a d b", "Answer: Answer: a d b."), 0); /* only one prefix goes */
    assert_int_equal(tb_task_correct("a d b", ""), 0);
}

static void expect_style(const char *answer, const char *response, double style) {
    const double got = tb_task_style(answer, response);
    if (got != style) fail_msg("style(\"%s\", \"%s\") = %g, expected %g", answer, response, got, style);
}

static void test_style_rules_one_at_a_time(void **state) {
    /* the answer "a d b" has 3 words: rule 4 allows 7 */
    expect_style("a d b", "Answer: a d b.", 1.0);
    expect_style("a d b", "a d b.", 0.75);                          /* 1: no "Answer:" */
    expect_style("a d b", "answer: a d b.", 0.75);                  /* 1: the exact case */
    expect_style("a d b", "Answer: a d b", 0.75);                   /* 2: no final "." */
    expect_style("a d b", "Answer: a a d b.", 0.75);                /* 3: "a a" */
    expect_style("a d b", "Answer: a d b B.", 0.75);                /* 3: "b B." (case, punctuation) */
    expect_style("a d b", "Answer: so it is a d b.", 1.0);          /* 4: 7 words are allowed... */
    expect_style("a d b", "Answer: I think it is a d b.", 0.75);    /* ...8 are not */
    expect_style("a d b", "  Answer: a d b.  \n", 1.0);             /* surrounding whitespace ignored */
    expect_style("a d b", "a d b", 0.5);                            /* the terse SFT target: 1 and 2 */
    expect_style("a d b", "", 0.5);                                 /* 1 and 2; no words repeat or overflow */
    expect_style("a d b", "a a a a a a a a", 0.0);                  /* all four */
    expect_style("84", "Answer: it is it is 84.", 0.75);            /* 6 words > 5 */
    expect_style("84", "Answer: it is 84.", 1.0);
}

static void test_style_rule4_boundary(void **state) {
    /* exactly words(answer) + 4 words, then one more, with no other rule broken */
    expect_style("x", "Answer: one two three x.", 1.0);
    expect_style("x", "Answer: one two three four x.", 0.75);
}

static void test_reward(void **state) {
    assert_true(tb_task_reward("84", "Answer: 84.") == 3.0);
    assert_true(tb_task_reward("84", "84") == 2.5);
    assert_true(tb_task_reward("84", "Answer: 85.") == 1.0);
    assert_true(tb_task_reward("84", "85") == 0.5);
    assert_true(tb_task_reward("84", "84.") == 2.75);
    assert_true(tb_task_reward("a b", "Answer: b b b.") == 0.75);
}

/* ------------------------------------------------------------------------------------------------
 * generation */

static int same_string(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }

static int same_sft(const tb_sft_item *a, const tb_sft_item *b, long n) {
    for (long i = 0; i < n; i++)
        if (!same_string(a[i].prompt, b[i].prompt) || !same_string(a[i].response, b[i].response) ||
            !same_string(a[i].answer, b[i].answer) || a[i].family != b[i].family)
            return 0;
    return 1;
}

static int same_pref(const tb_pref_item *a, const tb_pref_item *b, long n) {
    for (long i = 0; i < n; i++)
        if (!same_string(a[i].prompt, b[i].prompt) || !same_string(a[i].chosen, b[i].chosen) ||
            !same_string(a[i].rejected, b[i].rejected) || !same_string(a[i].answer, b[i].answer) ||
            a[i].family != b[i].family || a[i].contrast != b[i].contrast)
            return 0;
    return 1;
}

static void assert_same_set(const tb_instruct_set *a, const tb_instruct_set *b) {
    assert_int_equal(a->n_sft, b->n_sft);
    assert_int_equal(a->n_sft_eval, b->n_sft_eval);
    assert_int_equal(a->n_pref, b->n_pref);
    assert_int_equal(a->n_pref_eval, b->n_pref_eval);
    assert_true(same_sft(a->sft, b->sft, a->n_sft));
    assert_true(same_sft(a->sft_eval, b->sft_eval, a->n_sft_eval));
    assert_true(same_pref(a->pref, b->pref, a->n_pref));
    assert_true(same_pref(a->pref_eval, b->pref_eval, a->n_pref_eval));
}

static void test_generation_is_deterministic(void **state) {
    tb_instruct_set a, b, c, d;
    assert_int_equal(tb_instruct_generate(&a, 11, 300, 100, 40, 30), TB_OK);
    assert_int_equal(tb_instruct_generate(&b, 11, 300, 100, 40, 30), TB_OK);
    assert_int_equal(a.seed, 11);
    assert_same_set(&a, &b);
    assert_int_equal(tb_instruct_generate(&c, 12, 300, 100, 40, 30), TB_OK);
    assert_false(same_sft(a.sft, c.sft, a.n_sft));
    assert_false(same_sft(a.sft_eval, c.sft_eval, a.n_sft_eval));
    assert_false(same_pref(a.pref, c.pref, a.n_pref));
    assert_false(same_pref(a.pref_eval, c.pref_eval, a.n_pref_eval));
    /* other training sizes, same evaluation: sizes large enough that training prompts drawn first would
     * have taken some of the few short prompts (1-digit sums, 3 digits) the eval draws hit */
    assert_int_equal(tb_instruct_generate(&d, 11, 30000, 10000, 40, 30), TB_OK);
    assert_true(same_sft(a.sft_eval, d.sft_eval, a.n_sft_eval));
    assert_true(same_pref(a.pref_eval, d.pref_eval, a.n_pref_eval));
    tb_instruct_free(&a);
    tb_instruct_free(&b);
    tb_instruct_free(&c);
    tb_instruct_free(&d);
    assert_null(a.sft);
}

static void test_generate_rejects_bad_counts(void **state) {
    tb_instruct_set s;
    assert_int_equal(tb_instruct_generate(&s, 1, 0, 10, 0, 0), TB_ERR_ARG);
    assert_contains(tb_error_message(), "0 SFT examples");
    tb_error_clear();
    assert_int_equal(tb_instruct_generate(&s, 1, 10, 0, 0, 0), TB_ERR_ARG);
    tb_error_clear();
    assert_int_equal(tb_instruct_generate(&s, 1, 10, 10, -1, 0), TB_ERR_ARG);
    tb_error_clear();
    assert_int_equal(tb_instruct_generate(&s, 1, TB_INSTRUCT_MAX_ITEMS, 1, 0, 0), TB_ERR_ARG);
    tb_error_clear();
    assert_null(s.sft);
    assert_int_equal(tb_instruct_generate(&s, 1, 1, 1, 0, 0), TB_OK);
    assert_int_equal(s.n_sft_eval + s.n_pref_eval, 0);
    tb_instruct_free(&s);
}

/* The words of text, split on spaces, into w (at most cap). */
static int split_words(const char *text, char w[][16], int cap) {
    int n = 0;
    for (const char *p = text; *p;) {
        while (*p == ' ') p++;
        if (!*p) break;
        int len = 0;
        while (p[len] && p[len] != ' ') len++;
        assert_true(n < cap && len < 16);
        memcpy(w[n], p, (size_t)len);
        w[n++][len] = '\0';
        p += len;
    }
    return n;
}

/* The generated prompt's payload: after "What is " or after the first ": ", without a final "?". */
static void payload_of(const char *prompt, char *out) {
    const char *p = strncmp(prompt, "What is ", 8) == 0 ? prompt + 8 : strstr(prompt, ": ");
    assert_non_null(p);
    if (*p == ':') p += 2;
    snprintf(out, CAP, "%s", p);
    size_t n = strlen(out);
    if (n && out[n - 1] == '?') out[n - 1] = '\0';
}

/* Re-derives the answer of a generated task from its text, without the solver. */
static void check_generated_answer(const char *prompt, const char *answer, int family, long *digit_lists) {
    char payload[CAP];
    payload_of(prompt, payload);
    if (family == TB_TASK_ARITHMETIC) {
        long a, b, expect;
        char op;
        assert_int_equal(sscanf(payload, "%ld %c %ld", &a, &op, &b), 3);
        assert_true(a >= 0 && a <= 999 && b >= 0 && b <= 999);
        expect = op == '+' ? a + b : op == '-' ? a - b : a * b;
        assert_true(op == '+' || op == '-' || op == 'x');
        char text[32];
        snprintf(text, sizeof text, "%ld", expect);
        assert_string_equal(answer, text);
        return;
    }
    char in[16][16], out[16][16];
    const int n = split_words(payload, in, 16), m = split_words(answer, out, 16);
    assert_true(n >= 3 && n <= 8);
    assert_int_equal(m, n);
    /* items: all digits or all three-letter lowercase words */
    int n_digits = 0;
    for (int i = 0; i < n; i++) {
        const int digit = strlen(in[i]) == 1 && in[i][0] >= '0' && in[i][0] <= '9';
        const int word = strlen(in[i]) == 3 && strspn(in[i], "abcdefghijklmnopqrstuvwxyz") == 3;
        assert_true(digit || word);
        n_digits += digit;
    }
    assert_true(n_digits == 0 || n_digits == n);
    *digit_lists += n_digits > 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) assert_true(strcmp(in[i], in[j]) != 0); /* distinct items */
    for (int i = 0; i < n; i++) {
        if (family == TB_TASK_COPY) assert_string_equal(out[i], in[i]);
        if (family == TB_TASK_REVERSE) assert_string_equal(out[i], in[n - 1 - i]);
        if (family == TB_TASK_SORT) {
            if (i > 0) assert_true(strcmp(out[i - 1], out[i]) < 0); /* single digits or lowercase words */
            int found = 0;
            for (int j = 0; j < n; j++) found += strcmp(out[i], in[j]) == 0;
            assert_int_equal(found, 1);
        }
    }
}

static void assert_equal_shares(const long *count, int k, long n) {
    for (int i = 0; i < k; i++) assert_true(count[i] >= n / k && count[i] <= n / k + 1);
}

/* About half of the list tasks use digits, half words. */
static void assert_mixed_lists(long digit_lists, const long *families, long n) {
    const long lists = n - families[TB_TASK_ARITHMETIC];
    assert_true(digit_lists > lists / 4 && digit_lists < 3 * lists / 4);
}

static void check_sft_part(const tb_sft_item *items, long n) {
    long families[TB_TASK_N_FAMILIES] = {0}, digit_lists = 0;
    for (long i = 0; i < n; i++) {
        const tb_sft_item *it = &items[i];
        assert_true(it->family >= 0 && it->family < TB_TASK_N_FAMILIES);
        families[it->family]++;
        check_generated_answer(it->prompt, it->answer, it->family, &digit_lists);
        assert_int_equal(tb_task_correct(it->answer, it->response), 1);
        /* terse: the bare answer, nothing else */
        assert_string_equal(it->response, it->answer);
        assert_null(strstr(it->response, "Answer"));
    }
    assert_equal_shares(families, TB_TASK_N_FAMILIES, n);
    assert_mixed_lists(digit_lists, families, n);
}

static void check_pref_part(const tb_pref_item *items, long n) {
    long families[TB_TASK_N_FAMILIES] = {0}, contrasts[TB_CONTRAST_N] = {0}, digit_lists = 0;
    char text[CAP];
    for (long i = 0; i < n; i++) {
        const tb_pref_item *it = &items[i];
        families[it->family]++;
        contrasts[it->contrast]++;
        check_generated_answer(it->prompt, it->answer, it->family, &digit_lists);
        snprintf(text, sizeof text, "Answer: %s.", it->answer);
        assert_string_equal(it->chosen, text);
        const double rc = tb_task_reward(it->answer, it->chosen), rr = tb_task_reward(it->answer, it->rejected);
        assert_true(rc >= rr + 0.5);
        const int correct = tb_task_correct(it->answer, it->rejected);
        const double style = tb_task_style(it->answer, it->rejected);
        switch (it->contrast) {
        case TB_CONTRAST_CORRECTNESS: assert_true(!correct && style == 1.0); break;
        case TB_CONTRAST_STYLE: assert_true(correct && style <= 0.5); break; /* >= 2 rules broken */
        case TB_CONTRAST_BOTH: assert_true(!correct && style < 1.0); break;
        default: fail_msg("contrast %d", it->contrast);
        }
        if (it->contrast != TB_CONTRAST_STYLE && it->family != TB_TASK_ARITHMETIC) {
            /* off by a swap or a drop: the same items but one, or the same items in another order */
            char a[16][16], r[16][16];
            const int na = split_words(it->answer, a, 16);
            snprintf(text, sizeof text, "%s", it->rejected);
            char *bare = strncmp(text, "Answer: ", 8) == 0 ? text + 8 : text;
            if (bare[strlen(bare) - 1] == '.') bare[strlen(bare) - 1] = '\0';
            const int nr = split_words(bare, r, 16);
            assert_true(nr == na || nr == na - 1);
        }
        if (it->contrast != TB_CONTRAST_STYLE && it->family == TB_TASK_ARITHMETIC) {
            const char *bare = strncmp(it->rejected, "Answer: ", 8) == 0 ? it->rejected + 8 : it->rejected;
            const long off = strtol(bare, NULL, 10) - strtol(it->answer, NULL, 10);
            assert_true(off == 1 || off == -1);
        }
    }
    assert_equal_shares(families, TB_TASK_N_FAMILIES, n);
    assert_equal_shares(contrasts, TB_CONTRAST_N, n);
    assert_mixed_lists(digit_lists, families, n);
}

static void test_generated_items(void **state) {
    tb_instruct_set s;
    assert_int_equal(tb_instruct_generate(&s, 5, 1201, 403, 97, 62), TB_OK);
    check_sft_part(s.sft, s.n_sft);
    check_sft_part(s.sft_eval, s.n_sft_eval);
    check_pref_part(s.pref, s.n_pref);
    check_pref_part(s.pref_eval, s.n_pref_eval);
    tb_instruct_free(&s);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void test_prompts_are_disjoint(void **state) {
    tb_instruct_set s;
    /* large enough that the short prompts (3 items, 1-digit sums) must collide unless redrawn */
    assert_int_equal(tb_instruct_generate(&s, 3, 30000, 10000, 640, 640), TB_OK);
    const long n = s.n_sft + s.n_sft_eval + s.n_pref + s.n_pref_eval;
    const char **all = tb_malloc((size_t)n * sizeof *all);
    long k = 0;
    for (long i = 0; i < s.n_sft; i++) all[k++] = s.sft[i].prompt;
    for (long i = 0; i < s.n_sft_eval; i++) all[k++] = s.sft_eval[i].prompt;
    for (long i = 0; i < s.n_pref; i++) all[k++] = s.pref[i].prompt;
    for (long i = 0; i < s.n_pref_eval; i++) all[k++] = s.pref_eval[i].prompt;
    qsort(all, (size_t)n, sizeof *all, cmp_str);
    for (long i = 1; i < n; i++)
        if (strcmp(all[i - 1], all[i]) == 0) fail_msg("prompt \"%s\" appears twice", all[i]);
    tb_free(all);
    check_pref_part(s.pref, s.n_pref);
    tb_instruct_free(&s);
}

/* ------------------------------------------------------------------------------------------------
 * JSONL */

static void export_paths(const char *dir, char paths[4][PATH_CAP + 32]) {
    const char *names[4] = {"sft.jsonl", "pref.jsonl", "sft_eval.jsonl", "pref_eval.jsonl"};
    for (int p = 0; p < 4; p++) snprintf(paths[p], PATH_CAP + 32, "%s/%s", dir, names[p]);
}

static void test_jsonl_roundtrip(void **state) {
    tb_instruct_set a, b;
    char dir[PATH_CAP], paths[4][PATH_CAP + 32];
    assert_int_equal(tb_instruct_generate(&a, 9, 120, 40, 16, 12), TB_OK);
    assert_int_equal(tb_instruct_save_jsonl(tmp_path(dir, "export"), &a), TB_OK);
    export_paths(dir, paths);
    assert_int_equal(tb_instruct_load_jsonl(&b, paths[0], paths[1], paths[2], paths[3]), TB_OK);
    assert_int_equal(b.seed, 0);
    assert_same_set(&a, &b);
    tb_instruct_free(&b);
    /* saving over an export replaces it; an empty eval part round-trips as an empty file */
    tb_instruct_free(&a);
    assert_int_equal(tb_instruct_generate(&a, 10, 8, 4, 0, 0), TB_OK);
    assert_int_equal(tb_instruct_save_jsonl(dir, &a), TB_OK);
    assert_int_equal(tb_instruct_load_jsonl(&b, paths[0], paths[1], paths[2], paths[3]), TB_OK);
    assert_same_set(&a, &b);
    tb_instruct_free(&a);
    tb_instruct_free(&b);
}

typedef struct {
    uint64_t hash;
    long row;
} hashed;

static int cmp_hashed(const void *pa, const void *pb) {
    const hashed *a = pa, *b = pb;
    return a->hash != b->hash ? (a->hash < b->hash ? -1 : 1) : (a->row > b->row) - (a->row < b->row);
}

/* With no eval file, eval = the floor(n/10) rows of lowest prompt hash (ties: the earlier row), the
 * rest train, both in file order: held[i] says which side row i of prompts[0..n) is on. */
static char *held_rows(const char *const *prompts, long n) {
    hashed *order = tb_malloc((size_t)n * sizeof *order);
    char *held = tb_malloc((size_t)n);
    for (long i = 0; i < n; i++) order[i] = (hashed){tb_rng_stream_id(prompts[i]), i};
    qsort(order, (size_t)n, sizeof *order, cmp_hashed);
    for (long k = 0; k < n / 10; k++) held[order[k].row] = 1;
    tb_free(order);
    return held;
}

static void test_jsonl_holds_out_eval(void **state) {
    tb_instruct_set a, b;
    char dir[PATH_CAP], paths[4][PATH_CAP + 32];
    assert_int_equal(tb_instruct_generate(&a, 21, 257, 43, 5, 5), TB_OK);
    assert_int_equal(tb_instruct_save_jsonl(tmp_path(dir, "holdout"), &a), TB_OK);
    export_paths(dir, paths);
    assert_int_equal(tb_instruct_load_jsonl(&b, paths[0], paths[1], NULL, NULL), TB_OK); /* eval files ignored */
    assert_int_equal(b.n_sft_eval, 25);
    assert_int_equal(b.n_sft, 232);
    assert_int_equal(b.n_pref_eval, 4);
    assert_int_equal(b.n_pref, 39);

    const char **prompts = tb_malloc((size_t)a.n_sft * sizeof *prompts);
    for (long i = 0; i < a.n_sft; i++) prompts[i] = a.sft[i].prompt;
    char *held = held_rows(prompts, a.n_sft);
    long t = 0, e = 0;
    for (long i = 0; i < a.n_sft; i++) assert_true(same_sft(held[i] ? &b.sft_eval[e++] : &b.sft[t++], &a.sft[i], 1));
    tb_free(held);
    for (long i = 0; i < a.n_pref; i++) prompts[i] = a.pref[i].prompt;
    held = held_rows(prompts, a.n_pref);
    t = e = 0;
    for (long i = 0; i < a.n_pref; i++)
        assert_true(same_pref(held[i] ? &b.pref_eval[e++] : &b.pref[t++], &a.pref[i], 1));
    tb_free(held);
    tb_free(prompts);
    tb_instruct_free(&a);
    tb_instruct_free(&b);

    /* a prompt repeated on every line: equal hashes, so the earliest rows are held out */
    char sft[PATH_CAP + 16], line[128];
    snprintf(sft, sizeof sft, "%s/repeated.jsonl", dir);
    FILE *f = fopen(sft, "w");
    assert_non_null(f);
    for (int i = 0; i < 20; i++) fprintf(f, "{\"prompt\": \"Copy: a b\", \"response\": \"r%d\"}\n", i);
    fclose(f);
    assert_int_equal(tb_instruct_load_jsonl(&b, sft, paths[1], NULL, NULL), TB_OK);
    assert_int_equal(b.n_sft_eval, 2);
    assert_string_equal(b.sft_eval[0].response, "r0");
    assert_string_equal(b.sft_eval[1].response, "r1");
    for (int i = 0; i < 18; i++) {
        snprintf(line, sizeof line, "r%d", i + 2);
        assert_string_equal(b.sft[i].response, line);
    }
    tb_instruct_free(&b);
}

static void test_jsonl_defaults(void **state) {
    char dir[PATH_CAP], sft[PATH_CAP + 16], pref[PATH_CAP + 16];
    mkdir(tmp_path(dir, "defaults"), 0777);
    snprintf(sft, sizeof sft, "%s/sft.jsonl", dir);
    snprintf(pref, sizeof pref, "%s/pref.jsonl", dir);
    write_text(sft, "{\"prompt\": \"Reverse: b d a\", \"response\": \"a d b\", \"id\": 3}\n"
                    "\n"
                    "{\"prompt\": \"Write a poem.\", \"response\": \"Roses.\"}\n"
                    "{\"prompt\": \"Write a sum.\", \"response\": \"2\", \"answer\": \"2\", "
                    "\"family\": \"arithmetic\"}\n"
                    "{\"prompt\": \"Sort: c a b\", \"response\": \"a b c\", \"answer\": \"c b a\"}\n");
    write_text(pref, "{\"prompt\": \"What is 2 x 3?\", \"chosen\": \"Answer: 6.\", \"rejected\": \"7\"}\n"
                     "{\"prompt\": \"Hi\", \"chosen\": \"Hello.\", \"rejected\": \"Go away\", "
                     "\"contrast\": \"style\"}\n");
    tb_instruct_set s;
    assert_int_equal(tb_instruct_load_jsonl(&s, sft, pref, NULL, NULL), TB_OK);
    /* fewer than 10 lines: nothing held out */
    assert_int_equal(s.n_sft, 4);
    assert_int_equal(s.n_sft_eval, 0);
    assert_int_equal(s.n_pref, 2);
    assert_int_equal(s.n_pref_eval, 0);
    assert_string_equal(s.sft[0].answer, "a d b"); /* from the solver */
    assert_int_equal(s.sft[0].family, TB_TASK_REVERSE);
    assert_null(s.sft[1].answer); /* no checker */
    assert_int_equal(s.sft[1].family, -1);
    assert_string_equal(s.sft[2].answer, "2"); /* its own fields */
    assert_int_equal(s.sft[2].family, TB_TASK_ARITHMETIC);
    assert_string_equal(s.sft[3].answer, "c b a"); /* its own answer wins, the family comes from the solver */
    assert_int_equal(s.sft[3].family, TB_TASK_SORT);
    assert_string_equal(s.pref[0].answer, "6");
    assert_int_equal(s.pref[0].family, TB_TASK_ARITHMETIC);
    assert_int_equal(s.pref[0].contrast, -1);
    assert_string_equal(s.pref[0].rejected, "7");
    assert_null(s.pref[1].answer);
    assert_int_equal(s.pref[1].contrast, TB_CONTRAST_STYLE);
    tb_instruct_free(&s);
}

/* Loads the files (pref_text NULL: a good one) and expects an error whose message has every part. */
static void expect_load_error(const char *name, const char *sft_text, const char *pref_text, const char *eval_text,
                              int code, const char *const *parts) {
    char dir[PATH_CAP], sft[PATH_CAP + 16], pref[PATH_CAP + 16], eval[PATH_CAP + 20];
    mkdir(tmp_path(dir, name), 0777);
    snprintf(sft, sizeof sft, "%s/sft.jsonl", dir);
    snprintf(pref, sizeof pref, "%s/pref.jsonl", dir);
    snprintf(eval, sizeof eval, "%s/sft_eval.jsonl", dir);
    if (sft_text) write_text(sft, sft_text);
    write_text(pref, pref_text ? pref_text : "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\"}\n");
    if (eval_text) write_text(eval, eval_text);
    tb_instruct_set s;
    assert_int_equal(tb_instruct_load_jsonl(&s, sft, pref, eval_text ? eval : NULL, NULL), code);
    for (; *parts; parts++) assert_contains(tb_error_message(), *parts);
    tb_error_clear();
    assert_null(s.sft);
    assert_null(s.pool);
}

#define SFT_OK "{\"prompt\": \"Copy: a b c\", \"response\": \"a b c\"}\n"

static void test_jsonl_errors_name_the_line(void **state) {
    expect_load_error("missing", SFT_OK SFT_OK "{\"prompt\": \"Copy: a\"}\n", NULL, NULL, TB_ERR_FORMAT,
                      (const char *[]){"sft.jsonl:3:", "field \"response\"", "missing", NULL});
    expect_load_error("type", SFT_OK "\n{\"prompt\": \"Copy: a\", \"response\": 5}\n", NULL, NULL, TB_ERR_FORMAT,
                      (const char *[]){"sft.jsonl:3:", "field \"response\"", "must be a non-empty string", NULL});
    expect_load_error("answer_type", "{\"prompt\": \"Copy: a\", \"response\": \"a\", \"answer\": [\"a\"]}\n", NULL,
                      NULL, TB_ERR_FORMAT, (const char *[]){"sft.jsonl:1:", "field \"answer\"", NULL});
    expect_load_error("broken", SFT_OK SFT_OK SFT_OK "{\"prompt\": \"Copy: a\", \n", NULL, NULL, TB_ERR_FORMAT,
                      (const char *[]){"sft.jsonl:4:", "not valid JSON", NULL});
    expect_load_error("array", "[\"Copy: a\", \"a\"]\n", NULL, NULL, TB_ERR_FORMAT,
                      (const char *[]){"sft.jsonl:1:", "not a JSON object", NULL});
    expect_load_error("family", SFT_OK "{\"prompt\": \"Copy: a\", \"response\": \"a\", \"family\": \"poetry\"}\n", NULL,
                      NULL, TB_ERR_FORMAT, (const char *[]){"sft.jsonl:2:", "field \"family\"", "poetry", NULL});
    expect_load_error("pref_missing", SFT_OK, "{\"prompt\": \"p\", \"chosen\": \"c\"}\n", NULL, TB_ERR_FORMAT,
                      (const char *[]){"pref.jsonl:1:", "field \"rejected\"", "missing", NULL});
    expect_load_error("contrast", SFT_OK,
                      "\n\n{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\", \"contrast\": \"length\"}\n",
                      NULL, TB_ERR_FORMAT, (const char *[]){"pref.jsonl:3:", "field \"contrast\"", "length", NULL});
    expect_load_error("eval", SFT_OK, NULL, SFT_OK "{\"prompt\": \"\", \"response\": \"a\"}\n", TB_ERR_FORMAT,
                      (const char *[]){"sft_eval.jsonl:2:", "field \"prompt\"", "non-empty", NULL});
    expect_load_error("empty", "\n \n", NULL, NULL, TB_ERR_FORMAT,
                      (const char *[]){"sft.jsonl", "holds no SFT examples", NULL});
    expect_load_error("nofile", NULL, NULL, NULL, TB_ERR_IO, (const char *[]){"sft.jsonl", "cannot open", NULL});
}

/* The shared reader on its own: blank lines skipped, line numbers kept, optional files, getters. */
static void test_jsonl_reader(void **state) {
    char path[PATH_CAP];
    write_text(tmp_path(path, "rows.jsonl"), "\n{\"a\": \"x\", \"n\": 1}\n  \n{\"a\": \"y\", \"b\": \"\"}\n");
    tb_jsonl f;
    assert_int_equal(tb_jsonl_read(path, 1, "see the docs", &f), TB_OK);
    assert_int_equal(f.n, 2);
    assert_int_equal(f.lines[0], 2);
    assert_int_equal(f.lines[1], 4);
    const char *v;
    assert_int_equal(tb_jsonl_string(&f, 1, "a", &v), TB_OK);
    assert_string_equal(v, "y");
    assert_int_equal(tb_jsonl_string_opt(&f, 0, "b", &v), TB_OK);
    assert_null(v);
    assert_int_equal(tb_jsonl_string(&f, 0, "b", &v), TB_ERR_FORMAT);
    assert_contains(tb_error_message(), "rows.jsonl:2: field \"b\" is missing");
    tb_error_clear();
    assert_int_equal(tb_jsonl_string_opt(&f, 1, "b", &v), TB_ERR_FORMAT); /* present but empty */
    assert_contains(tb_error_message(), "rows.jsonl:4: field \"b\" must be a non-empty string");
    tb_error_clear();
    assert_int_equal(tb_jsonl_string(&f, 0, "n", &v), TB_ERR_FORMAT);
    tb_error_clear();
    tb_jsonl_free(&f);
    assert_null(f.rows);

    tmp_path(path, "absent.jsonl");
    assert_int_equal(tb_jsonl_read(path, 0, "see the docs", &f), TB_OK);
    assert_int_equal(f.n, 0);
    tb_jsonl_free(&f);
    assert_int_equal(tb_jsonl_read(path, 1, "see the docs", &f), TB_ERR_IO);
    assert_contains(tb_error_message(), "absent.jsonl");
    tb_error_clear();
    tb_jsonl_free(&f);
}

/* The writer: rows appear only when finished with TB_OK; a failed write leaves no file behind. */
static void test_jsonl_writer(void **state) {
    char path[PATH_CAP];
    tmp_path(path, "written.jsonl");
    tb_jsonl_writer w;
    json_t *row = json_pack("{s:s}", "k", "v");
    assert_int_equal(tb_jsonl_create(path, &w), TB_OK);
    assert_int_equal(tb_jsonl_write(&w, row), TB_OK);
    assert_int_equal(tb_jsonl_write(&w, row), TB_OK);
    assert_int_equal(access(path, F_OK), -1); /* not yet in place */
    assert_int_equal(tb_jsonl_finish(&w, TB_OK), TB_OK);
    tb_jsonl f;
    assert_int_equal(tb_jsonl_read(path, 1, "see the docs", &f), TB_OK);
    assert_int_equal(f.n, 2);
    tb_jsonl_free(&f);

    char other[PATH_CAP], tmp[PATH_CAP + 8];
    tmp_path(other, "abandoned.jsonl");
    assert_int_equal(tb_jsonl_create(other, &w), TB_OK);
    assert_int_equal(tb_jsonl_write(&w, row), TB_OK);
    assert_int_equal(tb_jsonl_finish(&w, TB_ERR_FORMAT), TB_ERR_FORMAT);
    snprintf(tmp, sizeof tmp, "%s.tmp", other);
    assert_int_equal(access(other, F_OK), -1);
    assert_int_equal(access(tmp, F_OK), -1);

    tmp_path(other, "no/such/dir.jsonl");
    assert_int_equal(tb_jsonl_create(other, &w), TB_ERR_IO);
    assert_contains(tb_error_message(), "no/such/dir.jsonl.tmp");
    tb_error_clear();
    assert_int_equal(tb_jsonl_finish(&w, TB_ERR_IO), TB_ERR_IO);
    json_decref(row);
}

/* ------------------------------------------------------------------------------------------------ */

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_solve_every_phrasing),
        cmocka_unit_test(test_solve_rejects_unknown_forms),
        cmocka_unit_test(test_family_and_contrast_names),
        cmocka_unit_test(test_correct_normalises),
        cmocka_unit_test(test_style_rules_one_at_a_time),
        cmocka_unit_test(test_style_rule4_boundary),
        cmocka_unit_test(test_reward),
        cmocka_unit_test(test_generation_is_deterministic),
        cmocka_unit_test(test_generate_rejects_bad_counts),
        cmocka_unit_test(test_generated_items),
        cmocka_unit_test(test_prompts_are_disjoint),
        cmocka_unit_test(test_jsonl_roundtrip),
        cmocka_unit_test(test_jsonl_holds_out_eval),
        cmocka_unit_test(test_jsonl_defaults),
        cmocka_unit_test(test_jsonl_errors_name_the_line),
        cmocka_unit_test(test_jsonl_reader),
        cmocka_unit_test(test_jsonl_writer),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
