/* h5util.c: HDF5 error handling shared by the checkpoint and results writers. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "core/core.h"

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

int tb_h5_check_file(const char *path, const char *what, const char *hint_path, const char *hint_foreign) {
    struct stat sb;
    if (stat(path, &sb) != 0)
        return TB_ERROR(TB_ERR_IO, hint_path, "cannot open %s %s: %s", what, path, strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return TB_ERROR(TB_ERR_IO, "give the file, not its directory", "%s %s is a directory", what, path);
    FILE *f = fopen(path, "rb");
    if (!f) return TB_ERROR(TB_ERR_IO, "check the file's permissions", "cannot read %s %s: %s", what, path, strerror(errno));
    fclose(f);
    if (H5Fis_hdf5(path) <= 0)
        return TB_ERROR(TB_ERR_FORMAT, hint_foreign, "%s %s is not an HDF5 file (truncated, damaged or another format)",
                        what, path);
    return TB_OK;
}

int tb_io_sync_file(const char *path, const char *hint) {
    int fd = open(path, O_RDONLY);
    int ok = fd >= 0 && fsync(fd) == 0;
    int err = errno;
    if (fd >= 0) close(fd);
    return ok ? TB_OK : TB_ERROR(TB_ERR_IO, hint, "cannot sync %s: %s", path, strerror(err));
}
