#!/usr/bin/env bash
# run.sh: the training-step benchmark, ours against PyTorch, one shape after the other at the same
# thread count, and one markdown table of the medians. Builds nothing: build bench_train_step first
#   cmake --build <build dir> --target bench_train_step
# The two programs run one after the other, never together: on a 2-core machine a concurrent run
# would measure the contention, not the code. For the same reason every run reports how much CPU
# other processes took while it ran ("other load"); --wait-idle waits for a quiet machine first.
# Both sides get the same libgomp wait policy: bench_train_step, like `trustbench`, switches itself
# to OMP_WAIT_POLICY=passive when the variable is unset, and torch, which runs its own OpenMP regions
# next to OpenBLAS's pthreads, suffers the same default spinning (S1 ran 2x slower with it); so an
# unset policy is given to both as passive. --torch-policy default runs torch as shipped instead
# (OMP_WAIT_POLICY unset, only the thread counts set: the protocol of the engine issue's targets).
# Per-run logs stay in the printed log directory; --from-logs prints their table again.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/perf/run.sh [--threads N] [--build DIR] [--shapes "S1 S2"] [--s1-steps N] [--s2-steps N]
                         [--warmup N] [--wait-idle SECONDS] [--python PATH] [--torch-policy P]
                         [--from-logs DIR]
  --threads    threads for both sides: OpenBLAS, OpenMP and torch.set_num_threads (default 2)
  --build      build directory holding bench/perf/bench_train_step (default build, relative to the repo)
  --shapes     which shapes to run (default "S1 S2")
  --s1-steps   timed steps at S1 (default 10); --s2-steps at S2 (default 5); --warmup per run (default 2)
  --wait-idle  before each run, wait up to SECONDS for the machine to be >= 90% idle (default 0: no wait)
  --python     interpreter with torch (default /usr/bin/python3)
  --torch-policy  libgomp wait policy of the torch side: same (default: ours), default (unset: torch as
               shipped, its OpenMP threads spinning next to OpenBLAS's), passive or active
  --from-logs  run nothing: print the table again from an earlier run's log directory
The environment (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE, ...) is left as it is and recorded; an unset
OMP_WAIT_POLICY is given to both sides as passive, the policy bench_train_step picks for itself.
EOF
}

threads=2
build=build
shapes="S1 S2"
s1_steps=10
s2_steps=5
warmup=2
wait_idle=0
python=/usr/bin/python3
from_logs=
torch_policy=same
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --shapes) shapes=$2; shift 2 ;;
    --s1-steps) s1_steps=$2; shift 2 ;;
    --s2-steps) s2_steps=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --wait-idle) wait_idle=$2; shift 2 ;;
    --python) python=$2; shift 2 ;;
    --torch-policy) torch_policy=$2; shift 2 ;;
    --from-logs) from_logs=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "error: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

wait_policy=${OMP_WAIT_POLICY:-passive}
case "$torch_policy" in
  same) torch_env=(OMP_WAIT_POLICY="$wait_policy"); torch_desc=$wait_policy ;;
  default) torch_env=(-u OMP_WAIT_POLICY); torch_desc="unset (torch as shipped)" ;;
  passive|active) torch_env=(OMP_WAIT_POLICY="$torch_policy"); torch_desc=$torch_policy ;;
  *) echo "error: --torch-policy must be same, default, passive or active, not '$torch_policy'" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/../.." && pwd)
