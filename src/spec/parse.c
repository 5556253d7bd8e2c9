/* parse.c: spec files -> one flattened document. Each file is parsed with libyaml's document API
 * (nodes keep their line and column), its nested mappings flattened to dotted keys, its includes
 * loaded first and merged under it. Problems are recorded with their place and parsing goes on,
 * so that one run shows every error of every file. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <yaml.h>

#include "spec_internal.h"

#define MAX_INCLUDE_DEPTH 32
#define MAX_NESTING 32
/* Aliases can make a small file describe an exponentially large tree ("billion laughs"): the
 * number of keys one file may expand to is bounded. */
#define MAX_KEYS_PER_FILE 10000

static const char SYNTAX_HINT[] =
    "check the indentation (spaces, not tabs), a missing ':' or space after it, and unclosed quotes or "
    "brackets on or before this line";

typedef struct {
    spec_arena *arena;
    spec_diags *diags;
    const char *real[MAX_INCLUDE_DEPTH];  /* canonical paths of the files being read, outermost first */
    const char *shown[MAX_INCLUDE_DEPTH]; /* the same, as displayed */
    int depth;
    int complete;
    const char *top_text;
    const yaml_node_t *open_maps[MAX_NESTING + 1]; /* the mappings being flattened, outermost first */
    int n_keys;                                    /* keys of the current file visited so far */
} loader;

/* What one file says before its includes are merged under it. */
typedef struct {
    spec_doc doc;
    spec_scalar *includes;
    int n_includes;
} file_part;

static spec_loc loc_of(const char *file, yaml_mark_t m) {
    return (spec_loc){file, (int)m.line + 1, (int)m.column + 1};
}

static spec_loc loc_at_offset(const char *file, const char *text, size_t len, size_t offset) {
    spec_loc at = {file, 1, 1};
    for (size_t i = 0; i < offset && i < len; i++) {
        if (text[i] == '\n') {
            at.line++;
            at.col = 1;
        } else {
            at.col++;
        }
    }
    return at;
}

