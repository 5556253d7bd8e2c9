// A stand-in for `trustbench run` in the Slurm tests: an MPI program with the same command line, the same
// stop protocol (SIGUSR1/SIGTERM set a flag, ranks agree with an all-reduce at the next step, progress is
// saved atomically, exit status 75 asks the batch script to requeue) and a result that only comes out right
// if every step ran exactly once, so a lost or repeated step after a requeue shows up as a wrong file.
//
//   standin run SPEC -o OUT [--slice I/N]   SPEC holds "steps S" and "step_ms M" (one pair per line)
//   standin merge -o OUT SLICE...           combine slice results into the file a full run writes
//
// The result file has one line per step, "step k <hex>", where <hex> is the wrapping 64-bit sum of a hash
// over a fixed set of terms shared out across the ranks: exact integer arithmetic, so the file is identical
// for any rank count and any sequence of interruptions. Build: mpicc -std=c11 -O2 -o standin standin.c
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <mpi.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

// The status that tells slurm/run.sbatch to requeue the job (TB_EXIT_REQUEUE in src/sys/sys.h).
#define EXIT_REQUEUE 75
#define MAX_STEPS 100000
// Terms summed per step: enough that every rank has a share, small enough to cost nothing.
#define TERMS_PER_STEP 4096

typedef struct {
    int steps;   // steps in the whole run (before slicing)
    int step_ms; // simulated work per step, so a run lasts long enough to be interrupted
} Spec;

typedef struct {
    int index, count; // this process computes the steps k with k % count == index
} Slice;

static volatile sig_atomic_t stop_requested = 0;

static void on_stop_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static int install_stop_handlers(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0) {
        perror("standin: sigaction");
        return 1;
    }
    return 0;
}

// ---- input ---------------------------------------------------------------------------------------------

static int read_spec(Spec *spec, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "standin: cannot open spec %s: %s\n", path, strerror(errno));
        return 1;
    }
    spec->steps = -1;
    spec->step_ms = 0;
    char key[32];
    int value;
    while (fscanf(f, "%31s %d", key, &value) == 2) {
        if (strcmp(key, "steps") == 0) spec->steps = value;
        else if (strcmp(key, "step_ms") == 0) spec->step_ms = value;
        else {
            fprintf(stderr, "standin: %s: unknown key '%s' (expected steps, step_ms)\n", path, key);
            fclose(f);
            return 1;
        }
    }
    fclose(f);
    if (spec->steps < 1 || spec->steps > MAX_STEPS || spec->step_ms < 0) {
        fprintf(stderr, "standin: %s: need 'steps' in 1..%d and 'step_ms' >= 0\n", path, MAX_STEPS);
        return 1;
    }
    return 0;
}

static int parse_slice(Slice *slice, const char *text) {
    char tail;
    if (sscanf(text, "%d/%d%c", &slice->index, &slice->count, &tail) != 2 || slice->count < 1 ||
        slice->index < 0 || slice->index >= slice->count) {
        fprintf(stderr, "standin: --slice '%s': expected I/N with 0 <= I < N\n", text);
        return 1;
    }
    return 0;
}

// Reads "step k <hex>" lines into values[k], marking have[k]; a step seen twice is an error because a
// merge of overlapping slices would silently double-count.
static int read_result_lines(uint64_t *values, unsigned char *have, int *max_step, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "standin: cannot open %s: %s\n", path, strerror(errno));
        return 1;
    }
    int k;
    uint64_t v;
    while (fscanf(f, " step %d %" SCNx64, &k, &v) == 2) {
        if (k < 0 || k >= MAX_STEPS || have[k]) {
            fprintf(stderr, "standin: %s: step %d out of range or repeated\n", path, k);
            fclose(f);
            return 1;
        }
        values[k] = v;
        have[k] = 1;
        if (k > *max_step) *max_step = k;
    }
    int bad = !feof(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "standin: %s: malformed line (expected 'step K HEX')\n", path);
        return 1;
    }
    return 0;
}

