"""Tables too large for one frame: Arrow record batches, shards by rank, a hashed split.

A :class:`TableSource` is a CSV/TSV file, a Parquet file, a folder of Parquet files or
a glob, opened without reading its rows. It is made of *units* that can be read on
their own (a Parquet row group; a whole CSV file) and is read as pandas chunks of at
most ``batch_rows`` rows (:func:`iter_chunks`), by one process or shared between the
ranks of a distributed job (:func:`shard_units`): contiguous blocks of units, balanced
by rows, so that rank 0's chunks come first in the input order, then rank 1's, and so
on. A source with fewer units than ranks (one CSV file) is read whole by every rank,
which keeps every ``world_size``-th chunk.

Rows are split into train/validation/test by a hash of a row key
(:func:`split_codes`): the id column when the schema has one, else the row's place in
its file. The same row lands in the same split in every pass, process and machine.

Streamed rows keep the types Arrow reads (CSV integer columns are read as floats, so a
later decimal value cannot break the read); the repairs ``load_table`` makes to messy
spreadsheets (European decimals, thousands separators) are not made here, so convert
such files with ``load_table`` first, or to Parquet.

Nothing here imports torch: the data room runs without it.
"""

from __future__ import annotations

import glob as globlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from neuromkt.data.load import LoadLimits, load_table
from neuromkt.errors import DataError

__all__ = [
    "BUDGET_ENV",
    "Chunk",
    "TableSource",
    "Unit",
    "iter_chunks",
    "memory_budget",
    "needs_streaming",
    "open_source",
    "read_frame",
    "row_keys",
    "sample_frame",
    "shard_units",
    "split_codes",
]

BUDGET_ENV = "NEUROMKT_MEMORY_BUDGET_MB"  # overrides the default budget (half the RAM)
BATCH_ROWS = 65_536  # rows per chunk read (before any split into smaller pieces)
# Peak memory of the in-memory path per byte of raw table (CSV text, or Parquet
# uncompressed): `neuromkt train` on a 1M-row, 105 MB CSV peaked at 1.45 GB (about 14x).
TRAIN_FACTOR = 14
SCORE_FACTOR = 6  # the same for predict and explain, which hold no training tensors
_PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
_WHOLE_SUFFIXES = (".xlsx", ".xlsm", ".json", ".jsonl", ".ndjson", ".zip")  # read by load_table
_GLOB_CHARS = set("*?[")
SPLITS = ("train", "validation", "test")  # the codes 0, 1, 2 of split_codes


@dataclass(frozen=True)
class Unit:
    """One piece of a source that can be read on its own."""

    path: str
    file_index: int  # position of the file in the source's sorted file list
    kind: str  # "parquet" (one row group), "csv" (a whole delimited file) or "table"
    row_group: int  # the Parquet row group (0 for other kinds)
    first_row: int  # place of its first row in its file (0 for other kinds)
    n_rows: int | None  # known for Parquet, None for CSV
    n_bytes: int  # uncompressed bytes (Parquet) or bytes on disk


@dataclass(frozen=True)
class TableSource:
    """An opened table: its units, columns and size, no rows read."""

    name: str  # what messages call it: the file, folder or pattern given
    units: tuple[Unit, ...]
    columns: tuple[str, ...]
    n_rows: int | None  # None when a CSV file is part of it (counted only by reading)
    n_bytes: int  # raw bytes: CSV text, or Parquet uncompressed

    @property
    def files(self) -> list[str]:
        """The files of the source, in order."""
        return list(dict.fromkeys(u.path for u in self.units))


@dataclass
class Chunk:
    """At most ``batch_rows`` consecutive rows of one unit, as a frame."""

    frame: pd.DataFrame
    unit: int  # index of the unit in ``source.units``
    index: int  # number of the chunk within its unit (0, 1, ...)
    file_index: int  # the unit's file
    first_row: int  # place of the first row in its file

    @property
    def order(self) -> tuple[int, int]:
        """Sort key that puts chunks back in the input's order."""
        return self.unit, self.index


# ---------------------------------------------------------------- opening


def _is_glob(text: str) -> bool:
    return bool(_GLOB_CHARS & set(text))


