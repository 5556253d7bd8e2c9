#!/usr/bin/env bash
# The Slurm scripts on a real single-node cluster started for the test (tests/slurm/cluster.sh), running
# `trustbench run` on small sweeps (specs/): both launchers, the pre-timeout signal with checkpoint and
# requeue, a failing run not being requeued, and a job array merged afterwards. Every results file must
# equal an uninterrupted run's outside Slurm. Needs root and Slurm (scripts/setup.sh --slurm); exits 77
# (skipped) without them. Takes about three minutes, most of it the time-limit test.
# TB_SLURM_KEEP=1 keeps the scratch directory (job logs, results, cluster logs) for a post-mortem.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/tests/lib.sh"
SKIP=77

if [ "$(id -u)" -ne 0 ]; then echo "skipped: the test cluster must run as root"; exit "$SKIP"; fi
# slurmd 22.05 initialises its cgroup plugin even with proctrack/linuxproc and task/none, and cannot
# start without a cgroup file system (as in a bare chroot); real machines and CI have one.
if ! mountpoint -q /sys/fs/cgroup; then
  echo "skipped: no cgroup file system at /sys/fs/cgroup (a chroot?): slurmd cannot start"; exit "$SKIP"
fi
BIN=${TB_BIN:?set TB_BIN to the trustbench executable}
SPECS=$HERE/specs
for tool in munged slurmctld slurmd sbatch; do
  command -v "$tool" >/dev/null || { echo "skipped: $tool not found (scripts/setup.sh --slurm)"; exit "$SKIP"; }
done

# Only what this test sets may reach the jobs (sbatch exports the whole environment): no SLURM_* from an
# enclosing allocation, no TB_BIN or TB_ARGS from CTest.
while read -r name; do unset "$name"; done < <(compgen -e |
  grep -E '^(SLURM_|SBATCH_|SRUN_|TB_ARGS$|TB_BIN$|TB_LAUNCHER|TB_MAX_RESTARTS$|TB_RUN_SBATCH$|SPEC$|OUT$)')
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

W=$(mktemp -d "${TMPDIR:-/tmp}/tb-slurm-test.XXXXXX")
chmod 0755 "$W"   # munged runs as user munge and must reach its socket in the cluster directory below
CLUSTER=$W/cluster

finish() {
  if [ "$fail" -gt 0 ] && [ -d "$CLUSTER/log" ]; then
    echo "--- slurmctld.log (last 30 lines)"; tail -n 30 "$CLUSTER/log/slurmctld.log"
    echo "--- slurmd.log (last 30 lines)"; tail -n 30 "$CLUSTER/log/slurmd.log"
  fi
  [ -d "$CLUSTER" ] && "$HERE/cluster.sh" stop "$CLUSTER"
  if [ "${TB_SLURM_KEEP:-0}" = 1 ]; then echo "kept $W (job logs, results, cluster logs)"; else rm -rf "$W"; fi
}
trap finish EXIT
trap 'exit 1' INT TERM   # run finish (via EXIT) when CTest times the test out

t_total=$SECONDS

# ---- uninterrupted references outside Slurm -------------------------------------------------------------

export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 HDF5_USE_FILE_LOCKING=FALSE
reference() { # spec-file name: the uninterrupted run outside Slurm, into reference-NAME.h5
  mpirun -np 2 --oversubscribe "$BIN" run "$1" -o "$W/reference-$2.h5" --cache "$W/cache" --quiet >/dev/null &&
    ok "uninterrupted reference: $2" || { bad "reference run $2"; exit 1; }
}
reference "$SPECS/quick.yaml" quick
t0=$(date +%s.%N)
reference "$SPECS/medium.yaml" medium
t_medium=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
# The time-limit test needs a sweep that runs about a minute whatever the machine's speed, so that the
# warning signal (delivered 5 to 35 s into a 1-minute job) always lands mid-run: scale medium's steps.
slow_steps=$(awk -v t="$t_medium" 'BEGIN { printf "%d", 1500 * 60 / t }')
printf 'include: %s/medium.yaml\nname: slurm-slow\ntrain:\n  steps: %d\n' "$SPECS" "$slow_steps" > "$W/slow.yaml"
echo "medium took $t_medium s: the slow sweep runs $slow_steps steps per point"
reference "$W/slow.yaml" slow

