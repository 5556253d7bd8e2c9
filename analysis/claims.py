"""claims.py RESULTS.h5

Checks the papers' claims on one unlearn, posttrain or poison results file and prints each as held, not
held or not testable (with the reason), followed by the numbers behind it.

Unlearn:
(a) WAGLE improves forgetting at matched utility (WAGLE, arXiv 2410.17509);
(b) SPUNGE improves its base method, per merge rule (SPUNGE, arXiv 2406.11780);
(c) NPO keeps more utility than gradient ascent (NPO; the survey arXiv 2402.08787).
Only done points count; a variant is compared with its base (the method string without the +wagle or
+spunge part) at the same split and the same other hyperparameters (the wagle.* or spunge.* keys
aside), each side the mean over its seeds (FQ as the mean of log10 FQ). WAGLE's ablation scores
(+wagle-<score>) are listed but not counted.

Posttrain (XRIGHT, arXiv 2410.15483; analysis/posttrain.py), each side the mean over its seeds at the
same mode, λ and other hyperparameters:
(a) Sequential forgets SFT during DPO: per Sequential configuration, the final f_SFT exceeds f_SFT at the
    end of its SFT phase by more than 1e-3;
(b) ALRIGHT and MAXRIGHT end closer to the utopia point than Sequential: a lower ideal distance at every
    λ;
(c) Mix costs noticeably more time than ALRIGHT and MAXRIGHT: mean train_s ratio above 1.2.

Poison (arXiv 2407.12281; analysis/poison.py), each side the mean over its seeds of the victim before
any defence (a victim's points under several defences count once per seed), compared at the same task,
mode and other swept keys:
(a) longer prefixes raise P-Target Match: per prefix-tuning setting, Spearman's rho between the prefix
    length and the mean P-TM above 0, and the mean P-TM at the largest length above that at the
    smallest;
(b) sentence triggers beat rare-word triggers: the mean P-TM of sentence above rare_word at every
    position and setting;
(c) the defences leave P-Target Match high: per defence and configuration, the mean P-TM after the
    defence at least 0.5 x the mean P-TM of the same victim before it (configurations whose P-TM is
    not above their C-TM, where the attack did not take, are not compared).

Exit status 0 whenever the file reads (a claim that does not hold is a finding), 1 when it is not an
unlearn, posttrain or poison results file. Run with /usr/bin/python3.
"""
import argparse
import math

import poison
import posttrain
from results import DONE, configurations, format_value, load, mean_over, over_seeds, parse_method, run

PARSERS = {"unlearn": parse_method, "posttrain": posttrain.parse_method, "poison": poison.parse_method}
CHECKERS = {"posttrain": posttrain, "poison": poison}  # the workloads whose module checks their claims

MU_TOLERANCE = 0.02     # a variant "keeps" utility when its MU is at most this much (absolute) below the base's
ROUGE_COMPARABLE = 0.05  # forget ROUGE-L values this close (absolute) count as the same amount of forgetting


def fmt(x, digits):
    return "n/a" if math.isnan(x) else f"{x:.{digits}f}"


class Sides:
    """The means over seeds that a comparison needs, of one side's done points."""

    def __init__(self, res, rows):
        self.fq = over_seeds(res, res.log10_fq(), rows)[0]
        self.rouge = over_seeds(res, res.metric("forget_rouge"), rows)[0]
        self.mu = over_seeds(res, res.metric("model_utility"), rows)[0]


def absent(res, *names):
    """The /metrics datasets among names that the file lacks, as one phrase ("" when it has them all)."""
    gone = [n for n in names if (res.log10_fq() if n == "forget_quality" else res.metric(n)) is None]
    return " and ".join(f"/metrics/{n}" for n in gone)


def without(setting, namespace):
    """A setting without the keys of the feature under test (wagle.* or spunge.*), as a dict."""
    return {k: v for k, v in setting if not k.startswith(namespace)}


def find_bases(by_method, variant, base_method, namespace):
    """(the base's configurations at the variant's split and other hyperparameters, a reason when none);
    by_method maps (split, method) to that method's configurations on the split."""
    candidates = by_method.get((variant.split, base_method), [])
    mine = without(variant.setting, namespace)
    bases = [c for c in candidates if without(c.setting, namespace) == mine]
    if bases:
        return bases, ""
    if not candidates:
        return [], f"no done {base_method.text} point on {variant.split}"
    theirs = min((without(c.setting, namespace) for c in candidates),
                 key=lambda t: sum(t.get(k) != v for k, v in mine.items()))
    differ = [k for k, v in mine.items() if theirs.get(k) != v]
    return [], (f"no done {base_method.text} point at the same hyperparameters (the variant has "
                + ", ".join(f"{k}={format_value(mine[k])}" for k in differ) + "; the nearest "
                + base_method.text + " " + ", ".join(f"{k}={format_value(theirs.get(k))}" for k in differ) + ")")


