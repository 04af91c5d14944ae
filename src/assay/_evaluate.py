"""The evaluation pipeline: rows -> partition -> states -> estimates -> result rows."""

from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from assay._errors import SpecError
from assay.analysis import AnalysisOutput, requested, run_analyses
from assay.analysis._read import analysis_rows, extra_selects, segment_columns
from assay.data import EvalRows, example_rows, load_rows, profile
from assay.data._fingerprint import table_sha256
from assay.engine import Partition
from assay.engine._replicates import cell_replicates, poisson_replicates
from assay.engine._states import aggregate_duckdb, aggregate_numpy
from assay.metrics import Context, Estimate, SliceStats, Task, get_task
from assay.metrics._base import NO_INTERVALS, TOO_SMALL, gap
from assay.metrics._task import RowArrays
from assay.results import EvaluationResult
from assay.slicing import build_partition
from assay.spec import EvalSpec

if TYPE_CHECKING:
    from assay.store import RunStore

#: progress(stage, done, total)
Progress = Callable[[str, int, int], None]


def resolve_metrics(spec: EvalSpec, task: Task) -> list[str]:
    """The metric names to compute; unknown names stop with the list of valid ones."""
    if spec.metrics == "all":
        return list(task.metrics)
    unknown = [m for m in spec.metrics if m not in task.metrics]
    if unknown:
        raise SpecError(
            f"metrics: unknown metric(s) {', '.join(repr(u) for u in unknown)} for task "
            f"{spec.task!r}. Allowed: {', '.join(task.metrics)}; fix 'metrics' in the spec "
            "or use metrics: all"
        )
    return list(spec.metrics)


#: Rows per NumPy aggregation chunk: small enough that temporaries are reused from the
#: allocator instead of faulting in fresh pages (about 1 GB per pass at 1e7 rows otherwise).
CHUNK_ROWS = 1 << 20


def _aggregate_in_chunks(task: Task, arrays: RowArrays, partition: Partition,
                         ctx: Context) -> dict[str, dict[str, np.ndarray]]:
    """The NumPy engine's pass: states per chunk of rows, summed in chunk order (fixed, so
    reruns stay bit-identical)."""
    n = arrays.y.size
    total: dict[str, dict[str, np.ndarray]] | None = None
    for start in range(0, max(n, 1), CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, n)
        y = arrays.y[start:stop]
        part = RowArrays(
            y=y if y.dtype.kind == "f" else y.astype(np.int64),
            w=None if arrays.w is None else arrays.w[start:stop],
            scores=[c[start:stop] for c in arrays.scores],
            codes=[c[start:stop].astype(np.int64) for c in arrays.codes])
        for dim, codes in zip(partition.base, part.codes, strict=True):
            dim.codes = codes
        states = aggregate_numpy(task.numpy_states(part, ctx), partition,
                                 partition.atom_codes(), stop - start)
        if total is None:
            total = states
        else:
            for name, values in states.items():
                for v, arr in values.items():
                    total[name][v] += arr
    assert total is not None
    return total


def _fetch_rows(rows: EvalRows, partition: Partition,
                extra: list[str] | None = None) -> dict[str, np.ndarray]:
    """Read the standardised columns and the slice codes of usable rows into memory.

    ``extra`` select items (the analyses' row number, row key and columns) read the rows
    numbered as in the dataset and in that order, so that example rows can be found and
    every run reads them alike.

    Columns come in their narrowest types (label codes as 8 or 16-bit integers, slice codes
    as 16 or 32-bit): fresh memory is slow to fault in, and the NumPy pass widens them one
    chunk at a time.
    """
    weighted = rows.spec.weight is not None
    task = rows.spec.task
    y = {"binary": "__y::TINYINT", "multiclass": "__y::SMALLINT" if len(rows.classes) < 32000
         else "__y::INTEGER"}.get(task, "__y::DOUBLE")
    cols = [f"{y} AS __y"] + (["__w"] if weighted else [])
    cols += [c for cs in rows.score_columns for c in cs]
    cols += [f"__ok{i}" for i in range(len(rows.score_columns))]
    if weighted and rows.spec.id:
        # the weighted bootstrap keys each row's multipliers on its id, not its position
        from assay.data._files import quote_ident

        cols.append(f"hash({quote_ident(rows.spec.id)}) AS __key")
    codes = [f"({d.sql})::{'SMALLINT' if len(d.levels) < 32000 else 'INTEGER'} AS __d{j}"
             for j, d in enumerate(partition.base)]
    any_ok = " OR ".join(f"__ok{i}" for i in range(len(rows.score_columns)))
    source, order = rows.relation, ""
    if extra:
        from assay.data._examples import numbered_relation

        source, order = numbered_relation(rows).format(view=rows.relation), " ORDER BY __row"
    # Reading may use every core: order is kept (preserve_insertion_order), and no float
    # is summed here.
    table = rows.con.sql(
        f"SELECT {', '.join(cols + codes + (extra or []))} FROM {source} WHERE {any_ok}{order}"
    ).to_arrow_table()
    out = {}
    for name in table.column_names:
        col = table.column(name)
        arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        out[name] = arr.to_numpy(zero_copy_only=False)
    return out


