/* corpus_file.c: reading a training corpus (a text file, or the embedded world-knowledge corpus)
 * and cutting it into train / validation windows. */
#include <stdio.h>
#include <string.h>

#include "data.h"

int tb_corpus_load(const char *path, uint64_t seed, char **text, size_t *len) {
    if (!path || !path[0]) {
        *text = tb_corpus_generate(seed, len);
        return TB_OK;
    }
    FILE *f = fopen(path, "rb");
    if (!f) return TB_ERROR(TB_ERR_IO, "check the path given to --corpus", "cannot open corpus '%s'", path);
    if (fseeko(f, 0, SEEK_END) != 0) {
        fclose(f);
        return TB_ERROR(TB_ERR_IO, "--corpus must be a regular text file", "cannot seek in corpus '%s'", path);
    }
    off_t n = ftello(f);
    rewind(f);
    if (n <= 0) {
        fclose(f);
        return TB_ERROR(TB_ERR_FORMAT, "give a non-empty text file", "corpus '%s' is empty or unreadable", path);
    }
    *text = tb_malloc((size_t)n + 1);
    size_t got = fread(*text, 1, (size_t)n, f);
    fclose(f);
    if (got != (size_t)n) {
        tb_free(*text);
        return TB_ERROR(TB_ERR_IO, "check the file", "short read on corpus '%s' (%zu of %lld bytes)", path, got,
                        (long long)n);
    }
    (*text)[n] = '\0';
    *len = (size_t)n;
    return TB_OK;
}

int tb_corpus_windows(const tb_tokenizer *tok, const char *text, size_t len, int T, float val_fraction,
                       tb_token_windows *train, tb_token_windows *val) {
    size_t cap = len + 1, n = tb_tokenizer_encode(tok, text, len, NULL, 0);
    int *ids = tb_malloc((n > cap ? n : cap) * sizeof(int));
    n = tb_tokenizer_encode(tok, text, len, ids, n > cap ? n : cap);
    /* the validation split is the stream's tail, so it never overlaps a training window */
    size_t n_val = (size_t)((double)n * val_fraction);
    if (n_val > 0 && n_val < (size_t)T + 1) n_val = (size_t)T + 1;
    size_t n_train = n - n_val;
    int rc = tb_windows_from_stream(train, ids, n_train, T);
    if (rc == TB_OK && val) {
        if (n_val == 0) rc = TB_ERROR(TB_ERR_ARG, "raise --val-fraction", "the validation split is empty");
        else rc = tb_windows_from_stream(val, ids + n_train, n_val, T);
    }
    tb_free(ids);
    if (rc != TB_OK)
        return TB_ERROR(rc, "use a longer corpus or a shorter --seq-len",
                        "corpus of %zu tokens is too short for windows of %d tokens", n, T + 1);
    return TB_OK;
}
