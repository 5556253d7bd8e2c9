/* topology.c: what hwloc says about this machine and about where the calling process may run. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <hwloc.h>

#include "sys/sys.h"

/* Objects of a type whose cpuset shares at least one PU with set. */
static int objs_touching(hwloc_topology_t topo, hwloc_obj_type_t type, hwloc_const_cpuset_t set) {
    int n = 0;
    for (hwloc_obj_t o = hwloc_get_next_obj_by_type(topo, type, NULL); o; o = hwloc_get_next_obj_by_type(topo, type, o))
        if (hwloc_bitmap_intersects(o->cpuset, set)) n++;
    return n;
}

/* Some virtual machines report no core topology, and hwloc then has no Core objects: each PU is the
 * best estimate of a core there. */
static hwloc_obj_type_t core_type(hwloc_topology_t topo) {
    return hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE) > 0 ? HWLOC_OBJ_CORE : HWLOC_OBJ_PU;
}

static int describe_binding(tb_topology *t, hwloc_topology_t topo) {
    hwloc_bitmap_t bind = hwloc_bitmap_alloc();
    TB_ASSERT(bind != NULL);
    /* PROCESS: the union over all threads, so BLAS or OpenMP threads bound elsewhere still count */
    if (hwloc_get_cpubind(topo, bind, HWLOC_CPUBIND_PROCESS) != 0) {
        int err = errno;
        hwloc_bitmap_free(bind);
        return TB_ERROR(TB_ERR_IO, "run `hwloc-bind --get` to see whether hwloc can read bindings here",
                        "hwloc_get_cpubind failed on %s: %s", t->hostname, strerror(err));
    }
    /* The kernel's mask may name CPUs hwloc left out (offline, outside the job's cgroup): they are not
     * ours to use, and keeping them would make every cgroup-restricted process look unbound. */
    hwloc_const_cpuset_t all = hwloc_topology_get_topology_cpuset(topo);
    hwloc_bitmap_and(bind, bind, all);
    t->bound = !hwloc_bitmap_isequal(bind, all);
    t->cores_owned = objs_touching(topo, core_type(topo), bind);
    int len = hwloc_bitmap_list_snprintf(t->binding, sizeof t->binding, bind);
    hwloc_bitmap_free(bind);
    if (len < 0 || (size_t)len >= sizeof t->binding)
        return TB_ERROR(TB_ERR_ARG, "bind each rank to contiguous cores (mpirun --bind-to core, srun --cpu-bind=cores)",
                        "the CPU binding of this process on %s does not fit in %d characters", t->hostname,
                        TB_CPUSET_CAP - 1);
    return TB_OK;
}

int tb_topology_query(tb_topology *t) {
    memset(t, 0, sizeof *t);
    if (gethostname(t->hostname, sizeof t->hostname) != 0)
        return TB_ERROR(TB_ERR_IO, "check the machine's hostname configuration", "gethostname failed: %s",
                        strerror(errno));
    t->hostname[sizeof t->hostname - 1] = '\0'; /* POSIX leaves a truncated name unterminated */

    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0)
        return TB_ERROR(TB_ERR_IO, "check the hwloc installation (libhwloc15)", "hwloc_topology_init failed");
    if (hwloc_topology_load(topo) != 0) {
        int err = errno;
        hwloc_topology_destroy(topo);
        return TB_ERROR(TB_ERR_IO, "run `lstopo` to see what hwloc cannot read", "hwloc could not load the topology of %s: %s",
                        t->hostname, strerror(err));
    }
    t->n_packages = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
    t->n_numa = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
    t->n_cores = hwloc_get_nbobjs_by_type(topo, core_type(topo));
    t->n_pus = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
    int rc = describe_binding(t, topo);
    hwloc_topology_destroy(topo);
    TB_CHECK(rc);
    return TB_OK;
}

int tb_topology_attrs(tb_sys_attr attrs[TB_TOPOLOGY_N_ATTRS], const tb_topology *t) {
    const struct {
        const char *key;
        int value;
    } counts[] = {{"packages", t->n_packages}, {"numa_nodes", t->n_numa}, {"cores", t->n_cores},
                  {"pus", t->n_pus},           {"bound", t->bound},       {"cores_owned", t->cores_owned}};
    int n = 0;
    attrs[n].key = "hostname";
    snprintf(attrs[n++].value, sizeof attrs[0].value, "%s", t->hostname);
    attrs[n].key = "binding";
    snprintf(attrs[n++].value, sizeof attrs[0].value, "%s", t->binding);
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        attrs[n].key = counts[i].key;
        snprintf(attrs[n++].value, sizeof attrs[0].value, "%d", counts[i].value);
    }
    TB_ASSERT(n == TB_TOPOLOGY_N_ATTRS);
    return n;
}

void tb_topology_print(FILE *f, const tb_topology *t, const char *indent) {
    fprintf(f, "%shost         %s\n", indent, t->hostname);
    fprintf(f, "%spackages     %d\n", indent, t->n_packages);
    fprintf(f, "%sNUMA nodes   %d\n", indent, t->n_numa);
    fprintf(f, "%scores        %d\n", indent, t->n_cores);
    fprintf(f, "%sPUs          %d\n", indent, t->n_pus);
    fprintf(f, "%sbinding      %s (%s)\n", indent, t->binding, t->bound ? "bound" : "unbound");
    fprintf(f, "%scores owned  %d\n", indent, t->cores_owned);
}
