"""Build the evaluation rows: dataset joined with each model's predictions, validated.

Everything here runs in DuckDB, whatever the engine: files and SQL sources are scanned in
place, in-memory tables are registered without copying. The result is one view,
``assay_rows``, with standardised columns (``__y`` label code, ``__w`` weight, ``__m{i}``
or ``__m{i}_{j}`` model scores, ``__ok{i}`` model row usable) next to the dataset's own
columns, which slices refer to. Bad input stops here with an :class:`InputError` naming the
file, column, a few offending rows and the fix; usable-but-incomplete rows are counted as
exclusions by reason.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from assay._errors import InputError, sample_values
from assay.data._files import columns_of, file_format, quote_ident, register_file
from assay.spec import EvalSpec, ModelSpec

NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
           "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL", "BOOLEAN")
MISSING_LABEL = "missing label"
UNMATCHED_ID = "unmatched id"
MISSING_SCORE = "missing or NaN score"
OUT_OF_RANGE = "out-of-range score"


def _is_numeric(duck_type: str) -> bool:
    return duck_type.upper().startswith(NUMERIC)


def sql_literal(value: Any) -> str:
    """A typed SQL literal for a label value (bool, int, float or string)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"CAST('{value!r}' AS DOUBLE)"
    return "'" + str(value).replace("'", "''") + "'"


@dataclass
class EvalRows:
    """The validated evaluation rows, as a DuckDB view, plus what was excluded and why."""

    con: duckdb.DuckDBPyConnection
    spec: EvalSpec
    n_rows: int
    classes: list[Any]
    score_columns: list[list[str]]
    excluded: dict[str, dict[str, int]]
    inputs: dict[str, str] = field(default_factory=dict)
    relation: str = "assay_rows"
    #: model -> exclusion reason -> SQL condition over ``assay_joined`` (for example rows)
    exclusions: dict[str, dict[str, str]] = field(default_factory=dict)

    def model_filter(self, index: int) -> str:
        return f"__ok{index}"


def _where_rows(
    con: duckdb.DuckDBPyConnection, view: str, cond: str, id_col: str | None, limit: int = 5
) -> str:
    """Describe a few rows of ``view`` matching ``cond``: by id when there is one, else by
    1-based row number (only computed on this error path, as it needs a window)."""
    key = f"{quote_ident(id_col)}::VARCHAR" if id_col else "__row::VARCHAR"
    rows = con.execute(
        f"SELECT {key} FROM (SELECT row_number() OVER () AS __row, * FROM {view}) "
        f"WHERE {cond} LIMIT {limit}"
    ).fetchall()
    what = "id" if id_col else "row"
    return ", ".join(f"{what} {r[0]}" for r in rows)


