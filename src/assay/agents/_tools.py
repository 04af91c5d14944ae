"""A mock tool environment: declared tools, a state, and a record of every call.

A tool is declared with a ``name``, a ``description`` and a JSON-schema ``parameters`` object
(what the agent sees), and one implementation:

    function    ``module:function`` or ``file.py:function`` (relative to the suite's folder),
                called as ``function(state, **arguments)``; it may change ``state`` and returns
                the result (JSON values); an exception is the call's tool error
    responses   a table of rules tried in order: the first whose ``when`` is a subset of the
                arguments (with ``match`` matchers, see :mod:`assay.agents._match`) gives
                ``result`` (or ``error``) and applies its ``effects``; a rule without ``when``
                matches any call; no matching rule is a tool error

``effects`` (on a rule, or on the tool for every successful call) change the state:
``set: {path: value}`` and ``append: {path: value}`` with dotted paths. In paths, values and
results, ``{arg}`` is replaced by the call's argument: a string that is exactly ``{arg}``
becomes the argument's value (its type kept), other strings get its text.

:class:`ToolEnv` holds a deep copy of a case's initial state and executes calls in order.
Before a tool runs, its arguments are validated against ``parameters`` with ``jsonschema``; a
call with arguments that are not JSON, that break the schema, or that name an unknown tool is
answered with a tool error (the agent may correct itself) and recorded like any other call,
with the step, turn, arguments, result, error and latency.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from jsonschema import exceptions as schema_errors
from jsonschema import validators
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from assay._errors import InputError
from assay._loader import load_function
from assay.agents._match import Matcher, match_subset, parse_matchers
from assay.llm.providers._types import canonical_json

#: error kinds of a recorded call; None when the tool ran and answered
INVALID_JSON, UNKNOWN_TOOL, SCHEMA, NO_RESPONSE, TOOL_ERROR = (
    "invalid_json", "unknown_tool", "schema", "no_response", "tool_error")
_ARG = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = r"^[A-Za-z0-9_-]{1,64}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Effects(_Strict):
    """State changes: ``set`` puts a value at a dotted path, ``append`` adds one to the list
    there (created when absent)."""

    set: dict[str, Any] = Field(default_factory=dict)
    append: dict[str, Any] = Field(default_factory=dict)


class ResponseRule(_Strict):
    """One row of a declarative tool: when the arguments match ``when``, answer ``result`` (or
    the tool error ``error``) and apply ``effects``."""

    when: dict[str, Any] = Field(default_factory=dict)
    match: dict[str, str] = Field(default_factory=dict)
    result: Any = None
    error: str | None = None
    effects: Effects = Field(default_factory=Effects)

    @field_validator("match")
    @classmethod
    def _matchers(cls, v: dict[str, str]) -> dict[str, str]:
        parse_matchers(v, "match")
        return v

    def matchers(self) -> dict[str, Matcher]:
        return parse_matchers(self.match, "match")


class ToolSpec(_Strict):
    """A tool the agent may call (see the module docstring)."""

    name: str = Field(pattern=_NAME)
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    function: str | None = None
    responses: list[ResponseRule] | None = None
    effects: Effects = Field(default_factory=Effects)

    @field_validator("parameters")
    @classmethod
    def _schema(cls, v: dict[str, Any]) -> dict[str, Any]:
        if v.get("type", "object") != "object":
            raise ValueError(f"parameters must be a JSON schema of type 'object' (the arguments are named), "
                             f"got type {v.get('type')!r}")
        try:
            validators.validator_for(v).check_schema(v)
        except schema_errors.SchemaError as exc:
            where = "/".join(map(str, exc.absolute_path)) or "the schema"
            raise ValueError(f"parameters is not a valid JSON schema at {where}: {exc.message}") from None
        return v

    @model_validator(mode="after")
    def _one(self) -> ToolSpec:
        given = [k for k in ("function", "responses") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"tool {self.name!r}: give exactly one of 'function' (module:function or "
                             f"file.py:function) or 'responses' (a table of results); got "
                             f"{', '.join(given) or 'none'}")
        if self.function is not None and ":" not in self.function:
            raise ValueError(f"tool {self.name!r}: function must be 'module:function' or 'file.py:function', "
                             f"got {self.function!r}")
        return self

    def definition(self) -> dict[str, Any]:
        """The tool as the model sees it (OpenAI's ``tools`` entry)."""
        return {"type": "function", "function": {"name": self.name, "description": self.description,
                                                 "parameters": self.parameters}}


@dataclass
class ToolCallRecord:
    """One tool call as the environment saw and answered it."""

    seq: int
    turn: int
    step: int
    call_id: str
    name: str
    arguments: dict[str, Any] | None
    raw_arguments: str | None
    result: Any
    error: str | None
    error_kind: str | None
    latency_s: float

    @property
    def schema_valid(self) -> bool:
        """The arguments were a JSON object that satisfies the tool's schema (the tool exists)."""
        return self.error_kind not in (INVALID_JSON, UNKNOWN_TOOL, SCHEMA)

    def content(self) -> str:
        """What the agent reads back: the result as JSON text, or ``{"error": ...}``."""
        if self.error is not None:
            return canonical_json({"error": self.error})
        return self.result if isinstance(self.result, str) else canonical_json(self.result)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"schema_valid": self.schema_valid}


