"""Behavioural tests: invariance and directional expectations, checked row by row.

An invariance test perturbs the rows and expects each prediction to move by at most
``tolerance`` (the largest absolute change over the class probabilities for (n, k)
predictions). A directional test edits one column (``add``, ``multiply`` or ``set``) and
expects the prediction (of ``class`` for multiclass) to move one way: with
delta = after - before, ``increase`` fails when delta <= tolerance, ``decrease`` when
delta >= -tolerance, ``not_increase`` when delta > tolerance and ``not_decrease`` when
delta < -tolerance.

Only rows the edit really changed are checked; rows with an invalid (errored) or
non-finite prediction and unchanged rows are counted in ``excluded``. The failure rate gets
a Wilson interval; the test passes when the observed rate is at most ``max_failure_rate``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from assay._errors import InputError, SpecError
from assay.robustness._columns import check_frame, column_kinds
from assay.robustness._perturb import Perturbed, apply_perturbation
from assay.robustness._specs import Perturbation
from assay.robustness._util import differs, float_values, numeric_assign, replace_at
from assay.stats import wilson_interval


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True)


class InvarianceTest(_Strict):
    """The prediction should not move by more than ``tolerance`` under ``perturbation``."""

    kind: Literal["invariance"] = "invariance"
    name: str = Field(min_length=1)
    perturbation: Perturbation
    #: largest allowed absolute change of the prediction
    tolerance: float = Field(default=0.0, ge=0.0)
    #: the test passes when at most this share of the checked rows fails
    max_failure_rate: float = Field(default=0.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _edits_values(self) -> InvarianceTest:
        if self.perturbation.kind == "shift":
            raise ValueError("an invariance test needs a perturbation that edits values; a shift "
                             "changes row weights, not rows")
        return self


class DirectionalChange(_Strict):
    """One edit of a column: ``{add: 1000}``, ``{multiply: 1.1}`` or ``{set: value}``."""

    add: float | None = None
    multiply: float | None = None
    set: str | bool | int | float | None = None

    @model_validator(mode="after")
    def _one_edit(self) -> DirectionalChange:
        given = [k for k in ("add", "multiply", "set") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a change needs exactly one of 'add', 'multiply' or 'set' (with a value)")
        for key in ("add", "multiply"):
            v = getattr(self, key)
            if v is not None and not math.isfinite(v):
                raise ValueError(f"'{key}' needs a finite number")
        return self

    @property
    def label(self) -> str:
        if self.add is not None:
            return f"{self.add:+g}"
        if self.multiply is not None:
            return f"x{self.multiply:g}"
        return f"= {self.set!r}"


class DirectionalTest(_Strict):
    """Editing ``column`` should move the prediction as ``expect`` says."""

    kind: Literal["directional"] = "directional"
    name: str = Field(min_length=1)
    column: str = Field(min_length=1)
    change: DirectionalChange
    expect: Literal["increase", "decrease", "not_increase", "not_decrease"]
    tolerance: float = Field(default=0.0, ge=0.0)
    max_failure_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    #: multiclass: the class whose probability is checked (a label, or a column index)
    class_: str | int | None = Field(default=None, alias="class")


BehaviourTest = Annotated[InvarianceTest | DirectionalTest, Field(discriminator="kind")]


@dataclass
class BehaviourResult:
    """The outcome of one behavioural test on one model."""

    name: str
    kind: str
    #: rows checked: valid, finite and changed by the edit
    n: int
    failures: int
    failure_rate: float
    ci_low: float
    ci_high: float
    passed: bool
    #: per input row: checked and failed
    failed: np.ndarray
    #: failed rows, largest |after - before| first (ties: lower row first)
    order: np.ndarray
    #: per input row: the checked change (invariance: the largest absolute change; directional:
    #: after - before), NaN where not checked
    delta: np.ndarray
    #: rows not checked, by reason: invalid (the model failed), non_finite, unchanged
    excluded: dict[str, int] = field(default_factory=dict)
    note: str = ""


def behaviour_frame(test: InvarianceTest | DirectionalTest, frame: pd.DataFrame, seed: int | Sequence[int],
                    kinds: dict[str, str] | None = None, where: str = "stress.tests[0]") -> Perturbed:
    """The frame the model predicts on for ``test`` (perturbed or edited), with the rows the
    edit changed."""
    if isinstance(test, InvarianceTest):
        return apply_perturbation(test.perturbation, frame, seed, kinds=kinds, where=f"{where}.perturbation")
    return _directional_frame(test, frame, kinds, where)


def _directional_frame(test: DirectionalTest, frame: pd.DataFrame, kinds: dict[str, str] | None,
                       where: str) -> Perturbed:
    check_frame(frame)
    col = test.column
    if col not in frame.columns:
        raise SpecError(f"{where} ({test.name}): column {col!r} is not in the data. "
                        f"Available: {', '.join(map(str, frame.columns))}")
    kind = (kinds or {}).get(col) or column_kinds(frame[[col]])[col]
    s = frame[col]
    ch = test.change
    n = len(frame)
    arithmetic = ch.set is None
    if arithmetic and kind != "numeric":
        op = "add" if ch.add is not None else "multiply"
        raise SpecError(f"{where} ({test.name}): 'change: {{{op}: ...}}' needs a numeric column; {col!r} is "
                        f"{kind} ({s.dtype}). Use 'change: {{set: value}}'")
    note = None
    if arithmetic:
        x = float_values(s)
        pos = np.flatnonzero(np.isfinite(x))
        new = x[pos] + ch.add if ch.add is not None else x[pos] * float(ch.multiply)  # type: ignore[arg-type]
        out, note = numeric_assign(s, pos, new)
    elif kind == "numeric":
        if isinstance(ch.set, bool) or not isinstance(ch.set, int | float):
            raise SpecError(f"{where} ({test.name}): column {col!r} is numeric ({s.dtype}); "
                            f"'set: {ch.set!r}' needs a number")
        out, note = numeric_assign(s, np.arange(n), np.full(n, float(ch.set)))
    else:
        out, note = replace_at(s, np.arange(n), np.full(n, ch.set, dtype=object))
    changed = differs(s, out)
    edited = frame.copy(deep=False)
    edited[col] = out
    text = f"{col} {ch.label}: {int(changed.sum())} of {n} rows changed"
    return Perturbed(edited, changed, [col] if changed.any() else [],
                     note=f"{text}; {note}" if note else text)


def _class_index(test: DirectionalTest, k: int, classes: Sequence[Any] | None) -> int:
    c = test.class_
    if c is None:
        raise SpecError(f"directional test {test.name!r}: the predictions have {k} classes; say which "
                        "class's probability to check with 'class'")
    if classes is not None:
        for i, v in enumerate(classes):
            if v == c or str(v) == str(c):
                return i
        raise SpecError(f"directional test {test.name!r}: class {c!r} is not one of "
                        f"{', '.join(map(repr, classes))}")
    if isinstance(c, int) and 0 <= c < k:
        return c
    raise SpecError(f"directional test {test.name!r}: class {c!r} needs the class list (or a column "
                    f"index below {k})")


def _mask(x: np.ndarray | None, n: int, what: str) -> np.ndarray:
    if x is None:
        return np.ones(n, dtype=bool)
    m = np.asarray(x)
    if m.shape != (n,):
        raise InputError(f"check_behaviour: '{what}' has shape {m.shape}; expected ({n},)")
    return m.astype(bool)


def check_behaviour(test: InvarianceTest | DirectionalTest, before: np.ndarray, after: np.ndarray, *,
                    changed: np.ndarray | None = None, valid: np.ndarray | None = None,
                    classes: Sequence[Any] | None = None, confidence: float = 0.95) -> BehaviourResult:
    """Check ``test`` on predictions before and after the edit, row by row.

    ``changed`` (from :func:`behaviour_frame`) marks the rows the edit changed (default:
    all), ``valid`` the rows the model predicted on without error (default: all);
    ``classes`` names the columns of (n, k) predictions for a directional ``class``.
    """
    b = np.asarray(before, dtype=np.float64)
    a = np.asarray(after, dtype=np.float64)
    if b.shape != a.shape or b.ndim not in (1, 2):
        raise InputError(f"check_behaviour: predictions before {b.shape} and after {a.shape} must have "
                         "the same shape, (n,) or (n, k)")
    n_rows = b.shape[0]
    ok = _mask(valid, n_rows, "valid")
    edited = _mask(changed, n_rows, "changed")
    if isinstance(test, DirectionalTest):
        if b.ndim == 2:
            i = _class_index(test, b.shape[1], classes)
            b, a = b[:, i], a[:, i]
        elif test.class_ is not None:
            raise SpecError(f"directional test {test.name!r}: 'class' is for (n, k) class probabilities; "
                            "these predictions have one value per row, remove 'class'")
        finite = np.isfinite(a) & np.isfinite(b)
        d = a - b
        size = np.abs(d)
        tol = test.tolerance
        bad = {"increase": d <= tol, "decrease": d >= -tol,
               "not_increase": d > tol, "not_decrease": d < -tol}[test.expect]
    else:
        finite = np.isfinite(a) & np.isfinite(b)
        if finite.ndim == 2:
            finite = finite.all(axis=1)
        d = np.abs(a - b)
        d = d if d.ndim == 1 else d.max(axis=1)
        size = d
        bad = d > test.tolerance
    checked = ok & finite & edited
    excluded = {"invalid": int((~ok).sum()), "non_finite": int((ok & ~finite).sum()),
                "unchanged": int((ok & finite & ~edited).sum())}
    failed = checked & bad
    n, k = int(checked.sum()), int(failed.sum())
    idx = np.flatnonzero(failed)
    order = idx[np.lexsort((idx, -size[idx]))]
    delta = np.where(checked, d, np.nan)
    if n == 0:
        return BehaviourResult(test.name, test.kind, 0, 0, math.nan, math.nan, math.nan, False, failed,
                               order, delta, excluded, "no rows checked: the edit changed no row with a "
                               "valid prediction")
    rate = k / n
    ci = wilson_interval(rate, n, confidence)
    return BehaviourResult(test.name, test.kind, n, k, rate, ci.low, ci.high,
                           rate <= test.max_failure_rate, failed, order, delta, excluded)
