#!/bin/bash
# Cross-checks the metric kernels (src/metrics) against SciPy, sklearn and plain Python: for two seeds,
# metrics_cases writes random cases of every kernel (KS with ties, unequal sizes and p far below 1e-300,
# ROC with ties, ROUGE-L on messy texts, MIA scores, truth ratios, ...) with the C results, and
# check_metrics.py recomputes each one independently (scipy.stats.ks_2samp(method='exact') and exact
# rational path counts, sklearn's roc_auc_score and roc_curve, scipy.stats.hmean, its own ROUGE-L) and
# prints what it compared. Last, single results are perturbed by a relative 1e-5 to show that the
# check can fail.
#
# Environment (set by CTest): TB_TEST_EXE_DIR holds the built metrics_cases, TB_SOURCE_DIR the source tree.
set -u -o pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="${TB_SOURCE_DIR:-$here/../..}"
cases_exe="${TB_TEST_EXE_DIR:-}/metrics_cases"
check="$src/tests/crosscheck/check_metrics.py"
# Debian's python3-scipy and python3-sklearn live with the system interpreter, not a PATH python
python=/usr/bin/python3

if [[ ! -x "$cases_exe" ]]; then
    echo "FAIL: $cases_exe not found: build the metrics_cases target and set TB_TEST_EXE_DIR to its directory" >&2
    exit 1
fi
if ! "$python" -c 'import scipy, sklearn, numpy' 2>/dev/null; then
    echo "FAIL: $python cannot import scipy, sklearn and numpy: apt-get install python3-scipy python3-sklearn" >&2
    exit 1
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/tb_metrics_xcheck.XXXXXX")"
trap 'rm -rf "$work"' EXIT

passed=0
failed=0

for seed in 1234 7; do
    cases="$work/cases_$seed.txt" log="$work/check_$seed.log"
    if "$cases_exe" "$cases" --seed "$seed" >"$log" 2>&1 && "$python" "$check" "$cases" >>"$log" 2>&1; then
        echo "PASS seed $seed"
        sed 's/^/    /' "$log"
        passed=$((passed + 1))
    else
        echo "FAIL seed $seed"
        cat "$log"
        failed=$((failed + 1))
    fi
done

# The check must notice one C result off by a relative 1e-5 (exit status 1), whatever its kind.
probe="$work/cases_1234.txt"
for kind in ks roc rouge zlib minkpp moments truth memo; do
    if [[ ! -f "$probe" ]]; then
        echo "FAIL checker-detects-corruption ($kind): no cases to corrupt"
        failed=$((failed + 1))
        continue
    fi
    "$python" "$check" "$probe" --corrupt "$kind" >"$work/corrupt.log" 2>&1
    rc=$?
    if [[ $rc -eq 1 ]] && grep -q 'FAIL: [0-9]* of' "$work/corrupt.log"; then
        caught="$(grep -m1 '^check_metrics: line' "$work/corrupt.log" | sed 's/^check_metrics: //')"
        echo "PASS checker-detects-corruption ($kind): $caught"
        passed=$((passed + 1))
    else
        echo "FAIL checker-detects-corruption ($kind): check_metrics.py exited $rc on a corrupted result"
        cat "$work/corrupt.log"
        failed=$((failed + 1))
    fi
done

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
