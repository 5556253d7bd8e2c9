/* mpi_check.h: what the MPI tests share (error agreement, uneven row splits) (header-only: each test is one executable). */
#ifndef TB_TEST_MPI_CHECK_H
#define TB_TEST_MPI_CHECK_H

#include <mpi.h>

#include "core/core.h"

/* rc equals code on every rank; the error record is cleared for the next case. */
static void expect_everywhere(int rc, int code) {
    int lo, hi;
    MPI_Allreduce(&rc, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&rc, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    tb_error_clear();
    if (lo != code || hi != code) fail_msg("expected code %d on every rank, got %d .. %d", code, lo, hi);
}

/* How many of n rows rank q of size holds: uneven on purpose, with one rank holding none. split 0:
 * rank 0 none, rank q > 0 a share q + 1; split 1: the last rank none, rank q a share (size - q)^2.
 * Alone, a rank holds everything; rounding leftovers go to the last rank with a share. */
static long uneven_rows(long n, int split, int q, int size) {
    if (size == 1) return n;
    long share[64], total = 0, given = 0;
    assert_true(size <= 64);
    for (int p = 0; p < size; p++) {
        share[p] = split == 0 ? (p == 0 ? 0 : p + 1) : (p == size - 1 ? 0 : (size - p) * (size - p));
        total += share[p];
    }
    for (int p = 0; p < size; p++) given += n * share[p] / total;
    int last = split == 0 ? size - 1 : size - 2;
    return n * share[q] / total + (q == last ? n - given : 0);
}

#endif
