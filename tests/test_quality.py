"""Data-quality checks (assay.quality), each against an independent pandas computation:
null rates, ranges, unseen categories, duplicates (``DataFrame.duplicated``), the label
distribution, freshness at a fixed ``as_of``, train/eval leakage (``pandas.merge``), schema
drift against a data card in a SQLite run store; ``assay check`` exit codes; the section
in ``assay evaluate``'s report and summary; the quality gate; the shipped example; and
published counts of real data (UCI Adult).
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from conftest import write_spec, write_table

import assay
from assay._errors import InputError, SpecError
from assay.quality import QUALITY_COLUMNS, check_dataset
from assay.quality import _hashes as hashes_mod
from assay.quality._schema import compare, widened
from assay.quality._table import without_clock
from assay.spec import parse_spec
from assay.store import open_store

AS_OF = datetime(2026, 2, 10, tzinfo=UTC)
ADULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "adult" / "adult.csv"


# ---------------------------------------------------------------------------- data


def messy(n: int = 600, seed: int = 3) -> pd.DataFrame:
    """Seeded data with every kind of defect the checks look for, at known rows."""
    rng = np.random.default_rng(seed)
    d = pd.DataFrame({
        "id": np.arange(n, dtype=np.int64),
        "y": rng.integers(0, 2, n),
        "p": np.round(rng.uniform(size=n), 4),
        "age": rng.integers(18, 95, n).astype(float),
        "region": rng.choice(["n", "s", "e", "w"], n).astype(object),
        "income": rng.normal(50, 10, n),
        "ts": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 30, n), unit="D"),
    })
    d.loc[[5, 6], "age"] = [np.nan, -np.inf]        # NaN is missing, -inf is out of range
    d.loc[7, "age"] = -3
    d.loc[10:60, "income"] = np.nan                  # 51 missing: above the 5% warn
    d.loc[[3, 4, 9], "region"] = ["XX", "XX", "zz"]  # unseen categories
    d.loc[11, "region"] = None
    d.loc[20, "id"] = 21                             # a repeated id
    d.loc[30, ["y", "p", "age", "region", "income", "ts"]] = d.loc[31, ["y", "p", "age", "region",
                                                                          "income", "ts"]].to_numpy()
    d.loc[[40, 41], ["age", "income"]] = np.nan      # NaN rows repeat too (as in pandas)
    d.loc[[40, 41], ["y", "p", "region", "ts"]] = d.loc[40, ["y", "p", "region", "ts"]].to_numpy()
    d.loc[50, "ts"] = pd.Timestamp("2027-01-01")     # in the future
    return d


def spec_for(quality: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    spec = {"name": "q", "task": "binary", "data": {"path": "data.parquet"}, "id": "id", "label": "y",
            "models": [{"name": "m", "score": "p"}], "bootstrap": 100,
            "privacy": {"show_id": True}, "quality": {"as_of": AS_OF.isoformat(), **(quality or {})}}
    spec.update(kw)
    return spec


def table_of(df: pd.DataFrame, tmp: Path, quality: dict[str, Any] | None = None, *,
             name: str = "data.parquet", **kw: Any) -> pd.DataFrame:
    write_table(tmp / name, df)
    spec = parse_spec(spec_for(quality, data={"path": name}, **kw))
    return check_dataset(spec, tmp).table


def row(table: pd.DataFrame, check: str, column: str = "", level: str = "") -> pd.Series:
    hit = table[(table.check == check) & (table.column == column) & (table.level == level)]
    assert len(hit) == 1, (check, column, level, table[["check", "column", "level"]])
    return hit.iloc[0]


# ---------------------------------------------------------------------------- per check


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl", "sql", "memory"])
def test_null_rates_match_pandas_on_every_source(tmp_path: Path, fmt: str) -> None:
    df = messy()
    ref = df.isna().sum()  # NaN and None alike
    cfg = {"nulls": {"columns": {"age": {"warn": 0.0, "fail": 0.001}}}}
    if fmt == "memory":
        spec = parse_spec(spec_for(cfg, data=None))
        table = check_dataset(spec, tmp_path, data=pa.Table.from_pandas(df, preserve_index=False)).table
    elif fmt == "sql":
        write_table(tmp_path / "data.parquet", df)
        spec = parse_spec(spec_for(cfg, data={"sql": "SELECT * FROM read_parquet('data.parquet')"}))
        table = check_dataset(spec, tmp_path).table
    elif fmt == "jsonl":
        df.to_json(tmp_path / "data.jsonl", orient="records", lines=True, date_format="iso")
        table = check_dataset(parse_spec(spec_for(cfg, data={"path": "data.jsonl"})), tmp_path).table
        ref = pd.read_json(tmp_path / "data.jsonl", lines=True).isna().sum()  # JSON writes -inf as null
    else:
        table = table_of(df, tmp_path, cfg, name=f"data.{fmt}")
    assert list(table.columns) == QUALITY_COLUMNS
    for col in df.columns:
        r = row(table, "nulls", col)
        assert r["count"] == ref[col], col
        assert r["n"] == len(df)
        assert r["value"] == pytest.approx(ref[col] / len(df), abs=1e-15)
    assert row(table, "nulls", "income").status == "warn"      # 51 / 600 > 5%
    assert row(table, "nulls", "age").status == "fail"         # 2 / 600 > the 0.1% override
    assert row(table, "nulls", "y").status == "pass"
    # the examples are the first missing rows, in data order (ids shown: privacy.show_id)
    assert row(table, "nulls", "income").examples.startswith("id 10; id 11; id 12")


def test_ranges_count_like_pandas_with_nan_and_inf(tmp_path: Path) -> None:
    df = messy()
    table = table_of(df, tmp_path, {"ranges": {"age": {"min": 18, "max": 80}, "income": {"min": 0},
                                               "ts": {"max": "2026-06-30"}}})
    age = df.age
    bad = age.notna() & ((age < 18) | (age > 80))  # NaN compares false, so it is not counted
    r = row(table, "ranges", "age")
    assert (r["count"], r["n"]) == (bad.sum(), age.notna().sum())
    assert r["status"] == "fail" and r["value"] == pytest.approx(bad.mean() * len(df) / age.notna().sum())
    first = df.id[bad].head(5).tolist()
    assert r["examples"].split("; ")[0] == f"id {first[0]}: {df.age[bad].iloc[0]}"
    assert [int(x.split(":")[0].removeprefix("id ")) for x in r["examples"].split("; ")] == first
    assert "-inf" in r["message"]  # the observed minimum
    assert row(table, "ranges", "income").status == "pass"
    ts = row(table, "ranges", "ts")
    assert ts["count"] == (df.ts > pd.Timestamp("2026-06-30")).sum() == 1


def test_range_bounds_must_fit_the_column_type(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"quality.ranges.region: column 'region' is VARCHAR"):
        table_of(messy(), tmp_path, {"ranges": {"region": {"min": 0}}})
    with pytest.raises(SpecError, match=r"quality.ranges.ts.min: '2026-13-01' is not a TIMESTAMP"):
        table_of(messy(), tmp_path, {"ranges": {"ts": {"min": "2026-13-01"}}})


def test_unseen_categories_match_pandas(tmp_path: Path) -> None:
    df = messy()
    allowed = ["n", "s", "e", "w"]
    table = table_of(df, tmp_path, {"categories": {"region": allowed, "y": {"values": [0, 1]}}})
    unseen = df.region.notna() & ~df.region.isin(allowed)
    r = row(table, "categories", "region")
    assert (r["count"], r["n"]) == (unseen.sum(), df.region.notna().sum())
    counts = df.region[unseen].value_counts()
    assert r["examples"] == "; ".join(f"{v!r} ×{c}" for v, c in counts.items())
    assert f"({len(counts)} unseen value(s))" in r["message"] and r["status"] == "fail"
    assert row(table, "categories", "y").status == "pass"  # integers compare as text: 0, 1
    warn_only = table_of(df, tmp_path, {"categories": {"region": {"values": allowed, "fail": 0.5}}})
    assert row(warn_only, "categories", "region").status == "warn"


def test_duplicates_match_pandas_duplicated(tmp_path: Path) -> None:
    df = messy()
    table = table_of(df, tmp_path)
    ids = row(table, "duplicate_ids", "id")
    assert ids["count"] == df.id.duplicated().sum() == 1
    assert ids["status"] == "fail" and ids["examples"] == "rows 21, 22 (id 21)"
    rows = row(table, "duplicate_rows")
    expected = df.drop(columns="id").duplicated().sum()  # NaN equals NaN here, as in pandas
    assert rows["count"] == expected == 2
    assert rows["status"] == "warn" and rows["n"] == len(df)
    assert rows["examples"] == "rows 31, 32 (ids 30, 31); rows 41, 42 (ids 40, 41)"
    # a subset of columns, and the thresholds
    sub = table_of(df, tmp_path, {"duplicates": {"columns": ["region"], "rows_warn": 0.5,
                                                 "rows_fail": 0.9, "ids": "warn"}})
    assert row(sub, "duplicate_rows")["count"] == df.region.duplicated().sum()
    assert row(sub, "duplicate_rows")["status"] == "fail"
    assert row(sub, "duplicate_ids", "id")["status"] == "warn"


def test_hash_candidates_are_confirmed_on_the_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Counts stay exact when the hash step proposes rows that are not repeats (as a hash
    collision would): every hash value is made a candidate."""
    df = messy()
    monkeypatch.setattr(hashes_mod, "_repeated", lambda h: np.unique(h))
    table = table_of(df, tmp_path)
    assert row(table, "duplicate_rows")["count"] == df.drop(columns="id").duplicated().sum()
    assert row(table, "duplicate_ids", "id")["count"] == df.id.duplicated().sum()


