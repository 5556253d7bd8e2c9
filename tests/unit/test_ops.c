/*
 * test_ops.c: the layer kernels of src/model/ops.h.
 *
 * Every forward pass is compared with a direct double-precision evaluation of its definition, and
 * every backward pass with central finite differences of the scalar loss L = sum(out * R) for a fixed
 * random R (so dout = R). Backward passes are also called a second time to check that they
 * accumulate. main() runs everything with two OpenMP threads, and the attention test also checks that
 * one and two threads give bit-identical gradients, which a race between threads would break.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/core.h"
#include "model/ops.h"

/* ------------------------------------------------------------------------------------------------
 * buffers */

static float *randn(tb_rng *r, long n, float sd) {
    float *x = tb_malloc((size_t)n * sizeof(float));
    for (long i = 0; i < n; i++) x[i] = sd * tb_rng_normal(r);
    return x;
}

static float *zeros(long n) { return tb_malloc((size_t)n * sizeof(float)); }

static double *dzeros(long n) { return tb_malloc((size_t)n * sizeof(double)); }

static float *copy_of(const float *x, long n) {
    float *y = tb_malloc((size_t)n * sizeof(float));
    memcpy(y, x, (size_t)n * sizeof(float));
    return y;
}

/* max |got - want| <= tol * max(1, max |want|) */
static void expect_close(const float *got, const double *want, long n, double tol, const char *what) {
    double err = 0.0, scale = 1.0;
    for (long i = 0; i < n; i++) {
        err = fmax(err, fabs(got[i] - want[i]));
        scale = fmax(scale, fabs(want[i]));
    }
    if (err > tol * scale) print_message("%s: max error %.3e (scale %.3e)\n", what, err, scale);
    assert_true(err <= tol * scale);
}

/* ------------------------------------------------------------------------------------------------
 * finite differences */

/* A forward pass as a function of its input buffers: run(op) recomputes out (n_out) from them. */
typedef struct {
    void (*run)(void *op);
    void *op;
    const float *out;
    const float *R; /* (n_out) the fixed weights of the loss, hence also the dout given to backward */
    long n_out;
} probe;

static double probe_loss(const probe *p) {
    p->run(p->op);
    double L = 0.0;
    for (long i = 0; i < p->n_out; i++) L += (double)p->out[i] * p->R[i];
    return L;
}

/* Why these numbers: float forward passes put a noise of roughly 1e-6 on L (a few hundred O(1) terms
 * at float precision), i.e. about 5e-4 on each difference quotient at h = 1e-3, and the O(h^2)
 * truncation is about 1e-6; correct kernels therefore land well below 1e-2 of the largest gradient
 * component. A wrong gradient (a dropped term such as LayerNorm's mean(dnorm * norm), a wrong sign, a
 * missing scale factor, a transposed or misplaced panel) moves some component by a sizeable fraction
 * of the largest one and fails. */
#define FD_STEP 1e-3f
#define FD_TOL 1e-2

/* Compares grad (n) with central differences of L against every element of x (n). */
static void expect_gradient(const probe *p, float *x, const float *grad, long n, const char *what) {
    double max_err = 0.0, max_ref = 0.0;
    for (long i = 0; i < n; i++) {
        float x0 = x[i];
        x[i] = x0 + FD_STEP;
        float xp = x[i];
        double lp = probe_loss(p);
        x[i] = x0 - FD_STEP;
        float xm = x[i];
        double lm = probe_loss(p);
        x[i] = x0;
        double fd = (lp - lm) / ((double)xp - (double)xm);
        max_err = fmax(max_err, fabs(fd - grad[i]));
        max_ref = fmax(max_ref, fabs(fd));
    }
    p->run(p->op); /* leave the outputs of the unperturbed inputs behind */
    double err = max_err / max_ref;
    print_message("  %-26s max|grad| %6.3f  normalised FD error %.1e\n", what, max_ref, err);
    assert_true(max_ref > 1e-2); /* a vanishing gradient would make the comparison vacuous */
    assert_true(err < FD_TOL);
}

/* Backward accumulates: after a second identical call, the gradient is twice what the first left. */
static void expect_doubled(const float *once, const float *twice, long n, const char *what) {
    double err = 0.0, scale = 0.0;
    for (long i = 0; i < n; i++) {
        err = fmax(err, fabs(twice[i] - 2.0 * once[i]));
        scale = fmax(scale, fabs(once[i]));
    }
    if (err > 1e-5 * scale) print_message("%s does not accumulate: error %.3e\n", what, err);
    assert_true(scale > 0.0);
    assert_true(err <= 1e-5 * scale);
}

/* ------------------------------------------------------------------------------------------------
 * embedding */

typedef struct {
    float *out;
    const int *inp;
    const float *wte, *wpe;
    int B, T, C;
} embedding_op;

static void embedding_run(void *v) {
    embedding_op *o = v;
    embedding_forward(o->out, o->inp, o->wte, o->wpe, o->B, o->T, o->C);
}

