/*
 * qa_file.c: a QA set (data.h, "QA datasets") in one HDF5 file (the contract is in io.h).
 *
 * Layout:
 *   /                      attributes format, version, seed, n_authors, n_holdout, n_attrs, n_items,
 *                          n_famous, n_world, and `complete` (written last)
 *   /authors/name          string [n_authors + n_holdout]: the trained authors, then the holdout ones
 *   /authors/attr_names    string [n_attrs]
 *   /authors/values        string [n_authors + n_holdout, n_attrs], "" where unknown
 *   /<set>/question, answer, paraphrase    string [n]  ("" for a missing paraphrase)
 *   /<set>/perturbed       string [n, TB_QA_MAX_PERTURBED], "" past n_perturbed
 *   /<set>/n_perturbed, author, attribute  int32 [n]
 * for the sets items, famous and world. Strings are fixed-length, NUL-terminated UTF-8: unlike
 * variable-length ones they live in the checksummed chunks (h5py reads both alike); the reader also
 * accepts variable-length strings. As with checkpoints, the file is written to "<path>.tmp", synced
 * and renamed, and loading checks every count, shape and index, naming the dataset and the row.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <hdf5.h>

#include "io/h5util.h"
#include "io/io.h"

#define QA_FORMAT "trustbench-qa"
#define QA_VERSION 1

#define KIND "QA file" /* names the file in write errors */
#define HINT_WRITE "check that the directory exists, is writable and has free space"
#define HINT_CORRUPT                                                                                                   \
    "the file is damaged or was not written by tb_qa_save; write it again from the generator or the JSONL export"
#define MAX_STRING_WIDTH (1 << 20) /* a fixed string wider than this means a damaged header */
#define MAX_COUNT (1 << 26)        /* counts beyond this mean a damaged header, not a QA set */
#define MAX_READ_BYTES ((size_t)1 << 32) /* one string dataset larger than this is not a QA set either */

#define WRITE_FAILED(path, what, name)                                                                  \
    TB_ERROR(TB_ERR_IO, HINT_WRITE, "QA file %s: cannot write %s '%s': %s", (path), (what), (name), \
             TB_H5_DETAIL())

static const char *const item_sets[] = {"items", "famous", "world"};

static void set_lists(const tb_qa_set *s, tb_qa_item *lists[3], long counts[3]) {
    lists[0] = s->items, lists[1] = s->famous, lists[2] = s->world;
    counts[0] = s->n_items, counts[1] = s->n_famous, counts[2] = s->n_world;
}

/* ------------------------------------------------------------------------------------------------
 * writing */

/* strs[numel] as fixed-length strings as wide as the longest; NULL is written as "". */
static int write_strings(hid_t loc, const char *path, const char *name, int ndim, const hsize_t *dims,
                         const char *const *strs) {
    size_t numel = (size_t)(ndim > 1 ? dims[0] * dims[1] : dims[0]), width = 1;
    for (size_t i = 0; i < numel; i++)
        if (strs[i] && strlen(strs[i]) + 1 > width) width = strlen(strs[i]) + 1;
    char *buf = tb_malloc(numel * width); /* zeroed: every string is NUL-padded */
    for (size_t i = 0; i < numel; i++)
        if (strs[i]) memcpy(buf + i * width, strs[i], strlen(strs[i]));
    hid_t t = tb_h5_string_type(width);
    int rc = t < 0 ? WRITE_FAILED(path, "dataset", name) : tb_h5_dataset_write(loc, KIND, path, name, t, t, ndim, dims, buf);
    if (t >= 0) H5Tclose(t);
    tb_free(buf);
    return rc;
}

static int write_ints(hid_t loc, const char *path, const char *name, long n, const int32_t *v) {
    hsize_t dims[1] = {(hsize_t)n};
    return tb_h5_dataset_write(loc, KIND, path, name, H5T_STD_I32LE, H5T_NATIVE_INT32, 1, dims, v);
}

