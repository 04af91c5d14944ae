"""Value matchers for expected tool arguments and expected state, subset matching, and the
difference between two states.

A matcher is named in a case's ``match`` (arguments) or ``state_match`` (state) by the
argument name or the dotted state path it applies to:

    exact          the values are equal as JSON values (1 == 1.0, but true != 1 and "5" != 5);
                   the default for every key without a matcher
    numeric(tol)   both are numbers (not booleans) and |actual - expected| <= tol; ``numeric``
                   alone means tol = 1e-9
    regex          ``re.search(expected, actual)``: the actual text (or number written as text)
                   contains a match; anchor with ``^...$`` for a whole-value match
    contains       text: the expected text occurs in the actual one, ignoring case; list: the
                   expected item (or every item of an expected list) is an element of it
    any            the key is present, whatever its value

Subset matching: every key of an expected mapping must be present in the actual mapping and
match (recursively for nested mappings, unless a matcher names the key's path); keys the
actual value has beyond the expected ones are ignored. Lists are compared whole.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass
from typing import Any

MATCHER_KINDS = ("exact", "numeric", "regex", "contains", "any")
DEFAULT_TOLERANCE = 1e-9
_NUMERIC = re.compile(r"^numeric(?:\(\s*([^)]*?)\s*\))?$")
_MISSING = object()


@dataclass(frozen=True)
class Matcher:
    """How one expected value is compared: a kind of :data:`MATCHER_KINDS` and, for
    ``numeric``, an absolute tolerance."""

    kind: str = "exact"
    tolerance: float = DEFAULT_TOLERANCE

    def __str__(self) -> str:
        return f"numeric({self.tolerance:g})" if self.kind == "numeric" else self.kind


EXACT = Matcher()


def parse_matcher(text: Any) -> Matcher:
    """A matcher from its name (``exact``, ``numeric(0.01)``, ``regex``, ``contains``, ``any``);
    a ValueError lists the allowed names."""
    if not isinstance(text, str):
        raise ValueError(f"a matcher is one of {', '.join(MATCHER_KINDS)} (numeric may carry a tolerance, "
                         f"numeric(0.01)); got {text!r}")
    name = text.strip()
    m = _NUMERIC.match(name)
    if m:
        if m.group(1) in (None, ""):
            return Matcher("numeric")
        try:
            tol = float(m.group(1))
        except ValueError:
            tol = math.nan
        if not math.isfinite(tol) or tol < 0:
            raise ValueError(f"numeric tolerance must be a number >= 0, as in numeric(0.01); got {text!r}")
        return Matcher("numeric", tol)
    if name not in MATCHER_KINDS:
        raise ValueError(f"unknown matcher {text!r}; use one of {', '.join(MATCHER_KINDS)} "
                         "(numeric may carry a tolerance, numeric(0.01))")
    return Matcher(name)


def parse_matchers(raw: Any, where: str) -> dict[str, Matcher]:
    """A ``{key: matcher name}`` mapping parsed; a ValueError names ``where`` and the key."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError(f"{where} is a mapping of argument name or state path to matcher, got {raw!r}")
    out = {}
    for key, value in raw.items():
        try:
            out[str(key)] = parse_matcher(value)
        except ValueError as exc:
            raise ValueError(f"{where}.{key}: {exc}") from None
    return out


def compile_check(key: str, pattern: Any) -> None:
    """A ValueError naming ``key`` when ``pattern`` is not a valid regular expression."""
    if not isinstance(pattern, str):
        raise ValueError(f"{key}: a regex matcher needs a text pattern, got {pattern!r}")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{key}: {pattern!r} is not a valid regular expression: {exc}") from None


def is_number(v: Any) -> bool:
    """A JSON number: int or float, not a boolean, not NaN."""
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and not (isinstance(v, float)
                                                                           and math.isnan(v))


