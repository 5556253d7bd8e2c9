/*
 * zero3.c: ZeRO-3 parameter sharding. Each unit of the model (embeddings, every block, the head) is
 * split into size parts; this rank keeps its part of every unit, as pieces of the units' tensors, in
 * a shard ParamSet that the optimizer, clipping and checkpoints work on. The model asks for a unit's
 * whole weights right before using it (all-gather into a temporary buffer) and gives them back right
 * after; in backward the unit's gradient buffer is reduce-scattered into the shards at release.
 * Only a few units are ever whole at once, which is the point: 16Ψ/P bytes of state instead of 16Ψ.
 */
#include <string.h>

#include "zero3.h"

struct tb_zero3 {
    tb_model *m;
    MPI_Comm comm;
    int rank, size, n_units;   /* units -1..L at index u + 1 */
    size_t *ub, *ue;           /* [n_units] flat range of each unit */
    int *counts, *displs;      /* [n_units * size] each rank's part of each unit, relative to ub */
    int *piece_first, *piece_n; /* [n_units] this rank's pieces (shard tensors) of each unit */
    size_t *piece_flat;        /* [shard tensors] where each piece starts in the whole layout */
    tb_paramset shard;
    float *part;               /* scratch: this rank's part of one unit, gaps included */
    float **unit_data, **unit_grad; /* [n_units] buffers handed to the model */
    /* released buffers of block size, reused by the next block: the blocks are all one size, so
     * a step allocates nothing for them after the first */
    float *spare[4];
    int n_spare;
    size_t block_n;
    size_t live_bytes, peak_bytes; /* gathered buffers in use, and the most ever held with the spares */
    tb_param_provider provider;
};

static int part_count(const tb_zero3 *z, int ui, int r) { return z->counts[(size_t)ui * z->size + r]; }
static int part_displ(const tb_zero3 *z, int ui, int r) { return z->displs[(size_t)ui * z->size + r]; }

/* Copies this rank's pieces of unit ui between the shard and a part buffer laid out like the unit's
 * range from displs[rank] on (the padding between tensors stays zero). */
static void pack(const tb_zero3 *z, int ui, const float *shard_vals, float *part) {
    size_t base = z->ub[ui] + (size_t)part_displ(z, ui, z->rank);
    memset(part, 0, (size_t)part_count(z, ui, z->rank) * sizeof(float));
    for (int i = z->piece_first[ui]; i < z->piece_first[ui] + z->piece_n[ui]; i++) {
        const tb_tensor *t = &z->shard.tensors[i];
        memcpy(part + (z->piece_flat[i] - base), shard_vals + t->offset, t->numel * sizeof(float));
    }
}

static void unpack_add(const tb_zero3 *z, int ui, const float *part, float *shard_vals) {
    size_t base = z->ub[ui] + (size_t)part_displ(z, ui, z->rank);
    for (int i = z->piece_first[ui]; i < z->piece_first[ui] + z->piece_n[ui]; i++) {
        const tb_tensor *t = &z->shard.tensors[i];
        const float *src = part + (z->piece_flat[i] - base);
        float *dst = shard_vals + t->offset;
        for (size_t j = 0; j < t->numel; j++) dst[j] += src[j];
    }
}

static void gather_unit(tb_zero3 *z, int ui, float *unit) {
    pack(z, ui, z->shard.data, z->part);
    /* MPI failures abort (the default handler): a lost rank cannot be recovered mid-step */
    MPI_Allgatherv(z->part, part_count(z, ui, z->rank), MPI_FLOAT, unit, z->counts + (size_t)ui * z->size,
                   z->displs + (size_t)ui * z->size, MPI_FLOAT, z->comm);
}

static int is_block(const tb_zero3 *z, int ui) { return ui >= 1 && ui <= z->n_units - 2; }

/* A buffer for unit ui: a spare block buffer when one is free, else a new one. zero: backward
 * accumulates into gradient buffers. */
