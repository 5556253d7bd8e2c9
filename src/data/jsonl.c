/*
 * jsonl.c: JSONL files (see data.h, "JSONL files").
 *
 * A file is read whole into rows that keep their line numbers, so loaders can check every field
 * first and copy afterwards, and every message can name file:line. Writing goes to a temporary file
 * renamed into place, so a failed or interrupted export never leaves a half-written file under the
 * real name.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "data/data.h"

#define HINT_WRITE "check that the directory is writable and has free space"

/* ---- reading ------------------------------------------------------------------------------------ */

void tb_jsonl_free(tb_jsonl *f) {
    for (long i = 0; i < f->n; i++) json_decref(f->rows[i]);
    tb_free(f->rows);
    tb_free(f->lines);
    tb_free(f->path);
    memset(f, 0, sizeof *f);
}

static void append_row(tb_jsonl *f, json_t *row, int line) {
    if (f->n == f->cap) {
        long cap = f->cap ? 2 * f->cap : 256;
        json_t **rows = tb_malloc((size_t)cap * sizeof *rows);
        int *lines = tb_malloc((size_t)cap * sizeof *lines);
        if (f->n) {
            memcpy(rows, f->rows, (size_t)f->n * sizeof *rows);
            memcpy(lines, f->lines, (size_t)f->n * sizeof *lines);
        }
        tb_free(f->rows);
        tb_free(f->lines);
        f->rows = rows;
        f->lines = lines;
        f->cap = cap;
    }
    f->rows[f->n] = row;
    f->lines[f->n++] = line;
}

static int is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return 0;
    return 1;
}

static int parse_line(tb_jsonl *f, const char *text, size_t len, int line) {
    json_error_t err;
    json_t *row = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!row)
        return TB_ERROR(TB_ERR_FORMAT, "each line must hold one JSON object", "%s:%d:%d: not valid JSON: %s", f->path,
                        line, err.column, err.text);
    if (!json_is_object(row)) {
        json_decref(row);
        return TB_ERROR(TB_ERR_FORMAT, "each line must hold one JSON object ({...})",
                        "%s:%d: the line is not a JSON object", f->path, line);
    }
    append_row(f, row, line);
    return TB_OK;
}

int tb_jsonl_read(const char *path, int required, const char *hint, tb_jsonl *f) {
    memset(f, 0, sizeof *f);
    const size_t n = strlen(path) + 1;
    f->path = memcpy(tb_malloc(n), path, n);
    f->hint = hint;
    FILE *in = fopen(path, "rb");
    if (!in && errno == ENOENT && !required) return TB_OK;
    if (!in)
        return TB_ERROR(TB_ERR_IO, "check the path: the file must exist and be readable", "cannot open %s: %s", path,
                        strerror(errno));
    char *buf = NULL;
    size_t cap = 0;
    ssize_t len;
    int line = 0, rc = TB_OK;
    while (rc == TB_OK && (len = getline(&buf, &cap, in)) >= 0) {
        line++;
        if (!is_blank(buf, (size_t)len)) rc = parse_line(f, buf, (size_t)len, line);
    }
    if (rc == TB_OK && ferror(in))
        rc = TB_ERROR(TB_ERR_IO, "check the file", "cannot read %s: %s", path, strerror(errno));
    free(buf); /* getline's buffer comes from malloc */
    fclose(in);
    return rc;
}

/* ---- fields ------------------------------------------------------------------------------------- */

int tb_jsonl_is_text(const struct json_t *v) {
    return json_is_string(v) && json_string_length(v) > 0 && strlen(json_string_value(v)) == json_string_length(v);
}

static int get_string(const tb_jsonl *f, long row, const char *key, int required, const char **out) {
    TB_ASSERT(row >= 0 && row < f->n);
    const json_t *v = json_object_get(f->rows[row], key);
    *out = NULL;
    if (!v && required)
        return TB_ERROR(TB_ERR_FORMAT, f->hint, "%s:%d: field \"%s\" is missing", f->path, f->lines[row], key);
    if (v && !tb_jsonl_is_text(v))
        return TB_ERROR(TB_ERR_FORMAT, f->hint, "%s:%d: field \"%s\" must be a non-empty string", f->path,
                        f->lines[row], key);
    if (v) *out = json_string_value(v);
    return TB_OK;
}

int tb_jsonl_string(const tb_jsonl *f, long row, const char *key, const char **out) {
    return get_string(f, row, key, 1, out);
}

int tb_jsonl_string_opt(const tb_jsonl *f, long row, const char *key, const char **out) {
    return get_string(f, row, key, 0, out);
}

/* ---- writing ------------------------------------------------------------------------------------ */

int tb_jsonl_create(const char *path, tb_jsonl_writer *w) {
    const size_t n = strlen(path) + 1;
    w->path = memcpy(tb_malloc(n), path, n);
    w->tmp_path = tb_malloc(n + sizeof ".tmp");
    snprintf(w->tmp_path, n + sizeof ".tmp", "%s.tmp", path);
    w->out = fopen(w->tmp_path, "w");
    w->n = 0;
    return w->out ? TB_OK : TB_ERROR(TB_ERR_IO, HINT_WRITE, "cannot create %s: %s", w->tmp_path, strerror(errno));
}

int tb_jsonl_write(tb_jsonl_writer *w, const struct json_t *row) {
    TB_ASSERT(w->out && row);
    if (json_dumpf(row, w->out, 0) != 0 || fputc('\n', w->out) == EOF)
        return TB_ERROR(TB_ERR_IO, HINT_WRITE, "cannot write %s: %s", w->tmp_path, strerror(errno));
    w->n++;
    return TB_OK;
}

int tb_jsonl_finish(tb_jsonl_writer *w, int rc) {
    if (w->out && fclose(w->out) != 0 && rc == TB_OK)
        rc = TB_ERROR(TB_ERR_IO, HINT_WRITE, "cannot write %s: %s", w->tmp_path, strerror(errno));
    if (rc == TB_OK && rename(w->tmp_path, w->path) != 0)
        rc = TB_ERROR(TB_ERR_IO, HINT_WRITE, "cannot rename %s to %s: %s", w->tmp_path, w->path, strerror(errno));
    if (rc != TB_OK) remove(w->tmp_path);
    tb_free(w->tmp_path);
    tb_free(w->path);
    memset(w, 0, sizeof *w);
    return rc;
}

/* ---- holding out a validation part ---------------------------------------------------------------- */

typedef struct {
    uint64_t hash;
    long row;
} hashed_row;

static int cmp_hashed(const void *pa, const void *pb) {
    const hashed_row *a = pa, *b = pb;
    if (a->hash != b->hash) return a->hash < b->hash ? -1 : 1;
    return a->row < b->row ? -1 : a->row > b->row;
}

long tb_jsonl_hold_out(const tb_jsonl *f, const char *key, const char *skip, char *held) {
    hashed_row *order = tb_malloc((size_t)(f->n ? f->n : 1) * sizeof *order);
    long n = 0;
    for (long i = 0; i < f->n; i++)
        if (!skip || !json_is_true(json_object_get(f->rows[i], skip)))
            order[n++] = (hashed_row){tb_rng_stream_id(json_string_value(json_object_get(f->rows[i], key))), i};
    qsort(order, (size_t)n, sizeof *order, cmp_hashed);
    memset(held, 0, (size_t)f->n);
    for (long k = 0; k < n / 10; k++) held[order[k].row] = 1;
    tb_free(order);
    return n / 10;
}
