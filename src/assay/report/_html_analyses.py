"""The report's analysis sections: fairness, calibration, operating points, weak segments.

Each builder turns an analysis table (and its chart data) into template context; charts
are the same inline SVG as the rest of the report, so the page stays self-contained.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from assay.report._svg import (
    ForestRow,
    Reliability,
    Series,
    color,
    confusion_heatmap,
    dash,
    fmt,
    forest_plot,
    line_chart,
    reliability_diagram,
)

if TYPE_CHECKING:
    from assay.results import EvaluationResult

#: Group metrics drawn per attribute, per task.
GROUP_PLOTS = {"binary": ["selection_rate", "tpr", "fpr"], "multiclass": ["accuracy"],
               "regression": ["mae"]}
THRESHOLD_CURVES = ["precision", "recall", "fpr", "f1"]


def _finite(*vs: Any) -> bool:
    return all(isinstance(v, int | float) and math.isfinite(v) for v in vs)


def _cell(value: float, low: float, high: float, status: str = "ok", note: str = "",
          digits: int = 3) -> dict[str, Any]:
    if status != "ok":
        return {"value": "—", "ci": "", "note": note or status, "status": status}
    ci = f"[{fmt(low, digits)}, {fmt(high, digits)}]" if _finite(low, high) else ""
    return {"value": fmt(value, digits), "ci": ci, "note": note, "status": "ok"}


# ---------------------------------------------------------------------------- fairness


def _fairness(result: EvaluationResult, colors: dict[str, str]) -> dict[str, Any] | None:
    groups = result.analyses.get("fairness_groups")
    disp = result.analyses.get("fairness")
    if groups is None or disp is None:
        return None
    attrs = list(dict.fromkeys(groups.attribute))
    models = list(dict.fromkeys(groups.model))
    out = []
    for attr in attrs:
        g = groups[groups.attribute == attr]
        metrics = list(dict.fromkeys(g.metric))
        tables = []
        for m in models:
            gm = g[g.model == m]
            rows = []
            for grp, rg in gm.groupby("group", sort=False):
                by = {r.metric: r for r in rg.itertuples()}
                first = rg.iloc[0]
                rows.append({"group": grp, "n": int(first.n), "cells": [
                    {**_cell(by[k].value, by[k].ci_low, by[k].ci_high, by[k].status, by[k].note),
                     "flag": bool(by[k].flag)} if k in by else _cell(math.nan, math.nan, math.nan, "")
                    for k in metrics]})
            tables.append({"model": m, "rows": rows})
        plots = []
        for metric in GROUP_PLOTS.get(result.spec.task, []):
            sel = g[(g.metric == metric) & (g.status == "ok")]
            if sel.empty:
                continue
            frows = []
            for grp in dict.fromkeys(sel.group):
                first = True
                for m in models:
                    hit = sel[(sel.group == grp) & (sel.model == m)]
                    if hit.empty:
                        continue
                    r = hit.iloc[0]
                    tip = f"{m} · {grp}: {fmt(r.value)} [{fmt(r.ci_low)}, {fmt(r.ci_high)}], n={int(r.n):,}"
                    frows.append(ForestRow(str(grp) if first else "", r.value, r.ci_low, r.ci_high,
                                           colors.get(m, color(0)), tip))
                    first = False
            plots.append({"metric": metric, "svg": forest_plot(
                frows, [], title=f"{metric} by {attr}", x_label=metric)})
        d = disp[disp.attribute == attr]
        variants = list(dict.fromkeys(d.variant))
        drows = []
        for (m, metric), dm in d.groupby(["model", "metric"], sort=False):
            by = {r.variant: r for r in dm.itertuples()}
            orig = by.get("original", dm.iloc[0])
            drows.append({"model": m, "metric": metric, "groups": orig.groups or "",
                          "flag": bool(orig.flag), "note": orig.note or "",
                          "cells": [_cell(by[v].value, by[v].ci_low, by[v].ci_high, by[v].status,
                                          by[v].note) if v in by else _cell(math.nan, 0, 0, "")
                                    for v in variants]})
        out.append({"attribute": attr, "metrics": metrics, "tables": tables, "plots": plots,
                    "variants": variants, "disparities": drows,
                    "flagged": [r for r in drows if r["flag"]]})
    spec = result.spec.fairness
    return {"attributes": out, "four_fifths": spec.four_fifths if spec else 0.8}


# ---------------------------------------------------------------------------- calibration


def _cells(bins: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Reliability bins from an analysis into the reliability diagram's cell lists."""
    keys = {"bin_low": "lower", "bin_high": "upper", "weight": "weight", "mean_score": "mean_score",
            "observed": "observed", "observed_low": "low", "observed_high": "high"}
    return {k: [_num(b.get(v)) for b in bins] for k, v in keys.items()}


