"""The result of an evaluation: one long-format table, always, plus what was excluded."""

from __future__ import annotations

import json
import platform
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import yaml

from assay._json import jsonable, write_table
from assay.gates import GateTables, Verdict
from assay.spec import EvalSpec

#: Columns of the result table, in order. ``gap*`` compare the slice with the rest of the rows.
COLUMNS = ["model", "slice", "dimension", "level", "metric", "value", "ci_low", "ci_high", "n",
           "method", "status", "note", "gap", "gap_low", "gap_high"]

SCHEMA = pa.schema([
    ("model", pa.string()), ("slice", pa.string()), ("dimension", pa.string()),
    ("level", pa.string()), ("metric", pa.string()), ("value", pa.float64()),
    ("ci_low", pa.float64()), ("ci_high", pa.float64()), ("n", pa.int64()),
    ("method", pa.string()), ("status", pa.string()), ("note", pa.string()),
    ("gap", pa.float64()), ("gap_low", pa.float64()), ("gap_high", pa.float64()),
])

PACKAGES = ("assay", "numpy", "scipy", "pandas", "pyarrow", "duckdb", "pydantic")


def _version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "not installed"


def package_versions() -> dict[str, str]:
    """Versions of assay and the packages that decide its numbers (recorded with every run)."""
    return {p: _version(p) for p in PACKAGES}


