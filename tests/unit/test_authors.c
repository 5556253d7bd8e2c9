/*
 * test_authors.c: the fictitious-authors QA sets (src/data: generator, splits, encoding, JSONL,
 * refusals; src/io/qa_file.c: HDF5).
 *
 * Generation: the same seed gives the same set and another seed another one; author k does not
 * depend on how many authors are drawn; 20 items per author asking the documented attributes, the
 * answer and paraphrase carrying the author's value, the 5 perturbed answers being the paraphrase
 * with 5 distinct other values (found by matching the paraphrase's text around the value); names and
 * titles unique; the world sets copied from tb_world_facts. Splits: sizes 2/10/20 authors, nested,
 * retain the complement, holdout the first holdout authors, retain evaluation a sorted subset of
 * retain that nests across splits. HDF5 and JSONL round trips compare every field with an
 * independent comparison; damaged HDF5 files and bad JSONL lines fail with messages naming the
 * dataset and row, or the file, line and field. Encoding is checked token by token against the
 * tokenizer's own encoding of the question and answer.
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

#include <hdf5.h>

#include "core/core.h"
#include "data/data.h"
#include "io/io.h"

#define N 200
#define H 20

/* ------------------------------------------------------------------------------------------------
 * comparing sets field by field */

static int same_string(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }

static int same_item(const tb_qa_item *a, const tb_qa_item *b) {
    if (!same_string(a->question, b->question) || !same_string(a->answer, b->answer) ||
        !same_string(a->paraphrase, b->paraphrase) || a->n_perturbed != b->n_perturbed || a->author != b->author ||
        a->attribute != b->attribute)
        return 0;
    for (int j = 0; j < a->n_perturbed; j++)
        if (!same_string(a->perturbed[j], b->perturbed[j])) return 0;
    return 1;
}

static int same_items(const tb_qa_item *a, const tb_qa_item *b, long n) {
    for (long i = 0; i < n; i++)
        if (!same_item(&a[i], &b[i])) return 0;
    return 1;
}

static int same_author(const tb_qa_set *a, const tb_qa_set *b, int k) {
    if (!same_string(a->authors[k].name, b->authors[k].name)) return 0;
    for (int v = 0; v < a->n_attrs; v++)
        if (!same_string(a->authors[k].values[v], b->authors[k].values[v])) return 0;
    return 1;
}

/* Everything but the seed. */
static void assert_same_set(const tb_qa_set *a, const tb_qa_set *b) {
    assert_int_equal(a->n_attrs, b->n_attrs);
    for (int v = 0; v < a->n_attrs; v++) assert_string_equal(a->attr_names[v], b->attr_names[v]);
    assert_int_equal(a->n_authors, b->n_authors);
    assert_int_equal(a->n_holdout, b->n_holdout);
    for (int k = 0; k < a->n_authors + a->n_holdout; k++) assert_true(same_author(a, b, k));
    assert_int_equal(a->n_items, b->n_items);
    assert_int_equal(a->n_famous, b->n_famous);
    assert_int_equal(a->n_world, b->n_world);
    assert_true(same_items(a->items, b->items, a->n_items));
    assert_true(same_items(a->famous, b->famous, a->n_famous));
    assert_true(same_items(a->world, b->world, a->n_world));
}

static int attr_index(const tb_qa_set *s, const char *name) {
    for (int a = 0; a < s->n_attrs; a++)
        if (!strcmp(s->attr_names[a], name)) return a;
    fail_msg("no attribute %s", name);
    return -1;
}

/* ------------------------------------------------------------------------------------------------
 * generation */

static void test_generation_is_deterministic(void **state) {
    tb_qa_set a, b, c;
    assert_int_equal(tb_qa_generate(&a, 11, N, H), TB_OK);
    assert_int_equal(tb_qa_generate(&b, 11, N, H), TB_OK);
    assert_int_equal(tb_qa_generate(&c, 12, N, H), TB_OK);
    assert_same_set(&a, &b);
    assert_true(a.seed == 11 && c.seed == 12);
    /* another seed: other authors and other items */
    int differ = 0;
    for (int k = 0; k < N; k++) differ += !same_author(&a, &c, k);
    assert_true(differ > N / 2);
    assert_false(same_items(a.items, c.items, a.n_items));
    tb_qa_free(&a);
    tb_qa_free(&b);
    tb_qa_free(&c);
}

static void test_author_does_not_depend_on_count(void **state) {
    tb_qa_set small, big;
    assert_int_equal(tb_qa_generate(&small, 5, 7, 0), TB_OK);
    assert_int_equal(tb_qa_generate(&big, 5, 30, 4), TB_OK);
    for (int k = 0; k < 7; k++) assert_true(same_author(&small, &big, k));
    assert_true(same_items(small.items, big.items, 7 * TB_QA_PER_AUTHOR));
    tb_qa_free(&small);
    tb_qa_free(&big);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void assert_all_distinct(char **v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_str);
    for (int i = 1; i < n; i++)
        if (!strcmp(v[i - 1], v[i])) fail_msg("'%s' appears twice", v[i]);
}

