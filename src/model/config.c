/* config.c: one config for both families, with defaults and validation that names the field. */
#include <string.h>
#include <strings.h>

#include "model.h"

static const char *family_names[] = {"gpt2", "llama"};

const char *tb_family_name(tb_family f) { return (unsigned)f < 2 ? family_names[f] : "unknown"; }

int tb_family_parse(const char *s, tb_family *out) {
    for (int i = 0; i < 2; i++)
        if (strcasecmp(s, family_names[i]) == 0) {
            *out = (tb_family)i;
            return TB_OK;
        }
    return TB_ERROR(TB_ERR_ARG, "the model family must be gpt2 or llama", "unknown model family '%s'", s);
}

void tb_config_defaults(tb_config *c, tb_family family, int L, int C, int NH, int V, int maxT) {
    memset(c, 0, sizeof *c);
    c->family = family;
    c->n_layer = L;
    c->n_embd = C;
    c->n_head = NH;
    c->n_kv_head = NH;
    c->vocab_size = V;
    c->max_seq_len = maxT;
    c->norm_eps = 1e-5f;
    c->rope_theta = 10000.0f;
    if (family == TB_FAMILY_GPT2) {
        c->ffn_hidden = 4 * C;
        c->tie_embeddings = 1;
    } else {
        /* Llama's SwiGLU keeps the MLP's parameter count near 4C·2C by using 2/3 of 4C, rounded to 32 */
        c->ffn_hidden = ((8 * C / 3) + 31) / 32 * 32;
        c->tie_embeddings = 0;
    }
}

#define RANGE(field, lo, hi, hint)                                                                      \
    if (c->field < (lo) || c->field > (hi))                                                             \
    return TB_ERROR(TB_ERR_ARG, hint, "model config: %s = %g is out of range [%g, %g]", #field,         \
                    (double)c->field, (double)(lo), (double)(hi))

int tb_config_validate(const tb_config *c) {
    if (c->family != TB_FAMILY_GPT2 && c->family != TB_FAMILY_LLAMA)
        return TB_ERROR(TB_ERR_ARG, "the model family must be gpt2 or llama", "model config: unknown family %d",
                        (int)c->family);
    RANGE(n_layer, 1, 1024, "use at least one layer");
    RANGE(n_embd, 2, 65536, "n_embd is the model width C");
    RANGE(n_head, 1, 1024, "n_head must divide n_embd");
    RANGE(n_kv_head, 1, 1024, "n_kv_head must divide n_head");
    RANGE(vocab_size, 261, 1 << 24, "the vocabulary holds 256 bytes and 5 special tokens at least");
    RANGE(max_seq_len, 1, 1 << 20, "max_seq_len bounds T");
    RANGE(ffn_hidden, 1, 1 << 20, "ffn_hidden is the MLP width");
    if (!(c->norm_eps > 0.0f && c->norm_eps < 1.0f))
        return TB_ERROR(TB_ERR_ARG, "a typical value is 1e-5", "model config: norm_eps = %g must be in (0, 1)",
                        (double)c->norm_eps);
    if (c->n_embd % c->n_head != 0)
        return TB_ERROR(TB_ERR_ARG, "choose n_head dividing n_embd", "model config: n_embd %d is not a multiple of n_head %d",
                        c->n_embd, c->n_head);
    if (c->n_head % c->n_kv_head != 0)
        return TB_ERROR(TB_ERR_ARG, "grouped-query attention needs n_head to be a multiple of n_kv_head",
                        "model config: n_head %d is not a multiple of n_kv_head %d", c->n_head, c->n_kv_head);
    if (c->family == TB_FAMILY_GPT2) {
        if (c->n_kv_head != c->n_head)
            return TB_ERROR(TB_ERR_ARG, "grouped-query attention is a llama option",
                            "model config: gpt2 needs n_kv_head == n_head (got %d, %d)", c->n_kv_head, c->n_head);
        if (!c->tie_embeddings)
            return TB_ERROR(TB_ERR_ARG, "gpt2 ties the output head to the token embedding",
                            "model config: gpt2 with tie_embeddings = 0");
    } else {
        int HS = c->n_embd / c->n_head;
        if (HS % 2 != 0)
            return TB_ERROR(TB_ERR_ARG, "rotary embeddings rotate pairs: pick n_embd / n_head even",
                            "model config: llama head size %d is odd", HS);
        if (!(c->rope_theta > 1.0f))
            return TB_ERROR(TB_ERR_ARG, "a typical value is 10000", "model config: rope_theta = %g must be > 1",
                            (double)c->rope_theta);
    }
    return TB_OK;
}

int tb_lora_targets_parse(const char *s, unsigned *out) {
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"q", TB_LORA_Q},   {"k", TB_LORA_K},       {"v", TB_LORA_V},      {"o", TB_LORA_O},
                 {"up", TB_LORA_UP}, {"gate", TB_LORA_GATE}, {"down", TB_LORA_DOWN}};
    unsigned bits = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *tok = strtok(buf, ", "); tok; tok = strtok(NULL, ", ")) {
        if (strcmp(tok, "all") == 0) {
            bits |= 0x7f;
            continue;
        }
        unsigned found = 0;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strcmp(tok, names[i].name) == 0) found = names[i].bit;
        if (!found)
            return TB_ERROR(TB_ERR_ARG, "LoRA targets are a comma list of q, k, v, o, up, gate, down or all",
                            "unknown LoRA target '%s'", tok);
        bits |= found;
    }
    if (!bits) return TB_ERROR(TB_ERR_ARG, "name at least one of q, k, v, o, up, gate, down", "empty LoRA target list");
    *out = bits;
    return TB_OK;
}