static int group_create(hid_t file, const char *path, const char *name, hid_t *g) {
    *g = H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    return *g < 0 ? WRITE_FAILED(path, "group", name) : TB_OK;
}

static int write_authors_in(hid_t g, const char *path, const tb_qa_set *s) {
    const long n_total = s->n_authors + s->n_holdout;
    const char **col = tb_malloc((size_t)(n_total * (s->n_attrs > 1 ? s->n_attrs : 1)) * sizeof *col);
    for (long k = 0; k < n_total; k++) col[k] = s->authors[k].name;
    hsize_t dims[2] = {(hsize_t)n_total, (hsize_t)s->n_attrs};
    int rc = write_strings(g, path, "name", 1, dims, col);
    if (rc == TB_OK) rc = write_strings(g, path, "attr_names", 1, &dims[1], (const char *const *)s->attr_names);
    for (long k = 0; k < n_total; k++)
        for (int a = 0; a < s->n_attrs; a++) col[k * s->n_attrs + a] = s->authors[k].values[a];
    if (rc == TB_OK) rc = write_strings(g, path, "values", 2, dims, col);
    tb_free(col);
    return rc;
}

/* The columns of one item list; col and ints are scratch of n * TB_QA_MAX_PERTURBED and n entries. */
static int write_items_in(hid_t g, const char *path, const tb_qa_item *items, long n, const char **col, int32_t *ints) {
    hsize_t dims[2] = {(hsize_t)n, TB_QA_MAX_PERTURBED};
    static const char *const text_names[] = {"question", "answer", "paraphrase"};
    for (int c = 0; c < 3; c++) {
        for (long i = 0; i < n; i++)
            col[i] = c == 0 ? items[i].question : c == 1 ? items[i].answer : items[i].paraphrase;
        TB_CHECK(write_strings(g, path, text_names[c], 1, dims, col));
    }
    for (long i = 0; i < n; i++)
        for (int j = 0; j < TB_QA_MAX_PERTURBED; j++)
            col[i * TB_QA_MAX_PERTURBED + j] = j < items[i].n_perturbed ? items[i].perturbed[j] : NULL;
    TB_CHECK(write_strings(g, path, "perturbed", 2, dims, col));
    for (long i = 0; i < n; i++) ints[i] = items[i].n_perturbed;
    TB_CHECK(write_ints(g, path, "n_perturbed", n, ints));
    for (long i = 0; i < n; i++) ints[i] = items[i].author;
    TB_CHECK(write_ints(g, path, "author", n, ints));
    for (long i = 0; i < n; i++) ints[i] = items[i].attribute;
    return write_ints(g, path, "attribute", n, ints);
}

static int write_group(hid_t file, const char *path, const char *name, const tb_qa_set *s, const tb_qa_item *items,
                       long n) {
    hid_t g;
    TB_CHECK(group_create(file, path, name, &g));
    int rc;
    if (!items) {
        rc = write_authors_in(g, path, s);
    } else {
        const char **col = tb_malloc((size_t)(n > 0 ? n : 1) * TB_QA_MAX_PERTURBED * sizeof *col);
        int32_t *ints = tb_malloc((size_t)(n > 0 ? n : 1) * sizeof *ints);
        rc = write_items_in(g, path, items, n, col, ints);
        tb_free(col);
        tb_free(ints);
    }
    H5Gclose(g);
    return rc;
}