class Toolbox:
    """Tool specs made ready to run: schemas compiled, functions imported (once per suite)."""

    def __init__(self, tools: Sequence[ToolSpec | dict[str, Any]], base_dir: str | Path = ".") -> None:
        specs = [t if isinstance(t, ToolSpec) else ToolSpec.model_validate(t) for t in tools]
        names = [t.name for t in specs]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise InputError(f"tool names must be unique; repeated: {', '.join(dup)}")
        self.specs = {t.name: t for t in specs}
        self.validators = {t.name: validators.validator_for(t.parameters)(t.parameters) for t in specs}
        base = Path(base_dir)
        self.functions = {t.name: load_function(t.function, base, f"tool {t.name!r}")
                          for t in specs if t.function is not None}

    @property
    def names(self) -> list[str]:
        return list(self.specs)

    def definitions(self) -> list[dict[str, Any]]:
        """The ``tools`` request parameter."""
        return [t.definition() for t in self.specs.values()]

    def schema_problem(self, name: str, arguments: dict[str, Any]) -> str | None:
        """Why the arguments break the tool's schema (the first problems), or None."""
        found = sorted(self.validators[name].iter_errors(arguments), key=lambda e: list(e.absolute_path))
        if not found:
            return None
        parts = []
        for e in found[:3]:
            at = "/".join(map(str, e.absolute_path))
            parts.append(f"{at}: {e.message}" if at else e.message)
        more = f" (+{len(found) - 3} more)" if len(found) > 3 else ""
        return "; ".join(parts) + more


class ToolError(Exception):
    """Raised inside the environment for a call that gets a tool error of ``kind``."""

    def __init__(self, message: str, kind: str = TOOL_ERROR) -> None:
        super().__init__(message)
        self.kind = kind


def _substitute(value: Any, args: dict[str, Any]) -> Any:
    """``{arg}`` references replaced by the call's arguments (see the module docstring)."""
    if isinstance(value, str):
        whole = _ARG.fullmatch(value)
        if whole:
            if whole.group(1) not in args:
                raise ToolError(f"the tool refers to argument {whole.group(1)!r}, which the call did not "
                                "give")
            return copy.deepcopy(args[whole.group(1)])

        def one(m: re.Match[str]) -> str:
            if m.group(1) not in args:
                raise ToolError(f"the tool refers to argument {m.group(1)!r}, which the call did not give")
            v = args[m.group(1)]
            return v if isinstance(v, str) else json.dumps(v)

        return _ARG.sub(one, value)
    if isinstance(value, dict):
        return {_substitute(k, args): _substitute(v, args) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, args) for v in value]
    return value


def _parent(state: dict[str, Any], path: str) -> tuple[dict[str, Any], str]:
    """The mapping that holds ``path``'s last key (intermediate mappings created)."""
    keys = path.split(".")
    here = state
    for i, key in enumerate(keys[:-1]):
        nxt = here.setdefault(key, {})
        if not isinstance(nxt, dict):
            where = ".".join(keys[: i + 1])
            raise ToolError(f"state path {where!r} holds {type(nxt).__name__}, not a mapping")
        here = nxt
    return here, keys[-1]


