#!/usr/bin/env bash
# runtime_run.sh: the four runtime benchmarks one after the other on this machine's 2 cores, then
# their tables and one summary table (markdown). Builds nothing: build the targets first
#   cmake --build <build dir> --target trustbench bench_runtime_allreduce bench_runtime_dp_scaling \
#     bench_runtime_results_io
#   1. bench_runtime_allreduce   MPI_Allreduce bandwidth; the share of the gradient reduction hidden
#                                behind backward in real training steps, per bucket size; MPI_Test
#                                calls a bucket needs to complete
#   2. bench_runtime_dp_scaling  step time at a fixed global batch: 1 rank x 1 thread, 1 rank x 2
#                                threads, 2 ranks x 1 thread; data-parallel efficiency
#   3. bench_runtime_results_io  10,000 points' metrics through tb_results_write, 2 ranks and alone
#   4. runtime_sweep.sh          points per hour of bench/quick.yaml, 2 groups x 1 rank against 1 x 2
# Runs never overlap (on 2 cores a concurrent run measures the contention). Every run records the
# share of the machine other processes took meanwhile ("other load", 0 = the machine was ours).
# Logs stay in the printed directory. About 5 minutes on a quiet 2-core machine (280 s measured).
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/perf/runtime_run.sh [--build DIR] [--dp-reps N] [--sweep-reps N] [--io-dir DIR] [--wait-idle S]
                                 [--max-load P] [--retries N]
  --build       build directory (default build-rtbench, relative to the repo)
  --dp-reps     launches of each scaling configuration (default 2)
  --sweep-reps  timed sweeps per configuration (default 2)
  --io-dir      where the results-file benchmark writes (default a temporary directory under the
                build directory, i.e. the repo's file system, not tmpfs)
  --wait-idle   before each benchmark, wait up to S seconds for the machine to be >= 90% idle
                (default 0: no wait)
  --max-load    a run during which other processes took more than P % of the machine is run again,
  --retries     up to N more times, keeping the least loaded run (defaults 10 and 1; the sweep,
                whose runs report their own load, is not repeated)
EOF
}

build="build-rtbench"
dp_reps=2
sweep_reps=2
io_dir=
wait_idle=0
max_load=10
retries=1
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --dp-reps) dp_reps=$2; shift 2 ;;
    --sweep-reps) sweep_reps=$2; shift 2 ;;
    --io-dir) io_dir=$2; shift 2 ;;
    --wait-idle) wait_idle=$2; shift 2 ;;
    --max-load) max_load=$2; shift 2 ;;
    --retries) retries=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "error: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/../.." && pwd)
case "$build" in /*) ;; *) build="$root/$build" ;; esac
bin="$build/bench/perf"
for t in bench_runtime_allreduce bench_runtime_dp_scaling bench_runtime_results_io; do
  [ -x "$bin/$t" ] || { echo "error: $bin/$t not found; build it: cmake --build $build --target $t" >&2; exit 1; }
done

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
logs=$(mktemp -d "${TMPDIR:-/tmp}/tb-rtperf.XXXXXX")
[ -n "$io_dir" ] || io_dir=$(mktemp -d "$build/rtbench-io.XXXXXX")
mkdir -p "$io_dir"
hz=$(getconf CLK_TCK)
ncpu=$(getconf _NPROCESSORS_ONLN) # not nproc: it obeys OMP_NUM_THREADS
start_all=$SECONDS

busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

# run_once LOG CMD...: runs CMD with its output in LOG, then appends "run other_load_pct=.. wall_s=..":
# the machine's busy CPU time minus the run's own (from /usr/bin/time), over wall time x cpus.
run_once() {
  local log=$1
  shift
  local b0 b1 user sys wall
  b0=$(busy_ticks)
  /usr/bin/time -f "%U %S %e" -o "$log.time" "$@" >"$log" 2>&1 ||
    { echo "error: '$*' failed; see $log" >&2; tail -n 20 "$log" >&2; exit 1; }
  b1=$(busy_ticks)
  read -r user sys wall <"$log.time"
  awk -v b0="$b0" -v b1="$b1" -v hz="$hz" -v u="$user" -v s="$sys" -v w="$wall" -v n="$ncpu" 'BEGIN {
    other = (b1 - b0) / hz - u - s; if (other < 0) other = 0
    printf "run other_load_pct=%.0f wall_s=%.1f\n", 100 * other / (w * n), w }' >>"$log"
}

# timed LOG RETRIES CMD...: run_once; while other processes took more than max_load % of the machine
# and retries remain, waits for a quiet machine and runs again. LOG gets the least loaded attempt;
# every attempt stays in LOG.tryN.
timed() {
  local log=$1 tries=$2 attempt load best=1000
  shift 2
  for attempt in $(seq 0 "$tries"); do
    if [ "$attempt" -gt 0 ]; then
      echo "#   other load ${load}% > ${max_load}%: running $(basename "$log" .log) again"
      wait_for_idle
    fi
    run_once "$log.try$attempt" "$@"
    load=$(load_of "$log.try$attempt")
    if [ "$load" -lt "$best" ]; then best=$load; cp "$log.try$attempt" "$log"; fi
    [ "$load" -gt "$max_load" ] || break
  done
}

# the value of key=value in a line, for awk programs
GET='function get(line, key,   n, i, f, kv) {
  n = split(line, f, " ")
  for (i = 1; i <= n; i++) { split(f[i], kv, "="); if (kv[1] == key) return kv[2] }
  return ""
}
function median(a, n,   i, j, t) {
  for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
  return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}'

# shellcheck source=idle.sh
source "$(dirname "$0")/idle.sh"   # cpu_ticks, idle_percent, wait_for_idle

load_of() { sed -n 's/^run other_load_pct=\([0-9]*\).*/\1/p' "$1"; }

