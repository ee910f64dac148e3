"""Reading user tables: CSV/TSV (any delimiter), gzip, zip, Parquet, Excel, JSON lines.

``load_table`` accepts a path or an uploaded file object, refuses what cannot be a
table with a ``DataError`` in one plain sentence, and records every repair it made in
``frame.attrs["load_warnings"]``. Delimited text is read by one ``pandas.read_csv``
call on the C engine after sniffing a small sample; the cleanup passes are vectorised
and only touch text columns whose sample looks numeric. Nothing is ever unpickled.

This module resolves the input and dispatches on its format; delimited text is read by
``neuromkt.data.delimited`` and every table goes through the cleanup in ``neuromkt.data.cleanup``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

import numpy as np
import pandas as pd

from neuromkt.data.cleanup import clean
from neuromkt.data.delimited import SAMPLE_BYTES, Opener, read_delimited, sniff_sample
from neuromkt.errors import DataError

__all__ = ["LoadLimits", "frame_fingerprint", "load_table"]


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

    Example:
        >>> import neuromkt as nm
        >>> frame = nm.load_table("sample_data/ecommerce_sessions.csv")
        >>> frame.shape, frame.attrs["source_name"]
        ((20000, 13), 'ecommerce_sessions.csv')
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
    frame = clean(frame, notes, european=read.european)
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


def _opener(data: Path | bytes) -> Opener:
    if isinstance(data, Path):
        return lambda: open(data, "rb")
    return lambda: io.BytesIO(data)


# ---------------------------------------------------------------- format dispatch


def _read_any(open_: Opener, file_name: str, limits: LoadLimits) -> _Read:
    with open_() as fh:
        head = fh.read(SAMPLE_BYTES)
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


def _read_gzip(open_: Opener, file_name: str, limits: LoadLimits) -> _Read:
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


def _read_zip(open_: Opener, file_name: str, limits: LoadLimits) -> _Read:
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


def _read_excel(open_: Opener, file_name: str, limits: LoadLimits) -> pd.DataFrame:
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


def _read_parquet(open_: Opener, file_name: str, limits: LoadLimits) -> pd.DataFrame:
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


def _read_json(open_: Opener, file_name: str, limits: LoadLimits, array: bool) -> pd.DataFrame:
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


def _read_delimited(open_: Opener, head: bytes, file_name: str, limits: LoadLimits) -> _Read:
    sample = sniff_sample(head, file_name)
    _check_columns(len(sample.header), file_name, limits)
    frame, european, notes = read_delimited(open_, sample, file_name, max_rows=limits.max_rows)
    return _Read(frame, european=european, notes=tuple(notes))