def test_label_distribution_matches_value_counts(tmp_path: Path) -> None:
    df = messy()
    df.loc[[1, 2], "y"] = None  # pandas makes y float with NaN: missing labels
    table = table_of(df, tmp_path)
    ref = df.y.value_counts()
    labelled = int(df.y.notna().sum())
    for value, count in ref.items():
        r = row(table, "labels", "y", str(value))  # DuckDB's text of 0.0 and 1.0
        assert (r["count"], r["n"], r["status"]) == (count, labelled, "pass")
        assert r["value"] == pytest.approx(count / labelled)
    missing = row(table, "labels", "y", "(missing)")
    assert (missing["count"], missing["n"]) == (2, len(df))


def test_label_single_class_rare_class_and_declared_classes(tmp_path: Path) -> None:
    df = messy()
    one = df.assign(y=0)
    t = table_of(one, tmp_path)
    assert row(t, "labels", "y")["status"] == "fail" and "only one class" in row(t, "labels", "y")["message"]
    rare = df.assign(y=np.where(np.arange(len(df)) < 3, 1, 0))
    t = table_of(rare, tmp_path, {"labels": {"min_class_share": 0.01}})
    r = row(t, "labels", "y", "1")
    assert r["status"] == "warn" and r["count"] == 3 and "below min_class_share 1%" in r["message"]
    multi = df.assign(y=np.where(df.y == 1, "b", "a"))
    t = table_of(multi, tmp_path, task="multiclass", classes=["a", "b", "c"],
                 models=[{"name": "m", "scores": {"a": "p", "b": "p", "c": "p"}}])
    c = row(t, "labels", "y", "c")
    assert c["count"] == 0 and c["status"] == "warn" and "declared class with no rows" in c["message"]
    three = df.assign(y=np.arange(len(df)) % 3)
    t = table_of(three, tmp_path)
    assert row(t, "labels", "y")["status"] == "fail"  # a binary label with three values


