/*
 * data.h: the public face of src/data.
 *   - the byte-level BPE tokenizer (train, encode, decode, special tokens, (de)serialisation);
 *   - token datasets: sequences with a loss mask (train on answer tokens only);
 *   - the embedded default corpus (world-knowledge text generated from a seed).
 */
#ifndef TB_DATA_H
#define TB_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ---- tokenizer ------------------------------------------------------------------------------- */

/* Token ids: 0..255 are the raw bytes; then the special tokens in this order; then the merges. */
enum {
    TB_TOK_BOS = 256,
    TB_TOK_EOS = 257,
    TB_TOK_PAD = 258,
    TB_TOK_PROMPT = 259, /* role marker: what follows is the prompt */
    TB_TOK_ANSWER = 260, /* role marker: what follows is the answer */
    TB_TOK_FIRST_MERGE = 261,
};

typedef struct {
    int32_t left, right; /* the pair merged, in merge order (rank = index) */
} tb_merge;

typedef struct {
    int vocab_size;   /* 261 + n_merges */
    int n_merges;
    tb_merge *merges; /* n_merges */
    /* derived lookup structures (built by tb_tokenizer_build_index) */
    uint8_t **token_bytes; /* vocab_size byte strings */
    int *token_len;
    void *index; /* pair -> merged id hash table, private to tokenizer.c */
} tb_tokenizer;

/* Trains byte-level BPE on text until vocab_size tokens exist (or no pair occurs twice).
 * Pre-tokenisation splits text into chunks (runs of letters with one leading space, digits,
 * punctuation, whitespace) so merges never cross chunk borders. Deterministic: ties broken by
 * the smaller pair (left, then right). */
int tb_tokenizer_train(tb_tokenizer *tok, const char *text, size_t len, int vocab_size);
/* Builds a tokenizer from a merge list (as stored in a checkpoint). Validates every merge. */
int tb_tokenizer_from_merges(tb_tokenizer *tok, const tb_merge *merges, int n_merges);
void tb_tokenizer_free(tb_tokenizer *tok);

/* Encodes any byte string (need not be valid UTF-8). Returns the number of tokens written, or, if
 * more than cap would be needed, the number needed (write nothing beyond cap). No BOS/EOS added. */
size_t tb_tokenizer_encode(const tb_tokenizer *tok, const char *text, size_t len, int *out, size_t cap);
/* Decodes tokens to bytes; special tokens decode to nothing unless show_special (then "<|bos|>" etc.).
 * Returns bytes needed (writes at most cap). decode(encode(x)) == x for every byte string x. */
size_t tb_tokenizer_decode(const tb_tokenizer *tok, const int *ids, size_t n, char *out, size_t cap,
                           int show_special);
const char *tb_tokenizer_special_name(int id); /* "<|bos|>", ... or NULL */

/* ---- embedded corpus -------------------------------------------------------------------------- */

/* World-knowledge facts (famous authors and their books, world facts): each has a subject,
 * a question, one true answer and 3 same-kind distractors. */
typedef struct {
    const char *kind;     /* "author" or "world" */
    const char *question; /* e.g. "Who wrote Pride and Prejudice?" */
    const char *answer;   /* e.g. "Jane Austen" */
    const char *distractors[3];
    const char *subject; /* what the templates talk about, e.g. "Pride and Prejudice" */
    const char *relation; /* e.g. "was written by" */
} tb_fact;

int tb_world_facts(const tb_fact **facts); /* the fixed list; returns the count */

/* Generates the default pretraining corpus from a seed: every fact rendered in 20 sentence
 * templates, shuffled with filler sentences, deterministic for a given seed. Returns a malloc'd
 * NUL-terminated string (free with tb_free) and its length. */
char *tb_corpus_generate(uint64_t seed, size_t *len);

/* ---- token datasets -------------------------------------------------------------------------- */

/* Fixed-length training windows (T+1 tokens each) cut from a token stream. */
typedef struct {
    int *tokens;  /* n_windows * (T+1) */
    float *mask;  /* n_windows * T: 1 where the target counts in the loss, or NULL (all count) */
    long n_windows;
    int T;
} tb_token_windows;

/* Cuts a token stream into non-overlapping windows of T+1 tokens (stride T). */
int tb_windows_from_stream(tb_token_windows *w, const int *stream, size_t n, int T);
void tb_windows_free(tb_token_windows *w);
/* Reads path, or generates the embedded corpus from seed when path is NULL or "". */
int tb_corpus_load(const char *path, uint64_t seed, char **text, size_t *len);
/* Encodes text and cuts it into windows of T+1 tokens; the last val_fraction of the stream is the
 * validation split (val may be NULL to skip it). */
int tb_corpus_windows(const tb_tokenizer *tok, const char *text, size_t len, int T, float val_fraction,
                      tb_token_windows *train, tb_token_windows *val);
/* Fills a batch: inp (B,T), targets (B,T) (-1 where masked out) for window indices idx[0..B). */
void tb_windows_batch(const tb_token_windows *w, const long *idx, int B, int *inp, int *targets);

/* Epoch-shuffled sampling of windows. Row b of micro-batch u of step s reads window perm_e[i mod n],
 * with i = (s*accum + u)*B + b, e = i / n and perm_e a shuffle keyed by (seed, e): a pure function of
 * (seed, s, u, b), so data order does not depend on rank count and a resumed run sees the same
 * batches as one that never stopped. */
typedef struct {
    const tb_token_windows *w;
    int B, accum;          /* global batch rows and micro-batches per step */
    int row_first, rows;   /* the rows this rank reads (all B by default; see tb_sampler_shard) */
    uint64_t seed;
    int *perm; /* permutation of epoch perm_epoch (cached) */
    long perm_epoch;
} tb_window_sampler;

void tb_sampler_init(tb_window_sampler *s, const tb_token_windows *w, int B, int accum, uint64_t seed);
void tb_sampler_free(tb_window_sampler *s);
/* Data parallel: this rank reads only rows [first, first + rows) of every global batch. */
void tb_sampler_shard(tb_window_sampler *s, int first, int rows);
/* Fills inp (rows,T) and targets (rows,T) for (step, micro). Signature matches the trainer's batch callback. */
int tb_sampler_batch(void *sampler, long step, int micro, int *inp, int *targets);
/* Sequential, unshuffled batches for evaluation: batch k holds windows kB..kB+B-1; rows past the
 * end get targets -1 (not scored). ctx is a tb_window_sampler. */
int tb_sampler_eval_batch(void *sampler, long k, int micro, int *inp, int *targets);

#endif
