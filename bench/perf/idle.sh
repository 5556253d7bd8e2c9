# idle.sh: sourced by the benchmark runners (run.sh, runtime_run.sh). On a shared machine a benchmark
# measures the other load, not the code: these wait for a quiet machine before each measured run.
# The caller sets wait_idle (seconds, 0 = do not wait).

# CPU ticks of the whole machine so far: "total idle", idle including iowait.
cpu_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $5 + $6 }' /proc/stat; }

# Percent of the machine that was idle over the next `seconds`.
idle_percent() {
  local t0 i0 t1 i1
  read -r t0 i0 < <(cpu_ticks)
  sleep "$1"
  read -r t1 i1 < <(cpu_ticks)
  echo $(( 100 * (i1 - i0) / (t1 - t0 > 0 ? t1 - t0 : 1) ))
}

# Waits until three 2-second samples in a row are >= 90% idle, or wait_idle seconds have passed.
wait_for_idle() {
  [ "$wait_idle" -gt 0 ] || return 0
  local deadline=$(( SECONDS + wait_idle )) quiet=0
  while [ $SECONDS -lt $deadline ] && [ $quiet -lt 3 ]; do
    if [ "$(idle_percent 2)" -ge 90 ]; then quiet=$((quiet + 1)); else quiet=0; fi
  done
  [ $quiet -ge 3 ] || echo "#   (machine still busy after ${wait_idle}s; running anyway)"
}
