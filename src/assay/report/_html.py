"""``report.html``: one self-contained page with the verdict, metrics, curves and lineage.

The page loads nothing: charts are inline SVG (see :mod:`assay.report._svg`), styles sit in
one ``<style>`` element and there is no script. A Content-Security-Policy in the page
forbids any load besides, so a viewer never reaches the network. Every user-supplied string
is escaped (Jinja2 autoescape for HTML, :func:`markupsafe.escape` inside SVG), and the size
grows with models, slices and metrics, never with rows.
"""

from __future__ import annotations

import math
import numbers
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from assay.gates import FAIL, PASS, SKIPPED, UNDECIDED, Verdict
from assay.report._html_analyses import analyses_context
from assay.report._html_quality import quality_context
from assay.report._html_robustness import robustness_context
from assay.report._summary import KEY_METRICS, delta_tone, format_p, short_method
from assay.report._svg import (
    BETTER,
    UNCLEAR,
    WORSE,
    ForestRow,
    Reliability,
    Series,
    color,
    confusion_heatmap,
    dash,
    delta_forest_plot,
    fmt,
    forest_plot,
    line_chart,
    reliability_diagram,
)

if TYPE_CHECKING:
    from assay.results import EvaluationResult

TEMPLATES = Path(__file__).resolve().parent / "templates"
#: Forest plots drawn per section (gated metrics first, then the task's key metrics).
MAX_KEY_METRICS = 4
#: Rule kinds whose observed number is a candidate - baseline difference.
COMPARATIVE = {"non_inferiority", "superiority"}
STATUS_ORDER = {FAIL: 0, UNDECIDED: 1, PASS: 2, SKIPPED: 3}
VERDICT_CLASS = {"ship": "ship", "ship_with_guardrails": "guardrails", "hold": "hold"}
SECTION_TITLES = {"excluded": "Excluded", "errors": "Largest errors"}


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    env.filters["count"] = _count
    return env


