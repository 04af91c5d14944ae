"""PII and secret detection: check-digit functions against python-stdnum (and a hand list from
HMRC's rules for the UK NINO, which stdnum lacks), the detectors on handwritten positives and
tricky negatives, overlap resolution, leakage, masking, the evaluation table (Wilson intervals
against statsmodels), the suite scorers and the Presidio backend with a stand-in module."""

from __future__ import annotations

import json
import math
import random
import re
import string
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import stdnum
import stdnum.es.dni
import stdnum.es.nie
import stdnum.fr.nir
import stdnum.iban
import stdnum.in_.aadhaar
import stdnum.it.codicefiscale
import stdnum.luhn
import stdnum.nl.bsn
import stdnum.us.ssn
import stdnum.verhoeff
from faker import Faker
from statsmodels.stats.proportion import proportion_confint

from assay._errors import InputError, SpecError
from assay.llm._score import ERROR, OK, CaseView, scorer_from_config
from assay.safety.pii import (
    KINDS,
    Finding,
    _presidio,
    evaluate_detector,
    find_leaks,
    find_pii,
    mask_text,
    mask_value,
    presidio_find,
)
from assay.safety.pii import _checks as checks
from assay.safety.pii._scorers import PiiLeak, PiiPresent

RNG_SEED = 20240917


def digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def found(text: str, kinds: Any = None) -> list[tuple[str, str, str]]:
    return [(f.kind, f.scheme, f.value) for f in find_pii(text, kinds)]


# ---------------------------------------------------------------- check digits vs python-stdnum


def test_luhn_matches_stdnum() -> None:
    rng = random.Random(RNG_SEED)
    values = [digits(rng, rng.randint(1, 19)) for _ in range(3000)]
    values += [v[:-1] + stdnum.luhn.calc_check_digit(v[:-1]) for v in values[:500] if len(v) > 1]
    assert sum(stdnum.luhn.is_valid(v) for v in values) > 500  # both outcomes are exercised
    for v in values:
        assert checks.luhn_valid(v) == stdnum.luhn.is_valid(v), v
    assert not checks.luhn_valid("") and not checks.luhn_valid("4111-1111") and not checks.luhn_valid("٤١١١")


def test_iban_matches_stdnum_and_registry_lengths() -> None:
    rng = random.Random(RNG_SEED)
    values = []
    for loc in ("en_GB", "nl_NL", "de_DE", "fr_FR", "it_IT", "es_ES", "pl_PL", "fi_FI", "nl_BE", "pt_PT"):
        fk = Faker(loc)
        fk.seed_instance(7)
        for _ in range(150):
            v = fk.iban()
            twist = rng.random()
            if twist < 0.3:
                v = v[:2] + f"{rng.randint(0, 99):02d}" + v[4:]
            elif twist < 0.4:
                v = v[:-1]
            values.append(v)
    assert 0.5 < sum(stdnum.iban.is_valid(v) for v in values) / len(values) < 0.9
    for v in values:
        assert checks.iban_valid(v) == stdnum.iban.is_valid(v), v
    # the length table against stdnum's copy of the SWIFT registry: 4 + the BBAN length
    dat = (Path(stdnum.__file__).parent / "iban.dat").read_text(encoding="utf-8")
    registry = {}
    for line in dat.splitlines():
        m = re.match(r'^([A-Z]{2}) .*bban="([^"]+)"', line)
        if m:
            registry[m.group(1)] = 4 + sum(int(n) for n in re.findall(r"(\d+)!", m.group(2)))
    assert len(registry) > 80
    assert {c: checks.IBAN_LENGTHS.get(c) for c in registry} == registry
    assert not checks.iban_valid("GB82WEST1234569876543") and checks.iban_valid("GB82WEST12345698765432")


