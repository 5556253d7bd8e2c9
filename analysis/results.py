"""Reading trustbench results files (layout: results/README.md) for the analysis scripts.

load(path, parsers) opens and validates one file of a workload the caller reads (parsers maps each such
workload to the parser of its /points/method strings; by default the unlearn workload alone) and
returns a Results: the /points columns decoded (each method parsed, the swept hyperparameters as arrays)
and the /metrics read whole; /samples and /curves are read on demand. For unlearn files,
configurations() groups a split's run points by everything but the seed, in the order the papers'
tables use, and over_seeds() gives a configuration's mean and std over seeds (analysis/posttrain.py
does the same for posttrain files). A file that is not a results file of one of those workloads raises
ResultsError, whose text names the file, the place and the fix; every script turns it into one line on
stderr and exit status 1. The table cell formatting the workloads share lives here too.
"""
import json
import math
import re
import sys
from dataclasses import dataclass, field

import h5py
import numpy as np

PENDING, DONE, FAILED = 0, 1, 2
BASES = ("none", "retain", "ga", "graddiff", "npo", "simnpo", "idkdpo", "rmu", "undial")
TITLES = {"none": "Target", "retain": "Retain"}
BUILTIN_COLUMNS = ("id", "status", "seed", "method", "wall_time", "failure")
REQUIRED_COLUMNS = ("id", "status", "seed", "method")
SPLIT_KEY = "data.split"
# Spec keys that only shape unlearning: the Target and Retain models do not depend on them, so their
# points that differ only there (a grid of method x unlearn.lr repeats them) form one configuration.
UNLEARNING_ONLY = ("unlearn.", "wagle.", "spunge.")

_METHOD = re.compile(r"(?P<base>[a-z]+)(?:\+wagle(?:-(?P<score>[a-z]+))?\((?P<wagle>[^()]+)\))?"
                     r"(?:\+spunge\((?P<spunge>[^()]+)\))?")


class ResultsError(Exception):
    """The file is not a readable results file of the workload asked for; the text names the file, the place
    and the fix."""


@dataclass(frozen=True)
class Method:
    """One value of /points/method: "<base>", optionally "+wagle(<density>)" (or "+wagle-<score>(<density>)"
    for a mask from an ablation score), then optionally "+spunge(<merge>)"."""
    base: str
    wagle: str | None = None        # the density as written, so the label shows what the run was given
    wagle_score: str | None = None  # None: WAGLE's own score; else the ablation (grad, weight, snip, random)
    spunge: str | None = None       # the merge rule

    @property
    def text(self):
        score = f"-{self.wagle_score}" if self.wagle_score else ""
        return (self.base + (f"+wagle{score}({self.wagle})" if self.wagle is not None else "")
                + (f"+spunge({self.spunge})" if self.spunge is not None else ""))

    @property
    def is_plain(self):
        return self.wagle is None and self.spunge is None

    @property
    def is_reference(self):
        """The target (none) or the retain model: the rows every method is measured against."""
        return self.is_plain and self.base in TITLES

    @property
    def title(self):
        """The table's name: Target and Retain for the two reference models, else the method string."""
        return TITLES[self.base] if self.is_reference else self.text

    def without_wagle(self):
        return Method(self.base, None, None, self.spunge)

    def without_spunge(self):
        return Method(self.base, self.wagle, self.wagle_score, None)

    def order(self):
        """Sort key: the base's place in BASES, then the base itself before +wagle, +spunge, both; WAGLE
        variants by density, its own score before the ablations."""
        kind = (self.wagle is not None) + 2 * (self.spunge is not None)
        return (BASES.index(self.base), kind, float(self.wagle) if self.wagle is not None else 0.0,
                self.wagle_score or "", self.spunge or "")


def parse_method(text):
    """The Method that text spells; ValueError saying what is wrong otherwise."""
    m = _METHOD.fullmatch(text)
    if m is None:
        raise ValueError(f"method {text!r} is not <base>[+wagle[-<score>](<density>)][+spunge(<merge>)]")
    if m["base"] not in BASES:
        raise ValueError(f"method {text!r} has base {m['base']!r}, which is none of {', '.join(BASES)}")
    if m["wagle"] is not None:
        try:
            density = float(m["wagle"])
        except ValueError:
            density = math.nan
        if not 0.0 < density <= 1.0:
            raise ValueError(f"method {text!r}: the WAGLE density {m['wagle']!r} is not a number in (0, 1]")
    return Method(m["base"], m["wagle"], m["score"], m["spunge"])


