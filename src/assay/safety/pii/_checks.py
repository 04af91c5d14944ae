"""Check-digit and structure rules of the identifiers the PII detectors recognise, and the Shannon
entropy used on secrets.

Each function takes the compact value (no spaces or separators) and says whether it is valid:

* ``luhn_valid``: the Luhn mod-10 check of payment cards (ISO/IEC 7812-1, annex B).
* ``iban_valid``: ISO 13616: a country from the SWIFT IBAN registry, that country's length,
  letters and digits only, and ``int(bban + country + check, base 36) % 97 == 1``.
* ``bsn_valid``: the Dutch BSN "11-check": ``9*d1 + 8*d2 + ... + 2*d8 - d9`` divisible by 11,
  not all zeros.
* ``verhoeff_valid`` / ``aadhaar_valid``: the Verhoeff dihedral-group check; an Aadhaar number is
  12 digits, not starting with 0 or 1, not a palindrome, Verhoeff-valid (UIDAI).
* ``dni_valid`` / ``nie_valid``: Spanish DNI: 8 digits and the letter
  ``"TRWAGMYFPDXBNJZSQVHLCKE"[n % 23]``; NIE: X, Y or Z (read as 0, 1, 2), 7 digits, same letter.
* ``ssn_valid``: US SSN structure (no check digit exists): area not 000, 666 or 900-999,
  group not 00, serial not 0000, and not one of the numbers the SSA voided after public misuse
  (078-05-1120, 219-09-9999, 457-55-5462).
* ``nino_valid``: UK National Insurance number per HMRC's NIM39110: two prefix letters (first
  not D, F, I, Q, U, V; second not D, F, I, O, Q, U, V; not BG, GB, KN, NK, NT, TN, ZZ), six
  digits, suffix A-D. There is no check digit.
* ``codice_fiscale_valid``: Italian codice fiscale: 16 characters in the pattern
  ``LLLLLLDDLDDLDDDL`` (digits may be replaced by the omocodia letters LMNPQRSTUV) and the
  check letter from the odd/even position tables (DM 23/12/1976).
* ``nir_valid``: French NIR (numéro de sécurité sociale): 13 characters (Corsican department
  2A/2B read as 19/18) and the key ``97 - n % 97``.
"""

from __future__ import annotations

import math
from collections import Counter


# ---------------------------------------------------------------- Luhn
def luhn_valid(digits: str) -> bool:
    """Luhn mod-10 check of a digit string (payment cards, IMEI)."""
    if not digits.isdigit() or not digits.isascii():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# ---------------------------------------------------------------- IBAN
#: IBAN length per country, from the SWIFT IBAN registry (release 101)
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
    "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28,
    "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
    "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
    "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}


def iban_mod97(iban: str) -> int:
    """``int(rearranged IBAN with letters as 10..35) % 97`` of an upper-case compact IBAN."""
    moved = iban[4:] + iban[:4]
    total = 0
    for ch in moved:
        total = (total * (100 if ch.isalpha() else 10) + int(ch, 36)) % 97
    return total


def iban_valid(iban: str) -> bool:
    """ISO 13616 IBAN check of a compact value: known country, its length, alphanumeric, mod-97 == 1."""
    if len(iban) < 5 or not iban.isascii() or not iban.isalnum():
        return False
    iban = iban.upper()
    length = IBAN_LENGTHS.get(iban[:2])
    if length is None or len(iban) != length or not iban[2:4].isdigit():
        return False
    return iban_mod97(iban) == 1


# ---------------------------------------------------------------- BSN
def bsn_valid(digits: str) -> bool:
    """Dutch BSN 11-check of 9 digits."""
    if len(digits) != 9 or not digits.isdigit() or not digits.isascii() or digits == "000000000":
        return False
    total = sum((9 - i) * int(d) for i, d in enumerate(digits[:8])) - int(digits[8])
    return total % 11 == 0


# ---------------------------------------------------------------- Verhoeff
_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 3, 4, 0, 6, 7, 8, 9, 5), (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7), (4, 0, 1, 2, 3, 9, 5, 6, 7, 8), (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2), (7, 6, 5, 9, 8, 2, 1, 0, 4, 3), (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 5, 7, 6, 2, 8, 3, 0, 9, 4), (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7), (9, 4, 5, 3, 1, 2, 6, 8, 7, 0), (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5), (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)


def verhoeff_valid(digits: str) -> bool:
    """Verhoeff check (dihedral group D5) of a digit string that ends with its check digit."""
    if not digits or not digits.isdigit() or not digits.isascii():
        return False
    c = 0
    for i, ch in enumerate(reversed(digits)):
        c = _VERHOEFF_D[c][_VERHOEFF_P[i % 8][int(ch)]]
    return c == 0