static void check_embedding(int with_wpe) {
    enum { B = 2, T = 5, C = 32, V = 7, N = B * T * C };
    /* tokens repeat within and across sequences, so several rows add into one dwte row; 4 and 5 are
     * absent and must get no gradient */
    static const int inp[B * T] = {3, 1, 3, 0, 6, 6, 3, 2, 3, 1};
    tb_rng r = tb_rng_make(11, (uint64_t)with_wpe);
    float *wte = randn(&r, V * C, 1.0f), *wpe = with_wpe ? randn(&r, T * C, 1.0f) : NULL;
    float *out = zeros(N), *R = randn(&r, N, 1.0f);
    embedding_op op = {out, inp, wte, wpe, B, T, C};
    probe p = {embedding_run, &op, out, R, N};

    embedding_run(&op);
    double *want = dzeros(N);
    for (int bt = 0; bt < B * T; bt++)
        for (int c = 0; c < C; c++)
            want[bt * C + c] = (double)wte[inp[bt] * C + c] + (wpe ? wpe[(bt % T) * C + c] : 0.0);
    expect_close(out, want, N, 1e-6, "embedding_forward");

    float *dwte = zeros(V * C), *dwpe = with_wpe ? zeros(T * C) : NULL;
    embedding_backward(dwte, dwpe, R, inp, B, T, C);
    expect_gradient(&p, wte, dwte, V * C, "embedding dwte");
    if (with_wpe) expect_gradient(&p, wpe, dwpe, T * C, "embedding dwpe");

    float *once = copy_of(dwte, V * C);
    embedding_backward(dwte, dwpe, R, inp, B, T, C);
    expect_doubled(once, dwte, V * C, "embedding dwte");

    tb_free(wte), tb_free(wpe), tb_free(out), tb_free(R), tb_free(want), tb_free(dwte), tb_free(dwpe);
    tb_free(once);
}

static void test_embedding_with_wpe(void **state) { check_embedding(1); }
static void test_embedding_without_wpe(void **state) { check_embedding(0); }

/* ------------------------------------------------------------------------------------------------
 * layernorm, rmsnorm */

typedef struct {
    float *out, *mean, *rstd;
    const float *inp, *weight, *bias;
    int BT, C;
} norm_op;

static const float NORM_EPS = 1e-5f;

static void layernorm_run(void *v) {
    norm_op *o = v;
    layernorm_forward(o->out, o->mean, o->rstd, o->inp, o->weight, o->bias, o->BT, o->C, NORM_EPS);
}

static void rmsnorm_run(void *v) {
    norm_op *o = v;
    rmsnorm_forward(o->out, o->rstd, o->inp, o->weight, o->BT, o->C, NORM_EPS);
}

static void test_layernorm(void **state) {
    enum { BT = 10, C = 32, N = BT * C };
    tb_rng r = tb_rng_make(12, 0);
    float *inp = randn(&r, N, 1.0f), *weight = randn(&r, C, 1.0f), *bias = randn(&r, C, 1.0f);
    for (int i = 0; i < N; i++) inp[i] += 0.5f * (i / C); /* rows with different means */
    float *out = zeros(N), *mean = zeros(BT), *rstd = zeros(BT), *R = randn(&r, N, 1.0f);
    norm_op op = {out, mean, rstd, inp, weight, bias, BT, C};
    probe p = {layernorm_run, &op, out, R, N};

    layernorm_run(&op);
    double *want = dzeros(N), *want_mean = dzeros(BT), *want_rstd = dzeros(BT);
    for (int i = 0; i < BT; i++) {
        double m = 0.0, var = 0.0;
        for (int c = 0; c < C; c++) m += inp[i * C + c];
        m /= C;
        for (int c = 0; c < C; c++) var += (inp[i * C + c] - m) * (inp[i * C + c] - m);
        double s = 1.0 / sqrt(var / C + NORM_EPS);
        for (int c = 0; c < C; c++) want[i * C + c] = (inp[i * C + c] - m) * s * weight[c] + bias[c];
        want_mean[i] = m;
        want_rstd[i] = s;
    }
    expect_close(out, want, N, 1e-5, "layernorm_forward out");
    expect_close(mean, want_mean, BT, 1e-6, "layernorm_forward mean");
    expect_close(rstd, want_rstd, BT, 1e-5, "layernorm_forward rstd");

    float *dinp = zeros(N), *dweight = zeros(C), *dbias = zeros(C);
    layernorm_backward(dinp, dweight, dbias, R, inp, weight, mean, rstd, BT, C);
    expect_gradient(&p, inp, dinp, N, "layernorm dinp");
    expect_gradient(&p, weight, dweight, C, "layernorm dweight");
    expect_gradient(&p, bias, dbias, C, "layernorm dbias");

    float *once_inp = copy_of(dinp, N), *once_w = copy_of(dweight, C), *once_b = copy_of(dbias, C);
    layernorm_backward(dinp, dweight, dbias, R, inp, weight, mean, rstd, BT, C);
    expect_doubled(once_inp, dinp, N, "layernorm dinp");
    expect_doubled(once_w, dweight, C, "layernorm dweight");
    expect_doubled(once_b, dbias, C, "layernorm dbias");

    tb_free(inp), tb_free(weight), tb_free(bias), tb_free(out), tb_free(mean), tb_free(rstd), tb_free(R);
    tb_free(want), tb_free(want_mean), tb_free(want_rstd), tb_free(dinp), tb_free(dweight), tb_free(dbias);
    tb_free(once_inp), tb_free(once_w), tb_free(once_b);
}

