/*
 * checkpoint.c: model checkpoints in HDF5 (the contract is in io.h).
 *
 * One file holds:
 *   /                       attributes format, version, trustbench_version, trustbench_commit, step,
 *                           rng_key, rng_counter, and `complete` (written last)
 *   /config                 one attribute per tb_config field (family as a string)
 *   /adapter                attributes n_prefix, lora_rank, lora_alpha, lora_targets (only with adapters)
 *   /params/<name>          float32 in the tensor's shape, one dataset per base tensor (HF names)
 *   /adapter_params/<name>  the same for the adapter tensors
 *   /reparam_params/<name>  the same for a reparameterisation trained in their place (point states)
 *   /tokenizer/merges       int32 (n_merges, 2)
 *   /optimizer/m, v         float32 (numel of the trained ParamSet); attribute on_adapter: whose
 *                           (0 base, 1 adapter, 2 reparameterisation)
 *   /trace                  float32: what a run logged so far (point states)
 *
 * Checkpoints are written and read by one process with the sec2 driver, no MPI. Metadata and data
 * are checksummed (see checkpoint_fapl and checksummed_dcpl), so a damaged file fails to load
 * rather than loading a different model. Every HDF5 call runs with HDF5's automatic error printing
 * switched off; a failure becomes one TB_ERROR naming the file and quoting the innermost HDF5
 * message, and every handle is released on every path.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "io/h5util.h"
#include "io/io.h"

#define CKPT_FORMAT "trustbench-checkpoint"
#define CKPT_VERSION 1

#define KIND "checkpoint" /* names the file in write errors */
#define HINT_WRITE "check that the directory exists, is writable and has free space"
#define HINT_CORRUPT "the file is truncated or corrupt; use an earlier checkpoint"
#define HINT_MISMATCH                                                                                      \
    "the checkpoint's tensors disagree with its own config: it was edited or written by an incompatible trustbench"

_Static_assert(sizeof(tb_merge) == 2 * sizeof(int32_t), "merges are stored as an (n_merges, 2) int32 array");

/* ------------------------------------------------------------------------------------------------
 * HDF5 error handling */

#define WRITE_FAILED(path, what, name)                                                                  \
    TB_ERROR(TB_ERR_IO, HINT_WRITE, "checkpoint %s: cannot write %s '%s': %s", (path), (what), (name), \
             TB_H5_DETAIL())

/* Errors raised by other modules (config validation, tokenizer, adapters) do not know which file
 * the values came from; restate them naming it. */
static int in_file(const char *path, int rc, const char *hint) {
    if (rc == TB_OK) return TB_OK;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", tb_error_message());
    tb_error_clear();
    return TB_ERROR(TB_ERR_FORMAT, hint, "checkpoint %s: %s", path, msg);
}

/* ------------------------------------------------------------------------------------------------
 * field tables: the numeric attributes of /config and /adapter */

typedef enum { FIELD_INT, FIELD_UINT, FIELD_FLOAT } field_kind;

typedef struct {
    const char *name;
    size_t offset;
    field_kind kind;
} field;

#define CFG_FIELD(f, k) {#f, offsetof(tb_config, f), k}
static const field config_fields[] = {
    CFG_FIELD(max_seq_len, FIELD_INT), CFG_FIELD(vocab_size, FIELD_INT),   CFG_FIELD(n_layer, FIELD_INT),
    CFG_FIELD(n_head, FIELD_INT),      CFG_FIELD(n_kv_head, FIELD_INT),    CFG_FIELD(n_embd, FIELD_INT),
    CFG_FIELD(ffn_hidden, FIELD_INT),  CFG_FIELD(norm_eps, FIELD_FLOAT),   CFG_FIELD(rope_theta, FIELD_FLOAT),
    CFG_FIELD(qkv_bias, FIELD_INT),    CFG_FIELD(tie_embeddings, FIELD_INT),
};

#define ACFG_FIELD(f, k) {#f, offsetof(tb_adapter_config, f), k}
static const field adapter_fields[] = {
    ACFG_FIELD(n_prefix, FIELD_INT),
    ACFG_FIELD(lora_rank, FIELD_INT),
    ACFG_FIELD(lora_alpha, FIELD_FLOAT),
    ACFG_FIELD(lora_targets, FIELD_UINT),
};

#define N_FIELDS(a) (sizeof(a) / sizeof((a)[0]))

/* The H5T_* type ids are runtime values, so the tables hold kinds and these map them. */
static hid_t field_file_type(field_kind k) {
    return k == FIELD_INT ? H5T_STD_I32LE : k == FIELD_UINT ? H5T_STD_U32LE : H5T_IEEE_F32LE;
}

static hid_t field_mem_type(field_kind k) {
    return k == FIELD_INT ? H5T_NATIVE_INT : k == FIELD_UINT ? H5T_NATIVE_UINT : H5T_NATIVE_FLOAT;
}

/* Whether loc (named where, "/" or "/params/", in messages) has the link or attribute name. A failed
 * look-up means damaged metadata, which must not pass for "absent". */
static int link_exists(hid_t loc, const char *path, const char *where, const char *name, int *present) {
    htri_t r = H5Lexists(loc, name, H5P_DEFAULT);
    if (r < 0)
        return TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "checkpoint %s: cannot look up %s%s: %s", path, where, name,
                        TB_H5_DETAIL());
    *present = r > 0;
    return TB_OK;
}

static int attr_exists(hid_t loc, const char *path, const char *where, const char *name, int *present) {
    htri_t r = H5Aexists(loc, name);
    if (r < 0)
        return TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "checkpoint %s: cannot look up attribute '%s' of %s: %s", path,
                        name, where, TB_H5_DETAIL());
    *present = r > 0;
    return TB_OK;
}

/* "(300, 16)" */
static const char *shape_str(char *buf, size_t cap, int ndim, const hsize_t *dims) {
    size_t n = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
    if (n < cap) snprintf(buf + n, cap - n, ")");
    return buf;
}

/* ------------------------------------------------------------------------------------------------
 * writing */

