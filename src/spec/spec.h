/*
 * spec.h: the public face of src/spec: YAML experiment specs, their validation against a
 * workload's schema, and their expansion into points.
 *
 * A spec file is a YAML mapping. The runtime itself knows these top-level keys:
 *   workload         string, required: selects the schema
 *   name             string (default: the file name without .yaml/.yml)
 *   seeds            int >= 0 or list of them (default [0])
 *   ranks_per_point  int >= 1 (0 in tb_spec when absent)
 *   include          path or list of paths, relative to the including file. Included specs are
 *                    merged first, in order, and the including file overrides them: mappings merge
 *                    key by key, lists and scalars replace (so a `zip` replaces an included one).
 *   zip              list of lists of dotted keys whose lists vary together
 * Every other key belongs to the workload. Nested mappings flatten to dotted keys: `train: {lr: 1}`
 * and `train.lr: 1` are the same key.
 *
 * Expansion: every list-valued (sweepable) key is an axis of a grid; a zip group is one axis. Axes
 * are ordered by the first appearance of their keys in the merged spec (included keys first; an
 * override keeps the position of the key it overrides), and the last axis varies fastest. Seeds
 * are the outermost loop: points [k*n_configs, (k+1)*n_configs) are the whole grid with seeds[k], so
 * a sweep stopped early has run every configuration with the first seed.
 *
 * Identity: a point's canonical text is
 *     workload="<workload>"\n seed=<n>\n  then  <key>=<value>\n  for every schema field sorted by key
 * (strcmp), values as tb_spec_format prints them; its hash is FNV-1a 64 of that text. It does not
 * depend on key order, number spelling (1e-3 = 0.001), the spec's name or ranks_per_point.
 *
 * Errors: every error of the spec and its includes is collected (YAML syntax, unknown key with the
 * closest known key, wrong type, out of range, value not allowed, required key missing, list for a
 * non-sweepable key, empty list, duplicate key or sweep value, zip problems, include cycles and
 * unreadable includes), sorted by file and line, and printed to the FILE* the caller gives as
 *     path:line:col: key: message
 *         hint: how to fix it
 * (syntax errors and an empty file have no key). The error record (core.h) holds the first error
 * and "(and N more)".
 */
#ifndef TB_SPEC_H
#define TB_SPEC_H

#include <stdint.h>
#include <stdio.h>

#include "core/core.h"

/* ---- schema: each workload describes its keys in a static array ------------------------------ */

typedef enum { TB_SPEC_INT = 0, TB_SPEC_FLOAT, TB_SPEC_STRING, TB_SPEC_BOOL } tb_spec_type;

typedef struct {
    const char *key;     /* dotted, e.g. "train.lr"; never a runtime key nor a prefix of another key */
    tb_spec_type type;
    const char *def;     /* default, written as in YAML ("3e-4", "true", "ga"); NULL = required */
    const char *range;   /* numbers: an interval such as "[0, 1]", "(0, inf)", "[1, inf)"; NULL = any */
    const char *allowed; /* strings: "ga|npo|simnpo"; NULL = any string */
    int sweepable;       /* 1: a list value makes this key a sweep axis */
    const char *help;    /* one line, shown in hints */
} tb_spec_field;

typedef struct {
    const char *workload; /* the value of `workload:` that selects this schema */
    const tb_spec_field *fields;
    int n_fields;
} tb_spec_schema;

/* An inconsistent schema (bad default, range on a string, duplicate key...) is a programming
 * error: loading a spec against it aborts naming the field. */

/* ---- the loaded spec ------------------------------------------------------------------------- */

typedef struct {
    long i;        /* TB_SPEC_INT, and TB_SPEC_BOOL as 0/1 */
    double f;      /* TB_SPEC_FLOAT */
    const char *s; /* TB_SPEC_STRING, owned by the spec */
} tb_spec_value;

/* One schema field's values in this spec: the single value (given or default), or a sweep. */
typedef struct {
    const tb_spec_field *field;
    tb_spec_value *values; /* n_values, in the order written */
    int n_values;
    int axis;              /* the axis it varies along, -1 when it has one value */
} tb_spec_param;

typedef struct {
    int len;         /* values along the axis */
    long stride;     /* configurations between consecutive values of this axis (last axis: 1) */
    int *fields;     /* schema field indices on this axis: one key, or a zip group in written order */
    int n_fields;
} tb_spec_axis;

typedef struct {
    int id;        /* 0-based, = seed index * n_configs + configuration index */
    long seed;
    uint64_t hash; /* FNV-1a 64 of the point's canonical text (above) */
} tb_spec_point;

typedef struct {
    char *path;                   /* as given to tb_spec_load */
    char *name;
    const tb_spec_schema *schema;
    int ranks_per_point;          /* 0 when the spec does not say */
    long *seeds;
    int n_seeds;
    tb_spec_param *params;        /* schema->n_fields, in schema order */
    tb_spec_axis *axes;
    int n_axes;
    const char **swept;           /* n_swept keys that vary, axis by axis (results columns) */
    int n_swept;
    long n_configs;               /* product of the axis lengths */
    int n_points;                 /* n_seeds * n_configs, at most TB_SPEC_MAX_POINTS */
    tb_spec_point *points;
    char *yaml;                   /* the top file's text as read (includes are not inlined) */
    char *canonical;              /* the expanded spec (workload, seeds, axes, every field's value or
                                     sweep) as text, to store and compare on resume */
    struct tb_spec_impl *impl;    /* private: memory and key order */
} tb_spec;

#define TB_SPEC_MAX_POINTS 100000 /* a larger sweep is an error (it would also take too long to hash) */
#define TB_SPEC_MAX_REPORTED 20   /* errors printed; the rest are counted */

/* Reads, validates and expands the spec at path against the schema named by its `workload`.
 * Returns TB_ERR_IO when the file cannot be read, TB_ERR_ARG when the spec has errors (each printed
 * to errs unless errs is NULL), TB_OK otherwise. On failure *s is left empty (tb_spec_free is
 * still safe). */
int tb_spec_load(tb_spec *s, const char *path, const tb_spec_schema *const *schemas, int n_schemas,
                 FILE *errs);
void tb_spec_free(tb_spec *s);

/* ---- points ---------------------------------------------------------------------------------- */

/* The schema field for key, or NULL when the workload has no such key. */
const tb_spec_field *tb_spec_find(const tb_spec *s, const char *key);

/* Point p's value of key. An unknown key or a type that is not the field's aborts (TB_ASSERT):
 * the caller's keys come from the same workload's schema. */
long tb_spec_int(const tb_spec *s, int p, const char *key);
double tb_spec_float(const tb_spec *s, int p, const char *key);
const char *tb_spec_string(const tb_spec *s, int p, const char *key);
int tb_spec_bool(const tb_spec *s, int p, const char *key);

/* Point p's value of key as canonical text (ints %ld, floats %.17g, bools true/false, strings
 * quoted with \\ \" \n escaped) into buf; returns the length it needs, as snprintf does. */
int tb_spec_format(const tb_spec *s, int p, const char *key, char *buf, size_t cap);

/* The hash of point p restricted to the keys starting with one of prefixes (e.g. {"data.",
 * "model."}) plus the workload, without the seed: equal for every point that shares the
 * configuration of those keys, so it can key a shared stage's cache. */
uint64_t tb_spec_hash_keys(const tb_spec *s, int p, const char *const *prefixes, int n_prefixes);

/* One row per point (id, seed, each swept key, hash) under a header line, for `run --dry-run`. */
void tb_spec_print_points(FILE *f, const tb_spec *s);

#endif
