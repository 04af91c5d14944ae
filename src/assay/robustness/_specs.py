"""Perturbation specs: what to do to which columns, validated at the boundary.

Every perturbation is a frozen pydantic model with a ``kind`` tag, so a spec list reads
``- {kind: noise, columns: [income], scale: 0.1}``. All kinds share ``name`` (default: a
label from kind, columns and parameters), ``columns`` or ``types`` (which columns; neither
= the kind's natural default, e.g. every numeric column for noise) and ``fraction`` (the
share of rows touched; the default depends on the kind).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ColumnType = Literal["numeric", "categorical", "text"]
ALL_TYPES: tuple[str, ...] = ("numeric", "categorical", "text", "other")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Base(_Strict):
    """Fields every perturbation has."""

    #: types a column may have for this kind, and the types selected when neither
    #: ``columns`` nor ``types`` is given
    allowed: ClassVar[tuple[str, ...]] = ALL_TYPES
    default_types: ClassVar[tuple[str, ...]] = ALL_TYPES

    name: str | None = Field(default=None, min_length=1)
    columns: list[str] | None = Field(default=None, min_length=1)
    types: list[ColumnType] | None = Field(default=None, min_length=1)
    fraction: float = Field(default=1.0, gt=0.0, le=1.0)

    @model_validator(mode="after")
    def _one_selector(self) -> Any:
        if self.columns is not None and self.types is not None:
            raise ValueError("give 'columns' or 'types', not both")
        if self.types is not None and self.allowed:
            bad = [t for t in self.types if t not in self.allowed]
            if bad:
                raise ValueError(f"{self.kind_name} works on {', '.join(self.allowed)} columns; "  # type: ignore[attr-defined]
                                 f"'types' has {', '.join(bad)}")
        if self.columns is not None:
            dup = sorted({c for c in self.columns if self.columns.count(c) > 1})
            if dup:
                raise ValueError(f"'columns' repeats {', '.join(dup)}")
        return self

    @property
    def kind_name(self) -> str:
        return str(self.kind)  # type: ignore[attr-defined]

    def _target(self) -> str:
        if self.columns is not None:
            return ", ".join(self.columns)
        types = self.types if self.types is not None else self.default_types
        return "all" if tuple(types) == ALL_TYPES else "/".join(types)

    def _detail(self) -> str:
        return ""

    @property
    def label(self) -> str:
        """The perturbation's name: ``name`` or e.g. ``noise(income, loan_amount) x0.1``."""
        if self.name:
            return self.name
        out = f"{self.kind_name}({self._target()})"
        detail = self._detail()
        if detail:
            out += f" {detail}"
        if self.fraction < 1.0:
            out += f", {_pct(self.fraction)} of rows"
        return out


def _pct(x: float) -> str:
    return f"{x * 100:g}%"


def _finite(v: float | None, key: str) -> float | None:
    if v is not None and not math.isfinite(v):
        raise ValueError(f"'{key}' must be a finite number, got {v}")
    return v


class Bounds(_Strict):
    """Declared limits of a numeric feature, used instead of the observed min and max."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Bounds:
        if self.min is None and self.max is None:
            raise ValueError("bounds need 'min', 'max' or both")
        for key in ("min", "max"):
            _finite(getattr(self, key), key)
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise ValueError(f"bounds: min ({self.min:g}) must be below max ({self.max:g})")
        return self


class Noise(_Base):
    """Gaussian noise with sd = ``scale`` x the column's robust spread (IQR / 1.349)."""

    allowed: ClassVar[tuple[str, ...]] = ("numeric",)
    default_types: ClassVar[tuple[str, ...]] = ("numeric",)
    kind: Literal["noise"] = "noise"
    scale: float = Field(default=0.1, gt=0.0)
    #: integer columns stay integers (the noisy values are rounded)
    keep_integers: bool = True

    def _detail(self) -> str:
        return f"x{self.scale:g}"


class Missing(_Base):
    """Set values to missing (NaN, None or NA, whatever the column holds)."""

    kind: Literal["missing"] = "missing"
    fraction: float = Field(default=0.1, gt=0.0, le=1.0)


class Swap(_Base):
    """Replace categorical values by a different observed value, drawn by frequency."""

    allowed: ClassVar[tuple[str, ...]] = ("categorical", "text")
    default_types: ClassVar[tuple[str, ...]] = ("categorical",)
    kind: Literal["swap"] = "swap"
    fraction: float = Field(default=0.1, gt=0.0, le=1.0)


class Unseen(_Base):
    """Replace categorical values by a value the model has never seen."""

    allowed: ClassVar[tuple[str, ...]] = ("categorical", "text")
    default_types: ClassVar[tuple[str, ...]] = ("categorical",)
    kind: Literal["unseen"] = "unseen"
    fraction: float = Field(default=0.1, gt=0.0, le=1.0)
    value: str | int | float = "__unseen__"

    def _detail(self) -> str:
        return "" if self.value == "__unseen__" else f"= {self.value!r}"


class OutOfRange(_Base):
    """Move numeric values outside the observed (or declared) range: between ``beyond`` and
    2 x ``beyond`` ranges past the minimum or the maximum."""

    allowed: ClassVar[tuple[str, ...]] = ("numeric",)
    default_types: ClassVar[tuple[str, ...]] = ("numeric",)
    kind: Literal["out_of_range"] = "out_of_range"
    fraction: float = Field(default=0.1, gt=0.0, le=1.0)
    side: Literal["both", "low", "high"] = "both"
    beyond: float = Field(default=0.5, gt=0.0)
    bounds: Bounds | None = None

    def _detail(self) -> str:
        return f"{self.side} +{self.beyond:g} range"


