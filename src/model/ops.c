/*
 * ops.c: the layer kernels of ops.h.
 *
 * Every matmul is one or a few cblas_sgemm calls (row-major, weights (OC, C)); everything else is a
 * row-parallel OpenMP loop. Reductions over rows (bias, norm-weight and embedding gradients) are
 * parallelised over column slices instead of with atomics or per-thread copies: each gradient element
 * is then summed by one thread in row order, so the result is race-free and identical for any thread
 * count.
 *
 * Compiled with -fno-fast-math (CMakeLists.txt): the GELU backward and the softmax masks rely on
 * IEEE tanh, exp and exact zeros.
 */
#include "model/ops.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/core.h"

/* ================================================================================================
 * helpers */

/* The slice [*lo, *hi) of n columns owned by the calling thread of an OpenMP team. Slices are whole
 * 64-byte lines (16 floats) so that threads writing neighbouring slices never share a cache line. */
static void thread_columns(int n, int *lo, int *hi) {
    int nth = omp_get_num_threads(), ith = omp_get_thread_num();
    long per = ((long)(n + nth - 1) / nth + 15) / 16 * 16;
    long a = ith * per, z = a + per;
    *lo = (int)(a < n ? a : n);
    *hi = (int)(z < n ? z : n);
}

/* dst (cols) += sum over rows of src (rows, cols) */
static void colsum_accumulate(float *dst, const float *src, int rows, int cols) {
#pragma omp parallel
    {
        int lo, hi;
        thread_columns(cols, &lo, &hi);
        for (int r = 0; r < rows; r++) {
            const float *src_r = src + (size_t)r * cols;
            for (int c = lo; c < hi; c++) dst[c] += src_r[c];
        }
    }
}

/* e^x without libm, branch-free so that the loops around it vectorise (libm's expf is a call per
 * element: it dominated GELU, softmax and the log-probability head). x = n ln2 + r with |r| <= ln2/2;
 * e^r by its degree-6 Taylor polynomial (relative error below 2e-7 on that interval), 2^n through the
 * exponent bits. Inputs are clamped to [-87, 88], where float e^x is finite and normal. */
static inline float exp_approx(float x) {
    /* comparisons, not fminf/fmaxf: without -ffinite-math-only those stay libm calls and stop vectorising */
    x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
    float n = floorf(x * 1.4426950408889634f + 0.5f);
    float r = x - n * 0.693145751953125f - n * 1.4286068203094172e-06f; /* ln2 split for exactness */
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.6666667e-01f + r * (4.1666668e-02f + r * (8.3333338e-03f +
                                                                                       r * 1.3888889e-03f)))));
    union {
        int32_t i;
        float f;
    } scale = {.i = ((int32_t)n + 127) << 23};
    return p * scale.f;
}

/* tanh(u) = 1 - 2 / (e^(2u) + 1): exact at the saturated ends, absolute error about 1e-7 elsewhere */
static inline float tanh_approx(float u) { return 1.0f - 2.0f / (exp_approx(2.0f * u) + 1.0f); }

/* ================================================================================================
 * embeddings */

void embedding_forward(float *out, const int *inp, const float *wte, const float *wpe, int B, int T, int C) {
    // out (B,T,C), inp (B,T), wte (V,C), wpe (maxT,C) or NULL
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            float *out_bt = out + ((size_t)b * T + t) * C;
            const float *wte_ix = wte + (size_t)inp[b * T + t] * C;
            if (wpe) {
                const float *wpe_t = wpe + (size_t)t * C;
                for (int c = 0; c < C; c++) out_bt[c] = wte_ix[c] + wpe_t[c];
            } else {
                memcpy(out_bt, wte_ix, (size_t)C * sizeof(float));
            }
        }
    }
}

void embedding_backward(float *dwte, float *dwpe, const float *dout, const int *inp, int B, int T, int C) {
    // dwte (V,C), dwpe (maxT,C), dout (B,T,C), inp (B,T)
    // forward: out[b,t,:] = wte[inp[b,t],:] + wpe[t,:]
    // A token repeated in the batch hits the same dwte row, so threads split the columns, not the rows.
    if (!dwte && !dwpe) return;
#pragma omp parallel
    {
        int lo, hi;
        thread_columns(C, &lo, &hi);
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) {
                const float *dout_bt = dout + ((size_t)b * T + t) * C;
                if (dwte) {
                    float *dwte_ix = dwte + (size_t)inp[b * T + t] * C;
                    for (int c = lo; c < hi; c++) dwte_ix[c] += dout_bt[c];
                }
                if (dwpe) {
                    float *dwpe_t = dwpe + (size_t)t * C;
                    for (int c = lo; c < hi; c++) dwpe_t[c] += dout_bt[c];
                }
            }
        }
    }
}

