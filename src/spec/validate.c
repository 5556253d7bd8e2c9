/* validate.c: the merged document checked against the workload's schema, and turned into typed
 * parameters and sweep axes. Every problem is recorded (none stops the others being found), with
 * the place of the offending key or value and a hint that says how to fix it. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "spec_internal.h"

static const char *const RUNTIME_KEYS[] = {"workload", "name", "seeds", "ranks_per_point", "include", "zip"};
enum { RT_WORKLOAD, RT_NAME, RT_SEEDS, RT_RANKS, N_RUNTIME_ENTRIES = 4, N_RUNTIME_KEYS = 6 };

const char *const spec_type_names[] = {"int", "float", "string", "bool"};

/* How the document uses one schema field. */
typedef struct {
    const spec_entry *entry; /* NULL when the spec does not give it */
    int order;               /* the entry's position in the merged document */
    int group;               /* its zip group, -1 when none */
} field_use;

typedef struct {
    char msg[256];
    char hint[512];
} problem;

/* ---- intervals: "[0, 1]", "(0, inf)" ------------------------------------------------------------ */

typedef struct {
    double lo, hi;
    int lo_open, hi_open;
} interval;

static const char *skip_spaces(const char *p) {
    while (*p == ' ') p++;
    return p;
}

static int parse_interval(const char *text, interval *iv) {
    const char *p = skip_spaces(text);
    char *end;
    if (*p != '[' && *p != '(') return 0;
    iv->lo_open = *p++ == '(';
    iv->lo = strtod(p, &end);
    if (end == p) return 0;
    p = skip_spaces(end);
    if (*p++ != ',') return 0;
    iv->hi = strtod(p, &end);
    if (end == p) return 0;
    p = skip_spaces(end);
    if (*p != ']' && *p != ')') return 0;
    iv->hi_open = *p++ == ')';
    return *skip_spaces(p) == '\0' && iv->lo <= iv->hi;
}

static int in_interval(const interval *iv, double x) {
    if (iv->lo_open ? !(x > iv->lo) : !(x >= iv->lo)) return 0;
    if (iv->hi_open ? !(x < iv->hi) : !(x <= iv->hi)) return 0;
    return 1;
}

/* "> 0 and <= 1", ">= 1" */
static void describe_interval(const interval *iv, char *buf, size_t n) {
    char lo[64] = "", hi[64] = "", num[32];
    if (isfinite(iv->lo)) {
        spec_format_double(num, sizeof num, iv->lo);
        snprintf(lo, sizeof lo, "%s %s", iv->lo_open ? ">" : ">=", num);
    }
    if (isfinite(iv->hi)) {
        spec_format_double(num, sizeof num, iv->hi);
        snprintf(hi, sizeof hi, "%s %s", iv->hi_open ? "<" : "<=", num);
    }
    snprintf(buf, n, "%s%s%s", lo, lo[0] && hi[0] ? " and " : "", hi);
}

/* ---- values ------------------------------------------------------------------------------------- */

static int allowed_contains(const char *allowed, const char *s) {
    size_t n = strlen(s);
    for (const char *p = allowed;;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, s, n)) return 1;
        if (!bar) return 0;
        p = bar + 1;
    }
}

/* The allowed value closest to s, into buf, when it is close enough to be a typo. */
static int allowed_closest(const char *allowed, const char *s, char *buf, size_t n) {
    char opt[256];
    int limit = (int)strlen(s) / 3 > 2 ? (int)strlen(s) / 3 : 2, best = limit + 1;
    for (const char *p = allowed;;) {
        const char *bar = strchr(p, '|');
        snprintf(opt, sizeof opt, "%.*s", bar ? (int)(bar - p) : (int)strlen(p), p);
        int dist = spec_edit_distance(s, opt);
        if (dist < best) {
            best = dist;
            snprintf(buf, n, "%s", opt);
        }
        if (!bar) return best <= limit;
        p = bar + 1;
    }
}

