"""The monitor spec: which prediction log, how to cut it into windows, what the reference
is, which columns and metrics to watch, and the alert rules. YAML or Python, validated by
pydantic like the evaluation spec, with errors that name the key path."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from assay.drift import DriftConfig


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LogSpec(_Strict):
    """Where the prediction log is: Parquet/CSV/JSONL files (a glob), a table of a DuckDB
    database file, a PostgreSQL table, or a DuckDB SQL query over files."""

    path: str | None = None
    format: Literal["parquet", "csv", "jsonl"] | None = None
    duckdb: str | None = None  # a DuckDB database file; with ``table``
    postgres: str | None = None  # a PostgreSQL URL (postgresql://user@host:port/db); with ``table``
    table: str | None = None
    sql: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> LogSpec:
        given = [k for k in ("path", "duckdb", "postgres", "sql") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'path' (files, a glob), 'duckdb' (a database file, "
                             "with 'table'), 'postgres' (a URL, with 'table') or 'sql'")
        if given[0] in ("duckdb", "postgres") and not self.table:
            raise ValueError(f"'{given[0]}' needs 'table': the log table's name")
        return self


class WindowSpec(_Strict):
    """Fixed windows: calendar units of the timestamp (UTC) or a number of rows in time order."""

    every: Literal["hour", "day", "week", "month"] | None = None
    rows: int | None = Field(default=None, ge=10)

    @model_validator(mode="after")
    def _one(self) -> WindowSpec:
        if (self.every is None) == (self.rows is None):
            raise ValueError("a window is either 'every' (hour, day, week, month) or 'rows' (N rows)")
        return self

    @property
    def label(self) -> str:
        return self.every or f"{self.rows} rows"


class ReferenceSpec(_Strict):
    """What "normal" is: the first N windows of the log, the windows before a time, or a
    separate dataset (split into ``chunks`` in its order, or by the timestamp with the log's
    windows, to learn how much the statistics vary between normal periods)."""

    windows: int | None = Field(default=None, ge=2)
    until: str | None = None  # ISO time: windows starting before it are the reference
    path: str | None = None  # a separate reference dataset (Parquet/CSV/JSONL)
    format: Literal["parquet", "csv", "jsonl"] | None = None
    chunks: int | None = Field(default=None, ge=2, le=1000)

    @model_validator(mode="after")
    def _one(self) -> ReferenceSpec:
        given = [k for k in ("windows", "until", "path") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give one of 'windows' (the first N windows), 'until' (an ISO time) "
                             "or 'path' (a reference dataset)")
        return self


class LabelSpec(_Strict):
    """Labels that arrive later than the predictions, joined to the log on the id."""

    path: str | None = None
    format: Literal["parquet", "csv", "jsonl"] | None = None
    duckdb: str | None = None
    postgres: str | None = None
    table: str | None = None
    id: str | None = None  # default: the monitor's id
    column: str


class _AlertBase(_Strict):
    name: str | None = None
    severity: Literal["alert", "warn"] = "alert"


class DriftAlert(_AlertBase):
    """A column's drift statistic above a fixed ``max``, or above the reference band
    (mean + ``band`` SD over the reference windows; the default)."""

    rule: Literal["drift"]
    columns: Literal["all"] | list[str] = "all"
    #: default: each column's deciding statistic (see ``assay.drift``)
    statistic: Literal["default", "psi", "ks", "chi_square", "js_distance", "wasserstein"] = "default"
    max: float | None = None
    band: float | None = Field(default=None, gt=0)

    @property
    def label(self) -> str:
        what = "every column" if self.columns == "all" else ", ".join(self.columns)
        how = f"> {self.max:g}" if self.max is not None else f"above reference + {self.k:g} SD"
        return self.name or f"drift of {what} ({self.statistic}) {how}"

    @property
    def k(self) -> float:
        return self.band if self.band is not None else 3.0


class PerformanceAlert(_AlertBase):
    """A metric of a window below ``min`` / above ``max``, judged on its value or on an
    interval bound, or outside the reference band (``band`` SD from the reference windows)."""

    rule: Literal["performance"]
    metric: str
    min: float | None = None
    max: float | None = None
    band: float | None = Field(default=None, gt=0)
    judge: Literal["value", "ci_low", "ci_high"] = "ci_high"

    @model_validator(mode="after")
    def _a_bound(self) -> PerformanceAlert:
        if self.min is None and self.max is None and self.band is None:
            raise ValueError("a performance alert needs 'min', 'max' or 'band'")
        return self

    @property
    def label(self) -> str:
        parts = []
        if self.min is not None:
            parts.append(f">= {self.min:g}")
        if self.max is not None:
            parts.append(f"<= {self.max:g}")
        if self.band is not None:
            parts.append(f"within reference +/- {self.band:g} SD")
        return self.name or f"{self.metric} {' and '.join(parts)} (on {self.judge})"


class VolumeAlert(_AlertBase):
    """Rows per window below ``min_rows`` / above ``max_rows``, or outside the reference band."""

    rule: Literal["volume"]
    min_rows: int | None = Field(default=None, ge=0)
    max_rows: int | None = Field(default=None, ge=0)
    band: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _a_bound(self) -> VolumeAlert:
        if self.min_rows is None and self.max_rows is None and self.band is None:
            raise ValueError("a volume alert needs 'min_rows', 'max_rows' or 'band'")
        return self

    @property
    def label(self) -> str:
        return self.name or "rows per window"


class MissingAlert(_AlertBase):
    """The share of missing values of a column in a window above ``max``."""

    rule: Literal["missing"]
    columns: Literal["all"] | list[str] = "all"
    max: float = Field(ge=0.0, le=1.0)

    @property
    def label(self) -> str:
        return self.name or f"missing share <= {self.max:g}"


def _alert_kind(value: Any) -> str | None:
    if isinstance(value, _AlertBase):
        return value.rule  # type: ignore[attr-defined]
    if isinstance(value, dict):
        return value.get("rule")
    return None


AlertRule = Annotated[
    Annotated[DriftAlert, Tag("drift")] | Annotated[PerformanceAlert, Tag("performance")]
    | Annotated[VolumeAlert, Tag("volume")] | Annotated[MissingAlert, Tag("missing")],
    Discriminator(_alert_kind, custom_error_type="alert_kind",
                  custom_error_message="an alert needs 'rule': drift, performance, volume or missing"),
]


class MonitorSpec(_Strict):
    """A prediction-log monitor (see ``assay.monitor``)."""

    name: str = "monitor"
    log: LogSpec
    timestamp: str
    id: str | None = None
    window: WindowSpec = Field(default_factory=lambda: WindowSpec(every="day"))
    reference: ReferenceSpec
    #: monitored input columns (default: every log column but the id, timestamp, prediction,
    #: label and weight)
    columns: list[str] | None = None
    #: the model's score or predicted value; its drift is the prediction drift
    prediction: str | None = None
    #: a label column in the log itself, or ``labels`` for labels joined later on the id
    label: str | None = None
    labels: LabelSpec | None = None
    #: binary (prediction = probability of the positive class) or regression
    task: Literal["binary", "regression"] = "binary"
    positive: Any = None
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    metrics: list[str] | None = None  # default: a few key metrics of the task
    #: windows with fewer rows get no statistics (listed as too small)
    min_window_rows: int = Field(default=30, ge=1)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    alerts: list[AlertRule] = Field(default_factory=list)
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    bootstrap: int = Field(default=1000, ge=100, le=100_000)
    seed: int = Field(default=0, ge=0)
    #: the run store that keeps computed windows (a SQLite path or URL); false: none
    store: str | bool | None = None

    @model_validator(mode="after")
    def _labels(self) -> MonitorSpec:
        if self.label is not None and self.labels is not None:
            raise ValueError("give 'label' (a column of the log) or 'labels' (joined later), not both")
        if self.labels is not None and (self.labels.id or self.id) is None:
            raise ValueError("labels are joined on an id: set 'id' (or labels.id)")
        return self

    @property
    def label_column(self) -> str | None:
        return self.label or (self.labels.column if self.labels else None)


def load_monitor_spec(path: str | Path) -> MonitorSpec:
    """Read and validate a monitor YAML file; errors name each bad key path."""
    from assay.spec import read_yaml

    p, raw = read_yaml(path, "monitor spec not found; pass the path to a monitor YAML file")
    return parse_monitor_spec(raw, str(p))


def parse_monitor_spec(raw: Any, source: str = "monitor spec") -> MonitorSpec:
    """Validate a monitor mapping; errors name each bad key path, alert rules included."""
    from assay.spec import validate_mapping

    tags = {"drift": DriftAlert, "performance": PerformanceAlert, "volume": VolumeAlert,
            "missing": MissingAlert}
    return validate_mapping(MonitorSpec, raw, source, "a monitor spec", tags)