static int write_contents(hid_t file, const char *path, const tb_qa_set *s) {
    const int32_t version = QA_VERSION, complete = 1;
    const int64_t counts[] = {s->n_authors, s->n_holdout, s->n_attrs, s->n_items, s->n_famous, s->n_world};
    static const char *const count_names[] = {"n_authors", "n_holdout", "n_attrs", "n_items", "n_famous", "n_world"};
    TB_CHECK(tb_h5_attr_write_string(file, KIND, path, "format", QA_FORMAT));
    TB_CHECK(tb_h5_attr_write(file, KIND, path, "version", H5T_STD_I32LE, H5T_NATIVE_INT32, &version));
    TB_CHECK(tb_h5_attr_write(file, KIND, path, "seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, &s->seed));
    for (int c = 0; c < 6; c++)
        TB_CHECK(tb_h5_attr_write(file, KIND, path, count_names[c], H5T_STD_I64LE, H5T_NATIVE_INT64, &counts[c]));
    TB_CHECK(write_group(file, path, "authors", s, NULL, 0));
    tb_qa_item *lists[3];
    long n[3];
    set_lists(s, lists, n);
    for (int l = 0; l < 3; l++) TB_CHECK(write_group(file, path, item_sets[l], s, lists[l], n[l]));
    /* everything else reaches the file before `complete` does, so a torn write never carries it */
    if (H5Fflush(file, H5F_SCOPE_LOCAL) < 0) return WRITE_FAILED(path, "file", path);
    return tb_h5_attr_write(file, KIND, path, "complete", H5T_STD_I32LE, H5T_NATIVE_INT32, &complete);
}

static int write_file(const char *tmp, const tb_qa_set *s) {
    hid_t fapl = tb_h5_fapl(1);
    hid_t file = fapl < 0 ? -1 : H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    int rc = file < 0 ? TB_ERROR(TB_ERR_IO, HINT_WRITE, "cannot create QA file %s: %s", tmp, TB_H5_DETAIL()) : TB_OK;
    if (fapl >= 0) H5Pclose(fapl);
    if (rc != TB_OK) return rc;
    rc = write_contents(file, tmp, s);
    if (H5Fclose(file) < 0 && rc == TB_OK) rc = WRITE_FAILED(tmp, "file", tmp);
    return rc;
}

int tb_qa_save(const char *path, const tb_qa_set *s) {
    size_t len = strlen(path);
    char *tmp = tb_malloc(len + sizeof ".tmp");
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".tmp", sizeof ".tmp");
    tb_h5_quiet q;
    tb_h5_quiet_begin(&q);
    int rc = write_file(tmp, s);
    tb_h5_quiet_end(&q);
    if (rc == TB_OK) rc = tb_io_sync_file(tmp, HINT_WRITE);
    if (rc == TB_OK && rename(tmp, path) != 0)
        rc = TB_ERROR(TB_ERR_IO, HINT_WRITE, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (rc != TB_OK) remove(tmp);
    tb_free(tmp);
    return rc;
}

/* ------------------------------------------------------------------------------------------------
 * reading: attributes */

static int attr_open(hid_t file, const char *path, const char *name, hid_t *a) {
    htri_t present = H5Aexists(file, name);
    if (present <= 0)
        return TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "QA file %s has no attribute '%s'%s", path, name,
                        present < 0 ? " (unreadable metadata)" : "");
    *a = H5Aopen(file, name, H5P_DEFAULT);
    if (*a < 0)
        return TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "QA file %s: cannot open attribute '%s': %s", path, name,
                        TB_H5_DETAIL());
    return TB_OK;
}

static int attr_is_scalar(hid_t a) {
    hid_t space = H5Aget_space(a);
    hssize_t n = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
    if (space >= 0) H5Sclose(space);
    return n == 1;
}

static int attr_read(hid_t file, const char *path, const char *name, hid_t mem_type, void *out) {
    hid_t a = -1;
    TB_CHECK(attr_open(file, path, name, &a));
    hid_t t = H5Aget_type(a);
    int ok = t >= 0 && (H5Tget_class(t) == H5T_INTEGER) && attr_is_scalar(a) && H5Aread(a, mem_type, out) >= 0;
    if (t >= 0) H5Tclose(t);
    H5Aclose(a);
    if (!ok)
        return TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "QA file %s: attribute '%s' is not a single integer", path, name);
    return TB_OK;
}

