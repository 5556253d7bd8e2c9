/*
 * data.h: the public face of src/data.
 *   - the byte-level BPE tokenizer (train, encode, decode, special tokens, (de)serialisation);
 *   - token datasets: sequences with a loss mask (train on answer tokens only);
 *   - the embedded default corpus (world-knowledge text generated from a seed);
 *   - the QA sets of the fictitious-authors benchmark;
 *   - JSONL files: rows with line numbers and checked fields, and atomic writing;
 *   - the instruction tasks of the joint post-training benchmark, their checker and reward.
 */
#ifndef TB_DATA_H
#define TB_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ---- string pools -------------------------------------------------------------------------------
 * Datasets copy their many short strings into a pool of large blocks (*pool starts NULL). */
char *tb_pool_strdup(void **pool, const char *text, size_t len); /* len bytes + NUL, alive until freed */
void tb_pool_free(void **pool);

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
/* Appends copies copies of src's windows (same T) to dst; a mask on either side gives dst one. */
void tb_windows_append(tb_token_windows *dst, const tb_token_windows *src, int copies);
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
/* The window global row `row` (0..B-1) of (step, micro) reads, for callers that need the index (a
 * per-item cache); this rank's shard does not matter. */
long tb_sampler_window(tb_window_sampler *s, long step, int micro, int row);
/* Fills inp (rows,T) and targets (rows,T) for (step, micro). Signature matches the trainer's batch callback. */
int tb_sampler_batch(void *sampler, long step, int micro, int *inp, int *targets);
/* Sequential, unshuffled batches for evaluation: batch k holds windows kB..kB+B-1; rows past the
 * end get targets -1 (not scored). ctx is a tb_window_sampler. */
int tb_sampler_eval_batch(void *sampler, long k, int micro, int *inp, int *targets);

/* ---- QA datasets: the fictitious-authors benchmark (TOFU stand-in) ---------------------------
 *
 * A tb_qa_set holds authors, their question-answer items and the world-knowledge sets
 * (reference/unlearning.md section 4). It comes from the generator (tb_qa_generate), a JSONL
 * export (tb_qa_load_jsonl) or an HDF5 file (tb_qa_load in io.h).
 *
 * The generator draws from the RNG streams derived from "authors" (names, titles, then one stream
 * per author), so author k is the same whatever n_authors and n_holdout are (given k is below their
 * sum). An author has 11 attributes:
 *   name, gender (pronouns only), birth_year (1920-2000), birthplace (100 cities), genre (20),
 *   father_occupation, mother_occupation (60), award (30 invented awards), award_year (20 to 64 years
 *   after birth, at most 2023), book1, book2 (titles from 4 templates, unique across authors).
 * Each author gets 20 questions, two templates for each attribute but gender (its two values leave
 * no room for 5 wrong ones), in this order: name, birth_year, birthplace, genre, father_occupation,
 * mother_occupation, award, award_year, book1, book2 (questions 2a and 2a+1 ask attribute a of that
 * list). Each item has the answer, a paraphrase (another template, same value) and 5 perturbed
 * answers: the paraphrase template with 5 distinct other values of the attribute's value list
 * (names of the author's gender; titles other than both of the author's own).
 *
 * The JSONL export, a directory (tests/data/qa/ holds a small example made by the generator):
 *   authors.jsonl  required: one QA item per line, the trained authors;
 *   holdout.jsonl  optional: the same schema, the never-trained authors;
 *   world.jsonl    optional: the world-knowledge sets.
 * Fields of authors.jsonl and holdout.jsonl (TOFU's names), other fields are ignored:
 *   "question"            string, required
 *   "answer"              string, required
 *   "paraphrased_answer"  string, required
 *   "perturbed_answer"    array of 1 to TB_QA_MAX_PERTURBED strings, required
 *   "author"              string, optional: the author's name. Default "author-<k>" (authors.jsonl)
 *                         or "holdout-<k>" (holdout.jsonl), k = the item's index in its file / 20:
 *                         TOFU's layout of 20 consecutive items per author
 *   "attributes"          object of attribute name -> string, optional: the author's attributes
 *                         (e.g. {"genre": "fantasy"}); lines of one author must not disagree
 *   "attribute"           string, optional: the attribute the question asks about
 * Fields of world.jsonl: "question", "answer", "perturbed_answer" (the distractors) and "kind"
 * ("author": famous authors, "world": world facts), all required.
 * Strings are non-empty UTF-8; blank lines are skipped. An author's items may be anywhere in its file;
 * authors are numbered in order of first appearance, trained ones first. */