def apply_effects(state: dict[str, Any], effects: Effects, args: dict[str, Any]) -> None:
    """Apply ``set`` then ``append`` effects to ``state`` in place."""
    for path, value in effects.set.items():
        holder, key = _parent(state, _substitute(path, args))
        holder[key] = _substitute(value, args)
    for path, value in effects.append.items():
        holder, key = _parent(state, _substitute(path, args))
        target = holder.setdefault(key, [])
        if not isinstance(target, list):
            raise ToolError(f"cannot append to state path {path!r}: it holds {type(target).__name__}")
        target.append(_substitute(value, args))


def _detached(value: Any) -> Any:
    """A JSON copy of a result, so later state changes cannot alter what was recorded."""
    return json.loads(canonical_json(value))


class ToolEnv:
    """The tools of one case run: a state (a deep copy of the initial one) and the call record."""

    def __init__(self, tools: Toolbox | Sequence[ToolSpec | dict[str, Any]],
                 state: dict[str, Any] | None = None, *, base_dir: str | Path = ".") -> None:
        self.toolbox = tools if isinstance(tools, Toolbox) else Toolbox(tools, base_dir)
        self.state: dict[str, Any] = copy.deepcopy(state or {})
        self.calls: list[ToolCallRecord] = []

    def definitions(self) -> list[dict[str, Any]]:
        return self.toolbox.definitions()

    def call(self, name: str, arguments: dict[str, Any] | None, *, turn: int = 0, step: int = 0,
             call_id: str = "", raw_arguments: str | None = None, parse_error: str | None = None
             ) -> ToolCallRecord:
        """Validate and execute one call, record it and return the record. ``parse_error``: the
        provider could not read the call's arguments (they are answered as a tool error)."""
        started = time.perf_counter()
        result: Any = None
        error: str | None = None
        kind: str | None = None
        try:
            if name not in self.toolbox.specs:
                raise ToolError(f"unknown tool {name!r}; the tools are {', '.join(self.toolbox.names)}",
                                UNKNOWN_TOOL)
            if parse_error is not None or arguments is None:
                raise ToolError(f"the call could not be read: {parse_error or 'no arguments'}; send the "
                                "arguments as a JSON object", INVALID_JSON)
            problem = self.toolbox.schema_problem(name, arguments)
            if problem is not None:
                raise ToolError(f"arguments do not match the schema of {name}: {problem}", SCHEMA)
            result = self._run(name, arguments)
        except ToolError as exc:
            error, kind = str(exc), exc.kind
        record = ToolCallRecord(len(self.calls), turn, step, call_id, name,
                                copy.deepcopy(arguments) if arguments is not None else None,
                                raw_arguments if raw_arguments is not None else
                                (canonical_json(arguments) if arguments is not None else None),
                                None if error is not None else result, error, kind,
                                time.perf_counter() - started)
        self.calls.append(record)
        return record

    def _run(self, name: str, args: dict[str, Any]) -> Any:
        spec = self.toolbox.specs[name]
        # effects apply to a scratch copy first: a failing effect leaves the state as it was
        scratch = copy.deepcopy(self.state)
        if spec.function is not None:
            try:
                result = self.toolbox.functions[name](scratch, **copy.deepcopy(args))
            except Exception as exc:  # noqa: BLE001 - the tool's failure is the agent's tool error
                raise ToolError(f"{exc.__class__.__name__}: {exc}") from None
        else:
            rule = next((r for r in spec.responses or [] if not match_subset(r.when, args, r.matchers())),
                        None)
            if rule is None:
                raise ToolError(f"{name}: no response for arguments {canonical_json(args)}", NO_RESPONSE)
            if rule.error is not None:
                raise ToolError(_substitute(rule.error, args))
            apply_effects(scratch, rule.effects, args)
            result = _substitute(rule.result, args)
        apply_effects(scratch, spec.effects, args)
        self.state = scratch
        return _detached(result)
