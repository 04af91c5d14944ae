"""Example rows for reports: each model's largest errors and a few excluded rows per reason.

Examples show row-level values, so the spec's privacy rules apply here, once, before any
artifact sees them: the id column and ``privacy.hide`` columns are left out, and
``privacy.hash`` columns are replaced by a keyed hash (see :class:`Redactor`).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import secrets
from difflib import get_close_matches
from typing import Any

from assay._errors import InputError
from assay.data._files import columns_of, quote_ident
from assay.data._sources import EvalRows

#: environment variable holding the key of hashed columns (hex or any text)
HASH_KEY_ENV = "ASSAY_HASH_KEY"
#: longest value shown in an example cell
MAX_CHARS = 80


class Redactor:
    """Which columns an example may show, and the keyed hash of ``hash`` columns.

    The hash is HMAC-SHA256 keyed by ``$ASSAY_HASH_KEY`` (equal values match across runs
    that share the key) or, without it, by a fresh random key (they match within one run
    only): a plain hash of a low-entropy value such as a phone number is reversible by
    trying every value, a keyed one is not.
    """

    def __init__(self, hidden: set[str], hashed: set[str], key: bytes | None = None) -> None:
        self.hidden = hidden
        self.hashed = hashed
        env = os.environ.get(HASH_KEY_ENV)
        self.key = key if key is not None else (env.encode() if env else secrets.token_bytes(32))
        self.keyed = key is not None or bool(env)

    def visible(self, columns: list[str]) -> list[str]:
        return [c for c in columns if c not in self.hidden]

    def value(self, column: str, value: Any) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return ""
        if column in self.hashed:
            digest = hmac.new(self.key, str(value).encode(), hashlib.sha256).hexdigest()
            return f"#{digest[:12]}"
        text = str(value)
        return text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"


def redactor_for(rows: EvalRows) -> Redactor:
    spec = rows.spec
    hidden = set(spec.privacy.hide)
    if spec.id and not spec.privacy.show_id:
        hidden.add(spec.id)
    return Redactor(hidden, set(spec.privacy.hash))


def _error_sql(rows: EvalRows, i: int) -> tuple[str, str]:
    """(error expression, prediction text expression) of model ``i`` over ``assay_rows``."""
    cols = rows.score_columns[i]
    task = rows.spec.task
    if task == "binary":
        return f"abs({cols[0]} - __y)", f"printf('%.4f', {cols[0]})"
    if task == "regression":
        return f"abs({cols[0]} - __y)", f"printf('%.6g', {cols[0]})"
    p_true = "CASE __y " + " ".join(f"WHEN {j} THEN {c}" for j, c in enumerate(cols)) + " END"
    best = f"greatest({', '.join(cols)})"
    names = "CASE " + " ".join(
        f"WHEN {c} = {best} THEN {_literal(str(k))}" for c, k in zip(cols, rows.classes, strict=True)
    ) + " END"
    return f"(1 - {p_true})", f"{names} || printf(' (%.3f)', {best})"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def numbered_relation(rows: EvalRows) -> str:
    """A relation template (``{view}``) adding ``__row``, the 1-based row number in the
    dataset. ``row_number() OVER ()`` keeps the scan order of a single table on every thread,
    but not across a join: when predictions come from separate files the dataset is numbered
    alone and the number joined back on the (unique) id."""
    if not any(m.path for m in rows.spec.models):
        return "(SELECT row_number() OVER () AS __row, * FROM {view})"
    rid = quote_ident(rows.spec.id)  # set whenever a model has a predictions file
    return ("(SELECT n.__row, v.* FROM {view} v JOIN (SELECT row_number() OVER () AS __row, "
            f"{rid} AS __rid FROM assay_data) n ON v.{rid} = n.__rid)")


def example_rows(rows: EvalRows) -> list[dict[str, Any]]:
    """Up to ``privacy.examples`` rows per model's largest errors and per exclusion reason.

    Each is ``{"section", "model", "reason", "row", "label", "prediction", "values"}``;
    ``row`` is the 1-based row number in the dataset and ``values`` maps the visible
    columns to text. Errors are ordered by size, then row number, so the same data gives
    the same examples.
    """
    spec = rows.spec
    data_cols = [c for c in columns_of(rows.con, "assay_data") if not c.startswith("__")]
    for key in ("hide", "hash"):
        unknown = [c for c in getattr(spec.privacy, key) if c not in data_cols]
        if unknown:  # a misspelt name would leave the real column visible
            hints = [f"{c!r} (did you mean {close[0]!r}?)" if (close := get_close_matches(c, data_cols, 1))
                     else repr(c) for c in unknown]
            raise InputError(f"privacy.{key}: no column {', '.join(hints)} in "
                             f"{rows.inputs.get('data', 'the dataset')}; columns: "
                             f"{', '.join(data_cols)}. Fix the name in the spec")
    limit = spec.privacy.examples
    if limit <= 0:
        return []
    red = redactor_for(rows)
    model_cols = {c for m in spec.models for c in
                  ([m.score, m.prediction] + list((m.scores or {}).values())) if c}
    shown = [c for c in red.visible(data_cols) if c != spec.label and c not in model_cols]
    select = ", ".join(f"{quote_ident(c)}" for c in shown)
    label = quote_ident(spec.label)
    con = rows.con
    numbered = numbered_relation(rows)
    out: list[dict[str, Any]] = []

    def fetch(view: str, where: str, order: str, pred: str) -> list[tuple]:
        # the top rows first, then the text: a projection on the outside is computed for the
        # few rows kept, not for every row before the sort
        cols = f"__row, {label}::VARCHAR, {pred}" + (f", {select}" if select else "")
        return con.execute(
            f"SELECT {cols} FROM (SELECT * FROM {numbered.format(view=view)} WHERE {where} "
            f"ORDER BY {order} LIMIT {limit}) ORDER BY {order}").fetchall()

    def record(section: str, model: str, reason: str, r: tuple) -> dict[str, Any]:
        return {"section": section, "model": model, "reason": reason, "row": int(r[0]),
                "label": None if r[1] is None or spec.label in red.hidden
                else red.value(spec.label, r[1]),
                "prediction": r[2],
                "values": {c: red.value(c, v) for c, v in zip(shown, r[3:], strict=True)}}

    for i, m in enumerate(spec.models):
        err, pred = _error_sql(rows, i)
        what = {"binary": "most confident errors", "multiclass": "lowest probability of the "
                "true class", "regression": "largest absolute errors"}[spec.task]
        for r in fetch(rows.relation, f"__ok{i}", f"{err} DESC, __row", pred):
            out.append(record("errors", m.name, what, r))
    seen: set[str] = set()
    for m in spec.models:
        for reason, cond in rows.exclusions.get(m.name, {}).items():
            if not rows.excluded[m.name].get(reason) or cond in seen:
                continue
            seen.add(cond)  # a missing label excludes the row for every model: show it once
            cols = rows.score_columns[spec.models.index(m)]
            pred = f"printf('%.4g', {cols[0]})" if len(cols) == 1 else "NULL"
            for r in fetch("assay_joined", cond, "__row", f"({pred})::VARCHAR"):
                out.append(record("excluded", m.name, reason, r))
    return out