# ---- the cluster --------------------------------------------------------------------------------------

t_start=$SECONDS
if "$HERE/cluster.sh" start "$CLUSTER" >/dev/null; then ok "cluster started in $((SECONDS - t_start)) s"
else bad "cluster start"; exit 1; fi
export SLURM_CONF=$CLUSTER/slurm.conf

# submit NAME SPEC [sbatch options...] [-- script]: run.sbatch (or the script after --) with trustbench on
# specs/SPEC.yaml; prints the job id. The results go to $W/NAME.h5 and the log to $W/NAME.log.
submit() {
  local name=$1 spec=$2 script=$ROOT/slurm/run.sbatch
  shift 2
  local opts=()
  while [ $# -gt 0 ]; do
    if [ "$1" = -- ]; then script=$2; break; fi
    opts+=("$1"); shift
  done
  [[ "$spec" == */* ]] || spec=$SPECS/$spec.yaml # a bare name is one of specs/
  env SPEC="$spec" OUT="$W/$name.h5" TB_BIN="$BIN" TB_ARGS="--cache $W/cache" \
    TB_RUN_SBATCH="$ROOT/slurm/run.sbatch" \
    sbatch --parsable --chdir="$W" --output="$W/$name.log" "${opts[@]}" "$script"
}

job_field() { # id field: the field from every record of the job (one per array task)
  scontrol show job -o "$1" 2>/dev/null | grep -o "\b$2=[^ ]*" | cut -d= -f2
}

# Waits until every record of the job is in a final state; prints the states.
wait_job() { # id timeout-seconds
  local id=$1 deadline=$((SECONDS + $2)) states
  while [ "$SECONDS" -lt "$deadline" ]; do
    states=$(job_field "$id" JobState | sort -u | tr '\n' ' ')
    if [ -n "$states" ] && ! grep -qE 'PENDING|RUNNING|CONFIGURING|COMPLETING|REQUEUE|SUSPENDED|RESIZING|SIGNALING|STAGE_OUT' <<<"$states"; then
      echo "${states% }"
      return 0
    fi
    sleep 1
  done
  echo "TIMEOUT(still ${states% })"
  return 1
}

show_log() { echo "--- $1"; cat "$1" 2>/dev/null; echo "---"; }

# check_result NAME SPEC WHAT: the job's results file equals the uninterrupted run's.
check_result() {
  if /usr/bin/python3 "$ROOT/tests/compare_results.py" "$W/reference-$2.h5" "$W/$1.h5" > "$W/cmp.log" 2>&1; then
    ok "$3: results equal the uninterrupted run"
  else bad "$3: results differ from the uninterrupted run: $(cat "$W/cmp.log")"; show_log "$W/$1.log"; fi
}
STARTED="sweep slurm-"   # rank 0's first line once the ranks are up

# ---- 1. one allocation, each launcher -----------------------------------------------------------------

for launcher in mpirun srun; do
  t=$SECONDS
  id=$(TB_LAUNCHER=$launcher submit "$launcher" quick --ntasks=2)
  state=$(wait_job "$id" 90)
  if [ "$state" = COMPLETED ] && [ "$(job_field "$id" ExitCode)" = 0:0 ] &&
     grep -q "4 points, 2 groups of 1 ranks" "$W/$launcher.log"; then
    ok "run.sbatch with $launcher: 2 ranks, COMPLETED in $((SECONDS - t)) s"
  else
    bad "run.sbatch with $launcher: state $state"; show_log "$W/$launcher.log"
  fi
  check_result "$launcher" quick "$launcher"
done

# ---- 2. a failing program is reported, not requeued ---------------------------------------------------

id=$(submit broken missing --ntasks=1)
state=$(wait_job "$id" 60)
if [ "$state" = FAILED ] && [ "$(job_field "$id" Restarts)" = 0 ] &&
   grep -q "finished with status 1" "$W/broken.log"; then
  ok "a program failing with status 1 fails the job without a requeue"
else
  bad "failing program: state $state, restarts $(job_field "$id" Restarts)"; show_log "$W/broken.log"
fi

# ---- 3. srun: USR1 to the batch shell is forwarded, the ranks checkpoint, the job requeues ------------

t=$SECONDS
id=$(TB_LAUNCHER=srun submit signalled "$W/slow.yaml" --ntasks=2)   # long enough to be mid-run for sure
for _ in $(seq 120); do grep -q "point [0-9] step" "$W/signalled.log" 2>/dev/null && break; sleep 0.5; done
# What --signal=B:USR1@N does at the warning time, sent now.
scancel --batch --signal=USR1 "$id"
state=$(wait_job "$id" 300)
if [ "$state" = COMPLETED ] && [ "$(job_field "$id" Restarts)" = 1 ] &&
   grep -q "restart 1\]" "$W/signalled.log" && grep -q "stop signal: points in flight are checkpointed" "$W/signalled.log"; then
  ok "srun: USR1 forwarded, checkpoint, requeue, resumed mid-run with SLURM_RESTART_COUNT=1 ($((SECONDS - t)) s)"
else
  bad "srun signal and requeue: state $state, restarts $(job_field "$id" Restarts)"; show_log "$W/signalled.log"
fi
check_result signalled slow "srun after a requeue"

# ---- 4. mpirun: the time limit's warning signal arrives mid-run, the job requeues and finishes --------

t=$SECONDS
id=$(submit timelimit "$W/slow.yaml" --ntasks=2 --time=1 --signal=B:USR1@55)
state=$(wait_job "$id" 480)
restarts=$(job_field "$id" Restarts)
if [ "$state" = COMPLETED ] && [ "${restarts:-0}" -ge 1 ] && grep -q "restart 1\]" "$W/timelimit.log" &&
   grep -q "received SIGUSR1" "$W/timelimit.log" && grep -q "points in flight are checkpointed" "$W/timelimit.log"; then
  ok "time limit: USR1 mid-run, $restarts requeue(s), resumed, COMPLETED in $((SECONDS - t)) s"
else
  bad "time limit and requeue: state $state, restarts $restarts"; show_log "$W/timelimit.log"
fi
check_result timelimit slow "mpirun after the time-limit requeue"

# ---- 5. a job array of two slices, merged by a dependent job ------------------------------------------

t=$SECONDS
id=$(submit array quick --ntasks=1 --array=0-1 --output="$W/array-%a.log" -- "$ROOT/slurm/array.sbatch")
merge_id=$(sbatch --parsable --chdir="$W" --output="$W/merge.log" --dependency=afterok:"$id" \
  --wrap "$BIN merge $W/array.h5 $W/array.slice-0.h5 $W/array.slice-1.h5")
states=$(wait_job "$id" 60)
mstate=$(wait_job "$merge_id" 60)
if [ "$states" = COMPLETED ] && [ -s "$W/array.slice-0.h5" ] && [ -s "$W/array.slice-1.h5" ]; then
  ok "array.sbatch: 2 tasks COMPLETED, each wrote its own slice"
else
  bad "array.sbatch: states $states"; show_log "$W/array-0.log"; show_log "$W/array-1.log"
fi
if [ "$mstate" = COMPLETED ]; then ok "merge job ran after the array ($((SECONDS - t)) s in all)"
else bad "merge job: state $mstate"; show_log "$W/merge.log"; fi
check_result array quick "array slices merged"

# A strided or shifted array would leave points out: refused.
id=$(submit gap quick --ntasks=1 --array=1-2 --output="$W/gap-%a.log" -- "$ROOT/slurm/array.sbatch")
states=$(wait_job "$id" 60)
if [ "$states" = FAILED ] && grep -q "contiguous from 0" "$W/gap-1.log"; then
  ok "array.sbatch refuses an array that does not start at 0"
else
  bad "array 1-2: states $states"; show_log "$W/gap-1.log"
fi

echo "$pass passed, $fail failed ($((SECONDS - t_total)) s)"
[ "$fail" -eq 0 ]
