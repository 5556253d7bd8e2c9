/* schedule.c: learning-rate schedules: linear warmup, then constant, linear or cosine decay. */
#include <math.h>
#include <strings.h>

#include "train.h"

float tb_schedule_lr(const tb_schedule *s, long step) {
    if (step < s->warmup) return s->lr * (float)(step + 1) / (float)s->warmup;
    if (s->kind == TB_SCHED_CONSTANT || s->total <= s->warmup) return s->lr;
    double frac = (double)(step - s->warmup) / (double)(s->total - s->warmup);
    if (frac > 1.0) frac = 1.0;
    double shape = s->kind == TB_SCHED_LINEAR ? 1.0 - frac : 0.5 * (1.0 + cos(3.14159265358979323846 * frac));
    return s->min_lr + (float)shape * (s->lr - s->min_lr);
}

int tb_sched_kind_parse(const char *s, tb_sched_kind *out) {
    if (strcasecmp(s, "constant") == 0) *out = TB_SCHED_CONSTANT;
    else if (strcasecmp(s, "linear") == 0) *out = TB_SCHED_LINEAR;
    else if (strcasecmp(s, "cosine") == 0) *out = TB_SCHED_COSINE;
    else return TB_ERROR(TB_ERR_ARG, "the schedule is constant, linear or cosine", "unknown schedule '%s'", s);
    return TB_OK;
}