static int write_fields(hid_t loc, const char *path, const void *base, const field *fields, size_t n) {
    for (size_t i = 0; i < n; i++)
        TB_CHECK(tb_h5_attr_write(loc, KIND, path, fields[i].name, field_file_type(fields[i].kind),
                            field_mem_type(fields[i].kind), (const char *)base + fields[i].offset));
    return TB_OK;
}

static int write_config(hid_t file, const char *path, const tb_config *c) {
    hid_t g = H5Gcreate2(file, "config", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return WRITE_FAILED(path, "group", "/config");
    int rc = tb_h5_attr_write_string(g, KIND, path, "family", tb_family_name(c->family));
    if (rc == TB_OK) rc = write_fields(g, path, c, config_fields, N_FIELDS(config_fields));
    H5Gclose(g);
    return rc;
}

static int write_adapter_config(hid_t file, const char *path, const tb_adapter_config *a) {
    hid_t g = H5Gcreate2(file, "adapter", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return WRITE_FAILED(path, "group", "/adapter");
    int rc = write_fields(g, path, a, adapter_fields, N_FIELDS(adapter_fields));
    H5Gclose(g);
    return rc;
}

/* One float32 dataset per tensor. The group tracks link creation order so that `info` can list
 * the tensors in the model's layer-major order rather than alphabetically. */
static int write_tensors(hid_t file, const char *path, const char *group, const tb_paramset *ps) {
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    int ok = gcpl >= 0 && H5Pset_link_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED) >= 0;
    hid_t g = ok ? H5Gcreate2(file, group, H5P_DEFAULT, gcpl, H5P_DEFAULT) : -1;
    int rc = g < 0 ? WRITE_FAILED(path, "group", group) : TB_OK;
    for (int i = 0; rc == TB_OK && i < ps->n_tensors; i++) {
        const tb_tensor *t = &ps->tensors[i];
        hsize_t dims[TB_MAX_DIMS];
        for (int d = 0; d < t->ndim; d++) dims[d] = (hsize_t)t->shape[d];
        rc = tb_h5_dataset_write(g, KIND, path, t->name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, t->ndim, dims, ps->data + t->offset);
    }
    if (g >= 0) H5Gclose(g);
    if (gcpl >= 0) H5Pclose(gcpl);
    return rc;
}

static int write_tokenizer(hid_t file, const char *path, const tb_tokenizer *tok) {
    hid_t g = H5Gcreate2(file, "tokenizer", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return WRITE_FAILED(path, "group", "/tokenizer");
    hsize_t dims[2] = {(hsize_t)tok->n_merges, 2};
    int rc = tb_h5_dataset_write(g, KIND, path, "merges", H5T_STD_I32LE, H5T_NATIVE_INT32, 2, dims, tok->merges);
    H5Gclose(g);
    return rc;
}

static int write_optimizer(hid_t file, const char *path, const tb_ckpt_state *st) {
    hid_t g = H5Gcreate2(file, "optimizer", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return WRITE_FAILED(path, "group", "/optimizer");
    hsize_t n = (hsize_t)st->opt_numel;
    int rc = tb_h5_attr_write(g, KIND, path, "on_adapter", H5T_STD_I32LE, H5T_NATIVE_INT, &st->opt_owner);
    if (rc == TB_OK) rc = tb_h5_dataset_write(g, KIND, path, "m", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, &n, st->opt_m);
    if (rc == TB_OK) rc = tb_h5_dataset_write(g, KIND, path, "v", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, &n, st->opt_v);
    H5Gclose(g);
    return rc;
}

static int write_contents(hid_t file, const char *path, const tb_model *m, const tb_tokenizer *tok,
                          const tb_ckpt_state *st) {
    const int version = CKPT_VERSION, complete = 1;
    const int64_t step = st ? (int64_t)st->step : 0;
    const tb_rng rng = st ? st->rng : (tb_rng){0, 0};
    TB_CHECK(tb_h5_attr_write_string(file, KIND, path, "format", CKPT_FORMAT));
    TB_CHECK(tb_h5_attr_write(file, KIND, path, "version", H5T_STD_I32LE, H5T_NATIVE_INT, &version));
    TB_CHECK(tb_h5_attr_write_string(file, KIND, path, "trustbench_version", TB_VERSION));
    TB_CHECK(tb_h5_attr_write_string(file, KIND, path, "trustbench_commit", tb_git_commit()));
    TB_CHECK(tb_h5_attr_write(file, KIND, path, "step", H5T_STD_I64LE, H5T_NATIVE_INT64, &step));
    TB_CHECK(tb_h5_attr_write(file, KIND, path, "rng_key", H5T_STD_U64LE, H5T_NATIVE_UINT64, &rng.key));
    TB_CHECK(tb_h5_attr_write(file, KIND, path, "rng_counter", H5T_STD_U64LE, H5T_NATIVE_UINT64, &rng.counter));
    TB_CHECK(write_config(file, path, &m->cfg));
    TB_CHECK(write_tensors(file, path, "params", &m->params));
    if (m->adapter.n_tensors > 0) {
        TB_CHECK(write_adapter_config(file, path, &m->acfg));
        TB_CHECK(write_tensors(file, path, "adapter_params", &m->adapter));
    }
    if (st && st->reparam) TB_CHECK(write_tensors(file, path, "reparam_params", st->reparam));
    if (tok) TB_CHECK(write_tokenizer(file, path, tok));
    if (st && st->opt_m) TB_CHECK(write_optimizer(file, path, st));
    if (st && st->trace) {
        hsize_t n = (hsize_t)st->trace_len;
        TB_CHECK(tb_h5_dataset_write(file, KIND, path, "trace", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, &n, st->trace));
    }
    /* everything else reaches the file before `complete` does, so a torn write never carries it */
    if (H5Fflush(file, H5F_SCOPE_LOCAL) < 0) return WRITE_FAILED(path, "file", path);
    TB_CHECK(tb_h5_attr_write(file, KIND, path, "complete", H5T_STD_I32LE, H5T_NATIVE_INT, &complete));
    return TB_OK;
}

static int write_file(const char *tmp, const tb_model *m, const tb_tokenizer *tok, const tb_ckpt_state *st) {
    hid_t fapl = tb_h5_fapl(1);
    hid_t file = fapl < 0 ? -1 : H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    int rc = file < 0 ? TB_ERROR(TB_ERR_IO, HINT_WRITE, "cannot create checkpoint %s: %s", tmp, TB_H5_DETAIL()) : TB_OK;
    if (fapl >= 0) H5Pclose(fapl);
    if (rc != TB_OK) return rc;
    rc = write_contents(file, tmp, m, tok, st);
    if (H5Fclose(file) < 0 && rc == TB_OK) rc = WRITE_FAILED(tmp, "file", tmp);
    return rc;
}

/* The caller's buffers must match the model; a mismatch here would only surface at load time. */
static int check_save_args(const char *path, const tb_model *m, const tb_tokenizer *tok, const tb_ckpt_state *st) {
    if (tok && tok->vocab_size > m->cfg.vocab_size)
        return TB_ERROR(TB_ERR_SHAPE, "the model's vocab_size must cover the tokenizer",
                        "checkpoint %s: the tokenizer has %d tokens but the model only %d", path, tok->vocab_size,
                        m->cfg.vocab_size);
    if (st && st->opt_m) {
        TB_ASSERT(st->opt_v != NULL);
        static const char *const owners[] = {"base", "adapter", "reparameterisation"};
        TB_ASSERT(st->opt_owner >= TB_CKPT_BASE && st->opt_owner <= TB_CKPT_REPARAM);
        const tb_paramset *ps = st->opt_owner == TB_CKPT_REPARAM ? st->reparam
                                : st->opt_owner == TB_CKPT_ADAPTER ? &m->adapter
                                                                   : &m->params;
        if (!ps)
            return TB_ERROR(TB_ERR_ARG, "pass the reparameterisation's ParamSet with its moments",
                            "checkpoint %s: moments of a reparameterisation, but no reparameterisation", path);
        if (st->opt_numel != ps->numel)
            return TB_ERROR(TB_ERR_SHAPE, "the optimizer moments must cover the trained ParamSet exactly",
                            "checkpoint %s: optimizer state has %zu values, the %s ParamSet %zu", path, st->opt_numel,
                            owners[st->opt_owner], ps->numel);
    }
    return TB_OK;
}

/* path.<host>.<pid>.tmp: the writer's own temporary name. Array tasks sharing a cache can build the
 * same shared stage at once; with one temporary file between them, one writer truncates or renames
 * away the file the other is writing. With a file each, the last rename wins and either is whole. */
static char *temp_name(const char *path) {
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0) strcpy(host, "host");
    size_t cap = strlen(path) + strlen(host) + 32;
    char *tmp = tb_malloc(cap);
    snprintf(tmp, cap, "%s.%s.%ld.tmp", path, host, (long)getpid());
    return tmp;
}

int tb_checkpoint_save(const char *path, const tb_model *m, const tb_tokenizer *tok, const tb_ckpt_state *st) {
    TB_ASSERT(m->params.data != NULL);
    TB_CHECK(check_save_args(path, m, tok, st));
    char *tmp = temp_name(path);

    tb_h5_quiet q;
    tb_h5_quiet_begin(&q);
    int rc = write_file(tmp, m, tok, st);
    tb_h5_quiet_end(&q);
    if (rc == TB_OK) rc = tb_io_sync_file(tmp, HINT_WRITE);
    if (rc == TB_OK && rename(tmp, path) != 0)
        rc = TB_ERROR(TB_ERR_IO, HINT_WRITE, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (rc != TB_OK) remove(tmp); /* a partial file must not linger next to the real checkpoints */
    tb_free(tmp);
    return rc;
}

/* ------------------------------------------------------------------------------------------------
 * reading: attributes */

static int attr_open(hid_t loc, const char *path, const char *where, const char *name, hid_t *a) {
    int present = 0;
    TB_CHECK(attr_exists(loc, path, where, name, &present));
    if (!present)
        return TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "checkpoint %s: %s has no attribute '%s'", path, where, name);
    *a = H5Aopen(loc, name, H5P_DEFAULT);
    if (*a < 0)
        return TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "checkpoint %s: cannot open attribute '%s' of %s: %s", path,
                        name, where, TB_H5_DETAIL());
    return TB_OK;
}

/* 1 when the attribute holds exactly one value, so reading it cannot overrun a scalar. */
static int attr_is_scalar(hid_t a) {
    hid_t space = H5Aget_space(a);
    hssize_t n = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
    if (space >= 0) H5Sclose(space);
    return n == 1;
}

/* Reads one value converting it to mem_type (HDF5 converts between integer and float widths). */
static int attr_read(hid_t loc, const char *path, const char *where, const char *name, hid_t mem_type, void *out) {
    hid_t a = -1;
    TB_CHECK(attr_open(loc, path, where, name, &a));
    int rc = TB_OK;
    if (!attr_is_scalar(a))
        rc = TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "checkpoint %s: attribute '%s' of %s is not a single value", path,
                      name, where);
    else if (H5Aread(a, mem_type, out) < 0)
        rc = TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "checkpoint %s: cannot read attribute '%s' of %s as a number: %s",
                      path, name, where, TB_H5_DETAIL());
    H5Aclose(a);
    return rc;
}

