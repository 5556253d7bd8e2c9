/*
 * qa.c: a QA set's memory and look-ups (see data.h, "QA datasets").
 *
 * A set holds thousands of short strings; they are copied into large blocks (the pool) instead of
 * being allocated one by one, and the arrays are allocated once at their final size, so freeing a set
 * is a walk over a few blocks.
 */
#include <string.h>

#include "data/data.h"

char *tb_qa_strdup(tb_qa_set *s, const char *text, size_t len) {
    return tb_pool_strdup(&s->pool, text, len);
}

void tb_qa_alloc(tb_qa_set *s, int n_attrs, int n_authors, int n_holdout, long n_items, long n_famous,
                 long n_world) {
    TB_ASSERT(n_attrs >= 0 && n_authors >= 0 && n_holdout >= 0 && n_items >= 0 && n_famous >= 0 && n_world >= 0);
    memset(s, 0, sizeof *s);
    const int n_total = n_authors + n_holdout;
    s->n_attrs = n_attrs;
    s->attr_names = tb_malloc((size_t)n_attrs * sizeof *s->attr_names);
    s->n_authors = n_authors;
    s->n_holdout = n_holdout;
    s->authors = tb_malloc((size_t)n_total * sizeof *s->authors);
    if (n_total > 0) { /* one table of values, authors[k].values being row k */
        char **values = tb_malloc((size_t)n_total * (size_t)n_attrs * sizeof *values);
        for (int k = 0; k < n_total; k++) s->authors[k].values = values + (size_t)k * (size_t)n_attrs;
    }
    s->n_items = n_items;
    s->items = tb_malloc((size_t)n_items * sizeof *s->items);
    s->n_famous = n_famous;
    s->famous = tb_malloc((size_t)n_famous * sizeof *s->famous);
    s->n_world = n_world;
    s->world = tb_malloc((size_t)n_world * sizeof *s->world);
}

void tb_qa_free(tb_qa_set *s) {
    tb_pool_free(&s->pool);
    if (s->authors && s->n_authors + s->n_holdout > 0) tb_free(s->authors[0].values);
    tb_free(s->authors);
    tb_free(s->attr_names);
    tb_free(s->items);
    tb_free(s->famous);
    tb_free(s->world);
    memset(s, 0, sizeof *s);
}

int tb_author_attr(const tb_qa_set *s, int author, const char *attr, const char **value) {
    const int n_total = s->n_authors + s->n_holdout;
    if (author < 0 || author >= n_total)
        return TB_ERROR(TB_ERR_ARG, "author indices run over the trained authors, then the holdout ones",
                        "author %d does not exist (the set has %d authors)", author, n_total);
    for (int a = 0; a < s->n_attrs; a++) {
        if (strcmp(s->attr_names[a], attr) != 0) continue;
        *value = s->authors[author].values[a];
        if (!*value)
            return TB_ERROR(TB_ERR_ARG, "give every author this attribute in the \"attributes\" object of its lines",
                            "author '%s' has no value for attribute '%s'", s->authors[author].name, attr);
        return TB_OK;
    }
    char valid[1024];
    size_t n = 0;
    valid[0] = '\0';
    for (int a = 0; a < s->n_attrs && n < sizeof valid; a++)
        n += (size_t)snprintf(valid + n, sizeof valid - n, "%s%s", a ? ", " : "", s->attr_names[a]);
    return TB_ERROR(TB_ERR_ARG, "use one of the set's attribute names", "unknown author attribute '%s'; valid: %s",
                    attr, s->n_attrs ? valid : "none (the set has no attributes)");
}

void tb_qa_mean_lengths(const tb_qa_set *s, const long *idx, long n, double *answer, double *perturbed) {
    double sum_answer = 0, sum_perturbed = 0;
    long n_perturbed = 0;
    for (long i = 0; i < n; i++) {
        const tb_qa_item *it = &s->items[idx[i]];
        sum_answer += (double)strlen(it->answer);
        for (int j = 0; j < it->n_perturbed; j++) sum_perturbed += (double)strlen(it->perturbed[j]);
        n_perturbed += it->n_perturbed;
    }
    *answer = n ? sum_answer / (double)n : 0.0;
    *perturbed = n_perturbed ? sum_perturbed / (double)n_perturbed : 0.0;
}
