"""``assay agent run SUITE``: run an agent suite (every case with every agent, tools mocked),
score the traces, print the scores with intervals and how the runs stopped, and write the
folder (tables, suite.json, report.html); exits with the verdict's code when the suite has
gates."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from assay._cli_tables import progress_bar
from assay._errors import InputError

console = Console(stderr=False)
err = Console(stderr=True)
agent_app = typer.Typer(no_args_is_help=True,
                        help="Evaluate agents and tool use: suites, mock tools, traces.")


def _cell(r: Any) -> str:
    if r["status"] != "ok":
        return str(r["status"]).replace("_", " ")
    ci = f" ({r['ci_low']:.3f}, {r['ci_high']:.3f})" if math.isfinite(r["ci_low"]) else ""
    value = f"{r['value']:.3f}" if abs(r["value"]) < 1000 else f"{r['value']:,.0f}"
    return value + ci


def print_agent_suite(result: Any) -> None:
    """Scorer x agent (all cases): pass rate and mean with intervals; then how the runs stopped."""
    s = result.summary
    overall = s[s["slice"] == "overall"]
    agents = list(dict.fromkeys(overall["variant"]))
    t = Table(title=f"{escape(result.spec.name)}: {len(result.cases)} cases x {len(agents)} agent(s), "
                    f"{int(result.spec.confidence * 100)}% intervals", title_justify="left")
    t.add_column("scorer")
    t.add_column("metric")
    for a in agents:
        t.add_column(escape(a), justify="right")
    t.add_column("undet.", justify="right")
    for scorer in dict.fromkeys(overall["scorer"]):
        mine = overall[overall["scorer"] == scorer]
        for metric in dict.fromkeys(mine["metric"]):
            rows = mine[mine["metric"] == metric]
            cells = []
            for a in agents:
                hit = rows[rows["variant"] == a]
                cells.append("—" if hit.empty else _cell(hit.iloc[0]))
            undetermined = int(rows["n_undetermined"].sum())
            t.add_row(escape(scorer), metric.replace("_", " "), *cells,
                      str(undetermined) if undetermined else "")
    console.print(t)
    st = Table(title="How the runs stopped", title_justify="left")
    for col in ("agent", "final reply", "max_steps", "error", "model calls", "tool calls", "tool errors"):
        st.add_column(col, justify="left" if col == "agent" else "right")
    out, calls = result.outputs, result.traces
    for a in agents:
        o, c = out[out["variant"] == a], calls[calls["variant"] == a]
        stops = (str(int((o["stop_reason"] == k).sum())) for k in ("final", "max_steps", "error"))
        st.add_row(escape(a), *stops, f"{int(o['steps'].sum()):,}", f"{len(c):,}",
                   f"{int(c['error'].notna().sum()):,}")
    console.print(st)


@agent_app.command("run")
def run_command(
    suite: Annotated[Path, typer.Argument(help="Agent suite (YAML).")],
    out: Annotated[Path | None, typer.Option("--out", "-o",
                                             help="Folder (default: runs/<name>-agent-<UTC time>).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Ask the agents again instead of reusing "
                                           "cached answers (the cache is not used).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the folder.")] = False,
) -> None:
    """Run every case with every agent against the mock tools (cached answers cost nothing),
    score the traces (tool selection, arguments, order, task success, steps, cost), print the
    scores with intervals, and write the folder (tables, suite.json, report.html with every
    trace); exits with the verdict's code when the suite has gates."""
    from assay.agents import load_agent_suite, run_agent_suite

    spec = load_agent_suite(suite)
    if no_cache:
        spec = spec.model_copy(update={"cache": False})
    base = suite.resolve().parent
    target = out or Path("runs") / f"{spec.name}-agent-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    with progress_bar(err, quiet) as progress:
        result = run_agent_suite(spec, base, progress=progress)
        try:
            folder = result.write(target)
        except OSError as exc:
            raise InputError(f"{target}: cannot write the folder ({exc.strerror or exc}); "
                             "pass --out") from None
    if quiet:
        console.print(escape(str(folder)), highlight=False, soft_wrap=True)
    else:
        print_agent_suite(result)
        console.print(f"Results: {escape(str(folder))}/ (report.html, suite.json, tables)")
    if result.verdict is not None:
        if not quiet:
            from assay.cli import print_verdict

            print_verdict(result)
        raise typer.Exit(result.verdict.exit_code)
