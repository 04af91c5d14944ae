"""Build the labelled PII and secrets set ``tests/data/pii_labelled.jsonl``.

Usage::

    python scripts/build_pii_labelled_set.py [--seed 9001] [--out tests/data/pii_labelled.jsonl]

The set was built before any detector existed and is frozen: its SHA-256 is checked by
``tests/test_pii_labelled.py``, and this script regenerates it byte for byte with the
default seed under Faker 40.54.0 and python-stdnum 2.2 (Faker's output changes between
versions, so the script refuses another Faker unless ``--any-faker`` is given). A different
``--seed`` gives an independent split of the same design (use one as a development split).

File layout: the first line is a header ``{"header": {...}}`` (generator, seed, Faker and
stdnum versions, counts, draws rejected by the validity checks); every other line is a record

    {"id", "text", "spans": [{"start", "end", "kind", "scheme"}], "locale", "source"}

with ``start``/``end`` as code-point offsets into ``text`` (Python ``str`` indices).
``source`` is ``faker:<locale>:<provider>`` or ``rng:<kind>:<scheme>`` for positives,
``mixed:<template family>`` for records with several kinds and
``negative:<kind>:<family>`` for the tricky negatives aimed at one kind (their ``spans``
list is empty: nothing in them is PII of any kind).

Kinds and schemes. Positives are embedded in chat, form, log, email and config templates
(English plus a few templates per language); values come from Faker where it has a working
provider, else from a seeded ``random.Random``:

* ``email``: Faker ``email``/``free_email``/``company_email`` in 8 locales, some with
  ``+tag`` sub-addressing, mixed case or a sub-domain.
* ``phone``: Faker ``phone_number`` in 8 locales (national and international formats,
  extensions), as Faker writes them.
* ``card``: Faker ``credit_card_number`` for visa (13/16/19), mastercard, amex, discover,
  jcb (15/16), diners and maestro; compact, in groups with spaces, or with dashes. Every
  number is Luhn-valid (``stdnum.luhn``).
* ``iban``: Faker ``iban`` in 13 countries, compact or in print format (groups of 4), each
  valid per ``stdnum.iban`` (ISO 13616 mod-97, country length and format).
* ``national_id``: ``us_ssn`` (Faker en_US ``ssn``), ``nl_bsn`` (Faker nl_NL ``ssn``),
  ``es_dni`` (Faker es_ES ``nif``), ``es_nie`` (``nie``), ``it_cf`` (Faker it_IT ``ssn``,
  codice fiscale), ``fr_nir`` (Faker fr_FR ``ssn``), ``in_aadhaar`` (Faker en_IN
  ``aadhaar_id``, keeping only draws that ``stdnum.in_.aadhaar`` accepts: most of Faker's
  fail the Verhoeff check), each validated with python-stdnum; ``uk_nino`` from the seeded
  RNG following the HMRC rules (Faker en_GB ``ssn`` gives the never-issued ``ZZ`` prefix and
  invalid suffixes; stdnum has no NINO module): first letter not D, F, I, Q, U, V; second
  not D, F, I, O, Q, U, V; prefixes BG, GB, KN, NK, NT, TN, ZZ not allocated; suffix A-D.
* ``ip``: Faker ``ipv4``/``ipv4_private``/``ipv4_public`` and ``ipv6`` (a third of the v6
  with a run of zero groups, written compressed), some with a port or in brackets.
* ``secret``: random bodies from the seeded RNG in the documented formats: AWS access key
  ids (``AKIA``/``ASIA``), GitHub tokens (``ghp_``/``gho_``/``ghu_``/``ghs_``/``ghr_``
  with the base62 CRC-32 tail) and ``github_pat_``, Slack ``xoxb-``/``xoxp-``/``xoxa-``,
  OpenAI-style ``sk-``/``sk-proj-``, Stripe ``sk_live_``/``rk_live_``, Google ``AIza``,
  JWTs (HS256/RS256 header, random claims and signature), PEM private key blocks, and
  generic ``key/token/secret = <random>`` assignments.

Negatives (at least 200 per kind) are texts a naive detector flags: order, invoice and
tracking numbers, dates and timestamps, prices and quantities, version strings, UUIDs, git
SHAs and SHA-256 digests, base64 blobs, low-entropy and placeholder keys, public-key and
certificate headers, card-like numbers failing Luhn, IBANs with a bad checksum, SSN-like
numbers with area 000, 666 or 9xx (never a valid ITIN) or group 00 or serial 0000, 9-digit
numbers failing the BSN 11-check, 12-digit numbers failing Verhoeff, DNI/NIE with a wrong
letter, NINO with an unallocated prefix or suffix, codice fiscale and NIR with a wrong check,
retina file names and package pins (``logo@2x.png``, ``lodash@4.17.21``), dotted numbers
that are not IPv4 addresses (five parts, a part above 255), and colon forms that are not
IPv6. Each family's defining property (fails Luhn, fails the 11-check, ...) is checked with
python-stdnum or ``ipaddress`` when drawn; a draw that happens to be valid is redrawn and
counted in the header. Apart from that, negatives are negatives by construction: an order
number whose digits happen to pass a check is still an order number.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import ipaddress
import json
import random
import string
import sys
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faker
import stdnum
import stdnum.es.dni
import stdnum.es.nie
import stdnum.fr.nir
import stdnum.iban
import stdnum.in_.aadhaar
import stdnum.it.codicefiscale
import stdnum.luhn
import stdnum.nl.bsn
import stdnum.us.itin
import stdnum.us.ssn
import stdnum.verhoeff
from faker import Faker
from faker.providers.address.it_IT import Provider as ItalianAddress

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "tests" / "data" / "pii_labelled.jsonl"
DEFAULT_SEED = 9001
FAKER_VERSION = "40.54.0"

KINDS = ("email", "phone", "card", "iban", "national_id", "ip", "secret")
LOCALES = ("en_US", "en_GB", "nl_NL", "es_ES", "en_IN", "de_DE", "fr_FR", "it_IT")
IBAN_LOCALES = (
    "en_GB",
    "nl_NL",
    "de_DE",
    "es_ES",
    "fr_FR",
    "it_IT",
    "de_AT",
    "nl_BE",
    "pl_PL",
    "pt_PT",
    "fr_CH",
    "en_IE",
    "fi_FI",
)
N_POS = 280  # single-kind positive records per kind
N_NEG = 240  # tricky negative records per kind
N_MIXED = 80  # form-like records with several kinds
IT_CITIES = sorted(ItalianAddress.cities)
ALNUM = string.ascii_letters + string.digits
B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase

Span = dict[str, Any]
Value = tuple[str, str, str]  # (value, kind, scheme)


# --------------------------------------------------------------------------- templates
# {x} is the value; other {names} are fillers (see Builder.filler).
POS_TEMPLATES: dict[str, list[str]] = {
    "email": [
        "Hi, can you send the invoice to {x}? Thanks!",
        "Name: {name}\nEmail: {x}\nCity: {city}",
        "From: {name} <{x}>\nSubject: Re: order {order}\n\nPlease see attached.",
        "{ts} INFO auth: password reset requested for {x}",
        "user {user} changed contact address to {x} on {date}",
        "Contact {first} at {x} if the delivery is late.",
        "mailto:{x}",
        'reply-to: "{name}" <{x}>',
        "Please cc {x} on everything about {company}.",
        "my email is {x}",
        "The form was submitted by {x} ({city}).",
        '{"customer": "{name}", "email": "{x}", "plan": "pro"}',
        "Dear {first},\n\nWe have updated your login to {x}.\n\nKind regards,\n{company}",
    ],
    "phone": [
        "Call me at {x} after 5pm.",
        "Tel: {x}",
        "{name}\n{company}\nMobile: {x}",
        "{ts} INFO sms: verification code sent to {x} status=delivered",
        "you can reach {first} on {x}",
        "Phone number: {x}\nPreferred time: mornings",
        "Please call our customer {name} back on {x} about order {order}.",
        "whatsapp {x}",
        '{"name": "{name}", "phone": "{x}"}',
        "Best regards,\n{name}\nT {x}",
    ],
    "card": [
        "My card number is {x}, expiry 09/27.",
        "Card: {x}\nName on card: {name}",
        "{ts} WARN payment: raw PAN in request body pan={x}",
        "pls charge {x} for the {amount} EUR",
        "Payment details\nCard number: {x}\nCardholder: {name}\nCVC: on the back",
        "I paid with {x} but the order {order} still shows unpaid.",
        '{"card_number": "{x}", "holder": "{name}"}',
        "can you update my credit card to {x}",
    ],
    "iban": [
        "Please transfer the deposit to IBAN {x} ({name}).",
        "IBAN: {x}\nBIC: on request\nAccount holder: {company}",
        "{ts} INFO payout: created sepa transfer to {x} amount={amount}",
        "my bank account is {x}, thanks",
        "Rekening / account: {x}",
        "Refund for order {order} goes to {x}.",
        '{"iban": "{x}", "holder": "{name}"}',
        "Dear {first},\n\nWe will debit {x} on {date}.\n\n{company}",
    ],
    "national_id": [
        "ID number: {x}",
        "Name: {name}\nDate of birth: {dob}\nID: {x}",
        "{ts} DEBUG kyc: document number {x} verified",
        "here is my id {x}, can you check the application?",
        "Customer {name} ({city}) provided {x} as identification.",
        '{"name": "{name}", "tax_id": "{x}"}',
        "Applicant: {name}\nPersonal number: {x}\nStatus: pending",
    ],
    "ip": [
        "{ts} INFO login ok user={user} ip={x}",
        "Connection from {x} refused.",
        '{x} - - [{clf}] "GET /account HTTP/1.1" 200 512',
        "my home IP is {x}, can you whitelist it?",
        "client_ip: {x}\nuser_agent: Mozilla/5.0",
        "Suspicious sign-in for {first} from {x} ({city}).",
        '{"event": "login", "src_ip": "{x}"}',
        "ssh {user}@{x}",
    ],
    "secret": [
        "{x}",
        "here's the key: {x} (please don't share it)",
        "{ts} ERROR request failed, token={x}",
        "I pushed {x} to the repo by mistake, can you help me rotate it?",
    ],
}

# templates with the value's own keyword, per national id scheme (language of the scheme)
ID_TEMPLATES: dict[str, list[str]] = {
    "us_ssn": ["My SSN is {x}.", "Social Security Number: {x}", "ssn={x}", "SSN {x} on file for {name}"],
    "uk_nino": ["National Insurance number: {x}", "my NI number is {x}", "NINO: {x}", "NI No. {x} ({name})"],
    "nl_bsn": ["Mijn BSN is {x}.", "Burgerservicenummer: {x}", "BSN {x} van {name}", "bsn: {x}"],
    "in_aadhaar": ["My Aadhaar number is {x}", "Aadhaar: {x}", "aadhaar no {x} linked to {name}", "UID {x}"],
    "es_dni": ["Mi DNI es {x}", "DNI: {x}", "NIF {x} ({name})", "dni {x}"],
    "es_nie": ["Mi NIE es {x}", "NIE: {x}", "número de extranjero {x}", "nie {x} de {name}"],
    "it_cf": ["Il mio codice fiscale è {x}", "Codice fiscale: {x}", "C.F. {x}", "cf {x} ({name})"],
    "fr_nir": [
        "Mon numéro de sécurité sociale est {x}",
        "N° de sécurité sociale : {x}",
        "NIR {x}",
        "numéro INSEE {x} ({name})",
    ],
}

LOCALE_TEMPLATES: dict[str, dict[str, list[str]]] = {
    "nl": {
        "email": ["Stuur het naar {x} alsjeblieft.", "E-mailadres: {x}"],
        "phone": ["Bel me op {x}.", "Telefoonnummer: {x}"],
        "iban": ["Graag overmaken naar {x} t.n.v. {name}."],
    },
    "es": {
        "email": ["Mi correo es {x}", "Correo electrónico: {x}"],
        "phone": ["Llámame al {x}", "Teléfono: {x}"],
        "iban": ["Transfiera el importe a la cuenta {x}."],
    },
    "de": {
        "email": ["Bitte an {x} schicken.", "E-Mail: {x}"],
        "phone": ["Ruf mich unter {x} an.", "Telefon: {x}"],
        "iban": ["Bitte überweisen Sie an {x} (Kontoinhaber {name})."],
    },
    "fr": {
        "email": ["Mon adresse est {x}", "Courriel : {x}"],
        "phone": ["Appelez-moi au {x}.", "Téléphone : {x}"],
        "iban": ["Merci de virer la somme sur le compte {x}."],
    },
    "it": {
        "email": ["Scrivimi a {x}", "Indirizzo email: {x}"],
        "phone": ["Chiamami al {x}", "Telefono: {x}"],
        "iban": ["Effettuare il bonifico su {x}."],
    },
}

MIXED_TEMPLATES: list[tuple[str, tuple[str, ...]]] = [
    ("Name: {name}\nEmail: {email}\nPhone: {phone}", ("email", "phone")),
    ("Hi, I'm {first}. Mail me at {email} or call {phone}.", ("email", "phone")),
    ("Refund request\nCustomer: {name}\nEmail: {email}\nIBAN: {iban}", ("email", "iban")),
    ("{ts} INFO checkout user={email} ip={ip} card={card}", ("email", "ip", "card")),
    ("Account holder {name}, {email}, account {iban}, tel {phone}", ("email", "iban", "phone")),
    ("login {email} from {ip} at {ts}", ("email", "ip")),
]


# --------------------------------------------------------------------------- builder
class Builder:
    """Holds the seeded generators and the records; one instance builds one set."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.fakers: dict[str, Faker] = {}
        for i, loc in enumerate(sorted(set(LOCALES) | set(IBAN_LOCALES))):
            fk = Faker(loc)
            fk.seed_instance(seed * 1000 + i)
            self.fakers[loc] = fk
        # Faker's es_ES nif() and nie() draw from the global ``random`` module, not the instance
        random.seed(seed)
        self.records: list[dict[str, Any]] = []
        self.rejected: Counter[str] = Counter()
        self.counters: Counter[str] = Counter()

    # ---- small draws
    def digits(self, n: int, first: str = "0123456789") -> str:
        return self.rng.choice(first) + "".join(self.rng.choice(string.digits) for _ in range(n - 1))

    def chars(self, n: int, alphabet: str = ALNUM) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def date(self) -> tuple[int, int, int]:
        return self.rng.randint(2019, 2025), self.rng.randint(1, 12), self.rng.randint(1, 28)

    def filler(self, name: str, loc: str) -> str:
        fk = self.fakers[loc]
        r = self.rng
        if name == "name":
            return fk.name()
        if name == "first":
            return fk.first_name()
        if name == "city":
            # Faker builds the it_IT city list from a set: its order follows PYTHONHASHSEED
            if loc == "it_IT":
                return fk.random_element(IT_CITIES)
            return fk.city()
        if name == "company":
            return fk.company()
        if name == "user":
            return fk.user_name()
        if name == "date":
            y, m, d = self.date()
            return f"{y}-{m:02d}-{d:02d}"
        if name == "dob":
            return f"{r.randint(1, 28):02d}/{r.randint(1, 12):02d}/{r.randint(1940, 2004)}"
        if name == "ts":
            y, m, d = self.date()
            return (
                f"{y}-{m:02d}-{d:02d}T{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}Z"
            )
        if name == "clf":
            y, m, d = self.date()
            mon = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")[m - 1]
            hms = f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"
            return f"{d:02d}/{mon}/{y}:{hms} +0000"
        if name == "order":
            return r.choice(("#", "A-", "ORD-", "")) + self.digits(r.randint(4, 6), "123456789")
        if name == "amount":
            return f"{r.randint(5, 2000)}.{r.randint(0, 99):02d}"
        if name == "n":
            return str(r.randint(2, 40))
        raise KeyError(f"unknown filler {{{name}}}")

    def fill(self, template: str, loc: str, values: dict[str, Value]) -> tuple[str, list[Span]]:
        """The template with its values and fillers substituted, and the values' spans."""
        out: list[str] = []
        spans: list[Span] = []
        pos = 0
        i = 0
        while i < len(template):
            j = template.find("{", i)
            k = template.find("}", j) if j >= 0 else -1
            name = template[j + 1 : k] if j >= 0 and k > j else ""
            if j < 0 or not name.isidentifier():
                end = len(template) if j < 0 else j + 1
                out.append(template[i:end])
                pos += end - i
                i = end
                continue
            out.append(template[i:j])
            pos += j - i
            if name in values:
                value, kind, scheme = values[name]
                spans.append({"start": pos, "end": pos + len(value), "kind": kind, "scheme": scheme})
                text = value
            else:
                text = self.filler(name, loc)
            out.append(text)
            pos += len(text)
            i = k + 1
        return "".join(out), spans

    def add(self, prefix: str, text: str, spans: list[Span], loc: str, source: str) -> None:
        self.counters[prefix] += 1
        self.records.append(
            {
                "id": f"{prefix}-{self.counters[prefix]:04d}",
                "text": text,
                "spans": spans,
                "locale": loc,
                "source": source,
            }
        )

    def valid_draw(self, what: str, draw: Callable[[], str], ok: Callable[[str], bool]) -> str:
        """Draw until ``ok``; every rejected draw is counted under ``what``."""
        for _ in range(10_000):
            v = draw()
            if ok(v):
                return v
            self.rejected[what] += 1
        raise RuntimeError(f"no valid draw for {what} in 10000 tries")


