/*
 * tokenizer.c: byte-level BPE (see data.h).
 *
 * Pre-tokenisation cuts text into chunks that merges never cross:
 *   - a run of letters with at most one leading space (" hello");
 *   - a run of digits;
 *   - a run of other non-space bytes (punctuation, control bytes, NUL);
 *   - a run of whitespace (' ', \t, \n, \r, \v, \f), minus its last space when that space starts a word.
 * Bytes >= 128 count as letters, so UTF-8 words (and invalid UTF-8) stay in one chunk.
 * A chunk is at most MAX_CHUNK bytes; longer runs are cut into pieces. The cap bounds the
 * quadratic per-chunk merge loop of encode and the scratch arrays of training.
 *
 * Training counts each unique chunk once, weighted by its frequency, then repeats: take the most
 * frequent pair from a max-heap (ties: smaller (left, right)), rewrite only the chunks that hold it
 * and apply the resulting pair-count deltas. Heap entries are lazy: an entry whose count differs
 * from the pair's current count is stale and skipped.
 */
#include <string.h>

#include "data/data.h"

#define MAX_CHUNK 64
#define N_SPECIAL (TB_TOK_FIRST_MERGE - TB_TOK_BOS)
#define EMPTY_KEY UINT64_MAX /* ids are < 2^31, so no pair key reaches it */

static const char *const special_names[N_SPECIAL] = {"<|bos|>", "<|eos|>", "<|pad|>", "<|prompt|>",
                                                        "<|answer|>"};

const char *tb_tokenizer_special_name(int id) {
    if (id < TB_TOK_BOS || id >= TB_TOK_FIRST_MERGE) return NULL;
    return special_names[id - TB_TOK_BOS];
}

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t pair_key(int32_t left, int32_t right) { return ((uint64_t)(uint32_t)left << 32) | (uint32_t)right; }

/* Grows a tb_malloc'd array from n_old to n_new elements of size elem, keeping its content. */
static void *grow(void *p, size_t n_old, size_t n_new, size_t elem) {
    void *q = tb_malloc(n_new * elem);
    if (p) memcpy(q, p, n_old * elem);
    tb_free(p);
    return q;
}

/* ---- pre-tokenisation ---------------------------------------------------------------------- */

enum { CLASS_SPACE, CLASS_LETTER, CLASS_DIGIT, CLASS_OTHER };

static int byte_class(unsigned char c) {
    if (c == ' ' || (c >= '\t' && c <= '\r')) return CLASS_SPACE;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 128) return CLASS_LETTER;
    if (c >= '0' && c <= '9') return CLASS_DIGIT;
    return CLASS_OTHER;
}

/* Returns the end of the chunk that starts at pos (pos < len). */
static size_t chunk_end(const unsigned char *s, size_t len, size_t pos) {
    size_t end = pos + 1;
    int cls = byte_class(s[pos]);
    if (s[pos] == ' ' && end < len && byte_class(s[end]) == CLASS_LETTER) cls = CLASS_LETTER;
    while (end < len && byte_class(s[end]) == cls) end++;
    /* the last space of a whitespace run belongs to the word after it */
    if (cls == CLASS_SPACE && end < len && end - pos > 1 && s[end - 1] == ' ' && byte_class(s[end]) == CLASS_LETTER)
        end--;
    if (end - pos > MAX_CHUNK) end = pos + MAX_CHUNK;
    return end;
}

/* ---- pair -> merged id index (used by encode) ---------------------------------------------- */

typedef struct {
    uint64_t *keys; /* cap, EMPTY_KEY where free */
    int32_t *ids;   /* cap */
    size_t mask;    /* cap - 1, cap a power of two */
    uint8_t *byte_pool; /* the bytes that token_bytes point into */
} merge_index;

static int32_t index_lookup(const merge_index *ix, int32_t left, int32_t right) {
    uint64_t key = pair_key(left, right);
    for (size_t h = mix64(key) & ix->mask;; h = (h + 1) & ix->mask) {
        if (ix->keys[h] == key) return ix->ids[h];
        if (ix->keys[h] == EMPTY_KEY) return -1;
    }
}

