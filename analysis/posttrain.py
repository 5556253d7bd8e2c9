"""The joint post-training workload (workload: posttrain; XRIGHT, ../shared/reference/posttrain.md
section A) for tables.py, plots.py and claims.py: its method strings, its configurations, and what the
three scripts print and draw for a posttrain results file.

A configuration is the points that share method, mode, λ (train.lambda, the DPO weight) and every other
swept key (train.lr, ...): they differ only in the seed. Tables are per mode (full, lora: the method's
"+lora" suffix), one row per method and setting of the other keys, one column group per λ. Runtime is
compared with Sequential at the same λ, mode and other keys, seed by seed. Claims compare means over
seeds. The results/README.md layout holds; the workload's datasets are listed in analysis/README.md.
"""
import math
import os
import re
from dataclasses import dataclass, field

import numpy as np

from results import (DONE, PENDING, format_cell, format_value, latex_escape, markdown_grid, over_seeds,
                     summarise)

METHODS = ("sequential", "mix", "alright", "maxright")
TITLES = {"sequential": "Sequential", "mix": "Mix", "alright": "ALRIGHT", "maxright": "MAXRIGHT"}
MODES = ("full", "lora")
MODE_TITLES = {"full": "full fine-tuning", "lora": "LoRA"}
LAMBDA_KEY, MODE_KEY, METHOD_KEY = "train.lambda", "train.mode", "train.method"
# The keys that place a point in the tables (table, row, column group) rather than label its row.
PLACING_KEYS = (LAMBDA_KEY, MODE_KEY, METHOD_KEY)
RUNTIME = "runtime"  # the column computed from train_s against Sequential, not read from one metric

# (Markdown header, LaTeX header, metric, decimals, signed)
MAIN_COLUMNS = (
    ("task acc", "Task acc.", "task_acc", 3, False),
    ("capability", "Capability", "capability_acc", 3, False),
    ("win rate", "Win rate", "win_rate", 3, False),
    ("ideal dist", "Ideal dist.", "ideal_distance", 3, False),
    ("runtime %", r"Runtime (\%)", RUNTIME, 1, True),
)
GAP_COLUMNS = (
    ("SFT gap", r"$\Delta_{\mathrm{SFT}}$", "gap_sft", 3, False),
    ("DPO gap", r"$\Delta_{\mathrm{DPO}}$", "gap_dpo", 3, False),
    ("reward acc", "Reward acc.", "reward_acc", 3, False),
    ("f_SFT at switch", r"$f_{\mathrm{SFT}}$ at switch", "f_sft_switch", 3, False),
    ("peak RSS MiB", "Peak RSS (MiB)", "peak_rss_mib", 0, False),
)
TABLES = (
    ("task accuracy, capability, win rate, ideal distance, runtime", MAIN_COLUMNS,
     "Capability: multiple-choice accuracy on the world-knowledge questions (the MMLU stand-in; chance "
     "0.25; capability_acc_ref is the base model's). Runtime: the change of train_s against Sequential at the same λ, "
     "mode and other hyperparameters, in %, seed by seed, then mean ± std."),
    ("optimality gaps, reward accuracy, SFT loss at Sequential's switch, peak memory", GAP_COLUMNS,
     "Gaps: f − f* on the eval sets. f_SFT at switch: Sequential's eval SFT loss at the end of its SFT "
     "phase (the other methods have none). Peak RSS: the largest resident set of the group's ranks."),
)

FORGET_TOLERANCE = 1e-3  # nats per token: claim (a) needs f_SFT to rise by more than this after the switch
MIX_RATIO = 1.2          # claim (c): Mix's mean train_s over ALRIGHT's (MAXRIGHT's) must exceed this


@dataclass(frozen=True)
class Method:
    """One value of /points/method: "<base>" or "<base>+lora"."""
    base: str
    lora: bool = False

    @property
    def text(self):
        return self.base + ("+lora" if self.lora else "")

    @property
    def mode(self):
        return "lora" if self.lora else "full"

    @property
    def title(self):
        return TITLES[self.base]


def parse_method(text):
    """The Method that text spells; ValueError saying what is wrong otherwise."""
    base, plus, suffix = text.partition("+")
    if base not in METHODS or (plus and suffix != "lora"):
        raise ValueError(f"method {text!r} is not one of {', '.join(METHODS)}, optionally followed by +lora")
    return Method(base, bool(plus))


