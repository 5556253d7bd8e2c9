/* sampler.c: epoch-shuffled window sampling, a pure function of (seed, step, micro, row). */
#include <string.h>

#include "data.h"

void tb_sampler_init(tb_window_sampler *s, const tb_token_windows *w, int B, int accum, uint64_t seed) {
    s->w = w;
    s->B = B;
    s->accum = accum;
    s->row_first = 0;
    s->rows = B;
    s->seed = seed;
    s->perm = tb_malloc((size_t)w->n_windows * sizeof(int));
    s->perm_epoch = -1;
}

void tb_sampler_free(tb_window_sampler *s) {
    tb_free(s->perm);
    s->perm = NULL;
}

void tb_sampler_shard(tb_window_sampler *s, int first, int rows) {
    TB_ASSERT(first >= 0 && rows >= 1 && first + rows <= s->B);
    s->row_first = first;
    s->rows = rows;
}

static const int *epoch_perm(tb_window_sampler *s, long e) {
    if (s->perm_epoch != e) {
        for (long i = 0; i < s->w->n_windows; i++) s->perm[i] = (int)i;
        tb_rng r = tb_rng_make(s->seed, tb_rng_stream_id("epoch") + (uint64_t)e);
        tb_rng_shuffle(&r, s->perm, (int)s->w->n_windows);
        s->perm_epoch = e;
    }
    return s->perm;
}

long tb_sampler_window(tb_window_sampler *s, long step, int micro, int row) {
    long n = s->w->n_windows, i = (step * s->accum + micro) * (long)s->B + row;
    return epoch_perm(s, i / n)[i % n];
}

int tb_sampler_batch(void *sampler, long step, int micro, int *inp, int *targets) {
    tb_window_sampler *s = sampler;
    long idx[s->rows];
    for (int b = 0; b < s->rows; b++) idx[b] = tb_sampler_window(s, step, micro, s->row_first + b);
    tb_windows_batch(s->w, idx, s->rows, inp, targets);
    return TB_OK;
}

int tb_sampler_eval_batch(void *sampler, long k, int micro, int *inp, int *targets) {
    tb_window_sampler *s = sampler;
    long n = s->w->n_windows, idx[s->rows];
    int T = s->w->T;
    for (int b = 0; b < s->rows; b++) idx[b] = (k * s->B + s->row_first + b) % n;
    tb_windows_batch(s->w, idx, s->rows, inp, targets);
    for (int b = 0; b < s->rows; b++) /* padding rows repeat real windows but are not scored */
        if (k * s->B + s->row_first + b >= n)
            for (int t = 0; t < T; t++) targets[b * T + t] = -1;
    return TB_OK;
}
