/*
 * io.h: the public face of src/io: model checkpoints in HDF5 (and, later, results files and
 * safetensors).
 *
 * A checkpoint holds the config, the tokenizer's merges, every parameter by name (base and
 * adapter), the step, the RNG state and optionally the optimizer's moments. It is written to
 * "<path>.<host>.<pid>.tmp" (two processes may save one path at once), closed, then renamed, and
 * carries a `complete` attribute written last, so a half-written file is never mistaken for a checkpoint. Loading validates names and shapes
 * against the stored config and names the offending dataset on mismatch.
 */
#ifndef TB_IO_H
#define TB_IO_H

#include <stdio.h>

#include "core/core.h"
#include "data/data.h"
#include "model/model.h"

typedef struct {
    long step;       /* optimizer steps taken */
    tb_rng rng;      /* the training loop's data/sampling stream, to resume bit-identically */
    /* optimizer moments for the ParamSet being trained (NULL when not saved / not present);
     * opt_numel must equal that ParamSet's numel. On load they are allocated with tb_malloc. */
    float *opt_m, *opt_v;
    size_t opt_numel;
    int opt_owner; /* the ParamSet the moments belong to: TB_CKPT_BASE, TB_CKPT_ADAPTER or TB_CKPT_REPARAM */
    /* what a run logged so far (e.g. a point's loss curve), restored on resume so the finished
     * record equals an uninterrupted run's; NULL / 0 when absent. Allocated with tb_malloc on load. */
    float *trace;
    size_t trace_len;
    /* saving only: a reparameterisation trained in place of the model's own tensors (prefix-tuning's
     * MLP, src/peft), written to /reparam_params/<name>; NULL for none. Loading leaves it NULL:
     * tb_checkpoint_load_reparam reads those tensors into the caller's ParamSet. */
    const tb_paramset *reparam;
} tb_ckpt_state;

enum { TB_CKPT_BASE = 0, TB_CKPT_ADAPTER = 1, TB_CKPT_REPARAM = 2 }; /* tb_ckpt_state.opt_owner */

/* Writes m (config, base + adapter parameters), tok (may be NULL) and st (may be NULL). */
int tb_checkpoint_save(const char *path, const tb_model *m, const tb_tokenizer *tok, const tb_ckpt_state *st);
/* Fills ps from the /reparam_params of a checkpoint saved with st->reparam: the same tensor names and
 * shapes, nothing missing and nothing extra. */
int tb_checkpoint_load_reparam(const char *path, tb_paramset *ps);
/* Creates *m from the file (config, adapters, parameters); fills tok if non-NULL (error if the
 * file has none), and st if non-NULL (opt_m/opt_v NULL when the file has no optimizer state). */
int tb_checkpoint_load(const char *path, tb_model *m, tb_tokenizer *tok, tb_ckpt_state *st);
/* Prints a human summary (config, tensors, parameter count, step, optimizer state). */
int tb_checkpoint_info(const char *path, FILE *out);

/* ================================================================================================
 * results file (src/io/results.c): the sweep's one HDF5 file, written collectively (MPI-IO)
 *
 * Layout (results/README.md documents every dataset and attribute):
 *   /                        format, format_version, trustbench_version, trustbench_commit, spec_yaml,
 *                            spec_canonical, start_time, mpi_size, ranks_per_point, hostnames[mpi_size],
 *                            n_points, and the workload's convention attributes
 *   /topology                string attributes given by the caller
 *   /points/<column>         [n_points]: id, status, seed, method, every hyperparameter, wall_time, failure
 *   /metrics/<name>          float64 [n_points], NaN until written
 *   /curves/<name>           float32 [n_points, n_logged_steps], NaN until written
 *   /samples/<split>/<name>  float32 [n_points, n_samples], NaN until written
 *
 * Life cycle, every call collective over the communicator given at create/open (usually world):
 *   declare the layout (tb_results_layout_*, identical on every rank) -> tb_results_create (new file)
 *   or tb_results_open (resume) -> tb_results_write once per round -> tb_results_close.
 * Every dataset is sized for all points at creation, so a round only writes raw data: the file's
 * metadata never changes after creation and a killed run leaves a readable file.
 *
 * Who writes a row: the leader (rank 0 of the group's communicator) of the group that ran the
 * point passes its row; the other ranks of that group pass zero rows for it. A point passed by two
 * ranks in the same round is an error on every rank.
 *
 * Errors are collective too: when any rank fails, every rank returns the failing rank's code and
 * message, so no rank is left waiting in a collective call.
 */
