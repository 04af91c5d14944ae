"""``summary.md``: the verdict and what decided it, in one screen of Markdown.

Written for a pull-request comment: verdict first, then failing and undecided rules with
their numbers, the slices that regressed or improved most (with intervals), and what was
excluded. Every user-supplied string is escaped, so a slice value cannot inject Markdown
or HTML into the comment.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

import pandas as pd

from assay.gates import FAIL, PASS, UNDECIDED, RuleOutcome, Verdict

if TYPE_CHECKING:
    from assay.results import EvaluationResult

#: Metrics listed in the regressions table when no gate names one, per task.
KEY_METRICS = {"binary": ["roc_auc", "accuracy", "recall"], "multiclass": ["accuracy", "f1_macro"],
               "regression": ["mae", "rmse"]}
MARKS = {FAIL: "❌", UNDECIDED: "⚠️", PASS: "✅"}
VERDICT_MARKS = {"ship": "✅", "ship_with_guardrails": "⚠️", "hold": "❌"}


def md(text: object) -> str:
    """Escape a user-supplied string for a Markdown table cell (HTML, pipes, emphasis)."""
    s = html.escape(str(text), quote=False)
    for ch in ("\\", "|", "*", "_", "`", "[", "]"):
        s = s.replace(ch, "\\" + ch)
    return s.replace("\n", " ")


def _num(v: float, digits: int = 3, sign: bool = False) -> str:
    if v is None or not math.isfinite(v):
        return "—"
    return f"{v:+.{digits}f}" if sign else f"{v:.{digits}f}"


def _ci(low: float, high: float, sign: bool = True) -> str:
    if not (math.isfinite(low) and math.isfinite(high)):
        return ""
    return f" [{_num(low, sign=sign)}, {_num(high, sign=sign)}]"


def _rules_section(verdict: Verdict, limit: int) -> list[str]:
    order = {FAIL: 0, UNDECIDED: 1, PASS: 2}
    rules = sorted(verdict.rules, key=lambda r: (order.get(r.status, 3), r.severity != "hold"))
    lines = ["| | rule | severity | result | decided by |", "|---|---|---|---|---|"]
    for r in rules[:limit]:
        lines.append(f"| {MARKS.get(r.status, '')} | {md(r.name)} | {r.severity} | {r.status} | "
                     f"{md(r.reason)} |")
    if len(rules) > limit:
        lines.append(f"| | … {len(rules) - limit} more passing rule(s) | | | |")
    return lines


def _power_note(result: EvaluationResult) -> str:
    return f"{result.spec.compare.power:.0%} power, {1 - result.spec.confidence:.2g} two-sided"


def _power_lines(verdict: Verdict, limit: int = 6) -> list[str]:
    """Per comparison rule, the minimum detectable difference overall or across its slices."""
    lines = []
    for r in verdict.rules:
        mdds = [(t.slice, t.mdd) for t in r.targets if math.isfinite(t.mdd)]
        if not mdds:
            continue
        if len(mdds) == 1:
            lines.append(f"- {md(r.name)}: {mdds[0][1]:.3g} ({md(mdds[0][0])})")
        else:
            worst = max(mdds, key=lambda x: x[1])
            lo = min(m for _, m in mdds)
            lines.append(f"- {md(r.name)}: {lo:.3g} to {worst[1]:.3g} across {len(mdds)} slices "
                         f"(largest: {md(worst[0])})")
    return lines[:limit]


def _gated_metrics(rules: list[RuleOutcome]) -> list[str]:
    return list(dict.fromkeys(r.metric for r in rules if r.metric))


def _movers(comp: pd.DataFrame, metrics: list[str], worse: bool, limit: int) -> pd.DataFrame:
    """Slices whose interval excludes zero on the worse (or better) side, the most certain
    first."""
    c = comp[comp.metric.isin(metrics) & (comp.status == "ok")].copy()
    if c.empty:
        return c
    sign = c.higher_is_better.map(lambda h: 1.0 if h else -1.0)
    lo = pd.concat([sign * c.ci_low, sign * c.ci_high], axis=1).min(axis=1)
    hi = pd.concat([sign * c.ci_low, sign * c.ci_high], axis=1).max(axis=1)
    c = c[hi < 0] if worse else c[lo > 0]
    # metrics have different units: rank by how many standard errors the change is from 0
    c["score"] = (c.delta.abs() / c.se.where(c.se > 0)).fillna(float("inf"))
    return c.sort_values("score", ascending=False).head(limit)


def _movers_table(rows: pd.DataFrame) -> list[str]:
    lines = ["| slice | metric | baseline | candidate | delta [CI] | p (adj.) | n |",
             "|---|---|---|---|---|---|---|"]
    for r in rows.itertuples():
        lines.append(f"| {md(r.slice)} | {md(r.metric)} | {_num(r.baseline_value)} | "
                     f"{_num(r.candidate_value)} | {_num(r.delta, sign=True)}{_ci(r.ci_low, r.ci_high)}"
                     f" | {format_p(r.p_adjusted)} | {int(r.n):,} |")
    return lines


def delta_tone(r: Any) -> str:
    """A comparison row's "better" / "worse" when its interval excludes zero, else ""
    (churn has no direction)."""
    lo, hi = r.ci_low, r.ci_high
    if r.metric == "churn" or not (math.isfinite(lo) and math.isfinite(hi)) or not (lo > 0 or hi < 0):
        return ""
    return "better" if (r.delta > 0) == bool(r.higher_is_better) else "worse"


def short_method(method: str) -> str:
    """An interval method's name without its details ("paired delong", "tango score interval")."""
    return str(method or "").split(";")[0].split(" over ")[0].split(" (")[0]


