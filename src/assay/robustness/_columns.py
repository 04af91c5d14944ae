"""Column types for perturbations, and which columns a perturbation spec selects.

A column is ``numeric`` (numbers, not booleans), ``categorical`` (booleans, pandas
categoricals, short strings), ``text`` (strings listed as text, or averaging more than
three words per value over the first 2,000 present values) or ``other`` (datetimes, durations, mixed objects).
"""

from __future__ import annotations

from collections.abc import Sequence
from difflib import get_close_matches
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import (
    is_bool_dtype,
    is_complex_dtype,
    is_numeric_dtype,
    is_string_dtype,
)

from assay._errors import InputError, SpecError

#: a string column averaging more words than this per value is free text
TEXT_WORDS = 3.0
#: the average is taken over this many present values (the first ones)
TEXT_SAMPLE = 2000

#: what each column type can be perturbed with, for error messages
SUGGEST = {
    "numeric": "noise, missing, out_of_range, boundary, scale or shuffle",
    "categorical": "swap, unseen, missing or shuffle (typos/case/whitespace/char_noise on strings)",
    "text": "typos, case, whitespace, char_noise, missing or shuffle",
    "other": "missing or shuffle",
}


def _string_values(s: pd.Series) -> bool:
    """Whether every present value is a ``str`` (string dtypes, object, categoricals)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = s.dtype.categories
        return bool(is_string_dtype(cats.dtype) or all(isinstance(v, str) for v in cats))
    if is_string_dtype(s.dtype) and not s.dtype == object:
        return True
    if s.dtype == object:
        present = s[s.notna()]
        return bool(present.map(type).eq(str).all())
    return False


def is_string_column(s: pd.Series) -> bool:
    """Whether the column holds strings (what the text perturbations need)."""
    return _string_values(s)


def _mean_words(s: pd.Series) -> float:
    present = s[s.notna()].iloc[:TEXT_SAMPLE]
    if present.empty:
        return 0.0
    return float(present.astype(str).str.count(r"\S+").mean())


def _kind(s: pd.Series, as_text: bool) -> str:
    dt = s.dtype
    if is_bool_dtype(dt):
        return "categorical"
    if isinstance(dt, pd.CategoricalDtype):
        return "text" if as_text and _string_values(s) else "categorical"
    if is_numeric_dtype(dt):
        return "other" if is_complex_dtype(dt) else "numeric"
    if is_string_dtype(dt) or dt == np.dtype(object):
        if not _string_values(s):
            present = s[s.notna()]
            if len(present) and present.map(lambda v: isinstance(v, bool | np.bool_)).all():
                return "categorical"
            return "other"
        if as_text or _mean_words(s) > TEXT_WORDS:
            return "text"
        return "categorical"
    return "other"


def check_frame(frame: pd.DataFrame) -> None:
    """Column names must be unique for a column to be perturbed by name."""
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"perturbations need a pandas DataFrame, got {type(frame).__name__}")
    dup = frame.columns[frame.columns.duplicated()].unique().tolist()
    if dup:
        raise InputError(f"the frame has duplicated column names ({', '.join(map(str, dup))}); "
                         "rename them before perturbing")


def column_kinds(frame: pd.DataFrame, text: Sequence[str] = ()) -> dict[str, str]:
    """Each column's type for perturbations: numeric, categorical, text or other.

    Booleans are categorical; a string column is text when listed in ``text`` or when its
    values average more than three words; datetimes are other.
    """
    check_frame(frame)
    cols = list(frame.columns)
    for c in text:
        if c not in cols:
            raise SpecError(f"text column {c!r} is not in the data; available: {', '.join(map(str, cols))}")
        if not _string_values(frame[c]):
            raise SpecError(f"text column {c!r} holds {frame[c].dtype} values, not strings; "
                            "remove it from the text columns")
    wanted = set(text)
    return {c: _kind(frame[c], c in wanted) for c in cols}


def resolve_columns(spec: Any, frame: pd.DataFrame, kinds: dict[str, str], where: str) -> list[str]:
    """The columns a perturbation works on, in frame order for ``types`` selections and in
    spec order for named ones; errors name ``where``, the column, its type and the fix."""
    kind = str(spec.kind)
    label = str(spec.label)
    allowed: tuple[str, ...] = spec.allowed
    named: list[str] | None = spec.columns
    cols = list(frame.columns)
    if named is not None:
        for c in named:
            if c not in kinds:
                close = get_close_matches(c, [str(x) for x in cols], n=3)
                hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
                raise SpecError(f"{where} ({label}): column {c!r} is not in the data.{hint} "
                                f"Available: {', '.join(map(str, cols))}")
            if kinds[c] not in allowed:
                raise SpecError(
                    f"{where} ({label}): column {c!r} is {kinds[c]} ({frame[c].dtype}); {kind} needs a "
                    f"{' or '.join(allowed)} column. Remove {c!r} from 'columns' or perturb it with "
                    f"{SUGGEST[kinds[c]]}.")
            if kind in ("typos", "case", "whitespace", "char_noise") and not is_string_column(frame[c]):
                raise SpecError(f"{where} ({label}): column {c!r} is {kinds[c]} ({frame[c].dtype}) "
                                f"without string values; {kind} needs strings. Remove {c!r} from "
                                f"'columns' or perturb it with {SUGGEST[kinds[c]]}.")
        return list(named)
    types = tuple(spec.types or spec.default_types)
    chosen = [c for c in cols if kinds.get(c) in types]
    if kind in ("typos", "case", "whitespace", "char_noise"):
        chosen = [c for c in chosen if is_string_column(frame[c])]
    if not chosen:
        have = ", ".join(f"{c} ({kinds.get(c)})" for c in cols) or "none"
        raise SpecError(f"{where} ({label}): no {'/'.join(types)} column in the data for {kind}. "
                        f"Columns: {have}. Name the columns with 'columns' or remove the perturbation.")
    return chosen
