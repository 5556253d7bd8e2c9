/*
 * windows.c: fixed-length training windows cut from a token stream (see data.h).
 * Window k holds stream[k*T .. k*T + T]: T inputs and, shifted by one, T targets. Consecutive
 * windows share one token, so every stream position except the first is a target exactly once.
 */
#include <string.h>

#include "data/data.h"

int tb_windows_from_stream(tb_token_windows *w, const int *stream, size_t n, int T) {
    memset(w, 0, sizeof *w);
    if (T < 1) return TB_ERROR(TB_ERR_ARG, "use a sequence length of at least 1", "windows: T = %d", T);
    if (n < (size_t)T + 1)
        return TB_ERROR(TB_ERR_ARG, "use more text or a shorter sequence length",
                        "windows: the stream has %zu tokens, fewer than T+1 = %d", n, T + 1);
    w->T = T;
    w->n_windows = (long)((n - 1) / (size_t)T);
    w->tokens = tb_malloc((size_t)w->n_windows * (size_t)(T + 1) * sizeof *w->tokens);
    for (long k = 0; k < w->n_windows; k++)
        memcpy(w->tokens + (size_t)k * (size_t)(T + 1), stream + (size_t)k * (size_t)T,
               (size_t)(T + 1) * sizeof *stream);
    w->mask = NULL;
    return TB_OK;
}

void tb_windows_free(tb_token_windows *w) {
    tb_free(w->tokens);
    tb_free(w->mask);
    memset(w, 0, sizeof *w);
}

/* Fills n floats of mask with 1: every target counts. */
static void mask_all(float *mask, size_t n) {
    for (size_t i = 0; i < n; i++) mask[i] = 1.0f;
}

void tb_windows_append(tb_token_windows *dst, const tb_token_windows *src, int copies) {
    TB_ASSERT(dst->T == src->T && copies >= 0);
    const long n0 = dst->n_windows, n = n0 + src->n_windows * copies;
    const size_t row = (size_t)dst->T + 1, T = (size_t)dst->T, src_len = (size_t)src->n_windows * T;
    int *tokens = tb_malloc((size_t)n * row * sizeof *tokens); /* (n, T+1) */
    memcpy(tokens, dst->tokens, (size_t)n0 * row * sizeof *tokens);
    tb_free(dst->tokens);
    dst->tokens = tokens;
    /* a mask is needed as soon as either side masks anything; an absent one means every target counts */
    if (dst->mask || src->mask) {
        float *mask = tb_malloc((size_t)n * T * sizeof *mask); /* (n, T) */
        if (dst->mask) memcpy(mask, dst->mask, (size_t)n0 * T * sizeof *mask);
        else mask_all(mask, (size_t)n0 * T);
        tb_free(dst->mask);
        dst->mask = mask;
    }
    for (int c = 0; c < copies; c++) {
        const size_t at = (size_t)n0 + (size_t)c * (size_t)src->n_windows;
        memcpy(dst->tokens + at * row, src->tokens, (size_t)src->n_windows * row * sizeof *src->tokens);
        if (!dst->mask) continue;
        if (src->mask) memcpy(dst->mask + at * T, src->mask, src_len * sizeof *src->mask);
        else mask_all(dst->mask + at * T, src_len);
    }
    dst->n_windows = n;
}

void tb_windows_batch(const tb_token_windows *w, const long *idx, int B, int *inp, int *targets) {
    int T = w->T;
    for (int b = 0; b < B; b++) {
        TB_ASSERT(idx[b] >= 0 && idx[b] < w->n_windows); /* indices come from the sampler, not the user */
        const int *win = w->tokens + (size_t)idx[b] * (size_t)(T + 1); /* (T+1) */
        const float *m = w->mask ? w->mask + (size_t)idx[b] * (size_t)T : NULL; /* (T) */
        int *in_b = inp + (size_t)b * (size_t)T;      /* (T) */
        int *tgt_b = targets + (size_t)b * (size_t)T; /* (T) */
        for (int t = 0; t < T; t++) {
            in_b[t] = win[t];
            tgt_b[t] = (m && m[t] == 0.0f) ? -1 : win[t + 1];
        }
    }
}
