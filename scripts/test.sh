#!/usr/bin/env bash
# Runs the whole test suite the way CI does: set-up, release build with every test, then a sanitizer
# (ASan + UBSan + leak detection) build with the unit tests. Options go to scripts/setup.sh.
# A failing test does not stop the run, so one pass reports both phases; the exit status is non-zero if
# anything failed. A failing set-up or build stops it at once.
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc)
# every test includes the Slurm one, which starts a private cluster: it needs Slurm and munge too
scripts/setup.sh --slurm "$@"
failed=()

echo "== release: configure, build, all tests"
cmake --preset release
cmake --build --preset release --parallel "$jobs"
ctest --preset release --parallel "$jobs" || failed+=(release)

echo "== asan: configure, build, unit tests"
cmake --preset asan
cmake --build --preset asan --parallel "$jobs"
ctest --preset asan --parallel "$jobs" || failed+=(asan)

if [ "${#failed[@]}" -gt 0 ]; then
  echo "== tests failed in: ${failed[*]}"
  exit 1
fi
echo "== all tests passed"
