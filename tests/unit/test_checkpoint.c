/*
 * test_checkpoint.c: HDF5 model checkpoints (src/io/checkpoint.c).
 *
 * Round trips a gpt2 model (tokenizer, optimizer moments of the base weights) and a llama model with
 * grouped-query attention, an untied head and prefix + LoRA adapters (moments of the adapter): every
 * parameter, the config, the merges, step, RNG state and moments come back bit-identical, and so do
 * the logits of a forward pass. Two processes saving one path at once both succeed. Then damaged or foreign files: truncated at several points, random
 * bytes, a text file, a directory, an HDF5 file that is not a checkpoint, a missing `complete`, a newer
 * format version, a tensor of the wrong shape, a missing and an extra tensor, an unknown family. Each
 * must fail with the expected code and a message naming the file, leave nothing allocated, print
 * nothing on stderr (HDF5's own error stack stays silent) and restore HDF5's error printing.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hdf5.h>

#include "core/core.h"
#include "data/data.h"
#include "io/io.h"
#include "model/model.h"

#define PATH_CAP 512

static char tmpdir[256];

static const char *tmp_path(char *buf, const char *name) {
    snprintf(buf, PATH_CAP, "%s/%s", tmpdir, name);
    return buf;
}

/* ------------------------------------------------------------------------------------------------
 * fixtures */

static void make_tokenizer(tb_tokenizer *tok) {
    static const char text[] =
        "The quick brown fox jumps over the lazy dog. The lazy dog sleeps in the warm sun. "
        "A quick brown cat watches the sleeping dog, and the fox runs over the hill again. "
        "Numbers like 1234 and 5678 appear twice: 1234 and 5678. Checkpoints keep the weights. "
        "The quick brown fox jumps over the lazy dog. The lazy dog sleeps in the warm sun. "
        "A quick brown cat watches the sleeping dog, and the fox runs over the hill again. ";
    assert_int_equal(tb_tokenizer_train(tok, text, sizeof text - 1, 300), TB_OK);
    assert_true(tok->n_merges > 0 && tok->vocab_size <= 300);
}

static void randomize(tb_paramset *ps, uint64_t seed) {
    tb_rng r = tb_rng_make(seed, 0);
    for (int i = 0; i < ps->n_tensors; i++) {
        float *x = ps->data + ps->tensors[i].offset;
        for (size_t j = 0; j < ps->tensors[i].numel; j++) x[j] = 0.05f * tb_rng_normal(&r);
    }
}

static void make_gpt2(tb_model *m) {
    tb_config c;
    tb_config_defaults(&c, TB_FAMILY_GPT2, 2, 16, 2, 300, 16);
    assert_int_equal(tb_model_create(m, &c), TB_OK);
    tb_model_init(m, 1234);
}

static void make_llama_with_adapters(tb_model *m) {
    tb_config c;
    tb_config_defaults(&c, TB_FAMILY_LLAMA, 2, 16, 2, 300, 16);
    c.n_kv_head = 1;
    assert_int_equal(c.tie_embeddings, 0);
    assert_int_equal(tb_model_create(m, &c), TB_OK);
    tb_model_init(m, 99);
    tb_adapter_config a = {.n_prefix = 2, .lora_rank = 2, .lora_alpha = 4.0f, .lora_targets = TB_LORA_Q | TB_LORA_V};
    assert_int_equal(tb_model_add_adapters(m, &a, 7), TB_OK);
    assert_true(m->adapter.n_tensors > 0);
    /* LoRA's B starts at zero, which would make the adapter invisible in the logits */
    randomize(&m->adapter, 5);
}

static void make_state(tb_ckpt_state *st, const tb_paramset *ps, int on_adapter) {
    tb_rng r = tb_rng_make(11, 0);
    memset(st, 0, sizeof *st);
    st->step = 1234567890123L;
    st->rng = tb_rng_make(42, tb_rng_stream_id("data"));
    for (int i = 0; i < 5; i++) tb_rng_u64(&st->rng); /* a non-zero counter */
    st->opt_numel = ps->numel;
    st->opt_owner = on_adapter ? TB_CKPT_ADAPTER : TB_CKPT_BASE;
    st->opt_m = tb_malloc(ps->numel * sizeof(float));
    st->opt_v = tb_malloc(ps->numel * sizeof(float));
    for (size_t i = 0; i < ps->numel; i++) {
        st->opt_m[i] = tb_rng_normal(&r);
        st->opt_v[i] = tb_rng_uniform(&r);
    }
}

