/* registry.c: the workloads `trustbench run` knows, by the name a spec's `workload:` gives. */
#include <string.h>

#include "workloads.h"

extern const tb_workload tb_workload_lm;
extern const tb_workload tb_workload_unlearn;
extern const tb_workload tb_workload_posttrain;
extern const tb_workload tb_workload_poison;

static const tb_workload *const all[] = {&tb_workload_lm, &tb_workload_unlearn, &tb_workload_posttrain, &tb_workload_poison};
#define N_WORKLOADS (int)(sizeof all / sizeof all[0])

const tb_workload *tb_workload_find(const char *name) {
    for (int i = 0; i < N_WORKLOADS; i++)
        if (strcmp(all[i]->name, name) == 0) return all[i];
    return NULL;
}

const tb_spec_schema *const *tb_workload_schemas(int *n) {
    static const tb_spec_schema *schemas[N_WORKLOADS];
    for (int i = 0; i < N_WORKLOADS; i++) schemas[i] = all[i]->schema;
    *n = N_WORKLOADS;
    return schemas;
}
