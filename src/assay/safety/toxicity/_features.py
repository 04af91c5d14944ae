"""Hashed word and character n-gram features, identical at training and at run time.

Method. A text is prepared (HTML entities decoded, lower case, URLs, @mentions and the token
``rt`` removed (with the colon of ``@user:``), whitespace collapsed), then hashed into ``2**bits`` columns:

* word n-grams (``word_ngrams``, default 1..2) of the tokens ``\\w+('\\w+)?``, each the UTF-8
  bytes of the space-joined words;
* character n-grams (``char_ngrams``, default 3..5) of the UTF-8 bytes of ``" " + text + " "``
  (byte n-grams: emoji and accented letters are split into bytes, the same way every time).

The column of an n-gram is ``zlib.crc32(bytes, namespace) mod 2**bits``, with a different
starting value (namespace) per n-gram family, so a word and a character trigram with the same
bytes land in different columns. CRC-32 is a fixed function (not Python's salted ``hash``), so
training and scoring featurise identically on every machine and run. A cell's value is the
sublinear count ``1 + ln(count)``, and each row is scaled to unit L2 norm. A text with no
n-grams (empty, or whitespace only) has an all-zero row and is reported by ``featureless``.
"""

from __future__ import annotations

import html
import re
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

#: bumped when the featurisation changes: weights trained under another version do not apply
FEATURE_VERSION = 1
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"@\w+:?")
_RT = re.compile(r"\brt\b")
_WORD = re.compile(r"\w+(?:'\w+)?")
_WORD_NS = 0x5EED0000  # + n: the crc32 starting value of word n-grams
_CHAR_NS = 0xC4A20000  # + n: the crc32 starting value of character n-grams


@dataclass(frozen=True)
class FeatureSpec:
    """What the featuriser does; stored with the weights and checked when they are loaded."""

    bits: int = 18
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (3, 5)
    version: int = FEATURE_VERSION

    def __post_init__(self) -> None:
        if not 10 <= self.bits <= 24:
            raise ValueError(f"FeatureSpec.bits must be between 10 and 24, got {self.bits}")
        for what, (lo, hi) in (("word_ngrams", self.word_ngrams), ("char_ngrams", self.char_ngrams)):
            if not 1 <= lo <= hi <= 8:
                raise ValueError(f"FeatureSpec.{what} must be (low, high) with 1 <= low <= high <= 8, "
                                 f"got {(lo, hi)}")

    @property
    def n_features(self) -> int:
        """The number of hashed columns, ``2**bits``."""
        return 1 << self.bits

    def to_dict(self) -> dict[str, object]:
        """The spec as JSON-ready values (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> FeatureSpec:
        """Rebuild a spec from :meth:`to_dict`."""
        return cls(bits=int(raw["bits"]),  # type: ignore[call-overload]
                   word_ngrams=tuple(raw["word_ngrams"]),  # type: ignore[arg-type]
                   char_ngrams=tuple(raw["char_ngrams"]),  # type: ignore[arg-type]
                   version=int(raw["version"]))  # type: ignore[call-overload]


def prepare(text: str) -> str:
    """The text the n-grams are taken from: entities decoded, lower case, URLs, @mentions and
    ``rt`` removed, whitespace collapsed."""
    t = html.unescape(text).lower()
    t = _URL.sub(" ", t)
    t = _MENTION.sub(" ", t)
    t = _RT.sub(" ", t)
    return " ".join(t.split())


def ngram_hashes(text: str, spec: FeatureSpec) -> list[int]:
    """The unreduced CRC-32 of every n-gram of ``text`` (with repeats), in a fixed order."""
    t = prepare(text)
    if not t:
        return []
    crc = zlib.crc32
    out: list[int] = []
    words = [w.encode("utf-8") for w in _WORD.findall(t)]
    lo, hi = spec.word_ngrams
    for n in range(lo, hi + 1):
        ns = _WORD_NS + n
        if n == 1:
            out.extend(crc(w, ns) for w in words)
        else:
            out.extend(crc(b" ".join(words[i:i + n]), ns) for i in range(len(words) - n + 1))
    data = b" " + t.encode("utf-8") + b" "
    lo, hi = spec.char_ngrams
    for n in range(lo, hi + 1):
        ns = _CHAR_NS + n
        out.extend(crc(data[i:i + n], ns) for i in range(len(data) - n + 1))
    return out


@dataclass(frozen=True)
class Features:
    """A sparse matrix in coordinate form, one cell per (row, column) pair, sorted by row then
    column: the shape ``(n_rows, n_features)`` and the rows without any n-gram."""

    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    n_rows: int
    n_features: int

    @property
    def featureless(self) -> np.ndarray:
        """Boolean per row: True when the text produced no n-gram (its row is all zero)."""
        return np.bincount(self.rows, minlength=self.n_rows) == 0


def featurize(texts: Sequence[str], spec: FeatureSpec) -> Features:
    """Hash ``texts`` into sublinear-count, L2-normalised features (see the module doc)."""
    hashes: list[int] = []
    lengths = np.zeros(len(texts), dtype=np.int64)
    for i, text in enumerate(texts):
        got = ngram_hashes(text, spec)
        lengths[i] = len(got)
        hashes.extend(got)
    d = spec.n_features
    cols_all = np.fromiter(hashes, dtype=np.int64, count=len(hashes)) & (d - 1)
    rows_all = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
    keys, counts = np.unique(rows_all * d + cols_all, return_counts=True)
    rows = keys // d
    cols = keys - rows * d
    values = 1.0 + np.log(counts.astype(np.float64))
    norms = np.sqrt(np.bincount(rows, weights=values * values, minlength=len(texts)))
    if len(values):
        values = values / norms[rows]
    return Features(rows, cols, values, len(texts), d)
