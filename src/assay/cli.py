"""Command line: ``assay evaluate SPEC`` and friends.

Exit codes: 0 success (ship), 1 hold, 2 usage or input error, 3 ship with guardrails,
4 internal error. A crash never exits 1, so CI cannot mistake it for a verdict.
"""

from __future__ import annotations

import math
import signal
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from assay._cli_agent import agent_app
from assay._cli_cache import cache_app
from assay._cli_llm import llm_app
from assay._cli_monitor import monitor_command
from assay._cli_quality import check_command, print_quality
from assay._cli_store import card_command, datasets_command, rerun_command, runs_app
from assay._cli_tables import _ci, _fmt, command_store, metric_table, progress_bar
from assay._errors import AssayError, InputError
from assay.metrics import get_task, task_names
from assay.report._summary import delta_tone, format_p, short_method
from assay.results import EvaluationResult

EXIT_OK, EXIT_HOLD, EXIT_INPUT, EXIT_GUARDRAILS, EXIT_INTERNAL = 0, 1, 2, 3, 4

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Evaluate ML models with confidence intervals, slices and release gates.")
console = Console(stderr=False)
err = Console(stderr=True)

#: The metrics used to rank slices in the summary, per task.
KEY_METRICS = {"binary": ["roc_auc", "accuracy"], "multiclass": ["accuracy", "f1_macro"],
               "regression": ["mae", "rmse"]}


def print_summary(result: EvaluationResult, worst: int = 8) -> None:
    """Metric x model with intervals, then the slices that trail the rest the most."""
    t = result.table
    spec = result.spec
    console.print(metric_table(t, [m.name for m in spec.models],
                               f"{escape(spec.name)}: {spec.task}, {result.n_rows:,} rows, "
                               f"{int(spec.confidence * 100)}% intervals"))

    keys = [k for k in KEY_METRICS.get(spec.task, []) if k in set(t.metric)]
    if keys:
        task = get_task(spec.task)
        key = keys[0]
        higher = task.metrics[key].higher_is_better
        s = t[(t.metric == key) & (t.slice != "overall") & (t.status == "ok")].copy()
        if not s.empty:
            # rank by the interval bound nearest zero: slices that surely trail come first
            s["harm"] = -s["gap_high"] if higher else s["gap_low"]
            s = s.sort_values("harm", ascending=False).head(worst)
            wt = Table(title=f"Slices trailing the rest most on {key} (gap = slice - rest)",
                       title_justify="left")
            for col in ("model", "slice", "n", key, "gap (CI)"):
                wt.add_column(col, justify="right" if col in ("n", key) else "left")
            for _, r in s.iterrows():
                sig = (r["gap_high"] < 0) if higher else (r["gap_low"] > 0)
                style = "bold red" if sig else ""
                gap = f"{r['gap']:+.3f} ({r['gap_low']:+.3f}, {r['gap_high']:+.3f})"
                wt.add_row(escape(r["model"]), escape(r["slice"]), f"{int(r['n']):,}",
                           f"{_fmt(r['value'])} {_ci(r)}", f"[{style}]{gap}[/]" if style else gap)
            console.print(wt)
    small = t[(t.status == "too_small")].drop_duplicates(["model", "slice"])
    if not small.empty:
        names = ", ".join(f"{escape(r.slice)} (n={r.n})" for r in small.drop_duplicates("slice").itertuples())
        console.print(f"[yellow]Too small to evaluate[/] (min_slice_size={spec.min_slice_size}): {names}")
    for model, reasons in result.excluded.items():
        total = sum(reasons.values())
        if total:
            parts = ", ".join(f"{k}: {v:,}" for k, v in reasons.items() if v)
            console.print(f"[yellow]Excluded rows[/] for {escape(model)}: {total:,} ({parts})")