echo "# runtime benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'); logs in $logs"
echo "# host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $ncpu cpus," \
     "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo); kernel $(uname -r)"
echo "# commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown); $(mpirun --version | head -n 1);" \
     "gcc $(gcc -dumpfullversion 2>/dev/null || echo unknown)"
echo "# env: OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 (2 for the 1 rank x 2 threads launch);" \
     "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)} OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-(unset)}"

# ---- 1. all-reduce ------------------------------------------------------------------------------
echo "# 1/4 all-reduce bandwidth and overlap (mpirun -n 2 --bind-to core)"
wait_for_idle
timed "$logs/allreduce.log" "$retries" mpirun -n 2 --bind-to core "$bin/bench_runtime_allreduce" --reps 7 --steps 8 --warmup 2
grep '^# \(Open MPI\|CPU\|rank\|runtime\)' "$logs/allreduce.log" | sed 's/^# /#   /'

# ---- 2. data-parallel scaling -------------------------------------------------------------------
echo "# 2/4 data-parallel scaling, $dp_reps launches per configuration, in turns"
for r in $(seq 1 "$dp_reps"); do
  wait_for_idle
  timed "$logs/dp-1x1-$r.log" "$retries" mpirun -n 1 --bind-to core "$bin/bench_runtime_dp_scaling"
  OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 \
    timed "$logs/dp-1x2-$r.log" "$retries" mpirun -n 1 --bind-to none "$bin/bench_runtime_dp_scaling"
  timed "$logs/dp-2x1-$r.log" "$retries" mpirun -n 2 --bind-to core "$bin/bench_runtime_dp_scaling"
done

# ---- 3. results file ----------------------------------------------------------------------------
echo "# 3/4 results-file writes into $io_dir ($(df -PT "$io_dir" | awk 'NR == 2 {print $2}'))"
wait_for_idle
timed "$logs/io-2.log" "$retries" mpirun -n 2 --bind-to core "$bin/bench_runtime_results_io" "$io_dir" --reps 5
timed "$logs/io-1.log" "$retries" mpirun -n 1 --bind-to core "$bin/bench_runtime_results_io" "$io_dir" --reps 5
# the sweep's own round size on 2 groups: 2 rows a round, one per rank
timed "$logs/io-2small.log" "$retries" mpirun -n 2 --bind-to core "$bin/bench_runtime_results_io" "$io_dir" \
  --points 1000 --rounds 500 --reps 3
rmdir "$io_dir" 2>/dev/null || true

# ---- 4. sweep throughput ------------------------------------------------------------------------
echo "# 4/4 sweep throughput"
wait_for_idle
timed "$logs/sweep.log" 0 "$root/bench/perf/runtime_sweep.sh" --build "$build" --reps "$sweep_reps"
grep '^# ' "$logs/sweep.log" | sed 's/^# /#   /'

# ---- tables -------------------------------------------------------------------------------------
echo
echo "All-reduce, 2 ranks (other load $(load_of "$logs/allreduce.log")%); median of 7 batches of calls"
echo
echo "| bytes | MPI_Allreduce (us), median (min) | algbw (GB/s) | busbw (GB/s) | MPI_Iallreduce + MPI_Wait (us)," \
     "median (min) | its busbw (GB/s) |"
echo "|---:|---:|---:|---:|---:|---:|"
awk "$GET"'
  /^result part=bw/ { b = get($0, "bytes"); u = b >= 1048576 ? sprintf("%d MiB", b / 1048576) : sprintf("%d KiB", b / 1024)
    printf "| %s | %.1f (%.1f) | %.2f | %.2f | %.1f (%.1f) | %.2f |\n", u, get($0, "time_us"), get($0, "time_min_us"),
      get($0, "algbw_gbs"), get($0, "busbw_gbs"), get($0, "nb_time_us"), get($0, "nb_time_min_us"),
      get($0, "nb_busbw_gbs") }' \
  "$logs/allreduce.log"