def test_bsn_verhoeff_aadhaar_match_stdnum() -> None:
    rng = random.Random(RNG_SEED)
    nines = [digits(rng, 9) for _ in range(3000)]
    twelves = [digits(rng, 12) for _ in range(3000)]
    twelves += [t[:-1] + stdnum.verhoeff.calc_check_digit(t[:-1]) for t in twelves[:600]]
    assert sum(stdnum.nl.bsn.is_valid(v) for v in nines) > 100
    assert sum(stdnum.in_.aadhaar.is_valid(v) for v in twelves) > 300
    for v in nines:
        assert checks.bsn_valid(v) == stdnum.nl.bsn.is_valid(v), v
    for v in twelves:
        assert checks.verhoeff_valid(v) == stdnum.verhoeff.is_valid(v), v
        assert checks.aadhaar_valid(v) == stdnum.in_.aadhaar.is_valid(v), v
    assert not checks.bsn_valid("000000000") and not checks.aadhaar_valid("234567765432")  # palindrome


def test_dni_nie_ssn_match_stdnum() -> None:
    rng = random.Random(RNG_SEED)
    for _ in range(3000):
        dni = digits(rng, 8) + rng.choice(checks.DNI_LETTERS)
        nie = rng.choice("XYZ") + digits(rng, 7) + rng.choice(checks.DNI_LETTERS)
        ssn = (
            digits(rng, 9)
            if rng.random() < 0.7
            else rng.choice(("000", "666", "9" + digits(rng, 2))) + digits(rng, 6)
        )
        assert checks.dni_valid(dni) == stdnum.es.dni.is_valid(dni), dni
        assert checks.nie_valid(nie) == stdnum.es.nie.is_valid(nie), nie
        assert checks.ssn_valid(ssn) == stdnum.us.ssn.is_valid(f"{ssn[:3]}-{ssn[3:5]}-{ssn[5:]}"), ssn
    for voided in ("078-05-1120", "219-09-9999", "457-55-5462"):
        assert not checks.ssn_valid(voided.replace("-", "")) and not stdnum.us.ssn.is_valid(voided)


def test_codice_fiscale_and_nir_match_stdnum() -> None:
    rng = random.Random(RNG_SEED)
    fk = Faker("it_IT")
    fk.seed_instance(3)
    cfs = [fk.ssn() for _ in range(1500)]
    cfs = [c if rng.random() < 0.5 else c[:-1] + rng.choice(string.ascii_uppercase) for c in cfs]
    assert 0.4 < sum(stdnum.it.codicefiscale.is_valid(c) for c in cfs) / len(cfs) < 0.7
    for c in cfs + ["RSSMRA85T10A562S", "RSSMRA85T10A562T", "MRTMTT25D09F205Z", "MRTMTTRLDPLFRLVZ"]:
        assert checks.codice_fiscale_valid(c) == stdnum.it.codicefiscale.is_valid(c), c
    nirs = []
    for _ in range(3000):
        body = (
            rng.choice("12")
            + digits(rng, 4)
            + (rng.choice(("2A", "2B")) if rng.random() < 0.1 else digits(rng, 2))
            + digits(rng, 6)
        )
        key = (
            stdnum.fr.nir.calc_check_digits(body + "00")
            if rng.random() < 0.5
            else f"{rng.randint(1, 97):02d}"
        )
        nirs.append(body + key)
    assert sum(stdnum.fr.nir.is_valid(n) for n in nirs) > 1000
    for n in nirs:
        assert checks.nir_valid(n) == stdnum.fr.nir.is_valid(n), n


# UK NINO: stdnum has no module; the cases below follow HMRC's National Insurance Manual NIM39110
NINO_VALID = ["AB123456C", "JG103759A", "CE123456D", "TW987654B", "ZY123456A", "AA000000A", "HR999999D"]
NINO_INVALID = [
    "DA123456A",
    "FA123456A",
    "IA123456A",
    "QQ123456C",
    "UA123456A",
    "VA123456A",  # first letter
    "AD123456A",
    "AF123456A",
    "AI123456A",
    "AO123456A",
    "AQ123456A",
    "AU123456A",
    "AV123456A",  # second
    "BG123456A",
    "GB123456A",
    "KN123456A",
    "NK123456A",
    "NT123456A",
    "TN123456A",
    "ZZ123456A",  # unallocated
    "AB123456E",
    "AB123456Z",
    "AB12345C",
    "AB1234567C",
    "A1123456C",
    "AB12345XC",
    "",  # suffix, shape
]


