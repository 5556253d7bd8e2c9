#!/bin/bash
# Cross-checks the whole model against PyTorch: for random tiny models of both families (with and
# without prefix slots and LoRA), dump_model runs one SFT forward/backward step and check_model.py
# recomputes logits, loss and every parameter gradient in float64 PyTorch; each tensor must agree
# to a relative error of 1e-4. A last case corrupts one gradient to show the check can fail.
#
# Environment (set by CTest): TB_TEST_EXE_DIR holds the built dump_model, TB_SOURCE_DIR the source tree.
set -u -o pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="${TB_SOURCE_DIR:-$here/../..}"
dump="${TB_TEST_EXE_DIR:-}/dump_model"
check="$src/tests/crosscheck/check_model.py"
# Debian's python3-torch and python3-h5py live with the system interpreter, not a PATH python
python=/usr/bin/python3

if [[ ! -x "$dump" ]]; then
    echo "FAIL: $dump not found: build the dump_model target and set TB_TEST_EXE_DIR to its directory" >&2
    exit 1
fi
if ! "$python" -c 'import torch, h5py, numpy' 2>/dev/null; then
    echo "FAIL: $python cannot import torch, h5py and numpy: apt-get install python3-torch python3-h5py" >&2
    exit 1
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/tb_xcheck.XXXXXX")"
trap 'rm -rf "$work"' EXIT

passed=0
failed=0

# name, then dump_model arguments after the output file
configs=(
    "gpt2-plain|gpt2"
    "gpt2-prefix-lora|gpt2 --prefix 3 --lora-rank 2 --lora-targets q,o,up,down"
    "llama-gqa-bias-untied-prefix-lora|llama --heads 4 --kv-heads 2 --qkv-bias 1 --tie 0 --prefix 3 --lora-rank 2 --lora-targets q,k,v,o,up,gate,down"
    "llama-tied|llama --tie 1"
    "llama-mqa-prefix-fullT|llama --layers 3 --heads 4 --kv-heads 1 --prefix 2 --max-seq 8 --seq 8 --seed 7"
    "gpt2-lora-rank3|gpt2 --lora-rank 3 --lora-alpha 1.5 --lora-targets q,down --batch 3 --seq 5 --seed 99"
)

run_case() { # name, dump args...
    local name="$1"
    shift
    local h5="$work/$name.h5" log="$work/$name.log"
    if ! "$dump" "$1" "$h5" "${@:2}" >"$log" 2>&1 || ! "$python" "$check" "$h5" >>"$log" 2>&1; then
        echo "FAIL $name"
        cat "$log"
        failed=$((failed + 1))
        return
    fi
    echo "PASS $name: $(grep 'worst relative error' "$log" | sed 's/^check_model: //')"
    passed=$((passed + 1))
}

for entry in "${configs[@]}"; do
    # shellcheck disable=SC2086  # the argument string is split on purpose
    run_case "${entry%%|*}" ${entry#*|}
done

# The check must notice a single gradient element off by 1e-3 of its tensor's scale (exit status 1).
probe="$work/llama-gqa-bias-untied-prefix-lora.h5"
if [[ -f "$probe" ]]; then
    "$python" "$check" "$probe" --corrupt lora.1.k.B >"$work/corrupt.log" 2>&1
    rc=$?
    if [[ $rc -eq 1 ]] && grep -q 'FAIL: 1 of' "$work/corrupt.log"; then
        echo "PASS checker-detects-corruption"
        passed=$((passed + 1))
    else
        echo "FAIL checker-detects-corruption: check_model.py exited $rc on a corrupted gradient"
        cat "$work/corrupt.log"
        failed=$((failed + 1))
    fi
else
    echo "FAIL checker-detects-corruption: no dump to corrupt"
    failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