def format_value(v):
    """A hyperparameter value as a label shows it: 1e-05 -> 1e-5, 2.5e-4 -> 2.5e-4, 0.95 -> 0.95, strings as
    they are."""
    if isinstance(v, float):
        if v != 0 and not 1e-3 <= abs(v) < 1e6:
            mantissa, _, exponent = f"{v:.12e}".partition("e")
            return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
        return f"{v:.12g}"
    return str(v)


def _text(v):
    """An HDF5 string (fixed-length bytes or variable-length str) as str; numbers unchanged."""
    if isinstance(v, (bytes, np.bytes_)):
        return v.decode("utf-8", errors="replace")
    if isinstance(v, np.ndarray) and v.dtype.kind == "S":
        return [x.decode("utf-8", errors="replace") for x in v]
    return v


def _canonical_value(canonical, key):
    """key's value in spec_canonical ("key=value" lines, strings JSON-quoted), or None."""
    for line in canonical.splitlines():
        name, eq, value = line.partition("=")
        if eq and name == key:
            return json.loads(value) if value.startswith('"') else value
    return None


def _unquote(value):
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _yaml_value(yaml, key):
    """key's scalar in a spec's block-style YAML (nested mappings, dotted keys, {k: v} mappings), or
    None. Enough for the constant keys a results file leaves out; lists (sweeps) are columns anyway."""
    parents = []  # (indent, name) of the enclosing mappings
    for raw in yaml.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        m = re.match(r"(\s*)([^\s:#-][^:]*?)\s*:(?:\s+(.*))?$", line)
        if m is None:
            continue
        indent, name, value = len(m[1]), _unquote(m[2]), (m[3] or "").strip()
        while parents and parents[-1][0] >= indent:
            parents.pop()
        full = ".".join([p[1] for p in parents] + [name])
        if not value:
            parents.append((indent, name))
        elif value.startswith("{") and value.endswith("}"):
            for item in value[1:-1].split(","):
                k, colon, v = item.partition(":")
                if colon and f"{full}.{_unquote(k)}" == key:
                    return _unquote(v)
        elif full == key:
            return _unquote(value)
    return None


@dataclass
class Config:
    """The points of one split that share method and hyperparameters: one table row, one marker."""
    split: str
    method: Method
    setting: tuple            # ((key, value), ...): the swept values but the split (and, for the
                              # reference models, the UNLEARNING_ONLY keys)
    done: list = field(default_factory=list)    # row indices
    failed: list = field(default_factory=list)
    label: str = ""


def _article(word):
    return "an" if word[:1] in "aeiou" else "a"


def _not_a_results_file(path, workload, what):
    """The ResultsError for a file that is not a results file of `workload` (the reader expected)."""
    return ResultsError(f"{path}: not {_article(workload)} {workload} results file: {what} (analysis/ reads the "
                        f"files `trustbench run` writes for a spec with workload: {workload})")