static int parse_typed(const tb_spec_field *f, const char *text, tb_spec_value *v, problem *pr) {
    char *end;
    switch (f->type) {
    case TB_SPEC_INT:
        errno = 0;
        v->i = strtol(text, &end, 10);
        if (end == text || *end || isspace((unsigned char)text[0])) {
            snprintf(pr->msg, sizeof pr->msg, "expected an integer, got '%.40s'", text);
            snprintf(pr->hint, sizeof pr->hint, "write a whole number such as 10 (%s: %s)", f->key, f->help);
            return 0;
        }
        if (errno == ERANGE) {
            snprintf(pr->msg, sizeof pr->msg, "integer '%.40s' is too large", text);
            snprintf(pr->hint, sizeof pr->hint, "integers must fit in 64 bits");
            return 0;
        }
        return 1;
    case TB_SPEC_FLOAT:
        v->f = strtod(text, &end);
        if (end == text || *end || isspace((unsigned char)text[0])) {
            snprintf(pr->msg, sizeof pr->msg, "expected a float, got '%.40s'", text);
            snprintf(pr->hint, sizeof pr->hint, "write a number such as 0.001 or 1e-3 (%s: %s)", f->key, f->help);
            return 0;
        }
        if (!isfinite(v->f)) {
            snprintf(pr->msg, sizeof pr->msg, "expected a finite float, got '%.40s'", text);
            snprintf(pr->hint, sizeof pr->hint, "infinities and NaN are not valid settings");
            return 0;
        }
        if (v->f == 0.0) v->f = 0.0; /* -0 and 0 are one configuration */
        return 1;
    case TB_SPEC_BOOL:
        if (!strcasecmp(text, "true") || !strcasecmp(text, "yes") || !strcasecmp(text, "on")) {
            v->i = 1;
            return 1;
        }
        if (!strcasecmp(text, "false") || !strcasecmp(text, "no") || !strcasecmp(text, "off")) {
            v->i = 0;
            return 1;
        }
        snprintf(pr->msg, sizeof pr->msg, "expected true or false, got '%.40s'", text);
        snprintf(pr->hint, sizeof pr->hint, "write true or false (%s: %s)", f->key, f->help);
        return 0;
    case TB_SPEC_STRING:
        v->s = text;
        return 1;
    }
    TB_ASSERT(!"unknown field type");
    return 0;
}

static int check_constraints(const tb_spec_field *f, const char *text, const tb_spec_value *v, problem *pr) {
    if (f->range && (f->type == TB_SPEC_INT || f->type == TB_SPEC_FLOAT)) {
        interval iv;
        TB_ASSERT(parse_interval(f->range, &iv));
        double x = f->type == TB_SPEC_INT ? (double)v->i : v->f;
        if (!in_interval(&iv, x)) {
            char desc[160];
            describe_interval(&iv, desc, sizeof desc);
            snprintf(pr->msg, sizeof pr->msg, "%.40s is out of range: it must be %s", text, desc);
            snprintf(pr->hint, sizeof pr->hint, "use a value in %s (%s: %s)", f->range, f->key, f->help);
            return 0;
        }
    }
    if (f->allowed && f->type == TB_SPEC_STRING && !allowed_contains(f->allowed, v->s)) {
        char near[256];
        snprintf(pr->msg, sizeof pr->msg, "'%.40s' is not one of %s", text, f->allowed);
        if (allowed_closest(f->allowed, v->s, near, sizeof near))
            snprintf(pr->hint, sizeof pr->hint, "did you mean '%s'? (%s: %s)", near, f->key, f->help);
        else
            snprintf(pr->hint, sizeof pr->hint, "use one of %s (%s: %s)", f->allowed, f->key, f->help);
        return 0;
    }
    return 1;
}

