#!/usr/bin/python3
"""Cross-checks the metric kernels (metrics_cases output) against SciPy, sklearn and plain Python.

Every case line holds the inputs and the C results (see metrics_cases.c for the format). Each result is
recomputed independently:
  ks        the statistic from the ECDFs in exact integers; the exact p-value as a rational number by
            counting the lattice paths that stay strictly inside |i/n1 - j/n2| < D (big integers, for
            equal and unequal sizes alike: no reflection formula, no logarithms); and
            scipy.stats.ks_2samp(method='exact') wherever its float p is itself accurate (p > 1e-250);
  roc       sklearn.metrics.roc_auc_score, and TPR at each FPR target read off
            sklearn.metrics.roc_curve(drop_intermediate=False) as the largest TPR with FPR <= t
            (at most floor(t n_non + 1e-9) false positives; unresolved when that is 0);
  hmean     scipy.stats.hmean (0 when a value is <= 0: SciPy rejects negatives);
  rouge     a regular-expression tokeniser and a full-table LCS;
  zlib      Python's zlib.compress(level 6);
  mink(pp)  numpy sorting, with ceil(k n) taken on k as the decimal it prints as;
  moments   scipy.special.log_softmax and the moments as E[x^2] - E[x]^2;
  truth, nprob, memo, privleak: the formulas of reference/unlearning.md in numpy.

usage: /usr/bin/python3 check_metrics.py CASES.txt [--corrupt KIND]
  --corrupt KIND  perturbs the first C result of the first KIND case by a relative 1e-5 before
                  comparing, to show that the check detects a wrong value.
Exit status: 0 when everything agrees, 1 on a mismatch, 2 when the file cannot be used.
"""
import argparse
import bisect
import math
import re
import sys
import warnings
import zlib
from fractions import Fraction

import numpy as np
from scipy import special, stats
from sklearn.metrics import roc_auc_score, roc_curve

SCIPY_ACCURATE_P = 1e-250  # below this scipy's exact p (a float product) loses its relative accuracy
FPR_SLACK = 1e-9           # the documented allowance for decimal FPR targets


class Report:
    """Worst error per (kind, quantity), the number of comparisons, and the first failures."""

    def __init__(self):
        self.worst = {}
        self.count = {}
        self.failures = []

    def close(self, kind, what, got, want, rel=0.0, abs_=0.0, line=0):
        """got must be within abs_ + rel*|want| of want; NaN must meet NaN, infinities must be equal."""
        key = (kind, what)
        self.count[key] = self.count.get(key, 0) + 1
        if math.isnan(want) or math.isinf(want) or math.isnan(got) or math.isinf(got):
            ok = (math.isnan(want) and math.isnan(got)) or got == want
            err = 0.0 if ok else math.inf
        else:
            err = abs(got - want)
            ok = err <= abs_ + rel * abs(want)
            err = err / abs(want) if rel > 0 and want != 0 else err
        self.worst[key] = max(self.worst.get(key, 0.0), err)
        if not ok:
            self.failures.append(f"line {line}: {kind} {what}: C {got!r}, reference {want!r}")

    def equal(self, kind, what, got, want, line=0):
        self.count[(kind, what)] = self.count.get((kind, what), 0) + 1
        self.worst.setdefault((kind, what), 0.0)
        if got != want:
            self.worst[(kind, what)] = math.inf
            self.failures.append(f"line {line}: {kind} {what}: C {got!r}, reference {want!r}")


class Fields:
    """A case line read left to right."""

    def __init__(self, tokens):
        self.t = tokens
        self.i = 0

    def int(self):
        self.i += 1
        return int(self.t[self.i - 1])

    def float(self):
        self.i += 1
        return float(self.t[self.i - 1])

    def floats(self, n):
        return [self.float() for _ in range(n)]

    def ints(self, n):
        return [self.int() for _ in range(n)]

    def text(self):
        self.i += 1
        tok = self.t[self.i - 1]
        return b"" if tok == "-" else bytes.fromhex(tok)

    def done(self):
        if self.i != len(self.t):
            raise ValueError(f"{len(self.t) - self.i} unread fields")


# ---- KS ------------------------------------------------------------------------------------------

def ks_numerator(x, y):
    """h = max over pooled values v of |#x<=v * n2 - #y<=v * n1| (D = h / (n1 n2))."""
    xs, ys = sorted(x), sorted(y)
    n1, n2 = len(xs), len(ys)
    return max(abs(bisect.bisect_right(xs, v) * n2 - bisect.bisect_right(ys, v) * n1) for v in set(xs) | set(ys))


