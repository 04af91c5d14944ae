"""Text perturbations on string columns: typos, case, whitespace and character noise.

* typos: each word (a run of two or more letters) gets a typo with probability ``rate``:
  swap two adjacent different letters, drop a letter, double a letter, or replace a letter
  by a neighbour on a QWERTY keyboard (keeping its case). Every typo changes the word and
  leaves the whitespace alone, so the words of a text stay aligned.
* case: ``str.upper``/``lower``/``title``, or each character upper or lower at random.
* whitespace: after each whitespace character, with probability ``rate``, one more
  (space, space, tab or newline), and with probability ``rate`` each a leading and a
  trailing space.
* char_noise: each character, with probability ``rate``, is deleted, replaced by a
  different random letter or digit, or preceded by an inserted one (a third each).

Character-level kinds work on all selected texts at once as one array of code points
(UTF-32); typos loop over the texts that get one. Missing text stays missing.
"""

from __future__ import annotations

import re
import string
from functools import cache

import numpy as np
import pandas as pd

from assay.robustness._specs import CaseChange, CharNoise, Typos, Whitespace
from assay.robustness._util import Effect, column_rng, missing_mask, replace_at

WORD = re.compile(r"[^\W\d_]{2,}")
ALPHABET = np.frombuffer((string.ascii_letters + string.digits).encode("utf-32-le"), dtype=np.uint32)
#: space twice: an extra space is the commonest whitespace slip
EXTRA_WS = np.array([ord(" "), ord(" "), ord("\t"), ord("\n")], dtype=np.uint32)
#: code points that ``str.isspace`` accepts (all lie below U+3001; the last entry stands
#: for every code point above)
_SPACE = np.array([chr(c).isspace() for c in range(0x3001)] + [False], dtype=bool)


def _qwerty() -> dict[str, str]:
    rows = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
    out: dict[str, str] = {}
    for r, keys in enumerate(rows):
        for i, ch in enumerate(keys):
            near = [keys[j] for j in (i - 1, i + 1) if 0 <= j < len(keys)]
            if r > 0:
                near += [rows[r - 1][j] for j in (i, i + 1) if 0 <= j < len(rows[r - 1])]
            if r < len(rows) - 1:
                near += [rows[r + 1][j] for j in (i - 1, i) if 0 <= j < len(rows[r + 1])]
            out[ch] = "".join(sorted(near))
    return out


QWERTY = _qwerty()


def _texts(s: pd.Series, rows: np.ndarray, column: str, notes: list[str]) -> tuple[np.ndarray, list[str]]:
    vals = s.iloc[rows]
    na = missing_mask(vals)
    if na.any():
        notes.append(f"{column}: {int(na.sum())} selected text(s) missing, left missing")
    return rows[~na], [str(v) for v in vals.to_numpy(dtype=object)[~na]]