/* ================================================================================================
 * normalisation */

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                       const float *bias, int BT, int C, float eps) {
    // out (BT,C), mean (BT), rstd (BT), inp (BT,C), weight (C), bias (C)
    // (the row sums below are simd reductions: their order may change, their rounding stays ~1e-7)
#pragma omp parallel for schedule(static)
    for (int i = 0; i < BT; i++) {
        const float *x = inp + (size_t)i * C;
        float *out_i = out + (size_t)i * C;
        // two passes over a row that stays in L1: the variance is then free of the cancellation that
        // E[x^2] - E[x]^2 suffers when |mean| >> std
        float m = 0.0f;
#pragma omp simd reduction(+ : m)
        for (int c = 0; c < C; c++) m += x[c];
        m /= C;
        float v = 0.0f;
#pragma omp simd reduction(+ : v)
        for (int c = 0; c < C; c++) v += (x[c] - m) * (x[c] - m);
        v /= C;
        float s = 1.0f / sqrtf(v + eps);
        for (int c = 0; c < C; c++) out_i[c] = (x[c] - m) * s * weight[c] + bias[c];
        mean[i] = m;
        rstd[i] = s;
    }
}

void layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                        const float *weight, const float *mean, const float *rstd, int BT, int C) {
    // dinp (BT,C), dweight (C), dbias (C), dout (BT,C), inp (BT,C), weight (C), mean (BT), rstd (BT)
    // forward: out = (inp - mean) * rstd * weight + bias, with norm = (inp - mean) * rstd
    if (dinp) {
#pragma omp parallel for schedule(static)
        for (int i = 0; i < BT; i++) {
            const float *x = inp + (size_t)i * C, *dout_i = dout + (size_t)i * C;
            float *dinp_i = dinp + (size_t)i * C;
            float m = mean[i], s = rstd[i];
            // dnorm = dout * weight; mean and rstd depend on every x, which gives the two row means
            float dnorm_mean = 0.0f, dnorm_norm_mean = 0.0f;
#pragma omp simd reduction(+ : dnorm_mean, dnorm_norm_mean)
            for (int c = 0; c < C; c++) {
                float dnorm = dout_i[c] * weight[c];
                dnorm_mean += dnorm;
                dnorm_norm_mean += dnorm * (x[c] - m) * s;
            }
            dnorm_mean /= C;
            dnorm_norm_mean /= C;
            for (int c = 0; c < C; c++) {
                float norm = (x[c] - m) * s;
                dinp_i[c] += (dout_i[c] * weight[c] - dnorm_mean - norm * dnorm_norm_mean) * s;
            }
        }
    }
    if (dweight || dbias) {
        // dweight += sum over rows of dout * norm, dbias += sum over rows of dout
#pragma omp parallel
        {
            int lo, hi;
            thread_columns(C, &lo, &hi);
            for (int i = 0; i < BT; i++) {
                const float *x = inp + (size_t)i * C, *dout_i = dout + (size_t)i * C;
                float m = mean[i], s = rstd[i];
                for (int c = lo; c < hi; c++) {
                    if (dweight) dweight[c] += dout_i[c] * (x[c] - m) * s;
                    if (dbias) dbias[c] += dout_i[c];
                }
            }
        }
    }
}

void rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, int BT, int C, float eps) {
    // out (BT,C), rstd (BT), inp (BT,C), weight (C)
#pragma omp parallel for schedule(static)
    for (int i = 0; i < BT; i++) {
        const float *x = inp + (size_t)i * C;
        float *out_i = out + (size_t)i * C;
        float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
        for (int c = 0; c < C; c++) ss += x[c] * x[c];
        float s = 1.0f / sqrtf(ss / C + eps);
        for (int c = 0; c < C; c++) out_i[c] = x[c] * s * weight[c];
        rstd[i] = s;
    }
}

void rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp, const float *weight,
                      const float *rstd, int BT, int C) {
    // dinp (BT,C), dweight (C), dout (BT,C), inp (BT,C), weight (C), rstd (BT)
    // forward: out = inp * rstd * weight, rstd = (mean(inp^2) + eps)^(-1/2)
    if (dinp) {
#pragma omp parallel for schedule(static)
        for (int i = 0; i < BT; i++) {
            const float *x = inp + (size_t)i * C, *dout_i = dout + (size_t)i * C;
            float *dinp_i = dinp + (size_t)i * C;
            float s = rstd[i];
            // d rstd / d x_c = -rstd^3 * x_c / C
            float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
            for (int c = 0; c < C; c++) dot += dout_i[c] * weight[c] * x[c];
            float k = s * s * s * dot / C;
            for (int c = 0; c < C; c++) dinp_i[c] += dout_i[c] * weight[c] * s - k * x[c];
        }
    }
    if (dweight) {
#pragma omp parallel
        {
            int lo, hi;
            thread_columns(C, &lo, &hi);
            for (int i = 0; i < BT; i++) {
                const float *x = inp + (size_t)i * C, *dout_i = dout + (size_t)i * C;
                float s = rstd[i];
                for (int c = lo; c < hi; c++) dweight[c] += dout_i[c] * x[c] * s;
            }
        }
    }
}

/* ================================================================================================
 * linear layers */

void matmul_forward(float *out, const float *inp, const float *weight, const float *bias, int BT, int C, int OC) {
    // out (BT,OC), inp (BT,C), weight (OC,C), bias (OC)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BT, OC, C, 1.0f, inp, C, weight, C, 0.0f, out, OC);
    if (bias) {
#pragma omp parallel for schedule(static)
        for (int i = 0; i < BT; i++) {
            float *out_i = out + (size_t)i * OC;
            for (int o = 0; o < OC; o++) out_i[o] += bias[o];
        }
    }
}

void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                     const float *weight, int BT, int C, int OC) {
    // dinp (BT,C), dweight (OC,C), dbias (OC), dout (BT,OC), inp (BT,C), weight (OC,C)
    // forward: out = inp . weight^T + bias
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, BT, C, OC, 1.0f, dout, OC, weight, C, 1.0f, dinp,
                    C);
    if (dweight)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, BT, 1.0f, dout, OC, inp, C, 1.0f, dweight,
                    C);
    if (dbias) colsum_accumulate(dbias, dout, BT, OC);
}

void lora_forward(float *out, float *t, const float *inp, const float *A, const float *Bw, float scale, int BT,
                  int C, int OC, int R) {
    // out (BT,OC), t (BT,R), inp (BT,C), A (R,C), Bw (OC,R)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BT, R, C, 1.0f, inp, C, A, C, 0.0f, t, R);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BT, OC, R, scale, t, R, Bw, R, 1.0f, out, OC);
}

void lora_backward(float *dinp, float *dA, float *dB, float *dt_scratch, const float *dout, const float *inp,
                   const float *t, const float *A, const float *Bw, float scale, int BT, int C, int OC, int R) {
    // dinp (BT,C), dA (R,C), dB (OC,R), dt_scratch (BT,R), dout (BT,OC), inp (BT,C), t (BT,R), A (R,C),
    // Bw (OC,R)
    // forward: t = inp . A^T ; out += scale * t . Bw^T
    if (dB)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, R, BT, scale, dout, OC, t, R, 1.0f, dB, R);
    if (!dA && !dinp) return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, BT, R, OC, scale, dout, OC, Bw, R, 0.0f, dt_scratch,
                R);
    if (dA)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, R, C, BT, 1.0f, dt_scratch, R, inp, C, 1.0f, dA, C);
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, BT, C, R, 1.0f, dt_scratch, R, A, C, 1.0f, dinp,
                    C);
}

/* ================================================================================================
 * pointwise */

static const float GELU_SCALE = 0.7978845608028654f; /* sqrt(2 / pi) */
static const float GELU_CUBE = 0.044715f;

void gelu_forward(float *out, const float *inp, long N) {
    // out (N), inp (N)
#pragma omp parallel for simd schedule(static)
    for (long i = 0; i < N; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + tanh_approx(GELU_SCALE * (x + GELU_CUBE * x * x * x)));
    }
}