/* Strings written by h5py or other tools may be variable-length; accept both kinds. */
static int attr_read_string_value(hid_t a, hid_t file_type, char *out, size_t cap) {
    enum { MAX_FIXED = 4096 }; /* attribute strings are names; a huge size means a damaged header */
    int ok = 0;
    if (H5Tis_variable_str(file_type) > 0) {
        hid_t t = H5Tcopy(H5T_C_S1);
        char *s = NULL;
        ok = t >= 0 && H5Tset_size(t, H5T_VARIABLE) >= 0 && H5Tset_cset(t, H5Tget_cset(file_type)) >= 0 &&
             H5Aread(a, t, &s) >= 0;
        if (ok) snprintf(out, cap, "%s", s ? s : "");
        if (s) H5free_memory(s);
        if (t >= 0) H5Tclose(t);
    } else {
        size_t size = H5Tget_size(file_type);
        if (size == 0 || size > MAX_FIXED) return 0;
        char *buf = tb_malloc(size + 1); /* zeroed: the terminator survives a NUL-padded full-width value */
        hid_t t = H5Tcopy(file_type);
        ok = t >= 0 && H5Aread(a, t, buf) >= 0;
        if (ok) snprintf(out, cap, "%s", buf);
        if (t >= 0) H5Tclose(t);
        tb_free(buf);
    }
    return ok;
}

