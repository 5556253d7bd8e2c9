/*
 * instruct_jsonl.c: instruction sets as JSONL exports (the format is in data.h, "instruction
 * datasets").
 *
 * Loading reads the four files whole, checks every field of every line, then allocates the set at its
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

#define HINT_FORMAT \
    "fix the line; the JSONL format is described in src/data/data.h, section \"instruction datasets\""
#define HINT_WRITE "check that the directory is writable and has free space"

/* Every part is read from its own file, or held out of its training file (eval part, no path). */
enum { SFT, SFT_EVAL, PREF, PREF_EVAL, N_PARTS };

static const char *const part_files[N_PARTS] = {"sft.jsonl", "sft_eval.jsonl", "pref.jsonl", "pref_eval.jsonl"};

static int is_pairs(int part) { return part == PREF || part == PREF_EVAL; }

/* ---- checking ----------------------------------------------------------------------------------- */

static int check_name(const tb_jsonl *f, long i, const char *key, int (*parse)(const char *), const char *valid) {
    const char *name;
    TB_CHECK(tb_jsonl_string_opt(f, i, key, &name));
    if (name && parse(name) < 0)
        return TB_ERROR(TB_ERR_FORMAT, valid, "%s:%d: field \"%s\" is \"%s\"", f->path, f->lines[i], key, name);
    return TB_OK;
}

static int check_rows(const tb_jsonl *f, int pairs) {
    for (long i = 0; i < f->n; i++) {
        const char *text;
        TB_CHECK(tb_jsonl_string(f, i, "prompt", &text));
        if (pairs) {
            TB_CHECK(tb_jsonl_string(f, i, "chosen", &text));
            TB_CHECK(tb_jsonl_string(f, i, "rejected", &text));
            TB_CHECK(check_name(f, i, "contrast", tb_pref_contrast_parse,
                                "contrast is \"correctness\", \"style\" or \"both\" (or leave it out)"));
        } else {
            TB_CHECK(tb_jsonl_string(f, i, "response", &text));
        }
        TB_CHECK(tb_jsonl_string_opt(f, i, "answer", &text));
        TB_CHECK(check_name(f, i, "family", tb_task_family_parse,
                            "family is \"copy\", \"reverse\", \"sort\" or \"arithmetic\" (or leave it out)"));
    }
    return TB_OK;
}

/* ---- copying ------------------------------------------------------------------------------------ */

static char *copy_field(tb_instruct_set *s, const json_t *row, const char *key) {
    const json_t *v = json_object_get(row, key);
    return v ? tb_instruct_strdup(s, json_string_value(v), json_string_length(v)) : NULL;
}

/* The answer and family of a row: its own fields, else the solver's (answer NULL and family -1 when
 * the prompt is of no known form). scratch holds any answer of the file's prompts. */
static void resolve_task(tb_instruct_set *s, const json_t *row, char *scratch, size_t cap, char **answer,
                         int *family) {
    const json_t *family_field = json_object_get(row, "family");
    *answer = copy_field(s, row, "answer");
    *family = family_field ? tb_task_family_parse(json_string_value(family_field)) : -1;
    if (*answer && family_field) return;
    int solved_family;
    if (!tb_task_solve(json_string_value(json_object_get(row, "prompt")), scratch, cap, &solved_family)) return;
    if (!*answer) *answer = tb_instruct_strdup(s, scratch, strlen(scratch));
    if (!family_field) *family = solved_family;
}

/* Room for the answer of any prompt of f (data.h: strlen(prompt) + 24 bytes). */
static size_t answer_cap(const tb_jsonl *f) {
    size_t longest = 0;
    for (long i = 0; i < f->n; i++) {
        const size_t n = json_string_length(json_object_get(f->rows[i], "prompt"));
        if (n > longest) longest = n;
    }
    return longest + 24;
}

