#!/usr/bin/env bash
# The README's main job: set up, build, pretrain a small model on the embedded world-knowledge corpus
# (a few minutes on 2 cores), then sample from it. Extra arguments go to `trustbench pretrain`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --parallel "$(nproc)" >/dev/null
mkdir -p results
bin=build/release/trustbench
"$bin" pretrain --out results/model.h5 "$@"
"$bin" info results/model.h5 | head -12
for prompt in "Q: What is the capital of France? A:" "Q: Who wrote Pride and Prejudice? A:"; do
  echo "--- greedy: $prompt"
  "$bin" sample results/model.h5 --prompt "$prompt" --temperature 0 --max-new-tokens 12
done