def _files_of(source: str) -> list[Path]:
    """The files behind a path, a folder (Parquet files, recursively) or a glob."""
    if _is_glob(source) and not Path(source).exists():
        found = sorted(Path(p) for p in globlib.glob(source, recursive=True))
        found = [p for p in found if p.is_file() and not p.name.startswith((".", "_"))]
        if not found:
            raise DataError(f"No files match {source!r}; check the pattern.")
        return found
    path = Path(source)
    if path.is_dir():
        found = sorted(
            p
            for p in path.rglob("*")
            if p.is_file()
            and p.name.lower().endswith(_PARQUET_SUFFIXES)
            and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
        )
        if not found:
            raise DataError(
                f"The folder '{path}' holds no Parquet files (*.parquet); give a folder of "
                "Parquet files, a file, or a pattern such as 'logs/*.csv'."
            )
        return found
    if not path.is_file():
        raise DataError(f"No file at {path}.")
    return [path]


def _is_parquet(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) == b"PAR1"


def _parquet_units(path: Path, file_index: int) -> tuple[list[Unit], list[str]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
        arrow_schema = meta.schema.to_arrow_schema()
    except (pa.ArrowException, OSError) as exc:
        raise DataError(
            f"'{path.name}' looks like a Parquet file but cannot be read; it may be damaged, "
            "so export it again."
        ) from exc
    nested = [f.name for f in arrow_schema if pa.types.is_nested(f.type)]
    if nested:
        raise DataError(
            f"Column '{nested[0]}' of '{path.name}' holds nested records or lists, not "
            "plain values; flatten the data so each cell is one value."
        )
    units, first = [], 0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        units.append(
            Unit(str(path), file_index, "parquet", g, first, group.num_rows, group.total_byte_size)
        )
        first += group.num_rows
    return units, list(arrow_schema.names)


def _csv_reader(path: Path, columns: Sequence[str] | None = None, block_bytes: int = 1 << 24):
    """A pyarrow streaming CSV reader: delimiter sniffed, integer columns read as floats."""
    import pyarrow as pa
    from pyarrow import csv

    from neuromkt.data.delimited import SAMPLE_BYTES, sniff_sample

    with pa.input_stream(str(path), compression="detect") as fh:
        head = fh.read(SAMPLE_BYTES)
    sample = sniff_sample(head, path.name)
    encoding = "utf8" if sample.encoding in ("utf-8", "utf-8-sig") else sample.encoding
    read = csv.ReadOptions(block_size=block_bytes, encoding=encoding)
    parse = csv.ParseOptions(delimiter=sample.delimiter, newlines_in_values=True)

    def open_(convert: csv.ConvertOptions) -> csv.CSVStreamingReader:
        stream = pa.input_stream(str(path), compression="detect")
        return csv.open_csv(stream, read_options=read, parse_options=parse, convert_options=convert)

    try:
        probe = open_(csv.ConvertOptions(strings_can_be_null=True))
    except pa.ArrowInvalid as exc:
        raise DataError(
            f"'{path.name}' could not be read in chunks ({str(exc)[:200]}); check that every "
            "row has the same columns, or convert the file to Parquet."
        ) from exc
    inferred = probe.schema
    probe.close()
    types = {
        f.name: (
            pa.float64() if pa.types.is_integer(f.type) or pa.types.is_null(f.type) else f.type
        )
        for f in inferred
    }
    convert = csv.ConvertOptions(
        column_types=types,
        include_columns=list(columns) if columns is not None else None,
        strings_can_be_null=True,  # an empty cell is missing, as pandas reads it
    )
    return open_(convert), list(inferred.names)


def open_source(source: str | os.PathLike[str]) -> TableSource:
    """Open a CSV/TSV file, a Parquet file, a folder of Parquet files or a glob.

    Other formats load_table reads (Excel, JSON lines, zip) are one unit read whole.

    Raises:
        DataError: nothing is there, a file is damaged, or the files disagree on columns.
    """
    text = os.fspath(source)
    files = _files_of(text)
    units: list[Unit] = []
    columns: list[str] | None = None
    for i, path in enumerate(files):
        if _is_parquet(path):
            found, names = _parquet_units(path, i)
        elif path.name.lower().endswith(_WHOLE_SUFFIXES):
            found = [Unit(str(path), i, "table", 0, 0, None, path.stat().st_size)]
            names = list(load_table(path).columns)
        else:
            reader, names = _csv_reader(path)
            reader.close()
            found = [Unit(str(path), i, "csv", 0, 0, None, path.stat().st_size)]
        if columns is None:
            columns = names
        elif set(names) != set(columns):
            lacking = sorted(set(columns) - set(names)) or sorted(set(names) - set(columns))
            raise DataError(
                f"'{path.name}' has different columns from '{files[0].name}' (for example "
                f"'{lacking[0]}'); every file of a folder or pattern needs the same columns."
            )
        units += found
    known = [u.n_rows for u in units]
    n_rows = None if any(n is None for n in known) else int(sum(known))  # type: ignore[arg-type]
    if n_rows == 0:
        raise DataError(f"'{text}' has column names but no rows of data.")
    return TableSource(
        text, tuple(units), tuple(columns or ()), n_rows, sum(u.n_bytes for u in units)
    )


# ---------------------------------------------------------------- size check


def memory_budget() -> int:
    """Bytes the in-memory path may use: ``$NEUROMKT_MEMORY_BUDGET_MB``, else half the RAM.

    Raises:
        DataError: when the variable is set to something that is not a positive number.
    """
    value = os.environ.get(BUDGET_ENV, "").strip()
    if value:
        try:
            mb = float(value)
        except ValueError:
            mb = -1.0
        if not mb > 0:
            raise DataError(f"{BUDGET_ENV}={value!r} must be a positive number of megabytes.")
        return int(mb * 1024**2)
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 * 1024**3
    return total // 2


def needs_streaming(
    source: TableSource,
    *,
    factor: int = TRAIN_FACTOR,
    budget: int | None = None,
    limits: LoadLimits | None = None,
) -> bool:
    """Whether ``source`` should be streamed rather than loaded as one frame.

    True when its estimated in-memory size (``factor`` times its raw bytes) is over
    ``budget`` (default :func:`memory_budget`), or when it is over the limits of
    ``load_table``.
    """
    budget = memory_budget() if budget is None else budget
    limits = limits or LoadLimits()
    if source.n_bytes * factor > budget:
        return True
    if source.n_bytes > limits.max_bytes:
        return True
    return source.n_rows is not None and source.n_rows > limits.max_rows


def read_frame(source: TableSource, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The whole source as one frame (for sources that fit in memory)."""
    frames = [c.frame for c in iter_chunks(source, columns=columns)]
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    frame.attrs["source_name"] = Path(source.name).name or source.name
    frame.attrs.setdefault("load_warnings", [])
    return frame


# ---------------------------------------------------------------- reading


def sample_frame(source: TableSource, n_rows: int = 100_000) -> pd.DataFrame:
    """At most ``n_rows`` rows spread over ``source``: the first rows of every unit.

    What a streamed job infers the schema from; every rank reads the same rows.
    """
    per_unit = max(1, -(-n_rows // len(source.units)))
    frames = [next(_unit_frames(u, None, per_unit), None) for u in source.units]
    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        raise DataError(f"'{source.name}' has column names but no rows of data.")
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    frame = frame.iloc[:n_rows]
    frame.attrs["source_name"] = Path(source.name).name or source.name
    return frame


def shard_units(source: TableSource, rank: int, world_size: int) -> tuple[list[int], bool]:
    """The units rank ``rank`` of ``world_size`` reads, and whether it keeps every chunk.

    Units are cut into ``world_size`` contiguous blocks of about equal rows (bytes when
    the row count is unknown). When some rank would get no unit, every rank reads every
    unit and keeps only the chunks ``i`` with ``i % world_size == rank`` (the second
    value is then False).
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"{rank=} must be in [0, {world_size=})")
    n = len(source.units)
    if world_size == 1:
        return list(range(n)), True
    weights = np.array(
        [u.n_rows if u.n_rows is not None else u.n_bytes for u in source.units], dtype="float64"
    )
    weights = np.maximum(weights, 1.0)
    middle = np.cumsum(weights) - weights / 2
    owner = np.minimum((middle / weights.sum() * world_size).astype(int), world_size - 1)
    if len(set(owner.tolist())) < world_size:
        return list(range(n)), False
    return [i for i in range(n) if owner[i] == rank], True


def _unit_frames(
    unit: Unit, columns: Sequence[str] | None, batch_rows: int
) -> Iterator[pd.DataFrame]:
    import pyarrow as pa

    try:
        if unit.kind == "parquet":
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(unit.path)
            for batch in pf.iter_batches(
                batch_size=batch_rows, row_groups=[unit.row_group], columns=columns
            ):
                yield batch.to_pandas()
        elif unit.kind == "csv":
            reader, _ = _csv_reader(Path(unit.path), columns)
            pending: list[pa.RecordBatch] = []
            size = 0
            for batch in reader:
                pending.append(batch)
                size += batch.num_rows
                while size >= batch_rows:
                    table = pa.Table.from_batches(pending)
                    yield table.slice(0, batch_rows).to_pandas()
                    rest = table.slice(batch_rows)
                    pending, size = rest.to_batches(), rest.num_rows
            if size:
                yield pa.Table.from_batches(pending).to_pandas()
        else:
            frame = load_table(unit.path)
            frame = frame if columns is None else frame[list(columns)]
            for start in range(0, len(frame), batch_rows):
                yield frame.iloc[start : start + batch_rows].reset_index(drop=True)
    except pa.ArrowInvalid as exc:
        raise DataError(
            f"'{Path(unit.path).name}' could not be read as a table ({str(exc)[:200]}); "
            "check that every row has the same columns, or convert the file to Parquet."
        ) from exc


def iter_chunks(
    source: TableSource,
    *,
    columns: Sequence[str] | None = None,
    rank: int = 0,
    world_size: int = 1,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[Chunk]:
    """The chunks of rank ``rank``'s share of ``source``, in input order.

    Args:
        source: from :func:`open_source`.
        columns: read only these columns (all when None).
        rank, world_size: this process's place in a distributed job.
        batch_rows: most rows per chunk.
    """
    if batch_rows < 1:
        raise ValueError(f"{batch_rows=} must be at least 1")
    if columns is not None:
        missing = [c for c in columns if c not in source.columns]
        if missing:
            raise DataError(f"There is no column {missing[0]!r} in {source.name}.")
    units, whole = shard_units(source, rank, world_size)
    seen = 0  # chunks read so far (every rank reads the same ones when not whole)
    for u in units:
        unit = source.units[u]
        first = unit.first_row
        for index, frame in enumerate(_unit_frames(unit, columns, batch_rows)):
            mine = whole or seen % world_size == rank
            seen += 1
            if mine:
                yield Chunk(frame, u, index, unit.file_index, first)
            first += len(frame)


# ---------------------------------------------------------------- hashed split

_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: a fixed, well-spread permutation of 64-bit integers."""
    x = np.asarray(x, dtype=np.uint64)
    x = (x ^ (x >> np.uint64(30))) * _MIX1
    x = (x ^ (x >> np.uint64(27))) * _MIX2
    return x ^ (x >> np.uint64(31))


def _key_text(values: pd.Series) -> pd.Series:
    """Id values as text, the same whichever type a chunk read them as (7, 7.0, '7')."""
    if pd.api.types.is_bool_dtype(values):
        return values.astype("string")
    if pd.api.types.is_numeric_dtype(values):
        numbers = pd.to_numeric(values, errors="coerce").astype("float64")
        whole = numbers.notna() & (numbers == np.round(numbers)) & (numbers.abs() < 2**53)
        text = numbers.astype("string")
        text[whole] = numbers[whole].astype("int64").astype("string")
        return text
    return values.astype("string").str.strip()


def row_keys(
    frame: pd.DataFrame, *, id_column: str | None, file_index: int, first_row: int
) -> np.ndarray:
    """One 64-bit key per row: a hash of its id, or its place (file, row in file).

    Ids are hashed as text with pandas' fixed-key SipHash, so a key is the same in
    every process and on every machine; rows with a missing id use their place.
    """
    n = len(frame)
    place = (np.uint64(file_index) << np.uint64(40)) + np.arange(
        first_row, first_row + n, dtype=np.uint64
    )
    if id_column is None:
        return place
    text = _key_text(frame[id_column])
    missing = text.isna().to_numpy()
    hashed = pd.util.hash_array(text.fillna("").to_numpy(dtype=object), categorize=False).astype(
        np.uint64
    )
    return np.where(missing, _mix(place ^ _GOLDEN), hashed)


def split_codes(
    keys: np.ndarray, *, seed: int, val_fraction: float, test_fraction: float
) -> np.ndarray:
    """0 (train), 1 (validation) or 2 (test) per row key; about the given shares.

    Example:
        >>> codes = split_codes(np.arange(100_000), seed=0, val_fraction=0.15, test_fraction=0.15)
        >>> [round(float(np.mean(codes == c)), 2) for c in (0, 1, 2)]
        [0.7, 0.15, 0.15]
    """
    salt = _mix(np.array([seed], dtype=np.int64).view(np.uint64) + _GOLDEN)[0]
    h = _mix(np.asarray(keys, dtype=np.uint64) ^ salt)
    u = (h >> np.uint64(11)).astype("float64") * 2.0**-53  # uniform in [0, 1)
    return np.where(u < test_fraction, 2, np.where(u < test_fraction + val_fraction, 1, 0)).astype(
        "int8"
    )
