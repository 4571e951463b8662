"""Cells of every CSV export, safe to open in a spreadsheet.

A cell whose text starts with = + - @ (or a tab or carriage return, which
spreadsheets skip before reading the formula) is run as a formula by Excel,
LibreOffice and WPS: a department or case name such as
`=HYPERLINK("http://…")` would act when an officer opens the file (OWASP
"CSV injection"). A leading apostrophe makes the spreadsheet show the text.
"""

from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """`value` as text for a CSV cell, a leading apostrophe before a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_row(values: Iterable) -> list[str]:
    """Every cell of a row through csv_cell: no export leaves one raw."""
    return [csv_cell(value) for value in values]
