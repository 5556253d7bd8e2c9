/* tmpdir.h: a temporary directory for the unit tests that write files (header-only: each unit test is
 * one executable). Pass make_tmpdir / remove_tmpdir to cmocka_run_group_tests. */
#ifndef TB_TEST_TMPDIR_H
#define TB_TEST_TMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_CAP 1024

static char tmpdir[256];

/* tmpdir/name into buf (PATH_CAP bytes) */
static const char *tmp_path(char *buf, const char *name) {
    snprintf(buf, PATH_CAP, "%s/%s", tmpdir, name);
    return buf;
}

static void assert_contains(const char *text, const char *part) {
    if (!strstr(text, part)) fail_msg("\"%s\" does not contain \"%s\"", text, part);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) { return remove(path); }

/* A fresh directory under $TMPDIR (else /tmp) for the group's tests. */
static int make_tmpdir(void **state) {
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/tb_unit_XXXXXX", base && base[0] ? base : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state) { return nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

#endif
