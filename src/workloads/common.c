/* common.c: what every workload shares: cache paths, and the training of one point inside its group
 * with stop agreement, checkpoint of the point in flight, failure isolation and progress. */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "sys/sys.h"
#include "workloads.h"

void tb_stage_path(char *buf, size_t cap, const char *cache_dir, const char *stage, uint64_t hash) {
    snprintf(buf, cap, "%s/%s-%016llx.h5", cache_dir, stage, (unsigned long long)hash);
}

int tb_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int tb_make_dirs(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        int end = *p == '\0';
        if (*p == '/' || end) {
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return TB_ERROR(TB_ERR_IO, "check the permissions of the parent directory",
                                "cannot create directory '%s': %s", buf, strerror(errno));
            if (end) break;
            *p = '/';
        }
    }
    return TB_OK;
}

static int group_rank(const tb_point_train *pt) {
    int r = 0;
    if (pt->dp) MPI_Comm_rank(pt->dp->comm, &r);
    return r;
}

/* A rank's part of some state (moments; under ZeRO-3 also the weights) in the whole layout. */
static int gather_state(const tb_point_train *pt, const float *part, float *full, size_t n) {
    if (!pt->dp) {
        memcpy(full, part, n * sizeof(float));
        return TB_OK;
    }
    return tb_dp_gather_state(pt->dp, part, full);
}

static size_t curve_floats(const tb_point_train *pt) {
    return (size_t)(pt->curve_rows > 1 ? pt->curve_rows : 1) * (size_t)pt->steps;
}

/* Whose moments the optimizer holds: the reparameterisation's, the adapter's or the base weights'. */
static int owner_of(const tb_point_train *pt) {
    const tb_model *m = pt->tr->model;
    if (pt->tr->reparam) return TB_CKPT_REPARAM;
    return pt->tr->trainable == &m->adapter && !(pt->dp && pt->dp->mode == TB_DP_ZERO3) ? TB_CKPT_ADAPTER : TB_CKPT_BASE;
}

/* The group's rank 0 writes the point's state; every rank of the group takes part in the gathers. */
static int save_point(const tb_point_train *pt, long step) {
    tb_model *model = pt->tr->model;
    const tb_optimizer *o = pt->tr->opt;
    int zero3 = pt->dp && pt->dp->mode == TB_DP_ZERO3;
    TB_ASSERT(!(zero3 && pt->tr->reparam)); /* a reparameterisation is one unit, never sharded */
    const tb_paramset *ps = zero3 ? &model->params : pt->tr->trainable;
    size_t n = ps->numel;
    float *m = tb_malloc(n * sizeof(float)), *v = tb_malloc(n * sizeof(float)), *w = NULL;
    int rc = gather_state(pt, o->m, m, n);
    if (rc == TB_OK && o->v) rc = gather_state(pt, o->v, v, n);
    if (rc == TB_OK && zero3) { /* the weights are in shards too: put a whole copy in the model to save it */
        w = tb_malloc(n * sizeof(float));
        rc = tb_dp_gather_state(pt->dp, tb_dp_trainable(pt->dp)->data, w);
        model->params.data = w;
    }
    if (rc == TB_OK && group_rank(pt) == 0) {
        tb_ckpt_state st = {.step = step, .opt_m = m, .opt_v = v, .opt_numel = n,
                            .opt_owner = owner_of(pt), .reparam = pt->tr->reparam ? ps : NULL, .trace = pt->curve,
                            .trace_len = pt->curve ? curve_floats(pt) : 0};
        rc = tb_checkpoint_save(pt->state_path, model, pt->tok, &st);
    }
    if (zero3) model->params.data = NULL;
    tb_free(w);
    tb_free(m);
    tb_free(v);
    return rc;
}

