/* h5util.c: HDF5 error handling shared by the checkpoint and results writers. */
#include <stdio.h>

#include "h5util.h"

void tb_h5_quiet_begin(tb_h5_quiet *q) {
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void tb_h5_quiet_end(const tb_h5_quiet *q) { H5Eset_auto2(H5E_DEFAULT, q->func, q->data); }

static herr_t keep_innermost(unsigned n, const H5E_error2_t *e, void *buf) {
    if (n == 0) snprintf(buf, TB_H5_DETAIL_MAX, "%s", e->desc ? e->desc : "");
    return 0;
}

const char *tb_h5_detail(char *buf) {
    buf[0] = '\0';
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, keep_innermost, buf);
    return buf[0] ? buf : "unknown HDF5 error";
}
