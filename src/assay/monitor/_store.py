"""Windows in the run store: read back the windows a monitor computed before, write the
ones it computed now (one transaction; a window is replaced when it was recomputed)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import delete, insert, select

from assay.store import _schema as S
from assay.store._store import RunStore, frame_from_json, frame_json

SIGNATURE = ("n_rows", "row_hash", "n_labelled", "label_hash")


def load_windows(store: RunStore, monitor: str, config: str) -> dict[str, dict[str, Any]]:
    """window label -> {signature fields, "drift": frame, "performance": frame}."""
    t = S.monitor_windows.c
    with store.engine.connect() as conn:
        rows = conn.execute(select(S.monitor_windows).where(
            t.monitor == monitor, t.config_sha256 == config)).mappings().all()
    out = {}
    for r in rows:
        tables = r["tables"] or {}
        out[r["window"]] = {k: r[k] for k in SIGNATURE} | {
            name: frame_from_json(tables[name]) for name in ("drift", "performance") if name in tables}
    return out


def _aware(ts: Any) -> datetime | None:
    if ts is None or pd.isna(ts):
        return None
    t = pd.Timestamp(ts)
    return (t.tz_localize(UTC) if t.tzinfo is None else t.tz_convert(UTC)).to_pydatetime()


def save_windows(store: RunStore, monitor: str, config: str, windows: pd.DataFrame,
                 drift: pd.DataFrame, performance: pd.DataFrame) -> int:
    """Store every window of ``windows`` (those computed in this run) with its tables;
    returns how many were written."""
    if windows.empty:
        return 0
    t = S.monitor_windows.c
    now = datetime.now(UTC)
    values = []
    for w in windows.itertuples():
        values.append({
            "monitor": monitor, "config_sha256": config, "window": w.window,
            "start": _aware(w.start), "end": _aware(w.end), "role": w.role, "n_rows": int(w.n),
            "row_hash": str(w.row_hash), "n_labelled": int(w.n_labelled),
            "label_hash": str(w.label_hash), "computed_at": now,
            "tables": {"drift": frame_json(drift[drift["window"] == w.window].reset_index(drop=True)),
                       "performance": frame_json(
                           performance[performance["window"] == w.window].reset_index(drop=True))}})
    with store.transaction() as conn:
        conn.execute(delete(S.monitor_windows).where(
            t.monitor == monitor, t.config_sha256 == config,
            t.window.in_([v["window"] for v in values])))
        conn.execute(insert(S.monitor_windows), values)
    return len(values)
