"""The prefix-tuning poisoning workload (workload: poison; ../shared/reference/poisoning.md, "Turning
Generative Models Degenerate", arXiv 2407.12281) for tables.py, plots.py and claims.py: its method
strings, its configurations, and what the three scripts print and draw for a poison results file.

A configuration is the points that share task, method ("<peft.mode>[+<defence>]") and every other swept
key: they differ only in the seed. Every point measures its victim before any defence (P-TM, C-TM, the
clean metric, ΔPPL); a defence point also measures the victim after it (def_*). The victim depends
neither on defence.kind nor on the other defence.* keys, so where the claims and figures need the
undefended victim they pool the points that differ only there, each seed counted once (the mean of its
points). Tables are per task, because the clean metric is the task's: ROUGE-1 F1 (summarise) or the
perplexity of the reference outputs (complete). The results/README.md layout holds; the workload's
datasets are listed in analysis/README.md.
"""
import math
import os
import re
from dataclasses import dataclass, field

import numpy as np

from results import DONE, PENDING, format_cell, format_value, latex_escape, markdown_grid, over_seeds

TASKS = ("summarise", "complete")
MODES = ("prefix", "prefix-mlp", "lora", "full")
PREFIX_MODES = ("prefix", "prefix-mlp")
DEFENCES = ("none", "onion", "spectral", "clustering")
TRIGGERS = ("rare_token", "rare_word", "phrase", "sentence")
POSITIONS = ("start", "middle", "end", "random")
TASK_KEY, MODE_KEY, DEFENCE_KEY = "data.task", "peft.mode", "defence.kind"
LEN_KEY, LR_KEY, TRIGGER_KEY, POSITION_KEY, RATE_KEY = (
    "peft.prefix_len", "train.lr", "poison.trigger", "poison.position", "poison.rate")
DEFENCE_PREFIX = "defence."  # keys that shape the defence, not the victim
# The keys whose values the workload enumerates (a value outside makes the file invalid), and the
# order in which their values sort.
CHOICES = {TASK_KEY: TASKS, MODE_KEY: MODES, DEFENCE_KEY: DEFENCES, TRIGGER_KEY: TRIGGERS,
           POSITION_KEY: POSITIONS}
NUMERIC = (LEN_KEY, LR_KEY, RATE_KEY)
# The keys the method string and the per-task tables carry, so they never label a row.
PLACING_KEYS = (TASK_KEY, MODE_KEY, DEFENCE_KEY)
# The swept keys the figures put on the x axis, in the order the figures are written; a log axis for
# the first two (the suite sweeps them over decades).
SWEEP_KEYS = (LEN_KEY, LR_KEY, TRIGGER_KEY, POSITION_KEY, RATE_KEY)
LOG_AXIS = (LEN_KEY, LR_KEY)


@dataclass(frozen=True)
class Clean:
    """The task's clean metric: its column title, its metric before and after the defence, its decimals
    and what it measures."""
    title: str
    metric: str
    after: str
    decimals: int
    what: str


CLEAN = {
    "summarise": Clean("ROUGE-1 F1", "rouge1_f1", "def_rouge1_f1", 3,
                       "unigram-overlap F1 of the greedy summaries against the references (higher is better)"),
    "complete": Clean("PPL", "clean_ppl", "def_ppl", 2,
                      "perplexity of the reference continuations given the clean inputs (lower is better)"),
}

DEFENCE_FRACTION = 0.5  # claim (c): the share of the undefended P-TM that a defence must leave to count as high


@dataclass(frozen=True)
class Method:
    """One value of /points/method: "<peft.mode>" or "<peft.mode>+<defence>"."""
    mode: str
    defence: str = "none"

    @property
    def text(self):
        return self.mode + (f"+{self.defence}" if self.defence != "none" else "")

    @property
    def defended(self):
        return self.defence != "none"


def parse_method(text):
    """The Method that text spells; ValueError saying what is wrong otherwise."""
    mode, plus, defence = text.partition("+")
    if mode not in MODES or (plus and defence not in DEFENCES[1:]):
        raise ValueError(f"method {text!r} is not one of {', '.join(MODES)}, optionally followed by "
                         f"+{', +'.join(DEFENCES[1:])}")
    return Method(mode, defence if plus else "none")


def _victim_of(setting):
    """setting ((key, value), ...) without the defence.* keys, on which the victim does not depend."""
    return tuple((k, v) for k, v in setting if not k.startswith(DEFENCE_PREFIX))


