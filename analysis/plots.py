"""plots.py RESULTS.h5 --out DIR

Writes the figures of an unlearn, a posttrain or a poison results file into DIR.

For every data.split of an unlearn results file:
- DIR/frontier_<split>.png: forget quality (log10 axis) against model utility, one marker per method
  configuration at the mean over its seeds' done points (bars: std over seeds; FQ averaged as log10),
  the Target and Retain models as references, and the frontier of the unlearning methods (no other
  configuration has both a higher FQ and a higher MU) dashed;
- DIR/loss_<split>.png: each unlearning configuration's loss curve (/curves/loss, mean over seeds) per
  logged step.
For every mode and λ of a posttrain results file (analysis/posttrain.py):
- DIR/trajectory_<mode>_lambda<λ>.png: f_SFT against f_DPO on the eval sets (/curves/f_sft_eval,
  f_dpo_eval), one line per method configuration (mean over seeds at each logged step, a square at the
  end), and the utopia point (f*_SFT, f*_DPO) as a star;
- DIR/loss_<mode>_lambda<λ>.png: the training loss and the two eval losses against the step.
For every task of a poison results file and every one of peft.prefix_len, train.lr, poison.trigger,
poison.position and poison.rate that it sweeps (analysis/poison.py):
- DIR/<task>_<key>.png (summarise_prefix_len.png, ...): P-TM, C-TM and the task's clean metric (ROUGE-1
  F1 or perplexity) against the key, one line per setting of the other swept keys (solid: the victim
  before any defence; dashed or dotted: after each defence), error bars the std over seeds.
Run with /usr/bin/python3.
"""
import argparse
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")  # files only: no display on a cluster node
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import ticker  # noqa: E402

import poison  # noqa: E402
import posttrain  # noqa: E402
from results import configurations, load, over_seeds, parse_method, run, split_title  # noqa: E402

PARSERS = {"unlearn": parse_method, "posttrain": posttrain.parse_method, "poison": poison.parse_method}
PLOTTERS = {"posttrain": posttrain, "poison": poison}  # the workloads whose module draws their figures

MARKERS = {"none": "*", "retain": "*", "ga": "o", "graddiff": "s", "npo": "^", "simnpo": "v",
           "idkdpo": "D", "rmu": "P", "undial": "X"}
REFERENCE_COLOURS = {"none": "black", "retain": "goldenrod"}


def file_name(kind, split):
    return f"{kind}_{re.sub(r'[^A-Za-z0-9._-]', '_', split) or 'all'}.png"


def colours(configs):
    """A distinct colour per unlearning configuration (tab20, cycling), fixed ones for the references."""
    cycle = plt.get_cmap("tab20").colors
    out, k = {}, 0
    for cfg in configs:
        if cfg.method.is_reference:
            out[cfg.label] = REFERENCE_COLOURS[cfg.method.base]
        else:
            out[cfg.label] = cycle[(2 * k) % 20 + (k // 10) % 2]  # the dark shades first, then the light
            k += 1
    return out


def frontier(points):
    """The configurations no other one beats on both axes: sweep from the highest FQ down, keeping each
    point whose MU exceeds every MU seen so far."""
    kept, best = [], -np.inf
    for x, y in sorted(points, key=lambda p: (-p[0], -p[1])):
        if y > best:
            kept.append((x, y))
            best = y
    return kept


def plot_frontier(res, split, configs, colour, path):
    log10_fq, mu = res.log10_fq(), res.metric("model_utility")
    fig, ax = plt.subplots(figsize=(8.5, 5.5))
    plotted, left_out, methods = 0, [], []
    for cfg in configs:
        x, xs, _ = over_seeds(res, log10_fq, cfg.done)
        y, ys, _ = over_seeds(res, mu, cfg.done)
        if not (np.isfinite(x) and np.isfinite(y)):
            left_out.append(cfg.label)
            continue
        ax.errorbar(x, y, xerr=np.nan_to_num(xs), yerr=np.nan_to_num(ys), fmt=MARKERS[cfg.method.base],
                    color=colour[cfg.label], markersize=13 if cfg.method.is_reference else 8,
                    markeredgecolor="black", markeredgewidth=0.5, elinewidth=0.8, capsize=2, label=cfg.label)
        plotted += 1
        if not cfg.method.is_reference:
            methods.append((x, y))
    edge = frontier(methods)
    if len(edge) > 1:
        ax.plot(*zip(*sorted(edge)), linestyle="--", color="grey", linewidth=1, zorder=0,
                label="frontier of the unlearning methods")
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"$10^{{{v:g}}}$"))
    ax.set_xlabel("forget quality (KS p-value against the retain model, log scale)")
    ax.set_ylabel("model utility")
    ax.set_title(f"{split_title(split)}: forget quality against model utility (mean over seeds)")
    ax.grid(alpha=0.3)
    if plotted:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    else:
        ax.text(0.5, 0.5, "no done point has both FQ and MU", transform=ax.transAxes, ha="center")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return plotted, left_out


def mean_curve(rows):
    """Per-step mean over the rows that logged the step (NaN where none did)."""
    logged = ~np.isnan(rows)
    counts = logged.sum(axis=0)
    sums = np.where(logged, rows, 0.0).sum(axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def plot_losses(curves, split, configs, colour, path):
    fig, ax = plt.subplots(figsize=(8.5, 5.5))
    plotted = 0
    for cfg in configs:
        if cfg.method.is_reference:
            continue
        curve = mean_curve(curves[cfg.done].astype(np.float64))
        if np.isnan(curve).all():
            continue
        ax.plot(np.arange(1, curve.size + 1), curve, color=colour[cfg.label], linewidth=1.2, label=cfg.label)
        plotted += 1
    ax.set_xlabel("logged step")
    ax.set_ylabel("unlearning loss")
    ax.set_title(f"{split_title(split)}: unlearning loss (mean over seeds)")
    ax.grid(alpha=0.3)
    if plotted:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    else:
        ax.text(0.5, 0.5, "no done point logged a loss", transform=ax.transAxes, ha="center")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return plotted


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[1], prog="plots.py")
    p.add_argument("results", help="an unlearn, posttrain or poison results file (trustbench run SPEC -o RESULTS.h5)")
    p.add_argument("--out", required=True, help="directory for the PNG files (created when missing)")
    args = p.parse_args()
    with load(args.results, PARSERS) as res:
        try:
            os.makedirs(args.out, exist_ok=True)
        except OSError as e:
            print(f"error: cannot create the output directory {args.out}: {e.strerror}", file=sys.stderr)
            return 1
        if res.workload in PLOTTERS:
            print("\n".join(PLOTTERS[res.workload].write_plots(res, args.out)))
            return 0
        curves = res.curve("loss")
        if curves is None:
            print(f"{args.results} has no /curves/loss: no loss plots")
        for split in res.split_names():
            configs = [c for c in configurations(res, split) if c.done]
            colour = colours(configs)
            path = os.path.join(args.out, file_name("frontier", split))
            plotted, left_out = plot_frontier(res, split, configs, colour, path)
            print(f"wrote {path}: {plotted} configurations"
                  + (f"; without FQ or MU, left out: {', '.join(left_out)}" if left_out else ""))
            if curves is not None:
                path = os.path.join(args.out, file_name("loss", split))
                print(f"wrote {path}: {plot_losses(curves, split, configs, colour, path)} loss curves")
    return 0


if __name__ == "__main__":
    run(main)
