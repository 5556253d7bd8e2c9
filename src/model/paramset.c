/* paramset.c: one flat value buffer, one flat gradient buffer, and a table of named tensors.
 * Optimizers, gradient reduction, sharding, checkpoints and masks all work on the flat buffers. */
#include <string.h>

#include "model.h"

/* Every tensor starts on a 64-byte boundary so vector loads never straddle two tensors. */
#define TB_ALIGN_FLOATS 16

void tb_paramset_init(tb_paramset *ps) { memset(ps, 0, sizeof *ps); }

tb_tensor *tb_paramset_add(tb_paramset *ps, const char *name, int ndim, const int *shape) {
    TB_ASSERT(ps->data == NULL); /* the layout is fixed once allocated */
    TB_ASSERT(ndim >= 1 && ndim <= TB_MAX_DIMS);
    TB_ASSERT(strlen(name) < TB_NAME_MAX);
    if (ps->n_tensors == ps->cap) {
        int cap = ps->cap ? 2 * ps->cap : 64;
        tb_tensor *t = tb_malloc((size_t)cap * sizeof *t);
        if (ps->tensors) memcpy(t, ps->tensors, (size_t)ps->n_tensors * sizeof *t);
        tb_free(ps->tensors);
        ps->tensors = t;
        ps->cap = cap;
    }
    tb_tensor *t = &ps->tensors[ps->n_tensors++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) {
        TB_ASSERT(shape[i] > 0);
        t->shape[i] = shape[i];
        t->numel *= (size_t)shape[i];
    }
    t->offset = ps->numel;
    t->decay = ndim >= 2; /* decoupled decay on matrices and embeddings, never on norms or biases */
    ps->numel += (t->numel + TB_ALIGN_FLOATS - 1) / TB_ALIGN_FLOATS * TB_ALIGN_FLOATS;
    return t;
}

void tb_paramset_alloc(tb_paramset *ps) {
    TB_ASSERT(ps->data == NULL);
    ps->data = tb_malloc((ps->numel ? ps->numel : 1) * sizeof(float));
    ps->grad = tb_malloc((ps->numel ? ps->numel : 1) * sizeof(float));
}

void tb_paramset_free(tb_paramset *ps) {
    tb_free(ps->data);
    tb_free(ps->grad);
    tb_free(ps->grad_mask);
    tb_free(ps->tensors);
    memset(ps, 0, sizeof *ps);
}

tb_tensor *tb_paramset_find(const tb_paramset *ps, const char *name) {
    for (int i = 0; i < ps->n_tensors; i++)
        if (strcmp(ps->tensors[i].name, name) == 0) return &ps->tensors[i];
    return NULL;
}

float *tb_paramset_ptr(const tb_paramset *ps, const char *name) {
    tb_tensor *t = tb_paramset_find(ps, name);
    TB_ASSERT(t != NULL && ps->data != NULL);
    return ps->data + t->offset;
}

void tb_paramset_zero_grad(tb_paramset *ps) {
    if (ps->grad) memset(ps->grad, 0, ps->numel * sizeof(float));
}

int tb_paramset_set_frozen(tb_paramset *ps, const char *pattern, int frozen) {
    int n = 0;
    for (int i = 0; i < ps->n_tensors; i++)
        if (strstr(ps->tensors[i].name, pattern)) {
            ps->tensors[i].frozen = frozen;
            n++;
        }
    return n;
}

size_t tb_paramset_trainable(const tb_paramset *ps) {
    size_t n = 0;
    for (int i = 0; i < ps->n_tensors; i++)
        if (!ps->tensors[i].frozen) n += ps->tensors[i].numel;
    return n;
}

float *tb_paramset_mask(tb_paramset *ps) {
    if (!ps->grad_mask) {
        ps->grad_mask = tb_malloc((ps->numel ? ps->numel : 1) * sizeof(float));
        for (size_t i = 0; i < ps->numel; i++) ps->grad_mask[i] = 1.0f;
    }
    return ps->grad_mask;
}
