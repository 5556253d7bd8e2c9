/*
 * qa_split.c: forget / retain / holdout splits of a QA set (see data.h and reference/unlearning.md
 * section 4, "Splits").
 *
 * Every split is cut from the same two permutations (of the trained authors, of the items), both
 * keyed by the split seed only: the forget authors are the permutation's tail, so a smaller split is
 * part of every larger one, and the retain evaluation items of two splits differ only by the items
 * of the authors one of them forgets.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/data.h"

/* "forgetNN" with NN = 01..99, the percentage of the trained authors to forget. */
static int parse_split(const char *split, int *percent) {
    const char *digits = split + strlen("forget");
    int ok = strncmp(split, "forget", strlen("forget")) == 0 && digits[0] >= '0' && digits[0] <= '9' &&
             digits[1] >= '0' && digits[1] <= '9' && digits[2] == '\0';
    *percent = ok ? (digits[0] - '0') * 10 + (digits[1] - '0') : 0;
    if (!ok || *percent == 0)
        return TB_ERROR(TB_ERR_ARG, "use forget01, forget05 or forget10 (any forgetNN with NN from 01 to 99 works)",
                        "unknown split '%s'", split);
    return TB_OK;
}

static int cmp_long(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* role[k] of every author: which list its items go to. */
enum { ROLE_NONE, ROLE_FORGET, ROLE_RETAIN, ROLE_HOLDOUT };

static void assign_roles(const tb_qa_set *s, uint64_t seed, tb_qa_splits *out, char *role) {
    int *perm = tb_malloc((size_t)s->n_authors * sizeof *perm);
    for (int k = 0; k < s->n_authors; k++) perm[k] = k;
    tb_rng r = tb_rng_make(seed, tb_rng_stream_id("forget"));
    tb_rng_shuffle(&r, perm, s->n_authors);
    for (int k = 0; k < s->n_authors; k++) role[k] = ROLE_RETAIN;
    for (int i = 0; i < out->n_forget_authors; i++) {
        out->forget_authors[i] = perm[s->n_authors - out->n_forget_authors + i];
        role[out->forget_authors[i]] = ROLE_FORGET;
    }
    qsort(out->forget_authors, (size_t)out->n_forget_authors, sizeof(int), cmp_int);
    for (int k = 0; k < s->n_holdout; k++)
        role[s->n_authors + k] = k < out->n_holdout_authors ? ROLE_HOLDOUT : ROLE_NONE;
    for (int i = 0; i < out->n_holdout_authors; i++) out->holdout_authors[i] = s->n_authors + i;
    tb_free(perm);
}

static void collect_items(const tb_qa_set *s, const char *role, tb_qa_splits *out) {
    for (long i = 0; i < s->n_items; i++) {
        int rl = role[s->items[i].author];
        out->n_forget += rl == ROLE_FORGET;
        out->n_retain += rl == ROLE_RETAIN;
        out->n_holdout += rl == ROLE_HOLDOUT;
    }
    out->forget = tb_malloc((size_t)out->n_forget * sizeof(long));
    out->retain = tb_malloc((size_t)out->n_retain * sizeof(long));
    out->holdout = tb_malloc((size_t)out->n_holdout * sizeof(long));
    long f = 0, r = 0, h = 0;
    for (long i = 0; i < s->n_items; i++) {
        int rl = role[s->items[i].author];
        if (rl == ROLE_FORGET) out->forget[f++] = i;
        else if (rl == ROLE_RETAIN) out->retain[r++] = i;
        else if (rl == ROLE_HOLDOUT) out->holdout[h++] = i;
    }
}

/* The first max retain items of one permutation of all items, ascending. */
static void pick_retain_eval(const tb_qa_set *s, const char *role, uint64_t seed, int max, tb_qa_splits *out) {
    long want = out->n_retain < max ? out->n_retain : max;
    out->retain_eval = tb_malloc((size_t)want * sizeof(long));
    long *perm = tb_malloc((size_t)s->n_items * sizeof *perm);
    for (long i = 0; i < s->n_items; i++) perm[i] = i;
    tb_rng r = tb_rng_make(seed, tb_rng_stream_id("retain_eval"));
    for (long i = s->n_items - 1; i > 0; i--) { /* Fisher-Yates over longs */
        long j = (long)tb_rng_below(&r, (uint64_t)i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (long i = 0; i < s->n_items && out->n_retain_eval < want; i++)
        if (role[s->items[perm[i]].author] == ROLE_RETAIN) out->retain_eval[out->n_retain_eval++] = perm[i];
    qsort(out->retain_eval, (size_t)out->n_retain_eval, sizeof(long), cmp_long);
    tb_free(perm);
}

int tb_qa_split(const tb_qa_set *s, const char *split, uint64_t seed, int retain_eval_max, tb_qa_splits *out) {
    memset(out, 0, sizeof *out);
    int percent;
    TB_CHECK(parse_split(split, &percent));
    if (retain_eval_max < 0)
        return TB_ERROR(TB_ERR_ARG, "give 0 or more retain evaluation items", "split %s: retain_eval_max is %d",
                        split, retain_eval_max);
    int n_forget = (int)lround(s->n_authors * percent / 100.0);
    if (n_forget < 1) n_forget = 1;
    if (n_forget >= s->n_authors)
        return TB_ERROR(TB_ERR_ARG, "use more trained authors or a smaller split",
                        "split %s forgets %d of %d trained authors and leaves none to retain", split, n_forget,
                        s->n_authors);
    if (s->n_holdout > 0 && s->n_holdout < n_forget)
        return TB_ERROR(TB_ERR_ARG, "the holdout must be as large as the forget set: add holdout authors",
                        "split %s forgets %d authors but the set has only %d holdout authors", split, n_forget,
                        s->n_holdout);
    out->n_forget_authors = n_forget;
    out->n_holdout_authors = s->n_holdout > 0 ? n_forget : 0;
    out->forget_authors = tb_malloc((size_t)n_forget * sizeof(int));
    out->holdout_authors = tb_malloc((size_t)out->n_holdout_authors * sizeof(int));
    char *role = tb_malloc((size_t)(s->n_authors + s->n_holdout));
    assign_roles(s, seed, out, role);
    collect_items(s, role, out);
    pick_retain_eval(s, role, seed, retain_eval_max, out);
    tb_free(role);
    return TB_OK;
}

void tb_qa_splits_free(tb_qa_splits *sp) {
    tb_free(sp->forget);
    tb_free(sp->retain);
    tb_free(sp->retain_eval);
    tb_free(sp->holdout);
    tb_free(sp->forget_authors);
    tb_free(sp->holdout_authors);
    memset(sp, 0, sizeof *sp);
}
