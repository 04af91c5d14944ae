"""The ``stress:`` and ``latency:`` sections of an evaluation spec.

``stress`` runs each adapter model (see ``assay.models``) on perturbed copies of the
evaluation rows and on behavioural-test edits, and compares every run with the clean one
on the same rows; ``latency`` times single requests (or small batches) to the model.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from assay._errors import repeated
from assay.robustness._behaviour import BehaviourTest
from assay.robustness._perturb import Perturbation, perturbation_label

#: metrics compared under stress when ``stress.metrics`` is not given
DEFAULT_METRICS = {
    "binary": ["roc_auc", "log_loss", "accuracy"],
    "multiclass": ["accuracy", "log_loss", "f1_macro"],
    "regression": ["rmse", "mae"],
}


class StressSpec(BaseModel):
    """Perturbations and behavioural tests run on the adapter models."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: the models stressed (default: every model with an adapter)
    models: list[str] | None = None
    #: every perturbation's random stream derives from this and the perturbation's name, so
    #: adding one perturbation leaves the others' rows unchanged
    seed: int = Field(default=0, ge=0)
    #: stress at most this many evaluation rows (a seeded sample); default all
    rows: int | None = Field(default=None, ge=10)
    #: metrics compared with the clean run (default per task: see DEFAULT_METRICS)
    metrics: list[str] | None = None
    perturbations: list[Perturbation] = Field(default_factory=list)
    tests: list[BehaviourTest] = Field(default_factory=list)
    #: string columns to treat as free text (besides those averaging over 3 words)
    text: list[str] = Field(default_factory=list)
    #: rows with the largest prediction change shown per perturbation and failing test
    examples: int = Field(default=5, ge=0, le=50)
    #: write each perturbed input as Parquet into the run folder (``stress/``)
    save: bool = False
    #: regression: a prediction change larger than this counts as a flip (default: 0.1 x the
    #: sd of the clean predictions)
    flip_tolerance: float | None = Field(default=None, gt=0)
    #: replicates of the paired bootstrap for distribution shifts
    bootstrap: int = Field(default=200, ge=50, le=10_000)

    @model_validator(mode="after")
    def _distinct_names(self) -> StressSpec:
        labels = [perturbation_label(p) for p in self.perturbations]
        dup = repeated(labels)
        if dup:
            raise ValueError(f"perturbation names must be unique; repeated: {', '.join(dup)} (set 'name')")
        names = [t.name for t in self.tests]
        dup = repeated(names)
        if dup:
            raise ValueError(f"behaviour test names must be unique; repeated: {', '.join(dup)}")
        if not self.perturbations and not self.tests:
            raise ValueError("stress needs 'perturbations' or 'tests' (or both)")
        return self


class LatencySpec(BaseModel):
    """Time the adapter models on requests of ``batch_size`` rows drawn from the data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    models: list[str] | None = None
    requests: int = Field(default=200, ge=1, le=100_000)
    batch_size: int = Field(default=1, ge=1)
    warmup: int = Field(default=5, ge=0)
