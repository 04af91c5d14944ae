"""The evaluation spec: what to evaluate, validated at the boundary.

A spec is written in YAML or built in Python; both go through the same pydantic models,
so every error names the key path, the bad value and the allowed values.
"""

from __future__ import annotations

from collections.abc import Callable
from difflib import get_close_matches
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from assay._errors import SpecError, repeated
from assay.models._adapter import AdapterSpec
from assay.quality._config import QualitySpec
from assay.robustness._spec import LatencySpec, StressSpec

Engine = Literal["numpy", "duckdb"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataCardSpec(_Strict):
    """What the evaluation set's data card says beyond what assay measures (rows, schema,
    label distribution and fingerprint are measured)."""

    description: str | None = None
    source: str | None = None
    collection_date: str | None = None
    limitations: list[str] | str | None = None
    license: str | None = None
    owner: str | None = None


class DataSpec(_Strict):
    """Where the evaluation rows come from: one file, or a DuckDB SQL query over files."""

    path: str | None = None
    sql: str | None = None
    format: Literal["parquet", "csv", "jsonl"] | None = None
    #: the evaluation set's name in the run store's data cards (default: the file's name)
    name: str | None = None
    card: DataCardSpec | None = None

    @model_validator(mode="after")
    def _one_source(self) -> DataSpec:
        if (self.path is None) == (self.sql is None):
            raise ValueError("give exactly one of 'path' (a Parquet, CSV or JSONL file) or 'sql'")
        return self


class ModelSpec(_Strict):
    """One model's predictions: columns of the dataset, a file joined on the id column, or
    the model itself run through an ``adapter`` (see ``assay.models``)."""

    name: str = Field(min_length=1)
    path: str | None = None
    format: Literal["parquet", "csv", "jsonl"] | None = None
    id: str | None = None
    score: str | None = None
    scores: dict[str, str] | None = None
    prediction: str | None = None
    #: files or folders of the model itself (weights, a pickled pipeline): hashed into the
    #: run's lineage, never read
    artifacts: list[str] = Field(default_factory=list)
    #: run the model itself on the dataset: a skops/joblib/ONNX file, a Python function or
    #: an HTTP endpoint (see ``assay.models``)
    adapter: AdapterSpec | None = None

    @model_validator(mode="after")
    def _predictions_or_adapter(self) -> ModelSpec:
        if self.adapter is not None:
            given = [k for k in ("path", "score", "scores", "prediction") if getattr(self, k)]
            if given:
                raise ValueError(f"a model with an 'adapter' predicts itself; remove {', '.join(given)} "
                                 "(they name existing predictions)")
        return self


class ColumnSlice(_Strict):
    """One slice per value of a column, or per numeric bin when ``bins``/``quantiles`` is set."""

    column: str
    name: str | None = None
    bins: list[float] | None = None
    quantiles: int | None = Field(default=None, ge=2, le=100)

    @field_validator("bins")
    @classmethod
    def _increasing(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and (len(v) < 2 or any(b <= a for a, b in zip(v, v[1:], strict=False))):
            raise ValueError("bins must be at least two strictly increasing edges")
        return v

    @model_validator(mode="after")
    def _one_binning(self) -> ColumnSlice:
        if self.bins is not None and self.quantiles is not None:
            raise ValueError("give either 'bins' or 'quantiles', not both")
        return self

    @property
    def label(self) -> str:
        return self.name or self.column


class WhereSlice(_Strict):
    """Rows matching a DuckDB SQL predicate, e.g. ``age < 25 AND channel = 'web'``."""

    where: str = Field(min_length=1)
    name: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.where


class CrossSlice(_Strict):
    """Every combination of the levels of two or more slice dimensions (named by label)."""

    cross: list[str] = Field(min_length=2)
    name: str | None = None

    @property
    def label(self) -> str:
        return self.name or " x ".join(self.cross)


def _slice_kind(value: Any) -> str | None:
    """Which slice type a mapping is, by its defining key, so that errors name the key path
    of that type only (not one error per union member)."""
    if isinstance(value, ColumnSlice | WhereSlice | CrossSlice):
        return type(value).__name__
    if isinstance(value, dict):
        for key in ("cross", "where", "column"):
            if key in value:
                return f"{key.title()}Slice"
    return None


SliceSpec = Annotated[
    Annotated[ColumnSlice, Tag("ColumnSlice")]
    | Annotated[WhereSlice, Tag("WhereSlice")]
    | Annotated[CrossSlice, Tag("CrossSlice")],
    Discriminator(
        _slice_kind, custom_error_type="slice_kind",
        custom_error_message="a slice needs one of 'column', 'where' or 'cross' "
                             "(e.g. {column: region}, {where: \"age < 25\", name: young}, "
                             "{cross: [region, channel]})"),
]
_SLICE_TAGS = {"ColumnSlice", "WhereSlice", "CrossSlice"}


class CompareSpec(_Strict):
    """Which model is the baseline and which are candidates, and how p-values are adjusted."""

    baseline: str | None = None  # default: the first model
    candidates: list[str] | None = None  # default: every other model
    adjust: Literal["bh", "holm"] = "bh"  # across the slices x metrics of one candidate
    power: float = Field(default=0.8, gt=0.0, lt=1.0)  # for minimum detectable differences
    enabled: bool = True


class PrivacySpec(_Strict):
    """Which columns example rows (in reports, summaries and the run store) may show.

    The id column and the ``hide`` columns never appear; ``hash`` columns appear as a keyed
    hash (HMAC-SHA256 with the key in the environment variable ``ASSAY_HASH_KEY``, else a
    fresh key per run), so equal values can be matched without being revealed.
    """

    hide: list[str] = Field(default_factory=list)
    hash: list[str] = Field(default_factory=list)
    #: show the id column in examples (it is hidden by default)
    show_id: bool = False
    #: example rows per table (largest errors per model, excluded rows per reason); 0 = none
    examples: int = Field(default=5, ge=0, le=100)

    @model_validator(mode="after")
    def _disjoint(self) -> PrivacySpec:
        both = sorted(set(self.hide) & set(self.hash))
        if both:
            raise ValueError(f"column(s) {', '.join(both)} are in both 'hide' and 'hash'; pick one")
        return self


class CardSpec(_Strict):
    """The model card's human parts; assay adds provenance, metrics, slices and the verdict."""

    model: str | None = None
    version: str | None = None
    description: str | None = None
    intended_use: str | None = None
    out_of_scope: str | None = None
    owners: list[str] | str | None = None
    limitations: list[str] | str | None = None
    ethical_considerations: list[str] | str | None = None
    caveats: list[str] | str | None = None
    license: str | None = None


class FairnessSpec(_Strict):
    """Group fairness over sensitive attributes (see ``assay.analysis.fairness``).

    Each attribute is a dataset column or the name of a declared column slice (e.g. an
    ``age`` slice with ``bins``); it becomes a slice dimension, so every group also gets the
    task's metrics with intervals, and the intersection of the attributes is a cross slice.
    """

    attributes: list[str] = Field(min_length=1)
    #: also the intersection of all attributes (e.g. race x sex), when there are two or more
    intersections: bool = True
    #: per attribute, the group that ratios and differences to a reference use (e.g.
    #: {sex: male}); default: the group with the highest selection rate (the four-fifths rule)
    reference: dict[str, str] = Field(default_factory=dict)
    #: a group's selection rate below this share of the reference group's is flagged
    four_fifths: float = Field(default=0.8, gt=0.0, le=1.0)
    #: groups with fewer rows are reported but left out of the disparities
    #: (default: the spec's min_slice_size)
    min_group_size: int | None = Field(default=None, ge=1)
    #: a what-if: the disparities with rows reweighed so that group and label are
    #: independent (Kamiran & Calders 2012), beside the originals
    reweigh: bool = True


Remedy = Literal["platt", "isotonic", "temperature"]


class CalibrationSpec(_Strict):
    """Calibration analysis: ECE/MCE (equal-width and equal-mass bins), adaptive ECE,
    reliability data per model and slice, the Brier decomposition, and what-if remedies
    fitted with cross-fitting (never replacing the original scores)."""

    #: bins for ECE, MCE and reliability diagrams (default: the spec's calibration_bins)
    bins: int | None = Field(default=None, ge=2, le=1000)
    remediation: list[Remedy] = Field(default_factory=lambda: ["platt", "isotonic", "temperature"])
    #: cross-fitting folds for the remedies
    folds: int = Field(default=5, ge=2, le=20)
    #: reliability data and calibration metrics for every slice, not only overall
    slices: bool = True


class ThresholdCosts(_Strict):
    """Costs (or negative gains) of each decision outcome, per row."""

    fp: float = Field(ge=0)
    fn: float = Field(ge=0)
    tp: float = 0.0
    tn: float = 0.0


ThresholdMetric = Literal["precision", "recall", "specificity", "fpr", "fnr", "f1",
                          "selection_rate", "accuracy"]


class ThresholdConstraint(_Strict):
    """The threshold that meets a floor or ceiling on one metric at the best value of another,
    e.g. ``{metric: recall, min: 0.9, optimize: precision}``."""

    metric: ThresholdMetric
    min: float | None = Field(default=None, ge=0.0, le=1.0)
    max: float | None = Field(default=None, ge=0.0, le=1.0)
    optimize: ThresholdMetric = "precision"
    name: str | None = None

    @model_validator(mode="after")
    def _a_bound(self) -> ThresholdConstraint:
        if (self.min is None) == (self.max is None):
            raise ValueError("a threshold constraint needs exactly one of 'min' or 'max'")
        return self

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        bound = f">= {self.min:g}" if self.min is not None else f"<= {self.max:g}"
        return f"{self.metric} {bound}, best {self.optimize}"


class ThresholdSpec(_Strict):
    """Operating points of a binary model: metrics across thresholds, the chosen threshold,
    the cost-optimal one and constrained ones, each with the uncertainty of choosing it."""

    costs: ThresholdCosts | None = None
    constraints: list[ThresholdConstraint] = Field(default_factory=list)
    #: how a threshold chosen on the eval set gets its interval: re-chosen in every bootstrap
    #: replicate, or chosen on a seeded half and measured on the other half
    selection: Literal["bootstrap", "holdout"] = "bootstrap"
    #: points of the metrics-across-thresholds curve
    points: int = Field(default=101, ge=11, le=2001)


class ErrorAnalysisSpec(_Strict):
    """Weak-segment discovery: conjunctions of up to ``max_conditions`` conditions whose error
    is significantly worse than the rest, found on one seeded half and tested on the other."""

    #: candidate columns (default: every dataset column but the id, label, weight and
    #: prediction columns and the privacy-hidden ones)
    columns: list[str] | None = None
    max_conditions: int = Field(default=3, ge=1, le=3)
    #: numeric columns are cut into this many quantile bins
    quantiles: int = Field(default=4, ge=2, le=10)
    #: categorical columns keep their most frequent values; the rest form one "other" value
    max_levels: int = Field(default=20, ge=2, le=200)
    #: a segment needs at least this many rows in each half
    min_size: int = Field(default=50, ge=5)
    #: false discovery rate across the segments tested on the second half
    fdr: float = Field(default=0.05, gt=0.0, lt=1.0)
    top: int = Field(default=10, ge=1, le=100)
    #: misclassified (or largest-error) example rows shown per segment
    examples: int = Field(default=5, ge=0, le=50)
    #: a segment sharing more than this share of its rows with a better-ranked one is pruned
    overlap: float = Field(default=0.5, gt=0.0, le=1.0)


class EvalSpec(_Strict):
    """A complete evaluation: task, rows, label, models, metrics, slices and statistics."""

    name: str = "evaluation"
    task: str = "binary"
    data: DataSpec | None = None
    id: str | None = None
    label: str
    positive: Any = None
    classes: list[Any] | None = None
    weight: str | None = None
    models: list[ModelSpec] = Field(min_length=1)
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    metrics: list[str] | Literal["all"] = "all"
    top_k: int = Field(default=2, ge=1)
    slices: list[SliceSpec] = Field(default_factory=list)
    min_slice_size: int = Field(default=30, ge=1)
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    seed: int = Field(default=0, ge=0)
    bootstrap: int = Field(default=1000, ge=100, le=100_000)
    intervals: bool = True  # false: point values only (no resampling), e.g. for quick looks
    score_bins: int = Field(default=65536, ge=64, le=1 << 22)
    calibration_bins: int = Field(default=15, ge=2, le=1000)
    engine: Engine = "numpy"
    compare: CompareSpec = Field(default_factory=CompareSpec)
    gates: list[Any] = Field(default_factory=list)
    privacy: PrivacySpec = Field(default_factory=PrivacySpec)
    card: CardSpec | None = None
    #: where the run is recorded: a SQLite file path or a database URL
    #: (sqlite:///..., postgresql://...); false = not recorded; unset = the CLI's default
    store: str | bool | None = None
    #: an MLflow tracking URI to log the run to as well (the CLI's --mlflow overrides it)
    mlflow: str | None = None
    #: analyses beyond the metrics (see ``assay.analysis``); each runs when its key is set
    fairness: FairnessSpec | None = None
    calibration: CalibrationSpec | None = None
    thresholds: ThresholdSpec | None = None
    error_analysis: ErrorAnalysisSpec | None = None
    #: data-quality checks, run before the metrics (see ``assay.quality``)
    quality: QualitySpec = Field(default_factory=QualitySpec)
    #: where predictions of adapter models are cached: true = the default folder
    #: (``$ASSAY_CACHE_DIR``, else ``~/.cache/assay/predictions``), a folder, or false
    cache: bool | str = True
    #: stress tests of the adapter models: perturbations and behavioural tests
    stress: StressSpec | None = None
    #: inference latency and throughput of the adapter models
    latency: LatencySpec | None = None

    @field_validator("gates", mode="before")
    @classmethod
    def _gate_rules(cls, v: Any) -> Any:
        from assay.gates import parse_rules

        return parse_rules(v)

    @model_validator(mode="after")
    def _adapter_sections(self) -> EvalSpec:
        """``stress`` and ``latency`` name models that run through an adapter."""
        runnable = [m.name for m in self.models if m.adapter is not None]
        for key in ("stress", "latency"):
            section = getattr(self, key)
            if section is None:
                continue
            if not runnable:
                raise ValueError(f"{key} needs a model with an 'adapter' (assay runs the model itself "
                                 "to perturb its inputs or time it); no model has one")
            bad = [m for m in section.models or [] if m not in runnable]
            if bad:
                raise ValueError(f"{key}.models: {', '.join(map(repr, bad))} have no adapter; models "
                                 f"with one: {', '.join(runnable)}")
        if self.stress is not None:
            from assay.compare._tasks import PAIRED, UNPAIRED

            paired = PAIRED.get(self.task, {})
            usable = [k for k, v in paired.items() if v not in (UNPAIRED, "skip")]
            for m in self.stress.metrics or []:
                if m not in paired:
                    raise ValueError(f"stress.metrics: unknown metric {m!r} for task {self.task!r}; "
                                     f"allowed: {', '.join(usable)}")
                if paired[m] in (UNPAIRED, "skip"):
                    raise ValueError(f"stress.metrics: {m!r} has no paired method, so its change under "
                                     "a perturbation has no paired interval; choose another metric")
        return self

    def _check_analyses(self, private: dict[str, str]) -> None:
        _check_analyses_impl(self, private)

    @property
    def fairness_dimensions(self) -> list[str]:
        """The slice labels the fairness analysis reads groups from: one per attribute, then
        the intersection when there are two or more attributes."""
        if self.fairness is None:
            return []
        attrs = list(self.fairness.attributes)
        if self.fairness.intersections and len(attrs) > 1:
            return [*attrs, " x ".join(attrs)]
        return attrs

    @property
    def effective_slices(self) -> list[ColumnSlice | WhereSlice | CrossSlice]:
        """The declared slices plus those the fairness analysis needs: a column slice per
        attribute that is not already a slice, and the attributes' intersection."""
        out = list(self.slices)
        if self.fairness is None:
            return out
        known = {s.label for s in out}
        for attr in self.fairness.attributes:
            if attr not in known:
                out.append(ColumnSlice(column=attr))
                known.add(attr)
        dims = self.fairness_dimensions
        if len(dims) > len(self.fairness.attributes) and dims[-1] not in known:
            out.append(CrossSlice(cross=list(self.fairness.attributes), name=dims[-1]))
        return out

    @property
    def baseline(self) -> str:
        return self.compare.baseline or self.models[0].name

    @property
    def candidates(self) -> list[str]:
        if self.compare.candidates is not None:
            return list(self.compare.candidates)
        return [m.name for m in self.models if m.name != self.baseline]

    @field_validator("task")
    @classmethod
    def _known_task(cls, v: str) -> str:
        from assay.metrics import task_names

        names = task_names()
        if v not in names:
            raise ValueError(f"unknown task {v!r}; allowed: {', '.join(names)}")
        return v

    @field_validator("metrics", mode="before")
    @classmethod
    def _metric_list(cls, v: Any) -> Any:
        if isinstance(v, str) and v != "all":
            return [v]  # one metric name; unknown names are reported with the allowed ones
        if isinstance(v, list | tuple) and not v:
            raise ValueError("give at least one metric name, or 'all'")
        return v

    @field_validator("classes")
    @classmethod
    def _distinct_classes(cls, v: list[Any] | None) -> list[Any] | None:
        if v is not None:
            dup = [c for i, c in enumerate(v) if c in v[:i]]
            if dup:
                raise ValueError(f"classes must be distinct; repeated: {', '.join(map(repr, dup))}")
        return v

    @model_validator(mode="after")
    def _unique_names(self) -> EvalSpec:
        names = [m.name for m in self.models]
        dup = repeated(names)
        if dup:
            raise ValueError(f"model names must be unique; repeated: {', '.join(dup)}")
        labels = [s.label for s in self.slices]
        dup = repeated(labels)
        if dup:
            raise ValueError(f"slice names must be unique; repeated: {', '.join(dup)} (set 'name')")
        model_names = set(names)
        wanted = [self.compare.baseline] if self.compare.baseline else []
        wanted += self.compare.candidates or []
        unknown = [w for w in wanted if w not in model_names]
        if unknown:
            raise ValueError(f"compare names unknown model(s) {', '.join(map(repr, unknown))}; "
                             f"models: {', '.join(names)}")
        if self.baseline in self.candidates:
            raise ValueError(f"compare: the baseline {self.baseline!r} cannot also be a candidate")
        for i, rule in enumerate(self.gates):
            for field_name in ("model", "candidate"):
                got = getattr(rule, field_name, None)
                if got is not None and got not in model_names:
                    raise ValueError(f"gates[{i}].{field_name}: unknown model {got!r}; models: "
                                     f"{', '.join(names)}")
        private = {c: "hide" for c in self.privacy.hide} | {c: "hash" for c in self.privacy.hash}
        for s in self.slices:
            cols = [s.column] if isinstance(s, ColumnSlice) else []
            for col in cols:
                if col in private:
                    raise ValueError(
                        f"slice on column {col!r}, which privacy.{private[col]} lists: slice levels "
                        "print the column's values in every artifact. Remove the slice, or slice "
                        "on a coarser derived column (e.g. a where-slice)")
        self._check_analyses(private)
        known = set(labels)
        for s in self.slices:
            if isinstance(s, CrossSlice):
                missing = [c for c in s.cross if c not in known]
                if missing:
                    raise ValueError(
                        f"cross {s.cross} names unknown slices {missing}; "
                        f"declare them first. Known: {', '.join(sorted(known)) or 'none'}"
                    )
        return self


def _check_analyses_impl(spec: EvalSpec, private: dict[str, str]) -> None:
    """Analyses that do not fit the task, or that would print private columns' values."""
    by_label = {s.label: s for s in spec.slices}
    if spec.fairness is not None:
        for attr in spec.fairness.attributes:
            declared = by_label.get(attr)
            if declared is not None and not isinstance(declared, ColumnSlice):
                raise ValueError(f"fairness.attributes: {attr!r} is a {type(declared).__name__}; "
                                 "an attribute must be a column or a column slice (with bins)")
            column = declared.column if isinstance(declared, ColumnSlice) else attr
            if column in private:
                raise ValueError(f"fairness.attributes: column {column!r} is in "
                                 f"privacy.{private[column]}; group names print its values")
        unknown = sorted(set(spec.fairness.reference) - set(spec.fairness.attributes))
        if unknown:
            raise ValueError(f"fairness.reference names {', '.join(map(repr, unknown))}, which "
                             f"are not attributes; attributes: {', '.join(spec.fairness.attributes)}")
    if spec.calibration is not None and spec.task not in ("binary", "multiclass"):
        raise ValueError(f"calibration needs probabilities: it applies to binary and multiclass "
                         f"tasks, not {spec.task!r}; remove the 'calibration' key")
    if spec.thresholds is not None and spec.task != "binary":
        raise ValueError(f"thresholds apply to binary tasks (a score and a threshold), not "
                         f"{spec.task!r}; remove the 'thresholds' key")
    if spec.error_analysis is not None and spec.error_analysis.columns:
        bad = [c for c in spec.error_analysis.columns if c in private]
        if bad:
            raise ValueError(f"error_analysis.columns: {', '.join(map(repr, bad))} are in privacy "
                             "hide/hash; segment descriptions print their values. Remove them")


def _first_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _first_model(arg)
        if found is not None:
            return found
    return None


def _allowed_keys(loc: tuple[Any, ...], root: type[BaseModel],
                  tags: dict[str, type[BaseModel]] | None = None) -> list[str]:
    """The keys of the spec section that holds the key at ``loc`` (for unknown-key errors);
    ``tags`` maps the tags of discriminated unions in ``loc`` to their models."""
    tagged: dict[str, type[BaseModel]] = {"ColumnSlice": ColumnSlice, "WhereSlice": WhereSlice,
                                          "CrossSlice": CrossSlice, **(tags or {})}
    model: type[BaseModel] | None = root
    for p in loc[:-1]:
        if p in tagged:
            model = tagged[p]
        elif isinstance(p, str) and model is not None and p in model.model_fields:
            model = _first_model(model.model_fields[p].annotation)
    return [f.alias or k for k, f in model.model_fields.items()] if model is not None else []


def _format_validation_error(exc: ValidationError, source: str, root: type[BaseModel] | None = None,
                             tags: dict[str, type[BaseModel]] | None = None) -> str:
    lines = [f"{source}: the spec is not valid ({exc.error_count()} problem(s))"]
    hidden = _SLICE_TAGS | set(tags or {})
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"] if p not in hidden) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        value = err.get("input")
        shown = "" if isinstance(value, dict | list) else f" (got {value!r})"
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(err["loc"], root or EvalSpec, tags)
            close = get_close_matches(str(err["loc"][-1]), allowed, n=1)
            hint = f"; did you mean {close[0]!r}? Allowed" if close else "; allowed"
            lines.append(f"  - {path}: unknown key{shown}{hint} keys here: {', '.join(allowed)}")
            continue
        lines.append(f"  - {path}: {msg}{shown}")
    return "\n".join(lines)


def config_problems(exc: ValidationError, model: type[BaseModel], where: Callable[[str], str],
                    owner: str) -> str:
    """One config entry's validation errors (a scorer, a judge, a gate rule) as one line:
    ``where(key path)`` places each problem, an unknown key lists the keys of ``owner`` (for
    example "the exact scorer"), a missing key says so."""
    problems = []
    for err in exc.errors():
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            keys = [f.alias or n for n, f in model.model_fields.items()]
            msg = f"unknown key; allowed keys of {owner}: {', '.join(keys)}"
        elif err["type"] == "missing":
            msg = "required key is missing"
        problems.append(f"{where('.'.join(str(p) for p in err['loc']))}{msg}")
    return "; ".join(problems)


M = TypeVar("M", bound=BaseModel)


def validate_mapping(model: type[M], raw: Any, source: str, what: str,
                     tags: dict[str, type[BaseModel]] | None = None) -> M:
    """Validate a YAML mapping as ``model`` (the evaluation spec, a monitor, a suite); raise
    :class:`SpecError` naming each bad key path, with the allowed keys for unknown ones.
    ``tags`` maps the tags of discriminated unions inside it to their models."""
    if not isinstance(raw, dict):
        raise SpecError(f"{source}: {what} must be a mapping of keys, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(_format_validation_error(exc, source, root=model, tags=tags)) from None


def read_yaml(path: str | Path, not_found: str) -> tuple[Path, Any]:
    """A YAML file's path and content; a missing file says ``not_found``, bad YAML names the
    line and column."""
    p = Path(path)
    if not p.is_file():
        raise SpecError(f"{p}: {not_found}")
    try:
        return p, yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(f"{p}: malformed YAML{where}: {problem}. Fix the YAML syntax.") from None


def parse_spec(raw: dict[str, Any], source: str = "spec") -> EvalSpec:
    """Validate a spec mapping; raise :class:`SpecError` naming each bad key path."""
    return validate_mapping(EvalSpec, raw, source, "the spec")


def load_spec(path: str | Path) -> EvalSpec:
    """Read and validate a YAML spec file."""
    p, raw = read_yaml(path, "spec file not found; pass the path to an evaluation YAML file")
    return parse_spec(raw, source=str(p))
