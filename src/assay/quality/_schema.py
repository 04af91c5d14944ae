"""Schema drift: the dataset's columns and DuckDB types against an expected schema.

The expectation is ``quality.schema`` when the spec gives one; otherwise the data card that
the run store keeps for the dataset's name (``data.name``, else the file's name), one
version per content fingerprint. When the data's fingerprint is stored as version v, the
comparison is with the newest version before v (so a rerun, or a second run on the same
data, judges it as the first one did, and old data compared with itself passes); when it is
not stored yet, with the newest version.

A missing column or a changed type fails; a new column, or a type widened without loss
(a larger integer, FLOAT -> DOUBLE, a small integer -> a float, a longer decimal, a finer
timestamp), warns.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from assay.quality._scan import Context, normalise_type
from assay.quality._table import FAIL, PASS, SKIPPED, WARN, Row, worst

if TYPE_CHECKING:
    from assay.store import RunStore

INTS = ["TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"]
UINTS = ["UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"]
TIMES = ["DATE", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP", "TIMESTAMP_NS"]
_DECIMAL = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")
THRESHOLD = "fail: missing column or changed type; warn: new column or widened type"


def widened(old: str, new: str) -> bool:
    """Whether every value of type ``old`` is exactly representable in type ``new``."""
    o, w = old.upper(), new.upper()
    for family in (INTS, UINTS, TIMES):
        if o in family and w in family:
            return family.index(w) > family.index(o)
    if o in UINTS and w in INTS:
        return INTS.index(w) > UINTS.index(o)
    if w == "DOUBLE" and (o == "FLOAT" or o in INTS[:3] or o in UINTS[:3]):
        return True
    if w == "FLOAT" and (o in INTS[:2] or o in UINTS[:2]):
        return True
    mo, mw = _DECIMAL.match(o), _DECIMAL.match(w)
    if mo and mw:
        (po, so), (pw, sw) = map(int, mo.groups()), map(int, mw.groups())
        return (po, so) != (pw, sw) and sw >= so and pw - sw >= po - so
    return False


def compare(expected: dict[str, str], actual: dict[str, str]) -> tuple[str, list[str]]:
    """(status, one line per difference) of the actual schema against the expected one."""
    lines, statuses = [], []
    for c, t in expected.items():
        if c not in actual:
            lines.append(f"missing {c} ({t})")
            statuses.append(FAIL)
    for c, t in expected.items():
        if c in actual and actual[c].upper() != t.upper():
            wide = widened(t, actual[c])
            lines.append(f"{c}: {t} -> {actual[c]} ({'widened' if wide else 'changed'})")
            statuses.append(WARN if wide else FAIL)
    for c, t in actual.items():
        if c not in expected:
            lines.append(f"new {c} ({t})")
            statuses.append(WARN)
    return (worst(statuses) if statuses else PASS), lines


def _stored(store: RunStore, name: str, fingerprint: str | None
            ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(the stored card to compare with, the stored card of this very data)."""
    cards = sorted(store.datasets(name), key=lambda d: d["version"])
    same = next((d for d in cards if fingerprint and d["fingerprint"] == fingerprint), None)
    before = [d for d in cards if same is None or d["version"] < same["version"]]
    return (before[-1] if before else None), same


def _card(d: dict[str, Any]) -> str:
    when = d["created_at"].strftime("%Y-%m-%d") if d.get("created_at") else "?"
    fp = str(d["fingerprint"])[:12]
    return f"data card {d['name']!r} version {d['version']} (fingerprint {fp}, {when})"


def schema_row(ctx: Context, name: str, store: RunStore | None,
               fingerprint: Callable[[], str | None]) -> Row:
    """The ``schema`` check (see the module docstring)."""
    actual = dict(ctx.columns)
    explicit = ctx.quality.expected_schema
    if explicit is not None:
        expected = {c: normalise_type(ctx.con, t, f"quality.schema.{c}") for c, t in explicit.items()}
        against = "quality.schema"
    elif store is None:
        return Row("schema", SKIPPED, "no expected schema: set quality.schema, or use a run store (each "
                   "recorded evaluation stores the data card that later checks compare with)",
                   threshold=THRESHOLD)
    else:
        fp = fingerprint()
        card, same = _stored(store, name, fp)
        if card is None:  # said alike before and after this data's own card is stored
            return Row("schema", SKIPPED, f"no earlier data card named {name!r} in the run store "
                       f"{store.display_url}: each recorded evaluation (assay evaluate) stores one, and "
                       "later data is compared with it; or set quality.schema", threshold=THRESHOLD)
        expected = dict(card["schema"] or {})
        against = f"stored {_card(card)}"
    status, lines = compare(expected, actual)
    n = len(expected)
    if status == PASS:
        msg = f"{len(actual)} columns and types match {against}"
    else:
        msg = f"{len(lines)} difference(s) from {against}: " + "; ".join(lines[:6])
        if len(lines) > 6:
            msg += f"; … {len(lines) - 6} more"
        msg += ("; restore missing or changed columns at the source, or update quality.schema if the "
                "change is intended" if status == FAIL else "; if the change is intended, nothing breaks: "
                "set quality.schema to pin the new columns")
    return Row("schema", status, msg, threshold=THRESHOLD, count=len(lines), n=n,
               examples="; ".join(lines))