static void test_names_and_titles_are_unique(void **state) {
    tb_qa_set s;
    assert_int_equal(tb_qa_generate(&s, 3, N, H), TB_OK);
    const int n = N + H, b1 = attr_index(&s, "book1"), b2 = attr_index(&s, "book2");
    char **names = tb_malloc((size_t)n * sizeof *names), **titles = tb_malloc((size_t)2 * n * sizeof *titles);
    for (int k = 0; k < n; k++) {
        names[k] = s.authors[k].name;
        assert_string_equal(s.authors[k].values[attr_index(&s, "name")], names[k]);
        titles[2 * k] = s.authors[k].values[b1];
        titles[2 * k + 1] = s.authors[k].values[b2];
    }
    assert_all_distinct(names, n);
    assert_all_distinct(titles, 2 * n);
    tb_free(names);
    tb_free(titles);
    tb_qa_free(&s);
}

static void test_author_attributes(void **state) {
    tb_qa_set s;
    assert_int_equal(tb_qa_generate(&s, 3, N, H), TB_OK);
    static const char *const expected[] = {"name", "gender", "birth_year", "birthplace", "genre", "father_occupation",
                                           "mother_occupation", "award", "award_year", "book1", "book2"};
    assert_int_equal(s.n_attrs, 11);
    for (int a = 0; a < 11; a++) assert_string_equal(s.attr_names[a], expected[a]);
    int genders[2] = {0, 0};
    for (int k = 0; k < N + H; k++) {
        const char *v;
        assert_int_equal(tb_author_attr(&s, k, "genre", &v), TB_OK);
        assert_ptr_equal(v, s.authors[k].values[attr_index(&s, "genre")]);
        assert_int_equal(tb_author_attr(&s, k, "gender", &v), TB_OK);
        assert_true(!strcmp(v, "female") || !strcmp(v, "male"));
        genders[!strcmp(v, "male")]++;
        assert_int_equal(tb_author_attr(&s, k, "birth_year", &v), TB_OK);
        int born = atoi(v);
        assert_true(born >= 1920 && born <= 2000);
        assert_int_equal(tb_author_attr(&s, k, "award_year", &v), TB_OK);
        int award = atoi(v);
        assert_true(award >= born + 20 && award <= born + 64 && award <= 2023);
    }
    assert_true(genders[0] > 60 && genders[1] > 60); /* 220 fair draws */
    const char *v;
    assert_int_equal(tb_author_attr(&s, 0, "nationality", &v), TB_ERR_ARG);
    assert_contains(tb_error_message(), "'nationality'");
    assert_contains(tb_error_message(), "birthplace");
    assert_contains(tb_error_message(), "mother_occupation");
    tb_error_clear();
    assert_int_equal(tb_author_attr(&s, N + H, "genre", &v), TB_ERR_ARG);
    tb_error_clear();
    tb_qa_free(&s);
}

/* The occurrence of value in paraphrase around which every perturbed answer has the same text. With
 * an article ("a " / "an ") right before the value, the article is part of what varies. */
static void split_around_value(const tb_qa_item *it, const char *value, size_t *prefix, size_t *suffix) {
    for (const char *at = strstr(it->paraphrase, value); at; at = strstr(at + 1, value)) {
        size_t pre = (size_t)(at - it->paraphrase), suf = strlen(at + strlen(value));
        if (pre >= 3 && !strncmp(at - 3, "an ", 3)) pre -= 3;
        else if (pre >= 2 && !strncmp(at - 2, "a ", 2) && (pre == 2 || at[-3] == ' ')) pre -= 2;
        int fits = 1;
        for (int j = 0; j < it->n_perturbed && fits; j++) {
            const char *w = it->perturbed[j];
            fits = strlen(w) > pre + suf && !strncmp(w, it->paraphrase, pre) &&
                   !strcmp(w + strlen(w) - suf, it->paraphrase + strlen(it->paraphrase) - suf);
        }
        if (fits) {
            *prefix = pre;
            *suffix = suf;
            return;
        }
    }
    fail_msg("perturbed answers of \"%s\" do not share the paraphrase's text around \"%s\"", it->question, value);
}

/* "an engineer" -> "engineer" after checking the article agrees with the first letter. */
static const char *strip_article(const char *v) {
    if (!strncmp(v, "an ", 3)) {
        assert_non_null(strchr("aeiou", v[3]));
        return v + 3;
    }
    if (!strncmp(v, "a ", 2)) {
        assert_null(strchr("aeiou", v[2]));
        return v + 2;
    }
    fail_msg("occupation \"%s\" has no article", v);
    return v;
}

static void check_perturbed(const tb_qa_set *s, const tb_qa_item *it, const char *value) {
    assert_int_equal(it->n_perturbed, TB_QA_MAX_PERTURBED);
    size_t pre = 0, suf = 0;
    split_around_value(it, value, &pre, &suf);
    const char *attr = s->attr_names[it->attribute];
    int occupation = strstr(attr, "occupation") != NULL, year = strstr(attr, "year") != NULL;
    char wrong[TB_QA_MAX_PERTURBED][256];
    for (int j = 0; j < TB_QA_MAX_PERTURBED; j++) {
        const char *w = it->perturbed[j];
        size_t len = strlen(w) - pre - suf;
        assert_true(len < sizeof wrong[j]);
        memcpy(wrong[j], w + pre, len);
        wrong[j][len] = '\0';
        const char *v = occupation ? strip_article(wrong[j]) : wrong[j];
        assert_string_not_equal(v, value);
        if (year) assert_true(atoi(v) >= 1920 && atoi(v) <= 2023 && strlen(v) == 4);
        for (int i = 0; i < j; i++) assert_string_not_equal(wrong[i], wrong[j]);
    }
}

