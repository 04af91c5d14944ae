"""Judge configs, their prompts, the output schema and the strict parser.

A judge is a frozen pydantic config: a rubric, a scale (``pass_fail`` or an ordinal
``{min, max, pass_at}``), the judge model and its sampling settings, and two Jinja2 templates
(a system text and the user turn; sandboxed, StrictUndefined, as :mod:`assay.llm._prompts`).
The judge must answer with one JSON object, ``{"score": ..., "reason": "..."}`` (pointwise) or
``{"winner": "A"|"B", "reason": "..."}`` (pairwise). With ``constrain: json_schema`` the request
carries ``response_format={"type": "json_object", "schema": ...}`` (the form llama.cpp's server
and other OpenAI-compatible servers turn into a grammar); with ``none`` the model is only asked.

Parsing is strict whatever the constraint: the whole reply (surrounding whitespace aside) is one
JSON object with exactly the expected keys, no duplicate keys, no NaN/Infinity, an integer score
in range (never a float, string or boolean) or the exact label, and a non-empty reason. No
fences, no prose around it, no repair: anything else is invalid and is re-asked (bounded) by
:func:`assay.llm.judges.judge_cases`.

Hashes: :meth:`prompt_sha256` covers what defines the judge prompt (system and user template
sources, rubric, scale, the answer instructions and the re-ask text), not each rendered prompt;
:func:`judge_fingerprint` adds what makes scores comparable across runs (model, temperature,
the constraint and the parser version).
"""

from __future__ import annotations

import hashlib
import json
import math
from difflib import get_close_matches
from typing import Any, Literal

import jinja2
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from assay._errors import InputError, SpecError
from assay.llm._prompts import TEMPLATES, syntax_error
from assay.llm.providers._types import canonical_json

#: bumped whenever the parsing rules change: scores parsed under other rules are not comparable
PARSER_VERSION = 1
RAW_LIMIT = 2000  # characters of a raw judge reply kept in Score.details


DEFAULT_SYSTEM = ("You are a strict, impartial evaluator. Judge only against the rubric. "
                  "Reply with a single JSON object and nothing else.")

#: the end of both judge templates: the reference and context when present, then the answer rules
_TAIL = """{% if expected is not none %}
## Reference answer
{{ expected }}
{% endif %}{% if context %}
## Context documents
{% for doc in context %}[{{ doc.id }}] {{ doc.text }}
{% endfor %}{% endif %}
## Your answer
{{ instructions }}"""

DEFAULT_TEMPLATE = """## Rubric
{{ rubric }}
{% if input is not none %}
## Input
{{ input }}
{% endif %}
## Output to evaluate
{{ output }}
""" + _TAIL

DEFAULT_PAIRWISE_TEMPLATE = """## Rubric
{{ rubric }}
{% if input is not none %}
## Input
{{ input }}
{% endif %}
## Output A
{{ output_a }}

## Output B
{{ output_b }}
""" + _TAIL

RETRY_TEXT = ("Your reply was invalid: {error}. Reply again with only the JSON object {shape} and nothing "
              "else (attempt {attempt} of {total}).")


class JudgeOutputError(ValueError):
    """A judge reply that does not parse under the strict rules; the message says what is wrong."""


