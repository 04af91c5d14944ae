"""Optional backend: Microsoft Presidio's analyzer, mapped onto assay's PII kinds.

Presidio (``pip install "assay[presidio]"``, which brings presidio-analyzer and a spaCy model)
recognises entities with regexes, checksums, context words and an NER model. Its entity types
are mapped to assay's kinds as ``PRESIDIO_ENTITIES`` lists; the others (PERSON, LOCATION,
DATE_TIME, URL, NRP, MEDICAL_LICENSE, ...) are outside assay's kinds and are not returned.
Results under ``score_threshold`` are dropped, as Presidio's own ``analyze`` does. Overlapping
results are resolved like :func:`find_pii` does. The default analyzer (``AnalyzerEngine()``,
English spaCy pipeline) is built once and reused; pass ``analyzer`` for another configuration
(other languages need an NLP engine set up for them, and some country recognizers, such as
UK_NINO or IN_AADHAAR, must be enabled in Presidio's recognizer registry).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from typing import Any

from assay._errors import InputError
from assay.safety.pii._find import resolve_overlaps
from assay.safety.pii._finding import Finding, check_kinds
from assay.safety.pii._patterns import card_brand

#: Presidio entity type -> (assay kind, scheme); a scheme of None is derived from the value
PRESIDIO_ENTITIES: dict[str, tuple[str, str | None]] = {
    "EMAIL_ADDRESS": ("email", "email"),
    "PHONE_NUMBER": ("phone", "phone"),
    "CREDIT_CARD": ("card", None),
    "IBAN_CODE": ("iban", None),
    "IP_ADDRESS": ("ip", None),
    "US_SSN": ("national_id", "us_ssn"),
    "UK_NINO": ("national_id", "uk_nino"),
    "IN_AADHAAR": ("national_id", "in_aadhaar"),
    "ES_NIF": ("national_id", "es_dni"),
    "ES_NIE": ("national_id", "es_nie"),
    "IT_FISCAL_CODE": ("national_id", "it_cf"),
}

INSTALL_HINT = 'the presidio backend needs presidio-analyzer: pip install "assay[presidio]"'
_ENGINES: dict[str, Any] = {}


def _default_engine() -> Any:
    if "default" not in _ENGINES:
        try:
            from presidio_analyzer import AnalyzerEngine
        except ImportError:
            raise InputError(INSTALL_HINT) from None
        _ENGINES["default"] = AnalyzerEngine()
    return _ENGINES["default"]


def _scheme(kind: str, scheme: str | None, value: str) -> str:
    if scheme is not None:
        return scheme
    if kind == "card":
        digits = re.sub(r"\D", "", value)
        return (card_brand(digits) if len(digits) >= 12 else None) or "other"
    if kind == "iban":
        return value[:2].lower()
    try:
        return "ipv6" if ipaddress.ip_address(value.split("%", 1)[0]).version == 6 else "ipv4"
    except ValueError:
        return "ipv6" if ":" in value else "ipv4"


def presidio_find(text: str, kinds: Iterable[str] | None = None, *, language: str = "en",
                  score_threshold: float = 0.5, analyzer: Any = None) -> list[Finding]:
    """PII findings from Presidio's analyzer (``analyzer``, default ``AnalyzerEngine()``), as
    assay :class:`Finding` objects of ``kinds``."""
    if not isinstance(text, str):
        raise InputError(f"presidio_find needs a text (str); got {type(text).__name__}")
    wanted = check_kinds(kinds)
    engine = analyzer if analyzer is not None else _default_engine()
    if not text:
        return []
    entities = sorted(e for e, (k, _) in PRESIDIO_ENTITIES.items() if k in wanted)
    results = engine.analyze(text=text, language=language, entities=entities, score_threshold=score_threshold)
    found = []
    for r in results:
        mapped = PRESIDIO_ENTITIES.get(r.entity_type)
        if mapped is None or mapped[0] not in wanted or r.score < score_threshold:
            continue
        value = text[r.start:r.end]
        found.append(Finding(mapped[0], _scheme(mapped[0], mapped[1], value), r.start, r.end, value))
    return resolve_overlaps(found)