/* Fills the index and the per-token byte strings from tok->merges, which must be validated. */
static void build_index(tb_tokenizer *tok) {
    merge_index *ix = tb_malloc(sizeof *ix);
    size_t cap = 16;
    while (cap < 2 * (size_t)tok->n_merges) cap *= 2;
    ix->keys = tb_malloc(cap * sizeof *ix->keys);
    ix->ids = tb_malloc(cap * sizeof *ix->ids);
    ix->mask = cap - 1;
    for (size_t h = 0; h < cap; h++) ix->keys[h] = EMPTY_KEY;
    for (int m = 0; m < tok->n_merges; m++) {
        uint64_t key = pair_key(tok->merges[m].left, tok->merges[m].right);
        size_t h = mix64(key) & ix->mask;
        while (ix->keys[h] != EMPTY_KEY) h = (h + 1) & ix->mask;
        ix->keys[h] = key;
        ix->ids[h] = TB_TOK_FIRST_MERGE + m;
    }

    int V = tok->vocab_size;
    tok->token_len = tb_malloc((size_t)V * sizeof *tok->token_len);
    tok->token_bytes = tb_malloc((size_t)V * sizeof *tok->token_bytes);
    size_t total = 256;
    for (int i = 0; i < 256; i++) tok->token_len[i] = 1;
    for (int m = 0; m < tok->n_merges; m++) {
        int id = TB_TOK_FIRST_MERGE + m;
        tok->token_len[id] = tok->token_len[tok->merges[m].left] + tok->token_len[tok->merges[m].right];
        total += (size_t)tok->token_len[id];
    }
    ix->byte_pool = tb_malloc(total);
    uint8_t *p = ix->byte_pool;
    for (int i = 0; i < 256; i++) {
        *p = (uint8_t)i;
        tok->token_bytes[i] = p++;
    }
    for (int i = 256; i < TB_TOK_FIRST_MERGE; i++) tok->token_bytes[i] = p; /* empty: specials have no bytes */
    for (int m = 0; m < tok->n_merges; m++) {
        const tb_merge *mg = &tok->merges[m];
        int id = TB_TOK_FIRST_MERGE + m;
        tok->token_bytes[id] = p;
        memcpy(p, tok->token_bytes[mg->left], (size_t)tok->token_len[mg->left]);
        memcpy(p + tok->token_len[mg->left], tok->token_bytes[mg->right], (size_t)tok->token_len[mg->right]);
        p += tok->token_len[id];
    }
    tok->index = ix;
}

void tb_tokenizer_free(tb_tokenizer *tok) {
    merge_index *ix = tok->index;
    if (ix) {
        tb_free(ix->keys);
        tb_free(ix->ids);
        tb_free(ix->byte_pool);
        tb_free(ix);
    }
    tb_free(tok->merges);
    tb_free(tok->token_bytes);
    tb_free(tok->token_len);
    memset(tok, 0, sizeof *tok);
}

static int is_special(int32_t id) { return id >= TB_TOK_BOS && id < TB_TOK_FIRST_MERGE; }

/* Checks that every merge joins bytes or earlier merges and makes a token no longer than a chunk
 * (training never makes longer ones; without the bound a corrupt list could double lengths). */
static int validate_merges(const tb_merge *merges, int n_merges) {
    int *len = tb_malloc((size_t)(TB_TOK_FIRST_MERGE + n_merges) * sizeof *len);
    for (int i = 0; i < 256; i++) len[i] = 1;
    int bad = -1;
    for (int m = 0; m < n_merges; m++) {
        int32_t l = merges[m].left, r = merges[m].right, id = TB_TOK_FIRST_MERGE + m;
        if (l < 0 || r < 0 || l >= id || r >= id || is_special(l) || is_special(r) || len[l] + len[r] > MAX_CHUNK) {
            bad = m;
            break;
        }
        len[id] = len[l] + len[r];
    }
    tb_free(len);
    if (bad < 0) return TB_OK;
    return TB_ERROR(TB_ERR_FORMAT, "the stored tokenizer is corrupt; re-save it from a trained tokenizer",
                    "tokenizer merge %d is (%d, %d): both ids must be bytes (0..255) or earlier merges (261..%d), "
                    "never special tokens (256..260), and the merged token at most %d bytes",
                    bad, (int)merges[bad].left, (int)merges[bad].right, TB_TOK_FIRST_MERGE + bad - 1, MAX_CHUNK);
}

