"""What quality examples may show: the spec's privacy rules, applied before any artifact.

Hidden columns (``privacy.hide``, and the id unless ``privacy.show_id``) never show their
values; hashed columns (``privacy.hash``) show their keyed hash when ``$ASSAY_HASH_KEY`` is
set and are withheld otherwise (a hash under a fresh per-run key would differ on every
run, so reruns could not be compared). Rows are named by their 1-based number in the
dataset's scan order, or by id where the id may be shown.
"""

from __future__ import annotations

from typing import Any

from assay.data._examples import Redactor
from assay.spec import EvalSpec

#: the relation that numbers a view's rows (1-based, in scan order) as ``__qrow``
NUMBERED = "(SELECT row_number() OVER () AS __qrow, * FROM {view})"
WITHHELD = "(withheld)"


class Shown:
    """Which values and row names a quality example may show under a spec's privacy rules."""

    def __init__(self, spec: EvalSpec) -> None:
        hidden = set(spec.privacy.hide)
        if spec.id and not spec.privacy.show_id:
            hidden.add(spec.id)
        self.redactor = Redactor(hidden, set(spec.privacy.hash))
        self.limit = spec.privacy.examples
        self.id = spec.id if spec.id and self.visible(spec.id) else None

    def visible(self, column: str) -> bool:
        """Whether the column's values (or their stable keyed hash) may appear."""
        r = self.redactor
        return column not in r.hidden and (column not in r.hashed or r.keyed)

    def value(self, column: str, value: Any) -> str:
        if not self.visible(column):
            return WITHHELD
        if value is None:
            return "null"
        return self.redactor.value(column, value)

    def row(self, number: int, ident: Any = None) -> str:
        """A row's name: ``id C123`` where the id may be shown, else ``row 17``."""
        if self.id is not None and ident is not None:
            return f"id {self.redactor.value(self.id, ident)}"
        return f"row {number}"

    def row_select(self) -> str:
        """Select items naming a row: its number, and its id where the id may be shown."""
        from assay.data._files import quote_ident

        return "__qrow" + (f", {quote_ident(self.id)}::VARCHAR" if self.id else ", NULL")
