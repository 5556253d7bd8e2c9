/*
 * dump_model.c: one forward/backward step of a random tiny model, written to HDF5 for the PyTorch
 * cross-check (check_model.py).
 *
 *   dump_model FAMILY OUT.h5 [--layers L] [--embd C] [--heads NH] [--kv-heads NKV] [--vocab V]
 *              [--max-seq maxT] [--batch B] [--seq T] [--qkv-bias 0|1] [--tie 0|1] [--prefix P]
 *              [--lora-rank R] [--lora-alpha A] [--lora-targets q,k,...] [--seed S]
 *
 * The step is the SFT objective: loss = -mean(logprob) over the positions whose target is >= 0.
 * The file holds the config (root attributes), /inp and /targets (B,T), every tensor of the base and
 * adapter ParamSets under /params/<name>, /logits (B,T,V), /loss, and every gradient under /grad/<name>.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "core/core.h"
#include "model/model.h"

#define HINT_USAGE                                                                                         \
    "usage: dump_model gpt2|llama OUT.h5 [--layers L] [--embd C] [--heads NH] [--kv-heads NKV] [--vocab V] " \
    "[--max-seq maxT] [--batch B] [--seq T] [--qkv-bias 0|1] [--tie 0|1] [--prefix P] [--lora-rank R] "      \
    "[--lora-alpha A] [--lora-targets LIST] [--seed S]"
#define HINT_WRITE "check that the output directory exists and is writable"

typedef struct {
    tb_family family;
    const char *out;
    int L, C, NH, NKV, V, maxT, B, T;
    int qkv_bias, tie; /* tie < 0: the family's default */
    tb_adapter_config acfg;
    uint64_t seed;
} dump_options;

/* ---- arguments ------------------------------------------------------------------------------- */

static int parse_int(const char *flag, const char *s, long lo, long hi, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi)
        return TB_ERROR(TB_ERR_ARG, HINT_USAGE, "%s expects an integer in [%ld, %ld], got '%s'", flag, lo, hi, s);
    *out = (int)v;
    return TB_OK;
}