void gelu_backward(float *dinp, const float *inp, const float *dout, long N) {
    // dinp (N), inp (N), dout (N)
    // forward: out = 0.5 * x * (1 + tanh(u)), u = sqrt(2/pi) * (x + 0.044715 x^3)
#pragma omp parallel for simd schedule(static)
    for (long i = 0; i < N; i++) {
        float x = inp[i];
        float th = tanh_approx(GELU_SCALE * (x + GELU_CUBE * x * x * x));
        float du = GELU_SCALE * (1.0f + 3.0f * GELU_CUBE * x * x);
        float grad = 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * du;
        dinp[i] += grad * dout[i];
    }
}

void swiglu_forward(float *out, const float *gate, const float *up, long N) {
    // out (N), gate (N), up (N)
#pragma omp parallel for simd schedule(static)
    for (long i = 0; i < N; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + exp_approx(-g)) * up[i];
    }
}

void swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, long N) {
    // dgate (N), dup (N), dout (N), gate (N), up (N)
    // forward: out = gate * sigmoid(gate) * up
#pragma omp parallel for schedule(static)
    for (long i = 0; i < N; i++) {
        float g = gate[i];
        float sig = 1.0f / (1.0f + exp_approx(-g));
        if (dgate) dgate[i] += dout[i] * up[i] * sig * (1.0f + g * (1.0f - sig));
        if (dup) dup[i] += dout[i] * g * sig;
    }
}

void residual_forward(float *out, const float *a, const float *b, long N) {
    // out (N), a (N), b (N)
#pragma omp parallel for schedule(static)
    for (long i = 0; i < N; i++) out[i] = a[i] + b[i];
}

void residual_backward(float *da, float *db, const float *dout, long N) {
    // da (N), db (N), dout (N)
    // forward: out = a + b
#pragma omp parallel for schedule(static)
    for (long i = 0; i < N; i++) {
        if (da) da[i] += dout[i];
        if (db) db[i] += dout[i];
    }
}

/* ================================================================================================
 * rotary positions */

/* Rotates every head of x by the position's angles; sign = +1 rotates, -1 applies the inverse
 * (the transpose), which is what the backward pass needs. */
static void rope_rotate(float *x, const float *cos_tab, const float *sin_tab, int B, int T, int NHX, int HS,
                        int ld, float sign) {
    // x (B,T,NHX,HS) with row stride ld, cos_tab, sin_tab (maxT,HS/2)
    TB_ASSERT(HS % 2 == 0);
    const int half = HS / 2;
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            float *x_bt = x + ((size_t)b * T + t) * ld;
            const float *cos_t = cos_tab + (size_t)t * half, *sin_t = sin_tab + (size_t)t * half;
            for (int h = 0; h < NHX; h++) {
                float *x_bth = x_bt + (size_t)h * HS;
                for (int i = 0; i < half; i++) {
                    float c = cos_t[i], s = sign * sin_t[i];
                    float x1 = x_bth[i], x2 = x_bth[i + half];
                    x_bth[i] = x1 * c - x2 * s;
                    x_bth[i + half] = x2 * c + x1 * s;
                }
            }
        }
    }
}

void rope_forward(float *x, const float *cos_tab, const float *sin_tab, int B, int T, int NHX, int HS, int ld) {
    rope_rotate(x, cos_tab, sin_tab, B, T, NHX, HS, ld, 1.0f);
}

void rope_backward(float *dx, const float *cos_tab, const float *sin_tab, int B, int T, int NHX, int HS, int ld) {
    // forward: (x1, x2) <- (x1 cos - x2 sin, x2 cos + x1 sin), a rotation R; so dx <- R^T dx
    rope_rotate(dx, cos_tab, sin_tab, B, T, NHX, HS, ld, -1.0f);
}

void rope_table(float *cos_tab, float *sin_tab, int maxT, int HS, float theta) {
    // cos_tab, sin_tab (maxT,HS/2)
    const int half = HS / 2;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < maxT; t++) {
        for (int i = 0; i < half; i++) {
            // double: the angle reaches thousands of radians, where a float argument loses digits
            double angle = t * pow((double)theta, -2.0 * i / HS);
            cos_tab[(size_t)t * half + i] = (float)cos(angle);
            sin_tab[(size_t)t * half + i] = (float)sin(angle);
        }
    }
}

/* ================================================================================================
 * attention
 *
 * Per (b, head) the score block is (T, P+T): columns 0..P-1 are the prefix slots, column P+s is key s.
 * q, k, v and their gradients are (T,HS) panels addressed with their own row strides, so they can sit
 * inside a fused (B,T,3C) qkv buffer. The full T x T product is computed and the upper triangle masked:
 * one sgemm beats triangular bookkeeping at the sizes this suite trains. */

