"""Agent cases: what the user says, which tool calls are expected, and the state the
conversation should leave behind. Read inline or from a JSONL or YAML file, validated (errors
name the file, the row, the case and the field), and content-hashed for the run record.

    id               unique
    input | turns    one user message, or a list of user turns (a multi-turn conversation:
                     each turn runs to the agent's final reply, then the next is sent)
    expected_calls   [{name, args, match}]: the calls the agent should make; ``args`` are a
                     subset of the actual arguments, compared with ``match`` matchers
                     (``{arg: exact|numeric(tol)|regex|contains|any}``, default exact). For a
                     multi-turn case, a list per turn (one list per entry of ``turns``) or one
                     flat list for the whole conversation. ``[]``: no tool should be called.
    order            strict (the expected calls in their order; default), any (order not
                     checked), or a list of ``[before, after]`` tool-name pairs
    initial_state    the tools' state at the start (over the suite's ``initial_state``: its
                     top-level keys replace the suite's)
    expected_state   a subset of the final state; ``state_match`` gives matchers by dotted path
    expected_answer  text (or texts) the final reply should satisfy, with ``answer_match``
                     (contains, the default, regex or exact)
    max_steps        model calls allowed per user turn (default: the suite's)
    tags, cluster    slices, and the unit of independence for intervals
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

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

from assay._errors import InputError
from assay.agents._match import Matcher, compile_check, parse_matchers
from assay.llm._cases import check_cases
from assay.llm._rows import read_records
from assay.llm.providers._types import canonical_json

ORDERS = ("strict", "any")
ANSWER_MATCHERS = ("contains", "regex", "exact")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExpectedCall(_Strict):
    """A tool call the agent should make: the tool's name, the arguments that must match
    (a subset of the actual ones) and how each is compared."""

    name: str = Field(min_length=1)
    args: dict[str, Any] = Field(default_factory=dict)
    match: dict[str, str] = Field(default_factory=dict)

    @field_validator("match")
    @classmethod
    def _matchers(cls, v: dict[str, str]) -> dict[str, str]:
        for key, m in parse_matchers(v, "match").items():
            if m.kind == "regex":
                compile_check(key, v[key])
        return v

    @model_validator(mode="after")
    def _patterns(self) -> ExpectedCall:
        for key, m in self.matchers().items():
            if m.kind == "regex" and key in self.args:
                compile_check(key, self.args[key])
        return self

    def matchers(self) -> dict[str, Matcher]:
        return parse_matchers(self.match, "match")

    def describe(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.args.items())
        return f"{self.name}({args})"


def _calls_shape(v: Any) -> str:
    """``per_turn`` for a list of lists, else ``flat`` (so errors name one shape, not both)."""
    return "per_turn" if isinstance(v, list) and v and isinstance(v[0], list) else "flat"


def _order_shape(v: Any) -> str:
    return "pairs" if isinstance(v, list) else "name"


#: union branch tags, left out of the field paths in error messages
_TAGS = ("flat", "per_turn", "pairs", "name")
ExpectedCalls = Annotated[Annotated[list[ExpectedCall], Tag("flat")]
                          | Annotated[list[list[ExpectedCall]], Tag("per_turn")], Discriminator(_calls_shape)]
Order = Annotated[Annotated[Literal["strict", "any"], Tag("name")]
                  | Annotated[list[tuple[str, str]], Tag("pairs")], Discriminator(_order_shape)]


class AgentCase(_Strict):
    """One agent case (see the module docstring)."""

    id: str = Field(min_length=1)
    input: str | None = None
    turns: list[str] | None = None
    expected_calls: ExpectedCalls | None = None
    order: Order = "strict"
    initial_state: dict[str, Any] = Field(default_factory=dict)
    expected_state: dict[str, Any] | None = None
    state_match: dict[str, str] = Field(default_factory=dict)
    expected_answer: str | list[str] | None = None
    answer_match: Literal["contains", "regex", "exact"] = "contains"
    max_steps: int | None = Field(default=None, ge=1, le=1000)
    tags: list[str] = Field(default_factory=list)
    cluster: str | None = None

    @field_validator("id", "cluster", mode="before")
    @classmethod
    def _text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v

    @field_validator("state_match")
    @classmethod
    def _state_matchers(cls, v: dict[str, str]) -> dict[str, str]:
        parse_matchers(v, "state_match")
        return v

    @model_validator(mode="after")
    def _shape(self) -> AgentCase:
        if (self.input is None) == (self.turns is None):
            raise ValueError("give 'input' (one user message) or 'turns' (a list of user messages), "
                             "not both and not neither")
        if self.turns is not None and not self.turns:
            raise ValueError("'turns' is empty; give at least one user message")
        groups = self.expected_calls
        if groups and isinstance(groups[0], list):
            if len(groups) != len(self.user_turns):
                raise ValueError(f"expected_calls has {len(groups)} per-turn lists but the case has "
                                 f"{len(self.user_turns)} turn(s); give one list per turn (or one flat "
                                 "list for the whole conversation)")
        if self.expected_answer is not None and self.answer_match == "regex":
            for pattern in ([self.expected_answer] if isinstance(self.expected_answer, str)
                            else self.expected_answer):
                compile_check("expected_answer", pattern)
        return self

    @property
    def user_turns(self) -> list[str]:
        """The user's messages, in order (one for an ``input`` case)."""
        return list(self.turns) if self.turns is not None else [self.input or ""]

    @property
    def per_turn(self) -> bool:
        """Whether ``expected_calls`` holds one list per turn."""
        return bool(self.expected_calls) and isinstance(self.expected_calls[0], list)  # type: ignore[index]

    def call_groups(self) -> list[tuple[int | None, list[ExpectedCall]]]:
        """The expected calls as (turn, calls) groups: one per turn for a per-turn case, else one
        group (turn None) for the whole conversation; empty when the case declares none."""
        if self.expected_calls is None:
            return []
        if self.per_turn:
            return [(t, list(g)) for t, g in enumerate(self.expected_calls)]  # type: ignore[arg-type]
        return [(None, list(self.expected_calls))]  # type: ignore[arg-type]

    def expected_names(self) -> list[str]:
        return [c.name for _, g in self.call_groups() for c in g]

    def state_matchers(self) -> dict[str, Matcher]:
        return parse_matchers(self.state_match, "state_match")

    @property
    def unit(self) -> str:
        return self.cluster if self.cluster is not None else self.id

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def cases_sha256(cases: list[AgentCase]) -> str:
    """SHA-256 of the cases' canonical JSON, in order."""
    h = hashlib.sha256()
    for c in cases:
        h.update(canonical_json(c.to_dict()).encode() + b"\n")
    return h.hexdigest()


