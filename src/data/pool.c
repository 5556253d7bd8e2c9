/*
 * pool.c: string pools. A dataset holds thousands of short strings; copying them into large blocks
 * instead of allocating each one keeps loading fast and makes freeing a set a walk over a few blocks.
 */
#include <string.h>

#include "data/data.h"

#define POOL_BLOCK ((size_t)1 << 16)

typedef struct pool_block {
    struct pool_block *next;
    size_t used, cap;
    char data[];
} pool_block;

char *tb_pool_strdup(void **pool, const char *text, size_t len) {
    pool_block *b = *pool;
    if (!b || b->cap - b->used < len + 1) {
        size_t cap = len + 1 > POOL_BLOCK ? len + 1 : POOL_BLOCK;
        pool_block *fresh = tb_malloc(sizeof *fresh + cap);
        fresh->cap = cap;
        fresh->used = 0;
        fresh->next = b;
        *pool = b = fresh;
    }
    char *out = b->data + b->used;
    memcpy(out, text, len);
    out[len] = '\0';
    b->used += len + 1;
    return out;
}

void tb_pool_free(void **pool) {
    for (pool_block *b = *pool, *next; b; b = next) {
        next = b->next;
        tb_free(b);
    }
    *pool = NULL;
}
