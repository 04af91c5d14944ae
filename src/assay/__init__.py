"""assay: evaluate ML models with confidence intervals, slices and release gates."""

from assay._errors import AssayError, InputError, SpecError
from assay.api import evaluate
from assay.compare import register_paired
from assay.gates import Verdict, register_rule
from assay.metrics import all_metrics, get_task, register_task, task_names
from assay.results import EvaluationResult
from assay.spec import EvalSpec, load_spec, parse_spec
from assay.store import open_store

__version__ = "0.1.0"

__all__ = [
    "AssayError",
    "EvalSpec",
    "EvaluationResult",
    "InputError",
    "SpecError",
    "Verdict",
    "__version__",
    "all_metrics",
    "evaluate",
    "get_task",
    "load_spec",
    "open_store",
    "parse_spec",
    "register_paired",
    "register_rule",
    "register_task",
    "task_names",
]