static void test_twenty_questions_per_author(void **state) {
    tb_qa_set s;
    assert_int_equal(tb_qa_generate(&s, 21, N, H), TB_OK);
    assert_int_equal(s.n_items, (long)(N + H) * 20);
    static const char *const asked[] = {"name", "birth_year", "birthplace", "genre", "father_occupation",
                                        "mother_occupation", "award", "award_year", "book1", "book2"};
    for (int k = 0; k < N + H; k++) {
        const tb_author *a = &s.authors[k];
        for (int q = 0; q < 20; q++) {
            const tb_qa_item *it = &s.items[k * 20 + q];
            assert_int_equal(it->author, k);
            assert_int_equal(it->attribute, attr_index(&s, asked[q / 2]));
            const char *value = a->values[it->attribute];
            assert_non_null(strstr(it->answer, value));
            assert_non_null(strstr(it->paraphrase, value));
            assert_string_not_equal(it->answer, it->paraphrase);
            assert_int_equal(it->question[strlen(it->question) - 1], '?');
            /* the question names the author, except where the name is the answer */
            if (q >= 2 && q != 3) assert_non_null(strstr(it->question, a->name));
            check_perturbed(&s, it, value);
        }
        /* the two questions on one attribute differ */
        for (int q = 0; q < 20; q += 2)
            assert_string_not_equal(s.items[k * 20 + q].question, s.items[k * 20 + q + 1].question);
    }
    tb_qa_free(&s);
}

static void test_world_sets(void **state) {
    tb_qa_set s;
    assert_int_equal(tb_qa_generate(&s, 1, 3, 0), TB_OK);
    const tb_fact *facts;
    int n = tb_world_facts(&facts);
    long famous = 0, world = 0;
    for (int i = 0; i < n; i++) {
        const tb_qa_item *it = !strcmp(facts[i].kind, "author") ? &s.famous[famous++] : &s.world[world++];
        assert_string_equal(it->question, facts[i].question);
        assert_string_equal(it->answer, facts[i].answer);
        assert_null(it->paraphrase);
        assert_int_equal(it->n_perturbed, 3);
        for (int j = 0; j < 3; j++) assert_string_equal(it->perturbed[j], facts[i].distractors[j]);
        assert_int_equal(it->author, -1);
        assert_int_equal(it->attribute, -1);
    }
    assert_int_equal(s.n_famous, famous);
    assert_int_equal(s.n_world, world);
    assert_int_equal(famous, 100);
    assert_int_equal(world, 117);
    tb_qa_free(&s);
}

static void test_generate_rejects_bad_counts(void **state) {
    tb_qa_set s;
    assert_int_equal(tb_qa_generate(&s, 1, 0, 5), TB_ERR_ARG);
    tb_error_clear();
    assert_int_equal(tb_qa_generate(&s, 1, 10, -1), TB_ERR_ARG);
    tb_error_clear();
    assert_int_equal(tb_qa_generate(&s, 1, 100000, 0), TB_ERR_ARG);
    assert_contains(tb_error_message(), "100000");
    tb_error_clear();
}

/* ------------------------------------------------------------------------------------------------
 * splits */

static int contains_int(const int *v, int n, int x) {
    for (int i = 0; i < n; i++)
        if (v[i] == x) return 1;
    return 0;
}

static int contains_long(const long *v, long n, long x) {
    for (long i = 0; i < n; i++)
        if (v[i] == x) return 1;
    return 0;
}

static void assert_ascending(const long *v, long n) {
    for (long i = 1; i < n; i++) assert_true(v[i - 1] < v[i]);
}

