"""make_posttrain_fixture.py OUT.h5 [--variant main|second]: a synthetic posttrain results file for the
analysis tests.

It follows the results-file contract (results/README.md) and the posttrain workload's datasets
(analysis/README.md), with numbers constructed so that each claim's outcome is known by hand. Every
point has f*_SFT = 1.5 and f*_DPO = 0.05; each point's optimality gaps (SFT, DPO) are legs of a
Pythagorean triple, so its ideal distance is exact: (0.13, 0.84) -> 0.85, (0.18, 0.80) -> 0.82, ...

main: mode full (train.mode only in spec_canonical), train.method and train.lambda swept, λ 0.25 and
  0.75, seeds 1 and 2, the rows shuffled; one failed point (Mix, λ 0.75, seed 3) and one pending row.
  (a) held in 2 of 2: Sequential's final f_SFT 1.655 (λ 0.25) and 1.720 (λ 0.75) against 1.530 and
      1.560 at the switch.
  (b) held in 4 of 4: mean ideal distance Sequential 0.835 and 0.630; ALRIGHT 0.270 and 0.385; MAXRIGHT
      0.175 and 0.135.
  (c) held in 4 of 4: mean train_s Mix 140 and 145 s; ALRIGHT 100.5 and 99; MAXRIGHT 104.75 and 104.
second: mode lora ("+lora" methods, train.mode swept with the one value lora), train.lambda 0.5 only in
  spec_canonical, train.lr swept (1e-5, 1e-4), seeds 1 and 2. At lr 1e-5 the numbers of main's λ 0.25;
  at lr 1e-4 every claim fails once:
  (a) not held, 1 of 2: Sequential's f_SFT rises by 0.0005 only (1.7200 vs 1.7195), within 1e-3;
  (b) not held, 3 of 4: MAXRIGHT's mean ideal distance 0.850 against Sequential's 0.630;
  (c) not held, 3 of 4: Mix 55 s against ALRIGHT 50 s (ratio 1.1); against MAXRIGHT 42 s it holds.

The eval curves (41 columns, steps 0-40, logged every 10 steps) start at θ0's losses (f_SFT 2.0, f_DPO
ln 2, since π = π_ref there) and end at the point's final f_SFT and f_DPO; Sequential's pass through
f_SFT at the switch (step 40 (1 - λ)). Run with /usr/bin/python3.
"""
import argparse
import math

import h5py
import numpy as np

STEPS = 40
EVAL_EVERY = 10
F_STAR = (1.5, 0.05)
THETA0 = (2.0, math.log(2.0))
FAILURE = "diverged: DPO loss nan at step 17"

# (method, λ or lr): per seed (SFT gap, DPO gap), per seed train_s, per seed f_SFT at the switch (Sequential)
DESIGN_A = {
    "sequential": [((0.13, 0.84), (0.18, 0.80)), (100.0, 104.0), (1.52, 1.54)],
    "mix": [((0.05, 0.12), (0.20, 0.15)), (137.0, 143.0), None],
    "alright": [((0.07, 0.24), (0.20, 0.21)), (99.0, 102.0), None],
    "maxright": [((0.09, 0.12), (0.12, 0.16)), (102.5, 107.0), None],
}
DESIGN_B = {
    "sequential": [((0.24, 0.70), (0.20, 0.48)), (100.0, 100.0), (1.55, 1.57)],
    "mix": [((0.15, 0.08), (0.16, 0.12)), (150.0, 140.0), None],
    "alright": [((0.12, 0.35), (0.24, 0.32)), (100.0, 98.0), None],
    "maxright": [((0.08, 0.15), (0.06, 0.08)), (105.0, 103.0), None],
}
DESIGN_FAILING = {
    "sequential": [((0.20, 0.48), (0.24, 0.70)), (50.0, 52.0), (1.7195, 1.7195)],
    "mix": [((0.15, 0.08), (0.16, 0.12)), (55.0, 55.0), None],
    "alright": [((0.12, 0.35), (0.24, 0.32)), (50.0, 50.0), None],
    "maxright": [((0.36, 0.77), (0.13, 0.84)), (40.0, 44.0), None],
}
# per method: task accuracy, win rate, reward accuracy of seed 1 (seed 2 and λ shift them, below)
QUALITY = {"sequential": (0.60, 0.55, 0.70), "mix": (0.70, 0.80, 0.85), "alright": (0.74, 0.85, 0.82),
           "maxright": (0.72, 0.83, 0.86)}


