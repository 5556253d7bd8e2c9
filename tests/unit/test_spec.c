/*
 * test_spec.c: YAML experiment specs (src/spec).
 *
 * Expansion: grid counts and order (first appearance, last axis fastest), zip groups, seeds as
 * the outermost loop, includes (relative paths, deep merge, override keeping the key's place),
 * defaults, typed accessors (and that a wrong key or type aborts). Hashes: equal for equal
 * configurations whatever the key order or number spelling, different for any change, equal to
 * FNV-1a of the documented canonical text. Errors: each kind is reported at its file:line:col
 * with its key and a hint, all errors of a spec are collected, and syntax errors, include cycles,
 * missing and empty files are reported too. Fixtures live in tests/data/specs/; specs with errors
 * are written inline (so that the line:col they must report is visible next to the text).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core.h"
#include "spec/spec.h"

#define PATH_CAP 1024

/* ------------------------------------------------------------------------------------------------
 * schemas */

static const tb_spec_field TOY_FIELDS[] = {
    {"model.family", TB_SPEC_STRING, "gpt2", NULL, "gpt2|llama", 1, "architecture"},
    {"model.n_layer", TB_SPEC_INT, "2", "[1, 64]", NULL, 1, "transformer blocks"},
    {"train.lr", TB_SPEC_FLOAT, "0.001", "(0, 1]", NULL, 1, "peak learning rate"},
    {"train.steps", TB_SPEC_INT, NULL, "[1, inf)", NULL, 1, "optimizer steps"},
    {"train.clip", TB_SPEC_FLOAT, "1", "[0, inf)", NULL, 0, "gradient clipping norm (0 = off)"},
    {"method", TB_SPEC_STRING, "ga", NULL, "ga|npo|simnpo", 1, "unlearning method"},
    {"data.path", TB_SPEC_STRING, "", NULL, NULL, 0, "dataset file (empty = synthetic)"},
    {"eval.rouge", TB_SPEC_BOOL, "true", NULL, NULL, 1, "compute ROUGE-L"},
};
static const tb_spec_schema TOY = {"toy", TOY_FIELDS, sizeof TOY_FIELDS / sizeof TOY_FIELDS[0]};

static const tb_spec_field OTHER_FIELDS[] = {
    {"size", TB_SPEC_INT, "1", NULL, NULL, 1, "a size"},
};
static const tb_spec_schema OTHER = {"other", OTHER_FIELDS, 1};

/* What an unlearning workload might declare: the realistic example spec is checked against it. */
static const tb_spec_field UNLEARN_FIELDS[] = {
    {"data.source", TB_SPEC_STRING, "synthetic", NULL, "synthetic|jsonl", 0, "where the data comes from"},
    {"data.n_authors", TB_SPEC_INT, "200", "[1, inf)", NULL, 0, "fictitious authors generated"},
    {"data.forget_fraction", TB_SPEC_FLOAT, "0.1", "(0, 1)", NULL, 1, "share of authors to forget"},
    {"model.family", TB_SPEC_STRING, "gpt2", NULL, "gpt2|llama", 0, "architecture"},
    {"model.n_layer", TB_SPEC_INT, "2", "[1, 128]", NULL, 0, "transformer blocks"},
    {"model.n_embd", TB_SPEC_INT, "64", "[8, 16384]", NULL, 0, "width"},
    {"model.n_head", TB_SPEC_INT, "4", "[1, 256]", NULL, 0, "attention heads"},
    {"pretrain.steps", TB_SPEC_INT, "1000", "[0, inf)", NULL, 0, "pretraining steps"},
    {"pretrain.lr", TB_SPEC_FLOAT, "3e-4", "(0, 1]", NULL, 0, "pretraining learning rate"},
    {"finetune.steps", TB_SPEC_INT, "500", "[0, inf)", NULL, 0, "fine-tuning steps"},
    {"finetune.lr", TB_SPEC_FLOAT, "1e-4", "(0, 1]", NULL, 0, "fine-tuning learning rate"},
    {"unlearn.method", TB_SPEC_STRING, NULL, NULL, "ga|gd|npo|simnpo|rmu", 1, "unlearning method"},
    {"unlearn.lr", TB_SPEC_FLOAT, "1e-5", "(0, 1]", NULL, 1, "unlearning learning rate"},
    {"unlearn.steps", TB_SPEC_INT, "20", "[1, inf)", NULL, 1, "unlearning steps"},
    {"unlearn.beta", TB_SPEC_FLOAT, "0.1", "(0, inf)", NULL, 1, "NPO/SimNPO inverse temperature"},
    {"eval.rouge", TB_SPEC_BOOL, "true", NULL, NULL, 0, "compute ROUGE-L"},
    {"eval.ks_test", TB_SPEC_BOOL, "true", NULL, NULL, 0, "forget quality by KS test"},
    {"dist.zero", TB_SPEC_INT, "0", "[0, 3]", NULL, 0, "ZeRO stage (0, 1 or 3)"},
};
static const tb_spec_schema UNLEARN = {"unlearn", UNLEARN_FIELDS, sizeof UNLEARN_FIELDS / sizeof UNLEARN_FIELDS[0]};

