/* results_table.c: prints a results file as a table (one row per point: its swept values, status
 * and metrics), read serially after the run has closed the file. */
#include <hdf5.h>
#include <math.h>
#include <string.h>

#include "io.h"

#define MAX_COLS 64

typedef struct {
    char name[TB_RESULTS_NAME_MAX];
    hid_t type_class;
    size_t str_len;
    void *data; /* n_points values: int64, double, or str_len-byte strings */
} table_col;

typedef struct {
    table_col cols[MAX_COLS];
    int n;
} table;

/* Reads one 1-D dataset of n values whole, as int64, double or fixed-length string. */
static int read_column(hid_t g, const char *name, long n, table_col *c) {
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t t = H5Dget_type(d);
    H5T_class_t cls = H5Tget_class(t);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->type_class = cls;
    herr_t e = -1;
    if (cls == H5T_INTEGER) {
        c->data = tb_malloc((size_t)n * sizeof(int64_t));
        e = H5Dread(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, c->data);
    } else if (cls == H5T_FLOAT) {
        c->data = tb_malloc((size_t)n * sizeof(double));
        e = H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, c->data);
    } else if (cls == H5T_STRING && !H5Tis_variable_str(t)) {
        c->str_len = H5Tget_size(t);
        c->data = tb_malloc((size_t)n * c->str_len + 1);
        e = H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, c->data);
    }
    H5Tclose(t);
    H5Dclose(d);
    return e < 0 ? -1 : 0;
}

typedef struct {
    table *tab;
    long n;
    const char *skip[8];
} iter_ctx;

static herr_t add_column(hid_t g, const char *name, const H5L_info_t *info, void *data) {
    iter_ctx *it = data;
    for (int i = 0; it->skip[i]; i++)
        if (strcmp(name, it->skip[i]) == 0) return 0;
    if (it->tab->n >= MAX_COLS) return 0;
    table_col *c = &it->tab->cols[it->tab->n];
    memset(c, 0, sizeof *c);
    if (read_column(g, name, it->n, c) == 0) it->tab->n++;
    else tb_free(c->data);
    return 0;
}

static void print_cell(FILE *out, const table_col *c, long p) {
    if (c->type_class == H5T_INTEGER) fprintf(out, " %lld |", (long long)((int64_t *)c->data)[p]);
    else if (c->type_class == H5T_FLOAT) {
        double v = ((double *)c->data)[p];
        if (isnan(v)) fprintf(out, " - |");
        else fprintf(out, " %.4g |", v);
    } else {
        const char *s = (const char *)c->data + (size_t)p * c->str_len;
        fprintf(out, " %.*s |", (int)strnlen(s, c->str_len), s);
    }
}

static void table_free(table *t) {
    for (int i = 0; i < t->n; i++) tb_free(t->cols[i].data);
    t->n = 0;
}

int tb_results_print_table(const char *path, FILE *out) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return TB_ERROR(TB_ERR_IO, "check the path of the results file", "cannot open results file %s", path);
    hid_t gp = H5Gopen2(f, "points", H5P_DEFAULT), gm = H5Gopen2(f, "metrics", H5P_DEFAULT);
    int rc = TB_OK;
    table params = {.n = 0}, metrics = {.n = 0};
    table_col status = {.data = NULL};
    long n = 0;
    hid_t sp = -1, d = gp >= 0 ? H5Dopen2(gp, "status", H5P_DEFAULT) : -1;
    if (d >= 0) {
        sp = H5Dget_space(d);
        hsize_t dims[1];
        if (sp >= 0 && H5Sget_simple_extent_ndims(sp) == 1) {
            H5Sget_simple_extent_dims(sp, dims, NULL);
            n = (long)dims[0];
        }
        if (sp >= 0) H5Sclose(sp);
        H5Dclose(d);
    }
    if (gp < 0 || gm < 0 || n <= 0 || read_column(gp, "status", n, &status) != 0)
        rc = TB_ERROR(TB_ERR_FORMAT, "is it a trustbench results file?", "results file %s has no /points/status", path);
    if (rc == TB_OK) {
        iter_ctx ip = {&params, n, {"id", "status", "seed", "method", "wall_time", "failure", NULL}};
        iter_ctx im = {&metrics, n, {NULL}};
        H5Literate(gp, H5_INDEX_NAME, H5_ITER_INC, NULL, add_column, &ip);
        H5Literate(gm, H5_INDEX_NAME, H5_ITER_INC, NULL, add_column, &im);
        fprintf(out, "| point | status |");
        for (int i = 0; i < params.n; i++) fprintf(out, " %s |", params.cols[i].name);
        for (int i = 0; i < metrics.n; i++) fprintf(out, " %s |", metrics.cols[i].name);
        fprintf(out, "\n|---|---|");
        for (int i = 0; i < params.n + metrics.n; i++) fprintf(out, "---|");
        fprintf(out, "\n");
        static const char *names[] = {"pending", "done", "failed"};
        for (long p = 0; p < n; p++) {
            int64_t s = ((int64_t *)status.data)[p];
            fprintf(out, "| %ld | %s |", p, s >= 0 && s <= 2 ? names[s] : "?");
            for (int i = 0; i < params.n; i++) print_cell(out, &params.cols[i], p);
            for (int i = 0; i < metrics.n; i++) print_cell(out, &metrics.cols[i], p);
            fprintf(out, "\n");
        }
    }
    tb_free(status.data);
    table_free(&params);
    table_free(&metrics);
    if (gp >= 0) H5Gclose(gp);
    if (gm >= 0) H5Gclose(gm);
    H5Fclose(f);
    return rc;
}