static void test_rmsnorm(void **state) {
    enum { BT = 10, C = 32, N = BT * C };
    tb_rng r = tb_rng_make(13, 0);
    float *inp = randn(&r, N, 1.0f), *weight = randn(&r, C, 1.0f);
    float *out = zeros(N), *rstd = zeros(BT), *R = randn(&r, N, 1.0f);
    norm_op op = {out, NULL, rstd, inp, weight, NULL, BT, C};
    probe p = {rmsnorm_run, &op, out, R, N};

    rmsnorm_run(&op);
    double *want = dzeros(N), *want_rstd = dzeros(BT);
    for (int i = 0; i < BT; i++) {
        double ss = 0.0;
        for (int c = 0; c < C; c++) ss += (double)inp[i * C + c] * inp[i * C + c];
        double s = 1.0 / sqrt(ss / C + NORM_EPS);
        for (int c = 0; c < C; c++) want[i * C + c] = inp[i * C + c] * s * weight[c];
        want_rstd[i] = s;
    }
    expect_close(out, want, N, 1e-5, "rmsnorm_forward out");
    expect_close(rstd, want_rstd, BT, 1e-5, "rmsnorm_forward rstd");

    float *dinp = zeros(N), *dweight = zeros(C);
    rmsnorm_backward(dinp, dweight, R, inp, weight, rstd, BT, C);
    expect_gradient(&p, inp, dinp, N, "rmsnorm dinp");
    expect_gradient(&p, weight, dweight, C, "rmsnorm dweight");

    float *once_inp = copy_of(dinp, N), *once_w = copy_of(dweight, C);
    rmsnorm_backward(dinp, dweight, R, inp, weight, rstd, BT, C);
    expect_doubled(once_inp, dinp, N, "rmsnorm dinp");
    expect_doubled(once_w, dweight, C, "rmsnorm dweight");

    tb_free(inp), tb_free(weight), tb_free(out), tb_free(rstd), tb_free(R), tb_free(want), tb_free(want_rstd);
    tb_free(dinp), tb_free(dweight), tb_free(once_inp), tb_free(once_w);
}

/* ------------------------------------------------------------------------------------------------
 * matmul, LoRA */

typedef struct {
    float *out;
    const float *inp, *weight, *bias;
    int BT, C, OC;
} matmul_op;

static void matmul_run(void *v) {
    matmul_op *o = v;
    matmul_forward(o->out, o->inp, o->weight, o->bias, o->BT, o->C, o->OC);
}

static void check_matmul(int with_bias) {
    /* every dimension distinct, so a swapped transposition or leading dimension cannot pass */
    enum { BT = 10, C = 12, OC = 20 };
    tb_rng r = tb_rng_make(14, (uint64_t)with_bias);
    float *inp = randn(&r, BT * C, 1.0f), *weight = randn(&r, OC * C, 1.0f);
    float *bias = with_bias ? randn(&r, OC, 1.0f) : NULL;
    float *out = zeros(BT * OC), *R = randn(&r, BT * OC, 1.0f);
    matmul_op op = {out, inp, weight, bias, BT, C, OC};
    probe p = {matmul_run, &op, out, R, BT * OC};

    matmul_run(&op);
    double *want = dzeros(BT * OC);
    for (int i = 0; i < BT; i++)
        for (int o = 0; o < OC; o++) {
            double s = bias ? bias[o] : 0.0;
            for (int c = 0; c < C; c++) s += (double)inp[i * C + c] * weight[o * C + c];
            want[i * OC + o] = s;
        }
    expect_close(out, want, BT * OC, 1e-5, "matmul_forward");

    float *dinp = zeros(BT * C), *dweight = zeros(OC * C), *dbias = with_bias ? zeros(OC) : NULL;
    matmul_backward(dinp, dweight, dbias, R, inp, weight, BT, C, OC);
    expect_gradient(&p, inp, dinp, BT * C, "matmul dinp");
    expect_gradient(&p, weight, dweight, OC * C, "matmul dweight");
    if (with_bias) expect_gradient(&p, bias, dbias, OC, "matmul dbias");

    float *once_inp = copy_of(dinp, BT * C), *once_w = copy_of(dweight, OC * C);
    float *once_b = with_bias ? copy_of(dbias, OC) : NULL;
    matmul_backward(dinp, dweight, dbias, R, inp, weight, BT, C, OC);
    expect_doubled(once_inp, dinp, BT * C, "matmul dinp");
    expect_doubled(once_w, dweight, OC * C, "matmul dweight");
    if (with_bias) expect_doubled(once_b, dbias, OC, "matmul dbias");

    tb_free(inp), tb_free(weight), tb_free(bias), tb_free(out), tb_free(R), tb_free(want), tb_free(dinp);
    tb_free(dweight), tb_free(dbias), tb_free(once_inp), tb_free(once_w), tb_free(once_b);
}

static void test_matmul_with_bias(void **state) { check_matmul(1); }
static void test_matmul_without_bias(void **state) { check_matmul(0); }

typedef struct {
    float *out, *t;
    const float *base; /* (BT,OC) what the base layer wrote into out before the LoRA delta */
    const float *inp, *A, *Bw;
    float scale;
    int BT, C, OC, R;
} lora_op;

static void lora_run(void *v) {
    lora_op *o = v;
    memcpy(o->out, o->base, (size_t)o->BT * o->OC * sizeof(float));
    lora_forward(o->out, o->t, o->inp, o->A, o->Bw, o->scale, o->BT, o->C, o->OC, o->R);
}