static void free_state(tb_ckpt_state *st) {
    tb_free(st->opt_m);
    tb_free(st->opt_v);
}

/* A gpt2 checkpoint with tokenizer and optimizer state. */
static void write_good(const char *path) {
    tb_model m;
    tb_tokenizer tok;
    tb_ckpt_state st;
    make_gpt2(&m);
    make_tokenizer(&tok);
    make_state(&st, &m.params, 0);
    assert_int_equal(tb_checkpoint_save(path, &m, &tok, &st), TB_OK);
    free_state(&st);
    tb_tokenizer_free(&tok);
    tb_model_free(&m);
}

/* ------------------------------------------------------------------------------------------------
 * comparisons */

static void assert_configs_equal(const tb_config *a, const tb_config *b) {
    assert_int_equal(a->family, b->family);
    assert_int_equal(a->max_seq_len, b->max_seq_len);
    assert_int_equal(a->vocab_size, b->vocab_size);
    assert_int_equal(a->n_layer, b->n_layer);
    assert_int_equal(a->n_head, b->n_head);
    assert_int_equal(a->n_kv_head, b->n_kv_head);
    assert_int_equal(a->n_embd, b->n_embd);
    assert_int_equal(a->ffn_hidden, b->ffn_hidden);
    assert_memory_equal(&a->norm_eps, &b->norm_eps, sizeof a->norm_eps);
    assert_memory_equal(&a->rope_theta, &b->rope_theta, sizeof a->rope_theta);
    assert_int_equal(a->qkv_bias, b->qkv_bias);
    assert_int_equal(a->tie_embeddings, b->tie_embeddings);
}

static void assert_paramsets_equal(const tb_paramset *a, const tb_paramset *b) {
    assert_int_equal(a->n_tensors, b->n_tensors);
    assert_int_equal(a->numel, b->numel);
    for (int i = 0; i < a->n_tensors; i++) {
        const tb_tensor *x = &a->tensors[i], *y = &b->tensors[i];
        assert_string_equal(x->name, y->name);
        assert_int_equal(x->ndim, y->ndim);
        assert_memory_equal(x->shape, y->shape, sizeof x->shape);
        assert_int_equal(x->offset, y->offset);
        assert_memory_equal(a->data + x->offset, b->data + y->offset, x->numel * sizeof(float));
    }
}

static void assert_tokenizers_equal(const tb_tokenizer *a, const tb_tokenizer *b) {
    assert_int_equal(a->vocab_size, b->vocab_size);
    assert_int_equal(a->n_merges, b->n_merges);
    assert_memory_equal(a->merges, b->merges, (size_t)a->n_merges * sizeof *a->merges);
}

static void assert_states_equal(const tb_ckpt_state *a, const tb_ckpt_state *b) {
    assert_int_equal(a->step, b->step);
    assert_int_equal(a->rng.key, b->rng.key);
    assert_int_equal(a->rng.counter, b->rng.counter);
    assert_int_equal(a->opt_owner, b->opt_owner);
    assert_int_equal(a->opt_numel, b->opt_numel);
    assert_non_null(b->opt_m);
    assert_non_null(b->opt_v);
    assert_memory_equal(a->opt_m, b->opt_m, a->opt_numel * sizeof(float));
    assert_memory_equal(a->opt_v, b->opt_v, a->opt_numel * sizeof(float));
}

static void assert_same_logits(tb_model *a, tb_model *b) {
    enum { B = 2, T = 8 };
    int inp[B * T];
    tb_rng r = tb_rng_make(3, 0);
    for (int i = 0; i < B * T; i++) inp[i] = (int)tb_rng_below(&r, (uint64_t)a->cfg.vocab_size);
    assert_int_equal(tb_model_forward(a, inp, NULL, B, T), TB_OK);
    assert_int_equal(tb_model_forward(b, inp, NULL, B, T), TB_OK);
    assert_memory_equal(a->logits, b->logits, (size_t)B * T * a->cfg.vocab_size * sizeof(float));
}

/* Every HDF5 handle the library opened has been released. */
static void assert_no_open_hdf5(void) { assert_int_equal(H5Fget_obj_count((hid_t)H5F_OBJ_ALL, H5F_OBJ_ALL), 0); }

/* ------------------------------------------------------------------------------------------------
 * round trips */

/* Entries of tmpdir whose names start with name followed by a dot: temporary files left behind. */
static int leftovers(const char *name) {
    DIR *dir = opendir(tmpdir);
    assert_non_null(dir);
    size_t n = strlen(name);
    int count = 0;
    for (struct dirent *e; (e = readdir(dir));) count += strncmp(e->d_name, name, n) == 0 && e->d_name[n] == '.';
    closedir(dir);
    return count;
}