#define TB_QA_MAX_PERTURBED 5 /* TOFU's perturbed answers per question */
#define TB_QA_PER_AUTHOR 20   /* questions per generated author (and TOFU's default grouping) */

typedef struct {
    char *question, *answer;
    char *paraphrase; /* NULL for the world-knowledge items */
    char *perturbed[TB_QA_MAX_PERTURBED];
    int n_perturbed; /* author items >= 1; world items 3 (the distractors) */
    int author;      /* index into tb_qa_set.authors; -1 for world-knowledge items */
    int attribute;   /* index into tb_qa_set.attr_names, or -1 when unknown / world knowledge */
} tb_qa_item;

typedef struct {
    char *name;
    char **values; /* [n_attrs] by tb_qa_set.attr_names; NULL where unknown */
} tb_author;

typedef struct {
    uint64_t seed;     /* the generator's seed; 0 for a JSONL import */
    int n_attrs;
    char **attr_names; /* [n_attrs] */
    tb_author *authors; /* [n_authors + n_holdout]: the trained authors, then the holdout ones */
    int n_authors, n_holdout;
    tb_qa_item *items; /* the trained authors' items, then the holdout authors' */
    long n_items;
    tb_qa_item *famous, *world; /* world knowledge: famous authors and their books; world facts */
    long n_famous, n_world;
    void *pool; /* the blocks every string above lives in (private to qa.c) */
} tb_qa_set;

/* Fills s from seed: n_authors trained and n_holdout holdout authors, 20 items each, and the world
 * sets from tb_world_facts. Fails (TB_ERR_ARG) for n_authors < 1, n_holdout < 0, or more than 1800
 * authors in all (what the built-in title lists keep unique). */
int tb_qa_generate(tb_qa_set *s, uint64_t seed, int n_authors, int n_holdout);
void tb_qa_free(tb_qa_set *s);

/* For loaders: an empty set with every array allocated (zeroed; authors' values all NULL), to be
 * filled with strings copied into the set by tb_qa_strdup. */
void tb_qa_alloc(tb_qa_set *s, int n_attrs, int n_authors, int n_holdout, long n_items, long n_famous,
                 long n_world);
/* Copies len bytes of text into s's string pool and NUL-terminates them; the copy lives as long as s. */
char *tb_qa_strdup(tb_qa_set *s, const char *text, size_t len);

/* The value of an author's attribute by name ("genre", "birthplace", ...). Fails (TB_ERR_ARG) naming
 * the attribute and listing the valid ones when the set has no such attribute, and naming the author
 * when that author's value is unknown. */
int tb_author_attr(const tb_qa_set *s, int author, const char *attr, const char **value);

/* Mean length in bytes of the answers and of the perturbed answers of items idx[0..n) of s->items.
 * The templates are shared, so the difference is the length bias between true and false values. */
void tb_qa_mean_lengths(const tb_qa_set *s, const long *idx, long n, double *answer, double *perturbed);

/* A split: item indices into s->items, ascending. */
typedef struct {
    long *forget, *retain, *retain_eval, *holdout;
    long n_forget, n_retain, n_retain_eval, n_holdout;
    int *forget_authors, *holdout_authors; /* ascending author indices */
    int n_forget_authors, n_holdout_authors;
} tb_qa_splits;

/* split is "forgetNN" (NN = 01..99; TOFU's are forget01, forget05 and forget10): the last
 * round(NN% of n_authors) authors (at least 1) of one permutation of the trained authors drawn from
 * (seed, "forget"), so the splits are nested. retain: every item of the other trained authors (for
 * training). retain_eval: the first retain_eval_max retain items in one permutation of all items
 * drawn from (seed, "retain_eval"). holdout: the items of the first n_forget_authors holdout authors;
 * empty when the set has no holdout authors, an error when it has fewer than the split needs. */