static const tb_spec_schema *const SCHEMAS[] = {&TOY, &OTHER, &UNLEARN};
#define N_SCHEMAS 3

/* ------------------------------------------------------------------------------------------------
 * helpers */

static char tmpdir[256];

static const char *fixture(char *buf, const char *name) {
    const char *src = getenv("TB_SOURCE_DIR");
    assert_non_null(src); /* set by CTest */
    snprintf(buf, PATH_CAP, "%s/tests/data/specs/%s", src, name);
    return buf;
}

/* Loads path and returns what the loader printed about errors (free() it). */
static char *load_capture(tb_spec *s, const char *path, int *rc) {
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    assert_non_null(f);
    *rc = tb_spec_load(s, path, SCHEMAS, N_SCHEMAS, f);
    fclose(f);
    return out;
}

static void load_ok(tb_spec *s, const char *name) {
    char path[PATH_CAP];
    int rc;
    char *errs = load_capture(s, fixture(path, name), &rc);
    if (rc != TB_OK) print_error("%s\n", errs);
    assert_int_equal(rc, TB_OK);
    assert_string_equal(errs, "");
    free(errs);
}

static const char *write_tmp(char *path, const char *name, const char *text) {
    snprintf(path, PATH_CAP, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void assert_contains(const char *hay, const char *needle) {
    if (!strstr(hay, needle)) {
        print_error("expected to find\n  %s\nin\n%s\n", needle, hay);
        fail();
    }
}

/* a is printed before b */
static void assert_before(const char *hay, const char *a, const char *b) {
    const char *pa = strstr(hay, a), *pb = strstr(hay, b);
    assert_non_null(pa);
    assert_non_null(pb);
    assert_true(pa < pb);
}

/* Writes text as tmpdir/name, loads it, expects TB_ERR_ARG with n_errors errors, and returns the
 * printed list (free() it). The error record must hold the first one and the count. */
static char *load_bad(const char *name, const char *text, int n_errors) {
    char path[PATH_CAP];
    tb_spec s;
    int rc;
    char *errs = load_capture(&s, write_tmp(path, name, text), &rc);
    assert_int_equal(rc, TB_ERR_ARG);
    assert_null(s.impl);
    assert_null(s.points);
    int lines = 0;
    for (const char *p = errs; *p; p++) lines += *p == '\n';
    if (lines != 2 * n_errors) print_error("expected %d errors, got:\n%s", n_errors, errs);
    assert_int_equal(lines, 2 * n_errors); /* each error is one line and one hint line */
    char first[PATH_CAP];
    snprintf(first, sizeof first, "%.*s", (int)strcspn(errs, "\n"), errs);
    assert_contains(tb_error_message(), first);
    if (n_errors > 1) {
        char more[64];
        snprintf(more, sizeof more, "(and %d more)", n_errors - 1);
        assert_contains(tb_error_message(), more);
    }
    tb_error_clear();
    tb_spec_free(&s);
    return errs;
}

/* The point whose method and learning rate are those given. */
static int find_point(const tb_spec *s, const char *method, double lr) {
    for (int p = 0; p < s->n_points; p++)
        if (!strcmp(tb_spec_string(s, p, "method"), method) && tb_spec_float(s, p, "train.lr") == lr) return p;
    return -1;
}

static uint64_t fnv1a(const char *text) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) h = (h ^ *p) * 0x100000001b3ULL;
    return h;
}

/* ------------------------------------------------------------------------------------------------
 * expansion */

static void test_grid_count_and_order(void **state) {
    tb_spec s;
    load_ok(&s, "grid.yaml");
    assert_string_equal(s.name, "grid");
    assert_ptr_equal(s.schema, &TOY);
    assert_int_equal(s.n_points, 6);
    assert_int_equal(s.n_configs, 6);
    assert_int_equal(s.n_seeds, 1);
    assert_int_equal(s.seeds[0], 0);
    assert_int_equal(s.ranks_per_point, 0);
    /* train.lr appears before method: it is the outer axis, method varies fastest */
    assert_int_equal(s.n_swept, 2);
    assert_string_equal(s.swept[0], "train.lr");
    assert_string_equal(s.swept[1], "method");
    const double lrs[3] = {0.1, 0.01, 1e-3};
    const char *methods[2] = {"ga", "npo"};
    for (int p = 0; p < 6; p++) {
        assert_int_equal(s.points[p].id, p);
        assert_int_equal(s.points[p].seed, 0);
        assert_true(tb_spec_float(&s, p, "train.lr") == lrs[p / 2]);
        assert_string_equal(tb_spec_string(&s, p, "method"), methods[p % 2]);
        assert_int_equal(tb_spec_int(&s, p, "train.steps"), 10);
    }
    tb_spec_free(&s);
    assert_null(s.impl);
}

