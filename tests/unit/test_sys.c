/*
 * test_sys.c: topology, thread policy and signal flag (src/sys/).
 *
 * The topology must agree with what the kernel says independently of hwloc (the online CPU count,
 * this process's affinity mask, the hostname), and rebinding the process must change the binding,
 * `bound` and the cores owned accordingly. The thread policy is a pure function, checked on the
 * bindings a cluster produces (unbound, one core per rank, T cores per rank, a package per rank,
 * oversubscribed) and on every way the environment can override or be malformed. Signals: raise()
 * sets the flag, the first signal is the one remembered, reset clears it, and a read() blocked
 * when the signal arrives resumes (SA_RESTART) instead of failing with EINTR.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_ISSET */

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>
#include <hwloc.h>
#include <omp.h>

#include "core/core.h"
#include "sys/sys.h"

/* ------------------------------------------------------------------------------------------------
 * topology */

static void test_topology_agrees_with_the_kernel(void **state) {
    tb_topology t;
    assert_int_equal(tb_topology_query(&t), TB_OK);

    char host[TB_HOSTNAME_CAP] = "";
    assert_int_equal(gethostname(host, sizeof host - 1), 0);
    assert_string_equal(t.hostname, host);

    long online = sysconf(_SC_NPROCESSORS_ONLN);
    assert_true(online >= 1);
    assert_in_range(t.n_pus, 1, online);
    assert_in_range(t.n_cores, 1, t.n_pus);
    assert_in_range(t.n_packages, 1, t.n_cores);
    assert_in_range(t.n_numa, 1, t.n_pus);
    assert_in_range(t.cores_owned, 1, t.n_cores);

    /* the binding is exactly the kernel's affinity mask (CTest starts us unbound) */
    cpu_set_t mask;
    CPU_ZERO(&mask);
    assert_int_equal(sched_getaffinity(0, sizeof mask, &mask), 0);
    hwloc_bitmap_t b = hwloc_bitmap_alloc();
    assert_int_equal(hwloc_bitmap_list_sscanf(b, t.binding), 0);
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) assert_int_equal(hwloc_bitmap_isset(b, (unsigned)cpu), CPU_ISSET(cpu, &mask) != 0);
    hwloc_bitmap_free(b);
    if (CPU_COUNT(&mask) == t.n_pus) {
        assert_int_equal(t.bound, 0);
        assert_int_equal(t.cores_owned, t.n_cores);
    }
}

/* Binds the whole process to set, queries, and restores the previous binding. */
static void query_bound_to(tb_topology *t, hwloc_topology_t topo, hwloc_const_cpuset_t set) {
    hwloc_bitmap_t saved = hwloc_bitmap_alloc();
    assert_int_equal(hwloc_get_cpubind(topo, saved, HWLOC_CPUBIND_PROCESS), 0);
    assert_int_equal(hwloc_set_cpubind(topo, set, HWLOC_CPUBIND_PROCESS), 0);
    int rc = tb_topology_query(t);
    assert_int_equal(hwloc_set_cpubind(topo, saved, HWLOC_CPUBIND_PROCESS), 0);
    hwloc_bitmap_free(saved);
    assert_int_equal(rc, TB_OK);
}

static void test_binding_follows_rebinding(void **state) {
    hwloc_topology_t topo;
    assert_int_equal(hwloc_topology_init(&topo), 0);
    assert_int_equal(hwloc_topology_load(topo), 0);
    int n_cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
    if (n_cores < 2) {
        hwloc_topology_destroy(topo);
        skip(); /* a strict subset of the cores needs at least two of them */
    }
    hwloc_obj_t core0 = hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, 0);
    hwloc_obj_t core1 = hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, 1);
    char expect[TB_CPUSET_CAP];
    tb_topology before, t;
    assert_int_equal(tb_topology_query(&before), TB_OK);

    /* every PU of one core: one core owned */
    query_bound_to(&t, topo, core0->cpuset);
    hwloc_bitmap_list_snprintf(expect, sizeof expect, core0->cpuset);
    assert_string_equal(t.binding, expect);
    assert_int_equal(t.bound, 1);
    assert_int_equal(t.cores_owned, 1);

    /* one PU of each of two cores: both owned, though no core is covered entirely on SMT machines */
    hwloc_bitmap_t two = hwloc_bitmap_alloc();
    hwloc_bitmap_set(two, hwloc_bitmap_first(core0->cpuset));
    hwloc_bitmap_set(two, hwloc_bitmap_first(core1->cpuset));
    query_bound_to(&t, topo, two);
    hwloc_bitmap_list_snprintf(expect, sizeof expect, two);
    assert_string_equal(t.binding, expect);
    assert_int_equal(t.cores_owned, 2);
    assert_int_equal(t.bound, n_cores > 2 || hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU) > 2);
    hwloc_bitmap_free(two);

    /* and back: the restored binding is reported as it was */
    assert_int_equal(tb_topology_query(&t), TB_OK);
    assert_string_equal(t.binding, before.binding);
    assert_int_equal(t.bound, before.bound);
    assert_int_equal(t.cores_owned, before.cores_owned);
    hwloc_topology_destroy(topo);
}

