/*
 * results.c: the sweep results file, one HDF5 file per run written collectively with the MPI-IO
 * driver (the contract is in io.h, the layout in results/README.md).
 *
 * Choices and why:
 *   - Contiguous datasets, allocated and filled (NaN, -1, 0, "") when the file is created. Every
 *     size is known up front, so nothing is ever extended: a round writes raw data only and never
 *     touches metadata, which keeps a killed run's file readable and avoids the collective chunk
 *     index updates and the small-chunk bugs of parallel HDF5 1.10 (reference/hpc.md). Writes map to
 *     one MPI_File_write_all per dataset (CONTIGUOUS_COLLECTIVE). The price is no compression, which
 *     parallel HDF5 allows only for chunked, collectively written datasets; metrics are tiny.
 *   - Memory type == file type for every write (a dataset's own H5Dget_type is the memory type):
 *     any conversion silently turns a collective write independent in 1.10.8.
 *   - Collective metadata reads and writes, so every rank sees the same bytes and fails the same way;
 *     on top of that every public call agrees on its status (agree), so a rank never returns alone
 *     while the others wait in a collective call.
 *   - File format bounds 1.8..1.10: superblock v2 and object headers carry checksums, so damaged
 *     metadata fails the open instead of being parsed, without the v3 superblock's write-access flag
 *     (which would make a killed run's file need h5clear before reopening).
 *   - Within a round the status column is written last, after a flush: a point is marked done only
 *     once its values are on disk.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>

#include "io/h5util.h"
#include "io/io.h"

#define RESULTS_FORMAT "trustbench-results"
#define RESULTS_VERSION 1
#define ALIGN_BYTES (1 << 20) /* objects >= 1 MiB start on a 1 MiB boundary: Lustre's default stripe */
#define TEXT_MAX ((size_t)1 << 28) /* a string attribute larger than this means a damaged header */
#define PATH_MAX_DS (3 * TB_RESULTS_NAME_MAX)

#define HINT_NAME "names are 1-63 characters of letters, digits and _ . + -, not starting with '.'"
#define HINT_WRITE "check that the directory exists, is writable and has free space"
#define HINT_DAMAGED "the file is truncated or damaged: delete it, or run with --restart to start over"
#define HINT_FOREIGN "results files are written by `trustbench run`; give another -o or delete this file"
#define HINT_LAYOUT "the file was written by another trustbench version for this spec; run with --restart"
#define HINT_ROWS "a row passed to tb_results_write is inconsistent (a bug of the caller)"

static const char *const builtin_columns[] = {"id", "status", "seed", "method", "wall_time", "failure"};
static const char *const reserved_attrs[] = {"format",          "format_version", "trustbench_version",
                                             "trustbench_commit", "spec_yaml",      "spec_canonical",
                                             "start_time",      "mpi_size",       "ranks_per_point",
                                             "hostnames",       "n_points",       "merged_from"};
#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ------------------------------------------------------------------------------------------------
 * HDF5 error handling: its own stack printing is switched off; failures become one TB_ERROR */



/* ------------------------------------------------------------------------------------------------
 * collective status */

/* Makes a local status collective: if any rank failed, every rank returns the code and message of
 * the lowest failing rank (a failing rank keeps its own record and trace). */
static int agree(MPI_Comm comm, int rc) {
    int rank, mine, first;
    MPI_Comm_rank(comm, &rank);
    mine = rc == TB_OK ? INT_MAX : rank;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
    if (first == INT_MAX) return TB_OK;
    struct {
        int code;
        char msg[1024];
    } e = {rc, ""};
    if (rank == first) snprintf(e.msg, sizeof e.msg, "%s", tb_error_message());
    MPI_Bcast(&e, (int)sizeof e, MPI_BYTE, first, comm);
    if (rc != TB_OK) return rc;
    return TB_ERROR(e.code, "the error happened on another rank; this rank stopped with it", "rank %d: %s", first,
                    e.msg);
}

/* ------------------------------------------------------------------------------------------------
 * layout declaration */

static int name_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n >= TB_RESULTS_NAME_MAX || s[0] == '.') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                 c == '.' || c == '+' || c == '-';
        if (!ok) return 0;
    }
    return 1;
}

static int check_name(const char *kind, const char *name) {
    if (!name_ok(name)) return TB_ERROR(TB_ERR_ARG, HINT_NAME, "results layout: invalid %s name '%s'", kind, name);
    return TB_OK;
}

static int in_list(const char *name, const char *const *list, int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0) return 1;
    return 0;
}

static int duplicate(const char *kind, const char *name) {
    return TB_ERROR(TB_ERR_ARG, "every name must be unique within its kind", "results layout: %s '%s' declared twice",
                    kind, name);
}

/* Doubles the capacity of a tb_malloc'd array when it is full (tb_malloc has no realloc). */
static void *grow(void *arr, int n, int *cap, size_t elem) {
    if (n < *cap) return arr;
    int new_cap = *cap ? 2 * *cap : 8;
    void *p = tb_malloc((size_t)new_cap * elem);
    if (n > 0) memcpy(p, arr, (size_t)n * elem);
    tb_free(arr);
    *cap = new_cap;
    return p;
}

static char *copy_text(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = tb_malloc(n);
    memcpy(p, s, n);
    return p;
}

void tb_results_layout_init(tb_results_layout *L, long n_points, int ranks_per_point, const char *spec_yaml,
                            const char *spec_canonical) {
    memset(L, 0, sizeof *L);
    L->n_points = n_points;
    L->ranks_per_point = ranks_per_point;
    L->spec_yaml = spec_yaml;
    L->spec_canonical = spec_canonical;
}

int tb_results_add_column(tb_results_layout *L, const char *name, tb_column_type type, int str_len) {
    TB_CHECK(check_name("column", name));
    if (in_list(name, builtin_columns, N_OF(builtin_columns)))
        return TB_ERROR(TB_ERR_ARG, "rename the hyperparameter", "results layout: column name '%s' is reserved", name);
    for (int i = 0; i < L->n_columns; i++)
        if (strcmp(L->columns[i].name, name) == 0) return duplicate("column", name);
    if (type == TB_COLUMN_STRING && (str_len < 1 || str_len > TB_RESULTS_STRING_MAX))
        return TB_ERROR(TB_ERR_ARG, "a string column holds 1 to 4096 bytes per value",
                        "results layout: string column '%s' declared %d bytes wide", name, str_len);
    L->columns = grow(L->columns, L->n_columns, &L->cap_columns, sizeof *L->columns);
    tb_results_column *c = &L->columns[L->n_columns++];
    snprintf(c->name, sizeof c->name, "%s", name);
    c->type = type;
    c->str_len = type == TB_COLUMN_STRING ? str_len : 0;
    return TB_OK;
}

int tb_results_add_metric(tb_results_layout *L, const char *name) {
    TB_CHECK(check_name("metric", name));
    for (int i = 0; i < L->n_metrics; i++)
        if (strcmp(L->metrics[i], name) == 0) return duplicate("metric", name);
    L->metrics = grow(L->metrics, L->n_metrics, &L->cap_metrics, sizeof *L->metrics);
    snprintf(L->metrics[L->n_metrics++], TB_RESULTS_NAME_MAX, "%s", name);
    return TB_OK;
}

static int add_series(tb_results_series **arr, int *n, int *cap, const char *kind, const char *split,
                      const char *name, int len) {
    TB_CHECK(check_name(kind, name));
    if (len < 1)
        return TB_ERROR(TB_ERR_ARG, "declare at least one value per point", "results layout: %s '%s' has length %d",
                        kind, name, len);
    for (int i = 0; i < *n; i++)
        if (strcmp((*arr)[i].split, split) == 0 && strcmp((*arr)[i].name, name) == 0) return duplicate(kind, name);
    *arr = grow(*arr, *n, cap, sizeof **arr);
    tb_results_series *s = &(*arr)[(*n)++];
    snprintf(s->split, sizeof s->split, "%s", split);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->len = len;
    return TB_OK;
}

int tb_results_add_curve(tb_results_layout *L, const char *name, int n_logged_steps) {
    return add_series(&L->curves, &L->n_curves, &L->cap_curves, "curve", "", name, n_logged_steps);
}

int tb_results_add_samples(tb_results_layout *L, const char *split, const char *name, int n_samples) {
    TB_CHECK(check_name("split", split));
    return add_series(&L->samples, &L->n_samples, &L->cap_samples, "sample set", split, name, n_samples);
}

static int add_attr(tb_results_attr **arr, int *n, int *cap, const char *kind, const char *key, const char *text,
                    double number) {
    TB_CHECK(check_name(kind, key));
    for (int i = 0; i < *n; i++)
        if (strcmp((*arr)[i].key, key) == 0) return duplicate(kind, key);
    *arr = grow(*arr, *n, cap, sizeof **arr);
    tb_results_attr *a = &(*arr)[(*n)++];
    snprintf(a->key, sizeof a->key, "%s", key);
    a->text = text ? copy_text(text) : NULL;
    a->number = number;
    return TB_OK;
}

