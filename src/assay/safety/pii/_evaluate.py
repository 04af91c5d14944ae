"""Precision and recall of a PII detector on a labelled set, per kind (and per scheme), with
Wilson intervals.

A labelled record is ``{"id", "text", "spans": [{"start", "end", "kind", "scheme"}], ...}``
(see ``scripts/build_pii_labelled_set.py``). Matching is by overlap: a predicted span counts as
correct when it shares at least one character with a gold span of the same kind (and, on the
per-scheme rows, the same scheme). For each row:

* ``n_gold`` gold spans, ``tp`` of them overlapped by a prediction, ``fn = n_gold - tp``;
  recall ``tp / n_gold``;
* ``n_pred`` predictions, ``fp`` of them overlapping no gold span; precision
  ``(n_pred - fp) / n_pred`` (with one prediction per gold span, ``n_pred - fp == tp``);
* ``neg_records`` the records whose ``source`` is ``negative:<kind>:...`` (tricky negatives
  aimed at that kind) and ``neg_flagged`` how many of them got a prediction of the kind.

Intervals are Wilson score intervals on ``n_pred`` and ``n_gold``. A row with no prediction
(or no gold span) has NaN precision (recall) and NaN bounds, never 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from assay._errors import InputError
from assay.llm._rows import jsonl_lines
from assay.safety.pii._find import find_pii
from assay.safety.pii._finding import KINDS, Finding, check_kinds
from assay.stats import wilson_interval

COLUMNS = ("kind", "scheme", "n_gold", "tp", "fn", "recall", "recall_low", "recall_high", "n_pred", "fp",
           "precision", "precision_low", "precision_high", "neg_records", "neg_flagged", "confidence")


def load_labelled(path: str | Path) -> list[dict[str, Any]]:
    """The records of a labelled JSONL file (a ``{"header": ...}`` line is skipped), validated."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"labelled PII set {path} does not exist")
    return [check_record(obj, f"{path} line {k}") for k, obj in jsonl_lines(path, "labelled record")
            if set(obj) != {"header"}]


def check_record(obj: Any, where: str) -> dict[str, Any]:
    """``obj`` if it is a valid labelled record, else an InputError naming ``where`` and the key."""
    if not isinstance(obj, Mapping):
        raise InputError(f"{where}: a labelled record is a mapping with 'id', 'text' and 'spans'; "
                         f"got {type(obj).__name__}")
    for key in ("id", "text", "spans"):
        if key not in obj:
            raise InputError(f"{where}: record has no {key!r} (needs id, text, spans)")
    text = obj["text"]
    if not isinstance(text, str):
        raise InputError(f"{where}: 'text' must be a string; got {type(text).__name__}")
    if not isinstance(obj["spans"], list):
        raise InputError(f"{where}: 'spans' must be a list of {{start, end, kind, scheme}}")
    for j, s in enumerate(obj["spans"]):
        if not isinstance(s, Mapping) or not {"start", "end", "kind"} <= set(s):
            raise InputError(f"{where}: spans[{j}] needs 'start', 'end' and 'kind'; got {s!r}")
        ints = isinstance(s["start"], int) and isinstance(s["end"], int)
        if not (ints and 0 <= s["start"] < s["end"] <= len(text)):
            raise InputError(f"{where}: spans[{j}] = [{s['start']}, {s['end']}) is not inside the text "
                             f"({len(text)} characters)")
        check_kinds([s["kind"]], f"{where}: spans[{j}].kind")
    return dict(obj)


def _rate(k: int, n: int, confidence: float) -> tuple[float, float, float]:
    if n == 0:
        return math.nan, math.nan, math.nan
    p = k / n
    ci = wilson_interval(p, n, confidence)
    return p, ci.low, ci.high