static void test_lora(void **state) {
    enum { BT = 10, C = 12, OC = 20, RK = 3 };
    const float scale = 2.0f / RK; /* alpha / R with alpha = 2 */
    tb_rng r = tb_rng_make(15, 0);
    float *inp = randn(&r, BT * C, 1.0f), *A = randn(&r, RK * C, 1.0f), *Bw = randn(&r, OC * RK, 1.0f);
    float *base = randn(&r, BT * OC, 1.0f), *out = zeros(BT * OC), *t = zeros(BT * RK);
    float *R = randn(&r, BT * OC, 1.0f);
    lora_op op = {out, t, base, inp, A, Bw, scale, BT, C, OC, RK};
    probe p = {lora_run, &op, out, R, BT * OC};

    lora_run(&op);
    double *want = dzeros(BT * OC), *want_t = dzeros(BT * RK);
    for (int i = 0; i < BT; i++) {
        for (int k = 0; k < RK; k++)
            for (int c = 0; c < C; c++) want_t[i * RK + k] += (double)inp[i * C + c] * A[k * C + c];
        for (int o = 0; o < OC; o++) {
            double s = 0.0;
            for (int k = 0; k < RK; k++) s += want_t[i * RK + k] * Bw[o * RK + k];
            want[i * OC + o] = base[i * OC + o] + scale * s;
        }
    }
    expect_close(t, want_t, BT * RK, 1e-5, "lora_forward t");
    expect_close(out, want, BT * OC, 1e-5, "lora_forward out");

    float *dinp = zeros(BT * C), *dA = zeros(RK * C), *dB = zeros(OC * RK), *dt = zeros(BT * RK);
    lora_backward(dinp, dA, dB, dt, R, inp, t, A, Bw, scale, BT, C, OC, RK);
    expect_gradient(&p, inp, dinp, BT * C, "lora dinp");
    expect_gradient(&p, A, dA, RK * C, "lora dA");
    expect_gradient(&p, Bw, dB, OC * RK, "lora dB");

    float *once_inp = copy_of(dinp, BT * C), *once_A = copy_of(dA, RK * C), *once_B = copy_of(dB, OC * RK);
    lora_backward(dinp, dA, dB, dt, R, inp, t, A, Bw, scale, BT, C, OC, RK);
    expect_doubled(once_inp, dinp, BT * C, "lora dinp");
    expect_doubled(once_A, dA, RK * C, "lora dA");
    expect_doubled(once_B, dB, OC * RK, "lora dB");

    tb_free(inp), tb_free(A), tb_free(Bw), tb_free(base), tb_free(out), tb_free(t), tb_free(R), tb_free(want);
    tb_free(want_t), tb_free(dinp), tb_free(dA), tb_free(dB), tb_free(dt), tb_free(once_inp), tb_free(once_A);
    tb_free(once_B);
}

/* ------------------------------------------------------------------------------------------------
 * pointwise */

enum { PW_N = 64 };

typedef struct {
    float *out;
    const float *a, *b; /* gelu: a; swiglu: gate, up; residual: a, b */
} pointwise_op;

static void gelu_run(void *v) {
    pointwise_op *o = v;
    gelu_forward(o->out, o->a, PW_N);
}

static void swiglu_run(void *v) {
    pointwise_op *o = v;
    swiglu_forward(o->out, o->a, o->b, PW_N);
}

static void residual_run(void *v) {
    pointwise_op *o = v;
    residual_forward(o->out, o->a, o->b, PW_N);
}

static void test_gelu(void **state) {
    tb_rng r = tb_rng_make(16, 0);
    /* sd 2 reaches |x| ~ 4, where the cubic term of the tanh argument matters */
    float *x = randn(&r, PW_N, 2.0f), *out = zeros(PW_N), *R = randn(&r, PW_N, 1.0f);
    pointwise_op op = {out, x, NULL};
    probe p = {gelu_run, &op, out, R, PW_N};

    gelu_run(&op);
    double *want = dzeros(PW_N);
    for (int i = 0; i < PW_N; i++) {
        double xi = x[i];
        want[i] = 0.5 * xi * (1.0 + tanh(sqrt(2.0 / 3.14159265358979323846) * (xi + 0.044715 * xi * xi * xi)));
    }
    expect_close(out, want, PW_N, 1e-6, "gelu_forward");

    float *dx = zeros(PW_N);
    gelu_backward(dx, x, R, PW_N);
    expect_gradient(&p, x, dx, PW_N, "gelu dinp");
    float *once = copy_of(dx, PW_N);
    gelu_backward(dx, x, R, PW_N);
    expect_doubled(once, dx, PW_N, "gelu dinp");

    tb_free(x), tb_free(out), tb_free(R), tb_free(want), tb_free(dx), tb_free(once);
}

static void test_swiglu(void **state) {
    tb_rng r = tb_rng_make(17, 0);
    float *gate = randn(&r, PW_N, 2.0f), *up = randn(&r, PW_N, 1.0f), *out = zeros(PW_N);
    float *R = randn(&r, PW_N, 1.0f);
    pointwise_op op = {out, gate, up};
    probe p = {swiglu_run, &op, out, R, PW_N};

    swiglu_run(&op);
    double *want = dzeros(PW_N);
    for (int i = 0; i < PW_N; i++) want[i] = gate[i] / (1.0 + exp(-(double)gate[i])) * up[i];
    expect_close(out, want, PW_N, 1e-6, "swiglu_forward");

    float *dgate = zeros(PW_N), *dup = zeros(PW_N);
    swiglu_backward(dgate, dup, R, gate, up, PW_N);
    expect_gradient(&p, gate, dgate, PW_N, "swiglu dgate");
    expect_gradient(&p, up, dup, PW_N, "swiglu dup");
    float *once_g = copy_of(dgate, PW_N), *once_u = copy_of(dup, PW_N);
    swiglu_backward(dgate, dup, R, gate, up, PW_N);
    expect_doubled(once_g, dgate, PW_N, "swiglu dgate");
    expect_doubled(once_u, dup, PW_N, "swiglu dup");

    tb_free(gate), tb_free(up), tb_free(out), tb_free(R), tb_free(want), tb_free(dgate), tb_free(dup);
    tb_free(once_g), tb_free(once_u);
}

