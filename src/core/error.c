/* error.c: the error record and its traceback (see core.h). One record per process: the first
 * failure wins, later TB_CHECK frames append where it travelled. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

#define TB_MAX_TRACE 32

static struct {
    int code;
    char message[1024];
    char hint[512];
    char trace[TB_MAX_TRACE][160];
    int n_trace;
} err;

int tb_error_set(int code, const char *file, int line, const char *func, const char *hint,
                 const char *fmt, ...) {
    if (err.code != TB_OK) { /* keep the root cause; this frame is just one more step */
        tb_error_trace(file, line, func);
        return code;
    }
    err.code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err.message, sizeof err.message, fmt, ap);
    va_end(ap);
    snprintf(err.hint, sizeof err.hint, "%s", hint ? hint : "");
    err.n_trace = 0;
    tb_error_trace(file, line, func);
    return code;
}

void tb_error_trace(const char *file, int line, const char *func) {
    if (err.n_trace >= TB_MAX_TRACE) return;
    snprintf(err.trace[err.n_trace++], sizeof err.trace[0], "%s:%d %s()", file, line, func);
}

const char *tb_error_message(void) { return err.message; }

void tb_error_clear(void) { memset(&err, 0, sizeof err); }

void tb_error_report(FILE *f) {
    fprintf(f, "error: %s\n", err.code ? err.message : "unknown error (no record)");
    if (err.hint[0]) fprintf(f, "---> HINT: %s\n", err.hint);
    for (int i = 0; i < err.n_trace; i++) fprintf(f, "  at %s\n", err.trace[i]);
    tb_error_clear();
}

_Noreturn void tb_abort(const char *file, int line, const char *what) {
    fprintf(stderr, "trustbench: internal error at %s:%d: %s\n", file, line, what);
    fflush(stderr);
    abort();
}

void *tb_malloc(size_t bytes) {
    void *p = NULL;
    size_t rounded = (bytes + 63) / 64 * 64;
    if (rounded == 0) rounded = 64;
    if (posix_memalign(&p, 64, rounded) != 0 || !p) tb_abort(__FILE__, __LINE__, "out of memory");
    memset(p, 0, rounded);
    return p;
}

void *tb_calloc(size_t n, size_t size) { return tb_malloc(n * size); }

void tb_free(void *p) { free(p); }