def evaluate_detector(
    records: Iterable[Mapping[str, Any]],
    find: Callable[[str], Sequence[Finding]] = find_pii,
    confidence: float = 0.95,
    *,
    kinds: Iterable[str] | None = None,
    by_scheme: Sequence[str] = ("national_id",),
) -> pd.DataFrame:
    """One row per kind (scheme ``"*"``) and per scheme of the kinds in ``by_scheme``: gold and
    predicted counts, precision and recall with Wilson intervals at ``confidence``.

    ``find(text)`` returns the predicted findings of one text (default :func:`find_pii`).
    """
    if not 0 < confidence < 1:
        raise InputError(f"confidence must be between 0 and 1 (exclusive); got {confidence!r}")
    wanted = check_kinds(kinds)
    by_scheme = check_kinds(by_scheme, "by_scheme")
    # counters per (kind, scheme); scheme "*" is the whole kind
    n_gold: dict[tuple[str, str], int] = {}
    tp: dict[tuple[str, str], int] = {}
    n_pred: dict[tuple[str, str], int] = {}
    fp: dict[tuple[str, str], int] = {}
    neg: dict[str, int] = dict.fromkeys(wanted, 0)
    neg_flagged: dict[str, int] = dict.fromkeys(wanted, 0)

    def bump(d: dict[tuple[str, str], int], kind: str, scheme: str, by: int = 1) -> None:
        d[(kind, "*")] = d.get((kind, "*"), 0) + by
        if kind in by_scheme:
            d[(kind, scheme)] = d.get((kind, scheme), 0) + by

    for i, raw in enumerate(records):
        rec = check_record(raw, f"record {i}")
        gold = [s for s in rec["spans"] if s["kind"] in wanted]
        preds = [f for f in find(rec["text"]) if f.kind in wanted]
        for g in gold:
            scheme = str(g.get("scheme", ""))
            bump(n_gold, g["kind"], scheme)
            hits = [p for p in preds if p.kind == g["kind"] and p.overlaps(g["start"], g["end"])]
            if hits:
                d = {(g["kind"], "*"): 1}
                if g["kind"] in by_scheme and any(p.scheme == scheme for p in hits):
                    d[(g["kind"], scheme)] = 1
                for key, v in d.items():
                    tp[key] = tp.get(key, 0) + v
        for p in preds:
            bump(n_pred, p.kind, p.scheme)
            same_kind = [g for g in gold if g["kind"] == p.kind and p.overlaps(g["start"], g["end"])]
            if not same_kind:
                bump(fp, p.kind, p.scheme)
            elif p.kind in by_scheme and not any(str(g.get("scheme", "")) == p.scheme for g in same_kind):
                fp[(p.kind, p.scheme)] = fp.get((p.kind, p.scheme), 0) + 1
        source = str(rec.get("source", ""))
        if source.startswith("negative:"):
            kind = source.split(":")[1]
            if kind in neg:
                neg[kind] += 1
                neg_flagged[kind] += any(p.kind == kind for p in preds)

    rows = []
    keys = sorted(set(n_gold) | set(n_pred), key=lambda k: (KINDS.index(k[0]), k[1] != "*", k[1]))
    keys = [(k, "*") for k in wanted if (k, "*") not in n_gold and (k, "*") not in n_pred] + keys
    keys.sort(key=lambda k: (KINDS.index(k[0]), k[1] != "*", k[1]))
    for key in keys:
        kind, scheme = key
        g, t = n_gold.get(key, 0), tp.get(key, 0)
        p, f = n_pred.get(key, 0), fp.get(key, 0)
        rec_v, rec_lo, rec_hi = _rate(t, g, confidence)
        pre_v, pre_lo, pre_hi = _rate(p - f, p, confidence)
        whole = scheme == "*"
        rows.append({"kind": kind, "scheme": scheme, "n_gold": g, "tp": t, "fn": g - t, "recall": rec_v,
                     "recall_low": rec_lo, "recall_high": rec_hi, "n_pred": p, "fp": f, "precision": pre_v,
                     "precision_low": pre_lo, "precision_high": pre_hi,
                     "neg_records": neg[kind] if whole else 0,
                     "neg_flagged": neg_flagged[kind] if whole else 0,
                     "confidence": confidence})
    return pd.DataFrame(rows, columns=list(COLUMNS))