class Results:
    """An open results file; use load(). Row arrays are indexed by the file's row. methods holds what the
    workload's parser made of each run row's /points/method (None for pending rows)."""

    def __init__(self, path, f, workload, parse):
        self.path = path
        self.workload = workload
        self._f = f
        self.attrs = {k: _text(v) for k, v in f.attrs.items()}
        if "points" not in f or not isinstance(f["points"], h5py.Group):
            self.fail("has no /points group")
        points = f["points"]
        for col in REQUIRED_COLUMNS:
            if not isinstance(points.get(col), h5py.Dataset):
                self.fail(f"has no /points/{col} dataset")
        self.n_points = points["status"].shape[0] if points["status"].ndim == 1 else -1
        for col in points:
            self._check_rows(f"/points/{col}", points[col])
        self.status = points["status"][()].astype(np.int64)
        bad = np.flatnonzero((self.status < PENDING) | (self.status > FAILED))
        if bad.size:
            self.fail(f"/points/status row {bad[0]} holds {self.status[bad[0]]}, not 0 (pending), "
                      "1 (done) or 2 (failed)")
        self.ids = points["id"][()].astype(np.int64)
        self.seeds = points["seed"][()].astype(np.int64)
        self.failures = (_text(points["failure"][()]) if "failure" in points else [""] * self.n_points)
        self.methods = [None] * self.n_points  # pending rows hold fill values: no method yet
        for i, text in enumerate(_text(points["method"][()])):
            if self.status[i] != PENDING:
                try:
                    self.methods[i] = parse(text)
                except ValueError as e:
                    self.fail(f"/points/method row {i} (point id {self.ids[i]}): {e}")
        self.hyper_keys = self._hyperparameter_keys(points)
        self.hyper = {}
        for key in self.hyper_keys:
            if key not in points:
                self.fail(f"/points has attribute hyperparameters naming {key!r} but no such dataset")
            values = points[key][()]
            if values.dtype.kind in "SO":  # fixed-length (the writer's) or variable-length strings
                values = np.array([_text(v) for v in values], dtype=object)
            self.hyper[key] = values
        self.splits = self._row_splits()
        if "metrics" not in f or not isinstance(f["metrics"], h5py.Group):
            self.fail("has no /metrics group")
        self.metrics = {}
        for name, ds in f["metrics"].items():
            self._check_rows(f"/metrics/{name}", ds)
            self.metrics[name] = ds[()].astype(np.float64)
        self._log10_fq = self._log10_forget_quality()

    def fail(self, what):
        """Raises the ResultsError saying that this file is not a valid results file of its workload: what."""
        raise _not_a_results_file(self.path, self.workload, what)

    def _check_rows(self, name, ds):
        if not isinstance(ds, h5py.Dataset) or ds.ndim < 1 or ds.shape[0] != self.n_points:
            shape = ds.shape if isinstance(ds, h5py.Dataset) else "a group"
            self.fail(f"{name} has shape {shape}, expected {self.n_points} rows like /points/status")

    def _hyperparameter_keys(self, points):
        """The swept keys: the /points attribute when the writer left it, else every non-built-in column."""
        listed = _text(points.attrs.get("hyperparameters", None))
        if listed is not None:
            return [k for k in str(listed).split(",") if k]
        return sorted(k for k in points if k not in BUILTIN_COLUMNS)

    def _row_splits(self):
        """Each row's data.split: its column when swept, else the spec's constant ("" when unknown)."""
        if SPLIT_KEY in self.hyper:
            return [str(v) if s != PENDING else "" for v, s in zip(self.hyper[SPLIT_KEY], self.status)]
        constant = self.constant(SPLIT_KEY) or ""
        return [constant if s != PENDING else "" for s in self.status]

    def constant(self, key):
        """The value of an unswept spec key: from spec_canonical, else spec_yaml; None when neither says."""
        canonical = self.attrs.get("spec_canonical")
        if isinstance(canonical, str):
            value = _canonical_value(canonical, key)
            if value is not None:
                return str(value)
        yaml = self.attrs.get("spec_yaml")
        return _yaml_value(yaml, key) if isinstance(yaml, str) else None

    def hyper_value(self, key, row):
        """Row's value of a swept key as a plain Python str, int or float."""
        v = self.hyper[key][row]
        return v if isinstance(v, str) else v.item()

    def metric(self, name):
        """/metrics/<name> (float64 [n_points]), or None when the file has no such metric."""
        return self.metrics.get(name)

    def log10_fq(self):
        """log10 forget quality per row: the stored log10 where present, else log10 of forget_quality;
        None when the file has neither metric."""
        return self._log10_fq

    def _log10_forget_quality(self):
        stored, fq = self.metric("log10_forget_quality"), self.metric("forget_quality")
        if stored is None and fq is None:
            return None
        out = stored.copy() if stored is not None else np.full(self.n_points, np.nan)
        if fq is not None:
            fill = np.isnan(out) & (fq > 0)
            out[fill] = np.log10(fq[fill])
        return out

    def samples(self, split, name):
        """/samples/<split>/<name> (float32 [n_points, n_samples], NaN-padded), or None when absent."""
        path = f"samples/{split}/{name}"
        if path not in self._f:
            return None
        ds = self._f[path]
        self._check_rows("/" + path, ds)
        return ds[()]

    def curve(self, name):
        """/curves/<name> (float32 [n_points, steps]), or None when absent."""
        path = f"curves/{name}"
        if path not in self._f:
            return None
        ds = self._f[path]
        self._check_rows("/" + path, ds)
        return ds[()]

    def split_names(self):
        """The splits of the points that ran (done or failed), sorted (forget01 < forget05 < forget10)."""
        return sorted({s for s, st in zip(self.splits, self.status) if st != PENDING})

    def rows(self, status):
        return np.flatnonzero(self.status == status)

    def close(self):
        self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def load(path, parsers=None):
    """Opens path and validates it as a results file of one of the workloads in parsers (workload -> the
    parser of its /points/method strings; default: unlearn alone); raises ResultsError naming what is
    wrong."""
    parsers = parsers or {"unlearn": parse_method}
    try:
        f = h5py.File(path, "r")
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file") from None
    except OSError as e:
        raise ResultsError(f"{path}: cannot be read as HDF5 ({e}); give a results file written by "
                           "`trustbench run`") from None
    try:
        workload = _text(f.attrs.get("workload", None))
        if not isinstance(workload, str) or workload not in parsers:
            what = "has no root attribute 'workload'" if workload is None else f"its workload is {workload!r}"
            expected = " or ".join(map(repr, parsers))
            raise _not_a_results_file(path, " or ".join(parsers), f"{what}, expected {expected}")
        return Results(path, f, workload, parsers[workload])
    except BaseException:
        f.close()
        raise


