"""The run store: what a run records, crash and interrupt safety, concurrent writers,
migrations, reruns, diffs, data cards, model cards; SQLite and a real PostgreSQL server."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import Case, binary_frame, binary_spec, write_spec, write_table

import assay
from assay._errors import InputError
from assay.store import open_store, rerun

TWO_MODELS = {
    "models": [{"name": "base", "path": "preds.parquet", "score": "p"},
               {"name": "cand", "path": "preds_b.parquet", "score": "p"}],
    "slices": [{"column": "region"}],
    "gates": [{"rule": "non_inferiority", "metric": "roc_auc", "margin": 0.05}],
}


def two_model_case(root: Path, **spec) -> Case:
    data, preds = binary_frame(n=600, seed=3)
    rng = np.random.default_rng(7)
    c = Case(root, data, preds, binary_spec(**TWO_MODELS, **spec))
    c.write()
    b = preds.copy()
    b["p"] = np.clip(b["p"] + rng.normal(scale=0.05, size=len(b)), 0, 1).round(6)
    write_table(root / "preds_b.parquet", b)
    return c


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def frames_identical(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Every cell equal, floats as doubles (NaN equal to NaN)."""
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return False
    for c in a.columns:
        x, y = a[c].to_numpy(), b[c].to_numpy()
        if x.dtype.kind == "f":
            if not np.array_equal(x, y.astype(np.float64), equal_nan=True):
                return False
        elif not all(p == q for p, q in zip(x, y, strict=True)):
            return False
    return True


# ---- what a run records -----------------------------------------------------------------


def test_a_recorded_run_has_its_lineage_and_exact_results(tmp_path: Path) -> None:
    c = two_model_case(tmp_path)
    store = open_store(tmp_path / "runs.db")
    result = assay.evaluate(c.spec_path, store=store, out=tmp_path / "out")
    run = store.get_run(result.extra["run_id"])
    rec = run.record
    assert rec["status"] == "complete" and rec["error"] is None
    assert rec["finished_at"] >= rec["started_at"]
    assert rec["name"] == "t" and rec["task"] == "binary" and rec["seed"] == 0
    inputs = rec["inputs"]
    assert inputs["data"]["sha256"] == sha256(c.data_path)
    assert inputs["model:base"]["sha256"] == sha256(c.preds_path)
    assert inputs["model:cand"]["sha256"] == sha256(tmp_path / "preds_b.parquet")
    assert rec["assay_version"] == assay.__version__
    assert rec["python_version"] == sys.version.split()[0]
    assert rec["packages"]["numpy"] == np.__version__
    assert rec["verdict"] == result.verdict.decision and rec["exit_code"] == result.verdict.exit_code
    assert rec["spec"]["models"][0]["path"] == str(c.preds_path)  # absolute: replayable
    assert rec["folder"] == str((tmp_path / "out").resolve())
    assert frames_identical(run.table, result.table)
    assert frames_identical(run.comparisons, result.comparisons)
    assert run.dataset["fingerprint"] == sha256(c.data_path) and run.dataset["n_rows"] == 600
    assert run.dataset["labels"] == {str(k): int(v) for k, v in c.data.y.value_counts().items()}


def test_model_artifacts_are_fingerprinted(tmp_path: Path) -> None:
    c = two_model_case(tmp_path)
    art = tmp_path / "model"
    art.mkdir()
    (art / "weights.bin").write_bytes(b"\x00\x01" * 100)
    spec = yaml.safe_load(c.spec_path.read_text())
    spec["models"][1]["artifacts"] = ["model", "missing.pkl"]
    write_spec(c.spec_path, spec)
    store = open_store(tmp_path / "runs.db")
    result = assay.evaluate(c.spec_path, store=store)
    inputs = store.get_run(result.extra["run_id"]).record["inputs"]
    folder = inputs["artifact:cand:model"]
    assert folder["bytes"] == 200 and len(folder["sha256"]) == 64
    assert inputs["artifact:cand:missing.pkl"]["missing"] is True
    (art / "weights.bin").write_bytes(b"\x00\x02" * 100)
    result2 = assay.evaluate(c.spec_path, store=store)
    assert store.get_run(result2.extra["run_id"]).record["inputs"]["artifact:cand:model"]["sha256"] \
        != folder["sha256"]


def test_a_failing_run_is_failed_with_its_error_never_complete(tmp_path: Path) -> None:
    c = two_model_case(tmp_path, label="no_such_column")
    store = open_store(tmp_path / "runs.db")
    with pytest.raises(InputError):
        assay.evaluate(c.spec_path, store=store)
    (run,) = store.list_runs()
    assert run["status"] == "failed"
    assert "no_such_column" in run["error"]
    assert store.get_run(run["id"]).table.empty