@app.command()
def evaluate(
    spec: Path = typer.Argument(..., help="Evaluation spec (YAML)."),
    out: Path | None = typer.Option(None, "--out", "-o",
                                    help="Run folder (default: runs/<name>-<UTC time>)."),
    engine: str | None = typer.Option(None, help="Override the spec's engine: numpy or duckdb."),
    exclude_invalid: bool = typer.Option(
        False, "--exclude-invalid", help="Count and exclude out-of-range scores instead of failing."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the run folder."),
    report_only: bool = typer.Option(
        False, "--report-only", help="Print and write the verdict but exit 0 on hold or guardrails "
                                     "(for exploring; input and internal errors still fail)."),
    store: str | None = typer.Option(None, help="Record the run in this store: a SQLite file or a "
                                                "database URL (default: the spec's store, else "
                                                "$ASSAY_STORE, else .assay/runs.db)."),
    no_store: bool = typer.Option(False, "--no-store", help="Do not record the run."),
    mlflow: str | None = typer.Option(None, help="Also log metrics, verdict and report to this "
                                                 "MLflow tracking URI (default: the spec's mlflow)."),
    no_cache: bool = typer.Option(False, "--no-cache",
                                  help="Predict with adapter models afresh (the prediction cache is "
                                       "neither read nor written)."),
) -> None:
    """Evaluate the models of SPEC: metrics with confidence intervals per slice, the paired
    comparison of candidates with the baseline, and the gate verdict (exit 0 ship, 3 ship
    with guardrails, 1 hold). Models with an adapter predict first, and the spec's stress
    tests and latency run on them. The run is recorded in the run store."""
    from assay._evaluate import evaluate_spec
    from assay.api import prepare
    from assay.store import record_evaluation

    spec_obj, base_dir, _ = prepare(spec, **({"engine": engine} if engine else {}))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = out or Path("runs") / f"{spec_obj.name}-{stamp}"
    run_store = command_store(store, no_store, spec_obj.store, base_dir)
    with progress_bar(err, quiet) as progress:

        def run() -> EvaluationResult:
            return evaluate_spec(spec_obj, base_dir, exclude_invalid=exclude_invalid, progress=progress,
                                 store=run_store, use_cache=not no_cache)

        try:
            if run_store is None:
                result = run()
                folder = result.write(target)
            else:
                result = record_evaluation(run_store, spec_obj, base_dir, run, out=target,
                                           command=" ".join(["assay", *sys.argv[1:]]))
                folder = target
        except OSError as exc:
            raise InputError(f"{target}: cannot write the run folder ({exc.strerror or exc}); "
                             "pass a writable folder with --out") from None
    tracking = mlflow or spec_obj.mlflow
    if tracking:
        from assay.integrations.mlflow import log_run

        mlflow_id = log_run(result, folder, tracking, store_run_id=result.extra.get("run_id"))
        result.extra["mlflow_run_id"] = mlflow_id
    if not quiet:
        print_quality(result)
        print_summary(result)
        print_comparison(result)
        print_analyses(result)
        print_verdict(result)
        console.print(f"Results: {escape(str(folder))}/ (report.html, summary.md, results, "
                      "comparisons, analyses, verdict.json, manifest.json)")
        if run_store is not None:
            console.print(f"Run {result.extra['run_id']} recorded in {escape(run_store.display_url)}")
        if tracking:
            console.print(f"Logged to MLflow at {escape(tracking)} (run {result.extra['mlflow_run_id']})")
    else:
        console.print(escape(str(folder)), highlight=False, soft_wrap=True)
    if result.verdict is not None and not report_only:
        raise typer.Exit(result.verdict.exit_code)


def print_analyses(result: EvaluationResult) -> None:
    """Fairness, calibration, operating points and weak segments: the summary's sections,
    rendered for the terminal."""
    from rich.markdown import Markdown

    from assay.report._summary_analyses import analysis_lines

    lines = analysis_lines(result)
    if lines:
        console.print(Markdown("\n".join(lines)))


def print_comparison(result: EvaluationResult) -> None:
    """Candidate minus baseline on all rows, per metric, with paired intervals."""
    comp = result.comparisons
    if comp is None or comp.empty:
        return
    for cand in dict.fromkeys(comp.candidate):
        c = comp[(comp.candidate == cand) & (comp.slice == "overall")]
        table = Table(title=f"{escape(cand)} - {escape(result.spec.baseline)} on the same rows "
                            f"(paired; p adjusted: {result.spec.compare.adjust})",
                      title_justify="left")
        for col in ("metric", "baseline", "candidate", "delta (CI)", "p", "p adj.", "method"):
            table.add_column(col, justify="right" if col in ("baseline", "candidate", "p",
                                                             "p adj.") else "left")
        for r in c.itertuples():
            if r.status != "ok":
                table.add_row(escape(r.metric), "", "", f"[yellow]{r.status}[/]", "", "", "")
                continue
            style = {"better": "green", "worse": "red"}.get(delta_tone(r), "")
            delta = f"{r.delta:+.4f} ({r.ci_low:+.4f}, {r.ci_high:+.4f})"
            table.add_row(escape(r.metric), _fmt(r.baseline_value), _fmt(r.candidate_value),
                          f"[{style}]{delta}[/]" if style else delta, format_p(r.p_value),
                          format_p(r.p_adjusted), escape(short_method(r.method)))
        console.print(table)
    for cand, n in result.unpaired.items():
        if n:
            console.print(f"[yellow]Left out of the comparison[/] of {escape(cand)}: {n:,} row(s) "
                          "usable for only one of the two models")


VERDICT_STYLE = {"ship": "bold green", "ship_with_guardrails": "bold yellow", "hold": "bold red"}
RULE_STYLE = {"pass": "green", "fail": "red", "undecided": "yellow", "skipped": "dim"}


def print_verdict(result: EvaluationResult) -> None:
    """The verdict, then every rule's outcome with the numbers that decided it."""
    v = result.verdict
    if v is None:
        return
    table = Table(title="Gate rules", title_justify="left")
    for col in ("result", "rule", "severity", "decided by"):
        table.add_column(col)
    for r in v.rules:
        table.add_row(f"[{RULE_STYLE.get(r.status, '')}]{r.status}[/]", escape(r.name), r.severity,
                      escape(r.reason))
    console.print(table)
    for w in v.warnings:
        console.print(f"[yellow]power:[/] {escape(w)}")
    console.print(f"Verdict: [{VERDICT_STYLE[v.decision]}]{v.headline}[/] (exit code {v.exit_code})")


@app.command()
def metrics(task: str | None = typer.Option(None, help="Only this task.")) -> None:
    """List the registered metrics with their direction and interval method."""
    tasks = [task] if task else task_names()
    table = Table()
    for col in ("task", "metric", "better", "interval", "description"):
        table.add_column(col)
    for name in tasks:
        if name not in task_names():
            raise InputError(f"--task: unknown task {name!r}; allowed: {', '.join(task_names())}")
        for m in get_task(name).metrics.values():
            table.add_row(name, m.name, "higher" if m.higher_is_better else "lower", m.method,
                          m.description)
    console.print(table)


@app.command()
def power(
    delta: float = typer.Option(..., help="The difference to detect (candidate - baseline, or "
                                          "the distance from a non-inferiority margin)."),
    discordance: float | None = typer.Option(
        None, help="Share of rows on which the models disagree in correctness (accuracy, recall, "
                   "specificity): McNemar-type planning."),
    sd: float | None = typer.Option(None, help="Standard deviation of per-row differences (mean "
                                               "losses, or any metric's se * sqrt(n))."),
    run: Path | None = typer.Option(None, help="A run folder (assay evaluate --out): take the "
                                               "discordance or spread from its comparisons."),
    metric: str | None = typer.Option(None, help="With --run: the metric to plan for."),
    slice_: list[str] = typer.Option(["overall"], "--slice", help="With --run: slice(s) to plan "
                                                                  "for (repeat; 'all' for every one)."),
    alpha: float = typer.Option(0.05, help="Two-sided significance level (1 - confidence)."),
    target: float = typer.Option(0.8, "--power", help="Probability of detecting the difference."),
) -> None:
    """How many rows are needed to detect a difference of DELTA (e.g. a drop of 0.02)?"""
    from assay.stats import normal_n, paired_proportion_n

    if run is None:
        if (discordance is None) == (sd is None):
            raise InputError("give exactly one of --discordance (McNemar-type metrics) or --sd "
                             "(anything else), or --run with --metric to read them from a run")
        try:
            n = paired_proportion_n(delta, discordance, alpha=alpha, power=target) \
                if discordance is not None else normal_n(delta, sd, alpha=alpha, power=target)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        what = f"discordance {discordance:g}" if discordance is not None else f"sd {sd:g}"
        console.print(f"{n:,} rows detect a difference of {delta:g} ({what}) with probability "
                      f"{target:g} at two-sided alpha {alpha:g}.")
        return
    _power_from_run(run, metric, slice_, delta, alpha, target)


def _power_from_run(run: Path, metric: str | None, slices: list[str], delta: float, alpha: float,
                    target: float) -> None:
    import pandas as pd

    from assay.stats import normal_n, paired_proportion_mdd, paired_proportion_n

    path = run / "comparisons.parquet"
    if not path.is_file():
        raise InputError(f"{path}: no comparisons in this run folder; pass the folder written by "
                         "'assay evaluate --out' for a spec with two or more models")
    comp = pd.read_parquet(path)
    if metric is None or metric not in set(comp.metric):
        raise InputError(f"--metric: give one of the compared metrics: "
                         f"{', '.join(dict.fromkeys(comp.metric))}")
    rows = comp[(comp.metric == metric) & (comp.status == "ok")]
    if "all" not in slices:
        unknown = [s for s in slices if s not in set(comp.slice)]
        if unknown:
            raise InputError(f"--slice: unknown slice(s) {', '.join(unknown)}; slices: "
                             f"{', '.join(dict.fromkeys(comp.slice))}")
        rows = rows[rows.slice.isin(slices)]
    table = Table(title=f"Rows needed to detect {delta:g} on {escape(metric)} (power {target:g}, "
                        f"alpha {alpha:g})", title_justify="left")
    for col in ("candidate", "slice", "rows now", "spread", "detectable now", "rows needed"):
        table.add_column(col, justify="left" if col in ("candidate", "slice") else "right")
    for r in rows.itertuples():
        share = 1.0
        try:
            if math.isfinite(r.discordance) and r.discordance > 0:
                # the McNemar domain (e.g. positives for recall) is a share of the slice's rows
                n_dom = r.discordance / r.se**2
                share = n_dom / r.n
                need = paired_proportion_n(delta, r.discordance, alpha=alpha, power=target) / share
                now = paired_proportion_mdd(r.discordance, n_dom, alpha=alpha, power=target)
                spread = f"discordance {r.discordance:.3f}"
            elif math.isfinite(r.se) and r.se > 0:
                sd = r.se * math.sqrt(r.n)
                need = normal_n(delta, sd, alpha=alpha, power=target)
                now = r.mdd
                spread = f"sd {sd:.3g}"
            else:
                continue
        except ValueError:
            # e.g. a difference larger than the share of rows on which the models disagree
            table.add_row(escape(r.candidate), escape(r.slice), f"{int(r.n):,}",
                          f"discordance {r.discordance:.3f}", "—", "not reachable")
            continue
        table.add_row(escape(r.candidate), escape(r.slice), f"{int(r.n):,}", spread, f"{now:.4f}",
                      f"{math.ceil(need):,}")
    console.print(table)


app.add_typer(runs_app, name="runs")
app.command("rerun")(rerun_command)
app.command("datasets")(datasets_command)
app.command("card")(card_command)
app.command("check")(check_command)
app.command("monitor")(monitor_command)
app.add_typer(llm_app, name="llm")
app.add_typer(cache_app, name="cache")
app.add_typer(agent_app, name="agent")


@app.command()
def version() -> None:
    """Print assay's version."""
    from assay import __version__

    console.print(__version__)


def _usage_errors() -> tuple[type[Exception], ...]:
    """Click's usage errors: typer >= 0.22 vendors click (``typer.TyperException`` is their
    base), older typer raises the ``click`` package's own; accept whichever is in use."""
    kinds: list[type[Exception]] = []
    if hasattr(typer, "TyperException"):
        kinds.append(typer.TyperException)
    try:
        import click

        kinds.append(click.ClickException)
    except ImportError:  # pragma: no cover - typer without click
        pass
    return tuple(kinds)


def _terminate_on_sigterm() -> None:
    """SIGTERM (a cancelled CI job, ``kill``) stops a run as Ctrl-C does, so the run store
    records it as interrupted instead of leaving it running."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def main() -> None:
    """Entry point: maps assay's errors to exit codes; anything unexpected is an internal error."""
    _terminate_on_sigterm()
    try:
        # without standalone mode, click returns (not raises) the code of ctx.exit / typer.Exit
        code = app(standalone_mode=False)
    except AssayError as exc:
        # messages quote user text (column names, SQL, paths): never read it as rich markup
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", getattr(exc, "code", 0))
        sys.exit(code or 0)
    except typer.Abort:  # Ctrl-C: no verdict was reached
        err.print("[bold red]aborted[/]")
        sys.exit(EXIT_INTERNAL)
    except _usage_errors() as exc:  # bad arguments or options
        exc.show()  # type: ignore[attr-defined]
        sys.exit(EXIT_INPUT)
    except Exception:
        err.print("[bold red]internal error[/] (a bug in assay, not a verdict):")
        err.print(escape(traceback.format_exc()), highlight=False)
        sys.exit(EXIT_INTERNAL)
    sys.exit(code if isinstance(code, int) else EXIT_OK)


if __name__ == "__main__":
    main()
