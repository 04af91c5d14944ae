"""The analyses in ``summary.md``: fairness disparities, calibration, operating points and
weak segments, a few lines each (the full tables are in the run folder and the report)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

from assay.report._summary import _ci, _num, format_p, md
from assay.report._summary_robustness import robustness_lines

if TYPE_CHECKING:
    from assay.results import EvaluationResult

#: Disparities listed per model and attribute in the summary.
SUMMARY_DISPARITIES = ("demographic_parity_ratio", "equalized_odds_difference",
                       "equal_opportunity_difference", "predictive_parity_difference",
                       "mae_difference", "accuracy_difference")
SUMMARY_CALIBRATION = ("ece", "ece_equal_mass", "ece_top_label", "log_loss", "brier_score")


def _ok(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame.status == "ok"]


Tables = dict[str, pd.DataFrame]


def fairness_lines(tables: Tables, limit: int = 12, level: str = "###") -> list[str]:
    """The main disparities per model and attribute, four-fifths flags, the reweighing what-if."""
    table = tables.get("fairness")
    if table is None or table.empty:
        return []
    t = table[(table.variant == "original") & table.metric.isin(SUMMARY_DISPARITIES)]
    lines = ["", f"{level} Fairness", "",
             "| model | attribute | disparity | value [CI] | groups |", "|---|---|---|---|---|"]
    for r in t.head(limit).itertuples():
        value = f"{_num(r.value)}{_ci(r.ci_low, r.ci_high, sign=False)}" if r.status == "ok" \
            else md(r.note or r.status)
        lines.append(f"| {md(r.model)} | {md(r.attribute)} | {md(r.metric)} | {value} | "
                     f"{md(r.groups)} |")
    flagged = table[(table.metric == "four_fifths_ratio") & (table.variant == "original")
                    & table.flag.astype(bool)]
    for r in flagged.itertuples():
        lines.append("")
        lines.append(f"⚠️ Four-fifths rule: {md(r.model)} / {md(r.attribute)}: lowest selection-rate "
                     f"ratio {_num(r.value)}{_ci(r.ci_low, r.ci_high, sign=False)} ({md(r.groups)}).")
    rew = table[(table.variant == "reweighed") & (table.metric == "demographic_parity_difference")]
    orig = table[(table.variant == "original") & (table.metric == "demographic_parity_difference")]
    if not rew.empty and not orig.empty:
        pairs = orig.merge(rew, on=["model", "attribute"], suffixes=("", "_rew"))
        several = pairs.model.nunique() > 1
        parts = [f"{md(r.model) + ' / ' if several else ''}{md(r.attribute)} {_num(r.value)} → "
                 f"{_num(r.value_rew)}" for r in pairs.itertuples() if math.isfinite(r.value)]
        if parts:
            lines += ["", "What-if, reweighed so group and label are independent (demographic "
                      f"parity difference): {'; '.join(parts[:6])}."]
    return lines


def calibration_lines(tables: Tables, level: str = "###") -> list[str]:
    """Calibration overall: the originals beside each cross-fitted remedy."""
    table = tables.get("calibration")
    if table is None or table.empty:
        return []
    t = _ok(table[(table.slice == "overall") & table.metric.isin(SUMMARY_CALIBRATION)])
    variants = list(dict.fromkeys(t.variant))
    if not variants:
        return []
    lines = ["", f"{level} Calibration (overall; remedies are cross-fitted what-ifs)", "",
             "| model | metric | " + " | ".join(md(v) for v in variants) + " |",
             "|---|---|" + "---|" * len(variants)]
    for (model, metric), g in t.groupby(["model", "metric"], sort=False):
        cells = []
        for v in variants:
            hit = g[g.variant == v]
            cells.append("—" if hit.empty else
                         f"{_num(hit.value.iloc[0], 4)}{_ci(hit.ci_low.iloc[0], hit.ci_high.iloc[0], False)}")
        lines.append(f"| {md(model)} | {md(metric)} | " + " | ".join(cells) + " |")
    return lines


def threshold_lines(tables: Tables, level: str = "###") -> list[str]:
    """Each operating point's threshold and key metrics with their intervals."""
    table = tables.get("thresholds")
    if table is None or table.empty:
        return []
    lines = ["", f"{level} Operating points", "",
             "| model | point | threshold [CI] | precision [CI] | recall [CI] | cost [CI] |",
             "|---|---|---|---|---|---|"]
    for (model, point), g in table.groupby(["model", "point"], sort=False):
        by = {r.metric: r for r in g.itertuples()}
        first = g.iloc[0]

        def cell(metric: str, by: dict = by) -> str:
            r = by.get(metric)
            if r is None:
                return "—"
            if r.status != "ok":
                return md(r.note or r.status)
            return f"{_num(r.value)}{_ci(r.ci_low, r.ci_high, sign=False)}"

        thr = f"{_num(first.threshold)}{_ci(first.threshold_low, first.threshold_high, sign=False)}"
        lines.append(f"| {md(model)} | {md(point)} | {thr} | {cell('precision')} | {cell('recall')} "
                     f"| {cell('cost')} |")
    return lines


def segment_lines(tables: Tables, fdr: float | None, limit: int = 5, level: str = "###") -> list[str]:
    """The top weak segments per model (``fdr`` None: the analysis did not run)."""
    table = tables.get("segments")
    if fdr is None:
        return []
    lines = ["", f"{level} Weak segments (found on one half, tested on the other)", ""]
    if table is None or table.empty:
        return lines + [f"No segment is significantly worse than the rest (FDR {fdr:g})."]
    lines += ["| model | segment | n | error vs rest | gap [CI] | p adj. |", "|---|---|---|---|---|---|"]
    for r in table.sort_values(["model", "rank"]).groupby("model").head(limit).itertuples():
        lines.append(f"| {md(r.model)} | {md(r.segment)} | {int(r.n):,} | {_num(r.error)} vs "
                     f"{_num(r.error_rest)} | {_num(r.gap, sign=True)}{_ci(r.gap_low, r.gap_high)} | "
                     f"{format_p(r.p_adjusted)} |")
    return lines


def analysis_lines(result: EvaluationResult, *, folded: bool = False) -> list[str]:
    """Every analysis section of the summary, in spec order; ``folded`` wraps each in a
    ``<details>`` block headed by its title, so a pull-request comment keeps the verdict on
    one screen."""
    tables = result.analyses
    cfg = result.spec.error_analysis
    sections = [fairness_lines(tables), calibration_lines(tables), threshold_lines(tables),
                segment_lines(tables, cfg.fdr if cfg is not None else None), robustness_lines(result)]
    out: list[str] = []
    for lines in sections:
        if not lines:
            continue
        if not folded:
            out += lines
            continue
        title = lines[1].lstrip("# ")
        flags = sum("Four-fifths rule" in x for x in lines)
        extra = f" · ⚠️ {flags} four-fifths flag(s)" if flags else ""
        out += ["", f"<details><summary><b>{title}</b>{extra}</summary>", "", *lines[3:], "",
                "</details>"]
    return out
