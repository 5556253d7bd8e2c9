#!/usr/bin/env bash
# runtime_sweep.sh: sweep throughput (points per hour) of a spec (default bench/quick.yaml) on 2
# ranks, run as 2 groups x 1 rank (--ranks-per-point 1) against 1 group x 2 ranks (--ranks-per-point 2).
#
# The shared stage (base-model pretraining) is computed once first, by running one slice of the
# points into a throw-away file, and cached; every timed run then loads it from the warm cache, so
# it is not what is measured. Each timed run writes a fresh results file. Two times per run:
#   wall   the whole mpirun (start-up, loading the cached stage, creating the file, the rounds);
#   sweep  the "elapsed" of the sweep's last progress line: the rounds alone (whole seconds).
# The two configurations alternate (1,2 then 2,1, ...), so a burst of load from elsewhere hits both.
# Every run's CPU time is taken from /usr/bin/time and set against the machine's busy time, which
# gives the share of the machine other processes took ("other load"; 0 = the machine was ours).
# Prints "result part=sweep ..." lines, one per run, and one per configuration with the medians.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/perf/runtime_sweep.sh [--build DIR] [--spec PATH] [--reps N] [--bind core|none]
  --build  build directory holding trustbench (default build-rtbench, relative to the repo)
  --spec   the sweep spec (default bench/quick.yaml)
  --reps   timed runs per configuration (default 2)
  --bind   mpirun --bind-to policy (default core: one rank per core, one BLAS thread each)
EOF
}

build="build-rtbench"
spec=bench/quick.yaml
reps=2
bind=core
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --spec) spec=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --bind) bind=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "error: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/../.." && pwd)
case "$build" in /*) ;; *) build="$root/$build" ;; esac
case "$spec" in /*) ;; *) spec="$root/$spec" ;; esac
bin="$build/trustbench"
[ -x "$bin" ] || { echo "error: $bin not found; build it: cmake --build $build --target trustbench" >&2; exit 1; }
[ -f "$spec" ] || { echo "error: spec $spec not found" >&2; exit 1; }

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
work=$(mktemp -d "${TMPDIR:-/tmp}/tb-rtsweep.XXXXXX")
hz=$(getconf CLK_TCK)
ncpu=$(getconf _NPROCESSORS_ONLN) # not nproc: it obeys OMP_NUM_THREADS

busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }

# run NAME ARGS...: one mpirun of the sweep into $work/NAME.h5; leaves NAME.log and NAME.time.
run() {
  local name=$1
  shift
  /usr/bin/time -f "%U %S %e" -o "$work/$name.time" \
    mpirun -n 2 --bind-to "$bind" "$bin" run "$spec" -o "$work/$name.h5" --cache "$work/cache" "$@" \
    >"$work/$name.log" 2>&1 || { echo "error: the sweep failed, see $work/$name.log" >&2; tail -n 20 "$work/$name.log" >&2; exit 1; }
}

echo "# sweep throughput: $spec on 2 ranks (--bind-to $bind, OPENBLAS_NUM_THREADS=1), $reps runs per configuration;" \
     "logs in $work"
n_points=$("$bin" run "$spec" --dry-run 2>/dev/null | sed -n 's/.*: \([0-9]*\) points.*/\1/p' | head -n 1)
[ -n "$n_points" ] || { echo "error: cannot read the number of points from '$bin run $spec --dry-run'" >&2; exit 1; }
start=$SECONDS
run warm --slice "0/$n_points"
echo "# warm-up (shared stage computed and cached, one slice of the points): $((SECONDS - start)) s"

for r in $(seq 1 "$reps"); do
  order="1 2"
  [ $((r % 2)) -eq 0 ] && order="2 1"
  for k in $order; do
    name="k$k-$r"
    b0=$(busy_ticks)
    run "$name" --ranks-per-point "$k"
    b1=$(busy_ticks)
    last=$(grep -o 'sweep: [0-9]*/[0-9]* points finished.*elapsed [0-9]* s' "$work/$name.log" | tail -n 1)
    [ -n "$last" ] || { echo "error: no sweep progress line in $work/$name.log" >&2; exit 1; }
    read -r user sys wall <"$work/$name.time"
    echo "$last" | awk -v k="$k" -v r="$r" -v user="$user" -v sys="$sys" -v wall="$wall" -v b0="$b0" -v b1="$b1" \
      -v hz="$hz" -v n="$ncpu" '{
        split($2, pts, "/"); for (i = 1; i <= NF; i++) if ($i == "elapsed") el = $(i + 1)
        other = (b1 - b0) / hz - user - sys; if (other < 0) other = 0
        printf "result part=sweep ranks_per_point=%d groups=%d rep=%d points=%d wall_s=%.1f sweep_s=%d " \
               "points_per_hour=%.0f other_load_pct=%.0f\n", k, 2 / k, r, pts[2], wall, el, 3600 * pts[2] / wall,
               100 * other / (wall * n) }'
    rm -rf "$work/$name.h5" "$work/$name.h5.points"
  done
done | tee "$work/runs.txt"

# medians per configuration
for k in 1 2; do
  grep "ranks_per_point=$k " "$work/runs.txt" | awk -v k="$k" '
    function get(line, key,   n, i, f, kv) {
      n = split(line, f, " ")
      for (i = 1; i <= n; i++) { split(f[i], kv, "="); if (kv[1] == key) return kv[2] }
    }
    { wall[NR] = get($0, "wall_s"); sw[NR] = get($0, "sweep_s"); load[NR] = get($0, "other_load_pct"); pts = get($0, "points") }
    function median(a, n,   i, j, t) {
      for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    END {
      w = median(wall, NR); s = median(sw, NR); l = median(load, NR)
      printf "result part=sweep_median ranks_per_point=%d groups=%d points=%d runs=%d wall_s=%.1f sweep_s=%.1f " \
             "points_per_hour=%.0f points_per_hour_rounds=%.0f other_load_pct=%.0f\n", k, 2 / k, pts, NR, w, s,
             3600 * pts / w, (s > 0 ? 3600 * pts / s : 0), l }'
done
rm -rf "$work/cache" "$work/warm.h5" "$work/warm.h5.points"