static void test_topology_attrs_carry_every_field(void **state) {
    tb_topology t = {.hostname = "node17", .n_packages = 2, .n_numa = 4, .n_cores = 64, .n_pus = 128,
                     .binding = "0-3,64-67", .bound = 1, .cores_owned = 4};
    tb_sys_attr a[TB_TOPOLOGY_N_ATTRS];
    assert_int_equal(tb_topology_attrs(a, &t), TB_TOPOLOGY_N_ATTRS);
    const char *expect[][2] = {{"hostname", "node17"}, {"binding", "0-3,64-67"}, {"packages", "2"},
                               {"numa_nodes", "4"},    {"cores", "64"},          {"pus", "128"},
                               {"bound", "1"},         {"cores_owned", "4"}};
    assert_int_equal(sizeof expect / sizeof expect[0], TB_TOPOLOGY_N_ATTRS);
    for (int i = 0; i < TB_TOPOLOGY_N_ATTRS; i++) {
        assert_string_equal(a[i].key, expect[i][0]);
        assert_string_equal(a[i].value, expect[i][1]);
    }
}

static void test_topology_print_names_host_and_binding(void **state) {
    tb_topology t = {.hostname = "node17", .n_packages = 2, .n_numa = 4, .n_cores = 64, .n_pus = 128,
                     .binding = "0-3,64-67", .bound = 1, .cores_owned = 4};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    tb_topology_print(f, &t, "  ");
    fclose(f);
    assert_non_null(strstr(text, "  host         node17\n"));
    assert_non_null(strstr(text, "binding      0-3,64-67 (bound)\n"));
    assert_non_null(strstr(text, "cores owned  4\n"));
    free(text);
}

/* ------------------------------------------------------------------------------------------------
 * thread policy */