static int attr_read_string(hid_t loc, const char *path, const char *where, const char *name, char *out, size_t cap) {
    hid_t a = -1;
    TB_CHECK(attr_open(loc, path, where, name, &a));
    hid_t t = H5Aget_type(a);
    int ok = t >= 0 && H5Tget_class(t) == H5T_STRING && attr_is_scalar(a) && attr_read_string_value(a, t, out, cap);
    if (t >= 0) H5Tclose(t);
    H5Aclose(a);
    if (!ok)
        return TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "checkpoint %s: attribute '%s' of %s is not a readable string",
                        path, name, where);
    return TB_OK;
}

static int read_fields(hid_t loc, const char *path, const char *where, void *base, const field *fields, size_t n) {
    for (size_t i = 0; i < n; i++)
        TB_CHECK(attr_read(loc, path, where, fields[i].name, field_mem_type(fields[i].kind),
                           (char *)base + fields[i].offset));
    return TB_OK;
}

/* ------------------------------------------------------------------------------------------------
 * reading: groups and datasets */

static int group_open(hid_t file, const char *path, const char *name, hid_t *g) {
    int present = 0;
    TB_CHECK(link_exists(file, path, "/", name, &present));
    if (!present) return TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "checkpoint %s has no group /%s", path, name);
    *g = H5Gopen2(file, name, H5P_DEFAULT);
    if (*g < 0)
        return TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "checkpoint %s: cannot open group /%s: %s", path, name,
                        TB_H5_DETAIL());
    return TB_OK;
}

/* Opens /group/name, checks its element class, and returns its rank and dims (up to H5S_MAX_RANK). */
static int dataset_open(hid_t g, const char *path, const char *group, const char *name, H5T_class_t want_class,
                        hid_t *d, int *ndim, hsize_t *dims) {
    char where[128];
    int present = 0;
    snprintf(where, sizeof where, "/%s/", group);
    TB_CHECK(link_exists(g, path, where, name, &present));
    if (!present)
        return TB_ERROR(TB_ERR_SHAPE, HINT_MISMATCH, "checkpoint %s: dataset /%s/%s is missing", path, group, name);
    *d = H5Dopen2(g, name, H5P_DEFAULT);
    if (*d < 0)
        return TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "checkpoint %s: cannot open dataset /%s/%s: %s", path, group,
                        name, TB_H5_DETAIL());
    hid_t space = H5Dget_space(*d), type = H5Dget_type(*d);
    *ndim = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    if (*ndim >= 0 && H5Sget_simple_extent_dims(space, dims, NULL) < 0) *ndim = -1;
    H5T_class_t cls = type < 0 ? H5T_NO_CLASS : H5Tget_class(type);
    if (type >= 0) H5Tclose(type);
    if (space >= 0) H5Sclose(space);
    int rc = TB_OK;
    if (*ndim < 0)
        rc = TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "checkpoint %s: cannot read the shape of /%s/%s", path, group, name);
    else if (cls != want_class)
        rc = TB_ERROR(TB_ERR_FORMAT, HINT_MISMATCH, "checkpoint %s: dataset /%s/%s holds %s values, expected %s", path,
                      group, name, cls == H5T_FLOAT ? "float" : cls == H5T_INTEGER ? "integer" : "non-numeric",
                      want_class == H5T_FLOAT ? "float" : "integer");
    if (rc != TB_OK) H5Dclose(*d);
    return rc;
}

static int expect_shape(const char *path, const char *group, const char *name, int ndim, const hsize_t *dims,
                        int want_ndim, const hsize_t *want) {
    int same = ndim == want_ndim;
    for (int i = 0; same && i < ndim; i++) same = dims[i] == want[i];
    if (same) return TB_OK;
    char found_s[128], want_s[128];
    return TB_ERROR(TB_ERR_SHAPE, HINT_MISMATCH, "checkpoint %s: dataset /%s/%s has shape %s, expected %s", path,
                    group, name, shape_str(found_s, sizeof found_s, ndim, dims),
                    shape_str(want_s, sizeof want_s, want_ndim, want));
}

static int dataset_read_all(hid_t d, const char *path, const char *group, const char *name, hid_t mem_type,
                            hsize_t numel, void *out) {
    if (numel > 0 && H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
        return TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "checkpoint %s: cannot read dataset /%s/%s: %s", path, group,
                        name, TB_H5_DETAIL());
    return TB_OK;
}

/* Opens /group/name, requires exactly the shape want, and reads it as float32 into out. */
static int read_floats(hid_t g, const char *path, const char *group, const char *name, int want_ndim,
                       const hsize_t *want, float *out) {
    hid_t d = -1;
    int ndim;
    hsize_t dims[H5S_MAX_RANK];
    TB_CHECK(dataset_open(g, path, group, name, H5T_FLOAT, &d, &ndim, dims));
    int rc = expect_shape(path, group, name, ndim, dims, want_ndim, want);
    hsize_t numel = 1;
    for (int i = 0; i < want_ndim; i++) numel *= want[i];
    if (rc == TB_OK) rc = dataset_read_all(d, path, group, name, H5T_NATIVE_FLOAT, numel, out);
    H5Dclose(d);
    return rc;
}

/* Every dataset in the group must be one of the model's tensors: a stray one means the file was
 * written for another architecture, and silently ignoring it would load a different model. */
