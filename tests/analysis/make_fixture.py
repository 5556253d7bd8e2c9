"""make_fixture.py OUT.h5 [--variant full|minimal]: a synthetic unlearn results file for the analysis tests.

It follows the results-file contract (results/README.md and the unlearn workload's columns) with numbers
constructed so that each table value and each claim's outcome is known by hand:

full: the columns the unlearn workload sweeps (data.split, unlearn.method, unlearn.lr, wagle.density,
  wagle.score, spunge.split_by, spunge.merge; forget01: 40 forget items, forget05: 200, so forget01 rows
  are NaN-padded to 200), seeds 1 and 2, the rows shuffled, one failed point (npo lr 1e-4 seed 2), one
  pending row (fill values), one truth-ratio item and one MIA score missing (NaN) inside a row, the
  Target repeated at a second unlearn.lr (the same model: identical values), and a WAGLE ablation
  (npo+wagle-random(0.95)) that no claim counts.
  (a) WAGLE: npo+wagle(0.95) vs npo held (FQ higher, MU -0.01); ga+wagle(0.8) vs ga not held (MU -0.06);
      npo+wagle(0.95)+spunge(ties) vs npo+spunge(ties) held through forget ROUGE (FQ lower, ROUGE lower);
      graddiff+wagle(0.9) has no graddiff at its learning rate. Overall: not held, 2 of 3.
  (b) SPUNGE: mean held (FQ higher, MU +0.01); ties not held (both ties variants have a lower FQ).
  (c) NPO vs GA: forget01 held (MU 0.49 vs 0.31, ROUGE 0.20 vs 0.19); forget05 not held (0.41 vs 0.46).
minimal: data.split only in spec_yaml (forget10, 400 items), no hyperparameter columns, one seed of
  none, retain and npo, no loss curves: every claim is not testable.

FQ comes from a shift of the truth ratios against the retain model's (a larger shift, a lower FQ); the
Target's members all outscore its non-members (Min-K% AUC 1) and the retain model's members are a
permutation of its non-members (AUC 1/2), so the Target's privleak is -100 and the Retain's 0.
The stored FQ, AUCs and privleak are computed here with independent methods (SciPy's exact two-sample
KS test; AUCs by counting every member/non-member pair), never with analysis/. Run with /usr/bin/python3.
"""
import argparse
import re

import h5py
import numpy as np
from scipy import stats

ATTACKS = ("loss", "zlib", "mink", "minkpp", "ref", "gradnorm")
HYPERPARAMETERS = ("unlearn.method", "unlearn.lr", "wagle.density", "wagle.score", "spunge.split_by",
                   "spunge.merge")
STEPS = 30
FAILED_STEP = 12
FAILURE = "diverged: unlearning loss -1.2e+03 at step 12 is past unlearn.diverge"
SCALARS = ("retain_rouge", "retain_prob", "retain_truth_ratio", "famous_rouge", "famous_prob",
           "famous_truth_ratio", "world_rouge", "world_prob", "world_truth_ratio", "holdout_rouge",
           "holdout_prob", "forget_rouge_f1", "forget_prob", "forget_truth_ratio", "forget_es", "forget_em",
           "relearn_rouge", "relearn_rouge_rl", "relearn_control_rouge", "relearn_control_rouge_rl",
           "probe_acc_target", "probe_acc_chance", "unlearn_loss")