static int is_null_scalar(const yaml_node_t *n) {
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    const char *v = (const char *)n->data.scalar.value;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static spec_scalar scalar_of(loader *L, const char *file, const yaml_node_t *n) {
    spec_scalar s;
    s.text = spec_strndup(L->arena, (const char *)n->data.scalar.value, n->data.scalar.length);
    s.at = loc_of(file, n->start_mark);
    s.is_null = is_null_scalar(n);
    return s;
}

static void syntax_error(loader *L, const char *file, const yaml_parser_t *p, const char *text, size_t len) {
    if (p->error == YAML_MEMORY_ERROR) tb_abort(__FILE__, __LINE__, "libyaml ran out of memory");
    spec_loc at = p->error == YAML_READER_ERROR ? loc_at_offset(file, text, len, p->problem_offset)
                                                : loc_of(file, p->problem_mark);
    const char *problem = p->problem ? p->problem : "malformed YAML";
    if (p->context)
        spec_error(L->diags, at, NULL, SYNTAX_HINT, "YAML syntax error: %s (%s at line %d)", problem, p->context,
                   (int)p->context_mark.line + 1);
    else
        spec_error(L->diags, at, NULL, SYNTAX_HINT, "YAML syntax error: %s", problem);
    L->complete = 0;
}

static int find_entry(const spec_doc *doc, const char *key) {
    for (int i = 0; i < doc->n_entries; i++)
        if (!strcmp(doc->entries[i].key, key)) return i;
    return -1;
}

static void add_entry(spec_arena *a, spec_doc *doc, const spec_entry *e) {
    doc->entries = spec_grow(a, doc->entries, sizeof *e, doc->n_entries, &doc->cap_entries);
    doc->entries[doc->n_entries++] = *e;
}

/* The items of a sequence node that must hold scalars only; 0 (and an error) otherwise. */
static int read_scalar_list(loader *L, const char *file, yaml_document_t *yd, const yaml_node_t *seq,
                            const char *key, const char *hint, spec_scalar **items, int *n_items) {
    int n = (int)(seq->data.sequence.items.top - seq->data.sequence.items.start), ok = 1;
    *items = spec_alloc(L->arena, sizeof **items * (size_t)(n ? n : 1));
    *n_items = n;
    for (int i = 0; i < n; i++) {
        const yaml_node_t *item = yaml_document_get_node(yd, seq->data.sequence.items.start[i]);
        if (item->type != YAML_SCALAR_NODE) {
            spec_error(L->diags, loc_of(file, item->start_mark), key, hint,
                       "a list item must be a single value, not a %s",
                       item->type == YAML_SEQUENCE_NODE ? "list" : "mapping");
            ok = 0;
            continue;
        }
        (*items)[i] = scalar_of(L, file, item);
    }
    return ok;
}

static void read_includes(loader *L, const char *file, yaml_document_t *yd, const yaml_node_t *v,
                          file_part *out) {
    static const char hint[] = "write `include: base.yaml` or `include: [a.yaml, b.yaml]`, paths relative "
                               "to this file";
    if (v->type == YAML_SCALAR_NODE && !is_null_scalar(v)) {
        out->includes = spec_alloc(L->arena, sizeof *out->includes);
        out->includes[0] = scalar_of(L, file, v);
        out->n_includes = 1;
    } else if (v->type == YAML_SEQUENCE_NODE) {
        if (!read_scalar_list(L, file, yd, v, "include", hint, &out->includes, &out->n_includes))
            out->n_includes = 0;
        for (int i = 0; i < out->n_includes; i++)
            if (out->includes[i].is_null) {
                spec_error(L->diags, out->includes[i].at, "include", hint, "an include path is empty");
                out->n_includes = 0;
            }
    } else {
        spec_error(L->diags, loc_of(file, v->start_mark), "include", hint, "takes a path or a list of paths");
    }
}

static void read_zips(loader *L, const char *file, yaml_document_t *yd, const yaml_node_t *v, file_part *out) {
    static const char hint[] = "write `zip: [[train.lr, train.steps]]`: a list of groups, each a list of keys "
                               "whose lists vary together";
    spec_doc *doc = &out->doc;
    doc->has_zip = 1;
    if (v->type != YAML_SEQUENCE_NODE) {
        spec_error(L->diags, loc_of(file, v->start_mark), "zip", hint, "takes a list of lists of keys");
        return;
    }
    int n = (int)(v->data.sequence.items.top - v->data.sequence.items.start);
    doc->zips = spec_alloc(L->arena, sizeof *doc->zips * (size_t)(n ? n : 1));
    for (int g = 0; g < n; g++) {
        const yaml_node_t *group = yaml_document_get_node(yd, v->data.sequence.items.start[g]);
        spec_zip z = {.at = loc_of(file, group->start_mark)};
        if (group->type != YAML_SEQUENCE_NODE) {
            spec_error(L->diags, z.at, "zip", hint, "each zip group must be a list of keys");
            continue;
        }
        if (!read_scalar_list(L, file, yd, group, "zip", hint, &z.keys, &z.n_keys)) continue;
        int ok = z.n_keys > 0;
        if (!ok) spec_error(L->diags, z.at, "zip", hint, "a zip group is empty");
        for (int k = 0; k < z.n_keys; k++)
            if (z.keys[k].is_null) {
                spec_error(L->diags, z.keys[k].at, "zip", hint, "a zip key is empty");
                ok = 0;
            }
        if (ok) doc->zips[doc->n_zips++] = z;
    }
}

/* The value of one flattened key: a scalar or a list of scalars. */
static void read_value(loader *L, const char *file, yaml_document_t *yd, const yaml_node_t *k,
                       const yaml_node_t *v, const char *key, file_part *out) {
    spec_entry e = {.key = key, .key_at = loc_of(file, k->start_mark), .value_at = loc_of(file, v->start_mark)};
    if (v->type == YAML_SEQUENCE_NODE) {
        e.is_list = 1;
        if (!read_scalar_list(L, file, yd, v, key,
                              "a sweep is a list of values such as [0.1, 0.01]; lists of lists or mappings are "
                              "not allowed",
                              &e.items, &e.n_items))
            return;
    } else {
        e.items = spec_alloc(L->arena, sizeof *e.items);
        e.items[0] = scalar_of(L, file, v);
        e.n_items = 1;
    }
    int prev = find_entry(&out->doc, key);
    if (prev >= 0) {
        const spec_loc *p = &out->doc.entries[prev].key_at;
        spec_error(L->diags, e.key_at, key, "remove one of them: within one file a key is given once",
                   "duplicate key (also given at %d:%d)", p->line, p->col);
        return;
    }
    add_entry(L->arena, &out->doc, &e);
}

static void flatten(loader *L, const char *file, yaml_document_t *yd, const yaml_node_t *map, const char *prefix,
                    int depth, file_part *out) {
    if (depth > MAX_NESTING) {
        spec_error(L->diags, loc_of(file, map->start_mark), prefix, "flatten the spec",
                   "mappings nested deeper than %d levels", MAX_NESTING);
        return;
    }
    for (int i = 0; i < depth; i++)
        if (L->open_maps[i] == map) {
            spec_error(L->diags, loc_of(file, map->start_mark), prefix,
                       "an alias (*name) cannot stand for a mapping that contains it",
                       "this mapping contains itself through an alias");
            return;
        }
    L->open_maps[depth] = map;
    const yaml_node_pair_t *pairs = map->data.mapping.pairs.start;
    int n = (int)(map->data.mapping.pairs.top - pairs);
    for (int i = 0; i < n; i++) {
        if (++L->n_keys > MAX_KEYS_PER_FILE) {
            if (L->n_keys == MAX_KEYS_PER_FILE + 1)
                spec_error(L->diags, loc_of(file, map->start_mark), prefix,
                           "split the spec, or check for aliases (*name) that repeat large mappings",
                           "the file expands to more than %d keys", MAX_KEYS_PER_FILE);
            L->complete = 0;
            return;
        }
        const yaml_node_t *k = yaml_document_get_node(yd, pairs[i].key);
        const yaml_node_t *v = yaml_document_get_node(yd, pairs[i].value);
        if (k->type != YAML_SCALAR_NODE || is_null_scalar(k)) {
            spec_error(L->diags, loc_of(file, k->start_mark), prefix, "write keys as plain names such as `lr:`",
                       "a key must be a name, not %s", k->type == YAML_SCALAR_NODE ? "empty" : "a list or mapping");
            continue;
        }
        const char *name = (const char *)k->data.scalar.value;
        int dup = -1;
        for (int j = 0; j < i && dup < 0; j++) {
            const yaml_node_t *kj = yaml_document_get_node(yd, pairs[j].key);
            if (kj->type == YAML_SCALAR_NODE && !strcmp((const char *)kj->data.scalar.value, name)) dup = j;
        }
        const char *key = prefix ? spec_printf(L->arena, "%s.%s", prefix, name) : spec_strdup(L->arena, name);
        if (dup >= 0) {
            yaml_mark_t first = yaml_document_get_node(yd, pairs[dup].key)->start_mark;
            spec_error(L->diags, loc_of(file, k->start_mark), key,
                       "remove one of them (or merge their contents): within one file a key is given once",
                       "duplicate key (also given at %d:%d)", (int)first.line + 1, (int)first.column + 1);
            continue;
        }
        if (depth == 0 && !strcmp(name, "include"))
            read_includes(L, file, yd, v, out);
        else if (depth == 0 && !strcmp(name, "zip"))
            read_zips(L, file, yd, v, out);
        else if (v->type == YAML_MAPPING_NODE)
            flatten(L, file, yd, v, key, depth + 1, out);
        else
            read_value(L, file, yd, k, v, key, out);
    }
}

static void parse_text(loader *L, const char *file, const char *text, size_t len, file_part *out) {
    out->doc.root_at = (spec_loc){file, 1, 1};
    yaml_parser_t p;
    TB_ASSERT(yaml_parser_initialize(&p));
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    yaml_document_t yd;
    if (!yaml_parser_load(&p, &yd)) {
        syntax_error(L, file, &p, text, len);
        yaml_parser_delete(&p);
        return;
    }
    const yaml_node_t *root = yaml_document_get_root_node(&yd);
    if (!root || is_null_scalar(root)) {
        spec_error(L->diags, out->doc.root_at, NULL, "a spec is a YAML mapping; start it with `workload: <name>`",
                   "the spec is empty");
        L->complete = 0;
    } else if (root->type != YAML_MAPPING_NODE) {
        spec_error(L->diags, loc_of(file, root->start_mark), NULL,
                   "a spec is a YAML mapping of keys to values, such as `workload: unlearn`",
                   "the spec is a %s, not a mapping", root->type == YAML_SEQUENCE_NODE ? "list" : "single value");
        L->complete = 0;
    } else {
        out->doc.root_at = loc_of(file, root->start_mark);
        L->n_keys = 0;
        flatten(L, file, &yd, root, NULL, 0, out);
    }
    yaml_document_t extra;
    if (!yaml_parser_load(&p, &extra)) {
        syntax_error(L, file, &p, text, len);
    } else {
        const yaml_node_t *second = yaml_document_get_root_node(&extra);
        if (second)
            spec_error(L->diags, loc_of(file, second->start_mark), NULL,
                       "remove the `---` line: one spec per file (use include: to share parts)",
                       "a second YAML document starts here");
        yaml_document_delete(&extra);
    }
    yaml_document_delete(&yd);
    yaml_parser_delete(&p);
}

/* Later sources override earlier ones key by key; an overriding key keeps the position of the key
 * it replaces, so axis order follows first appearance. */
static void overlay(spec_arena *a, spec_doc *dst, const spec_doc *src) {
    for (int i = 0; i < src->n_entries; i++) {
        int j = find_entry(dst, src->entries[i].key);
        if (j >= 0)
            dst->entries[j] = src->entries[i];
        else
            add_entry(a, dst, &src->entries[i]);
    }
    if (src->has_zip) {
        dst->zips = src->zips;
        dst->n_zips = src->n_zips;
        dst->has_zip = 1;
    }
}

static const char *read_file(spec_arena *a, const char *path, char **text, size_t *len) {
    struct stat st;
    if (stat(path, &st) != 0) return spec_strdup(a, strerror(errno));
    if (!S_ISREG(st.st_mode)) return "not a regular file";
    FILE *f = fopen(path, "rb");
    if (!f) return spec_strdup(a, strerror(errno));
    *len = (size_t)st.st_size;
    *text = spec_alloc(a, *len + 1);
    size_t got = fread(*text, 1, *len, f);
    int failed = ferror(f) || got != *len;
    fclose(f);
    return failed ? "the read failed or the file changed while being read" : NULL;
}

/* An include path is relative to the directory of the file that names it. */
static const char *resolve(spec_arena *a, const char *parent, const char *path) {
    const char *slash = strrchr(parent, '/');
    if (path[0] == '/' || !slash) return spec_strdup(a, path);
    return spec_printf(a, "%.*s/%s", (int)(slash - parent), parent, path);
}

/* A problem with the file itself: fatal for the top file, an error at the include line otherwise. */
static int unreadable(loader *L, const char *shown, const spec_scalar *from, const char *why) {
    if (!from)
        return TB_ERROR(TB_ERR_IO, "check the path (relative to the working directory) and its permissions",
                        "cannot read spec '%s': %s", shown, why);
    spec_error(L->diags, from->at, "include", "include paths are relative to the including file",
               "cannot read '%s': %s", shown, why);
    L->complete = 0;
    return TB_OK;
}

static void include_cycle(loader *L, int first, const char *shown, const spec_scalar *from) {
    spec_text chain = {.arena = L->arena};
    for (int i = first; i < L->depth; i++) spec_text_printf(&chain, "%s -> ", L->shown[i]);
    spec_text_printf(&chain, "%s", shown);
    spec_error(L->diags, from->at, "include", "remove one of the includes of this chain",
               "include cycle: %s", chain.buf);
    L->complete = 0;
}

static int load_tree(loader *L, const char *shown, const spec_scalar *from, spec_doc *out) {
    char real[PATH_MAX];
    if (!realpath(shown, real)) return unreadable(L, shown, from, spec_strdup(L->arena, strerror(errno)));
    for (int i = 0; i < L->depth; i++)
        if (!strcmp(L->real[i], real)) {
            include_cycle(L, i, shown, from);
            return TB_OK;
        }
    if (L->depth == MAX_INCLUDE_DEPTH) {
        spec_error(L->diags, from->at, "include", "flatten the chain of includes",
                   "includes nested deeper than %d files", MAX_INCLUDE_DEPTH);
        L->complete = 0;
        return TB_OK;
    }
    char *text = NULL;
    size_t len = 0;
    const char *why = read_file(L->arena, shown, &text, &len);
    if (why) return unreadable(L, shown, from, why);

    file_part part = {0};
    parse_text(L, shown, text, len, &part);
    if (!from) {
        L->top_text = text;
        out->root_at = part.doc.root_at;
    }
    L->real[L->depth] = spec_strdup(L->arena, real);
    L->shown[L->depth] = shown;
    L->depth++;
    for (int i = 0; i < part.n_includes; i++) {
        spec_doc sub = {0};
        TB_CHECK(load_tree(L, resolve(L->arena, shown, part.includes[i].text), &part.includes[i], &sub));
        overlay(L->arena, out, &sub);
    }
    L->depth--;
    overlay(L->arena, out, &part.doc);
    return TB_OK;
}

int spec_read(spec_doc *doc, const char *path, spec_arena *a, spec_diags *d) {
    loader L = {.arena = a, .diags = d, .complete = 1};
    memset(doc, 0, sizeof *doc);
    TB_CHECK(load_tree(&L, spec_strdup(a, path), NULL, doc));
    doc->complete = L.complete;
    doc->yaml = L.top_text;
    return TB_OK;
}
