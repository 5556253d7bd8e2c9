/*
 * test_signals.c: stop agreement and node-level counts across ranks (src/sys/), under mpiexec with
 * 1, 2 and 4 ranks.
 *
 * One rank raises a stop signal at itself in the middle of a loop of steps; every rank must leave
 * the loop at that same step through tb_sys_stop_agreed, only the raising rank must have seen the
 * signal, and without a signal no rank may stop. All ranks run on one node here, so the node
 * helpers must count the whole communicator (and a sub-communicator's own size); ranks bound
 * round-robin to PUs must find exactly the ranks that share their PU; the thread plan and the
 * gathered placements must reflect both.
 *
 * Every collective of a test runs before its assertions, so a failing rank cannot leave the others
 * waiting in a collective it skipped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <hwloc.h>
#include <mpi.h>

#include "core/core.h"
#include "sys/sys.h"

static int rank, size;

/* Up to n_steps steps; rank `raiser` raises sig just before the agreement of step `at`. Returns the
 * step at which the ranks agreed to stop, or -1. */
static int run_steps(int n_steps, int raiser, int at, int sig) {
    for (int step = 0; step < n_steps; step++) {
        if (rank == raiser && step == at) raise(sig);
        if (tb_sys_stop_agreed(MPI_COMM_WORLD)) return step;
    }
    return -1;
}

static void check_all_stop_at(int raiser, int at, int sig) {
    tb_sys_signals_reset();
    int stop_step = run_steps(10, raiser, at, sig);
    int seen = tb_sys_stop_signal();
    int *steps = tb_malloc((size_t)size * sizeof(int)), *signals = tb_malloc((size_t)size * sizeof(int));
    MPI_Allgather(&stop_step, 1, MPI_INT, steps, 1, MPI_INT, MPI_COMM_WORLD);
    MPI_Allgather(&seen, 1, MPI_INT, signals, 1, MPI_INT, MPI_COMM_WORLD);
    tb_sys_signals_reset();
    for (int r = 0; r < size; r++) {
        assert_int_equal(steps[r], at);
        assert_int_equal(signals[r], r == raiser ? sig : 0);
    }
    tb_free(steps);
    tb_free(signals);
}

static void test_sigusr1_on_rank0_stops_everyone_at_its_step(void **state) { check_all_stop_at(0, 3, SIGUSR1); }

static void test_sigterm_on_last_rank_stops_everyone_at_its_step(void **state) {
    check_all_stop_at(size - 1, 5, SIGTERM);
}

static void test_no_signal_no_stop(void **state) {
    tb_sys_signals_reset();
    int stop_step = run_steps(10, -1, 0, 0), latest = 0;
    MPI_Allreduce(&stop_step, &latest, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    assert_int_equal(stop_step, -1);
    assert_int_equal(latest, -1);
}

static void test_ranks_on_node_counts_the_communicator(void **state) {
    int on_node = 0, half_on_node = 0, half_size = 0;
    int rc_world = tb_sys_ranks_on_node(MPI_COMM_WORLD, &on_node);
    MPI_Comm half;
    MPI_Comm_split(MPI_COMM_WORLD, rank % 2, rank, &half);
    MPI_Comm_size(half, &half_size);
    int rc_half = tb_sys_ranks_on_node(half, &half_on_node);
    MPI_Comm_free(&half);
    assert_int_equal(rc_world, TB_OK);
    assert_int_equal(rc_half, TB_OK);
    assert_int_equal(on_node, size); /* one node */
    assert_int_equal(half_on_node, half_size);
}

/* Binds this whole process to PU index pu, saving the old binding in saved. Returns 0 on success. */
static int bind_to_pu(hwloc_topology_t topo, int pu, hwloc_bitmap_t saved) {
    hwloc_obj_t obj = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PU, (unsigned)pu);
    if (obj == NULL || hwloc_get_cpubind(topo, saved, HWLOC_CPUBIND_PROCESS) != 0) return -1;
    return hwloc_set_cpubind(topo, obj->cpuset, HWLOC_CPUBIND_PROCESS);
}

