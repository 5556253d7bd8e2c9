"""tables.py RESULTS.h5 [--format markdown|latex] [--split SPLIT] [--out FILE]

The results of an unlearn, posttrain or poison results file as the papers' tables, each value the mean
± sample std over the seeds of its done points; failed points are listed under their table with the
reason the run gave. Unlearn: one table per data.split, one row per method configuration (Target, Retain, then
ga, graddiff, npo, simnpo, idkdpo, rmu, undial, each followed by its +wagle and +spunge variants; a
method run with several settings gets one row per setting, labelled with the hyperparameters that
differ). Posttrain: per mode (full, lora), XRIGHT's table (rows Sequential, Mix, ALRIGHT, MAXRIGHT; per
λ task accuracy, capability, win rate, ideal distance and the runtime change against Sequential) and a
table of the optimality gaps, reward accuracy, Sequential's SFT loss at its switch and peak RSS
(analysis/posttrain.py).
Poison: per task, one row per configuration (method "<peft.mode>[+<defence>]" and the swept keys that
differ): P-TM, C-TM, the task's clean metric (ROUGE-1 F1 or perplexity), its change against the
clean-only victim, the median input-perplexity increase, and for defended rows the detection precision,
recall and P-TM after the defence (analysis/poison.py). Run with /usr/bin/python3.
"""
import argparse
import sys

import numpy as np

import poison
import posttrain
from results import (DONE, PENDING, configurations, format_cell, latex_escape, load, markdown_grid, over_seeds,
                     parse_method, run, split_title)

PARSERS = {"unlearn": parse_method, "posttrain": posttrain.parse_method, "poison": poison.parse_method}
# The workloads whose tables their own module writes: (the heading's title, the module, what a table is per)
TABLES = {"posttrain": ("Joint post-training (XRIGHT)", posttrain, "mode and λ"),
          "poison": ("Poisoning through prefix-tuning", poison, "task")}

# (Markdown header, LaTeX header, metric, format): "sci" = scientific notation, else decimals
COLUMNS = (
    ("FQ", "FQ", "forget_quality", "sci"),
    ("log10 FQ", r"$\log_{10}$ FQ", "log10_forget_quality", 2),
    ("MU", "MU", "model_utility", 3),
    ("forget ROUGE-L", "Forget ROUGE-L", "forget_rouge", 3),
    ("privleak", "PrivLeak", "privleak", 1),
    ("relearn", "Relearn", "relearn_recovery", 3),
    ("probe", "Probe", "probe_acc", 3),
)


def column_values(res):
    """Each column's per-row values (None for a metric the file does not have)."""
    return [res.log10_fq() if metric == "log10_forget_quality" else res.metric(metric)
            for _, _, metric, _ in COLUMNS]


def table_rows(res, split, latex):
    """(cells of every configuration with done points, failed-point lines) of one split."""
    values = column_values(res)
    rows, failed = [], []
    for cfg in configurations(res, split):
        if cfg.done:
            seeds = np.unique(res.seeds[cfg.done]).size
            cells = [cfg.label if not latex else latex_escape(cfg.label), str(seeds)]
            for (_, _, _, kind), v in zip(COLUMNS, values):
                cells.append(format_cell(*over_seeds(res, v, cfg.done), kind, latex))
            rows.append((cfg.method.is_reference, cells))
        for i in sorted(cfg.failed, key=lambda i: res.seeds[i]):
            reason = res.failures[i] or "(no failure message recorded)"
            failed.append(f"{cfg.label}, seed {res.seeds[i]} (point {res.ids[i]}): {reason}")
    return rows, failed


def markdown_table(res, split):
    rows, failed = table_rows(res, split, latex=False)
    header = ["method", "seeds"] + [c[0] for c in COLUMNS]
    out = [f"### {split_title(split)}", "",
           "Mean ± sample std over the seeds of the done points (– = not measured).", ""]
    out += markdown_grid(header, [cells for _, cells in rows])
    if failed:
        out += ["", "Failed points:"] + [f"- {f}" for f in failed]
    return "\n".join(out) + "\n"


def latex_table(res, split):
    rows, failed = table_rows(res, split, latex=True)
    header = ["Method", "Seeds"] + [c[1] for c in COLUMNS]
    out = [r"\begin{table}[t]", r"\centering",
           rf"\caption{{Unlearning on {latex_escape(split_title(split))}: mean $\pm$ sample std over the "
           r"seeds of the done points (-- = not measured).}",
           r"\begin{tabular}{l" + "r" * (len(header) - 1) + "}", r"\toprule", " & ".join(header) + r" \\",
           r"\midrule"]
    for k, (reference, cells) in enumerate(rows):
        if k > 0 and rows[k - 1][0] and not reference:
            out.append(r"\midrule")  # the reference models above, the unlearning methods below
        out.append(" & ".join(cells) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}"]
    if failed:
        out += [r"\par\smallskip\footnotesize Failed points: " +
                "; ".join(latex_escape(f) for f in failed) + "."]
    out.append(r"\end{table}")
    return "\n".join(out) + "\n"


def unlearn_tables(res, args):
    """The unlearn file's heading and tables (one per split, or --split's); None after printing the error
    when --split names a split no point ran on."""
    splits = res.split_names()
    if args.split is not None:
        if args.split not in splits:
            print(f"error: {args.results}: no points ran on split {args.split!r}; the file has "
                  f"{', '.join(map(repr, splits)) or 'no points that ran'}", file=sys.stderr)
            return None
        splits = [args.split]
    table = latex_table if args.format == "latex" else markdown_table
    if args.format == "latex":
        parts = [f"% Unlearning results: {args.results} (needs \\usepackage{{booktabs}})\n"]
    else:
        parts = [f"## Unlearning results: {args.results}\n"]
    return parts + [table(res, s) for s in splits]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[1], prog="tables.py")
    p.add_argument("results", help="an unlearn, posttrain or poison results file (trustbench run SPEC -o RESULTS.h5)")
    p.add_argument("--format", choices=("markdown", "latex"), default="markdown")
    p.add_argument("--split", help="unlearn: only this data.split (e.g. forget10)")
    p.add_argument("--out", help="write here instead of standard output")
    args = p.parse_args()
    with load(args.results, PARSERS) as res:
        if res.workload in TABLES:
            title, module, per = TABLES[res.workload]
            if args.split is not None:
                print(f"error: {args.results}: --split selects an unlearn data.split; this is a {res.workload} "
                      f"results file (its tables are per {per})", file=sys.stderr)
                return 1
            if args.format == "latex":
                parts = [f"% {title} results: {args.results} (needs \\usepackage{{booktabs}})\n",
                         module.latex_tables(res)]
            else:
                parts = [f"## {title} results: {args.results}\n", module.markdown_tables(res)]
        else:
            parts = unlearn_tables(res, args)
            if parts is None:
                return 1
        pending = int((res.status == PENDING).sum())
        done = int((res.status == DONE).sum())
        note = f"{done} of {res.n_points} points done"
        if pending:
            note += f"; {pending} point{'s' if pending > 1 else ''} pending (not run yet)"
        parts.append(("% " if args.format == "latex" else "") + note + ".\n")
    text = "\n".join(parts)
    if args.out:
        try:
            with open(args.out, "w") as f:
                f.write(text)
        except OSError as e:
            print(f"error: cannot write {args.out}: {e.strerror}", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    run(main)