static void roundtrip(tb_model *m, const char *name, int moments_on_adapter) {
    char path[PATH_CAP];
    tb_tokenizer tok, got_tok;
    tb_ckpt_state st, got_st;
    tb_model got;
    make_tokenizer(&tok);
    make_state(&st, moments_on_adapter ? &m->adapter : &m->params, moments_on_adapter);
    tmp_path(path, name);

    assert_int_equal(tb_checkpoint_save(path, m, &tok, &st), TB_OK);
    assert_no_open_hdf5();
    assert_int_equal(access(path, F_OK), 0);
    assert_int_equal(leftovers(name), 0); /* the temporary file was renamed, not left behind */

    assert_int_equal(tb_checkpoint_load(path, &got, &got_tok, &got_st), TB_OK);
    assert_no_open_hdf5();
    assert_configs_equal(&m->cfg, &got.cfg);
    assert_paramsets_equal(&m->params, &got.params);
    assert_paramsets_equal(&m->adapter, &got.adapter);
    if (m->adapter.n_tensors > 0) assert_memory_equal(&m->acfg, &got.acfg, sizeof m->acfg);
    assert_tokenizers_equal(&tok, &got_tok);
    assert_states_equal(&st, &got_st);
    assert_same_logits(m, &got);

    free_state(&got_st);
    tb_tokenizer_free(&got_tok);
    tb_model_free(&got);
    free_state(&st);
    tb_tokenizer_free(&tok);
}

static void test_roundtrip_gpt2(void **state) {
    (void)state;
    tb_model m;
    make_gpt2(&m);
    roundtrip(&m, "gpt2.h5", 0);
    tb_model_free(&m);
}

static void test_roundtrip_llama_adapters(void **state) {
    (void)state;
    tb_model m;
    make_llama_with_adapters(&m);
    roundtrip(&m, "llama.h5", 1);
    tb_model_free(&m);
}

/* A point state of reparameterised training: the MLP's tensors and its moments come back, a
 * checkpoint without them or with another MLP is refused by name, and moments of a reparameterisation
 * without one cannot be saved. */
static void test_reparam_roundtrip(void **state) {
    (void)state;
    tb_model m, got;
    make_gpt2(&m);
    tb_paramset mlp, other, back;
    const int e_shape[2] = {3, 8}, w_shape[2] = {16, 8}, wide[2] = {3, 9};
    tb_paramset_init(&mlp), tb_paramset_init(&other), tb_paramset_init(&back);
    tb_paramset_add(&mlp, "prefix_mlp.embedding", 2, e_shape), tb_paramset_add(&mlp, "prefix_mlp.w1", 2, w_shape);
    tb_paramset_add(&back, "prefix_mlp.embedding", 2, e_shape), tb_paramset_add(&back, "prefix_mlp.w1", 2, w_shape);
    tb_paramset_add(&other, "prefix_mlp.embedding", 2, wide), tb_paramset_add(&other, "prefix_mlp.w1", 2, w_shape);
    tb_paramset_alloc(&mlp), tb_paramset_alloc(&other), tb_paramset_alloc(&back);
    randomize(&mlp, 11);
    tb_ckpt_state st = {.step = 5, .opt_owner = TB_CKPT_REPARAM, .opt_numel = mlp.numel, .reparam = &mlp};
    st.opt_m = tb_malloc(mlp.numel * sizeof(float)), st.opt_v = tb_malloc(mlp.numel * sizeof(float));
    for (size_t i = 0; i < mlp.numel; i++) st.opt_m[i] = (float)i, st.opt_v[i] = 0.5f * (float)i;
    char path[PATH_CAP], plain[PATH_CAP];
    tmp_path(path, "reparam.h5");
    assert_int_equal(tb_checkpoint_save(path, &m, NULL, &st), TB_OK);

    tb_ckpt_state got_st;
    assert_int_equal(tb_checkpoint_load(path, &got, NULL, &got_st), TB_OK);
    assert_int_equal(got_st.opt_owner, TB_CKPT_REPARAM);
    assert_int_equal(got_st.opt_numel, mlp.numel);
    assert_memory_equal(got_st.opt_m, st.opt_m, mlp.numel * sizeof(float));
    assert_memory_equal(got_st.opt_v, st.opt_v, mlp.numel * sizeof(float));
    assert_null(got_st.reparam);
    assert_int_equal(tb_checkpoint_load_reparam(path, &back), TB_OK);
    assert_memory_equal(back.data, mlp.data, mlp.numel * sizeof(float));
    assert_int_equal(tb_checkpoint_load_reparam(path, &other), TB_ERR_SHAPE);
    assert_non_null(strstr(tb_error_message(), "prefix_mlp.embedding"));
    tb_error_clear();
    assert_no_open_hdf5();

    write_good(tmp_path(plain, "no_reparam.h5"));
    assert_int_equal(tb_checkpoint_load_reparam(plain, &back), TB_ERR_FORMAT);
    assert_non_null(strstr(tb_error_message(), "reparam_params"));
    tb_error_clear();
    st.reparam = NULL;
    assert_int_equal(tb_checkpoint_save(path, &m, NULL, &st), TB_ERR_ARG);
    tb_error_clear();
    assert_int_equal(tb_checkpoint_load_reparam(path, &back), TB_OK); /* the refused save left the file */
    assert_no_open_hdf5();

    tb_free(st.opt_m), tb_free(st.opt_v), tb_free(got_st.opt_m), tb_free(got_st.opt_v), tb_free(got_st.trace);
    tb_paramset_free(&mlp), tb_paramset_free(&other), tb_paramset_free(&back);
    tb_model_free(&got);
    tb_model_free(&m);
}

