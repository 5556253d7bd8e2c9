"""tables.py RESULTS.h5 [--format markdown|latex] [--split SPLIT] [--out FILE]

The unlearning results as the papers' tables: one per data.split, one row per method configuration
(Target, Retain, then ga, graddiff, npo, simnpo, idkdpo, rmu, undial, each followed by its +wagle and
+spunge variants; a method run with several settings gets one row per setting, labelled with the
hyperparameters that differ), each value the mean ± sample std over the seeds of its done points.
Failed points are listed under their split's table with the reason the run gave. Run with
/usr/bin/python3.
"""
import argparse
import sys

import numpy as np

from results import DONE, PENDING, configurations, load, over_seeds, run, split_title

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
LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                 "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text):
    return "".join(LATEX_SPECIAL.get(c, c) for c in text)


def sci_latex(x, digits):
    mantissa, _, exponent = f"{x:.{digits}e}".partition("e")
    return rf"{mantissa}{{\times}}10^{{{int(exponent)}}}"


def format_cell(mean, std, n, kind, latex):
    """mean ± std in the column's notation; the mean alone for one seed, a dash when nothing was measured."""
    if n == 0:
        return "--" if latex else "–"
    if kind == "sci":
        m = sci_latex(mean, 2) if latex else f"{mean:.2e}"
        s = (sci_latex(std, 1) if latex else f"{std:.1e}") if n > 1 else ""
    else:
        m, s = f"{mean:.{kind}f}", f"{std:.{kind}f}" if n > 1 else ""
    if latex:
        return f"${m} \\pm {s}$" if s else f"${m}$"
    return f"{m} ± {s}" if s else m


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
    widths = [max(len(r[i]) for r in [header] + [cells for _, cells in rows]) for i in range(len(header))]
    line = lambda cells: "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                           for i, (c, w) in enumerate(zip(cells, widths))) + " |"
    out = [f"### {split_title(split)}", "",
           "Mean ± sample std over the seeds of the done points (– = not measured).", "",
           line(header), "| " + " | ".join(":" + "-" * (w - 1) if i == 0 else "-" * (w - 1) + ":"
                                           for i, w in enumerate(widths)) + " |"]
    out += [line(cells) for _, cells in rows]
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


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[1], prog="tables.py")
    p.add_argument("results", help="an unlearn results file (trustbench run SPEC -o RESULTS.h5)")
    p.add_argument("--format", choices=("markdown", "latex"), default="markdown")
    p.add_argument("--split", help="only this data.split (e.g. forget10)")
    p.add_argument("--out", help="write here instead of standard output")
    args = p.parse_args()
    with load(args.results) as res:
        splits = res.split_names()
        if args.split is not None:
            if args.split not in splits:
                print(f"error: {args.results}: no points ran on split {args.split!r}; the file has "
                      f"{', '.join(map(repr, splits)) or 'no points that ran'}", file=sys.stderr)
                return 1
            splits = [args.split]
        table = latex_table if args.format == "latex" else markdown_table
        if args.format == "latex":
            parts = [f"% Unlearning results: {args.results} (needs \\usepackage{{booktabs}})\n"]
        else:
            parts = [f"## Unlearning results: {args.results}\n"]
        parts += [table(res, s) for s in splits]
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
