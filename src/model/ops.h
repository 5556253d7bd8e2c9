/*
 * ops.h: the layer kernels of the model, as <op>_forward / <op>_backward pairs.
 *
 * Conventions (llm.c's):
 *   - arguments: outputs, then inputs, then weights, then dimensions;
 *   - backward ACCUMULATES (+=) into every input and weight gradient it is given;
 *     a NULL gradient pointer means "not needed" (frozen weight, or an input with no gradient);
 *   - shapes use B, T, C, V, NH (query heads), NKV (key/value heads), HS (head size), OC (out
 *     channels), P (prefix slots), R (LoRA rank), F (MLP hidden size);
 *   - weights are stored (OC, C), PyTorch's Linear layout; every matmul is cblas_sgemm;
 *   - row-parallel loops are OpenMP-parallel so that non-matmul ops scale with the BLAS threads.
 *
 * This header is internal to src/model (and its tests); model.h is the folder's public face.
 */
#ifndef TB_OPS_H
#define TB_OPS_H

#include <stdint.h>

/* ---- embeddings ------------------------------------------------------------------------------ */

/* out[b,t,:] = wte[inp[b,t],:] + (wpe ? wpe[t,:] : 0)
 * out (B,T,C), inp (B,T), wte (V,C), wpe (maxT,C) or NULL (llama: no learned positions) */
void embedding_forward(float *out, const int *inp, const float *wte, const float *wpe, int B, int T, int C);
/* dwte, dwpe may be NULL (frozen) */
void embedding_backward(float *dwte, float *dwpe, const float *dout, const int *inp, int B, int T, int C);

/* ---- normalisation --------------------------------------------------------------------------- */

/* LayerNorm over C with weight and bias; caches mean and rstd (BT each) for backward.
 * out (BT,C), mean (BT), rstd (BT), inp (BT,C), weight (C), bias (C) */
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                       const float *bias, int BT, int C, float eps);
void layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                        const float *weight, const float *mean, const float *rstd, int BT, int C);

/* RMSNorm: out = inp * rstd * weight, rstd = 1/sqrt(mean(inp^2) + eps); caches rstd (BT). */
void rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight, int BT, int C, float eps);
void rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp, const float *weight,
                      const float *rstd, int BT, int C);

/* ---- linear layers --------------------------------------------------------------------------- */

/* out = inp . weight^T (+ bias).  out (BT,OC), inp (BT,C), weight (OC,C), bias (OC) or NULL */
void matmul_forward(float *out, const float *inp, const float *weight, const float *bias, int BT, int C, int OC);
/* dinp += dout.weight; dweight += dout^T.inp; dbias += colsum(dout); any gradient may be NULL */
void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                     const float *weight, int BT, int C, int OC);

/* LoRA delta on top of a linear layer, never forming B.A:
 * t = inp . A^T (cached, (BT,R)); out += scale * t . B^T.
 * out (BT,OC) accumulated, t (BT,R), inp (BT,C), A (R,C), B (OC,R) */
void lora_forward(float *out, float *t, const float *inp, const float *A, const float *Bw, float scale, int BT,
                  int C, int OC, int R);
/* dB += scale * dout^T.t ; dt = scale * dout.B ; dA += dt^T.inp ; dinp += dt.A
 * dt_scratch (BT,R) is workspace; dinp may be NULL */
void lora_backward(float *dinp, float *dA, float *dB, float *dt_scratch, const float *dout, const float *inp,
                   const float *t, const float *A, const float *Bw, float scale, int BT, int C, int OC, int R);

/* ---- pointwise ------------------------------------------------------------------------------- */

/* GELU, tanh approximation (GPT-2's "gelu_new"). out, inp (N) */
void gelu_forward(float *out, const float *inp, long N);
void gelu_backward(float *dinp, const float *inp, const float *dout, long N);

/* SwiGLU: out = silu(gate) * up.  out, gate, up (N) */
void swiglu_forward(float *out, const float *gate, const float *up, long N);
void swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, long N);

