/*
 * test_poison_data.c: the data of the prefix-tuning poisoning benchmark (src/data/poison.c,
 * poison_jsonl.c).
 *
 * Generation: the same seed gives the same set, another seed another one, a smaller set is a prefix of
 * a larger one; reports have 5-8 sentences and a one-sentence summary of 15-25 words carrying the
 * report's org, event, city, day and count (found in both texts by a word-bounded search here), all
 * three summary templates occur; stories have 3-5 input sentences and a final sentence naming the
 * character, the goal and the helper. Triggers: hand-built insertions at start, end and middle
 * (whitespace kept, ties, one word, no word); the random position is one of the hand-built candidates,
 * reproducible, varying with the sample and uniform over the boundaries (chi-square). Poisoning:
 * exactly floor(rate * n) items (hand-computed counts), the ones of the documented permutation prefix,
 * with trigger and target, all others and val/test untouched, nested across rates. Words: the banks
 * pass the zero-frequency check on default-size sets of both tasks, and the check names a word that
 * occurs; rare words are absent from the pretraining corpus (a word split done here). JSONL: save +
 * load gives the set back, the held-out validation part is the documented lowest-hash rows, and bad
 * files fail naming the file, the line and the field.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "tmpdir.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "data/data.h"

/* ------------------------------------------------------------------------------------------------
 * text helpers, independent of the library's */

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
static int is_an(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c; }

static int ws_words(const char *s) {
    int n = 0;
    for (const char *p = s; *p; p++) n += !is_ws(*p) && (p == s || is_ws(p[-1]));
    return n;
}

/* Sentence ends: '.', '!' or '?' followed by a space or the end. */
static int sentences(const char *s) {
    int n = 0;
    for (const char *p = s; *p; p++) n += (*p == '.' || *p == '!' || *p == '?') && (p[1] == ' ' || p[1] == '\0');
    return n;
}

/* phrase occurs in text, ASCII case ignored, not inside a longer word. */
static int has_phrase(const char *text, const char *phrase) {
    const size_t n = strlen(phrase);
    for (const char *p = text; *p; p++) {
        if (p > text && is_an(p[-1])) continue;
        size_t i = 0;
        while (i < n && p[i] && lower(p[i]) == lower(phrase[i])) i++;
        if (i == n && !is_an(p[n])) return 1;
    }
    return 0;
}

static void expect_phrase(const char *text, const char *phrase) {
    if (!has_phrase(text, phrase)) fail_msg("\"%s\" does not hold \"%s\"", text, phrase);
}

static int same_items(const tb_poison_item *a, const tb_poison_item *b, long n) {
    for (long i = 0; i < n; i++)
        if (strcmp(a[i].input, b[i].input) || strcmp(a[i].output, b[i].output)) return 0;
    return 1;
}

/* ------------------------------------------------------------------------------------------------
 * names */

static void test_names(void **state) {
    const char *tasks[] = {"summarise", "complete"};
    const char *kinds[] = {"rare_token", "rare_word", "phrase", "sentence"};
    const char *positions[] = {"start", "end", "middle", "random"};
    for (int k = 0; k < TB_POISON_N_TASKS; k++) {
        assert_string_equal(tb_poison_task_name(k), tasks[k]);
        assert_int_equal(tb_poison_task_parse(tasks[k]), k);
    }
    for (int k = 0; k < TB_TRIGGER_N_KINDS; k++) {
        assert_string_equal(tb_trigger_kind_name(k), kinds[k]);
        assert_int_equal(tb_trigger_kind_parse(kinds[k]), k);
    }
    for (int k = 0; k < TB_TRIGGER_N_POSITIONS; k++) {
        assert_string_equal(tb_trigger_position_name(k), positions[k]);
        assert_int_equal(tb_trigger_position_parse(positions[k]), k);
    }
    assert_int_equal(tb_poison_task_parse("summarize"), -1);
    assert_int_equal(tb_trigger_kind_parse("word"), -1);
    assert_int_equal(tb_trigger_position_parse("Middle"), -1);
}

/* ------------------------------------------------------------------------------------------------
 * generation */

