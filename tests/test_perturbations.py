"""Perturbations: each kind checked against an independent computation on a credit-like frame
(noise sd against SciPy's IQR, fractions against binomial bounds, swap frequencies with a
chi-square test, shift weights and shares by hand), plus reproducibility, the untouched
input, and the errors a wrong spec gets."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd
import pytest
from pydantic import TypeAdapter, ValidationError
from scipy import stats

from assay._errors import InputError, SpecError
from assay.robustness import (
    PERTURBATIONS,
    Boundary,
    CaseChange,
    CharNoise,
    Missing,
    Noise,
    OutOfRange,
    Perturbation,
    Reorder,
    Scale,
    Shift,
    Shuffle,
    Swap,
    Typos,
    Unseen,
    Whitespace,
    apply_perturbation,
    column_kinds,
    perturbation_label,
)

N = 5000
WORDS = ("the payment was late because the account balance dropped after a salary change and "
         "customer called branch office twice about loan terms").split()
REGIONS = ["north", "south", "east", "west"]
REGION_P = [0.4, 0.3, 0.2, 0.1]


def credit_frame(n: int = N, seed: int = 7) -> pd.DataFrame:
    """Rows like the credit example: two string categoricals, two floats, an int, free text."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10.5, 0.5, n)
    income[rng.random(n) < 0.02] = np.nan
    notes = [" ".join(rng.choice(WORDS, rng.integers(4, 14))) for _ in range(n)]
    frame = pd.DataFrame({
        "region": pd.array(rng.choice(REGIONS, n, p=REGION_P), dtype="str"),
        "channel": pd.array(rng.choice(["web", "branch", "broker"], n, p=[0.5, 0.3, 0.2]), dtype="str"),
        "income": income,
        "loan_amount": rng.lognormal(9.0, 0.7, n),
        "age": rng.integers(18, 80, n),
        "notes": pd.array(notes, dtype="str"),
    })
    frame.loc[rng.random(n) < 0.03, "notes"] = None
    return frame


@pytest.fixture(scope="module")
def credit() -> pd.DataFrame:
    return credit_frame()