/* Two processes save the same path at once, over and over (array tasks building one shared stage
 * into one cache): every save succeeds, no temporary file is left, and the file loads whole. */
static void test_concurrent_saves(void **state) {
    (void)state;
    char path[PATH_CAP];
    tb_model m, got;
    make_gpt2(&m);
    tmp_path(path, "shared_stage.h5");
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            int rc = TB_OK;
            for (int i = 0; i < 20 && rc == TB_OK; i++) rc = tb_checkpoint_save(path, &m, NULL, NULL);
            if (rc != TB_OK) fprintf(stderr, "child %d: %s\n", k, tb_error_message());
            _exit(rc == TB_OK ? 0 : 1);
        }
    }
    for (int k = 0; k < 2; k++) {
        int status;
        assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_int_equal(leftovers("shared_stage.h5"), 0);
    assert_int_equal(tb_checkpoint_load(path, &got, NULL, NULL), TB_OK);
    assert_paramsets_equal(&m.params, &got.params);
    assert_same_logits(&m, &got);
    assert_no_open_hdf5();
    tb_model_free(&got);
    tb_model_free(&m);
}

/* Without tokenizer and state: loading asks for neither, or finds no optimizer state; asking for
 * the tokenizer is an error. Saving again over the file replaces it. An empty merge list. */
static void test_optional_parts(void **state) {
    (void)state;
    char path[PATH_CAP];
    tb_model m, got;
    tb_tokenizer tok;
    tb_ckpt_state st;
    make_gpt2(&m);
    tmp_path(path, "bare.h5");
    write_good(path);
    assert_int_equal(tb_checkpoint_save(path, &m, NULL, NULL), TB_OK);

    assert_int_equal(tb_checkpoint_load(path, &got, NULL, &st), TB_OK);
    assert_paramsets_equal(&m.params, &got.params);
    assert_int_equal(st.step, 0);
    assert_null(st.opt_m);
    assert_null(st.opt_v);
    tb_model_free(&got);

    tb_error_clear();
    assert_int_equal(tb_checkpoint_load(path, &got, &tok, NULL), TB_ERR_FORMAT);
    assert_non_null(strstr(tb_error_message(), "no tokenizer"));
    assert_null(got.params.data);
    tb_error_clear();

    /* a tokenizer without merges is an empty (0, 2) dataset */
    tb_tokenizer bytes_only;
    assert_int_equal(tb_tokenizer_from_merges(&bytes_only, NULL, 0), TB_OK);
    assert_int_equal(tb_checkpoint_save(path, &m, &bytes_only, NULL), TB_OK);
    assert_int_equal(tb_checkpoint_load(path, &got, &tok, NULL), TB_OK);
    assert_int_equal(tok.n_merges, 0);
    assert_int_equal(tok.vocab_size, TB_TOK_FIRST_MERGE);
    tb_tokenizer_free(&tok);
    tb_tokenizer_free(&bytes_only);
    tb_model_free(&got);
    tb_model_free(&m);
}

