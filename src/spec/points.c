/* points.c: reading a point's values, and the points table of `run --dry-run`. */
#include <string.h>

#include "spec_internal.h"

#define CELL_MAX 48 /* longer strings are cut in the table (never in canonical text) */

/* The field of key for point p. Keys come from the same workload's code, so an unknown key, or
 * one read as another type, is a programming error. */
static int field_of(const tb_spec *s, int p, const char *key) {
    TB_ASSERT(s->schema && p >= 0 && p < s->n_points);
    int f = spec_field_index(s, key);
    if (f < 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "spec key '%s' is not in the schema of workload '%s'", key, s->schema->workload);
        tb_abort(__FILE__, __LINE__, msg);
    }
    return f;
}

static int field_typed(const tb_spec *s, int p, const char *key, tb_spec_type want) {
    int f = field_of(s, p, key);
    if (s->schema->fields[f].type != want) {
        char msg[256];
        snprintf(msg, sizeof msg, "spec key '%s' is a %s, read as a %s", key,
                 spec_type_names[s->schema->fields[f].type], spec_type_names[want]);
        tb_abort(__FILE__, __LINE__, msg);
    }
    return f;
}

const tb_spec_field *tb_spec_find(const tb_spec *s, const char *key) {
    TB_ASSERT(s->schema);
    int f = spec_field_index(s, key);
    return f < 0 ? NULL : &s->schema->fields[f];
}

long tb_spec_int(const tb_spec *s, int p, const char *key) {
    return spec_value_of(s, p, field_typed(s, p, key, TB_SPEC_INT))->i;
}

double tb_spec_float(const tb_spec *s, int p, const char *key) {
    return spec_value_of(s, p, field_typed(s, p, key, TB_SPEC_FLOAT))->f;
}

const char *tb_spec_string(const tb_spec *s, int p, const char *key) {
    return spec_value_of(s, p, field_typed(s, p, key, TB_SPEC_STRING))->s;
}

int tb_spec_bool(const tb_spec *s, int p, const char *key) {
    return (int)spec_value_of(s, p, field_typed(s, p, key, TB_SPEC_BOOL))->i;
}

int tb_spec_format(const tb_spec *s, int p, const char *key, char *buf, size_t cap) {
    int f = field_of(s, p, key);
    spec_sink k = spec_sink_make(NULL, buf, cap);
    spec_emit_value(&k, s->schema->fields[f].type, spec_value_of(s, p, f));
    return (int)k.len;
}

uint64_t tb_spec_hash_keys(const tb_spec *s, int p, const char *const *prefixes, int n_prefixes) {
    TB_ASSERT(s->schema && p >= 0 && p < s->n_points && prefixes && n_prefixes > 0);
    spec_sink k = spec_sink_make(NULL, NULL, 0);
    spec_emit_point(&k, s, p, prefixes, n_prefixes, 0);
    return k.hash;
}

/* ---- the table ---------------------------------------------------------------------------------- */

/* A value for people: floats as short as they read back exactly, strings unquoted and cut. */
static void cell_text(const tb_spec *s, int p, int f, char *buf, size_t n) {
    const tb_spec_value *v = spec_value_of(s, p, f);
    switch (s->schema->fields[f].type) {
    case TB_SPEC_INT: snprintf(buf, n, "%ld", v->i); break;
    case TB_SPEC_FLOAT: spec_format_double(buf, n, v->f); break;
    case TB_SPEC_BOOL: snprintf(buf, n, "%s", v->i ? "true" : "false"); break;
    case TB_SPEC_STRING:
        if (strlen(v->s) > CELL_MAX)
            snprintf(buf, n, "%.*s...", CELL_MAX - 3, v->s);
        else
            snprintf(buf, n, "%s", v->s);
        break;
    }
}

static int is_number(const tb_spec *s, int f) {
    tb_spec_type t = s->schema->fields[f].type;
    return t == TB_SPEC_INT || t == TB_SPEC_FLOAT;
}

static int swept_field(const tb_spec *s, int c) { return spec_field_index(s, s->swept[c]); }

void tb_spec_print_points(FILE *out, const tb_spec *s) {
    char cell[CELL_MAX + 8];
    int w_id = 2, w_seed = 4, n = s->n_swept;
    int *width = tb_malloc(sizeof *width * (size_t)(n ? n : 1));
    for (int c = 0; c < n; c++) width[c] = (int)strlen(s->swept[c]);
    for (int p = 0; p < s->n_points; p++) {
        int len = snprintf(cell, sizeof cell, "%d", p);
        if (len > w_id) w_id = len;
        len = snprintf(cell, sizeof cell, "%ld", s->points[p].seed);
        if (len > w_seed) w_seed = len;
        for (int c = 0; c < n; c++) {
            cell_text(s, p, swept_field(s, c), cell, sizeof cell);
            if ((int)strlen(cell) > width[c]) width[c] = (int)strlen(cell);
        }
    }
    fprintf(out, "spec %s (workload %s): %d point%s = %d seed%s x %ld configuration%s\n", s->name,
            s->schema->workload, s->n_points, s->n_points == 1 ? "" : "s", s->n_seeds, s->n_seeds == 1 ? "" : "s",
            s->n_configs, s->n_configs == 1 ? "" : "s");
    fprintf(out, "%*s  %*s", w_id, "id", w_seed, "seed");
    for (int c = 0; c < n; c++)
        fprintf(out, "  %*s", is_number(s, swept_field(s, c)) ? width[c] : -width[c], s->swept[c]);
    fprintf(out, "  hash\n");
    for (int p = 0; p < s->n_points; p++) {
        fprintf(out, "%*d  %*ld", w_id, p, w_seed, s->points[p].seed);
        for (int c = 0; c < n; c++) {
            int f = swept_field(s, c);
            cell_text(s, p, f, cell, sizeof cell);
            fprintf(out, "  %*s", is_number(s, f) ? width[c] : -width[c], cell);
        }
        fprintf(out, "  %016llx\n", (unsigned long long)s->points[p].hash);
    }
    tb_free(width);
}