static void test_defaults_and_accessors(void **state) {
    tb_spec s;
    load_ok(&s, "grid.yaml");
    for (int p = 0; p < s.n_points; p++) {
        assert_string_equal(tb_spec_string(&s, p, "model.family"), "gpt2");
        assert_int_equal(tb_spec_int(&s, p, "model.n_layer"), 2);
        assert_true(tb_spec_float(&s, p, "train.clip") == 1.0);
        assert_string_equal(tb_spec_string(&s, p, "data.path"), "");
        assert_int_equal(tb_spec_bool(&s, p, "eval.rouge"), 1);
    }
    const tb_spec_field *f = tb_spec_find(&s, "train.lr");
    assert_non_null(f);
    assert_int_equal(f->type, TB_SPEC_FLOAT);
    assert_null(tb_spec_find(&s, "train.nope"));
    assert_int_equal(s.params[3].n_values, 1); /* train.steps: one value, no axis */
    assert_int_equal(s.params[3].axis, -1);
    assert_int_equal(s.params[2].n_values, 3); /* train.lr: the sweep */
    assert_int_equal(s.params[2].axis, 0);

    char buf[64];
    assert_int_equal(tb_spec_format(&s, 0, "train.lr", buf, sizeof buf), 19);
    assert_string_equal(buf, "0.10000000000000001");
    assert_int_equal(tb_spec_format(&s, 1, "method", buf, sizeof buf), 5);
    assert_string_equal(buf, "\"npo\"");
    assert_int_equal(tb_spec_format(&s, 0, "eval.rouge", buf, 3), 4); /* truncated, full length returned */
    assert_string_equal(buf, "tr");
    tb_spec_free(&s);
}

