"""Text normalisation for near-duplicate matching, and the grouped, deterministic train/test split.

Near duplicates in tweet data are mostly the same text retweeted, quoted or truncated, with
different case, URLs, @mentions, HTML entities, punctuation or whitespace. Two texts are in one
group when they share any *matching key* (the groups are the connected components):

* the full normalised text: HTML entities decoded, lower case, URLs, @mentions and the token
  ``rt`` removed, every run of non-alphanumeric characters (punctuation, emoji, underscores)
  made one space, trimmed;
* the first ``PREFIX_WORDS`` (8) words of the normalised text, when it has that many (a retweet
  cut at 140 characters, or quoted with a comment after it);
* the same two keys of every quoted or retweeted segment (the text after ``RT @user:`` or
  ``"@user:``), so a comment before a quote does not hide it.

The split puts a whole group on one side: a group is held out when the first 8 hex digits of
``sha256(representative)``, read as an integer, are below ``test_percent``% of 16^8 (the
representative is the group's smallest full-normalised key, so the rule does not depend on row
order). It is a pure function of the texts: the same texts give the same split on any machine.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Sequence

import numpy as np

PREFIX_WORDS = 8
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"@\w+")
_RT = re.compile(r"\brt\b")
_NON_ALNUM = re.compile(r"[\W_]+")
_QUOTE_START = re.compile(r"(?:\brt\s+@\w+:?|[\"\u201c]\s*@\w+:?)", re.IGNORECASE)
_HEX = 16 ** 8


def normalize_for_matching(text: str) -> str:
    """The text with the differences that do not make a new text removed (case, URLs,
    @mentions, ``RT``, HTML entities, punctuation, emoji, whitespace): the key of exact
    near-duplicate matching."""
    t = html.unescape(text).lower()
    t = _URL.sub(" ", t)
    t = _MENTION.sub(" ", t)
    t = _RT.sub(" ", t)
    t = _NON_ALNUM.sub(" ", t)
    return " ".join(t.split())


def _keys_of(normalised: str) -> set[str]:
    if not normalised:
        return set()
    words = normalised.split()
    keys = {"f:" + normalised}
    if len(words) >= PREFIX_WORDS:
        keys.add("p:" + " ".join(words[:PREFIX_WORDS]))
    return keys


def matching_keys(text: str) -> set[str]:
    """Every key by which ``text`` is matched with its near duplicates (see the module doc).
    An empty set when the text has no letters or digits."""
    keys = _keys_of(normalize_for_matching(text))
    segments = _QUOTE_START.split(html.unescape(text))
    for segment in segments[1:]:
        keys |= _keys_of(normalize_for_matching(segment))
    return keys


def near_duplicate_groups(texts: Sequence[str]) -> list[str]:
    """For each text, its group's representative: the smallest full-normalised key among the
    texts connected to it by a shared matching key. A text without letters or digits is its
    own group (represented by its exact text, prefixed ``x:``)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        root = x
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    per_text: list[list[str]] = []
    for text in texts:
        keys = sorted(matching_keys(text)) or ["x:" + text]
        per_text.append(keys)
        for k in keys[1:]:
            union(keys[0], k)
    # the representative: the smallest full key ("f:" sorts before "p:") of the component
    best: dict[str, str] = {}
    for keys in per_text:
        root = find(keys[0])
        for k in keys:
            if k.startswith(("f:", "x:")) and (root not in best or k < best[root]):
                best[root] = k
    return [best.get(find(keys[0]), find(keys[0])) for keys in per_text]


def heldout_mask(texts: Sequence[str], test_percent: int = 20) -> np.ndarray:
    """Boolean array, True for the held-out (test) texts, by the grouped hash rule of the module
    doc: near duplicates always fall on the same side, and the rule is independent of order."""
    if not 0 < test_percent < 100:
        raise ValueError(f"test_percent must be between 1 and 99, got {test_percent}")
    cut = _HEX * test_percent // 100
    reps = near_duplicate_groups(texts)
    decided: dict[str, bool] = {}
    out = np.zeros(len(reps), dtype=bool)
    for i, rep in enumerate(reps):
        if rep not in decided:
            digest = hashlib.sha256(rep.encode("utf-8")).hexdigest()
            decided[rep] = int(digest[:8], 16) < cut
        out[i] = decided[rep]
    return out


def texts_digest(texts: Sequence[str]) -> str:
    """sha256 of the texts in order, each UTF-8 encoded and followed by a NUL byte: a fingerprint
    of exactly which texts (and in which order) a model was trained or measured on."""
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()