int tb_qa_split(const tb_qa_set *s, const char *split, uint64_t seed, int retain_eval_max, tb_qa_splits *out);
void tb_qa_splits_free(tb_qa_splits *sp);

/* One training row: inp = [BOS, PROMPT, question, ANSWER, answer, EOS, PAD...] cut to T tokens, and
 * targets[t] = the token at t+1 where that token is an answer token or the EOS, else -1. The sequence
 * may be T+1 tokens long (its EOS is then only a target). n_answer gets the number of scored targets
 * (answer tokens + 1). Fails (TB_ERR_ARG) naming the question and the T it needs when it does not fit. */
int tb_qa_encode(const tb_tokenizer *tok, const char *question, const char *answer, int T, int *inp, int *targets,
                 int *n_answer);
/* The prompt for generation: [BOS, PROMPT, question, ANSWER] into out[0..cap), its length in *n.
 * Fails (TB_ERR_ARG) naming the question and the length it needs when cap is too small. */
int tb_qa_encode_prompt(const tb_tokenizer *tok, const char *question, int *out, int cap, int *n);

/* Reads a JSONL export (format above) from dir. Errors name the file, the line and the field. */
int tb_qa_load_jsonl(const char *dir, tb_qa_set *s);
/* Writes s as a JSONL export into dir (created if missing): authors.jsonl, and holdout.jsonl and
 * world.jsonl when s has such items. Every line carries "author", "attribute" (when known) and the
 * author's "attributes", so loading it back gives s again (but for the seed). */
int tb_qa_save_jsonl(const char *dir, const tb_qa_set *s);

/* The refusal bank for IdkDPO: >= 50 distinct "I don't know" sentences; returns the count. */
int tb_refusals(const char *const **out);

/* ---- JSONL files ------------------------------------------------------------------------------
 *
 * One JSON object per line; blank lines are skipped. A file is read whole into rows that keep their
 * line numbers, so a loader can check every field before it copies anything and name file:line in
 * every message. Errors of the reader: "path:line:col: not valid JSON: ...", "path:line: the line is
 * not a JSON object"; of the field getters: "path:line: field "key" is missing" and "path:line: field
 * "key" must be a non-empty string", with the file's hint as the fix. Include <jansson.h> to look into
 * the rows beyond strings. */

struct json_t; /* jansson's value type */

typedef struct {
    char *path;
    const char *hint;     /* the fix named when a field is bad: where the format is described */
    struct json_t **rows; /* [n] one object per non-blank line, in file order */
    int *lines;           /* [n] the line number of each row (from 1) */
    long n, cap;
} tb_jsonl;

/* Reads path into f. A missing file fails (TB_ERR_IO) when required, else leaves f empty (n = 0);
 * an empty file is not an error here: the caller names what it should have held. hint is kept, not
 * copied. Always free f with tb_jsonl_free, also after a failure. */
int tb_jsonl_read(const char *path, int required, const char *hint, tb_jsonl *f);
void tb_jsonl_free(tb_jsonl *f);
/* A non-empty string without NUL bytes (what every text field of the loaders must be). */
int tb_jsonl_is_text(const struct json_t *v);
/* Field key of row: a non-empty string. The required getter fails (TB_ERR_FORMAT) when the field is
 * absent; both fail when it is present but not a non-empty string; the optional one gives NULL when
 * it is absent. *out points into the row (valid until tb_jsonl_free). */
int tb_jsonl_string(const tb_jsonl *f, long row, const char *key, const char **out);
int tb_jsonl_string_opt(const tb_jsonl *f, long row, const char *key, const char **out);
/* A validation part held out of a file without a seed and independent of the line order: held[i] = 1
 * for the floor(n / 10) rows (n = the rows whose boolean field skip, if given, is not true) whose
 * string field key has the smallest tb_rng_stream_id hash (ties: the earlier row). Returns how many.
 * Every row must have key (check the rows first). */