def aadhaar_valid(digits: str) -> bool:
    """Aadhaar: 12 digits, first 2-9, not a palindrome, Verhoeff-valid."""
    return (len(digits) == 12 and digits.isdigit() and digits.isascii() and digits[0] not in "01"
            and digits != digits[::-1] and verhoeff_valid(digits))


# ---------------------------------------------------------------- Spain
DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def dni_valid(value: str) -> bool:
    """Spanish DNI: 8 digits and the control letter."""
    value = value.upper()
    return (len(value) == 9 and value[:8].isdigit() and value[:8].isascii()
            and value[8] == DNI_LETTERS[int(value[:8]) % 23])


def nie_valid(value: str) -> bool:
    """Spanish NIE: X/Y/Z, 7 digits and the control letter (X, Y, Z read as 0, 1, 2)."""
    value = value.upper()
    if len(value) != 9 or value[0] not in "XYZ" or not value[1:8].isdigit() or not value[1:8].isascii():
        return False
    return value[8] == DNI_LETTERS[int(str("XYZ".index(value[0])) + value[1:8]) % 23]


# ---------------------------------------------------------------- US SSN
_SSN_VOID = {"078051120", "219099999", "457555462"}


def ssn_valid(digits: str) -> bool:
    """US SSN structure of 9 digits: area, group and serial rules and the voided numbers."""
    if len(digits) != 9 or not digits.isdigit() or not digits.isascii():
        return False
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    return digits not in _SSN_VOID


# ---------------------------------------------------------------- UK NINO
_NINO_BAD_PREFIXES = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}


def nino_valid(value: str) -> bool:
    """UK National Insurance number (HMRC NIM39110): prefix letters, 6 digits, suffix A-D."""
    value = value.upper()
    if len(value) != 9 or not value[2:8].isdigit() or not value[2:8].isascii():
        return False
    a, b, suffix = value[0], value[1], value[8]
    if not ("A" <= a <= "Z" and "A" <= b <= "Z") or a in "DFIQUV" or b in "DFIOQUV":
        return False
    return value[:2] not in _NINO_BAD_PREFIXES and suffix in "ABCD"


# ---------------------------------------------------------------- Italy
_CF_ODD = {
    **dict(zip("0123456789", (1, 0, 5, 7, 9, 13, 15, 17, 19, 21), strict=True)),
    **dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ",
               (1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23),
               strict=True)),
}
_CF_EVEN = {**{str(i): i for i in range(10)}, **{chr(65 + i): i for i in range(26)}}
_CF_OMOCODIA = "LMNPQRSTUV"  # letters that replace digits 0-9 in homocode codes
_CF_DIGIT_POS = (6, 7, 9, 10, 12, 13, 14)
_CF_MONTHS = "ABCDEHLMPRST"


def codice_fiscale_valid(value: str) -> bool:
    """Italian codice fiscale (16 characters): layout, month letter, day and check letter."""
    value = value.upper()
    if len(value) != 16 or not value.isascii() or not value.isalnum():
        return False
    for i, ch in enumerate(value):
        if i in _CF_DIGIT_POS:
            if not (ch.isdigit() or ch in _CF_OMOCODIA):
                return False
        elif not ch.isalpha():
            return False
    if value[8] not in _CF_MONTHS:
        return False
    day_digits = "".join(str(_CF_OMOCODIA.index(c)) if c.isalpha() else c for c in value[9:11])
    day = int(day_digits)
    if not (1 <= day <= 31 or 41 <= day <= 71):
        return False
    total = sum(_CF_ODD[c] if i % 2 == 0 else _CF_EVEN[c] for i, c in enumerate(value[:15]))
    return value[15] == chr(65 + total % 26)


# ---------------------------------------------------------------- France
def nir_key(value13: str) -> int:
    """The NIR key of the first 13 characters (2A/2B read as 19/18)."""
    dep = value13[5:7].upper()
    if dep == "2A":
        value13 = value13[:5] + "19" + value13[7:]
    elif dep == "2B":
        value13 = value13[:5] + "18" + value13[7:]
    return 97 - int(value13) % 97


def nir_valid(value: str) -> bool:
    """French NIR: 15 characters (digits, or 2A/2B as department) with a valid key."""
    value = value.upper()
    if len(value) != 15 or not value.isascii():
        return False
    department_ok = value[5:7].isdigit() or value[5:7] in ("2A", "2B")
    if not (value[:5].isdigit() and value[7:].isdigit() and department_ok):
        return False
    return nir_key(value[:13]) == int(value[13:])


# ---------------------------------------------------------------- entropy
def shannon_entropy(text: str) -> float:
    """Shannon entropy of the character distribution of ``text``, in bits per character."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())
