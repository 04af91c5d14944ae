"""Sources: read the evaluation rows and predictions, validate them, count exclusions;
example rows for reports with the spec's privacy rules applied."""

from assay.data._examples import Redactor, example_rows
from assay.data._fingerprint import file_sha256, input_fingerprints, path_sha256
from assay.data._profile import profile
from assay.data._sources import EvalRows, load_rows

__all__ = ["EvalRows", "Redactor", "example_rows", "file_sha256", "input_fingerprints", "load_rows",
           "path_sha256", "profile"]