@dataclass
class Config:
    """The points that share method, λ and the other swept keys: one table cell group, one plotted line."""
    method: Method
    lam: float
    other: tuple        # ((key, value), ...): the swept keys but method, λ and mode
    done: list = field(default_factory=list)    # row indices
    failed: list = field(default_factory=list)
    setting: str = ""   # the other keys on which the file's configurations differ ("lr 1e-5"), or ""

    @property
    def mode(self):
        return self.method.mode

    @property
    def label(self):
        """The row's name: the method's title and the setting."""
        return self.method.title + (f" ({self.setting})" if self.setting else "")

    @property
    def where(self):
        """Mode, λ and setting, as the claims name a comparison."""
        return ", ".join([self.mode, f"λ {format_value(self.lam)}"] + ([self.setting] if self.setting else []))


def _sortable(v):
    return (0, v, "") if isinstance(v, (int, float)) else (1, 0.0, str(v))


def lambdas(res):
    """Each row's λ as float64: its column when swept, else the spec's constant. A λ that is missing or
    not a DPO weight in [0, 1] makes the file invalid."""
    runs = res.status != PENDING
    if LAMBDA_KEY in res.hyper:
        values = res.hyper[LAMBDA_KEY]
        if values.dtype.kind not in "fiu":
            res.fail(f"/points/{LAMBDA_KEY} holds {values.dtype} values, not numbers (the DPO weight)")
        lam = values.astype(np.float64)
        bad = np.flatnonzero(runs & ~((lam >= 0.0) & (lam <= 1.0)))
        if bad.size:
            res.fail(f"/points/{LAMBDA_KEY} row {bad[0]} holds {lam[bad[0]]}, not a DPO weight in [0, 1]")
        return lam
    text = res.constant(LAMBDA_KEY)
    if text is None:
        res.fail(f"{LAMBDA_KEY} is neither a /points column nor a key of spec_canonical or spec_yaml")
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        res.fail(f"the spec's {LAMBDA_KEY} = {text!r} is not a DPO weight in [0, 1]")
    return np.full(res.n_points, value)


def _check_modes(res):
    """train.mode (its column, else the spec's constant, when the file states it) must agree with the
    "+lora" of each run row's method string, which is what places the row."""
    swept = MODE_KEY in res.hyper
    constant = None if swept else res.constant(MODE_KEY)
    if not swept and constant is None:
        return
    for i in np.flatnonzero(res.status != PENDING):
        stated = str(res.hyper_value(MODE_KEY, i)) if swept else constant
        if stated != res.methods[i].mode:
            where = f"/points/{MODE_KEY} row {i} (point id {res.ids[i]})" if swept else f"the spec's {MODE_KEY}"
            res.fail(f"{where} is {stated!r} but /points/method row {i} {res.methods[i].text!r} says "
                     f"{res.methods[i].mode!r}")


def configurations(res):
    """Every configuration with run points (done or failed), ordered by mode, other keys, method, λ; each
    setting names the other keys on which the file's configurations differ."""
    lam = lambdas(res)
    _check_modes(res)
    keys = [k for k in res.hyper_keys if k not in PLACING_KEYS]
    groups = {}
    for i in np.flatnonzero(res.status != PENDING):
        method = res.methods[i]
        other = tuple((k, res.hyper_value(k, i)) for k in keys)
        cfg = groups.setdefault((method, float(lam[i]), other), Config(method, float(lam[i]), other))
        (cfg.done if res.status[i] == DONE else cfg.failed).append(int(i))
    values = {}
    for (_, _, other) in groups:
        for k, v in other:
            values.setdefault(k, set()).add(v)
    differing = [k for k in keys if len(values.get(k, ())) > 1]
    short = {k: k.rsplit(".", 1)[-1] for k in differing}
    for k in differing:
        if sum(s == short[k] for s in short.values()) > 1:
            short[k] = k
    for cfg in groups.values():
        cfg.setting = ", ".join(f"{short[k]} {format_value(v)}" for k, v in cfg.other if k in short)
    return sorted(groups.values(), key=lambda c: (MODES.index(c.mode), tuple(_sortable(v) for _, v in c.other),
                                                  METHODS.index(c.method.base), c.lam))


