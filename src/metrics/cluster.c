/*
 * cluster.c: activation clustering (see metrics.h; reference/poisoning.md section 6): 2-means with
 * k-means++ seeding and seeded restarts, the silhouette of the labelling, and the flag rule.
 *
 * Distances are the direct sum of squared differences, not |x|^2 - 2 x.c + |c|^2: that expansion
 * cancels catastrophically for points far from the origin but close to each other, and with d = 10
 * the direct form costs no more. Nothing depends on threads or ranks: a seed gives the same
 * labels on every run of a build.
 */
#include <math.h>
#include <string.h>

#include "metrics/metrics.h"

#define KMEANS_MAX_ITER 300 /* sklearn's cap; 2-means stops when no label changes, long before */
/* Points per silhouette tile: a tile of 256 points (d = 10 doubles each) takes 20 KiB, within L1. */
#define SILHOUETTE_TILE 256

static double sq_dist(const double *a, const double *b, int d) {
    double s = 0.0;
    for (int j = 0; j < d; j++) {
        double t = a[j] - b[j];
        s += t * t;
    }
    return s;
}

/* Uniform on [0, 1) with 53 bits: tb_rng_uniform's 24 bits cannot weight 20000 points finely enough. */
static double uniform_53(tb_rng *r) { return (double)(tb_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0); }

static int check_points(const double *x, int n, int d) {
    if (n < 1 || d < 1)
        return TB_ERROR(TB_ERR_ARG, "pass at least one point of at least one dimension",
                        "clustering of %d points in %d dimensions", n, d);
    for (size_t e = 0; e < (size_t)n * (size_t)d; e++)
        if (!isfinite(x[e]))
            return TB_ERROR(TB_ERR_NUMERIC, "non-finite representations usually mean the model diverged",
                            "point %zu of %d, coordinate %zu of %d, is %g", e / (size_t)d, n, e % (size_t)d, d, x[e]);
    return TB_OK;
}

/* ---- 2-means ------------------------------------------------------------------------------------ */

typedef struct {
    double *dist2;  /* n: squared distance to the first seed */
    int *label;     /* n: the current restart's labels */
    double *centre; /* 2 x d */
    double *sum;    /* 2 x d */
} kmeans_scratch;

/* k-means++ for two centres: the first a uniform point, the second drawn with probability
 * proportional to the squared distance to the first. Points at distance 0 are never drawn; if the
 * cumulative sum rounds below the draw, the last point with positive weight is taken. When every
 * point coincides with the first, both centres are that point. */
static void seed_two_centres(const double *x, int n, int d, tb_rng *r, kmeans_scratch *s) {
    int first = (int)tb_rng_below(r, (uint64_t)n), second = first;
    const double *c0 = x + (size_t)first * d;
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        s->dist2[i] = sq_dist(x + (size_t)i * d, c0, d);
        total += s->dist2[i];
    }
    if (total > 0.0) {
        double u = uniform_53(r) * total, cum = 0.0;
        for (int i = 0; i < n; i++) {
            if (s->dist2[i] == 0.0) continue;
            second = i;
            cum += s->dist2[i];
            if (cum > u) break;
        }
    }
    memcpy(s->centre, c0, (size_t)d * sizeof *s->centre);
    memcpy(s->centre + d, x + (size_t)second * d, (size_t)d * sizeof *s->centre);
}

/* Each centre becomes the mean of its points; an empty cluster keeps its centre. */
static void update_centres(const double *x, int n, int d, kmeans_scratch *s) {
    int count[2] = {0, 0};
    memset(s->sum, 0, 2 * (size_t)d * sizeof *s->sum);
    for (int i = 0; i < n; i++) {
        double *acc = s->sum + (size_t)s->label[i] * d;
        const double *xi = x + (size_t)i * d;
        count[s->label[i]]++;
        for (int j = 0; j < d; j++) acc[j] += xi[j];
    }
    for (int c = 0; c < 2; c++)
        if (count[c] > 0)
            for (int j = 0; j < d; j++) s->centre[c * d + j] = s->sum[c * d + j] / count[c];
}

/* Lloyd's iterations from the seeded centres until no label changes (ties go to cluster 0; a point
 * then only leaves cluster 0 for a strictly closer centre, so the inertia never rises and the loop
 * cannot cycle). Returns the inertia of the final labels against their centres. */
static double lloyd_two(const double *x, int n, int d, kmeans_scratch *s) {
    for (int i = 0; i < n; i++) s->label[i] = -1;
    for (int it = 0; it < KMEANS_MAX_ITER; it++) {
        int changed = 0;
        for (int i = 0; i < n; i++) {
            const double *xi = x + (size_t)i * d;
            int l = sq_dist(xi, s->centre + d, d) < sq_dist(xi, s->centre, d);
            changed |= l != s->label[i];
            s->label[i] = l;
        }
        if (!changed) break;
        update_centres(x, n, d, s);
    }
    double inertia = 0.0;
    for (int i = 0; i < n; i++) inertia += sq_dist(x + (size_t)i * d, s->centre + (size_t)s->label[i] * d, d);
    return inertia;
}