def frame_sha(frame: pd.DataFrame) -> str:
    h = hashlib.sha256(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    h.update(repr(list(frame.columns)).encode())
    h.update(repr([str(t) for t in frame.dtypes]).encode())
    return h.hexdigest()


def cell_changed(a: object, b: object) -> bool:
    """Independent per-cell comparison: missing equals missing, else ``!=``."""
    a_na, b_na = bool(pd.isna(a)), bool(pd.isna(b))
    if a_na or b_na:
        return a_na != b_na
    return bool(a != b)


def changed_by_hand(before: pd.DataFrame, after: pd.DataFrame) -> np.ndarray:
    out = np.zeros(len(before), dtype=bool)
    for c in before.columns:
        a, b = before[c].tolist(), after[c].tolist()
        out |= np.array([cell_changed(x, y) for x, y in zip(a, b, strict=True)], dtype=bool)
    return out


def binomial_ok(k: int, n: int, p: float, z: float = 4.0) -> bool:
    return abs(k - n * p) <= z * math.sqrt(n * p * (1 - p)) + 1


# every kind, with whether two seeds must give different frames
EVERY_KIND = [
    (Noise(), True),
    (Noise(columns=["income", "loan_amount"], scale=0.5, fraction=0.3), True),
    (Missing(), True),
    (Swap(), True),
    (Unseen(columns=["region"], fraction=0.2), True),
    (OutOfRange(), True),
    (Boundary(columns=["age"], side="high"), True),
    (Scale(factor=10), False),
    (Scale(factor=0.1, fraction=0.5), True),
    (Shuffle(), True),
    (Reorder(), True),
    (Shift(where="channel = 'broker'", factor=3), False),
    (Shift(where="channel = 'broker'", mode="resample", share=0.5), True),
    (Typos(), True),
    (CaseChange(), True),
    (CaseChange(mode="upper"), False),
    (Whitespace(), True),
    (CharNoise(), True),
]


@pytest.mark.parametrize(("spec", "random"), EVERY_KIND, ids=[perturbation_label(s) for s, _ in EVERY_KIND])
def test_every_kind_on_a_credit_frame(credit: pd.DataFrame, spec: object, random: bool) -> None:
    snapshot = credit.copy(deep=True)
    kinds = column_kinds(credit)
    p = apply_perturbation(spec, credit, 11, kinds=kinds)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(credit, snapshot)  # the input is never modified
    again = apply_perturbation(spec, credit, 11, kinds=kinds)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(p.frame, again.frame)
    assert frame_sha(p.frame) == frame_sha(again.frame)
    np.testing.assert_array_equal(p.changed, again.changed)
    other = apply_perturbation(spec, credit, 12, kinds=kinds)  # type: ignore[arg-type]
    differs = frame_sha(p.frame) != frame_sha(other.frame) or (
        p.weights is not None and not np.array_equal(p.weights, other.weights))
    assert differs == random
    assert p.changed.dtype == bool and p.changed.shape == (len(p.frame),)
    if p.rows is not None:  # resample: output rows are copies of clean rows
        pd.testing.assert_frame_equal(p.frame, credit.iloc[p.rows].reset_index(drop=True))
        assert not p.changed.any()
        return
    assert len(p.frame) == len(credit)
    assert set(p.frame.columns) == set(credit.columns)
    expected = changed_by_hand(credit, p.frame[list(credit.columns)])
    if isinstance(spec, Reorder):
        assert not expected.any() and p.changed.all()
        assert list(p.frame.columns) != list(credit.columns)
        return
    np.testing.assert_array_equal(p.changed, expected)
    touched = [c for c in credit.columns if changed_by_hand(credit[[c]], p.frame[[c]]).any()]
    assert p.columns == touched
    if p.weights is None:
        assert p.changed.any()


def test_column_kinds(credit: pd.DataFrame) -> None:
    assert column_kinds(credit) == {"region": "categorical", "channel": "categorical", "income": "numeric",
                                    "loan_amount": "numeric", "age": "numeric", "notes": "text"}
    odd = pd.DataFrame({
        "flag": [True, False, True],
        "cat": pd.Categorical(["a", "b", "a"]),
        "when": pd.to_datetime(["2024-01-01", "2024-02-01", None]),
        "obj": pd.Series(["x y", None, "z"], dtype=object),
        "short": ["a b", "c", "d e f"],
        "mixed": pd.Series([1, "a", None], dtype=object),
        "nullable": pd.array([1, None, 3], dtype="Int64"),
    })
    assert column_kinds(odd) == {"flag": "categorical", "cat": "categorical", "when": "other",
                                 "obj": "categorical", "short": "categorical", "mixed": "other",
                                 "nullable": "numeric"}
    assert column_kinds(odd, text=["short", "cat"])["short"] == "text"
    assert column_kinds(odd, text=["cat"])["cat"] == "text"
    with pytest.raises(SpecError, match="'flag'.*not strings"):
        column_kinds(odd, text=["flag"])
    with pytest.raises(SpecError, match="'nope' is not in the data"):
        column_kinds(odd, text=["nope"])


def test_noise_sd_matches_scale_times_robust_spread(credit: pd.DataFrame) -> None:
    scale = 0.2
    p = apply_perturbation(Noise(columns=["loan_amount", "income"], scale=scale), credit, 3)
    for c in ("loan_amount", "income"):
        x = credit[c].to_numpy()
        ok = ~np.isnan(x)
        added = p.frame[c].to_numpy()[ok] - x[ok]
        target = scale * stats.iqr(x[ok]) / 1.349
        n = added.size
        # the sample sd of n normal draws has a standard error of about sd / sqrt(2 (n - 1))
        assert abs(added.std(ddof=1) - target) <= 4 * target / math.sqrt(2 * (n - 1))
        assert abs(added.mean()) <= 4 * target / math.sqrt(n)
        assert stats.kstest(added / target, "norm").pvalue > 1e-3
        assert np.isnan(p.frame[c].to_numpy()[~ok]).all()  # NaN stays NaN
    assert "income: " in p.note and "missing" in p.note
    # a larger sample pins the constant: the sd is within about 1.3% of scale x IQR / 1.349
    big = pd.DataFrame({"x": np.random.default_rng(1).lognormal(0, 1, 50_000)})
    added = apply_perturbation(Noise(scale=scale), big, 0).frame["x"].to_numpy() - big["x"].to_numpy()
    q75, q25 = np.percentile(big["x"], [75, 25])
    target = scale * (q75 - q25) / 1.349
    assert abs(added.std(ddof=1) / target - 1) <= 4 / math.sqrt(2 * (big.shape[0] - 1))


def test_noise_integers_spread_fallbacks_and_fraction() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    spiky = np.zeros(n)
    spiky[: n // 10] = rng.normal(5, 2, n // 10)  # 90% zeros: IQR 0, sd > 0
    frame = pd.DataFrame({"age": rng.integers(18, 80, n), "const": np.full(n, 3.0), "spiky": spiky})
    p = apply_perturbation(Noise(scale=0.5), frame, 1)
    assert p.frame["age"].dtype == np.int64
    assert (p.frame["const"] == 3.0).all() and "const: spread 0, untouched" in p.note
    assert "spiky: IQR 0" in p.note
    added = p.frame["spiky"].to_numpy() - spiky
    target = 0.5 * spiky.std(ddof=1)
    assert abs(added.std(ddof=1) - target) <= 4 * target / math.sqrt(2 * (n - 1))
    age_noise = p.frame["age"].to_numpy() - frame["age"].to_numpy()
    assert np.all(age_noise == np.round(age_noise))
    floats = apply_perturbation(Noise(columns=["age"], scale=0.5, keep_integers=False), frame, 1)
    assert floats.frame["age"].dtype == np.float64 and "became float64" in floats.note
    half = apply_perturbation(Noise(columns=["spiky"], fraction=0.25), frame, 2)
    assert binomial_ok(int(half.changed.sum()), n, 0.25)


def test_missing_fraction_dtypes_and_shared_rows(credit: pd.DataFrame) -> None:
    p = apply_perturbation(Missing(fraction=0.1), credit, 5)
    gone = {c: p.frame[c].isna().to_numpy() & ~credit[c].isna().to_numpy() for c in credit.columns}
    for c, m in gone.items():
        assert binomial_ok(int(m.sum()), N, 0.1), c
    selected = p.frame["loan_amount"].isna().to_numpy()  # loan_amount had no missing values
    assert binomial_ok(int(selected.sum()), N, 0.1)
    for c in credit.columns:  # one row selection shared by every column
        assert p.frame[c].isna().to_numpy()[selected].all()
    assert p.frame["age"].dtype == np.float64 and "age: int64 column became float64" in p.note
    assert p.frame["region"].dtype == credit["region"].dtype  # strings keep their dtype
    obj = pd.DataFrame({"s": pd.Series(["a", "b", "c", "d"], dtype=object),
                        "b": [True, False, True, False]})
    q = apply_perturbation(Missing(fraction=1.0), obj, 0)
    assert q.frame["s"].tolist() == [None] * 4
    assert str(q.frame["b"].dtype) == "boolean" and q.frame["b"].isna().all()


def test_swap_never_keeps_the_value_and_draws_by_frequency(credit: pd.DataFrame) -> None:
    p = apply_perturbation(Swap(columns=["region"], fraction=1.0), credit, 9)
    before, after = credit["region"].to_numpy(dtype=object), p.frame["region"].to_numpy(dtype=object)
    assert (before != after).all() and set(after) <= set(REGIONS)
    counts = credit["region"].value_counts()
    observed, expected = [], []
    for i in REGIONS:
        rows = before == i
        got = pd.Series(after[rows]).value_counts()
        others = [j for j in REGIONS if j != i]
        total = sum(counts[j] for j in others)
        for j in others:
            observed.append(got.get(j, 0))
            expected.append(rows.sum() * counts[j] / total)
    assert stats.chisquare(observed, expected, ddof=0).pvalue > 1e-3
    single = pd.DataFrame({"c": ["a"] * 10})
    q = apply_perturbation(Swap(fraction=1.0), single, 0)
    assert not q.changed.any() and "fewer than 2 distinct values" in q.note
    cats = pd.DataFrame({"c": pd.Categorical(["a", "b", "b", None])})
    r = apply_perturbation(Swap(fraction=1.0), cats, 0)
    assert r.frame["c"].tolist()[:3] == ["b", "a", "a"] and pd.isna(r.frame["c"].iloc[3])
    assert "1 selected value(s) missing" in r.note


def test_unseen(credit: pd.DataFrame) -> None:
    p = apply_perturbation(Unseen(columns=["channel"], fraction=0.2), credit, 4)
    hit = p.frame["channel"].to_numpy(dtype=object) == "__unseen__"
    assert binomial_ok(int(hit.sum()), N, 0.2)
    np.testing.assert_array_equal(p.changed, hit)
    with pytest.raises(SpecError, match="'web' already occurs in column 'channel'"):
        apply_perturbation(Unseen(columns=["channel"], value="web"), credit, 4)
    cats = pd.DataFrame({"c": pd.Categorical(["a", "b"]), "f": [True, False]})
    q = apply_perturbation(Unseen(fraction=1.0, value="zz"), cats, 0)
    assert q.frame["c"].dtype.name == "category" and list(q.frame["c"]) == ["zz", "zz"]
    assert q.frame["f"].tolist() == ["zz", "zz"] and "f: bool column became object" in q.note


def test_out_of_range_and_boundary(credit: pd.DataFrame) -> None:
    p = apply_perturbation(OutOfRange(columns=["loan_amount", "age"], beyond=0.5, fraction=0.3), credit, 2)
    for c in ("loan_amount", "age"):
        x = credit[c].to_numpy(dtype=float)
        lo, hi = x.min(), x.max()
        y = p.frame[c].to_numpy(dtype=float)
        moved = y != x
        assert binomial_ok(int(moved.sum()), N, 0.3)
        out = y[moved]
        assert np.all((out <= lo - 0.5 * (hi - lo)) | (out >= hi + 0.5 * (hi - lo)))
        assert binomial_ok(int((out > hi).sum()), int(moved.sum()), 0.5)
    assert p.frame["age"].dtype == np.int64
    high = apply_perturbation(OutOfRange(columns=["income"], side="high", bounds={"min": 0, "max": 1e6}),
                              credit, 2)
    y = high.frame["income"].to_numpy()
    x = credit["income"].to_numpy()
    moved = ~np.isnan(x) & (y != x)
    assert (y[moved] >= 1e6 + 0.5e6).all() and (y[moved] < 1e6 + 1e6).all()
    b = apply_perturbation(Boundary(columns=["age"], fraction=0.5), credit, 2)
    age = credit["age"].to_numpy()
    new = b.frame["age"].to_numpy()
    picked = new != age
    assert set(np.unique(new[picked])) <= {age.min(), age.max()}
    assert binomial_ok(int((new[picked] == age.max()).sum()), int(picked.sum()), 0.5)
    declared = apply_perturbation(
        Boundary(columns=["loan_amount"], fraction=1.0, bounds={"min": 100, "max": 5000}), credit, 2)
    assert set(np.unique(declared.frame["loan_amount"])) == {100.0, 5000.0}


def test_scale(credit: pd.DataFrame) -> None:
    p = apply_perturbation(Scale(columns=["income", "age"], factor=10), credit, 0)
    np.testing.assert_array_equal(p.frame["income"].to_numpy(), credit["income"].to_numpy() * 10)
    assert p.frame["age"].dtype == np.int64
    np.testing.assert_array_equal(p.frame["age"].to_numpy(), credit["age"].to_numpy() * 10)
    q = apply_perturbation(Scale(columns=["age"], factor=0.1), credit, 0)
    assert q.frame["age"].dtype == np.float64 and "non-integer values" in q.note
    np.testing.assert_allclose(q.frame["age"].to_numpy(), credit["age"].to_numpy() * 0.1)


def test_shuffle_keeps_values_and_moves_rows_together(credit: pd.DataFrame) -> None:
    p = apply_perturbation(Shuffle(columns=["loan_amount", "age"], fraction=0.2), credit, 8)
    for c in ("loan_amount", "age"):
        np.testing.assert_array_equal(np.sort(p.frame[c].to_numpy()), np.sort(credit[c].to_numpy()))
    moved = p.frame["loan_amount"].to_numpy() != credit["loan_amount"].to_numpy()
    assert binomial_ok(int(moved.sum()), N, 0.2)
    # values only move among the selected rows: the untouched rows' ages are their own
    age_moved = p.frame["age"].to_numpy() != credit["age"].to_numpy()
    assert not (age_moved & ~moved).any()
    pd.testing.assert_index_equal(p.frame.index, credit.index)


def test_reorder(credit: pd.DataFrame) -> None:
    p = apply_perturbation(Reorder(columns=["income", "age", "notes"]), credit, 1)
    cols = list(p.frame.columns)
    assert cols != list(credit.columns) and sorted(cols) == sorted(credit.columns)
    keep = [i for i, c in enumerate(credit.columns) if c not in ("income", "age", "notes")]
    assert [cols[i] for i in keep] == [credit.columns[i] for i in keep]
    pd.testing.assert_frame_equal(p.frame[list(credit.columns)], credit)
    moved = [c for c, d in zip(cols, credit.columns, strict=True) if c != d]
    assert p.changed.all() and sorted(p.columns) == sorted(moved)
    one = apply_perturbation(Reorder(columns=["age"]), credit, 1)
    assert not one.changed.any() and "order unchanged" in one.note


def test_shift_reweight(credit: pd.DataFrame) -> None:
    cohort = (credit["channel"] == "broker").to_numpy()
    p = apply_perturbation(Shift(where="channel = 'broker'", factor=3), credit, 0)
    w = p.weights
    assert w is not None and p.rows is None and not p.changed.any()
    assert w.mean() == pytest.approx(1.0, abs=1e-12)
    assert np.ptp(w[cohort]) == 0 and np.ptp(w[~cohort]) == 0
    assert w[cohort][0] / w[~cohort][0] == pytest.approx(3.0, rel=1e-12)
    pd.testing.assert_frame_equal(p.frame, credit)
    s = apply_perturbation(Shift(where="channel = 'broker' AND age < 40", share=0.5), credit, 0)
    mask = cohort & (credit["age"] < 40).to_numpy()
    assert s.weights[mask].sum() / s.weights.sum() == pytest.approx(0.5, rel=1e-12)
    # NULL in the condition counts as outside the cohort
    nulls = apply_perturbation(Shift(where="income > 40000", factor=2), credit, 0)
    inside = (credit["income"] > 40000).to_numpy()
    assert (nulls.weights[inside] > nulls.weights[~inside][0]).all()


def test_shift_resample(credit: pd.DataFrame) -> None:
    cohort = (credit["channel"] == "broker").to_numpy()
    p = apply_perturbation(Shift(where="channel = 'broker'", mode="resample", share=0.5), credit, 0)
    assert p.rows is not None and len(p.rows) == N and np.all(np.diff(p.rows) >= 0)
    assert binomial_ok(int(cohort[p.rows].sum()), N, 0.5)
    m = cohort.sum()
    f = apply_perturbation(Shift(where="channel = 'broker'", mode="resample", factor=4, n=3000), credit, 1)
    expected = 4 * m / (4 * m + N - m)
    assert len(f.frame) == 3000 and binomial_ok(int(cohort[f.rows].sum()), 3000, expected)
    with pytest.raises(InputError, match="channel = 'nobody'.*selects no rows"):
        apply_perturbation(Shift(where="channel = 'nobody'", factor=2), credit, 0)
    with pytest.raises(SpecError, match=r"stress.perturbations\[3\].*failed in DuckDB"):
        apply_perturbation(Shift(where="chanel = 'web'", factor=2), credit, 0,
                           where="stress.perturbations[3]")
    with pytest.raises(InputError, match="is every row"):
        apply_perturbation(Shift(where="age > 0", share=0.5), credit, 0)


def test_typos_change_the_intended_share_of_words() -> None:
    rng = np.random.default_rng(3)
    texts = [" ".join(rng.choice(WORDS[:-1] + ["Customer"], 20)) for _ in range(1500)]  # no 1-letter words
    texts = [t.replace(" a ", " an ") for t in texts]
    frame = pd.DataFrame({"notes": texts + [None]})
    p = apply_perturbation(Typos(rate=0.1), frame, 4)
    assert pd.isna(p.frame["notes"].iloc[-1])
    changed_words = total = 0
    for old, new in zip(texts, p.frame["notes"].tolist()[:-1], strict=True):
        a, b = old.split(" "), new.split(" ")
        assert len(a) == len(b)  # whitespace untouched, words stay aligned
        for x, y in zip(a, b, strict=True):
            total += 1
            if x != y:
                changed_words += 1
                assert _one_typo(x, y), (x, y)
    assert binomial_ok(changed_words, total, 0.1)


def _one_typo(x: str, y: str) -> bool:
    """y is x with one adjacent swap, deletion, doubling or substitution."""
    if len(y) == len(x) - 1:
        return any(x[:i] + x[i + 1:] == y for i in range(len(x)))
    if len(y) == len(x) + 1:
        return any(x[:i + 1] + x[i] + x[i + 1:] == y for i in range(len(x)))
    diff = [i for i in range(len(x)) if x[i] != y[i]]
    if len(diff) == 1:
        return True
    return len(diff) == 2 and diff[1] == diff[0] + 1 and x[diff[0]] == y[diff[1]] and x[diff[1]] == y[diff[0]]


def test_case_whitespace_and_char_noise(credit: pd.DataFrame) -> None:
    notes = credit["notes"]
    present = notes.notna().to_numpy()
    for mode, fn in (("upper", str.upper), ("lower", str.lower), ("title", str.title)):
        p = apply_perturbation(CaseChange(mode=mode), credit, 0)
        assert p.frame["notes"][present].tolist() == [fn(t) for t in notes[present]]
        assert p.frame["notes"].isna().sum() == notes.isna().sum()
    r = apply_perturbation(CaseChange(mode="random"), credit, 0)
    assert [t.lower() for t in r.frame["notes"][present]] == [t.lower() for t in notes[present]]
    w = apply_perturbation(Whitespace(rate=0.2), credit, 0)
    new = w.frame["notes"][present].tolist()
    old = notes[present].tolist()
    assert [t.split() for t in new] == [t.split() for t in old]
    extra = sum(len(b) - len(a) for a, b in zip(old, new, strict=True))
    spaces = sum(t.count(" ") for t in old)
    # extra characters: one per hit space (rate 0.2) plus leading and trailing spaces
    expected = 0.2 * spaces + 2 * 0.2 * len(old)
    assert abs(extra - expected) <= 4 * math.sqrt(0.2 * 0.8 * (spaces + 2 * len(old)))
    assert set("".join(new)) - set("".join(old)) <= {"\t", "\n"}
    length = 50
    a_frame = pd.DataFrame({"t": ["a" * length] * 2000})
    c = apply_perturbation(CharNoise(rate=0.06, columns=["t"]), a_frame, 0)
    out = c.frame["t"].tolist()
    cells = 2000 * length
    others = sum(len(t) - t.count("a") for t in out)  # replacements, and insertions other than 'a'
    expected = cells * 0.06 * (1 / 3 + (1 / 3) * 61 / 62)
    assert abs(others - expected) <= 4 * math.sqrt(expected)
    mean_len = np.mean([len(t) for t in out])
    assert abs(mean_len - length) <= 4 * math.sqrt(length * 0.06 * 2 / 3 / 2000)


def test_seed_streams_are_per_column(credit: pd.DataFrame) -> None:
    one = apply_perturbation(Noise(columns=["income"]), credit, (3, 99))
    two = apply_perturbation(Noise(columns=["income", "loan_amount"]), credit, (3, 99))
    pd.testing.assert_series_equal(one.frame["income"], two.frame["income"])
    other = apply_perturbation(Noise(columns=["income"]), credit, (3, 98))
    assert not one.frame["income"].equals(other.frame["income"])
    for bad in (-1, [], [1, -2], "7", 1.5):
        with pytest.raises(InputError, match="seed"):
            apply_perturbation(Noise(), credit, bad)  # type: ignore[arg-type]


def test_wrong_columns_are_spec_errors(credit: pd.DataFrame) -> None:
    where = "stress.perturbations[2]"
    with pytest.raises(SpecError, match=r"stress.perturbations\[2\].*'incme' is not in the data.*'income'"):
        apply_perturbation(Noise(columns=["incme"]), credit, 0, where=where)
    with pytest.raises(SpecError, match=r"perturbations\[2\].*'region' is categorical \(str\); noise needs a "
                                         r"numeric column.*Remove 'region'.*swap"):
        apply_perturbation(Noise(columns=["region"]), credit, 0, where=where)
    with pytest.raises(SpecError, match=r"'age' is numeric \(int64\); typos needs a text or categorical"):
        apply_perturbation(Typos(columns=["age"]), credit, 0, where=where)
    with pytest.raises(SpecError, match="no text column in the data for case"):
        apply_perturbation(CaseChange(), credit.drop(columns="notes"), 0)
    with pytest.raises(SpecError, match="no categorical column"):
        apply_perturbation(Swap(types=["categorical"]), credit[["income"]], 0)
    dup = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(InputError, match="duplicated column names"):
        apply_perturbation(Noise(), dup, 0)


def test_spec_parsing_and_labels() -> None:
    parse = TypeAdapter(list[Perturbation]).validate_python
    specs = parse([{"kind": "noise", "columns": ["income", "loan_amount"], "scale": 0.1},
                   {"kind": "missing", "types": ["numeric"]},
                   {"kind": "shift", "where": "channel = 'broker'", "mode": "resample", "share": 0.5},
                   {"kind": "typos", "name": "typos in notes", "rate": 0.1}])
    assert [perturbation_label(s) for s in specs] == [
        "noise(income, loan_amount) x0.1", "missing(numeric), 10% of rows",
        "shift(channel = 'broker') resample share 0.5", "typos in notes"]
    assert Scale(factor=10).label != Scale(factor=0.1).label
    assert Noise(fraction=0.5).label == "noise(numeric) x0.1, 50% of rows"
    assert set(PERTURBATIONS) == {"noise", "missing", "swap", "unseen", "out_of_range", "boundary", "scale",
                                  "shuffle", "reorder", "shift", "typos", "case", "whitespace", "char_noise"}
    for s in specs:  # a dumped spec parses back to itself
        assert parse([s.model_dump()])[0] == s
    bad = [{"kind": "noise", "columns": ["a"], "types": ["numeric"]},
           {"kind": "noise", "types": ["text"]},
           {"kind": "noise", "fraction": 0},
           {"kind": "shift", "where": "x", "factor": 2, "share": 0.3},
           {"kind": "shift", "where": "x", "factor": 2, "columns": ["a"]},
           {"kind": "reorder", "fraction": 0.5},
           {"kind": "scale", "factor": 1},
           {"kind": "out_of_range", "bounds": {"min": 5, "max": 1}},
           {"kind": "swap", "columns": ["a", "a"]},
           {"kind": "noise", "sclae": 0.1},
           {"kind": "nosie"}]
    for b in bad:
        with pytest.raises(ValidationError):
            parse([b])