# split -> items; (method, unlearn.lr, truth-ratio shift in items, MU for seeds 1 and 2, forget ROUGE-L
# for seeds 1 and 2); None = the point failed
FULL = {
    ("forget01", 40): [
        ("none", 1e-5, 30, (0.60, 0.60), (0.95, 0.97)),
        ("none", 1e-4, 30, (0.60, 0.60), (0.95, 0.97)),
        ("retain", 1e-5, 0, (0.58, 0.60), (0.40, 0.42)),
        ("ga", 1e-6, 14, (0.30, 0.32), (0.18, 0.20)),
        ("ga+wagle(0.8)", 1e-6, 10, (0.24, 0.26), (0.14, 0.16)),
        ("graddiff", 1e-5, 12, (0.40, 0.42), (0.25, 0.27)),
        ("graddiff+wagle(0.9)", 5e-6, 9, (0.41, 0.43), (0.22, 0.24)),
        ("npo", 1e-5, 12, (0.50, 0.52), (0.20, 0.22)),
        ("npo", 1e-4, 16, (0.45, None), (0.18, None)),
        ("npo+wagle(0.95)", 1e-5, 8, (0.49, 0.51), (0.17, 0.19)),
        ("npo+wagle-random(0.95)", 1e-5, 13, (0.48, 0.50), (0.23, 0.25)),
        ("npo+spunge(mean)", 1e-5, 9, (0.51, 0.53), (0.19, 0.21)),
        ("npo+spunge(ties)", 1e-5, 15, (0.50, 0.52), (0.26, 0.28)),
        ("npo+wagle(0.95)+spunge(ties)", 1e-5, 17, (0.495, 0.515), (0.22, 0.24)),
        ("simnpo", 1e-5, 11, (0.47, 0.49), (0.30, 0.32)),
        ("idkdpo", 1e-5, 13, (0.52, 0.54), (0.33, 0.35)),
        ("rmu", 1e-5, 10, (0.44, 0.46), (0.28, 0.30)),
        ("undial", 1e-4, 12, (0.43, 0.45), (0.31, 0.33)),
    ],
    ("forget05", 200): [
        ("none", 1e-5, 150, (0.62, 0.62), (0.96, 0.96)),
        ("retain", 1e-5, 0, (0.60, 0.60), (0.41, 0.41)),
        ("ga", 1e-6, 60, (0.45, 0.47), (0.24, 0.26)),
        ("npo", 1e-5, 50, (0.40, 0.42), (0.25, 0.27)),
    ],
}
MINIMAL = {
    ("forget10", 400): [
        ("none", 1e-5, 300, (0.61,), (0.97,)),
        ("retain", 1e-5, 0, (0.59,), (0.42,)),
        ("npo", 1e-5, 100, (0.48,), (0.21,)),
    ],
}


def auc_by_pairs(members, nonmembers):
    """P(member > non-member) + P(tie)/2 over every pair: the definition, without ranks."""
    m, h = members[:, None], nonmembers[None, :]
    return float(((m > h).sum() + 0.5 * (m == h).sum()) / (m.size * h.size))


def f32(x):
    """What the file will hold (float32) as float64, so the metrics match the stored samples."""
    return np.asarray(x, dtype=np.float32).astype(np.float64)


class Split:
    """What every point of one split shares: the retain model's truth ratios and Min-K% scores."""

    def __init__(self, rng, n):
        self.n = n
        self.gold_tr = f32(rng.permutation((np.arange(n) + 0.5) / n))
        self.gold_holdout_mink = f32(rng.normal(size=n).round(1))
        self.gold_forget_mink = f32(rng.permutation(self.gold_holdout_mink))