@dataclass
class EvaluationResult:
    """Metrics with intervals per model and slice, exclusions and lineage of one evaluation."""

    spec: EvalSpec
    table: pd.DataFrame
    excluded: dict[str, dict[str, int]]
    n_rows: int
    classes: list[Any]
    inputs: dict[str, str]
    slice_sizes: dict[str, dict[str, int]]
    timings: dict[str, float]
    started: float
    finished: float
    base_dir: str = "."
    extra: dict[str, Any] = field(default_factory=dict)
    #: candidate vs baseline per slice and metric (see assay.compare); None = no comparison
    comparisons: pd.DataFrame | None = None
    #: per candidate: rows usable for only one of the pair (left out of the comparison)
    unpaired: dict[str, int] = field(default_factory=dict)
    #: the gate verdict when the spec has gates
    verdict: Verdict | None = None
    #: per model, report curves on all rows (ROC, PR, reliability, confusion; see
    #: ``assay.metrics._curves``): their size depends on bins, not rows
    curves: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: example rows (largest errors, excluded rows) with privacy rules applied; see
    #: ``assay.data.example_rows``
    examples: list[dict[str, Any]] = field(default_factory=list)
    #: the analyses' tables by name (fairness, fairness_groups, calibration, thresholds,
    #: segments; see ``assay.analysis``), present when the spec asks for them
    analyses: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: the analyses' chart data (reliability bins, threshold curves, group rates, segment
    #: examples), JSON-ready
    analysis_charts: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_records(cls, records: list[dict[str, Any]], **kw: Any) -> EvaluationResult:
        table = pd.DataFrame.from_records(records, columns=COLUMNS)
        return cls(table=table, **kw)

    def gate_tables(self) -> GateTables:
        from assay.compare import COMPARE_COLUMNS

        comp = self.comparisons if self.comparisons is not None else pd.DataFrame(
            columns=COMPARE_COLUMNS)
        return GateTables(
            results=self.table, comparisons=comp, confidence=self.spec.confidence,
            baseline=self.spec.baseline, candidates=self.spec.candidates,
            models=[m.name for m in self.spec.models], min_slice_size=self.spec.min_slice_size,
            analyses=self.analyses)

    def gate(self, rules: list[Any]) -> Verdict:
        """Decide a gate policy (rules or their mappings) on this result's tables; the result
        is not changed, so several policies can be tried on one evaluation."""
        from assay.gates import gate, parse_rules

        return gate(parse_rules(list(rules)), self.gate_tables())

    def to_pandas(self) -> pd.DataFrame:
        """The tidy result table (a copy)."""
        return self.table.copy()

    def to_arrow(self) -> pa.Table:
        return pa.Table.from_pandas(self.table, schema=SCHEMA, preserve_index=False)

    def value(self, metric: str, model: str | None = None, slice: str = "overall") -> float:
        """Look up one value (the first model when ``model`` is None)."""
        t = self.table
        model = model or self.spec.models[0].name
        hit = t[(t.metric == metric) & (t.model == model) & (t.slice == slice)]
        if hit.empty:
            raise KeyError(f"no result for metric={metric!r} model={model!r} slice={slice!r}")
        return float(hit.value.iloc[0])

    def row(self, metric: str, model: str | None = None, slice: str = "overall") -> dict[str, Any]:
        t = self.table
        model = model or self.spec.models[0].name
        hit = t[(t.metric == metric) & (t.model == model) & (t.slice == slice)]
        if hit.empty:
            raise KeyError(f"no result for metric={metric!r} model={model!r} slice={slice!r}")
        return hit.iloc[0].to_dict()

    def manifest(self, hash_inputs: bool = True) -> dict[str, Any]:
        """Lineage of the run: spec, inputs with content hashes, versions, seed, times."""
        from assay.data import input_fingerprints

        hashes: dict[str, Any] = input_fingerprints(self.spec, self.base_dir) if hash_inputs else {}
        if "data_sha256" in self.extra:  # an in-memory table: the hash of its Arrow stream
            hashes["data"] = {"in_memory": True, "sha256": self.extra["data_sha256"]}
        for name, model in self.extra.get("adapters", {}).items():
            if hash_inputs and f"model:{name}" not in hashes:  # a function or an endpoint
                hashes[f"model:{name}"] = {"adapter": model["kind"], "sha256": model["sha256"],
                                           "description": model["description"]}
        return {
            "name": self.spec.name,
            "task": self.spec.task,
            "spec": self.spec.model_dump(mode="json"),
            "inputs": hashes,
            "rows": self.n_rows,
            "classes": [str(c) for c in self.classes],
            "excluded": self.excluded,
            "slice_sizes": self.slice_sizes,
            "seed": self.spec.seed,
            "engine": self.spec.engine,
            "assay": _version("assay"),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "packages": package_versions(),
            "started": datetime.fromtimestamp(self.started, UTC).isoformat(),
            "finished": datetime.fromtimestamp(self.finished, UTC).isoformat(),
            "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
        } | ({"adapters": self.extra["adapters"]} if self.extra.get("adapters") else {})

    def write(self, folder: str | Path) -> Path:
        """Write results.parquet/.json, excluded.json, manifest.json, spec.yaml, summary.md,
        report.html and, when present, curves.json, comparisons.parquet/.json, verdict.json,
        one Parquet and JSON file per analysis table, analyses.json (their chart data) and
        ``stress/<model>__<perturbation>.parquet`` (the perturbed inputs, with stress.save)."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        write_table(self.table, out, "results", arrow=self.to_arrow())
        (out / "excluded.json").write_text(json.dumps(self.excluded, indent=2) + "\n", encoding="utf-8")
        manifest = self.manifest()
        (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        (out / "spec.yaml").write_text(yaml.safe_dump(self.replayable_spec(), sort_keys=False),
                                       encoding="utf-8")
        if self.comparisons is not None:
            write_table(self.comparisons, out, "comparisons")
        for name, frame in self.analyses.items():
            write_table(frame, out, name)
        if self.analysis_charts:
            (out / "analyses.json").write_text(
                json.dumps(jsonable(self.analysis_charts)) + "\n", encoding="utf-8")
        for name, frame in self.extra.get("stress_inputs", {}).items():  # stress.save: true
            folder = out / "stress"
            folder.mkdir(exist_ok=True)
            safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
            frame.to_parquet(folder / f"{safe}.parquet", index=False)
        if self.curves:
            (out / "curves.json").write_text(json.dumps(self.curves) + "\n", encoding="utf-8")
        if self.verdict is not None:
            (out / "verdict.json").write_text(json.dumps(self.verdict.to_dict(), indent=2) + "\n",
                                              encoding="utf-8")
        from assay.report import render_html, render_summary

        (out / "summary.md").write_text(render_summary(self), encoding="utf-8")
        (out / "report.html").write_text(render_html(self, manifest=manifest), encoding="utf-8")
        return out

    def replayable_spec(self) -> dict[str, Any]:
        """The spec as a mapping whose file paths are absolute: paths in a spec are relative
        to the spec's own folder, so a copy written elsewhere must not keep them relative."""
        raw = self.spec.model_dump(mode="json", exclude_defaults=True)
        for key in ("store", "mlflow"):  # a database URL may carry a password
            if isinstance(raw.get(key), str) and "://" in raw[key]:
                from sqlalchemy.engine import make_url

                try:
                    raw[key] = make_url(raw[key]).render_as_string(hide_password=True)
                except Exception:  # not a URL SQLAlchemy parses (e.g. file:// for MLflow)
                    pass
        base = Path(self.base_dir).resolve()
        return absolute_paths(raw, base)


def absolute_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """A spec mapping with data, prediction and artifact paths made absolute (in place)."""
    adapters = [m["adapter"] for m in raw.get("models", []) if m.get("adapter")]
    for section in [raw.get("data") or {}, *raw.get("models", []), *adapters]:
        if section.get("path"):
            section["path"] = str(base / section["path"])
        if section.get("artifacts"):
            section["artifacts"] = [str(base / a) for a in section["artifacts"]]
    for adapter in adapters:  # a function in a file: "scoring.py:predict"
        module, _, func = str(adapter.get("function") or "").rpartition(":")
        if module.endswith(".py"):
            adapter["function"] = f"{base / module}:{func}"
    if isinstance(raw.get("cache"), str):
        raw["cache"] = str(base / raw["cache"])
    leakage = (raw.get("quality") or {}).get("leakage") or {}
    if leakage.get("train"):
        leakage["train"] = str(base / leakage["train"])
    return raw