/* Whether the string attribute name equals want (fixed- or variable-length). */
static int attr_string_equals(hid_t file, const char *path, const char *name, const char *want, int *equal) {
    hid_t a = -1;
    TB_CHECK(attr_open(file, path, name, &a));
    hid_t t = H5Aget_type(a);
    int ok = t >= 0 && H5Tget_class(t) == H5T_STRING && attr_is_scalar(a);
    hid_t mem = ok ? H5Tcopy(t) : -1; /* HDF5 converts string widths but not character sets: keep the file's */
    ok = ok && mem >= 0;
    *equal = 0;
    if (ok && H5Tis_variable_str(t) > 0) {
        char *v = NULL;
        ok = H5Aread(a, mem, &v) >= 0;
        *equal = ok && v && strcmp(v, want) == 0;
        if (v) H5free_memory(v);
    } else if (ok) {
        size_t width = H5Tget_size(t);
        ok = width > 0 && width <= MAX_STRING_WIDTH;
        char *v = ok ? tb_malloc(width + 1) : NULL; /* zeroed: the terminator survives a full-width value */
        ok = ok && H5Aread(a, mem, v) >= 0;
        *equal = ok && strcmp(v, want) == 0;
        tb_free(v);
    }
    if (mem >= 0) H5Tclose(mem);
    if (t >= 0) H5Tclose(t);
    H5Aclose(a);
    if (!ok)
        return TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "QA file %s: attribute '%s' is not a readable string", path, name);
    return TB_OK;
}

/* ------------------------------------------------------------------------------------------------
 * reading: datasets */

/* "(4400, 5)"; buf holds 64 bytes. */
static const char *shape_str(char *buf, int ndim, const hsize_t *dims) {
    if (ndim < 0) return "(unreadable)";
    size_t n = (size_t)snprintf(buf, 64, "(");
    for (int i = 0; i < ndim && n < 64; i++)
        n += (size_t)snprintf(buf + n, 64 - n, "%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
    if (n < 64) snprintf(buf + n, 64 - n, ")");
    return buf;
}

/* Opens /group/name and requires the element class and exactly the shape want. */
static int dataset_open(hid_t g, const char *path, const char *group, const char *name, H5T_class_t cls, int ndim,
                        const hsize_t *want, hid_t *d) {
    htri_t present = H5Lexists(g, name, H5P_DEFAULT);
    *d = present > 0 ? H5Dopen2(g, name, H5P_DEFAULT) : -1;
    if (*d < 0)
        return TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "QA file %s: dataset /%s/%s is %s", path, group, name,
                        present == 0 ? "missing" : "unreadable");
    hid_t space = H5Dget_space(*d), type = H5Dget_type(*d);
    hsize_t dims[H5S_MAX_RANK];
    int found = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    if (found >= 0 && H5Sget_simple_extent_dims(space, dims, NULL) < 0) found = -1;
    int same = found == ndim;
    for (int i = 0; same && i < ndim; i++) same = dims[i] == want[i];
    int class_ok = type >= 0 && H5Tget_class(type) == cls;
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    int rc = TB_OK;
    char found_s[64], want_s[64];
    if (!class_ok)
        rc = TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "QA file %s: dataset /%s/%s does not hold %s", path, group, name,
                      cls == H5T_STRING ? "strings" : "integers");
    else if (!same)
        rc = TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT,
                      "QA file %s: dataset /%s/%s has shape %s, expected %s from the counts", path, group, name,
                      shape_str(found_s, found, dims), shape_str(want_s, ndim, want));
    if (rc != TB_OK) H5Dclose(*d);
    return rc;
}

