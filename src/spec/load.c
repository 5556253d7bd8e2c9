/* load.c: tb_spec_load and tb_spec_free: read (files, includes), validate (schema), expand
 * (points), with every error of the first two steps reported together. */
#include <string.h>

#include "spec_internal.h"

int tb_spec_load(tb_spec *s, const char *path, const tb_spec_schema *const *schemas, int n_schemas,
                 FILE *errs) {
    memset(s, 0, sizeof *s);
    s->impl = tb_malloc(sizeof *s->impl);
    spec_arena *a = &s->impl->arena;
    s->path = spec_strdup(a, path);
    spec_diags d = {.arena = a};
    spec_doc doc;
    int rc = spec_read(&doc, path, a, &d);
    if (rc == TB_OK) {
        spec_validate(s, &doc, schemas, n_schemas, &d);
        rc = spec_errors_report(&d, errs);
    }
    if (rc != TB_OK) {
        tb_spec_free(s);
        tb_error_trace(__FILE__, __LINE__, __func__);
        return rc;
    }
    s->yaml = (char *)doc.yaml;
    spec_expand(s);
    return TB_OK;
}

void tb_spec_free(tb_spec *s) {
    if (s->impl) {
        spec_arena_release(&s->impl->arena);
        tb_free(s->impl);
    }
    memset(s, 0, sizeof *s);
}