static int parse_value(const tb_spec_field *f, const char *text, tb_spec_value *v, problem *pr) {
    return parse_typed(f, text, v, pr) && check_constraints(f, text, v, pr);
}

static int values_equal(tb_spec_type t, const tb_spec_value *a, const tb_spec_value *b) {
    switch (t) {
    case TB_SPEC_FLOAT: return a->f == b->f;
    case TB_SPEC_STRING: return !strcmp(a->s, b->s);
    default: return a->i == b->i;
    }
}

/* ---- the schema itself (a programming error aborts) --------------------------------------------- */

static _Noreturn void schema_broken(const tb_spec_schema *sc, const tb_spec_field *f, const char *why) {
    char msg[512];
    snprintf(msg, sizeof msg, "schema of workload '%s', field '%s': %s", sc->workload, f->key, why);
    tb_abort(__FILE__, __LINE__, msg);
}

static void check_schema(const tb_spec_schema *sc) {
    TB_ASSERT(sc->workload && sc->n_fields >= 0 && (sc->fields || sc->n_fields == 0));
    for (int i = 0; i < sc->n_fields; i++) {
        const tb_spec_field *f = &sc->fields[i];
        if (!f->key || !f->key[0]) schema_broken(sc, f, "empty key");
        if (!f->help) schema_broken(sc, f, "no help line");
        for (int r = 0; r < N_RUNTIME_KEYS; r++)
            if (!strcmp(f->key, RUNTIME_KEYS[r])) schema_broken(sc, f, "the runtime owns this key");
        for (int j = 0; j < i; j++) {
            const char *k = sc->fields[j].key;
            size_t lk = strlen(k), lf = strlen(f->key);
            if (!strcmp(k, f->key)) schema_broken(sc, f, "given twice");
            if ((lk < lf && !strncmp(k, f->key, lk) && f->key[lk] == '.') ||
                (lf < lk && !strncmp(k, f->key, lf) && k[lf] == '.'))
                schema_broken(sc, f, "a key is both a value and a group of keys");
        }
        interval iv;
        if (f->range && (f->type == TB_SPEC_STRING || f->type == TB_SPEC_BOOL))
            schema_broken(sc, f, "a range on a non-number");
        if (f->range && !parse_interval(f->range, &iv)) schema_broken(sc, f, "malformed range");
        if (f->allowed && (f->type != TB_SPEC_STRING || !f->allowed[0]))
            schema_broken(sc, f, "allowed values on a non-string, or empty");
        tb_spec_value v;
        problem pr;
        if (f->def && !parse_value(f, f->def, &v, &pr)) schema_broken(sc, f, "its default is not valid");
    }
}

static int field_index(const tb_spec_schema *sc, const char *key) {
    for (int i = 0; i < sc->n_fields; i++)
        if (!strcmp(sc->fields[i].key, key)) return i;
    return -1;
}

/* ---- runtime keys ------------------------------------------------------------------------------- */

/* The single value of a runtime entry, or NULL (and an error) when it is a list or empty. */
static const spec_scalar *single_value(const spec_entry *e, const char *what, spec_diags *d) {
    if (e->is_list || e->items[0].is_null) {
        spec_error(d, e->value_at, e->key, spec_printf(d->arena, "write `%s: <value>` with %s", e->key, what),
                   "takes %s", what);
        return NULL;
    }
    return &e->items[0];
}

static const char *known_workloads(spec_arena *a, const tb_spec_schema *const *schemas, int n) {
    spec_text t = {.arena = a};
    spec_text_append(&t, "", 0);
    for (int i = 0; i < n; i++) spec_text_printf(&t, "%s%s", i ? ", " : "", schemas[i]->workload);
    return t.buf;
}