static int check_no_extra(hid_t g, const char *path, const char *group, const tb_paramset *ps) {
    H5G_info_t info;
    if (H5Gget_info(g, &info) < 0)
        return TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "checkpoint %s: cannot list group /%s: %s", path, group,
                        TB_H5_DETAIL());
    for (hsize_t i = 0; i < info.nlinks; i++) {
        char name[TB_NAME_MAX + 4];
        ssize_t len = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT);
        if (len < 0)
            return TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "checkpoint %s: cannot list group /%s: %s", path, group,
                            TB_H5_DETAIL());
        if ((size_t)len >= sizeof name || !tb_paramset_find(ps, name))
            return TB_ERROR(TB_ERR_SHAPE, HINT_MISMATCH,
                            "checkpoint %s: unexpected dataset /%s/%s%s (not a tensor of the model its config "
                            "describes)", path, group, name, (size_t)len >= sizeof name ? "..." : "");
    }
    return TB_OK;
}

static int read_tensors_in(hid_t g, const char *path, const char *group, tb_paramset *ps) {
    for (int i = 0; i < ps->n_tensors; i++) {
        const tb_tensor *t = &ps->tensors[i];
        hsize_t want[TB_MAX_DIMS];
        for (int d = 0; d < t->ndim; d++) want[d] = (hsize_t)t->shape[d];
        TB_CHECK(read_floats(g, path, group, t->name, t->ndim, want, ps->data + t->offset));
    }
    return check_no_extra(g, path, group, ps);
}

static int read_tensors(hid_t file, const char *path, const char *group, tb_paramset *ps) {
    hid_t g = -1;
    TB_CHECK(group_open(file, path, group, &g));
    int rc = read_tensors_in(g, path, group, ps);
    H5Gclose(g);
    return rc;
}

/* ------------------------------------------------------------------------------------------------
 * reading: the parts of a checkpoint */

static int check_readable(const char *path) {
    return tb_h5_check_file(path, "checkpoint", "check the checkpoint path",
                            "checkpoints are the HDF5 files written by trustbench's checkpoint save");
}

static int check_header(hid_t file, const char *path) {
    char format[64];
    int version = 0, complete = 0, present = 0;
    TB_CHECK(attr_exists(file, path, "/", "format", &present));
    if (!present)
        return TB_ERROR(TB_ERR_FORMAT, "checkpoints are the HDF5 files written by trustbench's checkpoint save",
                        "%s is an HDF5 file but not a trustbench checkpoint (no 'format' attribute)", path);
    TB_CHECK(attr_read_string(file, path, "/", "format", format, sizeof format));
    if (strcmp(format, CKPT_FORMAT) != 0)
        return TB_ERROR(TB_ERR_FORMAT, "checkpoints are the HDF5 files written by trustbench's checkpoint save",
                        "%s is not a trustbench checkpoint (format '%s')", path, format);
    TB_CHECK(attr_read(file, path, "/", "version", H5T_NATIVE_INT, &version));
    if (version > CKPT_VERSION)
        return TB_ERROR(TB_ERR_FORMAT, "it was written by a newer trustbench: upgrade trustbench to read it",
                        "checkpoint %s has format version %d; this trustbench reads up to version %d", path, version,
                        CKPT_VERSION);
    if (version < 1)
        return TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "checkpoint %s has invalid format version %d", path, version);
    TB_CHECK(attr_exists(file, path, "/", "complete", &present));
    if (present) TB_CHECK(attr_read(file, path, "/", "complete", H5T_NATIVE_INT, &complete));
    if (complete != 1)
        return TB_ERROR(TB_ERR_FORMAT, "use an earlier checkpoint",
                        "checkpoint %s was not completely written (interrupted save?)", path);
    return TB_OK;
}

/* Opens a checkpoint read-only after checking that it is one, of a readable version, complete. */
static int open_checkpoint(const char *path, hid_t *out) {
    TB_CHECK(check_readable(path));
    hid_t fapl = tb_h5_fapl(0);
    hid_t file = fapl < 0 ? -1 : H5Fopen(path, H5F_ACC_RDONLY, fapl);
    int rc = file < 0 ? TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "cannot open checkpoint %s: %s", path, TB_H5_DETAIL())
                      : TB_OK;
    if (fapl >= 0) H5Pclose(fapl);
    if (rc == TB_OK) rc = check_header(file, path);
    if (rc != TB_OK && file >= 0) H5Fclose(file);
    if (rc == TB_OK) *out = file;
    return rc;
}

static int family_from_name(const char *path, const char *name, tb_family *out) {
    const tb_family all[] = {TB_FAMILY_GPT2, TB_FAMILY_LLAMA};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(name, tb_family_name(all[i])) == 0) {
            *out = all[i];
            return TB_OK;
        }
    return TB_ERROR(TB_ERR_FORMAT,
                    "the model family must be gpt2 or llama; the file was edited or comes from another tool",
                    "checkpoint %s: unknown model family '%s' in /config", path, name);
}

static int read_config_in(hid_t g, const char *path, tb_config *c) {
    char family[64];
    memset(c, 0, sizeof *c);
    TB_CHECK(attr_read_string(g, path, "/config", "family", family, sizeof family));
    TB_CHECK(family_from_name(path, family, &c->family));
    return read_fields(g, path, "/config", c, config_fields, N_FIELDS(config_fields));
}

static int read_config(hid_t file, const char *path, tb_config *c) {
    hid_t g = -1;
    TB_CHECK(group_open(file, path, "config", &g));
    int rc = read_config_in(g, path, c);
    H5Gclose(g);
    return rc;
}

static int read_adapter_config(hid_t file, const char *path, tb_adapter_config *a) {
    hid_t g = -1;
    memset(a, 0, sizeof *a);
    TB_CHECK(group_open(file, path, "adapter", &g));
    int rc = read_fields(g, path, "/adapter", a, adapter_fields, N_FIELDS(adapter_fields));
    H5Gclose(g);
    return rc;
}

static int read_adapter(hid_t file, const char *path, tb_model *m) {
    int adapter = 0, adapter_params = 0;
    TB_CHECK(link_exists(file, path, "/", "adapter", &adapter));
    TB_CHECK(link_exists(file, path, "/", "adapter_params", &adapter_params));
    if (!adapter) {
        if (adapter_params)
            return TB_ERROR(TB_ERR_FORMAT, HINT_MISMATCH, "checkpoint %s has /adapter_params but no /adapter", path);
        return TB_OK;
    }
    tb_adapter_config acfg;
    TB_CHECK(read_adapter_config(file, path, &acfg));
    /* the seed is irrelevant: every adapter value is overwritten from the file */
    TB_CHECK(in_file(path, tb_model_add_adapters(m, &acfg, 0), "the /adapter attributes are invalid; " HINT_CORRUPT));
    return read_tensors(file, path, "adapter_params", &m->adapter);
}

