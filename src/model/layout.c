/* layout.c: declares a model's tensors under Hugging Face names, layer-major, adds adapter
 * tensors, initialises weights, and resolves per-layer pointers for forward and backward. */
#include <math.h>
#include <string.h>

#include "layout.h"

/* ---- names ----------------------------------------------------------------------------------- */

static const char *gpt2_layer_names[LW_COUNT] = {
    [LW_LN1W] = "ln_1.weight",        [LW_LN1B] = "ln_1.bias",       [LW_QW] = "attn.c_attn.weight",
    [LW_QB] = "attn.c_attn.bias",     [LW_OW] = "attn.c_proj.weight", [LW_OB] = "attn.c_proj.bias",
    [LW_LN2W] = "ln_2.weight",        [LW_LN2B] = "ln_2.bias",       [LW_UPW] = "mlp.c_fc.weight",
    [LW_UPB] = "mlp.c_fc.bias",       [LW_DOWNW] = "mlp.c_proj.weight", [LW_DOWNB] = "mlp.c_proj.bias",
};
static const char *llama_layer_names[LW_COUNT] = {
    [LW_LN1W] = "input_layernorm.weight", [LW_QW] = "self_attn.q_proj.weight", [LW_QB] = "self_attn.q_proj.bias",
    [LW_KW] = "self_attn.k_proj.weight",  [LW_KB] = "self_attn.k_proj.bias",   [LW_VW] = "self_attn.v_proj.weight",
    [LW_VB] = "self_attn.v_proj.bias",    [LW_OW] = "self_attn.o_proj.weight",
    [LW_LN2W] = "post_attention_layernorm.weight", [LW_UPW] = "mlp.up_proj.weight",
    [LW_GATEW] = "mlp.gate_proj.weight",  [LW_DOWNW] = "mlp.down_proj.weight",
};
static const char *lin_names[LIN_COUNT] = {"q", "k", "v", "o", "up", "gate", "down"};

unsigned tb_family_linears(tb_family f) {
    if (f == TB_FAMILY_GPT2) return TB_LORA_Q | TB_LORA_O | TB_LORA_UP | TB_LORA_DOWN;
    return 0x7f;
}

int tb_linear_out(const tb_config *c, int k) {
    int HS = c->n_embd / c->n_head, KVC = c->n_kv_head * HS;
    switch (k) {
    case LIN_Q: return c->family == TB_FAMILY_GPT2 ? 3 * c->n_embd : c->n_embd;
    case LIN_K: case LIN_V: return KVC;
    case LIN_O: case LIN_DOWN: return c->n_embd;
    default: return c->ffn_hidden; /* up, gate */
    }
}

int tb_linear_in(const tb_config *c, int k) { return k == LIN_DOWN ? c->ffn_hidden : c->n_embd; }

/* ---- declaration ----------------------------------------------------------------------------- */

static int add(tb_paramset *ps, const char *name, int d0, int d1) {
    int shape[2] = {d0, d1};
    tb_paramset_add(ps, name, d1 > 0 ? 2 : 1, shape);
    return ps->n_tensors - 1;
}

static void declare_layer(tb_model *m, int l) {
    const tb_config *c = &m->cfg;
    int C = c->n_embd, F = c->ffn_hidden;
    int gpt2 = c->family == TB_FAMILY_GPT2;
    int *idx = m->layout->layer + (size_t)l * LW_COUNT;
    const char **names = gpt2 ? gpt2_layer_names : llama_layer_names;
    char name[TB_NAME_MAX];
    for (int s = 0; s < LW_COUNT; s++) {
        idx[s] = -1;
        if (!names[s]) continue;
        int is_bias = strstr(names[s], ".bias") != NULL;
        if (!gpt2 && is_bias && !c->qkv_bias) continue;
        snprintf(name, sizeof name, gpt2 ? "transformer.h.%d.%s" : "model.layers.%d.%s", l, names[s]);
        int rows, cols;
        switch (s) {
        case LW_LN1W: case LW_LN1B: case LW_LN2W: case LW_LN2B: rows = C; cols = 0; break;
        case LW_QW: rows = tb_linear_out(c, LIN_Q); cols = C; break;
        case LW_QB: rows = tb_linear_out(c, LIN_Q); cols = 0; break;
        case LW_KW: case LW_VW: rows = tb_linear_out(c, LIN_K); cols = C; break;
        case LW_KB: case LW_VB: rows = tb_linear_out(c, LIN_K); cols = 0; break;
        case LW_OW: rows = C; cols = C; break;
        case LW_OB: case LW_DOWNB: rows = C; cols = 0; break;
        case LW_UPW: case LW_GATEW: rows = F; cols = C; break;
        case LW_UPB: rows = F; cols = 0; break;
        default: rows = C; cols = F; break; /* LW_DOWNW */
        }
        idx[s] = add(&m->params, name, rows, cols);
    }
}

