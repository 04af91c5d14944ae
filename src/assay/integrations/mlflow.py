"""An evaluation as an MLflow run, so that assay runs sit next to training runs.

What is logged: the spec's settings and the input hashes as params; every overall value
with its interval, per-slice values (up to ``MAX_SLICES`` slices) and the overall
candidate-baseline deltas as metrics; the verdict and each rule's status as tags; and the
run folder as artifacts. The folder, with the full table, stays the record: MLflow keys allow
only ASCII letters, digits, ``_ - . /`` and spaces, so assay names are mapped to legal keys,
keys that the mapping would make equal get a hash suffix instead of overwriting each other,
and the mapping is logged with the run as ``assay_mlflow_keys.json``.

MLflow is an optional extra (``pip install 'assay[mlflow]'``) imported only when a run is logged.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import posixpath
import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from assay._errors import AssayError, InputError
from assay.results import EvaluationResult

__all__ = ["log_run"]

#: per-slice values become metrics only up to this many slices (all are in results.parquet)
MAX_SLICES = 50
#: MLflow's longest key
MAX_KEY = 250
#: longer param values are cut (500 is the smallest limit MLflow servers have enforced)
MAX_PARAM = 500
#: entries per ``log_batch`` call, within MLflow's limits
PARAMS_PER_BATCH, METRICS_PER_BATCH = 100, 1000
#: the artifact that maps each MLflow key back to its assay names
KEYS_ARTIFACT = "assay_mlflow_keys.json"
INSTALL_HINT = "pip install 'assay[mlflow]'"

_ILLEGAL = re.compile(r"[^A-Za-z0-9_\-. /]")
#: an assay name as its parts, e.g. ("cand", "roc_auc", "slice", "region=north")
Key = tuple[str, ...]
T = TypeVar("T")


def log_run(result: EvaluationResult, folder: str | Path, tracking_uri: str, *,
            experiment: str | None = None, run_name: str | None = None,
            store_run_id: str | None = None) -> str:
    """Log ``result`` and its run folder (written by ``result.write(folder)``) to the MLflow
    tracking server or store at ``tracking_uri``; returns the MLflow run id.

    ``experiment`` defaults to the spec's name and is created when missing; ``run_name``
    defaults to MLflow's generated name; ``store_run_id`` (the run's id in assay's run store)
    is kept as the tag ``assay.run_id``. A missing MLflow, an unusable URI or a failed upload
    raise :class:`InputError`; a run that fails half-way is marked FAILED in MLflow.
    """
    run_dir = Path(folder)
    manifest = _folder_manifest(result, run_dir)
    experiment_name = result.spec.name if experiment is None else experiment
    if not experiment_name.strip() or len(experiment_name) > 500:
        raise InputError(f"MLflow experiment name {experiment_name!r} must be 1 to 500 characters; "
                         "pass experiment=... (default: the spec's name)")

    metric_values, n_slices = _metrics(result)
    param_values = _params(result, manifest)
    tag_values = _tags(result, manifest, n_slices, store_run_id)
    metric_keys, param_keys, tag_keys = (_mlflow_keys(values) for values in
                                         (metric_values, param_values, tag_values))
    key_map = {kind: {name: list(key) for key, name in sorted(keys.items(), key=lambda kv: kv[1])}
               for kind, keys in (("metrics", metric_keys), ("params", param_keys),
                                  ("tags", tag_keys))}

    with _mlflow_warnings_hidden():
        try:
            import mlflow  # noqa: F401  (first: a missing or blocked package fails here)
            from mlflow.entities import Metric, Param, RunTag
            from mlflow.tracking import MlflowClient
        except ImportError as exc:
            raise InputError(f"logging to MLflow needs the mlflow package ({exc}); install it with: "
                             f"{INSTALL_HINT}") from exc

        with _mlflow_info_hidden():
            try:
                # any failure here is about the URI or its store (unknown scheme, a store that
                # needs another package, an unreachable server, a refused backend), and is
                # reported with its cause
                client = MlflowClient(tracking_uri=tracking_uri)
                found = client.get_experiment_by_name(experiment_name)
                experiment_id = (found.experiment_id if found is not None
                                 else client.create_experiment(experiment_name))
            except Exception as exc:
                raise InputError(f"MLflow tracking URI {tracking_uri!r} cannot be used: "
                                 f"{type(exc).__name__}: {exc}") from exc
            if found is not None and found.lifecycle_stage == "deleted":
                raise InputError(f"MLflow experiment {experiment_name!r} at {tracking_uri!r} is deleted; "
                                 "restore it (mlflow experiments restore) or pass another experiment=")

            stamp = int(result.finished * 1000)
            params = [Param(param_keys[k], v) for k, v in param_values.items()]
            tags = [RunTag(tag_keys[k], v) for k, v in tag_values.items()]
            metrics = [Metric(metric_keys[k], v, stamp, 0) for k, v in metric_values.items()]
            run_id: str | None = None
            try:
                run = client.create_run(experiment_id, start_time=int(result.started * 1000),
                                        run_name=run_name)
                run_id = run.info.run_id
                for chunk in _chunks(params, PARAMS_PER_BATCH):
                    client.log_batch(run_id, params=chunk)
                for chunk in _chunks(tags, PARAMS_PER_BATCH):
                    client.log_batch(run_id, tags=chunk)
                for chunk in _chunks(metrics, METRICS_PER_BATCH):
                    client.log_batch(run_id, metrics=chunk)
                client.log_artifacts(run_id, str(run_dir))
                client.log_text(run_id, json.dumps(key_map, indent=1) + "\n", KEYS_ARTIFACT)
                client.set_terminated(run_id, "FINISHED")
                return run_id
            except BaseException as exc:
                if run_id is not None:
                    with contextlib.suppress(Exception):
                        client.set_terminated(run_id, "FAILED")
                if not isinstance(exc, Exception):
                    raise
                marked = f"; MLflow run {run_id} is marked FAILED" if run_id is not None else ""
                raise InputError(f"logging to MLflow at {tracking_uri!r} failed: "
                                 f"{type(exc).__name__}: {exc}{marked}") from exc


# ---------------------------------------------------------------------------- what is logged


def _folder_manifest(result: EvaluationResult, run_dir: Path) -> dict[str, Any]:
    """The manifest written in ``run_dir``, checked to be this result's (so that params and
    artifacts describe one run)."""
    path = run_dir / "manifest.json"
    if not path.is_file():
        raise InputError(f"{run_dir} is not an assay run folder (no manifest.json); write the "
                         "result there first with result.write(folder)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} cannot be read as JSON ({exc}); write the result again with "
                         "result.write(folder)") from exc
    started = result.manifest(hash_inputs=False)["started"]
    if manifest.get("started") != started:
        raise InputError(f"{run_dir} holds another run (started {manifest.get('started')}, this "
                         f"result started {started}); write this result there with result.write(folder)")
    return manifest


def _put(out: dict[Key, float], key: Key, value: Any) -> None:
    """Add a finite value; MLflow charts have no use for NaN or infinite bounds."""
    if value is None:
        return
    number = float(value)
    if not math.isfinite(number):
        return
    if key in out:
        raise AssayError(f"two results for {'.'.join(key)}; the result table should have one row "
                         "per model, slice and metric")
    out[key] = number


def _metrics(result: EvaluationResult) -> tuple[dict[Key, float], int]:
    """Overall values with interval bounds, per-slice values when there are at most
    ``MAX_SLICES`` slices, overall candidate-baseline deltas, and the verdict's exit code;
    also the number of slices."""
    out: dict[Key, float] = {}
    table = result.table
    ok = table[table["status"] == "ok"]
    for row in ok[ok["slice"] == "overall"].to_dict("records"):
        name = (str(row["model"]), str(row["metric"]))
        _put(out, name, row["value"])
        _put(out, (*name, "ci_low"), row["ci_low"])
        _put(out, (*name, "ci_high"), row["ci_high"])
    n_slices = int(table.loc[table["slice"] != "overall", "slice"].nunique())
    if n_slices <= MAX_SLICES:
        for row in ok[ok["slice"] != "overall"].to_dict("records"):
            _put(out, (str(row["model"]), str(row["metric"]), "slice", str(row["slice"])), row["value"])
    comp = result.comparisons
    if comp is not None:
        for row in comp[(comp["slice"] == "overall") & (comp["status"] == "ok")].to_dict("records"):
            delta = (str(row["candidate"]), str(row["metric"]), "delta")
            _put(out, delta, row["delta"])
            for field in ("ci_low", "ci_high", "p_value", "p_adjusted"):
                _put(out, (*delta, field), row[field])
    if result.verdict is not None:
        _put(out, ("assay", "verdict_exit_code"), result.verdict.exit_code)
    return out, n_slices


def _cut(value: Any) -> str:
    text = str(value)
    if len(text) <= MAX_PARAM:
        return text
    note = f" ... ({len(text)} characters; see spec.yaml)"
    return text[:MAX_PARAM - len(note)] + note


def _params(result: EvaluationResult, manifest: dict[str, Any]) -> dict[Key, str]:
    """Settings that decide the numbers, and the content hash of every input (file, SQL text or
    in-memory table; "missing" for a file that was not there)."""
    spec = result.spec
    out: dict[Key, str] = {
        ("spec_name",): spec.name, ("task",): spec.task, ("seed",): str(spec.seed),
        ("confidence",): str(spec.confidence), ("bootstrap",): str(spec.bootstrap),
        ("intervals",): str(spec.intervals), ("engine",): spec.engine,
        ("models",): ",".join(m.name for m in spec.models), ("threshold",): str(spec.threshold),
        ("min_slice_size",): str(spec.min_slice_size), ("rows",): str(manifest.get("rows", result.n_rows)),
    }
    if result.comparisons is not None:
        out[("baseline",)] = spec.baseline
        out[("candidates",)] = ",".join(spec.candidates)
    for role, entry in (manifest.get("inputs") or {}).items():
        digest = entry.get("sha256")
        out[("input", role, "sha256")] = str(digest) if digest else "missing"
    return {key: _cut(value) for key, value in out.items()}


def _tags(result: EvaluationResult, manifest: dict[str, Any], n_slices: int,
          store_run_id: str | None) -> dict[Key, str]:
    """Package versions, where each input came from, the verdict with each rule's status, and
    the store's run id."""
    out: dict[Key, str] = {("assay", "version", pkg): str(v)
                           for pkg, v in (manifest.get("packages") or {}).items()}
    out[("assay", "python")] = str(manifest.get("python", ""))
    out[("assay", "platform")] = str(manifest.get("platform", ""))
    for role, entry in (manifest.get("inputs") or {}).items():
        source = entry.get("path") or entry.get("sql") or ("in-memory table" if entry.get("in_memory")
                                                           else None)
        if source is not None:
            out[("assay", "input", role, "source")] = _cut(source)
    out[("assay", "slice_metrics")] = (
        "logged" if n_slices <= MAX_SLICES
        else f"not logged: {n_slices} slices (more than {MAX_SLICES}); see results.parquet")
    verdict = result.verdict
    if verdict is not None:
        out[("assay", "verdict")] = verdict.decision
        names = [rule.name for rule in verdict.rules]
        for i, rule in enumerate(verdict.rules):
            label = rule.name if names.count(rule.name) == 1 else f"{rule.name} {i + 1}"
            out[("assay", "rule", label)] = rule.status
    if store_run_id is not None:
        out[("assay", "run_id")] = store_run_id
    return out