/* Creates m from /config, /adapter and the tensors; on failure nothing is left allocated. */
static int load_model(hid_t file, const char *path, tb_model *m) {
    tb_config cfg;
    TB_CHECK(read_config(file, path, &cfg));
    TB_CHECK(in_file(path, tb_config_validate(&cfg), "the /config attributes are invalid; " HINT_CORRUPT));
    TB_CHECK(tb_model_create(m, &cfg));
    int rc = read_adapter(file, path, m);
    if (rc == TB_OK) rc = read_tensors(file, path, "params", &m->params);
    if (rc != TB_OK) {
        tb_model_free(m);
        memset(m, 0, sizeof *m);
    }
    return rc;
}

static int read_merges(hid_t g, const char *path, int model_vocab, tb_tokenizer *tok) {
    hid_t d = -1;
    int ndim;
    hsize_t dims[H5S_MAX_RANK];
    TB_CHECK(dataset_open(g, path, "tokenizer", "merges", H5T_INTEGER, &d, &ndim, dims));
    const hsize_t max_merges = (hsize_t)(model_vocab - TB_TOK_FIRST_MERGE);
    int rc = TB_OK;
    if (ndim != 2 || dims[1] != 2 || dims[0] > max_merges) {
        char s[128];
        rc = TB_ERROR(TB_ERR_SHAPE, HINT_MISMATCH,
                      "checkpoint %s: dataset /tokenizer/merges has shape %s, expected (n_merges, 2) with n_merges <= "
                      "%llu (the model's vocabulary)", path, shape_str(s, sizeof s, ndim, dims),
                      (unsigned long long)max_merges);
    }
    int n = rc == TB_OK ? (int)dims[0] : 0;
    tb_merge *merges = tb_malloc((size_t)n * sizeof *merges);
    if (rc == TB_OK) rc = dataset_read_all(d, path, "tokenizer", "merges", H5T_NATIVE_INT32, (hsize_t)n * 2, merges);
    H5Dclose(d);
    if (rc == TB_OK)
        rc = in_file(path, tb_tokenizer_from_merges(tok, merges, n), "the merge list is invalid; " HINT_CORRUPT);
    tb_free(merges);
    return rc;
}

static int read_tokenizer(hid_t file, const char *path, int model_vocab, tb_tokenizer *tok) {
    int present = 0;
    TB_CHECK(link_exists(file, path, "/", "tokenizer", &present));
    if (!present)
        return TB_ERROR(TB_ERR_FORMAT, "save the checkpoint together with its tokenizer, or load it without one",
                        "checkpoint %s holds no tokenizer", path);
    hid_t g = -1;
    TB_CHECK(group_open(file, path, "tokenizer", &g));
    int rc = read_merges(g, path, model_vocab, tok);
    H5Gclose(g);
    return rc;
}

/* The moments' length: the owner's size for the model's own ParamSets; a reparameterisation's is
 * not in the model, so its moments are as long as written (tb_checkpoint_load_reparam checks its
 * tensors, the caller that the two agree). */
static int moments_numel(hid_t g, const char *path, const tb_model *m, int owner, size_t *n) {
    if (owner == TB_CKPT_BASE || owner == TB_CKPT_ADAPTER) {
        *n = owner == TB_CKPT_ADAPTER ? m->adapter.numel : m->params.numel;
        return *n > 0 ? TB_OK
                      : TB_ERROR(TB_ERR_FORMAT, HINT_MISMATCH,
                                 "checkpoint %s: optimizer state for adapters, but the model has none", path);
    }
    if (owner != TB_CKPT_REPARAM)
        return TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "checkpoint %s: /optimizer on_adapter is %d, not 0, 1 or 2", path,
                        owner);
    hid_t d = -1;
    int ndim;
    hsize_t dims[H5S_MAX_RANK];
    TB_CHECK(dataset_open(g, path, "optimizer", "m", H5T_FLOAT, &d, &ndim, dims));
    H5Dclose(d);
    if (ndim != 1) return TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "checkpoint %s: /optimizer/m is not a vector", path);
    *n = (size_t)dims[0];
    return TB_OK;
}

static int read_optimizer_in(hid_t g, const char *path, const tb_model *m, tb_ckpt_state *st) {
    int owner;
    TB_CHECK(attr_read(g, path, "/optimizer", "on_adapter", H5T_NATIVE_INT, &owner));
    size_t n = 0;
    TB_CHECK(moments_numel(g, path, m, owner, &n));
    hsize_t want = (hsize_t)n;
    st->opt_owner = owner;
    st->opt_numel = n;
    st->opt_m = tb_malloc((n ? n : 1) * sizeof(float));
    st->opt_v = tb_malloc((n ? n : 1) * sizeof(float));
    TB_CHECK(read_floats(g, path, "optimizer", "m", 1, &want, st->opt_m));
    return read_floats(g, path, "optimizer", "v", 1, &want, st->opt_v);
}

/* The trace is whatever length it was written with: read its extent, then its values. */
static int read_trace(hid_t file, const char *path, tb_ckpt_state *st) {
    hid_t d = -1;
    int ndim;
    hsize_t dims[H5S_MAX_RANK];
    TB_CHECK(dataset_open(file, path, "", "trace", H5T_FLOAT, &d, &ndim, dims));
    int rc = ndim == 1 ? TB_OK : TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "checkpoint %s: /trace is not a vector", path);
    if (rc == TB_OK) {
        st->trace_len = (size_t)dims[0];
        st->trace = tb_malloc((st->trace_len ? st->trace_len : 1) * sizeof(float));
        rc = dataset_read_all(d, path, "", "trace", H5T_NATIVE_FLOAT, dims[0], st->trace);
    }
    H5Dclose(d);
    return rc;
}

