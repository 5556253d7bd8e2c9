/*
 * model.h: the public face of src/model.
 *   - tb_config: one config for both families (gpt2, llama);
 *   - tb_paramset: one flat value buffer, one flat gradient buffer, a table of named tensors;
 *   - tb_model: config + base ParamSet + optional adapter ParamSet (prefix, LoRA) + activations sized
 *     once for (B, T); forward, backward and the hooks the workloads need;
 *   - generation with a KV cache.
 *
 * Tensor names follow Hugging Face (gpt2: "transformer.h.0.attn.c_attn.weight", llama:
 * "model.layers.0.self_attn.q_proj.weight"), but every linear weight is stored (out, in), PyTorch's
 * Linear layout: GPT-2's Conv1D weights are transposed on import. Tensors are laid out layer-major
 * (all of layer 0, then layer 1, ...) so that one layer is one contiguous slice of the flat buffer,
 * which is what ZeRO-3 gathers.
 */
#ifndef TB_MODEL_H
#define TB_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ---- config ---------------------------------------------------------------------------------- */

typedef enum { TB_FAMILY_GPT2 = 0, TB_FAMILY_LLAMA = 1 } tb_family;

typedef struct {
    tb_family family;
    int max_seq_len;  /* maxT */
    int vocab_size;   /* V */
    int n_layer;      /* L */
    int n_head;       /* NH */
    int n_kv_head;    /* NKV: grouped-query attention when < NH (llama only; gpt2 has NKV == NH) */
    int n_embd;       /* C */
    int ffn_hidden;   /* F: MLP hidden size (gpt2: 4C) */
    float norm_eps;   /* LayerNorm / RMSNorm epsilon */
    float rope_theta; /* llama only */
    int qkv_bias;     /* llama: q/k/v projections have biases (gpt2 always has biases) */
    int tie_embeddings; /* gpt2 always; llama optional: 0 adds an untied lm_head.weight */
} tb_config;

/* Fills a config with the family's defaults for the given sizes (F = 4C for gpt2,
 * multiple of 32 near 8C/3 for llama; NKV = NH; eps 1e-5; theta 10000; tied for gpt2, untied for llama). */
void tb_config_defaults(tb_config *c, tb_family family, int L, int C, int NH, int V, int maxT);
/* Checks every field; the error names the offending field and its allowed range. */
int tb_config_validate(const tb_config *c);
const char *tb_family_name(tb_family f);
int tb_family_parse(const char *s, tb_family *out);

/* ---- ParamSet -------------------------------------------------------------------------------- */

#define TB_NAME_MAX 96
#define TB_MAX_DIMS 4

typedef struct {
    char name[TB_NAME_MAX];
    size_t offset; /* into data / grad, in floats; a multiple of 16 (64-byte aligned) */
    size_t numel;
    int ndim;
    int shape[TB_MAX_DIMS];
    int frozen; /* no gradient is computed for it and the optimizer leaves it alone */
    int decay;  /* decoupled weight decay applies (2-D weights and embeddings only) */
} tb_tensor;

typedef struct {
    float *data;      /* values, numel floats */
    float *grad;      /* gradients, numel floats (accumulated by backward) */
    float *grad_mask; /* optional element mask applied before the optimizer step (1 = may update) */
    size_t numel;
    tb_tensor *tensors;
    int n_tensors, cap;
} tb_paramset;

void tb_paramset_init(tb_paramset *ps);
/* Declares a tensor (before tb_paramset_alloc). ndim <= 4; shape given as dims. */
tb_tensor *tb_paramset_add(tb_paramset *ps, const char *name, int ndim, const int *shape);
/* Allocates data and grad (zeroed). */
void tb_paramset_alloc(tb_paramset *ps);
void tb_paramset_free(tb_paramset *ps);
tb_tensor *tb_paramset_find(const tb_paramset *ps, const char *name);
float *tb_paramset_ptr(const tb_paramset *ps, const char *name); /* values, aborts if absent */
void tb_paramset_zero_grad(tb_paramset *ps);
/* Freezes (or thaws) every tensor whose name contains pattern ("" = all); returns the count. */
int tb_paramset_set_frozen(tb_paramset *ps, const char *pattern, int frozen);
size_t tb_paramset_trainable(const tb_paramset *ps);
/* Allocates the element mask (all ones) if absent. */
float *tb_paramset_mask(tb_paramset *ps);

