/*
 * sys.h: the public face of src/sys: where a rank runs and how it stops.
 *
 *   - Topology (hwloc 2): packages, NUMA nodes, cores and PUs of this machine, the CPUs this process
 *     is bound to, and how many cores that binding touches. The counts are of what this job may use:
 *     hwloc leaves out CPUs outside the cgroup or cpuset a batch system gives the job.
 *   - Threads: one BLAS / OpenMP thread count per rank, chosen so that ranks x threads fits the cores
 *     (DESIGN.md, "Threads"), unless the user set OPENBLAS_NUM_THREADS or OMP_NUM_THREADS.
 *   - Signals: SIGTERM and SIGUSR1 (Slurm's warning before the time limit) set a flag; ranks agree
 *     on it with an all-reduce so that every rank of a communicator stops at the same step.
 *
 * The signal flag is the one piece of global state here, because a signal handler can reach nothing
 * else. Everything else is plain data filled by a call, so it can be gathered over MPI as bytes.
 */
#ifndef TB_SYS_H
#define TB_SYS_H

#include <stddef.h>
#include <stdio.h>

#include <mpi.h>

#include "core/core.h"

/* Exit status of a run that stopped on SIGTERM/SIGUSR1 after checkpointing, asking the batch script
 * to requeue it. 75 is EX_TEMPFAIL of <sysexits.h> ("temporary failure, retry later"), which says
 * exactly that. It is distinct from success (0), trustbench's error (1) and usage (2) statuses, and
 * below 128, so it cannot be confused with the 128+N a shell reports for a process killed by signal
 * N (143 for SIGTERM, 138 for SIGUSR1): a batch script may requeue on 75 and on nothing else. Open MPI's
 * mpirun and Slurm's srun both pass a rank's non-zero exit status on to the script. */
#define TB_EXIT_REQUEUE 75

/* ------------------------------------------------------------------------------------------------
 * topology */

#define TB_HOSTNAME_CAP 256
/* Room for a binding in hwloc's list syntax ("0-3,8-11"). Contiguous bindings take a few bytes;
 * even every other PU of a 256-PU node fits. A longer one is reported as an error, not truncated. */
#define TB_CPUSET_CAP 1024

typedef struct {
    char hostname[TB_HOSTNAME_CAP];
    int n_packages;
    int n_numa;      /* NUMA nodes */
    int n_cores;     /* physical cores (each PU counts as a core where the machine reports no cores) */
    int n_pus;       /* processing units: hardware threads */
    char binding[TB_CPUSET_CAP]; /* PUs this process may run on, as OS indexes in list syntax */
    int bound;       /* 1 when the binding is a strict subset of the machine's PUs */
    int cores_owned; /* cores that share at least one PU with the binding; n_cores when unbound */
} tb_topology;

/* Fills t for the calling process (all of its threads). Fails on an hwloc error or an overlong
 * binding, naming it. */
int tb_topology_query(tb_topology *t);

/* Key/value strings for the results file's /topology attributes. */
#define TB_TOPOLOGY_N_ATTRS 8
typedef struct {
    const char *key;
    char value[TB_CPUSET_CAP];
} tb_sys_attr;
/* Writes TB_TOPOLOGY_N_ATTRS attributes: hostname, binding, packages, numa_nodes, cores, pus, bound,
 * cores_owned (numbers in decimal, bound as 0/1). Returns how many were written. */
int tb_topology_attrs(tb_sys_attr attrs[TB_TOPOLOGY_N_ATTRS], const tb_topology *t);
/* Human-readable, one field per line, each prefixed by indent. */
void tb_topology_print(FILE *f, const tb_topology *t, const char *indent);

/* ------------------------------------------------------------------------------------------------
 * BLAS and OpenMP threads */

typedef struct {
    /* the inputs, kept for reports */
    int cores;          /* cores of the node */
    int cores_owned;    /* cores this rank's binding touches */
    int ranks_on_node;  /* ranks of the communicator on this node */
    int ranks_sharing;  /* ranks on this node whose binding overlaps this rank's (itself included) */
    /* the decision */
    int computed;       /* max(1, cores_owned / ranks_sharing): this rank's fair share of cores */
    int blas_threads;   /* what OpenBLAS gets */
    int omp_threads;    /* what OpenMP gets */
    int from_env;       /* 1 when either count came from the environment rather than `computed` */
    int oversubscribed; /* ranks_on_node > cores: ranks time-share cores whatever the thread count */
} tb_thread_plan;

