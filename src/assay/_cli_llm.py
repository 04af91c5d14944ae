"""``assay llm run SUITE``: run an LLM suite (variants x cases x samples), score it, print
the summary with intervals, and write outputs, scores, summary and usage to a folder."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from assay._cli_tables import progress_bar
from assay._errors import InputError

console = Console(stderr=False)
err = Console(stderr=True)
llm_app = typer.Typer(no_args_is_help=True, help="Evaluate LLM features: suites, providers, scorers.")


def _ci(r: pd.Series) -> str:
    if not math.isfinite(r["ci_low"]):
        return f"{r['value']:.3f}"
    return f"{r['value']:.3f} ({r['ci_low']:.3f}, {r['ci_high']:.3f})"


def print_suite(result) -> None:  # type: ignore[no-untyped-def]
    """Scorer x variant (overall): the pass rate where a scorer has a pass rule, else the mean."""
    s = result.summary
    overall = s[s["slice"] == "overall"]
    variants = list(dict.fromkeys(overall["variant"]))
    t = Table(title=f"{escape(result.spec.name)}: {result.outputs['case_id'].nunique()} cases x "
                    f"{len(variants)} variant(s) x {result.spec.samples} sample(s), "
                    f"{int(result.spec.confidence * 100)}% intervals", title_justify="left")
    t.add_column("scorer")
    for v in variants:
        t.add_column(escape(v), justify="right")
    for scorer in dict.fromkeys(overall["scorer"]):
        cells = []
        for v in variants:
            rows = overall[(overall["scorer"] == scorer) & (overall["variant"] == v)]
            pick = rows[rows["metric"] == "pass_rate"] if (rows["metric"] == "pass_rate").any() else rows
            if pick.empty or pick.iloc[0]["status"] != "ok":
                cells.append("—")
                continue
            r = pick.iloc[0]
            extra = f" [{int(r['n_undetermined'])} undet.]" if r["n_undetermined"] else ""
            cells.append(("pass " if r["metric"] == "pass_rate" else "") + _ci(r) + extra)
        t.add_row(escape(scorer), *cells)
    console.print(t)
    u = result.usage
    ut = Table(title="Usage per variant", title_justify="left")
    for col in ("variant", "calls", "errors", "cached", "tokens in/out", "cost", "latency p50/p95 (s)"):
        ut.add_column(col, justify="left" if col == "variant" else "right")
    for r in u.itertuples():
        cost = "—" if not math.isfinite(r.cost) else f"{r.cost:.4f}"
        lat = "—" if not math.isfinite(r.latency_p50) else f"{r.latency_p50:.2f}/{r.latency_p95:.2f}"
        ut.add_row(escape(r.variant), f"{r.calls:,}", f"{r.errors:,}", f"{r.cached:,}",
                   f"{r.prompt_tokens:,}/{r.completion_tokens:,}", cost, lat)
    console.print(ut)
    c = result.comparisons
    if c is not None and len(c):
        ct = Table(title=f"Candidate - baseline ({escape(str(c['baseline'].iloc[0]))}), paired on the "
                         "same cases; p adjusted (BH) across tags", title_justify="left")
        for col in ("candidate", "scorer", "metric", "slice", "delta (CI)", "p", "p adj.", "n"):
            ct.add_column(col, justify="right" if col in ("p", "p adj.", "n") else "left")
        for r in c[(c["status"] == "ok") & (c["slice"] == "overall")].itertuples():
            ct.add_row(escape(r.candidate), escape(r.scorer), r.metric, escape(r.slice),
                       f"{r.delta:+.3f} ({r.ci_low:+.3f}, {r.ci_high:+.3f})", f"{r.p_value:.3g}",
                       f"{r.p_adjusted:.3g}", f"{r.n:,}")
        console.print(ct)
        if (c["slice"] != "overall").any():
            console.print("Per-tag comparisons: report.html and comparisons.parquet")


def print_safety(result) -> None:  # type: ignore[no-untyped-def]
    """Each safety check's failure rate per variant, with its clustered interval."""
    table = getattr(result, "safety", None)
    if table is None or table.empty:
        return
    t = Table(title="Safety: failure rate (interval clustered by seed prompt; families in report.html)",
              title_justify="left")
    for col in ("variant", "check", "failures / cases", "seed prompts", "rate [CI]"):
        t.add_column(col, justify="left" if col in ("variant", "check") else "right")
    for r in table[table["by"] == "all"].itertuples():
        rate = f"{100 * r.rate:.1f}% [{100 * r.ci_low:.1f}, {100 * r.ci_high:.1f}]" if r.n else "—"
        t.add_row(escape(str(r.variant)), escape(str(r.check)), f"{r.failures} / {r.n}", str(r.clusters),
                  rate, style="red" if r.failures else None)
    console.print(t)


