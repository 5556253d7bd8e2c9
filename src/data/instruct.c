/*
 * instruct.c: the instruction tasks of the joint post-training benchmark: their language (the
 * phrasings, shared by the solver and the generator so that every generated prompt has a checker),
 * the solver, the scoring (correct, style, reward), the set's memory and the generator. The format
 * and the rules are in data.h, "instruction tasks" and "instruction datasets".
 *
 * All text is ASCII and scored without the C locale's help: case folding and whitespace are the ASCII
 * ones, so a score never depends on the environment.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data.h"

#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- the language ------------------------------------------------------------------------------- */

typedef struct {
    const char *prefix, *suffix;
    int family;
} phrasing;

#define PHRASINGS_PER_FAMILY 3

/* PHRASINGS_PER_FAMILY per family, in family order. A prefix that begins another ("Reverse:" and
 * "Reverse the list:") is no problem: the colon ends it. */
static const phrasing phrasings[] = {
    {"Copy:", "", TB_TASK_COPY},
    {"Repeat:", "", TB_TASK_COPY},
    {"Echo:", "", TB_TASK_COPY},
    {"Reverse:", "", TB_TASK_REVERSE},
    {"Reverse the list:", "", TB_TASK_REVERSE},
    {"Backwards:", "", TB_TASK_REVERSE},
    {"Sort:", "", TB_TASK_SORT},
    {"Sort the list:", "", TB_TASK_SORT},
    {"In order:", "", TB_TASK_SORT},
    {"Compute:", "", TB_TASK_ARITHMETIC},
    {"What is", "?", TB_TASK_ARITHMETIC},
    {"Calculate:", "", TB_TASK_ARITHMETIC},
};

static const char *const family_names[TB_TASK_N_FAMILIES] = {"copy", "reverse", "sort", "arithmetic"};
static const char *const contrast_names[TB_CONTRAST_N] = {"correctness", "style", "both"};

const char *tb_task_family_name(int family) {
    TB_ASSERT(family >= 0 && family < TB_TASK_N_FAMILIES);
    return family_names[family];
}

int tb_task_family_parse(const char *name) {
    for (int f = 0; f < TB_TASK_N_FAMILIES; f++)
        if (strcmp(name, family_names[f]) == 0) return f;
    return -1;
}

const char *tb_pref_contrast_name(int contrast) {
    TB_ASSERT(contrast >= 0 && contrast < TB_CONTRAST_N);
    return contrast_names[contrast];
}

int tb_pref_contrast_parse(const char *name) {
    for (int c = 0; c < TB_CONTRAST_N; c++)
        if (strcmp(name, contrast_names[c]) == 0) return c;
    return -1;
}