def format_p(p: float) -> str:
    """A p-value for people: three decimals, or <0.001."""
    if p is None or not math.isfinite(p):
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def render_summary(result: EvaluationResult, verdict: Verdict | None = None, *,
                   rules_limit: int = 8, movers: int = 5) -> str:
    """The Markdown summary of one evaluation (and its verdict, when gated)."""
    spec = result.spec
    verdict = verdict if verdict is not None else result.verdict
    comp = result.comparisons
    out: list[str] = []
    pct = f"{spec.confidence:.0%}"
    if verdict is not None:
        fails = sum(r.status == FAIL for r in verdict.rules)
        undecided = sum(r.status == UNDECIDED for r in verdict.rules)
        out.append(f"## {VERDICT_MARKS[verdict.decision]} assay: **{verdict.headline}** — "
                   f"{md(spec.name)}")
        out.append("")
        out.append(f"{len(verdict.rules)} rule(s): {fails} failing, {undecided} undecided, "
                   f"{len(verdict.rules) - fails - undecided} passing · exit code {verdict.exit_code}")
    else:
        out.append(f"## assay: {md(spec.name)} (no gates)")
    from assay.quality._text import summary_lines, summary_note

    models = ", ".join(md(m.name) for m in spec.models)
    out.append("")
    out.append(f"{spec.task} · {result.n_rows:,} rows · models: {models} · {pct} intervals · "
               f"seed {spec.seed}{summary_note(result.analyses.get('quality'))}")
    if verdict is not None:
        out += ["", "### Rules", "", *_rules_section(verdict, rules_limit)]
        power = _power_lines(verdict)
        if power:
            out += ["", f"Smallest differences this data detects ({_power_note(result)}):", ""]
            out += power
        if verdict.warnings:
            out += ["", "### Cannot be decided with this data", ""]
            out += [f"- {md(w)}" for w in verdict.warnings[:5]]
            if len(verdict.warnings) > 5:
                out.append(f"- … and {len(verdict.warnings) - 5} more")
    out += summary_lines(result.analyses.get("quality"))
    if comp is not None and not comp.empty:
        metrics = _gated_metrics(verdict.rules) if verdict is not None else []
        metrics = metrics or [m for m in KEY_METRICS.get(spec.task, []) if m in set(comp.metric)]
        for cand in dict.fromkeys(comp.candidate):
            c = comp[comp.candidate == cand]
            title = f"{md(cand)} vs {md(spec.baseline)}"
            worse = _movers(c, metrics, True, movers)
            better = _movers(c, metrics, False, movers)
            out += ["", f"### Regressions: {title} ({', '.join(md(m) for m in metrics)})", ""]
            out += _movers_table(worse) if not worse.empty else \
                [f"No slice is worse with {pct} confidence."]
            out += ["", f"### Improvements: {title}", ""]
            out += _movers_table(better) if not better.empty else \
                [f"No slice is better with {pct} confidence."]
    from assay.report._summary_analyses import analysis_lines

    out += analysis_lines(result, folded=True)
    excluded = []
    for model, reasons in result.excluded.items():
        total = sum(reasons.values())
        if total:
            parts = ", ".join(f"{md(k)}: {v:,}" for k, v in reasons.items() if v)
            excluded.append(f"- {md(model)}: {total:,} ({parts})")
    for cand, n in result.unpaired.items():
        if n:
            excluded.append(f"- {n:,} row(s) usable for only one of {md(spec.baseline)} and "
                            f"{md(cand)}: left out of their comparison")
    out += ["", "### Excluded rows", ""]
    out += excluded or ["None."]
    from assay import __version__

    out += ["", f"<sub>assay {__version__} · full results: results.parquet, comparisons.parquet, "
                "verdict.json</sub>", ""]
    return "\n".join(out)
