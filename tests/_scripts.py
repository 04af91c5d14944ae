"""Helpers shared by tests: loading a script (a benchmark, an example) as a module, and
picking the one row of a result table."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def load_script(path: Path, name: str) -> ModuleType:
    """Import the script at ``path`` as module ``name``, registered in ``sys.modules`` (so that
    dataclasses find their module while the file runs, and workers can unpickle by name)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def pick(table: pd.DataFrame, **where: Any) -> pd.Series:
    """The one row of ``table`` matching ``where``."""
    hit = table
    for k, v in where.items():
        hit = hit[hit[k] == v]
    assert len(hit) == 1, (where, hit)
    return hit.iloc[0]
