"""The LLM suite spec: cases, prompts, providers, a parameter matrix, samples and scorers.

Every (provider, prompt, parameter combination) is a *variant*; each case is asked once per
variant and sample. Samples differ only in their seed (``seed + sample``), so repeated
samples of one case are a cluster, which the statistics respect.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from assay._errors import SpecError, repeated
from assay.llm._calibration import CalibrationSpec
from assay.llm._prompts import PromptSpec


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PriceSpec(_Strict):
    """Currency units per 1,000 prompt and completion tokens."""

    input_per_1k: float = Field(default=0.0, ge=0)
    output_per_1k: float = Field(default=0.0, ge=0)


class ProviderSpec(_Strict):
    """An OpenAI-compatible server (``base_url``), a Python function (``callable``,
    ``module:function`` taking a ChatRequest), or a GGUF model run in-process (``gguf``: a
    file path or a packaged name such as ``smollm2``; needs ``assay[local]``)."""

    name: str = Field(min_length=1)
    base_url: str | None = None
    callable: str | None = None
    gguf: str | None = None
    #: local models: context length and threads (default: up to 4 cores)
    n_ctx: int = Field(default=2048, ge=256)
    n_threads: int | None = Field(default=None, ge=1)
    model: str | None = None  # default: the provider's name
    #: the environment variable holding the API key (never the key itself)
    api_key_env: str | None = None
    concurrency: int = Field(default=4, ge=1, le=256)
    timeout: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=4, ge=1, le=20)
    prices: PriceSpec = Field(default_factory=PriceSpec)
    #: model: its answers are evaluated (a column of the matrix); judge: it only serves judges
    role: Literal["model", "judge"] = "model"

    @model_validator(mode="after")
    def _one(self) -> ProviderSpec:
        given = [k for k in ("base_url", "callable", "gguf") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"provider {self.name!r}: give exactly one of 'base_url' (an OpenAI-compatible "
                             "server), 'callable' (module:function) or 'gguf' (a local model file or "
                             f"'smollm2'); got {', '.join(given) or 'none'}")
        if self.callable is not None and ":" not in self.callable:
            raise ValueError(f"provider {self.name!r}: callable must be 'module:function' or "
                             f"'file.py:function', got {self.callable!r}")
        return self

    @property
    def model_name(self) -> str:
        return self.model or self.name


class SuiteCompareSpec(_Strict):
    """Which variant is the baseline and which are compared with it (paired, on the same cases)."""

    baseline: str | None = None  # default: the first variant
    candidates: list[str] | None = None  # default: every other variant
    enabled: bool = True

    def pick(self, names: list[str], noun: str) -> tuple[str, list[str]] | None:
        """(baseline, candidates) among ``names``, or None with fewer than two; an unknown name
        is an error listing the known ones (``noun``: variant, agent)."""
        if not self.enabled or len(names) < 2:
            return None
        base = self.baseline or names[0]
        cands = self.candidates or [n for n in names if n != base]
        unknown = [n for n in [base, *cands] if n not in names]
        if unknown:
            raise SpecError(f"compare names unknown {noun}(s) {', '.join(map(repr, unknown))}; "
                            f"{noun}s: {', '.join(names)}")
        return base, [c for c in cands if c != base]


class SuiteSpec(_Strict):
    """A complete LLM evaluation (see ``assay.llm``)."""

    name: str = "suite"
    #: the cases: a file (JSONL, CSV, Parquet) relative to the suite, or a list; optional when
    #: ``safety`` generates the cases
    cases: str | list[dict[str, Any]] | None = None
    prompts: list[PromptSpec] = Field(default_factory=lambda: [PromptSpec(name="default")])
    providers: list[ProviderSpec] = Field(min_length=1)
    #: parameter name -> values; every combination is a variant (e.g. temperature: [0, 0.7])
    params: dict[str, list[Any]] = Field(default_factory=dict)
    samples: int = Field(default=1, ge=1, le=100)
    seed: int = Field(default=0, ge=0)
    scorers: list[dict[str, Any]] = Field(default_factory=list)
    #: generated safety suites (injection, variants, canary, indirect, refusal), each with its
    #: scorer; see assay.safety.attacks.SafetySpec
    safety: Any = None
    #: the response cache folder (relative to the suite), or false for none
    cache: str | bool = ".assay/llm-cache"
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    bootstrap: int = Field(default=1000, ge=100, le=100_000)
    compare: SuiteCompareSpec = Field(default_factory=SuiteCompareSpec)
    #: release gate rules on the suite's scores (see assay.llm._gates): metric is
    #: "<scorer>.pass_rate" or "<scorer>.mean", model/candidate a variant name
    gates: list[Any] = Field(default_factory=list)
    #: slices (tags) with fewer ok scores are skipped by the gates and listed
    min_cases: int = Field(default=1, ge=1)
    #: the run store: a path (relative to the suite) or a database URL; false records nothing
    store: str | bool | None = None
    #: human labels for judges: agreement overall and per tag (see assay.llm._calibration)
    calibration: list[CalibrationSpec] = Field(default_factory=list)

    @field_validator("gates", mode="before")
    @classmethod
    def _gate_rules(cls, v: Any) -> Any:
        from assay.gates import parse_rules

        return parse_rules(v)

    @field_validator("safety", mode="before")
    @classmethod
    def _safety(cls, v: Any) -> Any:
        if v is None:
            return None
        from assay.safety.attacks import SafetySpec

        return v if isinstance(v, SafetySpec) else SafetySpec.model_validate(v)

    @field_validator("scorers")
    @classmethod
    def _scorers(cls, v: list[dict[str, Any]]) -> list[dict[str, Any]]:
        labels = []
        for raw in v:
            if isinstance(raw, dict) and raw.get("kind") == "pairwise_judge":
                raise ValueError("a pairwise judge compares two outputs; use it with "
                                 "assay.llm.judges.pairwise_judge, not as a suite scorer")
            try:
                labels.append(build_scorer(raw).label)
            except SpecError as exc:
                raise ValueError(str(exc)) from None
        dup = repeated(labels)
        if dup:
            raise ValueError(f"scorer names must be unique; repeated: {', '.join(dup)} (set 'name')")
        return v

    @field_validator("params")
    @classmethod
    def _params(cls, v: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in v.items():
            if not values:
                raise ValueError(f"params.{key}: give at least one value")
            if key in ("model", "messages"):
                raise ValueError(f"params.{key}: set the model on the provider and the messages in "
                                 "prompts, not in params")
        return v

    @model_validator(mode="after")
    def _unique(self) -> SuiteSpec:
        if self.cases is None and self.safety is None:
            raise ValueError("give 'cases' (a file or a list) or a 'safety' section that generates them")
        scorers = self.scorer_configs()
        if not scorers:
            raise ValueError("no scorer: give 'scorers' (or a 'safety' section, which brings its own)")
        for what, names in (("provider", [p.name for p in self.providers]),
                            ("prompt", [p.name for p in self.prompts])):
            dup = repeated(names)
            if dup:
                raise ValueError(f"{what} names must be unique; repeated: {', '.join(dup)}")
        if not any(p.role == "model" for p in self.providers):
            raise ValueError("no provider with role 'model': at least one provider must answer the cases")
        labels = [s.label for s in scorers]
        dup = repeated(labels)
        if dup:
            raise ValueError(f"scorer names must be unique; repeated: {', '.join(dup)} (the safety section "
                             "names its scorers after its suites: injection, canary, indirect, refusal)")
        for c in self.calibration:
            unknown = [n for n in c.scorers or [] if n not in labels]
            if unknown:
                raise ValueError(f"calibration ({c.labels}): unknown scorer(s) {', '.join(unknown)}; the "
                                 f"suite's scorers: {', '.join(labels)}")
        names = [p.name for p in self.providers]
        for raw in self.scorers:
            if raw.get("kind") == "judge" and raw.get("provider") not in names:
                raise ValueError(f"judge {raw.get('name') or 'judge'!r}: 'provider' must name one of the "
                                 f"suite's providers ({', '.join(names)}); got {raw.get('provider')!r}")
        return self

    def comparison(self) -> tuple[str, list[str]] | None:
        """(baseline, candidates) by variant name, or None when there is nothing to compare."""
        return self.compare.pick([v.name for v in self.variants()], "variant")

    def scorer_configs(self) -> list[Any]:
        """The scorers, rebuilt from their mappings (judges included), then the safety section's."""
        own = [build_scorer(raw) for raw in self.scorers]
        if self.safety is None:
            return own
        return own + [build_scorer(raw) for raw in self.safety.scorers()]


    def variants(self) -> list[Variant]:
        """Every provider x prompt x parameter combination, in declaration order."""
        keys = list(self.params)
        combos = list(itertools.product(*(self.params[k] for k in keys))) or [()]
        varying = [k for k in keys if len(self.params[k]) > 1]
        out = []
        models = [p for p in self.providers if p.role == "model"]
        for provider in models:
            for prompt in self.prompts:
                for combo in combos:
                    params = dict(zip(keys, combo, strict=True))
                    parts = [provider.name] if len(models) > 1 else []
                    parts += [prompt.name] if len(self.prompts) > 1 else []
                    parts += [f"{k}={params[k]}" for k in varying]
                    out.append(Variant("/".join(parts) or provider.name, provider, prompt, params))
        return out


@dataclass(frozen=True)
class Variant:
    """One column of the matrix: a provider, a prompt and parameter values. ``name`` shows
    what varies (the provider and prompt when there are several, the varying parameters)."""

    name: str
    provider: ProviderSpec
    prompt: PromptSpec
    params: dict[str, Any]


def build_scorer(raw: dict[str, Any]) -> Any:
    """A deterministic scorer, or a judge (``kind: judge``), from its suite mapping."""
    if isinstance(raw, dict) and raw.get("kind") == "judge":
        from assay.llm.judges import judge_from_config

        return judge_from_config(raw)
    from assay.llm._score import scorer_from_config

    return scorer_from_config(raw)

def load_suite(path: str | Path) -> SuiteSpec:
    """Read and validate a suite YAML file; errors name the key path."""
    from assay.spec import read_yaml, validate_mapping

    p, raw = read_yaml(path, "suite file not found; pass the path to a suite YAML file")
    return validate_mapping(SuiteSpec, raw, str(p), "a suite")