def _problems(exc: ValidationError) -> str:
    parts = []
    for e in exc.errors():
        loc = ".".join(str(x) for x in e["loc"] if x not in _TAGS
                       and not (isinstance(x, str) and x.startswith(("list[", "function"))))
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = f"unknown field; fields: {', '.join(AgentCase.model_fields)}"
        parts.append(f"field '{loc}': {msg}" if loc else msg)
    return "; ".join(dict.fromkeys(parts))


def parse_agent_case(raw: Any, where: str) -> AgentCase:
    """One case from a mapping; errors name ``where`` (file and row, or the suite key), the
    case id and the field."""
    if isinstance(raw, AgentCase):
        return raw
    if not isinstance(raw, dict):
        raise InputError(f"{where}: a case is a mapping with at least 'id' and 'input' or 'turns', got "
                         f"{type(raw).__name__}")
    cid = raw.get("id")
    label = f"{where} (case {str(cid)!r})" if cid not in (None, "") else where
    try:
        return AgentCase.model_validate(raw)
    except ValidationError as exc:
        raise InputError(f"{label}: {_problems(exc)}") from None


def _read_yaml_cases(path: Path) -> list[Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise InputError(f"{path}: malformed YAML{at}: {getattr(exc, 'problem', None) or exc}") from None
    if isinstance(raw, dict) and "cases" in raw:
        raw = raw["cases"]
    if not isinstance(raw, list):
        raise InputError(f"{path}: a YAML cases file is a list of cases (or a mapping with 'cases:'), "
                         f"got {type(raw).__name__}")
    return raw


def load_agent_cases(source: str | list[Any], base_dir: str | Path = ".") -> list[AgentCase]:
    """The suite's cases: an inline list, or a ``.jsonl`` / ``.yaml`` / ``.json`` file relative
    to the suite's folder. Ids must be unique."""
    base = Path(base_dir)
    if isinstance(source, list):
        where = "cases"
        cases = [parse_agent_case(r, f"cases[{i}]") for i, r in enumerate(source)]
    else:
        path = Path(source)
        path = path if path.is_absolute() else base / path
        where = str(path)
        suffix = path.suffix.lower()
        if suffix in (".yaml", ".yml"):
            if not path.is_file():
                raise InputError(f"{path}: cases file not found; check 'cases' in the suite (a path "
                                 "relative to the suite file)")
            rows = _read_yaml_cases(path)
        elif suffix == ".json":
            if not path.is_file():
                raise InputError(f"{path}: cases file not found; check 'cases' in the suite")
            try:
                rows = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
            if not isinstance(rows, list):
                raise InputError(f"{path}: a JSON cases file is a list of cases")
        elif suffix in (".jsonl", ".ndjson"):
            rows = read_records(path, noun="case", key="'cases' in the suite", kinds="cases")
        else:
            raise InputError(f"{path}: an agent cases file must be .jsonl, .yaml or .json (got {suffix!r}); "
                             "nested fields such as expected_calls do not fit CSV")
        cases = [parse_agent_case(r, f"{path} row {i + 1}") for i, r in enumerate(rows)]
    check_cases(cases, where)
    return cases


def check_tool_names(cases: list[AgentCase], tools: list[str], where: str = "cases") -> None:
    """Every expected call and order pair names a declared tool (a typo would make a case
    impossible to pass); the error names the case and the tool."""
    known = set(tools)
    for c in cases:
        names = c.expected_names()
        if isinstance(c.order, list):
            names += [n for pair in c.order for n in pair]
        unknown = sorted({n for n in names if n not in known})
        if unknown:
            raise InputError(f"{where}: case {c.id!r} expects tool(s) {', '.join(map(repr, unknown))} that "
                             f"the suite does not declare; tools: {', '.join(tools)}")

