"""The model adapter contract: what a spec says about a model, and what assay asks of it.

A model in the spec either points at predictions someone else produced (``path``/``score``)
or carries an ``adapter:`` section, and assay runs the model itself. Every adapter turns a
DataFrame of feature columns into the numbers the task evaluates:

* binary: the probability of the positive class, shape ``(n,)``;
* multiclass: class probabilities in the evaluation's class order, shape ``(n, k)``;
* regression: the predicted value, shape ``(n,)``.

It reports a content fingerprint of its artifact (the file's bytes, the function's
source, or the endpoint and its declared version), which goes into the run record and
keys the prediction cache. ``deterministic`` says whether the same rows always give the
same answer (and errors), so that errors may be cached too; a remote endpoint is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

AdapterKind = Literal["auto", "skops", "joblib", "onnx", "function", "http"]


class AdapterSpec(BaseModel):
    """How to run a model: one of ``path`` (a skops, joblib/pickle or ONNX file),
    ``function`` (``module:function`` or ``file.py:function`` taking a DataFrame) or
    ``url`` (an HTTP JSON endpoint)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str | None = None
    function: str | None = None
    url: str | None = None
    #: ``auto`` reads it from the file suffix (.skops, .joblib/.pkl/.pickle, .onnx) or the key
    kind: AdapterKind = "auto"
    #: the columns given to the model, in order (default: every dataset column except the
    #: id, label and weight columns)
    features: list[str] | None = None
    #: ``proba``: predict_proba (classification); ``predict``: predict; ``auto``: proba for
    #: classification, predict for regression
    output: Literal["auto", "proba", "predict"] = "auto"
    #: joblib/pickle files run code when loaded: they load only with ``trust: true``
    trust: bool = False
    #: skops types to trust beyond skops' defaults, after reviewing them
    trusted_types: list[str] = Field(default_factory=list)
    #: ONNX: the output holding probabilities or values (default: the first float tensor
    #: with the right shape)
    onnx_output: str | None = None
    #: rows per call to the model (default: 8192 local, 256 over HTTP)
    batch_size: int | None = Field(default=None, ge=1)
    #: files whose bytes belong to the model besides ``path`` (e.g. weights a function
    #: loads); hashed into the fingerprint
    artifacts: list[str] = Field(default_factory=list)
    #: cache predictions on disk (see ``assay.models.PredictionCache``)
    cache: bool = True
    #: extra model calls per prediction pass spent isolating the rows a failing batch fails
    #: on (halving it); rows of chunks still failing when it is spent count as failed
    error_budget: int = Field(default=256, ge=0)
    # ---- HTTP endpoints --------------------------------------------------------------
    #: requests in flight at once
    concurrency: int = Field(default=4, ge=1, le=256)
    #: seconds per request
    timeout: float = Field(default=30.0, gt=0)
    #: retries of a request after a connection error, a timeout, 429 or a 5xx answer
    retries: int = Field(default=3, ge=0, le=20)
    headers: dict[str, str] = Field(default_factory=dict)
    #: the key of the request's row list and of the response's prediction list
    input_key: str = "instances"
    output_key: str = "predictions"
    #: the deployed model's version: part of the fingerprint. Without it an endpoint's
    #: predictions are not cached (the model behind a URL can change unseen)
    version: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> AdapterSpec:
        given = [k for k in ("path", "function", "url") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("an adapter needs exactly one of 'path' (a model file), 'function' "
                             f"('module:function') or 'url' (an HTTP endpoint); got {given or 'none'}")
        return self


@dataclass(frozen=True)
class OutputShape:
    """What the evaluation expects back: the task, its classes in order, and the positive
    class (binary)."""

    task: str
    classes: tuple[Any, ...] = ()
    positive: Any = None

    @property
    def width(self) -> int:
        """Columns per row: k for multiclass, else 1."""
        return len(self.classes) if self.task == "multiclass" else 1


@runtime_checkable
class ModelAdapter(Protocol):
    """A loaded model that predicts on DataFrames (see the module docstring)."""

    #: ``skops``, ``joblib``, ``onnx``, ``function`` or ``http``
    kind: str
    #: SHA-256 hex of the artifact's content (and, for functions, their source)
    fingerprint: str
    #: same rows, same answers and errors: predictions and errors may be cached
    deterministic: bool
    #: whether predictions may be cached at all (an unversioned endpoint may not)
    cacheable: bool
    #: the feature columns, in the order the model takes them
    features: list[str]
    #: a short description for reports ("skops file models/gbm.skops")
    description: str

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Predictions for every row of ``frame`` (columns = ``features``), float64 of shape
        ``(n,)`` or ``(n, k)``; raises on failure (the caller isolates the failing rows)."""
        ...