int tb_tokenizer_from_merges(tb_tokenizer *tok, const tb_merge *merges, int n_merges) {
    memset(tok, 0, sizeof *tok);
    if (n_merges < 0 || (n_merges > 0 && !merges))
        return TB_ERROR(TB_ERR_ARG, "pass the merge list and its length", "tokenizer: invalid merge list (%d merges)",
                        n_merges);
    TB_CHECK(validate_merges(merges, n_merges));
    tok->n_merges = n_merges;
    tok->vocab_size = TB_TOK_FIRST_MERGE + n_merges;
    tok->merges = tb_malloc((size_t)(n_merges ? n_merges : 1) * sizeof *tok->merges);
    if (n_merges) memcpy(tok->merges, merges, (size_t)n_merges * sizeof *merges);
    build_index(tok);
    /* a repeated pair would never be applied by encode: the list was not made by training */
    for (int m = 0; m < n_merges; m++) {
        int32_t id = index_lookup(tok->index, merges[m].left, merges[m].right);
        if (id != TB_TOK_FIRST_MERGE + m) {
            tb_tokenizer_free(tok);
            return TB_ERROR(TB_ERR_FORMAT, "the stored tokenizer is corrupt; re-save it from a trained tokenizer",
                            "tokenizer merge %d repeats the pair (%d, %d) of merge %d", m, (int)merges[m].left,
                            (int)merges[m].right, (int)id - TB_TOK_FIRST_MERGE);
        }
    }
    return TB_OK;
}

/* ---- encode / decode ------------------------------------------------------------------------ */

/* Applies the merges to one chunk, lowest rank first; returns the token count written to w. */
static int encode_chunk(const tb_tokenizer *tok, const unsigned char *s, int n, int *w) {
    const merge_index *ix = tok->index;
    for (int i = 0; i < n; i++) w[i] = s[i];
    while (n > 1) {
        int32_t best = -1;
        for (int i = 0; i + 1 < n; i++) {
            int32_t id = index_lookup(ix, w[i], w[i + 1]);
            if (id >= 0 && (best < 0 || id < best)) best = id;
        }
        if (best < 0) break;
        tb_merge mg = tok->merges[best - TB_TOK_FIRST_MERGE];
        int k = 0;
        for (int i = 0; i < n; i++) {
            if (i + 1 < n && w[i] == mg.left && w[i + 1] == mg.right) {
                w[k++] = best;
                i++;
            } else {
                w[k++] = w[i];
            }
        }
        n = k;
    }
    return n;
}

size_t tb_tokenizer_encode(const tb_tokenizer *tok, const char *text, size_t len, int *out, size_t cap) {
    const unsigned char *s = (const unsigned char *)text;
    int w[MAX_CHUNK];
    size_t n_out = 0;
    for (size_t pos = 0; pos < len;) {
        size_t end = chunk_end(s, len, pos);
        int n = encode_chunk(tok, s + pos, (int)(end - pos), w);
        for (int i = 0; i < n; i++, n_out++)
            if (n_out < cap) out[n_out] = w[i];
        pos = end;
    }
    return n_out;
}

size_t tb_tokenizer_decode(const tb_tokenizer *tok, const int *ids, size_t n, char *out, size_t cap,
                           int show_special) {
    size_t n_out = 0;
    for (size_t i = 0; i < n; i++) {
        int id = ids[i];
        TB_ASSERT(id >= 0 && id < tok->vocab_size); /* callers sample or read ids from this vocabulary */
        const char *bytes = (const char *)tok->token_bytes[id];
        size_t nb = (size_t)tok->token_len[id];
        if (show_special && is_special(id)) {
            bytes = special_names[id - TB_TOK_BOS];
            nb = strlen(bytes);
        }
        if (n_out < cap) memcpy(out + n_out, bytes, nb < cap - n_out ? nb : cap - n_out);
        n_out += nb;
    }
    return n_out;
}

/* ---- training: unique chunks ----------------------------------------------------------------- */

typedef struct {
    size_t off;    /* first occurrence in the text */
    int len;       /* 0 marks a free slot */
    int64_t count;
} chunk_slot;

typedef struct {
    chunk_slot *slots;
    size_t cap, n;
} chunk_table;