class _Builder:
    def __init__(self, spec: EvalSpec, base_dir: Path, data: pa.Table | None) -> None:
        self.spec = spec
        self.base_dir = base_dir
        self.con = duckdb.connect()
        # Validation, slicing and reading count, compare and copy: they may use every core.
        # Queries that sum floats set one thread first (engine/_states.py), so that their
        # order, and so their bits, are fixed.
        self.con.execute(f"SET threads = {os.cpu_count() or 1}").fetchall()
        # Statistics propagation folds isnan(x) to false on Parquet columns whose statistics
        # omit NaN (read_parquet in a data.sql query); NaN checks must see every row.
        self.con.execute("SET disabled_optimizers = 'statistics_propagation'").fetchall()
        # Relative file names inside data.sql resolve against the spec's folder, like data.path
        # (DuckDB still tries the working directory first).
        self.con.execute("SET file_search_path = ?", [str(Path(base_dir).resolve())]).fetchall()
        self.inputs: dict[str, str] = {}
        self.data_name = "the dataset"
        self._register_data(data)
        self.data_cols = columns_of(self.con, "assay_data")

    # ---- registration ------------------------------------------------------------------

    def _register_data(self, data: pa.Table | None) -> None:
        spec = self.spec
        if data is not None:
            self.con.register("assay_data_raw", data)
            self.con.execute("CREATE VIEW assay_data AS SELECT * FROM assay_data_raw").fetchall()
            self.data_name = "the data table"
            return
        if spec.data is None:
            raise InputError("the spec has no 'data' section; give data.path or data.sql")
        if spec.data.path is not None:
            path = (self.base_dir / spec.data.path).resolve()
            register_file(self.con, "assay_data", path, file_format(path, spec.data.format))
            self.inputs["data"] = str(path)
            self.data_name = str(path)
        else:
            try:
                self.con.execute(f"CREATE VIEW assay_data AS {spec.data.sql}").fetchall()
                self.con.execute("SELECT * FROM assay_data LIMIT 0").fetchall()
            except duckdb.Error as exc:
                raise InputError(f"data.sql: the query failed in DuckDB: {exc}. Fix the query; "
                                 "relative file names in it are looked up in the working "
                                 f"directory, then in {self.base_dir.resolve()}") from None
            self.data_name = "the data.sql query"
            self.inputs["data.sql"] = spec.data.sql or ""

    def _count(self, sql: str) -> int:
        """The single integer a ``SELECT count(*) ...`` query returns."""
        return int(self.con.execute(sql).fetchall()[0][0])

    def _require(self, where: str, cols: dict[str, str], column: str, role: str) -> str:
        if column not in cols:
            close = [c for c in cols if c.lower() == column.lower()]
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise InputError(
                f"{where}: column {column!r} ({role}) not found.{hint} "
                f"Available columns: {', '.join(cols)}. Fix the column name in the spec."
            )
        return cols[column]

    # ---- checks ------------------------------------------------------------------------

    def check_dataset(self) -> int:
        spec, con = self.spec, self.con
        n = self._count("SELECT count(*) FROM assay_data")
        if n == 0:
            raise InputError(f"{self.data_name}: the dataset is empty (0 rows); nothing to "
                             "evaluate. Check the file, or the WHERE clause of data.sql")
        self._require(self.data_name, self.data_cols, spec.label, "label")
        if spec.weight:
            wt = self._require(self.data_name, self.data_cols, spec.weight, "weight")
            if not _is_numeric(wt):
                raise InputError(f"{self.data_name}: weight column {spec.weight!r} has type {wt}; "
                                 "weights must be numbers >= 0")
            w = quote_ident(spec.weight)
            bad = f"{w} IS NULL OR isnan({w}::DOUBLE) OR {w} < 0"
            cnt = self._count(f"SELECT count(*) FROM assay_data WHERE {bad}")
            if cnt:
                raise InputError(
                    f"{self.data_name}: column {spec.weight!r} has {cnt} missing, NaN or negative "
                    f"weight(s) ({_where_rows(con, 'assay_data', bad, spec.id)}). Weights must be finite and "
                    ">= 0; fill or drop those rows."
                )
        if spec.id:
            self._require(self.data_name, self.data_cols, spec.id, "id")
            self._check_unique_ids("assay_data", spec.id, self.data_name)
        return int(n)

    def _check_unique_ids(self, view: str, id_col: str, where: str) -> None:
        i = quote_ident(id_col)
        dup = self.con.execute(
            f"SELECT {i}, count(*) AS c FROM {view} GROUP BY {i} HAVING count(*) > 1 "
            f"ORDER BY c DESC, {i} LIMIT 5"
        ).fetchall()
        if dup:
            total = self._count(
                f"SELECT count(*) FROM (SELECT {i} FROM {view} GROUP BY {i} HAVING count(*) > 1)")
            shown = ", ".join(f"{r[0]!r} ({r[1]} rows)" for r in dup)
            raise InputError(
                f"{where}: column {id_col!r} has {total} duplicate id value(s): {shown}. "
                "Ids must be unique; deduplicate the rows or choose a unique id column."
            )

    def classes(self) -> list[Any]:
        spec, con = self.spec, self.con
        y = quote_ident(spec.label)
        ltype = self.data_cols[spec.label]
        if spec.task == "regression":
            if not _is_numeric(ltype):
                raise InputError(f"{self.data_name}: label column {spec.label!r} has type {ltype}; "
                                 "a regression label must be numeric")
            inf = f"isinf({y}::DOUBLE)"
            n_inf = self._count(f"SELECT count(*) FROM assay_data WHERE {inf}")
            if n_inf:
                raise InputError(
                    f"{self.data_name}: label column {spec.label!r} has {n_inf} infinite value(s) "
                    f"({_where_rows(con, 'assay_data', inf, spec.id)}); make them finite, or "
                    "null/NaN to count them as missing labels")
            return []
        values = [r[0] for r in con.execute(
            f"SELECT DISTINCT {y} FROM assay_data WHERE {y} IS NOT NULL ORDER BY 1 LIMIT 1001"
        ).fetchall()]
        values = [v for v in values if not (isinstance(v, float) and math.isnan(v))]
        if spec.task == "binary":
            return self._binary_classes(values)
        classes = list(spec.classes) if spec.classes else values
        extra = [v for v in values if v not in classes]
        if extra:
            raise InputError(
                f"{self.data_name}: label column {spec.label!r} has values outside the declared "
                f"classes: {sample_values(extra)}. Add them to 'classes' or fix the labels."
            )
        if len(classes) < 2:
            raise InputError(f"{self.data_name}: multiclass needs at least 2 classes; "
                             f"found {sample_values(classes)}")
        return classes

    def _binary_classes(self, values: list[Any]) -> list[Any]:
        spec = self.spec
        pos = spec.positive
        if len(values) > 2:
            raise InputError(
                f"{self.data_name}: a binary label has at most two values, but column "
                f"{spec.label!r} has {len(values) if len(values) <= 1000 else 'over 1000'}: "
                f"{sample_values(values)}. Use task: multiclass, or map the labels to two classes."
            )
        kind_differs = any(isinstance(v, str) != isinstance(pos, str) for v in values)
        if pos is not None and pos not in values and (len(values) == 2 or kind_differs):
            raise InputError(
                f"{self.data_name}: positive={pos!r} does not occur in label column "
                f"{spec.label!r}, whose values are {sample_values(values)}; set 'positive' to "
                "one of them (mind the type: 1 and '1' differ)"
            )
        if pos is None:
            if set(values) <= {0, 1}:  # also matches False/True
                pos = True if any(isinstance(v, bool) for v in values) else 1
            else:
                raise InputError(
                    f"{self.data_name}: label column {spec.label!r} has values "
                    f"{sample_values(values)}; set 'positive' to the value of the positive class"
                )
        others = [v for v in values if v != pos]
        if others:
            neg = others[0]
        elif isinstance(pos, bool):
            neg = not pos
        elif pos == 1:
            neg = 0
        else:
            neg = f"not {pos}"
        return [neg, pos]

    def label_sql(self, classes: list[Any]) -> str:
        y = f"d.{quote_ident(self.spec.label)}"
        if self.spec.task == "regression":
            return f"CASE WHEN isnan({y}::DOUBLE) THEN NULL ELSE {y}::DOUBLE END"
        if self.spec.task == "binary":
            # a float label's NaN is a missing label too, not the negative class
            nan = (f" OR isnan({y})" if self.data_cols[self.spec.label].upper()
                   in ("FLOAT", "DOUBLE") else "")
            return (f"CASE WHEN {y} IS NULL{nan} THEN NULL "
                    f"WHEN {y} = {sql_literal(classes[1])} THEN 1 ELSE 0 END")
        lits = ", ".join(sql_literal(c) for c in classes)
        return f"(list_position([{lits}], {y}) - 1)"

    def model_columns(
        self, index: int, model: ModelSpec, classes: list[Any]
    ) -> tuple[str, list[str], list[str]]:
        """Register the model's predictions; returns (join clause, select exprs, columns)."""
        spec = self.spec
        task = spec.task
        if task == "binary":
            wanted = [model.score]
            role = "score"
        elif task == "regression":
            wanted = [model.prediction]
            role = "prediction"
        else:
            if model.scores is None:
                raise InputError(f"models.{model.name}: a multiclass model needs 'scores', a mapping "
                                 "of class -> probability column")
            missing = [c for c in classes if str(c) not in {str(k) for k in model.scores}]
            if missing:
                raise InputError(f"models.{model.name}.scores: no column for class(es) "
                                 f"{sample_values(missing)}; map every class to a probability column")
            by_str = {str(k): v for k, v in model.scores.items()}
            wanted = [by_str[str(c)] for c in classes]
            role = "class probability"
        if any(w is None for w in wanted):
            key = "score" if task == "binary" else "prediction"
            raise InputError(f"models.{model.name}: set '{key}' to the column holding the model's "
                             f"{'probability of the positive class' if task == 'binary' else 'prediction'}")
        if model.path is None:
            src, where, cols, join = "d", self.data_name, self.data_cols, ""
        else:
            path = (self.base_dir / model.path).resolve()
            view = f"assay_pred{index}"
            register_file(self.con, view, path, file_format(path, model.format))
            self.inputs[f"model:{model.name}"] = str(path)
            cols = columns_of(self.con, view)
            where = str(path)
            id_col = model.id or spec.id
            if not spec.id or not id_col:
                raise InputError(f"models.{model.name}: predictions in a separate file are joined on "
                                 "the id column; set 'id' in the spec")
            ptype = self._require(where, cols, id_col, "id")
            dtype = self.data_cols[spec.id]
            if _is_numeric(ptype) != _is_numeric(dtype):
                raise InputError(
                    f"{where}: id column {id_col!r} has type {ptype}, but the dataset's id column "
                    f"{spec.id!r} ({self.data_name}) has type {dtype}; ids are matched by value, "
                    "so store both as numbers or both as text")
            self._check_unique_ids(view, id_col, where)
            pid, did = quote_ident(id_col), quote_ident(spec.id)
            orphans_sql = (f"SELECT p.{pid} FROM {view} p ANTI JOIN assay_data d ON p.{pid} = d.{did}")
            orphans = self._count(f"SELECT count(*) FROM ({orphans_sql})")
            if orphans:
                some = [r[0] for r in self.con.execute(f"{orphans_sql} LIMIT 5").fetchall()]
                raise InputError(
                    f"{where}: {orphans} prediction id(s) in column {id_col!r} are absent from the "
                    f"dataset: {sample_values(some)}. Predictions must be for the evaluation rows; "
                    "check that both files come from the same evaluation set version."
                )
            src = f"p{index}"
            join = (f" LEFT JOIN (SELECT *, true AS __present FROM {view}) {src} "
                    f"ON {src}.{pid} = d.{did}")
        for c in wanted:
            t = self._require(where, cols, c, role)  # type: ignore[arg-type]
            if not _is_numeric(t) or t.upper() == "BOOLEAN":
                raise InputError(f"{where}: column {c!r} ({role} of model {model.name!r}) has type "
                                 f"{t}; it must hold numbers")
        names = [f"__m{index}" if len(wanted) == 1 else f"__m{index}_{j}" for j in range(len(wanted))]
        exprs = [f"{src}.{quote_ident(c)}::DOUBLE AS {n}" for c, n in zip(wanted, names, strict=True)]  # type: ignore[arg-type]
        present = f"{src}.__present IS NOT NULL" if model.path else "true"
        exprs.append(f"{present} AS __has{index}")
        return join, exprs, names