def json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values: numbers by value (1 == 1.0), booleans only with booleans,
    mappings by keys and values, lists item by item (tuples count as lists)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if is_number(a) and is_number(b):
        return float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def compare(matcher: Matcher, expected: Any, actual: Any) -> str | None:
    """None when ``actual`` matches ``expected`` under ``matcher``, else why not (one line)."""
    kind = matcher.kind
    if kind == "any":
        return None
    if kind == "exact":
        return None if json_equal(expected, actual) else f"expected {_show(expected)}, got {_show(actual)}"
    if kind == "numeric":
        if not is_number(actual):
            return f"expected a number near {_show(expected)}, got {_show(actual)}"
        if not is_number(expected):
            return f"the expected value {_show(expected)} is not a number (numeric matcher)"
        gap = abs(float(actual) - float(expected))
        return None if gap <= matcher.tolerance else \
            f"expected {_show(expected)} ± {matcher.tolerance:g}, got {_show(actual)}"
    if kind == "regex":
        if isinstance(actual, bool) or not (isinstance(actual, str) or is_number(actual)):
            return f"expected text matching /{expected}/, got {_show(actual)}"
        return None if re.search(str(expected), str(actual)) else \
            f"{_show(actual)} does not match /{expected}/"
    if kind == "contains":
        if isinstance(actual, str):
            if not isinstance(expected, str):
                return f"expected {_show(expected)} in a text, which can only hold text"
            return None if expected.casefold() in actual.casefold() else \
                f"{_show(actual)} does not contain {_show(expected)}"
        if isinstance(actual, list | tuple):
            wanted = list(expected) if isinstance(expected, list | tuple) else [expected]
            absent = [w for w in wanted if not any(json_equal(w, a) for a in actual)]
            return None if not absent else f"{_show(actual)} lacks {', '.join(_show(w) for w in absent)}"
        return f"expected text or a list containing {_show(expected)}, got {_show(actual)}"
    raise ValueError(f"unknown matcher kind {kind!r}")


@dataclass(frozen=True)
class Mismatch:
    """One expected key that the actual value does not satisfy."""

    path: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}: {self.why}" if self.path else self.why


def match_subset(expected: Any, actual: Any, matchers: dict[str, Matcher] | None = None,
                 path: str = "") -> list[Mismatch]:
    """Every way ``actual`` fails to contain ``expected`` (empty: it matches). ``matchers``
    maps dotted paths (``orders.A100.status``; top-level keys for arguments) to matchers."""
    matchers = matchers or {}
    if path in matchers:
        if actual is _MISSING:
            return [Mismatch(path, "missing")]
        why = compare(matchers[path], expected, actual)
        return [Mismatch(path, why)] if why else []
    if actual is _MISSING:
        return [Mismatch(path, f"missing (expected {_show(expected)})")]
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [Mismatch(path, f"expected a mapping with {', '.join(map(str, expected)) or 'no keys'}, "
                                   f"got {_show(actual)}")]
        out: list[Mismatch] = []
        for key, value in expected.items():
            sub = f"{path}.{key}" if path else str(key)
            out += match_subset(value, actual.get(key, _MISSING), matchers, sub)
        return out
    why = compare(EXACT, expected, actual)
    return [Mismatch(path, why)] if why else []


def state_diff(before: Any, after: Any, path: str = "") -> list[dict[str, Any]]:
    """What changed from ``before`` to ``after``: ``{path, change, before, after}`` per leaf
    (mappings are walked; other values, lists included, are compared whole), in key order."""
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[dict[str, Any]] = []
        for key in list(before) + [k for k in after if k not in before]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in after:
                out.append({"path": sub, "change": "removed", "before": before[key], "after": None})
            elif key not in before:
                out.append({"path": sub, "change": "added", "before": None, "after": after[key]})
            else:
                out += state_diff(before[key], after[key], sub)
        return out
    if json_equal(before, after):
        return []
    return [{"path": path, "change": "changed", "before": before, "after": after}]


def _show(v: Any, limit: int = 80) -> str:
    text = repr(v)
    return text if len(text) <= limit else text[: limit - 1] + "…"
