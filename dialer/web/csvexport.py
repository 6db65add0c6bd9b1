"""CSV the API hands out, made safe to open in a spreadsheet (no formula injection)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

# A cell starting with one of these is read as a formula by Excel, LibreOffice and Sheets
# (tab and carriage return too, once the spreadsheet strips them). OWASP's advice: prefix a quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> str:
    """The cell as text, with a leading `'` when a spreadsheet would run it as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A CSV document (header + rows) with every cell, header included, neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralise_cell(c) for c in columns])
    for row in rows:
        writer.writerow([neutralise_cell(v) for v in row])
    return out.getvalue()