def ks_exact_p(n1, n2, h):
    """P(D >= h/(n1 n2)) = 1 - (#paths strictly inside) / C(n1+n2, n1), in exact rationals."""
    if h == 0:
        return Fraction(1)
    row = [0] * (n2 + 1)
    for i in range(n1 + 1):
        for j in range(n2 + 1):
            if abs(i * n2 - j * n1) >= h:
                row[j] = 0
            elif i > 0 or j > 0:
                row[j] = row[j] + (row[j - 1] if j > 0 else 0)  # row[j] still counts (i-1, j)
            else:
                row[j] = 1
    return 1 - Fraction(row[n2], math.comb(n1 + n2, n1))


def log10_fraction(p):
    return math.log10(p.numerator) - math.log10(p.denominator)


def check_ks(f, rep, line, stats_ks):
    n1, n2 = f.int(), f.int()
    x, y = f.floats(n1), f.floats(n2)
    d, p, log10_p = f.floats(3)
    f.done()
    h = ks_numerator(x, y)
    rep.close("ks", "D (exact integers)", d, h / (n1 * n2), abs_=1e-15, line=line)
    exact = ks_exact_p(n1, n2, h)
    exact_log10 = log10_fraction(exact)
    rep.close("ks", "log10 p (exact rational)", log10_p, exact_log10, abs_=1e-9, line=line)
    if float(exact) >= 1e-300:
        rep.close("ks", "p (exact rational)", p, float(exact), rel=1e-9, line=line)
    else:
        rep.close("ks", "p underflow region", p, 0.0, abs_=1e-299, line=line)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy warns when it leaves the exact method
        try:
            sp = stats.ks_2samp(x, y, method="exact")
        except RuntimeWarning:
            sp = None
    if sp is None:
        stats_ks["scipy_gave_up"] += 1
    else:
        rep.close("ks", "D (scipy)", d, sp.statistic, abs_=1e-12, line=line)
        if sp.pvalue > SCIPY_ACCURATE_P:
            rep.close("ks", "p (scipy exact, p > 1e-250)", p, sp.pvalue, rel=1e-6, line=line)
    stats_ks["equal" if n1 == n2 else "unequal"] += 1
    stats_ks["ties"] += len(set(x) | set(y)) < n1 + n2
    stats_ks["max_n"] = max(stats_ks["max_n"], n1, n2)
    stats_ks["min_log10"] = min(stats_ks["min_log10"], exact_log10)


# ---- ROC -----------------------------------------------------------------------------------------

def check_roc(f, rep, line):
    nm, nn = f.int(), f.int()
    m, u = f.floats(nm), f.floats(nn)
    targets = f.floats(f.int())
    auc = f.float()
    got = [(f.float(), f.float(), f.float(), f.int()) for _ in targets]
    f.done()
    labels = np.r_[np.ones(nm), np.zeros(nn)]
    scores = np.r_[m, u]
    if nm and nn:
        rep.close("roc", "AUC (roc_auc_score)", auc, roc_auc_score(labels, scores), abs_=1e-12, line=line)
    fpr, tpr, thr = roc_curve(labels, scores, drop_intermediate=False)
    fp = np.rint(fpr * nn)
    for t, (c_tpr, c_fpr, c_thr, c_res) in zip(targets, got):
        allowed = math.floor(t * nn + FPR_SLACK)
        rep.equal("roc", "resolved flag", c_res, int(allowed >= 1), line=line)
        if allowed < 1:
            for what, v in (("TPR", c_tpr), ("FPR", c_fpr), ("threshold", c_thr)):
                rep.close("roc", f"{what} unresolved (NaN)", v, math.nan, line=line)
            continue
        idx = int(np.nonzero(fp <= allowed)[0][-1])  # thresholds fall, so the last feasible is the lowest
        rep.close("roc", "TPR@FPR (roc_curve)", c_tpr, float(tpr[idx]), abs_=1e-15, line=line)
        rep.close("roc", "achieved FPR (roc_curve)", c_fpr, float(fpr[idx]), abs_=1e-15, line=line)
        rep.equal("roc", "threshold (roc_curve)", c_thr, math.inf if idx == 0 else float(thr[idx]), line=line)


# ---- the rest ------------------------------------------------------------------------------------

def check_hmean(f, rep, line):
    x = f.floats(f.int())
    h = f.float()
    f.done()
    if min(x) < 0:
        rep.close("hmean", "negative value gives 0", h, 0.0, line=line)
    else:
        with np.errstate(divide="ignore"):
            rep.close("hmean", "scipy.stats.hmean", h, float(stats.hmean(x)), rel=1e-13, line=line)