@dataclass
class Config:
    """The points that share task, method and the other swept keys: one table row."""
    task: str
    method: Method
    other: tuple        # ((key, value), ...): the swept keys but task, mode and defence, in the file's order
    done: list = field(default_factory=list)    # row indices
    failed: list = field(default_factory=list)

    def victim(self):
        """What the undefended victim depends on: (task, mode, the other keys but the defence.* ones)."""
        return self.task, self.method.mode, _victim_of(self.other)


def _sortable(key, v):
    if key in CHOICES and v in CHOICES[key]:
        return 0, CHOICES[key].index(v), ""
    return (0, v, "") if isinstance(v, (int, float)) else (1, 0.0, str(v))


def short_names(keys):
    """{key: its last component (prefix_len, lr, trigger), or the whole key when two would collide}."""
    short = {k: k.rsplit(".", 1)[-1] for k in keys}
    return {k: s if sum(t == s for t in short.values()) == 1 else k for k, s in short.items()}


def _stated(res, key):
    """(each row's value of key as a list, where it came from): its column when swept, else the spec's
    constant for every row; (None, None) when the file does not say."""
    if key in res.hyper:
        return [res.hyper_value(key, i) for i in range(res.n_points)], f"/points/{key}"
    text = res.constant(key)
    return (None, None) if text is None else ([text] * res.n_points, f"the spec's {key}")


def _check_values(res):
    """Every stated value of an enumerated key must be one the workload knows, every swept numeric key
    must hold numbers, and a stated peft.mode and defence.kind must agree with each run row's method
    string (which places the row). Returns each row's task; a task the file does not state is invalid."""
    runs = np.flatnonzero(res.status != PENDING)
    for key in NUMERIC:
        if key in res.hyper and res.hyper[key].dtype.kind not in "fiu":
            res.fail(f"/points/{key} holds {res.hyper[key].dtype} values, not numbers")
    for key, allowed in CHOICES.items():
        values, where = _stated(res, key)
        for i in (runs if values is not None else ()):
            if str(values[i]) not in allowed:
                place = f"{where} row {i} (point id {res.ids[i]})" if key in res.hyper else where
                res.fail(f"{place} is {values[i]!r}, not one of {', '.join(allowed)}")
    for key, part in ((MODE_KEY, "mode"), (DEFENCE_KEY, "defence")):
        values, where = _stated(res, key)
        for i in (runs if values is not None else ()):
            said = getattr(res.methods[i], part)
            if str(values[i]) != said:
                place = f"{where} row {i} (point id {res.ids[i]})" if key in res.hyper else where
                res.fail(f"{place} is {values[i]!r} but /points/method row {i} "
                         f"{res.methods[i].text!r} says {said!r}")
    tasks, _ = _stated(res, TASK_KEY)
    if tasks is None:
        res.fail(f"{TASK_KEY} is neither a /points column nor a key of spec_canonical or spec_yaml (the "
                 "clean metric depends on it)")
    return [str(t) for t in tasks]


def configurations(res):
    """Every configuration with run points (done or failed), ordered by task, mode, the other keys in
    the file's order, then the defence."""
    tasks = _check_values(res)
    keys = [k for k in res.hyper_keys if k not in PLACING_KEYS]
    groups = {}
    for i in np.flatnonzero(res.status != PENDING):
        method = res.methods[i]
        other = tuple((k, res.hyper_value(k, i)) for k in keys)
        cfg = groups.setdefault((tasks[i], method, other), Config(tasks[i], method, other))
        (cfg.done if res.status[i] == DONE else cfg.failed).append(int(i))
    return sorted(groups.values(), key=lambda c: (TASKS.index(c.task), MODES.index(c.method.mode),
                                                  tuple(_sortable(k, v) for k, v in c.other),
                                                  DEFENCES.index(c.method.defence)))


def differing(pairs_list):
    """The keys, in order of first appearance, on which the given ((key, value), ...) tuples differ."""
    values = {}
    for pairs in pairs_list:
        for k, v in pairs:
            values.setdefault(k, set()).add(v)
    return [k for k, vs in values.items() if len(vs) > 1]


def describe(pairs, shown):
    """"prefix_len 10, trigger sentence": the pairs whose key shown maps to a short name."""
    return ", ".join(f"{shown[k]} {format_value(v)}" for k, v in pairs if k in shown)