static const tb_spec_schema *select_schema(const spec_doc *doc, const spec_entry *e,
                                           const tb_spec_schema *const *schemas, int n, spec_arena *a,
                                           spec_diags *d) {
    const char *known = known_workloads(a, schemas, n);
    if (!e) {
        if (doc->complete)
            spec_error(d, doc->root_at, "workload", spec_printf(a, "add `workload: <name>`; known: %s", known),
                       "required key is missing");
        return NULL;
    }
    const spec_scalar *v = single_value(e, "one workload name", d);
    if (!v) return NULL;
    for (int i = 0; i < n; i++)
        if (!strcmp(schemas[i]->workload, v->text)) return schemas[i];
    const char **names = spec_alloc(a, sizeof *names * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) names[i] = schemas[i]->workload;
    const char *near = spec_closest(v->text, names, n);
    spec_error(d, v->at, "workload",
               near ? spec_printf(a, "did you mean '%s'?", near) : spec_printf(a, "known workloads: %s", known),
               "unknown workload '%.40s'", v->text);
    return NULL;
}

static void read_name(tb_spec *s, const spec_entry *e, const char *path, spec_diags *d) {
    spec_arena *a = &s->impl->arena;
    const spec_scalar *v = e ? single_value(e, "one name", d) : NULL;
    if (v) {
        s->name = spec_strdup(a, v->text);
        return;
    }
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    size_t n = strlen(base);
    if (n > 5 && !strcmp(base + n - 5, ".yaml")) n -= 5;
    else if (n > 4 && !strcmp(base + n - 4, ".yml")) n -= 4;
    s->name = spec_strndup(a, base, n);
}

/* A non-negative (or positive) integer of a runtime key; 0 and an error when it is not. */
static int read_count(const spec_scalar *v, const char *key, long min, long *out, spec_diags *d) {
    char *end;
    errno = 0;
    long x = strtol(v->text, &end, 10);
    if (v->is_null || end == v->text || *end || errno == ERANGE || x < min) {
        spec_error(d, v->at, key, spec_printf(d->arena, "write a whole number >= %ld", min),
                   "expected an integer >= %ld, got '%.40s'", min, v->text);
        return 0;
    }
    *out = x;
    return 1;
}

static void read_seeds(tb_spec *s, const spec_entry *e, spec_diags *d) {
    static const char hint[] = "write `seeds: 0` or `seeds: [0, 1, 2]`";
    spec_arena *a = &s->impl->arena;
    if (!e) {
        s->seeds = spec_alloc(a, sizeof *s->seeds);
        s->n_seeds = 1;
        return;
    }
    if (e->n_items == 0) {
        spec_error(d, e->value_at, "seeds", hint, "empty list: at least one seed is needed");
        return;
    }
    s->seeds = spec_alloc(a, sizeof *s->seeds * (size_t)e->n_items);
    for (int i = 0; i < e->n_items; i++) {
        long x;
        if (!read_count(&e->items[i], "seeds", 0, &x, d)) continue;
        for (int j = 0; j < s->n_seeds; j++)
            if (s->seeds[j] == x) {
                spec_error(d, e->items[i].at, "seeds", "each seed is listed once", "seed %ld appears twice", x);
                x = -1;
                break;
            }
        if (x >= 0) s->seeds[s->n_seeds++] = x;
    }
}

static void read_ranks(tb_spec *s, const spec_entry *e, spec_diags *d) {
    const spec_scalar *v = e ? single_value(e, "one integer >= 1", d) : NULL;
    long x;
    if (v && read_count(v, "ranks_per_point", 1, &x, d)) {
        if (x > 1 << 20)
            spec_error(d, v->at, "ranks_per_point", "use at most the number of MPI ranks of the run",
                       "%ld ranks per point is more than any machine has", x);
        else
            s->ranks_per_point = (int)x;
    }
}

/* ---- workload keys ------------------------------------------------------------------------------ */

