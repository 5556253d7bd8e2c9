/*
 * workloads.h: the public face of src/workloads: what a workload is to the sweep runtime, the
 * registry of workloads, and the pieces every workload shares (cached shared stages, checkpoints of
 * points in flight, the training loop with stop, divergence and progress handling).
 *
 * A workload declares its spec schema and its outputs (metrics, curves), prepares its shared stages
 * once on the world communicator (cached as HDF5 files keyed by the hash of the configuration that
 * made them), and runs one point at a time inside a group of ranks.
 */
#ifndef TB_WORKLOADS_H
#define TB_WORKLOADS_H

#include "dist/dist.h"
#include "io/io.h"
#include "spec/spec.h"
#include "train/train.h"

#define TB_MESSAGE_CAP 256

typedef struct {
    const tb_spec *spec;
    const tb_groups *groups;
    const char *cache_dir; /* shared stages: <cache_dir>/<stage>-<hash>.h5 */
    const char *state_dir; /* points in flight: <state_dir>/point-<id>.h5 */
    int quiet;
    /* the points this run executes, in id order: the pending ones of its slice. Shared stages are
     * built for these alone, so a slice or a resumed run never trains a stage it will not read. */
    const int *points;
    int n_points;
    void *priv; /* the workload's shared state, from prepare */
} tb_run_ctx;

typedef struct {
    double *metrics;   /* n_metrics, NaN until set */
    float **curves;    /* n_curves rows of curve_len floats, NaN past the last logged step */
    float **samples;   /* n_sample_sets rows of their sample_lens floats, NaN where not measured */
    int failed;        /* the point failed (NaN, divergence, bad data): message says why */
    int interrupted;   /* a stop signal arrived: the point's state is checkpointed in state_dir */
    char message[TB_MESSAGE_CAP];
} tb_point_out;

typedef struct {
    const char *name;
    const tb_spec_schema *schema;
    const char *const *metrics;
    int n_metrics;
    const char *const *curves;
    int n_curves;
    /* length of every curve row (the same for all points of the spec) */
    int (*curve_len)(const tb_spec *s);
    /* per-sample values: /samples/<split>/<name>, each row of lens[i] floats as sample_lens fills
     * them (called once per sweep; none when 0 sets) */
    const char *const (*sample_sets)[2]; /* {split, name} */
    int n_sample_sets;
    void (*sample_lens)(const tb_spec *s, int *lens);
    /* the method column of point p (NULL: the workload's name) */
    void (*method)(const tb_spec *s, int p, char *buf, size_t cap);
    /* conventions that change a number, written as root attributes: pairs {key, value}, NULL-ended */
    const char *const (*conventions)[2];
    int (*prepare)(tb_run_ctx *ctx);
    /* runs point p on ctx->groups->group; a failure of the point itself is reported in out (the sweep
     * goes on), a returned error stops the run */
    int (*run_point)(tb_run_ctx *ctx, int p, tb_point_out *out);
    void (*release)(tb_run_ctx *ctx);
} tb_workload;

const tb_workload *tb_workload_find(const char *name);
/* The schemas of every workload, for tb_spec_load. */
const tb_spec_schema *const *tb_workload_schemas(int *n);

/* ---- the sweep runtime ---------------------------------------------------------------------- */

typedef struct {
    const char *spec_path;
    const char *out;       /* the results file; points in flight are checkpointed in <out>.points/ */
    const char *cache_dir; /* shared stages */
    const char *slice;     /* "i/N": run only the i-th of N contiguous slices of the points, or NULL */
    int ranks_per_point;   /* 0: the spec's, else the largest that keeps every rank busy */
    int restart;           /* start the results file again when its spec differs */
    int dry_run;           /* print the expanded points and stop */
    int quiet;
} tb_sweep_options;

/* Runs the sweep on MPI_COMM_WORLD (collective). *exit_status is 0, or TB_EXIT_REQUEUE when a stop
 * signal ended the run early with its points in flight checkpointed. */
int tb_sweep_run(const tb_sweep_options *o, int *exit_status);

/* ---- shared pieces --------------------------------------------------------------------------- */

/* Path of a cached shared stage: <cache_dir>/<stage>-<16 hex digits>.h5 */
void tb_stage_path(char *buf, size_t cap, const char *cache_dir, const char *stage, uint64_t hash);
int tb_file_exists(const char *path);
/* mkdir -p */
int tb_make_dirs(const char *path);