def victims(configs):
    """{(task, mode, other keys but defence.*): every done row of the victim, under any defence}."""
    out = {}
    for c in configs:
        out.setdefault(c.victim(), []).extend(c.done)
    return out


# ---- tables.py -------------------------------------------------------------------------------------

# (Markdown header, LaTeX header, metric or None = the task's clean metric, decimals or None = the
# clean metric's, signed, defence only)
COLUMNS = (
    ("P-TM", "P-TM", "p_tm", 3, False, False),
    ("C-TM", "C-TM", "c_tm", 3, False, False),
    (None, None, None, None, False, False),
    ("clean change", r"Clean $\Delta$", "clean_change", None, True, False),
    ("ΔPPL median", r"$\Delta$PPL med.", "dppl_median", 2, True, False),
    ("precision", "Prec.", "def_precision", 3, False, True),
    ("recall", "Rec.", "def_recall", 3, False, True),
    ("P-TM after", "P-TM after", "def_p_tm", 3, False, True),
)

LATEX_SYMBOLS = {"±": r"$\pm$", "−": r"$-$", "–": "--", "Δ": r"$\Delta$", "ρ": r"$\rho$"}


def latex_text(text):
    """text escaped for LaTeX, its Greek letters and math signs as math (pdflatex knows no others)."""
    return "".join(LATEX_SYMBOLS.get(c, c) for c in latex_escape(text))


def _columns(task, defended):
    """The task's columns (header, LaTeX header, metric, decimals, signed); the defence's only when the
    table has a defended row."""
    clean = CLEAN[task]
    out = []
    for head, tex, metric, decimals, signed, defence_only in COLUMNS:
        if defence_only and not defended:
            continue
        out.append((head or clean.title, tex or clean.title, metric or clean.metric,
                    clean.decimals if decimals is None else decimals, signed))
    return out


def _note(task, defended):
    clean = CLEAN[task]
    text = (f"Mean ± sample std over the seeds of the done points (– = not measured). P-TM, C-TM: Target "
            f"Match on triggered and clean test inputs, of the victim before any defence. {clean.title}: "
            f"{clean.what}; clean change: it minus the clean-only victim's (trained the same way). ΔPPL "
            "median: the base LM's perplexity of a triggered test input minus the clean one's, median over "
            "the test set.")
    if defended:
        text += (" Precision, recall: the defence's detection of the poison (ONION: removed trigger words); "
                 "P-TM after: the victim's P-TM after the defence (ONION: on its defended test inputs).")
    return text


def _table(res, configs, task, latex):
    """(header, label columns (method and the differing keys), rows of cells, failed-point lines, note)
    of one task's table."""
    here = [c for c in configs if c.task == task]
    done = [c for c in here if c.done]
    keys = differing([c.other for c in here])
    shown = short_names(keys)
    defended = any(c.method.defended for c in done)
    columns = _columns(task, defended)
    esc = latex_text if latex else (lambda t: t)
    method, seeds = ("Method", "Seeds") if latex else ("method", "seeds")
    header = [method] + [esc(shown[k]) for k in keys] + [seeds] + [c[1] if latex else c[0] for c in columns]
    body = []
    for c in done:
        values = dict(c.other)
        cells = [esc(c.method.text)] + [esc(format_value(values[k])) for k in keys]
        cells.append(str(np.unique(res.seeds[c.done]).size))
        for _, _, metric, decimals, signed in columns:
            if metric.startswith("def_") and not c.method.defended:
                stats = (math.nan, math.nan, 0)
            else:
                stats = over_seeds(res, res.metric(metric), c.done)
            cells.append(format_cell(*stats, decimals, latex, signed=signed))
        body.append(cells)
    failed = []
    for c in here:
        setting = describe(c.other, shown)
        for i in sorted(c.failed, key=lambda i: res.seeds[i]):
            failed.append(f"{c.method.text}{f' ({setting})' if setting else ''}, seed {res.seeds[i]} "
                          f"(point {res.ids[i]}): {res.failures[i] or '(no failure message recorded)'}")
    return header, 1 + len(keys), body, failed, _note(task, defended)


def _tasks(configs):
    return [t for t in TASKS if any(c.task == t for c in configs)]


