/* test_data_parallel.c: data-parallel training over the world communicator (1, 2 or 4 ranks) gives
 * the loss curve and weights of one process training on the whole global batch. Each rank reads only
 * its rows; gradients are summed in overlapped buckets during backward. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <mpi.h>

#include "data/data.h"
#include "dist/dist.h"
#include "train/train.h"

enum { GLOBAL_B = 4, T = 12, STEPS = 6, ACCUM = 2 };

static tb_token_windows windows;

static void make_windows(void) {
    tb_rng r = tb_rng_make(3, 3);
    int n = 40 * (T + 1);
    int *stream = tb_malloc(sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) stream[i] = (int)tb_rng_below(&r, 200) + (i % 3 == 0 ? 0 : 50);
    assert_int_equal(tb_windows_from_stream(&windows, stream, (size_t)n, T), TB_OK);
    tb_free(stream);
}

/* Trains STEPS steps; distributed: over MPI_COMM_WORLD in the given mode, each rank reading its rows. */
static void train(tb_family f, int distributed, tb_dp_mode mode, double *losses, float *weights, size_t n_weights) {
    int rank = 0, size = 1;
    if (distributed) {
        MPI_Comm_rank(MPI_COMM_WORLD, &rank);
        MPI_Comm_size(MPI_COMM_WORLD, &size);
    }
    tb_config c;
    tb_config_defaults(&c, f, 3, 32, 4, 300, T);
    tb_model m;
    assert_int_equal(tb_model_create(&m, &c), TB_OK);
    tb_model_init(&m, 8);
    int first, rows;
    assert_int_equal(tb_shard_rows(GLOBAL_B, rank, size, &first, &rows), TB_OK);
    tb_window_sampler s;
    tb_sampler_init(&s, &windows, GLOBAL_B, ACCUM, 5);
    tb_sampler_shard(&s, first, rows);
    tb_dp dp;
    tb_optimizer o;
    /* a small bucket limit forces several buckets, so overlap and ordering are exercised */
    if (distributed) {
        assert_int_equal(tb_dp_init(&dp, mode, MPI_COMM_WORLD, &m, &m.params, 16 * 1024), TB_OK);
        tb_dp_optimizer_init(&dp, &o, TB_OPT_ADAMW);
    } else {
        tb_optimizer_init(&o, TB_OPT_ADAMW, &m.params);
    }
    o.weight_decay = 0.1f;
    tb_objective sft = tb_objective_sft();
    tb_trainer tr = {.model = &m, .trainable = distributed ? tb_dp_trainable(&dp) : &m.params, .opt = &o, .objective = &sft, .B = rows, .T = T,
                     .accum = ACCUM, .clip = 1.0f, .next_batch = tb_sampler_batch, .batch_ctx = &s,
                     .dp = distributed ? &dp : NULL,
                     .sched = {.kind = TB_SCHED_COSINE, .lr = 3e-3f, .min_lr = 1e-4f, .warmup = 2, .total = STEPS}};
    for (long step = 0; step < STEPS; step++) {
        float gn;
        assert_int_equal(tb_train_step(&tr, step, &losses[step], &gn), TB_OK);
    }
    if (distributed) {
        size_t full = 4 * m.params.numel * sizeof(float); /* values, gradients, AdamW m and v */
        if (mode == TB_DP_ZERO3 && size > 1) { /* sharded state: well under the full copy per rank */
            assert_null(m.params.data);
            assert_true(tb_dp_state_bytes(&dp) < full * 3 / 4);
        }
        assert_int_equal(tb_dp_unshard(&dp, &m), TB_OK);
    }
    memcpy(weights, m.params.data, n_weights * sizeof(float));
    if (distributed) {
        if (mode == TB_DP_ALLREDUCE) assert_true(dp.reducer.n_buckets > 2);
        /* ZeRO-1 keeps AdamW moments for this rank's shard only */
        size_t share = (m.params.numel + (size_t)size - 1) / (size_t)size + 16;
        if (mode == TB_DP_ZERO1) assert_true(o.numel <= share);
        if (mode == TB_DP_ALLREDUCE) assert_int_equal(o.numel, m.params.numel);
        tb_dp_free(&dp, &m);
    }
    tb_sampler_free(&s);
    tb_optimizer_free(&o);
    tb_model_free(&m);
}

static void equivalence(tb_family f, tb_dp_mode mode) {
    enum { NW = 4096 };
    double ref[STEPS], dp[STEPS];
    static float wref[NW], wdp[NW];
    train(f, 0, mode, ref, wref, NW);
    train(f, 1, mode, dp, wdp, NW);
    for (int i = 0; i < STEPS; i++) {
        double rel = fabs(ref[i] - dp[i]) / fabs(ref[i]);
        if (rel > 1e-5) fail_msg("step %d: one process %.9g, data parallel %.9g (relative %.3g)", i, ref[i], dp[i], rel);
    }
    assert_true(ref[STEPS - 1] < ref[0]); /* it trained */
    for (int i = 0; i < NW; i++) assert_true(fabsf(wref[i] - wdp[i]) <= 1e-5f + 1e-4f * fabsf(wref[i]));
    /* every rank holds the same weights after the step */
    float mx[NW], mn[NW];
    MPI_Allreduce(wdp, mx, NW, MPI_FLOAT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Allreduce(wdp, mn, NW, MPI_FLOAT, MPI_MIN, MPI_COMM_WORLD);
    assert_memory_equal(mx, mn, sizeof mx);
}

static void test_dp_gpt2(void **s) { equivalence(TB_FAMILY_GPT2, TB_DP_ALLREDUCE); }
static void test_dp_llama(void **s) { equivalence(TB_FAMILY_LLAMA, TB_DP_ALLREDUCE); }
static void test_zero1_gpt2(void **s) { equivalence(TB_FAMILY_GPT2, TB_DP_ZERO1); }
static void test_zero1_llama(void **s) { equivalence(TB_FAMILY_LLAMA, TB_DP_ZERO1); }
static void test_zero3_gpt2(void **s) { equivalence(TB_FAMILY_GPT2, TB_DP_ZERO3); }
static void test_zero3_llama(void **s) { equivalence(TB_FAMILY_LLAMA, TB_DP_ZERO3); }

/* groups: every split is consistent, and a size that does not divide the world is refused */
static void test_groups(void **s) {
    int size;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    for (int k = 1; k <= size; k++) {
        tb_groups g;
        int rc = tb_groups_split(&g, MPI_COMM_WORLD, k);
        if (size % k != 0) {
            assert_int_equal(rc, TB_ERR_ARG);
            tb_error_clear();
            continue;
        }
        assert_int_equal(rc, TB_OK);
        assert_int_equal(g.group_size, k);
        assert_int_equal(g.n_groups, size / k);
        assert_int_equal(g.group_rank, g.world_rank % k);
        int leaders = g.leaders != MPI_COMM_NULL, n_leaders;
        MPI_Allreduce(&leaders, &n_leaders, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
        assert_int_equal(n_leaders, g.n_groups);
        tb_groups_free(&g);
    }
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    make_windows();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups),
        cmocka_unit_test(test_dp_gpt2),
        cmocka_unit_test(test_dp_llama),
        cmocka_unit_test(test_zero1_gpt2),
        cmocka_unit_test(test_zero1_llama),
        cmocka_unit_test(test_zero3_gpt2),
        cmocka_unit_test(test_zero3_llama),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tb_windows_free(&windows);
    MPI_Finalize();
    return rc;
}
