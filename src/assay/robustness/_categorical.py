"""Categorical perturbations: swaps to another observed value, and unseen values.

swap: a row holding value i gets value j != i with probability c_j / (N - c_i), where c
counts each value in the column (missing values excluded): draw an integer u uniformly
from [0, N - c_i), skip i's block of the cumulative counts, and look the value up with a
binary search. Exact and vectorised; a column with a single value cannot be swapped.

Missing values stay missing in both kinds (counted in the note).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from assay._errors import SpecError
from assay.robustness._specs import Swap, Unseen
from assay.robustness._util import Effect, column_rng, replace_at


def _factorize(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes (-1 for missing) and the distinct values, sorted when they can be."""
    try:
        codes, uniques = pd.factorize(s, sort=True)
    except TypeError:
        codes, uniques = pd.factorize(s, sort=False)
    return np.asarray(codes), np.asarray(uniques, dtype=object)


def draw_other(codes: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each code i, a code j != i drawn with probability counts[j] / (sum - counts[i])."""
    ends = np.cumsum(counts)
    starts = ends - counts
    own = counts[codes]
    u = rng.integers(0, ends[-1] - own)
    u = np.where(u >= starts[codes], u + own, u)
    return np.searchsorted(ends, u, side="right")


def _present(s: pd.Series, rows: np.ndarray, column: str, notes: list[str]) -> np.ndarray:
    miss = np.asarray(s.iloc[rows].isna(), dtype=bool)
    if miss.any():
        notes.append(f"{column}: {int(miss.sum())} selected value(s) missing, left missing")
    return rows[~miss]


def swap(spec: Swap, frame: pd.DataFrame, cols: list[str], rows: np.ndarray,
        words: list[int]) -> Effect:
    """Each selected value replaced by a different observed value, drawn by frequency."""
    eff = Effect()
    for c in cols:
        s = frame[c]
        codes, uniques = _factorize(s)
        if len(uniques) < 2:
            eff.notes.append(f"{c}: fewer than 2 distinct values, cannot swap, untouched")
            continue
        counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
        pos = _present(s, rows, c, eff.notes)
        rng = column_rng(words, c)
        new = draw_other(codes[pos], counts, rng)
        out, note = replace_at(s, pos, uniques[new])
        eff.columns[c] = out
        if note:
            eff.notes.append(note)
    return eff


def unseen(spec: Unseen, frame: pd.DataFrame, cols: list[str], rows: np.ndarray, words: list[int],
           where: str = "") -> Effect:
    """Each selected value replaced by ``spec.value``, which must not occur in the column."""
    eff = Effect()
    for c in cols:
        s = frame[c]
        present = s[s.notna()]
        occurs = bool(present.astype(object).eq(spec.value).any()) if len(present) else False
        if occurs:
            raise SpecError(f"{where} ({spec.label}): the value {spec.value!r} already occurs in column "
                            f"{c!r}, so it is not unseen; set 'value' to one the column lacks")
        pos = _present(s, rows, c, eff.notes)
        out, note = replace_at(s, pos, np.full(len(pos), spec.value, dtype=object))
        eff.columns[c] = out
        if note:
            eff.notes.append(note)
    return eff
