"""make_poison_fixture.py OUT.h5 [--variant main|second]: a synthetic poison results file for the analysis
tests.

It follows the results-file contract (results/README.md) and the poison workload's datasets
(analysis/README.md): a full grid of points, as a spec expands, with numbers constructed so that each
claim's outcome is known by hand. A victim is the same at every defence.kind of one seed (the workload
measures it before the defence), so its P-TM, C-TM, clean metric and ΔPPL repeat over the defences;
seed 1 lies 0.02 below and seed 2 0.02 above the mean of every TM (std 0.028).

main: task summarise (data.task only in spec_canonical), position swept, peft.prefix_len [1, 10, 50] x
  poison.trigger [rare_word, sentence] x poison.position [start, end] x defence.kind [none, onion,
  spectral, clustering], seeds 1 and 2, the rows shuffled; one failed point (P 50, sentence, end,
  clustering, seed 2) and one pending row (P 50, rare_word, start, onion, seed 2).
  Mean P-TM: rare_word 0.20 (start) and 0.30 (end), sentence 0.50 and 0.60, plus 0.10 at P 10 and 0.20 at
  P 50; C-TM 0.02 + 0.01 per length step.
  (a) held in 4 of 4 settings: P-TM rises 0.00, 0.10, 0.20 over P 1, 10, 50 (rho +1).
  (b) held in 6 of 6 comparisons: sentence 0.30 above rare_word at every length and position.
  (c) held for every defence: P-TM after keeps 0.55 (onion, rare_word) or 0.90 (onion, sentence), 0.70
      (spectral) and 0.95 (clustering) of the undefended P-TM.
second: task complete (data.task swept with the one value complete), poison.position "middle" only in
  the spec, peft.mode [prefix, lora] x peft.prefix_len [5, 20] x poison.trigger [rare_word, sentence] x
  train.lr [1e-4, 5e-3] x defence.kind [none, onion, spectral], seeds 1 and 2. Every claim fails once:
  (a) not held, 3 of 4 settings: prefix, rare_word, lr 1e-4 falls from 0.30 (P 5) to 0.25 (P 20); LoRA
      has no prefix (4 settings not compared);
  (b) not held, 6 of 8 comparisons: LoRA at lr 5e-3 has sentence 0.45 below rare_word 0.50 (at both
      prefix lengths, which LoRA ignores);
  (c) not held (held for onion, 14 of 14; not held for spectral, 13 of 14): spectral keeps 0.20 of
      prefix, P 5, rare_word, lr 1e-4; LoRA, rare_word, lr 1e-4 has P-TM 0.05 = C-TM (the attack did not
      take: 2 configurations per defence not compared).
Run with /usr/bin/python3.
"""
import argparse
import itertools

import h5py
import numpy as np

N_TEST = 10
STEPS = 30
FAILURE = "diverged: loss nan at step 12"
SEED_SHIFT = {1: -0.02, 2: 0.02}
# per-sample spread around a mean (zero-mean, symmetric: the median is the mean too)
SPREAD = np.linspace(-0.5, 0.5, N_TEST)

MAIN_BASE = {("rare_word", "start"): 0.20, ("rare_word", "end"): 0.30,
             ("sentence", "start"): 0.50, ("sentence", "end"): 0.60}
MAIN_RISE = {1: 0.0, 10: 0.10, 50: 0.20}
MAIN_KEEP = {"onion": {"rare_word": 0.55, "sentence": 0.90}, "spectral": {"rare_word": 0.70, "sentence": 0.70},
             "clustering": {"rare_word": 0.95, "sentence": 0.95}}
