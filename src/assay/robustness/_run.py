"""The stress run: each adapter model on perturbed rows, compared with its clean run.

For every stressed model and perturbation the model predicts on the perturbed copy of the
evaluation rows it scored cleanly (through its cached predictor). The two runs share rows
and labels, so the change of each metric is a paired comparison: the same methods as a
candidate-vs-baseline comparison (McNemar, paired DeLong, paired t, paired bootstrap; see
``assay.compare``), per slice, with the slice of a row taken from its clean values. The
flip rate is the share of rows whose decision changes (Wilson interval); for regression a
change larger than ``flip_tolerance``. Rows the model fails on are counted per message
(a model that crashes on missing values is a finding) and left out of the pair. A
distribution shift changes weights, not predictions (see ``_shift``). Behavioural tests
check each edited row against its clean prediction (see ``_behaviour``).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from assay.robustness._spec import DEFAULT_METRICS

#: progress(stage, done, total)
Progress = Callable[[str, int, int], None]

ROBUSTNESS_COLUMNS = [
    "model", "perturbation", "kind", "slice", "dimension", "level", "metric", "clean_value",
    "perturbed_value", "delta", "ci_low", "ci_high", "p_value", "p_adjusted", "n", "method",
    "status", "note", "higher_is_better", "changed_rows", "errored_rows"]
BEHAVIOUR_COLUMNS = [
    "model", "test", "kind", "n", "failures", "failure_rate", "ci_low", "ci_high",
    "max_failure_rate", "passed", "errored_rows", "skipped_rows", "note"]
LATENCY_COLUMNS = ["model", "slice", "dimension", "level", "metric", "value", "ci_low", "ci_high",
                   "n", "method", "status", "note"]
FLIP_RATE = "flip_rate"
ERROR_RATE = "error_rate"


@dataclass
class StressOutput:
    """Tables (robustness, behaviour, latency, prediction_errors), chart data for the report
    and, with ``stress.save``, the perturbed inputs by name."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    charts: dict[str, Any] = field(default_factory=dict)
    saved: dict[str, pd.DataFrame] = field(default_factory=dict)


def stream_seed(seed: int, label: str) -> tuple[int, int]:
    """A perturbation's random stream: the suite seed and a checksum of its name, so adding
    a perturbation leaves the others' rows unchanged."""
    return (int(seed), zlib.crc32(label.encode()))


@dataclass
class _Rows:
    """One model's usable evaluation rows: dataset positions, labels, weights, slice codes."""

    pos: np.ndarray
    y: np.ndarray
    w: np.ndarray | None
    codes: list[np.ndarray]
    clean: np.ndarray  # (n,) or (n, k)
    frame: pd.DataFrame
    ids: np.ndarray | None
    #: each slice's rows (None = all), from the clean values: shared by every perturbation
    slices: list[np.ndarray | None] = field(default_factory=list)

    def columns(self, values: np.ndarray) -> list[np.ndarray]:
        return [values] if values.ndim == 1 else [values[:, j] for j in range(values.shape[1])]


def _usable_rows(spec, raw: dict[str, np.ndarray], run, inloop, partition, sample: int | None,
                 seed: int) -> _Rows:
    ok = raw[f"__ok{run.index}"].astype(bool)
    pos = raw["__row"][ok].astype(np.int64) - 1
    sel = np.arange(pos.size)
    if sample is not None and pos.size > sample:
        rng = np.random.default_rng([seed, 7, run.index])
        sel = np.sort(rng.choice(pos.size, size=sample, replace=False))
    pos = pos[sel]
    y = raw["__y"][ok][sel]
    y = y.astype(np.float64) if spec.task == "regression" else y.astype(np.int64)
    w = raw["__w"][ok][sel].astype(np.float64) if spec.weight else None
    codes = [raw[k][ok][sel].astype(np.int64) for k in sorted(
        (k for k in raw if k.startswith("__d")), key=lambda k: int(k[3:]))]
    clean = np.asarray(run.clean.values, dtype=np.float64)[pos]
    frame = inloop.frame.iloc[pos][run.features].reset_index(drop=True)
    ids = None
    if spec.id is not None and spec.id in inloop.table.column_names:
        ids = np.asarray(inloop.table.column(spec.id).to_numpy(zero_copy_only=False))[pos]
    return _Rows(pos=pos, y=y, w=w, codes=codes, clean=clean, frame=frame, ids=ids,
                 slices=list(partition.slice_rows(codes, pos.size)))


