/* cmd_sample.c: `trustbench sample`: generates continuations of a prompt from a checkpoint. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "io/io.h"
#include "model/model.h"

typedef struct {
    const char *prompt;
    int max_new, top_k, n, threads;
    float temperature, top_p;
    long seed;
} sample_opts;

static int run(const char *path, const sample_opts *o) {
    if (o->n < 1 || o->n > 1024)
        return TB_ERROR(TB_ERR_ARG, "ask for 1 to 1024 samples", "sample: --num-samples %d out of range", o->n);
    cli_set_threads(o->threads);
    tb_model m;
    tb_tokenizer tok;
    TB_CHECK(tb_checkpoint_load(path, &m, &tok, NULL));
    size_t plen = strlen(o->prompt);
    int *prompt = tb_malloc((plen + 2) * sizeof(int));
    prompt[0] = TB_TOK_BOS;
    int np = 1 + (int)tb_tokenizer_encode(&tok, o->prompt, plen, prompt + 1, plen + 1);
    int max_new = o->max_new;
    if (np + max_new > m.cfg.max_seq_len) max_new = m.cfg.max_seq_len - np; /* fill the context, no more */
    int rc = TB_OK;
    if (max_new < 1)
        rc = TB_ERROR(TB_ERR_ARG, "shorten the prompt", "the prompt (%d tokens) fills the model's context of %d", np,
                      m.cfg.max_seq_len);
    tb_sample_config sc = {.max_new_tokens = max_new, .temperature = o->temperature, .top_k = o->top_k,
                           .top_p = o->top_p, .eos_id = TB_TOK_EOS, .seed = (uint64_t)o->seed};
    const int **prompts = tb_malloc((size_t)o->n * sizeof *prompts);
    int *plens = tb_malloc((size_t)o->n * sizeof(int)), *olens = tb_malloc((size_t)o->n * sizeof(int));
    int **outs = tb_malloc((size_t)o->n * sizeof *outs);
    for (int i = 0; i < o->n; i++) {
        prompts[i] = prompt;
        plens[i] = np;
        outs[i] = tb_malloc((size_t)(max_new > 0 ? max_new : 1) * sizeof(int));
    }
    if (rc == TB_OK) rc = tb_generate(&m, prompts, plens, o->n, &sc, outs, olens);
    char *text = tb_malloc((size_t)m.cfg.max_seq_len * 64 + plen + 1);
    for (int i = 0; rc == TB_OK && i < o->n; i++) {
        size_t nb = tb_tokenizer_decode(&tok, outs[i], (size_t)olens[i], text, (size_t)m.cfg.max_seq_len * 64, 0);
        if (o->n > 1) printf("--- sample %d\n", i + 1);
        printf("%s%.*s\n", o->prompt, (int)nb, text);
    }
    for (int i = 0; i < o->n; i++) tb_free(outs[i]);
    tb_free(outs);
    tb_free(olens);
    tb_free(plens);
    tb_free(prompts);
    tb_free(prompt);
    tb_free(text);
    tb_tokenizer_free(&tok);
    tb_model_free(&m);
    TB_CHECK(rc);
    return TB_OK;
}

int cmd_sample(int argc, char **argv) {
    sample_opts o = {.prompt = "", .max_new = 64, .top_k = 0, .n = 1, .threads = 0, .temperature = 0.8f,
                     .top_p = 0.95f, .seed = 1};
    const cli_option opts[] = {
        {"prompt", OPT_STRING, &o.prompt, "text to continue (BOS is prepended)"},
        {"max-new-tokens", OPT_INT, &o.max_new, "tokens to generate at most (stops early at EOS)"},
        {"temperature", OPT_FLOAT, &o.temperature, "softmax temperature; 0 = greedy"},
        {"top-k", OPT_INT, &o.top_k, "sample among the k likeliest tokens (0 = off)"},
        {"top-p", OPT_FLOAT, &o.top_p, "nucleus sampling mass (1 = off)"},
        {"num-samples", OPT_INT, &o.n, "independent samples, generated as one batch"},
        {"seed", OPT_LONG, &o.seed, "sampling seed (same seed, same text)"},
        {"threads", OPT_INT, &o.threads, "BLAS and OpenMP threads (0 = environment default)"},
    };
    cli_command cmd = {"sample", "Generates text from a checkpoint with a KV cache.",
                       "trustbench sample CHECKPOINT [options]", opts, (int)(sizeof opts / sizeof opts[0])};
    const char *pos[1];
    int n_pos;
    int rc = cli_parse(&cmd, argc, argv, pos, 1, &n_pos);
    if (rc != TB_OK) return rc;
    if (n_pos != 1) return TB_ERROR(TB_ERR_ARG, cmd.usage, "sample: name one checkpoint");
    return run(pos[0], &o);
}
