"""The agent suite spec (YAML): cases, tools, providers (the agents), scorers, the step limit,
statistics settings and gate rules.

Every provider with role ``model`` is one *variant*: an OpenAI-compatible server with tool
calling (``base_url``), or a Python agent (``callable``: ``module:function`` or
``file.py:function`` relative to the suite's folder, taking a ChatRequest and returning
``{"content": ..., "tool_calls": [...]}``). Each case runs once per variant.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from assay._errors import SpecError, repeated
from assay.agents._loop import DEFAULT_MAX_STEPS
from assay.agents._scorers import DEFAULT_SCORERS, AgentScorer, agent_scorer_from_config
from assay.agents._tools import ToolSpec
from assay.llm._suite import ProviderSpec, SuiteCompareSpec


class AgentSuiteSpec(BaseModel):
    """A complete agent evaluation (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "agents"
    cases: str | list[dict[str, Any]]
    tools: list[ToolSpec] = Field(min_length=1)
    #: the system message that opens every conversation
    system: str | None = None
    #: the tools' state at the start of every case (a case's initial_state replaces top-level keys)
    initial_state: dict[str, Any] = Field(default_factory=dict)
    providers: list[ProviderSpec] = Field(min_length=1)
    #: request parameters sent with every model call (temperature, max_tokens, tool_choice, ...)
    params: dict[str, Any] = Field(default_factory=dict)
    scorers: list[dict[str, Any]] = Field(default_factory=lambda: [dict(s) for s in DEFAULT_SCORERS])
    #: model calls allowed per user turn (a case's max_steps overrides it)
    max_steps: int = Field(default=DEFAULT_MAX_STEPS, ge=1, le=1000)
    seed: int = Field(default=0, ge=0)
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    bootstrap: int = Field(default=1000, ge=100, le=100_000)
    #: the response cache folder (relative to the suite), or false for none
    cache: str | bool = ".assay/llm-cache"
    compare: SuiteCompareSpec = Field(default_factory=SuiteCompareSpec)
    #: gate rules on the scores, as in LLM suites: metric "<scorer>.pass_rate" or "<scorer>.mean"
    gates: list[Any] = Field(default_factory=list)
    min_cases: int = Field(default=1, ge=1)

    @property
    def samples(self) -> int:
        """Each case runs once per variant (the LLM report's notion of samples)."""
        return 1

    @field_validator("gates", mode="before")
    @classmethod
    def _gate_rules(cls, v: Any) -> Any:
        from assay.gates import parse_rules

        return parse_rules(v)

    @field_validator("scorers")
    @classmethod
    def _scorers(cls, v: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not v:
            raise ValueError("give at least one scorer (or leave 'scorers' out for all six)")
        labels = []
        for raw in v:
            try:
                labels.append(agent_scorer_from_config(raw).label)
            except SpecError as exc:
                raise ValueError(str(exc)) from None
        dup = repeated(labels)
        if dup:
            raise ValueError(f"scorer names must be unique; repeated: {', '.join(dup)} (set 'name')")
        return v

    @field_validator("params")
    @classmethod
    def _params(cls, v: dict[str, Any]) -> dict[str, Any]:
        for key in ("model", "messages", "tools"):
            if key in v:
                raise ValueError(f"params.{key}: set the model on the provider, the tools under 'tools' and "
                                 "the conversation in the cases, not in params")
        return v

    @model_validator(mode="after")
    def _unique(self) -> AgentSuiteSpec:
        for what, names in (("provider", [p.name for p in self.providers]),
                            ("tool", [t.name for t in self.tools])):
            dup = repeated(names)
            if dup:
                raise ValueError(f"{what} names must be unique; repeated: {', '.join(dup)}")
        if not any(p.role == "model" for p in self.providers):
            raise ValueError("no provider with role 'model': at least one provider must be the agent")
        for p in self.providers:
            if p.gguf is not None:
                raise ValueError(f"provider {p.name!r}: local GGUF models cannot call tools in assay; use an "
                                 "OpenAI-compatible server with tool calling (base_url) or a Python agent "
                                 "(callable)")
        return self

    def scorer_configs(self) -> list[AgentScorer]:
        return [agent_scorer_from_config(raw) for raw in self.scorers]

    def variants(self) -> list[ProviderSpec]:
        return [p for p in self.providers if p.role == "model"]

    def comparison(self) -> tuple[str, list[str]] | None:
        """(baseline, candidates) by provider name, or None with fewer than two agents."""
        return self.compare.pick([p.name for p in self.variants()], "agent")


def load_agent_suite(path: str | Path) -> AgentSuiteSpec:
    """Read and validate an agent suite YAML file; errors name the key path."""
    from assay.spec import read_yaml, validate_mapping

    p, raw = read_yaml(path, "agent suite file not found; pass the path to an agent suite YAML file")
    return validate_mapping(AgentSuiteSpec, raw, str(p), "an agent suite")