def test_regression_label_range_and_infinities(tmp_path: Path) -> None:
    df = messy().assign(y=lambda d: d.income.fillna(0.0))
    kw = {"task": "regression", "models": [{"name": "m", "prediction": "p"}]}
    r = row(table_of(df, tmp_path, **kw), "labels", "y")
    assert r["status"] == "pass" and r["n"] == len(df)
    assert f"min {df.y.min():.6g}, max {df.y.max():.6g}" in r["message"]
    df.loc[[1, 2], "y"] = [np.inf, -np.inf]
    r = row(table_of(df, tmp_path, **kw), "labels", "y")
    assert r["status"] == "fail" and r["count"] == 2 and "2 infinite label(s)" in r["message"]


@pytest.mark.parametrize("kind", ["timestamp", "date", "tz", "text"])
def test_freshness_at_a_fixed_as_of(tmp_path: Path, kind: str) -> None:
    df = messy()
    ts = df.ts
    if kind == "date":
        df["ts"] = ts.dt.date
    elif kind == "tz":
        df["ts"] = ts.dt.tz_localize("Europe/Berlin")  # aware: compared in UTC
    elif kind == "text":
        df["ts"] = ts.dt.strftime("%Y-%m-%dT%H:%M:%S") + "+01:00"
    table = table_of(df, tmp_path, {"freshness": {"column": "ts", "max_age": "10d"}})
    as_utc = ts.dt.tz_localize("Europe/Berlin").dt.tz_convert("UTC") if kind in ("tz", "text") else \
        ts.dt.tz_localize("UTC")
    now = pd.Timestamp(AS_OF)
    newest = as_utc[as_utc <= now].max()
    r = row(table, "freshness", "ts")
    assert r["value"] == pytest.approx((now - newest) / pd.Timedelta(days=1), abs=1e-9)
    assert r["status"] == ("fail" if now - newest > pd.Timedelta(days=10) else "pass")
    assert r["count"] == (as_utc < now - pd.Timedelta(days=10)).sum()
    future = row(table, "future_timestamps", "ts")
    assert future["count"] == (as_utc > now).sum() == 1
    assert future["status"] == "warn" and future["examples"].startswith("id 50: 202")