static float *unit_buffer(tb_zero3 *z, int ui, int zero) {
    size_t n = z->ue[ui] - z->ub[ui];
    float *b;
    if (is_block(z, ui) && z->n_spare > 0) {
        b = z->spare[--z->n_spare];
        if (zero) memset(b, 0, n * sizeof(float));
    } else {
        b = tb_malloc((n ? n : 1) * sizeof(float)); /* zeroed */
    }
    z->live_bytes += n * sizeof(float);
    size_t held = z->live_bytes + (size_t)z->n_spare * z->block_n * sizeof(float);
    if (held > z->peak_bytes) z->peak_bytes = held;
    return b;
}

static void unit_buffer_release(tb_zero3 *z, int ui, float *b) {
    size_t n = z->ue[ui] - z->ub[ui];
    z->live_bytes -= n * sizeof(float);
    if (is_block(z, ui) && z->n_spare < (int)(sizeof z->spare / sizeof z->spare[0])) z->spare[z->n_spare++] = b;
    else tb_free(b);
}

static void acquire(void *ctx, int u, int for_backward, float **data, float **grad) {
    tb_zero3 *z = ctx;
    int ui = u + 1;
    z->unit_data[ui] = unit_buffer(z, ui, 0); /* the all-gather writes all of it */
    gather_unit(z, ui, z->unit_data[ui]);
    if (for_backward) z->unit_grad[ui] = unit_buffer(z, ui, 1);
    *data = z->unit_data[ui];
    *grad = z->unit_grad[ui];
}

static void release(void *ctx, int u, int for_backward) {
    tb_zero3 *z = ctx;
    int ui = u + 1;
    if (for_backward && z->unit_grad[ui]) {
        /* the unit's gradient is final: sum it over the group into each rank's part */
        MPI_Reduce_scatter(z->unit_grad[ui], z->part, z->counts + (size_t)ui * z->size, MPI_FLOAT, MPI_SUM, z->comm);
        unpack_add(z, ui, z->part, z->shard.grad);
        unit_buffer_release(z, ui, z->unit_grad[ui]);
        z->unit_grad[ui] = NULL;
    }
    unit_buffer_release(z, ui, z->unit_data[ui]);
    z->unit_data[ui] = NULL;
}

/* This rank's pieces: every tensor's overlap with its part of every unit, flags kept. */
static void build_shard(tb_zero3 *z) {
    const tb_paramset *ps = &z->m->params;
    tb_paramset_init(&z->shard);
    size_t n_pieces = 0;
    z->piece_flat = tb_malloc(((size_t)ps->n_tensors + (size_t)z->n_units) * sizeof(size_t));
    for (int ui = 0; ui < z->n_units; ui++) {
        size_t pb = z->ub[ui] + (size_t)part_displ(z, ui, z->rank), pe = pb + (size_t)part_count(z, ui, z->rank);
        z->piece_first[ui] = z->shard.n_tensors;
        for (int i = 0; i < ps->n_tensors; i++) {
            const tb_tensor *t = &ps->tensors[i];
            size_t lo = t->offset > pb ? t->offset : pb, hi = t->offset + t->numel < pe ? t->offset + t->numel : pe;
            if (lo >= hi) continue;
            int len = (int)(hi - lo);
            tb_tensor *piece = tb_paramset_add(&z->shard, t->name, 1, &len);
            piece->decay = t->decay;
            piece->frozen = t->frozen;
            z->piece_flat[n_pieces++] = lo;
        }
        z->piece_n[ui] = z->shard.n_tensors - z->piece_first[ui];
    }
    tb_paramset_alloc(&z->shard);
    for (int i = 0; i < z->shard.n_tensors; i++)
        memcpy(z->shard.data + z->shard.tensors[i].offset, ps->data + z->piece_flat[i],
               z->shard.tensors[i].numel * sizeof(float));
}

