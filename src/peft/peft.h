/*
 * peft.h: the public face of src/peft: prefix-tuning's reparameterisation
 * (../shared/reference/poisoning.md, section 2) and the model's prefix in PEFT's flat order.
 *
 * Layouts. The model holds its prefix as adapter tensors prefix.{l}.key and prefix.{l}.value, each
 * (P, NKV*HS): a row per virtual token, KV head 0's HS values, then head 1's, and so on (what
 * attention reads). PEFT's flat order is (P, 2*L*DT) with DT = NKV*HS: per virtual token the 2L axis is
 * layer-major with K before V (block 2l is layer l's key row, 2l+1 its value row), then heads, then the
 * head dimension. So flat[p, (2l+s)*DT + j] is row p, column j of prefix.{l}.key (s = 0) or .value
 * (s = 1).
 *
 * Reparameterisation. Instead of the prefix, a small MLP is trained, its own ParamSet:
 *     flat = tanh(E . W1^T + b1) . W2^T + b2
 *     E (P,DT) "embedding.weight", W1 (DH,DT) "transform.0.weight", b1 (DH) "transform.0.bias",
 *     W2 (2*L*DT,DH) "transform.2.weight", b2 (2*L*DT) "transform.2.bias"   (PEFT's PrefixEncoder names)
 * Its forward writes the model's prefix tensors; its backward reads the model's prefix gradient. After
 * training it is evaluated once, its output stays in the model as the prefix, and the MLP is dropped.
 *
 * With the trainer (src/train):
 *     tb_prefix_mlp r;  tb_prefix_mlp_create(&r, &m, 0, seed);      (m has prefix slots)
 *     tb_paramset_set_frozen(&m.params, "", 1);                       (the base model is frozen)
 *     tb_optimizer_init(&opt, TB_OPT_ADAMW, &r.params);
 *     tb_trainer tr = {.model = &m, .trainable = &r.params, .reparam = &r.reparam, ...};
 *     ... tb_train_step ...
 *     tb_prefix_mlp_finalise(&r);                                     (m keeps the prefix)
 */
#ifndef TB_PEFT_H
#define TB_PEFT_H

#include <stdint.h>

#include "core/core.h"
#include "model/model.h"
#include "train/train.h"

/* ---- the prefix in PEFT's flat order --------------------------------------------------------- */

/* Writes flat (P, 2*L*DT) into buf, a buffer laid out like m->adapter (its data or its grad); only
 * the prefix tensors' elements are written. m must have prefix slots. */
void tb_prefix_from_flat(float *buf, const tb_model *m, const float *flat);
/* Reads the prefix tensors of buf (laid out like m->adapter) into flat (P, 2*L*DT). */
void tb_prefix_to_flat(float *flat, const tb_model *m, const float *buf);

/* ---- the reparameterisation MLP -------------------------------------------------------------- */

typedef struct {
    tb_model *model;    /* whose prefix tensors the MLP writes; it must outlive the MLP */
    int P, L, DT, DH;   /* virtual tokens, layers, NKV*HS, hidden width */
    tb_paramset params; /* E, W1, b1, W2, b2: the trainer's `trainable` under reparameterisation */
    tb_reparam reparam; /* the trainer's hooks (tr.reparam = &r.reparam); ctx is this struct: do not move it */
    float *act;         /* (P,DH) tanh activations of the last forward, read by backward */
    float *flat;        /* (P,2*L*DT) the last forward's prefix in flat order; in backward its gradient */
    float *dact;        /* (P,DH) backward scratch: gradient of act */
    float *dpre;        /* (P,DH) backward scratch: gradient of the pre-activation */
} tb_prefix_mlp;

/* Creates the MLP for m's prefix and writes its output into m's prefix tensors. d_hidden <= 0 means
 * DT (PEFT's default). m needs prefix slots (tb_adapter_config.n_prefix > 0) that are not frozen
 * (their gradient is what backward reads). Initialisation from (seed, "prefix-mlp-init"):
 * E ~ N(0, 0.02^2) (the suite's prefix_init); W1, b1, W2, b2 as PyTorch initialises a Linear (PEFT's
 * PrefixEncoder keeps that default): uniform on (-1/sqrt(in), 1/sqrt(in)), in = DT for W1 and b1,
 * DH for W2 and b2. */
int tb_prefix_mlp_create(tb_prefix_mlp *r, tb_model *m, int d_hidden, uint64_t seed);
void tb_prefix_mlp_free(tb_prefix_mlp *r);
/* Evaluates the MLP and writes the prefix into the model's prefix tensors. */
void tb_prefix_mlp_forward(tb_prefix_mlp *r);
/* Accumulates into r->params.grad (frozen tensors skipped) the gradient the model's prefix gradient
 * (in m->adapter.grad) implies, through the last forward's activations: the parameters must not have
 * changed since that forward. */
void tb_prefix_mlp_backward(tb_prefix_mlp *r);
/* After training: evaluates the MLP once more, leaves its output as the model's prefix and frees the
 * MLP (only the resulting prefix is kept). */
void tb_prefix_mlp_finalise(tb_prefix_mlp *r);

#endif