#include <mpi.h>

#define TB_RESULTS_NAME_MAX 64     /* bytes of a column, metric, curve, split or attribute name, with NUL */
#define TB_RESULTS_METHOD_LEN 64   /* bytes of the method column */
#define TB_RESULTS_FAILURE_LEN 256 /* bytes of the failure column; longer messages are cut */
#define TB_RESULTS_STRING_MAX 4096 /* widest string hyperparameter column */

/* The status column's values. */
typedef enum { TB_POINT_PENDING = 0, TB_POINT_DONE = 1, TB_POINT_FAILED = 2 } tb_point_status;

typedef enum { TB_COLUMN_INT64, TB_COLUMN_FLOAT64, TB_COLUMN_STRING } tb_column_type;

typedef struct {
    char name[TB_RESULTS_NAME_MAX];
    tb_column_type type;
    int str_len; /* bytes per value (fixed-length, NUL-padded UTF-8), TB_COLUMN_STRING only */
} tb_results_column;

typedef struct {
    char split[TB_RESULTS_NAME_MAX]; /* sample sets only, "" for curves */
    char name[TB_RESULTS_NAME_MAX];
    int len; /* n_logged_steps of a curve, n_samples of a sample set */
} tb_results_series;

typedef struct {
    char key[TB_RESULTS_NAME_MAX];
    char *text;    /* the value of a string attribute (owned), NULL for a number */
    double number; /* the value of a numeric attribute */
} tb_results_attr;

/* What the file holds, declared before create/open. The spec texts are borrowed and must outlive
 * tb_results_create/tb_results_open; everything else is copied. */
typedef struct {
    long n_points;
    int ranks_per_point;
    const char *spec_yaml;      /* the spec as the user wrote it */
    const char *spec_canonical; /* the expanded spec; a resume must present the same text */
    tb_results_column *columns; /* swept hyperparameters, in this order */
    int n_columns, cap_columns;
    char (*metrics)[TB_RESULTS_NAME_MAX];
    int n_metrics, cap_metrics;
    tb_results_series *curves;
    int n_curves, cap_curves;
    tb_results_series *samples;
    int n_samples, cap_samples;
    tb_results_attr *attrs; /* the workload's conventions, as root attributes */
    int n_attrs, cap_attrs;
    tb_results_attr *topology; /* string attributes of /topology */
    int n_topology, cap_topology;
} tb_results_layout;

/* Names: 1..63 characters of [A-Za-z0-9_.+-], not starting with '.', unique within their kind.
 * The add functions reject a bad name, a duplicate, a reserved name or a non-positive size with
 * TB_ERR_ARG. */
void tb_results_layout_init(tb_results_layout *L, long n_points, int ranks_per_point, const char *spec_yaml,
                            const char *spec_canonical);
int tb_results_add_column(tb_results_layout *L, const char *name, tb_column_type type, int str_len);
int tb_results_add_metric(tb_results_layout *L, const char *name);
int tb_results_add_curve(tb_results_layout *L, const char *name, int n_logged_steps);
int tb_results_add_samples(tb_results_layout *L, const char *split, const char *name, int n_samples);
int tb_results_add_attr_string(tb_results_layout *L, const char *key, const char *value);
int tb_results_add_attr_number(tb_results_layout *L, const char *key, double value);
int tb_results_add_topology(tb_results_layout *L, const char *key, const char *value);
void tb_results_layout_free(tb_results_layout *L);

/* The value of one hyperparameter column: the member matching the column's type. */
typedef union {
    int64_t i;
    double f;
    const char *s;
} tb_results_value;