def _encode(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    codes = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return codes, lengths


def _decode(codes: np.ndarray, lengths: np.ndarray) -> list[str]:
    big = np.ascontiguousarray(codes, dtype=np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
    ends = np.cumsum(lengths)
    return [big[a:b] for a, b in zip((ends - lengths).tolist(), ends.tolist(), strict=True)]


def _per_text(positions: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """How many of the (sorted) code point ``positions`` fall in each text."""
    ends = np.cumsum(lengths)
    return np.searchsorted(positions, ends, side="left") - np.searchsorted(positions, ends - lengths,
                                                                              side="left")


@cache
def _letter_table() -> np.ndarray:
    """Per code point of the Basic Multilingual Plane: a letter in the sense of ``WORD``."""
    one = re.compile(r"[^\W\d_]")
    return np.fromiter((one.match(chr(c)) is not None for c in range(0x10000)), dtype=bool, count=0x10000)


def _is_letter(codes: np.ndarray) -> np.ndarray:
    table = _letter_table()
    small = codes < 0x10000
    out = np.zeros(codes.size, dtype=bool)
    out[small] = table[codes[small]]
    if not small.all():
        big = codes[~small]
        uniq = np.unique(big)
        hit = np.array([re.fullmatch(r"[^\W\d_]", chr(int(u))) is not None for u in uniq])
        out[~small] = hit[np.searchsorted(uniq, big)]
    return out


def _is_space(codes: np.ndarray) -> np.ndarray:
    return _SPACE[np.minimum(codes, len(_SPACE) - 1)]


def _words(codes: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (global code point offsets) of every ``WORD`` match: maximal runs of two
    or more letters, never across texts."""
    letter = _is_letter(codes)
    ends = np.cumsum(lengths)
    starts = (ends - lengths)[lengths > 0]
    edge = np.zeros(codes.size + 1, dtype=bool)
    edge[starts] = True
    edge[-1] = True
    prev = np.concatenate([[False], letter[:-1]])
    nxt = np.concatenate([letter[1:], [False]])
    begin = np.flatnonzero(letter & (~prev | edge[:-1]))
    end = np.flatnonzero(letter & (~nxt | edge[1:])) + 1
    keep = end - begin >= 2
    return begin[keep], end[keep]


def _write(eff: Effect, s: pd.Series, column: str, pos: np.ndarray, texts: list[str]) -> None:
    out, note = replace_at(s, pos, np.array(texts, dtype=object))
    eff.columns[column] = out
    if note:
        eff.notes.append(note)


def _typo(word: str, op: int, u1: float, u2: float) -> str:
    n = len(word)
    if op == 0:
        cand = [i for i in range(n - 1) if word[i] != word[i + 1]]
        if cand:
            i = cand[int(u1 * len(cand))]
            return word[:i] + word[i + 1] + word[i] + word[i + 2:]
        op = 2
    if op == 3:
        cand = [i for i, ch in enumerate(word) if ch.lower() in QWERTY]
        if cand:
            i = cand[int(u1 * len(cand))]
            near = QWERTY[word[i].lower()]
            new = near[int(u2 * len(near))]
            return word[:i] + (new.upper() if word[i].isupper() else new) + word[i + 1:]
        op = 1
    i = int(u1 * n)
    if op == 1:
        return word[:i] + word[i + 1:]
    return word[:i + 1] + word[i] + word[i + 1:]


def typos(spec: Typos, frame: pd.DataFrame, cols: list[str], rows: np.ndarray,
        words: list[int]) -> Effect:
    """A typo in each word with probability ``rate``."""
    eff = Effect()
    for c in cols:
        s = frame[c]
        pos, texts = _texts(s, rows, c, eff.notes)
        codes, lengths = _encode(texts)
        begin, end = _words(codes, lengths)
        rng = column_rng(words, c)
        hits = np.flatnonzero(rng.random(begin.size) < spec.rate)
        ops = rng.integers(0, 4, size=hits.size).tolist()
        u1 = rng.random(hits.size).tolist()
        u2 = rng.random(hits.size).tolist()
        text_end = np.cumsum(lengths)
        owner = np.searchsorted(text_end, begin[hits], side="right")
        offset = (text_end - lengths)[owner]
        b_local, e_local = (begin[hits] - offset).tolist(), (end[hits] - offset).tolist()
        out = list(texts)
        bounds = np.flatnonzero(np.diff(owner, prepend=-1, append=len(texts) + 1)).tolist()
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            r = int(owner[a])
            t = texts[r]
            pieces, last = [], 0
            for j in range(a, b):
                pieces += [t[last:b_local[j]], _typo(t[b_local[j]:e_local[j]], ops[j], u1[j], u2[j])]
                last = e_local[j]
            pieces.append(t[last:])
            out[r] = "".join(pieces)
        eff.notes.append(f"{c}: typos in {hits.size} of {begin.size} words")
        _write(eff, s, c, pos, out)
    return eff


def case(spec: CaseChange, frame: pd.DataFrame, cols: list[str], rows: np.ndarray,
        words: list[int]) -> Effect:
    """Upper, lower, title or random case."""
    eff = Effect()
    for c in cols:
        s = frame[c]
        pos, texts = _texts(s, rows, c, eff.notes)
        if spec.mode == "upper":
            out = [t.upper() for t in texts]
        elif spec.mode == "lower":
            out = [t.lower() for t in texts]
        elif spec.mode == "title":
            out = [t.title() for t in texts]
        else:
            out = _random_case(texts, column_rng(words, c))
        _write(eff, s, c, pos, out)
    return eff


def _random_case(texts: list[str], rng: np.random.Generator) -> list[str]:
    big = "".join(texts)
    flips = rng.random(len(big)) < 0.5
    up, low = big.upper(), big.lower()
    if len(up) == len(big) == len(low):
        cu, _ = _encode([up])
        cl, _ = _encode([low])
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        return _decode(np.where(flips, cu, cl), lengths)
    out, at = [], 0  # a character whose case change is longer (e.g. ß -> SS): per character
    for t in texts:
        f = flips[at:at + len(t)]
        out.append("".join(ch.upper() if x else ch.lower() for ch, x in zip(t, f, strict=True)))
        at += len(t)
    return out


def whitespace(spec: Whitespace, frame: pd.DataFrame, cols: list[str], rows: np.ndarray,
               words: list[int]) -> Effect:
    """Extra whitespace between words, and leading and trailing spaces."""
    eff = Effect()
    for c in cols:
        s = frame[c]
        pos, texts = _texts(s, rows, c, eff.notes)
        rng = column_rng(words, c)
        codes, lengths = _encode(texts)
        hit = np.flatnonzero((rng.random(codes.size) < spec.rate) & _is_space(codes))
        extra = EXTRA_WS[rng.integers(0, len(EXTRA_WS), size=hit.size)]
        spaced = _decode(np.insert(codes, hit + 1, extra), lengths + _per_text(hit, lengths))
        lead = rng.random(len(texts)) < spec.rate
        trail = rng.random(len(texts)) < spec.rate
        for i in np.flatnonzero(lead | trail).tolist():
            spaced[i] = (" " if lead[i] else "") + spaced[i] + (" " if trail[i] else "")
        _write(eff, s, c, pos, spaced)
    return eff


def char_noise(spec: CharNoise, frame: pd.DataFrame, cols: list[str], rows: np.ndarray,
               words: list[int]) -> Effect:
    """Random character deletions, replacements and insertions."""
    eff = Effect()
    for c in cols:
        s = frame[c]
        pos, texts = _texts(s, rows, c, eff.notes)
        rng = column_rng(words, c)
        codes, lengths = _encode(texts)
        h = np.flatnonzero(rng.random(codes.size) < spec.rate)
        op = rng.integers(0, 3, size=h.size)  # 0 delete, 1 replace, 2 insert before
        pick = rng.integers(0, len(ALPHABET), size=h.size)
        chars = ALPHABET[pick]
        same = (op == 1) & (chars == codes[h])
        chars[same] = ALPHABET[(pick[same] + 1) % len(ALPHABET)]
        edited = codes.copy()
        edited[h[op == 1]] = chars[op == 1]
        ins, dele = h[op == 2], h[op == 0]
        edited = np.insert(edited, ins, chars[op == 2])
        # an original position p moved right by the insertions at or before it
        edited = np.delete(edited, dele + np.searchsorted(ins, dele, side="right"))
        new_lengths = lengths + _per_text(ins, lengths) - _per_text(dele, lengths)
        eff.notes.append(f"{c}: {h.size} of {codes.size} characters edited")
        _write(eff, s, c, pos, _decode(edited, new_lengths))
    return eff