/* The schema keys (and runtime keys) a misspelt key is compared with; or those under a prefix. */
static void unknown_key(const tb_spec_schema *sc, const spec_entry *e, spec_arena *a, spec_diags *d) {
    size_t lk = strlen(e->key);
    for (int i = 0; i < sc->n_fields; i++) {
        const char *k = sc->fields[i].key;
        if (!strncmp(k, e->key, lk) && k[lk] == '.') {
            spec_error(d, e->key_at, e->key,
                       spec_printf(a, "write the keys of the group beneath it, such as %s", k),
                       "is a group of keys, not a value");
            return;
        }
    }
    const char **names = spec_alloc(a, sizeof *names * (size_t)(sc->n_fields + N_RUNTIME_KEYS));
    for (int i = 0; i < sc->n_fields; i++) names[i] = sc->fields[i].key;
    for (int i = 0; i < N_RUNTIME_KEYS; i++) names[sc->n_fields + i] = RUNTIME_KEYS[i];
    const char *near = spec_closest(e->key, names, sc->n_fields + N_RUNTIME_KEYS);
    const char *hint;
    if (near) {
        hint = spec_printf(a, "did you mean '%s'?", near);
    } else {
        spec_text t = {.arena = a};
        spec_text_printf(&t, "the keys of workload '%s' are:", sc->workload);
        for (int i = 0; i < sc->n_fields && i < 12; i++) spec_text_printf(&t, " %s", sc->fields[i].key);
        if (sc->n_fields > 12) spec_text_printf(&t, " ... (%d in all)", sc->n_fields);
        hint = t.buf;
    }
    spec_error(d, e->key_at, e->key, hint, "unknown key for workload '%s'", sc->workload);
}

static void read_param(tb_spec_param *pa, const tb_spec_field *f, const spec_entry *e, spec_arena *a,
                       spec_diags *d) {
    pa->field = f;
    pa->axis = -1;
    if (e->is_list && !f->sweepable) {
        spec_error(d, e->value_at, e->key, spec_printf(a, "%s cannot be swept: give one value (%s)", f->key, f->help),
                   "takes a single value, not a list");
        return;
    }
    if (e->is_list && e->n_items == 0) {
        spec_error(d, e->value_at, e->key, "a sweep needs at least one value; remove the key to use the default",
                   "empty list");
        return;
    }
    pa->values = spec_alloc(a, sizeof *pa->values * (size_t)e->n_items);
    for (int i = 0; i < e->n_items; i++) {
        const spec_scalar *it = &e->items[i];
        tb_spec_value v = {0};
        problem pr;
        if (it->is_null) {
            spec_error(d, it->at, e->key,
                       f->def ? spec_printf(a, "write a value, or remove the key to use the default '%s'", f->def)
                              : spec_printf(a, "write a %s (%s)", spec_type_names[f->type], f->help),
                       "no value given");
            continue;
        }
        if (!parse_value(f, it->text, &v, &pr)) {
            spec_error(d, it->at, e->key, pr.hint, "%s", pr.msg);
            continue;
        }
        int dup = 0;
        for (int j = 0; j < pa->n_values && !dup; j++) dup = values_equal(f->type, &pa->values[j], &v);
        if (dup) {
            spec_error(d, it->at, e->key, "each value of a sweep is listed once",
                       "value '%.40s' appears twice in the sweep", it->text);
            continue;
        }
        pa->values[pa->n_values++] = v;
    }
}

static void fill_default(tb_spec_param *pa, const tb_spec_field *f, const spec_doc *doc, spec_arena *a,
                         spec_diags *d) {
    pa->field = f;
    pa->axis = -1;
    if (!f->def) {
        if (doc->complete)
            spec_error(d, doc->root_at, f->key,
                       spec_printf(a, "add `%s: <%s>` (%s)", f->key, spec_type_names[f->type], f->help),
                       "required key is missing");
        return;
    }
    problem pr;
    pa->values = spec_alloc(a, sizeof *pa->values);
    TB_ASSERT(parse_value(f, f->def, &pa->values[0], &pr)); /* check_schema proved it */
    pa->n_values = 1;
}