/* The per-head sgemms are many and small, so the OpenMP team runs them one per thread. A pthreads
 * OpenBLAS would add its own thread pool inside every member of the team and oversubscribe the cores
 * (measured: attention backward several times slower at 2 OpenMP x 2 BLAS threads on 2 cores), so
 * BLAS is single-threaded for the duration of the team. An OpenMP OpenBLAS already runs serially
 * inside a parallel region, and there openblas_set_num_threads would resize our team: leave it alone.
 * Returns the BLAS thread count to restore. */
static int blas_serial_begin(void) {
    int n = openblas_get_num_threads();
    if (openblas_get_parallel() == 1 && n > 1) openblas_set_num_threads(1);
    return n;
}

static void blas_serial_end(int n) {
    if (openblas_get_parallel() == 1 && n > 1) openblas_set_num_threads(n);
}

/* Offset of the (T,HS) panel of head h of sequence b in a (B,T,heads*HS) tensor of row stride ld. */
static size_t head_offset(int b, int h, int T, int HS, int ld) { return (size_t)b * T * ld + (size_t)h * HS; }

/* One score row: softmax over its n visible columns, exact zeros in the width - n masked ones. */
static void causal_softmax_row(float *row, int n, int width) {
    float maxv = row[0];
#pragma omp simd reduction(max : maxv)
    for (int j = 1; j < n; j++) maxv = row[j] > maxv ? row[j] : maxv;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < n; j++) {
        row[j] = exp_approx(row[j] - maxv);
        sum += row[j];
    }
    float inv = 1.0f / sum;
    for (int j = 0; j < n; j++) row[j] *= inv;
    for (int j = n; j < width; j++) row[j] = 0.0f;
}

void attention_forward(float *out, float *att, const float *q, const float *k, const float *v, const float *pk,
                       const float *pv, int B, int T, int P, int NH, int NKV, int HS, int ldq, int ldkv) {
    // out (B,T,NH*HS), att (B,NH,T,P+T), q (B,T,NH*HS) stride ldq, k, v (B,T,NKV*HS) stride ldkv,
    // pk, pv (P,NKV*HS)
    TB_ASSERT(NKV > 0 && NH % NKV == 0);
    TB_ASSERT(P == 0 || (pk && pv));
    const int C = NH * HS, CKV = NKV * HS, W = P + T, G = NH / NKV;
    const float scale = 1.0f / sqrtf((float)HS);
    const int blas_threads = blas_serial_begin();
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < NH; h++) {
            const int kvh = h / G;
            const float *q_bh = q + head_offset(b, h, T, HS, ldq);       // (T,HS)
            const float *k_bh = k + head_offset(b, kvh, T, HS, ldkv);    // (T,HS)
            const float *v_bh = v + head_offset(b, kvh, T, HS, ldkv);    // (T,HS)
            float *att_bh = att + ((size_t)b * NH + h) * T * W;          // (T,P+T)
            float *out_bh = out + head_offset(b, h, T, HS, C);           // (T,HS)
            // scores = scale * q . [pk ; k]^T
            if (P > 0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, P, HS, scale, q_bh, ldq, pk + kvh * HS,
                            CKV, 0.0f, att_bh, W);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, HS, scale, q_bh, ldq, k_bh, ldkv, 0.0f,
                        att_bh + P, W);
            // query t sees the P prefix slots and keys 0..t
            for (int t = 0; t < T; t++) causal_softmax_row(att_bh + (size_t)t * W, P + t + 1, W);
            // out = att . [pv ; v]
            if (P > 0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, HS, P, 1.0f, att_bh, W, pv + kvh * HS,
                            CKV, 0.0f, out_bh, C);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, HS, T, 1.0f, att_bh + P, W, v_bh, ldkv,
                        P > 0 ? 1.0f : 0.0f, out_bh, C);
        }
    }
    blas_serial_end(blas_threads);
}

/* One score row of the softmax backward, in place: datt (the gradient of the probabilities) becomes
 * the gradient of the pre-scale scores times scale. Masked columns become exact zeros. */