/* Renumbers so that cluster 0 is the larger, on equal sizes the one holding point 0. */
static void number_larger_first(int *label, int n) {
    int ones = 0;
    for (int i = 0; i < n; i++) ones += label[i];
    if (ones > n - ones || (2 * ones == n && label[0] == 1))
        for (int i = 0; i < n; i++) label[i] = 1 - label[i];
}

int tb_kmeans2(const double *x, int n, int d, uint64_t seed, int n_restarts, int *label, double *inertia) {
    if (n_restarts < 1)
        return TB_ERROR(TB_ERR_ARG, "run at least one restart (the suite runs 10)", "2-means with %d restarts",
                        n_restarts);
    TB_CHECK(check_points(x, n, d));
    kmeans_scratch s;
    s.dist2 = tb_malloc((size_t)n * sizeof *s.dist2);
    s.label = tb_malloc((size_t)n * sizeof *s.label);
    s.centre = tb_malloc(4 * (size_t)d * sizeof *s.centre);
    s.sum = s.centre + 2 * d;

    uint64_t key = seed ^ tb_rng_stream_id("kmeans2");
    double best = INFINITY;
    for (int r = 0; r < n_restarts; r++) {
        tb_rng g = tb_rng_make(key, (uint64_t)r);
        seed_two_centres(x, n, d, &g, &s);
        double restart_inertia = lloyd_two(x, n, d, &s);
        if (r == 0 || restart_inertia < best) { /* r == 0: an overflowing inf inertia still gives labels */
            best = restart_inertia;
            memcpy(label, s.label, (size_t)n * sizeof *label);
        }
    }
    number_larger_first(label, n);
    *inertia = best;

    tb_free(s.centre);
    tb_free(s.label);
    tb_free(s.dist2);
    return TB_OK;
}

/* ---- silhouette -------------------------------------------------------------------------------- */

/* The points ordered by cluster (a counting sort): sorted position p holds point order[p], of cluster
 * label_of[p]; cluster c holds positions [start[c], start[c + 1]). */
typedef struct {
    int *start;    /* k + 1 */
    int *order;    /* n */
    int *label_of; /* n */
} cluster_runs;

static cluster_runs order_by_cluster(const int *label, int n, int k) {
    cluster_runs r;
    r.start = tb_calloc((size_t)k + 1, sizeof *r.start);
    r.order = tb_malloc((size_t)n * sizeof *r.order);
    r.label_of = tb_malloc((size_t)n * sizeof *r.label_of);
    for (int i = 0; i < n; i++) r.start[label[i] + 1]++;
    for (int c = 0; c < k; c++) r.start[c + 1] += r.start[c];
    int *next = tb_malloc((size_t)k * sizeof *next);
    memcpy(next, r.start, (size_t)k * sizeof *next);
    for (int i = 0; i < n; i++) {
        r.order[next[label[i]]] = i;
        r.label_of[next[label[i]]++] = label[i];
    }
    tb_free(next);
    return r;
}

static void free_cluster_runs(cluster_runs *r) {
    tb_free(r->label_of);
    tb_free(r->order);
    tb_free(r->start);
}

/* dist[t] = |x_i - x_(jb + t)| for t < m, with xt the points column-major (xt[e n + p]): elementwise
 * loops over t, which vectorise. */
static void distances_to_run(const double *xt, int n, int d, int i, int jb, int m, double *dist) {
    for (int t = 0; t < m; t++) dist[t] = 0.0;
    for (int e = 0; e < d; e++) {
        const double *col = xt + (size_t)e * n + jb;
        double xe = xt[(size_t)e * n + i];
        for (int t = 0; t < m; t++) dist[t] += (col[t] - xe) * (col[t] - xe);
    }
    for (int t = 0; t < m; t++) dist[t] = sqrt(dist[t]);
}

/* dsum[c n + p] = the sum of the distances from sorted point p to the points of cluster c (p itself
 * excluded). In sorted order and column-major, a tile of points j is a few contiguous rows that stay
 * in L1 for every point i of the row tile, and each cluster is one run of j. Each pair (i < j) is
 * measured once: its distance goes to i's sums (one reduction per cluster run) and to j's
 * (dsum[label(i) n + j], a vector add). */
