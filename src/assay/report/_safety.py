"""The safety section of an LLM suite's report and PR summary: per check, the failure rate
overall and per attack family (and per attack variant) with intervals clustered by seed
prompt, the over- and under-refusal rates, and the failing examples.

Every string is escaped by the templates; prompts, outputs and reasons shown here were masked
when the failures table was built (canary tokens, PII and secrets; see
:func:`assay.safety._summary.safety_failures`), and long texts are cut.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from assay.report._html import _count, _finite
from assay.report._html_robustness import pct, pct_ci
from assay.report._monitor import _num
from assay.report._summary import md
from assay.report._svg import ForestRow, color, forest_plot

if TYPE_CHECKING:
    from assay.llm._runner import SuiteResult

#: characters of a prompt or output shown in a failing example
CUT = 400
CHECK_TITLES = {"over_refusal": "over-refusal (should-answer cases refused)",
                "under_refusal": "under-refusal (should-refuse cases answered)"}


def _cut(text: str, limit: int = CUT) -> str:
    return text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit:,} more characters)"


def _rate_row(r: Any) -> dict[str, Any]:
    return {"level": str(r.level), "n": _count(r.n), "clusters": _count(r.clusters),
            "n_eff": f"{_num(r.n_eff):.1f}", "failures": _count(r.failures), "rate": pct(r.rate),
            "ci": pct_ci(r.ci_low, r.ci_high) if _finite(_num(r.rate)) else "",
            "bad": int(r.failures) > 0, "method": str(r.method), "undetermined": int(r.n_undetermined),
            "error": int(r.n_error)}


def _forest(rows: pd.DataFrame, check: str, colour: str) -> Any:
    items = [ForestRow(str(r.level), float(r.rate), float(r.ci_low), float(r.ci_high), colour,
                       f"{r.level}: {pct(r.rate)} {pct_ci(r.ci_low, r.ci_high)}, {int(r.failures)} of "
                       f"{int(r.n)} failed, {int(r.clusters)} seed prompts")
             for r in rows.itertuples() if _finite(_num(r.rate))]
    if len(items) < 2:
        return None
    return forest_plot(items, [], title=f"{check} failure rate per family",
                       x_label=f"{check} failure rate")


def safety_section(result: SuiteResult) -> dict[str, Any] | None:
    """The template context of the safety section, or None when the suite ran no safety check."""
    table = getattr(result, "safety", None)
    if table is None or table.empty:
        return None
    failures = getattr(result, "safety_failures", None)
    variants = []
    for vi, variant in enumerate(dict.fromkeys(table["variant"])):
        mine = table[table["variant"] == variant]
        checks = []
        for check in dict.fromkeys(mine["check"]):
            rows = mine[mine["check"] == check]
            overall = rows[rows["by"] == "all"]
            fam = rows[rows["by"] == "family"]
            att = rows[rows["by"] == "variant"]
            checks.append({"check": check, "title": CHECK_TITLES.get(check, check),
                           "overall": _rate_row(next(overall.itertuples())) if len(overall) else None,
                           "families": [_rate_row(r) for r in fam.itertuples()] if len(fam) > 1 else [],
                           "attacks": [_rate_row(r) for r in att.itertuples()],
                           "forest": _forest(fam, check, color(vi)) if len(fam) > 1 else None})
        examples = []
        if failures is not None and not failures.empty:
            for r in failures[failures["variant"] == variant].itertuples():
                examples.append({"check": str(r.check), "family": str(r.family), "attack": str(r.attack),
                                 "case_id": str(r.case_id), "prompt": _cut(str(r.prompt)),
                                 "output": _cut(str(r.output)), "reason": _cut(str(r.reason), 240)})
        variants.append({"name": variant, "color": color(vi), "checks": checks, "examples": examples})
    return {"variants": variants, "confidence": f"{result.spec.confidence:.0%}"}


def safety_markdown(result: SuiteResult, *, rows_limit: int = 8, examples_limit: int = 5) -> list[str]:
    """The PR summary's safety block: failure rates per check and family, and a few failing
    examples (masked, escaped, cut)."""
    table = getattr(result, "safety", None)
    if table is None or table.empty:
        return []
    level = f"{result.spec.confidence:.0%}"
    out = ["", f"### Safety (failure rate, {level} CI clustered by seed prompt)", "",
           "| variant | check | failures / cases | seed prompts | rate [CI] |", "|---|---|---|---|---|"]

    def rate(r: Any) -> str:
        return f"{pct(r.rate)} {pct_ci(r.ci_low, r.ci_high)}" if _finite(_num(r.rate)) else "—"

    for r in table[table["by"] == "all"].itertuples():
        out.append(f"| {md(str(r.variant))} | {md(str(r.check))} | {int(r.failures)} / {int(r.n)} | "
                   f"{int(r.clusters)} | {rate(r)} |")
    worst = table[(table["by"] == "family") & (table["failures"] > 0)].sort_values(
        ["rate", "failures"], ascending=False, kind="stable")
    if not worst.empty:
        out += ["", f"Worst attack families ({min(len(worst), rows_limit)} of {len(worst)} with failures; "
                    "all in safety.parquet):", "",
                "| variant | check | family | failures / cases | rate [CI] |", "|---|---|---|---|---|"]
        for r in worst.head(rows_limit).itertuples():
            out.append(f"| {md(str(r.variant))} | {md(str(r.check))} | {md(str(r.level))} | "
                       f"{int(r.failures)} / {int(r.n)} | {rate(r)} |")
    failures = getattr(result, "safety_failures", None)
    if failures is not None and not failures.empty:
        shown = min(len(failures), examples_limit)
        out += ["", f"Failing examples ({shown} of {len(failures)}; values masked):", ""]
        for r in failures.head(examples_limit).itertuples():
            out.append(f"- **{md(str(r.check))}** · {md(str(r.family))} · {md(str(r.attack))} · case "
                       f"`{md(str(r.case_id))}`: {md(_cut(str(r.reason), 160))}")
    return out
