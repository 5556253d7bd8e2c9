/* signals.c: SIGTERM / SIGUSR1 set a flag; the ranks of a communicator agree on it at a step. */
#include <errno.h>
#include <signal.h>
#include <string.h>

#include "sys/sys.h"

/* The first stop signal received, 0 for none. Global because a handler can reach nothing else;
 * sig_atomic_t and volatile because it is written asynchronously to the code that reads it. */
static volatile sig_atomic_t stop_signal = 0;

static void on_stop_signal(int signo) {
    /* Both signals are blocked while this runs (sa_mask), so the test and the store cannot
     * interleave with another handler: the first signal is the one remembered. */
    if (stop_signal == 0) stop_signal = signo;
}

int tb_sys_signals_install(void) {
    static const int signals[] = {SIGTERM, SIGUSR1};
    static const char *names[] = {"SIGTERM", "SIGUSR1"};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 2; i++) sigaddset(&sa.sa_mask, signals[i]);
    for (int i = 0; i < 2; i++)
        if (sigaction(signals[i], &sa, NULL) != 0)
            return TB_ERROR(TB_ERR_IO, "the run cannot checkpoint on its time limit; report this",
                            "installing the %s handler failed: %s", names[i], strerror(errno));
    return TB_OK;
}

int tb_sys_stop_signal(void) { return stop_signal; }

void tb_sys_signals_reset(void) { stop_signal = 0; }

int tb_sys_stop_agreed(MPI_Comm comm) {
    int local = stop_signal != 0, any = 0;
    MPI_Allreduce(&local, &any, 1, MPI_INT, MPI_LOR, comm);
    return any;
}
