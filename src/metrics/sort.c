/*
 * sort.c: ascending sorts of double arrays for the rank-based metrics (see metrics_internal.h).
 */
#include <math.h>
#include <stdlib.h>

#include "metrics/metrics.h"
#include "metrics/metrics_internal.h"

static int compare_doubles(const void *pa, const void *pb) {
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

void metrics_sort(double *a, int n) { qsort(a, (size_t)n, sizeof *a, compare_doubles); }

int metrics_check_no_nan(const double *a, int n, const char *what) {
    for (int i = 0; i < n; i++)
        if (isnan(a[i]))
            return TB_ERROR(TB_ERR_NUMERIC, "a NaN score usually means the model diverged: check its losses",
                            "%s %d of %d is NaN", what, i, n);
    return TB_OK;
}