/* ---- zip groups and axes ------------------------------------------------------------------------ */

static void read_zip_groups(const tb_spec_schema *sc, const spec_doc *doc, field_use *use, spec_arena *a,
                            spec_diags *d) {
    for (int g = 0; g < doc->n_zips; g++) {
        const spec_zip *z = &doc->zips[g];
        int first = -1, lengths_differ = 0;
        for (int k = 0; k < z->n_keys; k++) {
            const spec_scalar *key = &z->keys[k];
            int f = field_index(sc, key->text);
            if (f < 0) {
                const char **names = spec_alloc(a, sizeof *names * (size_t)(sc->n_fields ? sc->n_fields : 1));
                for (int i = 0; i < sc->n_fields; i++) names[i] = sc->fields[i].key;
                const char *near = spec_closest(key->text, names, sc->n_fields);
                spec_error(d, key->at, "zip",
                           near ? spec_printf(a, "did you mean '%s'?", near)
                                : "a zip group lists keys of the workload that the spec gives as lists",
                           "unknown key '%.60s' in a zip group", key->text);
                continue;
            }
            if (!use[f].entry || !use[f].entry->is_list) {
                spec_error(d, key->at, key->text,
                           "give it a list of values as long as the other lists of its group",
                           "is in a zip group but is not a list");
                continue;
            }
            if (use[f].group == g) {
                spec_error(d, key->at, key->text, "list each key of a zip group once", "is twice in one zip group");
                continue;
            }
            if (use[f].group >= 0) {
                spec_error(d, key->at, key->text, "a key varies along one axis only: keep it in one group",
                           "is in two zip groups");
                continue;
            }
            use[f].group = g;
            if (first < 0)
                first = f;
            else if (use[f].entry->n_items != use[first].entry->n_items)
                lengths_differ = 1;
        }
        if (lengths_differ) {
            spec_text t = {.arena = a};
            for (int k = 0; k < z->n_keys; k++) {
                int f = field_index(sc, z->keys[k].text);
                if (f >= 0 && use[f].group == g)
                    spec_text_printf(&t, "%s%s has %d", t.len ? ", " : "", sc->fields[f].key, use[f].entry->n_items);
            }
            spec_error(d, z->at, "zip", "zipped lists vary together, so they need the same number of values",
                       "the lists of a zip group differ in length: %s", t.buf);
        }
    }
}

static void add_axis(tb_spec *s, const int *fields, int n_fields, int len) {
    spec_arena *a = &s->impl->arena;
    tb_spec_axis *ax = &s->axes[s->n_axes];
    ax->len = len;
    ax->fields = spec_alloc(a, sizeof *ax->fields * (size_t)n_fields);
    memcpy(ax->fields, fields, sizeof *fields * (size_t)n_fields);
    ax->n_fields = n_fields;
    for (int i = 0; i < n_fields; i++) s->params[fields[i]].axis = s->n_axes;
    s->n_axes++;
}

/* Axes in order of first appearance; a zip group is one axis, placed at its earliest key. */
static void build_axes(tb_spec *s, const spec_doc *doc, const field_use *use) {
    spec_arena *a = &s->impl->arena;
    int nf = s->schema->n_fields;
    int *by_order = spec_alloc(a, sizeof *by_order * (size_t)(doc->n_entries ? doc->n_entries : 1));
    for (int i = 0; i < doc->n_entries; i++) by_order[i] = -1;
    for (int f = 0; f < nf; f++)
        if (use[f].entry && use[f].entry->is_list) by_order[use[f].order] = f;
    s->axes = spec_alloc(a, sizeof *s->axes * (size_t)(nf ? nf : 1));
    int *group_fields = spec_alloc(a, sizeof *group_fields * (size_t)(nf ? nf : 1));
    for (int i = 0; i < doc->n_entries; i++) {
        int f = by_order[i];
        if (f < 0 || s->params[f].axis >= 0) continue;
        int g = use[f].group;
        if (g < 0) {
            add_axis(s, &f, 1, s->params[f].n_values);
            continue;
        }
        const spec_zip *z = &doc->zips[g];
        for (int k = 0; k < z->n_keys; k++) group_fields[k] = field_index(s->schema, z->keys[k].text);
        add_axis(s, group_fields, z->n_keys, s->params[f].n_values);
    }
}

