/* optimizer.c: AdamW (decoupled decay on 2-D weights only) and SGD with momentum, over a ParamSet,
 * and global-norm clipping applied inside the update. One pass over each tensor's slice of the flat buffers, OpenMP-parallel. */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "train.h"

void tb_optimizer_init_range(tb_optimizer *o, tb_opt_kind kind, size_t begin, size_t end) {
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->beta1 = 0.9f;
    o->beta2 = 0.95f;
    o->eps = 1e-8f;
    o->weight_decay = 0.0f;
    o->begin = begin;
    o->end = end;
    o->grad_scale = 1.0f;
    o->numel = end - begin;
    o->m = tb_malloc((o->numel ? o->numel : 1) * sizeof(float));
    if (kind == TB_OPT_ADAMW) o->v = tb_malloc((o->numel ? o->numel : 1) * sizeof(float));
}

void tb_optimizer_init(tb_optimizer *o, tb_opt_kind kind, const tb_paramset *ps) {
    tb_optimizer_init_range(o, kind, 0, ps->numel);
}

/* The part [*lo, *hi) of tensor t inside [begin, end); returns 0 when they do not meet. */
static int clip_range(const tb_tensor *t, size_t begin, size_t end, size_t *lo, size_t *hi) {
    *lo = t->offset > begin ? t->offset : begin;
    *hi = t->offset + t->numel < end ? t->offset + t->numel : end;
    return *lo < *hi;
}

void tb_optimizer_free(tb_optimizer *o) {
    tb_free(o->m);
    tb_free(o->v);
    memset(o, 0, sizeof *o);
}

int tb_opt_kind_parse(const char *s, tb_opt_kind *out) {
    if (strcasecmp(s, "adamw") == 0) *out = TB_OPT_ADAMW;
    else if (strcasecmp(s, "sgd") == 0) *out = TB_OPT_SGD;
    else return TB_ERROR(TB_ERR_ARG, "the optimizer is adamw or sgd", "unknown optimizer '%s'", s);
    return TB_OK;
}

/* AdamW on one tensor: PyTorch's order, decay first (p *= 1 - lr*wd), then the Adam step. */
static void adamw_tensor(float *p, const float *g, const float *mask, float *m, float *v, size_t n, float lr,
                         float wd, float b1, float b2, float eps, float bc1, float bc2, float gs) {
    float decay = 1.0f - lr * wd, ibc1 = 1.0f / bc1, ibc2 = 1.0f / bc2; /* multiply: no divides per element */
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float gi = mask ? g[i] * gs * mask[i] : g[i] * gs;
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float mhat = mi * ibc1, vhat = vi * ibc2;
        p[i] = p[i] * decay - lr * mhat / (sqrtf(vhat) + eps);
    }
}

/* SGD with (optional) momentum: buf = mu*buf + g; p = p*(1 - lr*wd) - lr*buf */
static void sgd_tensor(float *p, const float *g, const float *mask, float *buf, size_t n, float lr, float wd,
                       float mu, float gs) {
    float decay = 1.0f - lr * wd;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float gi = mask ? g[i] * gs * mask[i] : g[i] * gs;
        float bi = mu * buf[i] + gi;
        buf[i] = bi;
        p[i] = p[i] * decay - lr * bi;
    }
}

void tb_optimizer_step(tb_optimizer *o, tb_paramset *ps, float lr) {
    TB_ASSERT(o->end <= ps->numel);
    o->step++;
    float bc1 = 1.0f - powf(o->beta1, (float)o->step), bc2 = 1.0f - powf(o->beta2, (float)o->step);
    for (int i = 0; i < ps->n_tensors; i++) {
        const tb_tensor *t = &ps->tensors[i];
        size_t lo, hi;
        if (t->frozen || !clip_range(t, o->begin, o->end, &lo, &hi)) continue;
        float wd = t->decay ? o->weight_decay : 0.0f;
        const float *mask = ps->grad_mask ? ps->grad_mask + lo : NULL;
        size_t mo = lo - o->begin; /* the moments are indexed from the start of the range */
        if (o->kind == TB_OPT_ADAMW)
            adamw_tensor(ps->data + lo, ps->grad + lo, mask, o->m + mo, o->v + mo, hi - lo, lr, wd, o->beta1, o->beta2,
                         o->eps, bc1, bc2, o->grad_scale);
        else
            sgd_tensor(ps->data + lo, ps->grad + lo, mask, o->m + mo, hi - lo, lr, wd, o->momentum, o->grad_scale);
    }
    o->grad_scale = 1.0f;
}

double tb_grad_sumsq(const tb_paramset *ps, size_t begin, size_t end) {
    double sumsq = 0.0;
    for (int i = 0; i < ps->n_tensors; i++) {
        size_t lo, hi;
        if (ps->tensors[i].frozen || !clip_range(&ps->tensors[i], begin, end, &lo, &hi)) continue;
        const float *g = ps->grad;
        double s = 0.0;
#pragma omp parallel for simd reduction(+ : s) schedule(static)
        for (size_t j = lo; j < hi; j++) s += (double)g[j] * g[j];
        sumsq += s;
    }
    return sumsq;
}

float tb_clip_scale(float norm, float max_norm) {
    return max_norm > 0.0f && norm > max_norm ? max_norm / (norm + 1e-6f) : 1.0f;
}