def test_freshness_boundary_and_as_of_from_the_caller(tmp_path: Path) -> None:
    df = pd.DataFrame({"id": [1, 2], "y": [0, 1], "p": [0.2, 0.8],
                       "ts": pd.to_datetime(["2026-01-01", "2026-01-31"])})
    write_table(tmp_path / "data.parquet", df)
    spec = parse_spec(spec_for({"freshness": {"column": "ts", "max_age": "10d", "future": "fail"}}))
    exact = check_dataset(spec, tmp_path, as_of=datetime(2026, 2, 10)).table  # naive: UTC
    assert row(exact, "freshness", "ts")["status"] == "pass"  # exactly max_age old
    late = check_dataset(spec, tmp_path, as_of=datetime(2026, 2, 10, 0, 0, 1, tzinfo=UTC))
    assert row(late.table, "freshness", "ts")["status"] == "fail" and late.exit_code == 1
    early = check_dataset(spec, tmp_path, as_of=datetime(2026, 1, 15, tzinfo=UTC)).table
    assert row(early, "future_timestamps", "ts")["status"] == "fail"  # future: fail
    assert row(early, "freshness", "ts")["value"] == pytest.approx(14.0)
    with pytest.raises(SpecError, match="max_age '7 days' is not an age"):
        parse_spec(spec_for({"freshness": {"column": "ts", "max_age": "7 days"}}))


def test_leakage_matches_a_pandas_merge(tmp_path: Path) -> None:
    df = messy()
    train = df.iloc[100:160].copy()
    train["id"] += 10_000                       # other ids: only the values leak
    train.loc[train.index[:5], "id"] = df.id.iloc[200:205].to_numpy()  # ... and five ids
    train["age"] = train.age.astype("float32")  # another type: compared as numbers
    train = pd.concat([train, df.iloc[100:103]])  # repeats in train count once
    (tmp_path / "sub").mkdir()
    write_table(tmp_path / "sub" / "train.csv", train)
    table = table_of(df, tmp_path, {"leakage": {"train": "sub/train.csv"}})
    cols = ["age", "region", "income", "ts"]  # shared, but not id, label or the model's score
    back = pd.read_csv(tmp_path / "sub" / "train.csv", parse_dates=["ts"])
    merged = df.merge(back[cols].drop_duplicates(), on=cols, how="left", indicator=True)
    expected = int((merged["_merge"] == "both").sum())
    r = row(table, "leakage_rows")
    assert r["count"] == expected and expected >= 60
    assert r["status"] == "fail" and "on 4 column(s) (age, region, income, ts;" in r["message"]
    ids = row(table, "leakage_ids", "id")
    assert ids["count"] == df.id.isin(back.id).sum() == 8  # five ids, and the three repeated rows
    loose = table_of(df, tmp_path, {"leakage": {"train": "sub/train.csv", "max_share": 1.0,
                                                "columns": ["region"]}})
    assert row(loose, "leakage_rows")["status"] == "pass"
    assert row(loose, "leakage_rows")["count"] == df.region.isin(back.region).sum()
    with pytest.raises(InputError, match="file not found"):
        table_of(df, tmp_path, {"leakage": {"train": "nope.parquet"}})


