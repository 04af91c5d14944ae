"""Slices as a partition of rows.

Every slice dimension (a column's values, numeric bins, a SQL predicate) gives each row a
small integer code. Rows with the same codes on every base dimension form an *atom*; every
slice, crosses included, is a union of atoms. When atoms are few, a state is aggregated once
per atom and slices are sums over atoms (one pass, however many slices); otherwise each
dimension is aggregated on its own.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

#: Largest atoms x cells array aggregated at atom level (8M float64 cells = 64 MiB).
MAX_ATOM_CELLS = 1 << 23


@dataclass(frozen=True)
class SliceKey:
    """A slice's identity: its dimension label and level label ("overall" for all rows)."""

    dimension: str
    level: str
    kind: str = "column"  # overall | column | where | cross

    @property
    def label(self) -> str:
        if self.kind == "overall":
            return "overall"
        if self.kind == "where":  # a predicate slice is named by itself
            return self.dimension
        if self.kind == "cross":  # a cross level already reads "a=x & b=y"
            return self.level
        return f"{self.dimension}={self.level}"


@dataclass
class Dimension:
    """One slicing dimension: per-row codes in ``[0, len(levels))`` and their labels.

    ``reported`` lists the levels that are slices (a SQL predicate reports only "true").
    ``codes`` is set by the NumPy engine; ``sql`` (an integer SQL expression) by DuckDB's.
    """

    label: str
    levels: list[str]
    reported: list[int]
    codes: np.ndarray | None = None
    sql: str | None = None
    parts: tuple[int, ...] = ()  # for a cross: indices of the base dimensions it combines

    @property
    def is_cross(self) -> bool:
        return bool(self.parts)


@dataclass
class Partition:
    """Base dimensions, crosses over them, and the resulting list of slices."""

    base: list[Dimension]
    crosses: list[Dimension] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.keys: list[SliceKey] = [SliceKey("overall", "all", "overall")]
        self._index: list[tuple[int, int]] = [(-1, 0)]  # (dimension index, level)
        for di, dim in enumerate(self.all_dimensions):
            kind = "cross" if dim.is_cross else ("where" if dim.levels == ["false", ""] else "column")
            for level in dim.reported:
                self.keys.append(SliceKey(dim.label, dim.levels[level], kind))
                self._index.append((di, level))

    @property
    def positions(self) -> list[tuple[int, int]]:
        """(dimension index in ``all_dimensions``, level) of each slice after "overall"."""
        return self._index[1:]

    @property
    def all_dimensions(self) -> list[Dimension]:
        return [*self.base, *self.crosses]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(d.levels) for d in self.base)

    @property
    def n_atoms(self) -> int:
        return math.prod(self.shape) if self.base else 1

    def use_atoms(self, cells: int) -> bool:
        return self.n_atoms * cells <= MAX_ATOM_CELLS

    def atom_codes(self) -> np.ndarray | None:
        """Row -> atom id (NumPy engine), or None when there are no dimensions."""
        if not self.base:
            return None
        atom = np.zeros(len(self.base[0].codes), dtype=np.int64)  # type: ignore[arg-type]
        for dim in self.base:
            atom *= len(dim.levels)
            atom += dim.codes  # type: ignore[operator]
        return atom

    def atom_sql(self) -> str:
        expr = "0"
        for dim in self.base:
            expr = f"(({expr}) * {len(dim.levels)} + ({dim.sql}))"
        return expr

    def cross_codes(self, cross: Dimension) -> np.ndarray:
        code = np.zeros(len(self.base[0].codes), dtype=np.int64)  # type: ignore[arg-type]
        for p in cross.parts:
            code *= len(self.base[p].levels)
            code += self.base[p].codes  # type: ignore[operator]
        return code

    def cross_sql(self, cross: Dimension) -> str:
        expr = "0"
        for p in cross.parts:
            expr = f"(({expr}) * {len(self.base[p].levels)} + ({self.base[p].sql}))"
        return expr

    def slice_rows(self, codes: list[np.ndarray], n: int) -> Iterator[np.ndarray | None]:
        """Row indices of each slice, in slice order (None = all rows), from the base
        dimensions' per-row ``codes`` (rows already in memory)."""
        yield None
        cross_codes: dict[int, np.ndarray] = {}
        dims = self.all_dimensions
        for di, level in self.positions:
            dim = dims[di]
            if dim.is_cross:
                if di not in cross_codes:
                    code = np.zeros(n, dtype=np.int64)
                    for p in dim.parts:
                        code = code * len(self.base[p].levels) + codes[p]
                    cross_codes[di] = code
                code = cross_codes[di]
            else:
                code = codes[di]
            yield np.flatnonzero(code == level)

    # ---- from per-atom or per-dimension sums to per-slice sums -------------------------

    def slices_from_atoms(self, atoms: np.ndarray) -> np.ndarray:
        """(n_atoms, *tail) -> (n_slices, *tail)."""
        tail = atoms.shape[1:]
        cube = atoms.reshape(*self.shape, *tail) if self.base else atoms.reshape(tail)
        nd = len(self.base)
        out = np.empty((len(self.keys), *tail), dtype=atoms.dtype)
        out[0] = cube.sum(axis=tuple(range(nd))) if nd else cube
        per_dim: list[np.ndarray] = []
        for d in range(nd):
            per_dim.append(cube.sum(axis=tuple(a for a in range(nd) if a != d)))
        for c in self.crosses:
            other = tuple(a for a in range(nd) if a not in c.parts)
            summed = cube.sum(axis=other) if other else cube
            # summed axes are in increasing base order; crosses list parts in spec order
            order = sorted(c.parts)
            perm = [order.index(p) for p in c.parts]
            summed = np.transpose(summed, (*perm, *range(len(c.parts), summed.ndim)))
            per_dim.append(summed.reshape(-1, *tail))
        for i, (di, level) in enumerate(self._index[1:], start=1):
            out[i] = per_dim[di][level]
        return out

    def slices_from_dimensions(self, overall: np.ndarray, per_dim: list[np.ndarray]) -> np.ndarray:
        """Assemble per-slice sums from one (levels, *tail) array per dimension."""
        out = np.empty((len(self.keys), *overall.shape), dtype=overall.dtype)
        out[0] = overall
        for i, (di, level) in enumerate(self._index[1:], start=1):
            out[i] = per_dim[di][level]
        return out