def _num(v: Any) -> float:
    return float(v) if isinstance(v, int | float) else math.nan


def _calibration(result: EvaluationResult, colors: dict[str, str]) -> dict[str, Any] | None:
    table = result.analyses.get("calibration")
    if table is None:
        return None
    overall = table[table.slice == "overall"]
    variants = list(dict.fromkeys(overall.variant))
    metric_rows = []
    for (m, metric), g in overall.groupby(["model", "metric"], sort=False):
        by = {r.variant: r for r in g.itertuples()}
        metric_rows.append({"model": m, "metric": metric, "cells": [
            _cell(by[v].value, by[v].ci_low, by[v].ci_high, by[v].status, by[v].note, 4)
            if v in by else _cell(math.nan, 0, 0, "") for v in variants]})
    charts = []
    rel = result.analysis_charts.get("reliability", {})
    for strategy, label in (("equal_width", "equal-width bins"), ("equal_mass", "equal-mass bins")):
        series = [Reliability(m, _cells(rel[m]["overall"][strategy]), colors.get(m, color(0)))
                  for m in rel if rel[m].get("overall", {}).get(strategy)]
        if series:
            charts.append({"title": f"Reliability, {label}", "svg": reliability_diagram(
                series, title=f"Reliability diagram ({label})"), "legend": []})
    remedies = result.analysis_charts.get("remedies", {})
    for m, by_remedy in remedies.items():
        base = rel.get(m, {}).get("overall", {}).get("equal_width")
        series = [Reliability("original", _cells(base), color(0))] if base else []
        series += [Reliability(name, _cells(r["equal_width"]), color(i + 1))
                   for i, (name, r) in enumerate(by_remedy.items()) if r.get("equal_width")]
        if len(series) > 1:
            charts.append({"title": f"Remedies (what-if) · {m}", "svg": reliability_diagram(
                series, title=f"Reliability after cross-fitted remedies: {m}"),
                "legend": [{"name": s.name, "color": s.color} for s in series]})
    slice_plots = []
    key = "ece" if "ece" in set(table.metric) else "ece_top_label"
    per = table[(table.metric == key) & (table.variant == "original") & (table.status == "ok")]
    if (per.slice != "overall").any():
        rows, refs = [], []
        for s in dict.fromkeys(["overall", *per.slice]):
            first = True
            for m in dict.fromkeys(per.model):
                hit = per[(per.slice == s) & (per.model == m)]
                if hit.empty:
                    continue
                r = hit.iloc[0]
                tip = (f"{m} · {s}: {fmt(r.value, 4)} [{fmt(r.ci_low, 4)}, {fmt(r.ci_high, 4)}], "
                       f"n={int(r.n):,}")
                rows.append(ForestRow(s if first else "", r.value, r.ci_low, r.ci_high,
                                      colors.get(m, color(0)), tip, strong=s == "overall"))
                if s == "overall":
                    refs.append((r.value, colors.get(m, color(0)), f"{m} overall"))
                first = False
        slice_plots.append({"metric": key, "svg": forest_plot(rows, refs, title=f"{key} per slice",
                                                              x_label=key)})
    return {"variants": variants, "rows": metric_rows, "charts": charts, "slice_plots": slice_plots}


# ---------------------------------------------------------------------------- thresholds