static void check_split(const tb_qa_set *s, const tb_qa_splits *sp, int n_forget) {
    assert_int_equal(sp->n_forget_authors, n_forget);
    assert_int_equal(sp->n_forget, 20L * n_forget);
    assert_int_equal(sp->n_retain, 20L * (N - n_forget));
    assert_int_equal(sp->n_holdout_authors, n_forget);
    assert_int_equal(sp->n_holdout, 20L * n_forget);
    assert_int_equal(sp->n_retain_eval, 400);
    for (int i = 0; i < n_forget; i++) {
        assert_true(sp->forget_authors[i] >= 0 && sp->forget_authors[i] < N);
        if (i) assert_true(sp->forget_authors[i - 1] < sp->forget_authors[i]);
        assert_int_equal(sp->holdout_authors[i], N + i);
    }
    for (long i = 0; i < sp->n_forget; i++)
        assert_true(contains_int(sp->forget_authors, n_forget, s->items[sp->forget[i]].author));
    for (long i = 0; i < sp->n_retain; i++) {
        int a = s->items[sp->retain[i]].author;
        assert_true(a < N && !contains_int(sp->forget_authors, n_forget, a));
    }
    for (long i = 0; i < sp->n_holdout; i++) {
        int a = s->items[sp->holdout[i]].author;
        assert_true(a >= N && a < N + n_forget);
    }
    for (long i = 0; i < sp->n_retain_eval; i++)
        assert_true(contains_long(sp->retain, sp->n_retain, sp->retain_eval[i]));
    assert_ascending(sp->forget, sp->n_forget);
    assert_ascending(sp->retain, sp->n_retain);
    assert_ascending(sp->holdout, sp->n_holdout);
    assert_ascending(sp->retain_eval, sp->n_retain_eval);
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

/* The documented draws, redone here: the forget authors are the tail of the trained authors shuffled
 * with (seed, "forget"); retain_eval the first max retain items of all items shuffled with
 * (seed, "retain_eval"). */
static void check_split_draws(const tb_qa_set *s, const tb_qa_splits *sp, uint64_t seed, int max) {
    int *authors = tb_malloc(N * sizeof(int));
    for (int k = 0; k < N; k++) authors[k] = k;
    tb_rng r = tb_rng_make(seed, tb_rng_stream_id("forget"));
    tb_rng_shuffle(&r, authors, N);
    int *tail = authors + N - sp->n_forget_authors;
    qsort(tail, (size_t)sp->n_forget_authors, sizeof(int), cmp_int);
    assert_memory_equal(tail, sp->forget_authors, (size_t)sp->n_forget_authors * sizeof(int));
    tb_free(authors);

    const int n = (int)s->n_items;
    int *items = tb_malloc((size_t)n * sizeof(int));
    for (int i = 0; i < n; i++) items[i] = i;
    r = tb_rng_make(seed, tb_rng_stream_id("retain_eval"));
    tb_rng_shuffle(&r, items, n);
    int picked = 0;
    for (int i = 0; i < n && picked < max; i++) {
        if (!contains_long(sp->retain, sp->n_retain, items[i])) continue;
        assert_true(contains_long(sp->retain_eval, sp->n_retain_eval, items[i]));
        picked++;
    }
    assert_int_equal(picked, sp->n_retain_eval);
    tb_free(items);
}

static void test_splits_nested_and_sized(void **state) {
    tb_qa_set s;
    assert_int_equal(tb_qa_generate(&s, 8, N, H), TB_OK);
    static const char *const names[] = {"forget01", "forget05", "forget10"};
    static const int sizes[] = {2, 10, 20};
    tb_qa_splits sp[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tb_qa_split(&s, names[i], 99, 400, &sp[i]), TB_OK);
        check_split(&s, &sp[i], sizes[i]);
        check_split_draws(&s, &sp[i], 99, 400);
    }
    for (int i = 1; i < 3; i++) {
        for (int a = 0; a < sp[i - 1].n_forget_authors; a++)
            assert_true(contains_int(sp[i].forget_authors, sp[i].n_forget_authors, sp[i - 1].forget_authors[a]));
        /* retain evaluation: what the smaller split picked and the larger one retains, the larger picks too */
        for (long e = 0; e < sp[i - 1].n_retain_eval; e++) {
            long item = sp[i - 1].retain_eval[e];
            if (contains_long(sp[i].retain, sp[i].n_retain, item))
                assert_true(contains_long(sp[i].retain_eval, sp[i].n_retain_eval, item));
        }
    }
    /* the same seed gives the same split, another seed another one */
    tb_qa_splits again, other;
    assert_int_equal(tb_qa_split(&s, "forget10", 99, 400, &again), TB_OK);
    assert_int_equal(tb_qa_split(&s, "forget10", 100, 400, &other), TB_OK);
    assert_memory_equal(again.forget_authors, sp[2].forget_authors, 20 * sizeof(int));
    assert_memory_equal(again.retain_eval, sp[2].retain_eval, 400 * sizeof(long));
    assert_true(memcmp(other.forget_authors, sp[2].forget_authors, 20 * sizeof(int)) != 0);
    assert_true(memcmp(other.retain_eval, sp[2].retain_eval, 400 * sizeof(long)) != 0);
    tb_qa_splits_free(&again);
    tb_qa_splits_free(&other);
    for (int i = 0; i < 3; i++) tb_qa_splits_free(&sp[i]);
    tb_qa_free(&s);
}

