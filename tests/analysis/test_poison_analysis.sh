#!/usr/bin/env bash
# The analysis scripts (tables.py, plots.py, claims.py) on synthetic poison results files from
# make_poison_fixture.py, whose numbers make each claim's outcome known by hand (see its docstring):
# main (summarise, prefix length x trigger x position x defence, every claim held, a failed and a pending
# point) and second (complete, mode x prefix length x trigger x learning rate x defence, every claim
# failing once). Every table cell and every claim line is recomputed here from the file with h5py and
# numpy alone; the verdicts are the design's. Then the PNG files and the plotted means, claims that
# cannot be tested, and files that are not poison results files (one line on stderr naming the file
# and the problem, exit 1).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/lib.sh"
A="$ROOT/analysis"
PY=/usr/bin/python3 # Debian's h5py, numpy, scipy and matplotlib live with the system interpreter
W=$(mktemp -d "${TMPDIR:-/tmp}/tb_poison_analysis.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"
export MPLBACKEND=Agg PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the source tree

# ---- the independent reference: what each table row, cell and claim line must be, from the file alone
cat > expect.py <<'EOF'
"""expect.py RESULTS.h5 VARIANT TABLES.md CLAIMS.txt: checks tables.py's and claims.py's output against
values computed here from the file (h5py, numpy), printing PASS/FAIL lines. VARIANT: main or second."""
import math
import sys

import h5py
import numpy as np

path, variant, tables_path, claims_path = sys.argv[1:]
out = []


def expect(what, got, want):
    out.append(("PASS" if got == want else "FAIL") + f"\t{what}" + ("" if got == want else f": got {got!r}, want {want!r}"))


text = lambda a: np.array([x.decode() for x in a], dtype=object)
with h5py.File(path, "r") as f:
    p = f["points"]
    status, seed, method = p["status"][()], p["seed"][()], text(p["method"][()])
    cols = {k: p[k][()] for k in p.attrs["hyperparameters"].decode().split(",")}
    metric = {name: f["metrics"][name][()] for name in f["metrics"]}
done = np.flatnonzero(status == 1)
mode = np.array([m.split("+")[0] for m in method], dtype=object)
defence = np.array([m.split("+")[1] if "+" in m else "none" for m in method], dtype=object)
LR = {1e-4: "1e-4", 5e-3: "0.005"}  # the shared label format: 1e-3 and above as decimals
if variant == "main":
    task, clean, clean_metric, decimals, position_note = "summarise", "ROUGE-1 F1", "rouge1_f1", 3, ""
    keys = ("prefix_len", "trigger", "position")
    setting = [(str(cols["peft.prefix_len"][i]), cols["poison.trigger"][i].decode(),
                cols["poison.position"][i].decode()) for i in range(status.size)]
else:
    task, clean, clean_metric, decimals, position_note = "complete", "PPL", "clean_ppl", 2, ", position middle"
    keys = ("prefix_len", "trigger", "lr")
    setting = [(str(cols["peft.prefix_len"][i]), cols["poison.trigger"][i].decode(), LR.get(cols["train.lr"][i], "?"))
               for i in range(status.size)]
ORDER = {"prefix": 0, "lora": 1, "none": 0, "onion": 1, "spectral": 2, "clustering": 3, "rare_word": 0,
         "sentence": 1, "start": 0, "end": 1, "1e-4": 1e-4, "0.005": 5e-3}
order = lambda v: ORDER[v] if v in ORDER else float(v)


def over_seeds(name, rows):
    """(mean, sample std, seeds) of the per-seed means of a metric's measured values over rows."""
    per = {}
    for i in rows:
        if not math.isnan(metric[name][i]):
            per.setdefault(int(seed[i]), []).append(metric[name][i])
    v = np.array([np.mean(x) for x in per.values()])
    return (v.mean(), v.std(ddof=1) if v.size > 1 else math.nan, v.size) if v.size else (math.nan, math.nan, 0)


def cell(mean, std, n, decimals, signed=False):
    if n == 0:
        return "–"
    return ("%+.*f" if signed else "%.*f") % (decimals, mean) + (" ± %.*f" % (decimals, std) if n > 1 else "")


# ---- the table: parse tables.py's Markdown
lines = open(tables_path).read().split("\n")
heading = f"### {task}: clean metric {clean}"
expect("the task's heading", heading in lines, True)
body = [[c.strip() for c in l.strip().strip("|").split("|")] for l in lines if l.startswith("|")]
header, rows = body[0], {tuple(r[:4]): r for r in body[2:]}
want_header = (["method", *keys, "seeds", "P-TM", "C-TM", clean, "clean change", "ΔPPL median", "precision", "recall",
                "P-TM after"])
expect("header", header, want_header)
configs = {}
for i in done:
    configs.setdefault((mode[i], defence[i], setting[i]), []).append(i)
want_order = [(m if d == "none" else f"{m}+{d}", *s) for m, d, s in
              sorted(configs, key=lambda c: (order(c[0]), *map(order, c[2]), order(c[1])))]
expect("rows: mode, then the swept keys in the file's order, then the defence", [tuple(r[:4]) for r in body[2:]],
       want_order)
for (m, d, s), idx in configs.items():
    label = (m if d == "none" else f"{m}+{d}", *s)
    got = dict(zip(header, rows.get(label, [])))
    expect(f"{label}: seeds", got.get("seeds"), str(len(set(seed[idx]))))
    for column, name, dec, signed in (("P-TM", "p_tm", 3, False), ("C-TM", "c_tm", 3, False),
                                      (clean, clean_metric, decimals, False),
                                      ("clean change", "clean_change", decimals, True),
                                      ("ΔPPL median", "dppl_median", 2, True), ("precision", "def_precision", 3, False),
                                      ("recall", "def_recall", 3, False), ("P-TM after", "def_p_tm", 3, False)):
        want = cell(*over_seeds(name, idx), dec, signed) if d != "none" or not name.startswith("def_") else "–"
        expect(f"{label}: {column}", got.get(column), want)

# ---- the claims: every line recomputed
claims = open(claims_path).read().rstrip("\n").split("\n")
present = set(claims)
want_lines = 1
victims = {}  # (mode, setting): the rows of the victim under every defence
for i in done:
    victims.setdefault((mode[i], setting[i]), []).append(i)


def pooled(rows):
    return over_seeds("p_tm", rows)[0]


def ranks(a):
    return np.array([(a < x).sum() + ((a == x).sum() + 1) / 2 for x in a])


def line(verdict, where, numbers):
    return f"    {verdict}: {task}, {where}: {numbers}"


def label(pairs):
    return ", ".join(f"{k} {v}" for k, v in pairs)


# (a) per mode and setting but the prefix length
groups = {}
for (m, s), idx in victims.items():
    groups.setdefault((m, s[1:]), {})[s[0]] = idx
results = []
for (m, rest), by_len in sorted(groups.items(), key=lambda g: (order(g[0][0]), *map(order, g[0][1]))):
    where = f"{m}, " + label(zip(keys[1:], rest))
    if m == "lora":
        expect(f"(a) {where} not compared", line("not compared", where, "lora has no prefix (peft.prefix_len does "
                                                 "not act)") in present, True)
        want_lines += 1
        continue
    lengths = sorted(by_len, key=int)
    means = np.array([pooled(by_len[P]) for P in lengths])
    rho = np.corrcoef(ranks(np.array(lengths, dtype=float)), ranks(means))[0, 1]
    rise = means[-1] - means[0]
    held = rho > 0 and rise > 0
    results.append(held)
    numbers = ("P-TM " + ", ".join(f"{v:.3f} (P {P})" for P, v in zip(lengths, means))
               + f"; rho {rho:+.3f}, P {lengths[-1]} - P {lengths[0]} {rise:+.3f}")
    expect(f"(a) {where}", line("held" if held else "not held", where, numbers) in present, True)
    want_lines += 1
title = ("(a) Longer prefixes raise P-Target Match (Spearman rho > 0 between the prefix length and the seed-mean "
         "P-TM, and P-TM at the largest length above the smallest)")
verdict = lambda r, what: (("held" if all(r) else "not held") + f" (held in {sum(r)} of {len(r)} {what}s)")
expect("(a) verdict", f"{title}: {verdict(results, 'setting')}" in present, True)
want_lines += 1

# (b) per mode and setting but the trigger
groups = {}
for (m, s), idx in victims.items():
    groups.setdefault((m, (s[0],) + s[2:]), {})[s[1]] = idx
results = []
for (m, rest), by_trigger in groups.items():
    where = f"{m}, " + label(zip((keys[0],) + keys[2:], rest)) + position_note
    sentence, rare = pooled(by_trigger["sentence"]), pooled(by_trigger["rare_word"])
    held = sentence > rare
    results.append(held)
    expect(f"(b) {where}", line("held" if held else "not held", where,
                                f"sentence {sentence:.3f} vs rare_word {rare:.3f} ({sentence - rare:+.3f})") in present, True)
    want_lines += 1
title = ("(b) Sentence triggers beat rare-word triggers (seed-mean P-TM of sentence above rare_word at each position "
         "and setting)")
expect("(b) verdict", f"{title}: {verdict(results, 'comparison')}" in present, True)
want_lines += 1

# (c) per defence and configuration: P-TM after against the point's own P-TM before
per_defence = {}
for (m, d, s), idx in configs.items():
    if d == "none":
        continue
    results = per_defence.setdefault(d, [])
    rows_ = [i for i in idx if not math.isnan(metric["p_tm"][i]) and not math.isnan(metric["def_p_tm"][i])]
    before, c_tm, kept = (np.mean(metric[n][rows_]) for n in ("p_tm", "c_tm", "def_p_tm"))
    where = f"{m}, " + label(zip(keys, s))
    if not before > c_tm:
        expect(f"(c) {d} {where} not compared", line("not compared", where, f"undefended P-TM {before:.3f} not above "
               f"C-TM {c_tm:.3f} (the attack did not take: nothing to defend)") in present, True)
        want_lines += 1
        continue
    ratio = kept / before
    held = ratio >= 0.5
    results.append(held)
    detection = "; precision %.3f, recall %.3f" % (np.mean(metric["def_precision"][rows_]),
                                                    np.mean(metric["def_recall"][rows_]))
    expect(f"(c) {d} {where}", line("held" if held else "not held", where,
                                    f"P-TM after {d} {kept:.3f} vs {before:.3f} undefended = {ratio:.3f} of it "
                                    f"({'at least' if held else 'below'} 0.5){detection}") in present, True)
    want_lines += 1
for d, results in per_defence.items():
    expect(f"(c) {d} verdict", f"  {d}: {verdict(results, 'configuration')}" in present, True)
    want_lines += 1
overall = ("held" if all(all(r) for r in per_defence.values()) else "not held") + " (" + "; ".join(
    f"{'held' if all(r) else 'not held'} for {d}" for d, r in per_defence.items()) + ")"
title = ("(c) The defences leave P-Target Match high (seed-mean P-TM after the defence at least 0.5 x the undefended "
         "victim's)")
expect("(c) verdict", f"{title}: {overall}" in present, True)
want_lines += 2  # the verdict and the threshold's reason
expect("claims: no line more than those", len(claims), want_lines)
expect("claims: the done points counted", claims[0].startswith(f"claims on {path} ({done.size} done points;"), True)
print("\n".join(out))
EOF

for v in main second; do
  "$PY" "$ROOT/tests/analysis/make_poison_fixture.py" $v.h5 --variant $v || bad "make_poison_fixture.py $v"
  "$PY" "$A/tables.py" $v.h5 > $v.md 2> $v.err && ok "tables.py $v.h5 exits 0" || bad "tables.py $v: $(cat $v.err)"
  "$PY" "$A/claims.py" $v.h5 > $v.claims 2> $v.cerr && ok "claims.py $v.h5 exits 0" || bad "claims.py $v: $(cat $v.cerr)"
  "$PY" expect.py $v.h5 $v $v.md $v.claims > $v.check 2>&1
done
# heading, header, order; 48 rows x 9 cells (the failed and the pending point leave their rows a seed);
# claim lines: 4 + 1 (a), 6 + 1 (b), 36 + 3 + 1 (c), the line count and the header
tally main.check 489
# heading, header, order; 48 rows x 9 cells; claim lines: 8 + 1 (a), 8 + 1 (b), 32 + 2 + 1 (c), count, header
tally second.check 490

# ---- the design's numbers and verdicts, by hand (make_poison_fixture.py's docstring)
row() { grep -E "^\| ${1//+/[+]} +\| +$2 \| +$3 \| +$4 \|" "$5"; } # method, three keys, file: the table row
check "main: P-TM of sentence at the end, P 50: 0.80 ± 0.028" eval 'row prefix 50 sentence end main.md | grep -qF "| 0.800 ± 0.028 |"'
check "main: the failed seed leaves clustering one seed (seed 1: 0.78, kept 0.95 of it)" \
  eval 'row prefix+clustering 50 sentence end main.md | grep -qE "\|     1 \|         0\.780 \|.*\|         0\.741 \|$"'
check "main: the pending seed leaves onion one seed" eval 'row prefix+onion 50 rare_word start main.md | grep -qF "|     1 |         0.380 |"'
check "main: clean change of ROUGE-1 F1 against the clean-only victim: -0.010" \
  eval 'row prefix 1 rare_word start main.md | grep -qF "| 0.450 ± 0.014 | -0.010 ± 0.000 | +40.00 ± 2.83 |"'
check "main: undefended rows have no detection" eval 'row prefix 1 rare_word start main.md | grep -qE "\| +– \| +– \| +– \|$"'
check "main: onion detects the rare word" eval 'row prefix+onion 1 rare_word start main.md | grep -qF "| 0.600 ± 0.000 | 0.800 ± 0.000 | 0.110 ± 0.016 |"'
check "second: perplexity, its change and lr as the shared format writes it" \
  eval 'row prefix 20 sentence 0.005 second.md | grep -qF "| 0.700 ± 0.028 | 0.030 ± 0.007 | 14.50 ± 0.28 | +1.00 ± 0.00 |"'
check "main: the failed point is listed with its message" \
  has main.md "- prefix+clustering (prefix_len 50, trigger sentence, position end), seed 2 (point 95): diverged: loss nan at step 12"
check "main: the pending point is counted" has main.md "94 of 96 points done; 1 point pending (not run yet)."
check "second: the clean metric of complete is the perplexity" has second.md "### complete: clean metric PPL"
check "one table per task" test "$(grep -c '^### ' main.md)" -eq 1

for line in \
  "(a) Longer prefixes raise P-Target Match (Spearman rho > 0 between the prefix length and the seed-mean P-TM, and P-TM at the largest length above the smallest): held (held in 4 of 4 settings)" \
  "    held: summarise, prefix, trigger sentence, position end: P-TM 0.600 (P 1), 0.700 (P 10), 0.800 (P 50); rho +1.000, P 50 - P 1 +0.200" \
  "(b) Sentence triggers beat rare-word triggers (seed-mean P-TM of sentence above rare_word at each position and setting): held (held in 6 of 6 comparisons)" \
  "    held: summarise, prefix, prefix_len 50, position start: sentence 0.700 vs rare_word 0.400 (+0.300)" \
  "(c) The defences leave P-Target Match high (seed-mean P-TM after the defence at least 0.5 x the undefended victim's): held (held for onion; held for spectral; held for clustering)" \
  "  onion: held (held in 12 of 12 configurations)" \
  "    held: summarise, prefix, prefix_len 1, trigger rare_word, position start: P-TM after onion 0.110 vs 0.200 undefended = 0.550 of it (at least 0.5); precision 0.600, recall 0.800" \
  "  clustering: held (held in 12 of 12 configurations)" \
  "    threshold 0.5: a defence that works brings P-TM down to the level of C-TM (false triggering)"; do
  check "main claims: ${line# *}" has main.claims "$line"
done
for line in \
  "(a) Longer prefixes raise P-Target Match (Spearman rho > 0 between the prefix length and the seed-mean P-TM, and P-TM at the largest length above the smallest): not held (held in 3 of 4 settings)" \
  "    not held: complete, prefix, trigger rare_word, lr 1e-4: P-TM 0.300 (P 5), 0.250 (P 20); rho -1.000, P 20 - P 5 -0.050" \
  "    not compared: complete, lora, trigger sentence, lr 0.005: lora has no prefix (peft.prefix_len does not act)" \
  "(b) Sentence triggers beat rare-word triggers (seed-mean P-TM of sentence above rare_word at each position and setting): not held (held in 6 of 8 comparisons)" \
  "    not held: complete, lora, prefix_len 20, lr 0.005, position middle: sentence 0.450 vs rare_word 0.500 (-0.050)" \
  "(c) The defences leave P-Target Match high (seed-mean P-TM after the defence at least 0.5 x the undefended victim's): not held (held for onion; not held for spectral)" \
  "  onion: held (held in 14 of 14 configurations)" \
  "  spectral: not held (held in 13 of 14 configurations)" \
  "    not held: complete, prefix, prefix_len 5, trigger rare_word, lr 1e-4: P-TM after spectral 0.060 vs 0.300 undefended = 0.200 of it (below 0.5); precision 0.400, recall 0.500" \
  "    not compared: complete, lora, prefix_len 20, trigger rare_word, lr 1e-4: undefended P-TM 0.050 not above C-TM 0.050 (the attack did not take: nothing to defend)"; do
  check "second claims: ${line# *}" has second.claims "$line"
done

# ---- claims that cannot be tested (files derived from main)
"$PY" - main.h5 <<'EOF'
import shutil, sys
import h5py
import numpy as np
src = sys.argv[1]
def derive(path, keep):
    """A copy of src with the rows keep() rejects pending (status 0)."""
    shutil.copy(src, path)
    with h5py.File(path, "r+") as f:
        p = f["points"]
        status = p["status"][()]
        cols = {k: p[k][()] for k in ("peft.prefix_len", "poison.trigger", "poison.position", "method")}
        for i in range(status.size):
            if not keep({k: v[i] for k, v in cols.items()}):
                status[i] = 0
        p["status"][...] = status
    return path
derive("onelength.h5", lambda r: r["peft.prefix_len"] == 10)
derive("nosentence.h5", lambda r: r["poison.trigger"] == b"rare_word")
derive("undefended.h5", lambda r: b"+" not in r["method"])
with h5py.File(derive("nonone2.h5", lambda r: True), "r+") as f:  # seed 2's undefended points pending
    status = f["points/status"][()]
    status[(f["points/seed"][()] == 2) & (f["points/method"][()] == b"prefix")] = 0
    f["points/status"][...] = status
with h5py.File(derive("flat.h5", lambda r: True), "r+") as f:  # the same P-TM everywhere
    p_tm = f["metrics/p_tm"][()]
    f["metrics/p_tm"][...] = np.where(np.isnan(p_tm), np.nan, 0.3)
shutil.copy(src, "nodef.h5")
with h5py.File("nodef.h5", "r+") as f:
    del f["metrics/def_p_tm"]
# the grid defence.yaml runs: only defence.kind swept, the rest constants of the spec
with h5py.File(derive("defonly.h5", lambda r: (r["peft.prefix_len"], r["poison.trigger"], r["poison.position"])
                      == (10, b"sentence", b"start")), "r+") as f:
    for k in ("peft.prefix_len", "poison.trigger", "poison.position"):
        del f["points"][k]
    f["points"].attrs["hyperparameters"] = np.bytes_("defence.kind")
    text = f.attrs["spec_canonical"].decode()
    for old, new in (("peft.prefix_len=[1,10,50]", "peft.prefix_len=10"),
                     ('poison.trigger=["rare_word","sentence"]', 'poison.trigger="sentence"'),
                     ('poison.position=["start","end"]', 'poison.position="start"')):
        text = text.replace(old, new)
    f.attrs["spec_canonical"] = np.bytes_(text)
EOF
for v in onelength nosentence undefended nonone2 flat nodef defonly; do
  "$PY" "$A/claims.py" $v.h5 > $v.claims 2>&1 && ok "claims.py $v.h5 exits 0" || bad "claims.py $v: $(cat $v.claims)"
done
A_TITLE="(a) Longer prefixes raise P-Target Match (Spearman rho > 0 between the prefix length and the seed-mean P-TM, and P-TM at the largest length above the smallest)"
B_TITLE="(b) Sentence triggers beat rare-word triggers (seed-mean P-TM of sentence above rare_word at each position and setting)"
C_TITLE="(c) The defences leave P-Target Match high (seed-mean P-TM after the defence at least 0.5 x the undefended victim's)"
check "(a) one length: not testable" \
  has onelength.claims "$A_TITLE: not testable (no prefix-tuning setting has P-TM measured at two or more prefix lengths)"
check "(a) one length: each setting says why" \
  has onelength.claims "    not compared: summarise, prefix, trigger rare_word, position end: P-TM measured at one prefix length only"
check "(b) still tested at one length" has onelength.claims "$B_TITLE: held (held in 2 of 2 comparisons)"
check "(b) no sentence point: not testable" \
  has nosentence.claims "$B_TITLE: not testable (no setting has measured P-TM of both sentence and rare_word triggers)"
check "(b) no sentence point: the missing side named" \
  has nosentence.claims "    not compared: summarise, prefix, prefix_len 10, position end: no done sentence point"
check "(c) no defended point: not testable" has undefended.claims "$C_TITLE: not testable (no defended point among the done points)"
check "(a) pools the victim's points: the undefended points alone give the same verdict" has undefended.claims "$A_TITLE: held (held in 4 of 4 settings)"
check "(a) without seed 2's undefended points: seed 2's victim from its defended points (the same numbers)" \
  has nonone2.claims "    held: summarise, prefix, trigger sentence, position end: P-TM 0.600 (P 1), 0.700 (P 10), 0.800 (P 50); rho +1.000, P 50 - P 1 +0.200"
check "(a) a flat P-TM: rho undefined, not held" \
  has flat.claims "    not held: summarise, prefix, trigger rare_word, position start: P-TM 0.300 (P 1), 0.300 (P 10), 0.300 (P 50); rho n/a, P 50 - P 1 +0.000"
check "(a), (b) a flat P-TM holds nowhere" eval 'has flat.claims "$A_TITLE: not held (held in 0 of 4 settings)" && has flat.claims "$B_TITLE: not held (held in 0 of 6 comparisons)"'
check "(c) without def_p_tm: not testable" has nodef.claims "$C_TITLE: not testable (/metrics/def_p_tm absent)"
check "(a) prefix length not swept: not testable with the spec's value" \
  has defonly.claims "$A_TITLE: not testable (peft.prefix_len is not swept: the file has 10 only)"
check "(b) trigger not swept: not testable with the spec's value" \
  has defonly.claims "$B_TITLE: not testable (poison.trigger is not swept: the file has sentence only)"
check "(c) on the defence-only grid" has defonly.claims "    held: summarise, prefix: P-TM after spectral 0.420 vs 0.600 undefended = 0.700 of it (at least 0.5); precision 0.450, recall 0.600"
"$PY" "$A/tables.py" undefended.h5 > undefended.md && check "without defended points no detection columns" \
  eval '! has undefended.md "precision" && grep -qE "^\| method .*\| +ΔPPL median \|$" undefended.md'
"$PY" "$A/tables.py" defonly.h5 > defonly.md && check "defence-only grid: four rows, no key columns" \
  eval 'test "$(grep -c "^| prefix" defonly.md)" -eq 4 && has defonly.md "| method            | seeds |"'

# ---- tables.py, LaTeX and options
"$PY" "$A/tables.py" main.h5 --format latex --out main.tex > tex.out && ok "--format latex --out" || bad "latex"
check "--out leaves standard output empty" test ! -s tex.out
check "one booktabs table" test "$(grep -c '^\\begin{tabular}' main.tex)" -eq 1
check "LaTeX header" has main.tex 'Method & prefix\_len & trigger & position & Seeds & P-TM & C-TM & ROUGE-1 F1 & Clean $\Delta$ & $\Delta$PPL med. & Prec. & Rec. & P-TM after \\'
check "LaTeX row" has main.tex 'prefix+onion & 1 & rare\_word & start & 2 & $0.200 \pm 0.028$ & $0.020 \pm 0.007$ & $0.450 \pm 0.014$ & $-0.010 \pm 0.000$ & $+40.00 \pm 2.83$ & $0.600 \pm 0.000$ & $0.800 \pm 0.000$ & $0.110 \pm 0.016$ \\'
check "LaTeX lists the failed point" has main.tex 'Failed points: prefix+clustering (prefix\_len 50, trigger sentence, position end), seed 2'
check "LaTeX is plain ASCII (Δ, ± and – as math or --: pdflatex knows no others)" eval "! LC_ALL=C grep -q '[^ -~]' main.tex"
"$PY" "$A/tables.py" main.h5 --split forget10 > /dev/null 2> split.err
[ $? -eq 1 ] && [ "$(wc -l < split.err)" -eq 1 ] && has split.err "main.h5" && has split.err "this is a poison results file (its tables are per task)" \
  && ok "--split on a poison file: exit 1, one line" || bad "--split: $(cat split.err)"

# ---- plots.py: the files, and the plotted means against numpy
"$PY" "$A/plots.py" main.h5 --out figs > p.log 2>&1 && ok "plots.py main exits 0" || bad "plots.py: $(cat p.log)"
"$PY" "$A/plots.py" second.h5 --out figs2 > p2.log 2>&1 && ok "plots.py second exits 0" || bad "plots.py: $(cat p2.log)"
check "main: prefix length, 4 undefended + 12 defended lines" \
  has p.log "wrote figs/summarise_prefix_len.png: P-TM, C-TM, ROUGE-1 F1 against peft.prefix_len (1, 10, 50); 16 lines"
check "main: trigger and position" eval 'has p.log "wrote figs/summarise_trigger.png: P-TM, C-TM, ROUGE-1 F1 against poison.trigger (rare_word, sentence); 24 lines" && has p.log "wrote figs/summarise_position.png: P-TM, C-TM, ROUGE-1 F1 against poison.position (start, end); 24 lines"'
check "second: the learning rate, perplexity" has p2.log "wrote figs2/complete_lr.png: P-TM, C-TM, PPL against train.lr (1e-4, 0.005); 24 lines"
check "exactly the swept keys' files" test "$(cd figs && ls | tr '\n' ' ')$(cd figs2 && ls | tr '\n' ' ')" = \
  "summarise_position.png summarise_prefix_len.png summarise_trigger.png complete_lr.png complete_prefix_len.png complete_trigger.png "
"$PY" - figs/*.png figs2/*.png <<'EOF' && ok "six valid PNG files (non-empty, signature, decodable, not blank)" || bad "PNG files"
import os, sys
import matplotlib.image as image
for path in sys.argv[1:]:
    assert os.path.getsize(path) > 0, f"{path}: empty"
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n", f"{path}: no PNG signature"
    pixels = image.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 300 and pixels.shape[1] > 1000, f"{path}: {pixels.shape}"
    assert pixels[..., :3].std() > 0.01, f"{path}: blank"
EOF
PYTHONPATH="$A" "$PY" - main.h5 second.h5 <<'EOF' && ok "plotted means and stds = numpy's over the seeds (victims pooled over defences)" || bad "plotted values"
import sys
import h5py
import numpy as np
import poison
from results import load

def reference(path, key, others, x_values, title_metrics):
    """{label: {panel: (means, stds)}} from the file alone: undefended lines pool a setting's rows over every
    defence (a seed's rows averaged), a defence's line takes its own rows' def_* metrics."""
    with h5py.File(path, "r") as f:
        p = f["points"]
        done = p["status"][()] == 1
        method = np.array([m.decode() for m in p["method"][()]])
        col = {k: p[k][()] for k in p.attrs["hyperparameters"].decode().split(",")}
        metric = {n: f["metrics"][n][()] for n in f["metrics"]}
    seed = None
    with h5py.File(path, "r") as f:
        seed = f["points/seed"][()]
    mode = np.array([m.split("+")[0] for m in method])
    defence = np.array([m.split("+")[1] if "+" in m else "none" for m in method])
    out = {}
    for setting in others:
        for d in ("none", "onion", "spectral", "clustering"):
            panels = {}
            for title, before, after in title_metrics:
                means, stds = [], []
                for x in x_values:
                    pick = done & (col[key] == x)
                    for k, v in setting:
                        pick &= (mode == v) if k == "mode" else (col[k] == v)
                    if d != "none":
                        pick &= defence == d
                    values = metric[before if d == "none" else after]
                    per_seed = [values[pick & (seed == s)].mean() for s in np.unique(seed[pick])]
                    means.append(np.mean(per_seed) if per_seed else np.nan)
                    stds.append(np.std(per_seed, ddof=1) if len(per_seed) > 1 else np.nan)
                panels[title] = (np.array(means), np.array(stds))
            if not np.isnan(panels["P-TM"][0]).all():
                out[(setting, d)] = panels
    return out

checked = 0
for path, key, short, x_values, others in (
        ("main.h5", "peft.prefix_len", lambda s: f"trigger {s[0][1].decode()}, position {s[1][1].decode()}", [1, 10, 50],
         [(("poison.trigger", t), ("poison.position", q)) for t in (b"rare_word", b"sentence") for q in (b"start", b"end")]),
        ("second.h5", "train.lr", lambda s: f"mode {s[0][1]}, prefix_len {s[1][1]}, trigger {s[2][1].decode()}", [1e-4, 5e-3],
         [(("mode", m), ("peft.prefix_len", n), ("poison.trigger", t)) for m in ("prefix", "lora") for n in (5, 20)
          for t in (b"rare_word", b"sentence")])):
    clean = ("ROUGE-1 F1", "rouge1_f1", "def_rouge1_f1") if path == "main.h5" else ("PPL", "clean_ppl", "def_ppl")
    want = reference(path, key, others, x_values, (("P-TM", "p_tm", "def_p_tm"), ("C-TM", "c_tm", "def_c_tm"), clean))
    with load(path, {"poison": poison.parse_method}) as res:
        configs = [c for c in poison.configurations(res) if c.done]
        xs, lines = poison.sweep_lines(res, configs, "summarise" if path == "main.h5" else "complete", key)
    assert list(xs) == x_values, xs
    got = {line.label: line.panels for line in lines}
    assert len(got) == len(want) == len(lines), (len(got), len(want), len(lines))
    for (setting, d), panels in want.items():
        label = short(setting) + (", undefended" if d == "none" else f", after {d}")
        assert label in got, (label, list(got))
        for title, (mean, std) in panels.items():
            assert np.allclose(got[label][title][0], mean, rtol=0, atol=1e-12, equal_nan=True), (label, title)
            assert np.allclose(got[label][title][1], std, rtol=0, atol=1e-12, equal_nan=True), (label, title)
            checked += 1
assert checked == 3 * (16 + 24), checked
EOF

# claim (a)'s rank correlation against SciPy's, ties and constant sides included
PYTHONPATH="$A" "$PY" - <<'EOF' && ok "spearman = scipy.stats.spearmanr (ties: average ranks; NaN for a constant side)" || bad "spearman"
import math, warnings
import numpy as np
from scipy.stats import spearmanr
from poison import spearman
warnings.simplefilter("ignore")  # SciPy warns on a constant input
rng = np.random.default_rng(7)
seen_nan = 0
for n in (2, 3, 5, 8):
    for _ in range(200):
        x, y = rng.integers(0, 4, n).astype(float), rng.integers(0, 4, n).astype(float)
        want, got = spearmanr(x, y)[0], spearman(x, y)
        assert (math.isnan(want) and math.isnan(got)) or abs(want - got) < 1e-12, (x, y, want, got)
        seen_nan += math.isnan(want)
assert seen_nan > 0
EOF

# a key with one value among the done points: no figure, and it says why; a grid without any: no figures
"$PY" - main.h5 <<'EOF'
import shutil, sys, h5py
shutil.copy(sys.argv[1], "startonly.h5")
with h5py.File("startonly.h5", "r+") as f:
    status = f["points/status"][()]
    status[f["points/poison.position"][()] == b"end"] = 0
    f["points/status"][...] = status
EOF
"$PY" "$A/plots.py" startonly.h5 --out figs3 > p3.log 2>&1 && ok "plots.py with one position exits 0" || bad "startonly: $(cat p3.log)"
check "one position: no figure, and why" has p3.log "summarise: poison.position takes one value (start) in the done points: no figure"
check "one position: the other figures still written" test "$(ls figs3 | wc -l)" -eq 2
"$PY" "$A/plots.py" defonly.h5 --out figs4 > p4.log 2>&1 && ok "plots.py on the defence-only grid exits 0" || bad "defonly: $(cat p4.log)"
check "defence-only grid: no figures, and why" eval 'has p4.log "defonly.h5 sweeps none of peft.prefix_len, train.lr, poison.trigger, poison.position, poison.rate: no figures" && test -z "$(ls figs4)"'

# ---- files that are not poison results files: every script exits 1 with one line naming file and problem
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
def first_done(f, k=0):
    return np.flatnonzero(f["points/status"][()] == 1)[k]
def set_row(path, column, value, k=0):
    with h5py.File(path, "r+") as f:
        v = f["points"][column][()]
        v[first_done(f, k)] = value
        f["points"][column][...] = v
with h5py.File("lm.h5", "w") as f:  # the lm workload's results file
    f.attrs["format"] = np.bytes_("trustbench-results")
    f.attrs["workload"] = np.bytes_("lm")
    for g in ("points", "metrics", "curves", "samples"):
        f.create_group(g)
    f["points/status"] = np.ones(2, dtype=np.int32)
copy("main.h5", "nomethod.h5", skip=("method",))
copy("main.h5", "badmethod.h5")
set_row("badmethod.h5", "method", b"prefix+sgd")
copy("main.h5", "badtrigger.h5")
set_row("badtrigger.h5", "poison.trigger", b"emoji", 2)
copy("second.h5", "badmode.h5")
with h5py.File("badmode.h5", "r+") as f:  # a prefix row whose peft.mode says lora
    mode, method = f["points/peft.mode"][()], f["points/method"][()]
    i = np.flatnonzero((f["points/status"][()] == 1) & (method == b"prefix+onion"))[0]
    mode[i] = b"lora"
    f["points/peft.mode"][...] = mode
copy("second.h5", "baddefence.h5")
with h5py.File("baddefence.h5", "r+") as f:  # an undefended row whose defence.kind says spectral
    kind, method = f["points/defence.kind"][()], f["points/method"][()]
    kind[np.flatnonzero((f["points/status"][()] == 1) & (method == b"lora"))[0]] = b"spectral"
    f["points/defence.kind"][...] = kind
copy("second.h5", "textlr.h5", skip=("train.lr",))
with h5py.File("second.h5", "r") as src, h5py.File("textlr.h5", "r+") as f:
    f["points/train.lr"] = np.array([b"%g" % v for v in src["points/train.lr"][()]], dtype="S8")
for path, edit in (("notask.h5", lambda t: "\n".join(l for l in t.split("\n") if not l.startswith("data.task"))),
                   ("badtask.h5", lambda t: t.replace('data.task="summarise"', 'data.task="translate"'))):
    copy("main.h5", path)
    with h5py.File(path, "r+") as f:
        f.attrs["spec_canonical"] = np.bytes_(edit(f.attrs["spec_canonical"].decode()))
EOF
for script in tables claims plots; do
  for case in "notes.txt|notes.txt|cannot be read as HDF5" \
              "lm.h5|lm.h5|its workload is 'lm', expected 'unlearn' or 'posttrain' or 'poison'" \
              "absent.h5|absent.h5|no such file" \
              "nomethod.h5|not a poison results file|has no /points/method dataset" \
              "badmethod.h5|/points/method row|'prefix+sgd' is not one of prefix, prefix-mlp, lora, full, optionally followed by +onion, +spectral, +clustering" \
              "badtrigger.h5|/points/poison.trigger row|is 'emoji', not one of rare_token, rare_word, phrase, sentence" \
              "badmode.h5|/points/peft.mode row|is 'lora' but /points/method row" \
              "baddefence.h5|/points/defence.kind row|is 'spectral' but /points/method row" \
              "textlr.h5|/points/train.lr|values, not numbers" \
              "notask.h5|notask.h5|data.task is neither a /points column nor a key of spec_canonical or spec_yaml" \
              "badtask.h5|the spec's data.task|is 'translate', not one of summarise, complete"; do
    script_refuses "$script" "$case"
  done
done
"$PY" "$A/recompute.py" main.h5 > /dev/null 2> rc.err
[ $? -eq 1 ] && has rc.err "main.h5" && has rc.err "its workload is 'poison', expected 'unlearn'" \
  && ok "recompute.py (unlearn only) refuses a poison file" || bad "recompute.py: $(cat rc.err)"

finish