echo
echo "Overlap of the gradient all-reduce with backward (gpt2 L=4 C=256 V=4096 T=128, B=8 per rank, 2 ranks);" \
     "medians over 8 steps"
echo
echo "| buckets | count | last (MiB) | step (ms) | backward (ms) | in hooks (ms) | wait (ms) | skew (ms) |" \
     "exposed (ms) | blocking (ms) | reduced by end of backward | hidden 1-wait/blocking | hidden 1-exposed/blocking |" \
     "step - step without reduction (ms) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
awk "$GET"'
  /^result part=overlap bucket=none/ {
    printf "| none (reference) | 0 | - | %.0f | %.0f | - | - | %.1f | - | %.1f | - | - | - | - |\n",
      get($0, "step_ms"), get($0, "bwd_ms"), get($0, "skew_ms"), get($0, "blocking_ms") }
  /^result part=overlap/ && !/bucket=none/ {
    printf "| %s | %d | %.2f | %.0f | %.0f | %.1f | %.1f | %.1f | %.1f | %.1f | %.0f%% | %.2f | %.2f | %.0f |\n",
      get($0, "bucket"), get($0, "n_buckets"), get($0, "last_bucket_mib"), get($0, "step_ms"), get($0, "bwd_ms"),
      get($0, "hooks_ms") + get($0, "final_hook_ms"), get($0, "wait_ms"), get($0, "skew_ms"), get($0, "exposed_ms"),
      get($0, "blocking_ms"), 100 * get($0, "done_at_bwd_end"), get($0, "hidden_wait"), get($0, "hidden"),
      get($0, "paid_ms") }' "$logs/allreduce.log"

echo
echo "MPI_Test calls an MPI_Iallreduce needs to complete (a test after every 2 ms of busy work; median of 7)"
echo
echo "| bytes | MPI_Test calls (min-max) | time (ms) |"
echo "|---:|---:|---:|"
awk "$GET"'/^result part=probe/ { printf "| %.2f MiB | %d (%d-%d) | %.1f |\n", get($0, "bytes") / 1048576,
  get($0, "tests"), get($0, "tests_min"), get($0, "tests_max"), get($0, "time_ms") }' "$logs/allreduce.log"

echo
echo "Data-parallel scaling, gpt2 S1 (L=4 C=256 NH=4 V=4096 T=128), global batch 16; median over 8 steps per" \
     "launch, median over $dp_reps launches"
echo
echo "| ranks x threads | step (ms), per launch | step (ms) | tokens/s | last loss | other load (%) |"
echo "|---|---|---:|---:|---:|---|"
for c in 1x1 1x2 2x1; do
  for f in "$logs"/dp-"$c"-*.log; do grep '^result part=dp' "$f" | tr '\n' ' '; echo "load=$(load_of "$f")"; done |
    awk -v c="$c" "$GET"'{ s[NR] = get($0, "step_ms"); per = per (NR > 1 ? ", " : "") s[NR]
      ld = ld (NR > 1 ? ", " : "") get($0, "load"); t[NR] = get($0, "tok_s"); loss = get($0, "loss_last") }
      END { printf "| %s | %s | %.1f | %.0f | %s | %s |\n", c, per, median(s, NR), median(t, NR), loss, ld }'
done | tee "$logs/dp-table.txt"
awk -F'|' '{ gsub(/ /, "", $2); t[$2] = $4 }
  END { printf "\nefficiency of 2 ranks: T(1x1) / (2 T(2x1)) = %.2f; of 2 threads: T(1x1) / (2 T(1x2)) = %.2f;" \
               " 2 ranks vs 2 threads: T(1x2) / T(2x1) = %.2f\n", t["1x1"] / (2 * t["2x1"]),
               t["1x1"] / (2 * t["1x2"]), t["1x2"] / t["2x1"] }' "$logs/dp-table.txt"

echo
echo "Results file: 10,000 points (8 metrics, a 100-step curve, point columns: 836 bytes each) in 100 rounds" \
     "of 100 points, medians over 5 files per mode; and 1,000 points in 500 rounds of 2 (the sweep's round on" \
     "2 groups), over 3 files (other load $(load_of "$logs/io-2.log")% / $(load_of "$logs/io-1.log")% /" \
     "$(load_of "$logs/io-2small.log")%)"