static void test_save_errors(void **state) {
    (void)state;
    char path[PATH_CAP];
    tb_model m;
    tb_ckpt_state st;
    make_gpt2(&m);

    tmp_path(path, "no/such/dir/x.h5");
    tb_error_clear();
    assert_int_equal(tb_checkpoint_save(path, &m, NULL, NULL), TB_ERR_IO);
    assert_non_null(strstr(tb_error_message(), path));
    assert_no_open_hdf5();
    tb_error_clear();

    make_state(&st, &m.params, 0);
    st.opt_numel--;
    tmp_path(path, "bad_state.h5");
    assert_int_equal(tb_checkpoint_save(path, &m, NULL, &st), TB_ERR_SHAPE);
    assert_int_not_equal(access(path, F_OK), 0);
    tb_error_clear();
    free_state(&st);
    tb_model_free(&m);
}

/* ------------------------------------------------------------------------------------------------
 * damaged and foreign files */

static long file_size(const char *path) {
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    return (long)sb.st_size;
}

/* Copies the first n bytes of from (all when n < 0). */
static void copy_prefix(const char *from, const char *to, long n) {
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    assert_non_null(in);
    assert_non_null(out);
    for (long i = 0; n < 0 || i < n; i++) {
        int ch = fgetc(in);
        if (ch == EOF) break;
        fputc(ch, out);
    }
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

static void write_random(const char *path, long n) {
    tb_rng r = tb_rng_make(77, 0);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (long i = 0; i < n; i++) fputc((int)(tb_rng_u32(&r) & 0xff), f);
    assert_int_equal(fclose(f), 0);
}

/* Loads path with stderr sent to a file; returns the status and how many bytes reached stderr. */
static int load_capturing_stderr(const char *path, tb_model *m, tb_tokenizer *tok, tb_ckpt_state *st, long *printed) {
    char cap[PATH_CAP];
    tmp_path(cap, "stderr.txt");
    fflush(stderr);
    int saved = dup(2), fd = open(cap, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    int rc = tb_checkpoint_load(path, m, tok, st);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    *printed = file_size(cap);
    return rc;
}

/* The load fails with code (any of FORMAT/IO when code is 0), the message names the file and
 * contains needle, nothing was printed, nothing is left allocated, HDF5's printing is restored. */
static void expect_load_fails(const char *path, int code, const char *needle) {
    tb_model m;
    tb_tokenizer tok;
    tb_ckpt_state st;
    H5E_auto2_t before, after;
    void *before_data, *after_data;
    long printed;
    H5Eget_auto2(H5E_DEFAULT, &before, &before_data);
    tb_error_clear();
    int rc = load_capturing_stderr(path, &m, &tok, &st, &printed);
    H5Eget_auto2(H5E_DEFAULT, &after, &after_data);
    const char *msg = tb_error_message();
    print_message("    %s -> %d: %s\n", path, rc, msg);
    if (code)
        assert_int_equal(rc, code);
    else
        assert_true(rc == TB_ERR_FORMAT || rc == TB_ERR_IO);
    assert_non_null(strstr(msg, path));
    if (needle) assert_non_null(strstr(msg, needle));
    assert_int_equal(printed, 0);
    assert_no_open_hdf5();
    assert_true(before == after && before_data == after_data);
    assert_null(m.params.data);
    assert_null(m.adapter.data);
    assert_null(st.opt_m);
    assert_null(st.opt_v);
    tb_error_clear();
}

static void test_truncated(void **state) {
    (void)state;
    char good[PATH_CAP], cut[PATH_CAP];
    tmp_path(good, "good_trunc.h5");
    tmp_path(cut, "cut.h5");
    write_good(good);
    long size = file_size(good);
    const long cuts[] = {size / 2, size - 1, size / 10, 2048, 8, 0};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        copy_prefix(good, cut, cuts[i]);
        assert_int_equal(file_size(cut), cuts[i]);
        expect_load_fails(cut, 0, NULL);
    }
}

static void test_foreign_files(void **state) {
    (void)state;
    char path[PATH_CAP];

    write_random(tmp_path(path, "random.bin"), 65536);
    expect_load_fails(path, TB_ERR_FORMAT, "not an HDF5 file");

    FILE *f = fopen(tmp_path(path, "text.txt"), "w");
    assert_non_null(f);
    fputs("this is not a checkpoint\n", f);
    fclose(f);
    expect_load_fails(path, TB_ERR_FORMAT, "not an HDF5 file");

    expect_load_fails(tmpdir, TB_ERR_IO, "directory");
    expect_load_fails(tmp_path(path, "does_not_exist.h5"), TB_ERR_IO, NULL);

    hid_t file = H5Fcreate(tmp_path(path, "plain.h5"), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(file >= 0);
    H5Fclose(file);
    expect_load_fails(path, TB_ERR_FORMAT, "not a trustbench checkpoint");
}

/* A fresh copy of a good checkpoint, opened read-write for surgery. */
static hid_t damaged_copy(const char *good, const char *path) {
    copy_prefix(good, path, -1);
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(file >= 0);
    return file;
}

static void test_incomplete_and_newer(void **state) {
    (void)state;
    char good[PATH_CAP], path[PATH_CAP];
    tmp_path(good, "good_hdr.h5");
    write_good(good);

    hid_t file = damaged_copy(good, tmp_path(path, "incomplete.h5"));
    assert_true(H5Adelete(file, "complete") >= 0);
    H5Fclose(file);
    expect_load_fails(path, TB_ERR_FORMAT, "not completely written");

    file = damaged_copy(good, tmp_path(path, "newer.h5"));
    int version = 2;
    hid_t a = H5Aopen(file, "version", H5P_DEFAULT);
    assert_true(a >= 0 && H5Awrite(a, H5T_NATIVE_INT, &version) >= 0);
    H5Aclose(a);
    H5Fclose(file);
    expect_load_fails(path, TB_ERR_FORMAT, "format version 2");
}

/* Replaces (or, with ndim 0, deletes) /params/name by a float dataset of the given shape. */
static void replace_param(const char *good, const char *path, const char *name, int ndim, const hsize_t *dims) {
    hid_t file = damaged_copy(good, path);
    hid_t g = H5Gopen2(file, "params", H5P_DEFAULT);
    assert_true(g >= 0);
    if (H5Lexists(g, name, H5P_DEFAULT) > 0) assert_true(H5Ldelete(g, name, H5P_DEFAULT) >= 0);
    if (ndim > 0) {
        hid_t space = H5Screate_simple(ndim, dims, NULL);
        hid_t d = H5Dcreate2(g, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        assert_true(space >= 0 && d >= 0);
        H5Dclose(d);
        H5Sclose(space);
    }
    H5Gclose(g);
    H5Fclose(file);
}

static void test_tensor_mismatch(void **state) {
    (void)state;
    char good[PATH_CAP], path[PATH_CAP];
    tmp_path(good, "good_shape.h5");
    write_good(good);

    const hsize_t wrong[2] = {48, 17};
    replace_param(good, tmp_path(path, "wrong_shape.h5"), "transformer.h.1.attn.c_attn.weight", 2, wrong);
    expect_load_fails(path, TB_ERR_SHAPE, "transformer.h.1.attn.c_attn.weight has shape (48, 17), expected (48, 16)");

    replace_param(good, tmp_path(path, "missing.h5"), "transformer.ln_f.bias", 0, NULL);
    expect_load_fails(path, TB_ERR_SHAPE, "transformer.ln_f.bias is missing");

    const hsize_t extra[1] = {16};
    replace_param(good, tmp_path(path, "extra.h5"), "transformer.h.2.ln_1.weight", 1, extra);
    expect_load_fails(path, TB_ERR_SHAPE, "unexpected dataset /params/transformer.h.2.ln_1.weight");
}

/* Rewrites /config's family as a variable-length string, the way h5py stores a Python str. */
static void set_family(const char *good, const char *path, const char *family) {
    hid_t file = damaged_copy(good, path);
    hid_t g = H5Gopen2(file, "config", H5P_DEFAULT);
    assert_true(g >= 0 && H5Adelete(g, "family") >= 0);
    hid_t t = H5Tcopy(H5T_C_S1), space = H5Screate(H5S_SCALAR);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t a = H5Acreate2(g, "family", t, space, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(a >= 0 && H5Awrite(a, t, &family) >= 0);
    H5Aclose(a);
    H5Sclose(space);
    H5Tclose(t);
    H5Gclose(g);
    H5Fclose(file);
}

/* Overwrites the integer attribute name of /config. */
static void set_config_int(const char *good, const char *path, const char *name, int value) {
    hid_t file = damaged_copy(good, path);
    hid_t g = H5Gopen2(file, "config", H5P_DEFAULT);
    hid_t a = g < 0 ? -1 : H5Aopen(g, name, H5P_DEFAULT);
    herr_t written = a < 0 ? -1 : H5Awrite(a, H5T_NATIVE_INT, &value);
    if (a >= 0) H5Aclose(a);
    if (g >= 0) H5Gclose(g);
    H5Fclose(file);
    assert_true(written >= 0);
}

static void test_config_values(void **state) {
    (void)state;
    char good[PATH_CAP], path[PATH_CAP];
    tmp_path(good, "good_config.h5");
    write_good(good);

    set_family(good, tmp_path(path, "vlen_gpt2.h5"), "gpt2");
    tb_model m;
    assert_int_equal(tb_checkpoint_load(path, &m, NULL, NULL), TB_OK);
    assert_int_equal(m.cfg.family, TB_FAMILY_GPT2);
    tb_model_free(&m);

    set_family(good, tmp_path(path, "mamba.h5"), "mamba");
    expect_load_fails(path, TB_ERR_FORMAT, "unknown model family 'mamba'");

    /* config validation's own message, restated with the file's name */
    set_config_int(good, tmp_path(path, "bad_heads.h5"), "n_head", 3);
    expect_load_fails(path, TB_ERR_FORMAT, "n_embd 16 is not a multiple of n_head 3");
}

/* Overwrites n bytes of path at offset with random bytes. */
static void scribble(const char *path, long offset, int n, tb_rng *r) {
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, offset, SEEK_SET), 0);
    for (int i = 0; i < n; i++) fputc((int)(tb_rng_u32(r) & 0xff), f);
    assert_int_equal(fclose(f), 0);
}

/* A flipped weight is caught by the per-chunk Fletcher-32 checksum, not loaded silently. */
static void test_corrupt_weight(void **state) {
    (void)state;
    char good[PATH_CAP], path[PATH_CAP];
    tmp_path(good, "good_weight.h5");
    write_good(good);
    hid_t file = damaged_copy(good, tmp_path(path, "flipped.h5"));
    hid_t d = H5Dopen2(file, "params/transformer.wte.weight", H5P_DEFAULT);
    const hsize_t first[2] = {0, 0};
    haddr_t addr = HADDR_UNDEF;
    hsize_t size = 0;
    herr_t found = d < 0 ? -1 : H5Dget_chunk_info_by_coord(d, first, NULL, &addr, &size);
    if (d >= 0) H5Dclose(d);
    H5Fclose(file);
    assert_true(found >= 0 && size > 0 && addr != HADDR_UNDEF);

    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, (long)(addr + size / 2), SEEK_SET), 0);
    int byte = fgetc(f);
    assert_int_equal(fseek(f, (long)(addr + size / 2), SEEK_SET), 0);
    fputc(byte ^ 0x10, f);
    assert_int_equal(fclose(f), 0);
    expect_load_fails(path, TB_ERR_FORMAT, "/params/transformer.wte.weight");
}