static void test_thread_plan_from_topology(void **state) {
    const struct {
        int cores, owned, on_node, sharing;
        int threads, oversubscribed;
        const char *what;
    } cases[] = {
        {2, 2, 1, 1, 2, 0, "one unbound rank takes every core"},
        {2, 2, 2, 2, 1, 0, "two unbound ranks split two cores"},
        {16, 16, 3, 3, 5, 0, "an uneven split rounds down"},
        {2, 2, 4, 4, 1, 1, "more unbound ranks than cores"},
        {16, 1, 16, 1, 1, 0, "one core per rank (mpirun --bind-to core)"},
        {16, 4, 4, 1, 4, 0, "four cores per rank (--map-by slot:PE=4)"},
        {16, 8, 4, 2, 4, 0, "two ranks bound to each of two packages"},
        {2, 1, 4, 2, 1, 1, "two ranks on each core (core:overload-allowed)"},
        {4, 0, 1, 1, 1, 0, "a binding that touches no core still gets a thread"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tb_thread_plan p;
        print_message("%s\n", cases[i].what);
        assert_int_equal(tb_thread_plan_make(&p, cases[i].cores, cases[i].owned, cases[i].on_node, cases[i].sharing,
                                             NULL, NULL),
                         TB_OK);
        assert_int_equal(p.computed, cases[i].threads);
        assert_int_equal(p.blas_threads, cases[i].threads);
        assert_int_equal(p.omp_threads, cases[i].threads);
        assert_int_equal(p.from_env, 0);
        assert_int_equal(p.oversubscribed, cases[i].oversubscribed);
        assert_int_equal(p.ranks_on_node, cases[i].on_node);
        assert_int_equal(p.ranks_sharing, cases[i].sharing);
    }
}

static void test_thread_plan_respects_the_environment(void **state) {
    const struct {
        const char *openblas, *omp;
        int blas, omp_threads, from_env;
    } cases[] = {
        {"3", NULL, 3, 3, 1},   /* OpenMP follows the user's budget too */
        {NULL, "1", 1, 1, 1},   /* OpenBLAS itself falls back to OMP_NUM_THREADS */
        {"1", "4", 1, 4, 1},    /* both set: each library its own */
        {"", "", 8, 8, 0},      /* empty means unset */
        {NULL, "4,2", 4, 4, 1}, /* per-nesting-level list: the outer level */
        {" 2", NULL, 2, 2, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tb_thread_plan p;
        assert_int_equal(tb_thread_plan_make(&p, 16, 16, 2, 2, cases[i].openblas, cases[i].omp), TB_OK);
        assert_int_equal(p.computed, 8);
        assert_int_equal(p.blas_threads, cases[i].blas);
        assert_int_equal(p.omp_threads, cases[i].omp_threads);
        assert_int_equal(p.from_env, cases[i].from_env);
    }
}

static void test_thread_plan_rejects_malformed_environment(void **state) {
    const struct {
        const char *openblas, *omp, *named;
    } cases[] = {
        {"abc", NULL, "OPENBLAS_NUM_THREADS='abc'"}, {"0", NULL, "OPENBLAS_NUM_THREADS='0'"},
        {"-2", NULL, "OPENBLAS_NUM_THREADS='-2'"},   {"2x", NULL, "OPENBLAS_NUM_THREADS='2x'"},
        {NULL, "1.5", "OMP_NUM_THREADS='1.5'"},      {NULL, "99999999999", "OMP_NUM_THREADS='99999999999'"},
        {"2", ",", "OMP_NUM_THREADS=','"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tb_thread_plan p;
        assert_int_equal(tb_thread_plan_make(&p, 2, 2, 1, 1, cases[i].openblas, cases[i].omp), TB_ERR_ARG);
        assert_non_null(strstr(tb_error_message(), cases[i].named));
        tb_error_clear();
    }
}

static void test_oversubscription_warning_says_what_to_do(void **state) {
    tb_thread_plan p;
    assert_int_equal(tb_thread_plan_make(&p, 2, 2, 4, 4, NULL, NULL), TB_OK);
    assert_true(p.oversubscribed);
    char text[512];
    tb_sys_oversubscription_warning(text, sizeof text, p.ranks_on_node, p.cores);
    assert_non_null(strstr(text, "4 ranks share the 2 cores"));
    assert_non_null(strstr(text, "at most 2 ranks per node"));
}

static void test_thread_plan_apply_sets_both_libraries(void **state) {
    tb_thread_plan p;
    assert_int_equal(tb_thread_plan_make(&p, 8, 8, 1, 1, "2", "3"), TB_OK);
    tb_thread_plan_apply(&p);
    assert_int_equal(openblas_get_num_threads(), 2);
    assert_int_equal(omp_get_max_threads(), 3);
    assert_int_equal(tb_thread_plan_make(&p, 8, 8, 1, 1, "1", "1"), TB_OK);
    tb_thread_plan_apply(&p);
    assert_int_equal(openblas_get_num_threads(), 1);
    assert_int_equal(omp_get_max_threads(), 1);
}

static void test_blas_config_names_openblas(void **state) {
    assert_non_null(strstr(tb_sys_blas_config(), "OpenBLAS"));
}

/* ------------------------------------------------------------------------------------------------
 * signals */

static void test_signal_sets_the_flag_first_one_wins(void **state) {
    assert_int_equal(tb_sys_signals_install(), TB_OK);
    tb_sys_signals_reset();
    assert_int_equal(tb_sys_stop_signal(), 0);
    assert_int_equal(raise(SIGUSR1), 0);
    assert_int_equal(tb_sys_stop_signal(), SIGUSR1);
    assert_int_equal(raise(SIGTERM), 0); /* handled, not fatal, and not overriding */
    assert_int_equal(tb_sys_stop_signal(), SIGUSR1);
    tb_sys_signals_reset();
    assert_int_equal(tb_sys_stop_signal(), 0);
    assert_int_equal(raise(SIGTERM), 0);
    assert_int_equal(tb_sys_stop_signal(), SIGTERM);
    tb_sys_signals_reset();
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* A child signals us while we block in read(), then writes: with SA_RESTART the read returns the
 * byte; without it, it would fail with EINTR. */
static void test_blocked_read_survives_the_signal(void **state) {
    assert_int_equal(tb_sys_signals_install(), TB_OK);
    tb_sys_signals_reset();
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t parent = getpid();
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        sleep_ms(50);
        kill(parent, SIGUSR1);
        sleep_ms(100);
        (void)!write(fd[1], "x", 1);
        _exit(0);
    }
    char c = 0;
    ssize_t n = read(fd[0], &c, 1);
    int status = 0;
    waitpid(child, &status, 0);
    close(fd[0]);
    close(fd[1]);
    assert_int_equal(tb_sys_stop_signal(), SIGUSR1); /* the signal did arrive during the read */
    assert_int_equal(n, 1);
    assert_int_equal(c, 'x');
    tb_sys_signals_reset();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topology_agrees_with_the_kernel),
        cmocka_unit_test(test_binding_follows_rebinding),
        cmocka_unit_test(test_topology_attrs_carry_every_field),
        cmocka_unit_test(test_topology_print_names_host_and_binding),
        cmocka_unit_test(test_thread_plan_from_topology),
        cmocka_unit_test(test_thread_plan_respects_the_environment),
        cmocka_unit_test(test_thread_plan_rejects_malformed_environment),
        cmocka_unit_test(test_oversubscription_warning_says_what_to_do),
        cmocka_unit_test(test_thread_plan_apply_sets_both_libraries),
        cmocka_unit_test(test_blas_config_names_openblas),
        cmocka_unit_test(test_signal_sets_the_flag_first_one_wins),
        cmocka_unit_test(test_blocked_read_survives_the_signal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
