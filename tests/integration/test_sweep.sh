#!/usr/bin/env bash
# The sweep runtime end to end under mpirun with 2 ranks: a results file equal to an uninterrupted
# run's after kill -9 and resume, and after a stop signal (exit 75) and resume; a point that blows up
# is isolated; spec errors name file, line and key; a changed spec is refused without --restart;
# 1 group x 2 ranks (all-reduce, ZeRO-1, ZeRO-3) agrees with 2 groups x 1 rank; slices merge into the
# whole, and a slice builds only its own shared stages; --dry-run lists the points.
set -uo pipefail
BIN=${TB_BIN:?set TB_BIN to the trustbench executable}
SPECS=$(cd "$(dirname "$0")/specs" && pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/lib.sh"
W=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$W"' EXIT
cd "$W"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
# readers of a file another process may have open must not take HDF5's lock
export HDF5_USE_FILE_LOCKING=FALSE
MPI=(mpirun -n 2 --oversubscribe --bind-to none)

compare() { /usr/bin/python3 "$ROOT/tests/compare_results.py" "$@" > cmp.log 2>&1; }

# 1. the uninterrupted reference; its shared stage is cached for every later run
"${MPI[@]}" "$BIN" run "$SPECS/sweep.yaml" -o ref.h5 --cache cache > ref.log 2>&1 && ok "uninterrupted sweep" \
  || { bad "uninterrupted sweep"; cat ref.log; }
grep -q "| 5 | done |" ref.log && ok "the final table lists every point" || bad "final table"

# 2. kill -9 in the middle, then the same command again
"${MPI[@]}" "$BIN" run "$SPECS/sweep.yaml" -o killed.h5 --cache cache > killed.log 2>&1 &
launcher=$!
if wait_for killed.log "sweep: 2/6 points finished" 120; then
  kill -9 "$launcher"; pkill -9 -f "trustbench run $SPECS/sweep.yaml -o killed.h5"; wait "$launcher" 2>/dev/null
  "${MPI[@]}" "$BIN" run "$SPECS/sweep.yaml" -o killed.h5 --cache cache > resumed.log 2>&1
  grep -q "resuming killed.h5: [2-5] of 6" resumed.log && ok "resume skips the finished points" || bad "resume: $(head -3 resumed.log)"
  compare ref.h5 killed.h5 && ok "kill -9 then resume equals the uninterrupted file" || bad "kill -9: $(cat cmp.log)"
else
  bad "the sweep to kill never finished a round"; cat killed.log
fi

# 3. a stop signal in the middle of a round: exit 75, points checkpointed, resume continues them
"${MPI[@]}" "$BIN" run "$SPECS/sweep.yaml" -o signalled.h5 --cache cache > signalled.log 2>&1 &
launcher=$!
if wait_for signalled.log "sweep: 2/6 points finished" 120 && wait_for signalled.log "point [2-5] step [0-9]*/1500" 30; then
  kill -USR1 "$launcher"; wait "$launcher"; status=$?
  [ "$status" -eq 75 ] && ok "a stop signal exits with 75" || bad "stop signal: exit $status"
  ls signalled.h5.points/point-*.h5 >/dev/null 2>&1 && ok "points in flight were checkpointed" || bad "no point checkpoints"
  "${MPI[@]}" "$BIN" run "$SPECS/sweep.yaml" -o signalled.h5 --cache cache > signalled2.log 2>&1
  compare ref.h5 signalled.h5 && ok "signal then resume equals the uninterrupted file" || bad "signal: $(cat cmp.log)"
  ls signalled.h5.points/point-*.h5 >/dev/null 2>&1 && bad "point checkpoints left behind" || ok "point checkpoints removed"
else
  bad "the sweep to signal never reached a second round"; cat signalled.log
fi

# 3a. SIGTERM (what Slurm sends at the time limit) straight to the ranks: the same stop, the same file
"${MPI[@]}" "$BIN" run "$SPECS/sweep.yaml" -o termed.h5 --cache cache > termed.log 2>&1 &
launcher=$!
if wait_for termed.log "sweep: 2/6 points finished" 120 && wait_for termed.log "point [2-5] step [0-9]*/1500" 30; then
  pkill -TERM -f "^$BIN run $SPECS/sweep.yaml -o termed.h5"; wait "$launcher"; status=$?
  [ "$status" -eq 75 ] && ok "SIGTERM to the ranks exits with 75" || bad "SIGTERM: exit $status"
  "${MPI[@]}" "$BIN" run "$SPECS/sweep.yaml" -o termed.h5 --cache cache > termed2.log 2>&1
  compare ref.h5 termed.h5 && ok "SIGTERM then resume equals the uninterrupted file" || bad "SIGTERM: $(cat cmp.log)"
else
  bad "the sweep to terminate never reached a second round"; cat termed.log
fi

# 3b. a rank that dies takes the job down at once, with one message naming it; the file stays usable
"${MPI[@]}" "$BIN" run "$SPECS/sweep.yaml" -o died.h5 --cache cache > died.log 2>&1 &
launcher=$!
if wait_for died.log "sweep: 2/6 points finished" 120; then
  victim=$(pgrep -f "trustbench run $SPECS/sweep.yaml -o died.h5" | tail -1)
  kill -9 "$victim"
  for _ in $(seq 300); do kill -0 "$launcher" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$launcher" 2>/dev/null; then
    bad "the job hung after a rank died"; kill -9 "$launcher"
  else
    wait "$launcher"; status=$?
    [ "$status" -ne 0 ] && grep -q "exited on signal 9" died.log && ok "a dead rank ends the job (exit $status) naming it" \
      || bad "dead rank: exit $status"
  fi
  "${MPI[@]}" "$BIN" run "$SPECS/sweep.yaml" -o died.h5 --cache cache > died2.log 2>&1 && compare ref.h5 died.h5 \
    && ok "the run after a dead rank resumes to the uninterrupted file" || bad "after a dead rank: $(cat cmp.log)"
else
  bad "the sweep whose rank dies never finished a round"
fi

# 4. a point that blows up fails alone
"${MPI[@]}" "$BIN" run "$SPECS/sweep_nan.yaml" -o nan.h5 --cache cache > nan.log 2>&1 && ok "sweep with a failing point exits 0" \
  || bad "failing point stopped the sweep"
/usr/bin/python3 - <<'EOF' && ok "the failed point is marked failed with its reason; the others are done" || bad "NaN isolation"
import h5py
f = h5py.File("nan.h5", "r")
st = list(f["points/status"][()])
assert st == [1, 2, 1], st
msg = f["points/failure"][1].decode()
assert "not finite" in msg or "diverged" in msg, msg
EOF

# 5. spec errors: file, line, column and key, exit 1, nothing written
"$BIN" run "$SPECS/bad.yaml" -o bad.h5 > bad.log 2>&1; status=$?
[ "$status" -eq 1 ] && grep -q "bad.yaml:4:[0-9]*: train.lr" bad.log && grep -q "bad.yaml:5:[0-9]*: train.batchsize" bad.log \
  && [ ! -e bad.h5 ] && ok "spec errors name file, line, column and key" || { bad "spec errors (exit $status)"; cat bad.log; }

# 6. the same results file with another spec is refused, and accepted with --restart
"${MPI[@]}" "$BIN" run "$SPECS/sweep_nan.yaml" -o ref.h5 --cache cache > other.log 2>&1; status=$?
[ "$status" -eq 1 ] && grep -qi "spec" other.log && ok "another spec is refused" || bad "other spec (exit $status)"
compare ref.h5 ref.h5 && ok "the refused run left the file intact" || bad "file changed: $(cat cmp.log)"
cp nan.h5 restart.h5
"${MPI[@]}" "$BIN" run "$SPECS/sweep.yaml" -o restart.h5 --cache cache --restart > restart.log 2>&1 \
  && compare ref.h5 restart.h5 && ok "--restart starts the file again" || bad "--restart: $(cat cmp.log)"

# 7. one group of 2 ranks (the memory each rank holds differs by design, so it is not compared) (all-reduce, then ZeRO-1) against two groups of 1 rank
"${MPI[@]}" "$BIN" run "$SPECS/sweep.yaml" -o dp.h5 --cache cache --ranks-per-point 2 > dp.log 2>&1 \
  && compare ref.h5 dp.h5 1e-4 state_mib_per_rank && ok "1 group x 2 ranks matches 2 groups x 1 rank" || bad "data parallel: $(cat cmp.log)"
"${MPI[@]}" "$BIN" run "$SPECS/sweep_zero.yaml" -o zero.h5 --cache cache --ranks-per-point 2 > zero.log 2>&1 \
  && compare ref.h5 zero.h5 1e-4 state_mib_per_rank && ok "ZeRO-1 matches stage 0" || bad "ZeRO-1: $(cat cmp.log)"
"${MPI[@]}" "$BIN" run "$SPECS/sweep_zero3.yaml" -o zero3.h5 --cache cache --ranks-per-point 2 > zero3.log 2>&1 \
  && compare ref.h5 zero3.h5 1e-4 state_mib_per_rank && ok "ZeRO-3 matches stage 0" || bad "ZeRO-3: $(cat cmp.log zero3.log | tail -5)"

# 8. slices, then merge
for i in 0 1; do
  "$BIN" run "$SPECS/sweep.yaml" -o slice$i.h5 --cache cache --slice $i/2 > slice$i.log 2>&1 || bad "slice $i"
done
"$BIN" merge merged.h5 slice0.h5 slice1.h5 > merge.log 2>&1 && compare ref.h5 merged.h5 1e-4 \
  && ok "two slices merge into the whole sweep" || bad "merge: $(cat merge.log cmp.log | tail -5)"
"$BIN" merge twice.h5 slice0.h5 slice0.h5 > twice.log 2>&1 && bad "merging a slice with itself was accepted" \
  || ok "a point finished in two slices is refused"

# 8a. a slice builds only its own points' shared stages, and a finished file builds none
stages() { ls "$1"/lm-base-*.h5 2>/dev/null | wc -l; }
"$BIN" run "$SPECS/sweep_stages.yaml" -o stages1.h5 --cache cache_s --slice 1/2 > stages1.log 2>&1 \
  && [ "$(stages cache_s)" -eq 1 ] && ok "slice 1/2 built the one base model its point reads" \
  || bad "slice stages: $(stages cache_s) base models; $(tail -3 stages1.log)"
"$BIN" run "$SPECS/sweep_stages.yaml" -o stages1.h5 --cache cache_s2 --slice 1/2 > stages2.log 2>&1 \
  && [ "$(stages cache_s2)" -eq 0 ] && ok "a run with no pending point builds no stage" \
  || bad "finished run: $(stages cache_s2) base models; $(tail -3 stages2.log)"
"$BIN" run "$SPECS/sweep_stages.yaml" -o stages_all.h5 --cache cache_s > stages_all.log 2>&1 \
  && [ "$(stages cache_s)" -eq 2 ] && [ "$(grep -c 'lm-base from cache' stages_all.log)" -eq 1 ] \
  && ok "the whole sweep reuses the slice's stage and builds the other" \
  || bad "whole sweep: $(stages cache_s) base models; $(tail -3 stages_all.log)"

# 9. --dry-run
dry=$("$BIN" run "$SPECS/sweep.yaml" --dry-run)
grep -q "6 points = 2 seeds x 3 configurations" <<<"$dry" && ok "--dry-run lists the points" || bad "--dry-run"

finish
