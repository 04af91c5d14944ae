"""``assay check SPEC``: the data-quality checks alone (no predictions read), and the
quality lines of ``assay evaluate``'s output.

Exit codes as ``assay evaluate``'s: 0 every check passes (or is skipped), 3 some warn,
1 some fail, 2 input error.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from assay._cli_tables import store_location
from assay._errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from assay.results import EvaluationResult
    from assay.spec import EvalSpec
    from assay.store import RunStore

console = Console(stderr=False)
STYLE = {"fail": "bold red", "warn": "yellow", "pass": "green", "skipped": "dim"}
#: tables longer than this print only the rows that need attention (--json has them all)
MAX_ROWS = 30


def quality_table(table: pd.DataFrame, title: str) -> Table:
    """The quality rows as a rich table (user text escaped)."""
    from assay.quality._text import label, value_text

    out = Table(title=title, title_justify="left")
    for col in ("status", "check", "value", "count", "n", "message"):
        out.add_column(col, justify="right" if col in ("value", "count", "n") else "left",
                       no_wrap=col in ("status", "value"))
    for r in table.itertuples():
        msg = escape(r.message) + (f"\n[dim]e.g. {escape(r.examples)}[/]" if r.examples else "")
        ran = r.status != "skipped"
        out.add_row(f"[{STYLE.get(r.status, '')}]{r.status}[/]", escape(label(r)),
                    value_text(r.check, r.value), f"{r.count:,}" if ran else "", f"{r.n:,}" if ran else "",
                    msg)
    return out


def print_quality(result: EvaluationResult) -> None:
    """``assay evaluate``'s data-quality lines: the failing and warning checks, or one line."""
    from assay.quality._text import headline, problems

    table = result.analyses.get("quality")
    if table is None or table.empty:
        return
    bad = problems(table)
    if bad.empty:
        console.print(f"Data quality: [green]{headline(table)}[/]")
        return
    console.print(quality_table(bad, f"Data quality: {headline(table)}"))
    gated = result.verdict is not None and any(r.rule == "quality" for r in result.verdict.rules)
    if not gated:
        console.print("[dim]No gate reads these checks; add {rule: quality} to 'gates' to hold on them.[/]")


def _as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        raise InputError(f"--as-of: {value!r} is not a date or time; give ISO 8601, e.g. 2026-01-05 "
                         "or 2026-01-05T09:30:00Z") from None


def _store(location: str | None, no_store: bool, spec: EvalSpec, base_dir: Path) -> RunStore | None:
    """The run store holding the data cards, or None: --no-store, ``store: false``, or no
    SQLite file at the location (a check only reads; it never creates a store)."""
    from assay.store import open_store, store_url

    if no_store or spec.store is False:
        return None
    url = store_url(store_location(location, spec.store, base_dir))
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        console.print(f"[dim]No run store at {escape(url.removeprefix('sqlite:///'))}: the schema check "
                      "has no stored data card to compare with.[/]")
        return None
    return open_store(url)


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    def clean(v: Any) -> Any:
        if hasattr(v, "item"):
            v = v.item()
        return None if isinstance(v, float) and not math.isfinite(v) else v

    return [{k: clean(v) for k, v in r.items()} for r in table.to_dict("records")]


def write_quality(table: pd.DataFrame, folder: Path) -> None:
    """quality.parquet and quality.json in ``folder``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(table, preserve_index=False), folder / "quality.parquet")
    (folder / "quality.json").write_text(json.dumps(_records(table), indent=1) + "\n", encoding="utf-8")


def check_command(
    spec: Annotated[Path, typer.Argument(help="Evaluation spec (YAML); its data, label, id, quality "
                                              "and privacy sections are used.")],
    store: Annotated[str | None, typer.Option(help="Run store whose data cards give the expected schema "
                                                   "(default: the spec's store, else $ASSAY_STORE, else "
                                                   ".assay/runs.db when it exists).")] = None,
    no_store: Annotated[bool, typer.Option("--no-store", help="Compare with no stored data card.")] = False,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Judge freshness at this ISO date or time "
                                                             "(default: quality.as_of, else now).")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write quality.parquet and quality.json "
                                                                 "to this folder.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the table as JSON instead.")] = False,
) -> None:
    """Run the data-quality checks of SPEC on its dataset alone: schema, nulls, ranges,
    categories, duplicates, labels, freshness and train/eval leakage (exit 0 pass, 3 warn,
    1 fail, 2 input error)."""
    from assay.api import prepare
    from assay.quality import check_dataset
    from assay.quality._text import compact, headline, problems

    spec_obj, base_dir, _ = prepare(spec)
    when = _as_of(as_of)
    run_store = _store(store, no_store, spec_obj, base_dir)
    try:
        report = check_dataset(spec_obj, base_dir, store=run_store, as_of=when)
    finally:
        if run_store is not None:
            run_store.close()
    table = report.table
    if out is not None:
        try:
            write_quality(table, out)
        except OSError as exc:
            raise InputError(f"{out}: cannot write the quality table ({exc.strerror or exc}); pass a "
                             "writable folder with --out") from None
    if json_out:
        typer.echo(json.dumps({"status": report.status, "exit_code": report.exit_code,
                               "as_of": report.as_of.isoformat(), "source": report.source,
                               "checks": _records(table)}, indent=1))
    else:
        shown = compact(table)
        shown = shown if len(shown) <= MAX_ROWS else problems(table)
        title = f"Data quality of {escape(report.source)}: {headline(table)}"
        console.print(quality_table(shown, title))
        if len(shown) < len(compact(table)):
            console.print(f"[dim]{len(table) - len(shown)} passing or skipped row(s) not shown; --json or "
                          "--out has them all.[/]")
        verdict = {"fail": "[bold red]FAIL[/]", "warn": "[bold yellow]WARN[/]", "pass": "[bold green]PASS[/]"}
        console.print(f"Data quality: {verdict[report.status]} (exit code {report.exit_code})")
        if out is not None:
            console.print(f"Wrote {escape(str(out))}/quality.parquet and quality.json")
    raise typer.Exit(report.exit_code)
