"""``assay agent run``: the support-desk example end to end (tables, report, verdict exit
code), the response cache and ``--no-cache``, ``--quiet``, and errors that name the key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import typer
import yaml
from typer.testing import CliRunner

from assay._cli_agent import agent_app
from assay._errors import SpecError

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "agents"


def _app() -> typer.Typer:
    """The ``agent`` group as ``assay`` mounts it (a second command keeps typer from folding it)."""
    app = typer.Typer()
    app.add_typer(agent_app, name="agent")

    @app.command()
    def version() -> None:
        """Unused."""

    return app


def _copy_example(tmp_path: Path, **changes: object) -> Path:
    folder = tmp_path / "desk"
    folder.mkdir()
    for name in ("cases.jsonl", "agent.py", "tools.py"):
        shutil.copy(EXAMPLE / name, folder / name)
    spec = yaml.safe_load((EXAMPLE / "suite.yaml").read_text()) | changes
    (folder / "suite.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return folder / "suite.yaml"


def test_example_run_prints_scores_and_exits_with_the_verdict(tmp_path: Path) -> None:
    out = tmp_path / "run"
    got = CliRunner().invoke(_app(), ["agent", "run", str(EXAMPLE / "suite.yaml"), "--out", str(out)])
    assert got.exception is None or isinstance(got.exception, SystemExit), got.output
    assert got.exit_code == 3, got.output  # ship with guardrails: the warn rule on task success fails
    for text in ("support-desk", "tool_selection", "task_success", "How the runs stopped", "Gate rules",
                 "SHIP WITH GUARDRAILS"):
        assert text in got.output
    for name in ("report.html", "suite.json", "traces.parquet", "outputs.parquet", "scores.parquet",
                 "summary.parquet", "requests.parquet", "usage.parquet"):
        assert (out / name).is_file(), name
    stops = pd.read_parquet(out / "outputs.parquet")["stop_reason"].value_counts()
    assert stops["max_steps"] == 1 and stops["final"] == 21


def test_cache_and_no_cache(tmp_path: Path) -> None:
    suite = _copy_example(tmp_path, gates=[], cache=".cache")
    runner = CliRunner()
    first = runner.invoke(_app(), ["agent", "run", str(suite), "-o", str(tmp_path / "a"), "-q"])
    assert first.exit_code == 0, first.output  # no gates: no verdict
    assert first.output.strip().endswith("a")
    assert (suite.parent / ".cache" / "responses.sqlite").is_file()
    second = runner.invoke(_app(), ["agent", "run", str(suite), "-o", str(tmp_path / "b"), "-q"])
    assert second.exit_code == 0
    assert pd.read_parquet(tmp_path / "b" / "requests.parquet")["cached"].all()
    assert not pd.read_parquet(tmp_path / "a" / "requests.parquet")["cached"].any()
    # the same traces whether answered or replayed
    cols = ["case_id", "scorer", "value", "passed", "reason"]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a" / "scores.parquet")[cols],
                                  pd.read_parquet(tmp_path / "b" / "scores.parquet")[cols])
    third = runner.invoke(_app(), ["agent", "run", str(suite), "-o", str(tmp_path / "c"), "-q", "--no-cache"])
    assert third.exit_code == 0
    assert not pd.read_parquet(tmp_path / "c" / "requests.parquet")["cached"].any()


def test_bad_suite_names_the_key(tmp_path: Path) -> None:
    suite = _copy_example(tmp_path, max_steps=0)
    got = CliRunner().invoke(_app(), ["agent", "run", str(suite), "-o", str(tmp_path / "x")])
    assert isinstance(got.exception, SpecError) and got.exception.exit_code == 2
    assert "max_steps" in str(got.exception) and str(suite) in str(got.exception)
    missing = CliRunner().invoke(_app(), ["agent", "run", str(tmp_path / "nope.yaml")])
    assert isinstance(missing.exception, SpecError) and "not found" in str(missing.exception)


@pytest.mark.parametrize("provider", [{"name": "local", "gguf": "smollm2"}])
def test_local_model_is_refused_with_the_reason(tmp_path: Path, provider: dict[str, str]) -> None:
    suite = _copy_example(tmp_path, providers=[provider])
    got = CliRunner().invoke(_app(), ["agent", "run", str(suite)])
    assert isinstance(got.exception, SpecError) and "cannot call tools" in str(got.exception)
