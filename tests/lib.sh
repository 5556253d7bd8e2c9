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
finish() {
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ]
}
