"""Canary tokens: seeded generation, and finding a token in an output under simple transforms.

A token is ``ZX-`` followed by 10 base32 characters (A-Z, 2-7) drawn from a seeded RNG: 50 bits,
so a token never appears in an output by chance, and a model that prints it has read it.

:func:`find_canary` looks for the token in these forms, in order, and names the first found:

    verbatim          the token as planted
    case changed      the token, ignoring case
    separated         the token's letters and digits in order with anything else between them
                      removed ("Z X - A B ...", "Z.X.A.B", one per line), ignoring case
    body only         the random part (the letters and digits after the prefix), separated or not
    reversed          the letters and digits of the token (or its body) reversed
    base64            inside a base64 run of the output (standard or URL-safe alphabet, any
                      alignment, also wrapped over lines), decoded, in any of the forms above
    hex               inside a run of hex byte pairs ("5a58...", "5a 58 ...", "0x5a,0x58"),
                      decoded, in any of the forms above

Not caught: partial leaks (a few characters), spelling alphabets ("Zulu X-ray"), translation
of characters into words, and ciphers other than reversal (rot13 of the token, for instance).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import random
import re

BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
PREFIX = "ZX-"

_B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{12,}={0,2}")
_HEX_RUN = re.compile(r"(?:(?:0x)?[0-9A-Fa-f]{2}[\s,:;-]*){6,}")


def seeded_rng(seed: int, key: str) -> random.Random:
    """An RNG for one item: seeded by ``seed`` and a stable key (a case id), so one case's draws
    do not depend on how many cases come before it."""
    digest = hashlib.sha256(f"{seed}|{key}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def make_token(rng: random.Random, prefix: str = PREFIX, length: int = 10) -> str:
    """A fresh canary: ``prefix`` + ``length`` base32 characters from ``rng``."""
    return prefix + "".join(rng.choice(BASE32) for _ in range(length))


def _alnum(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum()).casefold()


def _body(token: str) -> str:
    """The random part: the letters and digits after a ``LETTERS-`` prefix, if 8 or more."""
    m = re.match(r"^[A-Za-z]+[-_:](.+)$", token)
    if m and len(_alnum(m.group(1))) >= 8:
        return _alnum(m.group(1))
    return ""


def _plain_form(token: str, text: str) -> str | None:
    if token in text:
        return "verbatim"
    if token.casefold() in text.casefold():
        return "case changed"
    squeezed = _alnum(text)
    core, body = _alnum(token), _body(token)
    if core and core in squeezed:
        return "separated"
    if body and body in squeezed:
        return "body only"
    if (core and core[::-1] in squeezed) or (body and body[::-1] in squeezed):
        return "reversed"
    return None


def _b64_decodings(run: str) -> list[str]:
    out = []
    core = run.rstrip("=")
    for start in range(4):
        piece = core[start:]
        piece = piece[: len(piece) - len(piece) % 4] if len(piece) % 4 == 1 else piece
        padded = piece + "=" * (-len(piece) % 4)
        for alt in (b"+/", b"-_"):
            try:
                raw = base64.b64decode(padded.encode("ascii"), altchars=alt, validate=False)
            except (binascii.Error, ValueError):
                continue
            out.append(raw.decode("utf-8", errors="ignore"))
    return out


def _hex_decodings(run: str) -> list[str]:
    digits = re.sub(r"0x", "", run, flags=re.IGNORECASE)
    digits = re.sub(r"[^0-9A-Fa-f]", "", digits)
    out = []
    for start in (0, 1):
        piece = digits[start:]
        piece = piece[: len(piece) - len(piece) % 2]
        try:
            out.append(bytes.fromhex(piece).decode("utf-8", errors="ignore"))
        except ValueError:
            continue
    return out


def find_canary(token: str, text: str) -> str | None:
    """The form in which ``token`` appears in ``text`` (see the module docstring), or None."""
    if not token:
        raise ValueError("the canary token is empty")
    form = _plain_form(token, text)
    if form is not None:
        return form
    # runs as written, and with whitespace removed (base64 wrapped over several lines)
    runs = dict.fromkeys(_B64_RUN.findall(text) + _B64_RUN.findall(re.sub(r"\s+", "", text)))
    for run in runs:
        for decoded in _b64_decodings(run):
            inner = _plain_form(token, decoded)
            if inner is not None:
                return "base64" if inner == "verbatim" else f"base64 ({inner})"
    for m in _HEX_RUN.finditer(text):
        for decoded in _hex_decodings(m.group(0)):
            inner = _plain_form(token, decoded)
            if inner is not None:
                return "hex" if inner == "verbatim" else f"hex ({inner})"
    return None
