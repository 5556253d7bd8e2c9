#!/usr/bin/env bash
# Runs the whole test suite the way CI does: set-up, release build with every test, then a sanitizer
# (ASan + UBSan + leak detection) build with the unit tests. Options go to scripts/setup.sh (e.g. --slurm).
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=$(nproc)
scripts/setup.sh "$@"

echo "== release: configure, build, all tests"
cmake --preset release
cmake --build --preset release --parallel "$jobs"
ctest --preset release --parallel "$jobs"

echo "== asan: configure, build, unit tests"
cmake --preset asan
cmake --build --preset asan --parallel "$jobs"
ctest --preset asan --parallel "$jobs"