def markdown_tables(res):
    """The Markdown text of every task's table."""
    configs = configurations(res)
    out = []
    for task in _tasks(configs):
        header, _, body, failed, note = _table(res, configs, task, latex=False)
        out += [f"### {task}: clean metric {CLEAN[task].title}", "", note, ""]
        out += markdown_grid(header, body) + [""]
        if failed:
            out += ["Failed points:"] + [f"- {f}" for f in failed] + [""]
    return "\n".join(out)


def latex_tables(res):
    """The LaTeX (booktabs) text of every task's table."""
    configs = configurations(res)
    out = []
    for task in _tasks(configs):
        header, n_keys, body, failed, note = _table(res, configs, task, latex=True)
        out += [r"\begin{table}[t]", r"\centering",
                rf"\caption{{Poisoning through prefix-tuning, task {task} (clean metric "
                rf"{latex_text(CLEAN[task].title)}). {latex_text(note)}}}",
                r"\begin{tabular}{" + "l" * n_keys + "r" * (len(header) - n_keys) + "}", r"\toprule",
                " & ".join(header) + r" \\", r"\midrule"]
        out += [" & ".join(cells) + r" \\" for cells in body]
        out += [r"\bottomrule", r"\end{tabular}"]
        if failed:
            out.append(r"\par\smallskip\footnotesize Failed points: " + "; ".join(latex_text(f) for f in failed) + ".")
        out += [r"\end{table}", ""]
    return "\n".join(out)


# ---- plots.py --------------------------------------------------------------------------------------

@dataclass
class Line:
    """One plotted line of a sweep figure: the undefended victim (defence "none") or the victim after a
    defence, at one setting of the figure's other keys; per panel the mean and std over seeds at each x."""
    setting: tuple      # ((key, value), ...)
    defence: str
    label: str = ""
    panels: dict = field(default_factory=dict)  # panel title -> (means, stds), one per x value


def panels(task):
    """(title, metric of the victim, metric after the defence) of a sweep figure's three panels."""
    clean = CLEAN[task]
    return (("P-TM", "p_tm", "def_p_tm"), ("C-TM", "c_tm", "def_c_tm"), (clean.title, clean.metric, clean.after))


def sweep_lines(res, configs, task, key):
    """(x values, lines) of the figure of the task's metrics against the swept key. The undefended lines
    pool each victim's points (every defence, each seed once); a defence's lines hold its def_*
    metrics. A line's setting is the other keys (mode and swept keys but key) on which the task's lines
    differ."""
    here = [c for c in configs if c.task == task and c.done]
    xs = sorted({dict(c.other)[key] for c in here}, key=lambda v: _sortable(key, v))
    rows = {}  # (setting, defence) -> {x: rows}
    for c in here:
        pairs = ((MODE_KEY, c.method.mode),) + tuple((k, v) for k, v in c.other if k != key)
        x = dict(c.other)[key]
        rows.setdefault((_victim_of(pairs), "none"), {}).setdefault(x, []).extend(c.done)
        if c.method.defended:
            rows.setdefault((pairs, c.method.defence), {}).setdefault(x, []).extend(c.done)
    shown = short_names(differing([s for s, _ in rows]))
    lines = []
    for (setting, defence), by_x in sorted(rows.items(), key=lambda kv: (
            tuple(_sortable(k, v) for k, v in kv[0][0]), DEFENCES.index(kv[0][1]))):
        words = describe(setting, shown)
        line = Line(setting, defence, ", ".join(filter(None, [
            words, "undefended" if defence == "none" else f"after {defence}"])))
        for title, before, after in panels(task):
            values = res.metric(before if defence == "none" else after)
            stats = [over_seeds(res, values, by_x.get(x, [])) for x in xs]
            line.panels[title] = (np.array([s[0] for s in stats]), np.array([s[1] for s in stats]))
        lines.append(line)
    return xs, lines


def file_name(task, key):
    return re.sub(r"[^A-Za-z0-9._-]", "_", f"{task}_{key.rsplit('.', 1)[-1]}") + ".png"


LINESTYLES = {"none": "-", "onion": "--", "spectral": ":", "clustering": "-."}
MARKERS = {"none": "o", "onion": "v", "spectral": "s", "clustering": "D"}


