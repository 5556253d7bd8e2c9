"""recompute.py RESULTS.h5

Recomputes, for every done point, the metrics that /samples determine and compares them with /metrics:
- forget_quality and log10_forget_quality: the exact two-sided two-sample KS p-value between the point's
  forget truth ratios and the retain model's (truth_ratio_gold) on the items where both are measured,
  from the Gnedenko-Korolyuk sum in log space (unlearning.md, "Forget quality");
- mia_<attack>_auc for loss, zlib, mink, minkpp, ref, gradnorm: the midrank (Mann-Whitney) AUC of the
  forget samples (members) against the holdout samples (non-members);
- privleak = (A_r - A_u) / (1 - A_r) * 100 with the Min-K% AUCs of the point (A_u) and of the retain
  model (A_r, from mia_mink_gold).
It prints the largest discrepancy per metric and exits 1 when one exceeds 1e-6: relative for FQ (the
difference of the natural logs, so a p-value of 1e-200 is checked as tightly as 0.3), relative to
max(|stored|, 1) for the others. A stored value whose samples are missing, or samples whose value was
not stored, is a discrepancy too: the file must let every stored number be recomputed.
Run with /usr/bin/python3.
"""
import argparse
import math
import sys

import numpy as np
from scipy import special, stats

from results import DONE, load, run

TOLERANCE = 1e-6
ATTACKS = ("loss", "zlib", "mink", "minkpp", "ref", "gradnorm")
LN10 = math.log(10.0)


def ks_count(a, b):
    """k = n * D for two samples of equal size n: the largest gap between their counts at or below a
    pooled value (the ECDFs evaluated after each distinct value). O(n log n)."""
    sa, sb = np.sort(a), np.sort(b)
    pooled = np.concatenate([sa, sb])
    return int(np.abs(np.searchsorted(sa, pooled, "right") - np.searchsorted(sb, pooled, "right")).max())