def _model_arrays(raw: dict[str, np.ndarray], rows: EvalRows, i: int, n_dims: int) -> RowArrays:
    ok = raw[f"__ok{i}"]
    keep = None if ok.all() else ok

    def take(a: np.ndarray) -> np.ndarray:
        return a if keep is None else a[keep]

    w = take(raw["__w"]).astype(np.float64, copy=False) if rows.spec.weight else None
    scores = [take(raw[c]).astype(np.float64, copy=False) for c in rows.score_columns[i]]
    codes = [take(raw[f"__d{j}"]) for j in range(n_dims)]
    key = take(raw["__key"]).astype(np.uint64, copy=False) if "__key" in raw else None
    return RowArrays(y=take(raw["__y"]), w=w, scores=scores, codes=codes, key=key)


def _level_cells(task: Task, per_slice: list, partition: Partition, ctx: Context,
                 extras: list[dict[str, Any]]) -> list[list[tuple[int | None, dict]]]:
    """For each dimension, the resampling cells of every level (see ``cell_replicates``)."""
    out: list[list[tuple[int | None, dict]]] = []
    by_dim: dict[int, list[int]] = {}
    for j, (di, _level) in enumerate(partition.positions, start=1):
        by_dim.setdefault(di, []).append(j)
    assert task.resample_cells is not None
    for di, dim in enumerate(partition.all_dimensions):
        js = by_dim.get(di, [])
        levels: list[tuple[int | None, dict]] = [
            (j, task.resample_cells(per_slice[j], ctx, extras[j])) for j in js]
        if dim.levels == ["false", ""]:  # predicate: the rows outside it are a level too
            rest = _minus(per_slice[0], per_slice[js[0]])
            levels.append((None, task.resample_cells(rest, ctx, extras[0])))
        out.append(levels)
    return out


#: Extras that describe the model's scores as a whole, valid for a slice and its complement.
GLOBAL_EXTRAS = ("coarse_map", "pure")


def _purity(arrays: RowArrays | None, rows: EvalRows, i: int, bins: int):
    """A callback: score column k -> mask of score bins holding a single distinct value.

    Computed from the rows in memory, or with SQL (min = max per bin) by the DuckDB engine;
    both are exact, so both engines report the same bounds.
    """
    def pure(k: int) -> np.ndarray:
        if arrays is not None:
            from assay.metrics._ranking import pure_bins

            return pure_bins(arrays.scores[k], bins)
        col = rows.score_columns[i][k]
        rows.con.execute(f"SET threads = {os.cpu_count() or 1}").fetchall()  # min/max: exact
        got = rows.con.execute(
            f"SELECT least(floor({col} * {bins}), {bins - 1})::BIGINT AS f, "
            f"min({col}) = max({col}) AS p FROM {rows.relation} WHERE __ok{i} GROUP BY 1"
        ).fetchnumpy()
        out = np.zeros(bins, dtype=bool)
        out[got["f"]] = got["p"]
        return out

    return pure


def _take(states: dict[str, dict[str, np.ndarray]], j: int) -> dict[str, dict[str, np.ndarray]]:
    return {s: {v: a[j:j + 1] for v, a in vals.items()} for s, vals in states.items()}


def _minus(a: dict[str, dict[str, np.ndarray]], b: dict[str, dict[str, np.ndarray]]):
    return {s: {v: a[s][v] - b[s][v] for v in a[s]} for s in a}


def _row_count(states: dict[str, dict[str, np.ndarray]]) -> int:
    first = next(iter(states.values()))
    return int(round(float(first["n"].sum())))


def _expand(name: str, est: Estimate | dict[str, Estimate]) -> list[tuple[str, Estimate]]:
    if isinstance(est, dict):
        return [(f"{name}[{k}]", e) for k, e in est.items()]
    return [(name, est)]