def compare_variant(res, variant, bases, rouge_counts):
    """(True/False/None = not compared, the line) for a variant against its base: held when FQ is higher
    (or, with rouge_counts, forget ROUGE-L lower) and MU is not lower by more than MU_TOLERANCE."""
    v, b = Sides(res, variant.done), Sides(res, [i for c in bases for i in c.done])
    head = f"{variant.split} {variant.label} vs {' + '.join(c.label for c in bases)}"
    numbers = (f"log10 FQ {fmt(v.fq, 2)} vs {fmt(b.fq, 2)}, forget ROUGE-L {fmt(v.rouge, 3)} vs "
               f"{fmt(b.rouge, 3)}, MU {fmt(v.mu, 3)} vs {fmt(b.mu, 3)}")
    fq_known = not (math.isnan(v.fq) or math.isnan(b.fq))
    rouge_known = rouge_counts and not (math.isnan(v.rouge) or math.isnan(b.rouge))
    if math.isnan(v.mu) or math.isnan(b.mu) or not (fq_known or rouge_known):
        return None, f"    not compared: {head}: {numbers} (not measured)"
    better = []
    if fq_known and v.fq > b.fq:
        better.append("FQ higher")
    if rouge_known and v.rouge < b.rouge:
        better.append("forget ROUGE-L lower")
    change = round(v.mu - b.mu, 12) + 0.0  # no "-0.000" for equal values that differ in the last bit
    keeps = change >= -MU_TOLERANCE
    reasons = [" and ".join(better) if better else
               ("neither FQ higher nor forget ROUGE-L lower" if rouge_counts else "FQ not higher"),
               f"MU {change:+.3f} against the base, {'within' if keeps else 'beyond'} the {MU_TOLERANCE} tolerance"]
    held = bool(better) and keeps
    return held, f"    {'held' if held else 'not held'}: {head}: {numbers}; {'; '.join(reasons)}"


def verdict(results):
    if not results:
        return "not testable (no variant has a measured base at the same hyperparameters)"
    n = len(results)
    return ("held" if all(results) else "not held") + f" (held in {sum(results)} of {n} comparison{'s' * (n > 1)})"


def compare_all(res, configs, variants, strip, namespace, rouge_counts, group):
    """{group: ([held, ...], [line, ...])} over the variants, each against strip(its method)."""
    by_method = {}
    for c in configs:
        by_method.setdefault((c.split, c.method), []).append(c)
    groups = {}
    for v in variants:
        results, lines = groups.setdefault(group(v), ([], []))
        bases, why = find_bases(by_method, v, strip(v.method), namespace)
        if not bases:
            lines.append(f"    no base: {v.split} {v.label}: {why}")
            continue
        held, line = compare_variant(res, v, bases, rouge_counts)
        lines.append(line)
        if held is not None:
            results.append(held)
    for _, lines in groups.values():
        lines.sort(key=lambda line: line.startswith("    no base"))
    return groups


def wagle_claim(res, configs):
    """(a): every +wagle variant (WAGLE's own score) against the same method without the mask; a
    comparison holds on a higher FQ or a lower forget ROUGE-L with MU kept; the claim when all do."""
    title = "(a) WAGLE improves forgetting at matched utility"
    variants = [c for c in configs if c.method.wagle is not None and c.method.wagle_score is None]
    ablations = [f"{c.split} {c.label}" for c in configs if c.method.wagle_score is not None]
    note = [f"    not counted (ablation scores, not WAGLE's): {', '.join(ablations)}"] if ablations else []
    if not variants:
        return [f"{title}: not testable (no +wagle variant among the done points)"] + note
    gone = absent(res, "model_utility") or absent(res, "forget_quality", "forget_rouge")
    if gone:
        return [f"{title}: not testable ({gone} absent)"]
    results, lines = compare_all(res, configs, variants, lambda m: m.without_wagle(), "wagle.",
                                 rouge_counts=True, group=lambda c: None)[None]
    return [f"{title}: {verdict(results)}"] + lines + note


