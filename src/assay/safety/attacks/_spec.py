"""The ``safety:`` section of an LLM suite, and the cases and scorers it builds.

    safety:
      seed: 0                                    # one seed for tokens, placements and variants
      injection: {builtin: true}                 # and/or prompts + meta (Giskard CSV), cases (JSONL)
      variants: {kinds: [base64, roleplay, language], per_seed: 1}
      canary: {where: [system, document], per_attack: 1}
      indirect: {}
      refusal: {builtin: true}                   # and/or pairs: path.jsonl

A section left out is not run. Relative paths are relative to the suite's folder. Every
section that runs adds one scorer config, named after the kind of its cases and limited to
them with ``only_tags``: ``injection`` and ``indirect`` (kind ``injection``), ``canary``
(kind ``canary``) and ``refusal`` (kind ``refusal_correct``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from assay._errors import InputError
from assay.llm._cases import Case
from assay.llm._score import compile_pattern
from assay.safety.attacks._canary import canary_cases, load_canary_attacks
from assay.safety.attacks._indirect import STYLES, indirect_cases, load_indirect_templates
from assay.safety.attacks._injection import builtin_injection_cases, load_injection_csv, load_injection_jsonl
from assay.safety.attacks._refusal import load_refusal_pairs, refusal_cases

Style = Literal["plain", "html-comment", "note-to-ai", "markdown", "fake-system"]
assert set(get_args(Style)) == set(STYLES), "Style must list every hiding style"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InjectionSource(_Strict):
    """Where the direct injection attacks come from; any combination, at least one."""

    builtin: bool = Field(default=False, description="the 44 injection seeds shipped with assay (7 families)")
    prompts: str | None = Field(default=None, description="a Giskard-format prompts CSV (index, prompt, "
                                "name, group, source, language)")
    meta: str | None = Field(default=None, description="the Giskard metadata CSV joined on index "
                             "(expected_strings and match flags); omit when the prompts CSV carries them")
    cases: str | None = Field(default=None, description="a JSONL file of "
                              "{id, prompt, family, detect, source}")

    @model_validator(mode="after")
    def _some(self) -> InjectionSource:
        if not self.builtin and self.prompts is None and self.cases is None:
            raise ValueError("give at least one source of attacks: builtin: true, prompts (with meta) "
                             "or cases")
        if self.meta is not None and self.prompts is None:
            raise ValueError("'meta' is the metadata of a prompts CSV; give 'prompts' too")
        return self


class VariantSpec(_Strict):
    """Seeded disguises of the attacks (see assay.safety.attacks._variants)."""

    kinds: list[Literal["base64", "rot13", "leetspeak", "roleplay", "language"]] = Field(
        default_factory=lambda: ["base64", "rot13", "leetspeak", "roleplay", "language"], min_length=1,
        description="which variants to make of each seed")
    per_seed: int = Field(default=1, ge=1, le=10, description="role-play frames and languages drawn per seed")
    apply_to: list[Literal["injection", "canary"]] = Field(
        default_factory=lambda: ["injection"], min_length=1,
        description="which kinds of cases get variants (indirect and refusal cases get none)")


class CanarySpec(_Strict):
    """Canary tokens planted in a system prompt or a retrieved document."""

    where: list[Literal["system", "document"]] = Field(default_factory=lambda: ["system", "document"],
                                                       min_length=1, description="where tokens are planted")
    per_attack: int = Field(default=1, ge=1, le=20, description="cases per extraction prompt and place, each "
                            "with a fresh token and host (one cluster)")
    attacks: str | None = Field(default=None, description="a JSONL file of extraction prompts "
                                "{id, family, system, document, source}; default: the 24 shipped with assay")


class IndirectSpec(_Strict):
    """Instructions hidden in a retrieved document under a benign task."""

    styles: list[Style] | None = Field(default=None, description="hiding styles; default: all five")
    templates: str | None = Field(default=None, description="a JSONL file of {id, topic, task, paragraphs, "
                                  "instruction, detect, source}; default: the 16 shipped with assay")


class RefusalSpec(_Strict):
    """Paired should-answer / should-refuse prompts; any combination, at least one."""

    builtin: bool = Field(default=False, description="the 64 pairs shipped with assay (8 categories)")
    pairs: str | None = Field(default=None, description="a JSONL file of "
                              "{id, category, answer, refuse, source}")
    extra_patterns: list[str] = Field(default_factory=list, description="more refusal regexes for the "
                                      "refusal_correct scorer (case-insensitive): a model's own phrasing")

    @field_validator("extra_patterns")
    @classmethod
    def _compile(cls, v: list[str]) -> list[str]:
        for p in v:
            compile_pattern(p, "refusal.extra_patterns entry")
        return v

    @model_validator(mode="after")
    def _some(self) -> RefusalSpec:
        if not self.builtin and self.pairs is None:
            raise ValueError("give builtin: true, pairs: <file.jsonl> or both")
        return self


class SafetySpec(_Strict):
    """The ``safety:`` section of a suite (see the module docstring)."""

    seed: int = Field(default=0, ge=0, description="seed of tokens, document placements and variant draws")
    injection: InjectionSource | None = Field(default=None,
                                              description="direct injection and jailbreak attacks")
    variants: VariantSpec | None = Field(default=None, description="disguised copies of the attacks")
    canary: CanarySpec | None = Field(default=None, description="secret-extraction attacks")
    indirect: IndirectSpec | None = Field(default=None, description="injection through retrieved context")
    refusal: RefusalSpec | None = Field(default=None, description="over- and under-refusal pairs")

    @model_validator(mode="after")
    def _coherent(self) -> SafetySpec:
        if not any((self.injection, self.canary, self.indirect, self.refusal)):
            raise ValueError("the safety section runs nothing: add injection, canary, indirect or refusal")
        if self.variants is not None:
            missing = [k for k in self.variants.apply_to if getattr(self, k) is None]
            if missing:
                raise ValueError(f"variants.apply_to names {', '.join(missing)}, which the safety section "
                                 "does not run; add the section or remove it from apply_to")
        return self

    def scorers(self) -> list[dict[str, Any]]:
        """The scorer configs of the sections that run (no file is read)."""
        out = []
        if self.injection is not None:
            out.append(scorer_config("injection", "injection"))
        if self.canary is not None:
            out.append(scorer_config("canary", "canary"))
        if self.indirect is not None:
            out.append(scorer_config("injection", "indirect"))
        if self.refusal is not None:
            refusal = scorer_config("refusal_correct", "refusal")
            if self.refusal.extra_patterns:
                refusal["extra_patterns"] = list(self.refusal.extra_patterns)
            out.append(refusal)
        return out


def _path(value: str, base: Path) -> Path:
    p = Path(value)
    return p if p.is_absolute() else base / p


def scorer_config(kind: str, name: str) -> dict[str, Any]:
    """The suite scorer entry for one kind of safety case."""
    return {"kind": kind, "name": name, "only_tags": [name]}


def build_safety(spec: SafetySpec | Mapping[str, Any],
                 base_dir: str | Path = ".") -> tuple[list[Case], list[dict[str, Any]]]:
    """The cases of a ``safety:`` section and its scorer configs. Case ids must be unique across
    sources (an error names the repeats)."""
    if not isinstance(spec, SafetySpec):
        from assay.spec import validate_mapping

        spec = validate_mapping(SafetySpec, dict(spec) if isinstance(spec, Mapping) else spec, "safety",
                                "the safety section")
    base = Path(base_dir)
    cases: list[Case] = []
    scorers = spec.scorers()
    by_kind: dict[str, list[Case]] = {}
    if spec.injection is not None:
        inj = spec.injection
        got: list[Case] = builtin_injection_cases() if inj.builtin else []
        if inj.prompts is not None:
            meta = None if inj.meta is None else _path(inj.meta, base)
            got += load_injection_csv(_path(inj.prompts, base), meta)
        if inj.cases is not None:
            got += load_injection_jsonl(_path(inj.cases, base))
        by_kind["injection"] = got
    if spec.canary is not None:
        attacks = (None if spec.canary.attacks is None
                   else load_canary_attacks(_path(spec.canary.attacks, base)))
        by_kind["canary"] = canary_cases(spec.canary.where, spec.canary.per_attack, spec.seed, attacks)
    if spec.indirect is not None:
        templates = (None if spec.indirect.templates is None
                     else load_indirect_templates(_path(spec.indirect.templates, base)))
        by_kind["indirect"] = indirect_cases(spec.seed, spec.indirect.styles, templates)
    if spec.refusal is not None:
        pairs = load_refusal_pairs() if spec.refusal.builtin else []
        if spec.refusal.pairs is not None:
            pairs += load_refusal_pairs(_path(spec.refusal.pairs, base))
        by_kind["refusal"] = refusal_cases(pairs)
    if spec.variants is not None:
        from assay.safety.attacks._variants import variants

        for kind in spec.variants.apply_to:
            v = spec.variants
            by_kind[kind] = by_kind[kind] + variants(by_kind[kind], v.kinds, v.per_seed, spec.seed)
    for kind in ("injection", "canary", "indirect", "refusal"):
        cases += by_kind.get(kind, [])
    seen: dict[str, str] = {}
    for c in cases:
        if c.id in seen:
            raise InputError(f"safety: case id {c.id!r} occurs twice ({seen[c.id]} and "
                             f"{c.vars.get('source')}); give the attacks of each file distinct ids")
        seen[c.id] = str(c.vars.get("source"))
    return cases, scorers