case "$build" in /*) ;; *) build="$root/$build" ;; esac
bin="$build/bench/perf/bench_train_step"

# shellcheck source=idle.sh
source "$(dirname "$0")/idle.sh"   # cpu_ticks, idle_percent, wait_for_idle

# Runs one side at one shape into log; appends the run's wall time and the other processes' load:
# machine busy time not spent by this run, as a share of the run's wall time x cpus.
run_one() {
  local impl=$1 shape=$2 steps=$3 log=$4 t0 i0 t1 i1 start end
  read -r t0 i0 < <(cpu_ticks)
  start=$(date +%s.%N)
  if [ "$impl" = ours ]; then
    OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads OMP_WAIT_POLICY=$wait_policy \
      "$bin" --shape "$shape" --steps "$steps" --warmup "$warmup" --threads "$threads" >"$log"
  else
    env "${torch_env[@]}" OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads \
      "$python" "$root/bench/perf/torch_step.py" --shape "$shape" --steps "$steps" --warmup "$warmup" \
      --threads "$threads" >"$log"
  fi
  end=$(date +%s.%N)
  read -r t1 i1 < <(cpu_ticks)
  awk -v busy=$(( (t1 - t0) - (i1 - i0) )) -v hz="$(getconf CLK_TCK)" -v s="$start" -v e="$end" -v n="$(nproc)" \
    '/^result/ { for (i = 1; i <= NF; i++) if ($i ~ /^cpu_s=/) own = substr($i, 7) }
     END { other = busy / hz - own; if (other < 0) other = 0
           printf "other_load_pct=%.0f wall_s=%.1f\n", 100 * other / ((e - s) * n), e - s }' "$log" >>"$log"
}

run_all() {
  if [ ! -x "$bin" ]; then
    echo "error: $bin not found. Build it first: cmake --build $build --target bench_train_step" >&2
    exit 1
  fi
  if ! "$python" -c 'import torch' 2>/dev/null; then
    echo "error: $python cannot import torch; pass --python with an interpreter that has it" >&2
    exit 1
  fi
  echo "# training-step benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), threads=$threads, logs in $logs"
  echo "# host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cpus," \
       "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "# commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)," \
       "torch $("$python" -c 'import torch; print(torch.__version__)' 2>/dev/null)"
  echo "# env: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-(unset)}" \
       "OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-(unset)} GOMP_SPINCOUNT=${GOMP_SPINCOUNT:-(unset)}; both sides run" \
       "with OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads; OMP_WAIT_POLICY ours $wait_policy," \
       "torch $torch_desc"
  local shape impl steps log
  for shape in $shapes; do
    steps=$s1_steps
    [ "$shape" = S2 ] && steps=$s2_steps
    for impl in ours torch; do
      log="$logs/$impl-$shape.log"
      wait_for_idle
      echo "# $impl $shape: $warmup warmup + $steps timed steps"
      run_one "$impl" "$shape" "$steps" "$log"
      grep -E '^# (OpenBLAS|torch|step|loss)' "$log" | sed "s/^# /#   /" || true
      echo "#   $(tail -n 1 "$log")"
    done
  done
}

# One row per shape from the two "result" lines.
print_table() {
  echo
  echo "| shape | ours ms/step (fwd/bwd/opt) | torch ms/step (fwd/bwd/opt) | tok/s ours | tok/s torch |" \
       "GFLOP/s ours | GFLOP/s torch | sgemm peak GFLOP/s | % sgemm ours | % sgemm torch | speed ours/torch |" \
       "peak RSS MiB ours | peak RSS MiB torch | other load % ours/torch |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  local shape status=0
  for shape in $shapes; do
    awk -v shape="$shape" '
      function get(line, key,   n, i, f, kv) {
        n = split(line, f, " ")
        for (i = 1; i <= n; i++) { split(f[i], kv, "="); if (kv[1] == key) return kv[2] }
        return ""
      }
      FNR == 1 { file++ }
      /^result impl=ours/  { o = $0 }
      /^result impl=torch/ { t = $0 }
      /^other_load_pct=/   { load[file] = $0 }
      END {
        if (o == "" || t == "") { printf "| %s | missing result (see logs) |\n", shape; exit 1 }
        # the sgemm peak is a property of the machine: the better of the two same-run measurements
        # (ours: cblas_sgemm on the layer shape and on 2048^3; torch: torch.mm 2048^3, same OpenBLAS)
        peak = get(o, "sgemm_peak") + 0
        if (get(t, "torch_mm_2048") + 0 > peak) peak = get(t, "torch_mm_2048") + 0
        printf "| %s | %.0f (%.0f/%.0f/%.0f) | %.0f (%.0f/%.0f/%.0f) | %.0f | %.0f | %.1f | %.1f | %.1f |",
          shape, get(o, "step_ms"), get(o, "fwd_ms"), get(o, "bwd_ms"), get(o, "opt_ms"),
          get(t, "step_ms"), get(t, "fwd_ms"), get(t, "bwd_ms"), get(t, "opt_ms"),
          get(o, "tok_s"), get(t, "tok_s"), get(o, "gflops"), get(t, "gflops"), peak
        printf " %.0f%% | %.0f%% | %.2fx | %s | %s | %s/%s |\n",
          100 * get(o, "gflops") / peak, 100 * get(t, "gflops") / peak, get(o, "tok_s") / get(t, "tok_s"),
          get(o, "peak_rss_mib"), get(t, "peak_rss_mib"),
          get(load[1], "other_load_pct"), get(load[2], "other_load_pct")
      }' "$logs/ours-$shape.log" "$logs/torch-$shape.log" || status=1
  done
  echo
  echo "ms/step: median over the timed steps; opt = zero_grad + clip + AdamW. other load: CPU share other" \
       "processes took during the run (0 = the machine was ours alone)."
  return $status
}

if [ -n "$from_logs" ]; then
  logs=$from_logs
else
  logs=$(mktemp -d "${TMPDIR:-/tmp}/tb-perf.XXXXXX")
  run_all
fi
print_table
