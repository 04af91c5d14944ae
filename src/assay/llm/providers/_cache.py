"""An on-disk cache of provider answers, keyed by the full request.

SQLite in WAL mode: several processes (parallel CI jobs, a run and a re-score) may read and
write one cache at once; a write is one short transaction, and the first answer stored for a
key is kept (``INSERT OR IGNORE``), so concurrent runs agree on what the cache holds. Only
successful answers are stored: a failed call is retried by the next run. An answer's tool calls
are stored with it (answers stored before tool calls existed read back with none).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path

from assay.llm.providers._types import OK, ChatRequest, ChatResult, canonical_json

SCHEMA = ("CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, model TEXT NOT NULL, "
          "request TEXT NOT NULL, result TEXT NOT NULL, created REAL NOT NULL)")


class ResponseCache:
    """``get``/``put`` of ChatResults by request key in ``folder/responses.sqlite``."""

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder) / "responses.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._conn() as conn:
            conn.execute(SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA busy_timeout = 30000")
            self._local.conn = conn
        return conn

    def get(self, request: ChatRequest) -> ChatResult | None:
        row = self._conn().execute("SELECT result FROM answers WHERE key = ?", (request.key,)).fetchone()
        if row is None:
            return None
        # latency_s and cost stay as measured when the answer was made: they describe the
        # model, so a cached rerun reports the same latency and cost; ``cached`` says that
        # this run spent neither
        result = ChatResult.from_dict(json.loads(row[0]))
        result.cached, result.attempts = True, 0
        return result

    def put(self, request: ChatRequest, result: ChatResult) -> None:
        if result.status != OK:
            return
        stored = result.to_dict() | {"cached": False}
        self._conn().execute(
            "INSERT OR IGNORE INTO answers (key, model, request, result, created) VALUES (?, ?, ?, ?, ?)",
            (request.key, request.model, canonical_json(request.body()), canonical_json(stored), time.time()))

    def __len__(self) -> int:
        return int(self._conn().execute("SELECT count(*) FROM answers").fetchone()[0])

    def clear(self, model: str | None = None) -> int:
        """Delete the stored answers (of one model, or all); returns how many."""
        conn = self._conn()
        if model is None:
            return conn.execute("DELETE FROM answers").rowcount
        return conn.execute("DELETE FROM answers WHERE model = ?", (model,)).rowcount
