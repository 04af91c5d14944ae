"""Shared fixtures: small evaluation sets on disk, spec files and an in-process CLI runner."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "credit_default"


@pytest.fixture(autouse=True, scope="session")
def _run_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runs recorded by CLI tests go to a session store, not to .assay/ in the repository
    (tests that check the store open their own)."""
    path = tmp_path_factory.mktemp("store") / "runs.db"
    os.environ["ASSAY_STORE"] = str(path)
    return path


def write_table(path: Path, df: pd.DataFrame) -> Path:
    """Write ``df`` as Parquet, CSV or JSONL, chosen by the file extension."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        df.to_parquet(path, index=False)
    elif path.suffix == ".csv":
        df.to_csv(path, index=False)
    elif path.suffix == ".jsonl":
        df.to_json(path, orient="records", lines=True)
    else:
        raise ValueError(path)
    return path


def write_spec(path: Path, spec: dict[str, Any] | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(spec if isinstance(spec, str) else yaml.safe_dump(spec, sort_keys=False),
                    encoding="utf-8")
    return path


def binary_frame(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(dataset, predictions) for a binary task: ids, label y, slicing columns, weights, score p."""
    rng = np.random.default_rng(seed)
    region = rng.choice(["north", "south", "east"], n, p=[0.5, 0.3, 0.2])
    x = rng.normal(size=n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(x + (region == "south"))))).astype(np.int64)
    p = np.round(1 / (1 + np.exp(-(0.8 * x + rng.normal(scale=0.8, size=n)))), 6)
    data = pd.DataFrame({"id": np.arange(1000, 1000 + n), "y": y, "region": region,
                         "channel": rng.choice(["web", "shop"], n), "x": x,
                         "age": rng.integers(18, 80, n), "w": rng.uniform(0.5, 2.0, n)})
    preds = pd.DataFrame({"id": data["id"].to_numpy()[::-1], "p": p[::-1]})  # other order
    return data, preds


def binary_spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": "t", "task": "binary", "data": {"path": "data.parquet"}, "id": "id", "label": "y",
        "models": [{"name": "m", "path": "preds.parquet", "score": "p"}],
        "bootstrap": 200, "min_slice_size": 5,
    }
    spec.update(overrides)
    return spec


@dataclass
class Case:
    """A folder with data.parquet, preds.parquet and spec.yaml (written by :meth:`write`)."""

    root: Path
    data: pd.DataFrame
    preds: pd.DataFrame
    spec: dict[str, Any]

    @property
    def spec_path(self) -> Path:
        return self.root / "spec.yaml"

    @property
    def data_path(self) -> Path:
        return self.root / "data.parquet"

    @property
    def preds_path(self) -> Path:
        return self.root / "preds.parquet"

    def write(self) -> Path:
        write_table(self.data_path, self.data)
        write_table(self.preds_path, self.preds)
        return write_spec(self.spec_path, self.spec)


@pytest.fixture
def case(tmp_path: Path) -> Case:
    data, preds = binary_frame()
    return Case(tmp_path, data, preds, binary_spec())


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


CliRunner = Callable[..., CliResult]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """Run ``assay ARGS`` in process through :func:`assay.cli.main`; returns its exit code and
    output. ``main`` always ends with ``sys.exit``, as the installed script does."""
    from assay import cli as cli_mod

    monkeypatch.setenv("COLUMNS", "200")  # rich wraps tables at the terminal width

    def run(*args: str | Path) -> CliResult:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["assay", *map(str, args)])
        with pytest.raises(SystemExit) as exit_info:
            cli_mod.main()
        cap = capsys.readouterr()
        code = exit_info.value.code
        return CliResult(code if isinstance(code, int) else (0 if code is None else 1),
                         cap.out, cap.err)

    return run


def run_subprocess(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m assay.cli ARGS`` in a fresh interpreter (the real entry point)."""
    return subprocess.run([sys.executable, "-m", "assay.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env={**os.environ, "COLUMNS": "200"}, timeout=120)


@pytest.fixture(scope="session")
def example_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The credit-default example, generated small, with its spec next to the data."""
    root = tmp_path_factory.mktemp("credit_default")
    subprocess.run([sys.executable, str(EXAMPLE / "generate.py"), "--rows", "5000",
                    "--out", str(root / "data")], check=True, capture_output=True)
    shutil.copy(EXAMPLE / "spec.yaml", root / "spec.yaml")
    spec = yaml.safe_load((root / "spec.yaml").read_text())
    spec["bootstrap"] = 200
    write_spec(root / "spec.yaml", spec)
    return root


@pytest.fixture(scope="session")
def postgres_url() -> Any:
    """A fresh PostgreSQL server on loopback (see tests/_postgres.py); skips, saying why,
    where none can be started."""
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'assay[postgres]')")
    from _postgres import Unavailable, postgres_server

    try:
        with postgres_server() as url:
            yield url
    except Unavailable as exc:
        pytest.skip(f"no PostgreSQL server: {exc}")