def eval_curves(lam, method, gaps, switch):
    """(f_sft_eval, f_dpo_eval) [STEPS + 1], logged every EVAL_EVERY steps (step 0 and the last included)."""
    end = (F_STAR[0] + gaps[0], F_STAR[1] + gaps[1])
    steps = np.arange(0, STEPS + 1, EVAL_EVERY)
    if method == "sequential":
        s_switch = round(STEPS * (1.0 - lam))
        sft = np.interp(steps, [0, s_switch, STEPS], [THETA0[0], switch, end[0]])
        dpo = np.interp(steps, [0, s_switch, STEPS], [THETA0[1], THETA0[1] + 0.01, end[1]])
    else:
        t = steps / STEPS
        sft = THETA0[0] + (end[0] - THETA0[0]) * np.sqrt(t)
        dpo = THETA0[1] + (end[1] - THETA0[1]) * t ** (0.5 + lam)
    out = np.full((2, STEPS + 1), np.nan)
    out[0, steps], out[1, steps] = sft, dpo
    return out


def step_curves(rng, lam, method, evals):
    """The per-step curves (column = step; step 0 trains nothing): objective, batch losses, MAXRIGHT's gap
    estimates and the loss the step minimised."""
    steps = np.arange(STEPS + 1)
    sft = np.interp(steps, np.flatnonzero(~np.isnan(evals[0])), evals[0][~np.isnan(evals[0])])
    dpo = np.interp(steps, np.flatnonzero(~np.isnan(evals[1])), evals[1][~np.isnan(evals[1])])
    sft_b, dpo_b = sft + rng.normal(0, 0.02, steps.size), dpo + rng.normal(0, 0.01, steps.size)
    c = {name: np.full(STEPS + 1, np.nan) for name in
         ("loss", "objective", "f_sft_batch", "f_dpo_batch", "gap_sft_est", "gap_dpo_est")}
    for s in range(1, STEPS + 1):
        if method == "sequential":
            obj = 0.0 if s <= round(STEPS * (1.0 - lam)) else 1.0
        elif method == "mix":
            obj = 0.5
        elif method == "alright":
            obj = float(rng.random() < lam)
        else:
            gs, gd = (1 - lam) * (sft_b[s] - F_STAR[0]), lam * (dpo_b[s] - F_STAR[1])
            c["gap_sft_est"][s], c["gap_dpo_est"][s] = gs, gd
            obj = 1.0 if gd > gs else 0.0
        c["objective"][s] = obj
        both = method in ("mix", "maxright")
        if both or obj == 0.0:
            c["f_sft_batch"][s] = sft_b[s]
        if both or obj == 1.0:
            c["f_dpo_batch"][s] = dpo_b[s]
        c["loss"][s] = ((1 - lam) * sft_b[s] + lam * dpo_b[s] if method == "mix"
                        else dpo_b[s] if obj == 1.0 else sft_b[s])
    return c


def build_points(rng, variant):
    """Every point as a dict (columns, metrics, curves), in generation (= id) order."""
    if variant == "main":
        groups = [({"train.lambda": 0.25}, 0.25, DESIGN_A), ({"train.lambda": 0.75}, 0.75, DESIGN_B)]
        lora = False
    else:
        groups = [({"train.lr": 1e-5, "train.mode": "lora"}, 0.5, DESIGN_A),
                  ({"train.lr": 1e-4, "train.mode": "lora"}, 0.5, DESIGN_FAILING)]
        lora = True
    points = []
    for columns, lam, design in groups:
        for method, (gaps, train_s, switch) in design.items():
            for k in range(2):
                seed, g = k + 1, gaps[k]
                evals = eval_curves(lam, method, g, switch[k] if switch else None)
                acc, win, racc = QUALITY[method]
                shift = 0.04 if lam > 0.5 else 0.0
                f_sft, f_dpo = F_STAR[0] + g[0], F_STAR[1] + g[1]
                metrics = {
                    "f_sft": f_sft, "f_dpo": f_dpo, "f_sft_star": F_STAR[0], "f_dpo_star": F_STAR[1],
                    "gap_sft": g[0], "gap_dpo": g[1], "ideal_distance": math.hypot(*g),
                    "reward_acc": racc + 0.01 * seed, "reward_margin": 0.3 + 0.1 * seed,
                    "win_rate": win - 0.03 * k + shift, "task_acc": acc + 0.02 * k + shift / 4,
                    "task_acc_ref": 0.55, "reward_mean": 1.2 + 0.1 * k,
                    "capability_acc": 0.62 - 0.05 * lam - 0.01 * k, "capability_acc_ref": 0.64,
                    "f_sft_switch": switch[k] if switch else math.nan,
                    "dpo_step_share": 1.0 if method == "mix" else lam,
                    "train_s": train_s[k], "step_ms": 1000.0 * train_s[k] / STEPS,
                    "peak_rss_mib": 512.0 + 8 * k, "steps": float(STEPS),
                }
                curves = step_curves(rng, lam, method, evals)
                curves["f_sft_eval"], curves["f_dpo_eval"] = evals
                points.append({"seed": seed, "method": method + ("+lora" if lora else ""), "status": 1,
                               "columns": dict(columns, **{"train.method": method}), "metrics": metrics,
                               "curves": curves, "failure": ""})
    if variant == "main":  # Mix at λ 0.75, seed 3: it diverged after logging 17 steps (seed 2's, cut)
        mix_b = next(p for p in points if p["method"] == "mix" and p["columns"]["train.lambda"] == 0.75)
        failed = {"seed": 3, "method": "mix", "status": 2, "failure": FAILURE,
                  "columns": {"train.lambda": 0.75, "train.method": "mix"}, "metrics": {},
                  "curves": {name: np.where(np.arange(STEPS + 1) <= 17, v, np.nan)
                             for name, v in mix_b["curves"].items()}}
        points.append(failed)
    for i, p in enumerate(points):
        p["id"] = i
    return points