static int add_convention(tb_results_layout *L, const char *key, const char *text, double number) {
    if (in_list(key, reserved_attrs, N_OF(reserved_attrs)))
        return TB_ERROR(TB_ERR_ARG, "rename the convention attribute",
                        "results layout: attribute name '%s' is reserved for the file's own attributes", key);
    return add_attr(&L->attrs, &L->n_attrs, &L->cap_attrs, "attribute", key, text, number);
}

int tb_results_add_attr_string(tb_results_layout *L, const char *key, const char *value) {
    return add_convention(L, key, value, 0.0);
}

int tb_results_add_attr_number(tb_results_layout *L, const char *key, double value) {
    return add_convention(L, key, NULL, value);
}

int tb_results_add_topology(tb_results_layout *L, const char *key, const char *value) {
    return add_attr(&L->topology, &L->n_topology, &L->cap_topology, "topology attribute", key, value, 0.0);
}

void tb_results_layout_free(tb_results_layout *L) {
    for (int i = 0; i < L->n_attrs; i++) tb_free(L->attrs[i].text);
    for (int i = 0; i < L->n_topology; i++) tb_free(L->topology[i].text);
    tb_free(L->columns);
    tb_free(L->metrics);
    tb_free(L->curves);
    tb_free(L->samples);
    tb_free(L->attrs);
    tb_free(L->topology);
    memset(L, 0, sizeof *L);
}

/* ------------------------------------------------------------------------------------------------
 * the layout is the same on every rank */

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t fnv_str(uint64_t h, const char *s) { return fnv(h, s, strlen(s) + 1); }

static uint64_t fnv_attrs(uint64_t h, const tb_results_attr *a, int n) {
    for (int i = 0; i < n; i++) {
        h = fnv_str(h, a[i].key);
        h = a[i].text ? fnv_str(h, a[i].text) : fnv(h, &a[i].number, sizeof a[i].number);
    }
    return h;
}

static uint64_t layout_fingerprint(const tb_results_layout *L) {
    uint64_t h = 0xcbf29ce484222325ull;
    h = fnv(h, &L->n_points, sizeof L->n_points);
    h = fnv(h, &L->ranks_per_point, sizeof L->ranks_per_point);
    h = fnv_str(fnv_str(h, L->spec_yaml), L->spec_canonical);
    for (int i = 0; i < L->n_columns; i++) {
        h = fnv_str(h, L->columns[i].name);
        h = fnv(h, &L->columns[i].type, sizeof L->columns[i].type);
        h = fnv(h, &L->columns[i].str_len, sizeof L->columns[i].str_len);
    }
    for (int i = 0; i < L->n_metrics; i++) h = fnv_str(h, L->metrics[i]);
    for (int i = 0; i < L->n_curves; i++) h = fnv(fnv_str(h, L->curves[i].name), &L->curves[i].len, sizeof(int));
    for (int i = 0; i < L->n_samples; i++)
        h = fnv(fnv_str(fnv_str(h, L->samples[i].split), L->samples[i].name), &L->samples[i].len, sizeof(int));
    return fnv_attrs(fnv_attrs(h, L->attrs, L->n_attrs), L->topology, L->n_topology);
}

/* Collective: the sizes are valid and every rank declared the same layout (ranks that read
 * different spec files, say a file that differs between nodes, would write different files). */
static int check_layout(MPI_Comm comm, const tb_results_layout *L) {
    TB_ASSERT(L->spec_yaml != NULL && L->spec_canonical != NULL);
    if (L->n_points < 1 || L->ranks_per_point < 1)
        return TB_ERROR(TB_ERR_ARG, "a sweep has at least one point and one rank per point",
                        "results layout: n_points = %ld, ranks_per_point = %d", L->n_points, L->ranks_per_point);
    uint64_t h = layout_fingerprint(L), lo, hi;
    MPI_Allreduce(&h, &lo, 1, MPI_UINT64_T, MPI_MIN, comm);
    MPI_Allreduce(&h, &hi, 1, MPI_UINT64_T, MPI_MAX, comm);
    if (lo != hi)
        return TB_ERROR(TB_ERR_ARG, "every rank must read the same spec (is the spec file the same on every node?)",
                        "results layout: the ranks declared different results layouts");
    return TB_OK;
}

/* ------------------------------------------------------------------------------------------------
 * datasets: one descriptor per dataset, in write order (status last) */

typedef enum { ELEM_INT64, ELEM_INT32, ELEM_FLOAT64, ELEM_FLOAT32, ELEM_STRING } elem_kind;

typedef enum {
    SRC_ID,
    SRC_SEED,
    SRC_METHOD,
    SRC_COLUMN,
    SRC_WALL_TIME,
    SRC_FAILURE,
    SRC_METRIC,
    SRC_CURVE,
    SRC_SAMPLES,
    SRC_STATUS
} row_source;

typedef struct {
    char path[PATH_MAX_DS]; /* "points/id", "samples/forget/loss" */
    elem_kind kind;
    size_t elem_size; /* bytes per element */
    hsize_t row_len;  /* elements per point: 1, or a curve's / sample set's length */
    int two_d;        /* [n_points, row_len] rather than [n_points] */
    row_source src;
    int index; /* which column, metric, curve or sample set */
    hid_t dset, type; /* while open; type is the dataset's own type, used as the memory type */
} dataset_desc;

static void set_desc(dataset_desc *d, row_source src, int index, elem_kind kind, size_t str_len, int row_len,
                     const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static void set_desc(dataset_desc *d, row_source src, int index, elem_kind kind, size_t str_len, int row_len,
                     const char *fmt, ...) {
    static const size_t sizes[] = {[ELEM_INT64] = 8, [ELEM_INT32] = 4, [ELEM_FLOAT64] = 8, [ELEM_FLOAT32] = 4};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->path, sizeof d->path, fmt, ap);
    va_end(ap);
    d->src = src;
    d->index = index;
    d->kind = kind;
    d->elem_size = kind == ELEM_STRING ? str_len : sizes[kind];
    d->row_len = (hsize_t)row_len;
    d->two_d = src == SRC_CURVE || src == SRC_SAMPLES;
    d->dset = d->type = -1;
}

static dataset_desc *describe(const tb_results_layout *L, int *n_out) {
    int n = N_OF(builtin_columns) + L->n_columns + L->n_metrics + L->n_curves + L->n_samples, k = 0;
    dataset_desc *ds = tb_calloc((size_t)n, sizeof *ds);
    set_desc(&ds[k++], SRC_ID, 0, ELEM_INT64, 0, 1, "points/id");
    set_desc(&ds[k++], SRC_SEED, 0, ELEM_INT64, 0, 1, "points/seed");
    set_desc(&ds[k++], SRC_METHOD, 0, ELEM_STRING, TB_RESULTS_METHOD_LEN, 1, "points/method");
    for (int i = 0; i < L->n_columns; i++) {
        const tb_results_column *c = &L->columns[i];
        elem_kind kind = c->type == TB_COLUMN_INT64     ? ELEM_INT64
                         : c->type == TB_COLUMN_FLOAT64 ? ELEM_FLOAT64
                                                        : ELEM_STRING;
        set_desc(&ds[k++], SRC_COLUMN, i, kind, (size_t)c->str_len, 1, "points/%s", c->name);
    }
    set_desc(&ds[k++], SRC_WALL_TIME, 0, ELEM_FLOAT64, 0, 1, "points/wall_time");
    set_desc(&ds[k++], SRC_FAILURE, 0, ELEM_STRING, TB_RESULTS_FAILURE_LEN, 1, "points/failure");
    for (int i = 0; i < L->n_metrics; i++)
        set_desc(&ds[k++], SRC_METRIC, i, ELEM_FLOAT64, 0, 1, "metrics/%s", L->metrics[i]);
    for (int i = 0; i < L->n_curves; i++)
        set_desc(&ds[k++], SRC_CURVE, i, ELEM_FLOAT32, 0, L->curves[i].len, "curves/%s", L->curves[i].name);
    for (int i = 0; i < L->n_samples; i++)
        set_desc(&ds[k++], SRC_SAMPLES, i, ELEM_FLOAT32, 0, L->samples[i].len, "samples/%s/%s", L->samples[i].split,
                 L->samples[i].name);
    set_desc(&ds[k++], SRC_STATUS, 0, ELEM_INT32, 0, 1, "points/status");
    TB_ASSERT(k == n);
    *n_out = n;
    return ds;
}

