"""Running the checks: on a registered DuckDB view (``run_checks``, as ``assay evaluate``
does on its rows) or on a spec's dataset alone (``check_dataset``, as ``assay check``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from difflib import get_close_matches
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from assay._errors import InputError
from assay.data._files import columns_of
from assay.quality._config import utc
from assay.quality._hashes import duplicate_id_row, duplicate_row_row, leakage_rows
from assay.quality._labels import label_rows
from assay.quality._redact import Shown
from assay.quality._scan import (
    Context,
    Pass,
    category_rows,
    freshness_rows,
    null_rows,
    plan_freshness,
    plan_nulls,
    plan_ranges,
    plan_rows,
    range_rows,
    rows_row,
)
from assay.quality._schema import schema_row
from assay.quality._table import QualityReport, Row, frame
from assay.spec import EvalSpec

if TYPE_CHECKING:
    from assay.store import RunStore


def data_fingerprint(spec: EvalSpec, base_dir: Path | str, data: pa.Table | None = None) -> str | None:
    """The dataset's content fingerprint as the run store keys data cards by: SHA-256 of the
    file, of a data.sql query's text, or of an in-memory table's Arrow stream."""
    from assay.data._fingerprint import path_sha256, table_sha256, text_sha256

    if data is not None:
        return table_sha256(data)
    if spec.data is None:
        return None
    if spec.data.path:
        path = (Path(base_dir) / spec.data.path).resolve()
        return path_sha256(path)[0] if path.exists() else None
    return text_sha256(spec.data.sql or "")


def _require(columns: dict[str, str], names: list[str], key: str, source: str) -> None:
    """Columns named by the spec must exist; the error names the key, the close match and
    the columns there are."""
    for name in names:
        if name not in columns:
            close = get_close_matches(name, list(columns), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise InputError(f"{key}: no column {name!r} in {source}.{hint} Columns: "
                             f"{', '.join(columns)}. Fix the name in the spec.")


def _validate(spec: EvalSpec, columns: dict[str, str], source: str) -> None:
    q = spec.quality
    _require(columns, [spec.label], "label", source)
    if spec.id:
        _require(columns, [spec.id], "id", source)
    _require(columns, list(q.nulls.columns), "quality.nulls.columns", source)
    _require(columns, list(q.ranges), "quality.ranges", source)
    _require(columns, list(q.categories), "quality.categories", source)
    _require(columns, list(q.duplicates.columns or []), "quality.duplicates.columns", source)
    if q.freshness is not None:
        _require(columns, [q.freshness.column], "quality.freshness.column", source)


def run_checks(
    con: duckdb.DuckDBPyConnection,
    spec: EvalSpec,
    base_dir: Path | str = ".",
    *,
    view: str = "assay_data",
    store: RunStore | None = None,
    as_of: datetime | None = None,
    fingerprint: Callable[[], str | None] | None = None,
    source: str = "the dataset",
) -> QualityReport:
    """Run the spec's quality checks on ``view`` of ``con`` (the dataset as registered) and
    return their table. ``as_of`` (else ``quality.as_of``, else now) is the time freshness
    is judged at; ``store`` holds the data cards the schema is compared with, found by the
    data's ``fingerprint`` (a callable, so the data is hashed only when a card is looked up).
    """
    q = spec.quality
    when = utc(as_of) if as_of is not None else q.as_of or datetime.now(UTC)
    columns = {c: t for c, t in columns_of(con, view).items() if not c.startswith("__")}
    _validate(spec, columns, source)
    selected = q.selected
    ctx = Context(con=con, view=view, columns=columns, quality=q, shown=Shown(spec), source=source,
                  as_of=when)
    p = Pass()
    i_n = plan_rows(p)
    nulls = plan_nulls(ctx, p) if "nulls" in selected else {}
    ranges = plan_ranges(ctx, p) if "ranges" in selected else {}
    fresh = plan_freshness(ctx, p) if {"freshness", "future_timestamps"} & set(selected) else None
    p.run(con, view)
    n = p.count(i_n)
    rows: list[Row] = []
    if "rows" in selected:
        rows.append(rows_row(ctx, n))
    if "schema" in selected:
        from assay.store import dataset_name

        fp = fingerprint or (lambda: data_fingerprint(spec, base_dir))
        rows.append(schema_row(ctx, dataset_name(spec), store, fp))
    rows += null_rows(ctx, p, nulls, n)
    rows += range_rows(ctx, p, ranges)
    if "categories" in selected:
        rows += category_rows(ctx)
    if "duplicate_ids" in selected:
        rows.append(duplicate_id_row(ctx, spec))
    if "duplicate_rows" in selected:
        rows.append(duplicate_row_row(ctx, spec, n))
    if "labels" in selected:
        rows += label_rows(ctx, spec, n)
    if fresh is not None:
        rows += freshness_rows(ctx, p, fresh, selected)
    elif "freshness" in selected:
        rows.append(Row("freshness", "skipped", "no timestamp column: set quality.freshness.column (and "
                        "max_age) to check that the data is recent"))
    if {"leakage_rows", "leakage_ids"} & set(selected):
        rows += leakage_rows(ctx, spec, Path(base_dir), n, selected)
    return QualityReport(table=frame(rows), as_of=when, source=source)


def check_dataset(
    spec: EvalSpec,
    base_dir: Path | str = ".",
    data: pa.Table | None = None,
    store: RunStore | None = None,
    as_of: datetime | None = None,
) -> QualityReport:
    """Register the spec's dataset (or the in-memory ``data``) and run its quality checks
    alone: no predictions are read or validated (see :func:`run_checks`)."""
    from assay.data._sources import _Builder

    builder = _Builder(spec, Path(base_dir), data)
    try:
        return run_checks(builder.con, spec, base_dir, store=store, as_of=as_of,
                          fingerprint=lambda: data_fingerprint(spec, base_dir, data),
                          source=builder.data_name)
    finally:
        builder.con.close()