static uint64_t hash_bytes(const unsigned char *s, int n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ULL;
    return mix64(h);
}

static void chunk_insert(chunk_table *t, const unsigned char *text, size_t off, int len, int64_t count);

static void chunk_table_grow(chunk_table *t, const unsigned char *text) {
    chunk_table old = *t;
    t->cap = old.cap ? 2 * old.cap : 1024;
    t->slots = tb_malloc(t->cap * sizeof *t->slots);
    t->n = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.slots[i].len) chunk_insert(t, text, old.slots[i].off, old.slots[i].len, old.slots[i].count);
    tb_free(old.slots);
}

static void chunk_insert(chunk_table *t, const unsigned char *text, size_t off, int len, int64_t count) {
    if (2 * (t->n + 1) > t->cap) chunk_table_grow(t, text);
    size_t mask = t->cap - 1;
    for (size_t h = hash_bytes(text + off, len) & mask;; h = (h + 1) & mask) {
        chunk_slot *c = &t->slots[h];
        if (!c->len) {
            *c = (chunk_slot){off, len, count};
            t->n++;
            return;
        }
        if (c->len == len && memcmp(text + c->off, text + off, (size_t)len) == 0) {
            c->count += count;
            return;
        }
    }
}

/* ---- training: pair counts with the chunks ("words") that hold each pair --------------------- */

typedef struct {
    uint64_t key;  /* EMPTY_KEY marks a free slot */
    int64_t count; /* weighted occurrences */
    int *where;    /* words that gained the pair (may repeat or be stale) */
    int n_where, cap_where;
    int stamp;     /* last merge step that changed the count */
} pair_slot;

typedef struct {
    pair_slot *slots;
    size_t cap, n;
} pair_table;

static pair_slot *pair_get(pair_table *t, uint64_t key);

static void pair_table_grow(pair_table *t) {
    pair_table old = *t;
    t->cap = old.cap ? 2 * old.cap : 4096;
    t->slots = tb_malloc(t->cap * sizeof *t->slots);
    for (size_t h = 0; h < t->cap; h++) t->slots[h].key = EMPTY_KEY;
    for (size_t i = 0; i < old.cap; i++) {
        if (old.slots[i].key == EMPTY_KEY) continue;
        size_t h = mix64(old.slots[i].key) & (t->cap - 1);
        while (t->slots[h].key != EMPTY_KEY) h = (h + 1) & (t->cap - 1);
        t->slots[h] = old.slots[i];
    }
    tb_free(old.slots);
}

/* Finds or creates the slot of key. The pointer is valid until the next pair_get. */
static pair_slot *pair_get(pair_table *t, uint64_t key) {
    if (2 * (t->n + 1) > t->cap) pair_table_grow(t);
    size_t mask = t->cap - 1;
    size_t h = mix64(key) & mask;
    while (t->slots[h].key != key && t->slots[h].key != EMPTY_KEY) h = (h + 1) & mask;
    if (t->slots[h].key == EMPTY_KEY) {
        t->slots[h].key = key;
        t->slots[h].stamp = -1;
        t->n++;
    }
    return &t->slots[h];
}

static void pair_add_where(pair_slot *p, int word) {
    if (p->n_where && p->where[p->n_where - 1] == word) return;
    if (p->n_where == p->cap_where) {
        int cap = p->cap_where ? 2 * p->cap_where : 4;
        p->where = grow(p->where, (size_t)p->n_where, (size_t)cap, sizeof *p->where);
        p->cap_where = cap;
    }
    p->where[p->n_where++] = word;
}

/* ---- training: max-heap of (count, pair) ----------------------------------------------------- */

typedef struct {
    int64_t count;
    uint64_t key;
} heap_entry;

typedef struct {
    heap_entry *e;
    size_t n, cap;
} pair_heap;

/* a before b: more frequent first, then the smaller (left, right), which is the smaller key */
static int heap_before(heap_entry a, heap_entry b) {
    return a.count > b.count || (a.count == b.count && a.key < b.key);
}