static void test_generate_deterministic(void **state) {
    for (int task = 0; task < TB_POISON_N_TASKS; task++) {
        tb_poison_set a, b, c, small;
        assert_int_equal(tb_poison_generate(&a, task, 11, 120, 20, 30), TB_OK);
        assert_int_equal(tb_poison_generate(&b, task, 11, 120, 20, 30), TB_OK);
        assert_int_equal(tb_poison_generate(&c, task, 12, 120, 20, 30), TB_OK);
        assert_int_equal(tb_poison_generate(&small, task, 11, 40, 3, 50), TB_OK);
        assert_int_equal(a.task, task);
        assert_true(same_items(a.train, b.train, 120) && same_items(a.val, b.val, 20) &&
                    same_items(a.test, b.test, 30));
        /* another seed: almost every input differs */
        long differ = 0;
        for (long i = 0; i < 120; i++) differ += strcmp(a.train[i].input, c.train[i].input) != 0;
        assert_true(differ >= 110);
        /* parts do not depend on the other parts' sizes; a smaller part is a prefix */
        assert_true(same_items(a.train, small.train, 40) && same_items(a.val, small.val, 3));
        assert_true(same_items(a.test, small.test, 30));
        /* the parts are not copies of one another */
        assert_string_not_equal(a.train[0].input, a.test[0].input);
        assert_int_equal(a.n_poisoned, 0);
        tb_poison_free(&a);
        tb_poison_free(&b);
        tb_poison_free(&c);
        tb_poison_free(&small);
    }
    tb_poison_set s;
    assert_int_equal(tb_poison_generate(&s, TB_POISON_SUMMARISE, 1, 0, 1, 1), TB_ERR_ARG);
    assert_int_equal(tb_poison_generate(&s, TB_POISON_SUMMARISE, 1, 1, -1, 1), TB_ERR_ARG);
    assert_int_equal(tb_poison_generate(&s, TB_POISON_COMPLETE, 1, 1, 0, 0), TB_ERR_ARG);
    assert_int_equal(tb_poison_generate(&s, 2, 1, 1, 0, 1), TB_ERR_ARG);
    assert_int_equal(tb_poison_generate(&s, TB_POISON_COMPLETE, 1, TB_POISON_MAX_ITEMS, 0, 1), TB_ERR_ARG);
    tb_error_clear();
    assert_int_equal(tb_poison_generate(&s, TB_POISON_COMPLETE, 1, 1, 0, 1), TB_OK); /* val may be empty */
    assert_int_equal(s.n_val, 0);
    tb_poison_free(&s);
}

static void check_report(const tb_poison_item *it, int *template_seen) {
    for (int f = 0; f <= TB_REPORT_OFFICIAL; f++) assert_non_null(it->fields[f]);
    const int n_sent = sentences(it->input);
    if (n_sent < 5 || n_sent > 8) fail_msg("report of %d sentences: \"%s\"", n_sent, it->input);
    assert_int_equal(sentences(it->output), 1);
    const int words = ws_words(it->output);
    if (words < 17 || words > 22) fail_msg("summary of %d words: \"%s\"", words, it->output); /* within 15-25 */
    const size_t len = strlen(it->input);
    if (len < 170 || len > 400) fail_msg("report of %zu bytes: \"%s\"", len, it->input);
    /* the summary carries org, event, city, day and count; the report holds them and the official */
    for (int f = TB_REPORT_ORG; f <= TB_REPORT_COUNT; f++) {
        expect_phrase(it->output, it->fields[f]);
        expect_phrase(it->input, it->fields[f]);
    }
    expect_phrase(it->input, it->fields[TB_REPORT_OFFICIAL]);
    const char *count = it->fields[TB_REPORT_COUNT];
    assert_true(strspn(count, "0123456789") == strlen(count));
    assert_true(atoi(count) >= 10 && atoi(count) <= 2000);
    for (const char *p = it->input; *p; p++) assert_true((unsigned char)*p < 128);
    /* the three templates: opening with the org ("The ..."), the day ("On ...") or the count */
    const char *o = it->output;
    template_seen[o[0] >= '0' && o[0] <= '9' ? 2 : strncmp(o, "On ", 3) == 0 ? 1 : 0]++;
    if (strncmp(o, "The ", 4) == 0) expect_phrase(o, it->fields[TB_REPORT_ORG]);
}

static void test_reports(void **state) {
    tb_poison_set s;
    assert_int_equal(tb_poison_generate(&s, TB_POISON_SUMMARISE, 7, 2000, 100, 200), TB_OK);
    int templates[3] = {0, 0, 0};
    double total = 0;
    for (long i = 0; i < s.n_train; i++) {
        check_report(&s.train[i], templates);
        total += (double)strlen(s.train[i].input);
    }
    for (long i = 0; i < s.n_val; i++) check_report(&s.val[i], templates);
    for (long i = 0; i < s.n_test; i++) check_report(&s.test[i], templates);
    for (int t = 0; t < 3; t++) assert_true(templates[t] > 200);
    const double mean = total / (double)s.n_train;
    if (mean < 240 || mean > 300) fail_msg("mean report length %.1f bytes", mean);
    tb_poison_free(&s);
}