def point_samples(rng, split, method, shift, width):
    """One done point's per-sample values (dict name -> (split, float64 [n])) and its MIA scores."""
    n, base = split.n, method.split("+")[0]
    s = {("forget", "truth_ratio_gold"): split.gold_tr,
         ("forget", "truth_ratio"): f32(split.gold_tr + (shift + 0.25) / n) if shift else split.gold_tr,
         ("forget", "mia_mink_gold"): split.gold_forget_mink,
         ("holdout", "mia_mink_gold"): split.gold_holdout_mink}
    for attack in ATTACKS:
        if base == "retain" and attack == "mink":
            member, nonmember = split.gold_forget_mink, split.gold_holdout_mink
        else:
            nonmember = f32(rng.normal(size=n).round(1))
            member = f32(rng.normal(10.0 if base == "none" else 0.5, 1.0, size=n).round(1))
        s[("forget", f"mia_{attack}")], s[("holdout", f"mia_{attack}")] = member, nonmember
    for name in ("rouge_recall", "rouge_f1", "avg_loss"):
        s[("forget", name)] = f32(rng.random(n))
        s[("holdout", name)] = f32(rng.random(n))
    for other in ("retain", "famous", "world"):
        for name in ("truth_ratio", "rouge_recall", "avg_loss"):
            s[(other, name)] = f32(rng.random(width // 2))
    return s


def metrics_from(s):
    """FQ, log10 FQ, the six MIA AUCs and privleak of one point, from its samples (NaNs dropped)."""
    tr, gold = s[("forget", "truth_ratio")], s[("forget", "truth_ratio_gold")]
    both = ~np.isnan(tr) & ~np.isnan(gold)
    fq = stats.ks_2samp(tr[both], gold[both], method="exact").pvalue
    out = {"forget_quality": fq, "log10_forget_quality": np.log10(fq)}
    for attack in ATTACKS:
        m, h = s[("forget", f"mia_{attack}")], s[("holdout", f"mia_{attack}")]
        out[f"mia_{attack}_auc"] = auc_by_pairs(m[~np.isnan(m)], h[~np.isnan(h)])
    a_r = auc_by_pairs(s[("forget", "mia_mink_gold")], s[("holdout", "mia_mink_gold")])
    out["privleak"] = (a_r - out["mia_mink_auc"]) / (1.0 - a_r) * 100.0
    return out


def spec_columns(method, lr):
    """The swept spec keys' values that give this method string (as the workload spells it)."""
    m = re.fullmatch(r"([a-z]+)(?:\+wagle(?:-([a-z]+))?\(([0-9.]+)\))?(?:\+spunge\(([a-z]+)\))?", method)
    return {"unlearn.method": m[1], "unlearn.lr": lr, "wagle.density": float(m[3] or 0),
            "wagle.score": m[2] or "wagle", "spunge.split_by": "genre" if m[4] else "", "spunge.merge": m[4] or "mean"}


def build_points(design, rng):
    """Every point as a dict (row values, samples, metrics), in generation (= id) order. The Target and
    Retain models do not depend on unlearning keys: their repeats share one seed's values."""
    points, references = [], {}
    width = max(n for _, n in design)
    for (split_name, n), configs in design.items():
        split = Split(rng, n)
        for method, lr, shift, mus, rouges in configs:
            for k, (mu, rouge) in enumerate(zip(mus, rouges)):
                seed = k + 1
                p = {"id": len(points), "seed": seed, "method": method, "split": split_name,
                     "columns": spec_columns(method, lr), "n": n, "status": 2 if mu is None else 1,
                     "failure": FAILURE if mu is None else "", "samples": {}, "metrics": {},
                     "curve": np.full(STEPS, np.nan)}
                points.append(p)
                steps = np.arange(1, STEPS + 1)
                if method.startswith("ga"):
                    loss = -0.1 * steps - 0.01 * seed
                else:
                    loss = 2.5 * np.exp(-steps / 8.0) + 0.5 + 0.02 * seed
                if mu is None:
                    p["curve"][:FAILED_STEP] = loss[:FAILED_STEP]
                    continue
                if method in ("none", "retain"):
                    if (split_name, method, seed) in references:
                        p["samples"], p["metrics"] = references[(split_name, method, seed)]
                        continue
                    references[(split_name, method, seed)] = p["samples"], p["metrics"]
                else:
                    p["curve"] = loss
                seed_shift = shift + 2 * k if shift else 0
                p["samples"].update(point_samples(rng, split, method, seed_shift, width))
                p["metrics"].update({"model_utility": mu, "forget_rouge": rouge,
                                "relearn_recovery": (np.nan if method in ("none", "retain")
                                                     else shift / n + 0.04 * k),
                                "probe_acc": 0.25 + 0.5 * shift / n + 0.02 * k})
                p["metrics"].update({name: rng.random() for name in SCALARS})
    return points


def damage(points):
    """The missing values real runs have: one truth-ratio item and one holdout MIA score per design."""
    for p in points:
        if p["status"] != 1:
            continue
        if (p["method"], p["split"], p["seed"]) in (("ga", "forget01", 1), ("npo", "forget10", 1)):
            p["samples"][("forget", "truth_ratio")] = p["samples"][("forget", "truth_ratio")].copy()
            p["samples"][("forget", "truth_ratio")][5] = np.nan
        if (p["method"], p["split"], p["seed"], p["columns"]["unlearn.lr"]) == ("npo", "forget01", 2, 1e-5):
            p["samples"][("holdout", "mia_loss")] = p["samples"][("holdout", "mia_loss")].copy()
            p["samples"][("holdout", "mia_loss")][3] = np.nan
    for p in points:
        if p["status"] == 1:
            p["metrics"].update(metrics_from(p["samples"]))  # the repeated references: the same dicts


def write(path, points, variant, rng):
    order = rng.permutation(len(points))
    rows = [points[i] for i in order]
    if variant == "full":
        rows.append(None)  # a pending row: fill values only
    n_points = len(rows)
    width = max(p["n"] for p in points)
    with h5py.File(path, "w") as f:
        f.attrs["format"] = np.bytes_("trustbench-results")
        f.attrs["format_version"] = np.int32(1)
        f.attrs["workload"] = np.bytes_("unlearn")
        f.attrs["n_points"] = np.int64(n_points)
        f.attrs["npo_logprob"] = np.bytes_("sequence_sum")
        f.attrs["rouge_stemmer"] = np.bytes_("none")
        if variant == "full":
            f.attrs["spec_yaml"] = np.bytes_(
                "workload: unlearn\nseeds: [1, 2]\ndata:\n  split: [forget01, forget05]\n"
                "zip: [[method, unlearn.lr]]\n")
            f.attrs["spec_canonical"] = np.bytes_(
                'workload="unlearn"\nseeds=[1,2]\naxis=data.split\ndata.split=["forget01","forget05"]\n')
        else:
            f.attrs["spec_yaml"] = np.bytes_(
                "# the minimal fixture: one split, no sweep\nworkload: unlearn\nseeds: 1\n"
                "data:\n  authors: 200\n  split: forget10   # the largest\nunlearn:\n  lr: 1e-5\n")
        pts = f.create_group("points")
        get = lambda key, fill: [fill if p is None else p[key] for p in rows]
        pts["id"] = np.array(get("id", -1), dtype=np.int64)
        pts["status"] = np.array(get("status", 0), dtype=np.int32)
        pts["seed"] = np.array(get("seed", 0), dtype=np.int64)
        pts["method"] = np.array(get("method", ""), dtype="S64")
        pts["failure"] = np.array(get("failure", ""), dtype="S256")
        pts["wall_time"] = np.array([np.nan if p is None else 10.0 for p in rows])
        if variant == "full":
            pts["data.split"] = np.array(get("split", ""), dtype="S8")
            for key in HYPERPARAMETERS:
                column = [None if p is None else p["columns"][key] for p in rows]
                if isinstance(column[0], str):
                    pts[key] = np.array([c or "" for c in column], dtype="S16")
                else:
                    pts[key] = np.array([np.nan if c is None else c for c in column], dtype=np.float64)
            pts.attrs["hyperparameters"] = np.bytes_(",".join(("data.split",) + HYPERPARAMETERS))
        met = f.create_group("metrics")
        names = sorted({name for p in points for name in p["metrics"]})
        for name in names:
            met[name] = np.array([np.nan if p is None else p["metrics"].get(name, np.nan) for p in rows])
        keys = sorted({key for p in points for key in p["samples"]})
        for split, name in keys:
            data = np.full((n_points, width), np.nan, dtype=np.float32)
            for r, p in enumerate(rows):
                if p is not None and (split, name) in p["samples"]:
                    v = p["samples"][(split, name)]
                    data[r, :v.size] = v
            f.create_dataset(f"samples/{split}/{name}", data=data)
        f.create_group("curves")
        if variant == "full":
            f["curves/loss"] = np.array([np.full(STEPS, np.nan) if p is None else p["curve"] for p in rows],
                                        dtype=np.float32)
        f.create_group("topology")


def main():
    p = argparse.ArgumentParser(description="a synthetic unlearn results file")
    p.add_argument("out")
    p.add_argument("--variant", choices=("full", "minimal"), default="full")
    args = p.parse_args()
    rng = np.random.default_rng(20250131)
    design = FULL if args.variant == "full" else MINIMAL
    points = build_points(design, rng)
    damage(points)
    write(args.out, points, args.variant, rng)


if __name__ == "__main__":
    main()
