/* diag.c: spec errors are collected rather than returned one at a time, so that a user fixing a
 * spec sees every problem of it in one run; each names its file, line, column and key. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "spec_internal.h"

void spec_error(spec_diags *d, spec_loc at, const char *key, const char *hint, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    d->items = spec_grow(d->arena, d->items, sizeof *d->items, d->n, &d->cap);
    spec_diag *e = &d->items[d->n++];
    e->at = at;
    if (key)
        e->text = spec_printf(d->arena, "%s:%d:%d: %s: %s", at.file, at.line, at.col, key, msg);
    else
        e->text = spec_printf(d->arena, "%s:%d:%d: %s", at.file, at.line, at.col, msg);
    e->hint = hint ? spec_strdup(d->arena, hint) : NULL;
}

/* Errors are found check by check, not line by line; people read a file top down. */
static void sort_by_place(spec_diags *d) {
    int *rank = spec_alloc(d->arena, sizeof *rank * (size_t)d->n);
    for (int i = 0; i < d->n; i++) {
        rank[i] = i;
        for (int j = 0; j < i; j++)
            if (!strcmp(d->items[j].at.file, d->items[i].at.file)) {
                rank[i] = rank[j];
                break;
            }
    }
    for (int i = 1; i < d->n; i++) { /* stable insertion sort on (file rank, line, column) */
        spec_diag e = d->items[i];
        int r = rank[i], j = i;
        while (j > 0 && (rank[j - 1] > r || (rank[j - 1] == r && (d->items[j - 1].at.line > e.at.line ||
                                                                   (d->items[j - 1].at.line == e.at.line &&
                                                                    d->items[j - 1].at.col > e.at.col))))) {
            d->items[j] = d->items[j - 1];
            rank[j] = rank[j - 1];
            j--;
        }
        d->items[j] = e;
        rank[j] = r;
    }
}

int spec_errors_report(spec_diags *d, FILE *errs) {
    if (d->n == 0) return TB_OK;
    sort_by_place(d);
    if (errs) {
        int shown = d->n < TB_SPEC_MAX_REPORTED ? d->n : TB_SPEC_MAX_REPORTED;
        for (int i = 0; i < shown; i++) {
            fprintf(errs, "%s\n", d->items[i].text);
            if (d->items[i].hint) fprintf(errs, "    hint: %s\n", d->items[i].hint);
        }
        if (d->n > shown) fprintf(errs, "... and %d more errors\n", d->n - shown);
        fflush(errs);
    }
    const spec_diag *first = &d->items[0];
    if (d->n == 1) return TB_ERROR(TB_ERR_ARG, first->hint, "%s", first->text);
    return TB_ERROR(TB_ERR_ARG, first->hint, "%s (and %d more)", first->text, d->n - 1);
}

void spec_format_double(char *buf, size_t n, double x) {
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(buf, n, "%.*g", digits, x);
        if (strtod(buf, NULL) == x) return;
    }
}

int spec_edit_distance(const char *a, const char *b) {
    /* three rolling rows of the dynamic programme: the swap of neighbours looks two rows back */
    enum { MAXLEN = 128 };
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > MAXLEN || lb > MAXLEN) return la > lb ? la : lb;
    int rows[3][MAXLEN + 1];
    int *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    for (int j = 0; j <= lb; j++) prev[j] = j;
    for (int i = 1; i <= la; i++) {
        cur[0] = i;
        for (int j = 1; j <= lb; j++) {
            int cost = a[i - 1] != b[j - 1];
            int best = prev[j] + 1;
            if (cur[j - 1] + 1 < best) best = cur[j - 1] + 1;
            if (prev[j - 1] + cost < best) best = prev[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
        int *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

const char *spec_closest(const char *word, const char *const *candidates, int n) {
    /* a third of the word's length (at least 2) separates typos from different words */
    int len = (int)strlen(word), limit = len / 3 > 2 ? len / 3 : 2;
    const char *best = NULL;
    int best_d = limit + 1;
    for (int i = 0; i < n; i++) {
        int dist = spec_edit_distance(word, candidates[i]);
        if (dist < best_d) {
            best_d = dist;
            best = candidates[i];
        }
    }
    return best;
}