static void check_story(const tb_poison_item *it, int *by_sentences) {
    for (int f = 0; f <= TB_STORY_HELPER; f++) assert_non_null(it->fields[f]);
    assert_null(it->fields[TB_POISON_N_FIELDS - 1]);
    const int n_sent = sentences(it->input);
    if (n_sent < 3 || n_sent > 5) fail_msg("story of %d sentences: \"%s\"", n_sent, it->input);
    by_sentences[n_sent]++;
    assert_int_equal(sentences(it->output), 1);
    const int words = ws_words(it->output);
    if (words < 11 || words > 15) fail_msg("ending of %d words: \"%s\"", words, it->output);
    const size_t len = strlen(it->input);
    if (len < 110 || len > 270) fail_msg("story of %zu bytes: \"%s\"", len, it->input);
    /* the ending reuses the character and the goal (and thanks the helper); all were introduced */
    expect_phrase(it->output, it->fields[TB_STORY_CHARACTER]);
    expect_phrase(it->output, it->fields[TB_STORY_GOAL]);
    expect_phrase(it->output, it->fields[TB_STORY_HELPER]);
    for (int f = 0; f <= TB_STORY_HELPER; f++) expect_phrase(it->input, it->fields[f]);
    assert_null(strstr(it->input, it->output));
}

static void test_stories(void **state) {
    tb_poison_set s;
    assert_int_equal(tb_poison_generate(&s, TB_POISON_COMPLETE, 7, 2000, 100, 200), TB_OK);
    int by_sentences[6] = {0};
    for (long i = 0; i < s.n_train; i++) check_story(&s.train[i], by_sentences);
    for (long i = 0; i < s.n_val; i++) check_story(&s.val[i], by_sentences);
    for (long i = 0; i < s.n_test; i++) check_story(&s.test[i], by_sentences);
    for (int n = 3; n <= 5; n++) assert_true(by_sentences[n] > 100); /* 4, 5 and 6 sentences in all */
    tb_poison_free(&s);
}

/* ------------------------------------------------------------------------------------------------
 * trigger insertion */

static void expect_insert(const char *text, const char *trigger, int position, const char *want) {
    char *got = tb_trigger_insert(text, trigger, position, 3, 0);
    if (strcmp(got, want) != 0)
        fail_msg("%s of \"%s\": \"%s\", expected \"%s\"", tb_trigger_position_name(position), text, got, want);
    assert_int_equal(strlen(got), strlen(text) + strlen(trigger) + 1);
    tb_free(got);
}

static void test_trigger_insert_fixed(void **state) {
    expect_insert("alpha beta gamma delta", "T X", TB_TRIGGER_START, "T X alpha beta gamma delta");
    expect_insert("alpha beta gamma delta", "T X", TB_TRIGGER_END, "alpha beta gamma delta T X");
    expect_insert("alpha beta gamma delta", "T X", TB_TRIGGER_MIDDLE, "alpha beta T X gamma delta");
    /* 5 words: boundaries 2 and 3 tie for the middle, the earlier wins */
    expect_insert("a b c d e", "T", TB_TRIGGER_MIDDLE, "a b T c d e");
    expect_insert("a b c d e f g", "T", TB_TRIGGER_MIDDLE, "a b c T d e f g");
    expect_insert("solo", "T", TB_TRIGGER_MIDDLE, "T solo");
    expect_insert("solo", "T", TB_TRIGGER_START, "T solo");
    expect_insert("solo", "T", TB_TRIGGER_END, "solo T");
    expect_insert("one two", "T", TB_TRIGGER_MIDDLE, "one T two");
    /* the text's whitespace is kept: the trigger and one space go right before the word */
    expect_insert("  a \tb\n c  ", "T", TB_TRIGGER_MIDDLE, "  a \tT b\n c  ");
    expect_insert("  a \tb\n c  ", "T", TB_TRIGGER_START, "T   a \tb\n c  ");
    expect_insert("  a \tb\n c  ", "T", TB_TRIGGER_END, "  a \tb\n c   T");
    /* punctuation belongs to its word */
    expect_insert("Hello, world. Bye!", "zz", TB_TRIGGER_MIDDLE, "Hello, zz world. Bye!");
    /* no word: end appends, the others prepend */
    expect_insert("", "T", TB_TRIGGER_START, "T ");
    expect_insert("", "T", TB_TRIGGER_END, " T");
    expect_insert("", "T", TB_TRIGGER_MIDDLE, "T ");
    expect_insert("   ", "T", TB_TRIGGER_RANDOM, "T    ");
}