def ks_log10_tail(n, k):
    """log10 P(D >= k/n) for two samples of size n (Gnedenko-Korolyuk):
    P = 2 sum_{j=1}^{floor(n/k)} (-1)^(j+1) C(2n, n-jk) / C(2n, n), the ratios from log-gamma and the
    alternating sum taken relative to its first term, so p-values far below 1e-308 stay exact."""
    if k == 0:
        return 0.0
    j = np.arange(1, n // k + 1)
    log_terms = 2.0 * special.gammaln(n + 1) - special.gammaln(n - j * k + 1) - special.gammaln(n + j * k + 1)
    signs = np.where(j % 2 == 1, 1.0, -1.0)
    rest = float(np.sum(signs * np.exp(log_terms - log_terms[0])))
    return min(0.0, (math.log(2.0) + log_terms[0] + math.log(rest)) / LN10)


def forget_quality_log10(tr, gold):
    """log10 FQ of one point from its truth ratios and the retain model's, over the items both measured;
    None when no item has both."""
    both = ~np.isnan(tr) & ~np.isnan(gold)
    if not both.any():
        return None
    return ks_log10_tail(int(both.sum()), ks_count(tr[both].astype(np.float64), gold[both].astype(np.float64)))


def auc_midrank(members, nonmembers):
    """AUC = P(member > non-member) + P(tie)/2 = (R+ - n+(n+ + 1)/2) / (n+ n-), R+ the members' midrank sum;
    NaNs (not measured, padding) dropped; None when either side is empty."""
    m = members[~np.isnan(members)].astype(np.float64)
    h = nonmembers[~np.isnan(nonmembers)].astype(np.float64)
    if m.size == 0 or h.size == 0:
        return None
    ranks = stats.rankdata(np.concatenate([m, h]))
    return float((ranks[:m.size].sum() - m.size * (m.size + 1) / 2.0) / (m.size * h.size))


def privleak(a_u, a_r):
    """(A_r - A_u) / (1 - A_r) * 100, with IEEE's inf or NaN when the retain model's A_r is 1."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float((np.float64(a_r) - a_u) / (1.0 - np.float64(a_r)) * 100.0)


class Check:
    """One metric's comparisons over the done points: the worst discrepancy and where it was."""

    def __init__(self, name, stored, scale):
        self.name, self.stored, self.scale = name, stored, scale
        self.checked, self.skipped = 0, 0
        self.worst, self.worst_at = 0.0, None

    def add(self, row, pid, recomputed):
        """recomputed is None when the samples are missing; a NaN stored value means not measured."""
        stored = self.stored[row]
        if recomputed is None and math.isnan(stored):
            self.skipped += 1
            return
        self.checked += 1
        gap = self.scale(stored, recomputed)
        if gap > self.worst or (math.isnan(gap) and self.worst_at is None):
            self.worst, self.worst_at = gap, (pid, stored, recomputed)

    def failed(self):
        return not self.worst <= TOLERANCE


def relative_gap(stored, recomputed):
    """|recomputed - stored| / max(|stored|, 1); non-finite values agree only with the same value."""
    if recomputed is None:
        return math.inf
    if not (math.isfinite(stored) and math.isfinite(recomputed)):
        return 0.0 if stored == recomputed or (math.isnan(stored) and math.isnan(recomputed)) else math.inf
    return abs(recomputed - stored) / max(abs(stored), 1.0)


def log10_gap(stored, recomputed):
    """|ln of the ratio| between a stored log10 FQ and a recomputed one."""
    if recomputed is None or math.isnan(stored):
        return math.inf
    return abs(stored - recomputed) * LN10


def fq_gap(stored, recomputed_log10):
    """|ln(stored FQ) - ln(recomputed FQ)|; a stored 0 passes only for a p-value below the double range."""
    if recomputed_log10 is None or math.isnan(stored) or stored < 0:
        return math.inf
    if stored == 0.0:
        return 0.0 if recomputed_log10 < math.log10(np.finfo(np.float64).tiny) else math.inf
    return abs(math.log(stored) - recomputed_log10 * LN10)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[1], prog="recompute.py")
    p.add_argument("results", help="an unlearn results file (trustbench run SPEC -o RESULTS.h5)")
    args = p.parse_args()
    with load(args.results) as res:
        done = res.rows(DONE)
        print(f"recompute {args.results}: {done.size} done points; tolerance {TOLERANCE} "
              "(FQ: |ln stored - ln recomputed|; others: |difference| / max(|stored|, 1))")
        if done.size == 0:
            print("nothing to recompute: no point is done")
            return 0
        checks, unusable = [], []

        def samples(split, name):
            s = res.samples(split, name)
            if s is None:
                unusable.append(f"/samples/{split}/{name}")
            return s

        def check(name, scale):
            stored = res.metric(name)
            if stored is None:
                unusable.append(f"/metrics/{name}")
                return None
            checks.append(Check(name, stored, scale))
            return checks[-1]

        tr, gold = samples("forget", "truth_ratio"), samples("forget", "truth_ratio_gold")
        fq, fq10 = check("forget_quality", fq_gap), check("log10_forget_quality", log10_gap)
        auc_checks = {a: check(f"mia_{a}_auc", relative_gap) for a in ATTACKS}
        leak = check("privleak", relative_gap)
        scores = {a: (samples("forget", f"mia_{a}"), samples("holdout", f"mia_{a}")) for a in ATTACKS}
        gold_mink = (samples("forget", "mia_mink_gold"), samples("holdout", "mia_mink_gold"))
        for i in done:
            pid = int(res.ids[i])
            log10_fq = forget_quality_log10(tr[i], gold[i]) if tr is not None and gold is not None else None
            for c in (fq, fq10):
                if c is not None:
                    c.add(i, pid, log10_fq)
            aucs = {a: auc_midrank(m[i], h[i]) if m is not None and h is not None else None
                    for a, (m, h) in scores.items()}
            for a, c in auc_checks.items():
                if c is not None:
                    c.add(i, pid, aucs[a])
            if leak is not None:
                a_r = (auc_midrank(gold_mink[0][i], gold_mink[1][i])
                       if gold_mink[0] is not None and gold_mink[1] is not None else None)
                leak.add(i, pid, None if a_r is None or aucs["mink"] is None else privleak(aucs["mink"], a_r))
        print(f"{'metric':<22} {'checked':>7} {'skipped':>7} {'max discrepancy':>16}  {'worst point':<11} verdict")
        for c in checks:
            where = f"id {c.worst_at[0]}" if c.worst_at else "-"
            print(f"{c.name:<22} {c.checked:>7} {c.skipped:>7} {c.worst:>16.3g}  {where:<11} "
                  f"{'FAILED' if c.failed() else 'ok'}")
        if unusable:
            print("not in the file (those metrics are not checked): " + ", ".join(unusable))
        bad = [c for c in checks if c.failed()]
        for c in bad:
            pid, stored, recomputed = c.worst_at
            shown = ("missing samples" if recomputed is None else
                     f"{10 ** recomputed:.10g} (log10 {recomputed:.10g})" if c.name == "forget_quality" else
                     f"{recomputed:.10g}")
            print(f"error: {args.results}: /metrics/{c.name} disagrees with /samples: point id {pid} stores "
                  f"{stored:.10g}, recomputed {shown} (discrepancy {c.worst:.3g} > {TOLERANCE})", file=sys.stderr)
        if not checks or all(c.checked == 0 for c in checks):
            print(f"error: {args.results}: nothing could be recomputed for the {done.size} done points "
                  "(no stored metric with its samples)", file=sys.stderr)
            return 1
        return 1 if bad else 0


if __name__ == "__main__":
    run(main)
