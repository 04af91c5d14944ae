"""Recording a suite run in the run store, and whether it is comparable with the previous one.

A suite run is a ``runs`` row with task ``llm``: its spec, its inputs (the hashes of the
cases, each prompt, each scorer's configuration and each judge's fingerprint), the summary
as result rows (model = variant, metric = ``<scorer>.<pass_rate|mean>``, slice ``overall``
or ``tag=<t>``), the paired comparisons, the verdict, and the other tables (usage,
tradeoffs, judges, calibration, safety) as analysis tables. So ``assay runs list/show/diff``
work on suite runs as on evaluations.

Comparability: a judge's scores mean the same thing across runs only while its fingerprint
(model, prompt, scale, temperature, output constraint, parser) is unchanged. A run whose
judge changed against the previous complete run of the same suite is flagged *not
comparable*, and the change is named; changed cases, prompts or scorer settings are listed
too, as information (they change what is measured, which a reader should know, but a
comparison of the same judge over different cases is still a comparison).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from assay.store import RunStore

if TYPE_CHECKING:
    from assay.llm._runner import SuiteResult
    from assay.llm._suite import SuiteSpec

TASK = "llm"


def suite_inputs(spec: SuiteSpec, hashes: dict[str, Any], judges: pd.DataFrame | None,
                 base_dir: str | Path) -> dict[str, Any]:
    """The run's inputs as ``{role: {path, sha256}}``: cases, prompts, scorers, judges."""
    if isinstance(spec.cases, str):
        cases = str((Path(base_dir) / spec.cases).resolve())
    else:
        cases = f"{len(spec.cases)} inline cases" if spec.cases is not None else ""
    if spec.safety is not None:  # the hash covers the generated cases too
        cases = " + ".join(filter(None, [cases, f"safety section (seed {spec.safety.seed})"]))
    inputs: dict[str, Any] = {"cases": {"path": cases, "sha256": hashes.get("cases")}}
    for name, sha in (hashes.get("prompts") or {}).items():
        inputs[f"prompt:{name}"] = {"path": f"prompt {name}", "sha256": sha}
    for label, sha in (hashes.get("scorers") or {}).items():
        inputs[f"scorer:{label}"] = {"path": f"scorer {label}", "sha256": sha}
    if judges is not None:
        for r in judges.itertuples():
            inputs[f"judge:{r.scorer}"] = {"path": f"judge {r.scorer}: {r.model} at temperature "
                                                   f"{r.temperature:g}", "sha256": r.fingerprint,
                                           "model": r.model, "prompt_sha256": r.prompt_sha256}
    for source, sha in (hashes.get("labels") or {}).items():
        inputs[f"labels:{Path(source).name}"] = {"path": source, "sha256": sha}
    return inputs


def _change(what: str, before: Any, after: Any, breaks: bool, note: str) -> dict[str, Any]:
    return {"what": what, "before": before, "after": after, "breaks": breaks, "note": note}


def comparability(previous: dict[str, Any] | None, inputs: dict[str, Any]) -> dict[str, Any] | None:
    """What changed between the previous run's inputs (its ``runs`` record) and these, and
    whether the runs are comparable (no judge changed). None when there is no previous run."""
    if previous is None:
        return None
    before: dict[str, Any] = previous.get("inputs") or {}
    changes = []
    for role in sorted(set(before) | set(inputs)):
        a, b = before.get(role) or {}, inputs.get(role) or {}
        if a.get("sha256") == b.get("sha256"):
            continue
        kind, _, name = role.partition(":")
        if kind == "judge":
            if not a:
                changes.append(_change(role, None, b.get("sha256"), False,
                                       f"judge {name!r} is new in this run: nothing earlier to compare"))
                continue
            if not b:
                changes.append(_change(role, a.get("sha256"), None, False,
                                       f"judge {name!r} is no longer in the suite"))
                continue
            why = []
            if a.get("model") != b.get("model"):
                why.append(f"model {a.get('model')} -> {b.get('model')}")
            if a.get("prompt_sha256") != b.get("prompt_sha256"):
                why.append("judge prompt changed")
            if not why:
                why.append("scale, temperature, output constraint or parser changed")
            changes.append(_change(role, a.get("sha256"), b.get("sha256"), True,
                                   f"judge {name!r}: {'; '.join(why)}: its scores are not comparable "
                                   "with earlier runs"))
        else:
            what = {"cases": "the cases changed", "prompt": f"prompt {name!r} changed",
                    "scorer": f"scorer {name!r} settings changed",
                    "labels": "the human labels changed"}.get(kind, f"{role} changed")
            if not a or not b:
                what = f"{role} {'added' if not a else 'removed'}"
            changes.append(_change(role, a.get("sha256"), b.get("sha256"), False, what))
    judged = {c["what"].partition(":")[2] for c in changes if c["what"].startswith("judge:")}
    # a judge is a scorer too: its changed fingerprint already says its configuration changed
    changes = [c for c in changes if not (c["what"].startswith("scorer:")
                                          and c["what"].partition(":")[2] in judged)]
    started = previous.get("started_at")
    return {"previous_run": previous["id"],
            "previous_started": started.isoformat() if hasattr(started, "isoformat") else started,
            "comparable": not any(c["breaks"] for c in changes), "changes": changes}


