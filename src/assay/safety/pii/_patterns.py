"""The detectors, one per kind: regular expressions find candidates, checks decide.

* **email**: RFC 5322 "dot-atom" local part, ``@``, a dotted domain whose last label (the TLD)
  is 2-24 letters; a TLD that is a file extension (``logo@2x.png``) is rejected. Package pins
  (``lodash@4.17.21``), handles (``@jane``) and hosts without a TLD (``root@localhost``) never
  match.
* **phone**: 7-15 digits with the separators phone numbers use (space, ``-``, ``.``, ``/``,
  parentheses), an optional ``+`` country code, ``(0)`` and extension. Accepted on its format
  (``+`` or ``00`` prefix, an area code in parentheses, a North-American 3-3-4 grouping, a
  national trunk ``0`` with separators) or, for any other shape, when a phone word (tel,
  phone, mobile, call, whatsapp, fax, sms and their Dutch, Spanish, German, French and Italian
  forms) stands within 40 characters before it. Dates, times, decimal and thousands-grouped
  numbers, amounts after a currency sign and numbers before a unit are rejected.
* **card**: 12-19 digits, compact or in groups with one consistent separator; Luhn-valid and
  an issuer prefix and length of a known brand (visa 4; mastercard 51-55, 2221-2720; amex
  34/37; discover 6011, 644-649, 65, 622126-622925; jcb 3528-3589 and the 15-digit 1800/2131;
  diners 300-305, 3095, 36, 38-39; maestro 50, 56-69; unionpay 62; mir 2200-2204). A Luhn-valid
  13-19 digit number starting with 3-6 outside these ranges counts (brand ``other``) when a card
  word (card, credit, debit, pan, cc, charge, paid, payment, tarjeta, karte, carte, carta, ...)
  stands within 40 characters before it. A 12-digit number that is a valid Aadhaar number is
  left to the national-id detector. Candidates right after a 4-character upper-case group and a
  space, or followed by a separator and another digit, are parts of a longer grouped number (an
  IBAN, a reference) and are skipped.
* **iban**: two letters, two check digits and the BBAN, compact or in groups of four; the
  country's length from the SWIFT registry and ISO 13616 mod-97.
* **national_id**: ``us_ssn`` 3-2-4 with ``-`` or space and the SSA area/group/serial rules (9
  bare digits only next to an SSN keyword: an SSN has no check digit); ``uk_nino`` by HMRC's
  prefix and suffix rules; ``nl_bsn`` 11-check (dotted 4.2.3 as is, 9 bare digits next to an
  identity keyword); ``in_aadhaar`` Verhoeff (4-4-4 groups as is, 12 bare digits next to an
  identity keyword); ``es_dni``/``es_nie`` control letter; ``it_cf`` check letter; ``fr_nir``
  key (compact or 1-2-2-2-3-3-2 groups).
* **ip**: IPv4 as four dotted decimal octets 0-255 without leading zeros (``ipaddress``), not
  part of a longer dotted number and not after a ``v``; IPv6 any form ``ipaddress`` accepts,
  with at least one digit and two colons (``::`` alone and ``std::vector`` are not addresses).
* **secret**: known prefixes (AWS ``AKIA``/``ASIA``..., GitHub ``ghp_``/``gho_``/``ghu_``/
  ``ghs_``/``ghr_``/``github_pat_``, Slack ``xox[abposr]-``, OpenAI ``sk-``/``sk-proj-``,
  Stripe ``sk_``/``rk_`` ``live``/``test``, Google ``AIza``), JWTs whose header decodes to JSON
  with ``alg``, PEM ``PRIVATE KEY`` blocks (not public keys or certificates), ``Bearer`` tokens
  and a generic rule: a name containing key, token, secret, password, passwd, pwd, credential
  or auth, then ``=`` or ``:``, then a value of at least 16 characters. The random part must
  look random: Shannon entropy at or above a floor (3.0 bits per character for the prefixed
  formats, 3.0 for hex and 3.5 for other generic values), letters and digits both present,
  and no placeholder word (example, your, xxxx, redacted, changeme, dummy, ...).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from collections.abc import Callable, Iterator

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
)
from assay.safety.pii._finding import Finding

Detector = Callable[[str], Iterator[Finding]]


def _window_before(text: str, start: int, size: int = 40) -> str:
    return text[max(0, start - size):start]


# ---------------------------------------------------------------- email
_EMAIL = re.compile(
    r"(?<![\w.%+\-@/])"
    r"[A-Za-z0-9](?:[A-Za-z0-9._%+\-']{0,62}[A-Za-z0-9_%+\-])?"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"
    r"(?![\w@]|\.[A-Za-z0-9])"
)
_FILE_EXTENSIONS = {"png", "jpg", "jpeg", "gif", "webp", "svg", "ico", "bmp", "tif", "tiff", "avif", "heic",
                    "css", "js", "mjs", "json", "html", "htm", "txt", "pdf", "yaml", "yml", "xml", "zip",
                    "lock", "woff", "woff2", "ttf", "mp4", "mp3", "wav"}


def find_emails(text: str) -> Iterator[Finding]:
    """Email addresses (see the module docstring)."""
    for m in _EMAIL.finditer(text):
        value = m.group(0)
        if ".." in value or value.rsplit(".", 1)[1].lower() in _FILE_EXTENSIONS:
            continue
        yield Finding("email", "email", m.start(), m.end(), value)


# ---------------------------------------------------------------- phone
_PHONE = re.compile(
    r"(?<![\w+\-./:,@#€$£¥*•])(?<![A-Z0-9]{4} )"
    r"(?:\+|00)?\(?\d[\d ().\-/]{4,24}\d"
    r"(?:[ ]?(?:x|ext\.?|#)[ ]?\d{1,6})?"
    r"(?![\w@%]|[.,/\-:]\d)"
)
_PHONE_WORDS = re.compile(
    r"(?i)(?:\b(?:tel|tlf|telephone|telefon|telefono|teléfono|téléphone|telefoon(?:nummer)?|phone|ph|mobile|mob|"
    r"cell|cellulare|handy|móvil|movil|portable|fax|sms|text|call(?:ed|ing)?|ring|reach|whatsapp|bel|bellen|"
    r"llámame|llamar|llama|ruf|anrufen|appelez|appeler|chiamami|chiamare|contact)\b)"
)
_PHONE_LETTER = re.compile(r"(?:^|[\s(])[TMPF]\.?:?[ ]*$")
_DATE_LIKE = re.compile(r"^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})(?:[ T]\d.*)?$")
_THOUSANDS = re.compile(r"^[1-9]\d{0,2}(?:([ .,])\d{3})(?:\1\d{3})*$")
_SSN_SHAPE = re.compile(r"^\d{3}-\d{2}-\d{4}$")
_NANP = re.compile(r"^(?:\+?1[ .\-]?)?\(?[2-9]\d{2}\)?[ .\-]?[2-9]\d{2}[ .\-]\d{4}")
_CURRENCY_BEFORE = re.compile(r"(?i)(?:[€$£¥]|\b(?:eur|usd|gbp|chf|inr|rs\.?))\s*$")
_UNIT_AFTER = re.compile(r"(?i)^\s?(?:%|x\b|kg\b|g\b|km\b|m\b|mm\b|cm\b|units?\b|items?\b|pcs\b|"
                         r"inhabitants\b|people\b|downloads\b|rows\b|ms\b|s\b|kb\b|mb\b|gb\b)")


def _phone_shape_ok(value: str) -> bool:
    core = re.sub(r"[ ]?(?:x|ext\.?|#)[ ]?\d{1,6}$", "", value)
    digits = re.sub(r"\D", "", core)
    if not 7 <= len(digits) <= 15:
        return False
    if "  " in core or re.search(r"[.\-/]{2}", core) or core.count("(") != core.count(")"):
        return False
    if _DATE_LIKE.match(core) or _SSN_SHAPE.match(core):
        return False
    seps = set(re.sub(r"[\d()+ ]", "", core))
    return len(seps) <= 1 or core.startswith("+")


def _phone_strong(value: str) -> bool:
    """Formats that are phone numbers without any context word."""
    if _THOUSANDS.match(value):
        return False  # 612 345 678 reads as a quantity unless a phone word stands before it
    if value.startswith(("+", "(")) or _NANP.match(value):
        return True
    if value.startswith("00") and re.match(r"^00\d{1,3}[ .\-]", value):
        return True
    digits = re.sub(r"\D", "", value)
    if value.startswith("0") and not value.startswith("00") and value.isdigit():
        return len(digits) in (10, 11)  # a national number with its trunk prefix
    return value.startswith("0") and bool(re.search(r"[ .\-/()]", value)) and len(digits) >= 9


def find_phones(text: str) -> Iterator[Finding]:
    """Phone numbers (see the module docstring)."""
    for m in _PHONE.finditer(text):
        value = m.group(0).rstrip(" ")
        start, end = m.start(), m.start() + len(value)
        while value.endswith(")") and value.count(")") > value.count("("):
            value, end = value[:-1], end - 1
        if value.startswith("(") and value.count("(") > value.count(")"):
            value, start = value[1:], start + 1
        if not _phone_shape_ok(value):
            continue
        before = _window_before(text, start)
        if _CURRENCY_BEFORE.search(before[-6:]) or _UNIT_AFTER.match(text[end:end + 14]):
            continue
        if _phone_strong(value) or _PHONE_WORDS.search(before) or _PHONE_LETTER.search(before):
            yield Finding("phone", "phone", start, end, value)


# ---------------------------------------------------------------- card
_CARD = re.compile(r"(?<![\w\-.,/:])(?<![A-Z0-9]{4} )\d(?:[ \-]?\d){11,18}(?![\w]|[ \-.,/:]\d)")
_CARD_WORDS = re.compile(r"(?i)(?<![a-z])(?:cards?|credit|debit|visa|mastercard|amex|pan|cc|charge|paid|pay|"
                         r"payment|tarjeta|karte|kreditkarte|carte|carta)(?![a-z])")


def card_brand(digits: str) -> str | None:
    """The brand whose issuer prefix and length ``digits`` has, or None."""
    n = len(digits)
    p2, p3, p4, p6 = int(digits[:2]), int(digits[:3]), int(digits[:4]), int(digits[:6])
    if digits[0] == "4" and n in (13, 16, 19):
        return "visa"
    if (51 <= p2 <= 55 or 2221 <= p4 <= 2720) and n == 16:
        return "mastercard"
    if p2 in (34, 37) and n == 15:
        return "amex"
    if (p4 == 6011 or 644 <= p3 <= 649 or p2 == 65 or 622126 <= p6 <= 622925) and 16 <= n <= 19:
        return "discover"
    if (3528 <= p4 <= 3589 and 16 <= n <= 19) or (p4 in (1800, 2131) and n == 15):
        return "jcb"
    if (300 <= p3 <= 305 or p4 == 3095 or p2 in (36, 38, 39)) and 14 <= n <= 19:
        return "diners"
    if 2200 <= p4 <= 2204 and 16 <= n <= 19:
        return "mir"
    if p2 == 62 and 16 <= n <= 19:
        return "unionpay"
    if (p2 == 50 or 56 <= p2 <= 69) and 12 <= n <= 19:
        return "maestro"
    return None


def find_cards(text: str) -> Iterator[Finding]:
    """Payment card numbers (see the module docstring)."""
    for m in _CARD.finditer(text):
        value = m.group(0)
        seps = set(re.sub(r"\d", "", value))
        if len(seps) > 1:
            continue
        digits = re.sub(r"\D", "", value)
        if not luhn_valid(digits) or (len(digits) == 12 and aadhaar_valid(digits)):
            continue
        brand = card_brand(digits)
        if brand is None and 13 <= len(digits) <= 19 and digits[0] in "3456" and _CARD_WORDS.search(
                _window_before(text, m.start())):
            brand = "other"  # Luhn-valid, card-like length, next to a card word: an issuer range not listed
        if brand is not None:
            yield Finding("card", brand, m.start(), m.end(), value)


# ---------------------------------------------------------------- IBAN
_IBAN = re.compile(r"(?<![\w\-])([A-Z]{2}\d{2})((?:[ ]?[A-Z0-9]{1,4}){3,8})(?![\w\-])")
_IBAN_COMPACT = re.compile(r"(?<![\w\-])[A-Z]{2}\d{2}[A-Z0-9]{11,30}(?![\w\-])")


def find_ibans(text: str) -> Iterator[Finding]:
    """IBANs, compact or in groups of four (see the module docstring)."""
    seen: set[int] = set()
    for m in _IBAN_COMPACT.finditer(text):
        if iban_valid(m.group(0)):
            seen.add(m.start())
            yield Finding("iban", m.group(0)[:2].lower(), m.start(), m.end(), m.group(0))
    for m in _IBAN.finditer(text):
        if m.start() in seen or " " not in m.group(2):
            continue
        # the registry length decides how many of the following groups belong to the IBAN
        head = m.group(1)
        groups = m.group(2).strip().split(" ")
        compact = head
        end = m.start() + len(head)
        rest = m.group(2)
        pos = 0
        for g in groups:
            idx = rest.index(g, pos)
            pos = idx + len(g)
            compact += g
            if iban_valid(compact):
                end = m.start() + len(head) + pos
                yield Finding("iban", head[:2].lower(), m.start(), end, text[m.start():end])
                break


# ---------------------------------------------------------------- national ids
_SSN_WORDS = re.compile(r"(?i)\b(?:ssn|ss#|social\s+security(?:\s+(?:number|no\.?|#))?)")
_ID_WORDS = re.compile(
    r"(?i)\b(?:id|ids|identification|identity|identifier|national\s+id|personal\s+(?:number|id|no)|tax[\s_-]*id|"
    r"document\s+(?:number|no)|kyc|passport|bsn|burgerservicenummer|sofi(?:nummer)?|aadhaar|aadhar|uid|uidai|"
    r"identificatie|identificación|ausweis|identité)\b"
)
_SSN_DASHED = re.compile(r"(?<![\w\-])(?<![A-Z0-9]{4} )(\d{3})([\- ])(\d{2})\2(\d{4})(?![\w]|[ \-]\d)")
_NINE = re.compile(r"(?<![\w\-.,/])\d{9}(?![\w]|[\-.,/]\d)")
_BSN_DOTTED = re.compile(r"(?<![\w\-.])\d{4}\.\d{2}\.\d{3}(?![\w]|\.\d)")
_AADHAAR_GROUPED = re.compile(r"(?<![\w\-])(?<![A-Z0-9]{4} )[2-9]\d{3}([ \-])\d{4}\1\d{4}(?![\w]|[ \-]\d)")
_TWELVE = re.compile(r"(?<![\w\-.,/])[2-9]\d{11}(?![\w]|[\-.,/]\d)")
_DNI = re.compile(r"(?<![\w\-])\d{8}-?[A-Za-z](?!\w)")
_NIE = re.compile(r"(?<![\w\-])[XYZxyz]-?\d{7}-?[A-Za-z](?!\w)")
_NINO = re.compile(r"(?<![\w])[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D](?!\w)")
_CF = re.compile(r"(?<![\w])[A-Za-z]{6}[\dLMNPQRSTUV]{2}[A-Za-z][\dLMNPQRSTUV]{2}[A-Za-z]"
                 r"[\dLMNPQRSTUV]{3}[A-Za-z](?!\w)")
_NIR = re.compile(r"(?<![\w\-.])[1-478] ?\d{2} ?\d{2} ?(?:\d{2}|2[ABab]) ?\d{3} ?\d{3} ?\d{2}"
                  r"(?![\w]|[\-.]\d)")


def _compact(value: str) -> str:
    return re.sub(r"[\s.\-]", "", value)


def _near(rx: re.Pattern[str], text: str, start: int, end: int, size: int = 40) -> bool:
    return bool(rx.search(text[max(0, start - size):start]) or rx.search(text[end:end + 20]))


def find_national_ids(text: str) -> Iterator[Finding]:
    """National identity numbers of the schemes in the module docstring."""
    for m in _SSN_DASHED.finditer(text):
        if ssn_valid(m.group(1) + m.group(3) + m.group(4)):
            yield Finding("national_id", "us_ssn", m.start(), m.end(), m.group(0))
    for m in _NINE.finditer(text):
        digits = m.group(0)
        if _near(_SSN_WORDS, text, m.start(), m.end()) and ssn_valid(digits):
            yield Finding("national_id", "us_ssn", m.start(), m.end(), digits)
        elif bsn_valid(digits) and _near(_ID_WORDS, text, m.start(), m.end()):
            yield Finding("national_id", "nl_bsn", m.start(), m.end(), digits)
    for m in _BSN_DOTTED.finditer(text):
        if bsn_valid(_compact(m.group(0))):
            yield Finding("national_id", "nl_bsn", m.start(), m.end(), m.group(0))
    for m in _AADHAAR_GROUPED.finditer(text):
        if aadhaar_valid(_compact(m.group(0))):
            yield Finding("national_id", "in_aadhaar", m.start(), m.end(), m.group(0))
    for m in _TWELVE.finditer(text):
        if aadhaar_valid(m.group(0)) and _near(_ID_WORDS, text, m.start(), m.end()):
            yield Finding("national_id", "in_aadhaar", m.start(), m.end(), m.group(0))
    for m in _DNI.finditer(text):
        if dni_valid(m.group(0).replace("-", "")):
            yield Finding("national_id", "es_dni", m.start(), m.end(), m.group(0))
    for m in _NIE.finditer(text):
        if nie_valid(m.group(0).replace("-", "")):
            yield Finding("national_id", "es_nie", m.start(), m.end(), m.group(0))
    for m in _NINO.finditer(text):
        if nino_valid(m.group(0).replace(" ", "")):
            yield Finding("national_id", "uk_nino", m.start(), m.end(), m.group(0))
    for m in _CF.finditer(text):
        if codice_fiscale_valid(m.group(0)):
            yield Finding("national_id", "it_cf", m.start(), m.end(), m.group(0))
    for m in _NIR.finditer(text):
        if nir_valid(m.group(0).replace(" ", "")):
            yield Finding("national_id", "fr_nir", m.start(), m.end(), m.group(0))


# ---------------------------------------------------------------- IP addresses
_IPV4 = re.compile(r"(?<![\w.])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\w]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|\d{1,3}(?:\.\d{1,3}){3})?"
                   r"(?:%[0-9A-Za-z]+)?(?![\w:]|\.\d)")


def find_ips(text: str) -> Iterator[Finding]:
    """IPv4 and IPv6 addresses (see the module docstring)."""
    for m in _IPV4.finditer(text):
        if m.start() > 0 and text[m.start() - 1] in "vV":
            continue
        try:
            ipaddress.IPv4Address(m.group(0))
        except ValueError:
            continue
        yield Finding("ip", "ipv4", m.start(), m.end(), m.group(0))
    for m in _IPV6.finditer(text):
        value = m.group(0)
        if value.count(":") < 2 or not any(c.isdigit() for c in value):
            continue
        try:
            ipaddress.IPv6Address(value)
        except ValueError:
            continue
        yield Finding("ip", "ipv6", m.start(), m.end(), value)


# ---------------------------------------------------------------- secrets
_PLACEHOLDER = re.compile(r"(?i)example|your|xxxx|redact|changeme|change_me|dummy|placeholder|insert|replace|"
                          r"sample|fake|test_?key|secret_?key_?here|here|todo|\*\*\*|0000000000")


def looks_random(body: str, min_entropy: float, *, need_digit: bool = True) -> bool:
    """Whether ``body`` reads as a random string: no placeholder word, an entropy floor and (for
    values without a known prefix, ``need_digit``) both letters and digits."""
    if _PLACEHOLDER.search(body):
        return False
    if need_digit and not (any(c.isdigit() for c in body) and any(c.isalpha() for c in body)):
        return False
    return shannon_entropy(body) >= min_entropy


_PREFIXED: tuple[tuple[str, re.Pattern[str], float], ...] = (
    ("aws_access_key", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA)"
                                  r"([A-Z2-7]{16})\b"), 2.8),
    ("github_pat", re.compile(r"\bgithub_pat_([A-Za-z0-9]{22}_[A-Za-z0-9]{59})\b"), 3.0),
    ("github_token", re.compile(r"\bgh[pousr]_([A-Za-z0-9]{36})\b"), 3.0),
    ("slack_token", re.compile(r"\bxox[abposr]-((?:\d{6,}-){1,3}[A-Za-z0-9]{20,64})\b"), 3.0),
    ("stripe_key", re.compile(r"\b(?:sk|rk)_(?:live|test)_([A-Za-z0-9]{20,120})\b"), 3.0),
    ("openai_key", re.compile(r"(?<![\w-])sk-(?:proj-|svcacct-|admin-)?([A-Za-z0-9_\-]{20,200})(?![\w-])"),
     3.0),
    ("google_api_key", re.compile(r"\bAIza([0-9A-Za-z_\-]{35})(?![\w-])"), 3.0),
)
_JWT = re.compile(r"(?<![\w.-])eyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{10,}(?![\w.-])")
_PEM = re.compile(r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----")
_BEARER = re.compile(r"\bBearer\s+([A-Za-z0-9._~+/\-]{20,}=*)")
_GENERIC = re.compile(
    r"(?i)(?<![\w-])[\"']?([\w.\-]*(?:key|token|secret|passw(?:or)?d|pwd|credential|auth)[\w.\-]*)[\"']?"
    r"[ \t]*[:=][ \t]*[\"']?([A-Za-z0-9/+_=\-.~][A-Za-z0-9/+_=\-.~!#$%^*@]{15,})"
)


def _jwt_header_ok(token: str) -> bool:
    head = token.split(".", 1)[0]
    try:
        obj = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return False
    return isinstance(obj, dict) and "alg" in obj


def find_secrets(text: str) -> Iterator[Finding]:
    """API keys, tokens and private keys (see the module docstring)."""
    for scheme, rx, floor in _PREFIXED:
        for m in rx.finditer(text):
            if looks_random(m.group(1), floor, need_digit=False):
                yield Finding("secret", scheme, m.start(), m.end(), m.group(0))
    for m in _JWT.finditer(text):
        if _jwt_header_ok(m.group(0)):
            yield Finding("secret", "jwt", m.start(), m.end(), m.group(0))
    for m in _PEM.finditer(text):
        end_marker = f"-----END {m.group(1)}-----"
        stop = text.find(end_marker, m.end())
        end = stop + len(end_marker) if stop >= 0 else m.end()
        yield Finding("secret", "private_key", m.start(), end, text[m.start():end])
    for m in _BEARER.finditer(text):
        if looks_random(m.group(1), 3.5):
            yield Finding("secret", "bearer", m.start(1), m.end(1), m.group(1))
    for m in _GENERIC.finditer(text):
        value = m.group(2).rstrip(".")
        hexish = all(c in "0123456789abcdefABCDEF" for c in value)
        if len(value) >= 16 and looks_random(value, 3.0 if hexish else 3.5):
            yield Finding("secret", "generic", m.start(2), m.start(2) + len(value), value)


DETECTORS: dict[str, Detector] = {
    "email": find_emails,
    "phone": find_phones,
    "card": find_cards,
    "iban": find_ibans,
    "national_id": find_national_ids,
    "ip": find_ips,
    "secret": find_secrets,
}