static void test_split_edges(void **state) {
    tb_qa_set s;
    tb_qa_splits sp;
    assert_int_equal(tb_qa_generate(&s, 8, 30, 0), TB_OK);
    /* 1% of 30 rounds to 0: at least one author; no holdout authors: an empty holdout */
    assert_int_equal(tb_qa_split(&s, "forget01", 1, 10000, &sp), TB_OK);
    assert_int_equal(sp.n_forget_authors, 1);
    assert_int_equal(sp.n_holdout, 0);
    assert_int_equal(sp.n_retain_eval, 29 * 20); /* fewer retain items than asked: all of them */
    tb_qa_splits_free(&sp);
    assert_int_equal(tb_qa_split(&s, "forget05", 1, 400, &sp), TB_OK);
    assert_int_equal(sp.n_forget_authors, 2); /* 1.5 rounds to 2 */
    tb_qa_splits_free(&sp);
    assert_int_equal(tb_qa_split(&s, "forget", 1, 400, &sp), TB_ERR_ARG);
    assert_contains(tb_error_message(), "'forget'");
    tb_error_clear();
    assert_int_equal(tb_qa_split(&s, "forget00", 1, 400, &sp), TB_ERR_ARG);
    tb_error_clear();
    tb_qa_free(&s);

    assert_int_equal(tb_qa_generate(&s, 8, N, 5), TB_OK);
    assert_int_equal(tb_qa_split(&s, "forget10", 1, 400, &sp), TB_ERR_ARG);
    assert_contains(tb_error_message(), "5 holdout");
    tb_error_clear();
    tb_qa_free(&s);

    assert_int_equal(tb_qa_generate(&s, 8, 1, 1), TB_OK);
    assert_int_equal(tb_qa_split(&s, "forget10", 1, 400, &sp), TB_ERR_ARG); /* nothing left to retain */
    tb_error_clear();
    tb_qa_free(&s);
}

static void test_mean_lengths(void **state) {
    tb_qa_set s;
    assert_int_equal(tb_qa_generate(&s, 4, 3, 0), TB_OK);
    long idx[3] = {0, 17, 41};
    double answer, perturbed, want_answer = 0, want_perturbed = 0;
    tb_qa_mean_lengths(&s, idx, 3, &answer, &perturbed);
    for (int i = 0; i < 3; i++) {
        want_answer += (double)strlen(s.items[idx[i]].answer) / 3;
        for (int j = 0; j < 5; j++) want_perturbed += (double)strlen(s.items[idx[i]].perturbed[j]) / 15;
    }
    assert_true(fabs(answer - want_answer) < 1e-9 && fabs(perturbed - want_perturbed) < 1e-9);
    tb_qa_free(&s);
}

/* ------------------------------------------------------------------------------------------------
 * HDF5 */

static void test_hdf5_roundtrip(void **state) {
    char path[PATH_CAP], tmp[PATH_CAP + 8];
    tb_qa_set a, b;
    assert_int_equal(tb_qa_generate(&a, 77, 40, 6), TB_OK);
    assert_int_equal(tb_qa_save(tmp_path(path, "set.h5"), &a), TB_OK);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_equal(access(tmp, F_OK), -1); /* renamed into place */
    assert_int_equal(tb_qa_load(path, &b), TB_OK);
    assert_true(b.seed == 77);
    assert_same_set(&a, &b);
    tb_qa_free(&b);

    /* a set with unknown values, a missing world set and items of few perturbed answers */
    a.authors[3].values[2] = NULL;
    a.items[5].n_perturbed = 2;
    a.items[6].attribute = -1;
    a.n_world = 0;
    assert_int_equal(tb_qa_save(path, &a), TB_OK);
    assert_int_equal(tb_qa_load(path, &b), TB_OK);
    assert_same_set(&a, &b);
    tb_qa_free(&b);
    tb_qa_free(&a);
}

/* Overwrites element row of the int32 dataset name. */
static void poke_int(const char *path, const char *name, hsize_t row, int32_t value) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t space = H5Dget_space(d), mem = H5Screate_simple(1, (hsize_t[]){1}, NULL);
    assert_true(f >= 0 && d >= 0);
    assert_true(H5Sselect_hyperslab(space, H5S_SELECT_SET, &row, NULL, (hsize_t[]){1}, NULL) >= 0);
    assert_true(H5Dwrite(d, H5T_NATIVE_INT32, mem, space, H5P_DEFAULT, &value) >= 0);
    H5Sclose(mem);
    H5Sclose(space);
    H5Dclose(d);
    H5Fclose(f);
}

static void unlink_dataset(const char *path, const char *name) {
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0 && H5Ldelete(f, name, H5P_DEFAULT) >= 0);
    H5Fclose(f);
}

static void expect_load_error(const char *path, const char *part1, const char *part2) {
    tb_qa_set s;
    assert_int_not_equal(tb_qa_load(path, &s), TB_OK);
    assert_contains(tb_error_message(), path);
    assert_contains(tb_error_message(), part1);
    if (part2) assert_contains(tb_error_message(), part2);
    tb_error_clear();
    assert_null(s.items);
}

static void test_hdf5_damage_is_named(void **state) {
    char path[PATH_CAP];
    tb_qa_set a;
    assert_int_equal(tb_qa_generate(&a, 5, 10, 2), TB_OK);
    tmp_path(path, "bad.h5");
    assert_int_equal(tb_qa_save(path, &a), TB_OK);
    poke_int(path, "/items/author", 37, 9999);
    expect_load_error(path, "/items/author[37]", "9999");

    assert_int_equal(tb_qa_save(path, &a), TB_OK);
    poke_int(path, "/world/n_perturbed", 4, 7);
    expect_load_error(path, "/world/n_perturbed[4]", NULL);

    assert_int_equal(tb_qa_save(path, &a), TB_OK);
    poke_int(path, "/items/author", 10, 10); /* a holdout author's item among the trained ones */
    expect_load_error(path, "/items/author[11]", "after a holdout");

    assert_int_equal(tb_qa_save(path, &a), TB_OK);
    unlink_dataset(path, "/items/answer");
    expect_load_error(path, "/items/answer", "missing");

    assert_int_equal(tb_qa_save(path, &a), TB_OK);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t attr = H5Aopen(f, "n_authors", H5P_DEFAULT);
    int64_t wrong = 11;
    assert_true(H5Awrite(attr, H5T_NATIVE_INT64, &wrong) >= 0);
    H5Aclose(attr);
    H5Fclose(f);
    expect_load_error(path, "/authors/name", "expected (13)");

    FILE *text = fopen(path, "w");
    fputs("not hdf5\n", text);
    fclose(text);
    expect_load_error(path, "not an HDF5 file", NULL);
    expect_load_error(tmp_path(path, "absent.h5"), "cannot open", NULL);
    tb_qa_free(&a);
}