/* Reads n strings into out, copied into s's pool; "" becomes NULL. */
static int read_strings_from(hid_t d, const char *path, const char *group, const char *name, size_t n, tb_qa_set *s,
                             char **out) {
    hid_t ftype = H5Dget_type(d), mem = ftype >= 0 ? H5Tcopy(ftype) : -1; /* see attr_string_equals */
    int variable = ftype >= 0 && H5Tis_variable_str(ftype) > 0;
    size_t width = variable ? sizeof(char *) : ftype >= 0 ? H5Tget_size(ftype) : 0;
    int ok = ftype >= 0 && mem >= 0 && width > 0 && width <= MAX_STRING_WIDTH && n <= MAX_READ_BYTES / width;
    char *buf = ok ? tb_malloc((n > 0 ? n : 1) * width) : NULL;
    ok = ok && (n == 0 || H5Dread(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    for (size_t i = 0; ok && i < n; i++) {
        const char *v = variable ? ((char **)buf)[i] : buf + i * width;
        size_t len = !v ? 0 : variable ? strlen(v) : strnlen(v, width);
        out[i] = len ? tb_qa_strdup(s, v, len) : NULL;
    }
    if (ok && variable && n > 0) {
        hid_t space = H5Dget_space(d);
        H5Dvlen_reclaim(mem, space, H5P_DEFAULT, buf);
        H5Sclose(space);
    }
    tb_free(buf);
    if (mem >= 0) H5Tclose(mem);
    if (ftype >= 0) H5Tclose(ftype);
    if (!ok)
        return TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "QA file %s: cannot read dataset /%s/%s: %s", path, group, name,
                        TB_H5_DETAIL());
    return TB_OK;
}

static int read_strings(hid_t g, const char *path, const char *group, const char *name, int ndim, const hsize_t *want,
                        tb_qa_set *s, char **out) {
    hid_t d;
    TB_CHECK(dataset_open(g, path, group, name, H5T_STRING, ndim, want, &d));
    int rc = read_strings_from(d, path, group, name, (size_t)(ndim > 1 ? want[0] * want[1] : want[0]), s, out);
    H5Dclose(d);
    return rc;
}

static int read_ints(hid_t g, const char *path, const char *group, const char *name, long n, int32_t *out) {
    hid_t d;
    hsize_t want[1] = {(hsize_t)n};
    TB_CHECK(dataset_open(g, path, group, name, H5T_INTEGER, 1, want, &d));
    int rc = n > 0 && H5Dread(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0
                 ? TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "QA file %s: cannot read dataset /%s/%s: %s", path, group,
                            name, TB_H5_DETAIL())
                 : TB_OK;
    H5Dclose(d);
    return rc;
}

static int group_open(hid_t file, const char *path, const char *name, hid_t *g) {
    htri_t present = H5Lexists(file, name, H5P_DEFAULT);
    *g = present > 0 ? H5Gopen2(file, name, H5P_DEFAULT) : -1;
    if (*g < 0)
        return TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "QA file %s: group /%s is %s", path, name,
                        present == 0 ? "missing" : "unreadable");
    return TB_OK;
}

/* ------------------------------------------------------------------------------------------------
 * reading: the set, checked row by row */

