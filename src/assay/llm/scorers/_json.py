"""JSON scorers: ``json_valid`` (the output parses as strict JSON) and ``json_schema`` (it
parses and conforms to an inline JSON Schema, checked with the ``jsonschema`` package using
the validator of the schema's ``$schema`` draft, Draft 2020-12 when absent).

Strict JSON: ``NaN``, ``Infinity`` and ``-Infinity`` (which Python's ``json`` accepts) are
rejected. With ``allow_fences: true`` a Markdown code fence around the JSON (```json ... ```)
is removed first, since chat models often add one. The reason names the parse error's line
and column, or the first failing path of the schema (errors ordered by their JSON path) and
the number of violations; ``details["errors"]`` lists up to 20 of them.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_serializer

from assay.llm._score import CaseView, Score, ScorerConfig, register_scorer

_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*[ \t]*\r?\n(.*?)\r?\n?```\s*$", re.DOTALL)
MAX_LISTED = 20


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(text: str, *, allow_fences: bool = False) -> tuple[Any, str | None]:
    """Parse strict JSON; returns (value, None) or (None, error text with line and column)."""
    if allow_fences:
        m = _FENCE.match(text)
        if m:
            text = m.group(1)
    if not text.strip():
        return None, "output is empty"
    try:
        return json.loads(text, parse_constant=_reject_constant), None
    except json.JSONDecodeError as exc:
        return None, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
    except ValueError as exc:
        return None, f"invalid JSON: {exc}"


@register_scorer
class JsonValid(ScorerConfig):
    """The output is valid (strict) JSON; value 1.0 or 0.0, passed = valid."""

    kind: Literal["json_valid"] = "json_valid"
    allow_fences: bool = False

    def _score(self, case: CaseView, output: str) -> Score:
        value, err = parse_json(output, allow_fences=self.allow_fences)
        if err is not None:
            return self._ok(0.0, False, err)
        return self._ok(1.0, True, f"valid JSON ({type(value).__name__})")


def _validator(schema: dict[str, Any]) -> Any:
    try:
        import jsonschema
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("the json_schema scorer needs the 'jsonschema' package: "
                          "pip install jsonschema") from None
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls, jsonschema.exceptions.SchemaError


def _error_order(err: Any) -> tuple[Any, ...]:
    """Document order of a schema error's path (array indices numerically), then its rule."""
    path = tuple((isinstance(p, str), p) for p in err.absolute_path)
    return path, str(err.validator), err.message


@register_scorer
class JsonSchema(ScorerConfig):
    """The output is valid JSON that conforms to ``schema`` (inline); value 1.0 or 0.0."""

    kind: Literal["json_schema"] = "json_schema"
    #: the JSON Schema, inline (YAML key ``schema``; the attribute is ``schema_`` because
    #: pydantic's BaseModel has a ``schema`` method)
    schema_: dict[str, Any] = Field(alias="schema")
    allow_fences: bool = False

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_serializer(mode="wrap")
    def _dump_as_schema(self, handler: Any) -> dict[str, Any]:
        """Dump the schema under its YAML key, so that a dumped config parses back."""
        data = handler(self)
        if "schema_" in data:
            data["schema"] = data.pop("schema_")
        return data

    @field_validator("schema_")
    @classmethod
    def _valid_schema(cls, v: dict[str, Any]) -> dict[str, Any]:
        vcls, schema_error = _validator(v)
        try:
            vcls.check_schema(v)
        except schema_error as exc:
            path = "/".join(str(p) for p in exc.absolute_path) or "(root)"
            raise ValueError(f"schema is not a valid JSON Schema at {path}: {exc.message}") from None
        return v

    def _score(self, case: CaseView, output: str) -> Score:
        value, err = parse_json(output, allow_fences=self.allow_fences)
        if err is not None:
            return self._ok(0.0, False, err, errors=[])
        vcls, _ = _validator(self.schema_)
        errors = sorted(vcls(self.schema_).iter_errors(value),
                        key=_error_order)
        if not errors:
            return self._ok(1.0, True, "valid JSON conforming to the schema", errors=[])
        first = errors[0]
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        listed = [{"path": e.json_path, "validator": str(e.validator), "message": e.message}
                  for e in errors[:MAX_LISTED]]
        return self._ok(0.0, False, f"schema violation at {first.json_path}: {first.message}{more}",
                        errors=listed, n_errors=len(errors))