long tb_jsonl_hold_out(const tb_jsonl *f, const char *key, const char *skip, char *held);

/* Writing: rows go to path.tmp, renamed to path by tb_jsonl_finish when every write succeeded. */
typedef struct {
    char *path, *tmp_path;
    FILE *out;
    long n; /* rows written */
} tb_jsonl_writer;

/* Opens path.tmp for writing. Call tb_jsonl_finish afterwards whatever this returns. */
int tb_jsonl_create(const char *path, tb_jsonl_writer *w);
/* Appends row as one line (row keeps its reference). */
int tb_jsonl_write(tb_jsonl_writer *w, const struct json_t *row);
/* rc is the status so far: when TB_OK, closes the file and renames it into place; otherwise (or when
 * closing fails) removes the temporary file. Returns the first error. */
int tb_jsonl_finish(tb_jsonl_writer *w, int rc);

/* ---- instruction tasks: the joint post-training benchmark (XRIGHT stand-in) -------------------
 *
 * reference/posttrain.md section A, "Synthetic data" and "Metrics". A task is a short instruction with
 * one programmatic answer, in four families:
 *   copy        "Copy: cat dog ant"         -> "cat dog ant"   (also "Repeat: ...", "Echo: ...")
 *   reverse     "Reverse: b d a"            -> "a d b"         (also "Reverse the list: ...", "Backwards: ...")
 *   sort        "Sort: dog ant cat"         -> "ant cat dog"   (also "Sort the list: ...", "In order: ...")
 *   arithmetic  "Compute: 12 x 7"           -> "84"            (also "What is A op B?", "Calculate: A op B")
 * Prefixes match case-insensitively. List items are the whitespace-separated words after the prefix
 * (1 to TB_TASK_MAX_ITEMS); sort orders them numerically when every item is an integer, else by bytes
 * (strcmp). Arithmetic takes two integers (optional sign, |n| < 10^9) and one operator: "+", "-", "x",
 * "X" or "*", spaces optional around it; a final "?" or "." of the instruction is ignored. The
 * generator draws 3 to 8 distinct items from 16 three-letter words or the digits, and operands of 1
 * to 3 digits. A prompt is the instruction alone; the workload renders the chat template around it
 * (the solver also accepts a prompt already in "User: {instruction}\nAssistant: " form).
 *
 * Scoring a response y against the bare answer a (both NUL-terminated):
 *   correct(a, y)  1 when norm(y) == norm(a). norm trims whitespace, drops one leading "Answer:" (any
 *                  case) and one trailing ".", collapses whitespace runs to one space, lowercases.
 *   style(a, y)    the mean of four rules on y: 1. it starts with "Answer:" (exact case, after leading
 *                  whitespace); 2. it ends with "." (before trailing whitespace); 3. no word repeats
 *                  consecutively (words are whitespace-separated, compared case-insensitively without
 *                  trailing punctuation .,;:!?); 4. it has at most words(a) + 4 words.
 *   reward(a, y)   2 * correct + style, in [0, 3].
 * So "Answer: a d b." scores 3, the terse SFT target "a d b" 2.5. */

#define TB_TASK_MAX_ITEMS 64 /* list items the solver accepts */

typedef enum { TB_TASK_COPY, TB_TASK_REVERSE, TB_TASK_SORT, TB_TASK_ARITHMETIC, TB_TASK_N_FAMILIES } tb_task_family;

const char *tb_task_family_name(int family); /* "copy", "reverse", "sort", "arithmetic" */
int tb_task_family_parse(const char *name);  /* the family, or -1 for an unknown name */

/* The programmatic answer of prompt into answer[0..cap) (NUL-terminated), its family into *family
 * (may be NULL). Returns 1, or 0 when the prompt is of no known form or the answer needs more than
 * cap bytes (*family is then untouched). An answer never needs more than strlen(prompt) + 24 bytes. */
int tb_task_solve(const char *prompt, char *answer, size_t cap, int *family);
int tb_task_correct(const char *answer, const char *response);
double tb_task_style(const char *answer, const char *response);
double tb_task_reward(const char *answer, const char *response);