/* The type a descriptor's dataset has in the file and in memory: native, so that nothing converts. */
static hid_t desc_type(const dataset_desc *d) {
    if (d->kind != ELEM_STRING) {
        hid_t base = d->kind == ELEM_INT64 ? H5T_NATIVE_INT64
                     : d->kind == ELEM_INT32 ? H5T_NATIVE_INT32
                     : d->kind == ELEM_FLOAT64 ? H5T_NATIVE_DOUBLE
                                                : H5T_NATIVE_FLOAT;
        return H5Tcopy(base);
    }
    /* fixed-length, NUL-padded UTF-8: numpy's 'S' dtype, and a value may use every byte */
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0) return t;
    if (H5Tset_size(t, d->elem_size) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0 ||
        H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

static void close_datasets(dataset_desc *ds, int n) {
    for (int i = 0; i < n; i++) {
        if (ds[i].dset >= 0) H5Dclose(ds[i].dset);
        if (ds[i].type >= 0) H5Tclose(ds[i].type);
        ds[i].dset = ds[i].type = -1;
    }
}

/* ------------------------------------------------------------------------------------------------
 * file access property lists */

static hid_t parallel_fapl(MPI_Comm comm) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return fapl;
    int ok = H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL) >= 0 && H5Pset_all_coll_metadata_ops(fapl, 1) >= 0 &&
             H5Pset_coll_metadata_write(fapl, 1) >= 0 &&
             H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V110) >= 0 &&
             H5Pset_alignment(fapl, ALIGN_BYTES, ALIGN_BYTES) >= 0;
    if (!ok) {
        H5Pclose(fapl);
        return -1;
    }
    return fapl;
}

/* merge runs in one process: sec2, with best-effort locking so that file systems without flock
 * support (Lustre without -o flock, some NFS) do not fail every open */
static hid_t serial_fapl(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return fapl;
    if (H5Pset_file_locking(fapl, 1, 1) < 0 || H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V110) < 0) {
        H5Pclose(fapl);
        return -1;
    }
    return fapl;
}

static hid_t collective_dxpl(void) {
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    if (dxpl >= 0 && H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0) {
        H5Pclose(dxpl);
        return -1;
    }
    return dxpl;
}

/* ------------------------------------------------------------------------------------------------
 * writing attributes (collective: every rank passes the same values) */

#define WRITE_FAILED(path, what, name)                                                                     \
    TB_ERROR(TB_ERR_IO, HINT_WRITE, "results file %s: cannot write %s '%s': %s", (path), (what), (name), TB_H5_DETAIL())

static int attr_write(hid_t loc, const char *path, const char *name, hid_t type, hid_t space, const void *value) {
    hid_t a = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a < 0 || H5Awrite(a, type, value) < 0) ? WRITE_FAILED(path, "attribute", name) : TB_OK;
    if (a >= 0) H5Aclose(a);
    return rc;
}

static int attr_write_scalar(hid_t loc, const char *path, const char *name, hid_t type, const void *value) {
    hid_t space = H5Screate(H5S_SCALAR);
    int rc = space < 0 ? WRITE_FAILED(path, "attribute", name) : attr_write(loc, path, name, type, space, value);
    if (space >= 0) H5Sclose(space);
    return rc;
}

/* Fixed-length, NUL-terminated UTF-8 strings of width bytes each, back to back in buf: one value
 * (n == 0, a scalar) or an array [n]. */
static int attr_write_strings(hid_t loc, const char *path, const char *name, const char *buf, int n, size_t width) {
    hsize_t dims = (hsize_t)n;
    hid_t t = H5Tcopy(H5T_C_S1);
    hid_t space = n > 0 ? H5Screate_simple(1, &dims, NULL) : H5Screate(H5S_SCALAR);
    int ok = t >= 0 && space >= 0 && H5Tset_size(t, width) >= 0 && H5Tset_cset(t, H5T_CSET_UTF8) >= 0;
    int rc = ok ? attr_write(loc, path, name, t, space, buf) : WRITE_FAILED(path, "attribute", name);
    if (space >= 0) H5Sclose(space);
    if (t >= 0) H5Tclose(t);
    return rc;
}

static int attr_write_string(hid_t loc, const char *path, const char *name, const char *s) {
    return attr_write_strings(loc, path, name, s, 0, strlen(s) + 1);
}

/* ------------------------------------------------------------------------------------------------
 * creating the file */

/* Every rank's processor name, [size] strings of the longest name's width (+1), in rank order. */
static char *gather_hostnames(MPI_Comm comm, int size, size_t *width) {
    char mine[MPI_MAX_PROCESSOR_NAME] = {0};
    int len = 0;
    MPI_Get_processor_name(mine, &len);
    char *all = tb_malloc((size_t)size * MPI_MAX_PROCESSOR_NAME);
    MPI_Allgather(mine, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, comm);
    size_t w = 1;
    for (int i = 0; i < size; i++) {
        size_t n = strnlen(all + (size_t)i * MPI_MAX_PROCESSOR_NAME, MPI_MAX_PROCESSOR_NAME - 1) + 1;
        if (n > w) w = n;
    }
    char *packed = tb_malloc((size_t)size * w);
    for (int i = 0; i < size; i++) memcpy(packed + (size_t)i * w, all + (size_t)i * MPI_MAX_PROCESSOR_NAME, w - 1);
    tb_free(all);
    *width = w;
    return packed;
}

/* Rank 0's clock, so that every rank writes the same attribute value. */
static void start_time(MPI_Comm comm, char out[32]) {
    int rank;
    MPI_Comm_rank(comm, &rank);
    if (rank == 0) {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    MPI_Bcast(out, 32, MPI_CHAR, 0, comm);
}

static int write_root_attrs(hid_t file, const char *path, MPI_Comm comm, const tb_results_layout *L) {
    int size;
    MPI_Comm_size(comm, &size);
    const int32_t version = RESULTS_VERSION, mpi_size = size, rpp = L->ranks_per_point;
    const int64_t n_points = L->n_points;
    char when[32] = {0};
    start_time(comm, when);
    TB_CHECK(attr_write_string(file, path, "format", RESULTS_FORMAT));
    TB_CHECK(attr_write_scalar(file, path, "format_version", H5T_NATIVE_INT32, &version));
    TB_CHECK(attr_write_string(file, path, "trustbench_version", TB_VERSION));
    TB_CHECK(attr_write_string(file, path, "trustbench_commit", tb_git_commit()));
    TB_CHECK(attr_write_string(file, path, "spec_yaml", L->spec_yaml));
    TB_CHECK(attr_write_string(file, path, "spec_canonical", L->spec_canonical));
    TB_CHECK(attr_write_string(file, path, "start_time", when));
    TB_CHECK(attr_write_scalar(file, path, "mpi_size", H5T_NATIVE_INT32, &mpi_size));
    TB_CHECK(attr_write_scalar(file, path, "ranks_per_point", H5T_NATIVE_INT32, &rpp));
    TB_CHECK(attr_write_scalar(file, path, "n_points", H5T_NATIVE_INT64, &n_points));
    size_t width;
    char *hosts = gather_hostnames(comm, size, &width);
    int rc = attr_write_strings(file, path, "hostnames", hosts, size, width);
    tb_free(hosts);
    TB_CHECK(rc);
    for (int i = 0; i < L->n_attrs; i++) {
        const tb_results_attr *a = &L->attrs[i];
        TB_CHECK(a->text ? attr_write_string(file, path, a->key, a->text)
                         : attr_write_scalar(file, path, a->key, H5T_NATIVE_DOUBLE, &a->number));
    }
    return TB_OK;
}

static int create_group(hid_t file, const char *path, const char *name, hid_t *g) {
    *g = H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (*g < 0) return WRITE_FAILED(path, "group", name);
    return TB_OK;
}

static int create_empty_group(hid_t file, const char *path, const char *name) {
    hid_t g;
    TB_CHECK(create_group(file, path, name, &g));
    H5Gclose(g);
    return TB_OK;
}

/* /points carries the names of the hyperparameter columns, comma-separated, so readers can tell
 * them from the built-in columns without knowing the workload. */
static int write_groups(hid_t file, const char *path, const tb_results_layout *L) {
    hid_t g;
    TB_CHECK(create_group(file, path, "topology", &g));
    int rc = TB_OK;
    for (int i = 0; rc == TB_OK && i < L->n_topology; i++)
        rc = attr_write_string(g, path, L->topology[i].key, L->topology[i].text);
    H5Gclose(g);
    TB_CHECK(rc);

    TB_CHECK(create_group(file, path, "points", &g));
    size_t cap = (size_t)L->n_columns * TB_RESULTS_NAME_MAX + 1, n = 0;
    char *names = tb_malloc(cap);
    for (int i = 0; i < L->n_columns; i++)
        n += (size_t)snprintf(names + n, cap - n, "%s%s", i ? "," : "", L->columns[i].name);
    rc = attr_write_string(g, path, "hyperparameters", names);
    tb_free(names);
    H5Gclose(g);
    TB_CHECK(rc);

    TB_CHECK(create_empty_group(file, path, "metrics"));
    TB_CHECK(create_empty_group(file, path, "curves"));
    TB_CHECK(create_empty_group(file, path, "samples"));
    for (int i = 0; i < L->n_samples; i++) {
        int first = 1; /* create each split's group once */
        for (int j = 0; j < i && first; j++) first = strcmp(L->samples[j].split, L->samples[i].split) != 0;
        char name[PATH_MAX_DS];
        snprintf(name, sizeof name, "samples/%s", L->samples[i].split);
        if (first) TB_CHECK(create_empty_group(file, path, name));
    }
    return TB_OK;
}

/* Contiguous, allocated at creation and filled with "not written yet": NaN for floats, -1 for id,
 * 0 (pending) for status and other integers, empty strings. */
static hid_t dataset_dcpl(const dataset_desc *d, hid_t type) {
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (dcpl < 0) return dcpl;
    int64_t i64 = d->src == SRC_ID ? -1 : 0;
    int32_t i32 = 0;
    double f64 = NAN;
    float f32 = NAN;
    const void *fill = d->kind == ELEM_INT64 ? (const void *)&i64
                       : d->kind == ELEM_INT32 ? (const void *)&i32
                       : d->kind == ELEM_FLOAT64 ? (const void *)&f64
                       : d->kind == ELEM_FLOAT32 ? (const void *)&f32
                                                 : NULL; /* strings: the default fill, all zero bytes */
    int ok = H5Pset_layout(dcpl, H5D_CONTIGUOUS) >= 0 && H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) >= 0 &&
             H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC) >= 0 && (!fill || H5Pset_fill_value(dcpl, type, fill) >= 0);
    if (!ok) {
        H5Pclose(dcpl);
        return -1;
    }
    return dcpl;
}

