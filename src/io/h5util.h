/* h5util.h: file and HDF5 error handling shared by the checkpoint and results writers (internal to
 * src/io).
 * HDF5 prints its whole error stack to stderr by default; trustbench reports one TB_ERROR instead,
 * quoting the innermost HDF5 message. */
#ifndef TB_IO_H5UTIL_H
#define TB_IO_H5UTIL_H

#include <hdf5.h>

typedef struct {
    H5E_auto2_t func;
    void *data;
} tb_h5_quiet;

void tb_h5_quiet_begin(tb_h5_quiet *q); /* switch HDF5's own printing off, remembering the handler */
void tb_h5_quiet_end(const tb_h5_quiet *q);

#define TB_H5_DETAIL_MAX 256
/* The innermost message of HDF5's error stack, where the failure was detected ("truncated file:
 * eof = ..."), into buf. Call it right after the failing call: the next API call clears the stack. */
const char *tb_h5_detail(char *buf);
#define TB_H5_DETAIL() tb_h5_detail((char[TB_H5_DETAIL_MAX]){0})

/* Looks at a path before HDF5 does, so that a missing file, a directory, an unreadable file or one of
 * another format gets one plain TB_ERROR instead of HDF5's stack. what names the kind of file
 * ("checkpoint", "results file"), hint_path how to fix the path, hint_foreign what the file should be. */
int tb_h5_check_file(const char *path, const char *what, const char *hint_path, const char *hint_foreign);

/* The file-access property list of checkpoints and QA files (sec2 driver, best-effort locking, the
 * 1.10 format with metadata checksums when writing); -1 on failure. */
hid_t tb_h5_fapl(int for_writing);

/* Writers shared by the serial files (checkpoints, QA sets); kind names the file in errors
 * ("checkpoint", "QA file"). Strings are fixed-length, NUL-terminated UTF-8: variable-length ones
 * would live in the global heap, which has no checksum in any format version. Datasets are chunked in
 * slabs of whole rows with a Fletcher-32 checksum per chunk, so a flipped bit fails the load. */
hid_t tb_h5_string_type(size_t width);
int tb_h5_attr_write(hid_t loc, const char *kind, const char *path, const char *name, hid_t file_type,
                     hid_t mem_type, const void *value);
int tb_h5_attr_write_string(hid_t loc, const char *kind, const char *path, const char *name, const char *s);
int tb_h5_dataset_write(hid_t loc, const char *kind, const char *path, const char *name, hid_t file_type,
                        hid_t mem_type, int ndim, const hsize_t *dims, const void *buf);

/* fsync a finished file before it is renamed into place: rename() is atomic, but without the sync the
 * new name can reach the disk before the data does. hint goes into the error. */
int tb_io_sync_file(const char *path, const char *hint);

#endif