def sequential_of(configs, cfg):
    """The Sequential configuration at cfg's λ, mode and other keys (None when there is none)."""
    for c in configs:
        if c.method == Method("sequential", cfg.method.lora) and c.lam == cfg.lam and c.other == cfg.other:
            return c
    return None


def per_seed(res, values, rows):
    """{seed: the mean of values over the seed's rows with a value} (seeds without a value left out)."""
    out = {}
    for s in np.unique(res.seeds[rows]):
        m = summarise(values[[i for i in rows if res.seeds[i] == s]])[0]
        if not math.isnan(m):
            out[int(s)] = m
    return out


def runtime_change(res, cfg, base):
    """(mean, sample std, seeds) of 100 (train_s / Sequential's train_s - 1), seed by seed over the seeds
    both measured; (NaN, NaN, 0) without train_s or a Sequential to compare with."""
    t = res.metric("train_s")
    if t is None or base is None or not cfg.done or not base.done:
        return math.nan, math.nan, 0
    mine, theirs = per_seed(res, t, cfg.done), per_seed(res, t, base.done)
    return summarise([100.0 * (mine[s] / theirs[s] - 1.0) for s in mine if theirs.get(s, 0.0) > 0.0])


# ---- tables.py -------------------------------------------------------------------------------------

def _rows(configs, mode):
    """The mode's table rows: [(first config, {λ: config})] in the configurations' order."""
    rows = {}
    for c in configs:
        if c.mode == mode:
            rows.setdefault((c.method, c.other), (c, {}))[1][c.lam] = c
    return list(rows.values())


def _cells(res, configs, by_lambda, lams, columns, latex):
    """A row's cells after its label and seed count: each column of each λ."""
    cells = []
    for lam in lams:
        cfg = by_lambda.get(lam)
        for _, _, metric, decimals, signed in columns:
            if cfg is None:
                stats = (math.nan, math.nan, 0)
            elif metric == RUNTIME:
                stats = runtime_change(res, cfg, sequential_of(configs, cfg))
            else:
                stats = over_seeds(res, res.metric(metric), cfg.done)
            cells.append(format_cell(*stats, decimals, latex, signed=signed))
    return cells


# The Markdown text's symbols that LaTeX (pdflatex) only knows in math mode.
LATEX_SYMBOLS = {"λ": r"$\lambda$", "±": r"$\pm$", "−": r"$-$", "θ": r"$\theta$"}


def latex_text(text):
    """text escaped for LaTeX, its Greek letters and math signs as math."""
    return "".join(LATEX_SYMBOLS.get(c, c) for c in latex_escape(text))


def _failed_lines(res, configs, mode):
    return [f"{c.label}, λ {format_value(c.lam)}, seed {res.seeds[i]} (point {res.ids[i]}): "
            f"{res.failures[i] or '(no failure message recorded)'}"
            for c in configs if c.mode == mode for i in sorted(c.failed, key=lambda i: res.seeds[i])]


def _table_body(res, configs, mode, columns, latex):
    """(λ values, rows of cells) of one mode's table; a row only for a method setting with done points."""
    done = [c for c in configs if c.mode == mode and c.done]
    lams = sorted({c.lam for c in done})
    body = []
    for first, by_lambda in _rows(done, mode):
        seeds = np.unique(res.seeds[[i for c in by_lambda.values() for i in c.done]]).size
        label = latex_text(first.label) if latex else first.label
        body.append([label, str(seeds)] + _cells(res, configs, by_lambda, lams, columns, latex))
    return lams, body


def markdown_tables(res):
    """The Markdown text of every mode's two tables."""
    configs = configurations(res)
    out = []
    for mode in MODES:
        if not any(c.mode == mode for c in configs):
            continue
        for k, (what, columns, note) in enumerate(TABLES):
            lams, body = _table_body(res, configs, mode, columns, latex=False)
            header = ["method", "seeds"] + [f"{c[0]} λ={format_value(lam)}" for lam in lams for c in columns]
            out += [f"### {MODE_TITLES[mode]}: {what}", "",
                    f"Mean ± sample std over the seeds of the done points (– = not measured). {note}", ""]
            out += markdown_grid(header, body) + [""]
            failed = _failed_lines(res, configs, mode)
            if k == 0 and failed:
                out += ["Failed points:"] + [f"- {f}" for f in failed] + [""]
    return "\n".join(out)


