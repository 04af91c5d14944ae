"""Sources: read the evaluation rows and predictions, validate them, count exclusions."""

from assay.data._sources import EvalRows, load_rows

__all__ = ["EvalRows", "load_rows"]