# --------------------------------------------------------------------------- positives
def group(value: str, sizes: tuple[int, ...], sep: str) -> str:
    out, i = [], 0
    for s in sizes:
        if i >= len(value):
            break
        out.append(value[i : i + s])
        i += s
    if i < len(value):
        out.append(value[i:])
    return sep.join(out)


CARD_TYPES = (
    ("visa16", "visa", 5),
    ("visa13", "visa", 1),
    ("visa19", "visa", 1),
    ("mastercard", "mastercard", 5),
    ("amex", "amex", 3),
    ("discover", "discover", 2),
    ("jcb16", "jcb", 2),
    ("jcb15", "jcb", 1),
    ("diners", "diners", 1),
    ("maestro", "maestro", 1),
)


def card_value(b: Builder) -> tuple[str, str, str]:
    names = [c[0] for c in CARD_TYPES]
    ctype = b.rng.choices(names, weights=[c[2] for c in CARD_TYPES])[0]
    brand = dict((c[0], c[1]) for c in CARD_TYPES)[ctype]
    loc = b.rng.choice(LOCALES)
    num = b.valid_draw(f"card:{ctype}", lambda: b.fakers[loc].credit_card_number(ctype), stdnum.luhn.is_valid)
    style = b.rng.choice(("compact", "space", "space", "dash"))
    if style != "compact":
        sep = " " if style == "space" else "-"
        sizes = {15: (4, 6, 5), 14: (4, 6, 4)}.get(len(num), (4, 4, 4, 4, 3))
        num = group(num, sizes, sep)
    return num, brand, loc