/* One finished point. */
typedef struct {
    long point;                     /* row in [0, n_points) */
    int status;                     /* TB_POINT_DONE or TB_POINT_FAILED */
    int64_t id, seed;
    const char *method;             /* at most TB_RESULTS_METHOD_LEN bytes; NULL is "" */
    double wall_time;               /* seconds */
    const char *failure;            /* why it failed; NULL is ""; cut to TB_RESULTS_FAILURE_LEN bytes */
    const tb_results_value *values; /* [n_columns] in declaration order */
    const double *metrics;          /* [n_metrics], or NULL: all NaN (not measured) */
    const float *const *curves;     /* [n_curves] each [n_logged_steps]; NULL array or entry: NaN */
    const float *const *samples;    /* [n_sample_sets] each [n_samples]; NULL array or entry: NaN */
} tb_results_row;

typedef struct tb_results tb_results;

/* Creates path (replacing any file there) with every dataset sized for L->n_points. It is built as
 * "<path>.tmp" and renamed, so a file at path is always a complete results file. */
int tb_results_create(tb_results **out, const char *path, MPI_Comm comm, const tb_results_layout *L);
/* Opens an existing results file to resume. The file must be a trustbench results file with L's
 * datasets. If its canonical spec differs from L->spec_canonical: with restart == 0 it fails
 * (TB_ERR_ARG, the first differing line quoted); with restart == 1 it returns TB_OK with *out ==
 * NULL and the caller recreates the file with tb_results_create. restart relaxes nothing else: a
 * damaged or foreign file is an error either way. */
int tb_results_open(tb_results **out, const char *path, MPI_Comm comm, const tb_results_layout *L, int restart);
/* One round: this rank's finished rows (n_rows may be 0; every rank still calls). Writes every
 * dataset collectively, the status column last, then flushes. A point already done, a point out of
 * range, a pending status or a string wider than its column fails on every rank before anything is
 * written. */
int tb_results_write(tb_results *r, const tb_results_row *rows, int n_rows);
/* The status column as of the last write, identical on every rank: [n_points]. */
const int32_t *tb_results_status(const tb_results *r);
long tb_results_n_points(const tb_results *r);
long tb_results_count(const tb_results *r, tb_point_status status);
/* How the last tb_results_write's dataset writes went, from H5Pget_mpio_actual_io_mode and
 * H5Pget_mpio_no_collective_cause: mode is the lowest over the round's writes (0 = some write was
 * not collective; 4 = contiguous collective), the causes are OR-ed (global: over all ranks). */
void tb_results_last_io(const tb_results *r, int *mode, uint32_t *local_cause, uint32_t *global_cause);
/* Closes and frees r (also after a failed write). */
int tb_results_close(tb_results *r);

/* Serial (one process): combines slice files of one sweep into out_path. The slices must carry the
 * same canonical spec and datasets; a point finished (done or failed) in two slices is an error.
 * The output is the first slice's file with every other slice's finished rows copied in, plus a
 * merged_from attribute; written to "<out_path>.tmp" and renamed. */
int tb_results_merge(const char *out_path, const char *const *inputs, int n_inputs);
/* ================================================================================================
 * end of results file */

/* Prints a closed results file as a Markdown table: one row per point with its status, swept
 * values and metrics (serial; src/io/results_table.c). */
int tb_results_print_table(const char *path, FILE *out);

/* ================================================================================================
 * QA set file (src/io/qa_file.c): a tb_qa_set (data.h, "QA datasets") in one HDF5 file, serial.
 * The layout is documented in qa_file.c; strings are fixed-length UTF-8 in checksummed chunks. */

/* Writes s to "<path>.tmp", syncs it and renames it to path. */
int tb_qa_save(const char *path, const tb_qa_set *s);
/* Fills s from path; checks the format, every count against the dataset shapes and every index, and
 * names the dataset and the row of the first problem. */
int tb_qa_load(const char *path, tb_qa_set *s);

#endif