/* Random damage anywhere in the file: every load either fails cleanly (see expect_load_fails) or,
 * when the damage hit bytes that hold nothing, returns exactly the saved contents. Metadata
 * checksums and the data checksums make the second case rare. */
static void test_corruption_sweep(void **state) {
    (void)state;
    char good[PATH_CAP], path[PATH_CAP];
    tb_model ref, m;
    tb_tokenizer ref_tok, tok;
    tb_ckpt_state ref_st, st;
    tmp_path(good, "good_sweep.h5");
    tmp_path(path, "scribbled.h5");
    write_good(good);
    assert_int_equal(tb_checkpoint_load(good, &ref, &ref_tok, &ref_st), TB_OK);
    long size = file_size(good);
    tb_rng r = tb_rng_make(2024, 0);
    int failed = 0;
    for (int trial = 0; trial < 64; trial++) {
        /* half the trials aim at the first 4 KiB, where the superblock and root metadata live */
        long offset = (long)tb_rng_below(&r, (uint64_t)(trial % 2 ? 4096 : size - 8));
        copy_prefix(good, path, -1);
        scribble(path, offset, 8, &r);
        tb_error_clear();
        if (tb_checkpoint_load(path, &m, &tok, &st) == TB_OK) {
            assert_paramsets_equal(&ref.params, &m.params);
            assert_tokenizers_equal(&ref_tok, &tok);
            assert_states_equal(&ref_st, &st);
            free_state(&st);
            tb_tokenizer_free(&tok);
            tb_model_free(&m);
        } else {
            expect_load_fails(path, 0, NULL);
            failed++;
        }
    }
    assert_true(failed > 32);
    free_state(&ref_st);
    tb_tokenizer_free(&ref_tok);
    tb_model_free(&ref);
}