/* Copies the rows of f with held[i] == want (every row when held is NULL) into the part's items. */
static void copy_part(tb_instruct_set *s, int part, const tb_jsonl *f, const char *held, int want) {
    const size_t cap = answer_cap(f);
    char *scratch = tb_malloc(cap);
    tb_sft_item *examples = part == SFT ? s->sft : s->sft_eval;
    tb_pref_item *pairs = part == PREF ? s->pref : s->pref_eval;
    long k = 0;
    for (long i = 0; i < f->n; i++) {
        if (held && held[i] != want) continue;
        const json_t *row = f->rows[i];
        if (is_pairs(part)) {
            tb_pref_item *it = &pairs[k++];
            it->prompt = copy_field(s, row, "prompt");
            it->chosen = copy_field(s, row, "chosen");
            it->rejected = copy_field(s, row, "rejected");
            const json_t *contrast = json_object_get(row, "contrast");
            it->contrast = contrast ? tb_pref_contrast_parse(json_string_value(contrast)) : -1;
            resolve_task(s, row, scratch, cap, &it->answer, &it->family);
        } else {
            tb_sft_item *it = &examples[k++];
            it->prompt = copy_field(s, row, "prompt");
            it->response = copy_field(s, row, "response");
            resolve_task(s, row, scratch, cap, &it->answer, &it->family);
        }
    }
    tb_free(scratch);
}

/* ---- eval prompts seen in training -------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Evaluating on a trained prompt flatters every method alike, so it is allowed, but said. */
static void warn_overlap(const tb_instruct_set *s) {
    const long n_train = s->n_sft + s->n_pref;
    const char **train = tb_malloc((size_t)n_train * sizeof *train);
    for (long i = 0; i < s->n_sft; i++) train[i] = s->sft[i].prompt;
    for (long i = 0; i < s->n_pref; i++) train[s->n_sft + i] = s->pref[i].prompt;
    qsort(train, (size_t)n_train, sizeof *train, cmp_str);
    long overlap = 0;
    const char *example = NULL;
    for (long i = 0; i < s->n_sft_eval + s->n_pref_eval; i++) {
        const char *p = i < s->n_sft_eval ? s->sft_eval[i].prompt : s->pref_eval[i - s->n_sft_eval].prompt;
        if (bsearch(&p, train, (size_t)n_train, sizeof *train, cmp_str)) {
            overlap++;
            if (!example) example = p;
        }
    }
    if (overlap)
        tb_warn("%ld of the %ld eval prompts also appear in the training files (e.g. \"%s\"): their scores "
                "measure memorisation as well as skill",
                overlap, s->n_sft_eval + s->n_pref_eval, example);
    tb_free(train);
}

/* ---- loading ------------------------------------------------------------------------------------ */

static int read_parts(const char *const *paths, tb_jsonl *files) {
    static const char *const what[N_PARTS] = {"SFT examples", NULL, "preference pairs", NULL};
    for (int p = 0; p < N_PARTS; p++) memset(&files[p], 0, sizeof files[p]);
    for (int p = 0; p < N_PARTS; p++) {
        if (!paths[p]) continue;
        TB_CHECK(tb_jsonl_read(paths[p], 1, HINT_FORMAT, &files[p]));
        if (what[p] && files[p].n == 0)
            return TB_ERROR(TB_ERR_FORMAT, "write one item per line", "%s holds no %s", paths[p], what[p]);
        TB_CHECK(check_rows(&files[p], is_pairs(p)));
    }
    return TB_OK;
}

