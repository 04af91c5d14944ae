"""Error-rate gaps across groups of texts, on a documented proxy grouping only.

The one grouping shipped is a **proxy**, not a demographic label: ``dialect_marker_proxy``
puts a text in group ``"marker"`` when it contains at least one word from ``DIALECT_MARKERS``,
a short list of non-standard spellings frequent in social-media African-American English
(after Blodgett, Green and O'Connor 2016, "Demographic Dialectal Variation in Social Media"),
and in ``"rest"`` otherwise. Words are the lower-case tokens ``[a-z']+`` with apostrophes
removed. Slurs and profanity are deliberately not markers (they would tie the group to the
label), and neither are spellings shared by most informal English (``u``, ``tho``, ``cuz``,
``ain't``, ``y'all``). The proxy is crude: it misses most AAE text (no marker spelled out), it
catches speakers of other varieties, and it says nothing about who wrote a text.

:func:`group_error_rates` reports, per group, the false positive rate (flagged among the texts
labelled non-toxic) and the false negative rate (missed among those labelled toxic), each with
a Wilson interval, and the gap of every group to the reference group with Newcombe's hybrid
score interval (method 10). Texts scored NaN are excluded and counted in ``excluded``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from assay._errors import InputError
from assay.safety.toxicity._detector import check_texts, checked_scores
from assay.safety.toxicity._measure import check_labels
from assay.stats import newcombe_difference, wilson_interval

#: orthographic markers of the dialect proxy (see the module doc); matched as whole words
DIALECT_MARKERS: tuple[str, ...] = ("betta", "bouta", "boutta", "bruh", "da", "dat", "dem", "den", "dis",
                                    "finna", "gon", "ima", "imma", "ion", "lil", "thang", "tryna", "wit")
PROXY_NAME = "dialect-marker proxy (orthographic markers; not a demographic label)"
GROUP_COLUMNS = ["group", "metric", "value", "ci_low", "ci_high", "n", "method"]
_TOKEN = re.compile(r"[a-z'\u2019]+")
_MARKERS = frozenset(DIALECT_MARKERS)


def dialect_markers_in(text: str) -> list[str]:
    """The proxy's marker words found in ``text``, in order of appearance (repeats kept)."""
    words = (w.replace("'", "").replace("\u2019", "") for w in _TOKEN.findall(text.lower()))
    return [w for w in words if w in _MARKERS]


def dialect_marker_proxy(texts: Sequence[str]) -> np.ndarray:
    """``"marker"`` or ``"rest"`` per text: the documented proxy grouping (not a demographic label)."""
    texts = check_texts(texts)
    return np.array(["marker" if dialect_markers_in(t) else "rest" for t in texts], dtype=object)


def group_error_rates(scores: Any, labels: Any, groups: Any, *, threshold: float = 0.5,
                      confidence: float = 0.95, reference: str | None = None) -> pd.DataFrame:
    """Per-group false positive and false negative rates with Wilson intervals, and each group's
    gap to ``reference`` (default ``"rest"`` when present, else the largest group) with Newcombe
    intervals. Long format: group, metric (fpr, fnr, fpr_gap, fnr_gap, excluded), value, ci_low,
    ci_high, n, method."""
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    s = checked_scores(s, s.shape[0], "scores")
    y = check_labels(labels, s.shape[0])
    g = np.asarray(groups, dtype=object).reshape(-1)
    if g.shape[0] != s.shape[0]:
        raise InputError(f"groups: {g.shape[0]} group values for {s.shape[0]} scores; give one per text")
    missing = [i for i, v in enumerate(g) if not isinstance(v, str)]
    if missing:
        raise InputError(f"groups: row {missing[0]} is {g[missing[0]]!r}; every text needs a group name "
                         f"({len(missing)} row(s) without one)")
    names = sorted(set(g.tolist()))
    if not names:
        raise InputError("groups: no texts to group")
    if reference is None:
        reference = "rest" if "rest" in names else max(names, key=lambda k: (int(np.sum(g == k)), k))
    if reference not in names:
        raise InputError(f"reference group {reference!r} is not among the groups: {', '.join(names)}")
    scored = ~np.isnan(s)
    flag = s >= threshold
    rows: list[dict[str, Any]] = []
    rates: dict[str, dict[str, tuple[float, int]]] = {}
    for name in names:
        in_g = (g == name) & scored
        neg, pos = in_g & ~y, in_g & y
        n_neg, n_pos = int(neg.sum()), int(pos.sum())
        fp, fn = int((flag & neg).sum()), int((~flag & pos).sum())
        rates[name] = {}
        for metric, k, n in (("fpr", fp, n_neg), ("fnr", fn, n_pos)):
            p = k / n if n else float("nan")
            ci = wilson_interval(p, n, confidence)
            rates[name][metric] = (p, n)
            rows.append({"group": name, "metric": metric, "value": p, "ci_low": ci.low, "ci_high": ci.high,
                         "n": n, "method": "wilson"})
        rows.append({"group": name, "metric": "excluded", "value": float(((g == name) & ~scored).sum()),
                     "ci_low": float("nan"), "ci_high": float("nan"), "n": int((g == name).sum()),
                     "method": "count of texts scored NaN"})
    for name in names:
        if name == reference:
            continue
        for metric in ("fpr", "fnr"):
            p1, n1 = rates[name][metric]
            p2, n2 = rates[reference][metric]
            if n1 and n2:
                ci = newcombe_difference(p1, n1, p2, n2, confidence)
                value, low, high = p1 - p2, ci.low, ci.high
            else:
                value = low = high = float("nan")
            rows.append({"group": f"{name} - {reference}", "metric": f"{metric}_gap", "value": value,
                         "ci_low": low, "ci_high": high, "n": n1 + n2, "method": "newcombe"})
    return pd.DataFrame(rows, columns=GROUP_COLUMNS)