/* ------------------------------------------------------------------------------------------------
 * info */

/* The line of text that contains needle must also contain want (the column widths may change). */
static void assert_line_has(const char *text, const char *needle, const char *want) {
    const char *p = strstr(text, needle);
    assert_non_null(p);
    const char *end = strchr(p, '\n');
    const char *w = strstr(p, want);
    assert_non_null(w);
    assert_true(end == NULL || w < end);
}

static void assert_before(const char *text, const char *a, const char *b) {
    const char *pa = strstr(text, a), *pb = strstr(text, b);
    assert_non_null(pa);
    assert_non_null(pb);
    assert_true(pa < pb);
}

static void test_info(void **state) {
    (void)state;
    char path[PATH_CAP], line[128];
    tb_model m;
    tb_tokenizer tok;
    tb_ckpt_state st;
    make_llama_with_adapters(&m);
    make_tokenizer(&tok);
    make_state(&st, &m.adapter, 1);
    tmp_path(path, "info.h5");
    assert_int_equal(tb_checkpoint_save(path, &m, &tok, &st), TB_OK);

    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_non_null(out);
    assert_int_equal(tb_checkpoint_info(path, out), TB_OK);
    fclose(out);
    assert_no_open_hdf5();
    fputs(text, stdout);

    assert_non_null(strstr(text, path));
    assert_non_null(strstr(text, "trustbench " TB_VERSION));
    assert_non_null(strstr(text, "llama L=2 C=16 NH=2 NKV=1"));
    snprintf(line, sizeof line, "%zu parameters in %d tensors", tb_model_num_params(&m, 0), m.params.n_tensors);
    assert_non_null(strstr(text, line));
    assert_line_has(text, "model.layers.0.self_attn.k_proj.weight", "(8, 16)");
    assert_line_has(text, "model.layers.1.mlp.down_proj.weight", "(16, 64)");
    /* the model's order, not the alphabet's (which would put lm_head first) */
    assert_before(text, "model.embed_tokens.weight", "model.layers.1.");
    assert_before(text, "model.layers.1.", "lm_head.weight");
    assert_non_null(strstr(text, "prefix 2 slots/layer, LoRA rank 2 alpha 4 targets q,v"));
    assert_non_null(strstr(text, "1234567890123"));
    snprintf(line, sizeof line, "adapter parameters (%zu values each)", m.adapter.numel);
    assert_non_null(strstr(text, line));
    snprintf(line, sizeof line, "vocab %d (%d merges)", tok.vocab_size, tok.n_merges);
    assert_non_null(strstr(text, line));
    free(text);

    char bad[PATH_CAP];
    write_random(tmp_path(bad, "info_random.bin"), 4096);
    tb_error_clear();
    assert_int_equal(tb_checkpoint_info(bad, stdout), TB_ERR_FORMAT);
    assert_non_null(strstr(tb_error_message(), bad));
    assert_no_open_hdf5();
    tb_error_clear();

    free_state(&st);
    tb_tokenizer_free(&tok);
    tb_model_free(&m);
}

