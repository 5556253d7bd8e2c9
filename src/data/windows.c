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
