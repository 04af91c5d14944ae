"""What a PII detector returns: a :class:`Finding` (kind, scheme, span, value), the kinds and the
schemes of each kind, and the checks of a ``kinds`` argument."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from assay._errors import InputError

#: the kinds of personal data and secrets the detectors look for
KINDS: tuple[str, ...] = ("email", "phone", "card", "iban", "national_id", "ip", "secret")

#: the schemes each kind reports (``iban`` reports the lower-case country code instead)
SCHEMES: dict[str, tuple[str, ...]] = {
    "email": ("email",),
    "phone": ("phone",),
    "card": ("visa", "mastercard", "amex", "discover", "jcb", "diners", "maestro", "unionpay", "mir",
             "other"),
    "iban": ("<country code>",),
    "national_id": ("us_ssn", "uk_nino", "nl_bsn", "in_aadhaar", "es_dni", "es_nie", "it_cf", "fr_nir"),
    "ip": ("ipv4", "ipv6"),
    "secret": ("aws_access_key", "github_token", "github_pat", "slack_token", "openai_key", "stripe_key",
               "google_api_key", "jwt", "private_key", "bearer", "generic"),
}


@dataclass(frozen=True)
class Finding:
    """One piece of PII or one secret found in a text: ``text[start:end] == value``."""

    kind: str
    scheme: str
    start: int
    end: int
    value: str

    @property
    def position(self) -> tuple[int, int, str, str]:
        """Sort key: text order, then kind and scheme."""
        return (self.start, self.end, self.kind, self.scheme)

    def overlaps(self, start: int, end: int) -> bool:
        """Whether this finding shares at least one character with ``[start, end)``."""
        return self.start < end and start < self.end


def check_kinds(kinds: Iterable[str] | str | None, where: str = "kinds") -> tuple[str, ...]:
    """The requested kinds as a tuple (all kinds for None); unknown names are an InputError."""
    if kinds is None:
        return KINDS
    if isinstance(kinds, str):
        kinds = (kinds,)
    out = tuple(kinds)
    unknown = [k for k in out if k not in KINDS]
    if unknown:
        raise InputError(f"{where}: unknown PII kind(s) {', '.join(map(repr, unknown))}; "
                         f"choose from {', '.join(KINDS)}")
    return out
