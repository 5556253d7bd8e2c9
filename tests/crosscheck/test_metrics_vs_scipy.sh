#!/bin/bash
# Cross-checks the metric kernels (src/metrics) against SciPy, sklearn and plain Python: for two seeds,
# metrics_cases writes random cases of every kernel (KS with ties, unequal sizes and p far below 1e-300,
# ROC with ties, ROUGE-L on messy texts, MIA scores, truth ratios, ...) with the C results, and
# check_metrics.py recomputes each one independently (scipy.stats.ks_2samp(method='exact') and exact
# rational path counts, sklearn's roc_auc_score and roc_curve, scipy.stats.hmean, its own ROUGE-L) and
# prints what it compared. The poisoning kernels' cases (2-means with the activation-clustering rule,
# silhouette, percentile) are split off and checked by check_poison below: sklearn.metrics.silhouette_score,
# sklearn.cluster.KMeans (n_init=10) on separated blobs, numpy for the inertia of the C labels and for
# the Lloyd fixed point, numpy.percentile. Last, single results are perturbed by a relative 1e-5 to show
# that the checks can fail.
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

# check_poison CASES [--corrupt KIND]: the kmeans, silhouette and percentile lines of metrics_cases
# against sklearn and numpy. Exit status 0 when all agree, 1 on a mismatch, 2 when the file is unusable.
check_poison() {
    "$python" - "$@" <<'PY'
import math
import sys

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score

worst, count, failures = {}, {}, []
cloud_runs = {"C lower": 0, "equal": 0, "sklearn lower": 0}


def close(kind, what, got, want, line, rel=0.0, abs_=0.0):
    key = (kind, what)
    count[key] = count.get(key, 0) + 1
    if math.isnan(want) or math.isnan(got):
        ok = math.isnan(want) and math.isnan(got)
        err = 0.0 if ok else math.inf
    else:
        err = abs(got - want)
        ok = err <= abs_ + rel * abs(want)
        err = err / abs(want) if rel > 0 and want != 0 else err
    worst[key] = max(worst.get(key, 0.0), err)
    if not ok:
        failures.append(f"line {line}: {kind} {what}: C {got!r}, reference {want!r}")


def holds(kind, what, ok, line):
    close(kind, what, 0.0 if ok else 1.0, 0.0, line)


def sklearn_silhouette(X, labels):
    # sklearn needs 2 <= clusters <= n - 1; the C kernel gives NaN for one cluster
    return float(silhouette_score(X, labels)) if 2 <= len(set(labels.tolist())) <= len(labels) - 1 else math.nan


def check_kmeans(t, line):
    n, d, blobs = int(t[1]), int(t[2]), int(t[3])
    if len(t) != 4 + n * d + n + 2:
        raise ValueError("wrong field count")
    X = np.array(t[4:4 + n * d], dtype=float).reshape(n, d)
    lab = np.array(t[4 + n * d:4 + n * d + n], dtype=int)
    inertia, sil = float(t[-2]), float(t[-1])
    sizes = np.bincount(lab, minlength=2)
    holds("kmeans", "numbering: cluster 0 larger, or holds point 0", len(sizes) == 2 and (
        sizes[0] > sizes[1] or (sizes[0] == sizes[1] and lab[0] == 0)), line)
    centre = [X[lab == c].mean(axis=0) if sizes[c] else None for c in (0, 1)]
    ref = sum(float(((X[lab == c] - centre[c]) ** 2).sum()) for c in (0, 1) if sizes[c])
    close("kmeans", "inertia of the C labels (numpy)", inertia, ref, line, rel=1e-11, abs_=1e-12)
    if sizes[1]:  # no point strictly closer to the other centre (ties go to cluster 0)
        d0, d1 = ((X - centre[0]) ** 2).sum(axis=1), ((X - centre[1]) ** 2).sum(axis=1)
        slack = 1e-9 * (d0 + d1)
        holds("kmeans", "labels are a Lloyd fixed point", bool(np.all(np.where(lab == 0, d0 <= d1 + slack,
                                                                                d1 <= d0 + slack))), line)
    close("kmeans", "silhouette (sklearn silhouette_score)", sil, sklearn_silhouette(X, lab), line, abs_=1e-12)
    km = KMeans(n_clusters=2, n_init=10, random_state=0).fit(X)
    if blobs:
        close("kmeans", "blobs: best inertia (sklearn KMeans)", inertia, float(km.inertia_), line, rel=1e-9)
        holds("kmeans", "blobs: sklearn's partition (ARI = 1)", adjusted_rand_score(lab, km.labels_) == 1.0, line)
    else:
        rel = (inertia - km.inertia_) / km.inertia_ if km.inertia_ > 0 else 0.0
        cloud_runs["C lower" if rel < -1e-9 else "sklearn lower" if rel > 1e-9 else "equal"] += 1


def check_silhouette(t, line):
    n, d, k = int(t[1]), int(t[2]), int(t[3])
    if len(t) != 4 + n * d + n + 1:
        raise ValueError("wrong field count")
    X = np.array(t[4:4 + n * d], dtype=float).reshape(n, d)
    lab = np.array(t[4 + n * d:4 + n * d + n], dtype=int)
    close("silhouette", "k <= 5 (sklearn silhouette_score)", float(t[-1]), sklearn_silhouette(X, lab), line,
          abs_=1e-12)


def check_percentile(t, line):
    n, q = int(t[1]), float(t[2])
    if len(t) != 3 + n + 1:
        raise ValueError("wrong field count")
    x = np.array(t[3:3 + n], dtype=float)
    close("percentile", "linear (numpy.percentile)", float(t[-1]), float(np.percentile(x, q)), line, rel=1e-14,
          abs_=1e-15)


CHECKS = {"kmeans": check_kmeans, "silhouette": check_silhouette, "percentile": check_percentile}
path, corrupt = sys.argv[1], (sys.argv[3] if len(sys.argv) == 4 and sys.argv[2] == "--corrupt" else None)
with open(path) as fh:
    lines = [ln.split() for ln in fh if ln.strip()]
kinds = {}
for number, t in enumerate(lines, 1):
    if corrupt == t[0]:  # the last field is a C result of every kind
        v = float(t[-1])
        t[-1] = repr(v * (1 + 1e-5) if v != 0 else 1e-5)
        corrupt = ""
    try:
        CHECKS[t[0]](t, number)
    except (KeyError, ValueError, IndexError) as e:
        print(f"check_poison: {path} line {number}: cannot use it ({e!r})", file=sys.stderr)
        sys.exit(2)
    kinds[t[0]] = kinds.get(t[0], 0) + 1
if corrupt:
    print(f"check_poison: no '{corrupt}' case to corrupt", file=sys.stderr)
    sys.exit(2)
print(f"check_poison: cases per kind: {', '.join(f'{k} {v}' for k, v in kinds.items())}")
print(f"check_poison: kmeans without blobs, best inertia against sklearn's: {cloud_runs}")
for (kind, what), w in worst.items():
    print(f"check_poison:   {kind:10s} {what:48s} {count[(kind, what)]:5d} comparisons, worst error {w:.2e}")
if failures:
    for msg in failures[:20]:
        print(f"check_poison: {msg}")
    print(f"check_poison: FAIL: {len(failures)} of {sum(count.values())} comparisons disagree")
    sys.exit(1)
print(f"check_poison: all {sum(count.values())} comparisons agree")
PY
}