static int create_dataset(hid_t file, const char *path, const dataset_desc *d, long n_points) {
    hsize_t dims[2] = {(hsize_t)n_points, d->row_len};
    hid_t type = desc_type(d);
    hid_t space = H5Screate_simple(d->two_d ? 2 : 1, dims, NULL);
    hid_t dcpl = type < 0 ? -1 : dataset_dcpl(d, type);
    hid_t dset = space < 0 || dcpl < 0 ? -1 : H5Dcreate2(file, d->path, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    int rc = dset < 0 ? WRITE_FAILED(path, "dataset", d->path) : TB_OK;
    if (dset >= 0) H5Dclose(dset);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    return rc;
}

static int build_contents(hid_t file, const char *path, MPI_Comm comm, const tb_results_layout *L) {
    TB_CHECK(write_root_attrs(file, path, comm, L));
    TB_CHECK(write_groups(file, path, L));
    int n_ds;
    dataset_desc *ds = describe(L, &n_ds);
    int rc = TB_OK;
    for (int i = 0; rc == TB_OK && i < n_ds; i++) rc = create_dataset(file, path, &ds[i], L->n_points);
    tb_free(ds);
    return rc;
}

static int build_file(const char *tmp, MPI_Comm comm, const tb_results_layout *L) {
    hid_t fapl = parallel_fapl(comm);
    hid_t file = fapl < 0 ? -1 : H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    int rc = file < 0 ? TB_ERROR(TB_ERR_IO, HINT_WRITE, "cannot create results file %s: %s", tmp, TB_H5_DETAIL()) : TB_OK;
    if (fapl >= 0) H5Pclose(fapl);
    if (rc != TB_OK) return rc;
    rc = build_contents(file, tmp, comm, L);
    if (H5Fclose(file) < 0 && rc == TB_OK) rc = WRITE_FAILED(tmp, "file", tmp);
    return rc;
}

/* ------------------------------------------------------------------------------------------------
 * reading attributes */

#define DAMAGED(path, fmt, ...) TB_ERROR(TB_ERR_FORMAT, HINT_DAMAGED, "results file %s: " fmt, (path), __VA_ARGS__)

static int attr_present(hid_t loc, const char *path, const char *name, int *present) {
    htri_t r = H5Aexists(loc, name);
    if (r < 0) return DAMAGED(path, "cannot look up attribute '%s': %s", name, TB_H5_DETAIL());
    *present = r > 0;
    return TB_OK;
}

/* Reads a scalar fixed-length string attribute into a tb_malloc'd buffer (*out, NUL-terminated). */
static int attr_read_text(hid_t loc, const char *path, const char *name, char **out) {
    *out = NULL;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) return DAMAGED(path, "cannot open attribute '%s': %s", name, TB_H5_DETAIL());
    hid_t t = H5Aget_type(a), space = H5Aget_space(a);
    size_t size = t < 0 ? 0 : H5Tget_size(t);
    int ok = t >= 0 && space >= 0 && H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) == 0 && size > 0 &&
             size < TEXT_MAX && H5Sget_simple_extent_npoints(space) == 1;
    if (ok) {
        *out = tb_malloc(size + 1); /* zeroed: the terminator survives a NUL-padded full-width value */
        ok = H5Aread(a, t, *out) >= 0;
    }
    if (space >= 0) H5Sclose(space);
    if (t >= 0) H5Tclose(t);
    H5Aclose(a);
    if (ok) return TB_OK;
    tb_free(*out);
    *out = NULL;
    return DAMAGED(path, "attribute '%s' is not a readable string", name);
}

static int attr_read_int(hid_t loc, const char *path, const char *name, int64_t *out) {
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) return DAMAGED(path, "cannot open attribute '%s': %s", name, TB_H5_DETAIL());
    hid_t t = H5Aget_type(a), space = H5Aget_space(a);
    int ok = t >= 0 && space >= 0 && H5Tget_class(t) == H5T_INTEGER && H5Sget_simple_extent_npoints(space) == 1 &&
             H5Aread(a, H5T_NATIVE_INT64, out) >= 0;
    if (space >= 0) H5Sclose(space);
    if (t >= 0) H5Tclose(t);
    H5Aclose(a);
    return ok ? TB_OK : DAMAGED(path, "attribute '%s' is not a readable integer", name);
}

/* The root's format attributes say this is a results file this trustbench can read. */
static int check_format(hid_t file, const char *path) {
    int present = 0;
    TB_CHECK(attr_present(file, path, "format", &present));
    char *format = NULL;
    if (present) TB_CHECK(attr_read_text(file, path, "format", &format));
    int ours = format && strcmp(format, RESULTS_FORMAT) == 0;
    tb_free(format);
    if (!ours)
        return TB_ERROR(TB_ERR_FORMAT, HINT_FOREIGN, "%s is an HDF5 file but not a trustbench results file", path);
    int64_t version = 0;
    TB_CHECK(attr_read_int(file, path, "format_version", &version));
    if (version < 1 || version > RESULTS_VERSION)
        return TB_ERROR(TB_ERR_FORMAT, "use the trustbench that wrote it, or run with --restart",
                        "results file %s has format version %lld; this trustbench reads up to %d", path,
                        (long long)version, RESULTS_VERSION);
    return TB_OK;
}

/* "line 12: file has 'lr: 0.1' but this run has 'lr: 0.2'" for the first line where a and b differ */
static void first_difference(const char *a, const char *b, char *out, size_t cap) {
    int line = 1;
    const char *la = a, *lb = b;
    while (*a && *a == *b) {
        if (*a == '\n') {
            line++;
            la = a + 1;
            lb = b + 1;
        }
        a++;
        b++;
    }
    int na = (int)strcspn(la, "\n"), nb = (int)strcspn(lb, "\n");
    snprintf(out, cap, "line %d: the file has '%.*s' but this run has '%.*s'", line, na > 80 ? 80 : na, la,
             nb > 80 ? 80 : nb, lb);
}

/* *same = whether the file's canonical spec equals this run's. */
static int compare_spec(hid_t file, const char *path, const char *canonical, int *same) {
    char *stored = NULL;
    TB_CHECK(attr_read_text(file, path, "spec_canonical", &stored));
    *same = strcmp(stored, canonical) == 0;
    tb_free(stored);
    return TB_OK;
}

static int spec_mismatch(hid_t file, const char *path, const char *canonical) {
    char *stored = NULL, where[256];
    TB_CHECK(attr_read_text(file, path, "spec_canonical", &stored));
    first_difference(stored, canonical, where, sizeof where);
    tb_free(stored);
    return TB_ERROR(TB_ERR_ARG, "resume with the spec that wrote the file, or pass --restart to start over",
                    "results file %s was written for a different spec (%s)", path, where);
}

/* ------------------------------------------------------------------------------------------------
 * opening datasets and reading the status column */

static const char *type_str(hid_t t, char *buf, size_t cap) {
    H5T_class_t c = H5Tget_class(t);
    size_t s = H5Tget_size(t);
    if (c == H5T_INTEGER) snprintf(buf, cap, "int%zu", 8 * s);
    else if (c == H5T_FLOAT) snprintf(buf, cap, "float%zu", 8 * s);
    else if (c == H5T_STRING) snprintf(buf, cap, "string of %zu bytes", s);
    else snprintf(buf, cap, "another type");
    return buf;
}