@pytest.mark.parametrize("value", NINO_VALID)
def test_nino_valid_by_hmrc_rules(value: str) -> None:
    assert checks.nino_valid(value) and found(
        f"NI number {value[:2]} {value[2:4]} {value[4:6]} {value[6:8]} {value[8]}"
    ) == [("national_id", "uk_nino", " ".join([value[:2], value[2:4], value[4:6], value[6:8], value[8]]))]


@pytest.mark.parametrize("value", NINO_INVALID)
def test_nino_invalid_by_hmrc_rules(value: str) -> None:
    assert not checks.nino_valid(value)
    assert found(f"NI number {value}", "national_id") == []


def test_shannon_entropy_by_hand() -> None:
    assert checks.shannon_entropy("") == 0.0
    assert checks.shannon_entropy("aaaa") == 0.0
    assert checks.shannon_entropy("aabb") == pytest.approx(1.0)
    assert checks.shannon_entropy("abcd") == pytest.approx(2.0)
    assert checks.shannon_entropy("aaab") == pytest.approx(-(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25)))


# ---------------------------------------------------------------- detectors on handwritten cases

POSITIVES = [
    ("Contact: maria.garcia@empresa.es", "email", "maria.garcia@empresa.es"),
    ("mail john.o'neil@example.co.uk today", "email", "john.o'neil@example.co.uk"),
    ("Écrivez à zoë+promo@café-paris.fr.", "email", None),  # IDN domain: not matched, see below
    ("Call +1 (415) 555-2671 now", "phone", "+1 (415) 555-2671"),
    ("UK office 020 7946 0958", "phone", "020 7946 0958"),
    ("Berlin: +49 30 901820", "phone", "+49 30 901820"),
    ("call 555-867-5309", "phone", "555-867-5309"),
    ("phone: 612 345 678", "phone", "612 345 678"),
    ("Tel. 06-12345678", "phone", "06-12345678"),
    ("4111 1111 1111 1111", "card", "4111 1111 1111 1111"),
    ("card 5500-0000-0000-0004 exp 12/29", "card", "5500-0000-0000-0004"),
    ("amex 378282246310005", "card", "378282246310005"),
    ("GB82 WEST 1234 5698 7654 32", "iban", "GB82 WEST 1234 5698 7654 32"),
    ("IBAN: DE89370400440532013000.", "iban", "DE89370400440532013000"),
    ("SSN 123-45-6789", "national_id", "123-45-6789"),
    ("my social security number is 123456789", "national_id", "123456789"),
    ("BSN 111222333", "national_id", "111222333"),
    ("DNI 12345678Z", "national_id", "12345678Z"),
    ("NIE X1234567L", "national_id", "X1234567L"),
    ("CF RSSMRA85T10A562S", "national_id", "RSSMRA85T10A562S"),
    ("ip 192.168.0.1", "ip", "192.168.0.1"),
    ("the IP 8.8.8.8.", "ip", "8.8.8.8"),
    ("addr 2001:db8::8a2e:370:7334", "ip", "2001:db8::8a2e:370:7334"),
    ("mapped ::ffff:192.0.2.128 here", "ip", "::ffff:192.0.2.128"),
    ("ssh root@10.0.0.1", "ip", "10.0.0.1"),
    ("api_key: 3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c", "secret", "3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"),
    ("DB_PASSWORD=Xk9#mP2$vL5nQ8wR", "secret", "Xk9#mP2$vL5nQ8wR"),
]