class OrdinalScale(BaseModel):
    """An integer scale ``min..max``; ``pass_at`` (optional) makes ``score >= pass_at`` a pass."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: int = 1
    max: int = 5
    pass_at: int | None = None

    @model_validator(mode="after")
    def _ordered(self) -> OrdinalScale:
        if self.min >= self.max:
            raise ValueError(f"scale min ({self.min}) must be below max ({self.max})")
        if self.pass_at is not None and not self.min <= self.pass_at <= self.max:
            raise ValueError(f"scale pass_at ({self.pass_at}) must lie in [{self.min}, {self.max}]")
        return self


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise JudgeOutputError(f"key {key!r} appears twice")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise JudgeOutputError(f"{name} is not valid JSON")


def load_strict_object(text: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """The reply as a JSON object with exactly ``keys``; a non-empty string ``reason`` if asked for."""
    body = text.strip()
    if not body:
        raise JudgeOutputError("the reply is empty")
    try:
        obj = json.loads(body, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise JudgeOutputError(f"not a JSON object ({exc.msg} at character {exc.pos})") from None
    if not isinstance(obj, dict):
        raise JudgeOutputError(f"a JSON {type(obj).__name__} instead of an object")
    missing = [k for k in keys if k not in obj]
    extra = sorted(k for k in obj if k not in keys)
    if missing or extra:
        parts = ([f"missing key(s) {', '.join(map(repr, missing))}"] if missing else []) + (
            [f"unexpected key(s) {', '.join(map(repr, extra))}"] if extra else [])
        raise JudgeOutputError(f"{'; '.join(parts)}; the object must have exactly "
                               f"{', '.join(map(repr, keys))}")
    if "reason" in keys and (not isinstance(obj["reason"], str) or not obj["reason"].strip()):
        raise JudgeOutputError(f"'reason' must be a non-empty string, got {obj['reason']!r}")
    return obj


class _JudgeBase(BaseModel):
    """What pointwise and pairwise judges share: rubric, model, sampling, retries, templates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    rubric: str = Field(min_length=1)
    provider: str | None = None
    model: str = Field(min_length=1)
    temperature: float = Field(default=0.0, ge=0.0)
    seed: int | None = 0
    max_tokens: int = Field(default=256, gt=0)
    max_retries_invalid: int = Field(default=2, ge=0, le=10)
    constrain: Literal["json_schema", "none"] = "json_schema"
    system: str | None = DEFAULT_SYSTEM
    template: str | None = None

    @field_validator("rubric")
    @classmethod
    def _rubric_text(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("rubric is blank; write what a good output does and how to score it")
        return v

    @model_validator(mode="after")
    def _templates_parse(self) -> _JudgeBase:
        for what, text in (("system", self.system), ("template", self.template)):
            problem = None if text is None else syntax_error(text)
            if problem:
                raise ValueError(f"{what}: {problem}")
        return self

    # --- filled in by the subclasses -------------------------------------------------------------
    kind: str

    def _default_template(self) -> str:
        raise NotImplementedError

    def _scale_payload(self) -> Any:
        raise NotImplementedError

    def answer_shape(self) -> str:
        """The JSON object the judge must reply with, as shown to it."""
        raise NotImplementedError

    def output_schema(self) -> dict[str, Any]:
        """The JSON schema of a valid reply (sent with ``constrain: json_schema``)."""
        raise NotImplementedError

    def parse(self, text: str) -> Any:
        """The verdict in a reply; :class:`JudgeOutputError` when the reply is invalid."""
        raise NotImplementedError

    # --- shared ------------------------------------------------------------------------------------
    @property
    def label(self) -> str:
        """The judge's name in results: ``name`` if given, else ``kind``."""
        return self.name or self.kind

    @property
    def user_template(self) -> str:
        """The user-turn template in use (the default when ``template`` is not given)."""
        return self.template if self.template is not None else self._default_template()

    def instructions(self) -> str:
        """The answer instructions given to the judge (the ``instructions`` template variable)."""
        return f"Reply with only this JSON object: {self.answer_shape()}"

    def config_hash(self) -> str:
        """sha256 of the canonical JSON of the full config (defaults included), for the run record."""
        return hashlib.sha256(canonical_json(self.model_dump(mode="json")).encode()).hexdigest()

    def prompt_sha256(self) -> str:
        """sha256 of the judge prompt's definition: template sources, rubric, scale, instructions,
        the re-ask text. Equal hashes mean the same prompt for every case."""
        body = {"system": self.system, "template": self.user_template, "rubric": self.rubric,
                "scale": self._scale_payload(), "instructions": self.instructions(), "retry": RETRY_TEXT}
        return hashlib.sha256(canonical_json(body).encode()).hexdigest()

    def request_params(self) -> dict[str, Any]:
        """The sampling parameters of every judge request."""
        params: dict[str, Any] = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        if self.seed is not None:
            params["seed"] = self.seed
        if self.constrain == "json_schema":
            params["response_format"] = {"type": "json_object", "schema": self.output_schema()}
        return params

    def render(self, variables: dict[str, Any], item: str) -> tuple[dict[str, str], ...]:
        """The chat messages for one item; an undefined template variable is an InputError."""
        variables = {**variables, "rubric": self.rubric, "instructions": self.instructions()}
        out = []
        for role, text in (("system", self.system), ("user", self.user_template)):
            if text is None:
                continue
            try:
                out.append({"role": role, "content": TEMPLATES.from_string(text).render(**variables)})
            except jinja2.UndefinedError as exc:
                raise InputError(f"judge {self.label!r}, {item}: {exc.message} in its {role} template; the "
                                 f"variables are {', '.join(sorted(variables))}") from None
            except jinja2.TemplateError as exc:
                raise InputError(f"judge {self.label!r}, {item}: the {role} template failed: {exc}") from None
        return tuple(out)

    def retry_message(self, error: str, attempt: int) -> str:
        """The user turn that re-asks after an invalid reply (``attempt`` is the coming one)."""
        return RETRY_TEXT.format(error=error, shape=self.answer_shape(), attempt=attempt,
                                 total=self.max_retries_invalid + 1)


class JudgeConfig(_JudgeBase):
    """A pointwise LLM judge: scores one output against a rubric on ``scale``.

    ``pass_fail``: value 1.0 (pass) or 0.0 (fail), passed set. Ordinal: value = the integer
    score, passed = ``score >= pass_at`` (None without ``pass_at``). Templates see ``rubric``,
    ``instructions``, ``input``, ``output``, ``expected`` (text; non-text as JSON), ``context``
    (list of ``{id, text}``), ``id`` and ``tags``.
    """

    kind: Literal["judge"] = "judge"
    scale: Literal["pass_fail"] | OrdinalScale = "pass_fail"
    #: judge only the cases carrying at least one of these tags (see ScorerConfig.only_tags)
    only_tags: list[str] | None = None

    def applies(self, tags: tuple[str, ...]) -> bool:
        """Whether a case with ``tags`` is one of this judge's cases."""
        return self.only_tags is None or any(t in self.only_tags for t in tags)

    def config_hash(self) -> str:
        """sha256 of the full config (``only_tags`` only when set, so earlier judges keep their hash)."""
        dump = self.model_dump(mode="json", exclude={"only_tags"} if self.only_tags is None else set())
        return hashlib.sha256(canonical_json(dump).encode()).hexdigest()

    def _default_template(self) -> str:
        return DEFAULT_TEMPLATE

    def _scale_payload(self) -> Any:
        return self.scale if isinstance(self.scale, str) else self.scale.model_dump(mode="json")

    def answer_shape(self) -> str:
        if isinstance(self.scale, str):
            return '{"score": "pass" or "fail", "reason": "<one sentence>"}'
        low, high = self.scale.min, self.scale.max
        return f'{{"score": <an integer from {low} to {high}>, "reason": "<one sentence>"}}'

    def output_schema(self) -> dict[str, Any]:
        if isinstance(self.scale, str):
            score: dict[str, Any] = {"type": "string", "enum": ["pass", "fail"]}
        else:
            score = {"type": "integer", "minimum": self.scale.min, "maximum": self.scale.max}
        return {"type": "object",
                "properties": {"score": score, "reason": {"type": "string", "minLength": 1}},
                "required": ["score", "reason"], "additionalProperties": False}

    def parse(self, text: str) -> tuple[str | int, str]:
        """(score, reason): ``"pass"``/``"fail"`` or an integer in range."""
        obj = load_strict_object(text, ("score", "reason"))
        score = obj["score"]
        if isinstance(self.scale, str):
            if score not in ("pass", "fail"):
                raise JudgeOutputError(f"'score' must be \"pass\" or \"fail\", got {score!r}")
        else:
            if isinstance(score, bool) or not isinstance(score, int):
                raise JudgeOutputError(f"'score' must be an integer, got {score!r}")
            if not self.scale.min <= score <= self.scale.max:
                raise JudgeOutputError(f"'score' {score} is outside {self.scale.min}..{self.scale.max}")
        return score, obj["reason"].strip()

    def value_of(self, score: str | int) -> tuple[float, bool | None]:
        """(value, passed) of a parsed score."""
        if isinstance(self.scale, str):
            return float(score == "pass"), score == "pass"
        assert isinstance(score, int)
        return float(score), (None if self.scale.pass_at is None else score >= self.scale.pass_at)


class PairwiseJudgeConfig(_JudgeBase):
    """A pairwise LLM judge: which of two outputs (A or B) better meets the rubric; ``allow_tie``
    adds ``"tie"``. Templates see ``output_a`` and ``output_b`` instead of ``output``."""

    kind: Literal["pairwise_judge"] = "pairwise_judge"
    allow_tie: bool = False

    def _default_template(self) -> str:
        return DEFAULT_PAIRWISE_TEMPLATE

    def _labels(self) -> tuple[str, ...]:
        return ("A", "B", "tie") if self.allow_tie else ("A", "B")

    def _scale_payload(self) -> Any:
        return list(self._labels())

    def answer_shape(self) -> str:
        options = '"A", "B" or "tie"' if self.allow_tie else '"A" or "B"'
        return f'{{"winner": {options}, "reason": "<one sentence>"}}'

    def output_schema(self) -> dict[str, Any]:
        return {"type": "object",
                "properties": {"winner": {"type": "string", "enum": list(self._labels())},
                               "reason": {"type": "string", "minLength": 1}},
                "required": ["winner", "reason"], "additionalProperties": False}

    def parse(self, text: str) -> tuple[str, str]:
        """(winner, reason)."""
        obj = load_strict_object(text, ("winner", "reason"))
        if obj["winner"] not in self._labels():
            raise JudgeOutputError(f"'winner' must be one of {', '.join(map(repr, self._labels()))}, "
                                   f"got {obj['winner']!r}")
        return obj["winner"], obj["reason"].strip()


JUDGES: dict[str, type[_JudgeBase]] = {"judge": JudgeConfig, "pairwise_judge": PairwiseJudgeConfig}


def judge_from_config(
    raw: dict[str, Any] | JudgeConfig | PairwiseJudgeConfig,
) -> JudgeConfig | PairwiseJudgeConfig:
    """Build a judge from its config mapping (suite YAML entry with ``kind: judge`` or
    ``kind: pairwise_judge``, or a dumped run record). Errors name the key and the fix."""
    if isinstance(raw, JudgeConfig | PairwiseJudgeConfig):
        return raw
    if not isinstance(raw, dict):
        raise SpecError(f"a judge is a mapping with 'kind' ({', '.join(JUDGES)}), 'rubric' and 'model'; "
                        f"got {raw!r}")
    kind = raw.get("kind", "judge")
    cls = JUDGES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        close = get_close_matches(str(kind), list(JUDGES), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise SpecError(f"unknown judge kind {kind!r}{hint} Known kinds: {', '.join(JUDGES)}")
    try:
        return cls.model_validate(raw)  # type: ignore[return-value]
    except ValidationError as exc:
        from assay.spec import config_problems

        label = f"judge {raw.get('name') or kind}: "
        raise SpecError(config_problems(exc, cls, lambda at: label + (f"{at}: " if at else ""),
                                        f"a {kind}")) from None


def judge_fingerprint(judge: JudgeConfig | PairwiseJudgeConfig) -> str:
    """sha256 of everything that makes this judge's scores comparable across runs: kind, model,
    prompt (templates, rubric, scale), temperature, the output constraint and the parser version.
    Runs whose fingerprints differ must not be compared as if the judge were the same.
    (Seed, max_tokens and the retry bound are recorded per score but left out: they change which
    sample is drawn or how often it is re-asked, not what is measured.)"""
    body = {"kind": judge.kind, "model": judge.model, "prompt_sha256": judge.prompt_sha256(),
            "scale": judge._scale_payload(), "temperature": judge.temperature,
            "constrain": judge.constrain, "parser": PARSER_VERSION}
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def expected_text(expected: Any) -> str | None:
    """The expected value as prompt text: strings as they are, anything else as JSON."""
    if expected is None or isinstance(expected, str):
        return expected
    if isinstance(expected, float) and not math.isfinite(expected):
        return str(expected)
    return json.dumps(expected, ensure_ascii=False, sort_keys=True, default=str)


def truncate(text: str | None, limit: int = RAW_LIMIT) -> str | None:
    """``text`` cut to ``limit`` characters, with a marker saying how much was cut."""
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + f"… [{len(text) - limit} more characters]"