/* Opens d's dataset and checks that its type and shape are the ones this layout writes. */
static int open_dataset(hid_t file, const char *path, dataset_desc *d, long n_points) {
    d->dset = H5Dopen2(file, d->path, H5P_DEFAULT);
    if (d->dset < 0)
        return TB_ERROR(TB_ERR_FORMAT, HINT_LAYOUT, "results file %s: cannot open dataset /%s: %s", path, d->path,
                        TB_H5_DETAIL());
    d->type = H5Dget_type(d->dset);
    hid_t want = desc_type(d), space = H5Dget_space(d->dset);
    hsize_t dims[2] = {0, 0}, want_dims[2] = {(hsize_t)n_points, d->row_len};
    int ndim = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    int ok = d->type >= 0 && want >= 0 && ndim == (d->two_d ? 2 : 1) &&
             H5Sget_simple_extent_dims(space, dims, NULL) >= 0 &&
             H5Tequal(d->type, want) > 0 && dims[0] == want_dims[0] && (!d->two_d || dims[1] == want_dims[1]);
    int rc = TB_OK;
    if (!ok) {
        char has[64], needs[64];
        rc = TB_ERROR(TB_ERR_FORMAT, HINT_LAYOUT,
                      "results file %s: dataset /%s is %s with %d dimension(s) (%llu, %llu); this spec writes %s "
                      "(%llu, %llu)", path, d->path, d->type >= 0 ? type_str(d->type, has, sizeof has) : "unreadable",
                      ndim, (unsigned long long)dims[0], (unsigned long long)dims[1],
                      type_str(want, needs, sizeof needs), (unsigned long long)want_dims[0],
                      (unsigned long long)(d->two_d ? want_dims[1] : 1));
    }
    if (space >= 0) H5Sclose(space);
    if (want >= 0) H5Tclose(want);
    return rc;
}

static const dataset_desc *find_source(const dataset_desc *ds, int n, row_source src) {
    for (int i = 0; i < n; i++)
        if (ds[i].src == src) return &ds[i];
    TB_ASSERT(0);
    return NULL;
}

/* Every rank reads the whole status column (collectively: the same bytes for all) and checks it. */
static int read_status(const char *path, const dataset_desc *d, hid_t dxpl, long n_points, int32_t *status) {
    if (H5Dread(d->dset, d->type, H5S_ALL, H5S_ALL, dxpl, status) < 0)
        return DAMAGED(path, "cannot read /points/status: %s", TB_H5_DETAIL());
    for (long p = 0; p < n_points; p++)
        if (status[p] < TB_POINT_PENDING || status[p] > TB_POINT_FAILED)
            return DAMAGED(path, "/points/status[%ld] = %d is not a status (0 pending, 1 done, 2 failed)", p,
                           (int)status[p]);
    return TB_OK;
}

/* ------------------------------------------------------------------------------------------------
 * the handle */

struct tb_results {
    MPI_Comm comm; /* a duplicate of the caller's communicator */
    int rank, size;
    char *path;
    hid_t file, dxpl;
    long n_points;
    dataset_desc *ds; /* [n_ds] in write order */
    int n_ds;
    int n_columns;
    tb_results_column *columns; /* [n_columns], to check string widths */
    int32_t *status;            /* [n_points] identical on every rank */
    int *writer;                /* [n_points] scratch: the rank that passed a point this round, or -1 */
    int io_mode;
    uint32_t io_local_cause, io_global_cause;
};

static void results_free(tb_results *r) {
    close_datasets(r->ds, r->n_ds);
    if (r->dxpl >= 0) H5Pclose(r->dxpl);
    if (r->file >= 0) H5Fclose(r->file);
    MPI_Comm_free(&r->comm);
    tb_free(r->ds);
    tb_free(r->columns);
    tb_free(r->status);
    tb_free(r->writer);
    tb_free(r->path);
    tb_free(r);
}

static tb_results *results_new(const char *path, MPI_Comm comm, const tb_results_layout *L) {
    tb_results *r = tb_calloc(1, sizeof *r);
    MPI_Comm_dup(comm, &r->comm);
    MPI_Comm_rank(r->comm, &r->rank);
    MPI_Comm_size(r->comm, &r->size);
    r->path = copy_text(path);
    r->file = r->dxpl = -1;
    r->n_points = L->n_points;
    r->ds = describe(L, &r->n_ds);
    r->n_columns = L->n_columns;
    r->columns = tb_calloc((size_t)(L->n_columns ? L->n_columns : 1), sizeof *r->columns);
    if (L->n_columns) memcpy(r->columns, L->columns, (size_t)L->n_columns * sizeof *r->columns);
    r->status = tb_calloc((size_t)L->n_points, sizeof *r->status);
    r->writer = tb_calloc((size_t)L->n_points, sizeof *r->writer);
    for (long p = 0; p < L->n_points; p++) r->writer[p] = -1;
    return r;
}

/* Rank 0 looks at the path before HDF5 does, so that a missing file, a directory or a file of
 * another format gets a plain message. */
static int check_path(const char *path) { return tb_h5_check_file(path, "results file", "check the -o path", HINT_FOREIGN); }

static int open_file(tb_results *r) {
    hid_t fapl = parallel_fapl(r->comm);
    r->file = fapl < 0 ? -1 : H5Fopen(r->path, H5F_ACC_RDWR, fapl);
    int rc = r->file < 0 ? DAMAGED(r->path, "cannot open it: %s", TB_H5_DETAIL()) : TB_OK;
    if (fapl >= 0) H5Pclose(fapl);
    return rc;
}

/* Opens and checks every dataset, then reads the status column. (HDF5 1.10.8 keeps an internal
 * free-list block when a damaged header fails its checksum; every handle of ours is still closed,
 * but the library prints "infinite loop closing library ... FL" when it shuts down.) */
static int open_datasets(tb_results *r) {
    for (int i = 0; i < r->n_ds; i++) TB_CHECK(open_dataset(r->file, r->path, &r->ds[i], r->n_points));
    r->dxpl = collective_dxpl();
    if (r->dxpl < 0) return DAMAGED(r->path, "cannot set up collective transfers: %s", TB_H5_DETAIL());
    return read_status(r->path, find_source(r->ds, r->n_ds, SRC_STATUS), r->dxpl, r->n_points, r->status);
}

/* Opens path on every rank of comm and prepares writing. With check_spec, a file written for another
 * spec fails, or with restart sets *stale and returns TB_OK. Every step's status is agreed. */
static int attach(tb_results **out, const char *path, MPI_Comm comm, const tb_results_layout *L, int check_spec,
                  int restart, int *stale) {
    *stale = 0;
    tb_results *r = results_new(path, comm, L);
    int rc = agree(r->comm, r->rank == 0 ? check_path(path) : TB_OK);
    if (rc == TB_OK) rc = agree(r->comm, open_file(r));
    if (rc == TB_OK) rc = agree(r->comm, check_format(r->file, path));
    if (rc == TB_OK && check_spec) {
        int same = 0;
        rc = agree(r->comm, compare_spec(r->file, path, L->spec_canonical, &same));
        if (rc == TB_OK && !same && !restart) rc = agree(r->comm, spec_mismatch(r->file, path, L->spec_canonical));
        if (rc == TB_OK && !same && restart) *stale = 1;
    }
    if (rc == TB_OK && !*stale) rc = agree(r->comm, open_datasets(r));
    if (rc != TB_OK || *stale) {
        results_free(r);
        return rc;
    }
    *out = r;
    return TB_OK;
}

/* ------------------------------------------------------------------------------------------------
 * public: create, open, close */

int tb_results_create(tb_results **out, const char *path, MPI_Comm comm, const tb_results_layout *L) {
    *out = NULL;
    int rank;
    MPI_Comm_rank(comm, &rank);
    tb_h5_quiet q;
    tb_h5_quiet_begin(&q);
    size_t len = strlen(path);
    char *tmp = tb_malloc(len + sizeof ".tmp");
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".tmp", sizeof ".tmp");
    int rc = agree(comm, check_layout(comm, L));
    if (rc == TB_OK) rc = agree(comm, build_file(tmp, comm, L));
    if (rc == TB_OK && rank == 0 && rename(tmp, path) != 0)
        rc = TB_ERROR(TB_ERR_IO, HINT_WRITE, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    rc = agree(comm, rc);
    if (rc != TB_OK && rank == 0) remove(tmp); /* a partial file must not linger */
    int stale;
    if (rc == TB_OK) rc = attach(out, path, comm, L, 0, 0, &stale);
    tb_free(tmp);
    tb_h5_quiet_end(&q);
    return rc;
}

int tb_results_open(tb_results **out, const char *path, MPI_Comm comm, const tb_results_layout *L, int restart) {
    *out = NULL;
    tb_h5_quiet q;
    tb_h5_quiet_begin(&q);
    int stale = 0;
    int rc = agree(comm, check_layout(comm, L));
    if (rc == TB_OK) rc = attach(out, path, comm, L, 1, restart, &stale);
    int rank;
    MPI_Comm_rank(comm, &rank);
    if (rc == TB_OK && stale && rank == 0)
        tb_warn("results file %s was written for a different spec; --restart: it will be recreated", path);
    tb_h5_quiet_end(&q);
    return rc;
}

int tb_results_close(tb_results *r) {
    if (!r) return TB_OK;
    tb_h5_quiet q;
    tb_h5_quiet_begin(&q);
    close_datasets(r->ds, r->n_ds);
    H5Pclose(r->dxpl);
    r->dxpl = -1;
    int rc = H5Fclose(r->file) < 0 ? WRITE_FAILED(r->path, "file", r->path) : TB_OK;
    r->file = -1;
    rc = agree(r->comm, rc);
    results_free(r);
    tb_h5_quiet_end(&q);
    return rc;
}