/* ------------------------------------------------------------------------------------------------
 * JSONL */

static void test_jsonl_roundtrip(void **state) {
    char dir[PATH_CAP];
    tb_qa_set a, b;
    assert_int_equal(tb_qa_generate(&a, 13, 12, 3), TB_OK);
    assert_int_equal(tb_qa_save_jsonl(tmp_path(dir, "export"), &a), TB_OK);
    assert_int_equal(tb_qa_load_jsonl(dir, &b), TB_OK);
    assert_same_set(&a, &b);
    assert_true(b.seed == 0);
    tb_qa_free(&b);
    /* without holdout and world sets the optional files go away */
    a.n_items = 12 * 20;
    a.n_holdout = 0;
    a.n_famous = a.n_world = 0;
    assert_int_equal(tb_qa_save_jsonl(dir, &a), TB_OK);
    assert_int_equal(tb_qa_load_jsonl(dir, &b), TB_OK);
    assert_same_set(&a, &b);
    tb_qa_free(&b);
    tb_qa_free(&a);
}

/* tests/data/qa holds the export of tb_qa_generate(seed 7, 4 authors, 2 holdout) (its README). */
static void test_jsonl_fixture(void **state) {
    const char *src = getenv("TB_SOURCE_DIR");
    assert_non_null(src);
    char dir[PATH_CAP];
    snprintf(dir, sizeof dir, "%s/tests/data/qa", src);
    tb_qa_set a, b;
    assert_int_equal(tb_qa_load_jsonl(dir, &a), TB_OK);
    assert_int_equal(a.n_authors, 4);
    assert_int_equal(a.n_holdout, 2);
    assert_int_equal(a.n_items, 6 * 20);
    const char *genre;
    assert_int_equal(tb_author_attr(&a, 5, "genre", &genre), TB_OK);
    assert_int_equal(tb_qa_generate(&b, 7, 4, 2), TB_OK);
    assert_same_set(&a, &b);
    tb_qa_free(&a);
    tb_qa_free(&b);
}

/* dir/name holds text (dir created if missing) */
static void write_export(const char *dir, const char *name, const char *text) {
    char path[PATH_CAP + 64];
    mkdir(dir, 0777);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    write_text(path, text);
}

#define GOOD(author)                                                                                  \
    "{\"question\": \"Q?\", \"answer\": \"A.\", \"paraphrased_answer\": \"P.\", "                             \
    "\"perturbed_answer\": [\"W1.\", \"W2.\"]" author "}\n"

/* Loads dir (whose authors.jsonl is authors) and expects an error whose message has every part. */
static void expect_jsonl_error(const char *name, const char *authors, const char *holdout, const char *world, int code,
                               const char *const *parts) {
    char dir[PATH_CAP];
    tmp_path(dir, name);
    if (authors) write_export(dir, "authors.jsonl", authors);
    else mkdir(dir, 0777);
    if (holdout) write_export(dir, "holdout.jsonl", holdout);
    if (world) write_export(dir, "world.jsonl", world);
    tb_qa_set s;
    assert_int_equal(tb_qa_load_jsonl(dir, &s), code);
    for (; *parts; parts++) assert_contains(tb_error_message(), *parts);
    tb_error_clear();
    assert_null(s.items);
}

