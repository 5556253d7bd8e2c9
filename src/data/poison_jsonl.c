/*
 * poison_jsonl.c: poisoning sets as JSONL exports (the format is in data.h, "poisoning datasets").
 *
 * Loading reads the files whole, checks every field of every line, then allocates the set at its
 * final size and copies; so a bad line fails before anything is built, and its message names the
 * file, the line and the field.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <jansson.h>

#include "data/data.h"

#define HINT_FORMAT "fix the line; the JSONL format is described in src/data/data.h, section \"poisoning datasets\""
#define HINT_WRITE "check that the directory is writable and has free space"

enum { TRAIN, VAL, TEST, N_PARTS };

static const char *const part_files[N_PARTS] = {"train.jsonl", "val.jsonl", "test.jsonl"};

/* ---- checking ----------------------------------------------------------------------------------- */

static int is_poisoned(const tb_jsonl *f, long i) { return json_is_true(json_object_get(f->rows[i], "poisoned")); }

static int check_rows(const tb_jsonl *f, int part) {
    for (long i = 0; i < f->n; i++) {
        const char *text;
        TB_CHECK(tb_jsonl_string(f, i, "input", &text));
        TB_CHECK(tb_jsonl_string(f, i, "output", &text));
        const json_t *flag = json_object_get(f->rows[i], "poisoned");
        if (flag && !json_is_boolean(flag))
            return TB_ERROR(TB_ERR_FORMAT, HINT_FORMAT, "%s:%d: field \"poisoned\" must be true or false", f->path,
                            f->lines[i]);
        /* the workload makes the triggered copies of val and test itself, from clean pairs */
        if (part != TRAIN && json_is_true(flag))
            return TB_ERROR(TB_ERR_FORMAT, "only training pairs are poisoned; give clean validation and test pairs",
                            "%s:%d: field \"poisoned\" is true outside the training file", f->path, f->lines[i]);
    }
    return TB_OK;
}

static int read_parts(const char *const *paths, tb_jsonl *files) {
    static const char *const what[N_PARTS] = {"training pairs", NULL, "test pairs"};
    for (int p = 0; p < N_PARTS; p++) memset(&files[p], 0, sizeof files[p]);
    for (int p = 0; p < N_PARTS; p++) {
        if (!paths[p]) continue;
        TB_CHECK(tb_jsonl_read(paths[p], 1, HINT_FORMAT, &files[p]));
        if (what[p] && files[p].n == 0)
            return TB_ERROR(TB_ERR_FORMAT, "write one {\"input\", \"output\"} pair per line", "%s holds no %s",
                            paths[p], what[p]);
        TB_CHECK(check_rows(&files[p], p));
    }
    return TB_OK;
}

/* ---- copying ------------------------------------------------------------------------------------ */

static char *copy_field(tb_poison_set *s, const json_t *row, const char *key) {
    const json_t *v = json_object_get(row, key);
    return tb_poison_strdup(s, json_string_value(v), json_string_length(v));
}

/* Copies the rows of f with held[i] == want (every row when held is NULL) into items. */
static void copy_part(tb_poison_set *s, tb_poison_item *items, const tb_jsonl *f, const char *held, int want) {
    long k = 0;
    for (long i = 0; i < f->n; i++) {
        if (held && held[i] != want) continue;
        tb_poison_item *it = &items[k++];
        it->input = copy_field(s, f->rows[i], "input");
        it->output = copy_field(s, f->rows[i], "output");
        it->poisoned = is_poisoned(f, i);
        s->n_poisoned += it->poisoned;
    }
}

/* ---- loading ------------------------------------------------------------------------------------ */

int tb_poison_load_jsonl(tb_poison_set *s, int task, const char *train_path, const char *val_path,
                         const char *test_path) {
    memset(s, 0, sizeof *s);
    TB_ASSERT(train_path && test_path);
    if (task < 0 || task >= TB_POISON_N_TASKS)
        return TB_ERROR(TB_ERR_ARG, "the task is \"summarise\" or \"complete\"", "unknown poisoning task %d", task);
    const char *const paths[N_PARTS] = {train_path, val_path, test_path};
    tb_jsonl files[N_PARTS];
    int rc = read_parts(paths, files);
    if (rc == TB_OK) {
        char *held = val_path ? NULL : tb_malloc((size_t)files[TRAIN].n);
        const long n_val = held ? tb_jsonl_hold_out(&files[TRAIN], "input", "poisoned", held) : files[VAL].n;
        const long n_train = files[TRAIN].n - (held ? n_val : 0);
        if (n_train + n_val + files[TEST].n > TB_POISON_MAX_ITEMS)
            rc = TB_ERROR(TB_ERR_FORMAT, "use smaller files", "%s, %s and %s hold more than %ld pairs in all",
                          train_path, val_path ? val_path : "(held out)", test_path, TB_POISON_MAX_ITEMS);
        if (rc == TB_OK) {
            tb_poison_alloc(s, task, n_train, n_val, files[TEST].n);
            copy_part(s, s->train, &files[TRAIN], held, 0);
            if (held)
                copy_part(s, s->val, &files[TRAIN], held, 1);
            else
                copy_part(s, s->val, &files[VAL], NULL, 0);
            copy_part(s, s->test, &files[TEST], NULL, 0);
        }
        tb_free(held);
    }
    for (int p = 0; p < N_PARTS; p++) tb_jsonl_free(&files[p]);
    return rc;
}

/* ---- writing ------------------------------------------------------------------------------------ */

static json_t *item_json(const tb_poison_item *it) {
    json_t *o = json_object();
    /* json_string fails (NULL) on text that is not UTF-8, and the setter then fails too */
    int bad = !o || json_object_set_new(o, "input", json_string(it->input)) ||
              json_object_set_new(o, "output", json_string(it->output)) ||
              (it->poisoned && json_object_set_new(o, "poisoned", json_true()));
    if (bad) json_decref(o);
    return bad ? NULL : o;
}

static int write_part(const char *dir, int part, const tb_poison_item *items, long n) {
    const size_t len = strlen(dir) + strlen(part_files[part]) + 2;
    char *path = tb_malloc(len);
    snprintf(path, len, "%s/%s", dir, part_files[part]);
    tb_jsonl_writer w;
    int rc = tb_jsonl_create(path, &w);
    for (long i = 0; rc == TB_OK && i < n; i++) {
        json_t *o = item_json(&items[i]);
        rc = o ? tb_jsonl_write(&w, o)
               : TB_ERROR(TB_ERR_FORMAT, "every string of a poisoning set must be UTF-8",
                          "%s: item %ld (input \"%.60s\") cannot be written as JSON", path, i, items[i].input);
        json_decref(o);
    }
    rc = tb_jsonl_finish(&w, rc);
    tb_free(path);
    return rc;
}

int tb_poison_save_jsonl(const char *dir, const tb_poison_set *s) {
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return TB_ERROR(TB_ERR_IO, HINT_WRITE, "cannot create directory %s: %s", dir, strerror(errno));
    TB_CHECK(write_part(dir, TRAIN, s->train, s->n_train));
    TB_CHECK(write_part(dir, VAL, s->val, s->n_val));
    TB_CHECK(write_part(dir, TEST, s->test, s->n_test));
    return TB_OK;
}
