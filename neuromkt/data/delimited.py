"""Reading delimited text (CSV, TSV, any delimiter) with one C-engine ``read_csv`` call.

``sniff_sample`` looks at the first ``SAMPLE_BYTES`` of a file: it settles the encoding,
refuses binary data, web pages and XML, and picks the delimiter that splits the sample
into the most consistent columns. ``read_delimited`` then decides, from the same sample,
whether numbers use a decimal comma, which columns pandas must keep as text (zip codes,
dot-thousands), reads the whole file, and writes notes on ragged rows and on the
encoding it fell back to.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

import pandas as pd

from neuromkt.data.cleanup import COMMA_DECIMAL, is_num, name_list
from neuromkt.errors import DataError

SAMPLE_BYTES = 256 * 1024  # bytes sniffed for encoding, delimiter and column types
_DELIMITERS = (",", ";", "\t", "|")  # tried first; csv.Sniffer finds any other
_SNIFFED_OK = ":^~ #!*&$"  # other delimiters csv.Sniffer may choose (never . @ - / _)
_SNIFF_LINES = 200  # lines used to score delimiters
_COMMA_DECIMAL_RE = re.compile(COMMA_DECIMAL)
_DOT_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+(,\d+)?$")
Opener = Callable[[], IO[bytes]]  # opens the (decompressed) file afresh for each read


@dataclass(frozen=True)
class Sample:
    """What the first ``SAMPLE_BYTES`` of a delimited file say about it."""

    encoding: str
    delimiter: str
    rows: list[list[str]]  # the sample's complete lines, parsed; the header first

    @property
    def header(self) -> list[str]:
        """The header row's fields (empty when the sample has no rows)."""
        return self.rows[0] if self.rows else []


def sniff_sample(head: bytes, file_name: str) -> Sample:
    """Decode and parse the start of a file; DataError if it is not delimited text."""
    encoding, text = _decode_sample(head, file_name)
    _refuse_non_table(text, file_name)
    truncated = len(head) == SAMPLE_BYTES
    text = _complete_lines(text, truncated)
    delimiter = _sniff_delimiter(text)
    rows = _parse(text, delimiter)
    if truncated and len(rows) > 2:
        rows = rows[:-1]
    return Sample(encoding, delimiter, rows)


def read_delimited(
    open_: Opener, sample: Sample, file_name: str, *, max_rows: int
) -> tuple[pd.DataFrame, bool, list[str]]:
    """Read the whole file as ``sample`` suggests.

    Returns:
        ``(frame, european, notes)``: ``european`` says ambiguous "1.234" / "1,234"
        should be read the European way; ``notes`` describe the repairs made.
    """
    rows = sample.rows
    notes = _sample_notes(sample.header, rows)
    comma_columns = _comma_decimal_columns(rows)
    delimiter = sample.delimiter
    european = delimiter == ";" or (delimiter != "," and bool(comma_columns))
    text_columns = {i: "str" for i in _keep_as_text(rows, european)}
    decimal = "," if european and comma_columns else "."
    options = _CsvOptions(delimiter, sample.encoding, decimal, text_columns)
    frame, encoding_note = _read_csv(open_, options, max_rows, file_name)
    if encoding_note:
        notes.insert(0, encoding_note)
    if decimal == ",":
        names = [str(frame.columns[i]) for i in comma_columns if i < frame.shape[1]]
        notes.append(f"Read numbers written the European way ('1,5' = 1.5) in {name_list(names)}.")
    notes += _skipped_note(frame.attrs.pop("skipped_lines", []))
    return frame, european, notes


