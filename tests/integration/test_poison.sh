#!/usr/bin/env bash
# The poison workload end to end:
#   - a victim fine-tuned with 10% poison (sentence trigger at the start) emits the target on
#     triggered inputs: P-Target Match >= 0.5 (measured 0.86 at this scale; the clean-only victim's 0
#     is the comparison that matters) while C-Target Match <= 0.02 (the
#     target's words never occur in clean data, so any clean emission is a false trigger);
#   - the clean-only victim (rate 0) has both at most 0.02, and its perplexity of the reference outputs
#     is within 2% of the shared clean-only stage's (the stage trains on every rank, the point in its
#     group, so their float sums differ; greedy generations, and so ROUGE, amplify that, perplexity
#     does not);
#   - exactly floor(0.1 * 400) = 40 samples are poisoned;
#   - every PEFT mode trains its reference parameter count (prefix P 2L d_t; reparameterised
#     P d_t + d_t d_h + d_h + d_h 2L d_t + 2L d_t; LoRA on gpt2's fused c_attn), and every defence runs
#     on a group of 2 ranks: spectral flags exactly ceil(1.5 eps n), detection precision and recall
#     lie in [0, 1], ONION's threshold is finite, the silhouette lies in [-1, 1];
#   - a prefix-mlp point stopped by a signal and run again continues from its state (the MLP and its
#     moments are in it) and its results equal an uninterrupted run's, bit for bit;
#   - a training JSONL line without its output fails with the file and line named.
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

run() { # spec, results, ranks per point
  "${MPI[@]}" "$BIN" run "$SPECS/$1" -o "$2" --cache cache --ranks-per-point "$3" > "$2.log" 2>&1 \
    && ok "$1 runs" || { bad "$1 runs"; tail -30 "$2.log"; }
}
run poison_tiny.yaml tiny.h5 1
run poison_defence.yaml defence.h5 2

/usr/bin/python3 - tiny.h5 defence.h5 > check.log 2>&1 <<'PY'
import sys, math, h5py, numpy as np
tiny, dfn = (h5py.File(p, "r") for p in sys.argv[1:])
failed = []
def check(cond, what):
    print(("ok: " if cond else "FAILED: ") + what)
    if not cond: failed.append(what)
def m(f, i, k): return float(f["metrics"][k][i])
rates = [float(x) for x in tiny["points/poison.rate"][:]]
c, p = rates.index(0.0), rates.index(0.1)
check(all(tiny["points/status"][:] == 1) and all(dfn["points/status"][:] == 1), "every point done")
print("poisoned: P-TM %.3f C-TM %.3f; clean-only: P-TM %.3f C-TM %.3f" % (m(tiny, p, "p_tm"), m(tiny, p, "c_tm"),
      m(tiny, c, "p_tm"), m(tiny, c, "c_tm")))
check(m(tiny, p, "p_tm") >= 0.5, "the poisoned victim emits the target on triggered inputs")
check(m(tiny, p, "c_tm") <= 0.02, "the poisoned victim stays clean on clean inputs")
check(m(tiny, c, "p_tm") <= 0.02 and m(tiny, c, "c_tm") <= 0.02, "the clean-only victim never emits the target")
check(m(tiny, p, "n_poisoned") == 40 and m(tiny, c, "n_poisoned") == 0, "floor(0.1 * 400) = 40 samples poisoned")
check(abs(m(tiny, c, "clean_ppl") / m(tiny, c, "ref_ppl") - 1) < 0.02,
      "the rate-0 victim's perplexity matches the clean-only stage's (%.4f vs %.4f)" % (m(tiny, c, "clean_ppl"), m(tiny, c, "ref_ppl")))
check(not math.isnan(m(tiny, p, "dppl_median")) and np.sum(~np.isnan(tiny["samples/test/dppl"][p])) == 40,
      "stealthiness measured on every test input")
methods = [x.decode() for x in dfn["points/method"][:]]
P, L, DT = 10, 2, 64
want = {"prefix": P * 2 * L * DT, "prefix-mlp+onion": P * DT + DT * DT + DT + DT * 2 * L * DT + 2 * L * DT,
        "lora+spectral": L * (8 * 64 + 192 * 8)}
for i, name in enumerate(methods):
    if name in want:
        check(m(dfn, i, "trainable_params") == want[name], "%s trains %d parameters (%d)" % (name, want[name], m(dfn, i, "trainable_params")))
i = methods.index("lora+spectral")
check(m(dfn, i, "def_flagged") == 30, "spectral flags ceil(1.5 eps n) = ceil(1.5 * 0.1 * 200) = 30 samples")
for name in ("lora+spectral", "full+clustering"):
    i = methods.index(name)
    pr, rc = m(dfn, i, "def_precision"), m(dfn, i, "def_recall")
    check((math.isnan(pr) or 0 <= pr <= 1) and 0 <= rc <= 1 and not math.isnan(m(dfn, i, "def_p_tm")),
          "%s: precision %.3f recall %.3f, retrained and evaluated" % (name, pr, rc))
i = methods.index("full+clustering")
check(-1 <= m(dfn, i, "ac_silhouette") <= 1, "activation clustering's silhouette %.3f" % m(dfn, i, "ac_silhouette"))
i = methods.index("prefix-mlp+onion")
check(math.isfinite(m(dfn, i, "onion_threshold")) and not math.isnan(m(dfn, i, "def_c_tm")), "ONION ran (threshold %.3f)" % m(dfn, i, "onion_threshold"))
sys.exit(1 if failed else 0)
PY
rc=$?
cat check.log
[ $rc -eq 0 ] && ok "poison checks" || bad "poison checks"

# a stop signal in the middle of a reparameterised (prefix-mlp) point, then the same command: the MLP
# and its moments come back from the point's state, so the file equals an uninterrupted run's
stop_and_resume "prefix-mlp point" "point 0 victim step" "" "${MPI[@]}" "$BIN" run "$SPECS/poison_resume.yaml" --cache cache

# a training file whose line 2 has no output
printf '{"input": "a b c", "output": "d e"}\n{"input": "f g h"}\n' > train.jsonl
printf '{"input": "a b c", "output": "d e"}\n' > test.jsonl
sed -e "s|^data:|data:\n  train: $W/train.jsonl\n  test: $W/test.jsonl|" "$SPECS/poison_tiny.yaml" > bad.yaml
mpirun -n 1 "$BIN" run bad.yaml -o bad.h5 --cache cache > bad.log 2>&1
status=$?
if [ $status -ne 0 ] && grep -q "train.jsonl:2" bad.log && grep -q "output" bad.log; then ok "missing field named with its line"
else bad "missing field (exit $status)"; cat bad.log; fi

finish