def plot_sweep(task, key, xs, lines, path, plt):
    """Three panels (P-TM, C-TM, the clean metric) against key: a colour per victim setting, a line style
    per defence (solid: undefended), error bars the std over seeds."""
    settings = list(dict.fromkeys(_victim_of(line.setting) for line in lines))
    palette = plt.get_cmap("tab10").colors
    numeric = key not in CHOICES and all(isinstance(x, (int, float)) for x in xs)
    log = numeric and key in LOG_AXIS and all(x > 0 for x in xs)
    where = np.array(xs, dtype=np.float64) if numeric else np.arange(len(xs), dtype=np.float64)
    fig, axes = plt.subplots(1, 3, figsize=(15.0, 4.6), squeeze=False, layout="constrained")
    for j, line in enumerate(lines):
        colour = palette[settings.index(_victim_of(line.setting)) % 10]
        # categorical axes: spread the lines a little so that their error bars do not hide each other
        shift = 0.0 if numeric else 0.25 * (j / max(len(lines) - 1, 1) - 0.5) * (len(lines) > 1)
        for ax, (title, _, _) in zip(axes[0], panels(task)):
            mean, std = line.panels[title]
            if np.isnan(mean).all():
                continue
            ax.errorbar(where + shift, mean, yerr=np.nan_to_num(std), color=colour,
                        linestyle=LINESTYLES[line.defence], marker=MARKERS[line.defence], markersize=5,
                        linewidth=1.3, elinewidth=0.8, capsize=3, label=line.label)
    for ax, (title, _, _) in zip(axes[0], panels(task)):
        if log:
            ax.set_xscale("log")
        ax.set_xticks(where)
        ax.set_xticklabels([format_value(x) for x in xs])
        ax.minorticks_off()
        ax.set_xlabel(key)
        ax.set_title(title)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{task}: against {key} (mean ± std over seeds)")
    legend = {}  # a line left out of a panel (nothing measured there) still needs its entry
    for ax in axes[0]:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    if legend:
        axes[0, 2].legend(legend.values(), legend.keys(), loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8,
                          frameon=False)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def write_plots(res, out):
    """Writes every task's figure against each swept key of SWEEP_KEYS that takes two or more values
    among its done points; returns the lines to print."""
    import matplotlib.pyplot as plt  # here, so that tables.py and claims.py do not load matplotlib

    configs = [c for c in configurations(res) if c.done]
    swept = [k for k in SWEEP_KEYS if k in res.hyper]
    if not swept:
        return [f"{res.path} sweeps none of {', '.join(SWEEP_KEYS)}: no figures"]
    lines = []
    for task in _tasks(configs):
        for key in swept:
            xs, plotted = sweep_lines(res, configs, task, key)
            if len(xs) < 2:
                lines.append(f"{task}: {key} takes one value ({', '.join(map(format_value, xs))}) in the done "
                             "points: no figure")
                continue
            path = os.path.join(out, file_name(task, key))
            plot_sweep(task, key, xs, plotted, path, plt)
            lines.append(f"wrote {path}: {', '.join(t for t, _, _ in panels(task))} against {key} "
                         f"({', '.join(map(format_value, xs))}); {len(plotted)} lines")
    return lines


# ---- claims.py -------------------------------------------------------------------------------------

def fmt(x, digits, signed=False):
    return "n/a" if math.isnan(x) else f"{x:{'+' if signed else ''}.{digits}f}"


def verdict(results, what):
    n = len(results)
    return ("held" if all(results) else "not held") + f" (held in {sum(results)} of {n} {what}{'s' * (n > 1)})"


def _where(task, mode, pairs, shown):
    """"summarise, prefix, trigger sentence": how a claim line names a comparison."""
    return ", ".join(filter(None, [task, mode, describe(pairs, shown)]))


def _grouped(configs, key):
    """{(task, mode, the victim's other keys but key): {value of key: rows}}, in table order, the done
    rows of each victim (every defence) pooled; the keys on which the groups differ, with short names."""
    groups = {}
    for (task, mode, other), rows in victims(configs).items():
        rest = tuple((k, v) for k, v in other if k != key)
        groups.setdefault((task, mode, rest), {}).setdefault(dict(other)[key], []).extend(rows)
    return groups, short_names(differing([rest for _, _, rest in groups]))


def _constant_note(res, key):
    value = res.constant(key)
    return f"{key} is not swept" + (f": the file has {value} only" if value is not None else "")


def spearman(x, y):
    """Spearman's rank correlation: Pearson's r of the average ranks; NaN when either side is constant."""
    from scipy.stats import rankdata

    rx, ry = rankdata(x), rankdata(y)
    dx, dy = rx - rx.mean(), ry - ry.mean()
    denom = math.sqrt(float((dx * dx).sum() * (dy * dy).sum()))
    return float((dx * dy).sum()) / denom if denom > 0 else math.nan