def evaluate_spec(
    spec: EvalSpec,
    base_dir: Path | str = ".",
    data: pa.Table | None = None,
    *,
    exclude_invalid: bool = False,
    progress: Progress | None = None,
    store: RunStore | None = None,
    as_of: datetime | None = None,
    use_cache: bool = True,
) -> EvaluationResult:
    """Run one evaluation and return its tidy result.

    The data-quality checks run first, on the dataset as read (see ``assay.quality``):
    ``store`` holds the data cards its schema is compared with, and ``as_of`` (else the
    spec's ``quality.as_of``, else now) is the time freshness is judged at. Models with an
    ``adapter`` predict first (see ``assay.models``; ``use_cache=False`` ignores the
    prediction cache), and the ``stress`` and ``latency`` sections run after the
    comparisons (see ``assay.robustness``)."""
    started = time.time()
    timings: dict[str, float] = {}
    tick = time.perf_counter()

    def step(name: str) -> None:
        nonlocal tick
        now = time.perf_counter()
        timings[name] = timings.get(name, 0.0) + now - tick
        tick = now

    report = progress or (lambda stage, done, total: None)
    task = get_task(spec.task)
    metric_names = resolve_metrics(spec, task)
    inloop = None
    if any(m.adapter is not None for m in spec.models):
        from assay.models._dataset import predict_models

        report("predicting", 0, 1)
        inloop = predict_models(spec, base_dir, data, use_cache=use_cache, progress=report)
        step("predict")
    report("validating inputs", 0, 1)
    if inloop is None:
        rows = load_rows(spec, base_dir, data, exclude_invalid=exclude_invalid)
    else:
        rows = load_rows(inloop.spec, base_dir, inloop.table, exclude_invalid=exclude_invalid,
                         source=inloop.source if data is None else None)
        inloop.count_errors(rows)
    partition = build_partition(rows)
    wanted = requested(spec)
    seg_cols = segment_columns(rows) if spec.error_analysis is not None else []
    extra_cols = extra_selects(rows, seg_cols) if wanted else None
    step("validate")
    data_sha = functools.cache(lambda: table_sha256(data) if data is not None else None)
    quality = None
    if spec.quality.enabled:
        from assay.quality import data_fingerprint, run_checks

        report("data quality", 0, 1)
        source = rows.inputs.get("data") or ("the data.sql query" if "data.sql" in rows.inputs
                                             else "the data table")
        quality = run_checks(
            rows.con, spec, base_dir, store=store, as_of=as_of, source=source,
            fingerprint=lambda: data_sha() if data is not None else data_fingerprint(spec, base_dir))
        step("quality")
    weighted = spec.weight is not None
    engine = spec.engine
    n_models = len(spec.models)
    raw: dict[str, np.ndarray] | None = None
    records: list[dict[str, Any]] = []
    slice_sizes: dict[str, dict[str, int]] = {}
    curves: dict[str, dict[str, Any]] = {}
    # With intervals off no replicate is drawn (empty replicate arrays flow through the same
    # code) and every bound is left empty.
    reps_n = spec.bootstrap if spec.intervals else 0
    for i, model in enumerate(spec.models):
        report(f"evaluating {model.name}", i, n_models)
        ctx = Context(
            confidence=spec.confidence, seed=spec.seed, replicates=reps_n,
            threshold=spec.threshold, score_bins=spec.score_bins,
            calibration_bins=spec.calibration_bins, weighted=weighted, classes=rows.classes,
            top_k=spec.top_k, metrics=tuple(metric_names),
        )
        need_rows = (engine == "numpy" or weighted or bool(wanted)
                     or task.needs_rows(ctx, metric_names))
        arrays = None
        if need_rows:
            if raw is None:
                raw = _fetch_rows(rows, partition, extra_cols)
                step("read")
            arrays = _model_arrays(raw, rows, i, len(partition.base))
        if spec.task == "regression":
            # a centring constant for the label moments (any value near the mean will do):
            # from the rows in memory, or one SQL pass when they are not read
            if arrays is not None:
                ctx.label_shift = float(np.mean(arrays.y)) if arrays.y.size else 0.0
            else:
                rows.con.execute("SET threads = 1").fetchall()  # a float sum: fixed order
                got = rows.con.execute(
                    f"SELECT avg(__y) FROM {rows.relation} WHERE __ok{i}").fetchall()[0][0]
                ctx.label_shift = float(got) if got is not None else 0.0
        if engine == "numpy":
            assert arrays is not None
            states = _aggregate_in_chunks(task, arrays, partition, ctx)
            for dim, codes in zip(partition.base, arrays.codes, strict=True):
                dim.codes = codes
        else:
            states = aggregate_duckdb(rows.con, rows.relation,
                                      task.sql_states(rows.score_columns[i], ctx), partition,
                                      where=rows.model_filter(i))
        step("aggregate")
        per_slice = [_take(states, j) for j in range(len(partition.keys))]
        extras: list[dict[str, Any]] = [{} for _ in per_slice]
        if task.extras is not None:
            extras = task.extras(arrays, per_slice, partition, ctx,
                                 slice_rows=lambda a=arrays: partition.slice_rows(a.codes, a.y.size),
                                 purity=_purity(arrays, rows, i, ctx.score_bins))
        slice_reps: list[dict | None] = [None] * len(per_slice)
        comp_reps: list[dict | None] = [None] * len(per_slice)
        if weighted and task.replicate_requests is not None:
            assert arrays is not None
            reps = poisson_replicates(
                task.replicate_requests(arrays, ctx, extras[0]), partition, arrays.codes,
                arrays.y.size, reps_n, (spec.seed, i), keys=arrays.key)
            for j in range(len(per_slice)):
                slice_reps[j] = {s: {v: a[j] for v, a in vals.items()} for s, vals in reps.items()}
                if j:
                    comp_reps[j] = {s: {v: a[0] - a[j] for v, a in vals.items()}
                                    for s, vals in reps.items()}
        elif task.resample_cells is not None:
            slice_reps, comp_reps = cell_replicates(
                _level_cells(task, per_slice, partition, ctx, extras), 
                task.resample_cells(per_slice[0], ctx, extras[0]),
                reps_n, (spec.seed, i), len(per_slice))
        step("row passes")
        n_all = _row_count(per_slice[0])
        sizes: dict[str, int] = {}
        for j, key in enumerate(partition.keys):
            n_j = _row_count(per_slice[j])
            if key.kind == "cross" and n_j == 0:
                continue  # combinations that do not occur are not slices
            sizes[key.label] = n_j
            base = {"model": model.name, "slice": key.label, "dimension": key.dimension,
                    "level": key.level if key.kind != "where" else "", "n": n_j}
            if j > 0 and n_j < spec.min_slice_size:
                why = "empty slice" if n_j == 0 else f"fewer than min_slice_size={spec.min_slice_size} rows"
                for name in metric_names:
                    records.append(base | {"metric": name, "value": math.nan, "ci_low": math.nan,
                                           "ci_high": math.nan, "method": "", "status": TOO_SMALL,
                                           "note": why, "gap": math.nan, "gap_low": math.nan,
                                           "gap_high": math.nan})
                continue
            st = SliceStats(per_slice[j], ctx, n_j, (i, j, 0), slice_reps[j], extras[j])
            if j == 0 and task.curves is not None and n_j:
                curves[model.name] = task.curves(st)
            comp = None
            if j > 0 and n_all - n_j > 0:
                comp_extras = {k: v for k, v in extras[j].items() if k in GLOBAL_EXTRAS}
                comp_extras |= {k.removesuffix("_rest"): v for k, v in extras[j].items()
                                if k.endswith("_rest")}
                comp = SliceStats(_minus(per_slice[0], per_slice[j]), ctx, n_all - n_j,
                                  (i, j, 1), comp_reps[j], comp_extras)
            for name in metric_names:
                mdef = task.metrics[name]
                ests = _expand(name, mdef.compute(st))
                comps = dict(_expand(name, mdef.compute(comp))) if comp is not None else {}
                for full, est in ests:
                    g = gap(est, comps[full], ctx) if full in comps else (math.nan,) * 3
                    lo, hi, glo, ghi, method = est.low, est.high, g[1], g[2], est.method
                    if not spec.intervals:
                        lo = hi = glo = ghi = math.nan
                        method = NO_INTERVALS
                    records.append(base | {
                        "metric": full, "value": est.value, "ci_low": lo, "ci_high": hi,
                        "method": method, "status": est.status, "note": est.note,
                        "gap": g[0], "gap_low": glo, "gap_high": ghi})
        slice_sizes[model.name] = sizes
        step("estimate")
    analyses = AnalysisOutput()
    if wanted:
        assert raw is not None
        per_model = [analysis_rows(rows, partition, raw, i, seg_cols, reps_n)
                     for i in range(n_models)]
        analyses = run_analyses(spec, per_model, progress=report)
        del per_model
        step("analyses")
    comparisons, unpaired = None, {}
    if spec.compare.enabled and spec.candidates:
        if raw is None:
            raw = _fetch_rows(rows, partition)
        comparisons, unpaired = _compare_models(spec, rows, partition, raw, records,
                                                metric_names, task, report)
        step("compare")
    if inloop is not None and (spec.stress is not None or spec.latency is not None):
        from assay.robustness._run import run_stress

        stressed = run_stress(spec, rows, partition, inloop, progress=report)
        analyses.tables |= stressed.tables
        analyses.charts |= stressed.charts
        step("stress")
    examples = example_rows(rows)
    extra: dict[str, Any] = {"profile": profile(rows)}
    if inloop is not None:
        extra["adapters"] = {name: run.lineage() for name, run in inloop.runs.items()}
        if spec.stress is not None and spec.stress.save:
            extra["stress_inputs"] = stressed.saved
        errors = inloop.error_table()  # the clean run's failures, before the stress run's
        if not errors.empty:
            under_stress = analyses.tables.get("prediction_errors")
            analyses.tables["prediction_errors"] = errors if under_stress is None else pd.concat(
                [errors, under_stress], ignore_index=True)
    if data is not None:
        extra["data_sha256"] = data_sha()
    step("examples")
    report("done", n_models, n_models)
    finished = time.time()
    result = EvaluationResult.from_records(
        spec=spec, records=records, excluded=rows.excluded, n_rows=rows.n_rows,
        classes=rows.classes, inputs=rows.inputs, slice_sizes=slice_sizes, timings=timings,
        started=started, finished=finished, base_dir=str(Path(base_dir).resolve()),
        comparisons=comparisons, unpaired=unpaired, curves=curves,
        examples=examples, extra=extra,
        analyses=({"quality": quality.table} if quality is not None else {}) | analyses.tables,
        analysis_charts=analyses.charts)
    if spec.gates:
        result.verdict = result.gate(spec.gates)
    return result


