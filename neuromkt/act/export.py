"""Safe CSV downloads: tables a marketer opens in Excel or Google Sheets.

A cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return) is
run as a formula by spreadsheet programs, so a hostile headline such as
``=HYPERLINK("http://evil", "click")`` would become a live link. Such text cells get
a leading apostrophe, which spreadsheets show as plain text. Numbers are left alone
(``-0.5`` stays a number).
"""

from __future__ import annotations

import pandas as pd

__all__ = ["neutralise_formulas", "to_csv_bytes"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _neutral(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names cannot run as formulas.

    Args:
        frame: any table.

    Returns:
        The same table; text that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
        carriage return gets a leading apostrophe. Numeric columns are unchanged.
    """
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
            out[column] = series.astype(object).map(_neutral)
    out.columns = [_neutral(str(c)) for c in out.columns]
    return out


def to_csv_bytes(frame: pd.DataFrame, *, index: bool = False, excel: bool = True) -> bytes:
    """``frame`` as CSV bytes for a download button, with formulas neutralised.

    Args:
        frame: the table.
        index: also write the index (as the first column).
        excel: start with a UTF-8 byte-order mark, so Excel reads accents and CJK text
            correctly (pandas, Python's csv and Sheets ignore it).

    Returns:
        UTF-8 encoded CSV.
    """
    data = frame.reset_index() if index else frame
    text = neutralise_formulas(data).to_csv(index=False)
    return text.encode("utf-8-sig" if excel else "utf-8")