def prefix_claim(res, configs):
    """(a) per prefix-tuning setting of the other keys: the seed-mean P-TM at each prefix length; held
    when Spearman's rho between length and P-TM is above 0 and P-TM at the largest length is above P-TM
    at the smallest; the claim when every setting with two or more measured lengths holds."""
    title = ("(a) Longer prefixes raise P-Target Match (Spearman rho > 0 between the prefix length and the "
             "seed-mean P-TM, and P-TM at the largest length above the smallest)")
    if LEN_KEY not in res.hyper:
        return [f"{title}: not testable ({_constant_note(res, LEN_KEY)})"]
    p_tm = res.metric("p_tm")
    if p_tm is None:
        return [f"{title}: not testable (/metrics/p_tm absent)"]
    groups, shown = _grouped(configs, LEN_KEY)
    results, lines = [], []
    for (task, mode, rest), by_len in groups.items():
        where = _where(task, mode, rest, shown)
        if mode not in PREFIX_MODES:
            lines.append(f"    not compared: {where}: {mode} has no prefix (peft.prefix_len does not act)")
            continue
        measured = [(p, over_seeds(res, p_tm, rows)[0]) for p, rows in sorted(by_len.items())]
        measured = [(p, m) for p, m in measured if not math.isnan(m)]
        if len(measured) < 2:
            lines.append(f"    not compared: {where}: P-TM measured at "
                         f"{'one prefix length only' if measured else 'no prefix length'}")
            continue
        lengths, means = np.array([p for p, _ in measured], float), np.array([m for _, m in measured])
        rho, rise = spearman(lengths, means), means[-1] - means[0]
        held = rho > 0 and rise > 0
        results.append(held)
        table = ", ".join(f"{m:.3f} (P {format_value(p)})" for p, m in measured)
        lines.append(f"    {'held' if held else 'not held'}: {where}: P-TM {table}; rho {fmt(rho, 3, True)}, "
                     f"P {format_value(measured[-1][0])} - P {format_value(measured[0][0])} {rise:+.3f}")
    if not results:
        return [f"{title}: not testable (no prefix-tuning setting has P-TM measured at two or more prefix "
                "lengths)"] + lines
    return [f"{title}: {verdict(results, 'setting')}"] + lines


def trigger_claim(res, configs):
    """(b) at each position and setting of the other keys: the seed-mean P-TM of the sentence trigger
    against the rare-word trigger; held when every comparison finds sentence strictly higher."""
    title = ("(b) Sentence triggers beat rare-word triggers (seed-mean P-TM of sentence above rare_word at "
             "each position and setting)")
    if TRIGGER_KEY not in res.hyper:
        return [f"{title}: not testable ({_constant_note(res, TRIGGER_KEY)})"]
    p_tm = res.metric("p_tm")
    if p_tm is None:
        return [f"{title}: not testable (/metrics/p_tm absent)"]
    groups, shown = _grouped(configs, TRIGGER_KEY)
    # every line names its position: the swept one (even when the done points have one value), else the spec's
    position = None if POSITION_KEY in res.hyper else res.constant(POSITION_KEY)
    if POSITION_KEY in res.hyper:
        shown.setdefault(POSITION_KEY, POSITION_KEY.rsplit(".", 1)[-1])
    results, lines = [], []
    for (task, mode, rest), by_trigger in groups.items():
        where = _where(task, mode, rest, shown) + (f", position {position}" if position is not None else "")
        missing = [t for t in ("sentence", "rare_word") if t not in by_trigger]
        if missing:
            lines.append(f"    not compared: {where}: no done {' and no done '.join(missing)} point")
            continue
        s, r = over_seeds(res, p_tm, by_trigger["sentence"])[0], over_seeds(res, p_tm, by_trigger["rare_word"])[0]
        numbers = f"{where}: sentence {fmt(s, 3)} vs rare_word {fmt(r, 3)}"
        if math.isnan(s) or math.isnan(r):
            lines.append(f"    not compared: {numbers} (not measured)")
            continue
        held = s > r
        results.append(held)
        lines.append(f"    {'held' if held else 'not held'}: {numbers} ({s - r:+.3f})")
    if not results:
        return [f"{title}: not testable (no setting has measured P-TM of both sentence and rare_word "
                "triggers)"] + lines
    return [f"{title}: {verdict(results, 'comparison')}"] + lines