def _thresholds(result: EvaluationResult, colors: dict[str, str]) -> dict[str, Any] | None:
    table = result.analyses.get("thresholds")
    if table is None:
        return None
    curves = result.analysis_charts.get("curve", {})
    metrics = [m for m in ["precision", "recall", "specificity", "fpr", "f1", "selection_rate",
                           "accuracy", "cost"] if m in set(table.metric)]
    models = []
    for m in dict.fromkeys(table.model):
        t = table[table.model == m]
        points = []
        for point, g in t.groupby("point", sort=False):
            by = {r.metric: r for r in g.itertuples()}
            first = g.iloc[0]
            points.append({
                "point": point, "threshold": _cell(first.threshold, first.threshold_low,
                                                   first.threshold_high),
                "cells": [_cell(by[k].value, by[k].ci_low, by[k].ci_high, by[k].status, by[k].note)
                          if k in by else _cell(math.nan, 0, 0, "") for k in metrics],
                "method": first.method, "note": first.note or ""})
        svg = None
        c = curves.get(m)
        if c:
            series = [Series(k, c["threshold"], c[k], color(i), dash(i))
                      for i, k in enumerate(THRESHOLD_CURVES) if k in c]
            marks = [(float(first.threshold), "#59636e", f"{point}: {fmt(first.threshold)}")
                     for point, g in t.groupby("point", sort=False)
                     for first in [g.iloc[0]] if _finite(first.threshold)]
            svg = line_chart(series, title=f"Metrics across thresholds: {m}", x_label="threshold",
                             y_label="metric", vlines=marks)
        models.append({"model": m, "points": points, "svg": svg, "legend": [
            {"name": k, "color": color(i)} for i, k in enumerate(THRESHOLD_CURVES) if c and k in c]})
    return {"metrics": metrics, "models": models}


# ---------------------------------------------------------------------------- segments


def _segments(result: EvaluationResult) -> dict[str, Any] | None:
    table = result.analyses.get("segments")
    if table is None or result.spec.error_analysis is None:
        return None
    summary = result.analysis_charts.get("summary", {})
    examples = result.analysis_charts.get("examples", {})
    confusion = result.analysis_charts.get("confusion", {})
    models = []
    names = list(dict.fromkeys([*summary, *table.model]))
    for m in names:
        t = table[table.model == m].sort_values("rank")
        rows = []
        for r in t.itertuples():
            ex = (examples.get(m) or {}).get(str(r.rank)) or []
            cols = list(dict.fromkeys(k for e in ex for k in e))
            cm = (confusion.get(m) or {}).get(str(r.rank))
            rows.append({
                "rank": int(r.rank), "segment": r.segment, "n": int(r.n),
                "n_discovery": int(r.n_discovery), "error": fmt(r.error), "rest": fmt(r.error_rest),
                "gap": _cell(r.gap, r.gap_low, r.gap_high), "p": r.p_adjusted, "impact": fmt(r.impact),
                "examples": {"columns": cols, "rows": [[e.get(k) for k in cols] for e in ex]},
                "confusion": confusion_heatmap([str(x) for x in cm["labels"]], cm["matrix"],
                                               title=f"Confusion in segment {r.rank}")
                if cm and cm.get("labels") else None})
        models.append({"model": m, "rows": rows, "summary": summary.get(m) or {},
                       "metric": t.metric.iloc[0] if len(t) else ""})
    cfg = result.spec.error_analysis
    return {"models": models, "fdr": cfg.fdr, "min_size": cfg.min_size,
            "max_conditions": cfg.max_conditions}


def analyses_context(result: EvaluationResult, colors: dict[str, str]) -> dict[str, Any]:
    """Template context of every analysis section present (missing ones are None)."""
    from assay.report._summary import format_p

    segments = _segments(result)
    if segments:
        for m in segments["models"]:
            for r in m["rows"]:
                r["p"] = format_p(r["p"])
    return {"fairness": _fairness(result, colors), "calibration": _calibration(result, colors),
            "thresholds": _thresholds(result, colors), "segments": segments}