def test_schema_against_the_stored_data_card(tmp_path: Path) -> None:
    df = messy().drop(columns="ts")
    df["id"] = np.arange(len(df))
    store = open_store(tmp_path / "runs.db")
    write_table(tmp_path / "data.parquet", df)
    raw = spec_for(data={"path": "data.parquet", "name": "loans"})
    spec = parse_spec(raw)
    spec_path = write_spec(tmp_path / "spec.yaml", raw)
    assert row(check_dataset(spec, tmp_path, store=store).table, "schema")["status"] == "skipped"
    assay.evaluate(spec_path, store=store)  # records data card version 1
    same = row(check_dataset(spec, tmp_path, store=store).table, "schema")
    assert same["status"] == "skipped" and "no earlier data card named 'loans'" in same["message"]
    changed = df.drop(columns="income").assign(extra=1.0, region=df.index % 3)  # VARCHAR -> BIGINT
    write_table(tmp_path / "data.parquet", changed)
    r = row(check_dataset(spec, tmp_path, store=store).table, "schema")
    assert r["status"] == "fail" and r["count"] == 3 and r["n"] == len(df.columns)
    assert r["examples"] == "missing income (DOUBLE); region: VARCHAR -> BIGINT (changed); new extra (DOUBLE)"
    assert "data card 'loans' version 1 (fingerprint" in r["message"]
    widen = df.assign(id=df.id.astype("int32"))  # stored BIGINT -> INTEGER would be narrowing
    write_table(tmp_path / "data.parquet", widen)
    assert row(check_dataset(spec, tmp_path, store=store).table, "schema")["status"] == "fail"
    grown = df.assign(extra=1)
    write_table(tmp_path / "data.parquet", grown)
    first = row(check_dataset(spec, tmp_path, store=store).table, "schema")
    assert first["status"] == "warn" and first["examples"] == "new extra (BIGINT)"
    assay.evaluate(spec_path, store=store)  # version 2; the same data is still compared with version 1
    again = row(check_dataset(spec, tmp_path, store=store).table, "schema")
    assert (again["status"], again["examples"]) == ("warn", "new extra (BIGINT)")
    assert "version 1" in again["message"]
    store.close()


def test_explicit_schema_types_and_widening() -> None:
    assert compare({"a": "INTEGER"}, {"a": "BIGINT"}) == ("warn", ["a: INTEGER -> BIGINT (widened)"])
    assert compare({"a": "BIGINT"}, {"a": "INTEGER"})[0] == "fail"
    assert widened("FLOAT", "DOUBLE") and widened("SMALLINT", "FLOAT") and widened("DATE", "TIMESTAMP")
    assert widened("DECIMAL(10,2)", "DECIMAL(12,3)") and not widened("DECIMAL(10,2)", "DECIMAL(10,3)")
    assert not widened("BIGINT", "DOUBLE") and not widened("DOUBLE", "FLOAT")
    assert widened("UINTEGER", "BIGINT") and not widened("UBIGINT", "BIGINT")