echo
echo "| mode | ranks | points / rows per round | per round (ms) | slowest round (ms) | all rounds (s) | MB/s |" \
     "create (ms) | close (ms) | fsync after close (ms) | HDF5 I/O mode |"
echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"
awk "$GET"'/^result part=io/ { m = get($0, "io_mode")
  printf "| %s | %d | %d / %d | %.2f | %.1f | %.3f | %.1f | %.1f | %.1f | %.1f | %s |\n", get($0, "mode"),
    get($0, "ranks"), get($0, "points"), get($0, "rows_per_round"), get($0, "round_ms"), get($0, "round_max_ms"),
    get($0, "write_s"), get($0, "mb_s"), get($0, "create_ms"), get($0, "close_ms"), get($0, "fsync_ms"),
    m == 4 ? "contiguous collective" : m == -1 ? "serial (sec2)" : m }' \
  "$logs/io-2.log" "$logs/io-1.log" "$logs/io-2small.log"

echo
echo "Sweep throughput, $(sed -n 's/^# sweep throughput: \([^ ]*\).*/\1/p' "$logs/sweep.log" | xargs -r basename)" \
     "on 2 ranks, warm stage cache; median over $sweep_reps runs per configuration"
echo
echo "| configuration | points | wall (s) per run | rounds only (s) | points/hour (wall) | points/hour (rounds) | other load (%) |"
echo "|---|---:|---:|---:|---:|---:|---:|"
awk "$GET"'/^result part=sweep_median/ {
  printf "| %d group(s) x %d rank(s) | %d | %.1f | %.0f | %.0f | %.0f | %.0f |\n", get($0, "groups"),
    get($0, "ranks_per_point"), get($0, "points"), get($0, "wall_s"), get($0, "sweep_s"), get($0, "points_per_hour"),
    get($0, "points_per_hour_rounds"), get($0, "other_load_pct") }' "$logs/sweep.log"

# ---- summary ------------------------------------------------------------------------------------
echo
echo "Summary"
echo
echo "| benchmark | figure | value |"
echo "|---|---|---|"
awk "$GET"'
  /^result part=bw/ { if (!small) small = $0; big = $0 }
  /^result part=overlap bucket=4MiB/ { ov = $0 }
  END {
    printf "| all-reduce, 2 ranks | latency at %d KiB; bus bandwidth at %d MiB | %.1f us; %.2f GB/s |\n",
      get(small, "bytes") / 1024, get(big, "bytes") / 1048576, get(small, "time_us"), get(big, "busbw_gbs")
    printf "| overlap, 4 MiB buckets (the sweep'"'"'s) | hidden = 1 - exposed/blocking (1 - wait/blocking) |" \
           " %.2f (%.2f); %.0f%% of the bytes reduced by the end of backward |\n",
      get(ov, "hidden"), get(ov, "hidden_wait"), 100 * get(ov, "done_at_bwd_end")
  }' "$logs/allreduce.log"
awk -F'|' '{ gsub(/ /, "", $2); t[$2] = $4 }
  END { printf "| data-parallel scaling, global batch 16 | efficiency T(1x1)/(2 T(2x1)); threads T(1x1)/(2 T(1x2)) |" \
               " %.2f; %.2f (step %.0f / %.0f / %.0f ms at 1x1 / 2x1 / 1x2) |\n", t["1x1"] / (2 * t["2x1"]),
               t["1x1"] / (2 * t["1x2"]), t["1x1"], t["2x1"], t["1x2"] }' "$logs/dp-table.txt"
awk "$GET"'/^result part=io/ { v[get($0, "mode") get($0, "rows_per_round")] = $0 }
  END { printf "| results file, 10,000 points in 100 rounds | per round: 2 ranks interleaved / halves / rank 0 alone;" \
               " 1 rank; plain HDF5 + fsync | %.2f / %.2f / %.2f; %.2f; %.2f ms |\n", get(v["split100"], "round_ms"),
               get(v["halves100"], "round_ms"), get(v["rank0100"], "round_ms"), get(v["one-rank100"], "round_ms"),
               get(v["serial+fsync100"], "round_ms")
        printf "| results file, rounds of 2 rows (2 groups) | per round: 1 row per rank / rank 0 both | %.2f / %.2f ms |\n",
               get(v["split2"], "round_ms"), get(v["rank02"], "round_ms") }' \
  "$logs/io-2.log" "$logs/io-1.log" "$logs/io-2small.log"
awk "$GET"'/^result part=sweep_median/ { p[get($0, "ranks_per_point")] = get($0, "points_per_hour") }
  END { printf "| sweep throughput | points/hour, 2 groups x 1 rank vs 1 group x 2 ranks | %d vs %d |\n", p[1], p[2] }' \
  "$logs/sweep.log"
echo
echo "total time $((SECONDS - start_all)) s"
