"""Reading user tables: CSV/TSV (any delimiter), gzip, zip, Parquet, Excel, JSON lines.

``load_table`` accepts a path or an uploaded file object, refuses what cannot be a
table with a ``DataError`` in one plain sentence, and records every repair it made in
``frame.attrs["load_warnings"]``. Delimited text is read by one ``pandas.read_csv``
call on the C engine after sniffing a small sample; the cleanup passes are vectorised
and only touch text columns whose sample looks numeric. Nothing is ever unpickled.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
import re
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

import numpy as np
import pandas as pd

from neuromkt.errors import DataError

__all__ = ["LoadLimits", "frame_fingerprint", "load_table"]

_SAMPLE_BYTES = 256 * 1024  # bytes sniffed for encoding, delimiter and column types
_DELIMITERS = (",", ";", "\t", "|")  # tried first; csv.Sniffer finds any other
_SNIFFED_OK = ":^~ #!*&$"  # other delimiters csv.Sniffer may choose (never . @ - / _)
_SNIFF_LINES = 200  # lines used to score delimiters
_NUMERIC_SAMPLE = 2_000  # values looked at to decide whether a text column is numeric
_NUMBER = re.compile(r"^[+-]?(\d+|\d{1,3}([.,' ]\d{3})+)?([.,]\d+)?$")
_COMMA_DECIMAL = r",(?:\d{1,2}|\d{4,})$|\.\d{3},|\.\d{3}\.|^[+-]?0,"  # 1,5  1.234,5  1.234.567
_DOT_DECIMAL = r"\.(?:\d{1,2}|\d{4,})$|,\d{3}\.|,\d{3},|^[+-]?0\."  # 1.5  1,234.5  1,234,567
_COMMA_DECIMAL_RE = re.compile(_COMMA_DECIMAL)
_DOT_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+(,\d+)?$")
_Opener = Callable[[], IO[bytes]]


@dataclass(frozen=True)
class LoadLimits:
    """Largest inputs ``load_table`` accepts; larger ones are refused, never half-read."""

    max_bytes: int = 1_000_000_000  # file size (uncompressed, where it can be known)
    max_rows: int = 5_000_000  # data rows, header excluded
    max_columns: int = 20_000  # columns


class _NotJson(DataError):
    """The content is not JSON (a text table may still start with '[' or '{')."""


@dataclass
class _Read:
    """What a format reader hands to the cleanup pass."""

    frame: pd.DataFrame
    european: bool = False  # ambiguous "1.234" / "1,234" read the European way
    notes: tuple[str, ...] = ()


def load_table(
    source: str | os.PathLike[str] | BinaryIO,
    *,
    name: str | None = None,
    limits: LoadLimits = LoadLimits(),
) -> pd.DataFrame:
    """Read a table from a path or a file object.

    Args:
        source: A path, or a binary file object such as a Streamlit ``UploadedFile``.
        name: File name used to pick the format when ``source`` has none.
        limits: Size limits; a larger input raises ``DataError``.

    Returns:
        The table, with ``attrs["load_warnings"]`` (plain-language notes on the repairs
        made) and ``attrs["source_name"]`` (the file name).

    Raises:
        DataError: the input is missing, too large, or is not a readable table.
    """
    data, file_name, _ = _resolve(source, name, limits)
    read = _read_any(_opener(data), file_name, limits)
    frame = read.frame
    if len(frame) > limits.max_rows:
        raise DataError(
            f"The file '{file_name}' has more than {limits.max_rows:,} rows; use a smaller "
            "extract or raise the row limit."
        )
    _check_columns(frame.shape[1], file_name, limits)
    if frame.shape[1] == 0 or len(frame) == 0:
        raise DataError(
            f"The file '{file_name}' has column names but no rows of data; "
            "export the table again with its rows."
        )
    notes = list(read.notes)
    frame = _clean(frame, notes, european=read.european)
    frame.attrs["load_warnings"] = notes
    frame.attrs["source_name"] = file_name
    return frame


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """A stable SHA-256 hex digest of the column names, dtypes and content of ``frame``.

    The index is not part of it; row order is. Hashing runs in chunks of rows, so a
    million-row frame takes well under a second.
    """
    digest = hashlib.sha256()
    header = [f"{c}\x1f{d}" for c, d in zip(frame.columns, frame.dtypes, strict=True)]
    digest.update("\x1e".join(header).encode("utf-8", "surrogatepass"))
    digest.update(str(frame.shape).encode())
    for start in range(0, len(frame), 250_000):
        chunk = frame.iloc[start : start + 250_000]
        try:
            hashed = pd.util.hash_pandas_object(chunk, index=False)
        except TypeError:  # unhashable cells (lists, dicts) from a notebook frame
            hashed = pd.util.hash_pandas_object(chunk.astype(str), index=False)
        digest.update(np.ascontiguousarray(hashed.to_numpy()).tobytes())
    return digest.hexdigest()


# ---------------------------------------------------------------- sources and limits


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 100_000 else f"{n:,} bytes"


def _check_size(size: int, file_name: str, limits: LoadLimits) -> None:
    if size > limits.max_bytes:
        raise DataError(
            f"The file '{file_name}' is {_mb(size)}, larger than the limit of "
            f"{_mb(limits.max_bytes)}; use a smaller extract or raise the size limit."
        )
    if size == 0:
        raise DataError(f"The file '{file_name}' is empty; choose a file that holds a table.")


def _check_columns(n: int, file_name: str, limits: LoadLimits) -> None:
    if n > limits.max_columns:
        raise DataError(
            f"The file '{file_name}' has {n:,} columns, more than the limit of "
            f"{limits.max_columns:,}; keep fewer columns or raise the column limit."
        )


def _resolve(source: Any, name: str | None, limits: LoadLimits) -> tuple[Path | bytes, str, int]:
    """Return (path or bytes, file name, size in bytes), refusing oversized inputs early."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise DataError(f"No file at {path}.")
        size = path.stat().st_size
        _check_size(size, name or path.name, limits)
        return path, name or path.name, size
    if not hasattr(source, "read"):
        raise DataError(f"Cannot read a table from a {type(source).__name__}; give a file.")
    file_name = name or Path(str(getattr(source, "name", "") or "upload")).name
    size = getattr(source, "size", None)
    if isinstance(size, int) and size > limits.max_bytes:
        _check_size(size, file_name, limits)
    if hasattr(source, "getvalue"):
        data = source.getvalue()
    else:
        if hasattr(source, "seekable") and source.seekable():
            source.seek(0)
        data = source.read(limits.max_bytes + 1)
    if isinstance(data, str):
        data = data.encode("utf-8")
    _check_size(len(data), file_name, limits)
    return bytes(data), file_name, len(data)