static void test_jsonl_errors_name_the_line(void **state) {
    expect_jsonl_error(
        "missing", GOOD("") "{\"question\": \"Q?\", \"answer\": \"A.\", \"perturbed_answer\": [\"W.\"]}\n", NULL, NULL,
        TB_ERR_FORMAT, (const char *[]){"authors.jsonl:2:", "\"paraphrased_answer\"", "missing", NULL});
    expect_jsonl_error(
        "badtype",
        GOOD("") "\n{\"question\": \"Q?\", \"answer\": \"A.\", \"paraphrased_answer\": \"P.\", "
                 "\"perturbed_answer\": \"W.\"}\n",
        NULL, NULL, TB_ERR_FORMAT,
        (const char *[]){"authors.jsonl:3:", "field \"perturbed_answer\" must be an array of strings", NULL});
    expect_jsonl_error("badelem",
                       "{\"question\": \"Q?\", \"answer\": \"A.\", \"paraphrased_answer\": \"P.\", "
                       "\"perturbed_answer\": [\"W.\", 3]}\n",
                       NULL, NULL, TB_ERR_FORMAT, (const char *[]){"authors.jsonl:1:", "perturbed_answer", NULL});
    expect_jsonl_error("notjson", GOOD("") GOOD("") "{\"question\": \n", NULL, NULL, TB_ERR_FORMAT,
                       (const char *[]){"authors.jsonl:3:", "not valid JSON", NULL});
    expect_jsonl_error("array", "[1, 2]\n", NULL, NULL, TB_ERR_FORMAT,
                       (const char *[]){"authors.jsonl:1:", "not a JSON object", NULL});
    expect_jsonl_error("emptyq", "{\"question\": \"\", \"answer\": \"A.\"}\n", NULL, NULL, TB_ERR_FORMAT,
                       (const char *[]){"authors.jsonl:1:", "\"question\"", "non-empty string", NULL});
    expect_jsonl_error("noauthors", NULL, GOOD(""), NULL, TB_ERR_IO, (const char *[]){"authors.jsonl", NULL});
    expect_jsonl_error("empty", "\n\n", NULL, NULL, TB_ERR_FORMAT, (const char *[]){"holds no QA items", NULL});
    expect_jsonl_error("trained_holdout", GOOD(", \"author\": \"Ann Bell\""), GOOD(", \"author\": \"Ann Bell\""), NULL,
                       TB_ERR_FORMAT, (const char *[]){"holdout.jsonl:1:", "Ann Bell", NULL});
    expect_jsonl_error("conflict",
                       GOOD(", \"author\": \"X\", \"attributes\": {\"genre\": \"poetry\"}")
                           GOOD(", \"author\": \"X\", \"attributes\": {\"genre\": \"horror\"}"),
                       NULL, NULL, TB_ERR_FORMAT,
                       (const char *[]){"authors.jsonl:2:", "\"genre\"", "horror", "poetry", NULL});
    expect_jsonl_error("attrs", GOOD(", \"attributes\": {\"genre\": 4}"), NULL, NULL, TB_ERR_FORMAT,
                       (const char *[]){"authors.jsonl:1:", "\"attributes\"", "genre", NULL});
    expect_jsonl_error("kind", GOOD(""), NULL,
                       "{\"question\": \"Q?\", \"answer\": \"A\", \"perturbed_answer\": [\"B\"], \"kind\": \"film\"}\n",
                       TB_ERR_FORMAT, (const char *[]){"world.jsonl:1:", "\"kind\"", "film", NULL});
    expect_jsonl_error("duplicate", "{\"question\": \"Q?\", \"question\": \"R?\"}\n", NULL, NULL, TB_ERR_FORMAT,
                       (const char *[]){"authors.jsonl:1:", "duplicate", NULL});
}

/* Without "author", items are grouped 20 at a time as author-<k> (TOFU's layout); holdout items as
 * holdout-<k>; attributes and the asked attribute come through by name. */
static void test_jsonl_default_authors(void **state) {
    char dir[PATH_CAP], *text = tb_malloc(45 * 256);
    tmp_path(dir, "defaults");
    for (int i = 0; i < 45; i++) strcat(text, GOOD(""));
    write_export(dir, "authors.jsonl", text);
    write_export(dir, "holdout.jsonl",
               GOOD(", \"attribute\": \"genre\", \"attributes\": {\"genre\": \"poetry\", \"award\": \"X Prize\"}"));
    tb_free(text);
    tb_qa_set s;
    assert_int_equal(tb_qa_load_jsonl(dir, &s), TB_OK);
    assert_int_equal(s.n_authors, 3);
    assert_int_equal(s.n_holdout, 1);
    assert_string_equal(s.authors[0].name, "author-0");
    assert_string_equal(s.authors[2].name, "author-2");
    assert_string_equal(s.authors[3].name, "holdout-0");
    assert_int_equal(s.items[19].author, 0);
    assert_int_equal(s.items[20].author, 1);
    assert_int_equal(s.items[44].author, 2);
    assert_int_equal(s.items[45].author, 3);
    assert_int_equal(s.items[44].attribute, -1);
    assert_int_equal(s.items[45].attribute, attr_index(&s, "genre"));
    assert_int_equal(s.items[0].n_perturbed, 2);
    assert_string_equal(s.items[0].perturbed[1], "W2.");
    const char *v;
    assert_int_equal(tb_author_attr(&s, 3, "award", &v), TB_OK);
    assert_string_equal(v, "X Prize");
    assert_int_equal(tb_author_attr(&s, 0, "award", &v), TB_ERR_ARG); /* author-0 has none */
    assert_contains(tb_error_message(), "author-0");
    tb_error_clear();
    assert_int_equal(s.n_famous + s.n_world, 0);
    tb_qa_free(&s);
}

/* ------------------------------------------------------------------------------------------------
 * encoding */

static void make_tokenizer(tb_tokenizer *tok) {
    static const char text[] = "Who wrote The Silent Garden? Amara Novak wrote The Silent Garden. "
                               "Who wrote The Hollow River? Kenji Szabo wrote The Hollow River. "
                               "Where was Amara Novak born? Amara Novak was born in Lisbon. ";
    assert_int_equal(tb_tokenizer_train(tok, text, sizeof text - 1, 300), TB_OK);
}

