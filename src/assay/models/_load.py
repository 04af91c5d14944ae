"""Turn an ``adapter:`` section of the spec into a loaded model.

The kind is ``spec.kind``, or read from the source: a ``path`` by its suffix (``.skops``;
``.joblib``, ``.pkl``, ``.pickle``; ``.onnx``), a ``function`` or a ``url``. Paths resolve
against the spec's folder. HTTP endpoints live in ``assay.models._http``, imported only
when a spec names one.
"""

from __future__ import annotations

from pathlib import Path

from assay._errors import InputError
from assay.models._adapter import AdapterSpec, ModelAdapter, OutputShape

SUFFIXES = {".skops": "skops", ".joblib": "joblib", ".pkl": "joblib", ".pickle": "joblib",
            ".onnx": "onnx"}
#: the source key each kind needs
SOURCE = {"skops": "path", "joblib": "path", "onnx": "path", "function": "function", "http": "url"}


def adapter_kind(spec: AdapterSpec, where: str) -> str:
    """The adapter's kind: ``spec.kind``, or read from the suffix of ``path`` or the key given."""
    if spec.kind != "auto":
        key = SOURCE[spec.kind]
        if getattr(spec, key) is None:
            raise InputError(f"{where}.kind: {spec.kind!r} needs '{key}'; the adapter gives "
                             f"{'path' if spec.path else 'function' if spec.function else 'url'}")
        return spec.kind
    if spec.url:
        return "http"
    if spec.function:
        return "function"
    assert spec.path is not None
    suffix = Path(spec.path).suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(f"{where}.path: cannot tell the model kind of {spec.path!r} from its suffix; "
                         f"use one of {', '.join(SUFFIXES)} or set {where}.kind "
                         "(skops, joblib, onnx)")
    return SUFFIXES[suffix]


def load_adapter(spec: AdapterSpec, shape: OutputShape, *, features: list[str], base_dir: Path,
                 where: str) -> ModelAdapter:
    """Load the model an adapter section describes; ``where`` names it in errors
    (e.g. ``models.gbm.adapter``) and ``features`` are the columns it will be given."""
    from assay.models import _local

    base = Path(base_dir)
    kind = adapter_kind(spec, where)
    if kind == "http":
        try:
            from assay.models._http import HttpAdapter
        except ImportError as exc:
            raise InputError(f"{where}.url: HTTP model endpoints need httpx ({exc}); "
                             "pip install 'assay[llm]' or pip install httpx") from None
        return HttpAdapter(spec, shape, list(features), where)
    loaders = {"skops": _local.load_skops, "joblib": _local.load_joblib, "onnx": _local.load_onnx,
               "function": _local.load_function}
    return loaders[kind](spec, shape, list(features), base, where)
