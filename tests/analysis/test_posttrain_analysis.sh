#!/usr/bin/env bash
# The analysis scripts (tables.py, plots.py, claims.py) on synthetic posttrain results files from
# make_posttrain_fixture.py, whose numbers make each claim's outcome known by hand (see its docstring):
# main (mode full, λ 0.25 and 0.75, every claim held, a failed and a pending point) and second (LoRA,
# λ 0.5 from the spec, train.lr swept, every claim failing at lr 1e-4). Every table cell and every
# claim line is recomputed here from the file with h5py and numpy alone; the verdicts are the design's.
# Then the PNG files, the plotted mean trajectories, claims that cannot be tested, and files that are
# not posttrain results files (one line on stderr naming the file and the problem, exit 1).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/lib.sh"
A="$ROOT/analysis"
PY=/usr/bin/python3 # Debian's h5py, numpy and matplotlib live with the system interpreter
W=$(mktemp -d "${TMPDIR:-/tmp}/tb_posttrain_analysis.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"
export MPLBACKEND=Agg PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree
# tally FILE MIN: turns the "PASS<tab>what" / "FAIL<tab>what" lines of a checker into ok/bad, and fails
# when the checker ran fewer than MIN assertions (so a checker that stopped early cannot pass)
tally() {
  local n=0 verdict what
  while IFS=$'\t' read -r verdict what; do
    n=$((n + 1))
    if [ "$verdict" = PASS ]; then ok "$what"; else bad "$what"; fi
  done < "$1"
  [ "$n" -ge "$2" ] && ok "$1: $n assertions" || bad "$1: $n assertions, expected at least $2"
}

# ---- the independent reference: what each table cell and claim line must be, from the file alone
cat > expect.py <<'EOF'
"""expect.py RESULTS.h5 VARIANT TABLES.md CLAIMS.txt: checks tables.py's and claims.py's output against
values computed here from the file (h5py, numpy), printing PASS/FAIL lines. VARIANT: main or second."""
import math
import sys

import h5py
import numpy as np

path, variant, tables_path, claims_path = sys.argv[1:]
TITLE = {"sequential": "Sequential", "mix": "Mix", "alright": "ALRIGHT", "maxright": "MAXRIGHT"}
out = []


def expect(what, got, want):
    out.append(("PASS" if got == want else "FAIL") + f"\t{what}" + ("" if got == want else f": got {got!r}, want {want!r}"))


with h5py.File(path, "r") as f:
    p, m = f["points"], f["metrics"]
    done = p["status"][()] == 1
    method = np.array([x.decode() for x in p["method"][()]])
    seed = p["seed"][()]
    # λ: main sweeps it; second states train.lambda=0.5 in spec_canonical only
    lam = p["train.lambda"][()] if variant == "main" else np.full(done.size, 0.5)
    lr = p["train.lr"][()] if variant == "second" else np.zeros(done.size)
    metric = {name: m[name][()] for name in m}
base = np.array([x.split("+")[0] for x in method])
mode = "LoRA" if variant == "second" else "full fine-tuning"
mode_word = "lora" if variant == "second" else "full"
lams = sorted(set(lam[done]))
lrs = sorted(set(lr[done]))  # the rows' order: train.lr ascending (1e-5 before 1e-4)
lr_text = {1e-5: "1e-5", 1e-4: "1e-4"}


def rows(b, l, r):
    return np.flatnonzero(done & (base == b) & (lam == l) & (lr == r))


def stats(values):
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    return (v.mean(), v.std(ddof=1) if v.size > 1 else math.nan, v.size) if v.size else (math.nan, math.nan, 0)


def cell(mean, std, n, decimals, signed=False):
    if n == 0:
        return "–"
    text = ("%+.*f" if signed else "%.*f") % (decimals, mean)
    return text + (" ± %.*f" % (decimals, std) if n > 1 else "")


def by_seed(name, idx):
    return {int(seed[i]): metric[name][i] for i in idx if not math.isnan(metric[name][i])}


# ---- tables: parse tables.py's Markdown
tables = {}
heading = None
for line in open(tables_path).read().split("\n"):
    if line.startswith("### "):
        heading, header = line[4:], None
        tables[heading] = {}
    elif heading and line.startswith("|"):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if header is None:
            header = cells
        elif not cells[0].startswith(":"):
            tables[heading][cells[0]] = dict(zip(header, cells))
main_t = tables.get(f"{mode}: task accuracy, capability, win rate, ideal distance, runtime", {})
gap_t = tables.get(f"{mode}: optimality gaps, reward accuracy, SFT loss at Sequential's switch, peak memory", {})
labels = [TITLE[b] + (f" (lr {lr_text[r]})" if variant == "second" else "")
          for r in lrs for b in ("sequential", "mix", "alright", "maxright")]
expect(f"{mode}: rows in the paper's order", list(main_t), labels)
expect(f"{mode}: gap table rows", list(gap_t), labels)
for r in lrs:
    for b in ("sequential", "mix", "alright", "maxright"):
        label = TITLE[b] + (f" (lr {lr_text[r]})" if variant == "second" else "")
        for l in lams:
            idx, seq = rows(b, l, r), rows("sequential", l, r)
            col = lambda name: f"{name} λ={l:g}"
            for name, metric_name, table, digits in (
                    ("task acc", "task_acc", main_t, 3), ("capability", "capability_acc", main_t, 3),
                    ("win rate", "win_rate", main_t, 3), ("ideal dist", "ideal_distance", main_t, 3),
                    ("SFT gap", "gap_sft", gap_t, 3), ("DPO gap", "gap_dpo", gap_t, 3),
                    ("reward acc", "reward_acc", gap_t, 3), ("f_SFT at switch", "f_sft_switch", gap_t, 3),
                    ("peak RSS MiB", "peak_rss_mib", gap_t, 0)):
                want = cell(*stats(metric[metric_name][idx]), digits)
                expect(f"{label} {col(name)} = {want}", table.get(label, {}).get(col(name)), want)
            mine, theirs = by_seed("train_s", idx), by_seed("train_s", seq)
            want = cell(*stats([100.0 * (mine[s] / theirs[s] - 1.0) for s in mine if s in theirs]), 1, True)
            expect(f"{label} {col('runtime %')} = {want}", main_t.get(label, {}).get(col("runtime %")), want)
        expect(f"{label} seeds", main_t.get(label, {}).get("seeds"),
               str(np.unique(seed[np.flatnonzero(done & (base == b) & (lr == r))]).size))

# ---- claims: each comparison line, from the means over seeds
claims = open(claims_path).read().split("\n")


def where(l, r):
    return ", ".join([mode_word, f"λ {l:g}"] + ([f"lr {lr_text[r]}"] if variant == "second" else []))


held = {"a": [], "b": [], "c": []}
for l in lams:
    for r in lrs:
        idx = rows("sequential", l, r)
        end, switch = stats(metric["f_sft"][idx])[0], stats(metric["f_sft_switch"][idx])[0]
        rise = end - switch
        h = rise > 1e-3
        held["a"].append(h)
        expect(f"claim (a) at {where(l, r)}", (f"    {'held' if h else 'not held'}: {where(l, r)}: f_SFT {end:.4f} at the "
                                               f"end vs {switch:.4f} at the switch, rise {rise:+.4f} "
                                               f"({'above' if h else 'not above'} 0.001; 2 seeds)") in claims, True)
for l in lams:
    for r in lrs:
        theirs = stats(metric["ideal_distance"][rows("sequential", l, r)])[0]
        for b in ("alright", "maxright"):
            mine = stats(metric["ideal_distance"][rows(b, l, r)])[0]
            h = mine < theirs
            held["b"].append(h)
            line = (f"    {'held' if h else 'not held'}: {where(l, r)}: {TITLE[b]} {mine:.3f} vs Sequential "
                    f"{theirs:.3f} ({mine - theirs:+.3f})")
            expect(f"claim (b) line {line.strip()}", line in claims, True)
        mix = stats(metric["train_s"][rows("mix", l, r)])[0]
        for b in ("alright", "maxright"):
            other = stats(metric["train_s"][rows(b, l, r)])[0]
            h = mix / other > 1.2
            held["c"].append(h)
            line = (f"    {'held' if h else 'not held'}: {where(l, r)}: Mix {mix:.4g} s / {TITLE[b]} {other:.4g} s "
                    f"= {mix / other:.3f}")
            expect(f"claim (c) line {line.strip()}", line in claims, True)
# the design's outcomes (make_posttrain_fixture.py): the numbers above must reproduce them
design = {"main": {"a": [True, True], "b": [True] * 4, "c": [True] * 4},
          "second": {"a": [True, False], "b": [True, True, True, False], "c": [True, True, False, True]}}[variant]
for k in "abc":
    expect(f"claim ({k}): the recomputed outcomes are the design's", held[k], design[k])
print("\n".join(out))
EOF

"$PY" "$ROOT/tests/analysis/make_posttrain_fixture.py" main.h5 \
  && "$PY" "$ROOT/tests/analysis/make_posttrain_fixture.py" second.h5 --variant second \
  && ok "fixtures written" || { bad "fixtures"; exit 1; }

# ---- tables.py and claims.py against the independent reference
for v in main second; do
  "$PY" "$A/tables.py" $v.h5 > $v.md 2> $v.err && ok "tables.py $v.h5 exits 0" || bad "tables.py $v: $(cat $v.err)"
  "$PY" "$A/claims.py" $v.h5 > $v.claims 2> $v.cerr && ok "claims.py $v.h5 exits 0" || bad "claims.py $v: $(cat $v.cerr)"
  "$PY" expect.py $v.h5 $v $v.md $v.claims > $v.check 2>&1
done
tally main.check 83    # 2 row orders, 4 methods x 2 λ x 8 cells, 4 seed counts, 10 claim lines, 3 outcomes
tally second.check 87  # 2 row orders, 8 rows x 8 cells, 8 seed counts, 10 claim lines, 3 outcomes

# the table values the fixture's design gives by hand (Pythagorean gaps; train_s per seed)
check "Sequential λ 0.25 ideal distance: 0.85 and 0.82" grep -qE "^\| Sequential +\| +2 \|.* 0\.835 ± 0\.021 \|" main.md
check "MAXRIGHT λ 0.75 ideal distance: 0.17 and 0.10" grep -qE "^\| MAXRIGHT .* 0\.135 ± 0\.049 \|" main.md
check "Sequential's own runtime change is 0" grep -qE "^\| Sequential +\|.*\| +\+0\.0 ± 0\.0 \|$" main.md
check "the failed point is listed with its message" \
  grep -qE "^- Mix, λ 0\.75, seed 3 \(point [0-9]+\): diverged: DPO loss nan at step 17$" main.md
check "the pending point is counted" has main.md "16 of 18 points done; 1 point pending (not run yet)."
check "λ from spec_canonical heads second's columns" has second.md "| task acc λ=0.5 |"
check "one table pair per mode" test "$(grep -c '^### ' main.md)" -eq 2
check "second is a LoRA table" has second.md "### LoRA: task accuracy, capability, win rate, ideal distance, runtime"

# ---- the claims' verdicts (the design's, by hand)
for line in \
  "(a) Sequential forgets SFT during DPO (final f_SFT above f_SFT at the switch by more than 0.001): held (held in 2 of 2 configurations)" \
  "(b) ALRIGHT and MAXRIGHT end closer to the utopia point than Sequential (lower mean ideal distance): held (held in 4 of 4 comparisons)" \
  "(c) Mix costs noticeably more time than ALRIGHT and MAXRIGHT (mean train_s ratio above 1.2): held (held in 4 of 4 comparisons)" \
  "    held: full, λ 0.25: f_SFT 1.6550 at the end vs 1.5300 at the switch, rise +0.1250 (above 0.001; 2 seeds)" \
  "    held: full, λ 0.75: MAXRIGHT 0.135 vs Sequential 0.630 (-0.495)" \
  "    held: full, λ 0.25: Mix 140 s / ALRIGHT 100.5 s = 1.393" \
  "Mix/ALRIGHT 1.38 and Mix/MAXRIGHT 1.34"; do
  check "main claims: ${line# *}" has main.claims "$line"
done
for line in \
  "(a) Sequential forgets SFT during DPO (final f_SFT above f_SFT at the switch by more than 0.001): not held (held in 1 of 2 configurations)" \
  "(b) ALRIGHT and MAXRIGHT end closer to the utopia point than Sequential (lower mean ideal distance): not held (held in 3 of 4 comparisons)" \
  "(c) Mix costs noticeably more time than ALRIGHT and MAXRIGHT (mean train_s ratio above 1.2): not held (held in 3 of 4 comparisons)" \
  "    not held: lora, λ 0.5, lr 1e-4: f_SFT 1.7200 at the end vs 1.7195 at the switch, rise +0.0005 (not above 0.001; 2 seeds)" \
  "    not held: lora, λ 0.5, lr 1e-4: MAXRIGHT 0.850 vs Sequential 0.630 (+0.220)" \
  "    not held: lora, λ 0.5, lr 1e-4: Mix 55 s / ALRIGHT 50 s = 1.100"; do
  check "second claims: ${line# *}" has second.claims "$line"
done

# claims that cannot be tested: no f_sft_switch; only Sequential points done
cp main.h5 noswitch.h5
"$PY" -c "import h5py, sys; del h5py.File(sys.argv[1], 'r+')['metrics/f_sft_switch']" noswitch.h5
"$PY" "$A/claims.py" noswitch.h5 > ns.txt 2>&1 && ok "claims.py exits 0 without f_sft_switch" || bad "noswitch: $(cat ns.txt)"
check "(a) not testable without f_sft_switch" \
  has ns.txt "(a) Sequential forgets SFT during DPO (final f_SFT above f_SFT at the switch by more than 0.001): not testable (/metrics/f_sft_switch absent)"
cp main.h5 seqonly.h5
"$PY" - seqonly.h5 <<'EOF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r+") as f:
    status = f["points/status"][()]
    status[[not m.startswith(b"sequential") for m in f["points/method"][()]]] = 0
    f["points/status"][...] = status
EOF
"$PY" "$A/claims.py" seqonly.h5 > so.txt 2>&1 && ok "claims.py exits 0 with Sequential points alone" || bad "seqonly: $(cat so.txt)"
check "(b) not testable with the reason" \
  has so.txt "(b) ALRIGHT and MAXRIGHT end closer to the utopia point than Sequential (lower mean ideal distance): not testable (no λ has a measured Sequential and ALRIGHT or MAXRIGHT)"
check "(b) names the missing method" has so.txt "    not compared: full, λ 0.75: no done MAXRIGHT point"
check "(c) not testable with the reason" \
  has so.txt "(c) Mix costs noticeably more time than ALRIGHT and MAXRIGHT (mean train_s ratio above 1.2): not testable (no λ has measured Mix and ALRIGHT or MAXRIGHT points)"
check "(a) still tested on Sequential alone" has so.txt "held (held in 2 of 2 configurations)"
"$PY" "$A/tables.py" seqonly.h5 > so.md && check "tables with Sequential alone: one row per table" \
  test "$(grep -c '^| Sequential ' so.md)" -eq 2

# ---- tables.py, LaTeX and options
"$PY" "$A/tables.py" main.h5 --format latex --out main.tex > tex.out && ok "--format latex --out" || bad "latex"
check "--out leaves standard output empty" test ! -s tex.out
check "two booktabs tables" test "$(grep -c '^\\begin{tabular}' main.tex)" -eq 2
check "a column group per λ" has main.tex ' & & \multicolumn{5}{c}{$\lambda = 0.25$} & \multicolumn{5}{c}{$\lambda = 0.75$} \\'
check "the groups' rules" has main.tex '\cmidrule(lr){3-7} \cmidrule(lr){8-12}'
check "LaTeX cells carry mean \\pm std" has main.tex 'Sequential & 2 & '
check "LaTeX ideal distance cell" has main.tex '$0.835 \pm 0.021$'
check "LaTeX lists the failed point" has main.tex 'Failed points: Mix, $\lambda$ 0.75, seed 3'
check "LaTeX is plain ASCII (λ, ± and − as math: pdflatex knows no others)" eval "! LC_ALL=C grep -q '[^ -~]' main.tex"
"$PY" "$A/tables.py" main.h5 --split forget10 > /dev/null 2> split.err
[ $? -eq 1 ] && [ "$(wc -l < split.err)" -eq 1 ] && has split.err "main.h5" && has split.err "posttrain" \
  && ok "--split on a posttrain file: exit 1, one line" || bad "--split: $(cat split.err)"

# ---- plots.py: the files, and the plotted mean trajectories against numpy's nanmean
"$PY" "$A/plots.py" main.h5 --out figs > p.log 2>&1 && ok "plots.py main exits 0" || bad "plots.py: $(cat p.log)"
"$PY" "$A/plots.py" second.h5 --out figs2 > p2.log 2>&1 && ok "plots.py second exits 0" || bad "plots.py: $(cat p2.log)"
check "trajectory λ 0.25: four methods, the utopia at the design's f*" \
  has p.log "wrote figs/trajectory_full_lambda0.25.png: 4 trajectories; utopia at (1.5000, 0.0500)"
check "trajectory λ 0.5 of second: eight configurations" \
  has p2.log "wrote figs2/trajectory_lora_lambda0.5.png: 8 trajectories; utopia at (1.5000, 0.0500)"
"$PY" - figs/trajectory_full_lambda0.25.png figs/trajectory_full_lambda0.75.png figs/loss_full_lambda0.25.png \
  figs/loss_full_lambda0.75.png figs2/trajectory_lora_lambda0.5.png figs2/loss_lora_lambda0.5.png <<'EOF' \
  && ok "six valid PNG files (non-empty, signature, decodable, not blank)" || bad "PNG files"
import os, sys
import matplotlib.image as image
for path in sys.argv[1:]:
    assert os.path.getsize(path) > 0, f"{path}: empty"
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n", f"{path}: no PNG signature"
    pixels = image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 200 and pixels.shape[1] > 300, f"{path}: {pixels.shape}"
    assert pixels[..., :3].std() > 0.01, f"{path}: blank"
EOF
check "exactly those files" test "$(ls figs figs2 | grep -c png)" -eq 6
PYTHONPATH="$A" "$PY" - main.h5 <<'EOF' && ok "plotted trajectory = per-step nanmean over seeds at the eval steps" || bad "trajectory means"
import sys
import h5py
import numpy as np
from posttrain import mean_trajectory
with h5py.File(sys.argv[1], "r") as f:
    status, method = f["points/status"][()], f["points/method"][()]
    lam = f["points/train.lambda"][()]
    a, b = f["curves/f_sft_eval"][()], f["curves/f_dpo_eval"][()]
rows = np.flatnonzero((status == 1) & (method == b"alright") & (lam == 0.25))
assert rows.size == 2
steps, x, y = mean_trajectory(a, b, list(rows))
assert list(steps) == [0, 10, 20, 30, 40], steps
ref_x = np.nanmean(a[rows][:, steps].astype(float), axis=0)
ref_y = np.nanmean(b[rows][:, steps].astype(float), axis=0)
assert np.allclose(x, ref_x, rtol=0, atol=1e-12) and np.allclose(y, ref_y, rtol=0, atol=1e-12)
assert abs(x[0] - 2.0) < 1e-6 and abs(y[0] - np.log(2)) < 1e-6  # θ0's losses
# the last point is the final eval: the mean of the stored f_sft, f_dpo (float32 curves)
with h5py.File(sys.argv[1], "r") as f:
    assert abs(x[-1] - f["metrics/f_sft"][()][rows].mean()) < 1e-6
    assert abs(y[-1] - f["metrics/f_dpo"][()][rows].mean()) < 1e-6
# a seed that logged fewer steps: each step averages the rows that logged it
short = a[rows].astype(float)
short[1, 30:] = np.nan
steps, x, _ = mean_trajectory(short, b[rows], [0, 1])
assert list(steps) == [0, 10, 20, 30, 40] and x[-1] == short[0, 40] and x[2] == short[:, 20].mean()
EOF

# curves that start after the first step (no step-0 column): θ0's losses from /metrics/f_sft_init and
# f_dpo_init start the line; with a step-0 column they are not added again
PYTHONPATH="$A" "$PY" - main.h5 <<'EOF' && ok "a trajectory without step 0 starts at θ0's losses" || bad "θ0 start"
import math, shutil, sys
import h5py
import numpy as np
import posttrain
from results import load
for path in ("late.h5", "early.h5"):
    shutil.copy(sys.argv[1], path)
    with h5py.File(path, "r+") as f:
        n = f["points/status"].shape[0]
        f["metrics/f_sft_init"] = np.full(n, 2.25)  # not the curves' 2.0, to tell which one starts the line
        f["metrics/f_dpo_init"] = np.full(n, math.log(2.0))
        for name in ("f_sft_eval", "f_dpo_eval"):
            c = f["curves"][name][()]
            c[:, 0] = np.nan if path == "late.h5" else c[:, 0]
            f["curves"][name][...] = c
for path, first in (("late.h5", (2.25, math.log(2.0))), ("early.h5", (2.0, math.log(2.0)))):
    with load(path, {"posttrain": posttrain.parse_method}) as res:
        curves = {name: res.curve(name) for name in ("f_sft_eval", "f_dpo_eval")}
        cfg = next(c for c in posttrain.configurations(res) if c.method.base == "mix" and c.lam == 0.25)
        x, y = posttrain.trajectory(res, curves, cfg)
    assert x.size == 5 and abs(x[0] - first[0]) < 1e-6 and abs(y[0] - first[1]) < 1e-6, (path, x, y)
EOF

# f* estimated per learning rate: one utopia point per setting; no curves: no figures, exit 0
cp second.h5 twostar.h5
cp main.h5 nocurves.h5
"$PY" - twostar.h5 nocurves.h5 <<'EOF'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    star = f["metrics/f_sft_star"][()]
    star[f["points/train.lr"][()] == 1e-4] = 1.6
    f["metrics/f_sft_star"][...] = star
with h5py.File(sys.argv[2], "r+") as f:
    for name in list(f["curves"]):
        del f["curves"][name]
EOF
"$PY" "$A/plots.py" twostar.h5 --out figs3 > p3.log 2>&1 && ok "plots.py with two f* estimates exits 0" || bad "twostar: $(cat p3.log)"
check "a utopia point per learning rate when the estimates differ" \
  has p3.log "8 trajectories; utopia (lr 1e-5) at (1.5000, 0.0500); utopia (lr 1e-4) at (1.6000, 0.0500)"
"$PY" "$A/plots.py" nocurves.h5 --out figs4 > p4.log 2>&1 && ok "plots.py without curves exits 0" || bad "nocurves: $(cat p4.log)"
check "without curves: no figures, and it says why" eval 'has p4.log "no /curves/f_sft_eval and /curves/f_dpo_eval: no trajectory plots" \
  && has p4.log "no /curves/loss, f_sft_eval or f_dpo_eval: no loss plots" && test -z "$(ls figs4)"'

# ---- files that are not posttrain results files: every script exits 1 with one line naming file and problem
echo "not a results file" > notes.txt
"$PY" - <<'EOF'
import h5py, numpy as np
def copy(src_path, dst_path, skip=()):
    with h5py.File(src_path, "r") as src, h5py.File(dst_path, "w") as f:
        for k, v in src.attrs.items():
            f.attrs[k] = v
        for g in ("metrics", "curves", "samples", "topology"):
            src.copy(g, f)
        f.create_group("points").attrs.update(src["points"].attrs)
        for col in src["points"]:
            if col not in skip:
                src.copy(f"points/{col}", f["points"], name=col)
with h5py.File("lm.h5", "w") as f:  # the lm workload's results file
    f.attrs["format"] = np.bytes_("trustbench-results")
    f.attrs["workload"] = np.bytes_("lm")
    for g in ("points", "metrics", "curves", "samples"):
        f.create_group(g)
    f["points/status"] = np.ones(2, dtype=np.int32)
copy("main.h5", "nomethod.h5", skip=("method",))
copy("main.h5", "badmethod.h5")
copy("main.h5", "badlambda.h5")
copy("second.h5", "nolambda.h5")
copy("second.h5", "badmode.h5")
with h5py.File("badmethod.h5", "r+") as f:
    m = f["points/method"][()]
    m[np.flatnonzero(f["points/status"][()] == 1)[0]] = b"sgd+lora"
    f["points/method"][...] = m
with h5py.File("badlambda.h5", "r+") as f:
    lam = f["points/train.lambda"][()]
    lam[np.flatnonzero(f["points/status"][()] == 1)[2]] = 1.5
    f["points/train.lambda"][...] = lam
with h5py.File("nolambda.h5", "r+") as f:  # λ neither swept nor in the spec
    for attr in ("spec_canonical", "spec_yaml"):
        text = f.attrs[attr].decode()
        f.attrs[attr] = np.bytes_("\n".join(l for l in text.split("\n") if "lambda" not in l))
with h5py.File("badmode.h5", "r+") as f:
    mode = f["points/train.mode"][()]
    mode[np.flatnonzero(f["points/status"][()] == 1)[1]] = b"full"
    f["points/train.mode"][...] = mode
EOF
for script in tables claims plots; do
  for case in "notes.txt|notes.txt|cannot be read as HDF5" \
              "lm.h5|lm.h5|its workload is 'lm', expected 'unlearn' or 'posttrain'" \
              "absent.h5|absent.h5|no such file" \
              "nomethod.h5|not a posttrain results file|has no /points/method dataset" \
              "badmethod.h5|/points/method row|'sgd+lora' is not one of sequential, mix, alright, maxright, optionally followed by +lora" \
              "badlambda.h5|/points/train.lambda row|holds 1.5, not a DPO weight in [0, 1]" \
              "nolambda.h5|nolambda.h5|train.lambda is neither a /points column nor a key of spec_canonical or spec_yaml" \
              "badmode.h5|/points/train.mode row|is 'full' but /points/method row"; do
    script_refuses "$script" "$case"
  done
done
"$PY" "$A/recompute.py" main.h5 > /dev/null 2> rc.err
[ $? -eq 1 ] && has rc.err "main.h5" && has rc.err "its workload is 'posttrain', expected 'unlearn'" \
  && ok "recompute.py (unlearn only) refuses a posttrain file" || bad "recompute.py: $(cat rc.err)"

finish