const int32_t *tb_results_status(const tb_results *r) { return r->status; }

long tb_results_n_points(const tb_results *r) { return r->n_points; }

long tb_results_count(const tb_results *r, tb_point_status status) {
    long n = 0;
    for (long p = 0; p < r->n_points; p++) n += r->status[p] == (int32_t)status;
    return n;
}

void tb_results_last_io(const tb_results *r, int *mode, uint32_t *local_cause, uint32_t *global_cause) {
    *mode = r->io_mode;
    *local_cause = r->io_local_cause;
    *global_cause = r->io_global_cause;
}

/* ------------------------------------------------------------------------------------------------
 * writing a round: checks */

static int check_row(const tb_results *r, const tb_results_row *row) {
    if (row->status != TB_POINT_DONE && row->status != TB_POINT_FAILED)
        return TB_ERROR(TB_ERR_ARG, HINT_ROWS, "results file %s: point %ld has status %d (1 done or 2 failed)",
                        r->path, row->point, row->status);
    if (row->method && strlen(row->method) > TB_RESULTS_METHOD_LEN)
        return TB_ERROR(TB_ERR_ARG, "method names are at most 64 bytes",
                        "results file %s: point %ld: method '%.40s...' is longer than %d bytes", r->path, row->point,
                        row->method, TB_RESULTS_METHOD_LEN);
    TB_ASSERT(r->n_columns == 0 || row->values != NULL);
    for (int c = 0; c < r->n_columns; c++) {
        if (r->columns[c].type != TB_COLUMN_STRING) continue;
        TB_ASSERT(row->values[c].s != NULL);
        if (strlen(row->values[c].s) > (size_t)r->columns[c].str_len)
            return TB_ERROR(TB_ERR_ARG, "declare the column as wide as its longest value",
                            "results file %s: point %ld: value '%.40s' of column %s is longer than its %d bytes",
                            r->path, row->point, row->values[c].s, r->columns[c].name, r->columns[c].str_len);
    }
    return TB_OK;
}

static int check_rows(const tb_results *r, const tb_results_row *rows, int n_rows) {
    for (int i = 0; i < n_rows; i++) TB_CHECK(check_row(r, &rows[i]));
    return TB_OK;
}

/* Every rank's (point, status) pairs, in rank order: all[2 * total]. */
static int64_t *gather_rows(const tb_results *r, const tb_results_row *rows, int n_rows, int *counts, int *total) {
    int *n_pairs = tb_calloc((size_t)r->size, sizeof *n_pairs), *displs = tb_calloc((size_t)r->size, sizeof *displs);
    MPI_Allgather(&n_rows, 1, MPI_INT, counts, 1, MPI_INT, r->comm);
    *total = 0;
    for (int i = 0; i < r->size; i++) {
        n_pairs[i] = 2 * counts[i];
        displs[i] = 2 * *total;
        *total += counts[i];
    }
    int64_t *mine = tb_calloc((size_t)(2 * n_rows + 1), sizeof *mine);
    int64_t *all = tb_calloc((size_t)(2 * *total + 1), sizeof *all);
    for (int i = 0; i < n_rows; i++) {
        mine[2 * i] = rows[i].point;
        mine[2 * i + 1] = rows[i].status;
    }
    MPI_Allgatherv(mine, 2 * n_rows, MPI_INT64_T, all, n_pairs, displs, MPI_INT64_T, r->comm);
    tb_free(mine);
    tb_free(n_pairs);
    tb_free(displs);
    return all;
}

/* The same verdict on every rank, from the gathered pairs: points in range, passed once, not done. */
static int check_points(tb_results *r, const int64_t *all, const int *counts) {
    int rc = TB_OK;
    long k = 0;
    for (int rank = 0; rank < r->size; rank++)
        for (int i = 0; i < counts[rank]; i++, k++) {
            int64_t p = all[2 * k];
            if (rc != TB_OK) continue;
            if (p < 0 || p >= r->n_points)
                rc = TB_ERROR(TB_ERR_ARG, HINT_ROWS, "results file %s: rank %d passed point %lld, outside [0, %ld)",
                              r->path, rank, (long long)p, r->n_points);
            else if (r->writer[p] >= 0)
                rc = TB_ERROR(TB_ERR_ARG, "only the group leader passes a point's row; the other ranks pass none",
                              "results file %s: point %lld was passed by rank %d and by rank %d in the same round",
                              r->path, (long long)p, r->writer[p], rank);
            else if (r->status[p] == TB_POINT_DONE)
                rc = TB_ERROR(TB_ERR_ARG, "a finished point is not run again; skip points whose status is done",
                              "results file %s: rank %d passed point %lld, which is already done", r->path, rank,
                              (long long)p);
            else
                r->writer[p] = rank;
        }
    for (long j = 0; j < k; j++) /* reset the scratch for the next round */
        if (all[2 * j] >= 0 && all[2 * j] < r->n_points) r->writer[all[2 * j]] = -1;
    return rc;
}

/* ------------------------------------------------------------------------------------------------
 * writing a round: packing and selecting */

typedef struct {
    long point;
    int row;
} row_order;

static int by_point(const void *a, const void *b) {
    long pa = ((const row_order *)a)->point, pb = ((const row_order *)b)->point;
    return (pa > pb) - (pa < pb);
}

/* NUL-padded copy into a width-byte field. With cut, a longer string is shortened at a UTF-8
 * character boundary; without, the caller has checked it fits. */
static void put_string(unsigned char *dst, size_t width, const char *s, int cut) {
    size_t n = s ? strlen(s) : 0;
    if (n > width) {
        TB_ASSERT(cut);
        n = width;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--; /* s[n] continues a character: back up */
    }
    memset(dst, 0, width);
    if (n) memcpy(dst, s, n);
}

static void put_floats(unsigned char *dst, const float *const *arr, int index, hsize_t len) {
    const float *v = arr ? arr[index] : NULL;
    if (v) {
        memcpy(dst, v, (size_t)len * sizeof(float));
        return;
    }
    for (hsize_t i = 0; i < len; i++) ((float *)(void *)dst)[i] = NAN;
}

/* One row's values for dataset d: row_len elements at dst, in the dataset's type. */
static void pack_value(const tb_results *r, const dataset_desc *d, const tb_results_row *row, unsigned char *dst) {
    int32_t status = row->status;
    double metric;
    switch (d->src) {
    case SRC_ID: memcpy(dst, &row->id, sizeof row->id); break;
    case SRC_SEED: memcpy(dst, &row->seed, sizeof row->seed); break;
    case SRC_STATUS: memcpy(dst, &status, sizeof status); break;
    case SRC_METHOD: put_string(dst, d->elem_size, row->method, 0); break;
    case SRC_WALL_TIME: memcpy(dst, &row->wall_time, sizeof row->wall_time); break;
    case SRC_FAILURE: put_string(dst, d->elem_size, row->failure, 1); break;
    case SRC_COLUMN: {
        const tb_results_value *v = &row->values[d->index];
        if (r->columns[d->index].type == TB_COLUMN_STRING) put_string(dst, d->elem_size, v->s, 0);
        else memcpy(dst, r->columns[d->index].type == TB_COLUMN_INT64 ? (const void *)&v->i : (const void *)&v->f, 8);
        break;
    }
    case SRC_METRIC:
        metric = row->metrics ? row->metrics[d->index] : NAN;
        memcpy(dst, &metric, sizeof metric);
        break;
    case SRC_CURVE: put_floats(dst, row->curves, d->index, d->row_len); break;
    case SRC_SAMPLES: put_floats(dst, row->samples, d->index, d->row_len); break;
    }
}

/* The rows of the sorted points, as few hyperslabs as there are runs of consecutive points. HDF5
 * walks a selection in file order, which is why the memory buffer is packed in point order. */
static int select_rows(hid_t space, const dataset_desc *d, const row_order *order, int n) {
    if (n == 0) return H5Sselect_none(space) >= 0;
    for (int i = 0; i < n;) {
        int j = i + 1;
        while (j < n && order[j].point == order[j - 1].point + 1) j++;
        hsize_t start[2] = {(hsize_t)order[i].point, 0}, count[2] = {(hsize_t)(j - i), d->row_len};
        if (H5Sselect_hyperslab(space, i == 0 ? H5S_SELECT_SET : H5S_SELECT_OR, start, NULL, count, NULL) < 0)
            return 0;
        i = j;
    }
    return 1;
}

static void record_io(tb_results *r, int first) {
    H5D_mpio_actual_io_mode_t mode = H5D_MPIO_NO_COLLECTIVE;
    uint32_t local = 0, global = 0;
    if (H5Pget_mpio_actual_io_mode(r->dxpl, &mode) < 0 || H5Pget_mpio_no_collective_cause(r->dxpl, &local, &global) < 0)
        mode = H5D_MPIO_NO_COLLECTIVE;
    r->io_mode = first || (int)mode < r->io_mode ? (int)mode : r->io_mode;
    r->io_local_cause = (first ? 0 : r->io_local_cause) | local;
    r->io_global_cause = (first ? 0 : r->io_global_cause) | global;
}

