"""``find_pii``: run the detectors of the requested kinds over a text and resolve overlaps.

Two findings that share characters cannot both be right (a card number is not also a phone
number). The one kept is the more specific: kinds in the order secret, card, iban,
national_id, email, ip, phone (check-digit and prefix rules before shape rules), then a named
scheme before the generic secret rules, then the longer span.
"""

from __future__ import annotations

from collections.abc import Iterable

from assay._errors import InputError
from assay.safety.pii._finding import KINDS, Finding, check_kinds
from assay.safety.pii._patterns import DETECTORS

_PRIORITY = {k: i for i, k in enumerate(("secret", "card", "iban", "national_id", "email", "ip", "phone"))}
_WEAK_SCHEMES = {"generic", "bearer"}


def resolve_overlaps(findings: Iterable[Finding]) -> list[Finding]:
    """Keep, of every group of overlapping findings, the most specific one; sorted by position."""
    ranked = sorted(set(findings), key=lambda f: (_PRIORITY.get(f.kind, len(KINDS)),
                                                  f.scheme in _WEAK_SCHEMES, -(f.end - f.start), f.position,
                                                  f.value))
    kept: list[Finding] = []
    for f in ranked:
        if not any(k.overlaps(f.start, f.end) for k in kept):
            kept.append(f)
    return sorted(kept, key=lambda f: f.position)


def find_pii(text: str, kinds: Iterable[str] | str | None = None) -> list[Finding]:
    """Personal data and secrets in ``text``: one :class:`Finding` per value, in text order.

    ``kinds`` limits the search (default: all of ``KINDS``); overlapping candidates of the
    searched kinds are resolved as the module docstring says.
    """
    if not isinstance(text, str):
        raise InputError(f"find_pii needs a text (str); got {type(text).__name__}")
    wanted = check_kinds(kinds)
    if not text:
        return []
    found: list[Finding] = []
    for kind in wanted:
        found.extend(DETECTORS[kind](text))
    return resolve_overlaps(found)
