"""Apply one perturbation to a frame: pick the columns and rows, run the kind, and report
which rows really changed.

The input frame is never modified: every kind writes new columns into a shallow copy
(pandas copy-on-write keeps the shared columns safe). ``changed`` compares every touched
column with its clean value row by row, so a draw that happens to leave a value as it was
(noise rounded away on an integer, a shuffle that keeps a value in place) does not count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from assay.robustness import _categorical, _generic, _numeric, _text
from assay.robustness._cohort import shift
from assay.robustness._columns import check_frame, column_kinds, resolve_columns
from assay.robustness._specs import (
    Boundary,
    CaseChange,
    CharNoise,
    Missing,
    Noise,
    OutOfRange,
    Perturbation,
    Reorder,
    Scale,
    Shift,
    Shuffle,
    Swap,
    Typos,
    Unseen,
    Whitespace,
    perturbation_label,
)
from assay.robustness._util import Effect, differs, row_rng, seed_words, select_rows

__all__ = ["Perturbation", "Perturbed", "apply_perturbation", "perturbation_label"]


@dataclass
class Perturbed:
    """A perturbed copy of a frame and what was done to it."""

    #: same columns (reorder: permuted order) and rows as the input, unless resampled
    frame: pd.DataFrame
    #: per output row: some value differs from the clean row it came from
    changed: np.ndarray
    #: columns with at least one changed value (reorder: the columns that moved)
    columns: list[str]
    #: shift, mode reweight: row weights with mean 1
    weights: np.ndarray | None = None
    #: shift, mode resample: the position of the clean row each output row copies
    rows: np.ndarray | None = None
    #: what was done and anything skipped
    note: str = ""


_KINDS = {
    Noise: _numeric.noise,
    OutOfRange: _numeric.out_of_range,
    Boundary: _numeric.boundary,
    Scale: _numeric.scale,
    Missing: _generic.missing,
    Shuffle: _generic.shuffle,
    Swap: _categorical.swap,
    Typos: _text.typos,
    CaseChange: _text.case,
    Whitespace: _text.whitespace,
    CharNoise: _text.char_noise,
}


def _kinds_for(frame: pd.DataFrame, kinds: dict[str, str] | None) -> dict[str, str]:
    known = dict(kinds or {})
    rest = [c for c in frame.columns if c not in known]
    if rest:
        known.update(column_kinds(frame[rest]))
    return known


def apply_perturbation(spec: Perturbation, frame: pd.DataFrame, seed: int | Sequence[int], *,
                       kinds: dict[str, str] | None = None,
                       where: str = "stress.perturbations[0]") -> Perturbed:
    """Perturb ``frame`` as ``spec`` says, reproducibly from ``seed``.

    ``kinds`` gives column types (see :func:`column_kinds`; computed when missing) and
    ``where`` names the spec entry in error messages.
    """
    check_frame(frame)
    words = seed_words(seed)
    n = len(frame)
    if isinstance(spec, Shift):
        got = shift(spec, frame, row_rng(words), where)
        if got.rows is not None:
            out = frame.iloc[got.rows].reset_index(drop=True)
            return Perturbed(out, np.zeros(len(got.rows), dtype=bool), [], None, got.rows, got.note)
        return Perturbed(frame.copy(deep=False), np.zeros(n, dtype=bool), [], got.weights, None, got.note)
    known = _kinds_for(frame, kinds)
    cols = resolve_columns(spec, frame, known, where)
    rng = row_rng(words)
    if isinstance(spec, Reorder):
        order = _generic.reorder(spec, frame, cols, rng)
        moved = [str(c) for c, o in zip(frame.columns, order, strict=True) if c != o]
        note = ("fewer than 2 columns to reorder, order unchanged" if not moved
                else f"column order: {', '.join(map(str, order))}")
        return Perturbed(frame[order], np.full(n, bool(moved)), moved, note=note)
    rows = select_rows(n, spec.fraction, rng)
    if isinstance(spec, Unseen):
        eff = _categorical.unseen(spec, frame, cols, rows, words, where=where)
    else:
        eff = _KINDS[type(spec)](spec, frame, cols, rows, words)  # type: ignore[operator]
    return _assemble(frame, eff, rows)


def _assemble(frame: pd.DataFrame, eff: Effect, rows: np.ndarray) -> Perturbed:
    """The perturbed frame and its changed rows; every kind writes only at ``rows``, so only
    those are compared."""
    out = frame.copy(deep=False)
    n = len(frame)
    changed = np.zeros(n, dtype=bool)
    touched = []
    for c, s in eff.columns.items():
        if len(rows) == n:
            d = differs(frame[c], s)
        else:
            d = np.zeros(n, dtype=bool)
            d[rows] = differs(frame[c].iloc[rows], s.iloc[rows])
        if d.any():
            touched.append(c)
            changed |= d
        out[c] = s
    head = f"{len(rows)} of {n} rows selected, {int(changed.sum())} changed"
    return Perturbed(out, changed, touched, note="; ".join([head, *eff.notes]))