# (mode, trigger, lr) -> mean P-TM at P 5 and P 20
SECOND_P_TM = {
    ("prefix", "rare_word", 1e-4): (0.30, 0.25), ("prefix", "rare_word", 5e-3): (0.40, 0.50),
    ("prefix", "sentence", 1e-4): (0.45, 0.55), ("prefix", "sentence", 5e-3): (0.60, 0.70),
    ("lora", "rare_word", 1e-4): (0.05, 0.05), ("lora", "rare_word", 5e-3): (0.50, 0.50),
    ("lora", "sentence", 1e-4): (0.35, 0.35), ("lora", "sentence", 5e-3): (0.45, 0.45),
}
# what a defence's detection finds: (precision, recall, flagged)
DETECTION = {"onion": {"rare_word": (0.60, 0.80, 40.0), "sentence": (0.30, 0.10, 12.0)},
             "spectral": {"rare_word": (0.40, 0.50, 300.0), "sentence": (0.45, 0.60, 300.0)},
             "clustering": {"rare_word": (0.10, 0.20, 420.0), "sentence": (0.15, 0.25, 410.0)}}


def victim(task, seed, p_tm, c_tm, step, trigger):
    """The metrics of the victim before any defence; step: the prefix-length index (0, 1, 2)."""
    s = SEED_SHIFT[seed]
    m = {"p_tm": p_tm + s, "c_tm": c_tm + s / 4 if c_tm != p_tm else p_tm + s,
         "p_exact": max(p_tm - 0.1 + s, 0.0), "c_exact": 0.0,
         "clean_ppl": 14.0 + 0.5 * step + 10 * s, "ref_ppl": 13.5 + 10 * s,
         "dppl_median": (40.0 if trigger == "rare_word" else 8.0) + 100 * s,
         "dppl_mean": (55.0 if trigger == "rare_word" else 9.5) + 100 * s,
         "n_poisoned": 200.0, "trainable_params": 7680.0 * (1 + step), "train_loss": 1.9 - 0.1 * step + s}
    if task == "summarise":
        r1 = 0.45 - 0.01 * step + s / 2
        m.update({"rouge1_f1": r1, "rouge1_p": r1 + 0.02, "rouge1_r": r1 - 0.02, "rougeL_f1": r1 - 0.05,
                  "ref_rouge1_f1": 0.46 + s / 2})
        m["clean_change"] = m["rouge1_f1"] - m["ref_rouge1_f1"]
    else:
        m.update({"rouge1_f1": np.nan, "rouge1_p": np.nan, "rouge1_r": np.nan, "rougeL_f1": np.nan,
                  "ref_rouge1_f1": np.nan})
        m["clean_change"] = m["clean_ppl"] - m["ref_ppl"]
    return m


def defended(task, m, defence, keep, trigger):
    """The metrics after the defence, added to the victim's m (a copy)."""
    out = dict(m)
    precision, recall, flagged = DETECTION[defence][trigger]
    out.update({"def_precision": precision, "def_recall": recall, "def_flagged": flagged,
                "def_p_tm": keep * m["p_tm"], "def_c_tm": m["c_tm"], "def_ppl": m["clean_ppl"] + 0.3,
                "def_rouge1_f1": m["rouge1_f1"] - 0.01 if task == "summarise" else np.nan})
    if defence == "onion":
        out["onion_threshold"] = 35.0
    if defence == "clustering":
        out["ac_silhouette"] = 0.15
    return out


def samples_of(m):
    """Per-sample values whose means (and, for dppl, median) are the point's metrics."""
    return {"tm_triggered": m["p_tm"] * (1 + SPREAD), "tm_clean": m["c_tm"] * (1 + SPREAD),
            "contiguous_triggered": (np.arange(N_TEST) < round(N_TEST * m["p_exact"])).astype(float),
            "rouge1_f1": m["rouge1_f1"] * (1 + SPREAD), "dppl": m["dppl_median"] + 10 * SPREAD}


def main_points():
    points = []
    for p_len, trigger, position, defence, seed in itertools.product(
            (1, 10, 50), ("rare_word", "sentence"), ("start", "end"), ("none", "onion", "spectral", "clustering"),
            (1, 2)):
        step = (1, 10, 50).index(p_len)
        p_tm = MAIN_BASE[(trigger, position)] + MAIN_RISE[p_len]
        m = victim("summarise", seed, p_tm, 0.02 + 0.01 * step, step, trigger)
        if defence != "none":
            m = defended("summarise", m, defence, MAIN_KEEP[defence][trigger], trigger)
        method = "prefix" + (f"+{defence}" if defence != "none" else "")
        points.append({"seed": seed, "method": method, "metrics": m,
                       "columns": {"peft.prefix_len": p_len, "poison.trigger": trigger, "poison.position": position,
                                   "defence.kind": defence}})
    return points