// ---- output --------------------------------------------------------------------------------------------

// Write to PATH.tmp and rename: a signal or a kill never leaves a half-written progress or result file.
static int write_result_lines(const char *path, const uint64_t *values, const unsigned char *have, int n) {
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "standin: cannot create %s: %s\n", tmp, strerror(errno));
        return 1;
    }
    for (int k = 0; k < n; k++)
        if (have[k]) fprintf(f, "step %d %016" PRIx64 "\n", k, values[k]);
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        fprintf(stderr, "standin: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    return 0;
}

// ---- the work ------------------------------------------------------------------------------------------

static uint64_t mix64(uint64_t x) { // splitmix64's finaliser: a cheap, well-spread hash
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// This rank's share of step k: terms j = rank, rank + size, ... so the shares add up to the full sum.
static uint64_t step_share(int k, int rank, int size) {
    uint64_t sum = 0;
    for (int j = rank; j < TERMS_PER_STEP; j += size) sum += mix64((uint64_t)k * TERMS_PER_STEP + (uint64_t)j);
    return sum;
}

static void simulate_work(int ms) {
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    // A stop signal interrupts the sleep; the step still counts as done, as a real step would.
    while (nanosleep(&t, &t) != 0 && errno == EINTR && !stop_requested) {}
}

static int stop_agreed(MPI_Comm comm) {
    int mine = stop_requested, any = 0;
    MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_LOR, comm);
    return any;
}

typedef struct {
    const char *spec_path, *out_path;
    Slice slice;
} RunArgs;

static int parse_run_args(RunArgs *a, int argc, char **argv) {
    a->spec_path = NULL;
    a->out_path = NULL;
    a->slice = (Slice){0, 1};
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) a->out_path = argv[++i];
        else if (strcmp(argv[i], "--slice") == 0 && i + 1 < argc) {
            if (parse_slice(&a->slice, argv[++i])) return 1;
        } else if (argv[i][0] != '-' && !a->spec_path) a->spec_path = argv[i];
        else {
            fprintf(stderr, "standin: run: unexpected argument '%s'\n", argv[i]);
            return 1;
        }
    }
    if (!a->spec_path || !a->out_path) {
        fprintf(stderr, "usage: standin run SPEC -o OUT [--slice I/N]\n");
        return 1;
    }
    return 0;
}

// Slurm starts N tasks; a launcher that cannot talk to them (e.g. srun without PMIx) starts N singletons
// instead, each believing it is alone. Catch that before it produces N wrong result files.
static int check_world_matches_slurm(int size) {
    const char *ntasks = getenv("SLURM_NTASKS");
    if (ntasks && atoi(ntasks) != size) {
        fprintf(stderr, "standin: MPI world has %d ranks but SLURM_NTASKS=%s: the launcher did not wire up MPI "
                        "(use srun --mpi=pmix or mpirun)\n", size, ntasks);
        return 1;
    }
    return 0;
}

// Rank 0 loads OUT.progress if an earlier run stopped early; every rank learns where to resume.
static int load_progress(uint64_t *values, unsigned char *have, int *next_step, const char *progress,
                         int rank, MPI_Comm comm) {
    int status = 0;
    *next_step = 0;
    if (rank == 0 && access(progress, F_OK) == 0) {
        int max_step = -1;
        status = read_result_lines(values, have, &max_step, progress);
        *next_step = max_step + 1;
    }
    int msg[2] = {status, *next_step};
    MPI_Bcast(msg, 2, MPI_INT, 0, comm);
    *next_step = msg[1];
    return msg[0];
}