def pair_context(spec: EvalSpec, classes: list[Any], seed: tuple[int, ...]):
    """The settings of a paired comparison on this spec's rows (candidate vs baseline, or a
    model's perturbed run vs its clean one)."""
    from assay.compare import PairContext

    return PairContext(confidence=spec.confidence, replicates=spec.bootstrap, threshold=spec.threshold,
                       classes=classes, weighted=spec.weight is not None, top_k=spec.top_k,
                       calibration_bins=spec.calibration_bins, score_bins=spec.score_bins, seed=seed)


def _compare_models(spec: EvalSpec, rows: EvalRows, partition: Partition,
                    raw: dict[str, np.ndarray], records: list[dict[str, Any]],
                    metric_names: list[str], task: Task, report: Progress):
    """Each candidate against the baseline on the rows both scored (see assay.compare)."""
    import pandas as pd

    from assay.compare import COMPARE_COLUMNS, PairArrays, compare_pair

    index = {m.name: i for i, m in enumerate(spec.models)}
    singles = {(r["model"], r["slice"], r["metric"]): r for r in records}
    hib = {name: task.metrics[name].higher_is_better for name in metric_names}
    ia = index[spec.baseline]
    tables, unpaired = [], {}
    for c, cand in enumerate(spec.candidates):
        ib = index[cand]
        ok_a, ok_b = raw[f"__ok{ia}"], raw[f"__ok{ib}"]
        keep = ok_a & ok_b
        unpaired[cand] = int((ok_a ^ ok_b).sum())

        def take(a: np.ndarray, dtype=np.float64, keep=keep) -> np.ndarray:
            return a[keep].astype(dtype, copy=False)

        pairs = PairArrays(
            y=take(raw["__y"], raw["__y"].dtype if spec.task != "regression" else np.float64),
            w=take(raw["__w"]) if spec.weight else None,
            a=[take(raw[col]) for col in rows.score_columns[ia]],
            b=[take(raw[col]) for col in rows.score_columns[ib]])
        codes = [take(raw[f"__d{j}"], np.int64) for j in range(len(partition.base))]
        ctx = pair_context(spec, rows.classes, (spec.seed, c))
        label = f"comparing {cand} with {spec.baseline}"
        tables.append(compare_pair(
            task=spec.task, metrics=metric_names, higher_is_better=hib, pairs=pairs, codes=codes,
            partition=partition, ctx=ctx, names=(spec.baseline, cand),
            min_slice_size=spec.min_slice_size, singles=singles, adjust=spec.compare.adjust,
            power=spec.compare.power,
            progress=lambda done, total, label=label: report(label, done, total)))
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=COMPARE_COLUMNS)
    return table, unpaired
