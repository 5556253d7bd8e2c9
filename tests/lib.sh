# tests/lib.sh: what the shell test drivers share (source it after setting ROOT). Each check prints
# "ok: ..." or "FAILED: ..." and counts; a driver ends with `finish`, which prints the totals and
# fails when any check failed.
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok: $1"; }
bad() { fail=$((fail + 1)); echo "FAILED: $1"; }
check() { # description, command...: ok when the command succeeds
  local what=$1
  shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}
has() { grep -qF -- "$2" "$1"; }   # file, exact text
lacks() { ! grep -qF -- "$2" "$1"; } # file, exact text
# tally FILE N: turns the "PASS<tab>what" / "FAIL<tab>what" lines of a checker into ok/bad, and fails
# unless the checker ran exactly N assertions (so a checker that stopped early cannot pass)
tally() {
  local n=0 verdict what
  while IFS=$'\t' read -r verdict what; do
    n=$((n + 1))
    if [ "$verdict" = PASS ]; then ok "$what"; else bad "$what"; fi
  done < "$1"
  [ "$n" -eq "$2" ] && ok "$1: $n assertions" || bad "$1: $n assertions, expected $2"
}
wait_for() { # file, pattern, seconds: wait until the pattern appears in the file
  for _ in $(seq 1 $(($3 * 10))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
# stop_and_resume WHAT PROGRESS SKIP COMMAND...: a sweep of one point whose progress lines start with
# PROGRESS ("point 0 step"), run by COMMAND (without -o) three times: uninterrupted into ref.h5;
# into stopped.h5 with SIGUSR1 once the point is between 10% and 89% (exit 75 expected); and again,
# which must continue the point from its state (no "PROGRESS 1/" line: counts are absolute) and end
# with a file equal to ref.h5 (metrics named in the comma list SKIP are not compared).
stop_and_resume() {
  local what=$1 progress=$2 skip=$3 launcher status
  shift 3
  "$@" -o ref.h5 > ref.log 2>&1 && ok "uninterrupted $what" || { bad "uninterrupted $what"; tail -20 ref.log; return; }
  "$@" -o stopped.h5 > stopped.log 2>&1 &
  launcher=$!
  if ! wait_for stopped.log "$progress [0-9]*/[0-9]* ([1-8][0-9]%)" 120; then
    bad "$what was never seen between 10% and 89%"; tail -5 stopped.log; return
  fi
  kill -USR1 "$launcher"; wait "$launcher"; status=$?
  [ "$status" -eq 75 ] && ok "a stop signal exits with 75" || bad "stop signal: exit $status"
  "$@" -o stopped.h5 > resumed.log 2>&1
  grep -q "$progress 1/" resumed.log && bad "$what started again: $(grep -m1 "$progress" resumed.log)" \
    || ok "$what continued from its state"
  /usr/bin/python3 "$ROOT/tests/compare_results.py" ref.h5 stopped.h5 0 "$skip" > cmp.log 2>&1 \
    && ok "stopped and resumed $what equals the uninterrupted run" || bad "resume: $(cat cmp.log)"
}
# script_refuses SCRIPT "FILE|NAME|PROBLEM": analysis/SCRIPT.py (plots.py with --out) given the bad
# results file FILE exits 1 with exactly one line on stderr, naming FILE, NAME and PROBLEM
script_refuses() {
  local script=$1 file name problem extra=() status
  IFS='|' read -r file name problem <<< "$2"
  [ "$script" = plots ] && extra=(--out figs_bad)
  /usr/bin/python3 "$ROOT/analysis/$script.py" "$file" "${extra[@]}" > bad.out 2> bad.err
  status=$?
  if [ $status -eq 1 ] && has bad.err "$file" && has bad.err "$name" && has bad.err "$problem" \
     && [ "$(wc -l < bad.err)" -eq 1 ]; then
    ok "$script.py $file: exit 1, one line naming it ($problem)"
  else
    bad "$script.py $file: exit $status: $(cat bad.err)"
  fi
}
finish() {
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ]
}