int tb_model_create(tb_model *m, const tb_config *cfg) {
    TB_CHECK(tb_config_validate(cfg));
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    m->capture_layer = -1;
    tb_paramset_init(&m->params);
    tb_paramset_init(&m->adapter);
    m->layout = tb_malloc(sizeof *m->layout);
    m->layout->layer = tb_malloc((size_t)cfg->n_layer * LW_COUNT * sizeof(int));
    for (int i = 0; i < GW_COUNT; i++) m->layout->global[i] = -1;

    int C = cfg->n_embd, V = cfg->vocab_size;
    int gpt2 = cfg->family == TB_FAMILY_GPT2;
    m->layout->global[GW_WTE] = add(&m->params, gpt2 ? "transformer.wte.weight" : "model.embed_tokens.weight", V, C);
    if (gpt2) m->layout->global[GW_WPE] = add(&m->params, "transformer.wpe.weight", cfg->max_seq_len, C);
    for (int l = 0; l < cfg->n_layer; l++) declare_layer(m, l);
    m->layout->global[GW_LNFW] = add(&m->params, gpt2 ? "transformer.ln_f.weight" : "model.norm.weight", C, 0);
    if (gpt2) m->layout->global[GW_LNFB] = add(&m->params, "transformer.ln_f.bias", C, 0);
    if (!cfg->tie_embeddings) m->layout->global[GW_HEAD] = add(&m->params, "lm_head.weight", V, C);
    tb_paramset_alloc(&m->params);
    int n_units = cfg->n_layer + 2;
    m->layout->unit_begin = tb_malloc((size_t)n_units * sizeof(size_t));
    m->layout->unit_data = tb_malloc((size_t)n_units * sizeof(float *));
    m->layout->unit_grad = tb_malloc((size_t)n_units * sizeof(float *));
    for (int u = -1; u <= cfg->n_layer; u++) {
        size_t b, e;
        tb_model_layer_range(m, &m->params, u, &b, &e);
        m->layout->unit_begin[u + 1] = b;
    }
    return TB_OK;
}

int tb_model_add_adapters(tb_model *m, const tb_adapter_config *acfg, uint64_t seed) {
    const tb_config *c = &m->cfg;
    if (m->adapter.n_tensors > 0)
        return TB_ERROR(TB_ERR_ARG, "create the model again to change its adapters", "the model already has adapters");
    if (acfg->n_prefix < 0 || acfg->n_prefix > 4096)
        return TB_ERROR(TB_ERR_ARG, "prefix length is the number of virtual tokens per layer, 0..4096",
                        "prefix length %d out of range", acfg->n_prefix);
    if (acfg->lora_rank < 0 || acfg->lora_rank > c->n_embd)
        return TB_ERROR(TB_ERR_ARG, "LoRA rank must be between 0 and the model width",
                        "LoRA rank %d out of range (width %d)", acfg->lora_rank, c->n_embd);
    unsigned have = tb_family_linears(c->family);
    if (acfg->lora_rank > 0 && (acfg->lora_targets & ~have))
        return TB_ERROR(TB_ERR_ARG, "gpt2 has the linear layers q (fused c_attn), o, up (c_fc) and down (c_proj)",
                        "LoRA targets 0x%x include layers the %s family does not have", acfg->lora_targets,
                        tb_family_name(c->family));
    if (acfg->lora_rank > 0 && !(acfg->lora_alpha > 0.0f))
        return TB_ERROR(TB_ERR_ARG, "lora alpha scales the update (alpha / rank); a typical value is 2 * rank",
                        "LoRA alpha %g must be positive", (double)acfg->lora_alpha);
    m->acfg = *acfg;
    if (acfg->n_prefix == 0 && acfg->lora_rank == 0) return TB_OK;

    int L = c->n_layer, KVC = c->n_kv_head * (c->n_embd / c->n_head);
    m->layout->adapter = tb_malloc((size_t)L * AW_COUNT * sizeof(int));
    char name[TB_NAME_MAX];
    for (int l = 0; l < L; l++) {
        int *idx = m->layout->adapter + (size_t)l * AW_COUNT;
        for (int s = 0; s < AW_COUNT; s++) idx[s] = -1;
        if (acfg->n_prefix > 0) {
            snprintf(name, sizeof name, "prefix.%d.key", l);
            idx[AW_PK] = add(&m->adapter, name, acfg->n_prefix, KVC);
            snprintf(name, sizeof name, "prefix.%d.value", l);
            idx[AW_PV] = add(&m->adapter, name, acfg->n_prefix, KVC);
        }
        for (int k = 0; k < LIN_COUNT && acfg->lora_rank > 0; k++) {
            if (!(acfg->lora_targets & (1u << k))) continue;
            snprintf(name, sizeof name, "lora.%d.%s.A", l, lin_names[k]);
            idx[AW_LORA0 + 2 * k] = add(&m->adapter, name, acfg->lora_rank, tb_linear_in(c, k));
            snprintf(name, sizeof name, "lora.%d.%s.B", l, lin_names[k]);
            idx[AW_LORA0 + 2 * k + 1] = add(&m->adapter, name, tb_linear_out(c, k), acfg->lora_rank);
        }
    }
    tb_paramset_alloc(&m->adapter);
    /* adapter matrices are trained as they are; decay on them is the optimizer config's choice */
    tb_rng r = tb_rng_make(seed, tb_rng_stream_id("adapter-init"));
    for (int i = 0; i < m->adapter.n_tensors; i++) {
        tb_tensor *t = &m->adapter.tensors[i];
        float *w = m->adapter.data + t->offset;
        size_t len = strlen(t->name);
        if (t->name[len - 1] == 'A') { /* PEFT: A ~ Kaiming-uniform = U(+-1/sqrt(in)), B = 0 */
            float bound = 1.0f / sqrtf((float)t->shape[1]);
            for (size_t j = 0; j < t->numel; j++) w[j] = (2.0f * tb_rng_uniform(&r) - 1.0f) * bound;
        } else if (strncmp(t->name, "prefix.", 7) == 0) { /* small random keys/values, like N(0, 0.02) weights */
            for (size_t j = 0; j < t->numel; j++) w[j] = 0.02f * tb_rng_normal(&r);
        }
    }
    return TB_OK;
}

