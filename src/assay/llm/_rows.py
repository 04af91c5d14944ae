"""Reading the rows of a suite's data files (cases, human labels): JSON Lines, CSV or Parquet,
one mapping per row. CSV cells stay text (blank cells are missing), so ids such as ``007``
keep their zeros; errors name the file and the line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from assay._errors import InputError


def read_records(path: Path, *, noun: str, key: str, kinds: str) -> list[dict[str, Any]]:
    """The file's rows as mappings. ``noun`` names one row in messages ("case", "label row"),
    ``key`` the spec key that names the file, ``kinds`` the file ("cases", "labels")."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise InputError(f"{path}: {kinds} file not found; check {key} (a path relative to the suite "
                         "file)")
    if suffix in (".jsonl", ".ndjson"):
        return [rec for _, rec in jsonl_lines(path, noun)]
    if suffix == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    elif suffix in (".parquet", ".pq"):
        frame = pd.read_parquet(path)
    else:
        raise InputError(f"{path}: a {kinds} file must be .jsonl, .csv or .parquet (got {suffix!r})")
    return [dict(r) for r in frame.to_dict("records")]


def jsonl_lines(path: Path, noun: str) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line of a JSON Lines file; a line that is not
    a JSON object is an error naming the file, the line and ``noun`` (what one line holds)."""
    out: list[tuple[int, dict[str, Any]]] = []
    with path.open(encoding="utf-8") as fh:
        for k, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path} line {k}: not valid JSON ({exc.msg} at column {exc.colno}); "
                                 f"one {noun} per line, as a JSON object") from None
            if not isinstance(obj, dict):
                raise InputError(f"{path} line {k}: expected a JSON object (one {noun}), "
                                 f"got {type(obj).__name__}")
            out.append((k, obj))
    return out
