/*
 * metrics_internal.h: what the files of src/metrics share (not part of the public API).
 *   sort.c  ascending sorts of double arrays, and the NaN check that must precede them
 */
#ifndef TB_METRICS_INTERNAL_H
#define TB_METRICS_INTERNAL_H

/* Sorts a (n) ascending in place; a must hold no NaN. */
void metrics_sort(double *a, int n);
/* A NaN would leave the order undefined: TB_ERR_NUMERIC naming what (e.g. "member score") and the
 * index of the first one. */
int metrics_check_no_nan(const double *a, int n, const char *what);

#endif
