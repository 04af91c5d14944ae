"""Grouped sums: the single primitive both engines implement.

A :class:`StateRequest` asks for ``values`` summed per slice and per cell. The NumPy engine
runs ``np.bincount`` over ``atom * cells + cell`` (sequential, so float sums have a fixed
order); the DuckDB engine runs the same sums as one ``GROUP BY`` on a single thread, for the
same reason. Results are dense arrays ``(n_slices, cells)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import duckdb
import numpy as np

from assay.engine._partition import Partition

#: A summed value: a per-row array (NumPy), a SQL expression (DuckDB), or None for a row count.
Value = np.ndarray | str | None


@dataclass
class StateRequest:
    """Sums of ``values`` per slice and per cell; ``cell`` is None for a single cell."""

    name: str
    cells: int
    cell: np.ndarray | str | None
    values: Mapping[str, Value]


#: name -> value name -> array (n_slices, cells)
States = dict[str, dict[str, np.ndarray]]


def _bincount(key: np.ndarray, value: np.ndarray | None, size: int) -> np.ndarray:
    if value is None:
        return np.bincount(key, minlength=size).astype(np.float64)
    return np.bincount(key, weights=value, minlength=size)


def aggregate_numpy(
    requests: list[StateRequest], partition: Partition, atom: np.ndarray | None, n_rows: int
) -> States:
    """Aggregate every request over the rows in memory."""
    out: States = {}
    for req in requests:
        k = req.cells
        cell = req.cell if req.cell is not None else None
        result: dict[str, np.ndarray] = {}
        if atom is None or partition.use_atoms(k):
            if atom is None:
                key = cell if cell is not None else np.zeros(n_rows, dtype=np.int64)
                size = k
            else:
                key = atom * k + cell if cell is not None else atom
                size = partition.n_atoms * k
            for name, value in req.values.items():
                sums = _bincount(key, value, size).reshape(-1, k)  # type: ignore[arg-type]
                result[name] = partition.slices_from_atoms(sums)
        else:
            dims = partition.all_dimensions
            codes = [
                partition.cross_codes(d) if d.is_cross else d.codes.astype(np.int64)  # type: ignore[union-attr]
                for d in dims
            ]
            for name, value in req.values.items():
                per_dim = []
                for dim, code in zip(dims, codes, strict=True):
                    key = code * k + cell if cell is not None else code
                    per_dim.append(_bincount(key, value, len(dim.levels) * k).reshape(-1, k))  # type: ignore[arg-type]
                overall = per_dim[0].sum(axis=0)
                result[name] = partition.slices_from_dimensions(overall, per_dim)
        out[req.name] = result
    return out


def aggregate_duckdb(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    requests: list[StateRequest],
    partition: Partition,
    where: str | None = None,
) -> States:
    """Aggregate every request with SQL over ``relation`` (a view or table name)."""
    out: States = {}
    filt = f" WHERE {where}" if where else ""
    for req in requests:
        k = req.cells
        cell = req.cell if isinstance(req.cell, str) else "0"
        names = list(req.values)
        sums = ", ".join(
            f"count(*)::DOUBLE AS v{i}" if v is None else f"sum({v})::DOUBLE AS v{i}"
            for i, v in enumerate(req.values.values())
        )
        if not partition.base or partition.use_atoms(k):
            group = partition.atom_sql() if partition.base else "0"
            rows = con.execute(
                f"SELECT ({group})::BIGINT AS g, ({cell})::BIGINT AS c, {sums} "
                f"FROM {relation}{filt} GROUP BY ALL"
            ).fetchnumpy()
            size = partition.n_atoms
            result = {}
            for i, name in enumerate(names):
                dense = np.zeros((size, k))
                dense[rows["g"], rows["c"]] = rows[f"v{i}"]
                result[name] = partition.slices_from_atoms(dense)
        else:
            dims = partition.all_dimensions
            per_dim: dict[str, list[np.ndarray]] = {n: [] for n in names}
            for dim in dims:
                code = partition.cross_sql(dim) if dim.is_cross else dim.sql
                rows = con.execute(
                    f"SELECT ({code})::BIGINT AS g, ({cell})::BIGINT AS c, {sums} "
                    f"FROM {relation}{filt} GROUP BY ALL"
                ).fetchnumpy()
                for i, name in enumerate(names):
                    dense = np.zeros((len(dim.levels), k))
                    dense[rows["g"], rows["c"]] = rows[f"v{i}"]
                    per_dim[name].append(dense)
            result = {
                n: partition.slices_from_dimensions(per_dim[n][0].sum(axis=0), per_dim[n])
                for n in names
            }
        out[req.name] = result
    return out
