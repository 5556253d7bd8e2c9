/*
 * spec_internal.h: what the files of src/spec share (not part of the public API).
 *   arena.c     one memory arena per spec: everything a spec owns is released at once
 *   diag.c      the list of errors with their file:line:col, printing, edit distance
 *   parse.c     YAML files (and their includes) -> one merged, flattened document
 *   validate.c  merged document + schema -> typed parameters and sweep axes
 *   expand.c    axes x seeds -> points, their hashes and the canonical text
 *   points.c    accessors of a point's values and the points table
 *   load.c      tb_spec_load / tb_spec_free: the steps above in order
 */
#ifndef TB_SPEC_INTERNAL_H
#define TB_SPEC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "spec.h"

/* ---- arena.c --------------------------------------------------------------------------------- */

typedef struct spec_block spec_block;

typedef struct {
    spec_block *head;
} spec_arena;

void *spec_alloc(spec_arena *a, size_t bytes); /* zeroed, never NULL */
char *spec_strndup(spec_arena *a, const char *s, size_t n);
char *spec_strdup(spec_arena *a, const char *s);
char *spec_printf(spec_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns items with room for at least n + 1 elements of elem bytes, growing *cap. */
void *spec_grow(spec_arena *a, void *items, size_t elem, int n, int *cap);
void spec_arena_release(spec_arena *a);

/* A growing text in the arena. */
typedef struct {
    spec_arena *arena;
    char *buf;
    size_t len, cap;
} spec_text;

void spec_text_append(spec_text *t, const char *s, size_t n);
void spec_text_printf(spec_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

struct tb_spec_impl {
    spec_arena arena;
    int *key_order; /* schema field indices sorted by key */
};

/* ---- diag.c ---------------------------------------------------------------------------------- */

typedef struct {
    const char *file; /* as displayed: the path given, or the include path joined to its parent's */
    int line, col;    /* 1-based */
} spec_loc;

typedef struct {
    spec_loc at;
    const char *text; /* "file:line:col: key: message" */
    const char *hint;
} spec_diag;

typedef struct {
    spec_arena *arena;
    spec_diag *items;
    int n, cap;
} spec_diags;

/* Records one error at `at` about key (NULL when the error concerns no key). */
void spec_error(spec_diags *d, spec_loc at, const char *key, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* TB_OK when nothing was recorded; otherwise sorts the errors (by file, in order of first
 * mention, then line and column), prints them to errs (if not NULL) and returns TB_ERR_ARG with the
 * first error and the count of the others in the error record. */
int spec_errors_report(spec_diags *d, FILE *errs);

/* The shortest %g form of x that reads back as x (0.1, not 0.10000000000000001): for people;
 * canonical texts use %.17g. */
void spec_format_double(char *buf, size_t n, double x);

/* Optimal string alignment distance (edits: insert, delete, substitute, swap two neighbours). */
int spec_edit_distance(const char *a, const char *b);
/* The candidate closest to word when it is close enough to be a likely typo, else NULL. */
const char *spec_closest(const char *word, const char *const *candidates, int n);

/* ---- parse.c --------------------------------------------------------------------------------- */

typedef struct {
    const char *text;
    spec_loc at;
    int is_null; /* a plain empty scalar, ~ or null: no value was written */
} spec_scalar;

typedef struct {
    const char *key; /* dotted */
    spec_loc key_at, value_at;
    int is_list;
    spec_scalar *items; /* one item for a scalar value */
    int n_items;
} spec_entry;

typedef struct {
    spec_scalar *keys;
    int n_keys;
    spec_loc at;
} spec_zip;

typedef struct {
    spec_entry *entries; /* in order of first appearance */
    int n_entries, cap_entries;
    spec_zip *zips;
    int n_zips;
    int has_zip;
    spec_loc root_at;    /* where the top file's mapping starts: errors about absent keys go here */
    int complete;        /* 0 when a file could not be read or parsed: absent keys may be its fault */
    const char *yaml;    /* the top file's text */
} spec_doc;

/* Reads path and its includes into doc. TB_ERR_IO when path itself cannot be read; every other
 * problem is recorded in d. */
int spec_read(spec_doc *doc, const char *path, spec_arena *a, spec_diags *d);

/* ---- validate.c ------------------------------------------------------------------------------ */

extern const char *const spec_type_names[]; /* "int", "float", "string", "bool" */

/* Fills s (schema, name, seeds, ranks_per_point, params, axes, swept, n_configs, n_points) from
 * doc, recording every problem in d. */
void spec_validate(tb_spec *s, const spec_doc *doc, const tb_spec_schema *const *schemas, int n_schemas,
                   spec_diags *d);

/* ---- expand.c -------------------------------------------------------------------------------- */

/* Where canonical text goes: always into a running FNV-1a 64 hash, and also into a growing text
 * and/or a fixed buffer (truncated; len counts everything) when they are set. One writer for the
 * hash and the text keeps the two from ever disagreeing. */
typedef struct {
    uint64_t hash;
    spec_text *text;
    char *buf;
    size_t cap, len;
} spec_sink;

spec_sink spec_sink_make(spec_text *text, char *buf, size_t cap);
void spec_emit(spec_sink *k, const char *s, size_t n);
/* ints %ld, floats %.17g, bools true/false, strings quoted with \\ \" \n escaped */
void spec_emit_value(spec_sink *k, tb_spec_type t, const tb_spec_value *v);
/* The point's canonical text: workload="w"\n, seed=n\n (when with_seed), then key=value\n for every
 * field in key order, or only those whose key starts with one of prefixes (when prefixes). */
void spec_emit_point(spec_sink *k, const tb_spec *s, int p, const char *const *prefixes, int n_prefixes,
                     int with_seed);
/* Schema field index of key (binary search in key order), or -1. */
int spec_field_index(const tb_spec *s, const char *key);
const tb_spec_value *spec_value_of(const tb_spec *s, int p, int f);

/* Sorts the keys, fills s->points (seeds, hashes) and s->canonical; s was validated without errors. */
void spec_expand(tb_spec *s);

#endif
