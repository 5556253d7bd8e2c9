/* openmp_env.c: choosing libgomp's wait policy, which can only be set before the library loads. */
#include <stdlib.h>
#include <unistd.h>

#include "sys.h"

/* libgomp's default has idle threads spin for a while after every parallel region. Between two
 * regions OpenBLAS's own pthreads run the matmuls on the same cores, and the spinning threads steal
 * their time: a training step at S1 on 2 cores took 777 ms with spinning and 441 ms with passive
 * waiting. The policy is read once, when libgomp is loaded, so unless the user chose one, set it and
 * execute this program again (same PID, same arguments), once, before any thread exists. */
void tb_sys_prefer_passive_openmp(char **argv) {
    if (getenv("OMP_WAIT_POLICY")) return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
    execv("/proc/self/exe", argv);
    /* only reached if exec failed: carry on with the library's default policy */
}