static void test_residual(void **state) {
    tb_rng r = tb_rng_make(18, 0);
    float *a = randn(&r, PW_N, 1.0f), *b = randn(&r, PW_N, 1.0f), *out = zeros(PW_N);
    float *R = randn(&r, PW_N, 1.0f);
    pointwise_op op = {out, a, b};
    probe p = {residual_run, &op, out, R, PW_N};

    residual_run(&op);
    double *want = dzeros(PW_N);
    for (int i = 0; i < PW_N; i++) want[i] = (double)a[i] + b[i];
    expect_close(out, want, PW_N, 1e-6, "residual_forward");

    float *da = zeros(PW_N), *db = zeros(PW_N);
    residual_backward(da, db, R, PW_N);
    expect_gradient(&p, a, da, PW_N, "residual da");
    expect_gradient(&p, b, db, PW_N, "residual db");
    float *once_a = copy_of(da, PW_N), *once_b = copy_of(db, PW_N);
    residual_backward(da, db, R, PW_N);
    expect_doubled(once_a, da, PW_N, "residual da");
    expect_doubled(once_b, db, PW_N, "residual db");

    tb_free(a), tb_free(b), tb_free(out), tb_free(R), tb_free(want), tb_free(da), tb_free(db);
    tb_free(once_a), tb_free(once_b);
}

/* ------------------------------------------------------------------------------------------------
 * rope */

/* x (B,T,NHX,HS) in rows of ld = NHX*HS + 3 floats: the 3 padding floats per row stand for the rest of
 * a fused qkv row and must come through untouched. */
enum { RB = 2, RT = 5, RNHX = 3, RHS = 8, RLD = RNHX * RHS + 3, RN = RB * RT * RLD };
static const float ROPE_THETA = 100.0f; /* small, so that every frequency turns visibly within T */

typedef struct {
    float *x;         /* (RN) rotated copy */
    const float *x0;  /* (RN) the input */
    const float *cos_tab, *sin_tab;
} rope_op;

static void rope_run(void *v) {
    rope_op *o = v;
    memcpy(o->x, o->x0, RN * sizeof(float));
    rope_forward(o->x, o->cos_tab, o->sin_tab, RB, RT, RNHX, RHS, RLD);
}

static void test_rope(void **state) {
    enum { HALF = RHS / 2 };
    tb_rng r = tb_rng_make(19, 0);
    float *cos_tab = zeros(RT * HALF), *sin_tab = zeros(RT * HALF);
    rope_table(cos_tab, sin_tab, RT, RHS, ROPE_THETA);
    double *want_cos = dzeros(RT * HALF), *want_sin = dzeros(RT * HALF);
    for (int t = 0; t < RT; t++)
        for (int i = 0; i < HALF; i++) {
            double angle = t * pow(ROPE_THETA, -2.0 * i / RHS);
            want_cos[t * HALF + i] = cos(angle);
            want_sin[t * HALF + i] = sin(angle);
        }
    expect_close(cos_tab, want_cos, RT * HALF, 1e-7, "rope_table cos");
    expect_close(sin_tab, want_sin, RT * HALF, 1e-7, "rope_table sin");

    float *x0 = randn(&r, RN, 1.0f), *x = zeros(RN), *R = randn(&r, RN, 1.0f);
    rope_op op = {x, x0, cos_tab, sin_tab};
    probe p = {rope_run, &op, x, R, RN};

    /* HF rotate_half: (x_i, x_{i+HS/2}) -> (x_i cos - x_{i+HS/2} sin, x_{i+HS/2} cos + x_i sin) */
    rope_run(&op);
    double *want = dzeros(RN);
    for (int bt = 0; bt < RB * RT; bt++) {
        int t = bt % RT;
        for (int j = RNHX * RHS; j < RLD; j++) want[bt * RLD + j] = x0[bt * RLD + j];
        for (int h = 0; h < RNHX; h++)
            for (int i = 0; i < HALF; i++) {
                int a = bt * RLD + h * RHS + i, b = a + HALF;
                double c = want_cos[t * HALF + i], s = want_sin[t * HALF + i];
                want[a] = x0[a] * c - x0[b] * s;
                want[b] = x0[b] * c + x0[a] * s;
            }
    }
    expect_close(x, want, RN, 1e-6, "rope_forward");

    /* rope_backward works in place on the gradient: start from dout = R */
    float *dx = copy_of(R, RN);
    rope_backward(dx, cos_tab, sin_tab, RB, RT, RNHX, RHS, RLD);
    expect_gradient(&p, x0, dx, RN, "rope dx");

    /* the rotation is orthogonal: the backward map undoes the forward one */
    float *y = copy_of(x0, RN);
    rope_forward(y, cos_tab, sin_tab, RB, RT, RNHX, RHS, RLD);
    rope_backward(y, cos_tab, sin_tab, RB, RT, RNHX, RHS, RLD);
    double *x0d = dzeros(RN);
    for (int i = 0; i < RN; i++) x0d[i] = x0[i];
    expect_close(y, x0d, RN, 1e-6, "rope backward(forward(x)) == x");

    tb_free(cos_tab), tb_free(sin_tab), tb_free(want_cos), tb_free(want_sin), tb_free(x0), tb_free(x);
    tb_free(R), tb_free(want), tb_free(dx), tb_free(y), tb_free(x0d);
}

/* ------------------------------------------------------------------------------------------------
 * attention */

enum { AB = 2, AT = 5, AHS = 4 };

/* q, k, v live in one buffer: either fused rows (q | k | v of one position side by side, ldq = ldkv =
 * C + 2*CKV, as a qkv matmul writes them) or three contiguous tensors (ldq = C, ldkv = CKV). */
typedef struct {
    float *out, *att;
    float *qkv;        /* (AB*AT*(C + 2*CKV)) */
    float *pk, *pv;    /* (P,CKV) or NULL */
    int P, NH, NKV, fused;
} attention_op;

static int att_C(const attention_op *o) { return o->NH * AHS; }
static int att_CKV(const attention_op *o) { return o->NKV * AHS; }
static long att_qkv_size(const attention_op *o) { return (long)AB * AT * (att_C(o) + 2 * att_CKV(o)); }
static int att_ldq(const attention_op *o) { return o->fused ? att_C(o) + 2 * att_CKV(o) : att_C(o); }
static int att_ldkv(const attention_op *o) { return o->fused ? att_C(o) + 2 * att_CKV(o) : att_CKV(o); }