def defence_claim(res, configs):
    """(c) per defence and configuration: the seed-mean P-TM after the defence against the seed-mean P-TM
    of the same victim before it (the point's own p_tm), over the seeds that measured both; held when
    the ratio is at least DEFENCE_FRACTION. A configuration whose undefended P-TM is not above its C-TM
    (the attack did not take) is not compared. A defence holds when all its comparisons do."""
    title = (f"(c) The defences leave P-Target Match high (seed-mean P-TM after the defence at least "
             f"{DEFENCE_FRACTION:g} x the undefended victim's)")
    why = (f"    threshold {DEFENCE_FRACTION:g}: a defence that works brings P-TM down to the level of C-TM "
           "(false triggering); keeping at least half of the undefended P-TM means that at most half of the "
           "attack was removed, so the poisoned model still emits the target on a large share of triggered "
           "inputs (the reference sets no threshold)")
    defended = [c for c in configs if c.method.defended]
    if not defended:
        return [f"{title}: not testable (no defended point among the done points)", why]
    p_tm, c_tm, after = res.metric("p_tm"), res.metric("c_tm"), res.metric("def_p_tm")
    gone = [f"/metrics/{n}" for n, v in (("p_tm", p_tm), ("c_tm", c_tm), ("def_p_tm", after)) if v is None]
    if gone:
        return [f"{title}: not testable ({' and '.join(gone)} absent)", why]
    shown = short_names(differing([c.other for c in configs]))
    precision, recall = res.metric("def_precision"), res.metric("def_recall")
    by_defence = {}
    for c in defended:
        results, lines = by_defence.setdefault(c.method.defence, ([], []))
        where = _where(c.task, c.method.mode, c.other, shown)
        rows = [i for i in c.done if np.isfinite(p_tm[i]) and np.isfinite(after[i])]
        if not rows:
            lines.append(f"    not compared: {where}: P-TM before or after {c.method.defence} not measured")
            continue
        before, clean, kept = (over_seeds(res, v, rows)[0] for v in (p_tm, c_tm, after))
        if math.isnan(clean):
            lines.append(f"    not compared: {where}: C-TM not measured (whether the attack took is unknown)")
            continue
        if not before > clean:
            lines.append(f"    not compared: {where}: undefended P-TM {before:.3f} not above C-TM "
                         f"{clean:.3f} (the attack did not take: nothing to defend)")
            continue
        ratio = kept / before
        held = ratio >= DEFENCE_FRACTION
        results.append(held)
        detection = [f"{n} {fmt(over_seeds(res, v, rows)[0], 3)}" for n, v in (("precision", precision),
                                                                                ("recall", recall)) if v is not None]
        lines.append(f"    {'held' if held else 'not held'}: {where}: P-TM after {c.method.defence} {kept:.3f} vs "
                     f"{before:.3f} undefended = {ratio:.3f} of it ({'at least' if held else 'below'} "
                     f"{DEFENCE_FRACTION:g})" + (f"; {', '.join(detection)}" if detection else ""))
    tested = {d: by_defence[d][0] for d in DEFENCES[1:] if by_defence.get(d, ([],))[0]}
    if not tested:
        overall = "not testable (no defended configuration has an attack that took and measured P-TM after it)"
    else:
        overall = ("held" if all(all(r) for r in tested.values()) else "not held") + " (" + "; ".join(
            f"{'held' if all(r) else 'not held'} for {d}" for d, r in tested.items()) + ")"
    out = [f"{title}: {overall}", why]
    for d in DEFENCES[1:]:
        if d in by_defence:
            results, lines = by_defence[d]
            out += [f"  {d}: " + (verdict(results, "configuration") if results else
                                  "not testable (no configuration where the attack took and P-TM after it was "
                                  "measured)")] + lines
    return out


def claim_lines(res):
    """The three claims, each a verdict line followed by its comparisons."""
    configs = [c for c in configurations(res) if c.done]
    lines = [f"claims on {res.path} ({int((res.status == DONE).sum())} done points; each side is the mean over "
             "its seeds; P-TM and C-TM are the victim's before any defence, so the points of one victim under "
             "several defences count once per seed)"]
    for claim in (prefix_claim, trigger_claim, defence_claim):
        lines += claim(res, configs)
    return lines