def _change(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Per-row size of a prediction change (the largest over class probabilities)."""
    d = np.abs(after - before)
    return d if d.ndim == 1 else d.max(axis=1)


def run_stress(spec, rows, partition, inloop, *, progress: Progress | None = None) -> StressOutput:
    """Run ``spec.stress`` and ``spec.latency`` on the adapter models of ``inloop``."""
    from assay._evaluate import _fetch_rows

    report = progress or (lambda stage, done, total: None)
    out = StressOutput()
    tables: dict[str, list[pd.DataFrame]] = {"robustness": [], "behaviour": [], "latency": [],
                                             "prediction_errors": []}
    examples: dict[str, Any] = {"perturbations": [], "tests": []}
    if spec.stress is not None:
        raw = _fetch_rows(rows, partition, ["__row"])
        stress = spec.stress
        names = stress.models or list(inloop.runs)
        for name in names:
            run = inloop.runs[name]
            r = _usable_rows(spec, raw, run, inloop, partition, stress.rows, stress.seed)
            _stress_model(spec, partition, run, r, tables, examples, out, report,
                          _memo_for(spec, partition, run, r, inloop))
    if spec.latency is not None:
        from assay.models import measure_latency

        lat = spec.latency
        for name in lat.models or list(inloop.runs):
            run = inloop.runs[name]
            report(f"timing {name}", 0, 1)
            frame = inloop.frame[run.features]
            ok = ~np.asarray(run.clean.errored, dtype=bool)
            profile = measure_latency(run.adapter, frame[ok].reset_index(drop=True) if ok.any() else frame,
                                      requests=lat.requests, batch_size=lat.batch_size,
                                      warmup=lat.warmup, seed=spec.seed, confidence=spec.confidence)
            rows_ = [{"slice": "overall", "dimension": "overall", "level": "", **row}
                     for row in profile.to_rows(name)]
            tables["latency"].append(pd.DataFrame(rows_, columns=LATENCY_COLUMNS))
    columns = {"robustness": ROBUSTNESS_COLUMNS, "behaviour": BEHAVIOUR_COLUMNS,
               "latency": LATENCY_COLUMNS}
    from assay.models._dataset import ERROR_COLUMNS

    columns["prediction_errors"] = ERROR_COLUMNS
    for key, frames in tables.items():
        if frames:
            out.tables[key] = pd.concat(frames, ignore_index=True)[columns[key]]
    if examples["perturbations"] or examples["tests"]:
        out.charts["robustness"] = examples
    return out


def _memo_for(spec, partition, run, r: _Rows, inloop):
    """(store, key of everything but the perturbation) when outcomes may be reused: the
    prediction cache is on, the model is deterministic and cached, and no input is saved."""
    from assay.robustness._memo import StressMemo, memo_key, rows_digest

    stress = spec.stress
    if (inloop.cache is None or stress.save or not run.adapter.cacheable
            or not run.adapter.deterministic or not run.clean.cache_key):
        return None
    settings = {k: getattr(spec, k) for k in (
        "task", "confidence", "bootstrap", "threshold", "seed", "score_bins", "calibration_bins",
        "top_k", "min_slice_size", "weight")}
    settings |= {"compare": spec.compare.model_dump(mode="json"),
                 "privacy": spec.privacy.model_dump(mode="json"),
                 "slices": [k.label for k in partition.keys],
                 "stress": stress.model_dump(mode="json", exclude={"perturbations", "tests", "models"}),
                 "classes": [str(c) for c in run.shape.classes]}
    digest = rows_digest(r.frame, r.y, r.w, r.pos, r.ids, *r.codes)
    return StressMemo(inloop.cache.root), memo_key(run.clean.cache_key, digest, settings)


def _normal(table: pd.DataFrame) -> pd.DataFrame:
    """The table as it reads back from Parquet, so fresh and stored outcomes are identical."""
    import pyarrow as pa

    return pa.Table.from_pandas(table, preserve_index=False).to_pandas()


def _stress_model(spec, partition, run, r: _Rows, tables, examples, out: StressOutput,
                  report: Progress, memo=None) -> None:
    from assay.models._dataset import error_rows
    from assay.robustness import apply_perturbation, behaviour_frame, check_behaviour, column_kinds
    from assay.robustness import perturbation_label as label_of

    stress = spec.stress
    kinds = column_kinds(r.frame, text=stress.text)
    metrics = list(stress.metrics or DEFAULT_METRICS[spec.task])
    total = len(stress.perturbations) + len(stress.tests)
    for k, p in enumerate(stress.perturbations):
        label = label_of(p)
        report(f"stressing {run.name}: {label}", k, total)
        key = None
        if memo is not None:
            from assay.robustness._memo import memo_key

            key = memo_key(memo[1], "perturbation", label, p.model_dump(mode="json"))
            hit = memo[0].get(key)
            if hit is not None:
                tables["robustness"].append(hit[0])
                if hit[1] is not None:
                    tables["prediction_errors"].append(hit[1])
                if hit[2] is not None:
                    examples["perturbations"].append(hit[2])
                continue
        pert = apply_perturbation(p, r.frame, stream_seed(stress.seed, label), kinds=kinds,
                                  where=f"stress.perturbations[{k}]")
        if stress.save:
            out.saved[f"{run.name}__{label}"] = pert.frame
        if pert.weights is not None or pert.rows is not None:
            table, err, ex = _normal(_shift_table(spec, run, r, p, label, pert, metrics, k)), None, None
        else:
            preds = _predict_changed(run, r, pert)
            err = error_rows(run.name, label, preds.errors, r.pos)
            err = None if err is None else _normal(err)
            table = _normal(_perturbation_table(spec, partition, run, r, p, label, pert, preds, metrics, k))
            ex = _worst(spec, run.name, label, r, pert, preds, stress.examples)
        tables["robustness"].append(table)
        if err is not None:
            tables["prediction_errors"].append(err)
        if ex is not None:
            examples["perturbations"].append(ex)
        if key is not None:
            memo[0].put(key, table, err, ex)
    for t_i, test in enumerate(stress.tests):
        report(f"stressing {run.name}: {test.name}", len(stress.perturbations) + t_i, total)
        edited = behaviour_frame(test, r.frame, stream_seed(stress.seed, test.name), kinds=kinds,
                                 where=f"stress.tests[{t_i}]")
        preds = _predict_changed(run, r, edited)
        err = error_rows(run.name, f"test: {test.name}", preds.errors, r.pos)
        if err is not None:
            tables["prediction_errors"].append(err)
        valid = ~np.asarray(preds.errored, dtype=bool)
        res = check_behaviour(test, r.clean, np.asarray(preds.values, dtype=np.float64),
                              changed=np.asarray(edited.changed, dtype=bool), valid=valid,
                              classes=list(run.shape.classes) or None, confidence=spec.confidence)
        skipped = int(sum(v for k_, v in res.excluded.items() if "invalid" not in k_))
        note = "; ".join(f"{v} {k_}" for k_, v in res.excluded.items() if v)
        tables["behaviour"].append(pd.DataFrame([{
            "model": run.name, "test": test.name, "kind": test.kind, "n": res.n,
            "failures": res.failures, "failure_rate": res.failure_rate, "ci_low": res.ci_low,
            "ci_high": res.ci_high, "max_failure_rate": test.max_failure_rate, "passed": res.passed,
            "errored_rows": int((~valid).sum()), "skipped_rows": skipped, "note": note}]))
        examples["tests"].append(_failed_examples(spec, run.name, test, r, edited, preds, res,
                                                  stress.examples))
    report(f"stressing {run.name}", total, total)


@dataclass
class _Predicted:
    """A perturbed run's predictions over all stressed rows (the fields the tables read)."""

    values: np.ndarray
    errored: np.ndarray
    errors: pd.DataFrame


def _predict_changed(run, r: _Rows, pert) -> _Predicted:
    """Predict the rows the perturbation changed; an unchanged row is the very input the
    clean run predicted, so it keeps its clean prediction. When the perturbation changed the
    frame's schema (column order or dtypes) every row is predicted: the model sees a
    different input."""
    changed = np.asarray(pert.changed, dtype=bool)
    frame = pert.frame
    same = (list(frame.columns) == list(r.frame.columns)
            and all(frame[c].dtype == r.frame[c].dtype for c in frame.columns))
    if not same or len(frame) != len(r.frame) or changed.all():
        p = run.predictor.predict(frame)
        return _Predicted(np.asarray(p.values, dtype=np.float64), np.asarray(p.errored, dtype=bool),
                          p.errors)
    idx = np.flatnonzero(changed)
    values = r.clean.copy()
    errored = np.zeros(len(frame), dtype=bool)
    errors = pd.DataFrame(columns=["message", "rows", "example_rows"])
    if idx.size:
        p = run.predictor.predict(frame.iloc[idx])
        values[idx] = np.asarray(p.values, dtype=np.float64)
        errored[idx] = np.asarray(p.errored, dtype=bool)
        errors = p.errors.assign(example_rows=[[int(idx[i]) for i in ex] for ex in p.errors.example_rows])
    return _Predicted(values, errored, errors)


def _perturbation_table(spec, partition, run, r: _Rows, p, label: str, pert, preds,
                        metrics: list[str], k: int) -> pd.DataFrame:
    """Paired metric changes per slice, the flip rate, and the error rate of one perturbation."""
    from assay._evaluate import pair_context
    from assay.compare import PairArrays, compare_pair
    from assay.compare._compare import CHURN
    from assay.metrics import get_task
    from assay.stats import wilson_interval

    task = get_task(spec.task)
    after = np.asarray(preds.values, dtype=np.float64)
    errored = np.asarray(preds.errored, dtype=bool)
    keep = ~errored
    changed = np.asarray(pert.changed, dtype=bool)
    pairs = PairArrays(y=r.y[keep], w=None if r.w is None else r.w[keep],
                       a=r.columns(r.clean[keep]), b=r.columns(after[keep]))
    codes = [c[keep] for c in r.codes]
    ctx = pair_context(spec, _classes(run), (spec.seed, 9000 + run.index, k))
    hib = {m: task.metrics[m].higher_is_better for m in metrics}
    if pairs.n:
        table = compare_pair(task=spec.task, metrics=metrics, higher_is_better=hib, pairs=pairs,
                             codes=codes, partition=partition, ctx=ctx, names=("clean", label),
                             min_slice_size=spec.min_slice_size, singles={}, adjust=spec.compare.adjust,
                             power=spec.compare.power)
    else:
        from assay.compare import COMPARE_COLUMNS

        table = pd.DataFrame(columns=COMPARE_COLUMNS)
    table = table.rename(columns={"baseline_value": "clean_value", "candidate_value": "perturbed_value"})
    table["metric"] = table.metric.replace({CHURN: FLIP_RATE})
    if spec.task == "regression" and pairs.n:
        table = pd.concat([table, _regression_flips(spec, partition, r, after, keep, ctx)],
                          ignore_index=True)
    # rows changed and rows errored per slice, from the clean rows' slice membership
    by_label = {}
    for key, idx in zip(partition.keys, r.slices, strict=True):
        sel = np.arange(r.y.size) if idx is None else idx
        by_label[key.label] = (int(changed[sel].sum()), int(errored[sel].sum()), int(sel.size))
    table["changed_rows"] = [by_label.get(s, (0, 0, 0))[0] for s in table.slice]
    table["errored_rows"] = [by_label.get(s, (0, 0, 0))[1] for s in table.slice]
    # the error rate: rows the model failed on, per slice
    from assay.models._predict import UNSPLIT

    e = preds.errors
    unsplit = int(e.rows[e.message.astype(str).str.endswith(UNSPLIT)].sum()) if len(e) else 0
    err_rows = []
    for key in partition.keys:
        if key.label not in by_label:
            continue
        _, n_err, n_all = by_label[key.label]
        if key.kind == "cross" and n_all == 0:
            continue
        ci = wilson_interval(n_err / n_all, n_all, spec.confidence) if n_all else None
        note = ""
        if key.kind == "overall" and unsplit:
            note = (f"an upper bound: {unsplit} row(s) of failing chunks were not split further "
                    "(raise adapter.error_budget to isolate them)")
        err_rows.append({
            "slice": key.label, "dimension": key.dimension,
            "level": key.level if key.kind != "where" else "", "metric": ERROR_RATE,
            "clean_value": math.nan, "perturbed_value": math.nan,
            "delta": n_err / n_all if n_all else math.nan,
            "ci_low": ci.low if ci else math.nan, "ci_high": ci.high if ci else math.nan,
            "p_value": math.nan, "p_adjusted": math.nan, "n": n_all, "method": "wilson",
            "status": "ok" if n_all else "undefined", "note": note, "higher_is_better": False,
            "changed_rows": by_label[key.label][0], "errored_rows": n_err})
    table = pd.concat([table, pd.DataFrame(err_rows)], ignore_index=True)
    table.insert(0, "model", run.name)
    table.insert(1, "perturbation", label)
    table.insert(2, "kind", p.kind)
    if pert.note:
        table["note"] = [f"{n}; {pert.note}" if n else pert.note for n in table.note.fillna("")]
    return table.reindex(columns=ROBUSTNESS_COLUMNS)


def _classes(run) -> list[Any]:
    return list(run.shape.classes)


def _regression_flips(spec, partition, r: _Rows, after: np.ndarray, keep: np.ndarray, ctx) -> pd.DataFrame:
    """Regression's flip rate: the share of rows whose prediction moves by more than the
    tolerance (``stress.flip_tolerance``, default 0.1 x the sd of the clean predictions)."""
    from assay.compare._methods import churn_estimate

    before = r.clean[keep]
    tol = spec.stress.flip_tolerance
    if tol is None:
        sd = float(np.std(before)) if before.size > 1 else 0.0
        tol = 0.1 * sd if sd > 0 else 0.0
    moved = np.abs(after[keep] - before) > tol
    w = None if r.w is None else r.w[keep]
    codes = [c[keep] for c in r.codes]
    recs = []
    for key, idx in zip(partition.keys, partition.slice_rows(codes, int(keep.sum())), strict=True):
        sel = slice(None) if idx is None else idx
        m = moved[sel]
        if key.kind == "cross" and m.size == 0:
            continue
        est = churn_estimate(m, None if w is None else w[sel], ctx)
        recs.append({"baseline": "clean", "candidate": "", "slice": key.label, "dimension": key.dimension,
                     "level": key.level if key.kind != "where" else "", "metric": FLIP_RATE,
                     "clean_value": math.nan, "perturbed_value": math.nan, "delta": est.delta,
                     "ci_low": est.low, "ci_high": est.high, "p_value": math.nan,
                     "p_adjusted": math.nan, "n": int(m.size), "method": est.method,
                     "status": est.status, "note": f"a change over {tol:.4g} counts as a flip",
                     "higher_is_better": False})
    return pd.DataFrame(recs)


def _shift_table(spec, run, r: _Rows, p, label: str, pert, metrics: list[str], k: int) -> pd.DataFrame:
    """A distribution shift: each metric on the re-weighted (or resampled) rows minus the
    clean value, overall, with the paired Poisson bootstrap's interval."""
    from assay.metrics import Context, get_task
    from assay.robustness._shift import shift_deltas

    task = get_task(spec.task)
    if pert.weights is not None:
        shift = np.asarray(pert.weights, dtype=np.float64)
        how = "re-weighted"
    else:
        shift = np.bincount(np.asarray(pert.rows, dtype=np.int64), minlength=r.y.size).astype(np.float64)
        how = "resampled"
    ctx = Context(confidence=spec.confidence, seed=spec.seed, replicates=0, threshold=spec.threshold,
                  score_bins=spec.score_bins, calibration_bins=spec.calibration_bins, weighted=True,
                  classes=_classes(run), top_k=spec.top_k, metrics=tuple(metrics))
    got = shift_deltas(spec.task, metrics, r.y, r.columns(r.clean), r.w, shift, ctx,
                       replicates=spec.stress.bootstrap, seed=(spec.seed, 9500 + run.index, k),
                       confidence=spec.confidence)
    recs = []
    for m in metrics:
        g = got[m]
        recs.append({
            "model": run.name, "perturbation": label, "kind": p.kind, "slice": "overall",
            "dimension": "overall", "level": "", "metric": m, "clean_value": g["clean"],
            "perturbed_value": g["shifted"], "delta": g["delta"], "ci_low": g["ci_low"],
            "ci_high": g["ci_high"], "p_value": math.nan, "p_adjusted": math.nan,
            "n": int(r.y.size), "method": f"paired Poisson bootstrap ({g['replicates']} replicates)",
            "status": "ok" if math.isfinite(g["delta"]) else "undefined",
            "note": f"rows {how}: {pert.note}" if pert.note else f"rows {how}",
            "higher_is_better": task.metrics[m].higher_is_better,
            "changed_rows": 0, "errored_rows": 0})
    return pd.DataFrame(recs, columns=ROBUSTNESS_COLUMNS)


def _shown(spec):
    from assay.quality._redact import Shown

    return Shown(spec)


def _row_name(shown, r: _Rows, i: int) -> str:
    return shown.row(int(r.pos[i]) + 1, None if r.ids is None else r.ids[i])


def _values(shown, frame: pd.DataFrame, i: int, columns: list[str]) -> dict[str, str]:
    out = {}
    for c in columns:
        v = frame[c].iloc[i]
        out[c] = shown.value(c, None if _missing(v) else v)
    return out


def _missing(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _prediction(v: np.ndarray | float) -> str:
    a = np.atleast_1d(np.asarray(v, dtype=np.float64))
    return ", ".join("error" if not math.isfinite(x) else f"{x:.4g}" for x in a)


def _example_rows(spec, r: _Rows, edited, after: np.ndarray, rows: list[int],
                  change: np.ndarray, errored: np.ndarray) -> tuple[list[str], list[dict[str, Any]]]:
    """The edited columns and, for each of ``rows``: its name, label, the edited values
    before and after, both predictions and the change (privacy settings applied)."""
    shown = _shown(spec)
    cols = [c for c in (edited.columns or []) if c in r.frame.columns]
    items = [{
        "row": _row_name(shown, r, i), "label": _label_text(spec, r.y[i]),
        "before": _values(shown, r.frame, i, cols), "after": _values(shown, edited.frame, i, cols),
        "clean": _prediction(r.clean[i]), "perturbed": _prediction(after[i]),
        "change": math.nan if errored[i] else float(change[i]), "error": bool(errored[i])}
        for i in rows]
    return cols, items


def _worst(spec, model: str, label: str, r: _Rows, pert, preds, limit: int) -> dict[str, Any]:
    """The rows whose prediction moved most (and a few the model failed on)."""
    after = np.asarray(preds.values, dtype=np.float64)
    errored = np.asarray(preds.errored, dtype=bool)
    size = np.where(errored, -1.0, _change(r.clean, np.where(np.isfinite(after), after, 0.0)))
    order = np.lexsort((np.arange(size.size), -size))
    moved = [int(i) for i in order[:limit] if size[i] > 0]
    failed = np.flatnonzero(errored)[:limit].tolist()
    cols, items = _example_rows(spec, r, pert, after, moved + failed, size, errored)
    return {"model": model, "perturbation": label, "columns": cols, "rows": items}


def _label_text(spec, y: Any) -> str:
    return f"{float(y):.4g}" if spec.task == "regression" else str(int(y))


def _failed_examples(spec, model: str, test, r: _Rows, edited, preds, res, limit: int) -> dict[str, Any]:
    """A behavioural test's failed rows, worst first."""
    after = np.asarray(preds.values, dtype=np.float64)
    rows = [int(i) for i in res.order[:limit]]
    cols, items = _example_rows(spec, r, edited, after, rows, _change(r.clean, after),
                                np.zeros(after.shape[0], dtype=bool))
    return {"model": model, "test": test.name, "columns": cols, "rows": items}