def latex_tables(res):
    """The LaTeX (booktabs) text of every mode's two tables: one column group per λ."""
    configs = configurations(res)
    out = []
    for mode in MODES:
        if not any(c.mode == mode for c in configs):
            continue
        for k, (what, columns, note) in enumerate(TABLES):
            lams, body = _table_body(res, configs, mode, columns, latex=True)
            w = len(columns)
            groups = " & ".join(rf"\multicolumn{{{w}}}{{c}}{{$\lambda = {format_value(lam)}$}}" for lam in lams)
            rules = " ".join(rf"\cmidrule(lr){{{3 + j * w}-{2 + (j + 1) * w}}}" for j in range(len(lams)))
            header = ["Method", "Seeds"] + [c[1] for _ in lams for c in columns]
            out += [r"\begin{table}[t]", r"\centering",
                    rf"\caption{{Joint SFT+DPO post-training, {latex_text(MODE_TITLES[mode])}: "
                    rf"{latex_text(what)}. Mean $\pm$ sample std over the seeds of the done points "
                    rf"(-- = not measured). {latex_text(note)}}}",
                    r"\begin{tabular}{lr" + "r" * (w * len(lams)) + "}", r"\toprule"]
            if lams:
                out += [" & & " + groups + r" \\", rules]
            out += [" & ".join(header) + r" \\", r"\midrule"]
            out += [" & ".join(cells) + r" \\" for cells in body]
            out += [r"\bottomrule", r"\end{tabular}"]
            failed = _failed_lines(res, configs, mode)
            if k == 0 and failed:
                out.append(r"\par\smallskip\footnotesize Failed points: " +
                           "; ".join(latex_text(f) for f in failed) + ".")
            out += [r"\end{table}", ""]
    return "\n".join(out)


# ---- plots.py --------------------------------------------------------------------------------------

def file_name(kind, mode, lam):
    return re.sub(r"[^A-Za-z0-9._-]", "_", f"{kind}_{mode}_lambda{format_value(lam)}") + ".png"


def _mean_where(values, logged):
    """(steps, per-step mean of values over the rows logged marks) at the steps some row logged."""
    counts = logged.sum(axis=0)
    steps = np.flatnonzero(counts > 0)
    return steps, np.where(logged, values, 0.0).sum(axis=0)[steps] / counts[steps]


def mean_logged(curve, rows):
    """(steps, per-step mean) of a curve over rows, at the steps some row logged."""
    c = curve[rows].astype(np.float64)
    return _mean_where(c, ~np.isnan(c))


def mean_trajectory(f_sft, f_dpo, rows):
    """(steps, mean f_SFT, mean f_DPO) over rows at each step where at least one row logged both losses,
    each step's mean over the rows that logged both."""
    a, b = f_sft[rows].astype(np.float64), f_dpo[rows].astype(np.float64)
    logged = ~np.isnan(a) & ~np.isnan(b)
    steps, x = _mean_where(a, logged)
    return steps, x, _mean_where(b, logged)[1]


def trajectory(res, curves, cfg):
    """(f_SFT, f_DPO) points of cfg's line: the mean trajectory over its seeds, started at θ0's losses
    (the means of /metrics/f_sft_init and f_dpo_init) when the curves did not log step 0 and the file
    has them."""
    steps, x, y = mean_trajectory(curves["f_sft_eval"], curves["f_dpo_eval"], cfg.done)
    s0, d0 = res.metric("f_sft_init"), res.metric("f_dpo_init")
    if steps.size and steps[0] != 0 and s0 is not None and d0 is not None:
        rows = [i for i in cfg.done if np.isfinite(s0[i]) and np.isfinite(d0[i])]
        if rows:
            x, y = np.insert(x, 0, s0[rows].mean()), np.insert(y, 0, d0[rows].mean())
    return x, y