def email_value(b: Builder, loc: str) -> str:
    fk = b.fakers[loc]
    kind = b.rng.choice(("email", "email", "free_email", "company_email"))
    value = getattr(fk, kind)()
    user, domain = value.split("@")
    twist = b.rng.random()
    if twist < 0.12:
        value = f"{user}+{b.rng.choice(('news', 'shop', 'work', 'x1'))}@{domain}"
    elif twist < 0.22:
        value = f"{user.capitalize()}@{domain.upper() if b.rng.random() < 0.5 else domain.capitalize()}"
    elif twist < 0.30:
        value = f"{user}@{b.rng.choice(('mail', 'eu', 'corp'))}.{domain}"
    return value


def ip_value(b: Builder, loc: str) -> tuple[str, str, str]:
    """(text, address, scheme): text may carry a port or brackets around the address."""
    fk = b.fakers[loc]
    if b.rng.random() < 0.6:
        addr = getattr(fk, b.rng.choice(("ipv4", "ipv4_public", "ipv4_private")))()
        return addr, addr, "ipv4"
    addr = fk.ipv6()
    if b.rng.random() < 0.35:
        groups = addr.split(":")
        i = b.rng.randint(1, 5)
        n = b.rng.randint(2, 8 - i - 1)
        groups[i : i + n] = ["0"] * n
        addr = ipaddress.IPv6Address(":".join(groups)).compressed
    return addr, addr, "ipv6"


def nino(b: Builder) -> str:
    first_ok = [c for c in string.ascii_uppercase if c not in "DFIQUV"]
    second_ok = [c for c in string.ascii_uppercase if c not in "DFIQUVO"]
    bad = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
    while True:
        prefix = b.rng.choice(first_ok) + b.rng.choice(second_ok)
        if prefix not in bad:
            break
        b.rejected["rng:uk_nino:unallocated_prefix"] += 1
    return prefix + b.digits(6) + b.rng.choice("ABCD")


def national_id_value(b: Builder, scheme: str) -> tuple[str, str, str]:
    """(formatted value, locale, provider)."""
    r = b.rng
    if scheme == "us_ssn":
        v = b.valid_draw("faker:en_US:ssn", b.fakers["en_US"].ssn, stdnum.us.ssn.is_valid)
        style = r.random()
        if style < 0.15:
            v = v.replace("-", " ")
        elif style < 0.3:
            v = v.replace("-", "")
        return v, "en_US", "faker:en_US:ssn"
    if scheme == "uk_nino":
        v = nino(b)
        if r.random() < 0.6:
            v = group(v, (2, 2, 2, 2, 1), " ")
        return v, "en_GB", "rng:national_id:uk_nino"
    if scheme == "nl_bsn":
        v = b.valid_draw("faker:nl_NL:ssn", b.fakers["nl_NL"].ssn, stdnum.nl.bsn.is_valid)
        if r.random() < 0.2:
            v = f"{v[:4]}.{v[4:6]}.{v[6:]}"
        return v, "nl_NL", "faker:nl_NL:ssn"
    if scheme == "in_aadhaar":
        v = b.valid_draw("faker:en_IN:aadhaar_id", b.fakers["en_IN"].aadhaar_id, stdnum.in_.aadhaar.is_valid)
        if r.random() < 0.6:
            v = group(v, (4, 4, 4), r.choice((" ", " ", "-")))
        return v, "en_IN", "faker:en_IN:aadhaar_id"
    if scheme == "es_dni":
        v = b.valid_draw("faker:es_ES:nif", b.fakers["es_ES"].nif, stdnum.es.dni.is_valid)
        if r.random() < 0.2:
            v = f"{v[:-1]}-{v[-1]}"
        return v, "es_ES", "faker:es_ES:nif"
    if scheme == "es_nie":
        v = b.valid_draw("faker:es_ES:nie", b.fakers["es_ES"].nie, stdnum.es.nie.is_valid)
        return v, "es_ES", "faker:es_ES:nie"
    if scheme == "it_cf":
        v = b.valid_draw("faker:it_IT:ssn", b.fakers["it_IT"].ssn, stdnum.it.codicefiscale.is_valid)
        return v, "it_IT", "faker:it_IT:ssn"
    if scheme == "fr_nir":
        v = b.valid_draw("faker:fr_FR:ssn", b.fakers["fr_FR"].ssn, stdnum.fr.nir.is_valid)
        if r.random() < 0.5:
            v = group(v, (1, 2, 2, 2, 3, 3, 2), " ")
        return v, "fr_FR", "faker:fr_FR:ssn"
    raise KeyError(scheme)


ID_SCHEMES = ("us_ssn", "uk_nino", "nl_bsn", "in_aadhaar", "es_dni", "es_nie", "it_cf", "fr_nir")


def github_token(b: Builder) -> str:
    body = b.chars(30)
    crc = zlib.crc32(body.encode())
    tail = ""
    while crc:
        crc, rem = divmod(crc, 62)
        tail = B62[rem] + tail
    return b.rng.choice(("ghp_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_")) + body + tail.rjust(6, "0")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(b: Builder) -> str:
    alg = b.rng.choice(("HS256", "RS256", "HS512"))
    header = json.dumps({"alg": alg, "typ": "JWT"}, separators=(",", ":")).encode()
    iat = b.rng.randint(1_600_000_000, 1_750_000_000)
    claims = {"sub": b.digits(b.rng.randint(6, 10), "123456789"), "iat": iat, "exp": iat + 3600}
    if b.rng.random() < 0.5:
        claims["scope"] = b.rng.choice(("read", "read write", "admin"))
    payload = json.dumps(claims, separators=(",", ":")).encode()
    sig_len = 256 if alg == "RS256" else (64 if alg == "HS512" else 32)
    sig = bytes(b.rng.getrandbits(8) for _ in range(sig_len))
    return f"{b64url(header)}.{b64url(payload)}.{b64url(sig)}"


