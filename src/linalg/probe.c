/*
 * probe.c: the linear probe of the unlearning suite (unlearning.md, "Relearning attack and probe"):
 * ridge from features to a one-hot attribute, fitted on one set of rows and scored by argmax
 * accuracy on another. The contract is in linalg.h.
 */
#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "linalg/linalg.h"

/* The first row of labels[0, n) outside [0, n_classes), or -1. */
static long first_bad_label(const int *labels, long n, int n_classes) {
    for (long i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= n_classes) return i;
    return -1;
}

int tb_probe_fit_classes(MPI_Comm comm, const double *X, const int *labels, long n_local, int d, int n_classes,
                         double *W, double *b) {
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    /* labels are checked only when n_classes is sane; tb_ridge_fit reports a bad n_classes (its k) */
    long bad = n_classes >= 1 && n_local > 0 ? first_bad_label(labels, n_local, n_classes) : -1;
    /* the lowest rank holding a bad label, or size: every rank refuses together */
    int mine = bad >= 0 ? rank : size, first;
    if (MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS)
        return TB_ERROR(TB_ERR_MPI, "a rank of the communicator may have failed", "probe: checking labels failed");
    const char *hint = "labels are class indices 0 .. n_classes - 1";
    if (first == rank)
        return TB_ERROR(TB_ERR_ARG, hint, "probe: rank %d row %ld has label %d, outside [0, %d)", rank, bad,
                        labels[bad], n_classes);
    if (first < size)
        return TB_ERROR(TB_ERR_ARG, hint, "probe: rank %d holds a label outside [0, %d)", first, n_classes);

    double *Y = n_classes >= 1 ? tb_malloc(sizeof(double) * (size_t)n_local * (size_t)n_classes) : NULL;
    if (Y)
        for (long i = 0; i < n_local; i++) Y[(size_t)i * (size_t)n_classes + (size_t)labels[i]] = 1.0;
    int rc = tb_ridge_fit(comm, X, Y, n_local, d, n_classes, TB_PROBE_LAMBDA_SCALE, W, b);
    tb_free(Y);
    return rc;
}

int tb_probe_accuracy(const double *X, const int *labels, long n, int d, const double *W, const double *b, int k,
                      double *accuracy) {
    if (n < 1 || n > INT_MAX || d < 1 || k < 1)
        return TB_ERROR(TB_ERR_ARG, "score 1 to INT_MAX rows with at least one feature and one class",
                        "probe accuracy: n = %ld rows, d = %d features, k = %d classes", n, d, k);
    long bad = first_bad_label(labels, n, k);
    if (bad >= 0)
        return TB_ERROR(TB_ERR_ARG, "labels are class indices 0 .. k - 1",
                        "probe accuracy: row %ld has label %d, outside [0, %d)", bad, labels[bad], k);
    /* scores = X W + 1 bᵀ in one GEMM: the rows start as b and the product is added */
    double *scores = tb_malloc(sizeof(double) * (size_t)n * (size_t)k);
    if (b)
        for (long i = 0; i < n; i++) memcpy(scores + (size_t)i * (size_t)k, b, sizeof(double) * (size_t)k);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, k, d, 1.0, X, d, W, k, b ? 1.0 : 0.0, scores, k);
    long correct = 0;
    for (long i = 0; i < n; i++) {
        const double *s = scores + (size_t)i * (size_t)k;
        int best = 0;
        for (int c = 1; c < k; c++)
            if (s[c] > s[best]) best = c;
        correct += best == labels[i];
    }
    tb_free(scores);
    *accuracy = (double)correct / (double)n;
    return TB_OK;
}