int tb_zero3_init(tb_zero3 **out, MPI_Comm comm, tb_model *m) {
    tb_zero3 *z = tb_malloc(sizeof *z);
    z->m = m;
    z->comm = comm;
    MPI_Comm_rank(comm, &z->rank);
    MPI_Comm_size(comm, &z->size);
    z->n_units = m->cfg.n_layer + 2;
    z->ub = tb_malloc((size_t)z->n_units * sizeof(size_t));
    z->ue = tb_malloc((size_t)z->n_units * sizeof(size_t));
    z->counts = tb_malloc((size_t)z->n_units * z->size * sizeof(int));
    z->displs = tb_malloc((size_t)z->n_units * z->size * sizeof(int));
    z->piece_first = tb_malloc((size_t)z->n_units * sizeof(int));
    z->piece_n = tb_malloc((size_t)z->n_units * sizeof(int));
    z->unit_data = tb_malloc((size_t)z->n_units * sizeof(float *));
    z->unit_grad = tb_malloc((size_t)z->n_units * sizeof(float *));
    size_t max_part = 1;
    for (int u = -1; u <= m->cfg.n_layer; u++) {
        int ui = u + 1;
        tb_model_layer_range(m, &m->params, u, &z->ub[ui], &z->ue[ui]);
        size_t n = z->ue[ui] - z->ub[ui];
        if (n > (size_t)0x7fffffff) {
            *out = z;
            return TB_ERROR(TB_ERR_ARG, "a unit's weights must fit one MPI count", "unit %d has %zu weights", u, n);
        }
        size_t S = (n + (size_t)z->size - 1) / (size_t)z->size;
        for (int r = 0; r < z->size; r++) {
            size_t b = (size_t)r * S < n ? (size_t)r * S : n, e = (size_t)(r + 1) * S < n ? (size_t)(r + 1) * S : n;
            z->displs[(size_t)ui * z->size + r] = (int)b;
            z->counts[(size_t)ui * z->size + r] = (int)(e - b);
        }
        max_part = S > max_part ? S : max_part;
    }
    z->part = tb_malloc(max_part * sizeof(float));
    z->block_n = z->n_units > 2 ? z->ue[1] - z->ub[1] : 0;
    build_shard(z);
    /* the whole weights now live in the shards of the group: drop this rank's full copy */
    tb_free(m->params.data);
    tb_free(m->params.grad);
    m->params.data = m->params.grad = NULL;
    z->provider = (tb_param_provider){.acquire = acquire, .release = release, .ctx = z};
    m->provider = &z->provider;
    *out = z;
    return TB_OK;
}

void tb_zero3_free(tb_zero3 *z) {
    if (!z) return;
    if (z->m && z->m->provider == &z->provider) z->m->provider = NULL;
    tb_paramset_free(&z->shard);
    for (int i = 0; i < z->n_spare; i++) tb_free(z->spare[i]);
    void *bufs[] = {z->ub, z->ue, z->counts, z->displs, z->piece_first, z->piece_n, z->piece_flat, z->part,
                    z->unit_data, z->unit_grad};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) tb_free(bufs[i]);
    tb_free(z);
}

tb_paramset *tb_zero3_shard(tb_zero3 *z) { return &z->shard; }

size_t tb_zero3_peak_bytes(const tb_zero3 *z) { return z->peak_bytes; }

int tb_zero3_gather(tb_zero3 *z, const float *shard_vals, float *full) {
    memset(full, 0, z->m->params.numel * sizeof(float));
    for (int ui = 0; ui < z->n_units; ui++) {
        pack(z, ui, shard_vals, z->part);
        if (MPI_Allgatherv(z->part, part_count(z, ui, z->rank), MPI_FLOAT, full + z->ub[ui],
                           z->counts + (size_t)ui * z->size, z->displs + (size_t)ui * z->size, MPI_FLOAT,
                           z->comm) != MPI_SUCCESS)
            return TB_ERROR(TB_ERR_MPI, "a rank of the group may have failed", "gathering ZeRO-3 shards failed");
    }
    return TB_OK;
}

void tb_zero3_scatter(const tb_zero3 *z, const float *full, float *shard_vals) {
    for (int i = 0; i < z->shard.n_tensors; i++)
        memcpy(shard_vals + z->shard.tensors[i].offset, full + z->piece_flat[i], z->shard.tensors[i].numel * sizeof(float));
}

int tb_zero3_unshard(tb_zero3 *z) {
    tb_model *m = z->m;
    if (!m->params.data) {
        m->params.data = tb_malloc(m->params.numel * sizeof(float));
        m->params.grad = tb_malloc(m->params.numel * sizeof(float));
    }
    TB_CHECK(tb_zero3_gather(z, z->shard.data, m->params.data));
    m->provider = NULL;
    return TB_OK;
}
