#!/usr/bin/env bash
# The unlearning workload end to end under mpirun with 2 ranks (one group of 2: data-parallel
# unlearning, evaluation split over the ranks, the ScaLAPACK probe on a 2-rank grid):
#   - the target memorises its authors: forget ROUGE-L exceeds the holdout's by at least 0.3, the
#     reference's own sanity threshold;
#   - NPO forgets: its forget ROUGE-L falls to the target's holdout level (+0.05: holdout answers share
#     the templates' words, so ROUGE-L of an answer the model does not know is not 0), while its retain
#     ROUGE-L stays within 0.25 of the target's (a 2-layer model shares most weights between authors,
#     so a tighter margin would test the toy scale rather than the method);
#   - the retain model has forget quality 1 and privleak 0 against itself, the target a tiny FQ;
#   - every method, WAGLE and SPUNGE (mean and TIES) run and lower the forget probability;
#   - with the world-knowledge QA rows (base.world_qa, target.world_qa) the target answers the world
#     questions (ROUGE-L >= 0.8, model utility >= 0.5); without them it does not (<= 0.2);
#   - every aggregate is recomputed from /samples by analysis/recompute.py;
#   - a bad split_by names the attribute and the valid ones.
set -uo pipefail
BIN=${TB_BIN:?set TB_BIN to the trustbench executable}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/lib.sh"
SPECS="$ROOT/tests/integration/specs"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$W"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
MPI=(mpirun -n 2 --oversubscribe --bind-to none)

run() { # spec, results
  "${MPI[@]}" "$BIN" run "$SPECS/$1" -o "$2" --cache cache --ranks-per-point 2 > "$2.log" 2>&1 \
    && ok "$1 runs" || { bad "$1 runs"; tail -30 "$2.log"; }
}
run unlearn_tiny.yaml tiny.h5
run unlearn_variants.yaml variants.h5
run unlearn_merge.yaml merge.h5
run unlearn_noworld.yaml noworld.h5

/usr/bin/python3 - tiny.h5 variants.h5 merge.h5 noworld.h5 > check.log 2>&1 <<'PY'
import sys, math, h5py, numpy as np
tiny, variants, merge, noworld = (h5py.File(p, "r") for p in sys.argv[1:])
def rows(f):
    methods = [m.decode() for m in f["points/method"][:]]
    return {m: {k: f["metrics"][k][i] for k in f["metrics"]} for i, m in enumerate(methods)}, methods
failed = []
def check(cond, what):
    print(("ok: " if cond else "FAILED: ") + what)
    if not cond: failed.append(what)
r, _ = rows(tiny)
t, g, n = r["none"], r["retain"], r["npo"]
print("target forget/holdout/retain ROUGE-L %.3f %.3f %.3f; npo %.3f %.3f %.3f" % (
    t["forget_rouge"], t["holdout_rouge"], t["retain_rouge"], n["forget_rouge"], n["holdout_rouge"], n["retain_rouge"]))
check(all(tiny["points/status"][:] == 1), "every tiny point done")
check(t["forget_rouge"] - t["holdout_rouge"] >= 0.3, "the target memorised its authors")
check(n["forget_rouge"] <= t["holdout_rouge"] + 0.05, "NPO forget ROUGE-L at the holdout level")
check(n["retain_rouge"] >= t["retain_rouge"] - 0.25, "NPO keeps retain ROUGE-L within 0.25")
check(g["forget_quality"] == 1.0 and g["privleak"] == 0.0, "retain model: FQ 1, privleak 0")
check(t["log10_forget_quality"] < -3 and n["forget_quality"] > t["forget_quality"], "NPO raises FQ above the target's")
check(t["privleak"] < -50, "the untouched target leaks (privleak %.1f)" % t["privleak"])
nf = int(np.sum(~np.isnan(tiny["samples/forget/truth_ratio"][0])))
check(nf == 40, "40 forget samples stored (%d)" % nf)
check(all(not math.isnan(n[k]) for k in ("relearn_recovery", "probe_acc", "mia_gradnorm_auc", "model_utility")),
      "relearn, probe, GradNorm and utility measured")
w = rows(noworld)[0]["none"]
print("target world/famous ROUGE-L, MU: %.3f %.3f %.3f; without world QA rows %.3f %.3f %.3f" % (
    t["world_rouge"], t["famous_rouge"], t["model_utility"], w["world_rouge"], w["famous_rouge"], w["model_utility"]))
check(t["world_rouge"] >= 0.8 and t["famous_rouge"] >= 0.8 and t["model_utility"] >= 0.5,
      "with the world QA rows the target answers world questions and has a model utility")
check(w["world_rouge"] <= 0.2 and w["model_utility"] < t["model_utility"] / 2,
      "without them the fine-tuned target has forgotten how (the rows are what keeps utility measurable)")
for f, name in ((variants, "variants"), (merge, "merge")):
    rr, methods = rows(f)
    check(all(f["points/status"][:] == 1), "every %s point done: %s" % (name, methods))
    for m in methods:
        check(rr[m]["forget_prob"] < t["forget_prob"] and math.isfinite(rr[m]["unlearn_loss"]),
              "%s lowers the forget probability (%.3f < %.3f)" % (m, rr[m]["forget_prob"], t["forget_prob"]))
rv, _ = rows(variants)
check(math.isfinite(rv["rmu"]["rmu_hidden_norm"]), "RMU records the mean hidden norm")
check(sorted(rows(merge)[1]) == sorted(["npo+spunge(mean)", "npo+spunge(ties)", "npo+wagle(0.5)+spunge(mean)",
                                         "npo+wagle(0.5)+spunge(ties)"]), "method labels")
sys.exit(1 if failed else 0)
PY
[ $? -eq 0 ] && ok "metrics of the runs" || bad "metrics of the runs"
cat check.log

for f in tiny.h5 variants.h5 merge.h5; do
  /usr/bin/python3 "$ROOT/analysis/recompute.py" "$f" > "recompute-$f.log" 2>&1 && ok "recompute.py agrees on $f" \
    || { bad "recompute.py on $f"; cat "recompute-$f.log"; }
done

{ cat "$SPECS/unlearn_tiny.yaml"; printf 'spunge:\n  split_by: planet\n'; } > bad.yaml
"$BIN" run bad.yaml -o bad.h5 --cache cache > bad.log 2>&1
rc=$?
[ $rc -ne 0 ] && grep -q "planet" bad.log && grep -q "genre" bad.log && ok "unknown split_by named with the valid attributes" \
  || { bad "bad split_by (exit $rc)"; cat bad.log; }

finish
