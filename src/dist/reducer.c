/* reducer.c: bucketed, overlapped all-reduce of gradients during backward. */
#include <string.h>

#include "dist.h"

static void on_grad_ready(void *ctx, int l);

static void add_bucket(tb_grad_reducer *r, size_t begin, size_t end, int ready_at) {
    tb_bucket *b = &r->buckets[r->n_buckets++];
    memset(b, 0, sizeof *b);
    b->begin = begin;
    b->end = end;
    b->ready_at = ready_at;
    b->req = MPI_REQUEST_NULL;
}

/* Layers in the order backward finishes them: head (L), blocks L-1..0, embeddings (-1). Consecutive
 * layers join one bucket until it would exceed bucket_bytes. */
int tb_grad_reducer_init(tb_grad_reducer *r, MPI_Comm comm, tb_model *m, tb_paramset *ps, size_t bucket_bytes) {
    memset(r, 0, sizeof *r);
    r->comm = comm;
    MPI_Comm_size(comm, &r->size);
    r->ps = ps;
    int L = m->cfg.n_layer;
    r->buckets = tb_malloc((size_t)(L + 2) * sizeof(tb_bucket));
    size_t cur_begin = 0, cur_end = 0;
    int cur_ready = 0, open = 0;
    for (int l = L; l >= -1; l--) {
        size_t b, e;
        tb_model_layer_range(m, ps, l, &b, &e);
        if (b == e) continue;
        /* ranges come in descending address order, each ending where the previous begins */
        if (open && (cur_end - b) * sizeof(float) <= bucket_bytes && e == cur_begin) {
            cur_begin = b;
            cur_ready = l;
            continue;
        }
        if (open) add_bucket(r, cur_begin, cur_end, cur_ready);
        cur_begin = b;
        cur_end = e;
        cur_ready = l;
        open = 1;
    }
    if (open) add_bucket(r, cur_begin, cur_end, cur_ready);
    m->on_grad_ready = on_grad_ready;
    m->grad_ready_ctx = r;
    return TB_OK;
}

void tb_grad_reducer_free(tb_grad_reducer *r, tb_model *m) {
    if (m->grad_ready_ctx == r) {
        m->on_grad_ready = NULL;
        m->grad_ready_ctx = NULL;
    }
    tb_free(r->buckets);
    memset(r, 0, sizeof *r);
}

void tb_grad_reducer_arm(tb_grad_reducer *r) { r->armed = r->size > 1; }

static void start_bucket(tb_grad_reducer *r, tb_bucket *b) {
    float *g = r->ps->grad + b->begin;
    int n = (int)(b->end - b->begin);
    MPI_Iallreduce(MPI_IN_PLACE, g, n, MPI_FLOAT, MPI_SUM, r->comm, &b->req);
    b->started = 1;
    r->bytes_reduced += (double)n * sizeof(float);
}

/* Progress outstanding reductions: Open MPI only moves them inside MPI calls. */
static void progress(tb_grad_reducer *r) {
    for (int i = 0; i < r->n_buckets; i++) {
        int done;
        if (r->buckets[i].started && r->buckets[i].req != MPI_REQUEST_NULL) MPI_Test(&r->buckets[i].req, &done, MPI_STATUS_IGNORE);
    }
}

/* The model's backward hook: layer l's gradient is final; start every bucket that is now complete. */
static void on_grad_ready(void *ctx, int l) {
    tb_grad_reducer *r = ctx;
    if (!r->armed) return;
    if (l == TB_GRAD_PROGRESS) {
        progress(r);
        return;
    }
    for (int i = 0; i < r->n_buckets; i++)
        if (!r->buckets[i].started && r->buckets[i].ready_at >= l) start_bucket(r, &r->buckets[i]);
    progress(r);
}

int tb_grad_reducer_finish(tb_grad_reducer *r) {
    if (!r->armed) return TB_OK;
    for (int i = 0; i < r->n_buckets; i++)
        if (!r->buckets[i].started) start_bucket(r, &r->buckets[i]);
    double t0 = tb_now();
    int rc = MPI_SUCCESS;
    for (int i = 0; i < r->n_buckets; i++) {
        int e = MPI_Wait(&r->buckets[i].req, MPI_STATUS_IGNORE);
        if (e != MPI_SUCCESS) rc = e;
        r->buckets[i].started = 0;
    }
    r->wait_seconds += tb_now() - t0;
    r->armed = 0;
    if (rc != MPI_SUCCESS)
        return TB_ERROR(TB_ERR_MPI, "a rank of the group may have failed", "gradient all-reduce failed (MPI error %d)", rc);
    return TB_OK;
}
