"""``assay rerun``: execute a stored run again and prove (or disprove) that its results are
reproduced bit for bit, naming what changed when they are not."""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay._errors import InputError
from assay.analysis import TABLE_KEYS
from assay.quality import QUALITY_KEYS
from assay.quality._table import without_clock
from assay.store._diff import (
    COMPARE_KEYS,
    RESULT_KEYS,
    TableDiff,
    input_changes,
    mapping_changes,
    table_diff,
)
from assay.store._record import record_evaluation
from assay.store._store import RunStore, StoredRun, _jsonable, analysis_tables

if TYPE_CHECKING:
    from assay.results import EvaluationResult


@dataclass
class RerunReport:
    """A rerun's outcome: identical or not, the largest difference, and what changed."""

    original: StoredRun
    result: EvaluationResult
    results: TableDiff
    comparisons: TableDiff
    verdict: tuple[str | None, str | None]
    #: the analysis tables (fairness, calibration, ...), by name
    analyses: dict[str, TableDiff] = field(default_factory=dict)
    inputs: list[tuple[str, Any, Any]] = field(default_factory=list)
    spec: list[tuple[str, Any, Any]] = field(default_factory=list)
    packages: list[tuple[str, Any, Any]] = field(default_factory=list)
    environment: list[tuple[str, Any, Any]] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return self.results.identical and self.comparisons.identical and \
            all(d.identical for d in self.analyses.values()) and self.verdict[0] == self.verdict[1]

    @property
    def run_id(self) -> str:
        return self.result.extra["run_id"]

    @property
    def largest(self) -> dict[str, Any] | None:
        """The largest numeric difference over all tables (None when identical)."""
        diffs = [self.results, self.comparisons, *self.analyses.values()]
        found = [d.largest for d in diffs if d.largest is not None]
        return max(found, key=lambda d: d["difference"]) if found else None


def rerun(store: RunStore, ref: str, *, out: str | Path | None = None,
          progress: Any = None, command: str | None = None) -> RerunReport:
    """Re-execute stored run ``ref`` from its recorded spec (paths absolute), record the
    rerun as a new run linked to it, and compare every result value bit for bit."""
    from assay._evaluate import evaluate_spec
    from assay.data import input_fingerprints
    from assay.results import package_versions
    from assay.spec import parse_spec

    original = store.get_run(ref)
    rec = original.record
    if rec["task"] == "llm":
        raise InputError(f"run {original.id} is an LLM suite run ({rec['name']}); run the suite again "
                         "with 'assay llm run SUITE': its cached answers cost nothing, and 'assay runs "
                         f"diff {original.id} latest:{rec['name']}' compares the two")
    spec = parse_spec(rec["spec"], source=f"run {original.id}")
    base_dir = Path(rec["base_dir"])
    now_inputs = _jsonable(input_fingerprints(spec, base_dir))
    report: dict[str, Any] = {}

    def check(result: EvaluationResult) -> bool:
        report["results"] = table_diff(original.table, result.table, RESULT_KEYS)
        report["comparisons"] = table_diff(original.comparisons, result.comparisons, COMPARE_KEYS)
        report["verdict"] = (rec.get("verdict"), result.verdict.decision if result.verdict else None)
        old = analysis_tables(rec)
        new = dict(result.analyses)
        if "quality" not in old:  # recorded before assay had the checks: nothing to compare
            new.pop("quality", None)
        if spec.quality.as_of is None:  # freshness is judged at the time of each run
            for t in (old, new):
                if "quality" in t:
                    t["quality"] = without_clock(t["quality"])
        keys = TABLE_KEYS | {"quality": QUALITY_KEYS}
        report["analyses"] = {
            name: table_diff(old.get(name), new.get(name), keys.get(name, []))
            for name in sorted(old.keys() | new.keys())}
        return (report["results"].identical and report["comparisons"].identical
                and all(d.identical for d in report["analyses"].values())
                and report["verdict"][0] == report["verdict"][1])

    result = record_evaluation(
        store, spec, base_dir,
        lambda: evaluate_spec(spec, base_dir, progress=progress, store=store),
        out=out, command=command, rerun_of=original.id, check=check)
    return RerunReport(
        original=original, result=result, results=report["results"],
        comparisons=report["comparisons"], verdict=report["verdict"], analyses=report["analyses"],
        inputs=input_changes(rec["inputs"], now_inputs),
        spec=mapping_changes(rec["spec"], _jsonable(spec.model_dump(mode="json"))),
        packages=mapping_changes(rec["packages"], package_versions()),
        environment=mapping_changes(
            {"python": rec["python_version"], "platform": rec["platform"]},
            {"python": sys.version.split()[0], "platform": platform.platform()}))