def split_title(split):
    return split if split else "data.split not recorded"


def _sortable(v):
    return (0, v, "") if isinstance(v, (int, float)) else (1, 0.0, str(v))


def configurations(res, split):
    """The split's configurations (its done and failed points grouped by everything but the seed) in
    table order: Target, Retain, then the bases in BASES order, each followed by its variants. A label
    is the method's title plus the hyperparameters on which that method's configurations differ."""
    keys = [k for k in res.hyper_keys if k != SPLIT_KEY]
    groups = {}
    for i in np.flatnonzero(res.status != PENDING):
        if res.splits[i] != split:
            continue
        method = res.methods[i]
        setting = tuple((k, res.hyper_value(k, i)) for k in keys
                        if not (method.is_reference and k.startswith(UNLEARNING_ONLY)))
        cfg = groups.setdefault((method.text, setting), Config(split, method, setting))
        (cfg.done if res.status[i] == DONE else cfg.failed).append(int(i))
    values = {}  # (method text, key) -> the values its configurations take
    for (text, setting) in groups:
        for k, v in setting:
            values.setdefault((text, k), set()).add(v)
    differing = {k for (_, k), vs in values.items() if len(vs) > 1}
    short = {k: k.rsplit(".", 1)[-1] for k in differing}
    for k in differing:
        if sum(s == short[k] for s in short.values()) > 1:
            short[k] = k
    for (text, setting), cfg in groups.items():
        shown = [f"{short[k]} {format_value(v)}" for k, v in setting if len(values[(text, k)]) > 1]
        cfg.label = cfg.method.title + (f" ({', '.join(shown)})" if shown else "")
    return sorted(groups.values(),
                  key=lambda c: (c.method.order(), tuple(_sortable(v) for _, v in c.setting)))


def summarise(values):
    """(mean, sample std, count) over the non-NaN values; std is NaN for one value, both for none."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return math.nan, math.nan, 0
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else math.nan, int(v.size)


def over_seeds(res, values, rows):
    """(mean, sample std, seeds measured) of values over the seeds of rows. A seed with several rows
    (the Target and Retain points a grid repeats over unlearning-only keys) counts once, as the mean of
    its measured rows; (NaN, NaN, 0) when values is None or nothing was measured."""
    if values is None or len(rows) == 0:
        return math.nan, math.nan, 0
    rows = np.asarray(rows)
    seeds = res.seeds[rows]
    per_seed = [summarise(values[rows[seeds == s]])[0] for s in np.unique(seeds)]
    return summarise(per_seed)


def mean_over(values, rows):
    """Mean of values over rows, ignoring NaN (not measured); NaN when values is None or none measured."""
    if values is None or len(rows) == 0:
        return math.nan
    return summarise(values[rows])[0]


LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                 "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text):
    return "".join(LATEX_SPECIAL.get(c, c) for c in text)


def sci_latex(x, digits):
    mantissa, _, exponent = f"{x:.{digits}e}".partition("e")
    return rf"{mantissa}{{\times}}10^{{{int(exponent)}}}"


def format_cell(mean, std, n, kind, latex, signed=False):
    """mean ± std in the column's notation (kind: "sci" or the decimals; signed: the mean with its sign,
    for changes); the mean alone for one seed, a dash when nothing was measured."""
    if n == 0:
        return "--" if latex else "–"
    if kind == "sci":
        m = sci_latex(mean, 2) if latex else f"{mean:.2e}"
        s = (sci_latex(std, 1) if latex else f"{std:.1e}") if n > 1 else ""
    else:
        m, s = f"{mean:{'+' if signed else ''}.{kind}f}", f"{std:.{kind}f}" if n > 1 else ""
    if latex:
        return f"${m} \\pm {s}$" if s else f"${m}$"
    return f"{m} ± {s}" if s else m


def markdown_grid(header, rows):
    """The lines of a Markdown table: the header, the alignment row (first column left, the others right)
    and the rows, every column padded to its widest cell."""
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    line = lambda cells: "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                           for i, (c, w) in enumerate(zip(cells, widths))) + " |"
    align = "| " + " | ".join(":" + "-" * (w - 1) if i == 0 else "-" * (w - 1) + ":"
                             for i, w in enumerate(widths)) + " |"
    return [line(header), align] + [line(cells) for cells in rows]


def run(main):
    """Runs a script's main(); a ResultsError becomes one line on stderr and exit status 1."""
    try:
        sys.exit(main())
    except ResultsError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