# ---------------------------------------------------------------------------- MLflow keys


def _digest(key: Key) -> str:
    return hashlib.sha256(json.dumps(list(key)).encode("utf-8")).hexdigest()[:8]


def _path_safe(name: str) -> bool:
    """MLflow refuses keys that normalise to another path (``a//b``, ``a/../b``, ``/a``)."""
    norm = posixpath.normpath(name)
    return norm == name and norm != "." and not norm.startswith(("..", "/"))


def _suffixed(name: str, key: Key) -> str:
    return f"{name[:MAX_KEY - 9]}-{_digest(key)}"


def _legal(key: Key) -> str:
    """The key's parts joined by '.', with characters MLflow rejects replaced by '_',
    made path-safe and cut to ``MAX_KEY``."""
    name = _ILLEGAL.sub("_", ".".join(key))
    if not _path_safe(name):
        name = name.replace("/", "_")
        if not _path_safe(name):  # '.', '..' or a leading '..'
            name = "_" + name
    return name if len(name) <= MAX_KEY else _suffixed(name, key)


def _mlflow_keys(keys: Iterable[Key]) -> dict[Key, str]:
    """A legal, distinct MLflow key for each assay key. A key that is legal as written keeps
    its name; keys that sanitising makes equal to it or to each other get a suffix from a
    hash of their parts, so two values never share one MLflow name. Independent of order."""
    wanted = {key: _legal(key) for key in keys}
    groups: dict[str, list[Key]] = {}
    for key, name in wanted.items():
        groups.setdefault(name, []).append(key)
    out: dict[Key, str] = {}
    for name, members in groups.items():
        verbatim = [k for k in members if ".".join(k) == name]
        keeper = members[0] if len(members) == 1 else (verbatim[0] if len(verbatim) == 1 else None)
        for key in members:
            out[key] = name if key == keeper else _suffixed(name, key)
    if len(set(out.values())) != len(out):
        raise AssayError("two assay names map to one MLflow key even after hashing; rename a model, "
                         "slice or rule")
    return out


# ---------------------------------------------------------------------------- MLflow's noise


@contextlib.contextmanager
def _mlflow_warnings_hidden() -> Iterator[None]:
    """Hide DeprecationWarnings raised inside MLflow's own modules (its use of its own
    dependencies, which an assay user cannot act on). FutureWarnings, which MLflow uses for
    changes that concern the caller (such as a backend going away), and errors still show."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"mlflow(\.|$)")
        yield


@contextlib.contextmanager
def _mlflow_info_hidden() -> Iterator[None]:
    """Raise MLflow's logger to WARNING for the call (it logs database set-up at INFO), then
    restore it."""
    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def _chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])