/* "QA file F: /items/author[17] = 512; expected an author index" */
static int row_error(const char *path, const char *group, const char *name, long row, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int row_error(const char *path, const char *group, const char *name, long row, const char *fmt, ...) {
    char detail[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "QA file %s: /%s/%s[%ld] %s", path, group, name, row, detail);
}

static int read_authors_in(hid_t g, const char *path, tb_qa_set *s) {
    const long n_total = s->n_authors + s->n_holdout;
    hsize_t dims[2] = {(hsize_t)n_total, (hsize_t)s->n_attrs};
    char **col = tb_malloc((size_t)(n_total > 0 ? n_total : 1) * sizeof *col);
    int rc = read_strings(g, path, "authors", "name", 1, dims, s, col);
    for (long k = 0; rc == TB_OK && k < n_total; k++) {
        s->authors[k].name = col[k];
        if (!col[k]) rc = row_error(path, "authors", "name", k, "is empty");
    }
    tb_free(col);
    if (rc == TB_OK) rc = read_strings(g, path, "authors", "attr_names", 1, &dims[1], s, s->attr_names);
    for (int a = 0; rc == TB_OK && a < s->n_attrs; a++)
        if (!s->attr_names[a]) rc = row_error(path, "authors", "attr_names", a, "is empty");
    /* the values table is one block, row k being authors[k].values */
    if (rc == TB_OK && n_total > 0 && s->n_attrs > 0)
        rc = read_strings(g, path, "authors", "values", 2, dims, s, s->authors[0].values);
    return rc;
}

/* Indices and counts of one item list: authors in range (trained items first), attributes in
 * range or -1, 1..TB_QA_MAX_PERTURBED perturbed answers, the required strings present. */
static int check_item(const char *path, const char *group, const tb_qa_set *s, const tb_qa_item *it, long i,
                      int world, int *seen_holdout) {
    const int n_total = s->n_authors + s->n_holdout;
    if (world ? it->author != -1 : it->author < 0 || it->author >= n_total)
        return row_error(path, group, "author", i, "= %d; expected %s", it->author,
                         world ? "-1 (world knowledge has no author)" : "an author index");
    if (!world && it->author < s->n_authors && *seen_holdout)
        return row_error(path, group, "author", i, "= %d: a trained author's item after a holdout author's",
                         it->author);
    *seen_holdout |= !world && it->author >= s->n_authors;
    if (it->attribute < -1 || it->attribute >= s->n_attrs)
        return row_error(path, group, "attribute", i, "= %d is outside [-1, %d)", it->attribute, s->n_attrs);
    if (it->n_perturbed < 1 || it->n_perturbed > TB_QA_MAX_PERTURBED)
        return row_error(path, group, "n_perturbed", i, "= %d is outside [1, %d]", it->n_perturbed,
                         TB_QA_MAX_PERTURBED);
    if (!it->question) return row_error(path, group, "question", i, "is empty");
    if (!it->answer) return row_error(path, group, "answer", i, "is empty");
    if (!world && !it->paraphrase) return row_error(path, group, "paraphrase", i, "is empty");
    for (int j = 0; j < it->n_perturbed; j++)
        if (!it->perturbed[j]) return row_error(path, group, "perturbed", i, "has an empty answer %d", j);
    return TB_OK;
}

/* col and ints are scratch of n * TB_QA_MAX_PERTURBED and n entries. */
static int read_items_in(hid_t g, const char *path, const char *group, tb_qa_set *s, tb_qa_item *items, long n,
                         char **col, int32_t *ints) {
    hsize_t dims[2] = {(hsize_t)n, TB_QA_MAX_PERTURBED};
    static const char *const text_names[] = {"question", "answer", "paraphrase"};
    for (int c = 0; c < 3; c++) {
        TB_CHECK(read_strings(g, path, group, text_names[c], 1, dims, s, col));
        for (long i = 0; i < n; i++)
            *(c == 0 ? &items[i].question : c == 1 ? &items[i].answer : &items[i].paraphrase) = col[i];
    }
    TB_CHECK(read_strings(g, path, group, "perturbed", 2, dims, s, col));
    for (long i = 0; i < n; i++) memcpy(items[i].perturbed, col + i * TB_QA_MAX_PERTURBED, sizeof items[i].perturbed);
    TB_CHECK(read_ints(g, path, group, "n_perturbed", n, ints));
    for (long i = 0; i < n; i++) items[i].n_perturbed = ints[i];
    TB_CHECK(read_ints(g, path, group, "author", n, ints));
    for (long i = 0; i < n; i++) items[i].author = ints[i];
    TB_CHECK(read_ints(g, path, group, "attribute", n, ints));
    int world = strcmp(group, "items") != 0, seen_holdout = 0;
    for (long i = 0; i < n; i++) {
        items[i].attribute = ints[i];
        TB_CHECK(check_item(path, group, s, &items[i], i, world, &seen_holdout));
    }
    return TB_OK;
}

static int read_group(hid_t file, const char *path, const char *name, tb_qa_set *s, tb_qa_item *items, long n) {
    hid_t g;
    TB_CHECK(group_open(file, path, name, &g));
    int rc;
    if (!items) {
        rc = read_authors_in(g, path, s);
    } else {
        char **col = tb_malloc((size_t)(n > 0 ? n : 1) * TB_QA_MAX_PERTURBED * sizeof *col);
        int32_t *ints = tb_malloc((size_t)(n > 0 ? n : 1) * sizeof *ints);
        rc = read_items_in(g, path, name, s, items, n, col, ints);
        tb_free(col);
        tb_free(ints);
    }
    H5Gclose(g);
    return rc;
}

/* The header: format, version, completeness and counts, before anything is allocated from them. */
static int read_header(hid_t file, const char *path, uint64_t *seed, int64_t counts[6]) {
    static const char *const count_names[] = {"n_authors", "n_holdout", "n_attrs", "n_items", "n_famous", "n_world"};
    int is_qa;
    int32_t version, complete;
    TB_CHECK(attr_string_equals(file, path, "format", QA_FORMAT, &is_qa));
    if (!is_qa)
        return TB_ERROR(TB_ERR_FORMAT, "give a file written by tb_qa_save", "%s is an HDF5 file but not a QA file",
                        path);
    TB_CHECK(attr_read(file, path, "version", H5T_NATIVE_INT32, &version));
    if (version != QA_VERSION)
        return TB_ERROR(TB_ERR_FORMAT, "read it with the trustbench that wrote it, or write it again",
                        "QA file %s has format version %d; this trustbench reads version %d", path, version,
                        QA_VERSION);
    TB_CHECK(attr_read(file, path, "complete", H5T_NATIVE_INT32, &complete));
    if (complete != 1)
        return TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "QA file %s was not completely written", path);
    TB_CHECK(attr_read(file, path, "seed", H5T_NATIVE_UINT64, seed));
    for (int c = 0; c < 6; c++) {
        TB_CHECK(attr_read(file, path, count_names[c], H5T_NATIVE_INT64, &counts[c]));
        if (counts[c] < (c == 0) || counts[c] > MAX_COUNT)
            return TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "QA file %s: attribute '%s' = %lld is outside [%d, %d]", path,
                            count_names[c], (long long)counts[c], c == 0, MAX_COUNT);
    }
    if ((counts[0] + counts[1]) * (counts[2] > 0 ? counts[2] : 1) > MAX_COUNT)
        return TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "QA file %s: %lld authors with %lld attributes are too many", path,
                        (long long)(counts[0] + counts[1]), (long long)counts[2]);
    return TB_OK;
}

