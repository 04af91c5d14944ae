"""Masking: a form of each finding that keeps its kind recognisable and shows little of the value,
so reports and score reasons never carry the value itself.

    email        j***@e***.com           first letter of the user and of the domain, the TLD
    phone        +** *** *** **78        separators kept, digits but the last 2 masked
    card         **** **** **** 4242     digits but the last 4 masked
    iban         NL** **** **** **** 00  country code and last 2 characters kept
    national_id  ***-**-6789 (us_ssn, last 4 kept); other schemes keep the last 2 characters
    ip           192.*.*.* / 2001:*:*:*:*:*:*:*   first octet or group kept
    secret       sk-…(51 chars), ghp_…(40 chars), AKIA…(20 chars), [secret: 32 chars],
                 [private key: 1700 chars]       known prefix and length only
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence

from assay._errors import InputError
from assay.safety.pii._find import find_pii
from assay.safety.pii._finding import KINDS, Finding, check_kinds
from assay.safety.pii._patterns import find_secrets

_SECRET_PREFIX = re.compile(r"^(?:github_pat_|gh[pousr]_|xox[abposr]-|sk-proj-|sk-svcacct-|sk-admin-|sk-|"
                            r"[sr]k_(?:live|test)_|AIza|A(?:KIA|SIA|BIA|CCA|GPA|IDA|IPA|NPA|NVA|ROA|PKA|SCA)|eyJ)")


def _keep_last(value: str, keep: int, maskable: Callable[[str], bool]) -> str:
    """``value`` with every maskable character but the last ``keep`` of them replaced by ``*``."""
    total = sum(1 for c in value if maskable(c))
    seen = 0
    out = []
    for c in value:
        if maskable(c):
            seen += 1
            out.append(c if seen > total - keep else "*")
        else:
            out.append(c)
    return "".join(out)


def _mask_email(value: str) -> str:
    user, _, domain = value.rpartition("@")
    labels = domain.split(".")
    tld = labels[-1] if len(labels) > 1 else ""
    head = labels[0][:1] if labels and labels[0] else ""
    return f"{user[:1]}***@{head}***" + (f".{tld}" if tld else "")


def _mask_ip(value: str) -> str:
    try:
        addr = ipaddress.ip_address(value.split("%", 1)[0])
    except ValueError:
        return _keep_last(value, 0, str.isalnum)
    if addr.version == 4:
        return str(addr).split(".")[0] + ".*.*.*"
    return addr.exploded.split(":")[0].lstrip("0").rjust(1, "0") + ":*" * 7


def _mask_secret(value: str, scheme: str | None) -> str:
    if scheme is None:
        hits = list(find_secrets(value))
        scheme = hits[0].scheme if hits else "generic"
    if scheme == "private_key" or value.startswith("-----BEGIN"):
        return f"[private key: {len(value)} chars]"
    m = _SECRET_PREFIX.match(value)
    if m and scheme not in ("generic", "bearer"):
        return f"{m.group(0)}…({len(value)} chars)"
    return f"[secret: {len(value)} chars]"


def mask_value(finding_or_value: Finding | str, kind: str | None = None) -> str:
    """The masked form of a finding (or of a raw value of ``kind``) for reports and reasons."""
    if isinstance(finding_or_value, Finding):
        value, kind, scheme = finding_or_value.value, finding_or_value.kind, finding_or_value.scheme
    elif isinstance(finding_or_value, str):
        if kind is None:
            raise InputError(f"mask_value of a plain string needs its kind, one of {', '.join(KINDS)}")
        value, scheme = finding_or_value, None
    else:
        raise InputError(f"mask_value needs a Finding or a string; got {type(finding_or_value).__name__}")
    check_kinds([kind], "mask_value kind")
    if not value:
        return ""
    if kind == "email":
        return _mask_email(value)
    if kind == "phone":
        return _keep_last(value, 2, str.isdigit)
    if kind == "card":
        return _keep_last(value, 4, str.isdigit)
    if kind == "iban":
        compact_len = sum(1 for c in value if c.isalnum())
        masked = _keep_last(value, 2, str.isalnum)
        # the country code stays visible
        return value[:2] + masked[2:] if compact_len > 4 else masked
    if kind == "national_id":
        keep = 4 if scheme == "us_ssn" else 2
        return _keep_last(value, keep, str.isalnum)
    if kind == "ip":
        return _mask_ip(value)
    return _mask_secret(value, scheme)


def mask_findings(text: str, findings: Iterable[Finding]) -> str:
    """``text`` with each of ``findings`` (non-overlapping spans of ``text``) replaced by its mask."""
    out = text
    for f in sorted(findings, key=lambda f: f.start, reverse=True):
        if out[f.start:f.end] != f.value:
            raise InputError(f"finding {f.kind} at [{f.start}, {f.end}) does not match the text; "
                             "mask with the findings of this very text")
        out = out[:f.start] + mask_value(f) + out[f.end:]
    return out


def mask_text(text: str, kinds: Iterable[str] | None = None,
              find: Callable[[str], Sequence[Finding]] | None = None) -> str:
    """``text`` with every PII value and secret found in it masked (see :func:`mask_value`).

    ``find`` replaces the default detector (:func:`find_pii` limited to ``kinds``)."""
    if not isinstance(text, str):
        raise InputError(f"mask_text needs a text (str); got {type(text).__name__}")
    wanted = check_kinds(kinds)
    findings = find(text) if find is not None else find_pii(text, wanted)
    return mask_findings(text, [f for f in findings if f.kind in wanted])