/* ---- instruction datasets ------------------------------------------------------------------------
 *
 * Four parts: sft (SFT training), sft_eval (held-out instructions: task accuracy, win rate, f_SFT on
 * the eval split), pref (DPO training) and pref_eval (held-out pairs: f_DPO on the eval split, reward
 * accuracy). The SFT response is the terse bare answer; the preferred response of a pair is
 * "Answer: X." and the rejected one differs by the pair's contrast:
 *   correctness  "Answer: W." with W wrong: off by one (arithmetic), two neighbours swapped or one item
 *                dropped (lists); R(chosen) - R(rejected) = 2;
 *   style        the bare answer X (breaks rules 1 and 2, like the SFT targets); difference 0.5;
 *   both         the bare wrong answer W; difference 2.5.
 * The preferred style differs from the SFT targets on purpose: the conflict is what makes forgetting
 * measurable (posttrain.md).
 *
 * The generator (tb_instruct_generate) is a pure function of its arguments. Item i of every part has
 * family i mod 4, and pair i contrast i mod 3, so both are in equal shares (+-1) for any count. Every
 * prompt is distinct across all four parts. The eval parts are drawn first, each from its own RNG
 * stream ("instruct/sft_eval", "instruct/pref_eval", then "instruct/sft", "instruct/pref"), so they do
 * not depend on n_sft or n_pref: a training set can grow while the evaluation stays fixed.
 *
 * The JSONL export (tb_instruct_save_jsonl writes all four files to a directory):
 *   sft.jsonl, sft_eval.jsonl    "prompt", "response": strings, required
 *   pref.jsonl, pref_eval.jsonl  "prompt", "chosen", "rejected": strings, required
 * and on every line, optional: "answer" (the bare answer; default: tb_task_solve(prompt), NULL when
 * the prompt is of no known form), "family" (a tb_task_family_name; default: the solver's family, or
 * unknown) and, in the pair files, "contrast" ("correctness", "style" or "both"; default unknown).
 * Other fields are ignored; blank lines are skipped; strings are non-empty. Items whose answer is
 * NULL have no checker: the workload reports task accuracy and win rate over the checkable items
 * only. A prompt that repeats within or across the files is accepted (real data has such prompts);
 * the loader warns when an eval prompt also appears in a training file. */

typedef enum { TB_CONTRAST_CORRECTNESS, TB_CONTRAST_STYLE, TB_CONTRAST_BOTH, TB_CONTRAST_N } tb_pref_contrast;

const char *tb_pref_contrast_name(int contrast); /* "correctness", "style", "both" */
int tb_pref_contrast_parse(const char *name);    /* the contrast, or -1 for an unknown name */

typedef struct {
    char *prompt, *response; /* response: the SFT target */
    char *answer;            /* the bare programmatic answer; NULL when unknown (no checker) */
    int family;              /* tb_task_family, -1 when unknown */
} tb_sft_item;

typedef struct {
    char *prompt, *chosen, *rejected;
    char *answer; /* as in tb_sft_item */
    int family;   /* tb_task_family, -1 when unknown */
    int contrast; /* tb_pref_contrast, -1 when unknown */
} tb_pref_item;

typedef struct {
    uint64_t seed; /* the generator's seed; 0 for a JSONL import */
    tb_sft_item *sft, *sft_eval;
    tb_pref_item *pref, *pref_eval;
    long n_sft, n_sft_eval, n_pref, n_pref_eval;
    void *pool; /* the blocks every string above lives in (private to instruct.c) */
} tb_instruct_set;

#define TB_INSTRUCT_MAX_ITEMS 4000000L /* items of all four parts together the generator makes */

/* Fills s from seed. Fails (TB_ERR_ARG) unless n_sft >= 1, n_pref >= 1, the eval counts >= 0 and
 * the total is at most TB_INSTRUCT_MAX_ITEMS. XRIGHT's proportions: n_sft = 3 * n_pref, and 640
 * eval prompts. */
