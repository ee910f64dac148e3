"""The cleanup pass ``load_table`` runs on every table, whatever its format.

It names columns, settles mixed-type columns (from Excel or JSON), turns text columns of
formatted numbers ("1.234,5", "1,234") into floats and treats infinities as missing.
It also holds the number grammar that CSV sniffing shares: what a formatted number
looks like and which spellings say that ',' or '.' is the decimal mark.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

_NUMERIC_SAMPLE = 2_000  # values looked at to decide whether a text column is numeric
NUMBER = re.compile(r"^[+-]?(\d+|\d{1,3}([.,' ]\d{3})+)?([.,]\d+)?$")
COMMA_DECIMAL = r",(?:\d{1,2}|\d{4,})$|\.\d{3},|\.\d{3}\.|^[+-]?0,"  # 1,5  1.234,5  1.234.567
_DOT_DECIMAL = r"\.(?:\d{1,2}|\d{4,})$|,\d{3}\.|,\d{3},|^[+-]?0\."  # 1.5  1,234.5  1,234,567


def is_num(cell: str) -> bool:
    """Whether ``cell`` is a number, possibly with thousands separators or a decimal comma."""
    return bool(cell) and bool(NUMBER.match(cell.strip()))


def name_list(columns: list[str]) -> str:
    """The columns named in a note: "column 'a'", "columns 'a', 'b' and 3 more"."""
    shown = ", ".join(f"'{c}'" for c in columns[:5])
    more = f" and {len(columns) - 5} more" if len(columns) > 5 else ""
    return f"column{'s' if len(columns) > 1 else ''} {shown}{more}"


def clean(frame: pd.DataFrame, notes: list[str], *, european: bool) -> pd.DataFrame:
    """Name columns, settle mixed and numeric-looking text columns, drop infinities.

    Notes on every repair are appended to ``notes``; ``european`` (semicolon-delimited,
    or decimal commas seen) settles ambiguous values such as "1.234".
    """
    sheet_note = frame.attrs.pop("sheet_note", None)
    frame.attrs.pop("skipped_lines", None)
    if sheet_note:
        notes.append(sheet_note)
    frame.columns, name_notes = _clean_names(list(frame.columns))
    notes += name_notes
    converted: dict[str, list[str]] = {"comma": [], "dot": []}
    for name in frame.columns:
        series = frame[name]
        if series.dtype == object:
            frame[name] = series = _settle_object(series)
        if pd.api.types.is_string_dtype(series):
            result = _numeric_text(series, european)
            if result is not None:
                frame[name], style = result
                converted[style].append(name)
    if converted["comma"]:
        notes.append(
            f"Read numbers written the European way ('1.234,5' = 1234.5) in "
            f"{name_list(converted['comma'])}."
        )
    if converted["dot"]:
        notes.append(
            f"Read numbers with thousands separators ('1,234.5') in {name_list(converted['dot'])}."
        )
    notes += _drop_infinities(frame)
    return frame


def _clean_names(raw: list[Any]) -> tuple[list[str], list[str]]:
    names = [str(c).strip() for c in raw]
    names = [n if n else f"Unnamed: {i}" for i, n in enumerate(names)]
    notes = []
    mangled = [n for n in names if re.search(r"\.\d+$", n) and n.rsplit(".", 1)[0] in names]
    if mangled:
        bases = sorted({n.rsplit(".", 1)[0] for n in mangled})
        notes.append(
            f"Column names {', '.join(repr(b) for b in bases[:5])} appear more than once; "
            f"the copies were renamed {', '.join(repr(m) for m in mangled[:5])}."
        )
    seen: dict[str, int] = {}
    unique = []
    for n in names:
        new = n
        while new in seen:
            seen[n] += 1
            new = f"{n}.{seen[n]}"
        seen.setdefault(new, 0)
        unique.append(new)
    if unique != names:
        notes.append("Some column names were the same after trimming spaces; copies renamed.")
    if all(is_num(n) for n in unique) and len(unique) > 1:
        notes.append("The column names are all numbers; check that the file has a header row.")
    return unique, notes


def _settle_object(series: pd.Series) -> pd.Series:
    """Mixed-type columns (from Excel or JSON) become numbers, booleans or text."""
    kind = pd.api.types.infer_dtype(series, skipna=True)
    if kind in ("integer", "floating", "mixed-integer-float", "decimal"):
        return pd.to_numeric(series, errors="coerce")
    if kind == "boolean":
        return series.astype("boolean")
    if kind in ("datetime", "datetime64", "date"):
        return pd.to_datetime(series, errors="coerce")
    if kind == "empty":
        return series.astype("float64")
    return series.astype("str")


def _numeric_text(series: pd.Series, european: bool) -> tuple[pd.Series, str] | None:
    """Convert a text column of formatted numbers ("1.234,5", "1,234") to floats."""
    step = max(1, len(series) // _NUMERIC_SAMPLE)
    sample = series.iloc[::step].dropna().str.strip()
    sample = sample[sample != ""]
    if sample.empty or not sample.str.match(NUMBER).all():
        return None
    if sample.str.fullmatch(r"[+-]?\d*").all():
        return None  # plain digits kept as text on purpose (leading zeros)
    style = _number_style(sample, european)
    if style is None:
        return None
    text = series.str.strip().str.replace(r"[' ]", "", regex=True)
    if style == "comma":
        text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        text = text.str.replace(",", "", regex=False)
    numbers = pd.to_numeric(text.mask(text == ""), errors="coerce")
    if numbers.isna().sum() != text.mask(text == "").isna().sum():
        return None  # some value further down is not a number: leave the column as text
    return numbers.astype("float64"), style


def _number_style(sample: pd.Series, european: bool) -> str | None:
    """'comma' if ',' is the decimal mark, 'dot' if '.' is; None if the sample disagrees.

    Only values such as "1,234" or "1.234" are ambiguous; the file's convention
    (``european``: semicolon-delimited or decimal commas seen) settles them.
    """
    says_comma = bool(sample.str.contains(COMMA_DECIMAL).any())
    says_dot = bool(sample.str.contains(_DOT_DECIMAL).any())
    if says_comma and says_dot:
        return None
    if says_comma or says_dot:
        return "comma" if says_comma else "dot"
    return "comma" if european else "dot"


def _drop_infinities(frame: pd.DataFrame) -> list[str]:
    notes = []
    for name in frame.columns:
        series = frame[name]
        if not pd.api.types.is_float_dtype(series):
            continue
        values = series.to_numpy()
        infinite = np.isinf(values)
        count = int(infinite.sum())
        if count:
            frame[name] = series.mask(infinite)
            notes.append(
                f"Column '{name}' had {count:,} infinite values (inf); they are treated as missing."
            )
    return notes
