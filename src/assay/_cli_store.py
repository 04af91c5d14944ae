"""Command line over the run store: ``assay runs list|show|diff``, ``assay rerun``,
``assay datasets`` and ``assay card``."""

from __future__ import annotations

import math
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from assay._cli_tables import metric_table
from assay._errors import InputError
from assay.store import STATUSES, RunStore, open_store

console = Console(stderr=False)

STORE_HELP = "Run store: a SQLite file or a database URL (default: $ASSAY_STORE, else .assay/runs.db)."
STATUS_STYLE = {"complete": "green", "running": "yellow", "failed": "red", "interrupted": "red"}

runs_app = typer.Typer(no_args_is_help=True, help="List, show and compare recorded runs.")


def _store(location: str | None) -> RunStore:
    return open_store(location)


def _when(dt: datetime | None) -> str:
    return "—" if dt is None else dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _date(value: str, option: str) -> datetime:
    """A date or time given on the command line (ISO 8601, or 'today', or '7d' ago), UTC."""
    now = datetime.now(UTC)
    if value == "today":
        return now.replace(hour=0, minute=0, second=0, microsecond=0)
    if value[:-1].isdigit() and value[-1] in "dh":
        return now - timedelta(**{"days" if value[-1] == "d" else "hours": int(value[:-1])})
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"{option}: {value!r} is not a date; give e.g. 2026-11-01, "
                         "2026-11-01T09:30, today, 7d or 12h") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _alive(record: dict[str, Any]) -> bool | None:
    """Whether a running run's process still exists (None when it ran on another host)."""
    import os
    import socket

    if record.get("host") != socket.gethostname():
        return None
    try:
        os.kill(int(record["pid"]), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _status(record: dict[str, Any]) -> str:
    status = record["status"]
    text = f"[{STATUS_STYLE.get(status, '')}]{status}[/]"
    if status == "running" and _alive(record) is False:
        text += " [dim](process gone: killed?)[/]"
    return text


@runs_app.command("list")
def runs_list(
    name: str | None = typer.Option(None, help="Only runs of this spec name ('*' wildcards)."),
    status: str | None = typer.Option(None, help=f"Only runs with this status: {', '.join(STATUSES)}."),
    since: str | None = typer.Option(None, help="Started at or after (2026-11-01, today, 7d, 12h)."),
    until: str | None = typer.Option(None, help="Started before this date or time."),
    limit: int = typer.Option(50, min=1, help="At most this many runs, newest first."),
    store: str | None = typer.Option(None, help=STORE_HELP),
) -> None:
    """Recorded runs, newest first."""
    if status is not None and status not in STATUSES:
        raise InputError(f"--status: unknown status {status!r}; allowed: {', '.join(STATUSES)}")
    s = _store(store)
    rows = s.list_runs(name=name, status=status, since=_date(since, "--since") if since else None,
                       until=_date(until, "--until") if until else None, limit=limit)
    table = Table(title=f"Runs in {escape(s.display_url)}", title_justify="left")
    for col in ("id", "name", "status", "started (UTC)", "took", "rows", "verdict", "note"):
        table.add_column(col, justify="right" if col in ("took", "rows") else "left",
                         no_wrap=col in ("id", "status", "started (UTC)", "verdict"))
    for r in rows:
        took = "" if r["finished_at"] is None else \
            f"{(r['finished_at'] - r['started_at']).total_seconds():.1f}s"
        note = ""
        if r["rerun_of"]:
            note = f"rerun of {r['rerun_of']}: " + {True: "identical", False: "different",
                                                     None: "not checked"}[r["reproduced"]]
        elif r["error"]:
            note = escape(r["error"].strip().splitlines()[-1][:80])
        table.add_row(r["id"], escape(r["name"]), _status(r), _when(r["started_at"]), took,
                      "" if r["n_rows"] is None else f"{r['n_rows']:,}", escape(r["verdict"] or ""),
                      note)
    console.print(table)
    if not rows:
        console.print("No runs match." if (name or status or since or until)
                      else "No runs recorded yet: 'assay evaluate SPEC' records one.")


@runs_app.command("show")
def runs_show(
    run: str = typer.Argument(..., help="Run id, unique id prefix, 'latest' or 'latest:<name>'."),
    store: str | None = typer.Option(None, help=STORE_HELP),
) -> None:
    """One run: lineage, status, verdict and its metrics on all rows."""
    r = _store(store).get_run(run)
    rec = r.record
    info = Table.grid(padding=(0, 2))
    info.add_column(style="bold")
    info.add_column()
    took = "" if rec["finished_at"] is None else \
        f" ({(rec['finished_at'] - rec['started_at']).total_seconds():.1f}s)"
    for k, v in [("run", rec["id"]), ("name", escape(rec["name"])), ("task", rec["task"]),
                 ("status", _status(rec)), ("started", _when(rec["started_at"]) + " UTC"),
                 ("finished", _when(rec["finished_at"]) + took),
                 ("verdict", escape(f"{rec['verdict']} (exit {rec['exit_code']})")
                  if rec["verdict"] else "—"),
                 ("rows", "—" if rec["n_rows"] is None else f"{rec['n_rows']:,}"),
                 ("seed", str(rec["seed"])), ("assay", rec["assay_version"]),
                 ("python", f"{rec['python_version']} on {escape(rec['platform'])}"),
                 ("host", f"{escape(rec['host'])} (pid {rec['pid']})"),
                 ("command", escape(rec["command"] or "—")), ("folder", escape(rec["folder"] or "—")),
                 ("rerun of", rec["rerun_of"] or "—")]:
        info.add_row(k, v)
    console.print(info)
    inputs = rec["inputs"]
    it = Table(title="Inputs", title_justify="left")
    for col in ("role", "location", "sha256"):
        it.add_column(col, no_wrap=col == "sha256", overflow="fold")
    for role, i in inputs.items():
        it.add_row(escape(role), escape(str(i.get("path") or i.get("sql") or "in-memory table")),
                   i.get("sha256") or "[red]missing[/]")
    console.print(it)
    if rec["error"]:
        console.print(f"[red]error:[/] {escape(rec['error'])}")
    if r.table.empty:
        return
    console.print(metric_table(r.table, list(dict.fromkeys(r.table.model)), "Metrics on all rows"))
    for rule in (rec.get("verdict_detail") or {}).get("rules", []):
        console.print(f"  {rule['status']:<9} {escape(rule['name'])}: {escape(rule['reason'])}")


def _change_table(title: str, changes: list[tuple[str, Any, Any]], what: str = "field") -> None:
    if not changes:
        console.print(f"{title}: [green]no change[/]")
        return
    table = Table(title=title, title_justify="left")
    for col in (what, "before", "after"):
        table.add_column(col)
    for k, a, b in changes:
        table.add_row(escape(str(k)), escape(_short(a)), escape(_short(b)))
    console.print(table)


def _short(v: Any) -> str:
    text = "—" if v is None else str(v)
    return text if len(text) <= 70 else text[:69] + "…"


def _print_table_diff(title: str, diff: Any, keys: list[str], top: int) -> None:
    if diff.identical:
        console.print(f"{title}: [green]identical[/] (every value the same double)")
        return
    table = Table(title=f"{title}: {len(diff.changed)} value(s) differ"
                        + (f", {len(diff.only_old)} row(s) only before" if diff.only_old else "")
                        + (f", {len(diff.only_new)} row(s) only after" if diff.only_new else ""),
                  title_justify="left")
    for col in (*keys, "column", "before", "after", "difference"):
        table.add_column(col, justify="right" if col in ("before", "after", "difference") else "left")
    for d in diff.changed[:top]:
        table.add_row(*(escape(str(d[k])) for k in keys), d["column"], escape(_fmt(d["old"])),
                      escape(_fmt(d["new"])), _fmt(d["difference"], 3))
    console.print(table)
    for side, rows in (("only before", diff.only_old), ("only after", diff.only_new)):
        if rows:
            shown = ", ".join("/".join(str(r[k]) for k in keys) for r in rows[:5])
            console.print(f"  rows {side}: {escape(shown)}{' …' if len(rows) > 5 else ''}")


def _fmt(v: Any, sig: int = 17) -> str:
    if isinstance(v, float):
        if math.isinf(v):
            return "text"
        return f"{v:.{sig}g}"
    return "—" if v is None else str(v)


@runs_app.command("diff")
def runs_diff(
    run_a: str = typer.Argument(..., help="The earlier run (id, prefix or latest)."),
    run_b: str = typer.Argument(..., help="The later run."),
    top: int = typer.Option(20, min=1, help="Show this many of the largest result changes."),
    store: str | None = typer.Option(None, help=STORE_HELP),
) -> None:
    """What changed between two runs: inputs, spec, environment, results and verdict."""
    from assay.analysis import TABLE_KEYS
    from assay.store import mapping_changes, table_diff
    from assay.store._diff import COMPARE_KEYS, RESULT_KEYS, input_changes
    from assay.store._store import analysis_tables

    s = _store(store)
    a, b = s.get_run(run_a), s.get_run(run_b)
    ra, rb = a.record, b.record
    console.print(f"[bold]{a.id}[/] ({escape(ra['name'])}, {_when(ra['started_at'])}) → "
                  f"[bold]{b.id}[/] ({escape(rb['name'])}, {_when(rb['started_at'])})")
    _change_table("Inputs (content hashes)", input_changes(ra["inputs"], rb["inputs"]), "input")
    _change_table("Spec", mapping_changes(ra["spec"], rb["spec"]))
    env_a = {"assay": ra["assay_version"], "python": ra["python_version"], "platform": ra["platform"]}
    env_b = {"assay": rb["assay_version"], "python": rb["python_version"], "platform": rb["platform"]}
    _change_table("Environment", mapping_changes(env_a | ra["packages"], env_b | rb["packages"]))
    _print_table_diff("Results", table_diff(a.table, b.table, RESULT_KEYS), RESULT_KEYS, top)
    if a.comparisons is not None or b.comparisons is not None:
        _print_table_diff("Comparisons", table_diff(a.comparisons, b.comparisons, COMPARE_KEYS),
                          COMPARE_KEYS, top)
    ta, tb = analysis_tables(ra), analysis_tables(rb)
    for name in sorted(ta.keys() | tb.keys()):
        keys = TABLE_KEYS.get(name, [])
        _print_table_diff(name.replace("_", " ").capitalize(),
                          table_diff(ta.get(name), tb.get(name), keys), keys, top)
    if ra["verdict"] != rb["verdict"]:
        console.print(f"Verdict: {escape(str(ra['verdict']))} → [bold]{escape(str(rb['verdict']))}[/]")
    else:
        console.print(f"Verdict: unchanged ({escape(str(ra['verdict']))})")


def rerun_command(
    run: str = typer.Argument(..., help="Run id, unique id prefix, 'latest' or 'latest:<name>'."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Also write the rerun's run folder."),
    top: int = typer.Option(10, min=1, help="Show this many of the largest differences."),
    store: str | None = typer.Option(None, help=STORE_HELP),
) -> None:
    """Re-execute a stored run and check that its results are bit-identical (exit 0), or
    show the largest difference and what changed (exit 1)."""
    from assay.analysis import TABLE_KEYS
    from assay.store import rerun
    from assay.store._diff import COMPARE_KEYS, RESULT_KEYS

    s = _store(store)
    rep = rerun(s, run, out=out, command=" ".join(sys.argv))
    console.print(f"Rerun of [bold]{rep.original.id}[/] recorded as [bold]{rep.run_id}[/].")
    if rep.identical:
        console.print("[bold green]identical[/]: every result and comparison value is the same "
                      f"double, and the verdict is the same ({escape(str(rep.verdict[1]))}).")
        return
    big = rep.largest
    if big is not None:
        keys = [k for k in ("model", "candidate", "slice", "attribute", "group", "point", "rank",
                            "metric", "variant") if k in big]
        where = ", ".join(f"{k} {escape(str(big[k]))}" for k in keys)
        console.print(f"[bold red]different[/]: the largest difference is in {big['column']} of "
                      f"{where}: {escape(_fmt(big['old']))} → {escape(_fmt(big['new']))} "
                      f"(|difference| {_fmt(big['difference'], 3)}).")
    else:
        console.print("[bold red]different[/]: the result tables have different rows.")
    _print_table_diff("Results", rep.results, RESULT_KEYS, top)
    if not rep.comparisons.identical:
        _print_table_diff("Comparisons", rep.comparisons, COMPARE_KEYS, top)
    for name, diff in rep.analyses.items():
        if not diff.identical:
            _print_table_diff(name.replace("_", " ").capitalize(), diff, TABLE_KEYS.get(name, []), top)
    if rep.verdict[0] != rep.verdict[1]:
        console.print(f"Verdict: {escape(str(rep.verdict[0]))} → {escape(str(rep.verdict[1]))}")
    _change_table("What changed: inputs (content hashes)", rep.inputs, "input")
    _change_table("What changed: spec fields", rep.spec)
    _change_table("What changed: package versions", rep.packages, "package")
    _change_table("What changed: environment", rep.environment)
    if not (rep.inputs or rep.spec or rep.packages or rep.environment):
        console.print("No input, spec, package or environment change explains it: please report "
                      "it as a reproducibility bug.")
    raise typer.Exit(1)


def datasets_command(
    name: str | None = typer.Argument(None, help="Show this evaluation set's data card."),
    version: int | None = typer.Option(None, help="With NAME: this version (default: the latest)."),
    store: str | None = typer.Option(None, help=STORE_HELP),
) -> None:
    """Evaluation sets seen by recorded runs (one version per distinct content), or one
    set's data card."""
    from assay.report._card import render_data_card

    s = _store(store)
    rows = s.datasets(name)
    if name is None:
        table = Table(title=f"Evaluation sets in {escape(s.display_url)}", title_justify="left")
        for col in ("name", "version", "rows", "fingerprint", "first seen (UTC)", "runs", "location"):
            table.add_column(col, justify="right" if col in ("version", "rows", "runs") else "left")
        for d in rows:
            table.add_row(escape(d["name"]), str(d["version"]), f"{d['n_rows']:,}", d["fingerprint"][:12],
                          _when(d["created_at"]), str(d["runs"]), escape(_short(d["location"])))
        console.print(table)
        if not rows:
            console.print("No evaluation sets recorded yet.")
        return
    if not rows:
        known = sorted({d["name"] for d in s.datasets()})
        raise InputError(f"no evaluation set named {name!r}; known: {', '.join(known) or 'none'}")
    pick = rows[-1] if version is None else next((d for d in rows if d["version"] == version), None)
    if pick is None:
        raise InputError(f"{name}: no version {version}; versions: "
                         f"{', '.join(str(d['version']) for d in rows)}")
    console.print(render_data_card(pick), markup=False, highlight=False, soft_wrap=True)


def card_command(
    run: str = typer.Argument(..., help="Run id, unique id prefix, 'latest' or 'latest:<name>'."),
    out: Path = typer.Option(Path("model_card.md"), "--out", "-o", help="Where to write the card."),
    store: str | None = typer.Option(None, help=STORE_HELP),
) -> None:
    """Write a Markdown model card from a stored run and its spec's card: fields."""
    from assay.report._card import render_model_card

    r = _store(store).get_run(run)
    if r.record["status"] != "complete":
        raise InputError(f"run {r.id} is {r.record['status']}, not complete: a model card needs a "
                         "finished run ('assay runs list --status complete')")
    try:
        out.write_text(render_model_card(r), encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{out}: cannot write the model card ({exc.strerror or exc})") from None
    console.print(f"Model card for run {r.id}: {escape(str(out))}")