def utopias(res, configs):
    """{setting: (mean f*_SFT, mean f*_DPO)} over the configurations' done rows that estimated both (f* = 0
    means unknown). f* depends on the hyperparameters, not on the method or λ, so the settings of the
    other keys share one point when their estimates agree (to 1e-9), keyed ""; {} when none is known."""
    s, d = res.metric("f_sft_star"), res.metric("f_dpo_star")
    if s is None or d is None:
        return {}
    out = {}
    for setting in dict.fromkeys(c.setting for c in configs):
        rows = [i for c in configs if c.setting == setting for i in c.done
                if np.isfinite(s[i]) and np.isfinite(d[i]) and s[i] != 0.0 and d[i] != 0.0]
        if rows:
            out[setting] = (float(s[rows].mean()), float(d[rows].mean()))
    points = list(out.values())
    if points and all(abs(p[0] - points[0][0]) <= 1e-9 and abs(p[1] - points[0][1]) <= 1e-9 for p in points):
        return {"": points[0]}
    return out


def _colour(cfg, plt):
    palette = plt.get_cmap("tab10").colors
    return palette[METHODS.index(cfg.method.base) % 10]


LINESTYLES = ("-", "--", ":", "-.")


def _style(cfg, settings):
    """A line style per setting of the other keys, so that a method's settings share its colour."""
    return LINESTYLES[settings.index(cfg.other) % len(LINESTYLES)]


def plot_trajectory(res, configs, mode, lam, curves, path, plt):
    settings = sorted({c.other for c in configs}, key=lambda o: tuple(_sortable(v) for _, v in o))
    fig, ax = plt.subplots(figsize=(8.5, 5.5))
    plotted = 0
    for cfg in configs:
        x, y = trajectory(res, curves, cfg)
        if x.size == 0:
            continue
        colour = _colour(cfg, plt)
        ax.plot(x, y, _style(cfg, settings), marker="o", markersize=3, color=colour, linewidth=1.2,
                label=cfg.label)
        ax.plot(x[-1], y[-1], marker="s", markersize=8, color=colour, markeredgecolor="black",
                markeredgewidth=0.5)
        plotted += 1
    stars = utopias(res, configs)
    for setting, star in stars.items():
        ax.plot(*star, marker="*", markersize=16, color="gold", markeredgecolor="black", linestyle="none",
                label=f"utopia{f' ({setting})' if setting else ''} (f*_SFT {star[0]:.4g}, f*_DPO {star[1]:.4g})")
    ax.set_xlabel("f_SFT (eval set)")
    ax.set_ylabel("f_DPO (eval set)")
    ax.set_title(f"{MODE_TITLES[mode]}, λ = {format_value(lam)}: eval losses during training "
                 "(mean over seeds; square = end)")
    ax.grid(alpha=0.3)
    if plotted or stars:
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    if not plotted:
        ax.text(0.5, 0.5, "no done point logged both eval losses", transform=ax.transAxes, ha="center")
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return plotted, stars


LOSS_PANELS = (("loss", "training loss"), ("f_sft_eval", "f_SFT (eval set)"), ("f_dpo_eval", "f_DPO (eval set)"))


def plot_losses(configs, mode, lam, curves, path, plt):
    """One panel per curve the file has (training loss, eval f_SFT, eval f_DPO) against the step."""
    panels = [(name, what, curves[name]) for name, what in LOSS_PANELS if curves[name] is not None]
    settings = sorted({c.other for c in configs}, key=lambda o: tuple(_sortable(v) for _, v in o))
    fig, axes = plt.subplots(len(panels), 1, figsize=(8.5, 3.0 * len(panels)), sharex=True, squeeze=False)
    for ax, (name, what, curve) in zip(axes[:, 0], panels):
        for cfg in configs:
            steps, y = mean_logged(curve, cfg.done)
            if steps.size:
                ax.plot(steps, y, _style(cfg, settings), color=_colour(cfg, plt), linewidth=1.2,
                        marker="o" if name != "loss" else None, markersize=3, label=cfg.label)
        ax.set_ylabel(what)
        ax.grid(alpha=0.3)
    axes[0, 0].set_title(f"{MODE_TITLES[mode]}, λ = {format_value(lam)}: losses (mean over seeds)")
    axes[-1, 0].set_xlabel("logged step (curve column)")
    axes[0, 0].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return [name for name, _, _ in panels]


