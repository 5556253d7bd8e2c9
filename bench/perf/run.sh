#!/usr/bin/env bash
# run.sh: the training-step benchmark, ours against PyTorch, one shape after the other at the same
# thread count, and one markdown table of the medians. Builds nothing: build bench_train_step first
#   cmake --build <build dir> --target bench_train_step
# The two programs run one after the other, never together: on a 2-core machine a concurrent run
# would measure the contention, not the code. Per-run logs stay in the printed log directory.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/perf/run.sh [--threads N] [--build DIR] [--shapes "S1 S2"]
                         [--s1-steps N] [--s2-steps N] [--warmup N] [--python PATH]
  --threads   threads for both sides: OpenBLAS, OpenMP and torch.set_num_threads (default 2)
  --build     build directory holding bench/perf/bench_train_step (default build, relative to the repo)
  --shapes    which shapes to run (default "S1 S2")
  --s1-steps  timed steps at S1 (default 10); --s2-steps at S2 (default 5); --warmup per run (default 2)
  --python    interpreter with torch (default /usr/bin/python3)
The environment (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE, ...) is left as it is and recorded.
EOF
}

threads=2
build=build
shapes="S1 S2"
s1_steps=10
s2_steps=5
warmup=2
python=/usr/bin/python3
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --shapes) shapes=$2; shift 2 ;;
    --s1-steps) s1_steps=$2; shift 2 ;;
    --s2-steps) s2_steps=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --python) python=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "error: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/../.." && pwd)
case "$build" in /*) ;; *) build="$root/$build" ;; esac
bin="$build/bench/perf/bench_train_step"
if [ ! -x "$bin" ]; then
  echo "error: $bin not found. Build it first: cmake --build $build --target bench_train_step" >&2
  exit 1
fi
if ! "$python" -c 'import torch' 2>/dev/null; then
  echo "error: $python cannot import torch; pass --python with an interpreter that has it" >&2
  exit 1
fi

logs=$(mktemp -d "${TMPDIR:-/tmp}/tb-perf.XXXXXX")
load1() { cut -d' ' -f1 /proc/loadavg; }

echo "# training-step benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), threads=$threads, logs in $logs"
echo "# host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cpus," \
     "$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
echo "# commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)," \
     "torch $("$python" -c 'import torch; print(torch.__version__)' 2>/dev/null)"
echo "# env: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-(unset)};" \
     "both sides run with OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads"

for shape in $shapes; do
  steps=$s1_steps
  [ "$shape" = S2 ] && steps=$s2_steps
  for impl in ours torch; do
    log="$logs/$impl-$shape.log"
    echo "# $impl $shape: $warmup warmup + $steps timed steps, 1-min load before: $(load1)"
    if [ "$impl" = ours ]; then
      OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads \
        "$bin" --shape "$shape" --steps "$steps" --warmup "$warmup" --threads "$threads" >"$log"
    else
      OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads \
        "$python" "$root/bench/perf/torch_step.py" --shape "$shape" --steps "$steps" --warmup "$warmup" \
        --threads "$threads" >"$log"
    fi
    grep -E '^# (OpenBLAS|torch|step|loss)' "$log" | sed "s/^# /#   /" || true
  done
done

# One row per shape from the two "result" lines; torch's % of sgemm uses the sgemm peak that
# bench_train_step measured in the same run at the same thread count.
echo
echo "| shape | ours ms/step (fwd/bwd/opt) | torch ms/step (fwd/bwd/opt) | tok/s ours | tok/s torch |" \
     "GFLOP/s ours | GFLOP/s torch | sgemm peak GFLOP/s | % sgemm ours | % sgemm torch | speed ours/torch |" \
     "peak RSS MiB ours | peak RSS MiB torch |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
status=0
for shape in $shapes; do
  cat "$logs/ours-$shape.log" "$logs/torch-$shape.log" | awk -v shape="$shape" '
    function get(line, key,   n, i, f, kv) {
      n = split(line, f, " ")
      for (i = 1; i <= n; i++) { split(f[i], kv, "="); if (kv[1] == key) return kv[2] }
      return ""
    }
    /^result impl=ours/  { o = $0 }
    /^result impl=torch/ { t = $0 }
    END {
      if (o == "" || t == "") { printf "| %s | missing result (see logs) |\n", shape; exit 1 }
      peak = get(o, "sgemm_peak")
      printf "| %s | %.0f (%.0f/%.0f/%.0f) | %.0f (%.0f/%.0f/%.0f) | %.0f | %.0f | %.1f | %.1f | %.1f | %.0f%% | %.0f%% | %.2fx | %s | %s |\n",
        shape, get(o, "step_ms"), get(o, "fwd_ms"), get(o, "bwd_ms"), get(o, "opt_ms"),
        get(t, "step_ms"), get(t, "fwd_ms"), get(t, "bwd_ms"), get(t, "opt_ms"),
        get(o, "tok_s"), get(t, "tok_s"), get(o, "gflops"), get(t, "gflops"), peak,
        100 * get(o, "gflops") / peak, 100 * get(t, "gflops") / peak,
        get(o, "tok_s") / get(t, "tok_s"), get(o, "peak_rss_mib"), get(t, "peak_rss_mib")
    }' || status=1
done
echo
echo "ms/step is the median over the timed steps; opt = zero_grad + clip + AdamW; 1-min load averages above" \
     "flag runs that shared the machine."
exit $status
