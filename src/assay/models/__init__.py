"""Models in the loop: adapters that turn a model into predictions, the on-disk prediction
cache, the predictor that ties them together, and latency measurement.

    spec ``adapter:`` section --load_adapter--> ModelAdapter (skops, joblib, onnx,
    function, http) --Predictor(cache=PredictionCache)--> Predictions
"""

from assay.models._adapter import AdapterSpec, ModelAdapter, OutputShape
from assay.models._cache import PredictionCache, default_cache_dir, model_key, row_hashes
from assay.models._latency import LatencyProfile, bulk_throughput, measure_latency
from assay.models._load import load_adapter
from assay.models._predict import Predictions, Predictor

__all__ = [
    "AdapterSpec",
    "LatencyProfile",
    "ModelAdapter",
    "OutputShape",
    "PredictionCache",
    "Predictions",
    "Predictor",
    "bulk_throughput",
    "default_cache_dir",
    "load_adapter",
    "measure_latency",
    "model_key",
    "row_hashes",
]