/* One collective H5Dwrite of this rank's rows (possibly none) into d. */
static int write_dataset(tb_results *r, const dataset_desc *d, const tb_results_row *rows, const row_order *order,
                         int n_rows, unsigned char *buf) {
    size_t row_bytes = (size_t)d->row_len * d->elem_size;
    for (int i = 0; i < n_rows; i++) pack_value(r, d, &rows[order[i].row], buf + (size_t)i * row_bytes);
    hsize_t mdims[2] = {(hsize_t)(n_rows ? n_rows : 1), d->row_len};
    hid_t mspace = H5Screate_simple(d->two_d ? 2 : 1, mdims, NULL);
    hid_t fspace = H5Dget_space(d->dset);
    int ok = mspace >= 0 && fspace >= 0 && (n_rows > 0 || H5Sselect_none(mspace) >= 0) &&
             select_rows(fspace, d, order, n_rows) && H5Dwrite(d->dset, d->type, mspace, fspace, r->dxpl, buf) >= 0;
    if (fspace >= 0) H5Sclose(fspace);
    if (mspace >= 0) H5Sclose(mspace);
    return ok ? TB_OK : WRITE_FAILED(r->path, "dataset", d->path);
}

static int flush(tb_results *r) {
    if (H5Fflush(r->file, H5F_SCOPE_LOCAL) < 0) return WRITE_FAILED(r->path, "file", r->path);
    return TB_OK;
}

/* Every dataset in order, every rank in lockstep: after a failure the remaining collective calls
 * are still made (skipping them would leave the other ranks waiting), and the first error is kept. */
static int write_rows(tb_results *r, const tb_results_row *rows, int n_rows) {
    row_order *order = tb_calloc((size_t)(n_rows ? n_rows : 1), sizeof *order);
    for (int i = 0; i < n_rows; i++) order[i] = (row_order){rows[i].point, i};
    qsort(order, (size_t)n_rows, sizeof *order, by_point);
    size_t max_row = 0;
    for (int i = 0; i < r->n_ds; i++) {
        size_t b = (size_t)r->ds[i].row_len * r->ds[i].elem_size;
        if (b > max_row) max_row = b;
    }
    unsigned char *buf = tb_malloc((size_t)(n_rows ? n_rows : 1) * max_row);
    int rc = TB_OK;
    for (int i = 0; i < r->n_ds; i++) {
        const dataset_desc *d = &r->ds[i];
        if (d->src == SRC_STATUS) { /* values durable before their points are marked finished */
            int frc = flush(r);
            if (rc == TB_OK) rc = frc;
        }
        int wrc = write_dataset(r, d, rows, order, n_rows, buf);
        if (rc == TB_OK) rc = wrc;
        record_io(r, i == 0);
    }
    int frc = flush(r);
    if (rc == TB_OK) rc = frc;
    tb_free(buf);
    tb_free(order);
    return rc;
}

int tb_results_write(tb_results *r, const tb_results_row *rows, int n_rows) {
    TB_ASSERT(n_rows >= 0 && (n_rows == 0 || rows != NULL));
    tb_h5_quiet q;
    tb_h5_quiet_begin(&q);
    int rc = agree(r->comm, check_rows(r, rows, n_rows));
    int *counts = tb_calloc((size_t)r->size, sizeof *counts), total = 0;
    int64_t *all = rc == TB_OK ? gather_rows(r, rows, n_rows, counts, &total) : NULL;
    if (rc == TB_OK) rc = agree(r->comm, check_points(r, all, counts));
    if (rc == TB_OK) rc = agree(r->comm, write_rows(r, rows, n_rows));
    if (rc == TB_OK)
        for (int k = 0; k < total; k++) r->status[all[2 * k]] = (int32_t)all[2 * k + 1];
    tb_free(all);
    tb_free(counts);
    tb_h5_quiet_end(&q);
    return rc;
}

/* ------------------------------------------------------------------------------------------------
 * merge (serial) */

typedef struct {
    char **paths; /* datasets holding one row per point, relative to the root */
    int n, cap;
} path_list;

static void path_list_free(path_list *l) {
    for (int i = 0; i < l->n; i++) tb_free(l->paths[i]);
    tb_free(l->paths);
    memset(l, 0, sizeof *l);
}

static herr_t collect_dataset(hid_t root, const char *name, const H5L_info_t *info, void *data) {
    path_list *l = data;
    H5O_info_t oi;
    if (info->type != H5L_TYPE_HARD || H5Oget_info_by_name2(root, name, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0)
        return info->type == H5L_TYPE_HARD ? -1 : 0;
    if (oi.type != H5O_TYPE_DATASET) return 0;
    l->paths = grow(l->paths, l->n, &l->cap, sizeof *l->paths);
    l->paths[l->n++] = copy_text(name);
    return 0;
}

typedef struct {
    const char *path;
    hid_t file;
    long n_points;
    int32_t *status; /* [n_points] */
} slice;

static void slice_close(slice *s) {
    if (s->file >= 0) H5Fclose(s->file);
    tb_free(s->status);
    s->file = -1;
    s->status = NULL;
}

static int slice_read_status(slice *s) {
    hid_t d = H5Dopen2(s->file, "points/status", H5P_DEFAULT);
    if (d < 0) return DAMAGED(s->path, "cannot open /points/status: %s", TB_H5_DETAIL());
    hid_t space = H5Dget_space(d), type = H5Dget_type(d);
    hsize_t dims[1] = {0};
    int ok = space >= 0 && type >= 0 && H5Sget_simple_extent_ndims(space) == 1 &&
             H5Sget_simple_extent_dims(space, dims, NULL) >= 0 && (long)dims[0] == s->n_points &&
             H5Tget_class(type) == H5T_INTEGER;
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    int rc = ok ? TB_OK : DAMAGED(s->path, "/points/status does not hold %ld integers", s->n_points);
    if (rc == TB_OK) {
        s->status = tb_calloc((size_t)s->n_points, sizeof *s->status);
        if (H5Dread(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, s->status) < 0)
            rc = DAMAGED(s->path, "cannot read /points/status: %s", TB_H5_DETAIL());
        for (long p = 0; rc == TB_OK && p < s->n_points; p++)
            if (s->status[p] < TB_POINT_PENDING || s->status[p] > TB_POINT_FAILED)
                rc = DAMAGED(s->path, "/points/status[%ld] = %d is not a status", p, (int)s->status[p]);
    }
    H5Dclose(d);
    return rc;
}

static int slice_open(slice *s, const char *path) {
    s->path = path;
    s->file = -1;
    s->status = NULL;
    TB_CHECK(check_path(path));
    hid_t fapl = serial_fapl();
    s->file = fapl < 0 ? -1 : H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (fapl >= 0) H5Pclose(fapl);
    if (s->file < 0) return DAMAGED(path, "cannot open it: %s", TB_H5_DETAIL());
    TB_CHECK(check_format(s->file, path));
    int64_t n = 0;
    TB_CHECK(attr_read_int(s->file, path, "n_points", &n));
    if (n < 1 || n > LONG_MAX) return DAMAGED(path, "n_points = %lld", (long long)n);
    s->n_points = (long)n;
    return slice_read_status(s);
}

/* The slices belong to one sweep: same canonical spec, same datasets of the same types and shapes. */
static int check_same_sweep(const slice *a, const slice *b, const path_list *datasets) {
    char *spec_a = NULL, *spec_b = NULL;
    TB_CHECK(attr_read_text(a->file, a->path, "spec_canonical", &spec_a));
    int rc = attr_read_text(b->file, b->path, "spec_canonical", &spec_b);
    if (rc == TB_OK && strcmp(spec_a, spec_b) != 0) {
        char where[256];
        first_difference(spec_a, spec_b, where, sizeof where);
        rc = TB_ERROR(TB_ERR_ARG, "merge only the slice files of one sweep (one spec)",
                      "cannot merge %s and %s: they were written for different specs (%s)", a->path, b->path,
                      where);
    }
    tb_free(spec_a);
    tb_free(spec_b);
    TB_CHECK(rc);
    if (a->n_points != b->n_points)
        return TB_ERROR(TB_ERR_FORMAT, "merge only the slice files of one sweep",
                        "cannot merge %s and %s: they hold %ld and %ld points", a->path, b->path, a->n_points,
                        b->n_points);
    path_list other = {0};
    if (H5Lvisit(b->file, H5_INDEX_NAME, H5_ITER_INC, collect_dataset, &other) < 0)
        rc = DAMAGED(b->path, "cannot list its datasets: %s", TB_H5_DETAIL());
    else if (other.n != datasets->n)
        rc = TB_ERROR(TB_ERR_FORMAT, "merge only the slice files of one sweep",
                      "cannot merge %s and %s: they hold %d and %d datasets", a->path, b->path, datasets->n, other.n);
    path_list_free(&other);
    return rc;
}

static int check_disjoint(const slice *s, int n) {
    for (long p = 0; p < s[0].n_points; p++) {
        int owner = -1;
        for (int k = 0; k < n; k++) {
            if (s[k].status[p] == TB_POINT_PENDING) continue;
            if (owner >= 0)
                return TB_ERROR(TB_ERR_ARG, "each point must be finished in one slice only (overlapping --slice runs?)",
                                "cannot merge: point %ld is finished in both %s and %s", p, s[owner].path, s[k].path);
            owner = k;
        }
    }
    return TB_OK;
}

/* Reads the whole dataset name of file, in its own type, into a tb_malloc'd buffer; checks that it has
 * n_points rows and, if want_type >= 0, the same type and shape as the first slice's. */
static int read_whole(hid_t file, const char *path, const char *name, long n_points, hid_t want_type,
                      const hsize_t *want_dims, hid_t *type, hsize_t *dims, size_t *row_bytes, unsigned char **buf) {
    *buf = NULL;
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    if (d < 0)
        return TB_ERROR(TB_ERR_FORMAT, "merge only the slice files of one sweep", "%s has no dataset /%s: %s", path,
                        name, TB_H5_DETAIL());
    *type = H5Dget_type(d);
    hid_t space = H5Dget_space(d);
    int ndim = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    dims[0] = dims[1] = 1;
    int ok = *type >= 0 && (ndim == 1 || ndim == 2) && H5Sget_simple_extent_dims(space, dims, NULL) >= 0 &&
             (long)dims[0] == n_points &&
             (want_type < 0 || (H5Tequal(*type, want_type) > 0 && dims[1] == want_dims[1]));
    if (space >= 0) H5Sclose(space);
    int rc = ok ? TB_OK
                : TB_ERROR(TB_ERR_FORMAT, "merge only the slice files of one sweep",
                           "%s: dataset /%s does not have the type and shape of the first slice's", path, name);
    if (rc == TB_OK) {
        *row_bytes = H5Tget_size(*type) * (size_t)dims[1];
        *buf = tb_malloc((size_t)n_points * *row_bytes);
        if (H5Dread(d, *type, H5S_ALL, H5S_ALL, H5P_DEFAULT, *buf) < 0)
            rc = DAMAGED(path, "cannot read /%s: %s", name, TB_H5_DETAIL());
    }
    if (rc != TB_OK) {
        if (*type >= 0) H5Tclose(*type);
        *type = -1;
        tb_free(*buf);
        *buf = NULL;
    }
    H5Dclose(d);
    return rc;
}

/* out (a copy of slice 0) gets every other slice's finished rows of dataset name. */
static int merge_dataset(hid_t out, const char *out_path, const slice *s, int n, const char *name) {
    hid_t type = -1;
    hsize_t dims[2];
    size_t row_bytes;
    unsigned char *merged;
    TB_CHECK(read_whole(out, out_path, name, s[0].n_points, -1, NULL, &type, dims, &row_bytes, &merged));
    int rc = TB_OK;
    for (int k = 1; rc == TB_OK && k < n; k++) {
        hid_t t = -1;
        hsize_t d2[2];
        size_t rb;
        unsigned char *rows;
        rc = read_whole(s[k].file, s[k].path, name, s[k].n_points, type, dims, &t, d2, &rb, &rows);
        if (rc != TB_OK) break;
        for (long p = 0; p < s[k].n_points; p++)
            if (s[k].status[p] != TB_POINT_PENDING) memcpy(merged + p * row_bytes, rows + p * row_bytes, row_bytes);
        H5Tclose(t);
        tb_free(rows);
    }
    if (rc == TB_OK) {
        hid_t d = H5Dopen2(out, name, H5P_DEFAULT);
        if (d < 0 || H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, merged) < 0)
            rc = WRITE_FAILED(out_path, "dataset", name);
        if (d >= 0) H5Dclose(d);
    }
    H5Tclose(type);
    tb_free(merged);
    return rc;
}