static void heap_push(pair_heap *h, int64_t count, uint64_t key) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 4096;
        h->e = grow(h->e, h->n, cap, sizeof *h->e);
        h->cap = cap;
    }
    size_t i = h->n++;
    heap_entry x = {count, key};
    while (i > 0 && heap_before(x, h->e[(i - 1) / 2])) {
        h->e[i] = h->e[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->e[i] = x;
}

static heap_entry heap_pop(pair_heap *h) {
    heap_entry top = h->e[0], x = h->e[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && heap_before(h->e[c + 1], h->e[c])) c++;
        if (!heap_before(h->e[c], x)) break;
        h->e[i] = h->e[c];
        i = c;
    }
    if (h->n) h->e[i] = x;
    return top;
}

/* ---- training: the state and one merge step ------------------------------------------------- */

typedef struct {
    int n_words;
    int32_t *tokens;   /* all words back to back; each word shrinks in place */
    size_t *start;     /* n_words */
    int *len;          /* n_words */
    int64_t *count;    /* n_words */
    int *visited;      /* n_words: last merge step that rewrote the word */
    pair_table pairs;
    pair_heap heap;
    uint64_t *changed; /* keys whose count changed in this step */
    size_t n_changed, cap_changed;
} bpe_trainer;

static void pair_add(bpe_trainer *b, int step, int32_t left, int32_t right, int64_t delta, int word) {
    uint64_t key = pair_key(left, right);
    pair_slot *p = pair_get(&b->pairs, key);
    p->count += delta;
    if (delta > 0) pair_add_where(p, word);
    if (p->stamp != step) {
        p->stamp = step;
        if (b->n_changed == b->cap_changed) {
            size_t cap = b->cap_changed ? 2 * b->cap_changed : 1024;
            b->changed = grow(b->changed, b->n_changed, cap, sizeof *b->changed);
            b->cap_changed = cap;
        }
        b->changed[b->n_changed++] = key;
    }
}

/* Replaces every (a, bb) in word by z and applies the pair-count deltas. Only pairs next to a
 * merge site change: they are subtracted as they were and added as they become. */
static void merge_word(bpe_trainer *b, int step, int word, int32_t a, int32_t bb, int32_t z) {
    int32_t *w = b->tokens + b->start[word];
    int n = b->len[word];
    int64_t c = b->count[word];
    uint8_t site[MAX_CHUNK] = {0}, old_touched[MAX_CHUNK] = {0}, new_touched[MAX_CHUNK] = {0};
    int n_sites = 0;
    for (int i = 0; i + 1 < n; i++) {
        if (w[i] == a && w[i + 1] == bb) {
            site[i] = 1;
            n_sites++;
            for (int j = i - 1; j <= i + 1; j++)
                if (j >= 0 && j + 1 < n) old_touched[j] = 1;
            i++;
        }
    }
    if (!n_sites) return; /* a stale entry of the where-list */
    for (int j = 0; j + 1 < n; j++)
        if (old_touched[j]) pair_add(b, step, w[j], w[j + 1], -c, word);
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (site[i]) {
            if (k > 0) new_touched[k - 1] = 1;
            new_touched[k] = 1;
            w[k++] = z;
            i++;
        } else {
            w[k++] = w[i];
        }
    }
    n = b->len[word] = k;
    for (int j = 0; j + 1 < n; j++)
        if (new_touched[j]) pair_add(b, step, w[j], w[j + 1], c, word);
}