def test_an_interrupted_run_is_marked_interrupted(tmp_path: Path) -> None:
    c = two_model_case(tmp_path)
    store = open_store(tmp_path / "runs.db")

    def interrupt(stage: str, done: int, total: int) -> None:
        if stage.startswith("evaluating"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        assay.evaluate(c.spec_path, store=store, progress=interrupt)
    (run,) = store.list_runs()
    assert run["status"] == "interrupted" and "interrupted" in run["error"]


SLOW_RUN = """
import sys, time
from assay.cli import _terminate_on_sigterm
from assay.store import open_store, record_evaluation
from assay.spec import load_spec
_terminate_on_sigterm()
spec = load_spec(sys.argv[2])
store = open_store(sys.argv[1])
def work():
    print("working", flush=True)
    time.sleep(60)
record_evaluation(store, spec, sys.argv[3], work)
"""


@pytest.mark.parametrize("sig, status", [(signal.SIGKILL, "running"), (signal.SIGTERM, "interrupted")])
def test_a_killed_run_is_never_complete(tmp_path: Path, sig: int, status: str) -> None:
    c = two_model_case(tmp_path)
    db = tmp_path / "runs.db"
    open_store(db)
    proc = subprocess.Popen([sys.executable, "-c", SLOW_RUN, str(db), str(c.spec_path), str(tmp_path)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "working"
    proc.send_signal(sig)
    proc.wait(timeout=30)
    (run,) = open_store(db).list_runs()
    assert run["status"] == status
    if sig == signal.SIGKILL:  # nothing ran after the kill; the listing says the process is gone
        from assay._cli_store import _alive

        assert _alive(run) is False
    else:
        assert "interrupted" in run["error"]


# ---- concurrent writers -----------------------------------------------------------------


def test_concurrent_evaluations_into_one_new_sqlite_store_all_land(tmp_path: Path) -> None:
    c = two_model_case(tmp_path)
    db = tmp_path / "shared" / "runs.db"  # created by whichever process comes first
    env = {**os.environ, "ASSAY_STORE": str(db)}
    procs = [subprocess.Popen([sys.executable, "-m", "assay.cli", "evaluate", str(c.spec_path), "-q",
                               "--report-only", "--out", str(tmp_path / f"out{i}")],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [o[1][-2000:] for o in outs]
    store = open_store(db)
    runs = store.list_runs()
    assert len(runs) == 3 and {r["status"] for r in runs} == {"complete"}
    tables = [store.get_run(r["id"]).table for r in runs]
    assert all(frames_identical(tables[0], t) for t in tables[1:])
    assert len(store.datasets()) == 1  # one data card version for the same content


# ---- schema -----------------------------------------------------------------------------


def test_migrations_build_exactly_the_declared_schema(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from assay.store._schema import metadata

    store = open_store(tmp_path / "runs.db")
    assert store.schema_version() == "0003"
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    open_store(tmp_path / "runs.db")  # reopening an up-to-date store migrates nothing
    assert store.schema_version() == "0003"


def test_an_unopenable_store_is_an_input_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no driver for it"):
        open_store("nosuchdb://x")
    with pytest.raises(InputError, match=r"127\.0\.0\.1:1"):
        open_store("postgresql://nobody@127.0.0.1:1/db")


# ---- CLI: runs, rerun, datasets, card -----------------------------------------------------


def test_cli_records_lists_shows_and_filters(tmp_path: Path, cli) -> None:
    c = two_model_case(tmp_path)
    db = tmp_path / "runs.db"
    r = cli("evaluate", c.spec_path, "--store", db, "--report-only", "-o", tmp_path / "o1")
    assert r.code == 0, r.text
    assert "recorded in sqlite" in r.out
    other = yaml.safe_load(c.spec_path.read_text()) | {"name": "other"}
    write_spec(tmp_path / "other.yaml", other)
    assert cli("evaluate", tmp_path / "other.yaml", "--store", db, "-q", "--report-only").code == 0
    listing = cli("runs", "list", "--store", db)
    assert listing.code == 0 and listing.out.count("complete") == 2
    only = cli("runs", "list", "--store", db, "--name", "other")
    assert only.out.count("complete") == 1 and " t " not in only.out
    assert cli("runs", "list", "--store", db, "--status", "failed").out.count("complete") == 0
    assert cli("runs", "list", "--store", db, "--since", "2000-01-01").out.count("complete") == 2
    assert cli("runs", "list", "--store", db, "--until", "2000-01-01").out.count("complete") == 0
    assert cli("runs", "list", "--store", db, "--since", "yesterday").code == 2
    assert cli("runs", "list", "--store", db, "--status", "done").code == 2
    first = open_store(db).list_runs(name="t")[0]["id"]
    show = cli("runs", "show", first[:6], "--store", db)
    assert show.code == 0 and first in show.out and sha256(c.data_path) in show.out
    assert "roc_auc" in show.out
    assert cli("runs", "show", "ffffffffffff", "--store", db).code == 2
    assert cli("evaluate", c.spec_path, "--no-store", "-q", "--report-only").code == 0
    assert len(open_store(db).list_runs()) == 2


def test_rerun_is_identical_when_nothing_changed(tmp_path: Path, cli) -> None:
    c = two_model_case(tmp_path)
    db = tmp_path / "runs.db"
    cli("evaluate", c.spec_path, "--store", db, "-q", "--report-only")
    r = cli("rerun", "latest", "--store", db)
    assert r.code == 0, r.text
    assert "identical" in r.out
    runs = open_store(db).list_runs()
    assert runs[0]["rerun_of"] == runs[1]["id"] and runs[0]["reproduced"] is True


def test_rerun_reports_the_largest_difference_and_the_changed_input(tmp_path: Path, cli) -> None:
    c = two_model_case(tmp_path)
    db = tmp_path / "runs.db"
    cli("evaluate", c.spec_path, "--store", db, "-q", "--report-only")
    b = pd.read_parquet(tmp_path / "preds_b.parquet")
    b.loc[:50, "p"] = 1 - b.loc[:50, "p"]  # the candidate's predictions file changed
    write_table(tmp_path / "preds_b.parquet", b)
    r = cli("rerun", "latest", "--store", db)
    assert r.code == 1, r.text
    assert "different" in r.out and "largest difference" in r.out
    assert "model:cand" in r.out
    store = open_store(db)
    rep = rerun(store, store.list_runs()[-1]["id"])
    assert not rep.identical
    assert [i[0] for i in rep.inputs] == ["model:cand"]
    assert rep.spec == [] and rep.packages == []
    big = rep.largest
    t0 = rep.original.table.set_index(["model", "slice", "metric"])
    t1 = rep.result.table.set_index(["model", "slice", "metric"])
    diffs = (t1["value"] - t0["value"]).abs()
    if big["column"] == "value":
        assert big["difference"] == pytest.approx(diffs.max())
    assert big["difference"] >= diffs.max()
    assert store.list_runs()[0]["reproduced"] is False


def test_runs_diff_names_spec_fields_and_result_changes(tmp_path: Path, cli) -> None:
    c = two_model_case(tmp_path)
    db = tmp_path / "runs.db"
    cli("evaluate", c.spec_path, "--store", db, "-q", "--report-only")
    spec = yaml.safe_load(c.spec_path.read_text()) | {"threshold": 0.3}
    write_spec(c.spec_path, spec)
    cli("evaluate", c.spec_path, "--store", db, "-q", "--report-only")
    old, new = [r["id"] for r in open_store(db).list_runs()][::-1]
    r = cli("runs", "diff", old, new, "--store", db)
    assert r.code == 0, r.text
    assert "threshold" in r.out and "0.5" in r.out and "0.3" in r.out
    assert "Inputs (content hashes): no change" in r.out
    assert "accuracy" in r.out and "value(s) differ" in r.out
    assert "roc_auc" not in r.out.split("Results")[1].split("Comparisons")[0]  # threshold-free


def test_data_cards_are_versioned_by_content(tmp_path: Path, cli) -> None:
    c = two_model_case(tmp_path)
    spec = yaml.safe_load(c.spec_path.read_text())
    spec["data"] |= {"name": "loans-eval", "card": {
        "source": "core banking export", "collection_date": "2026-10", "description": "holdout",
        "limitations": ["no applicants under 21", "one country"]}}
    write_spec(c.spec_path, spec)
    db = tmp_path / "runs.db"
    cli("evaluate", c.spec_path, "--store", db, "-q", "--report-only")
    cli("evaluate", c.spec_path, "--store", db, "-q", "--report-only")
    changed = c.data.copy()
    changed.loc[:10, "x"] += 1.0  # new content, same rows: a new version
    write_table(c.data_path, changed)
    assert cli("evaluate", c.spec_path, "--store", db, "-q", "--report-only").code == 0
    cards = open_store(db).datasets()
    assert [(d["name"], d["version"], d["n_rows"], d["runs"]) for d in cards] == \
        [("loans-eval", 1, 600, 2), ("loans-eval", 2, 600, 1)]
    listing = cli("datasets", "--store", db)
    assert listing.code == 0 and "loans-eval" in listing.out
    card = cli("datasets", "loans-eval", "--version", "1", "--store", db).out
    assert "core banking export" in card and "2026-10" in card and "no applicants under 21" in card
    assert cards[0]["fingerprint"] in card
    assert f"| 1 | {int(c.data.y.sum()):,} |" in card  # the label distribution
    assert "| region | VARCHAR |" in card
    assert cli("datasets", "nope", "--store", db).code == 2


def test_model_card_joins_spec_fields_with_recorded_evidence(tmp_path: Path, cli) -> None:
    c = two_model_case(tmp_path)
    spec = yaml.safe_load(c.spec_path.read_text())
    spec["card"] = {"model": "Credit risk v2", "owners": ["risk-ml@example.com"],
                    "intended_use": "Rank applications for manual review.",
                    "limitations": ["Not for applicants under 21."],
                    "ethical_considerations": "Adverse action notices need reasons."}
    write_spec(c.spec_path, spec)
    db = tmp_path / "runs.db"
    cli("evaluate", c.spec_path, "--store", db, "-q", "--report-only")
    out = tmp_path / "card.md"
    r = cli("card", "latest", "--store", db, "-o", out)
    assert r.code == 0, r.text
    text = out.read_text()
    run = open_store(db).get_run("latest")
    for needle in ("Credit risk v2", "risk-ml@example.com", "manual review", "under 21",
                   "Adverse action", sha256(c.data_path), sha256(c.preds_path),
                   "## Slices", "region=north", "## Release gates", "HOLD" if run.record["verdict"]
                   == "hold" else run.record["verdict"].replace("_", " ").upper()):
        assert needle.replace("_", "\\_") in text or needle in text, needle
    auc = run.table[(run.table.metric == "roc_auc") & (run.table.slice == "overall")
                    & (run.table.model == "cand")].iloc[0]
    assert f"{auc.value:.3f} ({auc.ci_low:.3f} – {auc.ci_high:.3f})" in text


# ---- PostgreSQL ---------------------------------------------------------------------------


def test_postgres_store_records_reruns_and_takes_concurrent_writers(tmp_path: Path, postgres_url: str,
                                                                   cli) -> None:
    c = two_model_case(tmp_path)
    store = open_store(postgres_url)
    assert store.dialect == "postgresql" and store.schema_version() == "0003"
    result = assay.evaluate(c.spec_path, store=store)
    run = store.get_run(result.extra["run_id"])
    assert run.record["status"] == "complete"
    assert frames_identical(run.table, result.table)
    assert frames_identical(run.comparisons, result.comparisons)
    env = {**os.environ, "ASSAY_STORE": postgres_url.replace("postgresql+psycopg", "postgresql")}
    procs = [subprocess.Popen([sys.executable, "-m", "assay.cli", "evaluate", str(c.spec_path), "-q",
                               "--report-only", "--out", str(tmp_path / f"pg{i}")], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    r = cli("rerun", result.extra["run_id"], "--store", postgres_url)
    assert r.code == 0 and "identical" in r.out, r.text
    runs = store.list_runs(name="t")
    assert len([x for x in runs if x["status"] == "complete"]) >= 4
    assert len(store.datasets("data.parquet")) == 1


def test_store_file_is_a_plain_sqlite_database(tmp_path: Path) -> None:
    """Readable without assay: the tables are plain SQL."""
    c = two_model_case(tmp_path)
    result = assay.evaluate(c.spec_path, store=tmp_path / "runs.db")
    con = sqlite3.connect(tmp_path / "runs.db")
    (n,) = con.execute("SELECT count(*) FROM results WHERE run_id = ?", [result.extra["run_id"]]).fetchone()
    assert n == len(result.table)


def test_the_shipped_example_records_into_the_default_store(tmp_path: Path, example_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ASSAY_STORE"}
    got = subprocess.run([sys.executable, "-m", "assay.cli", "evaluate", str(example_dir / "spec.yaml"),
                          "-q", "--report-only"], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert got.returncode == 0, got.stderr
    assert (tmp_path / ".assay" / "runs.db").is_file()
    assert open_store(tmp_path / ".assay" / "runs.db").list_runs()[0]["status"] == "complete"