void tb_model_init(tb_model *m, uint64_t seed) {
    tb_rng r = tb_rng_make(seed, tb_rng_stream_id("init"));
    float resid_std = 0.02f / sqrtf(2.0f * (float)m->cfg.n_layer);
    for (int i = 0; i < m->params.n_tensors; i++) {
        tb_tensor *t = &m->params.tensors[i];
        float *w = m->params.data + t->offset;
        const char *n = t->name;
        int is_norm = strstr(n, "ln_") || strstr(n, "layernorm") || strstr(n, "norm.weight");
        if (t->ndim == 1) { /* norm weights 1, every bias and norm bias 0 */
            float v = (is_norm && strstr(n, ".weight")) ? 1.0f : 0.0f;
            for (size_t j = 0; j < t->numel; j++) w[j] = v;
            continue;
        }
        /* the projections that write into the residual stream are scaled by 1/sqrt(2L) (GPT-2) */
        int resid = strstr(n, "c_proj.weight") || strstr(n, "o_proj") || strstr(n, "down_proj");
        float std = resid ? resid_std : 0.02f;
        for (size_t j = 0; j < t->numel; j++) w[j] = std * tb_rng_normal(&r);
    }
}

size_t tb_model_num_params(const tb_model *m, int exclude_positions) {
    size_t n = 0;
    for (int i = 0; i < m->params.n_tensors; i++) {
        if (exclude_positions && i == m->layout->global[GW_WPE]) continue;
        n += m->params.tensors[i].numel;
    }
    return n;
}

/* The tensors are declared layer-major, so a layer's tensors are one contiguous run of the table. */
void tb_model_layer_range(const tb_model *m, const tb_paramset *ps, int l, size_t *begin, size_t *end) {
    int L = m->cfg.n_layer, first = -1, last = -1;
    int is_base = ps == &m->params;
    *begin = *end = 0;
    if (!is_base && ps != &m->adapter) { /* a ParamSet of its own (a reparameterisation): one unit, l = -1 */
        if (l == -1) *end = ps->numel;
        return;
    }
    const int *idx = is_base ? m->layout->layer : m->layout->adapter;
    int width = is_base ? LW_COUNT : AW_COUNT;
    if (!idx || ps->n_tensors == 0) return;
    /* the first and last tensor index of every block, from the index table */
    int lo = ps->n_tensors, hi = -1;
    for (int j = 0; j < L * width; j++)
        if (idx[j] >= 0) {
            lo = idx[j] < lo ? idx[j] : lo;
            hi = idx[j] > hi ? idx[j] : hi;
        }
    if (l == -1) {
        first = 0;
        last = lo - 1;
    } else if (l == L) {
        first = hi + 1;
        last = ps->n_tensors - 1;
    } else {
        first = ps->n_tensors;
        for (int s = 0; s < width; s++) {
            int t = idx[(size_t)l * width + s];
            if (t < 0) continue;
            first = t < first ? t : first;
            last = t > last ? t : last;
        }
    }
    if (first > last || first >= ps->n_tensors) {
        size_t at = first < ps->n_tensors ? ps->tensors[first].offset : ps->numel;
        *begin = *end = at;
        return;
    }
    *begin = ps->tensors[first].offset;
    *end = last + 1 < ps->n_tensors ? ps->tensors[last + 1].offset : ps->numel;
}