/* Where q, k and v start inside a buffer laid out like o->qkv. */
static void att_split(const attention_op *o, float *buf, float **q, float **k, float **v) {
    *q = buf;
    *k = o->fused ? buf + att_C(o) : buf + (long)AB * AT * att_C(o);
    *v = o->fused ? buf + att_C(o) + att_CKV(o) : *k + (long)AB * AT * att_CKV(o);
}

static void attention_run(void *v) {
    attention_op *o = v;
    float *q, *k, *vv;
    att_split(o, o->qkv, &q, &k, &vv);
    attention_forward(o->out, o->att, q, k, vv, o->pk, o->pv, AB, AT, o->P, o->NH, o->NKV, AHS, att_ldq(o),
                      att_ldkv(o));
}

/* The definition, in double: out (AB,AT,C), att (AB,NH,AT,P+AT). */
static void attention_reference(double *out, double *att, const attention_op *o) {
    const int C = att_C(o), W = o->P + AT, ldq = att_ldq(o), ldkv = att_ldkv(o);
    float *q, *k, *v;
    att_split(o, o->qkv, &q, &k, &v);
    for (int b = 0; b < AB; b++)
        for (int h = 0; h < o->NH; h++)
            for (int t = 0; t < AT; t++) {
                const int kvh = h / (o->NH / o->NKV);
                const float *q_t = q + (b * AT + t) * ldq + h * AHS;
                double *row = att + ((b * o->NH + h) * AT + t) * W, maxv = -INFINITY, sum = 0.0;
                for (int j = 0; j < o->P + t + 1; j++) {
                    const float *key = j < o->P ? o->pk + j * att_CKV(o) + kvh * AHS
                                                : k + (b * AT + j - o->P) * ldkv + kvh * AHS;
                    double s = 0.0;
                    for (int i = 0; i < AHS; i++) s += (double)q_t[i] * key[i];
                    row[j] = s / sqrt(AHS);
                    maxv = fmax(maxv, row[j]);
                }
                for (int j = 0; j < o->P + t + 1; j++) {
                    row[j] = exp(row[j] - maxv);
                    sum += row[j];
                }
                for (int j = 0; j < W; j++) row[j] = j < o->P + t + 1 ? row[j] / sum : 0.0;
                for (int i = 0; i < AHS; i++) {
                    double s = 0.0;
                    for (int j = 0; j < o->P + t + 1; j++) {
                        const float *value = j < o->P ? o->pv + j * att_CKV(o) + kvh * AHS
                                                      : v + (b * AT + j - o->P) * ldkv + kvh * AHS;
                        s += row[j] * value[i];
                    }
                    out[(b * AT + t) * C + h * AHS + i] = s;
                }
            }
}

/* All gradients of one backward call, laid out like the inputs. */
typedef struct {
    float *dqkv, *dpk, *dpv;
} attention_grads;

static void attention_backward_into(attention_grads *g, float *datt, const float *dout, const attention_op *o) {
    float *q, *k, *v, *dq, *dk, *dv;
    att_split(o, o->qkv, &q, &k, &v);
    att_split(o, g->dqkv, &dq, &dk, &dv);
    attention_backward(dq, dk, dv, g->dpk, g->dpv, datt, dout, o->att, q, k, v, o->pk, o->pv, AB, AT, o->P,
                       o->NH, o->NKV, AHS, att_ldq(o), att_ldkv(o));
}

static void check_attention(int NH, int NKV, int P, int fused, uint64_t seed) {
    tb_rng r = tb_rng_make(20, seed);
    attention_op op = {NULL, NULL, NULL, NULL, NULL, P, NH, NKV, fused};
    const int C = att_C(&op), CKV = att_CKV(&op), W = P + AT;
    const long n_out = (long)AB * AT * C, n_att = (long)AB * NH * AT * W, n_qkv = att_qkv_size(&op);
    op.out = zeros(n_out);
    op.att = zeros(n_att);
    op.qkv = randn(&r, n_qkv, 1.0f);
    op.pk = P ? randn(&r, P * CKV, 1.0f) : NULL;
    op.pv = P ? randn(&r, P * CKV, 1.0f) : NULL;
    float *R = randn(&r, n_out, 1.0f);
    probe p = {attention_run, &op, op.out, R, n_out};

    attention_run(&op);
    double *want = dzeros(n_out), *want_att = dzeros(n_att);
    attention_reference(want, want_att, &op);
    expect_close(op.out, want, n_out, 1e-5, "attention_forward out");
    expect_close(op.att, want_att, n_att, 1e-6, "attention_forward att");
    for (long i = 0; i < n_att; i++)
        if (want_att[i] == 0.0) assert_true(op.att[i] == 0.0f); /* masked probabilities are exact zeros */

    attention_grads g = {zeros(n_qkv), P ? zeros(P * CKV) : NULL, P ? zeros(P * CKV) : NULL};
    float *datt = zeros(n_att);
    attention_backward_into(&g, datt, R, &op);
    expect_gradient(&p, op.qkv, g.dqkv, n_qkv, "attention dq,dk,dv");
    if (P) {
        expect_gradient(&p, op.pk, g.dpk, P * CKV, "attention dpk");
        expect_gradient(&p, op.pv, g.dpv, P * CKV, "attention dpv");
    }

    /* a race would make the gradients depend on the thread count, or change from call to call */
    attention_grads once = {copy_of(g.dqkv, n_qkv), P ? copy_of(g.dpk, P * CKV) : NULL,
                            P ? copy_of(g.dpv, P * CKV) : NULL};
    attention_grads single = {zeros(n_qkv), P ? zeros(P * CKV) : NULL, P ? zeros(P * CKV) : NULL};
    omp_set_num_threads(1);
    attention_backward_into(&single, datt, R, &op);
    omp_set_num_threads(2);
    assert_memory_equal(single.dqkv, once.dqkv, n_qkv * sizeof(float));
    if (P) {
        assert_memory_equal(single.dpk, once.dpk, P * CKV * sizeof(float));
        assert_memory_equal(single.dpv, once.dpv, P * CKV * sizeof(float));
    }

    attention_backward_into(&g, datt, R, &op);
    expect_doubled(once.dqkv, g.dqkv, n_qkv, "attention dqkv");
    if (P) {
        expect_doubled(once.dpk, g.dpk, P * CKV, "attention dpk");
        expect_doubled(once.dpv, g.dpv, P * CKV, "attention dpv");
    }

    tb_free(op.out), tb_free(op.att), tb_free(op.qkv), tb_free(op.pk), tb_free(op.pv), tb_free(R);
    tb_free(want), tb_free(want_att), tb_free(datt);
    attention_grads *all[] = {&g, &once, &single};
    for (int i = 0; i < 3; i++) tb_free(all[i]->dqkv), tb_free(all[i]->dpk), tb_free(all[i]->dpv);
}