def load_rows(
    spec: EvalSpec, base_dir: Path | str = ".", data: pa.Table | None = None,
    exclude_invalid: bool = False, source: str | None = None,
) -> EvalRows:
    """Validate the inputs of ``spec`` and build the ``assay_rows`` view. ``source`` names
    where an in-memory ``data`` table came from (the spec's file, read earlier to run the
    adapter models on it), for messages and lineage."""
    b = _Builder(spec, Path(base_dir), data)
    if data is not None and source is not None and spec.data is not None:
        b.data_name = source
        if spec.data.path is not None:
            b.inputs["data"] = source
        elif spec.data.sql is not None:
            b.inputs["data.sql"] = spec.data.sql
    n = b.check_dataset()
    classes = b.classes()
    joins, selects, score_cols = [], [], []
    for i, m in enumerate(spec.models):
        join, exprs, names = b.model_columns(i, m, classes)
        joins.append(join)
        selects.extend(exprs)
        score_cols.append(names)
    w = f"d.{quote_ident(spec.weight)}::DOUBLE" if spec.weight else "1.0::DOUBLE"
    con = b.con
    con.execute(
        "CREATE VIEW assay_joined AS SELECT d.*, "
        f"{b.label_sql(classes)} AS __y, {w} AS __w, {', '.join(selects)} "
        f"FROM assay_data d{''.join(joins)}"
    ).fetchall()
    excluded: dict[str, dict[str, int]] = {}
    exclusions: dict[str, dict[str, str]] = {}
    oks = []
    for i, m in enumerate(spec.models):
        cols = score_cols[i]
        missing = " OR ".join(f"{c} IS NULL OR isnan({c})" for c in cols)
        if spec.task == "regression":
            invalid = " OR ".join(f"isinf({c})" for c in cols)
        else:
            invalid = " OR ".join(f"{c} < 0 OR {c} > 1" for c in cols)
            if spec.task == "multiclass":
                invalid += f" OR abs(({' + '.join(cols)}) - 1) > 1e-6"
        counts = con.execute(
            "SELECT count(*) FILTER (WHERE __y IS NULL), "
            f"count(*) FILTER (WHERE __y IS NOT NULL AND NOT __has{i}), "
            f"count(*) FILTER (WHERE __y IS NOT NULL AND __has{i} AND ({missing})), "
            f"count(*) FILTER (WHERE __y IS NOT NULL AND __has{i} AND NOT ({missing}) AND ({invalid})) "
            "FROM assay_joined"
        ).fetchall()[0]
        assert counts is not None
        n_missing_label, n_unmatched, n_missing, n_invalid = (int(c) for c in counts)
        if n_invalid and not exclude_invalid:
            bad = f"__y IS NOT NULL AND __has{i} AND NOT ({missing}) AND ({invalid})"
            source = b.inputs.get(f"model:{m.name}", b.data_name)
            what, fix = {
                "binary": ("probabilities outside [0, 1]",
                           "pass probabilities (apply a sigmoid/softmax to raw scores)"),
                "regression": ("infinite predictions",
                               "make them finite, or null/NaN to count them as missing"),
            }.get(spec.task, ("probabilities outside [0, 1] or rows not summing to 1",
                              "normalise each row's class probabilities to sum to 1"))
            raise InputError(
                f"{source}: model {m.name!r} has {n_invalid} row(s) with {what} "
                f"({_where_rows(con, 'assay_joined', bad, spec.id)}). Fix: {fix}, or pass "
                "--exclude-invalid to count and exclude them."
            )
        excluded[m.name] = {
            MISSING_LABEL: n_missing_label, UNMATCHED_ID: n_unmatched,
            MISSING_SCORE: n_missing, OUT_OF_RANGE: n_invalid,
        }
        exclusions[m.name] = {
            MISSING_LABEL: "__y IS NULL",
            UNMATCHED_ID: f"__y IS NOT NULL AND NOT __has{i}",
            MISSING_SCORE: f"__y IS NOT NULL AND __has{i} AND ({missing})",
            OUT_OF_RANGE: f"__y IS NOT NULL AND __has{i} AND NOT ({missing}) AND ({invalid})",
        }
        oks.append(f"(__y IS NOT NULL AND __has{i} AND NOT ({missing}) AND NOT ({invalid})) AS __ok{i}")
    con.execute(f"CREATE VIEW assay_rows AS SELECT *, {', '.join(oks)} FROM assay_joined").fetchall()
    if all(n - sum(e.values()) == 0 for e in excluded.values()):
        raise InputError(f"{b.data_name}: no row is usable: every row lacks a label or a "
                         f"valid prediction ({excluded}); check the label and score columns")
    return EvalRows(con=con, spec=spec, n_rows=n, classes=classes, score_columns=score_cols,
                    excluded=excluded, inputs=b.inputs, exclusions=exclusions)