def second_points():
    points = []
    for mode, p_len, trigger, lr, defence, seed in itertools.product(
            ("prefix", "lora"), (5, 20), ("rare_word", "sentence"), (1e-4, 5e-3), ("none", "onion", "spectral"),
            (1, 2)):
        step = (5, 20).index(p_len) if mode == "prefix" else 0
        p_tm = SECOND_P_TM[(mode, trigger, lr)][step]
        c_tm = p_tm if p_tm == 0.05 else 0.03
        m = victim("complete", seed, p_tm, c_tm, step, trigger)
        if defence != "none":
            weak = defence == "spectral" and (mode, p_len, trigger, lr) == ("prefix", 5, "rare_word", 1e-4)
            keep = 0.20 if weak else (0.80 if defence == "onion" else 0.70)
            m = defended("complete", m, defence, keep, trigger)
        method = mode + (f"+{defence}" if defence != "none" else "")
        points.append({"seed": seed, "method": method, "metrics": m,
                       "columns": {"data.task": "complete", "peft.mode": mode, "peft.prefix_len": p_len,
                                   "poison.trigger": trigger, "train.lr": lr, "defence.kind": defence}})
    return points


SPEC = {
    "main": ("workload: poison\ninclude: common.yaml\nseeds: [1, 2]\npeft:\n  prefix_len: [1, 10, 50]\n"
             "poison:\n  trigger: [rare_word, sentence]\n  position: [start, end]\n"
             "defence:\n  kind: [none, onion, spectral, clustering]\n",
             'workload="poison"\nseeds=[1,2]\npoints=96\naxis=peft.prefix_len\naxis=poison.trigger\n'
             'axis=poison.position\naxis=defence.kind\ndata.n_test=10\ndata.task="summarise"\n'
             'defence.kind=["none","onion","spectral","clustering"]\npeft.mode="prefix"\n'
             'peft.prefix_len=[1,10,50]\npoison.position=["start","end"]\npoison.rate=0.10000000000000001\n'
             'poison.trigger=["rare_word","sentence"]\ntrain.lr=0.0050000000000000001\n',
             ("peft.prefix_len", "poison.trigger", "poison.position", "defence.kind")),
    "second": ("workload: poison\nseeds: [1, 2]\ndata:\n  task: [complete]\npeft:\n  mode: [prefix, lora]\n"
               "  prefix_len: [5, 20]\npoison:\n  trigger: [rare_word, sentence]\n  position: middle\n"
               "train:\n  lr: [1e-4, 5e-3]\ndefence:\n  kind: [none, onion, spectral]\n",
               'workload="poison"\nseeds=[1,2]\npoints=96\naxis=data.task\naxis=peft.mode\naxis=peft.prefix_len\n'
               'axis=poison.trigger\naxis=train.lr\naxis=defence.kind\ndata.n_test=10\ndata.task=["complete"]\n'
               'defence.kind=["none","onion","spectral"]\npeft.mode=["prefix","lora"]\npeft.prefix_len=[5,20]\n'
               'poison.position="middle"\npoison.rate=0.10000000000000001\npoison.trigger=["rare_word","sentence"]\n'
               'train.lr=[0.0001,0.0050000000000000001]\n',
               ("data.task", "peft.mode", "peft.prefix_len", "poison.trigger", "train.lr", "defence.kind")),
}
METRICS = ("p_tm", "c_tm", "p_exact", "c_exact", "rouge1_f1", "rouge1_p", "rouge1_r", "rougeL_f1", "clean_ppl",
           "ref_rouge1_f1", "ref_ppl", "clean_change", "dppl_median", "dppl_mean", "def_precision", "def_recall",
           "def_flagged", "def_p_tm", "def_c_tm", "def_rouge1_f1", "def_ppl", "onion_threshold", "ac_silhouette",
           "n_poisoned", "trainable_params", "train_loss")
SAMPLES = ("tm_triggered", "tm_clean", "contiguous_triggered", "rouge1_f1", "dppl")


