/*
 * core.h: what every other folder of trustbench uses.
 *   - status codes and the error trace (TB_CHECK / TB_ERROR), in the spirit of PETSc's PetscCall:
 *     a failing call records "file:line function" on its way up and the top reports once;
 *   - the rank-aware logger;
 *   - the counter-based RNG keyed by (seed, stream), so draws do not depend on the rank count;
 *   - wall-clock timers and a progress line with an ETA;
 *   - aligned allocation that aborts on exhaustion (an internal invariant, not user input).
 */
#ifndef TB_CORE_H
#define TB_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The git commit the binary was built from (`git describe --always --dirty`), "unknown" outside a
 * checkout; generated at build time. */
const char *tb_git_commit(void);

/* ------------------------------------------------------------------------------------------------
 * errors */

typedef enum {
    TB_OK = 0,
    TB_ERR_ARG,     /* bad command-line argument or option value */
    TB_ERR_IO,      /* a file could not be opened, read or written */
    TB_ERR_FORMAT,  /* a file exists but its content is not what it must be */
    TB_ERR_SHAPE,   /* tensor names or shapes disagree */
    TB_ERR_NUMERIC, /* NaN, infinity, divergence */
    TB_ERR_HDF5,
    TB_ERR_MPI,
} tb_status;

/* Records the first error (message and hint) and its origin; returns code so that
 * `return TB_ERROR(...)` reads naturally. */
int tb_error_set(int code, const char *file, int line, const char *func, const char *hint,
                 const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Appends one traceback line; called by TB_CHECK as the error travels up. */
void tb_error_trace(const char *file, int line, const char *func);
/* Prints "error: message", the hint and the traceback to f, then clears the record. */
void tb_error_report(FILE *f);
const char *tb_error_message(void);
void tb_error_clear(void);

#define TB_ERROR(code, hint, ...) tb_error_set((code), __FILE__, __LINE__, __func__, (hint), __VA_ARGS__)
#define TB_CHECK(call)                                                                             \
    do {                                                                                           \
        int tb_rc_ = (call);                                                                       \
        if (tb_rc_ != TB_OK) {                                                                     \
            tb_error_trace(__FILE__, __LINE__, __func__);                                          \
            return tb_rc_;                                                                         \
        }                                                                                          \
    } while (0)

/* Broken internal invariant: print where and abort. Never for user input. */
#define TB_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (!(cond)) tb_abort(__FILE__, __LINE__, #cond);                                          \
    } while (0)
_Noreturn void tb_abort(const char *file, int line, const char *what);

/* ------------------------------------------------------------------------------------------------
 * memory: 64-byte aligned, zeroed, aborts when the machine is out of memory */

void *tb_malloc(size_t bytes);
void *tb_calloc(size_t n, size_t size);
void tb_free(void *p);

/* ------------------------------------------------------------------------------------------------
 * logging: only rank 0 prints INFO and below unless told otherwise */

typedef enum { TB_LOG_ERROR = 0, TB_LOG_WARN, TB_LOG_INFO, TB_LOG_DEBUG } tb_log_level;
void tb_log_init(int rank, tb_log_level level);
int tb_log_parse_level(const char *s, tb_log_level *out);
void tb_log(tb_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define tb_info(...) tb_log(TB_LOG_INFO, __VA_ARGS__)
#define tb_warn(...) tb_log(TB_LOG_WARN, __VA_ARGS__)
#define tb_debug(...) tb_log(TB_LOG_DEBUG, __VA_ARGS__)

/* ------------------------------------------------------------------------------------------------
 * RNG: counter-based. A stream is (key, counter); draw i of stream (seed, id) is a pure function of
 * (seed, id, i), so it can be saved as two integers and replayed exactly. */

typedef struct {
    uint64_t key;
    uint64_t counter;
} tb_rng;

tb_rng tb_rng_make(uint64_t seed, uint64_t stream);
uint64_t tb_rng_stream_id(const char *name); /* stable 64-bit hash of a stream name */
uint64_t tb_rng_u64(tb_rng *r);
uint32_t tb_rng_u32(tb_rng *r);
float tb_rng_uniform(tb_rng *r);                         /* [0, 1) */
float tb_rng_normal(tb_rng *r);                          /* N(0, 1), Box-Muller */
uint64_t tb_rng_below(tb_rng *r, uint64_t n);            /* uniform in [0, n), unbiased */
void tb_rng_shuffle(tb_rng *r, int *a, int n);           /* Fisher-Yates */

/* ------------------------------------------------------------------------------------------------
 * time and progress */

double tb_now(void); /* seconds, monotonic */

typedef struct {
    const char *what;
    long first, total; /* done runs from first (what earlier runs did) to total */
    double start, last_print;
    int enabled;
} tb_progress;

void tb_progress_start(tb_progress *p, const char *what, long total, int enabled);
/* For a resumed run: first of total are done already. Counts stay absolute (step 41/100 after a
 * resume at 40), and the ETA comes from this run's own pace. */
void tb_progress_resume(tb_progress *p, const char *what, long first, long total, int enabled);
/* Prints "what  done/total  pct  elapsed  ETA  extra" at most twice a second, and always at the end. */
void tb_progress_update(tb_progress *p, long done, const char *extra);

#endif