def _decode_sample(head: bytes, file_name: str) -> tuple[str, str]:
    """Return (encoding, decoded sample) or refuse binary content."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16", head[: len(head) // 2 * 2].decode("utf-16", errors="replace")
    if b"\x00" in head:
        raise DataError(_binary_message(file_name))
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig", head[3:].decode("utf-8", errors="replace")
    try:
        return "utf-8", head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3 and len(head) == SAMPLE_BYTES:
            return "utf-8", head[: exc.start].decode("utf-8")
    for encoding in ("cp1252", "latin-1"):
        try:
            return encoding, head.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DataError(_binary_message(file_name))  # latin-1 decodes anything; unreachable


def _binary_message(file_name: str) -> str:
    return (
        f"'{file_name}' holds binary data, not a table; export it as CSV, Excel (.xlsx), "
        "Parquet or JSON lines."
    )


def _refuse_non_table(text: str, file_name: str) -> None:
    start = text.lstrip()[:512].lower()
    if start.startswith(("<!doctype html", "<html", "<head", "<body")) or "<html" in start:
        raise DataError(
            f"'{file_name}' is a web page (HTML), not a table; download the data itself "
            "as CSV or Excel, not the page that shows it."
        )
    if start.startswith("<?xml"):
        raise DataError(f"'{file_name}' is an XML document, not a table; export it as CSV.")
    controls = sum(1 for ch in text[:20_000] if ord(ch) < 32 and ch not in "\t\r\n\f")
    if controls > 0.01 * min(len(text), 20_000):
        raise DataError(_binary_message(file_name))


def _complete_lines(text: str, truncated: bool) -> str:
    if truncated and "\n" in text:
        return text[: text.rindex("\n") + 1]
    return text


def _parse(text: str, delimiter: str, max_rows: int | None = None) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows = []
    try:
        for row in reader:
            rows.append(row)
            if max_rows is not None and len(rows) >= max_rows:
                break
    except csv.Error:
        pass  # a quoted field cut off by the end of the sample
    return [r for r in rows if r]


def _sniff_delimiter(text: str) -> str:
    """Pick the delimiter that splits the sample into the most consistent columns."""
    best, best_score = ",", (0.0, 0)
    for delimiter in _DELIMITERS:
        score = _consistency(_parse(text, delimiter, _SNIFF_LINES))
        if score > best_score:
            best, best_score = delimiter, score
    if best_score[0] >= 0.8:
        return best
    try:
        sniffed = csv.Sniffer().sniff(text[:50_000]).delimiter
    except csv.Error:
        return best
    if sniffed not in _SNIFFED_OK:
        return best
    score = _consistency(_parse(text, sniffed, _SNIFF_LINES))
    return sniffed if score > best_score else best


def _consistency(rows: list[list[str]]) -> tuple[float, int]:
    """(share of rows with the header's field count, that count); 0 for one column."""
    if not rows or len(rows[0]) < 2:
        return 0.0, 0
    n = len(rows[0])
    same = sum(1 for r in rows if len(r) == n)
    return same / len(rows), n


@dataclass(frozen=True)
class _CsvOptions:
    """What the sniffing decided for read_csv."""

    delimiter: str
    encoding: str
    decimal: str  # "," for European files with decimal commas
    dtype: dict[int, str]  # columns to keep as text, by position


def _read_csv(
    open_: Opener, options: _CsvOptions, max_rows: int, file_name: str
) -> tuple[pd.DataFrame, str]:
    """One C-engine read_csv; retried in Windows-1252, then Latin-1, on a decode error."""
    attempts = {"utf-8": ["utf-8", "cp1252", "latin-1"], "cp1252": ["cp1252", "latin-1"]}
    for attempt in attempts.get(options.encoding, [options.encoding]):
        try:
            with warnings.catch_warnings(record=True) as caught, open_() as fh:
                warnings.simplefilter("always", pd.errors.ParserWarning)
                frame = pd.read_csv(
                    fh,
                    sep=options.delimiter,
                    encoding=attempt,
                    decimal=options.decimal,
                    dtype=options.dtype or None,
                    index_col=False,
                    on_bad_lines="warn",
                    nrows=max_rows + 1,
                    engine="c",
                )
        except UnicodeDecodeError:
            continue
        except (pd.errors.ParserError, ValueError, OSError, EOFError) as exc:
            raise DataError(
                f"'{file_name}' could not be read as a table ({_short(exc)}); check that it "
                "is a CSV file with one header row."
            ) from exc
        frame.attrs["skipped_lines"] = [
            int(n)
            for w in caught
            if issubclass(w.category, pd.errors.ParserWarning)
            for n in re.findall(r"Skipping line (\d+)", str(w.message))
        ]
        note = _encoding_note(attempt) if attempt in ("cp1252", "latin-1") else ""
        return frame, note
    raise DataError(_binary_message(file_name))


def _encoding_note(encoding: str) -> str:
    label = "Windows-1252 (Western European)" if encoding == "cp1252" else "Latin-1"
    return (
        f"The file is not UTF-8, so it was read as {label}; check that accented letters look right."
    )


def _short(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__


def _sample_notes(header: list[str], rows: list[list[str]]) -> list[str]:
    """Notes on ragged rows that pandas pads or trims without a warning."""
    n = len(header)
    notes = []
    short = [i + 2 for i, r in enumerate(rows[1:]) if len(r) < n]
    if short:
        notes.append(
            f"Some rows have fewer fields than the header (first at line {short[0]}); "
            "their missing cells were left empty."
        )
    if len(rows) > 1 and len(rows[1]) > n and any(c.strip() for c in rows[1][n:]):
        notes.append(
            "The rows have more fields than the header has names (first at line 2); the "
            "extra values were dropped, so check the header row and the delimiter."
        )
    return notes


def _skipped_note(lines: list[int]) -> list[str]:
    if not lines:
        return []
    shown = ", ".join(str(n) for n in lines[:5]) + (" …" if len(lines) > 5 else "")
    return [
        f"Skipped {len(lines):,} rows with more fields than the header (lines {shown}); "
        "check the delimiter or quoting on those lines."
    ]


def _comma_decimal_columns(rows: list[list[str]]) -> list[int]:
    """Columns whose sample holds numbers with a decimal comma ("1,5", "1.234,5")."""
    found = []
    for i in range(len(rows[0]) if rows else 0):
        cells = [r[i].strip() for r in rows[1:] if i < len(r) and r[i].strip()]
        if (
            cells
            and all(is_num(c) for c in cells)
            and any(_COMMA_DECIMAL_RE.search(c) for c in cells)
        ):
            found.append(i)
    return found


def _keep_as_text(rows: list[list[str]], european: bool) -> list[int]:
    """Columns pandas must not parse itself: zip codes ("02134") and, in European
    files, dot-thousands ("12.500"), which the cleanup pass converts correctly."""
    found = []
    for i in range(len(rows[0]) if rows else 0):
        cells = [r[i].strip() for r in rows[1:] if i < len(r) and r[i].strip()]
        if not cells:
            continue
        if all(c.isdigit() for c in cells) and any(len(c) > 1 and c[0] == "0" for c in cells):
            found.append(i)
        elif european and all(is_num(c) for c in cells):
            dotted = [c for c in cells if "." in c]
            if dotted and all(_DOT_THOUSANDS.match(c) for c in dotted):
                found.append(i)
    return found