/* ---- adapters -------------------------------------------------------------------------------- */

/* Which linear layers get LoRA: bit flags over the layer kinds of both families. */
enum {
    TB_LORA_Q = 1 << 0,     /* llama q_proj; gpt2 c_attn (fused q,k,v) */
    TB_LORA_K = 1 << 1,     /* llama k_proj */
    TB_LORA_V = 1 << 2,     /* llama v_proj */
    TB_LORA_O = 1 << 3,     /* llama o_proj; gpt2 attn.c_proj */
    TB_LORA_UP = 1 << 4,    /* llama up_proj; gpt2 mlp.c_fc */
    TB_LORA_GATE = 1 << 5,  /* llama gate_proj */
    TB_LORA_DOWN = 1 << 6,  /* llama down_proj; gpt2 mlp.c_proj */
};

typedef struct {
    int n_prefix;     /* P: prefix key/value slots per layer (0 = none) */
    int lora_rank;    /* R (0 = no LoRA) */
    float lora_alpha; /* scale = alpha / R */
    unsigned lora_targets;
} tb_adapter_config;

/* Parses "q,v,o" style target lists (names: q k v o up gate down, or "all"). */
int tb_lora_targets_parse(const char *s, unsigned *out);

/* ---- model ----------------------------------------------------------------------------------- */

typedef struct tb_acts tb_acts;     /* activation buffers, defined in model.c */
typedef struct tb_layout tb_layout; /* tensor index tables, defined in layout.h */

/* Parameter sharding (ZeRO-3). When a model has a provider, the base weights of unit u are not read
 * from params.data but from a buffer the provider fills for the duration of one use: u = -1 is what
 * precedes block 0 (embeddings), 0..L-1 the blocks, L what follows the last block (final norm,
 * untied head); tb_model_layer_range gives each unit's flat range, and the buffers are laid out like
 * params over that range. In backward the provider also gives a zeroed gradient buffer for the unit
 * and takes it back at release, when the unit's gradient is final. params.data and params.grad may
 * then be NULL. Generation needs whole parameters (no provider). */
typedef struct {
    void (*acquire)(void *ctx, int unit, int for_backward, float **data, float **grad);
    void (*release)(void *ctx, int unit, int for_backward);
    void *ctx;
} tb_param_provider;

#define TB_GRAD_PROGRESS (-1000)

typedef struct {
    tb_config cfg;
    tb_paramset params;  /* base weights */
    const tb_param_provider *provider; /* ZeRO-3; NULL: params.data holds every weight */
    tb_paramset adapter; /* prefix.{l}.key/value, lora.{linear name}.A/B; empty when none */
    tb_adapter_config acfg;

    /* (B, T) of the last forward. The activations are sized at the first forward (or tb_model_batch);
     * later forwards may use fewer rows with the same T, anything larger is an error */
    int B, T;
    tb_acts *acts;
    tb_layout *layout;
    float *rope_cos, *rope_sin; /* (maxT, HS/2), llama only */

    /* outputs of the last forward, valid until the next forward */
    float *logits;  /* (B,T,V); after tb_model_backward_begin the same buffer holds dlogits */
    float *lse;     /* (B,T) log-sum-exp per row */
    float *logprob; /* (B,T) log p(target) per position, 0 where target < 0 */
    const int *targets;

    /* hooks */
    /* Called during backward as gradients become final: with l = n_layer after the head and final
     * norm, l = n_layer-1 .. 0 after each block, and l = -1 after the embeddings. Data-parallel
     * training starts reducing a layer's gradients here while the layers below still run. It is also
     * called with l = TB_GRAD_PROGRESS between the matmuls of a block: nothing new is final, but
     * outstanding non-blocking reductions need MPI calls to move. */
    void (*on_grad_ready)(void *ctx, int l);
    void *grad_ready_ctx;
    int capture_layer; /* -1 = none; otherwise hidden() returns block l's residual output */
    int stop_at_capture; /* forward stops after the captured layer (no logits) when set */
} tb_model;

/* Creates a model with parameters declared and allocated (zeroed); init is separate. */
int tb_model_create(tb_model *m, const tb_config *cfg);
/* Adds adapters (prefix slots and/or LoRA) and allocates the adapter ParamSet. */
int tb_model_add_adapters(tb_model *m, const tb_adapter_config *acfg, uint64_t seed);
void tb_model_free(tb_model *m);
/* A new model with src's config, adapters, weights and frozen flags, without its activations: a copy
 * another batch shape can run on (e.g. an attack on a model that must stay as it is). */