def pem_block(b: Builder) -> str:
    label = b.rng.choice(
        ("RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "ENCRYPTED PRIVATE KEY")
    )
    raw = bytes(b.rng.getrandbits(8) for _ in range(48 * b.rng.randint(2, 5)))
    body = base64.b64encode(raw).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"])


SECRET_SCHEMES = (
    "aws_access_key",
    "github_token",
    "github_pat",
    "slack_token",
    "openai_key",
    "stripe_key",
    "google_api_key",
    "jwt",
    "private_key",
    "generic",
)


def secret_value(b: Builder, scheme: str) -> str:
    r = b.rng
    if scheme == "aws_access_key":
        return r.choice(("AKIA", "AKIA", "ASIA")) + b.chars(16, string.ascii_uppercase + "234567")
    if scheme == "github_token":
        return github_token(b)
    if scheme == "github_pat":
        return f"github_pat_{b.chars(22)}_{b.chars(59)}"
    if scheme == "slack_token":
        p = r.choice(("xoxb", "xoxp", "xoxa"))
        if p == "xoxp":
            return (
                f"xoxp-{b.digits(12, '123456789')}-{b.digits(12, '123456789')}-"
                f"{b.digits(13, '123456789')}-{b.chars(32, '0123456789abcdef')}"
            )
        return f"{p}-{b.digits(12, '123456789')}-{b.digits(13, '123456789')}-{b.chars(24)}"
    if scheme == "openai_key":
        style = r.random()
        if style < 0.4:
            return "sk-" + b.chars(48)
        if style < 0.7:
            return "sk-" + b.chars(20) + "T3BlbkFJ" + b.chars(20)
        return "sk-proj-" + b.chars(r.randint(48, 120), ALNUM + "_-")
    if scheme == "stripe_key":
        return r.choice(("sk_live_", "sk_live_", "rk_live_")) + b.chars(r.choice((24, 99)))
    if scheme == "google_api_key":
        return "AIza" + b.chars(35, ALNUM + "_-")
    if scheme == "jwt":
        return jwt(b)
    if scheme == "private_key":
        return pem_block(b)
    if scheme == "generic":
        style = r.random()
        if style < 0.5:
            return b.chars(r.randint(32, 48))
        if style < 0.75:
            return b.chars(r.choice((32, 40, 64)), "0123456789abcdef")
        return base64.b64encode(bytes(r.getrandbits(8) for _ in range(30))).decode()
    raise KeyError(scheme)


SECRET_TEMPLATES: dict[str, list[str]] = {
    "aws_access_key": [
        "AWS_ACCESS_KEY_ID={x}",
        "aws_access_key_id = {x}",
        "[default]\naws_access_key_id={x}\nregion=eu-west-1",
    ],
    "github_token": [
        "GITHUB_TOKEN={x}",
        "git clone https://{x}@github.com/{user}/app.git",
        'export GH_TOKEN="{x}"',
    ],
    "github_pat": ["GITHUB_TOKEN={x}", "token: {x}"],
    "slack_token": ["SLACK_BOT_TOKEN={x}", 'client = WebClient(token="{x}")', "slack token {x}"],
    "openai_key": [
        "OPENAI_API_KEY={x}",
        'client = OpenAI(api_key="{x}")',
        "my openai key is {x}, why does it fail?",
    ],
    "stripe_key": [
        "STRIPE_SECRET_KEY={x}",
        'stripe.api_key = "{x}"',
        "curl https://api.stripe.com/v1/charges -u {x}:",
    ],
    "google_api_key": [
        "GOOGLE_API_KEY={x}",
        "https://maps.googleapis.com/maps/api/geocode/json?address=x&key={x}",
        '"apiKey": "{x}"',
    ],
    "jwt": ["Authorization: Bearer {x}", "{ts} DEBUG auth header=Bearer {x}", "id_token={x}"],
    "private_key": ["{x}", "Here is the deploy key:\n{x}\nplease add it to the server.", "key: |\n{x}"],
    "generic": [
        'api_key = "{x}"',
        "API_KEY={x}",
        "client_secret: {x}",
        '"auth_token": "{x}"',
        "SECRET_KEY = '{x}'",
        "access_token={x}",
        "x-api-key: {x}",
        "password: {x}",
        "aws_secret_access_key = {x}",
    ],
}


def positives(b: Builder) -> None:
    r = b.rng
    for kind in KINDS:
        for i in range(N_POS):
            loc = LOCALES[i % len(LOCALES)]
            templates = list(POS_TEMPLATES[kind])
            lang = loc[:2]
            if kind in ("email", "phone", "iban") and lang in LOCALE_TEMPLATES:
                templates += LOCALE_TEMPLATES[lang][kind] * 2
            if kind == "email":
                value, scheme, source = email_value(b, loc), "email", f"faker:{loc}:email"
            elif kind == "phone":
                value = b.fakers[loc].phone_number()
                scheme, source = "phone", f"faker:{loc}:phone_number"
            elif kind == "card":
                value, scheme, loc = card_value(b)
                source = f"faker:{loc}:credit_card_number"
            elif kind == "iban":
                loc = IBAN_LOCALES[i % len(IBAN_LOCALES)]
                lang = loc[:2]
                templates = list(POS_TEMPLATES["iban"]) + LOCALE_TEMPLATES.get(lang, {}).get("iban", []) * 2
                compact = b.valid_draw(f"faker:{loc}:iban", b.fakers[loc].iban, stdnum.iban.is_valid)
                value = group(compact, (4,) * 8, " ") if r.random() < 0.5 else compact
                scheme, source = compact[:2].lower(), f"faker:{loc}:iban"
            elif kind == "national_id":
                scheme = ID_SCHEMES[i % len(ID_SCHEMES)]
                value, loc, source = national_id_value(b, scheme)
                templates = templates + ID_TEMPLATES[scheme] * 2
            elif kind == "ip":
                text_value, value, scheme = ip_value(b, loc)
                source = f"faker:{loc}:{scheme}"
            else:
                scheme = SECRET_SCHEMES[i % len(SECRET_SCHEMES)]
                value = secret_value(b, scheme)
                source = f"rng:secret:{scheme}"
                # a bare random string is a secret only by its context: the generic scheme always has one
                templates = templates[int(scheme == "generic") : 2] + SECRET_TEMPLATES[scheme] * 3
            template = r.choice(templates)
            if kind == "ip" and r.random() < 0.15:
                # a port after the address, brackets around a v6 one
                template = template.replace("{x}", "[{x}]:{port}" if scheme == "ipv6" else "{x}:{port}", 1)
                template = template.replace("{port}", str(r.choice((22, 443, 8080, 5432, 51820))))
            text, spans = b.fill(template, loc, {"x": (value, kind, scheme)})
            b.add(f"{kind}-pos", text, spans, loc, source)
    for i in range(N_MIXED):
        loc = LOCALES[i % len(LOCALES)]
        template, kinds = MIXED_TEMPLATES[i % len(MIXED_TEMPLATES)]
        values: dict[str, Value] = {}
        for kind in kinds:
            if kind == "email":
                values[kind] = (email_value(b, loc), "email", "email")
            elif kind == "phone":
                values[kind] = (b.fakers[loc].phone_number(), "phone", "phone")
            elif kind == "iban":
                iloc = loc if loc in IBAN_LOCALES else "en_GB"
                v = b.valid_draw(f"faker:{iloc}:iban", b.fakers[iloc].iban, stdnum.iban.is_valid)
                values[kind] = (v, "iban", v[:2].lower())
            elif kind == "ip":
                _, addr, scheme = ip_value(b, loc)
                values[kind] = (addr, "ip", scheme)
            elif kind == "card":
                v, brand, _ = card_value(b)
                values[kind] = (v, "card", brand)
        text, spans = b.fill(template, loc, values)
        b.add("mixed", text, spans, loc, f"mixed:{'+'.join(kinds)}")


# --------------------------------------------------------------------------- negatives
def luhn_fail(b: Builder, n: int, first: str = "123456789") -> str:
    return b.valid_draw("neg:luhn_fail", lambda: b.digits(n, first), lambda v: not stdnum.luhn.is_valid(v))


def neg_email(b: Builder, loc: str, i: int) -> tuple[str, str]:
    r = b.rng
    fams = (
        "retina_file",
        "package_pin",
        "handle",
        "decorator",
        "no_tld",
        "domain_only",
        "css_at_rule",
        "price_at",
    )
    fam = fams[i % len(fams)]
    if fam == "retina_file":
        name = r.choice(("logo", "icon-home", "hero_banner", "avatar", "btn.close", "splash"))
        f = f"{name}@{r.choice((2, 3))}x.{r.choice(('png', 'jpg', 'webp'))}"
        t = r.choice(
            (
                f"Replace {f} with the new asset.",
                f'<img src="/static/{f}" alt="">',
                f"missing file: assets/{f}",
            )
        )
    elif fam == "package_pin":
        pkg = r.choice(("lodash", "react", "@types/node", "typescript", "express", "@babel/core", "vue"))
        v = f"{r.randint(0, 20)}.{r.randint(0, 30)}.{r.randint(0, 40)}"
        t = r.choice(
            (
                f"npm install {pkg}@{v}",
                f"upgrade {pkg}@{v} -> {pkg}@{r.randint(21, 30)}.0.0",
                f"found vulnerability in {pkg}@{v}",
            )
        )
    elif fam == "handle":
        u = b.fakers[loc].user_name()
        t = r.choice(
            (
                f"thanks @{u} for the review!",
                f"cc @{u} @{b.fakers[loc].user_name()}",
                f"follow us on twitter: @{u}",
            )
        )
    elif fam == "decorator":
        w1, w2 = words(b, loc, 2)
        deco = r.choice(
            (
                "@dataclass(frozen=True)",
                f'@app.route("/{w1}", methods=["POST"])',
                f'@pytest.mark.parametrize("{w1}", [1, 2])',
                "@property",
                "@staticmethod",
                "@functools.cache",
                f'@router.get("/{w1}/{{id}}")',
                "@Override",
            )
        )
        t = f"{deco}\ndef {w1}_{w2}(self):" if deco != "@Override" else f"@Override\npublic String {w1}()"
    elif fam == "no_tld":
        u = b.fakers[loc].user_name()
        t = r.choice(
            (
                f"{u}@localhost:~$ sudo systemctl restart nginx",
                f"ssh {u}@buildbox",
                f"sent to {u}@localhost",
                f"[{u}@web01 ~]$ ls",
            )
        )
    elif fam == "domain_only":
        d = b.fakers[loc].domain_name()
        t = r.choice(
            (
                f"Only addresses ending in @{d} can sign up.",
                f'allowed_domains: ["@{d}"]',
                f"Use your @{d} account to log in.",
            )
        )
    elif fam == "css_at_rule":
        w1, w2 = words(b, loc, 2)
        t = r.choice(
            (
                f'@import url("{w1}.css");',
                f"@font-face {{ font-family: {w1.capitalize()}; src: url({w2}.woff2) }}",
                f"@keyframes {w1} {{ from {{ opacity: 0 }} }}",
                f"@media (max-width: {r.randint(300, 1400)}px) {{ .{w1} {{ display: none }} }}",
                f"@supports (display: grid) {{ .{w1}-{w2} {{ gap: 1rem }} }}",
            )
        )
    else:
        n = r.randint(2, 12)
        price = f"{r.randint(1, 99)}.{r.randint(0, 99):02d}"
        t = r.choice((f"{n} items @ {price} each", f"{n}@{price} = total in column D", f"buy {n}@{price}"))
    return t, fam


def neg_phone(b: Builder, loc: str, i: int) -> tuple[str, str]:
    r = b.rng
    fams = (
        "price",
        "quantity",
        "date",
        "timestamp",
        "order_number",
        "isbn",
        "version",
        "range_score",
        "coordinates",
        "measure",
    )
    fam = fams[i % len(fams)]
    if fam == "price":
        whole = r.randint(1000, 9_999_999)
        us = f"{whole:,}.{r.randint(0, 99):02d}"
        eu = us.replace(",", "X").replace(".", ",").replace("X", ".")
        t = r.choice(
            (
                f"Total: ${us}",
                f"Prijs: € {eu}",
                f"The quote came to {us} USD.",
                f"budget EUR {eu} approved",
                f"£{whole:,}".replace(",", " ") + " per year",
            )
        )
    elif fam == "quantity":
        q = f"{r.randint(1000, 99_999_999):,}".replace(",", r.choice((" ", ",", ".")))
        t = r.choice(
            (f"We shipped {q} units last quarter.", f"population: {q}", f"{q} kg of grain", f"downloads: {q}")
        )
    elif fam == "date":
        y, m, d = b.date()
        t = r.choice(
            (
                f"Due date: {y}-{m:02d}-{d:02d}",
                f"born {d:02d}/{m:02d}/{y}",
                f"on {d:02d}.{m:02d}.{y}",
                f"valid {m:02d}-{d:02d}-{y} to {m:02d}-{d:02d}-{y + 1}",
            )
        )
    elif fam == "timestamp":
        y, m, d = b.date()
        epoch = r.randint(1_500_000_000, 1_760_000_000)
        t = r.choice(
            (
                f"{y}-{m:02d}-{d:02d} {r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"
                f".{r.randint(0, 999):03d} job finished",
                f'ts={epoch} level=info msg="cache warmed"',
                f"created_at: {epoch}{r.randint(100, 999)}",
                f"{y}{m:02d}{d:02d}T{r.randint(0, 23):02d}{r.randint(0, 59):02d}{r.randint(0, 59):02d}",
            )
        )
    elif fam == "order_number":
        t = r.choice(
            (
                f"Order #{b.digits(r.randint(7, 10), '123456789')} has shipped.",
                f"Invoice INV-{r.randint(2019, 2025)}-{b.digits(5)}",
                f"PO {b.digits(10, '4')} received",
                f"ticket {b.digits(8, '123456789')} closed",
                f"Tracking: {b.digits(12, '123456789')}",
            )
        )
    elif fam == "isbn":
        t = r.choice(
            (
                f"ISBN 978-{r.randint(0, 9)}-{b.digits(3)}-{b.digits(5)}-{r.randint(0, 9)}",
                f"ISSN {b.digits(4)}-{b.digits(4)}",
                f"part no. {b.digits(3)}-{b.digits(4)}-{b.digits(2)}",
            )
        )
    elif fam == "version":
        t = r.choice(
            (
                f"version {r.randint(1, 20)}.{r.randint(0, 30)}.{r.randint(0, 200)}",
                f"build {r.randint(2019, 2025)}.{r.randint(1, 12)}.{b.digits(4)}",
                f"kernel {r.randint(4, 6)}.{r.randint(0, 19)}.{r.randint(0, 150)}-"
                f"{r.randint(10, 99)}-generic",
            )
        )
    elif fam == "range_score":
        a = r.randint(100, 9000)
        t = r.choice(
            (
                f"see pages {a}-{a + r.randint(5, 60)}",
                f"final score {r.randint(0, 5)}-{r.randint(0, 5)}",
                f"rows {a}-{a + r.randint(100, 900)} were skipped",
                f"ages 18-65, n = {a}",
            )
        )
    elif fam == "coordinates":
        t = f"location: {r.uniform(-80, 80):.6f}, {r.uniform(-170, 170):.6f}"
    else:
        t = r.choice(
            (
                f"resolution {r.choice((1920, 2560, 3840))}x{r.choice((1080, 1440, 2160))}",
                f"{r.randint(100, 999)} x {r.randint(100, 999)} x {r.randint(10, 99)} mm",
                f"speed {r.randint(10, 999)}.{r.randint(0, 9)} km/h over {r.randint(1000, 99999)} m",
            )
        )
    return t, fam


def neg_card(b: Builder, loc: str, i: int) -> tuple[str, str]:
    r = b.rng
    fams = (
        "luhn_fail_prefixed",
        "luhn_fail_grouped",
        "long_order_number",
        "ms_timestamp",
        "masked_card",
        "tracking_number",
    )
    fam = fams[i % len(fams)]
    if fam == "luhn_fail_prefixed":
        first = r.choice(("4", "5", "3", "6"))
        n = luhn_fail(b, r.choice((15, 16, 16, 16)), first)
        t = r.choice((f"reference {n}", f"Your order number is {n}.", f"id={n}", f"account no. {n}"))
    elif fam == "luhn_fail_grouped":
        n = group(luhn_fail(b, 16, r.choice(("4", "5"))), (4, 4, 4, 4), r.choice((" ", "-")))
        t = r.choice(
            (f"voucher code {n}", f"Serial number: {n}", f"gift card {n} is not valid", f"licence key {n}")
        )
    elif fam == "long_order_number":
        n = luhn_fail(b, r.randint(13, 19))
        t = r.choice(
            (
                f"Order {n} confirmed",
                f"transaction_id={n}",
                f"case {n} escalated",
                f"Shipment {n} left the depot",
            )
        )
    elif fam == "ms_timestamp":
        n = b.valid_draw(
            "neg:luhn_fail",
            lambda: str(r.randint(1_500_000_000_000, 1_760_000_000_000)),
            lambda v: not stdnum.luhn.is_valid(v),
        )
        t = r.choice((f'"timestamp": {n}', f"epoch_ms={n}", f"last_seen {n}"))
    elif fam == "masked_card":
        last4 = b.digits(4)
        t = r.choice(
            (
                f"Card ending in {last4} was charged.",
                f"**** **** **** {last4}",
                f"paid with Visa •••• {last4}",
                f"card: XXXX-XXXX-XXXX-{last4}",
            )
        )
    else:
        n = luhn_fail(b, r.choice((20, 22)))
        t = r.choice((f"Tracking number {n}", f"USPS {n}", f"parcel {n} delivered"))
    return t, fam


def bad_iban(b: Builder, loc: str) -> str:
    good = b.valid_draw(f"faker:{loc}:iban", b.fakers[loc].iban, stdnum.iban.is_valid)

    def mutate() -> str:
        chars = list(good)
        if b.rng.random() < 0.5:
            chars[2:4] = list(f"{b.rng.randint(2, 98):02d}")
        else:
            j = b.rng.randint(4, len(chars) - 1)
            chars[j] = b.rng.choice(string.digits if chars[j].isdigit() else string.ascii_uppercase)
        return "".join(chars)

    return b.valid_draw("neg:iban_bad_checksum", mutate, lambda v: not stdnum.iban.is_valid(v))


def neg_iban(b: Builder, loc: str, i: int) -> tuple[str, str]:
    r = b.rng
    iloc = IBAN_LOCALES[i % len(IBAN_LOCALES)]
    fams = ("bad_checksum", "bad_checksum_grouped", "wrong_length", "bic", "vat_number", "product_code")
    fam = fams[i % len(fams)]
    if fam == "bad_checksum":
        t = r.choice(("IBAN: {v}", "Please transfer to {v}.", "account {v} (from the old form)")).format(
            v=bad_iban(b, iloc)
        )
    elif fam == "bad_checksum_grouped":
        t = r.choice(("IBAN {v}", "Rekening: {v}", "refund to {v}")).format(
            v=group(bad_iban(b, iloc), (4,) * 8, " ")
        )
    elif fam == "wrong_length":
        good = b.valid_draw(f"faker:{iloc}:iban", b.fakers[iloc].iban, stdnum.iban.is_valid)
        v = b.valid_draw(
            "neg:iban_wrong_length",
            lambda: good + b.digits(1) if r.random() < 0.5 else good[:-1],
            lambda x: not stdnum.iban.is_valid(x),
        )
        t = r.choice((f"IBAN {v}", f"bank account: {v}"))
    elif fam == "bic":
        bic = (
            "".join(r.choice(string.ascii_uppercase) for _ in range(4))
            + r.choice(("NL", "DE", "GB", "FR", "ES", "IT"))
            + r.choice(string.ascii_uppercase)
            + r.choice(string.ascii_uppercase + "2")
            + r.choice(("", "XXX", "500"))
        )
        t = r.choice((f"BIC/SWIFT: {bic}", f"swift code {bic}", f"Bank identifier {bic}"))
    elif fam == "vat_number":
        cc = r.choice(("DE", "FR", "IT", "ES", "AT"))
        body = {
            "DE": b.digits(9),
            "FR": b.digits(11),
            "IT": b.digits(11),
            "ES": "B" + b.digits(8),
            "AT": "U" + b.digits(8),
        }[cc]
        t = r.choice((f"VAT ID {cc}{body}", f"USt-IdNr.: {cc}{body}", f"intra-community VAT: {cc}{body}"))
    else:
        cc = r.choice(("NL", "DE", "GB", "FR"))
        code = f"{cc}{r.randint(10, 99)}-{b.chars(4, string.ascii_uppercase)}-{b.digits(6)}"
        v = b.valid_draw("neg:iban_product_code", lambda: code, lambda x: not stdnum.iban.is_valid(x))
        t = r.choice((f"SKU {v}", f"container {v} loaded", f"part {v}"))
    return t, fam


def nino_bad(b: Builder) -> str:
    r = b.rng
    style = r.random()
    if style < 0.35:
        prefix = r.choice("DFIQUV") + r.choice(string.ascii_uppercase)
    elif style < 0.55:
        prefix = r.choice(string.ascii_uppercase) + r.choice("DFIQUVO")
    elif style < 0.8:
        prefix = r.choice(("BG", "GB", "KN", "NK", "NT", "TN", "ZZ"))
    else:
        prefix = r.choice("ABCEGHJKLMNPRSTWXYZ") + r.choice("ABCEGHJKLMNPRSTWXYZ")
        if prefix in {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}:
            prefix = "AB"
        return prefix + b.digits(6) + r.choice("EFGHJKMNPTXZ")
    return prefix + b.digits(6) + r.choice("ABCD")


DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def neg_national_id(b: Builder, loc: str, i: int) -> tuple[str, str]:
    r = b.rng
    fams = (
        "ssn_invalid_area",
        "ssn_zero_group_serial",
        "bsn_fail",
        "verhoeff_fail",
        "dni_wrong_letter",
        "nie_wrong_letter",
        "nino_invalid",
        "cf_wrong_check",
        "nir_wrong_key",
    )
    fam = fams[i % len(fams)]
    ctx = ("ref {v}", "case number {v}", "Reference: {v}", "id={v}", "see file {v}", "ID: {v} (test data)")
    if fam == "ssn_invalid_area":

        def draw() -> str:
            area = r.choice(("000", "666", "9" + b.digits(2)))
            return f"{area}-{r.randint(1, 49):02d}-{r.randint(1, 9999):04d}"

        v = b.valid_draw(
            "neg:ssn_invalid",
            draw,
            lambda x: not stdnum.us.ssn.is_valid(x) and not stdnum.us.itin.is_valid(x),
        )
    elif fam == "ssn_zero_group_serial":

        def draw() -> str:
            area = f"{r.randint(1, 665):03d}"
            return (
                f"{area}-00-{r.randint(1, 9999):04d}"
                if r.random() < 0.5
                else f"{area}-{r.randint(1, 99):02d}-0000"
            )

        v = b.valid_draw("neg:ssn_invalid", draw, lambda x: not stdnum.us.ssn.is_valid(x))
    elif fam == "bsn_fail":
        v = b.valid_draw("neg:bsn_fail", lambda: b.digits(9), lambda x: not stdnum.nl.bsn.is_valid(x))
        ctx = (
            "Klantnummer {v}",
            "Order {v} is verzonden.",
            "ticket {v}",
            "artikelnummer {v}",
            "ref {v}",
            "customer id {v}",
        )
    elif fam == "verhoeff_fail":

        def draw() -> str:
            x = b.digits(12, "23456789")
            return group(x, (4, 4, 4), " ") if r.random() < 0.5 else x

        v = b.valid_draw(
            "neg:verhoeff_fail",
            draw,
            lambda x: (
                not stdnum.verhoeff.is_valid(x.replace(" ", ""))
                and not stdnum.luhn.is_valid(x.replace(" ", ""))
            ),
        )
        ctx = ("Booking reference {v}", "application no. {v}", "consignment {v}", "ref {v}", "policy {v}")
    elif fam == "dni_wrong_letter":

        def draw() -> str:
            num = b.digits(8)
            return num + r.choice([c for c in DNI_LETTERS if c != DNI_LETTERS[int(num) % 23]])

        v = b.valid_draw("neg:dni_wrong_letter", draw, lambda x: not stdnum.es.dni.is_valid(x))
        ctx = ("Referencia {v}", "pedido {v}", "ref {v}", "código {v}", "expediente {v}")
    elif fam == "nie_wrong_letter":

        def draw() -> str:
            p = r.choice("XYZ")
            num = b.digits(7)
            good = DNI_LETTERS[int(str("XYZ".index(p)) + num) % 23]
            return p + num + r.choice([c for c in DNI_LETTERS if c != good])

        v = b.valid_draw("neg:nie_wrong_letter", draw, lambda x: not stdnum.es.nie.is_valid(x))
    elif fam == "nino_invalid":
        v = nino_bad(b)
        if r.random() < 0.5:
            v = group(v, (2, 2, 2, 2, 1), " ")
        ctx = ("ref {v}", "Reference: {v}", "policy {v}", "membership {v}")
    elif fam == "cf_wrong_check":
        good = b.valid_draw("faker:it_IT:ssn", b.fakers["it_IT"].ssn, stdnum.it.codicefiscale.is_valid)
        v = b.valid_draw(
            "neg:cf_wrong_check",
            lambda: good[:-1] + r.choice(string.ascii_uppercase),
            lambda x: not stdnum.it.codicefiscale.is_valid(x),
        )
        ctx = ("pratica {v}", "codice pratica {v}", "ref {v}")
    else:
        good = b.valid_draw("faker:fr_FR:ssn", b.fakers["fr_FR"].ssn, stdnum.fr.nir.is_valid)
        v = b.valid_draw(
            "neg:nir_wrong_key",
            lambda: good[:-2] + f"{r.randint(1, 97):02d}",
            lambda x: not stdnum.fr.nir.is_valid(x),
        )
        ctx = ("numéro de dossier {v}", "référence {v}", "ref {v}")
    return r.choice(ctx).format(v=v), fam


def not_ipv4(s: str) -> bool:
    try:
        ipaddress.IPv4Address(s)
    except ValueError:
        return True
    return False


def neg_ip(b: Builder, loc: str, i: int) -> tuple[str, str]:
    r = b.rng
    fams = (
        "five_part_version",
        "octet_over_255",
        "oid",
        "three_part",
        "time",
        "scope_operator",
        "ratio_verse",
        "bad_ipv6",
        "thousands_dots",
    )
    fam = fams[i % len(fams)]
    if fam == "five_part_version":
        v = ".".join(str(r.randint(0, 20)) for _ in range(r.randint(5, 6)))
        t = r.choice((f"version {v}", f"upgraded to {v}", f"firmware v{v}", f"chrome/{v}"))
    elif fam == "octet_over_255":

        def draw() -> str:
            parts = [r.randint(0, 255) for _ in range(4)]
            parts[r.randint(0, 3)] = r.randint(256, 999)
            return ".".join(map(str, parts))

        v = b.valid_draw("neg:ip_octet", draw, not_ipv4)
        t = r.choice(
            (
                f"build {v}",
                f"Windows 10.0.{r.randint(10240, 22631)}.{r.randint(1, 3000)}",
                f"value {v} out of range",
                f"version {v}",
            )
        )
    elif fam == "oid":
        arcs = ".".join(str(r.randint(0, 40)) for _ in range(r.randint(1, 4)))
        t = r.choice(
            (
                f"OID 1.3.6.1.4.1.{r.randint(300, 60000)}.{arcs}",
                f"oid=2.5.4.{r.randint(3, 99)}.{arcs}",
                f"1.2.840.113549.1.{arcs} (pkcs)",
                f"snmpget 1.3.6.1.2.1.{arcs}.0",
                f"arc 2.16.840.1.{r.randint(100000, 113999)}",
            )
        )
    elif fam == "three_part":
        t = r.choice(
            (
                f"release {r.randint(0, 9)}.{r.randint(0, 30)}.{r.randint(0, 99)}",
                f"section {r.randint(1, 9)}.{r.randint(1, 9)}.{r.randint(1, 9)}",
                f"subnet 192.168.{r.randint(0, 255)} (first three octets only)",
            )
        )
    elif fam == "time":
        t = r.choice(
            (
                f"at {r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}",
                f"duration 1:{r.randint(10, 59)}:{r.randint(10, 59)}.{r.randint(100, 999)}",
                f"T{r.randint(10, 23)}:{r.randint(10, 59)}:{r.randint(10, 59)}",
            )
        )
    elif fam == "scope_operator":
        w1, w2, w3 = words(b, loc, 3)
        t = r.choice(
            (
                f"std::vector<{w1}> {w2};",
                f"use std::{w1}::{w2.capitalize()};",
                f"crate::{w1}::{w2}()",
                f"{w1} :: Int -> {w2.capitalize()}",
                f"{w1.capitalize()}::{w2}::{w3}()",
                "a::b::c::d::e::f",
                f"{w1}::{w2.capitalize()}::{w3}",
                f"std::{w1}::{w2}::{w3}",
            )
        )
    elif fam == "ratio_verse":
        t = r.choice(
            (
                f"aspect ratio {r.randint(1, 32)}:{r.randint(1, 18)}",
                f"John {r.randint(1, 21)}:{r.randint(1, 40)}",
                f"odds {r.randint(1, 20)}:{r.randint(1, 20)}",
                f"lap {r.randint(1, 59)}:{r.randint(10, 59)}:{r.randint(10, 99)}",
                f"key path a:{r.randint(1, 9)}:b:{r.randint(1, 9)}:c",
            )
        )
    elif fam == "bad_ipv6":

        def draw() -> str:
            style = r.random()
            g = [format(r.getrandbits(16), "x") for _ in range(9)]
            if style < 0.3:
                return ":".join(g)
            if style < 0.6:
                return f"{g[0]}::{g[1]}::{g[2]}"
            if style < 0.8:
                return f"{g[0]}:{g[1]}:::{g[2]}"
            return f"{g[0]}{r.choice('ghjkz')}{g[1]}::{g[2]}"

        def bad6(x: str) -> bool:
            try:
                ipaddress.IPv6Address(x)
            except ValueError:
                return True
            return False

        v = b.valid_draw("neg:bad_ipv6", draw, bad6)
        t = r.choice((f"token {v}", f"malformed address {v} rejected", f"id: {v}"))
    else:
        t = r.choice(
            (
                f"€ {r.randint(1, 999)}.{r.randint(256, 999)}.{r.randint(0, 999):03d},00",
                f"{r.randint(1, 99)}.{r.randint(256, 999)}.{r.randint(100, 999)}."
                f"{r.randint(100, 999)} inhabitants",
                f"Kontostand {r.randint(1, 99)}.{r.randint(100, 999)},{r.randint(10, 99)}",
            )
        )
    return t, fam


def hexs(b: Builder, n: int) -> str:
    return b.chars(n, "0123456789abcdef")


KEY_NAMES = (
    "api_key",
    "API_KEY",
    "token",
    "access_token",
    "client_secret",
    "SECRET_KEY",
    "password",
    "auth_token",
    "OPENAI_API_KEY",
    "GITHUB_TOKEN",
    "STRIPE_SECRET_KEY",
    "x-api-key",
    "apiKey",
    "slack_token",
)


def assign(b: Builder, name: str, value: str) -> str:
    return b.rng.choice(("{k}={v}", "{k}: {v}", '{k} = "{v}"', '"{k}": "{v}"', "export {k}={v}")).format(
        k=name, v=value
    )


def neg_secret(b: Builder, loc: str, i: int) -> tuple[str, str]:
    r = b.rng
    fams = (
        "placeholder",
        "prefixed_placeholder",
        "env_reference",
        "uuid",
        "git_sha",
        "sha256",
        "base64_blob",
        "low_entropy",
        "identifier",
        "public_material",
        "prefix_in_word",
        "redacted",
    )
    fam = fams[i % len(fams)]
    key = r.choice(KEY_NAMES)
    if fam == "placeholder":
        v = r.choice(
            (
                "YOUR_API_KEY",
                "<your-api-key>",
                "<TOKEN>",
                "your_api_key_here",
                "changeme",
                "password123",
                "AKIAIOSFODNN7EXAMPLE",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "null",
                '""',
                "...",
                "<insert token>",
                "TODO",
                "xxxxxxxx",
                "REPLACE_ME",
                "dummy",
                "test",
                "None",
                "${TOKEN}",
            )
        )
        t = assign(b, key, v) if r.random() < 0.8 else f"Authorization: Bearer {v}"
    elif fam == "prefixed_placeholder":
        t = r.choice(
            (
                "sk-" + "x" * r.randint(8, 48),
                "sk-your-openai-key-here",
                "sk-...",
                "sk_live_your_stripe_secret_key",
                "xoxb-your-slack-bot-token",
                "ghp_" + "X" * 36,
                "AKIA" + "X" * 16,
                "AIzaSy-your-google-maps-api-key-here",
                "sk-proj-" + "X" * r.randint(20, 48),
                "github_pat_" + "X" * 22 + "_" + "X" * 59,
                "sk_test_" + "0" * r.randint(24, 30),
                "xoxp-0000000000-0000000000-0000000000-00000000",
                "sk-...XXXX",
                "ghp_<your-token>",
                "AKIA...",
                "sk_live_...",
            )
        )
        t = (
            assign(b, key, t)
            if r.random() < 0.5
            else r.choice(
                ("{t}", "Set {t} in your .env file.", "e.g. {t}", "Replace {t} with your own key.")
            ).format(t=t)
        )
    elif fam == "env_reference":
        var = r.choice(
            (
                "OPENAI_API_KEY",
                "GITHUB_TOKEN",
                "SECRET_KEY",
                "DB_PASSWORD",
                "STRIPE_KEY",
                "SLACK_TOKEN",
                "AWS_SECRET_ACCESS_KEY",
                "API_TOKEN",
            )
        )
        v = r.choice(
            (
                f'os.environ["{var}"]',
                f'os.getenv("{var}")',
                "${{ secrets." + var + " }}",
                f"${{{var}}}",
                f"$(vault read -field=token secret/{var.lower()})",
                "{{ " + var.lower() + " }}",
                f"process.env.{var}",
                f'config.get("{var.lower()}")',
            )
        )
        t = r.choice((f"{key} = {v}", f"{key}: {v}", f"{key}={v}"))
    elif fam == "uuid":
        u = f"{hexs(b, 8)}-{hexs(b, 4)}-4{hexs(b, 3)}-{r.choice('89ab')}{hexs(b, 3)}-{hexs(b, 12)}"
        t = r.choice(
            (
                f"request_id={u}",
                f"trace id {u}",
                f"Order {u} created",
                f'"correlation_id": "{u}"',
                f"uuid: {u}",
            )
        )
    elif fam == "git_sha":
        s = hexs(b, 40)
        t = r.choice(
            (
                f"commit {s}\nAuthor: {b.fakers[loc].name()}",
                f"fixed in {s}",
                f"revert {s[:12]}",
                f"pinned to rev {s}",
            )
        )
    elif fam == "sha256":
        s = hexs(b, 64)
        t = r.choice(
            (
                f"sha256:{s}",
                f"checksum {s}  release.tar.gz",
                f"image@sha256:{s}",
                f"SHA-256 digest: {s}",
                f'etag "{hexs(b, 32)}"',
            )
        )
    elif fam == "base64_blob":
        blob = base64.b64encode(bytes(r.getrandbits(8) for _ in range(r.randint(45, 90)))).decode()
        t = r.choice(
            (
                f"data:image/png;base64,{blob}",
                f"attachment (base64): {blob}",
                f'<img src="data:image/jpeg;base64,{blob}">',
                f"payload={blob}",
            )
        )
    elif fam == "low_entropy":
        c = r.choice(string.ascii_lowercase + string.digits)
        v = r.choice(
            (
                c * r.randint(24, 48),
                "abcd" * r.randint(6, 10),
                "0123456789" * r.randint(3, 4),
                "ab" * r.randint(12, 24),
                "*" * r.randint(8, 16),
                c.upper() * r.randint(20, 40),
            )
        )
        t = assign(b, key, v) if r.random() < 0.8 else r.choice(("sk-", "ghp_", "xoxb-", "AKIA")) + c * 36
    elif fam == "identifier":
        w1, w2 = words(b, loc, 2)
        t = r.choice(
            (
                f"def get_{w1}_api_key():",
                f'{key.upper()}_SETTING_NAME = "{key}"',
                f"token_type=bearer&expires_in={r.choice((600, 3600, 86400))}",
                f'tokenizer = AutoTokenizer.from_pretrained("{w1}-{w2}-base")',
                'api_key_header_name = "X-API-Key"',
                f'secret_name = "prod-{w1}-credentials"',
                f"password_reset_token_expiry_hours = {r.randint(1, 72)}",
                f"max_tokens={r.choice((64, 256, 1024))}, temperature=0.{r.randint(0, 9)}",
                f"{key}_{w1}_enabled = True",
            )
        )
    elif fam == "public_material":
        raw = base64.b64encode(bytes(r.getrandbits(8) for _ in range(96))).decode()
        lines = "\n".join(raw[j : j + 64] for j in range(0, len(raw), 64))
        label = r.choice(("PUBLIC KEY", "CERTIFICATE", "RSA PUBLIC KEY", "CERTIFICATE REQUEST"))
        t = r.choice(
            (
                f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----",
                f"ssh-ed25519 {raw[:68]} {b.fakers[loc].user_name()}@laptop",
            )
        )
    elif fam == "prefix_in_word":
        w1, w2, w3 = words(b, loc, 3)
        t = r.choice(
            (
                f"the risk-{w1}-{w2}-{w3} document",
                f"task-{w1}-{w2}-{w3}-{r.randint(1, 99)}",
                f"desk-{w1}-{w2}-service",
                f"whisk-{w1}-and-{w2}",
                f"Accept-Language: sk-SK,sk;q=0.9,{loc[:2]};q=0.8",
                f"SK-II {w1} essence",
                f"xoxo-{w1}-{w2}-from-grandma",
                f"akiapolaau and {w1}",
                f"ghp_ is the prefix of {w1} tokens",
                f"Ask-{w1}-{w2}-session-transcript",
            )
        )
    else:
        v = r.choice(
            (
                "[REDACTED]",
                "***",
                "********",
                "<redacted>",
                "sk-...XXXX (masked)",
                "AKIA****************",
                "[FILTERED]",
                "<hidden>",
                "•" * r.randint(6, 12),
            )
        )
        t = assign(b, key, v) if r.random() < 0.8 else f"Authorization: Bearer {v}"
    return t, fam


def words(b: Builder, loc: str, n: int) -> list[str]:
    """``n`` lowercase ASCII words from the en_US word list (seeded)."""
    return [b.fakers["en_US"].word().lower() for _ in range(n)]


NEGATIVES: dict[str, Callable[[Builder, str, int], tuple[str, str]]] = {
    "email": neg_email,
    "phone": neg_phone,
    "card": neg_card,
    "iban": neg_iban,
    "national_id": neg_national_id,
    "ip": neg_ip,
    "secret": neg_secret,
}


def negatives(b: Builder) -> None:
    for kind in KINDS:
        for i in range(N_NEG):
            loc = LOCALES[i % len(LOCALES)]
            text, fam = NEGATIVES[kind](b, loc, i)
            b.add(f"{kind}-neg", text, [], loc, f"negative:{kind}:{fam}")


# --------------------------------------------------------------------------- output
def build(seed: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(header, records) of the labelled set for ``seed``."""
    state = random.getstate()  # Builder seeds the global random module (see there); restore it after
    try:
        b = Builder(seed)
        positives(b)
        negatives(b)
    finally:
        random.setstate(state)
    spans = Counter(s["kind"] for rec in b.records for s in rec["spans"])
    negs = Counter(rec["source"].split(":")[1] for rec in b.records if rec["source"].startswith("negative:"))
    header = {
        "name": "pii_labelled",
        "generator": "scripts/build_pii_labelled_set.py",
        "seed": seed,
        "faker": faker.VERSION,
        "stdnum": stdnum.__version__,
        "records": len(b.records),
        "positive_spans": dict(sorted(spans.items())),
        "negative_records": dict(sorted(negs.items())),
        "rejected_draws": dict(sorted(b.rejected.items())),
        "offsets": "code points",
    }
    return header, b.records


def dumps(header: dict[str, Any], records: list[dict[str, Any]]) -> bytes:
    lines = [json.dumps({"header": header}, ensure_ascii=False, separators=(",", ":"))]
    lines += [json.dumps(rec, ensure_ascii=False, separators=(",", ":")) for rec in records]
    return ("\n".join(lines) + "\n").encode("utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument(
        "--any-faker",
        action="store_true",
        help=f"allow a Faker other than {FAKER_VERSION} (the output will differ)",
    )
    args = ap.parse_args(argv)
    if faker.VERSION != FAKER_VERSION and not args.any_faker:
        print(
            f"Faker {faker.VERSION} is installed; the set is defined with Faker {FAKER_VERSION} "
            f"(pip install 'faker=={FAKER_VERSION}', or pass --any-faker for a different set)",
            file=sys.stderr,
        )
        return 2
    header, records = build(args.seed)
    data = dumps(header, records)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    print(f"wrote {args.out}: {len(records)} records, sha256 {hashlib.sha256(data).hexdigest()}")
    print(json.dumps(header, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
