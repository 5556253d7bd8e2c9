#!/usr/bin/env bash
# The posttrain workload (XRIGHT) end to end, on 1 rank and on a group of 2 ranks:
#   - the cached reference log-probs equal fresh ones: at theta_0 = pi_ref every pair has z = 0, so
#     f_DPO before training is ln 2 (to 1e-5, float sums of ~30 log-probs);
#   - Sequential forgets: its final f_SFT is above its f_SFT at the end of the SFT phase (the DPO
#     phase trains "Answer: X." against the terse SFT targets, so the rise is the forgetting the
#     benchmark exists to measure; any rise counts, the toy scale makes no size meaningful);
#   - ALRIGHT ends closer to the utopia point than Sequential at lambda 0.5 (strictly smaller ideal
#     distance: the paper's claim, which holds at this scale by a wide margin, 1.4 against 2.3);
#   - ALRIGHT draws the same objective on every rank: the 2-rank group's objective curve equals the
#     1-rank run's step for step, and the losses agree to 1e-3 (data-parallel float sums);
#   - MAXRIGHT (at lambda 0.9, where it alternates) trains, at every step, the objective with the
#     larger weighted gap it logged before the step (ties to SFT), the same choices on 1 and 2 ranks;
#   - a MAXRIGHT point stopped by a signal in the middle (exit 75) and resumed ends with the results
#     of one that never stopped, bit for bit (all but the wall times and memory);
#   - a preference JSONL with a missing field fails with the file and line named, before any stage.
set -uo pipefail
BIN=${TB_BIN:?set TB_BIN to the trustbench executable}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/lib.sh"
SPECS="$ROOT/tests/integration/specs"
W=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null; rm -rf "$W"' EXIT
cd "$W"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
export HDF5_USE_FILE_LOCKING=FALSE

run() { # ranks, results
  mpirun -n "$1" --oversubscribe --bind-to none "$BIN" run "$SPECS/posttrain_tiny.yaml" -o "$2" --cache cache \
    --ranks-per-point "$1" > "$2.log" 2>&1 && ok "posttrain_tiny.yaml on $1 rank(s)" || { bad "runs on $1"; tail -30 "$2.log"; }
}
run 1 one.h5
run 2 two.h5

/usr/bin/python3 - one.h5 two.h5 > check.log 2>&1 <<'PY'
import sys, math, h5py, numpy as np
one, two = (h5py.File(p, "r") for p in sys.argv[1:])
failed = []
def check(cond, what):
    print(("ok: " if cond else "FAILED: ") + what)
    if not cond: failed.append(what)
def metrics(f):
    methods = [m.decode() for m in f["points/method"][:]]
    lam = [float(x) for x in f["points/train.lambda"][:]]
    keys = [(m, l) for m, l in zip(methods, lam)]
    return {k: {n: float(f["metrics"][n][i]) for n in f["metrics"]} for i, k in enumerate(keys)}, keys
r1, keys = metrics(one)
r2, _ = metrics(two)
check(all(one["points/status"][:] == 1) and all(two["points/status"][:] == 1), "every point done")
for k in keys:
    check(abs(r1[k]["f_dpo_init"] - math.log(2)) < 1e-5, "%s: f_DPO at theta_0 is ln 2 (%.7f)" % (k, r1[k]["f_dpo_init"]))
s, a = r1[("sequential", 0.5)], r1[("alright", 0.5)]
print("sequential f_SFT %.4f after SFT, %.4f at the end; ideal distance sequential %.3f alright %.3f" % (
    s["f_sft_switch"], s["f_sft"], s["ideal_distance"], a["ideal_distance"]))
check(s["f_sft"] > s["f_sft_switch"], "Sequential's f_SFT rises during DPO")
check(a["ideal_distance"] < s["ideal_distance"], "ALRIGHT ends closer to the utopia point than Sequential")
check(abs(s["dpo_step_share"] - 0.5) < 1e-12 and r1[("mix", 0.5)]["dpo_step_share"] == 1.0,
      "Sequential spends half its steps on DPO at lambda 0.5, Mix all")
