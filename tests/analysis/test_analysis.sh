#!/usr/bin/env bash
# The analysis scripts (analysis/*.py) on synthetic unlearn results files from make_fixture.py, whose
# numbers are constructed so that the table values and the claims' outcomes are known by hand (see the
# fixture's docstring): tables.py (Markdown and LaTeX, --split, --out, failed and pending points),
# plots.py (valid PNG files), claims.py (held / not held / not testable, and its response to changed
# numbers), recompute.py (the exact KS tail against the reference table and SciPy, the AUC against pair
# counting; a consistent file passes, a tampered metric fails), and files that are not unlearn results.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/lib.sh"
A="$ROOT/analysis"
PY=/usr/bin/python3 # Debian's h5py, numpy, scipy and matplotlib live with the system interpreter
W=$(mktemp -d "${TMPDIR:-/tmp}/tb_analysis.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"
export MPLBACKEND=Agg PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree

# cell FILE SPLIT ROW COLUMN: the text of one cell of a Markdown table printed by tables.py
cell() {
  "$PY" - "$@" <<'EOF'
import sys
path, split, row, column = sys.argv[1:]
lines = open(path).read().split("\n")
header = None
for line in lines[lines.index(f"### {split}") + 1:]:
    if line.startswith("### "):
        break
    if not line.startswith("|"):
        continue
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if header is None:
        header = cells
    elif cells[0] == row:
        print(cells[header.index(column)])
        break
EOF
}
# rows FILE SPLIT: the method column of one table, one label a line
rows() {
  "$PY" - "$@" <<'EOF'
import sys
path, split = sys.argv[1:]
lines = open(path).read().split("\n")
body = []
for line in lines[lines.index(f"### {split}") + 1:]:
    if line.startswith("### "):
        break
    if line.startswith("|"):
        body.append(line.strip().strip("|").split("|")[0].strip())
print("\n".join(body[2:]))  # after the header and the alignment row
EOF
}
expect_cell() { # file split row column expected
  local got
  got=$(cell "$1" "$2" "$3" "$4")
  [ "$got" = "$5" ] && ok "$2 '$3' $4 = $5" || bad "$2 '$3' $4: expected '$5', got '$got'"
}
# stored_fq FILE SPLIT METHOD LR: the mean of the stored forget_quality of those done points, as the
# table prints it (%.2e), read straight from the file
stored_fq() {
  "$PY" - "$@" <<'EOF'
import sys, h5py, numpy as np
path, split, method, lr = sys.argv[1:]
with h5py.File(path, "r") as f:
    p = f["points"]
    pick = ((p["status"][()] == 1) & (p["data.split"][()] == split.encode())
                    & (p["method"][()] == method.encode()) & (p["unlearn.lr"][()] == float(lr)))
    print(f"{f['metrics/forget_quality'][()][pick].mean():.2e}")
EOF
}

"$PY" "$ROOT/tests/analysis/make_fixture.py" full.h5 && "$PY" "$ROOT/tests/analysis/make_fixture.py" min.h5 --variant minimal \
  && ok "fixtures written" || { bad "fixtures"; exit 1; }

# ---- tables.py, Markdown
"$PY" "$A/tables.py" full.h5 > t.md 2> t.err && ok "tables.py exits 0" || { bad "tables.py: $(cat t.err)"; }
expected="Target
Retain
ga
ga+wagle(0.8)
graddiff
graddiff+wagle(0.9)
npo (lr 1e-5)
npo (lr 1e-4)
npo+wagle(0.95)
npo+wagle-random(0.95)
npo+spunge(mean)
npo+spunge(ties)
npo+wagle(0.95)+spunge(ties)
simnpo
idkdpo
rmu
undial"
got=$(rows t.md forget01)
[ "$got" = "$expected" ] && ok "forget01 rows in paper order, variants after their base, lr only where npo differs, one Target" \
  || bad "forget01 rows: $(echo "$got" | tr '\n' ',')"
[ "$(rows t.md forget05 | tr '\n' ',')" = "Target,Retain,ga,npo," ] && ok "forget05 rows" \
  || bad "forget05 rows: $(rows t.md forget05 | tr '\n' ',')"
# the Target ran at two learning rates (it does not depend on them): one row, two seeds, std over seeds
expect_cell t.md forget01 Target seeds 2
expect_cell t.md forget01 Target MU "0.600 ± 0.000"
expect_cell t.md forget01 Target "forget ROUGE-L" "0.960 ± 0.014"
expect_cell t.md forget01 Target privleak "-100.0 ± 0.0"
expect_cell t.md forget01 Target relearn "–"
expect_cell t.md forget01 Retain FQ "1.00e+00 ± 0.0e+00"
expect_cell t.md forget01 Retain "log10 FQ" "0.00 ± 0.00"
expect_cell t.md forget01 Retain privleak "0.0 ± 0.0"
expect_cell t.md forget01 Retain MU "0.590 ± 0.014"
expect_cell t.md forget01 "npo (lr 1e-5)" MU "0.510 ± 0.014"
expect_cell t.md forget01 "npo (lr 1e-5)" "forget ROUGE-L" "0.210 ± 0.014"
expect_cell t.md forget01 "npo (lr 1e-5)" relearn "0.320 ± 0.028"
expect_cell t.md forget01 "npo (lr 1e-5)" probe "0.410 ± 0.014"
fq=$(cell t.md forget01 "npo (lr 1e-5)" FQ)
[ "${fq%% ±*}" = "$(stored_fq full.h5 forget01 npo 1e-5)" ] && ok "npo FQ is the mean of the stored values ($fq)" \
  || bad "npo FQ: table '$fq', stored mean $(stored_fq full.h5 forget01 npo 1e-5)"
expect_cell t.md forget01 "npo (lr 1e-4)" seeds 1
expect_cell t.md forget01 "npo (lr 1e-4)" MU "0.450"
expect_cell t.md forget05 npo MU "0.410 ± 0.014"
expect_cell t.md forget05 Target privleak "-100.0 ± 0.0"
check "the failed point is listed under forget01 with its message" \
  grep -qE "^- npo \(lr 1e-4\), seed 2 \(point [0-9]+\): diverged: unlearning loss -1.2e\+03 at step 12 is past unlearn.diverge$" t.md
check "the pending point is counted" has t.md "43 of 45 points done; 1 point pending (not run yet)."

"$PY" "$A/tables.py" min.h5 > m.md && ok "tables.py on the minimal file" || bad "tables.py minimal"
[ "$(rows m.md forget10 | tr '\n' ',')" = "Target,Retain,npo," ] && ok "the constant split comes from spec_yaml" \
  || bad "minimal rows: $(cat m.md)"
expect_cell m.md forget10 npo MU "0.480"

"$PY" "$A/tables.py" full.h5 --split forget05 > s.md
check "--split forget05 prints that table only" eval 'has s.md "### forget05" && lacks s.md "### forget01"'
"$PY" "$A/tables.py" full.h5 --split forget99 > /dev/null 2> s.err
[ $? -eq 1 ] && has s.err "forget99" && has s.err "'forget01'" && ok "an unknown --split exits 1 naming the splits" \
  || bad "--split forget99: $(cat s.err)"

# ---- tables.py, LaTeX
"$PY" "$A/tables.py" full.h5 --format latex --out t.tex > t.out && ok "--format latex --out" || bad "latex"
check "--out leaves standard output empty" test ! -s t.out
[ "$(grep -c '^\\begin{tabular}' t.tex)" -eq 2 ] && [ "$(grep -c '^\\toprule' t.tex)" -eq 2 ] \
  && [ "$(grep -c '^\\bottomrule' t.tex)" -eq 2 ] && ok "two booktabs tables" || bad "booktabs: $(head -20 t.tex)"
check "LaTeX rows carry mean \\pm std" has t.tex 'npo (lr 1e-5) & 2 & '
check "LaTeX MU cell" has t.tex '$0.510 \pm 0.014$'
check "LaTeX FQ in scientific notation" has t.tex '$1.00{\times}10^{0} \pm 0.0{\times}10^{0}$'
check "LaTeX lists the failed point" has t.tex 'Failed points: npo (lr 1e-4), seed 2'

# ---- plots.py
"$PY" "$A/plots.py" full.h5 --out figs > p.log 2>&1 && ok "plots.py exits 0" || bad "plots.py: $(cat p.log)"
"$PY" "$A/plots.py" min.h5 --out figs_min > pm.log 2>&1 && ok "plots.py on the minimal file" || bad "plots.py min: $(cat pm.log)"
check "no loss plot without /curves/loss" eval 'has pm.log "no /curves/loss" && test ! -e figs_min/loss_forget10.png'
"$PY" - figs/frontier_forget01.png figs/frontier_forget05.png figs/loss_forget01.png figs/loss_forget05.png \
  figs_min/frontier_forget10.png <<'EOF' && ok "five valid PNG files (signature, decodable, not blank)" || bad "PNG files"
import sys
import matplotlib.image as image
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n", f"{path}: no PNG signature"
    pixels = image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 200 and pixels.shape[1] > 300, f"{path}: {pixels.shape}"
    assert pixels[..., :3].std() > 0.01, f"{path}: blank"
EOF

# ---- claims.py
"$PY" "$A/claims.py" full.h5 > c.txt 2> c.err && ok "claims.py exits 0 although claims fail" || bad "claims.py: $(cat c.err)"
for line in \
  "(a) WAGLE improves forgetting at matched utility: not held (held in 2 of 3 comparisons)" \
  "    not held: forget01 ga+wagle(0.8) vs ga: " \
  "    held: forget01 npo+wagle(0.95) vs npo (lr 1e-5): " \
  "    held: forget01 npo+wagle(0.95)+spunge(ties) vs npo+spunge(ties): " \
  "    no base: forget01 graddiff+wagle(0.9): no done graddiff point at the same hyperparameters (the variant has unlearn.lr=5e-6; the nearest graddiff unlearn.lr=1e-5)" \
  "    not counted (ablation scores, not WAGLE's): forget01 npo+wagle-random(0.95)" \
  "(b) SPUNGE improves its base method: not held (held for merge mean; not held for merge ties)" \
  "  merge mean: held (held in 1 of 1 comparison)" \
  "  merge ties: not held (held in 0 of 2 comparisons)" \
  "    held: forget01 npo+spunge(mean) vs npo (lr 1e-5): " \
  "    not held: forget01 npo+wagle(0.95)+spunge(ties) vs npo+wagle(0.95): " \
  "(c) NPO keeps more utility than gradient ascent: not held (held on 1 of 2 splits)" \
  "    held: forget01: MU npo 0.490 (3 points) vs ga 0.310 (2 points); forget ROUGE-L npo 0.200 vs ga 0.190 (comparable: within 0.05)" \
  "    not held: forget05: MU npo 0.410 (2 points) vs ga 0.460 (2 points); forget ROUGE-L npo 0.260 vs ga 0.250" \
  "MU tolerance 0.02 absolute"; do
  check "claims: ${line# *}" has c.txt "$line"
done
check "the ga+wagle comparison fails on utility" grep -qE "ga\+wagle\(0.8\) vs ga: .*MU -0.060 against the base, beyond the 0.02 tolerance" c.txt
check "the wagle+spunge comparison holds through forget ROUGE alone" \
  grep -qE "held: forget01 npo\+wagle\(0.95\)\+spunge\(ties\) vs npo\+spunge\(ties\): .*; forget ROUGE-L lower; MU" c.txt

# the same file with npo+wagle's MU 0.03 below npo's, and forget05's npo forgetting less but keeping more utility
cp full.h5 changed.h5
"$PY" - changed.h5 <<'EOF'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    p, mu, rouge = f["points"], f["metrics/model_utility"], f["metrics/forget_rouge"]
    m, split, seed = p["method"][()], p["data.split"][()], p["seed"][()]
    mu_new, rouge_new = mu[()], rouge[()]
    for i in range(m.size):
        if m[i] == b"npo+wagle(0.95)":
            mu_new[i] = {1: 0.47, 2: 0.49}[seed[i]]   # npo: 0.50, 0.52
        if m[i] == b"npo" and split[i] == b"forget05":
            mu_new[i], rouge_new[i] = 0.50, 0.50     # ga: MU 0.46, ROUGE 0.25
    mu[...], rouge[...] = mu_new, rouge_new
EOF
"$PY" "$A/claims.py" changed.h5 > cc.txt
check "claims follow the numbers: a 0.03 utility drop breaks WAGLE's comparison" \
  has cc.txt "(a) WAGLE improves forgetting at matched utility: not held (held in 1 of 3 comparisons)"
check "claims: npo+wagle now beyond the tolerance" grep -qE "not held: forget01 npo\+wagle\(0.95\) vs npo .*MU -0.030" cc.txt
check "claims: a split where NPO forgets less does not test (c)" \
  has cc.txt "    not testable: forget05: MU npo 0.500 (2 points) vs ga 0.460 (2 points); forget ROUGE-L npo 0.500 vs ga 0.250 (npo forgets less"
check "claims: (c) rests on the one comparable split" \
  has cc.txt "(c) NPO keeps more utility than gradient ascent: held (held on 1 of 1 split)"

"$PY" "$A/claims.py" min.h5 > cm.txt 2>&1 && ok "claims.py exits 0 when nothing is testable" || bad "claims minimal: $(cat cm.txt)"
check "minimal: (a) not testable with the reason" has cm.txt "(a) WAGLE improves forgetting at matched utility: not testable (no +wagle variant among the done points)"
check "minimal: (b) not testable with the reason" has cm.txt "(b) SPUNGE improves its base method: not testable (no +spunge variant among the done points)"
check "minimal: (c) not testable with the reason" has cm.txt "(c) NPO keeps more utility than gradient ascent: not testable (no split has done points of both npo and ga)"

# ---- recompute.py: its statistics against independent references
PYTHONPATH="$A" "$PY" - <<'EOF' && ok "KS tail matches the reference table and SciPy; AUC matches pair counting" || bad "KS / AUC references"
import math
import numpy as np
from scipy import stats
from recompute import auc_midrank, ks_count, ks_log10_tail
# unlearning.md, "Forget quality": (n, k) -> P(D >= k/n), given to 4 significant digits (the last to 6)
for n, k, p, rel in ((400, 400, 1.064e-239, 5e-4), (200, 200, 1.943e-119, 5e-4), (200, 77, 1.326e-13, 5e-4),
                     (400, 138, 1.662e-21, 5e-4), (10, 5, 0.167821, 5e-6)):
    got = 10 ** ks_log10_tail(n, k)
    assert abs(got / p - 1) < rel, (n, k, got, p)
assert ks_log10_tail(40, 0) == 0.0
rng = np.random.default_rng(7)
for n in (10, 40, 200, 400):
    for shift in (0.0, 0.1, 0.5, 2.0):
        a, b = rng.random(n).round(2), (rng.random(n) + shift).round(2)  # rounded: ties across samples
        ref = stats.ks_2samp(a, b, method="exact")
        k = ks_count(a, b)
        assert k == round(ref.statistic * n), (n, shift, k, ref.statistic)
        assert abs(ks_log10_tail(n, k) * math.log(10) - math.log(ref.pvalue)) < 1e-9, (n, shift)
        m, h = rng.normal(shift, 1, n).round(1), rng.normal(0, 1, n + 3).round(1)
        pairs = ((m[:, None] > h[None, :]).sum() + 0.5 * (m[:, None] == h[None, :]).sum()) / (m.size * h.size)
        assert abs(auc_midrank(m, h) - pairs) < 1e-12, (auc_midrank(m, h), pairs)
EOF

"$PY" "$A/recompute.py" full.h5 > r.txt 2> r.err && ok "recompute.py passes on the consistent file" || bad "recompute: $(cat r.txt r.err)"
check "recompute checked every done point's FQ" grep -qE "^forget_quality +43 +0 .* ok$" r.txt
check "recompute checked privleak" grep -qE "^privleak +43 +0 .* ok$" r.txt
"$PY" "$A/recompute.py" min.h5 > rm.txt 2>&1 && ok "recompute.py passes on the minimal file (forget10, p ~ 1e-110)" \
  || bad "recompute minimal: $(cat rm.txt)"

tamper() { # name, metric, python expression of v (the row's value): writes name.h5 with one done row changed
  cp full.h5 "$1.h5"
  "$PY" - "$1.h5" "$2" "$3" <<'EOF'
import sys, h5py, numpy as np
path, metric, expr = sys.argv[1:]
with h5py.File(path, "r+") as f:
    row = int(np.flatnonzero(f["points/status"][()] == 1)[3])
    values = f[f"metrics/{metric}"][()]
    v = values[row]
    values[row] = eval(expr)
    f[f"metrics/{metric}"][...] = values
EOF
}
tamper fq forget_quality "v * (1 + 1e-5)"
"$PY" "$A/recompute.py" fq.h5 > /dev/null 2> fq.err
[ $? -eq 1 ] && has fq.err "/metrics/forget_quality disagrees with /samples" && ok "FQ off by 1e-5 relative fails" \
  || bad "tampered FQ: $(cat fq.err)"
tamper auc mia_zlib_auc "v + 1e-4"
"$PY" "$A/recompute.py" auc.h5 > /dev/null 2> auc.err
[ $? -eq 1 ] && has auc.err "/metrics/mia_zlib_auc disagrees" && ok "a ZLib AUC off by 1e-4 fails" || bad "tampered AUC: $(cat auc.err)"
tamper leak privleak "v + 1e-3"
"$PY" "$A/recompute.py" leak.h5 > /dev/null 2> leak.err
[ $? -eq 1 ] && has leak.err "/metrics/privleak disagrees" && ok "privleak off by 1e-3 fails" || bad "tampered privleak: $(cat leak.err)"
tamper near privleak "v * (1 + 1e-9)"
"$PY" "$A/recompute.py" near.h5 > near.txt 2>&1 && ok "a 1e-9 relative change is within the tolerance" || bad "near: $(cat near.txt)"
tamper unmeasured mia_ref_auc "float('nan')"
"$PY" "$A/recompute.py" unmeasured.h5 > /dev/null 2> unmeasured.err
[ $? -eq 1 ] && has unmeasured.err "/metrics/mia_ref_auc disagrees" && ok "a NaN metric whose samples exist fails" \
  || bad "NaN metric: $(cat unmeasured.err)"

# ---- files that are not unlearn results files: every script exits 1 naming the file and the problem
echo "not a results file" > notes.txt
"$PY" - <<'EOF'
import h5py, numpy as np
with h5py.File("lm.h5", "w") as f:  # the lm workload's results file
    f.attrs["format"] = np.bytes_("trustbench-results")
    f.attrs["workload"] = np.bytes_("lm")
    for g in ("points", "metrics", "curves", "samples"):
        f.create_group(g)
    f["points/status"] = np.ones(2, dtype=np.int32)
with h5py.File("full.h5", "r") as src, h5py.File("nomethod.h5", "w") as f:
    for k, v in src.attrs.items():
        f.attrs[k] = v
    src.copy("metrics", f)
    for col in ("id", "status", "seed"):
        src.copy(f"points/{col}", f, name=f"points/{col}")
with h5py.File("full.h5", "r") as src, h5py.File("badmethod.h5", "w") as f:
    for k, v in src.attrs.items():
        f.attrs[k] = v
    src.copy("metrics", f)
    src.copy("points", f)
    m = f["points/method"][()]
    m[np.flatnonzero(f["points/status"][()] == 1)[0]] = b"sgd+wagle(0.5)"
    f["points/method"][...] = m
EOF
for script in tables claims recompute plots; do
  for case in "notes.txt|notes.txt|cannot be read as HDF5" "lm.h5|lm.h5|its workload is 'lm', expected 'unlearn'" \
              "nomethod.h5|nomethod.h5|has no /points/method dataset" "absent.h5|absent.h5|no such file" \
              "badmethod.h5|/points/method row|has base 'sgd'"; do
    script_refuses "$script" "$case"
  done
done

finish