def _opener(data: Path | bytes) -> _Opener:
    if isinstance(data, Path):
        return lambda: open(data, "rb")
    return lambda: io.BytesIO(data)


def _read_all(open_: _Opener) -> bytes:
    with open_() as fh:
        return fh.read()


# ---------------------------------------------------------------- format dispatch


def _read_any(open_: _Opener, file_name: str, limits: LoadLimits) -> _Read:
    with open_() as fh:
        head = fh.read(_SAMPLE_BYTES)
    lower = file_name.lower()
    if head.startswith(b"\x1f\x8b"):
        return _read_gzip(open_, file_name, limits)
    if head.startswith(b"PK\x03\x04"):
        return _read_zip(open_, file_name, limits)
    if head.startswith(b"PAR1"):
        return _Read(_read_parquet(open_, file_name, limits))
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise DataError(
            f"'{file_name}' is an old Excel (.xls) workbook, which cannot be read; "
            "save it as .xlsx or CSV and try again."
        )
    if lower.endswith((".xlsx", ".xlsm", ".parquet", ".pq")):
        kind = "a Parquet file" if ".p" in lower[-8:] else "an Excel workbook"
        raise DataError(
            f"'{file_name}' is named like {kind} but its content is not one; "
            "export the table again."
        )
    if not head.strip(b"\xef\xbb\xbf \t\r\n"):
        raise DataError(f"The file '{file_name}' is empty; choose a file that holds a table.")
    first = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    json_name = lower.endswith((".jsonl", ".ndjson", ".json"))
    if first in (b"{", b"[") or json_name:
        try:
            return _Read(_read_json(open_, file_name, limits, array=first == b"["))
        except _NotJson:
            if json_name:
                raise
    return _read_delimited(open_, head, file_name, limits)


