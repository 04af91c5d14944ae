"""What the commands share: the tables they print from result tables (``assay evaluate``,
``assay runs show``), their progress bar and how they find the run store."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table


@contextmanager
def progress_bar(console: Console, quiet: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A transient progress bar on ``console``; yields ``progress(stage, done, total)``."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TimeElapsedColumn(), console=console, transient=True, disable=quiet) as bar:
        task_id = bar.add_task("starting", total=1)

        def progress(stage: str, done: int, total: int) -> None:
            bar.update(task_id, description=stage, completed=done, total=max(total, 1))

        yield progress


def command_store(option: str | None, no_store: bool, spec_store: str | bool | None,
                  base_dir: Path) -> Any:
    """The run store a command records into: none with ``--no-store`` or ``store: false``;
    else ``--store``, else the spec's ``store`` (a path relative to the spec's folder, or a
    URL), else the default. Opened before the work, so a store that cannot open fails fast."""
    from assay.store import open_store

    if no_store or spec_store is False:
        return None
    return open_store(store_location(option, spec_store, base_dir))


def store_location(option: str | None, spec_store: str | bool | None, base_dir: Path) -> str | None:
    """``--store``, else the spec's ``store`` (relative to the spec's folder unless a URL), else
    None (the default store)."""
    if option is None and isinstance(spec_store, str):
        return spec_store if "://" in spec_store else str(base_dir / spec_store)
    return option


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