static void test_ranks_sharing_follows_the_bindings(void **state) {
    tb_topology t, pinned;
    int sharing_unbound = 0, sharing_pinned = 0, any_bound = 0;
    int rc_query = tb_topology_query(&t);
    MPI_Allreduce(&t.bound, &any_bound, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD);
    int rc_unbound = tb_sys_ranks_sharing(MPI_COMM_WORLD, &t, &sharing_unbound);

    /* round-robin over the PUs: rank r shares with the ranks r' where r' = r mod n_pus */
    hwloc_topology_t topo;
    hwloc_bitmap_t saved = hwloc_bitmap_alloc();
    int rc_hwloc = hwloc_topology_init(&topo) || hwloc_topology_load(topo) || bind_to_pu(topo, rank % t.n_pus, saved);
    int rc_pinned = tb_topology_query(&pinned);
    int rc_sharing = tb_sys_ranks_sharing(MPI_COMM_WORLD, &pinned, &sharing_pinned);
    int rc_restore = hwloc_set_cpubind(topo, saved, HWLOC_CPUBIND_PROCESS);
    hwloc_bitmap_free(saved);
    hwloc_topology_destroy(topo);

    assert_int_equal(rc_query, TB_OK);
    assert_int_equal(rc_unbound, TB_OK);
    assert_int_equal(rc_hwloc, 0);
    assert_int_equal(rc_pinned, TB_OK);
    assert_int_equal(rc_sharing, TB_OK);
    assert_int_equal(rc_restore, 0);
    if (!any_bound) assert_int_equal(sharing_unbound, size); /* CTest launches with --bind-to none */
    int expect = 0;
    for (int r = 0; r < size; r++) expect += r % t.n_pus == rank % t.n_pus;
    assert_int_equal(sharing_pinned, expect);
    assert_int_equal(pinned.cores_owned, 1);
}

static void test_threads_setup_and_placement(void **state) {
    tb_topology t;
    tb_thread_plan computed, from_env;
    int rc_query = tb_topology_query(&t);
    unsetenv("OPENBLAS_NUM_THREADS");
    unsetenv("OMP_NUM_THREADS");
    int rc_computed = tb_sys_threads_setup(MPI_COMM_WORLD, &t, &computed);
    int blas_computed = openblas_get_num_threads();
    setenv("OPENBLAS_NUM_THREADS", "1", 1);
    setenv("OMP_NUM_THREADS", "1", 1);
    int rc_env = tb_sys_threads_setup(MPI_COMM_WORLD, &t, &from_env);
    tb_rank_placement *rows = rank == 0 ? tb_malloc((size_t)size * sizeof *rows) : NULL;
    int rc_gather = tb_sys_gather_placement(rows, MPI_COMM_WORLD, 0, &t, &from_env);

    assert_int_equal(rc_query, TB_OK);
    assert_int_equal(rc_computed, TB_OK);
    assert_int_equal(rc_env, TB_OK);
    assert_int_equal(rc_gather, TB_OK);
    int share = t.cores_owned / computed.ranks_sharing;
    assert_int_equal(computed.ranks_on_node, size);
    assert_int_equal(computed.from_env, 0);
    assert_int_equal(computed.blas_threads, share > 1 ? share : 1);
    assert_int_equal(blas_computed, computed.blas_threads);
    assert_int_equal(computed.oversubscribed, size > t.n_cores);
    assert_int_equal(from_env.from_env, 1);
    assert_int_equal(openblas_get_num_threads(), 1);
    if (rank == 0) {
        for (int r = 0; r < size; r++) {
            assert_string_equal(rows[r].hostname, t.hostname);
            assert_int_equal(rows[r].cores, t.n_cores);
            assert_int_equal(rows[r].ranks_on_node, size);
            assert_int_equal(rows[r].blas_threads, 1);
            assert_int_equal(rows[r].omp_threads, 1);
            assert_int_equal(rows[r].oversubscribed, size > t.n_cores);
        }
        assert_string_equal(rows[0].binding, t.binding);
        tb_free(rows);
    }
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (tb_sys_signals_install() != TB_OK) {
        tb_error_report(stderr);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigusr1_on_rank0_stops_everyone_at_its_step),
        cmocka_unit_test(test_sigterm_on_last_rank_stops_everyone_at_its_step),
        cmocka_unit_test(test_no_signal_no_stop),
        cmocka_unit_test(test_ranks_on_node_counts_the_communicator),
        cmocka_unit_test(test_ranks_sharing_follows_the_bindings),
        cmocka_unit_test(test_threads_setup_and_placement),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    MPI_Finalize();
    return failed;
}