def _count(v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return f"{v:,.0f}" if float(v) == round(float(v)) else f"{v:,.1f}"


def _finite(*vs: Any) -> bool:
    return all(isinstance(v, numbers.Real) and math.isfinite(v) for v in vs)


def _ci(low: float, high: float, sign: bool = False) -> str:
    return f"[{fmt(low, sign=sign)}, {fmt(high, sign=sign)}]" if _finite(low, high) else ""


def _time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# ---------------------------------------------------------------------------- sections


def _verdict(verdict: Verdict | None) -> dict[str, Any] | None:
    if verdict is None:
        return None
    rules = []
    for r in sorted(verdict.rules, key=lambda r: (STATUS_ORDER.get(r.status, 4), r.severity != "hold")):
        sign = r.rule in COMPARATIVE
        targets = [{
            "model": t.model, "slice": t.slice, "status": t.status,
            "observed": fmt(t.observed, sign=sign), "ci": _ci(t.low, t.high, sign),
            "bound": f"{t.direction} {fmt(t.bound, sign=sign)}" if _finite(t.bound) else "",
            "n": t.n, "p": format_p(t.p_fail),
            "rows_needed": _count(t.rows_needed) if _finite(t.rows_needed) else "",
            "note": t.note,
        } for t in r.targets if t.status in (FAIL, UNDECIDED)]
        mdds = [(t.slice, t.mdd) for t in r.targets if _finite(t.mdd)]
        power = ""
        if len(mdds) == 1:
            power = f"{mdds[0][1]:.3g} ({mdds[0][0]})"
        elif mdds:
            worst = max(mdds, key=lambda x: x[1])
            power = (f"{min(m for _, m in mdds):.3g} to {worst[1]:.3g} across {len(mdds)} slices "
                     f"(largest: {worst[0]})")
        rules.append({"name": r.name, "kind": r.rule, "severity": r.severity, "status": r.status,
                      "reason": r.reason, "metric": r.metric, "targets": targets, "power": power})
    counts = {s: sum(r.status == s for r in verdict.rules) for s in (FAIL, UNDECIDED, PASS, SKIPPED)}
    return {"decision": verdict.decision, "headline": verdict.headline,
            "css": VERDICT_CLASS.get(verdict.decision, "none"), "exit_code": verdict.exit_code,
            "counts": counts, "rules": rules, "warnings": list(verdict.warnings),
            "has_power": any(r["power"] for r in rules)}


def _metric_table(result: EvaluationResult, models: list[str]) -> list[dict[str, Any]]:
    t = result.table
    overall = t[t.slice == "overall"]
    rows = []
    for metric in dict.fromkeys(overall.metric):
        cells, methods = [], []
        for m in models:
            hit = overall[(overall.metric == metric) & (overall.model == m)]
            if hit.empty:
                cells.append({"value": "", "ci": "", "status": "", "note": ""})
                continue
            r = hit.iloc[0]
            ok = r["status"] == "ok"
            cells.append({"value": fmt(r["value"]) if ok else str(r["status"]).replace("_", " "),
                          "ci": _ci(r["ci_low"], r["ci_high"]) if ok else "",
                          "status": r["status"], "note": r["note"] or ""})
            if r["method"]:
                methods.append(short_method(r["method"]))
        rows.append({"metric": metric, "cells": cells,
                     "method": ", ".join(dict.fromkeys(methods)),
                     "method_full": "; ".join(dict.fromkeys(
                         str(x) for x in overall[overall.metric == metric].method if x))})
    return rows


def _curves(result: EvaluationResult, colors: dict[str, str]) -> dict[str, Any] | None:
    curves = {m: c for m, c in result.curves.items() if c}
    if not curves:
        return None
    charts: list[dict[str, Any]] = []
    binary = [m for m, c in curves.items() if "roc" in c or "pr" in c]
    if binary:
        roc = [Series(m, curves[m]["roc"]["fpr"], curves[m]["roc"]["tpr"], colors[m], dash(i))
               for i, m in enumerate(binary) if "roc" in curves[m]]
        charts.append({"title": "ROC curve", "svg": line_chart(
            roc, title="ROC curve", x_label="false positive rate", y_label="true positive rate",
            diagonal=True), "caption": "Dashed diagonal: a model that ranks at random."})
        pr = [Series(m, curves[m]["pr"]["recall"], curves[m]["pr"]["precision"], colors[m], dash(i))
              for i, m in enumerate(binary) if "pr" in curves[m]]
        # one baseline per visibly different prevalence (models may exclude different rows)
        prevalences: dict[float, tuple[float, str]] = {}
        for m in binary:
            if "pr" in curves[m] and _finite(curves[m]["pr"].get("prevalence")):
                p = curves[m]["pr"]["prevalence"]
                prevalences.setdefault(round(p, 2), (p, m))
        hlines = [(p, "#59636e" if len(prevalences) == 1 else colors[m], f"prevalence {fmt(p)}")
                  for p, m in prevalences.values()]
        charts.append({"title": "Precision-recall curve", "svg": line_chart(
            pr, title="Precision-recall curve", x_label="recall", y_label="precision", hlines=hlines),
            "caption": "Dashed line: the prevalence, the precision of a random ranking."})
    calib = [Reliability(m, c["calibration"], colors[m]) for m, c in curves.items()
             if c.get("calibration") and c["calibration"].get("bin_low")]
    if calib:
        charts.append({"title": "Calibration (reliability diagram)", "svg": reliability_diagram(
            calib, title="Reliability diagram"),
            "caption": (f"Observed positive share per score bin with {result.spec.confidence:.0%} "
                        "Wilson intervals; dashed diagonal: perfect calibration. Bars: share of rows "
                        "per bin.")})
    one_vs_rest = []
    for m, c in curves.items():
        ovr = c.get("one_vs_rest") or {}
        if not ovr:
            continue
        classes = list(ovr)
        roc = [Series(str(k), ovr[k]["roc"]["fpr"], ovr[k]["roc"]["tpr"], color(i), dash(i))
               for i, k in enumerate(classes) if ovr[k].get("roc")]
        pr = [Series(str(k), ovr[k]["pr"]["recall"], ovr[k]["pr"]["precision"], color(i), dash(i))
              for i, k in enumerate(classes) if ovr[k].get("pr")]
        legend = [{"name": str(k), "color": color(i), "dash": bool(dash(i))}
                  for i, k in enumerate(classes)]
        one_vs_rest.append({"model": m, "legend": legend, "charts": [
            {"title": f"ROC one-vs-rest · {m}", "svg": line_chart(
                roc, title=f"ROC one-vs-rest: {m}", x_label="false positive rate",
                y_label="true positive rate", diagonal=True)},
            {"title": f"Precision-recall one-vs-rest · {m}", "svg": line_chart(
                pr, title=f"Precision-recall one-vs-rest: {m}", x_label="recall",
                y_label="precision")}]})
    confusion = []
    for m, c in curves.items():
        cm = c.get("confusion")
        if cm and cm.get("labels"):
            thr = cm.get("threshold")
            confusion.append({"model": m, "threshold": fmt(thr) if _finite(thr) else "",
                              "svg": confusion_heatmap([str(x) for x in cm["labels"]], cm["matrix"],
                                                       title=f"Confusion matrix: {m}")})
    return {"charts": charts, "one_vs_rest": one_vs_rest, "confusion": confusion}


def key_metrics(result: EvaluationResult, available: set[str]) -> list[str]:
    """Metrics drawn per slice: those the gate rules name, then the task's key metrics."""
    gated = [r.metric for r in result.verdict.rules if r.metric] if result.verdict is not None else []
    keys = [m for m in dict.fromkeys(gated + KEY_METRICS.get(result.spec.task, [])) if m in available]
    return keys[:MAX_KEY_METRICS]


def _not_shown(rows: pd.DataFrame, too_small: bool = True) -> list[dict[str, Any]]:
    """Slices left out of a plot (status other than ok), one entry per slice."""
    out: dict[str, dict[str, Any]] = {}
    if not too_small:  # listed once per section instead
        rows = rows[rows.status != "too_small"]
    for r in rows.itertuples():
        e = out.setdefault(r.slice, {"slice": r.slice, "status": str(r.status).replace("_", " "),
                                     "n": [], "note": r.note or ""})
        if _finite(r.n):
            e["n"].append(int(r.n))
    for e in out.values():
        e["n"] = _count(min(e["n"])) if e["n"] else "—"
    return list(out.values())


def _slices(result: EvaluationResult, models: list[str], colors: dict[str, str]) -> dict[str, Any] | None:
    t = result.table
    if not (t.slice != "overall").any():
        return None
    plots = []
    for metric in key_metrics(result, set(t.metric)):
        m_rows = t[t.metric == metric]
        order = list(dict.fromkeys(["overall", *m_rows.slice]))
        ok = {(r.slice, r.model): r for r in m_rows[m_rows.status == "ok"].itertuples()}
        rows, refs = [], []
        for s in order:
            first = True
            for m in models:
                r = ok.get((s, m))
                if r is None:
                    continue
                tip = f"{m} · {s}: {fmt(r.value)} {_ci(r.ci_low, r.ci_high)}, n={_count(r.n)}"
                if _finite(r.gap):
                    tip += f"; vs the rest {fmt(r.gap, sign=True)} {_ci(r.gap_low, r.gap_high, sign=True)}"
                rows.append(ForestRow(s if first else "", r.value, r.ci_low, r.ci_high, colors[m], tip,
                                      group=r.dimension, strong=s == "overall"))
                if s == "overall":
                    refs.append((r.value, colors[m], f"{m} overall {fmt(r.value)}"))
                first = False
        hidden = _not_shown(m_rows[(m_rows.status != "ok") & (m_rows.slice != "overall")], False)
        if len(rows) > len(refs):
            plots.append({"metric": metric, "hidden": hidden, "svg": forest_plot(
                rows, refs, title=f"{metric} per slice", x_label=metric)})
    too_small = _not_shown(t[(t.status == "too_small")])
    return {"plots": plots, "too_small": too_small}


def delta_row(r: Any, tone: str | None, group: str) -> ForestRow:
    """A comparison row (slice, values, delta with its interval, adjusted p, n) as a forest
    plot row coloured by ``tone`` (better / worse / unclear), with its tooltip."""
    tip = (f"{r.slice}: {fmt(r.baseline_value)} → {fmt(r.candidate_value)}, delta "
           f"{fmt(r.delta, sign=True)} {_ci(r.ci_low, r.ci_high, sign=True)}, "
           f"p adj. {format_p(r.p_adjusted)}, n={_count(r.n)}")
    return ForestRow(r.slice, r.delta, r.ci_low, r.ci_high,
                     {"better": BETTER, "worse": WORSE}.get(tone or "", UNCLEAR), tip,
                     group=group, strong=r.slice == "overall")


def _comparisons(result: EvaluationResult) -> list[dict[str, Any]]:
    comp = result.comparisons
    if comp is None or comp.empty:
        return []
    verdict = result.verdict
    out = []
    for cand in dict.fromkeys(comp.candidate):
        c = comp[comp.candidate == cand]
        overall = []
        for r in c[c.slice == "overall"].itertuples():
            ok = r.status == "ok"
            overall.append({
                "metric": r.metric, "baseline": fmt(r.baseline_value), "candidate": fmt(r.candidate_value),
                "delta": fmt(r.delta, sign=True) if ok else str(r.status).replace("_", " "),
                "ci": _ci(r.ci_low, r.ci_high, sign=True) if ok else "",
                "tone": delta_tone(r) if ok else "", "p": format_p(r.p_value),
                "p_adj": format_p(r.p_adjusted),
                "n": r.n, "method": short_method(r.method), "method_full": r.method, "note": r.note or ""})
        plots = []
        for metric in key_metrics(result, set(c.metric)):
            m_rows = c[c.metric == metric]
            rows = []
            for r in m_rows[m_rows.status == "ok"].itertuples():
                tone = delta_tone(r)
                rows.append(delta_row(r, tone, r.dimension))
            rows.sort(key=lambda fr: fr.label != "overall")
            bounds: dict[float, str] = {}
            if verdict is not None:
                for rule in verdict.rules:
                    if rule.metric != metric or rule.rule not in COMPARATIVE:
                        continue
                    for tgt in rule.targets:
                        if tgt.model == cand and _finite(tgt.bound) and tgt.bound != 0:
                            bounds.setdefault(round(tgt.bound, 9), f"{rule.name}: {tgt.direction} "
                                                                   f"{fmt(tgt.bound, sign=True)}")
            hidden = _not_shown(m_rows[(m_rows.status != "ok") & (m_rows.slice != "overall")], False)
            if rows:
                plots.append({"metric": metric, "hidden": hidden, "svg": delta_forest_plot(
                    rows, list(bounds.items()), title=f"{metric}: {cand} minus {result.spec.baseline}",
                    x_label=f"{metric} difference (candidate − baseline)")})
        out.append({"candidate": cand, "baseline": result.spec.baseline, "overall": overall,
                    "too_small": _not_shown(c[c.status == "too_small"]),
                    "plots": plots, "unpaired": int(result.unpaired.get(cand, 0) or 0),
                    "adjust": result.spec.compare.adjust})
    return out


def _excluded(result: EvaluationResult) -> dict[str, Any]:
    reasons = list(dict.fromkeys(k for per in result.excluded.values() for k in per))
    rows = [{"model": m, "counts": [per.get(k, 0) for k in reasons], "total": sum(per.values())}
            for m, per in result.excluded.items()]
    examples = []
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for ex in result.examples:
        key = (str(ex.get("section", "excluded")), str(ex.get("model", "")), str(ex.get("reason", "")))
        groups.setdefault(key, []).append(ex)
    for (section, model, reason), items in groups.items():
        columns = list(dict.fromkeys(k for ex in items for k in (ex.get("values") or {})))
        examples.append({
            "title": SECTION_TITLES.get(section, section), "model": model, "reason": reason,
            "columns": columns,
            "rows": [{"row": ex.get("row"), "label": ex.get("label"), "prediction": ex.get("prediction"),
                      "values": [(ex.get("values") or {}).get(col, "") for col in columns]}
                     for ex in items]})
    unpaired = [{"candidate": c, "n": n} for c, n in result.unpaired.items() if n]
    t = result.table
    return {"reasons": reasons, "rows": rows, "any": any(r["total"] for r in rows),
            "too_small": _not_shown(t[t.status == "too_small"]), "unpaired": unpaired,
            "examples": examples, "min_slice_size": result.spec.min_slice_size}


def _input_rows(inputs: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for role, v in inputs.items():
        v = v if isinstance(v, dict) else {"value": v}
        where = v.get("path") or v.get("sql") or v.get("value") or ""
        if v.get("in_memory"):
            where = "in-memory table (hash of its Arrow stream)"
        rows.append({"role": role, "path": str(where), "sha256": v.get("sha256") or "",
                     "bytes": v.get("bytes"), "missing": bool(v.get("missing"))})
    return rows


def _lineage(result: EvaluationResult, manifest: dict[str, Any] | None) -> dict[str, Any]:
    man = manifest if manifest is not None else result.manifest()
    spec = result.spec
    inputs = _input_rows(man.get("inputs") or {})
    settings = [("spec", spec.name), ("task", spec.task), ("rows", _count(result.n_rows)),
                ("seed", str(spec.seed)), ("engine", spec.engine),
                ("confidence", f"{spec.confidence:.0%}"), ("bootstrap replicates", _count(spec.bootstrap))]
    if result.classes:
        classes = [str(c) for c in result.classes]
        shown = ", ".join(classes[:20]) + (f", … ({len(classes)} in all)" if len(classes) > 20 else "")
        settings.append(("classes", shown))
    if spec.baseline:
        settings.append(("baseline", spec.baseline))
    run_id = result.extra.get("run_id")
    if run_id:
        settings.insert(0, ("run id", str(run_id)))
    versions = [(str(k), str(v)) for k, v in (man.get("packages") or {}).items()]
    versions += [(k, str(man[k])) for k in ("python", "platform") if man.get(k)]
    times = [("started", _time(result.started)), ("finished", _time(result.finished)),
             ("duration", f"{max(result.finished - result.started, 0.0):.2f} s")]
    # where the run is recorded is no part of what was evaluated, and a database URL names
    # internal hosts: the shared page leaves those settings out
    shown = {k: v for k, v in result.replayable_spec().items() if k not in ("store", "mlflow")}
    spec_yaml = yaml.safe_dump(shown, sort_keys=False)
    return {"inputs": inputs, "settings": settings, "versions": versions, "times": times,
            "spec_yaml": spec_yaml, "run_id": run_id}


# ---------------------------------------------------------------------------- page


def render_html(result: EvaluationResult, *, manifest: dict[str, Any] | None = None) -> str:
    """The self-contained HTML report of one evaluation (no network needed to view it).

    ``manifest`` is ``result.manifest()`` when the caller already has it (it hashes the
    input files, so a caller that writes both saves reading them twice)."""
    from assay import __version__

    spec = result.spec
    models = [m.name for m in spec.models]
    colors = {m: color(i) for i, m in enumerate(models)}
    for i, m in enumerate(result.curves):
        colors.setdefault(m, color(len(models) + i))
    sizes = result.slice_sizes or {}
    header_models = [{"name": m, "color": colors[m], "n": sizes.get(m, {}).get("overall")}
                     for m in models]
    verdict = _verdict(result.verdict)
    curves = _curves(result, colors)
    slices = _slices(result, models, colors)
    comparisons = _comparisons(result)
    analyses = analyses_context(result, colors)
    quality = quality_context(result)
    robustness = robustness_context(result, colors)
    nav = [("verdict", "Verdict")] + ([("quality", "Data quality")] if quality else [])
    nav.append(("metrics", "Metrics"))
    if curves:
        nav.append(("curves", "Curves"))
    if slices:
        nav.append(("slices", "Slices"))
    if comparisons:
        nav.append(("comparison", "Comparison"))
    nav += [(key, title) for key, title in (("fairness", "Fairness"), ("calibration", "Calibration"),
                                             ("thresholds", "Operating points"),
                                             ("segments", "Weak segments")) if analyses[key]]
    if robustness is not None:
        nav.append(("robustness", "Robustness"))
    nav += [("excluded", "Excluded"), ("lineage", "Lineage")]
    context = {
        "spec": {"name": spec.name, "task": spec.task, "confidence": f"{spec.confidence:.0%}",
                 "seed": spec.seed, "min_slice_size": spec.min_slice_size},
        "n_rows": result.n_rows, "models": header_models, "nav": nav, "verdict": verdict,
        "metrics": _metric_table(result, models), "curves": curves, "slices": slices,
        "comparisons": comparisons, "analyses": analyses, "quality": quality, "robustness": robustness,
        "excluded": _excluded(result),
        "lineage": _lineage(result, manifest),
        "version": __version__, "finished": _time(result.finished),
    }
    return _environment().get_template("report.html.j2").render(**context)