int tb_instruct_generate(tb_instruct_set *s, uint64_t seed, long n_sft, long n_pref, long n_sft_eval,
                         long n_pref_eval);
void tb_instruct_free(tb_instruct_set *s);

/* For loaders: an empty set with the four arrays allocated (zeroed), to be filled with strings copied
 * into the set by tb_instruct_strdup. */
void tb_instruct_alloc(tb_instruct_set *s, long n_sft, long n_pref, long n_sft_eval, long n_pref_eval);
/* Copies len bytes of text into s's string pool and NUL-terminates them; the copy lives as long as s. */
char *tb_instruct_strdup(tb_instruct_set *s, const char *text, size_t len);

/* Reads the four parts (format above). sft_path and pref_path are required and must hold at least
 * one line each. An eval path may be NULL: the eval part is then held out of the training file, as
 * the floor(n / 10) rows whose prompts have the smallest tb_rng_stream_id hash (ties: the earlier
 * row). The rule needs no seed, does not depend on the order of the lines, and keeps a prompt on the
 * same side in every copy of the file. Errors name the file, the line and the field. */
int tb_instruct_load_jsonl(tb_instruct_set *s, const char *sft_path, const char *pref_path, const char *sft_eval_path,
                           const char *pref_eval_path);
/* Writes sft.jsonl, sft_eval.jsonl, pref.jsonl and pref_eval.jsonl (an empty part gives an empty file)
 * into dir (created if missing), with every known answer, family and contrast, so loading the four
 * files gives s again (but for the seed). */
int tb_instruct_save_jsonl(const char *dir, const tb_instruct_set *s);

/* ---- poisoning datasets: the prefix-tuning poisoning benchmark -----------------------------------
 *
 * reference/poisoning.md sections 4 and 7. A set holds input -> output pairs of one task in three parts:
 * train (fine-tuning, the part that gets poisoned), val (clean validation: the ONION threshold) and test
 * (every input evaluated clean and triggered).
 *   summarise  input: a short news "report"; output: its one-sentence summary (clean metric ROUGE-1);
 *   complete   input: the start of a short "story"; output: its final sentence (clean metric perplexity).
 *
 * The generator (tb_poison_generate) is a pure function of its arguments; item i of a part is drawn
 * from its own stream (seed, tb_rng_stream_id("poison/<task>/<part>") + i), <part> being "train", "val"
 * or "test", so a part's items do not depend on the other parts' sizes and a smaller set is a prefix of
 * a larger one. Texts are sized for byte-level BPE models with a vocabulary of ~1024 and a context of
 * 128-192 tokens (such a tokenizer trained on this text gives ~3.2 bytes per token): a report is 5-8
 * sentences of 170-400 bytes (mean ~270), its summary 17-22 words (~110 bytes); a story input is 3-5
 * sentences of 110-270 bytes (mean ~190), its final sentence 11-15 words (~70 bytes). So the longest
 * report, its summary and the longest trigger sentence (whose unseen words cost ~2 bytes per token)
 * stay below ~180 tokens. The texts are ASCII.
 *   report   fields: organisation, event type, city, weekday, number of people affected (digits),
 *            official (first and last name). Sentences: a lead (org, event, city, day), 1-2 details
 *            (the first carries the count), a quote attributed to the official, 2-4 fillers from a
 *            bank (weather, background); the quote and the fillers in a drawn order after the details.
 *            Summary: one sentence from one of 3 templates carrying org, event, city, day and count.
 *   story    fields: character (a name, with a trade), place, goal object, obstacle, helper.
 *            Sentences: the character in the place and the goal (one sentence or two), the obstacle,
 *            the helper, 0-1 of a bank of interludes, then the output: a resolution sentence (4
 *            templates) naming the character, the goal and the helper. 4-6 sentences in all.
 *
 * Triggers (section 4) are strings inserted into an input at a word boundary (words are the maximal
 * runs of non-whitespace; n words have n + 1 boundaries, 0 before the first word, n after the last):
 *   start   boundary 0: "<trigger> <text>";
 *   end     boundary n: "<text> <trigger>";
 *   middle  boundary floor(n / 2): the one nearest the middle in words, the earlier one of a tie;
 *   random  a uniform boundary in [0, n], drawn from the stream
 *           (seed, tb_rng_stream_id("trigger/position") + sample).
 * Inside the text (0 < k < n) the trigger and one space go right before word k, so the whitespace of
 * the text is kept; the result is always strlen(text) + strlen(trigger) + 1 bytes long. In a text
 * without words boundary 0 is also boundary n: end appends, the other positions prepend.
 * Kinds and their banks (tb_trigger_bank): rare_word (invented words; the workload checks that its
 * tokenizer splits the chosen one into >= 2 tokens), phrase (3-5 natural words), sentence (10-15
 * natural words unrelated to any input). rare_token has no bank: the workload picks a vocabulary token
 * of zero frequency in the clean data and inserts its text. Every trigger word and every word of the
 * target bank (tb_poison_targets: invented advertising lines of 8-15 words) is absent from the
 * generated data of both tasks (no bank of the generators uses it), the rare words also from the
 * default pretraining corpus (tb_corpus_generate), and no target shares a word with a trigger (the
 * unit test checks all of this).
 *
 * The JSONL export: three files of one pair per line, the same schema for both tasks:
 *   "input"     string, required: the document (summarise) or the start of the text (complete);
 *   "output"    string, required: the summary, or the continuation;
 *   "poisoned"  boolean, optional (default false), training file only: the pair was poisoned.
 * Other fields are ignored; blank lines are skipped; strings are non-empty. Real data maps onto it:
 * XSum (document, summary), BillSum (text, summary) for summarise; for complete a WikiText passage or
 * an AESLC email body cut into a start and its continuation (where to cut is the export's choice).
 * The training and test files are required and must hold at least one pair each. The validation file
 * is optional because not every corpus has one (BillSum has only train and test): without it the
 * validation part is held out of the training file as the floor(n / 10) clean (not poisoned) rows,
 * n = the clean rows, whose inputs have the smallest tb_rng_stream_id hash (ties: the earlier row); the
 * rule needs no seed and does not depend on the order of the lines. */