static void softmax_backward_row(float *datt, const float *att, int n, int width, float scale) {
    // forward: att_j = exp(s_j) / sum_i exp(s_i), with s = scale * q.k
    float dot = 0.0f;
    for (int j = 0; j < n; j++) dot += att[j] * datt[j];
    for (int j = 0; j < n; j++) datt[j] = att[j] * (datt[j] - dot) * scale;
    for (int j = n; j < width; j++) datt[j] = 0.0f;
}

void attention_backward(float *dq, float *dk, float *dv, float *dpk, float *dpv, float *datt_scratch,
                        const float *dout, const float *att, const float *q, const float *k, const float *v,
                        const float *pk, const float *pv, int B, int T, int P, int NH, int NKV, int HS, int ldq,
                        int ldkv) {
    // dq (B,T,NH*HS) stride ldq, dk, dv (B,T,NKV*HS) stride ldkv, dpk, dpv (P,NKV*HS),
    // datt_scratch (B,NH,T,P+T), dout (B,T,NH*HS), att (B,NH,T,P+T), q, k, v, pk, pv as in the forward
    // forward: scores = scale * q . [pk ; k]^T ; att = causal_softmax(scores) ; out = att . [pv ; v]
    //
    // Three passes, each writing disjoint gradient panels so no two threads ever add to the same float:
    //   1. over (b, h): datt, the softmax backward (kept in datt_scratch) and dq;
    //   2. over (b, kv head): dk and dv, summed over the query heads of the group;
    //   3. over kv heads: dpk and dpv, summed over the batch and the group (the prefix is shared by all b).
    TB_ASSERT(NKV > 0 && NH % NKV == 0);
    TB_ASSERT(P == 0 || (pk && pv));
    const int C = NH * HS, CKV = NKV * HS, W = P + T, G = NH / NKV;
    const float scale = 1.0f / sqrtf((float)HS);
    const int blas_threads = blas_serial_begin();

#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < NH; h++) {
            const int kvh = h / G;
            const float *dout_bh = dout + head_offset(b, h, T, HS, C);   // (T,HS)
            const float *k_bh = k + head_offset(b, kvh, T, HS, ldkv);    // (T,HS)
            const float *v_bh = v + head_offset(b, kvh, T, HS, ldkv);    // (T,HS)
            const float *att_bh = att + ((size_t)b * NH + h) * T * W;    // (T,P+T)
            float *ds_bh = datt_scratch + ((size_t)b * NH + h) * T * W;  // (T,P+T)
            // datt = dout . [pv ; v]^T
            if (P > 0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, P, HS, 1.0f, dout_bh, C, pv + kvh * HS,
                            CKV, 0.0f, ds_bh, W);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, HS, 1.0f, dout_bh, C, v_bh, ldkv, 0.0f,
                        ds_bh + P, W);
            for (int t = 0; t < T; t++)
                softmax_backward_row(ds_bh + (size_t)t * W, att_bh + (size_t)t * W, P + t + 1, W, scale);
            // dq += dscores . [pk ; k]  (scale is already inside dscores)
            if (dq) {
                float *dq_bh = dq + head_offset(b, h, T, HS, ldq);
                if (P > 0)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, HS, P, 1.0f, ds_bh, W,
                                pk + kvh * HS, CKV, 1.0f, dq_bh, ldq);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, HS, T, 1.0f, ds_bh + P, W, k_bh, ldkv,
                            1.0f, dq_bh, ldq);
            }
        }
    }

    if (dk || dv) {
#pragma omp parallel for collapse(2) schedule(static)
        for (int b = 0; b < B; b++) {
            for (int kvh = 0; kvh < NKV; kvh++) {
                for (int h = kvh * G; h < (kvh + 1) * G; h++) {
                    const float *q_bh = q + head_offset(b, h, T, HS, ldq);          // (T,HS)
                    const float *dout_bh = dout + head_offset(b, h, T, HS, C);      // (T,HS)
                    const float *att_bh = att + ((size_t)b * NH + h) * T * W;       // (T,P+T)
                    const float *ds_bh = datt_scratch + ((size_t)b * NH + h) * T * W;
                    // dk += dscores^T . q ; dv += att^T . dout  (key columns only)
                    if (dk)
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, HS, T, 1.0f, ds_bh + P, W, q_bh,
                                    ldq, 1.0f, dk + head_offset(b, kvh, T, HS, ldkv), ldkv);
                    if (dv)
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, HS, T, 1.0f, att_bh + P, W,
                                    dout_bh, C, 1.0f, dv + head_offset(b, kvh, T, HS, ldkv), ldkv);
                }
            }
        }
    }

    if (P > 0 && (dpk || dpv)) {
#pragma omp parallel for schedule(static)
        for (int kvh = 0; kvh < NKV; kvh++) {
            for (int b = 0; b < B; b++) {
                for (int h = kvh * G; h < (kvh + 1) * G; h++) {
                    const float *q_bh = q + head_offset(b, h, T, HS, ldq);
                    const float *dout_bh = dout + head_offset(b, h, T, HS, C);
                    const float *att_bh = att + ((size_t)b * NH + h) * T * W;
                    const float *ds_bh = datt_scratch + ((size_t)b * NH + h) * T * W;
                    // dpk += dscores[:, :P]^T . q ; dpv += att[:, :P]^T . dout
                    if (dpk)
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, P, HS, T, 1.0f, ds_bh, W, q_bh, ldq,
                                    1.0f, dpk + kvh * HS, CKV);
                    if (dpv)
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, P, HS, T, 1.0f, att_bh, W, dout_bh,
                                    C, 1.0f, dpv + kvh * HS, CKV);
                }
            }
        }
    }
    blas_serial_end(blas_threads);
}

