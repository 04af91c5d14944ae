"""Tables the command line prints from result tables (``assay evaluate``, ``assay runs show``)."""

from __future__ import annotations

import math

import pandas as pd
from rich.markup import escape
from rich.table import Table


def _fmt(v: float, digits: int = 3) -> str:
    return "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.{digits}f}"


def _ci(row) -> str:
    if not (math.isfinite(row["ci_low"]) and math.isfinite(row["ci_high"])):
        return ""
    return f"({_fmt(row['ci_low'])}–{_fmt(row['ci_high'])})"


def metric_table(t: pd.DataFrame, models: list[str], title: str) -> Table:
    """Metric x model on all rows, each value with its interval, and the interval method."""
    overall = t[t.slice == "overall"]
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    for m in models:
        table.add_column(escape(m), justify="right")
    table.add_column("method", style="dim")
    for metric in dict.fromkeys(overall.metric):
        cells = []
        method = ""
        for m in models:
            hit = overall[(overall.metric == metric) & (overall.model == m)]
            if hit.empty:
                cells.append("")
                continue
            r = hit.iloc[0]
            method = method or r["method"].split(" ")[0]
            cells.append(f"{_fmt(r['value'])} {_ci(r)}" if r["status"] == "ok"
                         else f"[yellow]{r['status']}[/]")
        table.add_row(escape(metric), *cells, method)
    return table