static void free_state(tb_ckpt_state *st) {
    tb_free(st->opt_m);
    tb_free(st->opt_v);
    tb_free(st->trace);
    memset(st, 0, sizeof *st);
}

static int read_state(hid_t file, const char *path, const tb_model *m, tb_ckpt_state *st) {
    int64_t step;
    memset(st, 0, sizeof *st);
    TB_CHECK(attr_read(file, path, "/", "step", H5T_NATIVE_INT64, &step));
    TB_CHECK(attr_read(file, path, "/", "rng_key", H5T_NATIVE_UINT64, &st->rng.key));
    TB_CHECK(attr_read(file, path, "/", "rng_counter", H5T_NATIVE_UINT64, &st->rng.counter));
    st->step = (long)step;
    int present = 0, rc = TB_OK;
    TB_CHECK(link_exists(file, path, "/", "optimizer", &present));
    if (present) {
        hid_t g = -1;
        TB_CHECK(group_open(file, path, "optimizer", &g));
        rc = read_optimizer_in(g, path, m, st);
        H5Gclose(g);
    }
    if (rc == TB_OK) rc = link_exists(file, path, "/", "trace", &present);
    if (rc == TB_OK && present) rc = read_trace(file, path, st);
    if (rc != TB_OK) free_state(st);
    return rc;
}

/* The tokenizer comes last so that a failure never has to undo it. */
static int load_contents(hid_t file, const char *path, tb_model *m, tb_tokenizer *tok, tb_ckpt_state *st) {
    TB_CHECK(load_model(file, path, m));
    int rc = st ? read_state(file, path, m, st) : TB_OK;
    if (rc == TB_OK && tok) rc = read_tokenizer(file, path, m->cfg.vocab_size, tok);
    if (rc != TB_OK) {
        if (st) free_state(st);
        tb_model_free(m);
        memset(m, 0, sizeof *m);
    }
    return rc;
}

int tb_checkpoint_load(const char *path, tb_model *m, tb_tokenizer *tok, tb_ckpt_state *st) {
    memset(m, 0, sizeof *m);
    if (st) memset(st, 0, sizeof *st);
    tb_h5_quiet q;
    tb_h5_quiet_begin(&q);
    hid_t file = -1;
    int rc = open_checkpoint(path, &file);
    if (rc == TB_OK) {
        rc = load_contents(file, path, m, tok, st);
        H5Fclose(file);
    }
    tb_h5_quiet_end(&q);
    return rc;
}

int tb_checkpoint_load_reparam(const char *path, tb_paramset *ps) {
    tb_h5_quiet q;
    tb_h5_quiet_begin(&q);
    hid_t file = -1;
    int rc = open_checkpoint(path, &file), present = 0;
    if (rc == TB_OK) rc = link_exists(file, path, "/", "reparam_params", &present);
    if (rc == TB_OK && !present)
        rc = TB_ERROR(TB_ERR_FORMAT, HINT_MISMATCH, "checkpoint %s has no /reparam_params (saved without one)", path);
    if (rc == TB_OK) rc = read_tensors(file, path, "reparam_params", ps);
    if (file >= 0) H5Fclose(file);
    tb_h5_quiet_end(&q);
    return rc;
}

/* ------------------------------------------------------------------------------------------------
 * info */

static void format_targets(char *buf, size_t cap, unsigned bits) {
    static const char *names[] = {"q", "k", "v", "o", "up", "gate", "down"};
    size_t n = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < sizeof names / sizeof names[0] && n < cap; i++)
        if (bits & (1u << i)) n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? "," : "", names[i]);
    if (!buf[0]) snprintf(buf, cap, "none");
}

/* Creation order (the model's layer-major order) when the writer tracked it, else by name. */
static H5_index_t link_order(hid_t g) {
    unsigned flags = 0;
    hid_t gcpl = H5Gget_create_plist(g);
    if (gcpl >= 0) {
        if (H5Pget_link_creation_order(gcpl, &flags) < 0) flags = 0;
        H5Pclose(gcpl);
    }
    return (flags & H5P_CRT_ORDER_INDEXED) ? H5_INDEX_CRT_ORDER : H5_INDEX_NAME;
}

/* Name, rank and dims of the i-th dataset of g. */
static int tensor_at(hid_t g, const char *path, const char *group, H5_index_t order, hsize_t i, char *name,
                     size_t cap, int *ndim, hsize_t *dims) {
    if (H5Lget_name_by_idx(g, ".", order, H5_ITER_INC, i, name, cap, H5P_DEFAULT) < 0)
        return TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "checkpoint %s: cannot list group /%s: %s", path, group,
                        TB_H5_DETAIL());
    hid_t d = -1;
    TB_CHECK(dataset_open(g, path, group, name, H5T_FLOAT, &d, ndim, dims));
    H5Dclose(d);
    return TB_OK;
}

static hsize_t numel_of(int ndim, const hsize_t *dims) {
    hsize_t n = 1;
    for (int i = 0; i < ndim; i++) n *= dims[i];
    return n;
}

/* Two passes: totals and the name column's width first, then one line per tensor. */
static int print_tensors_in(hid_t g, const char *path, const char *group, const char *label, FILE *out) {
    H5G_info_t info;
    if (H5Gget_info(g, &info) < 0)
        return TB_ERROR(TB_ERR_FORMAT, HINT_CORRUPT, "checkpoint %s: cannot list group /%s: %s", path, group,
                        TB_H5_DETAIL());
    H5_index_t order = link_order(g);
    char name[256], s[128];
    int ndim;
    hsize_t dims[H5S_MAX_RANK], total = 0;
    size_t width = 0;
    for (hsize_t i = 0; i < info.nlinks; i++) {
        TB_CHECK(tensor_at(g, path, group, order, i, name, sizeof name, &ndim, dims));
        total += numel_of(ndim, dims);
        if (strlen(name) > width) width = strlen(name);
    }
    fprintf(out, "%-12s%llu parameters in %llu tensors\n", label, (unsigned long long)total,
            (unsigned long long)info.nlinks);
    for (hsize_t i = 0; i < info.nlinks; i++) {
        TB_CHECK(tensor_at(g, path, group, order, i, name, sizeof name, &ndim, dims));
        fprintf(out, "    %-*s  %s\n", (int)width, name, shape_str(s, sizeof s, ndim, dims));
    }
    return TB_OK;
}

