/*
 * wagle.c: the weight-attribution mask of WAGLE (../shared/reference/unlearning.md, "WAGLE") and its
 * ablations. The score ranks every trainable scalar; the top floor(density * N) may update, the rest
 * are masked before each optimizer step (tb_paramset's grad_mask, applied after clipping).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

static const char *const score_names[] = {"wagle", "grad", "weight", "snip", "random"};

int tb_wagle_score_parse(const char *s, tb_wagle_score *out) {
    for (int i = 0; i < (int)(sizeof score_names / sizeof score_names[0]); i++)
        if (strcmp(s, score_names[i]) == 0) {
            *out = (tb_wagle_score)i;
            return TB_OK;
        }
    return TB_ERROR(TB_ERR_ARG, "use one of wagle, grad, weight, snip, random", "unknown WAGLE score \"%s\"", s);
}

typedef struct {
    float score;
    size_t index;
} scored;

/* descending score, ties to the smaller flat index: a total order, so the mask is reproducible */
static int by_score(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static float element_score(tb_wagle_score kind, float theta, float gf, float gr, float mu, tb_rng *r) {
    switch (kind) {
    case TB_WAGLE_SCORE_WAGLE: return fabsf((theta - gr / mu) * gf); /* S = |(theta - g_r/mu) * g_f| */
    case TB_WAGLE_SCORE_GRAD: return fabsf(gf);
    case TB_WAGLE_SCORE_WEIGHT: return fabsf(theta);
    case TB_WAGLE_SCORE_SNIP: return fabsf(theta * gf);
    case TB_WAGLE_SCORE_RANDOM: return tb_rng_uniform(r);
    }
    return 0.0f;
}

long tb_wagle_mask(tb_paramset *ps, const float *g_f, const float *g_r, const tb_wagle_config *w) {
    float *mask = tb_paramset_mask(ps);
    size_t n = 0;
    for (int t = 0; t < ps->n_tensors; t++) n += ps->tensors[t].frozen ? 0 : ps->tensors[t].numel;
    scored *s = tb_malloc((n ? n : 1) * sizeof *s);
    tb_rng r = tb_rng_make(w->seed, 0x5741474c45ull); /* "WAGLE": only the random ablation draws */
    size_t k = 0;
    for (int t = 0; t < ps->n_tensors; t++) {
        const tb_tensor *tt = &ps->tensors[t];
        if (tt->frozen) continue;
        for (size_t j = tt->offset; j < tt->offset + tt->numel; j++)
            s[k++] = (scored){element_score(w->score, ps->data[j], g_f[j], g_r[j], w->mu, &r), j};
    }
    qsort(s, n, sizeof *s, by_score);
    long keep = (long)floor(w->density * (double)n);
    memset(mask, 0, ps->numel * sizeof(float));
    for (long i = 0; i < keep; i++) mask[s[i].index] = 1.0f;
    tb_free(s);
    return keep;
}
