"""JSON-safe values for artifacts and the run store (JSON has no NaN)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def jsonable(obj: Any) -> Any:
    """Nested data as JSON values: NumPy scalars and arrays as Python ones, tuples as lists,
    non-finite floats as null."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _default(obj: Any) -> Any:
    """Values JSON has no type for: timestamps as ISO 8601, anything else as its text."""
    iso = getattr(obj, "isoformat", None)
    return iso() if callable(iso) else str(obj)


def write_table(frame: Any, folder: Any, name: str, arrow: Any = None) -> None:
    """A tidy table as ``name.parquet`` (``arrow``, or the frame as Arrow) and ``name.json``
    (one object per row; NaN as null, timestamps ISO 8601): readable without assay."""
    import json
    from pathlib import Path

    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(folder)
    table = arrow if arrow is not None else pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, out / f"{name}.parquet")
    rows = jsonable(frame.to_dict("records"))
    (out / f"{name}.json").write_text(json.dumps(rows, indent=1, default=_default) + "\n",
                                      encoding="utf-8")