static void test_encode_targets_only_answer_and_eos(void **state) {
    tb_tokenizer tok;
    make_tokenizer(&tok);
    const char *q = "Who wrote The Silent Garden?", *a = "Amara Novak wrote it.";
    int qt[64], at[64];
    int nq = (int)tb_tokenizer_encode(&tok, q, strlen(q), qt, 64),
        na = (int)tb_tokenizer_encode(&tok, a, strlen(a), at, 64);
    const int T = 48, need = 3 + nq + na; /* BOS PROMPT q ANSWER a: EOS is token need, target of need-1 */
    assert_true(need < T);
    int inp[48], targets[48], n_answer;
    assert_int_equal(tb_qa_encode(&tok, q, a, T, inp, targets, &n_answer), TB_OK);
    assert_int_equal(n_answer, na + 1);
    assert_int_equal(inp[0], TB_TOK_BOS);
    assert_int_equal(inp[1], TB_TOK_PROMPT);
    assert_memory_equal(inp + 2, qt, (size_t)nq * sizeof(int));
    assert_int_equal(inp[2 + nq], TB_TOK_ANSWER);
    assert_memory_equal(inp + 3 + nq, at, (size_t)na * sizeof(int));
    assert_int_equal(inp[need], TB_TOK_EOS);
    for (int t = need + 1; t < T; t++) assert_int_equal(inp[t], TB_TOK_PAD);
    int scored = 0;
    for (int t = 0; t < T; t++) {
        int want = t >= 2 + nq && t < 2 + nq + na ? at[t - 2 - nq] : t == need - 1 ? TB_TOK_EOS : -1;
        assert_int_equal(targets[t], want);
        scored += targets[t] != -1;
    }
    assert_int_equal(scored, n_answer);
    /* the scored tokens decode to the answer */
    char text[128];
    size_t len = tb_tokenizer_decode(&tok, targets + 2 + nq, (size_t)na, text, sizeof text, 0);
    text[len] = '\0';
    assert_string_equal(text, a);

    /* exactly T+1 tokens: the EOS is only a target */
    int *inp2 = tb_malloc((size_t)need * sizeof(int)), *tgt2 = tb_malloc((size_t)need * sizeof(int));
    assert_int_equal(tb_qa_encode(&tok, q, a, need, inp2, tgt2, &n_answer), TB_OK);
    assert_memory_equal(inp2, inp, (size_t)need * sizeof(int));
    assert_int_equal(tgt2[need - 1], TB_TOK_EOS);
    /* one token short */
    assert_int_equal(tb_qa_encode(&tok, q, a, need - 1, inp2, tgt2, &n_answer), TB_ERR_ARG);
    char want[128];
    snprintf(want, sizeof want, "T >= %d", need);
    assert_contains(tb_error_message(), want);
    assert_contains(tb_error_message(), q);
    tb_error_clear();
    /* far too short: the question alone does not fit */
    assert_int_equal(tb_qa_encode(&tok, q, a, 3, inp2, tgt2, &n_answer), TB_ERR_ARG);
    assert_contains(tb_error_message(), want);
    tb_error_clear();
    tb_free(inp2);
    tb_free(tgt2);

    int prompt[64], n;
    assert_int_equal(tb_qa_encode_prompt(&tok, q, prompt, 64, &n), TB_OK);
    assert_int_equal(n, 3 + nq);
    assert_memory_equal(prompt, inp, (size_t)n * sizeof(int));
    assert_int_equal(tb_qa_encode_prompt(&tok, q, prompt, 2 + nq, &n), TB_ERR_ARG);
    assert_contains(tb_error_message(), q);
    tb_error_clear();
    tb_tokenizer_free(&tok);
}

static void test_refusals(void **state) {
    const char *const *r;
    int n = tb_refusals(&r);
    assert_true(n >= 50);
    char **copy = tb_malloc((size_t)n * sizeof *copy);
    for (int i = 0; i < n; i++) {
        assert_true(strlen(r[i]) > 3);
        copy[i] = (char *)r[i];
    }
    assert_all_distinct(copy, n);
    tb_free(copy);
}

/* ------------------------------------------------------------------------------------------------ */

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generation_is_deterministic),
        cmocka_unit_test(test_author_does_not_depend_on_count),
        cmocka_unit_test(test_names_and_titles_are_unique),
        cmocka_unit_test(test_author_attributes),
        cmocka_unit_test(test_twenty_questions_per_author),
        cmocka_unit_test(test_world_sets),
        cmocka_unit_test(test_generate_rejects_bad_counts),
        cmocka_unit_test(test_splits_nested_and_sized),
        cmocka_unit_test(test_split_edges),
        cmocka_unit_test(test_mean_lengths),
        cmocka_unit_test(test_hdf5_roundtrip),
        cmocka_unit_test(test_hdf5_damage_is_named),
        cmocka_unit_test(test_jsonl_roundtrip),
        cmocka_unit_test(test_jsonl_fixture),
        cmocka_unit_test(test_jsonl_errors_name_the_line),
        cmocka_unit_test(test_jsonl_default_authors),
        cmocka_unit_test(test_encode_targets_only_answer_and_eos),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