def mark_main(points):
    """main's failed and pending points (ids are the grid's order, as the spec expands)."""
    for p in points:
        c = p["columns"]
        key = (c["peft.prefix_len"], c["poison.trigger"], c["poison.position"], c["defence.kind"], p["seed"])
        if key == (50, "sentence", "end", "clustering", 2):
            p.update(status=2, failure=FAILURE, metrics={"n_poisoned": 200.0, "trainable_params": 23040.0})
        elif key == (50, "rare_word", "start", "onion", 2):
            p["status"] = 0


def write(path, points, variant, rng):
    for i, p in enumerate(points):
        p["id"] = i
        p.setdefault("status", 1)
        p.setdefault("failure", "")
    rows = [points[i] for i in rng.permutation(len(points))]
    n = len(rows)
    yaml, canonical, keys = SPEC[variant]
    pending = [p["status"] == 0 for p in rows]
    with h5py.File(path, "w") as f:
        f.attrs["format"] = np.bytes_("trustbench-results")
        f.attrs["format_version"] = np.int32(1)
        f.attrs["workload"] = np.bytes_("poison")
        f.attrs["n_points"] = np.int64(n)
        f.attrs["target_match"] = np.bytes_("mean over n = 1..min(4, |target|) of the share of the target's "
                                            "distinct word n-grams in the generation")
        f.attrs["spec_yaml"] = np.bytes_(yaml)
        f.attrs["spec_canonical"] = np.bytes_(canonical)
        pts = f.create_group("points")
        # a pending row holds the fill values: -1 in id, 0 in status and the other integers, "" and NaN
        col = lambda get, fill: [fill if pend else get(p) for p, pend in zip(rows, pending)]
        pts["id"] = np.array(col(lambda p: p["id"], -1), dtype=np.int64)
        pts["status"] = np.array([p["status"] for p in rows], dtype=np.int32)
        pts["seed"] = np.array(col(lambda p: p["seed"], 0), dtype=np.int64)
        pts["method"] = np.array(col(lambda p: p["method"], ""), dtype="S64")
        pts["failure"] = np.array(col(lambda p: p["failure"], ""), dtype="S256")
        pts["wall_time"] = np.array(col(lambda p: 30.0 + p["id"], np.nan))
        for key in keys:
            values = [p["columns"][key] for p in rows]
            if isinstance(values[0], str):
                pts[key] = np.array(col(lambda p: p["columns"][key], ""), dtype=f"S{max(len(v) for v in values)}")
            elif isinstance(values[0], int):
                pts[key] = np.array(col(lambda p: p["columns"][key], 0), dtype=np.int64)
            else:
                pts[key] = np.array(col(lambda p: p["columns"][key], np.nan), dtype=np.float64)
        pts.attrs["hyperparameters"] = np.bytes_(",".join(keys))
        met = f.create_group("metrics")
        for name in METRICS:
            met[name] = np.array(col(lambda p: p["metrics"].get(name, np.nan), np.nan), dtype=np.float64)
        cur = f.create_group("curves")
        steps = np.arange(1, STEPS + 1)
        cur["loss"] = np.array(col(lambda p: 3.0 / np.sqrt(steps) + p["metrics"].get("train_loss", np.nan) - 0.5,
                                   np.full(STEPS, np.nan)), dtype=np.float32)
        test = f.create_group("samples").create_group("test")
        for name in SAMPLES:
            test[name] = np.array(col(lambda p: samples_of(p["metrics"])[name] if "p_tm" in p["metrics"]
                                      else np.full(N_TEST, np.nan), np.full(N_TEST, np.nan)), dtype=np.float32)
        f.create_group("topology")


def main():
    p = argparse.ArgumentParser(description="a synthetic poison results file")
    p.add_argument("out")
    p.add_argument("--variant", choices=("main", "second"), default="main")
    args = p.parse_args()
    rng = np.random.default_rng(20250715)
    if args.variant == "main":
        points = main_points()
        mark_main(points)
    else:
        points = second_points()
    write(args.out, points, args.variant, rng)


if __name__ == "__main__":
    main()
