"""The ``quality:`` section of a spec: which data-quality checks run and their thresholds.

Every threshold has a default (see each field); shares are fractions of rows in [0, 1] and a
status is reached when the observed share is *above* its threshold, so ``warn: 0`` means
"any". Check names (``checks:``, and the ``quality`` gate rule) are the rows' ``check``
values or a family that names several of them (``duplicates``, ``freshness``, ``leakage``).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from difflib import get_close_matches
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer, model_validator

#: every check, in the order its rows appear in the quality table
CHECKS = ("rows", "schema", "nulls", "ranges", "categories", "duplicate_ids", "duplicate_rows",
          "labels", "freshness", "future_timestamps", "leakage_rows", "leakage_ids")
#: names that stand for several checks
FAMILIES = {"duplicates": ("duplicate_ids", "duplicate_rows"),
            "freshness": ("freshness", "future_timestamps"),
            "leakage": ("leakage_rows", "leakage_ids")}
#: ``max_age`` units, in seconds
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def expand_checks(names: list[str] | str, where: str) -> list[str]:
    """Check names (families expanded) in table order; unknown names raise ``ValueError``
    with the allowed ones and the closest match."""
    if names == "all":
        return list(CHECKS)
    allowed = list(dict.fromkeys([*CHECKS, *FAMILIES]))
    out: set[str] = set()
    for name in names:
        if name in FAMILIES:
            out.update(FAMILIES[name])
        elif name in CHECKS:
            out.add(name)
        else:
            close = get_close_matches(str(name), allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"{where}unknown check {name!r}{hint}. Allowed: {', '.join(allowed)}, "
                             "or 'all'")
    return [c for c in CHECKS if c in out]


def parse_age(text: str) -> timedelta:
    """``"7d"``, ``"12h"``, ``"30m"``, ``"90s"``, ``"2w"`` (a number and one unit) as a timedelta."""
    m = _AGE.match(str(text))
    if not m:
        raise ValueError(f"max_age {text!r} is not an age; give a number and a unit s, m, h, d or w "
                         "(e.g. 7d, 12h, 90m)")
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])


def utc(value: datetime | date) -> datetime:
    """A date (midnight) or datetime as an aware UTC datetime; naive times are taken as UTC."""
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Shares(_Strict):
    """Share thresholds: ``warn`` above the first, ``fail`` above the second."""

    warn: float = Field(default=0.0, ge=0.0, le=1.0)
    fail: float = Field(default=0.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> _Shares:
        if self.warn > self.fail:
            raise ValueError(f"warn ({self.warn:g}) must not be above fail ({self.fail:g})")
        return self


class NullThresholds(_Shares):
    """Missing values (null, and NaN in float columns) as a share of all rows."""

    warn: float = Field(default=0.05, ge=0.0, le=1.0)
    fail: float = Field(default=0.5, ge=0.0, le=1.0)


class NullSpec(NullThresholds):
    """Null-rate thresholds for every column, with per-column overrides."""

    columns: dict[str, NullThresholds] = Field(default_factory=dict)

    def for_column(self, column: str) -> NullThresholds:
        return self.columns.get(column, self)


class RangeSpec(_Shares):
    """Allowed values ``[min, max]`` (either may be open) of a numeric or temporal column;
    the share of non-missing values outside it warns / fails above ``warn`` / ``fail``
    (default: any value outside fails). Temporal bounds are ISO dates or times."""

    min: float | str | None = None
    max: float | str | None = None

    @field_validator("min", "max", mode="before")
    @classmethod
    def _iso(cls, v: Any) -> Any:
        return v.isoformat() if isinstance(v, date | datetime) else v

    @model_validator(mode="after")
    def _a_bound(self) -> RangeSpec:
        if self.min is None and self.max is None:
            raise ValueError("a range needs 'min' or 'max' (or both)")
        both = self.min is not None and self.max is not None
        if both and type(self.min) is type(self.max) and self.min > self.max:  # type: ignore[operator]
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self

    def describe(self) -> str:
        lo = "-inf" if self.min is None else f"{self.min:g}" if isinstance(self.min, float) else self.min
        hi = "inf" if self.max is None else f"{self.max:g}" if isinstance(self.max, float) else self.max
        return f"[{lo}, {hi}]"


class CategorySpec(_Shares):
    """The allowed values of a categorical column (compared as text); the share of
    non-missing values outside them warns / fails above ``warn`` / ``fail`` (default: any
    unseen value fails). A plain list is shorthand for ``{values: [...]}``."""

    values: list[Any] = Field(min_length=1)

    @property
    def texts(self) -> list[str]:
        """The allowed values as DuckDB prints them (``true``, ``1``, ``1.5``, ``north``)."""
        return [("true" if v else "false") if isinstance(v, bool) else str(v) for v in self.values]


class DuplicateSpec(_Strict):
    """Repeated ids (every id must be unique) and repeated rows (the same values in every
    ``columns``, by default all columns but the id)."""

    ids: Literal["fail", "warn", "off"] = "fail"
    #: share of rows that repeat an earlier row: warn above it
    rows_warn: float = Field(default=0.0, ge=0.0, le=1.0)
    #: ... and fail above this one (default: never)
    rows_fail: float | None = Field(default=None, ge=0.0, le=1.0)
    columns: list[str] | None = Field(default=None, min_length=1)


class LabelSpec(_Strict):
    """The label's class distribution: one class fails; a class below ``min_class_share`` of
    the labelled rows warns (its metrics get wide intervals)."""

    min_class_share: float = Field(default=0.01, ge=0.0, le=1.0)


class FreshnessSpec(_Strict):
    """The newest value of a timestamp column (DATE, TIMESTAMP, TIMESTAMPTZ, or ISO text) must
    be at most ``max_age`` before ``as_of``; timestamps after ``as_of`` are flagged too.
    Naive timestamps and dates (at midnight) are read as UTC."""

    column: str = Field(min_length=1)
    max_age: str = "7d"
    #: rows with timestamps after as_of: warn, fail, or not checked
    future: Literal["warn", "fail", "off"] = "warn"

    @field_validator("max_age", mode="before")
    @classmethod
    def _age(cls, v: Any) -> str:
        parse_age(str(v))
        return str(v).strip()

    @property
    def age(self) -> timedelta:
        return parse_age(self.max_age)


class LeakageSpec(_Strict):
    """Rows of the evaluation set that also occur in the training file: the same values in
    ``columns`` (default: every column both files have but the id, label, weight and model
    columns), and, when both files have the id column, the same ids. Fails above
    ``max_share`` (default: any overlap)."""

    #: the training file (Parquet, CSV or JSONL), relative to the spec's folder
    train: str = Field(min_length=1)
    format: Literal["parquet", "csv", "jsonl"] | None = None
    columns: list[str] | None = Field(default=None, min_length=1)
    max_share: float = Field(default=0.0, ge=0.0, le=1.0)
    ids: bool = True


def check_names(v: Any) -> Any:
    """A ``checks`` value: "all", or check and family names (one name alone is a list);
    unknown names fail with the valid ones."""
    if isinstance(v, str) and v != "all":
        v = [v]
    if isinstance(v, list | tuple):
        if not v:
            raise ValueError("give at least one check name, or 'all'")
        expand_checks(list(v), "")
    return v


class QualitySpec(_Strict):
    """Data-quality checks run before any metric (``assay check`` runs them alone).

    ``schema`` is the expected column -> DuckDB type mapping; without it the data card of
    the same dataset name in the run store is the expectation (see ``assay.quality``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    enabled: bool = True
    #: which checks run: "all", or check names and families (duplicates, freshness, leakage)
    checks: Literal["all"] | list[str] = "all"
    #: the time freshness is judged at (default: when the checks run); naive = UTC
    as_of: datetime | None = None
    expected_schema: dict[str, str] | None = Field(default=None, alias="schema")
    #: fewer rows than this fails
    min_rows: int = Field(default=1, ge=0)
    nulls: NullSpec = Field(default_factory=NullSpec)
    ranges: dict[str, RangeSpec] = Field(default_factory=dict)
    categories: dict[str, CategorySpec] = Field(default_factory=dict)
    duplicates: DuplicateSpec = Field(default_factory=DuplicateSpec)
    labels: LabelSpec = Field(default_factory=LabelSpec)
    freshness: FreshnessSpec | None = None
    leakage: LeakageSpec | None = None

    @model_serializer(mode="wrap")
    def _schema_key(self, handler: Any) -> dict[str, Any]:
        """Write ``schema`` (the YAML key), not the attribute name, so a dump parses back."""
        out = handler(self)
        if "expected_schema" in out:
            out["schema"] = out.pop("expected_schema")
        return out

    @field_validator("as_of", mode="before")
    @classmethod
    def _as_of(cls, v: Any) -> Any:
        if isinstance(v, date | datetime):
            return utc(v)
        return v

    @field_validator("as_of")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        return None if v is None else utc(v)

    @field_validator("checks", mode="before")
    @classmethod
    def _check_names(cls, v: Any) -> Any:
        return check_names(v)

    @field_validator("categories", mode="before")
    @classmethod
    def _category_lists(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {k: {"values": x} if isinstance(x, list | tuple) else x for k, x in v.items()}
        return v

    @property
    def selected(self) -> list[str]:
        """The checks that run, in table order."""
        return expand_checks(self.checks, "quality.checks: ")