static int copy_bytes(const char *from, const char *to) {
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    int rc = in && out ? TB_OK
                       : TB_ERROR(TB_ERR_IO, HINT_WRITE, "cannot copy %s to %s: %s", from, to, strerror(errno));
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = tb_malloc(CHUNK);
    size_t n;
    while (rc == TB_OK && (n = fread(buf, 1, CHUNK, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            rc = TB_ERROR(TB_ERR_IO, HINT_WRITE, "cannot write %s: %s", to, strerror(errno));
    if (rc == TB_OK && ferror(in)) rc = TB_ERROR(TB_ERR_IO, "check the file", "cannot read %s", from);
    if (out && fclose(out) != 0 && rc == TB_OK)
        rc = TB_ERROR(TB_ERR_IO, HINT_WRITE, "cannot write %s: %s", to, strerror(errno));
    if (in) fclose(in);
    tb_free(buf);
    return rc;
}

static int write_merged_from(hid_t out, const char *out_path, const char *const *inputs, int n) {
    size_t cap = 1;
    for (int k = 0; k < n; k++) cap += strlen(inputs[k]) + 1;
    char *list = tb_malloc(cap);
    size_t len = 0;
    for (int k = 0; k < n; k++) len += (size_t)snprintf(list + len, cap - len, "%s%s", k ? "\n" : "", inputs[k]);
    int rc = H5Aexists(out, "merged_from") > 0 && H5Adelete(out, "merged_from") < 0
                 ? WRITE_FAILED(out_path, "attribute", "merged_from")
                 : attr_write_string(out, out_path, "merged_from", list);
    tb_free(list);
    return rc;
}

static int write_merged(const char *tmp, const slice *s, int n, const path_list *datasets,
                        const char *const *inputs) {
    TB_CHECK(copy_bytes(s[0].path, tmp));
    hid_t fapl = serial_fapl();
    hid_t out = fapl < 0 ? -1 : H5Fopen(tmp, H5F_ACC_RDWR, fapl);
    if (fapl >= 0) H5Pclose(fapl);
    if (out < 0) return TB_ERROR(TB_ERR_IO, HINT_WRITE, "cannot open %s for writing: %s", tmp, TB_H5_DETAIL());
    int rc = TB_OK;
    for (int i = 0; rc == TB_OK && i < datasets->n; i++) rc = merge_dataset(out, tmp, s, n, datasets->paths[i]);
    if (rc == TB_OK) rc = write_merged_from(out, tmp, inputs, n);
    if (H5Fclose(out) < 0 && rc == TB_OK) rc = WRITE_FAILED(tmp, "file", tmp);
    if (rc == TB_OK) rc = tb_io_sync_file(tmp, HINT_WRITE);
    return rc;
}

static int check_not_input(const char *out_path, const char *const *inputs, int n) {
    struct stat so, si;
    if (stat(out_path, &so) != 0) return TB_OK;
    for (int k = 0; k < n; k++)
        if (stat(inputs[k], &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino)
            return TB_ERROR(TB_ERR_ARG, "write the merged file to a new path",
                            "merge output %s is one of its inputs (%s)", out_path, inputs[k]);
    return TB_OK;
}

static int merge_slices(const char *out_path, const char *tmp, slice *s, const char *const *inputs, int n) {
    for (int k = 0; k < n; k++) TB_CHECK(slice_open(&s[k], inputs[k]));
    path_list datasets = {0};
    int rc = H5Lvisit(s[0].file, H5_INDEX_NAME, H5_ITER_INC, collect_dataset, &datasets) < 0
                 ? DAMAGED(s[0].path, "cannot list its datasets: %s", TB_H5_DETAIL())
                 : TB_OK;
    for (int k = 1; rc == TB_OK && k < n; k++) rc = check_same_sweep(&s[0], &s[k], &datasets);
    if (rc == TB_OK) rc = check_disjoint(s, n);
    if (rc == TB_OK) rc = write_merged(tmp, s, n, &datasets, inputs);
    if (rc == TB_OK && rename(tmp, out_path) != 0)
        rc = TB_ERROR(TB_ERR_IO, HINT_WRITE, "cannot rename %s to %s: %s", tmp, out_path, strerror(errno));
    path_list_free(&datasets);
    return rc;
}

int tb_results_merge(const char *out_path, const char *const *inputs, int n_inputs) {
    if (n_inputs < 1)
        return TB_ERROR(TB_ERR_ARG, "give the slice files to merge", "merge %s: no input files", out_path);
    TB_CHECK(check_not_input(out_path, inputs, n_inputs));
    tb_h5_quiet q;
    tb_h5_quiet_begin(&q);
    size_t len = strlen(out_path);
    char *tmp = tb_malloc(len + sizeof ".tmp");
    memcpy(tmp, out_path, len);
    memcpy(tmp + len, ".tmp", sizeof ".tmp");
    slice *s = tb_calloc((size_t)n_inputs, sizeof *s);
    for (int k = 0; k < n_inputs; k++) s[k].file = -1;
    int rc = merge_slices(out_path, tmp, s, inputs, n_inputs);
    for (int k = 0; k < n_inputs; k++) slice_close(&s[k]);
    if (rc != TB_OK) remove(tmp);
    tb_free(s);
    tb_free(tmp);
    tb_h5_quiet_end(&q);
    return rc;
}