def print_tradeoffs(result) -> None:  # type: ignore[no-untyped-def]
    """Quality x cost x latency per variant and scorer, the Pareto front marked."""
    t = result.tradeoffs
    if t is None or t.empty or len(dict.fromkeys(t["variant"])) < 2:
        return
    table = Table(title="Quality x cost x latency (* on the Pareto front)", title_justify="left")
    for col in ("variant", "scorer", "quality (CI)", "cost/case (CI)", "latency p50 (CI)", "p95 (CI)"):
        table.add_column(col, justify="left" if col in ("variant", "scorer") else "right")

    def cell(v: float, lo: float, hi: float, digits: int = 3) -> str:
        if not math.isfinite(v):
            return "—"
        ci = f" ({lo:.{digits}f}, {hi:.{digits}f})" if math.isfinite(lo) and math.isfinite(hi) else ""
        return f"{v:.{digits}f}{ci}"

    for r in t.itertuples():
        table.add_row(("* " if r.pareto else "") + escape(r.variant), escape(r.scorer),
                      cell(r.quality, r.quality_low, r.quality_high),
                      cell(r.cost_per_case, r.cost_low, r.cost_high, 5),
                      cell(r.latency_p50, r.p50_low, r.p50_high, 2),
                      cell(r.latency_p95, r.p95_low, r.p95_high, 2))
    console.print(table)


def print_comparability(result) -> None:  # type: ignore[no-untyped-def]
    """Whether this run is comparable with the suite's previous recorded run, and what changed."""
    c = result.comparability
    if not c:
        return
    if not c["comparable"]:
        console.print(f"[bold red]NOT COMPARABLE[/] with the previous run {c['previous_run']}: "
                      "a judge changed")
    elif c["changes"]:
        console.print(f"Changed since the previous run {c['previous_run']}:")
    for ch in c["changes"]:
        console.print(f"  {'[red]![/]' if ch['breaks'] else '-'} {escape(ch['note'])}")


@llm_app.command("run")
def run_command(
    suite: Path = typer.Argument(..., help="Suite (YAML)."),
    out: Path | None = typer.Option(None, "--out", "-o",
                                    help="Folder (default: runs/<name>-llm-<UTC time>)."),
    store: str | None = typer.Option(None, help="Run store: a path or database URL (default: the "
                                                "suite's 'store', $ASSAY_STORE or .assay/runs.db)."),
    no_store: bool = typer.Option(False, "--no-store", help="Do not record the run."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the folder."),
) -> None:
    """Ask every case under every variant and sample (cached answers cost nothing), score the
    answers, print pass rates and mean scores with intervals per variant, and write the
    folder (tables, report.html with a per-case drill-down, summary.md); exits with the
    verdict's code when the suite has gates."""
    import sys

    from assay._cli_tables import command_store
    from assay.llm._record import record_suite
    from assay.llm._runner import run_suite
    from assay.llm._suite import load_suite

    spec = load_suite(suite)
    base = suite.resolve().parent
    target = out or Path("runs") / f"{spec.name}-llm-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    run_store = command_store(store, no_store, spec.store, base)
    with progress_bar(err, quiet) as progress:
        def run():  # type: ignore[no-untyped-def]
            return run_suite(spec, base, progress=progress)

        try:
            if run_store is None:
                result = run()
                folder = result.write(target)
            else:
                result = record_suite(run_store, spec, base, run, out=target, command=" ".join(sys.argv))
                folder = target
        except OSError as exc:
            raise InputError(f"{target}: cannot write the folder ({exc.strerror or exc}); "
                             "pass --out") from None
    if quiet:
        console.print(escape(str(folder)), highlight=False, soft_wrap=True)
        return
    print_suite(result)
    print_safety(result)
    print_tradeoffs(result)
    print_comparability(result)
    recorded = f"; run {result.run_id} in {result.store}" if result.run_id else ""
    console.print(f"Results: {escape(str(folder))}/ (report.html, summary.md, tables{recorded})")
    if result.verdict is not None:
        from assay.cli import print_verdict

        print_verdict(result)
        raise typer.Exit(result.verdict.exit_code)
