/* optimizer.c: AdamW (decoupled decay on 2-D weights only) and SGD with momentum, over a ParamSet,
 * plus global-norm clipping. One pass over each tensor's slice of the flat buffers, OpenMP-parallel. */
#include <math.h>
#include <string.h>
#include <strings.h>

#include "train.h"

void tb_optimizer_init(tb_optimizer *o, tb_opt_kind kind, const tb_paramset *ps) {
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->beta1 = 0.9f;
    o->beta2 = 0.95f;
    o->eps = 1e-8f;
    o->weight_decay = 0.0f;
    o->numel = ps->numel;
    o->m = tb_malloc((ps->numel ? ps->numel : 1) * sizeof(float));
    if (kind == TB_OPT_ADAMW) o->v = tb_malloc((ps->numel ? ps->numel : 1) * sizeof(float));
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
                         float wd, float b1, float b2, float eps, float bc1, float bc2) {
    float decay = 1.0f - lr * wd;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float gi = mask ? g[i] * mask[i] : g[i];
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float mhat = mi / bc1, vhat = vi / bc2;
        p[i] = p[i] * decay - lr * mhat / (sqrtf(vhat) + eps);
    }
}

/* SGD with (optional) momentum: buf = mu*buf + g; p = p*(1 - lr*wd) - lr*buf */
static void sgd_tensor(float *p, const float *g, const float *mask, float *buf, size_t n, float lr, float wd,
                       float mu) {
    float decay = 1.0f - lr * wd;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < n; i++) {
        float gi = mask ? g[i] * mask[i] : g[i];
        float bi = mu * buf[i] + gi;
        buf[i] = bi;
        p[i] = p[i] * decay - lr * bi;
    }
}

void tb_optimizer_step(tb_optimizer *o, tb_paramset *ps, float lr) {
    TB_ASSERT(o->numel == ps->numel);
    o->step++;
    float bc1 = 1.0f - powf(o->beta1, (float)o->step), bc2 = 1.0f - powf(o->beta2, (float)o->step);
    for (int i = 0; i < ps->n_tensors; i++) {
        const tb_tensor *t = &ps->tensors[i];
        if (t->frozen) continue;
        size_t off = t->offset;
        float wd = t->decay ? o->weight_decay : 0.0f;
        const float *mask = ps->grad_mask ? ps->grad_mask + off : NULL;
        if (o->kind == TB_OPT_ADAMW)
            adamw_tensor(ps->data + off, ps->grad + off, mask, o->m + off, o->v + off, t->numel, lr, wd, o->beta1,
                         o->beta2, o->eps, bc1, bc2);
        else
            sgd_tensor(ps->data + off, ps->grad + off, mask, o->m + off, t->numel, lr, wd, o->momentum);
    }
}

float tb_clip_grad_norm(tb_paramset *ps, float max_norm) {
    double sumsq = 0.0;
    for (int i = 0; i < ps->n_tensors; i++) {
        const tb_tensor *t = &ps->tensors[i];
        if (t->frozen) continue;
        const float *g = ps->grad + t->offset;
        double s = 0.0;
#pragma omp parallel for reduction(+ : s) schedule(static)
        for (size_t j = 0; j < t->numel; j++) s += (double)g[j] * g[j];
        sumsq += s;
    }
    float norm = (float)sqrt(sumsq);
    if (max_norm > 0.0f && norm > max_norm) {
        float scale = max_norm / (norm + 1e-6f);
        for (int i = 0; i < ps->n_tensors; i++) {
            const tb_tensor *t = &ps->tensors[i];
            if (t->frozen) continue;
            float *g = ps->grad + t->offset;
#pragma omp parallel for simd schedule(static)
            for (size_t j = 0; j < t->numel; j++) g[j] *= scale;
        }
    }
    return norm;
}
