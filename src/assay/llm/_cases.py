"""Cases of an LLM suite: read inline or from a JSONL, CSV or Parquet file, validated, and
content-hashed so the run record names exactly what was asked.

A case has an ``id``, an ``input`` (text) or ``messages`` (a chat), and optionally
``expected`` (the reference output), ``context`` (retrieved documents ``{id, text}``),
``tags`` (for slicing), ``vars`` (extra template variables) and ``cluster`` (cases that share
a cluster, such as the variants of one seed prompt, are not independent: the intervals
resample or count them as one unit). In CSV files ``tags`` is a ``;``-separated string and
``context``/``messages``/``vars`` are JSON text.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay._errors import InputError
from assay.llm._rows import read_records
from assay.llm.providers._types import canonical_json

FIELDS = ("id", "input", "messages", "expected", "context", "tags", "vars", "cluster")
ROLES = ("system", "user", "assistant", "tool")


@dataclass(frozen=True)
class Case:
    id: str
    input: str | None = None
    messages: tuple[dict[str, str], ...] = ()
    expected: Any = None
    context: tuple[dict[str, str], ...] = ()
    tags: tuple[str, ...] = ()
    vars: dict[str, Any] = field(default_factory=dict)
    #: the unit of independence (default: the case itself)
    cluster: str | None = None

    @property
    def unit(self) -> str:
        """The case's cluster, or its id when it stands alone."""
        return self.cluster if self.cluster is not None else self.id

    def to_dict(self) -> dict[str, Any]:
        out = {"id": self.id, "input": self.input, "messages": list(self.messages),
               "expected": self.expected, "context": list(self.context), "tags": list(self.tags),
               "vars": self.vars}
        if self.cluster is not None:  # absent when unset, so hashes of earlier suites stay the same
            out["cluster"] = self.cluster
        return out


def cases_sha256(cases: list[Case]) -> str:
    """SHA-256 of the cases' canonical JSON, in order."""
    h = hashlib.sha256()
    for c in cases:
        h.update(canonical_json(c.to_dict()).encode() + b"\n")
    return h.hexdigest()


def _json_field(value: Any, where: str, name: str) -> Any:
    if _missing(value):
        return None
    if isinstance(value, str) and name in ("context", "messages", "vars"):
        try:
            return json.loads(value) if value.strip() else None
        except json.JSONDecodeError as exc:
            raise InputError(f"{where}: '{name}' is not valid JSON ({exc.msg} at character "
                             f"{exc.pos}); in CSV files write it as JSON text") from None
    return value


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def parse_case(raw: Any, where: str) -> Case:
    """One case from a mapping; errors name ``where`` (file and row, or the suite key)."""
    if not isinstance(raw, dict):
        raise InputError(f"{where}: a case is a mapping with at least 'id' and 'input' or "
                         f"'messages', got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise InputError(f"{where}: unknown case field(s) {', '.join(map(repr, unknown))}; fields: "
                         f"{', '.join(FIELDS)} (put other values under 'vars')")
    if _missing(raw.get("id")) or str(raw.get("id")).strip() == "":
        raise InputError(f"{where}: the case has no 'id'; give every case a unique id")
    cid = str(raw["id"])
    where = f"{where} (case {cid!r})"
    messages = _json_field(raw.get("messages"), where, "messages")
    text = raw.get("input")
    if _missing(text) and not messages:
        raise InputError(f"{where}: give 'input' (the user's text) or 'messages' (a chat)")
    msgs: list[dict[str, str]] = []
    for j, m in enumerate(messages or []):
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise InputError(f"{where}: messages[{j}] must be {{role: one of {', '.join(ROLES)}, "
                             f"content: text}}, got {m!r}")
        msgs.append({"role": m["role"], "content": m["content"]})
    context = _json_field(raw.get("context"), where, "context") or []
    docs: list[dict[str, str]] = []
    for j, d in enumerate(context if isinstance(context, list) else [context]):
        if isinstance(d, str):
            d = {"id": str(j + 1), "text": d}
        if not isinstance(d, dict) or "text" not in d:
            raise InputError(f"{where}: context[{j}] must be text or {{id, text}}, got {d!r}")
        docs.append({"id": str(d.get("id", j + 1)), "text": str(d["text"])})
    tags = raw.get("tags")
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(";") if t.strip()]
    elif _missing(tags):
        tags = []
    if not isinstance(tags, list | tuple):
        raise InputError(f"{where}: 'tags' is a list of names (or 'a;b' in CSV), got {tags!r}")
    variables = _json_field(raw.get("vars"), where, "vars") or {}
    if not isinstance(variables, dict):
        raise InputError(f"{where}: 'vars' is a mapping of template variables, got {variables!r}")
    expected = None if _missing(raw.get("expected")) else raw.get("expected")
    cluster = None if _missing(raw.get("cluster")) else str(raw["cluster"])
    return Case(cid, None if _missing(text) else str(text), tuple(msgs), expected, tuple(docs),
                tuple(str(t) for t in tags), dict(variables), cluster)


def load_cases(source: str | list[Any], base_dir: Path) -> list[Case]:
    """The suite's cases: an inline list, or a file relative to the suite's folder."""
    if isinstance(source, list):
        raw, where = source, "cases"
        cases = [parse_case(r, f"cases[{i}]") for i, r in enumerate(raw)]
    else:
        path = Path(source)
        path = path if path.is_absolute() else base_dir / path
        rows = read_records(path, noun="case", key="'cases' in the suite", kinds="cases")
        cases = [parse_case(r, f"{path} row {i + 1}") for i, r in enumerate(rows)]
        where = str(path)
    check_cases(cases, where)
    return cases


def check_cases(cases: list[Any], where: str) -> None:
    """At least one case, and unique ids; errors name ``where`` and the rows."""
    if not cases:
        raise InputError(f"{where}: no cases; a suite needs at least one")
    seen: dict[str, int] = {}
    for i, c in enumerate(cases):
        if c.id in seen:
            raise InputError(f"{where}: case id {c.id!r} repeats (row {seen[c.id] + 1} and row {i + 1}); "
                             "ids must be unique")
        seen[c.id] = i