class Boundary(_Base):
    """Set numeric values to the observed (or declared) minimum or maximum."""

    allowed: ClassVar[tuple[str, ...]] = ("numeric",)
    default_types: ClassVar[tuple[str, ...]] = ("numeric",)
    kind: Literal["boundary"] = "boundary"
    fraction: float = Field(default=0.1, gt=0.0, le=1.0)
    side: Literal["both", "low", "high"] = "both"
    bounds: Bounds | None = None

    def _detail(self) -> str:
        return "" if self.side == "both" else self.side


class Scale(_Base):
    """Multiply numeric values by ``factor`` (a unit error: x10, x0.1, x1000)."""

    allowed: ClassVar[tuple[str, ...]] = ("numeric",)
    default_types: ClassVar[tuple[str, ...]] = ("numeric",)
    kind: Literal["scale"] = "scale"
    factor: float

    @field_validator("factor")
    @classmethod
    def _useful(cls, v: float) -> float:
        _finite(v, "factor")
        if v in (0.0, 1.0):
            raise ValueError(f"a scale factor of {v:g} is not a unit error; use e.g. 10 or 0.1")
        return v

    def _detail(self) -> str:
        return f"x{self.factor:g}"


class Shuffle(_Base):
    """Permute each column's values among the selected rows (independently per column)."""

    kind: Literal["shuffle"] = "shuffle"


class Reorder(_Base):
    """Permute the frame's column order; the rows are untouched."""

    kind: Literal["reorder"] = "reorder"

    @field_validator("fraction")
    @classmethod
    def _all_rows(cls, v: float) -> float:
        if v != 1.0:
            raise ValueError("reorder changes the column order of every row; remove 'fraction'")
        return v


class Shift(_Base):
    """A distribution shift on the cohort ``where`` (a DuckDB SQL condition): row weights
    (``reweight``) or a resample with replacement (``resample``)."""

    allowed: ClassVar[tuple[str, ...]] = ()
    default_types: ClassVar[tuple[str, ...]] = ()
    kind: Literal["shift"] = "shift"
    where: str = Field(min_length=1)
    mode: Literal["reweight", "resample"] = "reweight"
    #: cohort rows weigh (or are drawn) ``factor`` times as much as the others
    factor: float | None = Field(default=None, gt=0.0)
    #: or: the cohort's expected (weighted or resampled) share of the rows
    share: float | None = Field(default=None, gt=0.0, lt=1.0)
    #: rows drawn by ``resample`` (default: as many as the frame has)
    n: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_strength(self) -> Shift:
        if (self.factor is None) == (self.share is None):
            raise ValueError("a shift needs exactly one of 'factor' (e.g. 3) or 'share' (e.g. 0.5)")
        _finite(self.factor, "factor")
        if self.columns is not None or self.types is not None:
            raise ValueError("a shift selects rows with 'where'; remove 'columns'/'types'")
        if self.fraction != 1.0:
            raise ValueError("a shift selects rows with 'where'; remove 'fraction'")
        if self.n is not None and self.mode != "resample":
            raise ValueError("'n' is the number of rows drawn by mode: resample")
        return self

    def _target(self) -> str:
        return self.where

    def _detail(self) -> str:
        how = f"x{self.factor:g}" if self.factor is not None else f"share {self.share:g}"
        return f"{self.mode} {how}"


class _TextBase(_Base):
    allowed: ClassVar[tuple[str, ...]] = ("text", "categorical")
    default_types: ClassVar[tuple[str, ...]] = ("text",)


class Typos(_TextBase):
    """Typos in ``rate`` of the words (runs of two or more letters): swap two adjacent
    letters, drop a letter, double a letter or hit a QWERTY neighbour."""

    kind: Literal["typos"] = "typos"
    rate: float = Field(default=0.05, gt=0.0, le=1.0)

    def _detail(self) -> str:
        return f"{_pct(self.rate)} of words"


class CaseChange(_TextBase):
    """Change the letter case: upper, lower, title, or random per character."""

    kind: Literal["case"] = "case"
    mode: Literal["upper", "lower", "title", "random"] = "random"

    def _detail(self) -> str:
        return self.mode


class Whitespace(_TextBase):
    """Extra whitespace: after each whitespace character with probability ``rate`` one
    more (space, tab or newline), and a leading and a trailing space, each with probability
    ``rate``."""

    kind: Literal["whitespace"] = "whitespace"
    rate: float = Field(default=0.1, gt=0.0, le=1.0)

    def _detail(self) -> str:
        return _pct(self.rate)


class CharNoise(_TextBase):
    """Insert, delete or replace random characters, at ``rate`` per character."""

    kind: Literal["char_noise"] = "char_noise"
    rate: float = Field(default=0.02, gt=0.0, le=1.0)

    def _detail(self) -> str:
        return f"{_pct(self.rate)} of chars"


Perturbation = Annotated[
    Noise | Missing | Swap | Unseen | OutOfRange | Boundary | Scale | Shuffle | Reorder | Shift
    | Typos | CaseChange | Whitespace | CharNoise,
    Field(discriminator="kind"),
]

#: every perturbation class by its ``kind``
PERTURBATIONS: dict[str, type[_Base]] = {
    cls.model_fields["kind"].default: cls
    for cls in (Noise, Missing, Swap, Unseen, OutOfRange, Boundary, Scale, Shuffle, Reorder, Shift,
                Typos, CaseChange, Whitespace, CharNoise)
}


def perturbation_label(spec: Any) -> str:
    """The name of a perturbation in reports and gates (and the key its seed derives from)."""
    return str(spec.label)
