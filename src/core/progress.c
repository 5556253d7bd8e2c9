/* progress.c: monotonic time and a progress line with an ETA for long loops. */
#include <stdio.h>
#include <time.h>

#include "core.h"

double tb_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void tb_progress_start(tb_progress *p, const char *what, long total, int enabled) {
    tb_progress_resume(p, what, 0, total, enabled);
}

void tb_progress_resume(tb_progress *p, const char *what, long first, long total, int enabled) {
    p->what = what;
    p->first = first;
    p->total = total;
    p->start = tb_now();
    p->last_print = 0.0;
    p->enabled = enabled;
}

static void format_seconds(char *buf, size_t n, double s) {
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else
        snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
}

void tb_progress_update(tb_progress *p, long done, const char *extra) {
    if (!p->enabled) return;
    double now = tb_now();
    if (done < p->total && now - p->last_print < 0.5) return;
    p->last_print = now;
    double elapsed = now - p->start;
    char el[32], eta[32] = "?";
    format_seconds(el, sizeof el, elapsed);
    if (done > p->first) format_seconds(eta, sizeof eta, elapsed / (double)(done - p->first) * (double)(p->total - done));
    printf("%s %ld/%ld (%.0f%%) elapsed %s ETA %s%s%s\n", p->what, done, p->total,
           p->total ? 100.0 * (double)done / (double)p->total : 100.0, el, eta, extra ? "  " : "",
           extra ? extra : "");
    fflush(stdout);
}