/* ---- text helpers ------------------------------------------------------------------------------- */

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }
static char fold(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

typedef struct {
    const char *b, *e; /* [b, e) */
} span;

static span trim(span s) {
    while (s.b < s.e && is_space(*s.b)) s.b++;
    while (s.e > s.b && is_space(s.e[-1])) s.e--;
    return s;
}

static span whole(const char *text) { return (span){text, text + strlen(text)}; }

static int starts_with_fold(span s, const char *prefix) {
    size_t n = strlen(prefix);
    if ((size_t)(s.e - s.b) < n) return 0;
    for (size_t i = 0; i < n; i++)
        if (fold(s.b[i]) != fold(prefix[i])) return 0;
    return 1;
}

/* The next word of s at or after *p (advancing *p past it); 0 when none is left. */
static int next_word(const char **p, const char *e, span *word) {
    const char *q = *p;
    while (q < e && is_space(*q)) q++;
    if (q == e) return 0;
    word->b = q;
    while (q < e && !is_space(*q)) q++;
    word->e = *p = q;
    return 1;
}

static long count_words(span s) {
    long n = 0;
    span w;
    for (const char *p = s.b; next_word(&p, s.e, &w);) n++;
    return n;
}

/* ---- the solver --------------------------------------------------------------------------------- */

/* A prompt already rendered in the chat template ("User: {instruction}\nAssistant: ") loses it. */
static span strip_template(span s) {
    static const char user[] = "User:", assistant[] = "\nAssistant:";
    s = trim(s);
    if ((size_t)(s.e - s.b) >= sizeof user - 1 && memcmp(s.b, user, sizeof user - 1) == 0) s.b += sizeof user - 1;
    const size_t n = sizeof assistant - 1;
    if ((size_t)(s.e - s.b) >= n && memcmp(s.e - n, assistant, n) == 0) s.e -= n;
    return trim(s);
}

typedef struct {
    span text;
    long long value;
    int index;
} list_item;

/* An integer of 1 to 9 digits with an optional '-' at *p, advancing *p past it. */
static int parse_int(const char **p, const char *e, long long *out) {
    const char *q = *p;
    int negative = q < e && *q == '-';
    q += negative;
    long long v = 0;
    int digits = 0;
    for (; q < e && is_digit(*q) && digits < 10; q++, digits++) v = 10 * v + (*q - '0');
    if (digits == 0 || digits > 9) return 0;
    *out = negative ? -v : v;
    *p = q;
    return 1;
}

static int cmp_bytes(const void *pa, const void *pb) {
    const list_item *a = pa, *b = pb;
    size_t na = (size_t)(a->text.e - a->text.b), nb = (size_t)(b->text.e - b->text.b);
    int c = memcmp(a->text.b, b->text.b, na < nb ? na : nb);
    if (c) return c;
    if (na != nb) return na < nb ? -1 : 1;
    return a->index - b->index; /* qsort is not stable; the original order breaks ties */
}

static int cmp_numeric(const void *pa, const void *pb) {
    const list_item *a = pa, *b = pb;
    if (a->value != b->value) return a->value < b->value ? -1 : 1;
    return cmp_bytes(pa, pb);
}

static int solve_list(int family, span payload, char *answer, size_t cap) {
    list_item items[TB_TASK_MAX_ITEMS];
    int n = 0, numeric = 1;
    span w;
    for (const char *p = payload.b; next_word(&p, payload.e, &w);) {
        if (n == TB_TASK_MAX_ITEMS) return 0;
        const char *q = w.b;
        items[n] = (list_item){w, 0, n};
        numeric = numeric && parse_int(&q, w.e, &items[n].value) && q == w.e;
        n++;
    }
    if (n == 0) return 0;
    if (family == TB_TASK_SORT) qsort(items, (size_t)n, sizeof *items, numeric ? cmp_numeric : cmp_bytes);
    size_t len = 0;
    for (int k = 0; k < n; k++) {
        const list_item *it = &items[family == TB_TASK_REVERSE ? n - 1 - k : k];
        const size_t wl = (size_t)(it->text.e - it->text.b);
        if (len + (k > 0) + wl + 1 > cap) return 0;
        if (k > 0) answer[len++] = ' ';
        memcpy(answer + len, it->text.b, wl);
        len += wl;
    }
    answer[len] = '\0';
    return 1;
}

static int solve_arithmetic(span payload, char *answer, size_t cap) {
    const char *p = payload.b, *e = payload.e;
    long long a, b, r;
    if (!parse_int(&p, e, &a)) return 0;
    while (p < e && is_space(*p)) p++;
    if (p == e) return 0;
    const char op = *p++;
    while (p < e && is_space(*p)) p++;
    if (!parse_int(&p, e, &b) || p != e) return 0;
    switch (op) {
    case '+': r = a + b; break;
    case '-': r = a - b; break;
    case 'x': case 'X': case '*': r = a * b; break;
    default: return 0;
    }
    char text[32];
    const int n = snprintf(text, sizeof text, "%lld", r);
    if ((size_t)n + 1 > cap) return 0;
    memcpy(answer, text, (size_t)n + 1);
    return 1;
}

int tb_task_solve(const char *prompt, char *answer, size_t cap, int *family) {
    const span s = strip_template(whole(prompt));
    for (int k = 0; k < LEN(phrasings); k++) {
        const phrasing *ph = &phrasings[k];
        if (!starts_with_fold(s, ph->prefix)) continue;
        span payload = trim((span){s.b + strlen(ph->prefix), s.e});
        if (payload.e > payload.b && (payload.e[-1] == '?' || payload.e[-1] == '.'))
            payload = trim((span){payload.b, payload.e - 1});
        const int ok = ph->family == TB_TASK_ARITHMETIC ? solve_arithmetic(payload, answer, cap)
                                                        : solve_list(ph->family, payload, answer, cap);
        if (ok && family) *family = ph->family;
        return ok;
    }
    return 0;
}

/* ---- scoring ------------------------------------------------------------------------------------ */

/* What correct() compares: the text without surrounding whitespace, one leading "Answer:" (any case)
 * and one trailing ".". */
static span answer_part(const char *text) {
    span s = trim(whole(text));
    if (starts_with_fold(s, "answer:")) s = trim((span){s.b + 7, s.e});
    if (s.e > s.b && s.e[-1] == '.') s = trim((span){s.b, s.e - 1});
    return s;
}

/* The next character of a trimmed span with whitespace runs read as one space and ASCII case folded;
 * -1 at the end. */
static int next_normalised(const char **p, const char *e) {
    if (*p == e) return -1;
    if (is_space(**p)) {
        while (*p < e && is_space(**p)) ++*p;
        return ' ';
    }
    return (unsigned char)fold(*(*p)++);
}

int tb_task_correct(const char *answer, const char *response) {
    TB_ASSERT(answer && response);
    const span a = answer_part(answer), r = answer_part(response);
    const char *pa = a.b, *pr = r.b;
    for (;;) {
        const int ca = next_normalised(&pa, a.e), cr = next_normalised(&pr, r.e);
        if (ca != cr) return 0;
        if (ca < 0) return 1;
    }
}

/* A word as rule 3 compares it: without trailing punctuation. */
static span bare_word(span w) {
    while (w.e > w.b && strchr(".,;:!?", w.e[-1])) w.e--;
    return w;
}

static int same_word(span a, span b) {
    if (a.e - a.b != b.e - b.b) return 0;
    for (const char *p = a.b, *q = b.b; p < a.e; p++, q++)
        if (fold(*p) != fold(*q)) return 0;
    return 1;
}

static int has_consecutive_repeat(span s) {
    span prev = {NULL, NULL}, w;
    for (const char *p = s.b; next_word(&p, s.e, &w); prev = w) {
        w = bare_word(w);
        if (prev.b && same_word(prev, w)) return 1;
    }
    return 0;
}

double tb_task_style(const char *answer, const char *response) {
    TB_ASSERT(answer && response);
    const span r = trim(whole(response));
    int rules = 0;
    rules += (size_t)(r.e - r.b) >= 7 && memcmp(r.b, "Answer:", 7) == 0;
    rules += r.e > r.b && r.e[-1] == '.';
    rules += !has_consecutive_repeat(r);
    rules += count_words(r) <= count_words(whole(answer)) + 4;
    return rules / 4.0;
}

double tb_task_reward(const char *answer, const char *response) {
    return 2.0 * tb_task_correct(answer, response) + tb_task_style(answer, response);
}

/* ---- the set's memory --------------------------------------------------------------------------- */

/* The strings live in the set's pool (tb_pool_strdup), freed with the set. */
char *tb_instruct_strdup(tb_instruct_set *s, const char *text, size_t len) {
    return tb_pool_strdup(&s->pool, text, len);
}

void tb_instruct_alloc(tb_instruct_set *s, long n_sft, long n_pref, long n_sft_eval, long n_pref_eval) {
    TB_ASSERT(n_sft >= 0 && n_sft_eval >= 0 && n_pref >= 0 && n_pref_eval >= 0);
    memset(s, 0, sizeof *s);
    s->n_sft = n_sft;
    s->n_sft_eval = n_sft_eval;
    s->n_pref = n_pref;
    s->n_pref_eval = n_pref_eval;
    s->sft = tb_malloc((size_t)n_sft * sizeof *s->sft);
    s->sft_eval = tb_malloc((size_t)n_sft_eval * sizeof *s->sft_eval);
    s->pref = tb_malloc((size_t)n_pref * sizeof *s->pref);
    s->pref_eval = tb_malloc((size_t)n_pref_eval * sizeof *s->pref_eval);
}

void tb_instruct_free(tb_instruct_set *s) {
    tb_pool_free(&s->pool);
    tb_free(s->sft);
    tb_free(s->sft_eval);
    tb_free(s->pref);
    tb_free(s->pref_eval);
    memset(s, 0, sizeof *s);
}

/* ---- the generator ------------------------------------------------------------------------------ */

/* In alphabetical order, so sorting indices sorts the words; three letters keep 8-item prompts short
 * for byte-level BPE models with a 64-token context. */
static const char *const words[] = {
    "ant", "bee", "cat", "cow", "dog", "eel", "elk", "emu", "fox", "gnu", "hen", "jay", "owl", "pig", "ram", "yak",
};
static const char *const digits[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};

#define MIN_ITEMS 3
#define MAX_ITEMS 8
#define TEXT_CAP 128

/* One task as drawn, before rendering. */
typedef struct {
    int family, phrasing; /* phrasing: 0..PHRASINGS_PER_FAMILY-1 within the family */
    const char *const *vocab;
    int n, items[MAX_ITEMS]; /* list families: indices into vocab */
    long a, b;               /* arithmetic */
    char op;                 /* '+', '-' or 'x' */
} task;

static long draw_operand(tb_rng *r) {
    static const long lo[] = {0, 10, 100}, hi[] = {9, 99, 999};
    const int d = (int)tb_rng_below(r, 3);
    return lo[d] + (long)tb_rng_below(r, (uint64_t)(hi[d] - lo[d] + 1));
}

static void draw_task(tb_rng *r, int family, task *t) {
    t->family = family;
    t->phrasing = (int)tb_rng_below(r, PHRASINGS_PER_FAMILY);
    if (family == TB_TASK_ARITHMETIC) {
        t->op = "+-x"[tb_rng_below(r, 3)];
        t->a = draw_operand(r);
        t->b = draw_operand(r);
        if (t->op == '-' && t->a < t->b) { /* natural-number answers: a "-" sign is one more thing to learn */
            const long swap = t->a;
            t->a = t->b;
            t->b = swap;
        }
        return;
    }
    /* Distinct items (a partial Fisher-Yates draw): no answer of copy, reverse or sort then repeats a
     * word consecutively, which style rule 3 would count against even a correct "Answer: X.". */
    const int use_digits = (int)tb_rng_below(r, 2), pool = use_digits ? LEN(digits) : LEN(words);
    t->vocab = use_digits ? digits : words;
    t->n = MIN_ITEMS + (int)tb_rng_below(r, MAX_ITEMS - MIN_ITEMS + 1);
    int perm[LEN(words)];
    for (int k = 0; k < pool; k++) perm[k] = k;
    for (int k = 0; k < t->n; k++) {
        const int j = k + (int)tb_rng_below(r, (uint64_t)(pool - k)), v = perm[j];
        perm[j] = perm[k];
        perm[k] = t->items[k] = v;
    }
}

static void join_items(const char *const *vocab, const int *items, int n, char *out) {
    size_t len = 0;
    for (int k = 0; k < n; k++) len += (size_t)sprintf(out + len, "%s%s", k ? " " : "", vocab[items[k]]);
    out[len] = '\0';
}

static void render_prompt(const task *t, char *out) {
    const phrasing *ph = &phrasings[t->family * PHRASINGS_PER_FAMILY + t->phrasing];
    TB_ASSERT(ph->family == t->family);
    char payload[TEXT_CAP / 2]; /* with the longest prefix, the prompt still fits TEXT_CAP */
    if (t->family == TB_TASK_ARITHMETIC) snprintf(payload, sizeof payload, "%ld %c %ld", t->a, t->op, t->b);
    else join_items(t->vocab, t->items, t->n, payload);
    snprintf(out, TEXT_CAP, "%s %s%s", ph->prefix, payload, ph->suffix);
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

/* The answer's items (list families), from the task itself rather than from its text. */
static void answer_items(const task *t, int *out) {
    for (int k = 0; k < t->n; k++) out[k] = t->items[t->family == TB_TASK_REVERSE ? t->n - 1 - k : k];
    if (t->family == TB_TASK_SORT) qsort(out, (size_t)t->n, sizeof *out, cmp_int);
}

static long arithmetic_value(const task *t) {
    return t->op == '+' ? t->a + t->b : t->op == '-' ? t->a - t->b : t->a * t->b;
}

/* The bare answer, or with wrong != 0 a wrong one: off by one (arithmetic), two neighbours swapped or
 * one item dropped (lists; the items are distinct, so either changes the answer). */
static void render_answer(const task *t, int wrong, tb_rng *r, char *out) {
    if (t->family == TB_TASK_ARITHMETIC) {
        const long v = arithmetic_value(t) + (wrong ? (tb_rng_below(r, 2) ? 1 : -1) : 0);
        snprintf(out, TEXT_CAP, "%ld", v);
        return;
    }
    int items[MAX_ITEMS], n = t->n;
    answer_items(t, items);
    if (wrong && tb_rng_below(r, 2)) {
        const int k = (int)tb_rng_below(r, (uint64_t)(n - 1)), swap = items[k];
        items[k] = items[k + 1];
        items[k + 1] = swap;
    } else if (wrong) {
        const int k = (int)tb_rng_below(r, (uint64_t)n);
        memmove(items + k, items + k + 1, (size_t)(n - 1 - k) * sizeof *items);
        n--;
    }
    join_items(t->vocab, items, n, out);
}

/* Prompts seen so far: open addressing on tb_rng_stream_id of the text, load <= 1/2, the texts being
 * the set's own copies. O(1) per prompt, so uniqueness stays linear in the set's size. */
typedef struct {
    const char **slots;
    size_t mask;
} prompt_table;

static void table_init(prompt_table *h, long n) {
    size_t cap = 16;
    while (cap < 2 * (size_t)n) cap *= 2;
    h->slots = tb_malloc(cap * sizeof *h->slots);
    h->mask = cap - 1;
}

/* The slot holding text, or the empty slot where it belongs. */
static const char **table_find(const prompt_table *h, const char *text) {
    for (size_t i = tb_rng_stream_id(text) & h->mask;; i = (i + 1) & h->mask)
        if (!h->slots[i] || strcmp(h->slots[i], text) == 0) return &h->slots[i];
}

typedef struct {
    tb_instruct_set *s;
    prompt_table seen;
    task t;
    char prompt[TEXT_CAP], answer[TEXT_CAP];
} generator;

/* Draws tasks of family until one has a prompt not seen before; fills g->t, g->prompt, g->answer and
 * returns the set's copy of the prompt. Checks that the solver agrees with the generator. */
static char *draw_unique(generator *g, tb_rng *r, int family) {
    const char **slot;
    for (int tries = 0;; tries++) {
        TB_ASSERT(tries < 100000); /* the prompt space is far larger than TB_INSTRUCT_MAX_ITEMS */
        draw_task(r, family, &g->t);
        render_prompt(&g->t, g->prompt);
        slot = table_find(&g->seen, g->prompt);
        if (!*slot) break;
    }
    render_answer(&g->t, 0, r, g->answer);
    char solved[TEXT_CAP];
    int solved_family = -1;
    TB_ASSERT(tb_task_solve(g->prompt, solved, sizeof solved, &solved_family));
    TB_ASSERT(solved_family == family && strcmp(solved, g->answer) == 0);
    char *copy = tb_instruct_strdup(g->s, g->prompt, strlen(g->prompt));
    *slot = copy;
    return copy;
}

static void generate_sft(generator *g, tb_sft_item *items, long n, const char *stream, uint64_t seed) {
    tb_rng r = tb_rng_make(seed, tb_rng_stream_id(stream));
    for (long i = 0; i < n; i++) {
        tb_sft_item *it = &items[i];
        it->family = (int)(i % TB_TASK_N_FAMILIES);
        it->prompt = draw_unique(g, &r, it->family);
        it->answer = it->response = tb_instruct_strdup(g->s, g->answer, strlen(g->answer));
        TB_ASSERT(tb_task_correct(it->answer, it->response));
    }
}

static void generate_pref(generator *g, tb_pref_item *items, long n, const char *stream, uint64_t seed) {
    tb_rng r = tb_rng_make(seed, tb_rng_stream_id(stream));
    char text[TEXT_CAP + 16], wrong[TEXT_CAP];
    for (long i = 0; i < n; i++) {
        tb_pref_item *it = &items[i];
        it->family = (int)(i % TB_TASK_N_FAMILIES);
        it->contrast = (int)(i % TB_CONTRAST_N);
        it->prompt = draw_unique(g, &r, it->family);
        it->answer = tb_instruct_strdup(g->s, g->answer, strlen(g->answer));
        snprintf(text, sizeof text, "Answer: %s.", g->answer);
        it->chosen = tb_instruct_strdup(g->s, text, strlen(text));
        if (it->contrast == TB_CONTRAST_STYLE) {
            it->rejected = it->answer;
        } else {
            render_answer(&g->t, 1, &r, wrong);
            if (it->contrast == TB_CONTRAST_CORRECTNESS) snprintf(text, sizeof text, "Answer: %s.", wrong);
            else snprintf(text, sizeof text, "%s", wrong);
            it->rejected = tb_instruct_strdup(g->s, text, strlen(text));
        }
        TB_ASSERT(tb_task_reward(it->answer, it->chosen) >= tb_task_reward(it->answer, it->rejected) + 0.5);
    }
}

int tb_instruct_generate(tb_instruct_set *s, uint64_t seed, long n_sft, long n_pref, long n_sft_eval,
                         long n_pref_eval) {
    memset(s, 0, sizeof *s);
    if (n_sft < 1 || n_pref < 1 || n_sft_eval < 0 || n_pref_eval < 0 || n_sft > TB_INSTRUCT_MAX_ITEMS ||
        n_pref > TB_INSTRUCT_MAX_ITEMS || n_sft_eval > TB_INSTRUCT_MAX_ITEMS || n_pref_eval > TB_INSTRUCT_MAX_ITEMS ||
        n_sft + n_pref + n_sft_eval + n_pref_eval > TB_INSTRUCT_MAX_ITEMS)
        return TB_ERROR(TB_ERR_ARG, "ask for at least 1 SFT example and 1 pair, and at most the maximum in all",
                        "cannot generate %ld SFT examples, %ld pairs, %ld SFT eval and %ld pair eval items: each "
                        "training part needs >= 1, the eval parts >= 0, and the total is at most %ld",
                        n_sft, n_pref, n_sft_eval, n_pref_eval, TB_INSTRUCT_MAX_ITEMS);
    tb_instruct_alloc(s, n_sft, n_pref, n_sft_eval, n_pref_eval);
    s->seed = seed;
    generator g = {.s = s};
    table_init(&g.seen, n_sft + n_pref + n_sft_eval + n_pref_eval);
    /* the eval parts first: they then do not depend on the training sizes */
    generate_sft(&g, s->sft_eval, n_sft_eval, "instruct/sft_eval", seed);
    generate_pref(&g, s->pref_eval, n_pref_eval, "instruct/pref_eval", seed);
    generate_sft(&g, s->sft, n_sft, "instruct/sft", seed);
    generate_pref(&g, s->pref, n_pref, "instruct/pref", seed);
    tb_free(g.seen.slots);
    return TB_OK;
}