class _Bounded(io.RawIOBase):
    """A decompressing stream that refuses to yield more than ``limit`` bytes."""

    def __init__(self, raw: IO[bytes], outer: IO[bytes], limit: int, file_name: str) -> None:
        super().__init__()
        self._raw, self._outer = raw, outer
        self._limit, self._file_name = limit, file_name

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self._raw.seekable()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def read(self, size: int | None = -1) -> bytes:
        data = self._raw.read(-1 if size is None else size)
        if self._raw.tell() > self._limit:
            raise DataError(
                f"The compressed file '{self._file_name}' unpacks to more than "
                f"{_mb(self._limit)}, larger than the limit; use a smaller extract or raise "
                "the size limit."
            )
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._raw.close()
        self._outer.close()
        super().close()


def _read_gzip(open_: _Opener, file_name: str, limits: LoadLimits) -> _Read:
    inner = re.sub(r"\.(gz|gzip)$", "", file_name, flags=re.IGNORECASE)

    def open_inner() -> IO[bytes]:
        outer = open_()
        raw = gzip.GzipFile(fileobj=outer, mode="rb")
        return _Bounded(raw, outer, limits.max_bytes, file_name)  # type: ignore[return-value]

    try:
        return _read_any(open_inner, inner, limits)
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(
            f"The compressed file '{file_name}' is damaged or incomplete; "
            "compress it again or upload it uncompressed."
        ) from exc


def _read_zip(open_: _Opener, file_name: str, limits: LoadLimits) -> _Read:
    try:
        with open_() as fh, zipfile.ZipFile(fh) as zf:
            names = zf.namelist()
            if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
                return _Read(_read_excel(open_, file_name, limits))
            members = [
                i
                for i in zf.infolist()
                if not i.is_dir()
                and not i.filename.startswith("__MACOSX/")
                and not Path(i.filename).name.startswith(".")
            ]
            if len(members) != 1:
                listed = ", ".join(m.filename for m in members[:5]) or "no files"
                raise DataError(
                    f"The zip file '{file_name}' holds {len(members)} files ({listed}); "
                    "put exactly one table in the zip, or upload the table itself."
                )
            _check_size(members[0].file_size, members[0].filename, limits)
            data = zf.read(members[0])
    except (zipfile.BadZipFile, OSError, KeyError) as exc:
        raise DataError(
            f"'{file_name}' looks like a zip or Excel file but cannot be opened; "
            "it may be damaged, so export it again or save it as CSV."
        ) from exc
    inner = Path(members[0].filename).name
    return _read_any(_opener(data), inner, limits)


def _read_excel(open_: _Opener, file_name: str, limits: LoadLimits) -> pd.DataFrame:
    try:
        with open_() as fh, pd.ExcelFile(fh, engine="openpyxl") as book:
            frame = pd.read_excel(book, sheet_name=0, nrows=limits.max_rows + 1)
            sheets = book.sheet_names
    except Exception as exc:  # openpyxl raises many kinds for broken files
        raise DataError(
            f"'{file_name}' looks like an Excel workbook but cannot be read; "
            "open it in Excel and save it again as .xlsx or CSV."
        ) from exc
    if len(sheets) > 1:
        frame.attrs["sheet_note"] = (
            f"The workbook has {len(sheets)} sheets; only the first, '{sheets[0]}', was read."
        )
    return frame


def _read_parquet(open_: _Opener, file_name: str, limits: LoadLimits) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        with open_() as fh:
            pf = pq.ParquetFile(fh)
            meta = pf.metadata
            if meta.num_rows > limits.max_rows:
                raise DataError(
                    f"The file '{file_name}' has {meta.num_rows:,} rows, more than the limit "
                    f"of {limits.max_rows:,}; use a smaller extract or raise the row limit."
                )
            _check_columns(meta.num_columns, file_name, limits)
            nested = [f.name for f in pf.schema_arrow if pa.types.is_nested(f.type)]
            if nested:
                raise DataError(_nested_message(nested[0]))
            return pf.read().to_pandas()
    except (pa.ArrowException, OSError) as exc:
        raise DataError(
            f"'{file_name}' looks like a Parquet file but cannot be read; it may be "
            "damaged, so export it again."
        ) from exc


def _nested_message(column: str) -> str:
    return (
        f"Column '{column}' holds nested records or lists, not plain values; flatten "
        "the data (for example with pandas.json_normalize) so each cell is one value."
    )


