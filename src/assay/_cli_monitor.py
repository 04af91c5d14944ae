"""``assay monitor SPEC``: watch a prediction log; exit 0 when nothing fired, 3 when only
warnings did, 1 when an alert did (on the windows computed in this run, or on every window
with ``--all-windows``), 2 on bad input."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from assay._cli_tables import command_store, progress_bar
from assay._errors import InputError

console = Console(stderr=False)
err = Console(stderr=True)


def _fmt(v: float) -> str:
    return "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.4g}"


def print_monitor(result) -> None:  # type: ignore[no-untyped-def]
    """Windows with their rows and key numbers, then the alerts."""
    spec = result.spec
    win = result.windows
    t = Table(title=f"{escape(spec.name)}: {len(win)} windows ({spec.window.label}), reference "
                    f"{escape(result.extra.get('reference', ''))}", title_justify="left")
    metric = (result.performance["metric"].iloc[0] if len(result.performance) else None)
    for col in ("window", "role", "rows", "labelled", "computed", "drifting columns",
                *([metric] if metric else [])):
        t.add_column(col, justify="right" if col in ("rows", "labelled") else "left")
    drift = result.drift
    for w in win.itertuples():
        d = drift[(drift["window"] == w.window) & drift["default"]
                  & (drift["value"] > drift["band_high"])]
        cols = ", ".join(escape(c) for c in d["column"].unique()[:4]) or "—"
        cells = [escape(str(w.window)), w.role, f"{int(w.n):,}", f"{int(w.n_labelled):,}", w.computed, cols]
        if metric:
            p = result.performance
            r = p[(p["window"] == w.window) & (p["metric"] == metric)]
            ok = not r.empty and r.iloc[0]["status"] == "ok"
            row = r.iloc[0] if ok else None
            cells.append(f"{row['value']:.3f} ({_fmt(row['ci_low'])}, {_fmt(row['ci_high'])})"
                         if row is not None else "—")
        t.add_row(*cells)
    console.print(t)
    alerts = result.alerts
    if alerts.empty:
        console.print("[green]No alerts.[/]")
        return
    at = Table(title=f"Alerts ({len(alerts)}; new = computed in this run)", title_justify="left")
    for col in ("severity", "window", "rule", "message", "new"):
        at.add_column(col)
    for a in alerts.itertuples():
        style = "red" if a.severity == "alert" else "yellow"
        at.add_row(f"[{style}]{a.severity}[/]", escape(str(a.window)), escape(a.rule),
                   escape(a.message), "yes" if a.new else "")
    console.print(at)
    for reason, n in result.excluded.items():
        console.print(f"[yellow]Excluded rows[/]: {n:,} ({escape(reason)})")


def monitor_command(
    spec: Path = typer.Argument(..., help="Monitor spec (YAML)."),
    out: Path | None = typer.Option(None, "--out", "-o",
                                    help="Output folder (default: runs/<name>-monitor-<UTC time>)."),
    store: str | None = typer.Option(None, help="Run store keeping computed windows: a SQLite file "
                                                "or a database URL (default: the spec's store, "
                                                "else $ASSAY_STORE, else .assay/runs.db)."),
    no_store: bool = typer.Option(False, "--no-store", help="Compute every window; store nothing."),
    all_windows: bool = typer.Option(False, "--all-windows",
                                     help="Exit non-zero for alerts on any window, not only on "
                                          "windows computed in this run."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the output folder."),
) -> None:
    """Monitor a prediction log: drift of every watched column and performance per window
    against a reference, alert rules, a trend report (monitor.html). Windows already in the
    run store with unchanged rows and labels are not computed again."""
    from assay.monitor import load_monitor_spec, run_monitor
    from assay.monitor._result import exit_code

    spec_obj = load_monitor_spec(spec)
    base = spec.resolve().parent
    run_store = command_store(store, no_store, spec_obj.store, base)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = out or Path("runs") / f"{spec_obj.name}-monitor-{stamp}"
    with progress_bar(err, quiet) as progress:
        result = run_monitor(spec_obj, base, store=run_store, progress=progress)
    try:
        folder = result.write(target)
    except OSError as exc:
        raise InputError(f"{target}: cannot write the monitor folder ({exc.strerror or exc}); "
                         "pass a writable folder with --out") from None
    code = exit_code(result.alerts, new_only=not all_windows)
    if quiet:
        console.print(escape(str(folder)), highlight=False, soft_wrap=True)
    else:
        print_monitor(result)
        ex = result.extra
        console.print(f"Computed {ex['windows_computed']} window(s), read {ex['windows_stored']} from "
                      f"the store; report: {escape(str(folder))}/monitor.html")
    raise typer.Exit(code)