/* ------------------------------------------------------------------------------------------------
 * HDF5 1.10.8 keeps a few KiB of its free lists after a metadata checksum failure (no id and no
 * file descriptor stays open: assert_no_open_hdf5 checks the ids). LeakSanitizer (TB_SANITIZE
 * builds) would blame the test for it, and HDF5 complains about it when it shuts down at exit. */

const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libhdf5"; }

static int make_tmpdir(void **state) {
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/tb_ckpt_XXXXXX", base && base[0] ? base : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

/* Every file the tests create sits directly in tmpdir (the save into no/such/dir fails before creating any). */
static int remove_tmpdir(void **state) {
    (void)state;
    DIR *dir = opendir(tmpdir);
    if (!dir) return -1;
    char path[PATH_CAP + 256];
    for (struct dirent *e; (e = readdir(dir));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", tmpdir, e->d_name);
        remove(path);
    }
    closedir(dir);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* shut HDF5 down now, quietly (see above) */
    H5close();
    return rmdir(tmpdir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_gpt2),       cmocka_unit_test(test_roundtrip_llama_adapters),
        cmocka_unit_test(test_optional_parts),       cmocka_unit_test(test_save_errors),
        cmocka_unit_test(test_truncated),            cmocka_unit_test(test_foreign_files),
        cmocka_unit_test(test_incomplete_and_newer), cmocka_unit_test(test_tensor_mismatch),
        cmocka_unit_test(test_config_values),        cmocka_unit_test(test_corrupt_weight),
        cmocka_unit_test(test_corruption_sweep),     cmocka_unit_test(test_info),
        cmocka_unit_test(test_concurrent_saves),     cmocka_unit_test(test_reparam_roundtrip),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
