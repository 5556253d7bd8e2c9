#!/usr/bin/env bash
# The README's main job: set up, build, and run the quick sweep (bench/quick.yaml) on 2 MPI ranks,
# ending with a table of its metrics. Extra arguments go to `trustbench run` (e.g. --restart).
# Running it again resumes the sweep in results/quick.h5 (finished points are skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --parallel "$(nproc)" >/dev/null
mkdir -p results
if [ "$(id -u)" -eq 0 ]; then # Open MPI refuses root unless told twice
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# two ranks fill two cores: one BLAS thread each
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
exec mpirun -n 2 build/release/trustbench run bench/quick.yaml -o results/quick.h5 "$@"