int tb_model_copy(tb_model *dst, const tb_model *src);
/* GPT-2 style init from (seed, "init"): N(0, 0.02), residual projections scaled by 1/sqrt(2L),
 * norms weight 1 bias 0, biases 0. */
void tb_model_init(tb_model *m, uint64_t seed);
/* Parameter counts: all, and without the position table (the N of the 6·N·B·T FLOP formula). */
size_t tb_model_num_params(const tb_model *m, int exclude_positions);

/* Buffers (B,T) owned by the model to stage a batch in before tb_model_forward, so a training loop
 * allocates nothing per step. Sizes the activations on first use (same rules as tb_model_forward). */
int tb_model_batch(tb_model *m, int B, int T, int **inp, int **targets);

/* Forward over inp (B,T). targets (B,T) may be NULL (no logprob); entries < 0 are ignored.
 * Computes logits, lse and logprob. Returns an error if (B,T) changes or exceeds maxT. */
int tb_model_forward(tb_model *m, const int *inp, const int *targets, int B, int T);
/* Zeroes parameter gradients (base and adapter) and activation gradients. */
void tb_model_zero_grad(tb_model *m);

/* Backward in two steps, so an objective can shape the output gradient:
 *   1. the objective writes its gradients: dlogprob (B,T) via tb_model_logprob_grad (turns
 *      m->logits into dlogits in place), and/or its own terms directly into m->logits, and/or
 *      a gradient on the captured hidden state via tb_model_hidden_grad;
 *   2. tb_model_backward propagates to every non-frozen parameter (accumulating). */
void tb_model_logprob_grad(tb_model *m, const float *dlogprob);
/* Soft targets (distillation, KL to a reference): soft holds B*T row pointers, each a distribution
 * over the vocabulary (V) or NULL. tb_model_softce gives, after a forward, the cross-entropy
 * ce[bt] = -sum_v soft[bt][v] log p[bt][v] (0 where soft[bt] is NULL); tb_model_head_grad is
 * tb_model_logprob_grad plus dsoft[bt] times the gradient of that cross-entropy, in one pass. */
void tb_model_softce(const tb_model *m, const float *const *soft, float *ce);
void tb_model_head_grad(tb_model *m, const float *dlogprob, const float *const *soft, const float *dsoft);
/* A (B,T) scratch buffer, valid after a forward, for an objective to build dlogprob in. */
float *tb_model_dlogprob(tb_model *m);
float *tb_model_dlogits(tb_model *m); /* m->logits, for objectives that write dlogits themselves */
void tb_model_backward(tb_model *m, int have_dlogits);

/* Captured residual stream of block capture_layer: (B,T,C), and the buffer a gradient on it goes into. */
const float *tb_model_hidden(const tb_model *m);
float *tb_model_hidden_grad(tb_model *m);

/* The flat range [begin, end) of ps (the base or adapter ParamSet of m) that layer l's tensors
 * occupy: l in 0..n_layer-1 for blocks, l = -1 for what precedes block 0 (embeddings), l = n_layer
 * for what follows the last block (final norm, untied head). Empty ranges have begin == end. A
 * ParamSet m does not own (a reparameterisation's) is one unit: all of it at l = -1. */
void tb_model_layer_range(const tb_model *m, const tb_paramset *ps, int l, size_t *begin, size_t *end);

/* Sum of logprob over positions where mask[b,t] != 0: out (B). */
void tb_sequence_logprob(float *out, const float *logprob, const float *mask, int B, int T);

/* ---- generation ------------------------------------------------------------------------------ */

typedef struct {
    int max_new_tokens;
    float temperature; /* 0 = greedy */
    int top_k;         /* 0 = off */
    float top_p;       /* 1 = off */
    int eos_id;        /* stop a row when it emits this token; -1 = never */
    uint64_t seed;
} tb_sample_config;

/* Generates for n prompts at once with a KV cache. prompts[i] has prompt_len[i] tokens.
 * out[i] receives up to max_new_tokens tokens (excluding the prompt), out_len[i] their count
 * (the EOS token, if emitted, is included). prompt_len + max_new_tokens must fit maxT. */
int tb_generate(tb_model *m, const int *const *prompts, const int *prompt_len, int n, const tb_sample_config *sc,
                int **out, int *out_len);

#endif
