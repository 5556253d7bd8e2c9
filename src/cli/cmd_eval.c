/* cmd_eval.c: `trustbench eval`: mean token loss and perplexity of a checkpoint on a corpus, and
 * optionally its capability (multiple-choice accuracy on the world-knowledge questions). */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "data/data.h"
#include "io/io.h"
#include "model/model.h"
#include "train/train.h"
#include "workloads/workloads.h"

typedef struct {
    const char *corpus;
    int batch, threads, seq_len, capability;
    float val_fraction;
    long seed;
} eval_opts;

/* The scorer is collective: a serial eval runs it on MPI_COMM_SELF of a singleton MPI. */
static int print_capability(tb_model *m, const tb_tokenizer *tok, int batch) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized && MPI_Init(NULL, NULL) != MPI_SUCCESS)
        return TB_ERROR(TB_ERR_MPI, "check the MPI installation (mpirun --version)", "eval: MPI_Init failed");
    double acc = 0.0;
    const tb_fact *facts;
    int rc = tb_capability_accuracy(m, tok, batch, MPI_COMM_SELF, &acc);
    if (rc == TB_OK)
        printf("capability  %d multiple-choice world-knowledge questions  accuracy %.4f  (chance 0.25)\n",
               tb_world_facts(&facts), acc);
    if (!initialized) MPI_Finalize();
    return rc;
}

static int run(const char *path, const eval_opts *o) {
    cli_set_threads(o->threads);
    tb_model m;
    tb_tokenizer tok;
    TB_CHECK(tb_checkpoint_load(path, &m, &tok, NULL));
    int T = o->seq_len > 0 ? o->seq_len : m.cfg.max_seq_len;
    char *text = NULL;
    size_t len = 0;
    tb_token_windows train, val;
    memset(&val, 0, sizeof val);
    memset(&train, 0, sizeof train);
    int rc = T <= m.cfg.max_seq_len ? TB_OK
                                    : TB_ERROR(TB_ERR_ARG, "use --seq-len at most the model's max_seq_len",
                                               "--seq-len %d exceeds the model's %d", T, m.cfg.max_seq_len);
    if (rc == TB_OK) rc = tb_corpus_load(o->corpus, (uint64_t)o->seed, &text, &len);
    /* a user corpus is scored whole; the embedded one on the validation tail pretrain held out */
    int whole = o->corpus != NULL;
    if (rc == TB_OK) rc = tb_corpus_windows(&tok, text, len, T, whole ? 0.0f : o->val_fraction, &train, whole ? NULL : &val);
    tb_token_windows *w = whole ? &train : &val;
    double loss = 0.0;
    if (rc == TB_OK) {
        tb_window_sampler s;
        tb_sampler_init(&s, w, o->batch, 1, 0);
        rc = tb_eval_loss(&m, tb_sampler_eval_batch, &s, (w->n_windows + o->batch - 1) / o->batch, o->batch, T, NULL, &loss);
        tb_sampler_free(&s);
    }
    if (rc == TB_OK)
        printf("windows %ld  tokens %ld  loss %.6f  perplexity %.4f\n", w->n_windows, w->n_windows * (long)T, loss,
               exp(loss));
    if (rc == TB_OK && o->capability) rc = print_capability(&m, &tok, o->batch);
    tb_free(text);
    tb_windows_free(&train);
    tb_windows_free(&val);
    tb_tokenizer_free(&tok);
    tb_model_free(&m);
    TB_CHECK(rc);
    return TB_OK;
}

int cmd_eval(int argc, char **argv) {
    eval_opts o = {.corpus = NULL, .batch = 8, .threads = 0, .seq_len = 0, .capability = 0, .val_fraction = 0.05f,
                   .seed = 1234};
    const cli_option opts[] = {
        {"corpus", OPT_STRING, &o.corpus, "text file scored whole (default: the embedded corpus's validation tail)"},
        {"seed", OPT_LONG, &o.seed, "seed of the embedded corpus (as given to pretrain)"},
        {"val-fraction", OPT_FLOAT, &o.val_fraction, "validation tail of the embedded corpus (as given to pretrain)"},
        {"seq-len", OPT_INT, &o.seq_len, "window length (0 = the model's max_seq_len)"},
        {"batch", OPT_INT, &o.batch, "windows per forward pass"},
        {"threads", OPT_INT, &o.threads, "BLAS and OpenMP threads (0 = environment default)"},
        {"capability", OPT_FLAG, &o.capability,
         "also the multiple-choice accuracy on the world-knowledge questions (posttrain's capability retention)"},
    };
    cli_command cmd = {"eval", "Prints the mean next-token loss and perplexity of a checkpoint (and, with --capability,\n"
                               "its multiple-choice accuracy on the embedded corpus's world-knowledge questions).",
                       "trustbench eval CHECKPOINT [options]", opts, (int)(sizeof opts / sizeof opts[0])};
    const char *pos[1];
    int n_pos;
    int rc = cli_parse(&cmd, argc, argv, pos, 1, &n_pos);
    if (rc != TB_OK) return rc;
    if (n_pos != 1) return TB_ERROR(TB_ERR_ARG, cmd.usage, "eval: name one checkpoint");
    if (o.batch < 1) return TB_ERROR(TB_ERR_ARG, "use --batch >= 1", "eval: --batch %d", o.batch);
    return run(pos[0], &o);
}
