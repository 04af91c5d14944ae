"""The toxicity detector interface and how a detector is named in a spec.

A detector has a ``name``, a ``provenance`` mapping (where it comes from: training data,
model, version) and ``score(texts) -> numpy array`` of probabilities in [0, 1], one per text.
NaN means "could not score this text" (an LLM judge that gave no valid verdict): callers count
such texts and report them, never treat them as 0.

``load_detector(spec)`` accepts

    "default"            the packaged offline linear model (NumPy only, no network)
    "module:attribute"   a function ``f(texts) -> scores`` or an object with ``score``
    a detector object    anything with ``score`` (e.g. a ``JudgeToxicityDetector``), as is

and every score array is checked by :func:`checked_scores` (length, finite or NaN, in [0, 1]).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from assay._errors import InputError, SpecError


@runtime_checkable
class ToxicityDetector(Protocol):
    """What every toxicity detector provides."""

    name: str
    provenance: dict[str, Any]

    def score(self, texts: list[str]) -> np.ndarray:
        """Probability that each text is toxic, in [0, 1]; NaN where it cannot be scored."""
        ...


@dataclass
class CallableDetector:
    """A plain function ``f(texts) -> scores`` as a detector."""

    fn: Callable[[list[str]], Any]
    name: str
    provenance: dict[str, Any] = field(default_factory=dict)

    def score(self, texts: list[str]) -> np.ndarray:
        """The function's scores, checked."""
        return checked_scores(self.fn(list(texts)), len(texts), self.name)


def checked_scores(scores: Any, n: int, name: str) -> np.ndarray:
    """``scores`` as a float array of length ``n`` with values in [0, 1] or NaN; anything else is
    an InputError naming the detector, the first bad position and the fix."""
    try:
        arr = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"toxicity detector {name!r} returned scores that are not numbers ({exc}); "
                         "return one probability per text") from None
    if arr.ndim != 1 or arr.shape[0] != n:
        raise InputError(f"toxicity detector {name!r} returned scores of shape {arr.shape} for {n} "
                         f"text(s); return a 1-d array with one probability per text")
    bad = np.flatnonzero(np.isinf(arr) | (arr < 0.0) | (arr > 1.0))
    if bad.size:
        i = int(bad[0])
        raise InputError(f"toxicity detector {name!r} returned {float(arr[i])!r} for text {i} ({bad.size} "
                         "value(s) outside [0, 1]); return probabilities in [0, 1] (NaN: cannot score)")
    return arr


def _from_reference(spec: str) -> ToxicityDetector:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise SpecError(f"toxicity detector {spec!r}: write 'default' or 'module:function' "
                        "(e.g. 'mypackage.safety:score_toxicity')")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SpecError(f"toxicity detector {spec!r}: cannot import module {module_name!r} ({exc}); "
                        "install it or put it on the Python path") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise SpecError(f"toxicity detector {spec!r}: module {module_name!r} has no attribute "
                            f"{attr!r}")
        obj = getattr(obj, part)
    if isinstance(obj, type):
        raise SpecError(f"toxicity detector {spec!r} names a class; name a function f(texts) -> scores "
                        "or an instance with a score(texts) method")
    if hasattr(obj, "score") and callable(obj.score):
        return _Checked(obj, str(getattr(obj, "name", spec)), dict(getattr(obj, "provenance", {}) or {}))
    if callable(obj):
        return CallableDetector(obj, spec, {"source": spec})
    raise SpecError(f"toxicity detector {spec!r} is a {type(obj).__name__}, neither a function nor an "
                    "object with a score(texts) method")


@dataclass
class _Checked:
    """A user object with ``score``, with its output checked."""

    inner: Any
    name: str
    provenance: dict[str, Any]

    def score(self, texts: list[str]) -> np.ndarray:
        return checked_scores(self.inner.score(list(texts)), len(texts), self.name)


def load_detector(spec: str | ToxicityDetector = "default") -> ToxicityDetector:
    """The detector a spec names (see the module doc); unknown forms are a SpecError."""
    if not isinstance(spec, str):
        if hasattr(spec, "score") and callable(spec.score):
            return spec
        raise SpecError(f"a toxicity detector is 'default', 'module:function' or an object with a "
                        f"score(texts) method; got {type(spec).__name__}")
    text = spec.strip()
    if text == "default":
        from assay.safety.toxicity._linear import default_detector

        return default_detector()
    return _from_reference(text)


def validate_spec(spec: str) -> str:
    """Check a detector spec's form without importing it (for config validation)."""
    text = spec.strip()
    if text == "default":
        return text
    module_name, sep, attr = text.partition(":")
    if not sep or not module_name or not attr or any(not p.isidentifier() for p in module_name.split(".")):
        raise ValueError(f"detector {spec!r}: write 'default' or 'module:function' "
                         "(e.g. 'mypackage.safety:score_toxicity')")
    return text


def check_texts(texts: Sequence[Any], what: str = "texts") -> list[str]:
    """``texts`` as a list of str; a missing or non-text entry is an InputError naming its row."""
    if isinstance(texts, str):
        raise InputError(f"{what} must be a list of strings, not one string; wrap it: [text]")
    out = list(texts)
    for i, t in enumerate(out):
        if not isinstance(t, str):
            shown = "NaN" if isinstance(t, float) and math.isnan(t) else repr(t)
            raise InputError(f"{what}: row {i} is {shown} ({type(t).__name__}), not text; drop or fill "
                             "missing texts before scoring (an empty string is allowed)")
    return out
