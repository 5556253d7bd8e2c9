/* log.c: the rank-aware logger (the one piece of global mutable state besides the error record). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core.h"

static int log_rank = 0;
static tb_log_level log_level = TB_LOG_INFO;

void tb_log_init(int rank, tb_log_level level) {
    log_rank = rank;
    log_level = level;
}

int tb_log_parse_level(const char *s, tb_log_level *out) {
    static const char *names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (strcasecmp(s, names[i]) == 0) {
            *out = (tb_log_level)i;
            return TB_OK;
        }
    return TB_ERROR(TB_ERR_ARG, "use one of: error, warn, info, debug", "unknown log level '%s'", s);
}

void tb_log(tb_log_level level, const char *fmt, ...) {
    if (level > log_level) return;
    /* warnings and errors come from every rank (they may differ); chatter only from rank 0 */
    if (level >= TB_LOG_INFO && log_rank != 0) return;
    FILE *f = level <= TB_LOG_WARN ? stderr : stdout;
    if (level == TB_LOG_WARN) fprintf(f, "warning: ");
    if (log_rank != 0) fprintf(f, "[rank %d] ", log_rank);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fflush(f);
}
