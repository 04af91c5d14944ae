"""What drift to compute and when a column counts as drifted: the frozen ``DriftConfig``.

Defaults follow Evidently's data-drift defaults (``evidently.legacy.calculations.stattests.registry``),
so that a team moving from Evidently keeps its decisions:

* numeric column, reference of at most ``small_sample`` (1000) values: two-sample
  Kolmogorov-Smirnov test, drifted when p < 0.05. With few values a test is the honest tool:
  a distance of 0.1 is within noise, a p-value says whether the difference is larger than noise.
* numeric column, larger reference: Wasserstein-1 distance divided by the reference standard
  deviation, drifted when >= 0.1 (the current distribution moved by a tenth of a standard
  deviation). With many rows every test rejects for differences too small to matter, so a
  distance with a practical threshold decides.
* categorical column, reference of at most 1000 values: chi-square test of homogeneity, drifted
  when p < 0.05 (for two levels it equals Evidently's two-proportion z-test: chi-square = z^2).
* categorical column, larger reference: Jensen-Shannon distance (natural logarithm, as SciPy's
  default and Evidently), drifted when >= 0.1.
* PSI (population stability index) over reference-decile bins, drifted when >= 0.2, the
  credit-risk convention (< 0.1 stable, 0.1-0.2 moderate, >= 0.2 significant shift;
  Siddiqi, *Credit Risk Scorecards*, 2006). Evidently's PSI default is 0.1; we keep the industry
  convention because PSI is reported here as a second opinion, not the default decider.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Statistic = Literal["psi", "ks", "chi_square", "js_distance", "wasserstein"]
Kind = Literal["numeric", "categorical"]

#: every statistic, in the order rows are written
STATISTICS: tuple[Statistic, ...] = get_args(Statistic)
#: statistics whose decision is a p-value below the threshold (the others: value at or above it)
TESTS: frozenset[str] = frozenset({"ks", "chi_square"})
#: statistics defined on numeric columns only
NUMERIC_ONLY: frozenset[str] = frozenset({"ks", "wasserstein"})

DEFAULT_THRESHOLDS: dict[Statistic, float] = {
    "psi": 0.2,
    "ks": 0.05,
    "chi_square": 0.05,
    "js_distance": 0.1,
    "wasserstein": 0.1,
}


class DriftConfig(BaseModel):
    """Which drift statistics to compute, which one decides per column, and their thresholds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: statistics computed where they apply (KS and Wasserstein on numeric columns only); the
    #: statistic that decides a column is always computed, listed here or not
    statistics: list[Statistic] = Field(default_factory=lambda: list(STATISTICS))
    #: per column, the statistic that decides "drifted" (overrides the default by kind and size)
    method: dict[str, Statistic] = Field(default_factory=dict)
    #: overrides of DEFAULT_THRESHOLDS: a p-value level for ks and chi_square, else a distance
    thresholds: dict[Statistic, float] = Field(default_factory=dict)
    #: force these columns categorical (e.g. integer codes)
    categorical: list[str] = Field(default_factory=list)
    #: force these columns numeric (e.g. booleans as 0/1)
    numeric: list[str] = Field(default_factory=list)
    #: reference-quantile bins for PSI, JS and chi-square on numeric columns
    psi_bins: int = Field(default=10, ge=2, le=1000)
    #: proportion given to a bin that is empty in one sample, in PSI only (ln(0) is undefined)
    psi_eps: float = Field(default=1e-4, gt=0, lt=0.01)
    #: fine bins per numeric column for binned KS and Wasserstein (reported error bounds shrink
    #: about in proportion)
    fine_bins: int = Field(default=4096, ge=16, le=1 << 20)
    #: KS and Wasserstein are exact (sorted values) when both samples have at most this many
    #: values, else computed from the fine bins with a stated error bound
    exact_max: int = Field(default=100_000, ge=0, le=10_000_000)
    #: reference size at or below which the default decider is a test (KS, chi-square)
    small_sample: int = Field(default=1000, ge=0)
    #: categorical levels kept from the reference (most frequent first); the rest are pooled
    max_levels: int = Field(default=200, ge=1, le=100_000)

    @field_validator("statistics")
    @classmethod
    def _unique(cls, v: list[Statistic]) -> list[Statistic]:
        if not v:
            raise ValueError(f"statistics must name at least one of {list(STATISTICS)}")
        if len(set(v)) != len(v):
            raise ValueError(f"statistics lists a statistic twice: {v}")
        return v

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, v: dict[Statistic, float]) -> dict[Statistic, float]:
        for stat, value in v.items():
            if stat in TESTS and not 0 < value < 1:
                raise ValueError(f"thresholds.{stat} is a p-value level and must lie in (0, 1); got {value}")
            if stat not in TESTS and not value > 0:
                raise ValueError(f"thresholds.{stat} is a distance and must be > 0; got {value}")
        return v

    @model_validator(mode="after")
    def _disjoint(self) -> DriftConfig:
        both = sorted(set(self.categorical) & set(self.numeric))
        if both:
            raise ValueError(f"columns {both} are listed as both categorical and numeric; "
                             f"keep each in one list")
        return self

    def threshold(self, statistic: Statistic) -> float:
        """The threshold in force for ``statistic`` (the override, else the default)."""
        return self.thresholds.get(statistic, DEFAULT_THRESHOLDS[statistic])

    def default_method(self, kind: Kind, n_reference: int) -> Statistic:
        """The statistic that decides a column with no per-column ``method``."""
        small = n_reference <= self.small_sample
        if kind == "numeric":
            return "ks" if small else "wasserstein"
        return "chi_square" if small else "js_distance"
