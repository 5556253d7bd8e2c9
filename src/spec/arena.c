/* arena.c: a spec owns many small strings and arrays whose lifetime is the spec's, and loading
 * stops in many places on bad input; one arena released at once keeps every path leak-free. */
#include <stdarg.h>
#include <string.h>

#include "spec_internal.h"

#define BLOCK_BYTES 16384

struct spec_block {
    spec_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

void *spec_alloc(spec_arena *a, size_t bytes) {
    size_t n = (bytes + 15) / 16 * 16;
    if (n == 0) n = 16;
    spec_block *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > BLOCK_BYTES ? n : BLOCK_BYTES;
        b = tb_malloc(sizeof *b + cap); /* zeroed */
        b->cap = cap;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

char *spec_strndup(spec_arena *a, const char *s, size_t n) {
    char *p = spec_alloc(a, n + 1);
    memcpy(p, s, n);
    return p;
}

char *spec_strdup(spec_arena *a, const char *s) { return spec_strndup(a, s, strlen(s)); }

char *spec_printf(spec_arena *a, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    TB_ASSERT(n >= 0);
    char *p = spec_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void *spec_grow(spec_arena *a, void *items, size_t elem, int n, int *cap) {
    if (n < *cap) return items;
    int new_cap = *cap ? 2 * *cap : 8;
    void *p = spec_alloc(a, elem * (size_t)new_cap);
    if (n) memcpy(p, items, elem * (size_t)n);
    *cap = new_cap;
    return p;
}

void spec_arena_release(spec_arena *a) {
    while (a->head) {
        spec_block *next = a->head->next;
        tb_free(a->head);
        a->head = next;
    }
}

void spec_text_append(spec_text *t, const char *s, size_t n) {
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n + 1) cap *= 2;
        char *buf = spec_alloc(t->arena, cap);
        if (t->len) memcpy(buf, t->buf, t->len);
        t->buf = buf;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

void spec_text_printf(spec_text *t, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    TB_ASSERT(n >= 0);
    if ((size_t)n < sizeof small) {
        spec_text_append(t, small, (size_t)n);
        return;
    }
    char *big = spec_alloc(t->arena, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    spec_text_append(t, big, (size_t)n);
}
