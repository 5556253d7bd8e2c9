/*
 * test_authors_ranks.c: the fictitious-authors set is the same on every rank (src/data, under
 * mpiexec with 1, 2 and 4 ranks).
 *
 * Every rank generates the set itself (shared stages do), so the ranks must agree without talking:
 * each hashes every string and index of its set (FNV-1a, written here) and the hashes are gathered
 * and compared. Also compared: the splits' index lists, a set drawn with a rank-dependent number of
 * authors (its first authors must not change), and the set rank 0 wrote to an HDF5 file and every
 * rank read back. Every collective of a test runs before its assertions, so a failing rank cannot
 * leave the others waiting in a collective it skipped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mpi.h>

#include "core/core.h"
#include "data/data.h"
#include "io/io.h"

static int rank, size;

/* ---- FNV-1a over everything a set holds -------------------------------------------------------- */

static uint64_t fnv_bytes(uint64_t h, const void *p, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ ((const unsigned char *)p)[i]) * 0x100000001b3ULL;
    return h;
}

/* A string with its terminator, so "ab"+"c" and "a"+"bc" differ; NULL as one 0xff byte. */
static uint64_t fnv_string(uint64_t h, const char *s) {
    static const unsigned char null_mark = 0xff;
    return s ? fnv_bytes(h, s, strlen(s) + 1) : fnv_bytes(h, &null_mark, 1);
}

static uint64_t fnv_int(uint64_t h, long v) { return fnv_bytes(h, &v, sizeof v); }

static uint64_t hash_items(uint64_t h, const tb_qa_item *items, long n) {
    for (long i = 0; i < n; i++) {
        const tb_qa_item *it = &items[i];
        h = fnv_string(fnv_string(fnv_string(h, it->question), it->answer), it->paraphrase);
        h = fnv_int(fnv_int(fnv_int(h, it->n_perturbed), it->author), it->attribute);
        for (int j = 0; j < it->n_perturbed; j++) h = fnv_string(h, it->perturbed[j]);
    }
    return h;
}

/* The first n_authors authors and their items (items are grouped by author, 20 each). */
static uint64_t hash_authors(const tb_qa_set *s, int n_authors) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int a = 0; a < s->n_attrs; a++) h = fnv_string(h, s->attr_names[a]);
    for (int k = 0; k < n_authors; k++) {
        h = fnv_string(h, s->authors[k].name);
        for (int a = 0; a < s->n_attrs; a++) h = fnv_string(h, s->authors[k].values[a]);
    }
    return hash_items(h, s->items, (long)n_authors * TB_QA_PER_AUTHOR);
}

static uint64_t hash_set(const tb_qa_set *s) {
    uint64_t h = hash_authors(s, s->n_authors + s->n_holdout);
    h = fnv_int(fnv_int(fnv_int(h, s->n_authors), s->n_holdout), s->n_items);
    h = hash_items(h, s->famous, s->n_famous);
    return hash_items(h, s->world, s->n_world);
}

static uint64_t hash_longs(uint64_t h, const long *v, long n) {
    return fnv_bytes(fnv_int(h, n), v, (size_t)n * sizeof *v);
}

static uint64_t hash_split(const tb_qa_splits *sp) {
    uint64_t h = hash_longs(0xcbf29ce484222325ULL, sp->forget, sp->n_forget);
    h = hash_longs(h, sp->retain, sp->n_retain);
    h = hash_longs(h, sp->retain_eval, sp->n_retain_eval);
    h = hash_longs(h, sp->holdout, sp->n_holdout);
    return fnv_bytes(h, sp->forget_authors, (size_t)sp->n_forget_authors * sizeof(int));
}

/* Every rank's value of h, gathered: [size]. */
static uint64_t *gather(uint64_t h) {
    uint64_t *all = tb_malloc((size_t)size * sizeof *all);
    MPI_Allgather(&h, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, MPI_COMM_WORLD);
    return all;
}

static void assert_all_equal(const uint64_t *all, uint64_t mine) {
    for (int r = 0; r < size; r++) assert_true(all[r] == mine);
}

/* ---- tests ------------------------------------------------------------------------------------- */