def write_plots(res, out):
    """Writes every (mode, λ)'s trajectory and loss figures into out; returns the lines to print."""
    import matplotlib.pyplot as plt  # here, so that tables.py and claims.py do not load matplotlib

    configs = [c for c in configurations(res) if c.done]
    curves = {name: res.curve(name) for name, _ in LOSS_PANELS}  # read once: every figure plots rows of them
    lines = []
    has_eval = curves["f_sft_eval"] is not None and curves["f_dpo_eval"] is not None
    if not has_eval:
        lines.append(f"{res.path} has no /curves/f_sft_eval and /curves/f_dpo_eval: no trajectory plots")
    has_loss = any(c is not None for c in curves.values())
    if not has_loss:
        lines.append(f"{res.path} has no /curves/loss, f_sft_eval or f_dpo_eval: no loss plots")
    for mode, lam in sorted({(c.mode, c.lam) for c in configs}, key=lambda m: (MODES.index(m[0]), m[1])):
        here = [c for c in configs if c.mode == mode and c.lam == lam]
        if has_eval:
            path = os.path.join(out, file_name("trajectory", mode, lam))
            plotted, stars = plot_trajectory(res, here, mode, lam, curves, path, plt)
            where = ("; ".join(f"utopia{f' ({k})' if k else ''} at ({v[0]:.4f}, {v[1]:.4f})" for k, v in stars.items())
                     or "utopia unknown (no f_sft_star and f_dpo_star measured)")
            lines.append(f"wrote {path}: {plotted} trajectories; {where}")
        if has_loss:
            path = os.path.join(out, file_name("loss", mode, lam))
            lines.append(f"wrote {path}: {', '.join(plot_losses(here, mode, lam, curves, path, plt))} "
                         f"of {len(here)} configurations")
    return lines


# ---- claims.py -------------------------------------------------------------------------------------

def fmt(x, digits):
    return "n/a" if math.isnan(x) else f"{x:.{digits}f}"


def verdict(results, what="comparison"):
    n = len(results)
    return ("held" if all(results) else "not held") + f" (held in {sum(results)} of {n} {what}{'s' * (n > 1)})"


def forgetting_claim(res, configs):
    """(a) per Sequential configuration: the mean final f_SFT against the mean f_SFT at the switch, over
    the seeds that measured both; held when the rise exceeds FORGET_TOLERANCE, the claim when all do."""
    title = (f"(a) Sequential forgets SFT during DPO (final f_SFT above f_SFT at the switch by more than "
             f"{FORGET_TOLERANCE:g})")
    seq = [c for c in configs if c.method.base == "sequential"]
    if not seq:
        return [f"{title}: not testable (no done Sequential point)"]
    end, switch = res.metric("f_sft"), res.metric("f_sft_switch")
    gone = [f"/metrics/{n}" for n, v in (("f_sft", end), ("f_sft_switch", switch)) if v is None]
    if gone:
        return [f"{title}: not testable ({' and '.join(gone)} absent)"]
    results, lines = [], []
    for c in seq:
        rows = [i for i in c.done if np.isfinite(end[i]) and np.isfinite(switch[i])]
        if not rows:
            lines.append(f"    not compared: {c.where}: f_SFT or f_SFT at the switch not measured (a Sequential "
                         "run without an SFT phase has no switch)")
            continue
        e, s, n = over_seeds(res, end, rows)[0], over_seeds(res, switch, rows)[0], np.unique(res.seeds[rows]).size
        rise = e - s
        held = rise > FORGET_TOLERANCE
        results.append(held)
        lines.append(f"    {'held' if held else 'not held'}: {c.where}: f_SFT {e:.4f} at the end vs {s:.4f} at the "
                     f"switch, rise {rise:+.4f} ({'above' if held else 'not above'} {FORGET_TOLERANCE:g}; "
                     f"{n} seed{'s' * (n > 1)})")
    if not results:
        return [f"{title}: not testable (no Sequential point measured both f_SFT and f_SFT at the switch)"] + lines
    return [f"{title}: {verdict(results, 'configuration')}"] + lines


def _keyed(configs, bases):
    """{(mode, λ, other keys): {base: config}} for the configurations of the given bases."""
    out = {}
    for c in configs:
        if c.method.base in bases:
            out.setdefault((MODES.index(c.mode), c.lam, c.other), {})[c.method.base] = c
    return dict(sorted(out.items(), key=lambda kv: (kv[0][0], kv[0][1], tuple(_sortable(v) for _, v in kv[0][2]))))