static int print_tensors(hid_t file, const char *path, const char *group, const char *label, FILE *out) {
    hid_t g = -1;
    TB_CHECK(group_open(file, path, group, &g));
    int rc = print_tensors_in(g, path, group, label, out);
    H5Gclose(g);
    return rc;
}

static int print_adapter(hid_t file, const char *path, FILE *out) {
    int present = 0;
    TB_CHECK(link_exists(file, path, "/", "adapter", &present));
    if (!present) {
        fprintf(out, "%-12snone\n", "adapter");
        return TB_OK;
    }
    tb_adapter_config a;
    char targets[64];
    TB_CHECK(read_adapter_config(file, path, &a));
    format_targets(targets, sizeof targets, a.lora_targets);
    fprintf(out, "%-12sprefix %d slots/layer, LoRA rank %d alpha %g targets %s\n", "adapter", a.n_prefix, a.lora_rank,
            (double)a.lora_alpha, a.lora_rank > 0 ? targets : "none");
    return print_tensors(file, path, "adapter_params", "", out);
}

/* Size of a 1-D or 2-D dataset's first dimension, for the optimizer and tokenizer lines. */
static int leading_dim(hid_t file, const char *path, const char *group, const char *name, H5T_class_t cls,
                       hsize_t *n) {
    hid_t g = -1, d = -1;
    int ndim;
    hsize_t dims[H5S_MAX_RANK];
    TB_CHECK(group_open(file, path, group, &g));
    int rc = dataset_open(g, path, group, name, cls, &d, &ndim, dims);
    H5Gclose(g);
    if (rc != TB_OK) return rc;
    H5Dclose(d);
    *n = ndim > 0 ? dims[0] : 0;
    return TB_OK;
}

static int print_optimizer(hid_t file, const char *path, FILE *out) {
    int present = 0;
    TB_CHECK(link_exists(file, path, "/", "optimizer", &present));
    if (!present) {
        fprintf(out, "%-12snone\n", "optimizer");
        return TB_OK;
    }
    hid_t g = -1;
    int on_adapter;
    hsize_t n;
    TB_CHECK(group_open(file, path, "optimizer", &g));
    int rc = attr_read(g, path, "/optimizer", "on_adapter", H5T_NATIVE_INT, &on_adapter);
    H5Gclose(g);
    if (rc != TB_OK) return rc;
    TB_CHECK(leading_dim(file, path, "optimizer", "m", H5T_FLOAT, &n));
    fprintf(out, "%-12smoments m, v of the %s parameters (%llu values each)\n", "optimizer",
            on_adapter == TB_CKPT_REPARAM ? "reparameterisation" : on_adapter ? "adapter" : "base",
            (unsigned long long)n);
    return TB_OK;
}

static int print_tokenizer(hid_t file, const char *path, FILE *out) {
    int present = 0;
    TB_CHECK(link_exists(file, path, "/", "tokenizer", &present));
    if (!present) {
        fprintf(out, "%-12snone\n", "tokenizer");
        return TB_OK;
    }
    hsize_t n;
    TB_CHECK(leading_dim(file, path, "tokenizer", "merges", H5T_INTEGER, &n));
    fprintf(out, "%-12sbyte-level BPE, vocab %llu (%llu merges)\n", "tokenizer",
            (unsigned long long)(TB_TOK_FIRST_MERGE + n), (unsigned long long)n);
    return TB_OK;
}

static int print_info(hid_t file, const char *path, FILE *out) {
    tb_config c;
    char version[64], commit[64];
    int64_t step;
    uint64_t key, counter;
    TB_CHECK(read_config(file, path, &c));
    TB_CHECK(attr_read_string(file, path, "/", "trustbench_version", version, sizeof version));
    TB_CHECK(attr_read_string(file, path, "/", "trustbench_commit", commit, sizeof commit));
    TB_CHECK(attr_read(file, path, "/", "step", H5T_NATIVE_INT64, &step));
    TB_CHECK(attr_read(file, path, "/", "rng_key", H5T_NATIVE_UINT64, &key));
    TB_CHECK(attr_read(file, path, "/", "rng_counter", H5T_NATIVE_UINT64, &counter));

    fprintf(out, "%-12s%s\n", "checkpoint", path);
    fprintf(out, "%-12strustbench %s (commit %s), format version %d\n", "written by", version, commit, CKPT_VERSION);
    fprintf(out, "%-12s%s L=%d C=%d NH=%d NKV=%d F=%d V=%d maxT=%d norm_eps=%g rope_theta=%g qkv_bias=%d "
            "tie_embeddings=%d\n", "model", tb_family_name(c.family), c.n_layer, c.n_embd, c.n_head, c.n_kv_head,
            c.ffn_hidden, c.vocab_size, c.max_seq_len, (double)c.norm_eps, (double)c.rope_theta, c.qkv_bias,
            c.tie_embeddings);
    TB_CHECK(print_tensors(file, path, "params", "params", out));
    TB_CHECK(print_adapter(file, path, out));
    int reparam = 0;
    TB_CHECK(link_exists(file, path, "/", "reparam_params", &reparam));
    if (reparam) TB_CHECK(print_tensors(file, path, "reparam_params", "reparam", out));
    fprintf(out, "%-12s%lld\n", "step", (long long)step);
    fprintf(out, "%-12skey %llu counter %llu\n", "rng", (unsigned long long)key, (unsigned long long)counter);
    TB_CHECK(print_optimizer(file, path, out));
    return print_tokenizer(file, path, out);
}

int tb_checkpoint_info(const char *path, FILE *out) {
    tb_h5_quiet q;
    tb_h5_quiet_begin(&q);
    hid_t file = -1;
    int rc = open_checkpoint(path, &file);
    if (rc == TB_OK) {
        rc = print_info(file, path, out);
        H5Fclose(file);
    }
    tb_h5_quiet_end(&q);
    return rc;
}