passed=0
failed=0

for seed in 1234 7; do
    all="$work/all_$seed.txt" cases="$work/cases_$seed.txt" poison="$work/poison_$seed.txt"
    log="$work/check_$seed.log"
    if "$cases_exe" "$all" --seed "$seed" >"$log" 2>&1 &&
        awk -v rest="$cases" -v poison="$poison" \
            '$1 == "kmeans" || $1 == "silhouette" || $1 == "percentile" { print > poison; next } { print > rest }' \
            "$all" && "$python" "$check" "$cases" >>"$log" 2>&1 && check_poison "$poison" >>"$log" 2>&1; then
        echo "PASS seed $seed"
        sed 's/^/    /' "$log"
        passed=$((passed + 1))
    else
        echo "FAIL seed $seed"
        cat "$log"
        failed=$((failed + 1))
    fi
done

# The checks must notice one C result off by a relative 1e-5 (exit status 1), whatever its kind.
probe="$work/poison_1234.txt"
for kind in kmeans silhouette percentile; do
    check_poison "$probe" --corrupt "$kind" >"$work/corrupt.log" 2>&1
    rc=$?
    if [[ $rc -eq 1 ]] && grep -q 'FAIL: [0-9]* of' "$work/corrupt.log"; then
        caught="$(grep -m1 '^check_poison: line' "$work/corrupt.log" | sed 's/^check_poison: //')"
        echo "PASS checker-detects-corruption ($kind): $caught"
        passed=$((passed + 1))
    else
        echo "FAIL checker-detects-corruption ($kind): check_poison exited $rc on a corrupted result"
        cat "$work/corrupt.log"
        failed=$((failed + 1))
    fi
done
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