static int read_contents(hid_t file, const char *path, tb_qa_set *s) {
    uint64_t seed;
    int64_t c[6];
    TB_CHECK(read_header(file, path, &seed, c));
    tb_qa_alloc(s, (int)c[2], (int)c[0], (int)c[1], (long)c[3], (long)c[4], (long)c[5]);
    s->seed = seed;
    int rc = read_group(file, path, "authors", s, NULL, 0);
    tb_qa_item *lists[3];
    long n[3];
    set_lists(s, lists, n);
    for (int l = 0; rc == TB_OK && l < 3; l++) rc = read_group(file, path, item_sets[l], s, lists[l], n[l]);
    if (rc != TB_OK) tb_qa_free(s);
    return rc;
}

int tb_qa_load(const char *path, tb_qa_set *s) {
    memset(s, 0, sizeof *s);
    TB_CHECK(tb_h5_check_file(path, "QA file", "check the path of the QA file",
                              "give an HDF5 file written by tb_qa_save"));
    tb_h5_quiet q;
    tb_h5_quiet_begin(&q);
    hid_t fapl = tb_h5_fapl(0);
    hid_t file = fapl < 0 ? -1 : H5Fopen(path, H5F_ACC_RDONLY, fapl);
    int rc = file < 0 ? TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "cannot open QA file %s: %s", path, TB_H5_DETAIL())
                      : read_contents(file, path, s);
    if (file >= 0) H5Fclose(file);
    if (fapl >= 0) H5Pclose(fapl);
    tb_h5_quiet_end(&q);
    return rc;
}