def spunge_claim(res, configs):
    """(b): every +spunge variant against the same method without the split-and-merge, FQ higher with
    MU kept; one verdict per merge rule, and the claim when every tested rule holds."""
    title = "(b) SPUNGE improves its base method"
    variants = [c for c in configs if c.method.spunge is not None]
    if not variants:
        return [f"{title}: not testable (no +spunge variant among the done points)"]
    gone = absent(res, "model_utility") or absent(res, "forget_quality")
    if gone:
        return [f"{title}: not testable ({gone} absent)"]
    groups = compare_all(res, configs, variants, lambda m: m.without_spunge(), "spunge.",
                         rouge_counts=False, group=lambda c: c.method.spunge)
    tested = {g: r for g, (r, _) in sorted(groups.items()) if r}
    if not tested:
        overall = verdict([])
    else:
        overall = ("held" if all(all(r) for r in tested.values()) else "not held") + " (" + "; ".join(
            f"{'held' if all(r) else 'not held'} for merge {g}" for g, r in tested.items()) + ")"
    out = [f"{title}: {overall}"]
    for g, (results, lines) in sorted(groups.items()):
        out += [f"  merge {g}: {verdict(results)}"] + lines
    return out


def npo_vs_ga(res, configs):
    """Claim (c), per split: the pooled done points of plain npo against those of plain ga. Held when
    NPO's mean MU is higher at comparable forget ROUGE-L, or higher while NPO also forgets more; not held
    when lower at comparable ROUGE-L or lower while NPO also forgets less; otherwise the two sit at
    different amounts of forgetting and the split does not test the claim."""
    title = "(c) NPO keeps more utility than gradient ascent"
    gone = absent(res, "model_utility", "forget_rouge")
    if gone:
        return [f"{title}: not testable ({gone} absent)"]
    mu, rouge = res.metric("model_utility"), res.metric("forget_rouge")
    lines, results = [], []
    for split in res.split_names():
        rows = {m: [i for c in configs if c.split == split and c.method.is_plain and c.method.base == m
                    for i in c.done] for m in ("npo", "ga")}
        if not rows["npo"] or not rows["ga"]:
            continue
        mu_n, mu_g = mean_over(mu, rows["npo"]), mean_over(mu, rows["ga"])
        r_n, r_g = mean_over(rouge, rows["npo"]), mean_over(rouge, rows["ga"])
        numbers = (f"{split}: MU npo {fmt(mu_n, 3)} ({len(rows['npo'])} points) vs ga {fmt(mu_g, 3)} "
                   f"({len(rows['ga'])} points); forget ROUGE-L npo {fmt(r_n, 3)} vs ga {fmt(r_g, 3)}")
        if any(math.isnan(x) for x in (mu_n, mu_g, r_n, r_g)):
            lines.append(f"    not compared: {numbers} (not measured)")
            continue
        comparable = abs(r_n - r_g) <= ROUGE_COMPARABLE
        where = (f"comparable: within {ROUGE_COMPARABLE}" if comparable else
                 f"npo forgets {'more' if r_n < r_g else 'less'}: apart by more than {ROUGE_COMPARABLE}")
        if comparable or (mu_n > mu_g) == (r_n < r_g):
            held = mu_n > mu_g
            results.append(held)
            lines.append(f"    {'held' if held else 'not held'}: {numbers} ({where})")
        else:
            lines.append(f"    not testable: {numbers} ({where}, so utility is traded against forgetting)")
    if not results:
        why = ("no split has done points of both npo and ga" if not lines else
               "no split has npo and ga at comparable forgetting" if any("    not testable" in l for l in lines)
               else "model utility or forget ROUGE-L not measured")
        return [f"{title}: not testable ({why})"] + lines
    n = len(results)
    overall = "held" if all(results) else "not held"
    return [f"{title}: {overall} (held on {sum(results)} of {n} split{'s' * (n > 1)})"] + lines


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[1], prog="claims.py")
    p.add_argument("results", help="an unlearn, posttrain or poison results file (trustbench run SPEC -o RESULTS.h5)")
    args = p.parse_args()
    with load(args.results, PARSERS) as res:
        if res.workload in CHECKERS:
            print("\n".join(CHECKERS[res.workload].claim_lines(res)))
            return 0
        configs = [c for split in res.split_names() for c in configurations(res, split) if c.done]
        print(f"claims on {args.results} ({len(res.rows(DONE))} done points; each side is the mean over its seeds, "
              f"FQ as mean log10 FQ; MU tolerance {MU_TOLERANCE} absolute; forget ROUGE-L comparable within "
              f"{ROUGE_COMPARABLE} absolute)")
        claims = [wagle_claim(res, configs), spunge_claim(res, configs), npo_vs_ga(res, configs)]
        for lines in claims:
            print("\n".join(lines))
    return 0


if __name__ == "__main__":
    run(main)