static void test_attention_mha(void **state) { check_attention(4, 4, 0, 0, 1); }
static void test_attention_gqa(void **state) { check_attention(4, 2, 0, 0, 2); }
static void test_attention_prefix(void **state) { check_attention(4, 2, 3, 0, 3); }
static void test_attention_fused_qkv(void **state) { check_attention(4, 4, 3, 1, 4); }

/* Changing keys and values after position t leaves every output at positions <= t bit-identical,
 * while the output just after t does change (so the perturbation is not a no-op). */
static void test_attention_causal(void **state) {
    tb_rng r = tb_rng_make(21, 0);
    attention_op op = {NULL, NULL, NULL, NULL, NULL, 3, 4, 2, 1};
    const int C = att_C(&op), CKV = att_CKV(&op), ld = att_ldq(&op);
    const long n_out = (long)AB * AT * C, n_qkv = att_qkv_size(&op);
    op.out = zeros(n_out);
    op.att = zeros((long)AB * op.NH * AT * (op.P + AT));
    op.qkv = randn(&r, n_qkv, 1.0f);
    op.pk = randn(&r, op.P * CKV, 1.0f);
    op.pv = randn(&r, op.P * CKV, 1.0f);
    attention_run(&op);
    float *ref = copy_of(op.out, n_out), *qkv0 = copy_of(op.qkv, n_qkv);

    for (int t = 0; t < AT - 1; t++) {
        memcpy(op.qkv, qkv0, n_qkv * sizeof(float));
        for (int b = 0; b < AB; b++)
            for (int s = t + 1; s < AT; s++)
                for (int j = C; j < C + 2 * CKV; j++) op.qkv[(b * AT + s) * ld + j] += 1.0f + tb_rng_normal(&r);
        attention_run(&op);
        for (int b = 0; b < AB; b++) {
            const long seen = (long)(b * AT) * C, upto = (long)(t + 1) * C;
            assert_memory_equal(op.out + seen, ref + seen, upto * sizeof(float));
            int changed = memcmp(op.out + seen + upto, ref + seen + upto, C * sizeof(float)) != 0;
            assert_true(changed);
        }
    }
    tb_free(op.out), tb_free(op.att), tb_free(op.qkv), tb_free(op.pk), tb_free(op.pv), tb_free(ref);
    tb_free(qkv0);
}

/* Attention runs its BLAS calls single-threaded inside its OpenMP team; the caller's BLAS thread
 * count must be back in place afterwards, or every later matmul would lose its threads. */
static void test_attention_restores_blas_threads(void **state) {
    tb_rng r = tb_rng_make(23, 0);
    attention_op op = {NULL, NULL, NULL, NULL, NULL, 0, 4, 2, 0};
    const long n_out = (long)AB * AT * att_C(&op), n_att = (long)AB * op.NH * AT * AT, n_qkv = att_qkv_size(&op);
    op.out = zeros(n_out);
    op.att = zeros(n_att);
    op.qkv = randn(&r, n_qkv, 1.0f);
    float *dqkv = zeros(n_qkv), *datt = zeros(n_att);
    attention_grads g = {dqkv, NULL, NULL};
    const int before = openblas_get_num_threads();
    openblas_set_num_threads(2);
    attention_run(&op);
    assert_int_equal(openblas_get_num_threads(), 2);
    attention_backward_into(&g, datt, op.out, &op);
    assert_int_equal(openblas_get_num_threads(), 2);
    openblas_set_num_threads(before);
    tb_free(op.out), tb_free(op.att), tb_free(op.qkv), tb_free(dqkv), tb_free(datt);
}

/* ------------------------------------------------------------------------------------------------
 * logprob */

enum { LBT = 6, LV = 7 };

typedef struct {
    float *logprob, *lse;
    const float *logits;
    const int *targets;
} logprob_op;

static void logprob_run(void *v) {
    logprob_op *o = v;
    logprob_forward(o->logprob, o->lse, o->logits, o->targets, LBT, LV);
}