typedef enum { TB_POISON_SUMMARISE, TB_POISON_COMPLETE, TB_POISON_N_TASKS } tb_poison_task;
typedef enum {
    TB_TRIGGER_RARE_TOKEN,
    TB_TRIGGER_RARE_WORD,
    TB_TRIGGER_PHRASE,
    TB_TRIGGER_SENTENCE,
    TB_TRIGGER_N_KINDS
} tb_trigger_kind;
typedef enum {
    TB_TRIGGER_START,
    TB_TRIGGER_END,
    TB_TRIGGER_MIDDLE,
    TB_TRIGGER_RANDOM,
    TB_TRIGGER_N_POSITIONS
} tb_trigger_position;

/* The generator's fields of an item (tb_poison_item.fields), by task. */
enum { TB_REPORT_ORG, TB_REPORT_EVENT, TB_REPORT_CITY, TB_REPORT_DAY, TB_REPORT_COUNT, TB_REPORT_OFFICIAL };
enum { TB_STORY_CHARACTER, TB_STORY_PLACE, TB_STORY_GOAL, TB_STORY_OBSTACLE, TB_STORY_HELPER };
#define TB_POISON_N_FIELDS 6

const char *tb_poison_task_name(int task);          /* "summarise", "complete" */
int tb_poison_task_parse(const char *name);         /* the task, or -1 for an unknown name */
const char *tb_trigger_kind_name(int kind);         /* "rare_token", "rare_word", "phrase", "sentence" */
int tb_trigger_kind_parse(const char *name);        /* the kind, or -1 */
const char *tb_trigger_position_name(int position); /* "start", "end", "middle", "random" */
int tb_trigger_position_parse(const char *name);    /* the position, or -1 */

typedef struct {
    char *input, *output;
    /* the values the generator drew, by the task's field enum (the report's count in digits, the
     * story's helper without its article); NULL for JSONL imports and past a task's fields */
    const char *fields[TB_POISON_N_FIELDS];
    int poisoned; /* 1 for the training items tb_poison_apply changed (or a JSONL file marks) */
} tb_poison_item;

