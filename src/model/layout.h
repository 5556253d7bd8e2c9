/*
 * layout.h: how a model's tensors are found in its ParamSets (internal to src/model).
 * Both families share one table of per-layer slots; a slot a family lacks holds -1.
 *   gpt2:  Q = attn.c_attn (fused q,k,v: (3C, C)), O = attn.c_proj, UP = mlp.c_fc, DOWN = mlp.c_proj
 *   llama: Q, K, V, O = self_attn.{q,k,v,o}_proj, GATE, UP, DOWN = mlp.{gate,up,down}_proj
 */
#ifndef TB_MODEL_LAYOUT_H
#define TB_MODEL_LAYOUT_H

#include "model.h"

enum {
    LW_LN1W, LW_LN1B, LW_QW, LW_QB, LW_KW, LW_KB, LW_VW, LW_VB, LW_OW, LW_OB,
    LW_LN2W, LW_LN2B, LW_UPW, LW_UPB, LW_GATEW, LW_DOWNW, LW_DOWNB, LW_COUNT
};
enum { GW_WTE, GW_WPE, GW_LNFW, GW_LNFB, GW_HEAD, GW_COUNT };
/* adapter slots per layer: prefix key/value, then LoRA (A, B) for each of the 7 linear kinds */
enum { AW_PK, AW_PV, AW_LORA0, AW_COUNT = AW_LORA0 + 14 };
enum { LIN_Q, LIN_K, LIN_V, LIN_O, LIN_UP, LIN_GATE, LIN_DOWN, LIN_COUNT };

/* Resolved pointers of one layer: values, and gradients (NULL when the tensor is frozen or absent). */
typedef struct {
    float *w[LW_COUNT], *g[LW_COUNT];
    float *aw[AW_COUNT], *ag[AW_COUNT];
} tb_layer_ptrs;

typedef struct {
    float *w[GW_COUNT], *g[GW_COUNT];
} tb_global_ptrs;

/* Tensor indices, built by tb_model_create / tb_model_add_adapters. */
struct tb_layout {
    int *layer;   /* L * LW_COUNT */
    int global[GW_COUNT];
    int *adapter; /* L * AW_COUNT */
    /* per unit u in -1..L, at index u + 1: where the base weights of the unit start in the flat
     * buffer, and (with a provider) the buffers it acquired */
    size_t *unit_begin;
    float **unit_data, **unit_grad;
};

/* With a provider: makes unit u's weights (and in backward its gradient buffer) available. */
void tb_unit_acquire(tb_model *m, int u, int for_backward);
void tb_unit_release(tb_model *m, int u, int for_backward);

void tb_layer_ptrs_get(const tb_model *m, int l, tb_layer_ptrs *p);
void tb_global_ptrs_get(const tb_model *m, tb_global_ptrs *p);
/* Output width of linear kind k, and its input width. */
int tb_linear_out(const tb_config *c, int k);
int tb_linear_in(const tb_config *c, int k);
/* Builds the rotary cos/sin tables on first use (llama only). */
void tb_model_ensure_rope(tb_model *m);
/* The LIN_* kinds this family has, as TB_LORA_* bits. */
unsigned tb_family_linears(tb_family f);

#endif