/* ================================================================================================
 * log-probability head */

void logprob_forward(float *logprob, float *lse, const float *logits, const int *targets, int BT, int V) {
    // logprob (BT), lse (BT), logits (BT,V), targets (BT)
#pragma omp parallel for schedule(static)
    for (int i = 0; i < BT; i++) {
        const float *row = logits + (size_t)i * V;
        // max first (a vectorised pass over a row that stays in L2), then the shifted exponentials
        // (simd reductions: the order of the sum may change, its rounding stays far below the tolerances)
        float maxv = -INFINITY;
#pragma omp simd reduction(max : maxv)
        for (int j = 0; j < V; j++) maxv = row[j] > maxv ? row[j] : maxv;
        double sum = 0.0; /* the log-sum-exp feeds every loss: keep its sum in double */
#pragma omp simd reduction(+ : sum)
        for (int j = 0; j < V; j++) sum += exp_approx(row[j] - maxv);
        float l = maxv + (float)log(sum);
        int target = targets[i];
        TB_ASSERT(target < V);
        lse[i] = l;
        logprob[i] = target >= 0 ? row[target] - l : 0.0f;
    }
}

void softce_forward(float *ce, const float *logits, const float *lse, const float *const *soft, int BT, int V) {
    // ce (BT), logits (BT,V), lse (BT), soft BT rows of (V) or NULL
#pragma omp parallel for schedule(static)
    for (int i = 0; i < BT; i++) {
        const float *q = soft[i], *row = logits + (size_t)i * V;
        double s = 0.0;
        if (q) {
#pragma omp simd reduction(+ : s)
            for (int j = 0; j < V; j++) s -= (double)q[j] * (row[j] - lse[i]);
        }
        ce[i] = (float)s;
    }
}

void logprob_backward_inplace(float *logits, const float *lse, const int *targets, const float *dlogprob,
                              const float *const *soft, const float *dsoft, int BT, int V) {
    // logits (BT,V) in, dlogits (BT,V) out; lse (BT), targets (BT), dlogprob (BT), soft BT rows of (V)
    // forward: logprob = logits[target] - logsumexp(logits)
    //          ce = -sum_v soft[v] * (logits[v] - logsumexp(logits))
#pragma omp parallel for schedule(static)
    for (int i = 0; i < BT; i++) {
        float *row = logits + (size_t)i * V;
        int target = targets[i];
        float d = target >= 0 ? dlogprob[i] : 0.0f;
        const float *q = soft ? soft[i] : NULL;
        float ds = q ? dsoft[i] : 0.0f;
        if (d == 0.0f && ds == 0.0f) {
            memset(row, 0, (size_t)V * sizeof(float));
            continue;
        }
        float l = lse[i];
        if (ds == 0.0f) {
#pragma omp simd
            for (int j = 0; j < V; j++) row[j] = -d * exp_approx(row[j] - l);
        } else {
            // dce/dlogits = p - q: the soft term shares the softmax with the logprob term
#pragma omp simd
            for (int j = 0; j < V; j++) row[j] = (ds - d) * exp_approx(row[j] - l) - ds * q[j];
        }
        if (d != 0.0f) row[target] += d;
    }
}