static void test_same_set_on_every_rank(void **state) {
    tb_qa_set s, other;
    int rc = tb_qa_generate(&s, 1234, 200, 20), rc_other = tb_qa_generate(&other, 1235, 200, 20);
    uint64_t h = rc == TB_OK ? hash_set(&s) : 0, h_other = rc_other == TB_OK ? hash_set(&other) : 0;
    uint64_t *all = gather(h), *all_other = gather(h_other);
    assert_int_equal(rc, TB_OK);
    assert_int_equal(rc_other, TB_OK);
    assert_all_equal(all, h);
    assert_all_equal(all_other, h_other);
    assert_true(h != h_other); /* the hash does see the seed's effect */
    tb_free(all);
    tb_free(all_other);
    tb_qa_free(&s);
    tb_qa_free(&other);
}

static void test_same_splits_on_every_rank(void **state) {
    static const char *const names[] = {"forget01", "forget05", "forget10"};
    tb_qa_set s;
    int rc_gen = tb_qa_generate(&s, 1234, 200, 20);
    for (int i = 0; i < 3; i++) {
        tb_qa_splits sp = {0};
        int rc = rc_gen == TB_OK ? tb_qa_split(&s, names[i], 42, 400, &sp) : rc_gen;
        uint64_t h = rc == TB_OK ? hash_split(&sp) : 0;
        uint64_t *all = gather(h);
        assert_int_equal(rc, TB_OK);
        assert_all_equal(all, h);
        tb_free(all);
        tb_qa_splits_free(&sp);
    }
    tb_qa_free(&s);
}

/* Rank r draws 50 + 10r authors: the first 50 are the same everywhere. */
static void test_first_authors_do_not_depend_on_count(void **state) {
    tb_qa_set s;
    int rc = tb_qa_generate(&s, 99, 50 + 10 * rank, rank);
    uint64_t h = rc == TB_OK ? hash_authors(&s, 50) : 0, h_all = rc == TB_OK ? hash_set(&s) : 0;
    uint64_t *all = gather(h), *whole = gather(h_all);
    assert_int_equal(rc, TB_OK);
    assert_all_equal(all, h);
    for (int r = 1; r < size; r++) assert_true(whole[r] != whole[0]); /* the sets as a whole differ */
    tb_free(all);
    tb_free(whole);
    tb_qa_free(&s);
}

/* Rank 0 writes the file; every rank reads it and finds its own generated set. */
static void test_file_written_by_one_rank_reads_the_same(void **state) {
    char dir[256] = {0}, path[300];
    tb_qa_set s;
    int rc_gen = tb_qa_generate(&s, 7, 60, 6), rc = rc_gen;
    if (rank == 0 && rc == TB_OK) {
        const char *base = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/tb_authors_mpi_XXXXXX", base && base[0] ? base : "/tmp");
        rc = mkdtemp(dir) ? tb_qa_save(strcat(strcpy(path, dir), "/set.h5"), &s) : TB_ERR_IO;
    }
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
    snprintf(path, sizeof path, "%s/set.h5", dir);
    tb_qa_set loaded;
    int rc_load = rc == TB_OK ? tb_qa_load(path, &loaded) : rc;
    uint64_t mine = rc_gen == TB_OK ? hash_set(&s) : 0, got = rc_load == TB_OK ? hash_set(&loaded) : 0;
    uint64_t *all = gather(got);
    MPI_Barrier(MPI_COMM_WORLD); /* everyone has read before rank 0 removes */
    if (rank == 0) {
        remove(path);
        rmdir(dir);
    }
    assert_int_equal(rc_gen, TB_OK);
    assert_int_equal(rc, TB_OK);
    assert_int_equal(rc_load, TB_OK);
    assert_true(got == mine);
    assert_all_equal(all, mine);
    tb_free(all);
    tb_qa_free(&loaded);
    tb_qa_free(&s);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_set_on_every_rank),
        cmocka_unit_test(test_same_splits_on_every_rank),
        cmocka_unit_test(test_first_authors_do_not_depend_on_count),
        cmocka_unit_test(test_file_written_by_one_rank_reads_the_same),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    MPI_Finalize();
    return failed;
}