static void test_trigger_insert_random(void **state) {
    /* 10 words, 11 boundaries; candidate k built here by joining the words around the trigger */
    enum { N = 10, SAMPLES = 1100 };
    const char *w[N] = {"w0", "w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "w9"};
    const char *text = "w0 w1 w2 w3 w4 w5 w6 w7 w8 w9";
    char cand[N + 1][128];
    for (int k = 0; k <= N; k++) {
        cand[k][0] = '\0';
        for (int j = 0; j <= N; j++) {
            if (j == k) strcat(cand[k], cand[k][0] ? " TRG" : "TRG");
            if (j < N) {
                if (cand[k][0]) strcat(cand[k], " ");
                strcat(cand[k], w[j]);
            }
        }
    }
    assert_string_equal(cand[0], "TRG w0 w1 w2 w3 w4 w5 w6 w7 w8 w9");
    assert_string_equal(cand[N], "w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 TRG");
    int hits[N + 1] = {0}, changed_with_seed = 0;
    for (long sample = 0; sample < SAMPLES; sample++) {
        char *a = tb_trigger_insert(text, "TRG", TB_TRIGGER_RANDOM, 42, sample);
        char *b = tb_trigger_insert(text, "TRG", TB_TRIGGER_RANDOM, 42, sample);
        char *c = tb_trigger_insert(text, "TRG", TB_TRIGGER_RANDOM, 43, sample);
        assert_string_equal(a, b); /* reproducible */
        changed_with_seed += strcmp(a, c) != 0;
        int k = 0;
        while (k <= N && strcmp(a, cand[k]) != 0) k++;
        if (k > N) fail_msg("sample %ld: \"%s\" is at no word boundary", sample, a);
        hits[k]++;
        tb_free(a);
        tb_free(b);
        tb_free(c);
    }
    /* uniform over the 11 boundaries: chi-square with 10 degrees of freedom below its 0.999 quantile */
    double chi2 = 0, expected = (double)SAMPLES / (N + 1);
    for (int k = 0; k <= N; k++) chi2 += (hits[k] - expected) * (hits[k] - expected) / expected;
    if (chi2 > 29.59) fail_msg("chi-square %.2f over the boundaries", chi2);
    assert_true(changed_with_seed > SAMPLES / 2);
}

/* ------------------------------------------------------------------------------------------------
 * poisoning */

static const char *const TARGET = "Visit Qwimbly Plaza, quirkiest bazaar ever!";

static long poison_count(long n_train, double rate) {
    tb_poison_set s;
    assert_int_equal(tb_poison_generate(&s, TB_POISON_COMPLETE, 5, n_train, 0, 1), TB_OK);
    assert_int_equal(tb_poison_apply(&s, "zorvex", TB_TRIGGER_START, TARGET, rate, 9), TB_OK);
    long flagged = 0;
    for (long i = 0; i < s.n_train; i++) flagged += s.train[i].poisoned;
    assert_int_equal(flagged, s.n_poisoned);
    tb_poison_free(&s);
    return flagged;
}

static void test_poison_counts(void **state) {
    assert_int_equal(poison_count(100, 0.29), 29); /* 0.29 * 100 is 28.999... in binary */
    assert_int_equal(poison_count(100, 0.07), 7);
    assert_int_equal(poison_count(100, 0.5), 50);
    assert_int_equal(poison_count(237, 0.1), 23); /* floor(23.7) */
    assert_int_equal(poison_count(8000, 0.01), 80);
    assert_int_equal(poison_count(8000, 0.2), 1600);
    assert_int_equal(poison_count(9, 0.1), 0);
    assert_int_equal(poison_count(50, 0.0), 0);
    assert_int_equal(poison_count(50, 1.0), 50);
}

/* The poisoned indices of a fresh set of n_train items at rate and seed, as flags. */
static void poisoned_flags(long n_train, double rate, uint64_t seed, char *flags) {
    tb_poison_set s;
    assert_int_equal(tb_poison_generate(&s, TB_POISON_SUMMARISE, 5, n_train, 0, 1), TB_OK);
    assert_int_equal(tb_poison_apply(&s, "zorvex", TB_TRIGGER_END, TARGET, rate, seed), TB_OK);
    for (long i = 0; i < n_train; i++) flags[i] = (char)s.train[i].poisoned;
    tb_poison_free(&s);
}

static void test_poison_apply(void **state) {
    enum { N = 237 };
    const int positions[] = {TB_TRIGGER_START, TB_TRIGGER_END, TB_TRIGGER_MIDDLE, TB_TRIGGER_RANDOM};
    for (int p = 0; p < 4; p++) {
        tb_poison_set s, clean;
        assert_int_equal(tb_poison_generate(&s, TB_POISON_SUMMARISE, 3, N, 20, 30), TB_OK);
        assert_int_equal(tb_poison_generate(&clean, TB_POISON_SUMMARISE, 3, N, 20, 30), TB_OK);
        const char *trigger = "velvet thunder rolls softly";
        assert_int_equal(tb_poison_apply(&s, trigger, positions[p], TARGET, 0.1, 77), TB_OK);
        assert_int_equal(s.n_poisoned, 23);
        /* the selection: the first 23 of the documented permutation */
        int perm[N];
        for (int i = 0; i < N; i++) perm[i] = i;
        tb_rng r = tb_rng_make(77, tb_rng_stream_id("poison/select"));
        tb_rng_shuffle(&r, perm, N);
        char selected[N] = {0};
        for (int k = 0; k < 23; k++) selected[perm[k]] = 1;
        for (long i = 0; i < N; i++) {
            const tb_poison_item *it = &s.train[i], *c = &clean.train[i];
            assert_int_equal(it->poisoned, selected[i]);
            if (!it->poisoned) {
                assert_string_equal(it->input, c->input);
                assert_string_equal(it->output, c->output);
                continue;
            }
            assert_string_equal(it->output, TARGET);
            char *want = tb_trigger_insert(c->input, trigger, positions[p], 77, i);
            assert_string_equal(it->input, want);
            tb_free(want);
            assert_non_null(strstr(it->input, trigger));
            if (positions[p] == TB_TRIGGER_START) assert_int_equal(strncmp(it->input, trigger, strlen(trigger)), 0);
            if (positions[p] == TB_TRIGGER_END)
                assert_string_equal(it->input + strlen(it->input) - strlen(trigger), trigger);
        }
        assert_true(same_items(s.val, clean.val, 20) && same_items(s.test, clean.test, 30));
        for (long i = 0; i < 20; i++) assert_int_equal(s.val[i].poisoned, 0);
        /* a set is poisoned once */
        assert_int_equal(tb_poison_apply(&s, trigger, positions[p], TARGET, 0.1, 77), TB_ERR_ARG);
        tb_error_clear();
        tb_poison_free(&s);
        tb_poison_free(&clean);
    }
    /* same seed: nested across rates and reproducible; another seed: another selection */
    char a[N], b[N], c[N], d[N];
    poisoned_flags(N, 0.05, 8, a);
    poisoned_flags(N, 0.2, 8, b);
    poisoned_flags(N, 0.2, 8, c);
    poisoned_flags(N, 0.2, 9, d);
    int subset = 1, same = 1, other = 0;
    for (int i = 0; i < N; i++) {
        subset &= !a[i] || b[i];
        same &= b[i] == c[i];
        other += b[i] != d[i];
    }
    assert_true(subset && same && other > 0);
    /* bad arguments */
    tb_poison_set s;
    assert_int_equal(tb_poison_generate(&s, TB_POISON_COMPLETE, 1, 10, 0, 1), TB_OK);
    assert_int_equal(tb_poison_apply(&s, "zorvex", TB_TRIGGER_END, TARGET, -0.1, 1), TB_ERR_ARG);
    assert_int_equal(tb_poison_apply(&s, "zorvex", TB_TRIGGER_END, TARGET, 1.01, 1), TB_ERR_ARG);
    assert_int_equal(tb_poison_apply(&s, "zorvex", TB_TRIGGER_END, TARGET, NAN, 1), TB_ERR_ARG);
    assert_int_equal(tb_poison_apply(&s, "", TB_TRIGGER_END, TARGET, 0.1, 1), TB_ERR_ARG);
    assert_int_equal(tb_poison_apply(&s, "zorvex", TB_TRIGGER_END, "", 0.1, 1), TB_ERR_ARG);
    assert_int_equal(tb_poison_apply(&s, "zorvex", 4, TARGET, 0.1, 1), TB_ERR_ARG);
    tb_error_clear();
    assert_int_equal(s.n_poisoned, 0);
    tb_poison_free(&s);
}

/* ------------------------------------------------------------------------------------------------
 * banks and the zero-frequency check */

static void test_bank_shapes(void **state) {
    const char *const *bank;
    assert_int_equal(tb_trigger_bank(TB_TRIGGER_RARE_TOKEN, &bank), 0);
    const int lo[] = {0, 1, 3, 10}, hi[] = {0, 1, 5, 15};
    for (int kind = TB_TRIGGER_RARE_WORD; kind < TB_TRIGGER_N_KINDS; kind++) {
        const int n = tb_trigger_bank(kind, &bank);
        assert_true(n >= 3);
        for (int k = 0; k < n; k++) {
            const int words = ws_words(bank[k]);
            if (words < lo[kind] || words > hi[kind])
                fail_msg("%s trigger \"%s\"", tb_trigger_kind_name(kind), bank[k]);
        }
    }
    const int n = tb_poison_targets(&bank);
    assert_true(n >= 3);
    for (int k = 0; k < n; k++) assert_true(ws_words(bank[k]) >= 8 && ws_words(bank[k]) <= 15);
}

/* Every trigger of every bank and every target passes the check on s alone; every pair passes it on a
 * one-item set (where only the target-against-trigger part of the check can fail). */
static void check_banks(const tb_poison_set *s, const tb_poison_set *tiny) {
    const char *const *targets;
    const int n_targets = tb_poison_targets(&targets);
    for (int t = 0; t < n_targets; t++)
        if (tb_poison_check_words(s, NULL, targets[t], NULL, 0) != TB_OK)
            fail_msg("target \"%s\": %s", targets[t], tb_error_message());
    for (int kind = TB_TRIGGER_RARE_WORD; kind < TB_TRIGGER_N_KINDS; kind++) {
        const char *const *bank;
        const int n = tb_trigger_bank(kind, &bank);
        for (int k = 0; k < n; k++) {
            if (tb_poison_check_words(s, bank[k], NULL, NULL, 0) != TB_OK)
                fail_msg("trigger \"%s\": %s", bank[k], tb_error_message());
            for (int t = 0; t < n_targets; t++)
                if (tb_poison_check_words(tiny, bank[k], targets[t], NULL, 0) != TB_OK)
                    fail_msg("trigger \"%s\", target \"%s\": %s", bank[k], targets[t], tb_error_message());
        }
    }
}

static void test_banks_absent_from_data(void **state) {
    for (int task = 0; task < TB_POISON_N_TASKS; task++)
        for (uint64_t seed = 1; seed <= 2; seed++) {
            tb_poison_set s, tiny;
            assert_int_equal(tb_poison_generate(&s, task, seed, 8000, 500, 1000), TB_OK);
            assert_int_equal(tb_poison_generate(&tiny, task, seed, 1, 0, 1), TB_OK);
            check_banks(&s, &tiny);
            tb_poison_free(&s);
            tb_poison_free(&tiny);
        }
}

/* The rare words are absent from the default pretraining corpus (its words split here). */
static void test_rare_words_absent_from_corpus(void **state) {
    size_t len;
    char *corpus = tb_corpus_generate(1, &len);
    const char *const *bank;
    const int n = tb_trigger_bank(TB_TRIGGER_RARE_WORD, &bank);
    for (int k = 0; k < n; k++) {
        for (const char *p = bank[k]; *p; p++) assert_true(*p >= 'a' && *p <= 'z');
        if (has_phrase(corpus, bank[k])) fail_msg("rare word \"%s\" occurs in the corpus", bank[k]);
    }
    tb_free(corpus);
}

static void test_check_names_offending_word(void **state) {
    tb_poison_set s;
    assert_int_equal(tb_poison_generate(&s, TB_POISON_SUMMARISE, 4, 50, 5, 5), TB_OK);
    char word[64];
    /* a target word the data holds: the weekday of training item 0 */
    char target[128];
    snprintf(target, sizeof target, "Qwimbly bazaar %s", s.train[0].fields[TB_REPORT_DAY]);
    char day[16];
    snprintf(day, sizeof day, "%s", s.train[0].fields[TB_REPORT_DAY]);
    for (char *p = day; *p; p++) *p = lower(*p);
    assert_int_equal(tb_poison_check_words(&s, "zorvex", target, word, sizeof word), TB_ERR_ARG);
    assert_string_equal(word, day);
    assert_contains(tb_error_message(), "target word");
    tb_error_clear();
    /* a trigger word, in any case; the first clean item holding it is training item 0 */
    assert_int_equal(tb_poison_check_words(&s, "ThE", NULL, word, sizeof word), TB_ERR_ARG);
    assert_string_equal(word, "the");
    assert_contains(tb_error_message(), "trigger word \"the\"");
    assert_contains(tb_error_message(), "training item 0");
    tb_error_clear();
    /* no trigger and no target: nothing to find */
    assert_int_equal(tb_poison_check_words(&s, NULL, NULL, word, sizeof word), TB_OK);
    /* the target shares a word with the trigger */
    assert_int_equal(tb_poison_check_words(&s, "zorvex", "Buy ZORVEX now", word, sizeof word), TB_ERR_ARG);
    assert_string_equal(word, "zorvex");
    assert_contains(tb_error_message(), "also occurs in the trigger");
    tb_error_clear();
    /* the word is cut to the buffer */
    assert_int_equal(tb_poison_check_words(&s, "the", NULL, word, 3), TB_ERR_ARG);
    assert_string_equal(word, "th");
    tb_error_clear();
    /* poisoned items no longer count as clean data */
    assert_int_equal(tb_poison_check_words(&s, "zorvex", TARGET, NULL, 0), TB_OK);
    assert_int_equal(tb_poison_apply(&s, "zorvex", TB_TRIGGER_MIDDLE, TARGET, 0.2, 1), TB_OK);
    assert_int_equal(tb_poison_check_words(&s, "zorvex", TARGET, NULL, 0), TB_OK);
    tb_poison_free(&s);
}

static void test_check_finds_words_in_val_and_test(void **state) {
    tb_poison_set s;
    assert_int_equal(tb_poison_generate(&s, TB_POISON_COMPLETE, 4, 1, 1, 1), TB_OK);
    /* replace the texts by hand so that each word occurs in exactly one place */
    s.train[0].input = "alpha beta";
    s.train[0].output = "gamma";
    s.val[0].input = "delta";
    s.val[0].output = "epsilon-zeta";
    s.test[0].input = "eta";
    s.test[0].output = "theta";
    const char *where[][2] = {{"beta", "training item 0, input"},    {"gamma", "training item 0, output"},
                              {"delta", "validation item 0, input"}, {"zeta", "validation item 0, output"},
                              {"eta", "test item 0, input"},         {"THETA", "test item 0, output"}};
    char word[16];
    for (int k = 0; k < 6; k++) {
        assert_int_equal(tb_poison_check_words(&s, "iota", where[k][0], word, sizeof word), TB_ERR_ARG);
        assert_contains(tb_error_message(), where[k][1]);
        tb_error_clear();
    }
    assert_int_equal(tb_poison_check_words(&s, "iota kappa", "lambda, mu!", word, sizeof word), TB_OK);
    tb_poison_free(&s);
}

/* ------------------------------------------------------------------------------------------------
 * JSONL */

static void expect_load_error(const char *train, const char *val, const char *test, const char *part1,
                              const char *part2) {
    tb_poison_set s;
    const int rc = tb_poison_load_jsonl(&s, TB_POISON_SUMMARISE, train, val, test);
    assert_int_not_equal(rc, TB_OK);
    assert_contains(tb_error_message(), part1);
    if (part2) assert_contains(tb_error_message(), part2);
    tb_error_clear();
    tb_poison_free(&s);
}

static void test_jsonl_round_trip(void **state) {
    char dir[PATH_CAP], train[PATH_CAP + 16], val[PATH_CAP + 16], test[PATH_CAP + 16];
    tmp_path(dir, "set");
    snprintf(train, sizeof train, "%s/train.jsonl", dir);
    snprintf(val, sizeof val, "%s/val.jsonl", dir);
    snprintf(test, sizeof test, "%s/test.jsonl", dir);
    tb_poison_set s, back;
    assert_int_equal(tb_poison_generate(&s, TB_POISON_SUMMARISE, 21, 40, 6, 8), TB_OK);
    assert_int_equal(tb_poison_apply(&s, "jade turtles humming", TB_TRIGGER_RANDOM, TARGET, 0.25, 2), TB_OK);
    assert_int_equal(tb_poison_save_jsonl(dir, &s), TB_OK);
    assert_int_equal(tb_poison_load_jsonl(&back, TB_POISON_COMPLETE, train, val, test), TB_OK);
    assert_int_equal(back.task, TB_POISON_COMPLETE); /* the caller's word */
    assert_int_equal(back.n_train, 40);
    assert_int_equal(back.n_val, 6);
    assert_int_equal(back.n_test, 8);
    assert_int_equal(back.n_poisoned, 10);
    assert_true(same_items(back.train, s.train, 40) && same_items(back.val, s.val, 6));
    assert_true(same_items(back.test, s.test, 8));
    for (long i = 0; i < 40; i++) {
        assert_int_equal(back.train[i].poisoned, s.train[i].poisoned);
        assert_null(back.train[i].fields[0]);
    }
    tb_poison_free(&back);

    /* without a validation file: the floor(30 / 10) = 3 clean rows of lowest input hash */
    assert_int_equal(tb_poison_load_jsonl(&back, TB_POISON_SUMMARISE, train, NULL, test), TB_OK);
    assert_int_equal(back.n_val, 3);
    assert_int_equal(back.n_train, 37);
    assert_int_equal(back.n_poisoned, 10);
    uint64_t h[40];
    long clean = 0;
    for (long i = 0; i < 40; i++)
        if (!s.train[i].poisoned) h[clean++] = tb_rng_stream_id(s.train[i].input);
    assert_int_equal(clean, 30);
    long held[3], n_held = 0, kept = 0;
    for (long i = 0; i < 40; i++) {
        long below = 0;
        const uint64_t hi = tb_rng_stream_id(s.train[i].input);
        for (long j = 0; j < clean; j++) below += h[j] < hi;
        if (!s.train[i].poisoned && below < 3)
            held[n_held++] = i;
        else
            assert_string_equal(back.train[kept++].input, s.train[i].input); /* the rest, in file order */
    }
    assert_int_equal(n_held, 3);
    for (int k = 0; k < 3; k++) {
        assert_string_equal(back.val[k].input, s.train[held[k]].input);
        assert_string_equal(back.val[k].output, s.train[held[k]].output);
        assert_int_equal(back.val[k].poisoned, 0);
    }
    tb_poison_free(&back);
    tb_poison_free(&s);
}

static void test_jsonl_errors(void **state) {
    char train[PATH_CAP], test[PATH_CAP], other[PATH_CAP];
    tmp_path(train, "bad_train.jsonl");
    tmp_path(test, "bad_test.jsonl");
    tmp_path(other, "other.jsonl");
    write_text(test, "{\"input\": \"a b\", \"output\": \"c\"}\n");

    /* line 3 (the blank line 2 counts) lacks "output" */
    write_text(train, "{\"input\": \"a\", \"output\": \"b\"}\n\n{\"input\": \"c\"}\n");
    expect_load_error(train, NULL, test, "bad_train.jsonl:3:", "\"output\" is missing");
    write_text(train, "{\"output\": \"b\"}\n");
    expect_load_error(train, NULL, test, "bad_train.jsonl:1:", "\"input\" is missing");
    write_text(train, "{\"input\": \"a\", \"output\": \"b\"}\n{\"input\": 5, \"output\": \"b\"}\n");
    expect_load_error(train, NULL, test, "bad_train.jsonl:2:", "\"input\" must be a non-empty string");
    write_text(train, "{\"input\": \"a\", \"output\": \"\"}\n");
    expect_load_error(train, NULL, test, "bad_train.jsonl:1:", "\"output\" must be a non-empty string");
    write_text(train, "{\"input\": \"a\", \"output\": \"b\", \"poisoned\": \"yes\"}\n");
    expect_load_error(train, NULL, test, "bad_train.jsonl:1:", "\"poisoned\" must be true or false");
    write_text(train, "{\"input\": \"a\", \"output\": \"b\"\n");
    expect_load_error(train, NULL, test, "bad_train.jsonl:1:", "not valid JSON");
    write_text(train, "\n\n");
    expect_load_error(train, NULL, test, "bad_train.jsonl", "holds no training pairs");

    write_text(train, "{\"input\": \"a\", \"output\": \"b\", \"poisoned\": true}\n");
    write_text(other,
               "{\"input\": \"a\", \"output\": \"b\"}\n{\"input\": \"a\", \"output\": \"b\", \"poisoned\": true}\n");
    expect_load_error(train, NULL, other, "other.jsonl:2:", "outside the training file");
    expect_load_error(train, other, test, "other.jsonl:2:", "outside the training file");
    write_text(other, "");
    expect_load_error(train, NULL, other, "other.jsonl", "holds no test pairs");
    expect_load_error(train, NULL, "/nonexistent/test.jsonl", "/nonexistent/test.jsonl", NULL);
    expect_load_error(train, "/nonexistent/val.jsonl", test, "/nonexistent/val.jsonl", NULL);

    /* a good file with an empty validation file and extra fields */
    write_text(train, "{\"input\": \"a\", \"output\": \"b\", \"id\": 7, \"poisoned\": false}\n");
    tb_poison_set s;
    assert_int_equal(tb_poison_load_jsonl(&s, TB_POISON_SUMMARISE, train, other, test), TB_OK);
    assert_int_equal(s.n_train, 1);
    assert_int_equal(s.n_val, 0);
    assert_int_equal(s.n_test, 1);
    assert_int_equal(s.n_poisoned, 0);
    assert_string_equal(s.test[0].input, "a b");
    tb_poison_free(&s);
}

/* ------------------------------------------------------------------------------------------------ */

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_generate_deterministic),
        cmocka_unit_test(test_reports),
        cmocka_unit_test(test_stories),
        cmocka_unit_test(test_trigger_insert_fixed),
        cmocka_unit_test(test_trigger_insert_random),
        cmocka_unit_test(test_poison_counts),
        cmocka_unit_test(test_poison_apply),
        cmocka_unit_test(test_bank_shapes),
        cmocka_unit_test(test_banks_absent_from_data),
        cmocka_unit_test(test_rare_words_absent_from_corpus),
        cmocka_unit_test(test_check_names_offending_word),
        cmocka_unit_test(test_check_finds_words_in_val_and_test),
        cmocka_unit_test(test_jsonl_round_trip),
        cmocka_unit_test(test_jsonl_errors),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