def test_explicit_schema_in_the_spec(tmp_path: Path) -> None:
    df = messy()
    schema = {"id": "bigint", "y": "tinyint", "p": "float8", "age": "DOUBLE", "region": "string",
              "income": "DOUBLE", "ts": "TIMESTAMP_MS"}
    t = table_of(df, tmp_path, {"schema": schema})
    r = row(t, "schema")
    assert r["status"] == "warn", r["message"]
    assert r["examples"] == "y: TINYINT -> BIGINT (widened); ts: TIMESTAMP_MS -> TIMESTAMP (widened)"
    with pytest.raises(SpecError, match=r"quality.schema.age: 'dubble' is not a DuckDB type"):
        table_of(df, tmp_path, {"schema": {**schema, "age": "dubble"}})


def test_misspelt_column_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        table_of(messy(), tmp_path, {"ranges": {"agee": {"min": 0}}})
    text = str(err.value)
    assert "quality.ranges: no column 'agee'" in text and "Did you mean 'age'?" in text
    assert "Fix the name in the spec" in text
    with pytest.raises(SpecError, match="did you mean 'duplicates'"):
        parse_spec(spec_for({"checks": ["dupes"]}))
    with pytest.raises(SpecError, match="quality.shema: unknown key; did you mean 'schema'"):
        parse_spec(spec_for({"shema": {}}))


def test_privacy_rules_apply_to_examples(tmp_path: Path) -> None:
    df = messy()
    t = table_of(df, tmp_path, {"ranges": {"age": {"min": 18, "max": 80}},
                                "categories": {"region": ["n", "s", "e", "w"]}},
                 privacy={"hide": ["age", "region"]})
    age = row(t, "ranges", "age")
    assert "observed" not in age["message"] and "-3" not in age["examples"]
    first = int(np.flatnonzero(df.age.notna() & ((df.age < 18) | (df.age > 80)))[0]) + 1
    assert age["examples"].startswith(f"row {first}: (withheld)")  # the id is hidden by default now
    assert row(t, "categories", "region")["examples"] == "values withheld (privacy settings)"
    assert "XX" not in t.to_json()


def test_edge_cases_empty_single_row_and_constant(tmp_path: Path) -> None:
    df = messy()
    empty = table_of(df.iloc[:0], tmp_path)
    assert row(empty, "rows")["status"] == "fail"
    assert row(empty, "labels", "y")["status"] == "fail" and row(empty, "nulls", "age")["status"] == "pass"
    one = table_of(df.iloc[:1], tmp_path)
    assert row(one, "duplicate_rows")["count"] == 0 and row(one, "labels", "y")["status"] == "fail"
    const = df.assign(income=np.nan, region="n")
    t = table_of(const, tmp_path)
    assert row(t, "nulls", "income")["status"] == "fail" and row(t, "nulls", "income")["value"] == 1.0
    assert row(t, "nulls", "region")["count"] == 0


def test_checks_can_be_selected(tmp_path: Path) -> None:
    t = table_of(messy(), tmp_path, {"checks": ["duplicates", "labels"]})
    assert set(t.check) == {"duplicate_ids", "duplicate_rows", "labels"}


# ---------------------------------------------------------------------------- CLI


def _case(tmp_path: Path, df: pd.DataFrame, quality: dict[str, Any] | None = None) -> Path:
    write_table(tmp_path / "data.parquet", df)
    return write_spec(tmp_path / "spec.yaml", spec_for(quality))


def test_check_exit_codes_and_outputs(tmp_path: Path, cli: Any) -> None:
    clean = messy().iloc[100:300].assign(income=1.0, region="n")
    clean["id"] = np.arange(len(clean))
    spec = _case(tmp_path / "ok", clean.drop(columns="ts"))
    got = cli("check", spec, "--no-store")
    assert got.code == 0, got.text
    assert "Data quality: PASS (exit code 0)" in got.out
    spec = _case(tmp_path / "warn", clean.assign(income=np.where(clean.id < 20, np.nan, 1.0)))
    got = cli("check", spec, "--no-store", "--as-of", "2026-01-31")
    assert got.code == 3, got.text
    spec = _case(tmp_path / "fail", messy())
    out = tmp_path / "fail" / "out"
    got = cli("check", spec, "--no-store", "--json", "--out", out)
    assert got.code == 1, got.text
    payload = json.loads(got.out)
    assert payload["status"] == "fail" and payload["exit_code"] == 1
    assert [c["check"] for c in payload["checks"]][:2] == ["rows", "schema"]
    assert pd.read_parquet(out / "quality.parquet").columns.tolist() == QUALITY_COLUMNS
    assert len(json.loads((out / "quality.json").read_text())) == len(payload["checks"])
    bad = _case(tmp_path / "bad", messy(), {"ranges": {"agee": {"min": 0}}})
    got = cli("check", bad, "--no-store")
    assert got.code == 2 and "Did you mean 'age'?" in got.err
    got = cli("check", spec, "--no-store", "--as-of", "yesterday")
    assert got.code == 2 and "--as-of" in got.err