int tb_instruct_load_jsonl(tb_instruct_set *s, const char *sft_path, const char *pref_path, const char *sft_eval_path,
                           const char *pref_eval_path) {
    memset(s, 0, sizeof *s);
    TB_ASSERT(sft_path && pref_path);
    const char *const paths[N_PARTS] = {sft_path, sft_eval_path, pref_path, pref_eval_path};
    tb_jsonl files[N_PARTS];
    const int rc = read_parts(paths, files);
    if (rc == TB_OK) {
        /* held[t]: the rows of training file t that form the eval part, when it has no file of its own */
        char *held[N_PARTS] = {NULL};
        long n[N_PARTS];
        for (int t = SFT; t < N_PARTS; t += 2) {
            if (!paths[t + 1]) {
                held[t] = tb_malloc((size_t)files[t].n);
                tb_jsonl_hold_out(&files[t], "prompt", NULL, held[t]);
            }
            n[t + 1] = held[t] ? files[t].n / 10 : files[t + 1].n;
            n[t] = files[t].n - (held[t] ? n[t + 1] : 0);
        }
        tb_instruct_alloc(s, n[SFT], n[PREF], n[SFT_EVAL], n[PREF_EVAL]);
        for (int t = SFT; t < N_PARTS; t += 2) {
            copy_part(s, t, &files[t], held[t], 0);
            if (held[t]) copy_part(s, t + 1, &files[t], held[t], 1);
            else copy_part(s, t + 1, &files[t + 1], NULL, 0);
            tb_free(held[t]);
        }
        warn_overlap(s);
    }
    for (int p = 0; p < N_PARTS; p++) tb_jsonl_free(&files[p]);
    return rc;
}

/* ---- writing ------------------------------------------------------------------------------------ */

/* json_string fails (NULL) on text that is not UTF-8, and the setter then fails too. */
static int set_string(json_t *o, const char *key, const char *value) {
    return json_object_set_new(o, key, json_string(value));
}

static json_t *sft_json(const tb_sft_item *it) {
    json_t *o = json_object();
    int bad = !o || set_string(o, "prompt", it->prompt) || set_string(o, "response", it->response) ||
              (it->answer && set_string(o, "answer", it->answer)) ||
              (it->family >= 0 && set_string(o, "family", tb_task_family_name(it->family)));
    if (bad) json_decref(o);
    return bad ? NULL : o;
}

static json_t *pref_json(const tb_pref_item *it) {
    json_t *o = json_object();
    int bad = !o || set_string(o, "prompt", it->prompt) || set_string(o, "chosen", it->chosen) ||
              set_string(o, "rejected", it->rejected) || (it->answer && set_string(o, "answer", it->answer)) ||
              (it->family >= 0 && set_string(o, "family", tb_task_family_name(it->family))) ||
              (it->contrast >= 0 && set_string(o, "contrast", tb_pref_contrast_name(it->contrast)));
    if (bad) json_decref(o);
    return bad ? NULL : o;
}

static int write_part(const char *dir, int part, const tb_instruct_set *s) {
    const long counts[N_PARTS] = {s->n_sft, s->n_sft_eval, s->n_pref, s->n_pref_eval};
    const size_t n = strlen(dir) + strlen(part_files[part]) + 2;
    char *path = tb_malloc(n);
    snprintf(path, n, "%s/%s", dir, part_files[part]);
    tb_jsonl_writer w;
    int rc = tb_jsonl_create(path, &w);
    for (long i = 0; rc == TB_OK && i < counts[part]; i++) {
        const tb_sft_item *sft = part == SFT ? &s->sft[i] : part == SFT_EVAL ? &s->sft_eval[i] : NULL;
        const tb_pref_item *pref = part == PREF ? &s->pref[i] : part == PREF_EVAL ? &s->pref_eval[i] : NULL;
        json_t *o = sft ? sft_json(sft) : pref_json(pref);
        rc = o ? tb_jsonl_write(&w, o)
               : TB_ERROR(TB_ERR_FORMAT, "every string of an instruction set must be UTF-8",
                          "%s: item %ld (prompt \"%s\") cannot be written as JSON", path, i,
                          sft ? sft->prompt : pref->prompt);
        json_decref(o);
    }
    rc = tb_jsonl_finish(&w, rc);
    tb_free(path);
    return rc;
}

int tb_instruct_save_jsonl(const char *dir, const tb_instruct_set *s) {
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return TB_ERROR(TB_ERR_IO, HINT_WRITE, "cannot create directory %s: %s", dir, strerror(errno));
    for (int p = 0; p < N_PARTS; p++) TB_CHECK(write_part(dir, p, s));
    return TB_OK;
}