def _read_json(open_: _Opener, file_name: str, limits: LoadLimits, array: bool) -> pd.DataFrame:
    try:
        with open_() as fh:
            if array:
                frame = pd.read_json(fh, orient="records", dtype=False)
            else:
                frame = pd.read_json(fh, lines=True, nrows=limits.max_rows + 1, dtype=False)
    except ValueError as exc:
        raise _NotJson(
            f"'{file_name}' is not readable as JSON lines; write one flat JSON object per "
            "line (or a list of flat objects), or export the table as CSV."
        ) from exc
    for column in frame.columns[[pd.api.types.is_object_dtype(d) for d in frame.dtypes]]:
        sample = frame[column].dropna().head(1000)
        if sample.map(lambda v: isinstance(v, (dict, list))).any():
            raise DataError(_nested_message(str(column)))
    return frame


# ---------------------------------------------------------------- delimited text


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
        if exc.start >= len(head) - 3 and len(head) == _SAMPLE_BYTES:
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


def _read_delimited(open_: _Opener, head: bytes, file_name: str, limits: LoadLimits) -> _Read:
    encoding, text = _decode_sample(head, file_name)
    _refuse_non_table(text, file_name)
    truncated = len(head) == _SAMPLE_BYTES
    text = _complete_lines(text, truncated)
    delimiter = _sniff_delimiter(text)
    rows = _parse(text, delimiter)
    if truncated and len(rows) > 2:
        rows = rows[:-1]
    header = rows[0] if rows else []
    _check_columns(len(header), file_name, limits)
    notes = _sample_notes(header, rows)
    comma_columns = _comma_decimal_columns(rows)
    european = delimiter == ";" or (delimiter != "," and bool(comma_columns))
    text_columns = {i: "str" for i in _keep_as_text(rows, european)}
    decimal = "," if european and comma_columns else "."
    frame, encoding_note = _read_csv(
        open_, _CsvOptions(delimiter, encoding, decimal, text_columns), limits, file_name
    )
    if encoding_note:
        notes.insert(0, encoding_note)
    if decimal == ",":
        names = [str(frame.columns[i]) for i in comma_columns if i < frame.shape[1]]
        notes.append(f"Read numbers written the European way ('1,5' = 1.5) in {_names(names)}.")
    notes += _skipped_note(frame.attrs.pop("skipped_lines", []))
    return _Read(frame, european=european, notes=tuple(notes))


def _is_num(cell: str) -> bool:
    return bool(cell) and bool(_NUMBER.match(cell.strip()))


@dataclass(frozen=True)
class _CsvOptions:
    """What the sniffing decided for read_csv."""

    delimiter: str
    encoding: str
    decimal: str  # "," for European files with decimal commas
    dtype: dict[int, str]  # columns to keep as text, by position


def _read_csv(
    open_: _Opener, options: _CsvOptions, limits: LoadLimits, file_name: str
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
                    nrows=limits.max_rows + 1,
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
            and all(_is_num(c) for c in cells)
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
        elif european and all(_is_num(c) for c in cells):
            dotted = [c for c in cells if "." in c]
            if dotted and all(_DOT_THOUSANDS.match(c) for c in dotted):
                found.append(i)
    return found


# ---------------------------------------------------------------- cleanup


def _clean(frame: pd.DataFrame, notes: list[str], *, european: bool) -> pd.DataFrame:
    """Name columns, settle mixed and numeric-looking text columns, drop infinities."""
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
            f"{_names(converted['comma'])}."
        )
    if converted["dot"]:
        notes.append(
            f"Read numbers with thousands separators ('1,234.5') in {_names(converted['dot'])}."
        )
    notes += _drop_infinities(frame)
    return frame


def _names(columns: list[str]) -> str:
    shown = ", ".join(f"'{c}'" for c in columns[:5])
    more = f" and {len(columns) - 5} more" if len(columns) > 5 else ""
    return f"column{'s' if len(columns) > 1 else ''} {shown}{more}"


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
    if all(_is_num(n) for n in unique) and len(unique) > 1:
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
    if sample.empty or not sample.str.match(_NUMBER).all():
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
    says_comma = bool(sample.str.contains(_COMMA_DECIMAL).any())
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