def result_rows(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary in the run store's ``results`` columns."""
    from assay.results import COLUMNS

    tag = summary["slice"].str.startswith("tag=")
    return pd.DataFrame({
        "model": summary["variant"], "slice": summary["slice"],
        "dimension": tag.map({True: "tag", False: ""}),
        "level": summary["slice"].where(tag, "").str.removeprefix("tag="),
        "metric": summary["scorer"] + "." + summary["metric"],
        "value": summary["value"], "ci_low": summary["ci_low"], "ci_high": summary["ci_high"],
        "n": summary["n"].astype("int64"), "method": summary["method"], "status": summary["status"],
        "note": summary["note"], "gap": float("nan"), "gap_low": float("nan"), "gap_high": float("nan"),
    }, columns=COLUMNS)


def comparison_rows(comparisons: pd.DataFrame | None) -> pd.DataFrame | None:
    """The paired comparisons in the run store's ``comparisons`` columns."""
    from assay.compare import COMPARE_COLUMNS

    if comparisons is None or comparisons.empty:
        return None
    c = comparisons
    tag = c["slice"].str.startswith("tag=")
    out = c.assign(dimension=tag.map({True: "tag", False: ""}),
                   level=c["slice"].where(tag, "").str.removeprefix("tag="),
                   metric=c["scorer"] + "." + c["metric"], higher_is_better=True,
                   se=float("nan"), discordance=float("nan"), mdd=float("nan"))
    return out[COMPARE_COLUMNS]


def record_suite(store: RunStore, spec: SuiteSpec, base_dir: str | Path,
                 run: Callable[[], SuiteResult], *, out: str | Path | None = None,
                 command: str | None = None) -> SuiteResult:
    """Run ``run()`` as a recorded run: ``running`` first, then ``complete`` with its tables
    (and the folder written before that), or ``failed``/``interrupted`` with the error."""
    from assay.llm._folder import suite_tables
    from assay.store._record import recording

    run_id = store.start_record(spec.name, TASK, spec.model_dump(mode="json"),
                                suite_inputs(spec, {}, None, base_dir), seed=spec.seed,
                                base_dir=base_dir, command=command)
    with recording(store, run_id):
        result = run()
        result.run_id, result.store = run_id, store.display_url
        inputs = suite_inputs(spec, result.hashes, result.judges, base_dir)
        earlier = [r for r in store.list_runs(name=spec.name, status="complete", task=TASK, limit=5)
                   if r["id"] != run_id]
        previous = store.get_run(earlier[0]["id"]).record if earlier else None
        result.comparability = comparability(previous, inputs)
        folder = result.write(out) if out is not None else None
        tables = {k: v for k, v in suite_tables(result).items()
                  if k in ("usage", "tradeoffs", "judges", "calibration", "safety")}
        store.complete_record(run_id, results=result_rows(result.summary),
                              comparisons=comparison_rows(result.comparisons), verdict=result.verdict,
                              tables=tables, n_rows=len(result.cases), folder=folder, inputs=inputs,
                              manifest={"hashes": result.hashes, "comparability": result.comparability,
                                        "seconds": round(result.seconds, 3)})
    return result