SPEC = {
    "main": ("workload: posttrain\nseeds: [1, 2]\ntrain:\n  method: [sequential, mix, alright, maxright]\n"
             "  lambda: [0.25, 0.75]\n  mode: full\n",
             'workload="posttrain"\nseeds=[1,2]\naxis=train.method\naxis=train.lambda\ntrain.lambda=[0.25,0.75]\n'
             'train.lr=1.0000000000000001e-05\ntrain.method=["sequential","mix","alright","maxright"]\n'
             'train.mode="full"\n', ("train.method", "train.lambda")),
    "second": ("workload: posttrain\nseeds: [1, 2]\ntrain:\n  method: [sequential, mix, alright, maxright]\n"
               "  lambda: 0.5\n  lr: [1e-5, 1e-4]\n  mode: [lora]\n",
               'workload="posttrain"\nseeds=[1,2]\naxis=train.method\naxis=train.lr\ntrain.lambda=0.5\n'
               'train.lr=[1.0000000000000001e-05,0.0001]\ntrain.method=["sequential","mix","alright","maxright"]\n'
               'train.mode=["lora"]\n', ("train.method", "train.lr", "train.mode")),
}


def write(path, points, variant, rng):
    rows = [points[i] for i in rng.permutation(len(points))]
    if variant == "main":
        rows.insert(5, None)  # a pending row: fill values only
    n = len(rows)
    yaml, canonical, keys = SPEC[variant]
    with h5py.File(path, "w") as f:
        f.attrs["format"] = np.bytes_("trustbench-results")
        f.attrs["format_version"] = np.int32(1)
        f.attrs["workload"] = np.bytes_("posttrain")
        f.attrs["n_points"] = np.int64(n)
        f.attrs["dpo_reference"] = np.bytes_("initial")
        f.attrs["win_reference"] = np.bytes_("pi_ref")
        f.attrs["spec_yaml"] = np.bytes_(yaml)
        f.attrs["spec_canonical"] = np.bytes_(canonical)
        pts = f.create_group("points")
        get = lambda key, fill: [fill if p is None else p[key] for p in rows]
        pts["id"] = np.array(get("id", -1), dtype=np.int64)
        pts["status"] = np.array(get("status", 0), dtype=np.int32)
        pts["seed"] = np.array(get("seed", 0), dtype=np.int64)
        pts["method"] = np.array(get("method", ""), dtype="S64")
        pts["failure"] = np.array(get("failure", ""), dtype="S256")
        pts["wall_time"] = np.array([np.nan if p is None else 200.0 for p in rows])
        for key in keys:
            column = [None if p is None else p["columns"][key] for p in rows]
            if any(isinstance(c, str) for c in column):
                pts[key] = np.array([c or "" for c in column], dtype="S16")
            else:
                pts[key] = np.array([np.nan if c is None else c for c in column], dtype=np.float64)
        pts.attrs["hyperparameters"] = np.bytes_(",".join(keys))
        met = f.create_group("metrics")
        names = sorted({name for p in points for name in p["metrics"]})
        for name in names:
            met[name] = np.array([np.nan if p is None else p["metrics"].get(name, np.nan) for p in rows])
        cur = f.create_group("curves")
        for name in sorted(points[0]["curves"]):
            cur[name] = np.array([np.full(STEPS + 1, np.nan) if p is None else p["curves"][name] for p in rows],
                                 dtype=np.float32)
        f.create_group("samples")
        f.create_group("topology")


def main():
    p = argparse.ArgumentParser(description="a synthetic posttrain results file")
    p.add_argument("out")
    p.add_argument("--variant", choices=("main", "second"), default="main")
    args = p.parse_args()
    rng = np.random.default_rng(20250601)
    points = build_points(rng, args.variant)
    write(args.out, points, args.variant, rng)


if __name__ == "__main__":
    main()