i = keys.index(("alright", 0.5))
o1, o2 = one["curves/objective"][i], two["curves/objective"][i]
check(np.array_equal(o1, o2) and 0 < np.nanmean(o1) < 1, "ALRIGHT's draws are identical on 1 and 2 ranks, both kinds drawn")
l1, l2 = one["curves/loss"][i], two["curves/loss"][i]
check(np.nanmax(np.abs(l1 - l2)) < 1e-3, "ALRIGHT's losses agree on 1 and 2 ranks (max diff %.2e)" % np.nanmax(np.abs(l1 - l2)))
# at lambda 0.9 MAXRIGHT alternates (at 0.5 the SFT gap of a barely trained model dominates throughout)
j = keys.index(("maxright", 0.9))
obj, gs, gd = (one["curves/" + k][j] for k in ("objective", "gap_sft_est", "gap_dpo_est"))
n = int(r1[("maxright", 0.9)]["steps"])
picks = [(1.0 if gd[t - 1] > gs[t - 1] else 0.0) == obj[t] for t in range(1, n)]
check(all(picks) and 0 < np.mean(obj[:n]) < 1,
      "MAXRIGHT trains the objective with the larger weighted gap (%d steps, %.0f%% DPO)" % (len(picks), 100 * np.mean(obj[:n])))
check(np.array_equal(obj[:n], two["curves/objective"][j][:n]), "MAXRIGHT's choices are the same on 1 and 2 ranks")
# capability: theta_0's accuracy is one number for every point, and the rows split over 2 ranks score
# what 1 rank scores (the value itself is tested against trained models in test_cli.sh)
ref = {round(r[k]["capability_acc_ref"], 12) for r in (r1, r2) for k in keys}
check(len(ref) == 1 and 0 <= ref.pop() <= 1, "capability_acc_ref: one value on 1 and 2 ranks")
check(all(abs(r1[k]["capability_acc"] - r2[k]["capability_acc"]) <= 1 / 217 + 1e-12 for k in keys),
      "capability_acc on 1 and 2 ranks within one question")
for f, name in ((one, "1 rank"), (two, "2 ranks")):
    c = f["curves/f_sft_eval"][i]
    check(not math.isnan(c[n - 1]) and np.sum(~np.isnan(c)) >= 4, "eval curves logged (%s)" % name)
sys.exit(1 if failed else 0)
PY
rc=$?
cat check.log
[ $rc -eq 0 ] && ok "posttrain checks" || bad "posttrain checks"

# a stop signal in the middle of a MAXRIGHT point, then the same command: equal to an uninterrupted run
stop_and_resume "MAXRIGHT point" "point 0 step" train_s,step_ms,peak_rss_mib \
  mpirun -n 2 --oversubscribe --bind-to none "$BIN" run "$SPECS/posttrain_resume.yaml" --cache cache

# a preference file whose line 2 lacks "rejected"
printf '{"prompt": "Copy: a b", "response": "a b"}\n' > sft.jsonl
printf '{"prompt": "Copy: c d", "chosen": "Answer: c d.", "rejected": "c d"}\n{"prompt": "Copy: e f", "chosen": "Answer: e f."}\n' > pref.jsonl
sed -e "s|^data:|data:\n  sft: $W/sft.jsonl\n  pref: $W/pref.jsonl|" "$SPECS/posttrain_tiny.yaml" > bad.yaml
mpirun -n 1 "$BIN" run bad.yaml -o bad.h5 --cache cache > bad.log 2>&1
rc=$?
if [ $rc -ne 0 ] && grep -q "pref.jsonl:2" bad.log && grep -q "rejected" bad.log; then ok "missing field named with its line"
else bad "missing field (rc $rc)"; cat bad.log; fi

finish
