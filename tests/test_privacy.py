"""Example rows under the spec's privacy rules: hidden columns and ids appear in no artifact
(run folder, report, summary, model card, run store); hashed columns appear only hashed."""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import write_spec, write_table

import assay
from assay._errors import InputError, SpecError


def _frames(n: int = 300) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(11)
    ids = [f"cust-{rng.integers(10**9, 10**10)}" for _ in range(n)]
    y = rng.integers(0, 2, n)
    data = pd.DataFrame({
        "customer": ids, "y": y,
        "email": [f"person{i}.{rng.integers(10**6)}@mail.example" for i in range(n)],
        "ssn": [f"{rng.integers(100, 999)}-{rng.integers(10, 99)}-{rng.integers(1000, 9999)}"
                for _ in range(n)],
        "account": [f"ACC{rng.integers(10**7, 10**8)}" for _ in range(n)],
        "region": rng.choice(["north", "south"], n),
        "label_note": [None if i % 50 else "x" for i in range(n)],
    })
    data.loc[::40, "y"] = None  # some rows without a label: excluded-row examples
    p = np.clip(0.3 + 0.4 * y + rng.normal(scale=0.3, size=n), 0, 1).round(5)
    preds = pd.DataFrame({"customer": ids, "p": p})
    preds.loc[::37, "p"] = np.nan  # missing scores: more excluded examples
    return data, preds


def _spec(**privacy) -> dict:
    return {"name": "privacy", "task": "binary", "data": {"path": "data.parquet"}, "id": "customer",
            "label": "y", "models": [{"name": "m", "path": "preds.parquet", "score": "p"}],
            "slices": [{"column": "region"}], "bootstrap": 200, "min_slice_size": 5,
            "privacy": privacy}


def _artifacts_text(root: Path, db: Path) -> str:
    """Everything written: run folder files (text and Parquet), the store's SQL dump, the card."""
    parts = []
    for f in sorted(root.rglob("*")):
        if f.is_file() and f != db and f.suffix != ".db-wal" and not f.name.startswith("runs.db"):
            if f.suffix == ".parquet" and f.parent.name == "out":
                parts.append(pd.read_parquet(f).to_csv())
            elif f.suffix in (".json", ".md", ".html", ".yaml", ".txt"):
                parts.append(f.read_text(encoding="utf-8", errors="replace"))
    con = sqlite3.connect(db)
    parts.extend(con.iterdump())
    return "\n".join(parts)


def test_hidden_and_id_columns_appear_in_no_artifact(tmp_path: Path, cli, monkeypatch) -> None:
    monkeypatch.setenv("ASSAY_HASH_KEY", "k")  # the in-process run below hashes as the CLI run
    data, preds = _frames()
    write_table(tmp_path / "data.parquet", data)
    write_table(tmp_path / "preds.parquet", preds)
    write_spec(tmp_path / "spec.yaml", _spec(hide=["email", "ssn"], hash=["account"], examples=20))
    db = tmp_path / "runs.db"
    out = tmp_path / "out"
    assert cli("evaluate", tmp_path / "spec.yaml", "--store", db, "-o", out, "--report-only").code == 0
    assert cli("card", "latest", "--store", db, "-o", tmp_path / "card.md").code == 0
    result = assay.evaluate(tmp_path / "spec.yaml")
    errors = [e for e in result.examples if e["section"] == "errors"]
    excluded = [e for e in result.examples if e["section"] == "excluded"]
    assert len(errors) == 20 and {e["reason"] for e in excluded} == {"missing label",
                                                                    "missing or NaN score"}
    assert all(set(e["values"]) == {"account", "region", "label_note"} for e in result.examples)
    assert (out / "report.html").is_file()

    text = _artifacts_text(tmp_path, db)
    # the examples did reach the artifacts (hashed accounts, row numbers), so the check is real
    shown = {e["values"]["account"] for e in result.examples}
    assert all(v.startswith("#") for v in shown)
    assert all(v in text for v in shown)
    for col in ("email", "ssn", "customer"):
        leaked = [v for v in data[col] if v in text]
        assert not leaked, f"{col} values leaked: {leaked[:3]}"
    raw_accounts = [v for v in data["account"] if v in text]
    assert not raw_accounts


def test_hash_is_keyed_and_stable_under_a_given_key(tmp_path: Path, monkeypatch) -> None:
    data, preds = _frames()
    write_table(tmp_path / "data.parquet", data)
    write_table(tmp_path / "preds.parquet", preds)
    write_spec(tmp_path / "spec.yaml", _spec(hash=["account"], examples=3))
    monkeypatch.setenv("ASSAY_HASH_KEY", "team-secret")
    a = assay.evaluate(tmp_path / "spec.yaml").examples
    b = assay.evaluate(tmp_path / "spec.yaml").examples
    assert a == b  # same key, same examples, same hashes
    row = a[0]["row"]
    raw = data["account"].iloc[row - 1]
    expect = "#" + hmac.new(b"team-secret", raw.encode(), hashlib.sha256).hexdigest()[:12]
    assert a[0]["values"]["account"] == expect
    assert data["customer"].iloc[row - 1] not in str(a)  # id hidden by default
    monkeypatch.delenv("ASSAY_HASH_KEY")
    c = assay.evaluate(tmp_path / "spec.yaml").examples
    assert c[0]["values"]["account"] != expect  # without a key: a fresh key per run


def test_examples_are_the_largest_errors_in_row_order(tmp_path: Path) -> None:
    data, preds = _frames()
    write_table(tmp_path / "data.parquet", data)
    write_table(tmp_path / "preds.parquet", preds)
    write_spec(tmp_path / "spec.yaml", _spec(show_id=True, examples=5))
    ex = [e for e in assay.evaluate(tmp_path / "spec.yaml").examples if e["section"] == "errors"]
    merged = data.merge(preds, on="customer")
    ok = merged.dropna(subset=["y", "p"])
    err = (ok.p - ok.y).abs()
    top = err.sort_values(ascending=False, kind="stable").head(5)
    assert [e["values"]["customer"] for e in ex] == list(ok.loc[top.index, "customer"])
    assert [float(e["prediction"]) for e in ex] == pytest.approx(list(ok.loc[top.index, "p"]), abs=1e-4)
    assert [e["row"] for e in ex] == [int(i) + 1 for i in top.index]


def test_slicing_on_a_hidden_column_is_refused(tmp_path: Path) -> None:
    spec = _spec(hide=["email"])
    spec["slices"] = [{"column": "email"}]
    write_spec(tmp_path / "spec.yaml", spec)
    with pytest.raises(SpecError, match="privacy.hide"):
        assay.evaluate(tmp_path / "spec.yaml")
    bad = _spec(hide=["ssn"], hash=["ssn"])
    with pytest.raises(SpecError, match="both 'hide' and 'hash'"):
        assay.evaluate(bad)


def test_a_misspelt_private_column_is_an_error_naming_it(tmp_path: Path) -> None:
    data, preds = _frames()
    write_table(tmp_path / "data.parquet", data)
    write_table(tmp_path / "preds.parquet", preds)
    write_spec(tmp_path / "spec.yaml", _spec(hide=["emial"], examples=0))
    with pytest.raises(InputError, match=r"privacy.hide: no column 'emial' \(did you mean 'email'\?\)"):
        assay.evaluate(tmp_path / "spec.yaml")