# ---------------------------------------------------------------------------- evaluate


def test_evaluate_reports_gates_stores_and_reruns(tmp_path: Path, cli: Any) -> None:
    df = messy()
    df["id"] = np.arange(len(df))  # evaluate refuses repeated ids before any check
    df.loc[3, "region"] = "<script>alert(1)</script>"
    write_table(tmp_path / "data.parquet", df)
    spec = spec_for({"categories": {"region": ["n", "s", "e", "w"]},
                     "freshness": {"column": "ts", "max_age": "30d"}},
                    gates=[{"rule": "quality", "checks": ["categories", "nulls"], "name": "clean data"},
                           {"rule": "quality", "checks": ["leakage"], "name": "no leakage",
                            "severity": "warn"}])
    spec["quality"].pop("as_of")  # judged now: the rerun must ignore the clock
    write_spec(tmp_path / "spec.yaml", spec)
    out = tmp_path / "run"
    got = cli("evaluate", tmp_path / "spec.yaml", "--store", tmp_path / "runs.db", "--out", out)
    assert got.code == 1, got.text  # the quality gate holds
    assert re.search(r"Data quality: \d+ check\(s\) ran: \d fail", got.out) and "categories region" in got.out
    assert "add {rule: quality}" not in got.out  # a gate reads the checks
    store = open_store(tmp_path / "runs.db")
    from assay.store import analysis_tables, rerun, table_diff

    run_id = store.resolve("latest")
    result = rerun(store, run_id).result  # the same evaluation again, with the store
    q = result.analyses["quality"]
    assert list(q.columns) == QUALITY_COLUMNS and "quality" in result.timings
    rules = {r.name: r for r in result.verdict.rules}
    assert rules["clean data"].status == "fail" and "categories region" in rules["clean data"].reason
    assert rules["no leakage"].status == "undecided" and "quality.leakage.train" in rules["no leakage"].reason
    assert result.verdict.decision == "hold"
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="quality"' in html and 'href="#quality"' in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "### Data quality" in summary and "❌ **categories region**" in summary
    assert "<script>" not in summary
    assert pd.read_parquet(out / "quality.parquet").shape == q.shape
    stored = analysis_tables(store.get_run(run_id).record)["quality"]
    assert table_diff(without_clock(q), without_clock(stored), ["check", "column", "level"]).identical
    assert row(q, "schema")["status"] == "skipped" and "no earlier data card" in row(q, "schema").message
    rep = rerun(store, run_id)
    assert rep.identical, rep.largest
    assert rep.analyses["quality"].identical
    store.close()


def test_quality_off_and_clock_free_view(tmp_path: Path) -> None:
    df = messy()
    df["id"] = np.arange(len(df))
    write_table(tmp_path / "data.parquet", df)
    result = assay.evaluate(spec_for({"enabled": False}), data=df.assign(id=np.arange(len(df))))
    assert "quality" not in result.analyses
    verdict = result.gate([{"rule": "quality"}])
    assert verdict.rules[0].status == "undecided"
    t = pd.DataFrame([{"check": "freshness", "column": "ts", "level": "", "status": "fail", "value": 3.0,
                       "threshold": "", "count": 2, "n": 5, "message": "m", "examples": "e"}])
    blank = without_clock(t).iloc[0]
    assert math.isnan(blank.value) and blank.status == "" and blank["count"] == 0


