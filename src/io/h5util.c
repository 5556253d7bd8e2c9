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

/* The driver stays the default sec2; two settings differ from the defaults:
 *  - best-effort file locking: parallel file systems without flock support (Lustre mounted without
 *    -o flock) otherwise make every open fail;
 *  - when writing, the HDF5 1.10 file format rather than the oldest one: its superblock, object
 *    headers and chunk indexes carry checksums, so damaged metadata fails the load cleanly instead
 *    of being parsed (HDF5's parser is not hardened against corrupt input: fed damaged 1.0-format
 *    metadata it overruns buffers). Any HDF5 >= 1.10, and so h5py, reads it. */
hid_t tb_h5_fapl(int for_writing) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return fapl;
    int ok = H5Pset_file_locking(fapl, 1, 1) >= 0 &&
             (!for_writing || H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110) >= 0);
    if (!ok) {
        H5Pclose(fapl);
        return -1;
    }
    return fapl;
}