/* A wrong key or type is a programming error: the process aborts rather than returning garbage. */
static void expect_abort(const tb_spec *s, int which) {
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        if (which == 0) tb_spec_int(s, 0, "train.lr");    /* a float read as an int */
        if (which == 1) tb_spec_float(s, 0, "train.lrr"); /* no such key */
        if (which == 2) tb_spec_int(s, 99, "train.steps"); /* no such point */
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

static void test_accessor_misuse_aborts(void **state) {
    tb_spec s;
    load_ok(&s, "grid.yaml");
    for (int which = 0; which < 3; which++) expect_abort(&s, which);
    tb_spec_free(&s);
}

static void test_zip_and_seeds(void **state) {
    tb_spec s;
    load_ok(&s, "zip.yaml");
    /* axes: method (2), then the zip group (3), placed where train.lr first appears */
    assert_int_equal(s.n_axes, 2);
    assert_int_equal(s.n_configs, 6);
    assert_int_equal(s.n_seeds, 2);
    assert_int_equal(s.n_points, 12);
    assert_int_equal(s.n_swept, 3);
    assert_string_equal(s.swept[0], "method");
    assert_string_equal(s.swept[1], "train.steps"); /* a group's keys in the order the zip lists them */
    assert_string_equal(s.swept[2], "train.lr");
    const double lrs[3] = {0.1, 0.01, 0.001};
    for (int p = 0; p < 12; p++) {
        int c = p % 6;
        assert_int_equal(s.points[p].seed, p < 6 ? 3 : 4); /* seeds are the outermost loop */
        assert_string_equal(tb_spec_string(&s, p, "method"), c < 3 ? "ga" : "npo");
        assert_true(tb_spec_float(&s, p, "train.lr") == lrs[c % 3]);
        assert_int_equal(tb_spec_int(&s, p, "train.steps"), 100 * (c % 3 + 1));
    }
    /* the same configuration under another seed is another point */
    for (int p = 0; p < 6; p++) assert_true(s.points[p].hash != s.points[p + 6].hash);
    tb_spec_free(&s);
}

static void test_include_merge_and_override(void **state) {
    tb_spec s;
    load_ok(&s, "sub/include_child.yaml");
    assert_string_equal(s.name, "child");
    assert_int_equal(s.n_seeds, 1);
    assert_int_equal(s.seeds[0], 7);
    /* train.lr comes from the base; method, although written first in the child, keeps the place
     * it had in the base, after train.lr */
    assert_int_equal(s.n_swept, 2);
    assert_string_equal(s.swept[0], "train.lr");
    assert_string_equal(s.swept[1], "method");
    assert_int_equal(s.n_points, 4);
    for (int p = 0; p < s.n_points; p++) {
        assert_string_equal(tb_spec_string(&s, p, "model.family"), "llama"); /* common, merged */
        assert_int_equal(tb_spec_int(&s, p, "model.n_layer"), 2);              /* child over common */
        assert_int_equal(tb_spec_bool(&s, p, "eval.rouge"), 0);                /* common */
        assert_int_equal(tb_spec_int(&s, p, "train.steps"), 5);                /* child over base */
        assert_true(tb_spec_float(&s, p, "train.clip") == 0.5);                /* base */
    }
    assert_string_equal(tb_spec_string(&s, 0, "method"), "ga");
    assert_string_equal(tb_spec_string(&s, 1, "method"), "simnpo");
    assert_true(tb_spec_float(&s, 2, "train.lr") == 0.01);
    /* the raw text kept is the top file's, not the merged one */
    assert_contains(s.yaml, "include: ../include_base.yaml");
    assert_null(strstr(s.yaml, "clip"));
    tb_spec_free(&s);
}

static void test_example_spec(void **state) {
    tb_spec s;
    load_ok(&s, "example_unlearn.yaml");
    assert_ptr_equal(s.schema, &UNLEARN);
    assert_string_equal(s.name, "tofu-small");
    assert_int_equal(s.ranks_per_point, 1);
    assert_int_equal(s.n_points, 27);
    assert_int_equal(s.n_swept, 3);
    assert_string_equal(s.swept[0], "unlearn.method");
    assert_string_equal(s.swept[1], "unlearn.lr");
    assert_string_equal(s.swept[2], "unlearn.steps");
    int p = 9 + 3 + 2; /* seed 1, npo, third (lr, steps) pair */
    assert_int_equal(s.points[p].seed, 1);
    assert_string_equal(tb_spec_string(&s, p, "unlearn.method"), "npo");
    assert_true(tb_spec_float(&s, p, "unlearn.lr") == 5e-5);
    assert_int_equal(tb_spec_int(&s, p, "unlearn.steps"), 10);
    assert_int_equal(tb_spec_int(&s, p, "model.n_embd"), 128);
    assert_int_equal(tb_spec_int(&s, p, "dist.zero"), 1);
    assert_true(tb_spec_float(&s, p, "pretrain.lr") == 3e-4);
    for (int i = 0; i < s.n_points; i++)
        for (int j = 0; j < i; j++) assert_true(s.points[i].hash != s.points[j].hash);
    tb_spec_free(&s);
}

/* Loads an inline spec that must be valid. */
static void load_text(tb_spec *s, const char *name, const char *text) {
    char path[PATH_CAP];
    int rc;
    char *errs = load_capture(s, write_tmp(path, name, text), &rc);
    if (rc != TB_OK) print_error("%s\n", errs);
    assert_int_equal(rc, TB_OK);
    free(errs);
}

static void test_value_spellings(void **state) {
    tb_spec a, b;
    load_text(&a, "spell_a.yaml",
              "workload: toy\n"
              "train: {steps: 1, clip: -0.0, lr: 1}\n"
              "eval.rouge: off\n"
              "data.path: \"dir/a \\\"b\\\"\\nc\"\n");
    load_text(&b, "spell_b.yaml",
              "workload: toy\n"
              "data.path: \"dir/a \\\"b\\\"\\nc\"\n"
              "eval: {rouge: False}\n"
              "train: {steps: 1, clip: 0, lr: 1.0}\n");
    assert_int_equal(tb_spec_bool(&a, 0, "eval.rouge"), 0);
    assert_true(tb_spec_float(&a, 0, "train.lr") == 1.0); /* an int is a valid float */
    assert_string_equal(tb_spec_string(&a, 0, "data.path"), "dir/a \"b\"\nc");
    char buf[64];
    tb_spec_format(&a, 0, "data.path", buf, sizeof buf);
    assert_string_equal(buf, "\"dir/a \\\"b\\\"\\nc\""); /* quotes, backslashes, newlines escaped */
    tb_spec_format(&a, 0, "train.clip", buf, sizeof buf);
    assert_string_equal(buf, "0"); /* -0 is 0 */
    assert_true(a.points[0].hash == b.points[0].hash);
    assert_string_equal(a.canonical, b.canonical);
    tb_spec_free(&a);
    tb_spec_free(&b);
}

/* ------------------------------------------------------------------------------------------------
 * hashes and canonical text */

static void test_hash_matches_canonical_text(void **state) {
    tb_spec s;
    load_ok(&s, "grid.yaml");
    const char *expected = "workload=\"toy\"\n"
                           "seed=0\n"
                           "data.path=\"\"\n"
                           "eval.rouge=true\n"
                           "method=\"ga\"\n"
                           "model.family=\"gpt2\"\n"
                           "model.n_layer=2\n"
                           "train.clip=1\n"
                           "train.lr=0.10000000000000001\n"
                           "train.steps=10\n";
    assert_true(s.points[0].hash == fnv1a(expected));
    /* pinned, so that a change of format (which would orphan every cache) cannot go unnoticed */
    assert_true(s.points[0].hash == 0xc816d73bf0dc4033ULL);
    assert_string_equal(s.canonical, "workload=\"toy\"\n"
                                     "seeds=[0]\n"
                                     "points=6\n"
                                     "axis=train.lr\n"
                                     "axis=method\n"
                                     "data.path=\"\"\n"
                                     "eval.rouge=true\n"
                                     "method=[\"ga\",\"npo\"]\n"
                                     "model.family=\"gpt2\"\n"
                                     "model.n_layer=2\n"
                                     "train.clip=1\n"
                                     "train.lr=[0.10000000000000001,0.01,0.001]\n"
                                     "train.steps=10\n");
    tb_spec_free(&s);
}

static void test_hash_stability(void **state) {
    tb_spec a, b, r, c;
    load_ok(&a, "grid.yaml");
    load_ok(&b, "grid.yaml");
    load_ok(&r, "grid_reordered.yaml");
    load_ok(&c, "grid_clip.yaml");
    assert_string_equal(a.canonical, b.canonical);
    for (int p = 0; p < a.n_points; p++) assert_true(a.points[p].hash == b.points[p].hash);
    /* other key order, spelling and name: the same six configurations, hashed the same */
    assert_int_equal(r.n_points, 6);
    assert_string_equal(r.swept[0], "method"); /* ... though in another order */
    for (int p = 0; p < a.n_points; p++) {
        int q = find_point(&r, tb_spec_string(&a, p, "method"), tb_spec_float(&a, p, "train.lr"));
        assert_true(q >= 0);
        assert_true(r.points[q].hash == a.points[p].hash);
    }
    /* different configurations: all distinct, and one default changed changes every hash */
    for (int p = 0; p < a.n_points; p++) {
        for (int q = 0; q < p; q++) assert_true(a.points[p].hash != a.points[q].hash);
        for (int q = 0; q < c.n_points; q++) assert_true(a.points[p].hash != c.points[q].hash);
    }
    assert_string_not_equal(a.canonical, c.canonical);
    tb_spec_free(&a);
    tb_spec_free(&b);
    tb_spec_free(&r);
    tb_spec_free(&c);
}

static void test_hash_of_key_subsets(void **state) {
    tb_spec s;
    load_ok(&s, "grid.yaml");
    const char *model[] = {"model."}, *train[] = {"train."}, *both[] = {"model.", "train."};
    for (int p = 0; p < s.n_points; p++) {
        /* the model does not vary: one cache entry for all points */
        assert_true(tb_spec_hash_keys(&s, p, model, 1) == tb_spec_hash_keys(&s, 0, model, 1));
        /* train.* varies with the learning rate only, not with the method */
        int same_lr = p / 2 == 0;
        assert_int_equal(tb_spec_hash_keys(&s, p, train, 1) == tb_spec_hash_keys(&s, 0, train, 1), same_lr);
        assert_true(tb_spec_hash_keys(&s, p, both, 2) != tb_spec_hash_keys(&s, p, train, 1));
        assert_true(tb_spec_hash_keys(&s, p, train, 1) != s.points[p].hash);
    }
    const char *model_text = "workload=\"toy\"\nmodel.family=\"gpt2\"\nmodel.n_layer=2\n";
    assert_true(tb_spec_hash_keys(&s, 0, model, 1) == fnv1a(model_text));
    tb_spec_free(&s);
}

static void test_print_points(void **state) {
    tb_spec s;
    load_ok(&s, "zip.yaml");
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    tb_spec_print_points(f, &s);
    fclose(f);
    int lines = 0;
    for (const char *p = out; *p; p++) lines += *p == '\n';
    assert_int_equal(lines, 2 + 12);
    assert_contains(out, "spec zip (workload toy): 12 points = 2 seeds x 6 configurations\n");
    assert_contains(out, "id  seed  method  train.steps  train.lr  hash\n");
    char row[128];
    snprintf(row, sizeof row, " 7     4  ga              200      0.01  %016llx\n",
             (unsigned long long)s.points[7].hash);
    assert_contains(out, row);
    free(out);
    tb_spec_free(&s);
}

/* ------------------------------------------------------------------------------------------------
 * errors: each at its line:col, with its key and a hint */

static void test_error_wrong_type(void **state) {
    char *e = load_bad("type.yaml",
                       "workload: toy\n"
                       "train:\n"
                       "  steps: 10\n"
                       "  lr: fast\n"
                       "model: {n_layer: 2.5}\n"
                       "eval: {rouge: maybe}\n",
                       3);
    assert_contains(e, "/type.yaml:4:7: train.lr: expected a float, got 'fast'\n"
                       "    hint: write a number such as 0.001 or 1e-3 (train.lr: peak learning rate)\n");
    assert_contains(e, "/type.yaml:5:18: model.n_layer: expected an integer, got '2.5'\n");
    assert_contains(e, "/type.yaml:6:15: eval.rouge: expected true or false, got 'maybe'\n");
    free(e);
}

static void test_error_unknown_key(void **state) {
    char *e = load_bad("unknown.yaml",
                       "workload: toy\n"
                       "train:\n"
                       "  stepz: 10\n"
                       "colour: blue\n",
                       3);
    assert_contains(e, "/unknown.yaml:3:3: train.stepz: unknown key for workload 'toy'\n"
                       "    hint: did you mean 'train.steps'?\n");
    assert_contains(e, "/unknown.yaml:4:1: colour: unknown key for workload 'toy'\n"
                       "    hint: the keys of workload 'toy' are: model.family model.n_layer");
    /* the misspelt key leaves the real one missing */
    assert_contains(e, "/unknown.yaml:1:1: train.steps: required key is missing\n"
                       "    hint: add `train.steps: <int>` (optimizer steps)\n");
    free(e);
}

static void test_error_group_given_a_value(void **state) {
    char *e = load_bad("group.yaml", "workload: toy\ntrain: 5\n", 2);
    assert_contains(e, "/group.yaml:2:1: train: is a group of keys, not a value\n");
    assert_contains(e, "/group.yaml:1:1: train.steps: required key is missing\n");
    free(e);
}

static void test_error_range_and_allowed(void **state) {
    char *e = load_bad("range.yaml",
                       "workload: toy\n"
                       "train: {steps: 10, lr: 2.5}\n"
                       "model:\n"
                       "  n_layer: [2, 0]\n"
                       "method: [ga, nop, forget]\n",
                       4);
    assert_contains(e, "/range.yaml:2:24: train.lr: 2.5 is out of range: it must be > 0 and <= 1\n"
                       "    hint: use a value in (0, 1] (train.lr: peak learning rate)\n");
    assert_contains(e, "/range.yaml:4:16: model.n_layer: 0 is out of range: it must be >= 1 and <= 64\n");
    assert_contains(e, "/range.yaml:5:14: method: 'nop' is not one of ga|npo|simnpo\n"
                       "    hint: did you mean 'npo'? (method: unlearning method)\n");
    assert_contains(e, "/range.yaml:5:19: method: 'forget' is not one of ga|npo|simnpo\n"
                       "    hint: use one of ga|npo|simnpo (method: unlearning method)\n");
    free(e);
}

static void test_error_lists(void **state) {
    char *e = load_bad("lists.yaml",
                       "workload: toy\n"
                       "train:\n"
                       "  steps: 10\n"
                       "  clip: [0.5, 1]\n"
                       "method: []\n"
                       "model.n_layer: [2, 4, 2]\n"
                       "data:\n"
                       "  path:\n",
                       4);
    assert_contains(e, "/lists.yaml:4:9: train.clip: takes a single value, not a list\n"
                       "    hint: train.clip cannot be swept: give one value (gradient clipping norm (0 = off))\n");
    assert_contains(e, "/lists.yaml:5:9: method: empty list\n");
    assert_contains(e, "/lists.yaml:6:23: model.n_layer: value '2' appears twice in the sweep\n");
    assert_contains(e, "/lists.yaml:8:8: data.path: no value given\n"
                       "    hint: write a value, or remove the key to use the default ''\n");
    free(e);
}

static void test_error_zip(void **state) {
    char *e = load_bad("zip_scalar.yaml",
                       "workload: toy\n"
                       "train:\n"
                       "  steps: 10\n"
                       "  lr: [0.1, 0.2]\n"
                       "zip: [[train.lr, train.steps]]\n",
                       1);
    assert_contains(e, "/zip_scalar.yaml:5:18: train.steps: is in a zip group but is not a list\n");
    free(e);
    e = load_bad("zip_lengths.yaml",
                 "workload: toy\n"
                 "train:\n"
                 "  steps: [1, 2, 3]\n"
                 "  lr: [0.1, 0.2]\n"
                 "zip:\n"
                 "  - [train.lr, train.steps]\n"
                 "  - [method, trian.clip]\n",
                 3);
    assert_contains(e, "/zip_lengths.yaml:6:5: zip: the lists of a zip group differ in length: "
                       "train.lr has 2, train.steps has 3\n");
    assert_contains(e, "/zip_lengths.yaml:7:6: method: is in a zip group but is not a list\n");
    assert_contains(e, "/zip_lengths.yaml:7:14: zip: unknown key 'trian.clip' in a zip group\n"
                       "    hint: did you mean 'train.clip'?\n");
    free(e);
}

static void test_error_duplicate_keys(void **state) {
    char *e = load_bad("dup.yaml",
                       "workload: toy\n"
                       "train:\n"
                       "  steps: 10\n"
                       "train:\n"
                       "  lr: 0.1\n"
                       "train.steps: 5\n",
                       2);
    assert_contains(e, "/dup.yaml:4:1: train: duplicate key (also given at 2:1)\n");
    assert_contains(e, "/dup.yaml:6:1: train.steps: duplicate key (also given at 3:3)\n");
    free(e);
}

static void test_error_runtime_keys(void **state) {
    char *e = load_bad("runtime.yaml",
                       "workload: toyy\n"
                       "seeds: [1, -2, 1]\n"
                       "ranks_per_point: 0\n",
                       4);
    assert_contains(e, "/runtime.yaml:1:11: workload: unknown workload 'toyy'\n"
                       "    hint: did you mean 'toy'?\n");
    assert_contains(e, "/runtime.yaml:2:12: seeds: expected an integer >= 0, got '-2'\n");
    assert_contains(e, "/runtime.yaml:2:16: seeds: seed 1 appears twice\n");
    assert_contains(e, "/runtime.yaml:3:18: ranks_per_point: expected an integer >= 1, got '0'\n");
    /* found check by check, printed line by line */
    assert_before(e, "runtime.yaml:1:11:", "runtime.yaml:2:12:");
    assert_before(e, "runtime.yaml:2:12:", "runtime.yaml:2:16:");
    assert_before(e, "runtime.yaml:2:16:", "runtime.yaml:3:18:");
    free(e);
    e = load_bad("no_workload.yaml", "train: {steps: 1}\n", 1);
    assert_contains(e, "/no_workload.yaml:1:1: workload: required key is missing\n"
                       "    hint: add `workload: <name>`; known: toy, other, unlearn\n");
    free(e);
}

static void test_error_syntax(void **state) {
    char *e = load_bad("syntax.yaml",
                       "workload: toy\n"
                       "train:\n"
                       "  steps: 10\n"
                       "   lr: 0.1\n",
                       1);
    assert_contains(e, "/syntax.yaml:4:6: YAML syntax error: mapping values are not allowed in this context\n"
                       "    hint: check the indentation");
    free(e);
    e = load_bad("tab.yaml", "workload: toy\ntrain:\n\tsteps: 10\n", 1);
    assert_contains(e, "/tab.yaml:3:1: YAML syntax error: found character that cannot start any token");
    free(e);
    e = load_bad("two_docs.yaml", "workload: toy\ntrain: {steps: 1}\n---\nworkload: toy\n", 1);
    assert_contains(e, "/two_docs.yaml:4:1: a second YAML document starts here\n");
    free(e);
}

static void test_error_aliases(void **state) {
    /* YAML aliases work, but not a mapping inside itself, nor an exponential tree of them */
    char *e = load_bad("alias_cycle.yaml", "workload: toy\ntrain: &t {steps: 1, again: *t}\n", 1);
    assert_contains(e, "/alias_cycle.yaml:2:8: train.again: this mapping contains itself through an alias\n");
    free(e);
    char text[4096] = "workload: toy\ntrain: {steps: 1}\nl0: &l0 {a: 1, b: 2}\n";
    for (int i = 1; i < 40; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "l%d: &l%d {x: *l%d, y: *l%d}\n", i, i, i - 1, i - 1);
    char path[PATH_CAP];
    tb_spec s;
    int rc;
    e = load_capture(&s, write_tmp(path, "laughs.yaml", text), &rc);
    assert_int_equal(rc, TB_ERR_ARG);
    assert_contains(e, "the file expands to more than 10000 keys\n");
    tb_error_clear();
    free(e);
    tb_spec s2;
    e = load_capture(&s2, write_tmp(path, "alias_ok.yaml", "workload: toy\nbase: &b {steps: 3}\ntrain: *b\n"), &rc);
    assert_int_equal(rc, TB_ERR_ARG); /* base.steps is not a key of toy, train.steps (through the alias) is */
    assert_contains(e, "/alias_ok.yaml:2:11: base.steps: unknown key");
    assert_null(strstr(tb_error_message(), "more)")); /* the only error */
    tb_error_clear();
    free(e);
}

static void test_error_many_collected(void **state) {
    char text[4096] = "workload: toy\ntrain: {steps: 1}\n";
    for (int i = 0; i < 25; i++) snprintf(text + strlen(text), sizeof text - strlen(text), "bogus_key_%02d: 1\n", i);
    char path[PATH_CAP];
    tb_spec s;
    int rc;
    char *e = load_capture(&s, write_tmp(path, "many.yaml", text), &rc);
    assert_int_equal(rc, TB_ERR_ARG);
    assert_contains(e, "/many.yaml:3:1: bogus_key_00: unknown key");
    assert_contains(e, "/many.yaml:22:1: bogus_key_19: unknown key");
    assert_null(strstr(e, "bogus_key_20"));
    assert_contains(e, "... and 5 more errors\n");
    assert_contains(tb_error_message(), "/many.yaml:3:1: bogus_key_00: unknown key for workload 'toy' (and 24 more)");
    tb_error_clear();
    free(e);
}

static void test_error_include_cycle(void **state) {
    char path[PATH_CAP], dir[PATH_CAP], want[5 * PATH_CAP];
    tb_spec s;
    int rc;
    fixture(dir, "");
    char *e = load_capture(&s, fixture(path, "cycle_a.yaml"), &rc);
    assert_int_equal(rc, TB_ERR_ARG);
    snprintf(want, sizeof want,
             "%scycle_b.yaml:2:11: include: include cycle: %scycle_a.yaml -> %scycle_b.yaml -> %scycle_a.yaml\n",
             dir, dir, dir, dir);
    assert_contains(e, want);
    assert_null(strstr(e, "required key")); /* an incomplete spec does not blame absent keys */
    tb_error_clear();
    free(e);
}

static void test_error_include_missing(void **state) {
    char *e = load_bad("inc_missing.yaml", "include: [nope.yaml]\nworkload: toy\ntrain: {steps: 1}\n", 1);
    char want[PATH_CAP];
    snprintf(want, sizeof want, "/inc_missing.yaml:1:11: include: cannot read '%s/nope.yaml': No such file", tmpdir);
    assert_contains(e, want);
    free(e);
}

static void test_missing_and_empty_files(void **state) {
    char path[PATH_CAP];
    tb_spec s;
    int rc;
    char *e = load_capture(&s, fixture(path, "does_not_exist.yaml"), &rc);
    assert_int_equal(rc, TB_ERR_IO);
    assert_string_equal(e, ""); /* not a spec error: reported once through the error record */
    assert_contains(tb_error_message(), "cannot read spec '");
    assert_contains(tb_error_message(), "does_not_exist.yaml': No such file or directory");
    assert_null(s.impl);
    tb_error_clear();
    free(e);

    e = load_capture(&s, tmpdir, &rc); /* a directory */
    assert_int_equal(rc, TB_ERR_IO);
    assert_contains(tb_error_message(), "not a regular file");
    tb_error_clear();
    free(e);

    e = load_bad("empty.yaml", "", 1);
    assert_contains(e, "/empty.yaml:1:1: the spec is empty\n");
    free(e);
    e = load_bad("comments.yaml", "# nothing but a comment\n\n", 1);
    assert_contains(e, "/comments.yaml:1:1: the spec is empty\n");
    free(e);
    e = load_bad("list.yaml", "- workload: toy\n", 1);
    assert_contains(e, "/list.yaml:1:1: the spec is a list, not a mapping\n");
    free(e);
}

static void test_too_many_points(void **state) {
    char *e = load_bad("huge.yaml",
                       "workload: toy\n"
                       "train.steps: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
                       "model.n_layer: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
                       "train.lr: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]\n"
                       "seeds: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,\n"
                       "        20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39,\n"
                       "        40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59,\n"
                       "        60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79,\n"
                       "        80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 100]\n",
                       1);
    assert_contains(e, "/huge.yaml:1:1: the sweep expands to 101000 points, more than the limit of 100000\n");
    free(e);
}

/* ------------------------------------------------------------------------------------------------ */

static int make_tmpdir(void **state) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tb_spec_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state) {
    DIR *d = opendir(tmpdir);
    if (!d) return -1;
    struct dirent *ent;
    char path[PATH_CAP];
    while ((ent = readdir(d)))
        if (strcmp(ent->d_name, ".") && strcmp(ent->d_name, "..")) {
            snprintf(path, sizeof path, "%s/%s", tmpdir, ent->d_name);
            unlink(path);
        }
    closedir(d);
    return rmdir(tmpdir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grid_count_and_order),
        cmocka_unit_test(test_defaults_and_accessors),
        cmocka_unit_test(test_accessor_misuse_aborts),
        cmocka_unit_test(test_zip_and_seeds),
        cmocka_unit_test(test_include_merge_and_override),
        cmocka_unit_test(test_example_spec),
        cmocka_unit_test(test_value_spellings),
        cmocka_unit_test(test_hash_matches_canonical_text),
        cmocka_unit_test(test_hash_stability),
        cmocka_unit_test(test_hash_of_key_subsets),
        cmocka_unit_test(test_print_points),
        cmocka_unit_test(test_error_wrong_type),
        cmocka_unit_test(test_error_unknown_key),
        cmocka_unit_test(test_error_group_given_a_value),
        cmocka_unit_test(test_error_range_and_allowed),
        cmocka_unit_test(test_error_lists),
        cmocka_unit_test(test_error_zip),
        cmocka_unit_test(test_error_duplicate_keys),
        cmocka_unit_test(test_error_runtime_keys),
        cmocka_unit_test(test_error_syntax),
        cmocka_unit_test(test_error_aliases),
        cmocka_unit_test(test_error_many_collected),
        cmocka_unit_test(test_error_include_cycle),
        cmocka_unit_test(test_error_include_missing),
        cmocka_unit_test(test_missing_and_empty_files),
        cmocka_unit_test(test_too_many_points),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