def utopia_claim(res, configs):
    """(b) at each λ, mode and setting: ALRIGHT's and MAXRIGHT's mean ideal distance against Sequential's;
    held when every comparison made finds it lower."""
    title = "(b) ALRIGHT and MAXRIGHT end closer to the utopia point than Sequential (lower mean ideal distance)"
    dist = res.metric("ideal_distance")
    if dist is None:
        return [f"{title}: not testable (/metrics/ideal_distance absent)"]
    results, lines = [], []
    for group in _keyed(configs, ("sequential", "alright", "maxright")).values():
        seq = group.get("sequential")
        for base in ("alright", "maxright"):
            c = group.get(base)
            if c is None and seq is not None:
                lines.append(f"    not compared: {seq.where}: no done {TITLES[base]} point")
            elif c is not None and seq is None:
                lines.append(f"    not compared: {c.where}: no done Sequential point for {TITLES[base]}")
            elif c is not None:
                mine, theirs = over_seeds(res, dist, c.done)[0], over_seeds(res, dist, seq.done)[0]
                numbers = f"{c.where}: {TITLES[base]} {fmt(mine, 3)} vs Sequential {fmt(theirs, 3)}"
                if math.isnan(mine) or math.isnan(theirs):
                    lines.append(f"    not compared: {numbers} (not measured)")
                    continue
                held = mine < theirs
                results.append(held)
                lines.append(f"    {'held' if held else 'not held'}: {numbers} ({mine - theirs:+.3f})")
    if not results:
        return [f"{title}: not testable (no λ has a measured Sequential and ALRIGHT or MAXRIGHT)"] + lines
    return [f"{title}: {verdict(results)}"] + lines


def runtime_claim(res, configs):
    """(c) at each λ, mode and setting: Mix's mean train_s over ALRIGHT's and over MAXRIGHT's; held when
    every ratio exceeds MIX_RATIO."""
    title = f"(c) Mix costs noticeably more time than ALRIGHT and MAXRIGHT (mean train_s ratio above {MIX_RATIO:g})"
    why = (f"    threshold {MIX_RATIO:g}: the paper's runtimes against Sequential (Pythia-1B: Mix +37%, ALRIGHT "
           f"-1%, MAXRIGHT +2.5%) give Mix/ALRIGHT {1.37 / 0.99:.2f} and Mix/MAXRIGHT {1.37 / 1.025:.2f}; "
           f"{MIX_RATIO:g} lies between no difference (1) and those")
    t = res.metric("train_s")
    if t is None:
        return [f"{title}: not testable (/metrics/train_s absent)", why]
    results, lines = [], []
    for group in _keyed(configs, ("mix", "alright", "maxright")).values():
        mix = group.get("mix")
        for base in ("alright", "maxright"):
            c = group.get(base)
            if c is None and mix is not None:
                lines.append(f"    not compared: {mix.where}: no done {TITLES[base]} point")
            elif c is not None and mix is None:
                lines.append(f"    not compared: {c.where}: no done Mix point for {TITLES[base]}")
            elif c is not None:
                m, o = over_seeds(res, t, mix.done)[0], over_seeds(res, t, c.done)[0]
                numbers = f"{c.where}: Mix {m:.4g} s / {TITLES[base]} {o:.4g} s"
                if math.isnan(m) or math.isnan(o) or o <= 0.0:
                    lines.append(f"    not compared: {numbers} (not measured)")
                    continue
                held = m / o > MIX_RATIO
                results.append(held)
                lines.append(f"    {'held' if held else 'not held'}: {numbers} = {m / o:.3f}")
    if not results:
        return [f"{title}: not testable (no λ has measured Mix and ALRIGHT or MAXRIGHT points)", why] + lines
    return [f"{title}: {verdict(results)}", why] + lines


def claim_lines(res):
    """The three claims, each a verdict line followed by its comparisons."""
    configs = [c for c in configurations(res) if c.done]
    lines = [f"claims on {res.path} ({int((res.status == DONE).sum())} done points; each side is the mean over "
             "its seeds, compared at the same mode, λ and other hyperparameters)"]
    for claim in (forgetting_claim, utopia_claim, runtime_claim):
        lines += claim(res, configs)
    return lines