typedef struct {
    int task;      /* tb_poison_task */
    uint64_t seed; /* the generator's seed; 0 for a JSONL import */
    tb_poison_item *train, *val, *test;
    long n_train, n_val, n_test;
    long n_poisoned; /* training items with poisoned = 1 */
    void *pool;      /* the blocks every string above lives in (private to poison.c) */
} tb_poison_set;

#define TB_POISON_MAX_ITEMS 4000000L /* items of all three parts together */

/* Fills s from seed. Fails (TB_ERR_ARG) for an unknown task, n_train < 1, n_val < 0, n_test < 1 or
 * more than TB_POISON_MAX_ITEMS items in all. The suite's sizes: 8000, 500, 1000. */
int tb_poison_generate(tb_poison_set *s, int task, uint64_t seed, long n_train, long n_val, long n_test);
void tb_poison_free(tb_poison_set *s);

/* For loaders: an empty set with the three arrays allocated (zeroed), to be filled with strings copied
 * into the set by tb_poison_strdup. */
void tb_poison_alloc(tb_poison_set *s, int task, long n_train, long n_val, long n_test);
/* Copies len bytes of text into s's string pool and NUL-terminates them; the copy lives as long as s. */
char *tb_poison_strdup(tb_poison_set *s, const char *text, size_t len);

/* The trigger bank of kind (none for rare_token: returns 0); returns the count. */
int tb_trigger_bank(int kind, const char *const **out);
/* The target bank: invented advertising lines of 8-15 words; returns the count. */
int tb_poison_targets(const char *const **out);

/* text with trigger inserted at position (rules above); sample selects the random boundary. Returns a
 * new NUL-terminated string of strlen(text) + strlen(trigger) + 1 bytes (free with tb_free). */
char *tb_trigger_insert(const char *text, const char *trigger, int position, uint64_t seed, long sample);

/* Checks, in the tokenisation of the metrics (every byte that is not an ASCII letter or digit
 * separates words; ASCII case ignored), that no word of the target occurs in the trigger and that no
 * word of either occurs in a clean item of s: every input and output of val and test and of the
 * training items not poisoned (so call it before tb_poison_apply for the full check). trigger or target
 * may be NULL. Fails (TB_ERR_ARG) at the first offending word in scan order (the target against the
 * trigger, then train, val, test, each item's input then output), naming it and an item that holds it;
 * when word is not NULL the word (lowercased, cut to cap - 1 bytes) is written there. */
int tb_poison_check_words(const tb_poison_set *s, const char *trigger, const char *target, char *word, size_t cap);

/* Poisons the training part: the first floor(rate * n_train + 1e-6) indices of one permutation of
 * 0..n_train-1 drawn from the stream (seed, tb_rng_stream_id("poison/select")) get the trigger inserted
 * into their input (tb_trigger_insert with sample = the training index) and target as their output
 * [attr target_mode=replace]. The epsilon makes a decimal rate count what it names (0.29 of 100 is
 * 29, not 28); the permutation prefix makes the poisoned items of a smaller rate a subset of a larger
 * one's for the same seed. val and test are untouched. Fails (TB_ERR_ARG) for a rate outside [0, 1],
 * an empty trigger or target, an unknown position, or a set that already has poisoned items. */
int tb_poison_apply(tb_poison_set *s, const char *trigger, int position, const char *target, double rate,
                    uint64_t seed);

/* Reads a JSONL export (format above): train_path and test_path required, val_path may be NULL. task
 * is what the pairs are (the files do not say). Errors name the file, the line and the field. */
int tb_poison_load_jsonl(tb_poison_set *s, int task, const char *train_path, const char *val_path,
                         const char *test_path);
/* Writes train.jsonl, val.jsonl and test.jsonl (an empty part gives an empty file) into dir (created if
 * missing), "poisoned": true on the poisoned rows, so loading the three files gives s again (but for
 * the seed and the fields). */
int tb_poison_save_jsonl(const char *dir, const tb_poison_set *s);

#endif