static int parse_flag(dump_options *o, const char *flag, const char *val) {
    const struct {
        const char *flag;
        int *field;
        long lo, hi;
    } ints[] = {
        {"--layers", &o->L, 1, 64},          {"--embd", &o->C, 2, 4096},
        {"--heads", &o->NH, 1, 256},         {"--kv-heads", &o->NKV, 1, 256},
        {"--vocab", &o->V, 261, 1 << 20},    {"--max-seq", &o->maxT, 1, 4096},
        {"--batch", &o->B, 1, 64},           {"--seq", &o->T, 1, 4096},
        {"--qkv-bias", &o->qkv_bias, 0, 1},  {"--tie", &o->tie, 0, 1},
        {"--prefix", &o->acfg.n_prefix, 0, 4096}, {"--lora-rank", &o->acfg.lora_rank, 0, 4096},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (strcmp(flag, ints[i].flag) == 0) return parse_int(flag, val, ints[i].lo, ints[i].hi, ints[i].field);
    if (strcmp(flag, "--lora-targets") == 0) return tb_lora_targets_parse(val, &o->acfg.lora_targets);
    if (strcmp(flag, "--lora-alpha") == 0) {
        char *end;
        o->acfg.lora_alpha = strtof(val, &end);
        if (*val == '\0' || *end != '\0' || !(o->acfg.lora_alpha > 0.0f))
            return TB_ERROR(TB_ERR_ARG, HINT_USAGE, "--lora-alpha expects a positive number, got '%s'", val);
        return TB_OK;
    }
    if (strcmp(flag, "--seed") == 0) {
        int s = 0;
        TB_CHECK(parse_int(flag, val, 0, 2147483647L, &s));
        o->seed = (uint64_t)s;
        return TB_OK;
    }
    return TB_ERROR(TB_ERR_ARG, HINT_USAGE, "unknown option '%s'", flag);
}

static int parse_args(dump_options *o, int argc, char **argv) {
    if (argc < 3) return TB_ERROR(TB_ERR_ARG, HINT_USAGE, "dump_model needs a family and an output file");
    TB_CHECK(tb_family_parse(argv[1], &o->family));
    o->out = argv[2];
    /* tiny but not degenerate: several heads, two layers, a vocabulary just above the byte range */
    o->L = 2, o->C = 16, o->NH = 4, o->NKV = 0, o->V = 261, o->maxT = 8, o->B = 2, o->T = 7;
    o->qkv_bias = 0, o->tie = -1, o->seed = 1234;
    o->acfg = (tb_adapter_config){.n_prefix = 0, .lora_rank = 0, .lora_alpha = 3.0f, .lora_targets = 0};
    for (int i = 3; i < argc; i += 2) {
        if (i + 1 >= argc) return TB_ERROR(TB_ERR_ARG, HINT_USAGE, "option '%s' has no value", argv[i]);
        TB_CHECK(parse_flag(o, argv[i], argv[i + 1]));
    }
    if (o->acfg.lora_rank > 0 && o->acfg.lora_targets == 0)
        return TB_ERROR(TB_ERR_ARG, "name the LoRA targets, e.g. --lora-targets q,v",
                        "--lora-rank %d without --lora-targets", o->acfg.lora_rank);
    return TB_OK;
}

/* ---- the random model and batch -------------------------------------------------------------- */

/* The real init leaves norm weights at 1 and biases at 0, which would let a wrong bias or norm-weight
 * path pass unnoticed, and its 0.02 weights keep attention near uniform and GELU/SiLU near linear.
 * So: norm weights 1 + 0.1 N, biases 0.1 N, matrices scaled up tenfold (std 0.2). */
static void randomise_base(tb_model *m, tb_rng *r) {
    for (int i = 0; i < m->params.n_tensors; i++) {
        const tb_tensor *t = &m->params.tensors[i];
        float *w = m->params.data + t->offset;
        int is_bias = strstr(t->name, ".bias") != NULL;
        for (size_t j = 0; j < t->numel; j++) {
            if (t->ndim >= 2) w[j] *= 10.0f;
            else w[j] = is_bias ? 0.1f * tb_rng_normal(r) : 1.0f + 0.1f * tb_rng_normal(r);
        }
    }
}

/* LoRA B starts at zero (the adapter begins as a no-op), which would zero the gradient reaching A
 * and the input through the adapter; prefix slots get keys/values of the size of the real ones. */
static void randomise_adapters(tb_model *m, tb_rng *r) {
    for (int i = 0; i < m->adapter.n_tensors; i++) {
        const tb_tensor *t = &m->adapter.tensors[i];
        float *w = m->adapter.data + t->offset;
        size_t len = strlen(t->name);
        float std = strncmp(t->name, "prefix.", 7) == 0 ? 0.5f : t->name[len - 1] == 'B' ? 0.1f : 0.0f;
        if (std == 0.0f) continue; /* LoRA A keeps its Kaiming-uniform init */
        for (size_t j = 0; j < t->numel; j++) w[j] = std * tb_rng_normal(r);
    }
}

/* Random tokens; about a quarter of the targets are -1 (ignored), at least one position is scored. */
static void make_batch(int *inp, int *targets, int BT, int V, tb_rng *r) {
    // inp (B,T), targets (B,T)
    int scored = 0;
    for (int i = 0; i < BT; i++) {
        inp[i] = (int)tb_rng_below(r, (uint64_t)V);
        targets[i] = tb_rng_below(r, 4) == 0 ? -1 : (int)tb_rng_below(r, (uint64_t)V);
        scored += targets[i] >= 0;
    }
    if (scored == 0) targets[BT - 1] = 0;
}

/* One SFT step: forward, loss = -mean logprob over scored positions, backward. logits_out (B,T,V)
 * receives the logits before tb_model_logprob_grad turns them into dlogits in place. */
static int sft_step(tb_model *m, const int *inp, const int *targets, int B, int T, float *logits_out, double *loss) {
    int BT = B * T, n = 0;
    TB_CHECK(tb_model_forward(m, inp, targets, B, T));
    memcpy(logits_out, m->logits, (size_t)BT * m->cfg.vocab_size * sizeof(float));
    double sum = 0.0;
    for (int i = 0; i < BT; i++) {
        if (targets[i] < 0) continue;
        sum += m->logprob[i];
        n++;
    }
    *loss = -sum / n;
    // loss = -(1/n) sum logprob[i]  =>  dlogprob[i] = -1/n on scored positions
    float *dlogprob = tb_malloc((size_t)BT * sizeof(float));
    for (int i = 0; i < BT; i++) dlogprob[i] = targets[i] >= 0 ? -1.0f / (float)n : 0.0f;
    tb_model_zero_grad(m);
    tb_model_logprob_grad(m, dlogprob);
    tb_model_backward(m, 1);
    tb_free(dlogprob);
    return TB_OK;
}

/* ---- HDF5 output ----------------------------------------------------------------------------- */

static int h5_fail(const char *path, const char *what) {
    return TB_ERROR(TB_ERR_HDF5, HINT_WRITE, "%s: cannot write %s", path, what);
}

/* rank 0 writes a scalar */
static int write_dataset(hid_t loc, const char *path, const char *name, hid_t file_type, hid_t mem_type, int rank,
                         const hsize_t *dims, const void *data) {
    hid_t space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, NULL);
    hid_t ds = space < 0 ? -1 : H5Dcreate2(loc, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t st = ds < 0 ? -1 : H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    if (ds >= 0) H5Dclose(ds);
    if (space >= 0) H5Sclose(space);
    return st < 0 ? h5_fail(path, name) : TB_OK;
}

static int write_attr(hid_t loc, const char *path, const char *name, hid_t file_type, hid_t mem_type,
                      const void *value) {
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = space < 0 ? -1 : H5Acreate2(loc, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t st = a < 0 ? -1 : H5Awrite(a, mem_type, value);
    if (a >= 0) H5Aclose(a);
    if (space >= 0) H5Sclose(space);
    return st < 0 ? h5_fail(path, name) : TB_OK;
}

static int write_attr_int(hid_t loc, const char *path, const char *name, int v) {
    return write_attr(loc, path, name, H5T_STD_I32LE, H5T_NATIVE_INT, &v);
}

static int write_attr_double(hid_t loc, const char *path, const char *name, double v) {
    return write_attr(loc, path, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

static int write_attr_string(hid_t loc, const char *path, const char *name, const char *s) {
    hid_t type = H5Tcopy(H5T_C_S1);
    int rc = type >= 0 && H5Tset_size(type, strlen(s) + 1) >= 0 ? write_attr(loc, path, name, type, type, s)
                                                                 : h5_fail(path, name);
    if (type >= 0) H5Tclose(type);
    return rc;
}

static int write_config(hid_t file, const char *path, const tb_model *m, int B, int T) {
    const tb_config *c = &m->cfg;
    TB_CHECK(write_attr_string(file, path, "family", tb_family_name(c->family)));
    const struct {
        const char *name;
        int v;
    } ints[] = {{"n_layer", c->n_layer},         {"n_embd", c->n_embd},
                {"n_head", c->n_head},           {"n_kv_head", c->n_kv_head},
                {"vocab_size", c->vocab_size},   {"max_seq_len", c->max_seq_len},
                {"ffn_hidden", c->ffn_hidden},   {"qkv_bias", c->qkv_bias},
                {"tie_embeddings", c->tie_embeddings}, {"n_prefix", m->acfg.n_prefix},
                {"lora_rank", m->acfg.lora_rank}, {"lora_targets", (int)m->acfg.lora_targets},
                {"B", B},                        {"T", T}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        TB_CHECK(write_attr_int(file, path, ints[i].name, ints[i].v));
    TB_CHECK(write_attr_double(file, path, "norm_eps", c->norm_eps));
    TB_CHECK(write_attr_double(file, path, "rope_theta", c->rope_theta));
    TB_CHECK(write_attr_double(file, path, "lora_alpha", m->acfg.lora_alpha));
    return TB_OK;
}

/* Writes every tensor of ps into group: values (grad = 0) or gradients (grad = 1), shaped as declared. */
static int write_paramset(hid_t group, const char *path, const tb_paramset *ps, int grad) {
    for (int i = 0; i < ps->n_tensors; i++) {
        const tb_tensor *t = &ps->tensors[i];
        hsize_t dims[TB_MAX_DIMS];
        for (int d = 0; d < t->ndim; d++) dims[d] = (hsize_t)t->shape[d];
        const float *src = (grad ? ps->grad : ps->data) + t->offset;
        TB_CHECK(write_dataset(group, path, t->name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, t->ndim, dims, src));
    }
    return TB_OK;
}

static int write_tensors(hid_t file, const char *path, const char *group_name, const tb_model *m, int grad) {
    hid_t g = H5Gcreate2(file, group_name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) return h5_fail(path, group_name);
    int rc = write_paramset(g, path, &m->params, grad);
    if (rc == TB_OK) rc = write_paramset(g, path, &m->adapter, grad);
    H5Gclose(g);
    return rc;
}

static int write_contents(hid_t file, const char *path, const tb_model *m, const int *inp, const int *targets,
                          int B, int T, const float *logits, double loss) {
    hsize_t bt[2] = {(hsize_t)B, (hsize_t)T}, btv[3] = {(hsize_t)B, (hsize_t)T, (hsize_t)m->cfg.vocab_size};
    TB_CHECK(write_config(file, path, m, B, T));
    TB_CHECK(write_dataset(file, path, "inp", H5T_STD_I32LE, H5T_NATIVE_INT, 2, bt, inp));
    TB_CHECK(write_dataset(file, path, "targets", H5T_STD_I32LE, H5T_NATIVE_INT, 2, bt, targets));
    TB_CHECK(write_dataset(file, path, "logits", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, btv, logits));
    TB_CHECK(write_dataset(file, path, "loss", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, NULL, &loss));
    TB_CHECK(write_tensors(file, path, "params", m, 0));
    TB_CHECK(write_tensors(file, path, "grad", m, 1));
    return TB_OK;
}

static int write_file(const char *path, const tb_model *m, const int *inp, const int *targets, int B, int T,
                      const float *logits, double loss) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* failures are reported once, through TB_ERROR */
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) return TB_ERROR(TB_ERR_IO, HINT_WRITE, "cannot create %s", path);
    int rc = write_contents(file, path, m, inp, targets, B, T, logits, loss);
    if (H5Fclose(file) < 0 && rc == TB_OK) rc = h5_fail(path, "the file");
    return rc;
}

/* ---- main ------------------------------------------------------------------------------------ */

static int build_model(tb_model *m, const dump_options *o) {
    tb_config cfg;
    tb_config_defaults(&cfg, o->family, o->L, o->C, o->NH, o->V, o->maxT);
    if (o->NKV > 0) cfg.n_kv_head = o->NKV;
    cfg.qkv_bias = o->qkv_bias;
    if (o->tie >= 0) cfg.tie_embeddings = o->tie;
    TB_CHECK(tb_model_create(m, &cfg));
    tb_model_init(m, o->seed);
    tb_rng r = tb_rng_make(o->seed, tb_rng_stream_id("crosscheck"));
    randomise_base(m, &r);
    if (o->acfg.n_prefix > 0 || o->acfg.lora_rank > 0) {
        TB_CHECK(tb_model_add_adapters(m, &o->acfg, o->seed));
        randomise_adapters(m, &r);
    }
    return TB_OK;
}

static int dump(tb_model *m, const dump_options *o) {
    TB_CHECK(build_model(m, o));
    int BT = o->B * o->T;
    int *inp = tb_malloc((size_t)BT * sizeof(int));     // (B,T)
    int *targets = tb_malloc((size_t)BT * sizeof(int)); // (B,T)
    float *logits = tb_malloc((size_t)BT * o->V * sizeof(float)); // (B,T,V)
    tb_rng r = tb_rng_make(o->seed, tb_rng_stream_id("crosscheck-batch"));
    make_batch(inp, targets, BT, o->V, &r);
    double loss = 0.0;
    int rc = sft_step(m, inp, targets, o->B, o->T, logits, &loss);
    if (rc == TB_OK) rc = write_file(o->out, m, inp, targets, o->B, o->T, logits, loss);
    if (rc == TB_OK) printf("dump_model: %s loss %.6f -> %s\n", tb_family_name(o->family), loss, o->out);
    tb_free(inp);
    tb_free(targets);
    tb_free(logits);
    return rc;
}

int main(int argc, char **argv) {
    dump_options o;
    tb_model m;
    memset(&m, 0, sizeof m);
    int rc = parse_args(&o, argc, argv);
    if (rc == TB_OK) rc = dump(&m, &o);
    tb_model_free(&m);
    if (rc != TB_OK) {
        tb_error_report(stderr);
        return 1;
    }
    return 0;
}