static void trainer_init(bpe_trainer *b, const unsigned char *text, size_t len) {
    chunk_table chunks = {0};
    for (size_t pos = 0; pos < len;) {
        size_t end = chunk_end(text, len, pos);
        chunk_insert(&chunks, text, pos, (int)(end - pos), 1);
        pos = end;
    }
    memset(b, 0, sizeof *b);
    size_t total = 0;
    for (size_t i = 0; i < chunks.cap; i++) total += (size_t)chunks.slots[i].len;
    b->tokens = tb_malloc((total ? total : 1) * sizeof *b->tokens);
    b->start = tb_malloc((chunks.n ? chunks.n : 1) * sizeof *b->start);
    b->len = tb_malloc((chunks.n ? chunks.n : 1) * sizeof *b->len);
    b->count = tb_malloc((chunks.n ? chunks.n : 1) * sizeof *b->count);
    b->visited = tb_malloc((chunks.n ? chunks.n : 1) * sizeof *b->visited);
    /* word order does not matter: the merges depend only on the counts */
    size_t n = 0, at = 0;
    for (size_t i = 0; i < chunks.cap; i++) {
        const chunk_slot *c = &chunks.slots[i];
        if (!c->len) continue;
        size_t wi = n++;
        b->start[wi] = at;
        b->len[wi] = c->len;
        b->count[wi] = c->count;
        b->visited[wi] = -1;
        for (int j = 0; j < c->len; j++) b->tokens[at + (size_t)j] = text[c->off + (size_t)j];
        at += (size_t)c->len;
    }
    b->n_words = (int)n;
    tb_free(chunks.slots);

    for (int wi = 0; wi < b->n_words; wi++) {
        const int32_t *w = b->tokens + b->start[wi];
        for (int i = 0; i + 1 < b->len[wi]; i++) pair_add(b, 0, w[i], w[i + 1], b->count[wi], wi);
    }
    for (size_t i = 0; i < b->n_changed; i++) {
        pair_slot *p = pair_get(&b->pairs, b->changed[i]);
        if (p->count >= 2) heap_push(&b->heap, p->count, p->key);
    }
    b->n_changed = 0;
}

static void trainer_free(bpe_trainer *b) {
    for (size_t i = 0; i < b->pairs.cap; i++) tb_free(b->pairs.slots[i].where);
    tb_free(b->pairs.slots);
    tb_free(b->heap.e);
    tb_free(b->changed);
    tb_free(b->tokens);
    tb_free(b->start);
    tb_free(b->len);
    tb_free(b->count);
    tb_free(b->visited);
}

/* Pops the most frequent live pair; returns 0 when no pair occurs at least twice. */
static int best_pair(bpe_trainer *b, uint64_t *key) {
    while (b->heap.n) {
        heap_entry e = heap_pop(&b->heap);
        if (pair_get(&b->pairs, e.key)->count == e.count) {
            *key = e.key;
            return 1;
        }
    }
    return 0;
}

int tb_tokenizer_train(tb_tokenizer *tok, const char *text, size_t len, int vocab_size) {
    memset(tok, 0, sizeof *tok);
    if (vocab_size < TB_TOK_FIRST_MERGE)
        return TB_ERROR(TB_ERR_ARG, "ask for at least 261 tokens (256 bytes + 5 special tokens)",
                        "tokenizer: vocab_size %d is below %d", vocab_size, (int)TB_TOK_FIRST_MERGE);
    if (len > 0 && !text) return TB_ERROR(TB_ERR_ARG, "pass the training text", "tokenizer: text is NULL");
    int max_merges = vocab_size - TB_TOK_FIRST_MERGE;
    tok->merges = tb_malloc((size_t)(max_merges ? max_merges : 1) * sizeof *tok->merges);

    bpe_trainer b;
    trainer_init(&b, (const unsigned char *)text, len);
    int m = 0;
    uint64_t key;
    for (; m < max_merges && best_pair(&b, &key); m++) {
        int step = m + 1; /* step 0 was the initial count */
        int32_t a = (int32_t)(key >> 32), bb = (int32_t)(key & 0xffffffffu), z = TB_TOK_FIRST_MERGE + m;
        tok->merges[m] = (tb_merge){a, bb};
        /* detach the where-list: merging creates pairs with z only, never (a, bb) again */
        pair_slot *p = pair_get(&b.pairs, key);
        int *where = p->where, n_where = p->n_where;
        p->where = NULL;
        p->n_where = p->cap_where = 0;
        for (int i = 0; i < n_where; i++) {
            if (b.visited[where[i]] == step) continue;
            b.visited[where[i]] = step;
            merge_word(&b, step, where[i], a, bb, z);
        }
        tb_free(where);
        TB_ASSERT(pair_get(&b.pairs, key)->count == 0);
        for (size_t i = 0; i < b.n_changed; i++) {
            pair_slot *q = pair_get(&b.pairs, b.changed[i]);
            if (q->count >= 2) heap_push(&b.heap, q->count, q->key);
        }
        b.n_changed = 0;
    }
    trainer_free(&b);
    tok->n_merges = m;
    tok->vocab_size = TB_TOK_FIRST_MERGE + m;
    build_index(tok);
    return TB_OK;
}
