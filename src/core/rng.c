/* rng.c: a counter-based generator. Output i of a stream is mix(key + i * golden), with the
 * SplitMix64 finaliser as mixer; the key is a mix of (seed, stream). Because a draw depends only on
 * (seed, stream, i), data order and initialisation do not depend on how many ranks run, and the
 * whole state is two integers that a checkpoint stores. */
#include <math.h>

#include "core.h"

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

tb_rng tb_rng_make(uint64_t seed, uint64_t stream) {
    tb_rng r;
    r.key = mix64(mix64(seed + 0x9e3779b97f4a7c15ULL) ^ (stream * 0xd1b54a32d192ed03ULL));
    r.counter = 0;
    return r;
}

uint64_t tb_rng_stream_id(const char *name) { /* FNV-1a, then mixed */
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) h = (h ^ *p) * 0x100000001b3ULL;
    return mix64(h);
}

uint64_t tb_rng_u64(tb_rng *r) { return mix64(r->key + (r->counter++) * 0x9e3779b97f4a7c15ULL); }

uint32_t tb_rng_u32(tb_rng *r) { return (uint32_t)(tb_rng_u64(r) >> 32); }

float tb_rng_uniform(tb_rng *r) { return (float)(tb_rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

float tb_rng_normal(tb_rng *r) {
    /* Box-Muller from two 53-bit uniforms; u1 in (0, 1] keeps the log finite */
    double u1 = ((tb_rng_u64(r) >> 11) + 1) * (1.0 / 9007199254740992.0);
    double u2 = (tb_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

uint64_t tb_rng_below(tb_rng *r, uint64_t n) {
    /* rejection keeps the draw unbiased for any n */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = tb_rng_u64(r);
    while (x >= limit);
    return x % n;
}

void tb_rng_shuffle(tb_rng *r, int *a, int n) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)tb_rng_below(r, (uint64_t)i + 1);
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}
