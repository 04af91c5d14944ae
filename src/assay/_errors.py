"""Exceptions raised by assay.

    AssayError                 base class; the CLI maps it to an exit code
    ├── InputError             bad spec, data or predictions (exit 2): names the file,
    │                          column, offending values and the fix
    └── SpecError(InputError)  the spec itself does not validate
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable


class AssayError(Exception):
    """Base class of assay's own errors."""

    exit_code = 4


class InputError(AssayError):
    """The user's input cannot be evaluated as given; the message says why and how to fix it."""

    exit_code = 2


class SpecError(InputError):
    """The evaluation spec is malformed or has an invalid value."""


def repeated(values: Iterable[str]) -> list[str]:
    """The values that occur more than once, sorted: for "names must be unique" messages."""
    counts = Counter(values)
    return sorted(v for v, c in counts.items() if c > 1)


def sample_values(values: object, limit: int = 5) -> str:
    """Render a few offending values for an error message."""
    items = list(values)[:limit]  # type: ignore[call-overload]
    return ", ".join(repr(v) for v in items)
