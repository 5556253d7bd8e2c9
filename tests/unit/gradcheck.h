/* gradcheck.h: the central-difference check of a whole model's parameter gradient that the objective
 * tests share (header-only: each unit test is one executable). */
#ifndef TB_TEST_GRADCHECK_H
#define TB_TEST_GRADCHECK_H

#include <math.h>

#include "model/model.h"

/* Compares ps->grad (the analytic gradient of loss(ctx), already computed) with central differences
 * of step h at about five entries of every non-frozen tensor. The error of an entry is taken
 * relative to the largest gradient of its tensor, so that small entries of a tensor with a large
 * gradient do not fail on float rounding. Fails the test when a tensor's gradient is all zero or an
 * error exceeds tol; returns the worst error. */
static double gradcheck_params(tb_paramset *ps, double (*loss)(void *ctx), void *ctx, float h, double tol,
                               const char *what) {
    double worst = 0.0;
    for (int ti = 0; ti < ps->n_tensors; ti++) {
        tb_tensor *t = &ps->tensors[ti];
        if (t->frozen) continue;
        float *w = ps->data + t->offset, *g = ps->grad + t->offset, gmax = 0.0f;
        for (size_t j = 0; j < t->numel; j++) gmax = fmaxf(gmax, fabsf(g[j]));
        if (gmax == 0.0f) fail_msg("%s: tensor %s has an all-zero gradient", what, t->name);
        for (size_t j = 0; j < t->numel; j += t->numel / 5 + 1) {
            float keep = w[j];
            w[j] = keep + h;
            double lp = loss(ctx);
            w[j] = keep - h;
            double lm = loss(ctx);
            w[j] = keep;
            double fd = (lp - lm) / (2.0 * h), err = fabs(fd - g[j]) / gmax;
            worst = fmax(worst, err);
            if (err > tol) fail_msg("%s: %s[%zu]: analytic %g, finite difference %g", what, t->name, j, (double)g[j], fd);
        }
    }
    return worst;
}

#endif