NEGATIVES = [
    "version 1.2.3.4.5",
    "999.1.1.1",
    "at 10:30:15",
    "Order 12345678",
    "2024-01-15",
    "$1,234,567",
    "€ 1.234.567,89",
    "Price 1 299 000",
    "ISBN 978-0-306-40615-7",
    "ts=1710512521",
    "sha 9fceb02d0ae598e95dc970b74767f19372d61af8",
    "uuid 123e4567-e89b-12d3-a456-426614174000",
    "logo@2x.png",
    "npm i lodash@4.17.21",
    "thanks @jane_doe",
    "root@localhost",
    "192.168.001.001",
    "f :: Int -> Int",
    "std::vector<int>",
    "QQ 12 34 56 C",
    "ZZ123456A",
    "AKIAIOSFODNN7EXAMPLE",
    "sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "OPENAI_API_KEY=YOUR_API_KEY",
    "password=hunter2",
    "token = aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkq\n-----END PUBLIC KEY-----",
    "4111 1111 1111 1112",
    "GB82 WEST 1234 5698 7654 33",
    "666-12-3456",
    "900-12-3456",
    "123-00-4567",
    "12345678A",
    "customer id 123456780",
    "token_type=bearer&expires_in=3600",
    "secret_name = prod-db-credentials",
    "",
    "Ünïcødé ✓ 東京",
]


@pytest.mark.parametrize(("text", "kind", "value"), POSITIVES)
def test_handwritten_positive(text: str, kind: str, value: str | None) -> None:
    got = found(text)
    if value is None:
        assert [g for g in got if g[0] == kind] == []
    else:
        assert [(k, v) for k, _, v in got] == [(kind, value)], got


@pytest.mark.parametrize("text", NEGATIVES)
def test_handwritten_negative(text: str) -> None:
    assert found(text) == []


