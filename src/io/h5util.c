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

#define WRITE_FAILED(kind, path, what, name)                                                                    \
    TB_ERROR(TB_ERR_IO, "check that the directory exists, is writable and has free space",                     \
             "%s %s: cannot write %s '%s': %s", (kind), (path), (what), (name), TB_H5_DETAIL())

hid_t tb_h5_string_type(size_t width) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t >= 0 && (H5Tset_size(t, width) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0 ||
                   H5Tset_cset(t, H5T_CSET_UTF8) < 0)) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

int tb_h5_attr_write(hid_t loc, const char *kind, const char *path, const char *name, hid_t file_type,
                     hid_t mem_type, const void *value) {
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = space < 0 ? -1 : H5Acreate2(loc, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT);
    int rc = (a < 0 || H5Awrite(a, mem_type, value) < 0) ? WRITE_FAILED(kind, path, "attribute", name) : TB_OK;
    if (a >= 0) H5Aclose(a);
    if (space >= 0) H5Sclose(space);
    return rc;
}

int tb_h5_attr_write_string(hid_t loc, const char *kind, const char *path, const char *name, const char *s) {
    hid_t t = tb_h5_string_type(strlen(s) + 1);
    int rc = t < 0 ? WRITE_FAILED(kind, path, "attribute", name) : tb_h5_attr_write(loc, kind, path, name, t, t, s);
    if (t >= 0) H5Tclose(t);
    return rc;
}

/* Chunks are slabs of whole rows of about 16 MiB (HDF5 1.10 caps a chunk at 4 GiB). An empty dataset
 * stays contiguous: chunks cannot be empty. */
static hid_t checksummed_dcpl(int ndim, const hsize_t *dims, size_t elem_size) {
    enum { CHUNK_BYTES = 16 << 20, MAX_DIMS = 8 };
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hsize_t chunk[MAX_DIMS], row_bytes = elem_size;
    for (int i = 1; i < ndim; i++) row_bytes *= dims[i];
    if (dcpl < 0 || dims[0] == 0 || row_bytes == 0) return dcpl;
    hsize_t rows = CHUNK_BYTES / row_bytes;
    chunk[0] = rows < 1 ? 1 : rows < dims[0] ? rows : dims[0];
    for (int i = 1; i < ndim; i++) chunk[i] = dims[i];
    if (H5Pset_chunk(dcpl, ndim, chunk) < 0 || H5Pset_fletcher32(dcpl) < 0) {
        H5Pclose(dcpl);
        return -1;
    }
    return dcpl;
}

int tb_h5_dataset_write(hid_t loc, const char *kind, const char *path, const char *name, hid_t file_type,
                        hid_t mem_type, int ndim, const hsize_t *dims, const void *buf) {
    TB_ASSERT(ndim >= 1 && ndim <= 8);
    hsize_t numel = 1;
    for (int i = 0; i < ndim; i++) numel *= dims[i];
    hid_t space = H5Screate_simple(ndim, dims, NULL);
    hid_t dcpl = checksummed_dcpl(ndim, dims, H5Tget_size(file_type));
    hid_t d = space < 0 || dcpl < 0 ? -1 : H5Dcreate2(loc, name, file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    /* an empty dataset (a tokenizer without merges) has nothing to write, and H5Dwrite refuses NULL */
    int failed = d < 0 || (numel > 0 && H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0);
    int rc = failed ? WRITE_FAILED(kind, path, "dataset", name) : TB_OK;
    if (d >= 0) H5Dclose(d);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    return rc;
}