static int run(int argc, char **argv) {
    RunArgs a;
    Spec spec;
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (parse_run_args(&a, argc, argv) || read_spec(&spec, a.spec_path) || check_world_matches_slurm(size) ||
        install_stop_handlers())
        return 1;
    if (access(a.out_path, F_OK) == 0) {
        if (rank == 0) printf("standin: %s is complete; nothing to do\n", a.out_path);
        return 0;
    }
    char progress[4096];
    snprintf(progress, sizeof(progress), "%s.progress", a.out_path);
    uint64_t *values = calloc(MAX_STEPS, sizeof(uint64_t));
    unsigned char *have = calloc(MAX_STEPS, 1);
    if (!values || !have) {
        fprintf(stderr, "standin: out of memory\n");
        return 1;
    }
    int next = 0, status = load_progress(values, have, &next, progress, rank, MPI_COMM_WORLD);
    if (status == 0 && rank == 0)
        printf("standin: %d ranks, slice %d/%d of %d steps, starting at step %d, restart count %s\n", size,
               a.slice.index, a.slice.count, spec.steps, next,
               getenv("SLURM_RESTART_COUNT") ? getenv("SLURM_RESTART_COUNT") : "0");
    int stopped = 0;
    for (int k = next; status == 0 && k < spec.steps && !stopped; k++) {
        if (k % a.slice.count != a.slice.index) continue;
        simulate_work(spec.step_ms);
        uint64_t mine = step_share(k, rank, size), total = 0;
        MPI_Reduce(&mine, &total, 1, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
        values[k] = total;
        have[k] = 1;
        stopped = stop_agreed(MPI_COMM_WORLD);
        if (stopped && rank == 0) {
            status = write_result_lines(progress, values, have, k + 1);
            printf("standin: stop requested; steps up to %d saved to %s; exiting %d to be requeued\n", k, progress,
                   EXIT_REQUEUE);
        }
    }
    if (!stopped && status == 0 && rank == 0) {
        status = write_result_lines(a.out_path, values, have, spec.steps);
        if (status == 0) {
            unlink(progress);
            printf("standin: finished; wrote %s\n", a.out_path);
        }
    }
    fflush(stdout);
    free(values);
    free(have);
    // Every rank waits for rank 0's file before exiting: a launcher that kills the remaining ranks when one
    // exits non-zero must not interrupt the write.
    MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return status ? 1 : stopped ? EXIT_REQUEUE : 0;
}

// ---- merge ---------------------------------------------------------------------------------------------

static int merge(int argc, char **argv) {
    const char *out = NULL;
    int first_input = -1;
    for (int i = 0; i < argc && first_input < 0; i++) {
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) out = argv[++i];
        else first_input = i;
    }
    if (!out || first_input < 0) {
        fprintf(stderr, "usage: standin merge -o OUT SLICE...\n");
        return 1;
    }
    uint64_t *values = calloc(MAX_STEPS, sizeof(uint64_t));
    unsigned char *have = calloc(MAX_STEPS, 1);
    int max_step = -1, status = (!values || !have);
    for (int i = first_input; i < argc && status == 0; i++) status = read_result_lines(values, have, &max_step, argv[i]);
    for (int k = 0; k <= max_step && status == 0; k++) {
        if (!have[k]) {
            fprintf(stderr, "standin: merge: no slice holds step %d\n", k);
            status = 1;
        }
    }
    if (status == 0) status = write_result_lines(out, values, have, max_step + 1);
    free(values);
    free(have);
    return status;
}

int main(int argc, char **argv) {
    // Under a launcher stdout is a pipe, fully buffered by default; the job log must show each line as it
    // happens (the tests wait for the start line before signalling).
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 2 && strcmp(argv[1], "merge") == 0) return merge(argc - 2, argv + 2);
    if (argc < 2 || strcmp(argv[1], "run") != 0) {
        fprintf(stderr, "usage: standin run SPEC -o OUT [--slice I/N] | standin merge -o OUT SLICE...\n");
        return 1;
    }
    MPI_Init(&argc, &argv);
    int status = run(argc - 2, argv + 2);
    MPI_Finalize();
    return status;
}