/* Strides, the number of configurations and points, and the swept keys; an error when the sweep
 * is larger than the runtime accepts. */
static void count_points(tb_spec *s, spec_loc at, spec_diags *d) {
    double total = s->n_seeds; /* a double cannot overflow here: the limit is checked on it */
    for (int x = 0; x < s->n_axes; x++) total *= s->axes[x].len;
    if (total > TB_SPEC_MAX_POINTS) {
        spec_error(d, at, NULL, "shorten the lists, zip keys that vary together, or split the spec",
                   "the sweep expands to %.0f points, more than the limit of %d", total, TB_SPEC_MAX_POINTS);
        return;
    }
    long stride = 1;
    for (int x = s->n_axes - 1; x >= 0; x--) {
        s->axes[x].stride = stride;
        stride *= s->axes[x].len;
    }
    s->n_configs = stride;
    s->n_points = (int)total;
    spec_arena *a = &s->impl->arena;
    s->swept = spec_alloc(a, sizeof *s->swept * (size_t)(s->schema->n_fields ? s->schema->n_fields : 1));
    for (int x = 0; x < s->n_axes; x++)
        for (int k = 0; k < s->axes[x].n_fields; k++)
            s->swept[s->n_swept++] = s->schema->fields[s->axes[x].fields[k]].key;
}

/* ---- entry point -------------------------------------------------------------------------------- */

void spec_validate(tb_spec *s, const spec_doc *doc, const tb_spec_schema *const *schemas, int n_schemas,
                   spec_diags *d) {
    spec_arena *a = &s->impl->arena;
    const spec_entry *rt[N_RUNTIME_ENTRIES] = {0};
    for (int i = 0; i < doc->n_entries; i++)
        for (int r = 0; r < N_RUNTIME_ENTRIES; r++)
            if (!strcmp(doc->entries[i].key, RUNTIME_KEYS[r])) rt[r] = &doc->entries[i];
    read_name(s, rt[RT_NAME], s->path, d);
    read_seeds(s, rt[RT_SEEDS], d);
    read_ranks(s, rt[RT_RANKS], d);
    const tb_spec_schema *sc = select_schema(doc, rt[RT_WORKLOAD], schemas, n_schemas, a, d);
    if (!sc) return; /* without a schema no other key can be judged */
    check_schema(sc);
    s->schema = sc;

    int nf = sc->n_fields;
    s->params = spec_alloc(a, sizeof *s->params * (size_t)(nf ? nf : 1));
    field_use *use = spec_alloc(a, sizeof *use * (size_t)(nf ? nf : 1));
    for (int f = 0; f < nf; f++) use[f].group = -1;
    for (int i = 0; i < doc->n_entries; i++) {
        const spec_entry *e = &doc->entries[i];
        int is_runtime = 0;
        for (int r = 0; r < N_RUNTIME_ENTRIES; r++) is_runtime |= e == rt[r];
        if (is_runtime) continue;
        int f = field_index(sc, e->key);
        if (f < 0) {
            unknown_key(sc, e, a, d);
            continue;
        }
        use[f].entry = e;
        use[f].order = i;
        read_param(&s->params[f], &sc->fields[f], e, a, d);
    }
    for (int f = 0; f < nf; f++)
        if (!use[f].entry) fill_default(&s->params[f], &sc->fields[f], doc, a, d);
    read_zip_groups(sc, doc, use, a, d);
    if (d->n) return;
    build_axes(s, doc, use);
    count_points(s, doc->root_at, d);
}
