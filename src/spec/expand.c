/* expand.c: axes x seeds -> points. A point's identity is its canonical text (every value printed
 * exactly, keys sorted), hashed with FNV-1a 64: the same configuration gives the same hash on any
 * machine and whatever the key order or number spelling (1e-3, 0.001) of the YAML. */
#include <string.h>

#include "spec_internal.h"

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

spec_sink spec_sink_make(spec_text *text, char *buf, size_t cap) {
    spec_sink k = {.hash = FNV_OFFSET, .text = text, .buf = buf, .cap = cap};
    if (buf && cap) buf[0] = '\0';
    return k;
}

void spec_emit(spec_sink *k, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) k->hash = (k->hash ^ (unsigned char)s[i]) * FNV_PRIME;
    if (k->text) spec_text_append(k->text, s, n);
    if (k->buf && k->len + 1 < k->cap) {
        size_t room = k->cap - 1 - k->len, m = n < room ? n : room;
        memcpy(k->buf + k->len, s, m);
        k->buf[k->len + m] = '\0';
    }
    k->len += n;
}

static void emit_str(spec_sink *k, const char *s) { spec_emit(k, s, strlen(s)); }

static void emit_quoted(spec_sink *k, const char *s) {
    spec_emit(k, "\"", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '\\' || *p == '"')
            spec_emit(k, "\\", 1);
        else if (*p == '\n') {
            spec_emit(k, "\\n", 2);
            continue;
        }
        spec_emit(k, p, 1);
    }
    spec_emit(k, "\"", 1);
}

void spec_emit_value(spec_sink *k, tb_spec_type t, const tb_spec_value *v) {
    char num[40];
    switch (t) {
    case TB_SPEC_INT: snprintf(num, sizeof num, "%ld", v->i); break;
    case TB_SPEC_FLOAT: snprintf(num, sizeof num, "%.17g", v->f); break;
    case TB_SPEC_BOOL: snprintf(num, sizeof num, "%s", v->i ? "true" : "false"); break;
    case TB_SPEC_STRING: emit_quoted(k, v->s); return;
    }
    emit_str(k, num);
}

int spec_field_index(const tb_spec *s, const char *key) {
    const int *order = s->impl->key_order;
    int lo = 0, hi = s->schema->n_fields - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(s->schema->fields[order[mid]].key, key);
        if (c == 0) return order[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

const tb_spec_value *spec_value_of(const tb_spec *s, int p, int f) {
    const tb_spec_param *pa = &s->params[f];
    if (pa->axis < 0) return &pa->values[0];
    const tb_spec_axis *ax = &s->axes[pa->axis];
    long config = p % s->n_configs;
    return &pa->values[(config / ax->stride) % ax->len];
}

static int has_prefix(const char *key, const char *const *prefixes, int n) {
    for (int i = 0; i < n; i++)
        if (!strncmp(key, prefixes[i], strlen(prefixes[i]))) return 1;
    return 0;
}

void spec_emit_point(spec_sink *k, const tb_spec *s, int p, const char *const *prefixes, int n_prefixes,
                     int with_seed) {
    char line[64];
    emit_str(k, "workload=");
    emit_quoted(k, s->schema->workload);
    emit_str(k, "\n");
    if (with_seed) {
        snprintf(line, sizeof line, "seed=%ld\n", s->points[p].seed);
        emit_str(k, line);
    }
    for (int i = 0; i < s->schema->n_fields; i++) {
        int f = s->impl->key_order[i];
        const tb_spec_field *fd = &s->schema->fields[f];
        if (prefixes && !has_prefix(fd->key, prefixes, n_prefixes)) continue;
        emit_str(k, fd->key);
        emit_str(k, "=");
        spec_emit_value(k, fd->type, spec_value_of(s, p, f));
        emit_str(k, "\n");
    }
}

static void sort_keys(tb_spec *s) {
    int n = s->schema->n_fields, *order = spec_alloc(&s->impl->arena, sizeof *order * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) { /* insertion sort: schemas are tens of keys */
        int j = i;
        while (j > 0 && strcmp(s->schema->fields[order[j - 1]].key, s->schema->fields[i].key) > 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    s->impl->key_order = order;
}

/* Everything that decides the points and their order: workload, seeds, axes, every field's value
 * or sweep. Not the name nor ranks_per_point, which change neither. */
static void build_canonical(tb_spec *s) {
    spec_text t = {.arena = &s->impl->arena};
    spec_sink k = spec_sink_make(&t, NULL, 0);
    emit_str(&k, "workload=");
    emit_quoted(&k, s->schema->workload);
    char num[48];
    emit_str(&k, "\nseeds=[");
    for (int i = 0; i < s->n_seeds; i++) {
        snprintf(num, sizeof num, "%s%ld", i ? "," : "", s->seeds[i]);
        emit_str(&k, num);
    }
    snprintf(num, sizeof num, "]\npoints=%d\n", s->n_points);
    emit_str(&k, num);
    for (int x = 0; x < s->n_axes; x++) {
        emit_str(&k, "axis=");
        for (int j = 0; j < s->axes[x].n_fields; j++) {
            if (j) emit_str(&k, "|");
            emit_str(&k, s->schema->fields[s->axes[x].fields[j]].key);
        }
        emit_str(&k, "\n");
    }
    for (int i = 0; i < s->schema->n_fields; i++) {
        int f = s->impl->key_order[i];
        const tb_spec_param *pa = &s->params[f];
        emit_str(&k, pa->field->key);
        emit_str(&k, pa->axis >= 0 ? "=[" : "=");
        for (int v = 0; v < pa->n_values; v++) {
            if (v) emit_str(&k, ",");
            spec_emit_value(&k, pa->field->type, &pa->values[v]);
        }
        emit_str(&k, pa->axis >= 0 ? "]\n" : "\n");
    }
    s->canonical = t.buf;
}

void spec_expand(tb_spec *s) {
    sort_keys(s);
    s->points = spec_alloc(&s->impl->arena, sizeof *s->points * (size_t)s->n_points);
    for (int p = 0; p < s->n_points; p++) {
        tb_spec_point *pt = &s->points[p];
        pt->id = p;
        pt->seed = s->seeds[p / s->n_configs];
        spec_sink k = spec_sink_make(NULL, NULL, 0);
        spec_emit_point(&k, s, p, NULL, 0, 1);
        pt->hash = k.hash;
    }
    build_canonical(s);
}