def test_all_passing_checks_take_one_clause_of_the_summary(tmp_path: Path) -> None:
    df = messy().iloc[100:300].assign(income=1.0, region="n", y=lambda d: np.arange(len(d)) % 2,
                                      p=lambda d: np.linspace(0.01, 0.99, len(d)))
    df["id"] = np.arange(len(df))
    result = assay.evaluate(spec_for(), data=df.drop(columns="ts"))
    summary = assay.report.render_summary(result)
    assert "· data quality ✅" in summary and "### Data quality" not in summary
    html = assay.report.render_html(result)
    assert 'id="quality"' in html and "No check fails or warns." in html
    off = assay.evaluate(spec_for({"enabled": False}), data=df.drop(columns="ts"))
    assert 'id="quality"' not in assay.report.render_html(off)
    assert "data quality" not in assay.report.render_summary(off)


def test_quality_gate_rule_parses_and_decides() -> None:
    from assay.gates import RuleError, parse_rules

    rule = parse_rules([{"rule": "quality", "checks": "duplicates", "fail_on": "warn"}])[0]
    assert rule.describe() == "data-quality checks duplicates without warnings or failures"
    with pytest.raises(RuleError, match="unknown check 'dupes'"):
        parse_rules([{"rule": "quality", "checks": ["dupes"]}])
    df = messy()
    df["id"] = np.arange(len(df))
    result = assay.evaluate(spec_for(), data=df)
    warn = result.gate([{"rule": "quality", "checks": ["duplicate_rows"], "fail_on": "warn"}])
    assert warn.decision == "hold" and warn.rules[0].targets[0].slice == "duplicate_rows"
    assert result.gate([{"rule": "quality", "checks": ["duplicate_rows"]}]).decision == "ship"
    soft = result.gate([{"rule": "quality", "checks": ["nulls"], "fail_on": "warn", "severity": "warn"}])
    assert soft.decision == "ship_with_guardrails"


# ---------------------------------------------------------------------------- example, real data


def test_the_example_checks_pass_or_warn(example_dir: Path) -> None:
    spec = assay.load_spec(example_dir / "spec.yaml")
    report = check_dataset(spec, example_dir)
    t = report.table
    assert report.status in ("pass", "warn"), t[t.status.isin(["fail"])].message.tolist()
    ran = set(t[t.status != "skipped"].check)
    assert {"ranges", "categories", "freshness", "leakage_rows", "leakage_ids"} <= ran
    eval_df = pd.read_parquet(example_dir / "data" / "eval.parquet")
    assert row(t, "freshness", "application_date")["value"] == pytest.approx(
        (pd.Timestamp(spec.quality.as_of).tz_convert(None) - pd.Timestamp(eval_df.application_date.max()))
        / pd.Timedelta(days=1))


@pytest.mark.skipif(not ADULT.is_file(), reason=f"shared data not found at {ADULT} (UCI Adult)")
def test_adult_counts_match_the_published_ones(tmp_path: Path) -> None:
    """SOURCE.md: missing ('?') workclass 1,836, occupation 1,843, native-country 583; label
    >50K 7,841 and <=50K 24,720 of 32,561 rows. Repeated rows: pandas' duplicated()."""
    cols = ["workclass", "occupation", "native-country"]
    sql = ("SELECT * REPLACE (" + ", ".join(f'nullif("{c}", \'?\') AS "{c}"' for c in cols)
           + f") FROM read_csv('{ADULT}', header=true)")
    spec = parse_spec({"name": "adult", "data": {"sql": sql}, "label": "income-per-year",
                       "positive": ">50K", "models": [{"name": "m", "score": "fnlwgt"}]})
    t = check_dataset(spec, tmp_path).table
    assert row(t, "rows")["count"] == 32_561
    for col, n in (("workclass", 1836), ("occupation", 1843), ("native-country", 583)):
        assert row(t, "nulls", col)["count"] == n
    assert row(t, "labels", "income-per-year", ">50K")["count"] == 7841
    assert row(t, "labels", "income-per-year", "<=50K")["count"] == 24720
    df = pd.read_csv(ADULT)
    assert row(t, "duplicate_rows")["count"] == df.duplicated().sum() > 0