def words(text):
    return re.findall(rb"[a-z0-9]+", text.lower())  # bytes.lower() changes ASCII letters only


def lcs(a, b):
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            table[i][j] = table[i - 1][j - 1] + 1 if a[i - 1] == b[j - 1] else max(table[i - 1][j], table[i][j - 1])
    return table[-1][-1]


def check_rouge(f, rep, line):
    ref, gen = f.text(), f.text()
    recall, precision, f1 = f.floats(3)
    f.done()
    r, g = words(ref), words(gen)
    want = (0.0, 0.0, 0.0)
    if r and g and lcs(r, g):
        k = lcs(r, g)
        pr, rc = k / len(g), k / len(r)
        want = (rc, pr, 2 * pr * rc / (pr + rc))
    for what, got, w in zip(("recall", "precision", "F1"), (recall, precision, f1), want):
        rep.close("rouge", what, got, w, abs_=1e-15, line=line)


def check_zlib(f, rep, line):
    loss, text, score = f.float(), f.text(), f.float()
    f.done()
    rep.close("zlib", "score (zlib.compress level 6)", score, -loss / len(zlib.compress(text, 6)), rel=1e-15, line=line)


def mean_lowest(values, k):
    n = len(values)
    m = min(n, max(1, math.ceil(Fraction(repr(k)) * n)))
    return float(np.mean(np.sort(values)[:m]))


def check_mink(f, rep, line):
    n = f.int()
    k = f.float()
    lp = np.array(f.floats(n))
    score = f.float()
    f.done()
    rep.close("mink", "Min-K% (numpy)", score, mean_lowest(lp, k), rel=1e-13, line=line)


def check_minkpp(f, rep, line):
    n = f.int()
    k = f.float()
    lp, mu, sigma = (np.array(f.floats(n)) for _ in range(3))
    score = f.float()
    f.done()
    rep.close("minkpp", "Min-K%++ (numpy)", score, mean_lowest((lp - mu) / sigma, k), rel=1e-13, line=line)


def check_moments(f, rep, line):
    V = f.int()
    f.float()  # the C caller's log-sum-exp: the reference computes its own
    logits = np.array(f.floats(V), dtype=np.float32).astype(np.float64)
    mu, sigma = f.floats(2)
    f.done()
    lp = special.log_softmax(logits)
    p = np.exp(lp)
    keep = p > 0
    m1 = float(np.sum(p[keep] * lp[keep]))
    var = max(float(np.sum(p[keep] * lp[keep] ** 2)) - m1 * m1, 1e-6)
    rep.close("moments", "mu (log_softmax)", mu, m1, abs_=1e-9, line=line)
    rep.close("moments", "sigma (log_softmax)", sigma, math.sqrt(var), rel=1e-8, abs_=1e-12, line=line)


def check_truth(f, rep, line):
    n, n_pert = f.int(), f.int()
    losses = np.array([f.floats(1 + n_pert) for _ in range(n)])
    got = np.array([f.floats(3) for _ in range(n)])
    forget, retain, prob_mean = f.floats(3)
    f.done()
    pc = np.exp(-losses[:, 0])
    pw = np.exp(-losses[:, 1:].mean(axis=1))
    tr = pw / (pc + 1e-10)
    for i in range(n):
        rep.close("truth", "p_correct", got[i, 0], pc[i], rel=1e-14, line=line)
        rep.close("truth", "p_wrong", got[i, 1], pw[i], rel=1e-13, line=line)
        rep.close("truth", "TR", got[i, 2], tr[i], rel=1e-13, line=line)
    rep.close("truth", "forget mean(min(TR,1/TR))", forget, float(np.mean(np.minimum(tr, 1 / tr))), rel=1e-12,
              line=line)
    rep.close("truth", "retain mean(max(0,1-TR))", retain, float(np.mean(np.maximum(0, 1 - tr))), abs_=1e-13,
              line=line)
    rep.close("truth", "prob_mean", prob_mean, float(np.mean(pc / (pc + pw))), rel=1e-12, line=line)


def check_nprob(f, rep, line):
    n_false = f.int()
    l_true, l_false = f.float(), f.floats(n_false)
    p = f.float()
    f.done()
    want = math.exp(-l_true) / (math.exp(-l_true) + sum(math.exp(-v) for v in l_false) + 1e-10)
    rep.close("nprob", "normalised prob", p, want, rel=1e-13, line=line)