/* out = a + b; backward: da += dout, db += dout */
void residual_forward(float *out, const float *a, const float *b, long N);
void residual_backward(float *da, float *db, const float *dout, long N);

/* ---- rotary positions (llama) ---------------------------------------------------------------- */

/* Rotates x in place, HF's "rotate_half" layout: pairs (i, i + HS/2) of every head.
 * x (B,T,NHX,HS) with row stride ld floats between consecutive (b,t); freq table cos, sin (maxT, HS/2). */
void rope_forward(float *x, const float *cos_tab, const float *sin_tab, int B, int T, int NHX, int HS, int ld);
/* Applies the inverse rotation to the gradient in place (rotation is orthogonal). */
void rope_backward(float *dx, const float *cos_tab, const float *sin_tab, int B, int T, int NHX, int HS, int ld);
/* cos_tab[t, i] = cos(t * theta^(-2i/HS)), likewise sin, for t < maxT, i < HS/2 */
void rope_table(float *cos_tab, float *sin_tab, int maxT, int HS, float theta);

/* ---- attention ------------------------------------------------------------------------------- */

/* Causal multi-head attention with grouped-query heads and optional prefix slots.
 * Query head h reads key/value head h / (NH / NKV). Query t sees all P prefix slots and keys 0..t.
 *   out   (B,T,NH*HS)           row stride C = NH*HS
 *   att   (B,NH,T,P+T)          softmax probabilities, cached for backward (masked entries are 0)
 *   q     (B,T,NH*HS)  rows of stride ldq floats (so q can point into a fused qkv buffer)
 *   k, v  (B,T,NKV*HS) rows of stride ldkv floats
 *   pk, pv (P,NKV*HS) prefix keys and values, or NULL when P == 0
 * scale = 1/sqrt(HS). */
void attention_forward(float *out, float *att, const float *q, const float *k, const float *v, const float *pk,
                       const float *pv, int B, int T, int P, int NH, int NKV, int HS, int ldq, int ldkv);
/* Accumulates into dq, dk, dv (same strides as q, k, v) and dpk, dpv (NULL when not trained).
 * datt_scratch (B,NH,T,P+T) is workspace. */
void attention_backward(float *dq, float *dk, float *dv, float *dpk, float *dpv, float *datt_scratch,
                        const float *dout, const float *att, const float *q, const float *k, const float *v,
                        const float *pk, const float *pv, int B, int T, int P, int NH, int NKV, int HS, int ldq,
                        int ldkv);

/* ---- fused softmax / log-probability head ----------------------------------------------------- */

/* For every row of logits: lse[bt] = logsumexp(logits[bt, :V]) and, where targets[bt] >= 0,
 * logprob[bt] = logits[bt, targets[bt]] - lse[bt] (else 0). Keeps only the one (BT,V) buffer.
 * logits (BT,V), targets (BT), lse (BT), logprob (BT) */
void logprob_forward(float *logprob, float *lse, const float *logits, const int *targets, int BT, int V);
/* Soft-target cross-entropy of the rows that have a target distribution (distillation, KL to a
 * reference): ce[bt] = -sum_v soft[bt][v] * (logits[bt, v] - lse[bt]) where soft[bt] != NULL (else 0).
 * logits (BT,V), lse (BT), soft: BT row pointers, each (V) or NULL, ce (BT) */
void softce_forward(float *ce, const float *logits, const float *lse, const float *const *soft, int BT, int V);
/* Turns logits into dlogits IN PLACE, for a loss that depends on the logits through logprob and,
 * optionally, the soft-target cross-entropy of softce_forward:
 * dlogits[bt, v] = dlogprob[bt] * (1[v == target] - p[v]) + dsoft[bt] * (p[v] - soft[bt][v]),
 * p = softmax(logits[bt]). soft and dsoft may be NULL (no soft term), as may soft[bt]. Rows with no
 * gradient from either term become zero. No second (BT,V) buffer is ever allocated. */
void logprob_backward_inplace(float *logits, const float *lse, const int *targets, const float *dlogprob,
                              const float *const *soft, const float *dsoft, int BT, int V);

#endif