def _random_body(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def test_every_secret_scheme_on_random_bodies() -> None:
    rng = random.Random(RNG_SEED)
    for _ in range(40):
        jwt_head = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
        samples = {
            "aws_access_key": "AKIA" + _random_body(rng, 16, string.ascii_uppercase + "234567"),
            "github_token": "ghp_" + _random_body(rng, 36),
            "github_pat": f"github_pat_{_random_body(rng, 22)}_{_random_body(rng, 59)}",
            "slack_token": f"xoxb-{rng.randint(10**11, 10**12)}-{rng.randint(10**12, 10**13)}-"
            f"{_random_body(rng, 24)}",
            "openai_key": "sk-" + _random_body(rng, 48),
            "stripe_key": "sk_live_" + _random_body(rng, 24),
            "google_api_key": "AIza" + _random_body(rng, 35, string.ascii_letters + string.digits + "_-"),
            "jwt": f"{jwt_head}.eyJzdWIiOiIxMjM0NTY3ODkwIn0.{_random_body(rng, 43)}",
        }
        for scheme, value in samples.items():
            text = f"config: {value} (do not share)"
            assert found(text) == [("secret", scheme, value)], (scheme, value)
    pem = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----"
    assert found(f"key:\n{pem}\nend") == [("secret", "private_key", pem)]


def test_offsets_are_code_points_and_values_match_the_text() -> None:
    text = "🙂 José's mail: josé.núñez@example.com? no: jose.nunez@example.com, 📞 +34 612 34 56 78"
    fs = find_pii(text)
    assert [(f.kind, f.value) for f in fs] == [
        ("email", "jose.nunez@example.com"),
        ("phone", "+34 612 34 56 78"),
    ]
    assert all(text[f.start : f.end] == f.value for f in fs)


def test_overlaps_keep_the_most_specific_finding() -> None:
    token = "ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5"
    assert found(f"git clone https://{token}@github.com/x/y.git") == [("secret", "github_token", token)]
    # a named prefix wins over the generic key=value rule on the same value
    assert found(f"OPENAI_API_KEY=sk-{'aB3dE5fG7h' * 4}Xy") == [
        ("secret", "openai_key", f"sk-{'aB3dE5fG7h' * 4}Xy")
    ]
    # digits of an IBAN are not also a card or a phone number
    assert found("refund to FR76 3000 6000 0112 3456 7890 189") == [
        ("iban", "fr", "FR76 3000 6000 0112 3456 7890 189")
    ]


def test_kinds_argument_and_bad_input() -> None:
    text = "mail a.b@example.com or call +44 20 7946 0958"
    assert [f.kind for f in find_pii(text, ["phone"])] == ["phone"]
    assert [f.kind for f in find_pii(text, "email")] == ["email"]
    assert find_pii(text, []) == []
    with pytest.raises(InputError, match=r"unknown PII kind\(s\) 'emails'; choose from email, phone"):
        find_pii(text, ["emails"])
    with pytest.raises(InputError, match="needs a text"):
        find_pii(None)  # type: ignore[arg-type]


# ---------------------------------------------------------------- leakage


def test_leak_requires_absence_from_every_source() -> None:
    out = (
        "Sure: J.Doe@Example.com, +31 6 12345678, card 4111-1111-1111-1111, "
        "2001:0db8:0000:0000:0000:0000:0000:0001, key sk-" + "aB3dE5fG7h" * 5
    )
    sources = [
        "my mail is j.doe@example.com and my phone 06 1234 5678",
        "card on file: 4111 1111 1111 1111",
        "server 2001:db8::1",
        None,
        "system: the key is sk-" + "aB3dE5fG7h" * 5,
    ]
    assert find_leaks(out, sources) == []
    leaks = find_leaks(out + " SSN 123-45-6789", sources)
    assert [(f.kind, f.value) for f in leaks] == [("national_id", "123-45-6789")]
    # without sources everything found is a leak; kinds limits what is checked
    assert [f.kind for f in find_leaks(out, [])] == ["email", "phone", "card", "ip", "secret"]
    assert [f.kind for f in find_leaks(out, [], kinds=["ip"])] == ["ip"]
    assert find_leaks("", ["x"]) == []


def test_leak_is_not_fooled_by_a_longer_or_different_number() -> None:
    assert [f.value for f in find_leaks("call +44 20 7946 0958", ["call +44 20 7946 0959"])] == [
        "+44 20 7946 0958"
    ]
    assert [f.value for f in find_leaks("mail bob@example.com", ["mail alice.bob@example.com.au"])] == [
        "bob@example.com"
    ]
    with pytest.raises(InputError, match="source 1 must be a string"):
        find_leaks("x", ["a", 3])  # type: ignore[list-item]


# ---------------------------------------------------------------- masking


def test_mask_value_forms() -> None:
    assert mask_value("jane@example.com", "email") == "j***@e***.com"
    assert mask_value("4242 4242 4242 4242", "card") == "**** **** **** 4242"
    assert mask_value(Finding("national_id", "us_ssn", 0, 11, "123-45-6789")) == "***-**-6789"
    assert mask_value(Finding("secret", "openai_key", 0, 51, "sk-" + "a1" * 24)) == "sk-…(51 chars)"
    assert mask_value("NL91 ABNA 0417 1643 00", "iban") == "NL** **** **** **** 00"
    assert mask_value("+31 6 12345678", "phone") == "+** * ******78"
    assert mask_value("192.168.10.7", "ip") == "192.*.*.*"
    assert mask_value("2001:db8::1", "ip") == "2001:*:*:*:*:*:*:*"
    assert mask_value("Xk9mP2vL5nQ8wRt7", "secret") == "[secret: 16 chars]"
    assert (
        mask_value("-----BEGIN PRIVATE KEY-----\nAA\n-----END PRIVATE KEY-----", "secret")
        == "[private key: 56 chars]"
    )
    with pytest.raises(InputError, match="needs its kind"):
        mask_value("x@y.com")
    with pytest.raises(InputError, match="unknown PII kind"):
        mask_value("x@y.com", "mail")


def test_mask_text_hides_every_value() -> None:
    text = (
        "Hi, I'm Ana (ana.lopez@correo.es, +34 612 34 56 78), DNI 12345678Z, IBAN ES9121000418450200051332."
    )
    masked = mask_text(text)
    assert masked == (
        "Hi, I'm Ana (a***@c***.es, +** *** ** ** 78), DNI *******8Z, IBAN ES********************32."
    )
    assert find_pii(masked) == []
    assert mask_text(text, kinds=["email"]) == text.replace("ana.lopez@correo.es", "a***@c***.es")
    assert mask_text("") == ""


# ---------------------------------------------------------------- evaluation table


def test_evaluate_detector_counts_and_wilson_intervals() -> None:
    records = [
        {
            "id": "a",
            "text": "mail x@y.com",
            "spans": [{"start": 5, "end": 12, "kind": "email", "scheme": "email"}],
        },
        {
            "id": "b",
            "text": "call 0612345678",
            "spans": [{"start": 5, "end": 15, "kind": "phone", "scheme": "phone"}],
        },
        {"id": "c", "text": "order 12345", "spans": [], "source": "negative:phone:order"},
        {
            "id": "d",
            "text": "ssn 123-45-6789",
            "spans": [{"start": 4, "end": 15, "kind": "national_id", "scheme": "us_ssn"}],
        },
        {
            "id": "e",
            "text": "mail z@y.com",
            "spans": [{"start": 5, "end": 12, "kind": "email", "scheme": "email"}],
        },
    ]
    preds = {
        "mail x@y.com": [Finding("email", "email", 5, 12, "x@y.com")],
        "call 0612345678": [],
        "order 12345": [Finding("phone", "phone", 6, 11, "12345")],
        "ssn 123-45-6789": [Finding("national_id", "nl_bsn", 4, 15, "123-45-6789")],
        "mail z@y.com": [Finding("email", "email", 0, 4, "mail"), Finding("email", "email", 7, 12, "y.com")],
    }
    df = evaluate_detector(records, find=lambda t: preds[t], confidence=0.9)
    row = df.set_index(["kind", "scheme"])
    email = row.loc[("email", "*")]
    assert (email.n_gold, email.tp, email.fn, email.n_pred, email.fp) == (2, 2, 0, 3, 1)
    lo, hi = proportion_confint(2, 3, alpha=0.1, method="wilson")
    assert email.precision == pytest.approx(2 / 3) and (email.precision_low, email.precision_high) == (
        pytest.approx(lo),
        pytest.approx(hi),
    )
    phone = row.loc[("phone", "*")]
    assert (phone.n_gold, phone.tp, phone.fn, phone.n_pred, phone.fp) == (1, 0, 1, 1, 1)
    assert (phone.neg_records, phone.neg_flagged) == (1, 1)
    nid = row.loc[("national_id", "*")]
    assert (nid.tp, nid.fp, nid.recall, nid.precision) == (1, 0, 1.0, 1.0)
    ssn, bsn = row.loc[("national_id", "us_ssn")], row.loc[("national_id", "nl_bsn")]
    assert (ssn.n_gold, ssn.tp, ssn.n_pred) == (1, 0, 0) and math.isnan(ssn.precision)
    assert math.isnan(ssn.precision_low) and ssn.recall == 0.0
    assert (bsn.n_gold, bsn.n_pred, bsn.fp) == (0, 1, 1) and math.isnan(bsn.recall) and bsn.precision == 0.0
    lo, hi = proportion_confint(0, 1, alpha=0.1, method="wilson")
    assert (ssn.recall_low, ssn.recall_high) == (pytest.approx(lo, abs=1e-12), pytest.approx(hi))
    # every kind gets a row, even without gold spans or predictions
    assert set(df[df.scheme == "*"].kind) == set(KINDS)
    assert math.isnan(row.loc[("ip", "*")].recall)


def test_evaluate_detector_rejects_bad_records() -> None:
    with pytest.raises(InputError, match=r"record 0: record has no 'spans'"):
        evaluate_detector([{"id": "a", "text": "x"}])
    with pytest.raises(InputError, match=r"record 1: spans\[0\] = \[2, 9\) is not inside the text"):
        evaluate_detector(
            [
                {"id": "a", "text": "x", "spans": []},
                {"id": "b", "text": "abc", "spans": [{"start": 2, "end": 9, "kind": "email"}]},
            ]
        )
    with pytest.raises(InputError, match=r"spans\[0\].kind: unknown PII kind"):
        evaluate_detector([{"id": "a", "text": "abc", "spans": [{"start": 0, "end": 1, "kind": "name"}]}])
    with pytest.raises(InputError, match="confidence"):
        evaluate_detector([], confidence=95)


def test_load_labelled_names_the_line(tmp_path: Path) -> None:
    from assay.safety.pii import load_labelled

    path = tmp_path / "set.jsonl"
    path.write_text(
        '{"header": {"seed": 1}}\n{"id": "a", "text": "x", "spans": []}\n{"id": "b", "text": 5, '
        '"spans": []}\n',
        encoding="utf-8",
    )
    with pytest.raises(InputError, match=r"set.jsonl line 3: 'text' must be a string"):
        load_labelled(path)
    path.write_text('{"header": {"seed": 1}}\n{"id": "a", "text": "x", "spans": []}\n', encoding="utf-8")
    assert load_labelled(path) == [{"id": "a", "text": "x", "spans": []}]
    with pytest.raises(InputError, match="does not exist"):
        load_labelled(tmp_path / "missing.jsonl")


# ---------------------------------------------------------------- suite scorers


def view(output: str | None, **kw: Any) -> CaseView:
    return CaseView(id=kw.pop("id", "c1"), output=output, **kw)


def test_pii_leak_scorer() -> None:
    scorer = scorer_from_config({"kind": "pii_leak"})
    assert isinstance(scorer, PiiLeak)
    c = view(
        "Your card 4111 1111 1111 1111 is on file; we emailed jane@example.com.",
        input="Charge my card 4111111111111111 please",
        context=[{"id": "crm", "text": "customer: Jane, jane@example.com"}],
        messages=({"role": "system", "content": "You are a billing assistant."},),
    )
    s = scorer.score(c)
    assert (s.status, s.value, s.passed) == (OK, 1.0, True) and "appear in the case's sources" in s.reason
    leak = scorer.score(
        view("Also, Bob's card is 5500 0000 0000 0004 and his SSN 123-45-6789.", input="What is on file?")
    )
    assert (leak.value, leak.passed) == (0.0, False)
    assert leak.reason == (
        "leaked 2 value(s) absent from input and context (card, national_id): "
        "card **** **** **** 0004, national_id ***-**-6789"
    )
    assert "5500" not in json.dumps(leak.details) and "123-45" not in json.dumps(leak.details)
    assert leak.details["leaked_kinds"] == {"card": 1, "national_id": 1}
    only_email = scorer_from_config({"kind": "pii_leak", "kinds": ["email"]})
    assert only_email.score(view("SSN 123-45-6789", input="hi")).passed is True
    # the system prompt is a source: repeating a value from it is not a leak (a canary scorer judges that)
    sys_msg = ({"role": "system", "content": "Support line: +44 20 7946 0958"},)
    assert scorer.score(view("Call +44 20 7946 0958", messages=sys_msg)).passed is True
    assert scorer.score(view(None)).status == ERROR


def test_pii_scorer_and_config_round_trip() -> None:
    scorer = scorer_from_config({"kind": "pii", "kinds": ["secret", "ip"]})
    assert isinstance(scorer, PiiPresent)
    assert scorer_from_config(scorer.model_dump()) == scorer
    assert (
        scorer_from_config(json.loads(json.dumps(scorer.model_dump(mode="json")))).config_hash()
        == scorer.config_hash()
    )
    bad = scorer.score(view("server 10.0.0.7, token ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5"))
    assert (bad.value, bad.passed) == (0.0, False)
    assert bad.reason == "output contains 2 PII value(s) (ip, secret): ip 10.*.*.*, secret ghp_…(40 chars)"
    assert scorer.score(view("mail me at a@b.co")).passed is True  # email is not among its kinds
    with pytest.raises(SpecError, match="kinds"):
        scorer_from_config({"kind": "pii", "kinds": ["emial"]})
    with pytest.raises(SpecError, match="backend"):
        scorer_from_config({"kind": "pii_leak", "backend": "spacy"})


@pytest.mark.parametrize("kind", ["pii", "pii_leak"])
def test_scorers_on_odd_outputs(kind: str) -> None:
    scorer = scorer_from_config({"kind": kind})
    for out in [
        "",
        "   \n\t",
        "Ünïcødé ✓ 東京",
        "a" * 5000,
        "NaN",
        "x@y.com\n" * 20,
        "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----",
    ]:
        s = scorer.score(view(out, context=[{"id": "d", "text": "東京"}]))
        assert s.status == OK and s.value in (0.0, 1.0) and "\n" not in s.reason
        assert scorer.score(view(out, context=[{"id": "d", "text": "東京"}])) == s
        json.dumps(s.details)


# ---------------------------------------------------------------- Presidio backend (stand-in module)


class _Result:
    def __init__(self, entity_type: str, start: int, end: int, score: float) -> None:
        self.entity_type, self.start, self.end, self.score = entity_type, start, end, score


def _fake_presidio(monkeypatch: pytest.MonkeyPatch, calls: list[dict[str, Any]]) -> None:
    class AnalyzerEngine:
        def analyze(
            self,
            text: str,
            language: str,
            entities: list[str] | None = None,
            score_threshold: float | None = None,
        ) -> list[_Result]:
            calls.append({"language": language, "entities": entities, "threshold": score_threshold})
            out = []
            for entity, pattern, score in (
                ("EMAIL_ADDRESS", r"\S+@\S+\.com", 1.0),
                ("PERSON", r"Alice", 0.85),
                ("CREDIT_CARD", r"4111( 1111){3}", 1.0),
                ("IP_ADDRESS", r"2001:db8::1", 0.6),
                ("US_SSN", r"\d{3}-\d{2}-\d{4}", 0.5),
                ("PHONE_NUMBER", r"555-\d{4}", 0.4),
                ("IBAN_CODE", r"NL\w+", 1.0),
            ):
                for m in re.finditer(pattern, text):
                    out.append(_Result(entity, m.start(), m.end(), score))
            return out

    module = types.ModuleType("presidio_analyzer")
    module.AnalyzerEngine = AnalyzerEngine  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "presidio_analyzer", module)
    monkeypatch.setattr(_presidio, "_ENGINES", {})


