/*
 * qa_jsonl.c: QA sets as JSONL exports, TOFU's field names (the format is in data.h, "QA datasets").
 *
 * Loading reads each file into one JSON object per line (tb_jsonl_read), then makes two passes: the
 * first checks every field and numbers the authors and attribute names in order of first appearance
 * (jansson objects keep insertion order, so they serve as the name -> index maps), the second copies
 * the strings into a set allocated at its final size. Every error names the file, the line and the
 * field.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <jansson.h>

#include "data/data.h"

#define HINT_FORMAT "fix the line; the JSONL format is described in src/data/data.h, section \"QA datasets\""
#define HINT_WRITE "check that the directory is writable and has free space"

/* ---- files -------------------------------------------------------------------------------------- */

static char *join_path(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = tb_malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* Reads dir/name into f. A missing optional file leaves f empty. */
static int read_file(const char *dir, const char *name, int required, tb_jsonl *f) {
    char *path = join_path(dir, name);
    int rc = tb_jsonl_read(path, required, HINT_FORMAT, f);
    tb_free(path);
    if (rc == TB_OK && required && f->n == 0)
        rc = TB_ERROR(TB_ERR_FORMAT, "write one QA item per line", "%s holds no QA items", f->path);
    return rc;
}

/* ---- fields ------------------------------------------------------------------------------------- */

static int check_perturbed(const tb_jsonl *f, long i) {
    const json_t *v = json_object_get(f->rows[i], "perturbed_answer");
    if (!v)
        return TB_ERROR(TB_ERR_FORMAT, HINT_FORMAT, "%s:%d: field \"perturbed_answer\" is missing", f->path,
                        f->lines[i]);
    int ok = json_is_array(v) && json_array_size(v) >= 1 && json_array_size(v) <= TB_QA_MAX_PERTURBED;
    for (size_t j = 0; ok && j < json_array_size(v); j++) ok = tb_jsonl_is_text(json_array_get(v, j));
    if (!ok)
        return TB_ERROR(TB_ERR_FORMAT, "give the wrong answers as a list, e.g. [\"first\", \"second\"]",
                        "%s:%d: field \"perturbed_answer\" must be an array of strings (1 to %d, non-empty)", f->path,
                        f->lines[i], TB_QA_MAX_PERTURBED);
    return TB_OK;
}

static int check_attributes(const tb_jsonl *f, long i) {
    json_t *v = json_object_get(f->rows[i], "attributes");
    if (!v) return TB_OK;
    if (!json_is_object(v))
        return TB_ERROR(TB_ERR_FORMAT, "write the attributes as an object, e.g. {\"genre\": \"fantasy\"}",
                        "%s:%d: field \"attributes\" must be an object", f->path, f->lines[i]);
    const char *key;
    const json_t *value;
    json_object_foreach(v, key, value)
        if (!tb_jsonl_is_text(value) || !key[0])
            return TB_ERROR(TB_ERR_FORMAT, "every attribute needs a name and a non-empty string value",
                            "%s:%d: field \"attributes\": attribute \"%s\" must be a non-empty string", f->path,
                            f->lines[i], key);
    return TB_OK;
}

/* The index of name in map (insertion order = index), added when new. */
static int map_index(json_t *map, const char *name, int *added) {
    const json_t *v = json_object_get(map, name);
    *added = v == NULL;
    if (v) return (int)json_integer_value(v);
    int idx = (int)json_object_size(map);
    json_object_set_new(map, name, json_integer(idx));
    return idx;
}

/* ---- authors.jsonl and holdout.jsonl ------------------------------------------------------------ */

typedef struct {
    json_t *authors, *attrs; /* name -> index */
    int *row_author, *row_attr;
} qa_maps;

/* Pass one over an author file: every field checked, authors and attributes numbered. rows of this
 * file are numbered from row0 in the maps' row arrays; authors added before first_new belong to
 * authors.jsonl. */
static int scan_author_file(const tb_jsonl *f, const char *default_prefix, int first_new, long row0, qa_maps *m) {
    for (long i = 0; i < f->n; i++) {
        const char *text, *author, *attribute;
        TB_CHECK(tb_jsonl_string(f, i, "question", &text));
        TB_CHECK(tb_jsonl_string(f, i, "answer", &text));
        TB_CHECK(tb_jsonl_string(f, i, "paraphrased_answer", &text));
        TB_CHECK(check_perturbed(f, i));
        TB_CHECK(tb_jsonl_string_opt(f, i, "author", &author));
        TB_CHECK(tb_jsonl_string_opt(f, i, "attribute", &attribute));
        TB_CHECK(check_attributes(f, i));
        char fallback[64];
        if (!author) {
            snprintf(fallback, sizeof fallback, "%s-%ld", default_prefix, i / TB_QA_PER_AUTHOR);
            author = fallback;
        }
        int added, k = map_index(m->authors, author, &added);
        if (!added && k < first_new)
            return TB_ERROR(TB_ERR_FORMAT, "a holdout author must never be trained: rename or drop one of them",
                            "%s:%d: author \"%s\" is also in authors.jsonl", f->path, f->lines[i], author);
        m->row_author[row0 + i] = k;
        const char *key;
        const json_t *value;
        json_t *attrs = json_object_get(f->rows[i], "attributes");
        json_object_foreach(attrs, key, value) map_index(m->attrs, key, &added);
        m->row_attr[row0 + i] = attribute ? map_index(m->attrs, attribute, &added) : -1;
    }
    return TB_OK;
}

static char *copy_string(tb_qa_set *s, const json_t *v) {
    return tb_qa_strdup(s, json_string_value(v), json_string_length(v));
}

static void copy_perturbed(tb_qa_set *s, tb_qa_item *it, const json_t *row) {
    const json_t *list = json_object_get(row, "perturbed_answer");
    it->n_perturbed = (int)json_array_size(list);
    for (int j = 0; j < it->n_perturbed; j++) it->perturbed[j] = copy_string(s, json_array_get(list, (size_t)j));
}

/* Pass two: the items of one author file, and the author values their lines give. */
static int copy_author_file(tb_qa_set *s, const tb_jsonl *f, long row0, const qa_maps *m) {
    for (long i = 0; i < f->n; i++) {
        const json_t *row = f->rows[i];
        tb_qa_item *it = &s->items[row0 + i];
        it->question = copy_string(s, json_object_get(row, "question"));
        it->answer = copy_string(s, json_object_get(row, "answer"));
        it->paraphrase = copy_string(s, json_object_get(row, "paraphrased_answer"));
        copy_perturbed(s, it, row);
        it->author = m->row_author[row0 + i];
        it->attribute = m->row_attr[row0 + i];
        tb_author *author = &s->authors[it->author];
        const char *key;
        const json_t *value;
        json_t *attrs = json_object_get(row, "attributes");
        json_object_foreach(attrs, key, value) {
            char **slot = &author->values[json_integer_value(json_object_get(m->attrs, key))];
            if (!*slot) *slot = copy_string(s, value);
            else if (strcmp(*slot, json_string_value(value)) != 0)
                return TB_ERROR(TB_ERR_FORMAT, "give each author one value per attribute on all of its lines",
                                "%s:%d: author \"%s\": attribute \"%s\" is \"%s\" here but \"%s\" on an earlier line",
                                f->path, f->lines[i], author->name, key, json_string_value(value), *slot);
        }
    }
    return TB_OK;
}

/* ---- world.jsonl -------------------------------------------------------------------------------- */

static int scan_world_file(const tb_jsonl *f, long *n_famous, long *n_world) {
    *n_famous = *n_world = 0;
    for (long i = 0; i < f->n; i++) {
        const char *text, *kind;
        TB_CHECK(tb_jsonl_string(f, i, "question", &text));
        TB_CHECK(tb_jsonl_string(f, i, "answer", &text));
        TB_CHECK(check_perturbed(f, i));
        TB_CHECK(tb_jsonl_string(f, i, "kind", &kind));
        if (strcmp(kind, "author") != 0 && strcmp(kind, "world") != 0)
            return TB_ERROR(TB_ERR_FORMAT, "kind is \"author\" (famous authors) or \"world\" (world facts)",
                            "%s:%d: field \"kind\" is \"%s\"", f->path, f->lines[i], kind);
        if (kind[0] == 'a') ++*n_famous;
        else ++*n_world;
    }
    return TB_OK;
}

static void copy_world_file(tb_qa_set *s, const tb_jsonl *f) {
    long famous = 0, world = 0;
    for (long i = 0; i < f->n; i++) {
        const json_t *row = f->rows[i];
        int is_author = json_string_value(json_object_get(row, "kind"))[0] == 'a';
        tb_qa_item *it = is_author ? &s->famous[famous++] : &s->world[world++];
        it->question = copy_string(s, json_object_get(row, "question"));
        it->answer = copy_string(s, json_object_get(row, "answer"));
        copy_perturbed(s, it, row);
        it->author = it->attribute = -1;
    }
}

/* ---- loading ------------------------------------------------------------------------------------ */

static void copy_names(tb_qa_set *s, const qa_maps *m) {
    const char *key;
    const json_t *value;
    json_object_foreach(m->attrs, key, value) s->attr_names[json_integer_value(value)] =
        tb_qa_strdup(s, key, strlen(key));
    json_object_foreach(m->authors, key, value) {
        tb_author *a = &s->authors[json_integer_value(value)];
        a->name = tb_qa_strdup(s, key, strlen(key));
    }
}

static int load_files(const tb_jsonl *train, const tb_jsonl *holdout, const tb_jsonl *world, qa_maps *m,
                      tb_qa_set *s) {
    const long n_items = train->n + holdout->n;
    m->row_author = tb_malloc((size_t)n_items * sizeof(int));
    m->row_attr = tb_malloc((size_t)n_items * sizeof(int));
    TB_CHECK(scan_author_file(train, "author", 0, 0, m));
    const int n_authors = (int)json_object_size(m->authors);
    TB_CHECK(scan_author_file(holdout, "holdout", n_authors, train->n, m));
    long n_famous, n_world;
    TB_CHECK(scan_world_file(world, &n_famous, &n_world));

    tb_qa_alloc(s, (int)json_object_size(m->attrs), n_authors, (int)json_object_size(m->authors) - n_authors, n_items,
                n_famous, n_world);
    copy_names(s, m);
    int rc = copy_author_file(s, train, 0, m);
    if (rc == TB_OK) rc = copy_author_file(s, holdout, train->n, m);
    if (rc != TB_OK) {
        tb_qa_free(s);
        return rc;
    }
    copy_world_file(s, world);
    return TB_OK;
}

int tb_qa_load_jsonl(const char *dir, tb_qa_set *s) {
    memset(s, 0, sizeof *s);
    tb_jsonl train, holdout, world;
    int rc = read_file(dir, "authors.jsonl", 1, &train);
    if (rc == TB_OK) rc = read_file(dir, "holdout.jsonl", 0, &holdout);
    else memset(&holdout, 0, sizeof holdout);
    if (rc == TB_OK) rc = read_file(dir, "world.jsonl", 0, &world);
    else memset(&world, 0, sizeof world);
    qa_maps m = {json_object(), json_object(), NULL, NULL};
    if (rc == TB_OK) rc = load_files(&train, &holdout, &world, &m, s);
    json_decref(m.authors);
    json_decref(m.attrs);
    tb_free(m.row_author);
    tb_free(m.row_attr);
    tb_jsonl_free(&train);
    tb_jsonl_free(&holdout);
    tb_jsonl_free(&world);
    return rc;
}

/* ---- writing ------------------------------------------------------------------------------------ */

/* json_string fails (NULL) on text that is not UTF-8, and the setters then fail too. */
static int set_string(json_t *o, const char *key, const char *value) {
    return json_object_set_new(o, key, json_string(value));
}

static json_t *item_json(const tb_qa_set *s, const tb_qa_item *it, const char *kind) {
    json_t *o = json_object(), *perturbed = json_array(), *attrs = NULL;
    int bad = !o || !perturbed || set_string(o, "question", it->question) || set_string(o, "answer", it->answer) ||
              (it->paraphrase && set_string(o, "paraphrased_answer", it->paraphrase));
    for (int j = 0; !bad && j < it->n_perturbed; j++)
        bad = json_array_append_new(perturbed, json_string(it->perturbed[j]));
    bad = bad || json_object_set(o, "perturbed_answer", perturbed);
    if (!bad && it->author >= 0) {
        const tb_author *a = &s->authors[it->author];
        bad = set_string(o, "author", a->name) ||
              (it->attribute >= 0 && set_string(o, "attribute", s->attr_names[it->attribute]));
        attrs = json_object();
        for (int k = 0; !bad && k < s->n_attrs; k++)
            if (a->values[k]) bad = set_string(attrs, s->attr_names[k], a->values[k]);
        bad = bad || json_object_set(o, "attributes", attrs);
    }
    if (!bad && kind) bad = set_string(o, "kind", kind);
    json_decref(perturbed);
    json_decref(attrs);
    if (bad) json_decref(o);
    return bad ? NULL : o;
}

/* Writes the items of lists[0..n_lists) (those of lists[l] with kind kinds[l] when not NULL) as
 * dir/name, one per line, through a temporary file renamed into place. */
static int write_file(const char *dir, const char *name, const tb_qa_set *s, const tb_qa_item *const *lists,
                      const long *counts, const char *const *kinds, int n_lists) {
    char *path = join_path(dir, name), *tmp_path = tb_malloc(strlen(path) + sizeof ".tmp");
    snprintf(tmp_path, strlen(path) + sizeof ".tmp", "%s.tmp", path);
    FILE *out = fopen(tmp_path, "w");
    int rc = out ? TB_OK : TB_ERROR(TB_ERR_IO, HINT_WRITE, "cannot create %s: %s", tmp_path, strerror(errno));
    for (int l = 0; rc == TB_OK && l < n_lists; l++)
        for (long i = 0; rc == TB_OK && i < counts[l]; i++) {
            json_t *o = item_json(s, &lists[l][i], kinds[l]);
            if (!o)
                rc =
                    TB_ERROR(TB_ERR_FORMAT, "every string of a QA set must be UTF-8",
                             "%s: item %ld (question \"%s\") cannot be written as JSON", path, i, lists[l][i].question);
            else if (json_dumpf(o, out, 0) != 0 || fputc('\n', out) == EOF)
                rc = TB_ERROR(TB_ERR_IO, HINT_WRITE, "cannot write %s: %s", tmp_path, strerror(errno));
            json_decref(o);
        }
    if (out && fclose(out) != 0 && rc == TB_OK)
        rc = TB_ERROR(TB_ERR_IO, HINT_WRITE, "cannot write %s: %s", tmp_path, strerror(errno));
    if (rc == TB_OK && rename(tmp_path, path) != 0)
        rc = TB_ERROR(TB_ERR_IO, HINT_WRITE, "cannot rename %s to %s: %s", tmp_path, path, strerror(errno));
    if (rc != TB_OK) remove(tmp_path);
    tb_free(tmp_path);
    tb_free(path);
    return rc;
}

/* An optional file the set has nothing for must not survive from an earlier export into this one. */
static int remove_stale(const char *dir, const char *name) {
    char *path = join_path(dir, name);
    int rc = remove(path) != 0 && errno != ENOENT ? TB_ERROR(TB_ERR_IO, "remove the file by hand",
                                                             "cannot remove the stale %s: %s", path, strerror(errno))
                                                  : TB_OK;
    tb_free(path);
    return rc;
}

int tb_qa_save_jsonl(const char *dir, const tb_qa_set *s) {
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return TB_ERROR(TB_ERR_IO, HINT_WRITE, "cannot create directory %s: %s", dir, strerror(errno));
    /* the items of the trained authors come first (see tb_qa_set) */
    long n_train = 0;
    while (n_train < s->n_items && s->items[n_train].author < s->n_authors) n_train++;
    for (long i = n_train; i < s->n_items; i++) TB_ASSERT(s->items[i].author >= s->n_authors);
    const tb_qa_item *train[] = {s->items}, *holdout[] = {s->items + n_train}, *world[] = {s->famous, s->world};
    const long n_holdout = s->n_items - n_train, n_world[] = {s->n_famous, s->n_world};
    const char *const none[] = {NULL}, *const kinds[] = {"author", "world"};
    TB_CHECK(write_file(dir, "authors.jsonl", s, train, &n_train, none, 1));
    TB_CHECK(n_holdout > 0 ? write_file(dir, "holdout.jsonl", s, holdout, &n_holdout, none, 1)
                           : remove_stale(dir, "holdout.jsonl"));
    TB_CHECK(s->n_famous + s->n_world > 0 ? write_file(dir, "world.jsonl", s, world, n_world, kinds, 2)
                                          : remove_stale(dir, "world.jsonl"));
    return TB_OK;
}
