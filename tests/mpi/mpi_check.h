/* mpi_check.h: what the MPI tests share (header-only: each test is one executable). */
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

#endif