/* ---- pointer resolution ---------------------------------------------------------------------- */

static void resolve(const tb_paramset *ps, int idx, float **w, float **g) {
    if (idx < 0) {
        *w = *g = NULL;
        return;
    }
    const tb_tensor *t = &ps->tensors[idx];
    *w = ps->data + t->offset;
    *g = t->frozen ? NULL : ps->grad + t->offset;
}

/* A base tensor of unit u: from params, or from the unit's acquired buffers under a provider. */
static void resolve_base(const tb_model *m, int u, int idx, float **w, float **g) {
    if (!m->provider || idx < 0) {
        resolve(&m->params, idx, w, g);
        return;
    }
    const tb_tensor *t = &m->params.tensors[idx];
    const tb_layout *L = m->layout;
    TB_ASSERT(L->unit_data[u + 1] != NULL); /* used without acquire: a bug in the caller */
    size_t rel = t->offset - L->unit_begin[u + 1];
    *w = L->unit_data[u + 1] + rel;
    *g = t->frozen || !L->unit_grad[u + 1] ? NULL : L->unit_grad[u + 1] + rel;
}

void tb_unit_acquire(tb_model *m, int u, int for_backward) {
    if (!m->provider || m->layout->unit_data[u + 1]) return; /* unit -1 may be held across the head */
    m->provider->acquire(m->provider->ctx, u, for_backward, &m->layout->unit_data[u + 1],
                         &m->layout->unit_grad[u + 1]);
}

void tb_unit_release(tb_model *m, int u, int for_backward) {
    if (!m->provider || !m->layout->unit_data[u + 1]) return;
    m->provider->release(m->provider->ctx, u, for_backward);
    m->layout->unit_data[u + 1] = NULL;
    m->layout->unit_grad[u + 1] = NULL;
}

void tb_layer_ptrs_get(const tb_model *m, int l, tb_layer_ptrs *p) {
    const int *idx = m->layout->layer + (size_t)l * LW_COUNT;
    for (int s = 0; s < LW_COUNT; s++) resolve_base(m, l, idx[s], &p->w[s], &p->g[s]);
    for (int s = 0; s < AW_COUNT; s++) {
        int a = m->layout->adapter ? m->layout->adapter[(size_t)l * AW_COUNT + s] : -1;
        resolve(&m->adapter, a, &p->aw[s], &p->ag[s]);
    }
}

void tb_global_ptrs_get(const tb_model *m, tb_global_ptrs *p) {
    for (int s = 0; s < GW_COUNT; s++) {
        int u = s == GW_WTE || s == GW_WPE ? -1 : m->cfg.n_layer;
        int idx = m->layout->global[s];
        /* under a provider only the acquired units resolve; the others stay NULL until acquired */
        if (m->provider && idx >= 0 && !m->layout->unit_data[u + 1]) {
            p->w[s] = p->g[s] = NULL;
            continue;
        }
        resolve_base(m, u, idx, &p->w[s], &p->g[s]);
    }
    if (m->cfg.tie_embeddings) { /* the head is the token embedding */
        p->w[GW_HEAD] = p->w[GW_WTE];
        p->g[GW_HEAD] = p->g[GW_WTE];
    }
}

int tb_model_copy(tb_model *dst, const tb_model *src) {
    TB_CHECK(tb_model_create(dst, &src->cfg));
    int rc = tb_model_add_adapters(dst, &src->acfg, 0);
    if (rc != TB_OK) {
        tb_model_free(dst);
        return rc;
    }
    memcpy(dst->params.data, src->params.data, src->params.numel * sizeof(float));
    if (src->adapter.numel) memcpy(dst->adapter.data, src->adapter.data, src->adapter.numel * sizeof(float));
    for (int t = 0; t < src->params.n_tensors; t++) dst->params.tensors[t].frozen = src->params.tensors[t].frozen;
    return TB_OK;
}