static void sum_distances_to_clusters(const double *x, int n, int d, int k, const cluster_runs *r, double *dsum) {
    double *xt = tb_malloc((size_t)n * d * sizeof *xt), *dist = tb_malloc(SILHOUETTE_TILE * sizeof *dist);
    for (int p = 0; p < n; p++)
        for (int e = 0; e < d; e++) xt[(size_t)e * n + p] = x[(size_t)r->order[p] * d + e];
    for (int i0 = 0; i0 < n; i0 += SILHOUETTE_TILE) {
        int i1 = i0 + SILHOUETTE_TILE < n ? i0 + SILHOUETTE_TILE : n;
        for (int j0 = i0; j0 < n; j0 += SILHOUETTE_TILE) {
            int j1 = j0 + SILHOUETTE_TILE < n ? j0 + SILHOUETTE_TILE : n;
            for (int i = i0; i < i1; i++) {
                int jb = j0 == i0 ? i + 1 : j0;
                if (jb >= j1) continue;
                distances_to_run(xt, n, d, i, jb, j1 - jb, dist);
                double *to_own = dsum + (size_t)r->label_of[i] * n + jb;
                for (int t = 0; t < j1 - jb; t++) to_own[t] += dist[t];
                for (int c = r->label_of[jb]; c < k && r->start[c] < j1; c++) {
                    int lo = r->start[c] > jb ? r->start[c] : jb, hi = r->start[c + 1] < j1 ? r->start[c + 1] : j1;
                    double run = 0.0;
#pragma omp simd reduction(+ : run)
                    for (int j = lo; j < hi; j++) run += dist[j - jb];
                    dsum[(size_t)c * n + i] += run;
                }
            }
        }
    }
    tb_free(dist);
    tb_free(xt);
}

/* s_p of sorted point p from its distance sums; the 0 conventions are sklearn's. */
static double point_silhouette(const double *dsum, int n, int p, const cluster_runs *r, int k) {
    int own = r->label_of[p], own_size = r->start[own + 1] - r->start[own];
    if (own_size == 1) return 0.0;
    double a = dsum[(size_t)own * n + p] / (own_size - 1), b = INFINITY;
    for (int c = 0; c < k; c++) {
        int size = r->start[c + 1] - r->start[c];
        if (c != own && size > 0) b = fmin(b, dsum[(size_t)c * n + p] / size);
    }
    double scale = fmax(a, b);
    return scale > 0.0 ? (b - a) / scale : 0.0;
}

int tb_silhouette_score(const double *x, int n, int d, const int *label, int k, double *score) {
    if (k < 1) return TB_ERROR(TB_ERR_ARG, "pass the number of clusters the labels range over", "silhouette with k = %d", k);
    TB_CHECK(check_points(x, n, d));
    for (int i = 0; i < n; i++)
        if (label[i] < 0 || label[i] >= k)
            return TB_ERROR(TB_ERR_ARG, "labels must lie in [0, k)", "silhouette: label %d of point %d is outside [0, %d)",
                            label[i], i, k);
    cluster_runs r = order_by_cluster(label, n, k);
    int non_empty = 0;
    for (int c = 0; c < k; c++) non_empty += r.start[c + 1] > r.start[c];
    *score = NAN;
    if (non_empty >= 2) {
        double *dsum = tb_calloc((size_t)n * (size_t)k, sizeof *dsum), total = 0.0;
        sum_distances_to_clusters(x, n, d, k, &r, dsum);
        for (int p = 0; p < n; p++) total += point_silhouette(dsum, n, p, &r, k); /* the mean ignores order */
        *score = total / n;
        tb_free(dsum);
    }
    free_cluster_runs(&r);
    return TB_OK;
}

/* ---- the flag rule ----------------------------------------------------------------------------- */

int tb_activation_clustering(const double *x, int n, int d, uint64_t seed, int n_restarts, double max_share,
                             int *label, int *flag, tb_activation_clusters *out) {
    if (!(max_share >= 0.0 && max_share <= 1.0))
        return TB_ERROR(TB_ERR_ARG, "set the largest flagged cluster share in [0, 1] (the suite uses 0.35)",
                        "activation clustering: max_share = %g is outside [0, 1]", max_share);
    TB_CHECK(tb_kmeans2(x, n, d, seed, n_restarts, label, &out->inertia));
    out->size[0] = out->size[1] = 0;
    for (int i = 0; i < n; i++) out->size[label[i]]++;
    TB_CHECK(tb_silhouette_score(x, n, d, label, 2, &out->silhouette));
    /* the share as one correctly rounded division, so that e.g. 35/100 meets a max_share of 0.35 */
    out->flagged = out->size[1] > 0 && (double)out->size[1] / n <= max_share;
    for (int i = 0; i < n; i++) flag[i] = out->flagged && label[i] == 1;
    return TB_OK;
}