/* Decides the thread counts; a pure function, so every case can be tested.
 *
 * Dividing the owned cores by the ranks that share them covers every binding with one rule:
 * unbound ranks all share all cores (cores / ranks_on_node); a rank bound to its own T cores
 * (mpirun --map-by slot:PE=T) gets T; ranks bound to a whole package share that package's cores.
 *
 * env_openblas and env_omp are the values of OPENBLAS_NUM_THREADS and OMP_NUM_THREADS (NULL or ""
 * when unset). A value the user set wins: OpenBLAS takes OPENBLAS_NUM_THREADS, else OMP_NUM_THREADS
 * (OpenBLAS's own order); OpenMP takes OMP_NUM_THREADS, else OPENBLAS_NUM_THREADS, the user's stated
 * budget per rank. OMP_NUM_THREADS may be a per-nesting-level list ("4,2"): the first entry counts.
 * Returns TB_ERR_ARG, naming the variable, when a set value is not a positive integer. */
int tb_thread_plan_make(tb_thread_plan *plan, int cores, int cores_owned, int ranks_on_node, int ranks_sharing,
                        const char *env_openblas, const char *env_omp);
/* openblas_set_num_threads and omp_set_num_threads. */
void tb_thread_plan_apply(const tb_thread_plan *plan);
/* The text to warn with, once per run, when a node is oversubscribed (plan.oversubscribed, or a
 * gathered tb_rank_placement's): how many ranks share how many cores, and what to launch instead.
 * To warn once, let rank 0 warn after an all-reduce (MAX) of the flag, or from the gathered rows. */
void tb_sys_oversubscription_warning(char *buf, size_t cap, int ranks_on_node, int cores);

/* Ranks of comm on the calling rank's node (MPI_Comm_split_type, MPI_COMM_TYPE_SHARED). Collective. */
int tb_sys_ranks_on_node(MPI_Comm comm, int *ranks_on_node);
/* Ranks of comm on this node whose binding overlaps t->binding, the caller included. Collective. */
int tb_sys_ranks_sharing(MPI_Comm comm, const tb_topology *t, int *ranks_sharing);
/* The runtime's one call: counts the ranks on the node and sharing this rank's cores, reads
 * OPENBLAS_NUM_THREADS and OMP_NUM_THREADS, makes the plan and applies it. Collective over comm. */
int tb_sys_threads_setup(MPI_Comm comm, const tb_topology *t, tb_thread_plan *plan);

/* OpenBLAS's build configuration (version, kernel, threading, MAX_THREADS) for the results file. */
const char *tb_sys_blas_config(void);

/* One rank's placement, as gathered for `trustbench topo` and the results file. */
typedef struct {
    char hostname[TB_HOSTNAME_CAP];
    char binding[TB_CPUSET_CAP];
    int cores;        /* of the node */
    int bound, cores_owned;
    int ranks_on_node, ranks_sharing;
    int blas_threads; /* as OpenBLAS reports it at the time of the call */
    int omp_threads;  /* omp_get_max_threads() at the time of the call */
    int oversubscribed;
} tb_rank_placement;

/* Gathers every rank's placement to root: rows has comm's size entries there and may be NULL on
 * the other ranks. Collective over comm. */
int tb_sys_gather_placement(tb_rank_placement *rows, MPI_Comm comm, int root, const tb_topology *t,
                            const tb_thread_plan *plan);

/* ------------------------------------------------------------------------------------------------
 * signals */

/* Call first thing in main: sets OMP_WAIT_POLICY=passive unless the user set a policy, and re-executes
 * the program so that libgomp sees it (see openmp_env.c for the measurement behind it). */
void tb_sys_prefer_passive_openmp(char **argv);

/* Installs the handlers for SIGTERM and SIGUSR1 (SA_RESTART, so interrupted reads and writes resume
 * instead of failing with EINTR). Call after MPI_Init, so that they replace any the MPI library set. */
int tb_sys_signals_install(void);
/* The first stop signal this process received (SIGTERM or SIGUSR1), or 0. */
int tb_sys_stop_signal(void);
/* Forgets a received signal (tests, and a caller that has handled the stop). */
void tb_sys_signals_reset(void);
/* 1 when any rank of comm has received a stop signal, on every rank of comm: call it once per step
 * on every rank, and all of them stop at the same step. An MPI failure aborts (MPI's default error
 * handler), as any collective of the training step would. */
int tb_sys_stop_agreed(MPI_Comm comm);

#endif
