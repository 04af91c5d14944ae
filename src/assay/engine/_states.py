"""Grouped sums: the single primitive both engines implement.

A :class:`StateRequest` asks for ``values`` summed per slice and per cell. The NumPy engine
runs ``np.bincount`` over ``atom * cells + cell`` (sequential, so float sums have a fixed
order); the DuckDB engine runs the same sums as one ``GROUP BY`` on a single thread, for the
same reason. Results are dense arrays ``(n_slices, cells)``.
"""

from __future__ import annotations

import math
import os
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
    """Aggregate every request with SQL over ``relation`` (a view or table name).

    Two scans in all: one ``GROUPING SETS`` query for every state aggregated per atom, and
    one for every state aggregated per slice dimension (the large score histograms). Each
    grouping set sums every requested value; the surplus sums cost less than a rescan.
    """
    filt = f" WHERE {where}" if where else ""
    at_atoms = [r for r in requests if not partition.base or partition.use_atoms(r.cells)]
    per_dim = [r for r in requests if r not in at_atoms]
    # Float sums run on one thread, so DuckDB adds them in a fixed order and reruns are
    # bit-identical. Count-only states (the unweighted score histograms, the heaviest
    # GROUP BY) are integer sums, exact in any order: they may use every core.
    counts_only = all(v is None for r in per_dim for v in r.values.values())
    threads = os.cpu_count() or 1
    out: States = {}
    if at_atoms:
        group = partition.atom_sql() if partition.base else "0"
        con.execute("SET threads = 1").fetchall()
        cross = math.prod(r.cells for r in at_atoms)
        if partition.n_atoms * cross <= MAX_CROSS_CELLS:
            # one GROUP BY over the cross of every small state's cell: each sum is computed
            # once per row, and each state is a margin of the result
            rows = _grouping_query(con, relation, filt, {"__g": group}, at_atoms,
                                   [("__g", *(f"__c{k}" for k in range(len(at_atoms))))])[0]
            for k, req in enumerate(at_atoms):
                result = {}
                for name in req.values:
                    dense = np.zeros((partition.n_atoms, req.cells))
                    np.add.at(dense, (rows["__g"], rows[f"__c{k}"]), rows[f"{k}_{name}"])
                    result[name] = partition.slices_from_atoms(dense)
                out[req.name] = result
        else:
            sets = [("__g", f"__c{k}") for k in range(len(at_atoms))]
            rows_by_set = _grouping_query(con, relation, filt, {"__g": group}, at_atoms, sets)
            for k, req in enumerate(at_atoms):
                got = rows_by_set[k]
                result = {}
                for name in req.values:
                    dense = np.zeros((partition.n_atoms, req.cells))
                    dense[got["__g"], got[f"__c{k}"]] = got[f"{k}_{name}"]
                    result[name] = partition.slices_from_atoms(dense)
                out[req.name] = result
    if per_dim:
        dims = partition.all_dimensions
        keys = {f"__d{j}": (partition.cross_sql(d) if d.is_cross else d.sql)
                for j, d in enumerate(dims)}
        sets = [(f"__d{j}", f"__c{k}") for k in range(len(per_dim)) for j in range(len(dims))]
        con.execute(f"SET threads = {threads if counts_only else 1}").fetchall()
        rows = _grouping_query(con, relation, filt, keys, per_dim, sets)
        con.execute("SET threads = 1").fetchall()
        for k, req in enumerate(per_dim):
            arrays: dict[str, list[np.ndarray]] = {n: [] for n in req.values}
            for j, dim in enumerate(dims):
                got = rows[k * len(dims) + j]
                for name in req.values:
                    dense = np.zeros((len(dim.levels), req.cells))
                    dense[got[f"__d{j}"], got[f"__c{k}"]] = got[f"{k}_{name}"]
                    arrays[name].append(dense)
            out[req.name] = {n: partition.slices_from_dimensions(a[0].sum(axis=0), a)
                             for n, a in arrays.items()}
    return {r.name: out[r.name] for r in requests}


#: Largest atoms x (product of small states' cells) grouped in one GROUP BY.
MAX_CROSS_CELLS = 1 << 20


def _grouping_query(
    con: duckdb.DuckDBPyConnection, relation: str, filt: str, keys: dict[str, str],
    requests: list[StateRequest], sets: list[tuple[str, ...]],
) -> list[dict[str, np.ndarray]]:
    """Run one GROUPING SETS query; returns the rows of each set, in the order of ``sets``.

    Group keys are named ``__g``, ``__c0``, ``__d0``...: GROUP BY resolves a name to a
    source column before an alias, and ``__`` names are reserved for assay's own columns.
    """
    cells = {f"__c{k}": (r.cell if isinstance(r.cell, str) else "0") for k, r in enumerate(requests)}
    named = keys | cells
    select = [f"({expr})::BIGINT AS {name}" for name, expr in named.items()]
    select += [
        f"count(*)::DOUBLE AS \"{k}_{n}\"" if v is None else f"sum({v})::DOUBLE AS \"{k}_{n}\""
        for k, r in enumerate(requests) for n, v in r.values.items()
    ]
    order = list(named)
    grouping = f"GROUPING({', '.join(order)})"
    spec = ", ".join(f"({', '.join(group)})" for group in sets)
    got = con.execute(
        f"SELECT {', '.join(select)}, {grouping} AS __set FROM (SELECT * FROM {relation}{filt}) "
        f"GROUP BY GROUPING SETS ({spec})"
    ).fetchnumpy()
    out = []
    width = len(order)
    for group in sets:
        # GROUPING() sets a bit for every column NOT grouped in the row's set
        mask = sum(1 << (width - 1 - i) for i, c in enumerate(order) if c not in group)
        sel = got["__set"] == mask
        out.append({c: np.asarray(v)[sel] for c, v in got.items()})
    return out
