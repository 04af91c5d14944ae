"""Prompt templates (Jinja2) that turn a case into chat messages.

A prompt has an optional ``system`` text and either a ``template`` (the user turn) or a list
of ``messages`` (each a role and a template). Templates see the case's ``input``,
``expected``, ``context`` (list of ``{id, text}``), ``tags``, ``id`` and every entry of its
``vars`` (also as ``vars``). Undefined variables are errors naming the case and the prompt,
never silently empty. A case that brings its own ``messages`` (a conversation) keeps them;
the prompt's system text goes first and its template, if any, is the last user turn.
"""

from __future__ import annotations

import hashlib
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, model_validator

from assay._errors import InputError
from assay.llm._cases import ROLES, Case
from assay.llm.providers._types import canonical_json

#: the one template environment of suites and judges: sandboxed (no attribute tricks), and an
#: undefined variable is an error, never an empty string
TEMPLATES = SandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False,
                                 autoescape=False)


def syntax_error(text: str) -> str | None:
    """Why ``text`` is not a valid template ("template syntax error at line N: ..."), or None."""
    try:
        TEMPLATES.parse(text)
    except jinja2.TemplateSyntaxError as exc:
        return f"template syntax error at line {exc.lineno}: {exc.message}"
    return None


class MessageTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: str
    content: str

    @model_validator(mode="after")
    def _role(self) -> MessageTemplate:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}; got {self.role!r}")
        return self


class PromptSpec(BaseModel):
    """One prompt of the matrix."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    system: str | None = None
    template: str | None = None
    messages: list[MessageTemplate] | None = None

    @model_validator(mode="after")
    def _one(self) -> PromptSpec:
        if self.template is not None and self.messages is not None:
            raise ValueError(f"prompt {self.name!r}: give 'template' (the user turn) or 'messages', not both")
        for text in [self.system, self.template, *(m.content for m in self.messages or [])]:
            problem = None if text is None else syntax_error(text)
            if problem:
                raise ValueError(f"prompt {self.name!r}: {problem}")
        return self

    @property
    def sha256(self) -> str:
        """Hash of the prompt's text and structure (goes into the run record)."""
        return hashlib.sha256(canonical_json(self.model_dump(mode="json")).encode()).hexdigest()


def _variables(case: Case) -> dict[str, Any]:
    base = {"id": case.id, "input": case.input, "expected": case.expected,
            "context": [dict(d) for d in case.context], "tags": list(case.tags), "vars": case.vars}
    return {**case.vars, **base}


def _render(text: str, variables: dict[str, Any], prompt: str, case: Case) -> str:
    try:
        return TEMPLATES.from_string(text).render(**variables)
    except jinja2.UndefinedError as exc:
        raise InputError(f"prompt {prompt!r}, case {case.id!r}: {exc.message}; add it to the case "
                         "(input, expected, context, tags or vars) or fix the template") from None
    except jinja2.TemplateError as exc:
        raise InputError(f"prompt {prompt!r}, case {case.id!r}: the template failed: {exc}") from None


def render_messages(prompt: PromptSpec, case: Case) -> tuple[dict[str, str], ...]:
    """The chat messages the model receives for ``case`` under ``prompt``."""
    v = _variables(case)
    out: list[dict[str, str]] = []
    if prompt.system is not None:
        out.append({"role": "system", "content": _render(prompt.system, v, prompt.name, case)})
    if prompt.messages is not None:
        out += [{"role": m.role, "content": _render(m.content, v, prompt.name, case)}
                for m in prompt.messages]
        return tuple(out)
    out += [dict(m) for m in case.messages]
    if prompt.template is not None:
        out.append({"role": "user", "content": _render(prompt.template, v, prompt.name, case)})
    elif not case.messages:
        if case.input is None:
            raise InputError(f"prompt {prompt.name!r}, case {case.id!r}: no template and no input")
        out.append({"role": "user", "content": case.input})
    return tuple(out)
