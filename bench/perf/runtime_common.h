/*
 * runtime_common.h: what the runtime benchmarks (bench/perf/runtime_*.c) share: order statistics,
 * integer options, the environment header every run prints (hpc.md section 6: versions, threads,
 * every rank's binding), and a gpt2 training set-up on random tokens that both the all-reduce and
 * the scaling benchmark time through the runtime's own tb_train_step.
 */
#ifndef TB_BENCH_RUNTIME_COMMON_H
#define TB_BENCH_RUNTIME_COMMON_H

#include <mpi.h>
#include <stdint.h>

#include "core/core.h"
#include "dist/dist.h"
#include "model/model.h"
#include "train/train.h"

/* ---- statistics ------------------------------------------------------------------------------ */

double rt_median(const double *x, int n); /* n >= 1; x is left untouched */
double rt_min(const double *x, int n);
double rt_max(const double *x, int n);
/* The largest x over comm: a collective phase ends when its slowest rank ends. Collective. */
double rt_max_over(MPI_Comm comm, double x);

/* ---- options --------------------------------------------------------------------------------- */

typedef struct {
    const char *flag; /* "--steps" */
    int *dst;
    int lo;           /* smallest accepted value */
} rt_int_option;

/* Parses "--flag value" pairs of integer options; --help prints usage and exits. An unknown flag,
 * a missing value or a value below its bound is TB_ERR_ARG naming the flag. */
int rt_parse_options(int argc, char **argv, const rt_int_option *opts, int n_opts, const char *usage);

/* ---- environment ----------------------------------------------------------------------------- */

/* Sets each rank's BLAS and OpenMP threads the way the sweep does (tb_sys_threads_setup: the
 * environment's OPENBLAS_NUM_THREADS / OMP_NUM_THREADS win), then rank 0 prints the environment
 * as '#' lines: trustbench commit, compiler, MPI, HDF5 and OpenBLAS versions, the CPU model, the
 * thread variables, and every rank's binding and thread counts. Collective over comm. */
int rt_setup_and_print_env(MPI_Comm comm, const char *bench);

/* ---- training on random tokens --------------------------------------------------------------- */

/* This rank's rows [first_row, first_row + rows) of a global batch of random tokens. Token (row, t)
 * of step s is a pure function of (seed, s, global row, t), so every rank count trains on the same
 * global batch. */
typedef struct {
    int first_row, rows;
    int T, V;
    uint64_t seed;
} rt_random_batch;

/* tb_batch_fn over an rt_random_batch: inp (rows,T), targets (rows,T) = the next token. */
int rt_random_batch_fill(void *ctx, long step, int micro, int *inp, int *targets);

/* A gpt2 model with its optimizer and trainer on random tokens. With dp_bucket_bytes > 0 it trains
 * data-parallel over comm (all-reduce in buckets of at most that many bytes), each rank reading
 * B_global / size rows; with 0 this rank trains B_global rows alone. The trainer points into the
 * struct, so it must not move after init. */
typedef struct {
    tb_model model;
    tb_optimizer opt;
    tb_objective objective;
    tb_dp dp;
    int have_dp;
    rt_random_batch batch;
    tb_trainer trainer;
} rt_gpt2_run;

int rt_gpt2_run_init(rt_gpt2_run *r, MPI_Comm comm, int L, int C, int NH, int V, int T, int B_global,
                     size_t dp_bucket_bytes, uint64_t seed);
void rt_gpt2_run_free(rt_gpt2_run *r);

#endif