static void test_logprob(void **state) {
    /* rows 1 and 4 have no target; row 5 has a target but no gradient (dlogprob = 0) */
    static const int targets[LBT] = {2, -1, 0, 6, -1, 3};
    tb_rng r = tb_rng_make(22, 0);
    float *logits = randn(&r, LBT * LV, 2.0f), *logprob = zeros(LBT), *lse = zeros(LBT);
    float *R = randn(&r, LBT, 1.0f);
    R[5] = 0.0f;
    for (int v = 0; v < LV; v++) logits[2 * LV + v] += 500.0f; /* exp overflows unless max-shifted */
    logprob_op op = {logprob, lse, logits, targets};
    probe p = {logprob_run, &op, logprob, R, LBT};

    logprob_run(&op);
    double *want = dzeros(LBT), *want_lse = dzeros(LBT);
    for (int i = 0; i < LBT; i++) {
        double maxv = -INFINITY, sum = 0.0;
        for (int v = 0; v < LV; v++) maxv = fmax(maxv, logits[i * LV + v]);
        for (int v = 0; v < LV; v++) sum += exp(logits[i * LV + v] - maxv);
        want_lse[i] = maxv + log(sum);
        want[i] = targets[i] >= 0 ? logits[i * LV + targets[i]] - want_lse[i] : 0.0;
    }
    expect_close(lse, want_lse, LBT, 1e-6, "logprob_forward lse");
    /* logprob = logit - lse cancels two numbers near 500 in row 2, whose float spacing is 3e-5 */
    expect_close(logprob, want, LBT, 1e-5, "logprob_forward logprob");
    assert_true(logprob[1] == 0.0f && logprob[4] == 0.0f);

    /* finite differences need logits of order 1: at 500 a float step of 1e-3 is lost in rounding */
    for (int v = 0; v < LV; v++) logits[2 * LV + v] -= 500.0f;
    logprob_run(&op);

    float *dlogits = copy_of(logits, LBT * LV);
    logprob_backward_inplace(dlogits, lse, targets, R, NULL, NULL, LBT, LV);
    expect_gradient(&p, logits, dlogits, LBT * LV, "logprob dlogits");
    static const float zero_row[LV];
    assert_memory_equal(dlogits + 1 * LV, zero_row, sizeof zero_row);
    assert_memory_equal(dlogits + 4 * LV, zero_row, sizeof zero_row);
    assert_memory_equal(dlogits + 5 * LV, zero_row, sizeof zero_row);

    tb_free(logits), tb_free(logprob), tb_free(lse), tb_free(R), tb_free(want), tb_free(want_lse);
    tb_free(dlogits);
}

/* The head with soft targets too: out = [logprob (BT), ce (BT)], so L = sum R1 * logprob + sum R2 * ce
 * and one in-place backward must give the gradient of both terms. Row 0 has only a soft target, row 1
 * both, row 2 only a hard one, row 3 neither. */
enum { SBT = 4 };

typedef struct {
    float *out, *lse; /* out (2*SBT): logprob then ce */
    const float *logits;
    const int *targets;
    const float *const *soft;
} softce_op;

static void softce_run(void *v) {
    softce_op *o = v;
    logprob_forward(o->out, o->lse, o->logits, o->targets, SBT, LV);
    softce_forward(o->out + SBT, o->logits, o->lse, o->soft, SBT, LV);
}

static void test_softce(void **state) {
    static const int targets[SBT] = {-1, 3, 5, -1};
    tb_rng r = tb_rng_make(23, 0);
    float *logits = randn(&r, SBT * LV, 1.5f), *out = zeros(2 * SBT), *lse = zeros(SBT);
    float q0[LV], q1[LV];
    double z0 = 0.0, z1 = 0.0;
    for (int v = 0; v < LV; v++) z0 += q0[v] = (float)(1.0 + tb_rng_uniform(&r)), z1 += q1[v] = (float)(v == 3 ? 4.0 : 0.5);
    for (int v = 0; v < LV; v++) q0[v] = (float)(q0[v] / z0), q1[v] = (float)(q1[v] / z1);
    const float *soft[SBT] = {q0, q1, NULL, NULL};
    float *R = randn(&r, 2 * SBT, 1.0f);
    softce_op op = {out, lse, logits, targets, soft};
    probe p = {softce_run, &op, out, R, 2 * SBT};

    softce_run(&op);
    double want[SBT] = {0};
    for (int i = 0; i < 2; i++)
        for (int v = 0; v < LV; v++) want[i] -= soft[i][v] * ((double)logits[i * LV + v] - lse[i]);
    expect_close(out + SBT, want, SBT, 1e-6, "softce_forward");

    float *dlogits = copy_of(logits, SBT * LV);
    logprob_backward_inplace(dlogits, lse, targets, R, soft, R + SBT, SBT, LV);
    expect_gradient(&p, logits, dlogits, SBT * LV, "logprob+softce dlogits");
    static const float zero_row[LV];
    assert_memory_equal(dlogits + 3 * LV, zero_row, sizeof zero_row);
    tb_free(logits), tb_free(out), tb_free(lse), tb_free(R), tb_free(dlogits);
}

int main(void) {
    /* a team of two for every kernel (CTest sets OMP_NUM_THREADS=1), so that races have a chance */
    omp_set_num_threads(2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedding_with_wpe),
        cmocka_unit_test(test_embedding_without_wpe),
        cmocka_unit_test(test_layernorm),
        cmocka_unit_test(test_rmsnorm),
        cmocka_unit_test(test_matmul_with_bias),
        cmocka_unit_test(test_matmul_without_bias),
        cmocka_unit_test(test_lora),
        cmocka_unit_test(test_gelu),
        cmocka_unit_test(test_swiglu),
        cmocka_unit_test(test_residual),
        cmocka_unit_test(test_rope),
        cmocka_unit_test(test_attention_mha),
        cmocka_unit_test(test_attention_gqa),
        cmocka_unit_test(test_attention_prefix),
        cmocka_unit_test(test_attention_fused_qkv),
        cmocka_unit_test(test_attention_causal),
        cmocka_unit_test(test_attention_restores_blas_threads),
        cmocka_unit_test(test_logprob),
        cmocka_unit_test(test_softce),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
