"""Personal data and secrets: detectors, leakage, masking and their evaluation.

Kinds (``KINDS``) and the schemes each reports (``SCHEMES``): email; phone; card (Luhn and
issuer prefixes: visa, mastercard, amex, discover, jcb, diners, maestro, unionpay, mir);
iban (ISO 13616 mod-97 and per-country length); national_id (``us_ssn`` SSA area/group/serial
rules, ``uk_nino`` HMRC prefix/suffix rules, ``nl_bsn`` 11-check, ``in_aadhaar`` Verhoeff,
``es_dni``/``es_nie`` control letter, ``it_cf`` check letter, ``fr_nir`` key); ip (v4, v6);
secret (AWS, GitHub, Slack, OpenAI, Stripe and Google key formats, JWTs, PEM private keys,
bearer tokens and ``key/token/secret = <random>`` assignments, with an entropy check).

* :func:`find_pii` finds them in a text (pure-Python regular expressions and check digits);
  :func:`presidio_find` does the same with Microsoft Presidio (optional extra).
* :func:`find_leaks` keeps the findings of an output whose normalised value is absent from
  the sources (input, context, messages); :func:`mask_value` / :func:`mask_text` hide values.
* :func:`evaluate_detector` measures precision and recall with Wilson intervals on a labelled
  set (``tests/data/pii_labelled.jsonl``, built by ``scripts/build_pii_labelled_set.py``).
* Scorers ``pii_leak`` and ``pii`` (:class:`PiiLeak`, :class:`PiiPresent`) for LLM suites.
"""

from assay.safety.pii._checks import (
    aadhaar_valid,
    bsn_valid,
    codice_fiscale_valid,
    dni_valid,
    iban_valid,
    luhn_valid,
    nie_valid,
    nino_valid,
    nir_valid,
    shannon_entropy,
    ssn_valid,
    verhoeff_valid,
)
from assay.safety.pii._evaluate import evaluate_detector, load_labelled
from assay.safety.pii._find import find_pii, resolve_overlaps
from assay.safety.pii._finding import KINDS, SCHEMES, Finding
from assay.safety.pii._leak import find_leaks, normalise
from assay.safety.pii._mask import mask_findings, mask_text, mask_value
from assay.safety.pii._presidio import PRESIDIO_ENTITIES, presidio_find
from assay.safety.pii._scorers import PiiLeak, PiiPresent, case_sources

__all__ = [
    "KINDS",
    "PRESIDIO_ENTITIES",
    "SCHEMES",
    "Finding",
    "PiiLeak",
    "PiiPresent",
    "aadhaar_valid",
    "bsn_valid",
    "case_sources",
    "codice_fiscale_valid",
    "dni_valid",
    "evaluate_detector",
    "find_leaks",
    "find_pii",
    "iban_valid",
    "load_labelled",
    "luhn_valid",
    "mask_findings",
    "mask_text",
    "mask_value",
    "nie_valid",
    "nino_valid",
    "nir_valid",
    "normalise",
    "presidio_find",
    "resolve_overlaps",
    "shannon_entropy",
    "ssn_valid",
    "verhoeff_valid",
]