/* ---- shared stages (stages.c) ----------------------------------------------------------------- */

/* The model config from the spec's model.* keys and data.seq_len. */
int tb_stage_model_config(const tb_spec *s, int p, int vocab, tb_config *c);

/* Data-parallel fine-tuning of every parameter of m on windows w over comm (all-reduce): AdamW,
 * cosine schedule with linear warmup, clipping; the batch is global (a multiple of comm's size). */
typedef struct {
    long steps;
    int batch;
    float lr, min_lr, weight_decay, clip;
    long warmup;
    uint64_t seed; /* data order */
} tb_finetune;
int tb_finetune_run(MPI_Comm comm, tb_model *m, const tb_token_windows *w, const tb_finetune *f, const char *label,
                    int verbose);

/* Steps [first, last) of tr, each one's loss on the progress line (and into loss[step] if loss is not
 * NULL); a failed step ends the run with its error. For stages and retraining: no checkpoints. */
int tb_train_steps(tb_trainer *tr, long first, long last, tb_progress *prog, float *loss);

/* Capability retention (MMLU stand-in, posttrain.md): multiple-choice accuracy on the famous-author and
 * world-fact questions of the embedded corpus, asked in plain text ("Q: {question} A:") as the corpus
 * asks them; the option (the answer or one of its 3 distractors) with the largest summed log-likelihood
 * is the model's choice, and a tie is wrong (chance: 0.25). Rows are split over the ranks of comm in
 * chunks of at most B; collective, every rank gets the accuracy. */
int tb_capability_accuracy(tb_model *m, const tb_tokenizer *tok, int B, MPI_Comm comm, double *accuracy);

/* Adds a workload's own windows (made with the stage's tokenizer) to the base model's training set. */
typedef int (*tb_stage_windows_fn)(tb_run_ctx *ctx, int p, const tb_tokenizer *tok, tb_token_windows *train);

/* The base-model stage of point p on the world communicator: a tokenizer trained on tok_text, a model
 * from the model.* keys initialised from data.seed, pretrained for base.steps on windows of text
 * (base.lr, base.batch, data.seq_len, data.val_fraction held out) plus whatever more (may be NULL)
 * adds, written to path by rank 0. */
int tb_stage_pretrain(tb_run_ctx *ctx, int p, const char *tok_text, size_t tok_len, const char *text, size_t len,
                      tb_stage_windows_fn more, const char *path);

/* Runs build once per distinct hash(s, p) over the run's points (ctx->points), in point order,
 * unless rank 0 finds the stage's file <cache_dir>/<stage>-<hash>.h5 already there; collective over
 * the world. */
int tb_stage_once(tb_run_ctx *ctx, const char *stage, uint64_t (*hash)(const tb_spec *s, int p),
                  int (*build)(tb_run_ctx *ctx, int p, const char *path));

/* A point's training, run by every rank of the group: steps [start, steps) of tr, with
 *   - a stop check agreed over the group every step (then the state is checkpointed to path and
 *     out->interrupted set),
 *   - failure isolation: a non-finite loss, or a loss above diverge_factor times the first step's,
 *     marks the point failed with the reason,
 *   - the loss of every step into curve (NULL to skip),
 *   - progress lines on the world's rank 0 when verbose.
 * The checkpoint holds model, tokenizer (may be NULL), optimizer moments (gathered from ZeRO-1
 * shards) and the step; tb_point_resume restores it. */
typedef struct {
    tb_trainer *tr;
    tb_dp *dp;
    const tb_tokenizer *tok;
    long steps;
    float diverge_factor;
    const char *state_path;
    float *curve;   /* the loss of every step; with curve_rows > 1, the first of that many rows of steps
                     * floats that the checkpoint keeps (the workload's other curves) */
    int curve_rows; /* 0 or 1: the loss curve alone */
    int verbose;
    const char *label; /* e.g. "point 3" */
    /* called by every rank of the group after each step (collectives allowed), with the step's loss;
     * NULL for none. An error it returns stops the run. */
    int (*after_step)(void *ctx, long step, double loss);
    void *hook_ctx;
} tb_point_train;

int tb_point_train_run(tb_point_train *pt, long start, tb_point_out *out);
/* Loads the state of an interrupted point into tr's model and optimizer (scattering ZeRO-1 shards);
 * returns the step to continue from in *start (0 when there is no state file). */
int tb_point_resume(tb_point_train *pt, long *start);

#endif