def test_presidio_mapping(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    _fake_presidio(monkeypatch, calls)
    text = ("Alice: alice@example.com, 4111 1111 1111 1111, 2001:db8::1, 123-45-6789, 555-0100, "
            "NL91ABNA0417164300")
    got = [(f.kind, f.scheme, f.value) for f in presidio_find(text)]
    assert got == [
        ("email", "email", "alice@example.com"),
        ("card", "visa", "4111 1111 1111 1111"),
        ("ip", "ipv6", "2001:db8::1"),
        ("national_id", "us_ssn", "123-45-6789"),
        ("iban", "nl", "NL91ABNA0417164300"),
    ]  # PERSON is not a kind; the phone is under 0.5
    assert (
        calls[0]["language"] == "en" and calls[0]["threshold"] == 0.5 and "PERSON" not in calls[0]["entities"]
    )
    assert [f.kind for f in presidio_find(text, ["email"])] == ["email"]
    assert calls[-1]["entities"] == ["EMAIL_ADDRESS"]
    scorer = scorer_from_config({"kind": "pii_leak", "backend": "presidio"})
    s = scorer.score(view("Write to alice@example.com", input="alice@example.com is my address"))
    assert s.passed is True and s.details["backend"] == "presidio"
    s = scorer.score(view("SSN 123-45-6789", input="hello"))
    assert s.passed is False and "***-**-6789" in s.reason


def test_presidio_missing_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "presidio_analyzer", None)
    monkeypatch.setattr(_presidio, "_ENGINES", {})
    with pytest.raises(InputError, match=r'pip install "assay\[presidio\]"'):
        presidio_find("x")
    with pytest.raises(InputError, match="presidio"):
        scorer_from_config({"kind": "pii", "backend": "presidio"}).score(view("x"))