int tb_point_resume(tb_point_train *pt, long *start) {
    *start = 0;
    if (!tb_file_exists(pt->state_path)) return TB_OK;
    tb_model saved;
    tb_ckpt_state st;
    TB_CHECK(tb_checkpoint_load(pt->state_path, &saved, NULL, &st));
    tb_model *m = pt->tr->model;
    int zero3 = pt->dp && pt->dp->mode == TB_DP_ZERO3;
    tb_paramset *ps = zero3 ? &m->params : pt->tr->trainable;
    int rc = TB_OK;
    if (saved.params.numel != m->params.numel || saved.adapter.numel != m->adapter.numel || !st.opt_m ||
        st.opt_owner != owner_of(pt) || st.opt_numel != ps->numel || st.step > pt->steps)
        rc = TB_ERROR(TB_ERR_FORMAT, "delete the stale state file (the point restarts) or run the spec it came from",
                      "state file %s does not match this point's model, optimizer or step count", pt->state_path);
    /* a reparameterisation's own weights: the model's prefix is recomputed from them every step */
    if (rc == TB_OK && pt->tr->reparam) rc = tb_checkpoint_load_reparam(pt->state_path, ps);
    if (rc == TB_OK) {
        if (zero3) tb_dp_scatter_state(pt->dp, saved.params.data, tb_dp_trainable(pt->dp)->data);
        else memcpy(m->params.data, saved.params.data, m->params.numel * sizeof(float));
        if (m->adapter.numel) memcpy(m->adapter.data, saved.adapter.data, m->adapter.numel * sizeof(float));
        const tb_optimizer *o = pt->tr->opt;
        if (pt->dp) {
            tb_dp_scatter_state(pt->dp, st.opt_m, o->m);
            if (o->v) tb_dp_scatter_state(pt->dp, st.opt_v, o->v);
        } else {
            memcpy(o->m, st.opt_m, o->numel * sizeof(float));
            if (o->v) memcpy(o->v, st.opt_v, o->numel * sizeof(float));
        }
        pt->tr->opt->step = st.step;
        size_t n_curve = curve_floats(pt);
        if (pt->curve && st.trace) memcpy(pt->curve, st.trace, (st.trace_len < n_curve ? st.trace_len : n_curve) * sizeof(float));
        *start = st.step;
    }
    tb_free(st.opt_m);
    tb_free(st.opt_v);
    tb_free(st.trace);
    tb_model_free(&saved);
    return rc;
}

int tb_point_train_run(tb_point_train *pt, long start, tb_point_out *out) {
    MPI_Comm comm = pt->dp ? pt->dp->comm : MPI_COMM_SELF;
    /* the divergence test compares with the first step's loss, restored with the curve on resume */
    double first = pt->curve && start > 0 ? pt->curve[0] : NAN;
    tb_progress prog;
    tb_progress_resume(&prog, pt->label, start, pt->steps, pt->verbose);
    for (long step = start; step < pt->steps; step++) {
        /* every rank of the group sees the same answer, so all stop at the same step */
        if (tb_sys_stop_agreed(comm)) {
            TB_CHECK(save_point(pt, step));
            out->interrupted = 1;
            snprintf(out->message, sizeof out->message, "interrupted at step %ld", step);
            return TB_OK;
        }
        double loss;
        float gnorm;
        int rc = tb_train_step(pt->tr, step, &loss, &gnorm);
        if (rc == TB_ERR_NUMERIC) { /* this point failed; the sweep goes on */
            out->failed = 1;
            snprintf(out->message, sizeof out->message, "%s", tb_error_message());
            tb_error_clear();
            return TB_OK;
        }
        TB_CHECK(rc);
        if (pt->curve) pt->curve[step] = (float)loss;
        if (pt->after_step) TB_CHECK(pt->after_step(pt->hook_ctx, step, loss));
        if (isnan(first)) first = loss;
        if (pt->diverge_factor > 0.0f && loss > pt->diverge_factor * first) {
            out->failed = 1;
            snprintf(out->message, sizeof out->message, "diverged: loss %.4g at step %ld exceeds %.3g x the first step's %.4g",
                     loss, step, (double)pt->diverge_factor, first);
            return TB_OK;
        }
        char extra[96];
        snprintf(extra, sizeof extra, "loss %.4f |g| %.3f", loss, (double)gnorm);
        tb_progress_update(&prog, step + 1, extra);
    }
    return TB_OK;
}
