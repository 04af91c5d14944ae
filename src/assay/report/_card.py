"""Model cards and data cards in Markdown, from the run store's records.

A model card joins what people write in the spec's ``card:`` section (intended use, owners,
limitations, ethical considerations) with what assay recorded: data provenance with
hashes, metrics with intervals, slices, the verdict and the run's own caveats (excluded
rows, slices too small to judge, approximate intervals). Every user-supplied string is
escaped, as in ``summary.md``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from assay.report._summary import KEY_METRICS, _num, md

if TYPE_CHECKING:
    from assay.store import StoredRun


def _items(value: list[str] | str | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _ci(row: dict[str, Any]) -> str:
    lo, hi = row.get("ci_low"), row.get("ci_high")
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return "—"
    return f"{lo:.3f} – {hi:.3f}"


def _section(title: str, lines: list[str]) -> list[str]:
    return [f"## {title}", "", *lines, ""] if lines else []


def _text_or_list(value: list[str] | str | None) -> list[str]:
    items = _items(value)
    if len(items) == 1:
        return [md(items[0])]
    return [f"- {md(i)}" for i in items]


def render_data_card(dataset: dict[str, Any]) -> str:
    """One evaluation-set version's data card: source, fingerprint, rows, schema, labels,
    collection date and known limitations."""
    card = dataset.get("card") or {}
    out = [f"# Data card: {md(dataset['name'])} (version {dataset['version']})", ""]
    facts = [("Fingerprint (SHA-256)", f"`{dataset['fingerprint']}`"),
             ("Location", md(dataset["location"])), ("Rows", f"{dataset['n_rows']:,}"),
             ("Source", md(card.get("source", "not stated"))),
             ("Collection date", md(card.get("collection_date", "not stated"))),
             ("Owner", md(card.get("owner", "not stated"))),
             ("License", md(card.get("license", "not stated"))),
             ("First recorded", f"{dataset['created_at']:%Y-%m-%d %H:%M} UTC by run "
                                f"`{dataset.get('first_run_id') or '—'}`")]
    out += ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in facts] + [""]
    if card.get("description"):
        out += [md(card["description"]), ""]
    labels = dataset.get("labels") or {}
    if labels:
        total = sum(v for v in labels.values() if isinstance(v, int))
        rows = ["| label | rows | share |", "|---|---:|---:|"]
        if "mean" in labels:  # a regression label: summary statistics
            rows = ["| statistic | value |", "|---|---:|"] + [
                f"| {k} | {_num(v, 4) if isinstance(v, float) else v} |" for k, v in labels.items()]
        else:
            rows += [f"| {md(k)} | {v:,} | {v / total:.1%} |" for k, v in labels.items()]
        out += _section("Label distribution", rows)
    schema = dataset.get("schema") or {}
    out += _section("Schema", ["| column | type |", "|---|---|"]
                    + [f"| {md(c)} | {md(t)} |" for c, t in schema.items()])
    out += _section("Known limitations", _text_or_list(card.get("limitations"))
                    or ["None stated. Say what the set does not cover in `data.card.limitations`."])
    return "\n".join(out).rstrip() + "\n"


def render_model_card(run: StoredRun) -> str:
    """A Markdown model card from a stored run and its spec's ``card:`` fields."""
    rec = run.record
    spec = rec["spec"]
    card = spec.get("card") or {}
    models = [m["name"] for m in spec["models"]]
    title = card.get("model") or (models[-1] if len(models) > 1 else models[0])
    version = f" {card['version']}" if card.get("version") else ""
    out = [f"# Model card: {md(title)}{md(version)}", ""]
    if card.get("description"):
        out += [md(card["description"]), ""]
    facts = [("Evaluation", md(rec["name"])), ("Task", md(rec["task"])),
             ("Run", f"`{rec['id']}` ({rec['status']}, {rec['started_at']:%Y-%m-%d %H:%M} UTC)"),
             ("Models evaluated", ", ".join(md(m) for m in models)),
             ("Owners", ", ".join(md(o) for o in _items(card.get("owners"))) or "not stated"),
             ("License", md(card.get("license", "not stated")))]
    if rec.get("verdict"):
        facts.append(("Release verdict", f"**{rec['verdict'].replace('_', ' ').upper()}** "
                                         f"(exit code {rec['exit_code']})"))
    out += ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in facts] + [""]
    out += _section("Intended use", _text_or_list(card.get("intended_use"))
                    or ["Not stated: set `card.intended_use` in the spec."])
    out += _section("Out of scope", _text_or_list(card.get("out_of_scope")))

    # provenance
    lines = ["| input | location | SHA-256 |", "|---|---|---|"]
    for role, info in rec["inputs"].items():
        where = info.get("path") or ("in-memory table" if info.get("in_memory") else info.get("sql", ""))
        lines.append(f"| {md(role)} | {md(where)} | `{info.get('sha256') or 'missing'}` |")
    if run.dataset:
        d = run.dataset
        lines += ["", f"Evaluation set **{md(d['name'])}**, version {d['version']}: "
                      f"{d['n_rows']:,} rows (data card: `assay datasets {md(d['name'])}`)."]
    pk = rec.get("packages") or {}
    lines += ["", f"assay {md(rec['assay_version'])}, Python {md(rec['python_version'])}, "
                  + ", ".join(f"{md(k)} {md(v)}" for k, v in pk.items() if k != "assay")
                  + f"; seed {rec['seed']}; {md(rec['platform'])}."]
    out += _section("Data provenance", lines)

    # metrics
    t = run.table
    conf = int(round(spec.get("confidence", 0.95) * 100))
    overall = t[t.slice == "overall"]
    lines = ["| metric | " + " | ".join(md(m) for m in models) + " |",
             "|---|" + "---:|" * len(models)]
    for metric in dict.fromkeys(overall.metric):
        cells = []
        for m in models:
            hit = overall[(overall.metric == metric) & (overall.model == m)]
            if hit.empty:
                cells.append("")
                continue
            r = hit.iloc[0].to_dict()
            cells.append(f"{_num(r['value'])} ({_ci(r)})" if r["status"] == "ok" else md(r["status"]))
        lines.append(f"| {md(metric)} | " + " | ".join(cells) + " |")
    out += _section(f"Metrics ({conf}% confidence intervals, all rows)", lines)

    keys = [k for k in KEY_METRICS.get(rec["task"], []) if k in set(t.metric)][:2]
    s = t[(t.slice != "overall") & t.metric.isin(keys)]
    if not s.empty:
        main = models[-1] if len(models) > 1 else models[0]
        s = s[s.model == main]
        lines = [f"Model **{md(main)}**; gap = slice minus the rest of the rows.", "",
                 "| slice | n | metric | value (CI) | gap (CI) |", "|---|---:|---|---|---|"]
        for r in s.to_dict("records"):
            if r["status"] != "ok":
                lines.append(f"| {md(r['slice'])} | {r['n']:,} | {md(r['metric'])} | {md(r['status'])} | |")
                continue
            gap = "—" if not math.isfinite(r["gap"]) else \
                f"{r['gap']:+.3f} ({r['gap_low']:+.3f}, {r['gap_high']:+.3f})"
            lines.append(f"| {md(r['slice'])} | {r['n']:,} | {md(r['metric'])} | "
                         f"{_num(r['value'])} ({_ci(r)}) | {gap} |")
        out += _section("Slices", lines)

    from assay.report._summary_analyses import calibration_lines, fairness_lines
    from assay.store._store import analysis_tables

    tables = analysis_tables(rec)
    out += fairness_lines(tables, level="##")[1:] + ([""] if "fairness" in tables else [])
    out += calibration_lines(tables, level="##")[1:] + ([""] if "calibration" in tables else [])

    detail = rec.get("verdict_detail") or {}
    if detail:
        lines = ["| rule | severity | result | decided by |", "|---|---|---|---|"]
        for rule in detail.get("rules", []):
            lines.append(f"| {md(rule['name'])} | {md(rule['severity'])} | {md(rule['status'])} | "
                         f"{md(rule['reason'])} |")
        out += _section("Release gates", lines)

    caveats = [md(c) for c in _items(card.get("caveats"))]
    excluded = (rec.get("excluded") or {}).get("rows", {})
    for model, reasons in excluded.items():
        total = sum(reasons.values())
        if total:
            parts = ", ".join(f"{md(k)}: {v:,}" for k, v in reasons.items() if v)
            caveats.append(f"{total:,} row(s) excluded for model {md(model)} ({parts}).")
    small = t[t.status == "too_small"].drop_duplicates("slice")
    if not small.empty:
        caveats.append("Too small to evaluate (min_slice_size "
                       f"{spec.get('min_slice_size')}): "
                       + ", ".join(f"{md(r.slice)} (n={r.n})" for r in small.itertuples()) + ".")
    approx = t[(t.status == "ok") & t.note.str.contains("approximate", na=False)]
    if not approx.empty:
        caveats.append(f"{len(approx)} interval(s) are approximate (few rows in a class or "
                       "perfect separation); see the note column of results.")
    out += _section("Limitations", _text_or_list(card.get("limitations"))
                    or ["Not stated: set `card.limitations` in the spec."])
    out += _section("Ethical considerations", _text_or_list(card.get("ethical_considerations"))
                    or ["Not stated: set `card.ethical_considerations` in the spec."])
    out += _section("Caveats", [f"- {c}" for c in caveats])
    return "\n".join(out).rstrip() + "\n"