def check_memo(f, rep, line):
    n = f.int()
    argmax, labels = f.ints(n), f.ints(n)
    es, em = f.floats(2)
    f.done()
    k_min = min(k for k in range(n + 1) if all(argmax[t] == labels[t] for t in range(k, n)))
    rep.close("memo", "extraction strength", es, 1 - k_min / n, abs_=1e-15, line=line)
    rep.close("memo", "exact memorisation", em, sum(a == b for a, b in zip(argmax, labels)) / n, abs_=1e-15, line=line)


def check_privleak(f, rep, line):
    ar, au, pl = f.floats(3)
    f.done()
    rep.close("privleak", "(A_r - A_u)/(1 - A_r)*100", pl, (ar - au) / (1 - ar) * 100, rel=1e-13, line=line)


CHECKS = {"roc": check_roc, "hmean": check_hmean, "rouge": check_rouge, "zlib": check_zlib, "mink": check_mink,
          "minkpp": check_minkpp, "moments": check_moments, "truth": check_truth, "nprob": check_nprob,
          "memo": check_memo, "privleak": check_privleak}

# where the C results of each kind start, counted from the end of the line (for --corrupt)
RESULT_FIELDS_FROM_END = {"ks": 3, "hmean": 1, "rouge": 3, "zlib": 1, "mink": 1, "minkpp": 1, "moments": 2,
                          "nprob": 1, "memo": 2, "privleak": 1}


def corrupt(tokens):
    """Scales the first C result of the line by 1 + 1e-5 (or sets it to 1e-5 when it is 0)."""
    if tokens[0] == "roc":  # the AUC follows the targets
        nm, nn = int(tokens[1]), int(tokens[2])
        at = 3 + nm + nn + 1 + int(tokens[3 + nm + nn])
    elif tokens[0] == "truth":  # the first p_correct follows the losses
        at = 3 + int(tokens[1]) * (1 + int(tokens[2]))
    else:
        at = len(tokens) - RESULT_FIELDS_FROM_END[tokens[0]]
    v = float(tokens[at])
    tokens[at] = repr(v * (1 + 1e-5) if v != 0 else 1e-5)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cases")
    ap.add_argument("--corrupt", metavar="KIND")
    args = ap.parse_args()
    try:
        with open(args.cases) as fh:
            lines = [ln.split() for ln in fh if ln.strip()]
    except OSError as e:
        print(f"check_metrics: cannot read {args.cases}: {e}", file=sys.stderr)
        return 2

    rep = Report()
    stats_ks = {"equal": 0, "unequal": 0, "ties": 0, "max_n": 0, "min_log10": 0.0, "scipy_gave_up": 0}
    kinds = {}
    corrupted = False
    for number, tokens in enumerate(lines, 1):
        kind = tokens[0]
        if args.corrupt == kind and not corrupted:
            corrupt(tokens)
            corrupted = True
        f = Fields(tokens[1:])
        try:
            if kind == "ks":
                check_ks(f, rep, number, stats_ks)
            elif kind in CHECKS:
                CHECKS[kind](f, rep, number)
            else:
                raise ValueError(f"unknown kind '{kind}'")
        except (ValueError, IndexError) as e:
            print(f"check_metrics: {args.cases} line {number}: {e}", file=sys.stderr)
            return 2
        kinds[kind] = kinds.get(kind, 0) + 1
    if args.corrupt and not corrupted:
        print(f"check_metrics: no '{args.corrupt}' case to corrupt", file=sys.stderr)
        return 2

    print(f"check_metrics: cases per kind: {', '.join(f'{k} {v}' for k, v in kinds.items())}")
    print(f"check_metrics: ks: {stats_ks['equal']} equal-size and {stats_ks['unequal']} unequal-size cases, "
          f"{stats_ks['ties']} with ties, n up to {stats_ks['max_n']}, "
          f"smallest exact p 10^{stats_ks['min_log10']:.1f}, "
          f"scipy left its exact method in {stats_ks['scipy_gave_up']}")
    for (kind, what), worst in rep.worst.items():
        print(f"check_metrics:   {kind:9s} {what:40s} {rep.count[(kind, what)]:5d} comparisons, "
              f"worst error {worst:.2e}")
    if rep.failures:
        for msg in rep.failures[:20]:
            print(f"check_metrics: {msg}")
        total = sum(rep.count.values())
        print(f"check_metrics: FAIL: {len(rep.failures)} of {total} comparisons disagree")
        return 1
    print(f"check_metrics: all {sum(rep.count.values())} comparisons agree")
    return 0


if __name__ == "__main__":
    sys.exit(main())
